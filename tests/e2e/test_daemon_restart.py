"""The daemon can die at any moment (SIGKILL) and come back: nothing is lost.

Each test has its own instance (fresh_mp) because it kills that daemon.
"""

import calendar
import json
import os
import signal
import time

from helpers.pods import pod_yaml


def _container_pid(mp, name: str, index: int = 0) -> int:
    return mp.inspect(name)["containers"][index]["process"]["pid"]


def test_running_containers_survive_sigkill_and_are_adopted(fresh_mp, pod_name):
    mp = fresh_mp
    mp.run_pod(pod_yaml(pod_name, "sleep 3600"))
    before = mp.pod(pod_name)
    pid = _container_pid(mp, pod_name)
    init = mp.inspect(pod_name)["podInit"]["pid"]
    mp.kill_daemon(signal.SIGKILL)
    assert os.path.exists(f"/proc/{pid}"), "the container died with the daemon"
    mp.start_daemon()
    after = mp.pod(pod_name)
    assert after["status"]["phase"] == "Running"
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    cs_before, cs_after = before["status"]["containerStatuses"][0], after["status"]["containerStatuses"][0]
    assert cs_after["containerID"] == cs_before["containerID"]
    assert cs_after["state"]["running"]["startedAt"] == cs_before["state"]["running"]["startedAt"]
    assert _container_pid(mp, pod_name) == pid
    assert mp.inspect(pod_name)["podInit"]["pid"] == init
    # Adopted means watched: an exit after the restart is still noticed.
    os.kill(pid, signal.SIGKILL)
    pod = mp.wait_for(
        pod_name,
        lambda p: p["status"]["containerStatuses"][0]["restartCount"] == 1,
        what="the adopted container to be restarted",
    )
    assert pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 137


def test_exit_while_daemon_is_down_keeps_the_real_exit_code(fresh_mp, pod_name):
    mp = fresh_mp
    mp.run_pod(pod_yaml(pod_name, "sleep 1; exit 42", restart="Never"))
    mp.kill_daemon(signal.SIGKILL)
    down_at = time.time()
    time.sleep(2)  # the container exits while nobody is listening
    mp.start_daemon()
    pod = mp.wait_for(pod_name, lambda p: p["status"]["phase"] == "Failed")
    t = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert t["exitCode"] == 42
    finished = calendar.timegm(time.strptime(t["finishedAt"], "%Y-%m-%dT%H:%M:%SZ"))
    # The monitor wrote the time of the real exit, before the daemon came back.
    assert finished <= down_at + 1.5


def test_restart_policy_applies_after_the_daemon_returns(fresh_mp, pod_name):
    mp = fresh_mp
    mp.run_pod(pod_yaml(pod_name, "sleep 1; exit 1", restart="OnFailure"))
    mp.kill_daemon(signal.SIGKILL)
    time.sleep(1.5)
    mp.start_daemon()
    pod = mp.wait_for(
        pod_name,
        lambda p: p["status"]["containerStatuses"][0]["restartCount"] >= 1,
        what="a restart after the daemon came back",
    )
    assert pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1


def test_state_files_are_never_half_written(fresh_mp, pod_name):
    """Kill the daemon repeatedly while it creates pods: every state file
    that exists afterwards is complete JSON, and every pod is usable."""
    mp = fresh_mp
    names = [f"{pod_name[:40]}-{i}" for i in range(6)]
    manifest = "\n---\n".join(pod_yaml(n, "sleep 3600") for n in names)
    mp.run("apply", "-f", "-", input=manifest)
    mp.kill_daemon(signal.SIGKILL)
    state_dir = os.path.join(mp.root, "lib", "pods")
    for entry in os.listdir(state_dir):
        if entry.endswith(".json"):
            with open(os.path.join(state_dir, entry)) as f:
                json.load(f)
    mp.start_daemon()
    for n in names:
        mp.wait_for(n, lambda p: p["status"]["phase"] == "Running", what=f"{n} to run")
    pids = {_container_pid(mp, n) for n in names}
    assert len(pids) == len(names), "a container was started twice or not at all"


def test_daemon_sigterm_leaves_pods_running(fresh_mp, pod_name):
    mp = fresh_mp
    mp.run_pod(pod_yaml(pod_name, "sleep 3600"))
    pid = _container_pid(mp, pod_name)
    mp.kill_daemon(signal.SIGTERM)
    assert os.path.exists(f"/proc/{pid}")
    mp.start_daemon()
    assert _container_pid(mp, pod_name) == pid
