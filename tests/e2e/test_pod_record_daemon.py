"""The pod record through the daemon: condition times, and an upgrade in
place that finds a record written by the first release."""

import json
import os
import signal
import time

from helpers.pods import ctr, pod

from minipod.kube.times import parse_rfc3339

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "pod-record-v0.json")
CAPTURED_ROOT = "/tmp/minipod-test-capture-xfwmcapa"  # where the fixture was written


def conditions(p: dict) -> dict[str, dict]:
    return {c["type"]: c for c in p["status"]["conditions"]}


def seconds_after_creation(p: dict, ctype: str) -> float:
    created = parse_rfc3339(p["metadata"]["creationTimestamp"])
    return parse_rfc3339(conditions(p)[ctype]["lastTransitionTime"]) - created


def test_ready_reports_the_time_the_pod_became_ready(mp, pods, pod_name):
    probe = {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1}
    script = "sleep 4; touch /tmp/ready; exec sleep 3600"
    pods.run(pod(pod_name, ctr("main", script, readinessProbe=probe)))
    before = mp.pod(pod_name)
    assert conditions(before)["Ready"]["status"] == "False"
    assert seconds_after_creation(before, "Ready") == 0
    p = mp.wait_for(pod_name, lambda p: conditions(p)["Ready"]["status"] == "True", timeout=20, what="Ready")
    # Ready ~4 s after creation (the sleep, plus up to one probe period and
    # the start itself); never the creation time.
    assert 3 <= seconds_after_creation(p, "Ready") <= 10
    assert seconds_after_creation(p, "ContainersReady") == seconds_after_creation(p, "Ready")
    # Initialized and PodScheduled were true from the start.
    assert seconds_after_creation(p, "Initialized") <= 2
    assert seconds_after_creation(p, "PodScheduled") == 0
    # Reading the status again changes no time.
    time.sleep(1.2)
    assert conditions(mp.pod(pod_name)) == conditions(p)


def test_a_daemon_upgraded_in_place_adopts_a_first_release_record(fresh_mp):
    """A record file as the first release wrote it (tests/fixtures), its
    processes gone as after a reboot of the pod's sandbox: the new daemon
    reads it, reports the same pod, and brings it back as the kubelet
    does when a sandbox is lost."""
    mp = fresh_mp
    with open(FIXTURE) as f:
        text = f.read().replace(CAPTURED_ROOT, mp.root)
    old = json.loads(text)
    mp.kill_daemon(signal.SIGTERM)
    with open(os.path.join(mp.root, "lib", "pods", "default_legacy.json"), "w") as f:
        f.write(text)
    mp.start_daemon()

    p = mp.pod("legacy")
    assert p["metadata"]["uid"] == old["metadata"]["uid"]
    assert p["metadata"]["creationTimestamp"] == old["metadata"]["creationTimestamp"]
    assert p["metadata"]["labels"] == {"app": "legacy"}
    assert "runtime" not in p
    inits = {s["name"]: s for s in p["status"]["initContainerStatuses"]}
    assert inits["prepare"]["state"]["terminated"]["reason"] == "Completed"
    assert inits["prepare"]["containerID"] == old["status"]["initContainerStatuses"][0]["containerID"]

    def restarted(p: dict) -> bool:
        st = {s["name"]: s for s in p["status"]["containerStatuses"]}
        return (
            p["status"]["phase"] == "Running"
            and "running" in st["web"]["state"]
            and st["web"]["restartCount"] == 1
            and st["flaky"]["restartCount"] >= 3
        )

    p = mp.wait_for("legacy", restarted, timeout=40, what="the adopted pod's containers to run again")
    web = next(s for s in p["status"]["containerStatuses"] if s["name"] == "web")
    assert web["lastState"]["terminated"]["reason"] == "ContainerStatusUnknown"
    assert (
        web["lastState"]["terminated"]["containerID"] == old["status"]["containerStatuses"][0]["containerID"]
    )
    reasons = [
        line for line in mp.run("describe", "pod", "legacy").stdout.splitlines() if "SandboxChanged" in line
    ]
    assert reasons, "no SandboxChanged event"
    # The file on disk is now in the new format.
    with open(os.path.join(mp.root, "lib", "pods", "default_legacy.json")) as f:
        assert json.load(f)["runtime"]["version"] >= 1
    mp.delete("legacy")


def daemon_log(mp) -> str:
    with open(os.path.join(mp.root, "daemon-test.log"), errors="replace") as f:
        return f.read()


def test_a_monitor_that_cannot_write_the_exit_status_says_why(mp, pods, pod_name):
    """The shim's own failure reaches `describe`, not just "exited without a
    status": here its exit file cannot be written (a directory stands where
    it writes the file before renaming it)."""
    pods.run(pod(pod_name, ctr("main", "sleep 3; exit 3"), restartPolicy="Never"))
    exit_file = mp.inspect(pod_name)["containers"][0]["exitFile"]
    os.mkdir(exit_file + ".tmp")
    p = mp.wait_for(
        pod_name, lambda p: "terminated" in p["status"]["containerStatuses"][0]["state"], what="the exit"
    )
    t = p["status"]["containerStatuses"][0]["state"]["terminated"]
    assert t["reason"] == "ContainerStatusUnknown"
    assert t["message"].startswith(
        "the container's monitor failed: minipod-shim: writing the exit status (3): open "
    )
    assert t["message"].endswith(": Is a directory"), t["message"]
    assert "the container's monitor failed: minipod-shim" in mp.run("describe", "pod", pod_name).stdout
    # The daemon's log names the pod and the container.
    assert f"pod default/{pod_name}: container main: the container's monitor failed" in daemon_log(mp)


def test_a_failed_volume_mount_names_the_volume_and_where(mp, pods, pod_name, tmp_path):
    """Each step wraps what fails beneath it: a file where the image has a
    directory cannot be mounted, and the error says which volume, where."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    manifest = pod(
        pod_name,
        ctr("main", "exec sleep 3600", volumeMounts=[{"name": "conf", "mountPath": "/etc"}]),
        volumes=[{"name": "conf", "hostPath": {"path": str(afile), "type": "File"}}],
    )
    pods.run(manifest, check=False, timeout=5)
    p = mp.wait_for(
        pod_name,
        lambda p: (
            p["status"]["containerStatuses"][0]["state"].get("waiting", {}).get("reason")
            == "CreateContainerError"
        ),
        what="CreateContainerError",
    )
    message = p["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
    assert message.startswith("volume conf at /etc: "), message
    assert f"pod default/{pod_name}: container main: Failed: Error: volume conf at /etc: " in daemon_log(mp)
