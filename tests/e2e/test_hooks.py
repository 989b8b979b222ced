"""Lifecycle hooks, graceful termination, sidecars, termination messages and
the event stream, on real pods.

What a container did is written to a hostPath directory of the test, so it
can still be read once the pod is gone. Durations are asserted only where
the behaviour is a duration (a grace period), with generous bounds.
"""

import json
import os
import queue
import signal
import subprocess
import threading
import time

from helpers.cli import events_of
from helpers.host import eventually
from helpers.instance import MINIPOD
from helpers.pods import ctr, pod, pod_sh

SLEEP = "exec sleep 3600"
# A container's command is PID 1 of its own pid namespace: with no handler,
# the kernel ignores the stop signal for it, as on Kubernetes. A sidecar that
# is to stop at once handles SIGTERM.
STOPS_ON_SIGTERM = "trap 'exit 143' TERM; sleep 3600 & wait"
IGNORE_TERM = "trap '' TERM; while true; do sleep 0.1; done"


def out_volume(path) -> dict:
    return {"volumes": [{"name": "out", "hostPath": {"path": str(path)}}]}


OUT = [{"name": "out", "mountPath": "/out"}]


def status_of(p: dict, name: str = "main", init: bool = False) -> dict:
    key = "initContainerStatuses" if init else "containerStatuses"
    return next(s for s in p["status"][key] if s["name"] == name)


def wait_event(mp, name: str, reason: str, text: str = "", timeout: float = 10) -> str:
    def found():
        return next((m for _, r, m in events_of(mp, name) if r == reason and text in m), None)

    return eventually(found, timeout, f"a {reason} event saying {text!r} for {name}")


def timed_delete(mp, name: str, *grace: str) -> float:
    """Seconds `minipod delete pod NAME [--grace-period N]` took."""
    start = time.monotonic()
    mp.run("delete", "pod", name, *(("--grace-period",) + grace if grace else ()))
    took = time.monotonic() - start
    assert mp.run("get", "pod", name, check=False).returncode == 1, "the pod is still there"
    return took


# --- preStop and the stop signal ----------------------------------------------------


def test_pre_stop_runs_before_the_stop_signal(mp, pods, pod_name, tmp_path):
    script = "trap 'echo term >> /out/log; exit 0' TERM; while true; do sleep 0.1; done"
    hook = {"preStop": {"exec": {"command": ["sh", "-c", "echo prestop >> /out/log"]}}}
    pods.run(pod(pod_name, ctr("main", script, volumeMounts=OUT, lifecycle=hook), **out_volume(tmp_path)))
    took = timed_delete(mp, pod_name, "5")
    assert (tmp_path / "log").read_text() == "prestop\nterm\n"
    assert took < 5, "the container exited on TERM; the delete need not wait for the deadline"


def test_pre_stop_counts_against_the_grace_period(mp, pods, pod_name, tmp_path):
    # A preStop hook that outlasts the grace period: the container gets no
    # more time than the grace period in all, as in the kubelet.
    hook = {"preStop": {"exec": {"command": ["sh", "-c", "echo prestop >> /out/log; sleep 60"]}}}
    pods.run(
        pod(pod_name, ctr("main", IGNORE_TERM, volumeMounts=OUT, lifecycle=hook), **out_volume(tmp_path))
    )
    took = timed_delete(mp, pod_name, "2")
    assert 2 <= took < 10, took
    assert (tmp_path / "log").read_text() == "prestop\n"


def test_stop_signal_from_the_spec(mp, pods, pod_name, tmp_path):
    script = (
        "trap 'echo usr1 >> /out/log; exit 0' USR1; trap 'echo term >> /out/log; exit 0' TERM; "
        "while true; do sleep 0.1; done"
    )
    pods.run(
        pod(
            pod_name,
            ctr("main", script, volumeMounts=OUT, lifecycle={"stopSignal": "SIGUSR1"}),
            **out_volume(tmp_path),
        )
    )
    timed_delete(mp, pod_name, "5")
    assert (tmp_path / "log").read_text() == "usr1\n"


# --- grace periods --------------------------------------------------------------------


def test_term_ignoring_container_is_killed_at_the_grace_deadline(mp, pods, pod_name):
    slow, quick = f"{pod_name[:45]}-slow", f"{pod_name[:45]}-now"
    pods.run(pod(slow, ctr("main", IGNORE_TERM)), pod(quick, ctr("main", IGNORE_TERM)))
    took = timed_delete(mp, slow, "2")
    assert 2 <= took < 10, took
    assert timed_delete(mp, quick, "0") < 2


def test_pod_termination_grace_period_is_the_default_for_delete(mp, pods, pod_name):
    pods.run(pod(pod_name, ctr("main", IGNORE_TERM), terminationGracePeriodSeconds=2))
    took = timed_delete(mp, pod_name)  # no --grace-period
    assert 2 <= took < 10, took


# --- postStart ----------------------------------------------------------------------


def test_post_start_completes_before_the_container_is_running(mp, pods, pod_name, tmp_path):
    hook = {
        "postStart": {
            "exec": {"command": ["sh", "-c", "sleep 1; echo done > /out/hook; echo hook-wrote > /tmp/hook"]}
        }
    }
    manifest = pod(pod_name, ctr("main", SLEEP, volumeMounts=OUT, lifecycle=hook), **out_volume(tmp_path))
    pods.add(pod_name)
    mp.apply(json.dumps(manifest))
    seen = []

    def running():
        state = status_of(mp.pod(pod_name))["state"]
        hook_done = (tmp_path / "hook").exists()  # read after the status: no race
        seen.append((next(iter(state)), hook_done))
        return "running" in state

    eventually(running, 15, "the container to run")
    assert all(done for state, done in seen if state == "running"), seen
    assert ("waiting", False) in seen, f"never seen waiting while the hook ran: {seen}"
    # The hook ran inside the container.
    assert pod_sh(mp, pod_name, "cat /tmp/hook").stdout == "hook-wrote\n"
    reasons = [r for _, r, _ in events_of(mp, pod_name)]
    assert "Started" in reasons and "FailedPostStartHook" not in reasons


def test_failing_post_start_kills_and_restarts_the_container(mp, pods, pod_name, tmp_path):
    hook = {"postStart": {"exec": {"command": ["false"]}}}
    script = "echo started >> /out/log; " + SLEEP
    pods.add(pod_name)
    mp.apply(
        json.dumps(
            pod(
                pod_name,
                ctr("main", script, volumeMounts=OUT, lifecycle=hook),
                terminationGracePeriodSeconds=5,
                **out_volume(tmp_path),
            )
        )
    )
    wait_event(mp, pod_name, "FailedPostStartHook")
    p = mp.wait_for(
        pod_name,
        lambda p: status_of(p)["restartCount"] >= 1,
        timeout=15,
        what="a restart after the postStart hook failed",
    )
    assert status_of(p)["lastState"]["terminated"]["exitCode"] != 0
    eventually(
        lambda: (tmp_path / "log").read_text().count("started") >= 2, 10, "the container to start again"
    )
    wait_event(mp, pod_name, "Killing", "FailedPostStartHook")


# --- sidecars -----------------------------------------------------------------------


def stamp(word: str) -> str:
    return f"echo {word} $(cut -d' ' -f1 /proc/uptime) >> /out/order"


def test_sidecar_starts_first_keeps_running_and_is_restarted(mp, pods, pod_name, tmp_path):
    sidecar = ctr("sidecar", stamp("sidecar") + "; " + SLEEP, restartPolicy="Always", volumeMounts=OUT)
    setup = ctr("setup", "sleep 0.5; " + stamp("setup"), volumeMounts=OUT)
    app = ctr("main", stamp("main") + "; " + SLEEP, volumeMounts=OUT)
    pods.run(pod(pod_name, app, initContainers=[sidecar, setup], **out_volume(tmp_path)), timeout=15)
    order = [line.split()[0] for line in (tmp_path / "order").read_text().splitlines()]
    assert order == ["sidecar", "setup", "main"]
    p = mp.pod(pod_name)
    side = status_of(p, "sidecar", init=True)
    assert "running" in side["state"] and side["started"] is True and side["ready"] is True
    assert status_of(p, "setup", init=True)["state"]["terminated"]["exitCode"] == 0
    assert "running" in status_of(p)["state"]
    row = mp.run("get", "pods", pod_name).stdout.splitlines()[1].split()
    assert row[1:3] == ["2/2", "Running"], row

    pid = next(c for c in mp.inspect(pod_name)["containers"] if c["name"] == "sidecar")["process"]["pid"]
    os.kill(pid, signal.SIGKILL)
    p = mp.wait_for(
        pod_name,
        lambda p: (
            status_of(p, "sidecar", init=True)["restartCount"] == 1
            and "running" in status_of(p, "sidecar", init=True)["state"]
        ),
        timeout=15,
        what="the sidecar to be restarted",
    )
    assert status_of(p, "sidecar", init=True)["lastState"]["terminated"]["exitCode"] == 137
    assert status_of(p)["restartCount"] == 0 and p["status"]["phase"] == "Running"
    order = [line.split()[0] for line in (tmp_path / "order").read_text().splitlines()]
    assert order == ["sidecar", "setup", "main", "sidecar"]  # the init container did not run again


def test_sidecar_is_stopped_when_the_app_completes(mp, pods, pod_name):
    names = {policy: f"{pod_name[:40]}-{policy.lower()}" for policy in ("Never", "OnFailure")}
    for policy, name in names.items():
        sidecar = ctr("sidecar", STOPS_ON_SIGTERM, restartPolicy="Always")
        pods.add(name)
        mp.apply(
            json.dumps(
                pod(
                    name,
                    ctr("main", "sleep 2; exit 0"),
                    initContainers=[sidecar],
                    restartPolicy=policy,
                    terminationGracePeriodSeconds=5,
                )
            )
        )
    for policy, name in names.items():
        p = mp.wait_for(
            name,
            lambda p: (
                p["status"]["phase"] in ("Succeeded", "Failed")
                and "terminated" in status_of(p, "sidecar", init=True)["state"]
            ),
            timeout=15,
            what="the pod to finish and its sidecar to stop",
        )
        assert p["status"]["phase"] == "Succeeded", (policy, p["status"])
        assert status_of(p)["state"]["terminated"]["exitCode"] == 0
        side = status_of(p, "sidecar", init=True)
        assert "terminated" in side["state"], (policy, side)
        assert side["restartCount"] == 0
        wait_event(mp, name, "Killing", "Stopping container sidecar")
        view = next(c for c in mp.inspect(name)["containers"] if c["name"] == "sidecar")
        assert not view.get("process", {}).get("alive"), view


# --- termination messages ---------------------------------------------------------


def test_termination_messages(mp, pods, pod_name):
    fallback = {"terminationMessagePolicy": "FallbackToLogsOnError"}
    pods.add(pod_name)
    mp.apply(
        json.dumps(
            pod(
                pod_name,
                ctr("default-path", "echo bye > /dev/termination-log; exit 3"),
                ctr("custom-path", "echo custom > /tmp/msg; exit 0", terminationMessagePath="/tmp/msg"),
                ctr("from-logs", "echo line one; echo line two >&2; exit 2", **fallback),
                ctr(
                    "file-wins", "echo in the log; echo from file > /dev/termination-log; exit 1", **fallback
                ),
                ctr("logs-on-error-only", "echo fine; exit 0", **fallback),
                ctr("no-message", "echo only a log; exit 1"),
                restartPolicy="Never",
            )
        )
    )
    p = mp.wait_for(pod_name, lambda p: p["status"]["phase"] == "Failed", timeout=20)

    def term(name):
        return status_of(p, name)["state"]["terminated"]

    assert term("default-path")["message"] == "bye\n" and term("default-path")["exitCode"] == 3
    assert term("custom-path")["message"] == "custom\n"
    assert term("from-logs")["message"] == "line one\nline two\n"
    assert term("file-wins")["message"] == "from file\n"
    assert "message" not in term("logs-on-error-only")
    assert "message" not in term("no-message")
    assert "bye" in mp.run("describe", "pod", pod_name).stdout


# --- the event stream ---------------------------------------------------------------


def test_events_watch_streams_new_events(mp, pods, pod_name):
    watcher = subprocess.Popen(
        [MINIPOD, "--root", mp.root, "events", "-w"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in watcher.stdout], daemon=True).start()
    try:
        time.sleep(0.5)  # connected: the old events come first
        assert watcher.poll() is None, watcher.stderr.read()
        pods.run(pod(pod_name, ctr("main", SLEEP)))
        seen, deadline = [], time.monotonic() + 10
        while not any(f"pod/{pod_name}" in line and "Started" in line for line in seen):
            assert time.monotonic() < deadline, f"no Started event streamed for {pod_name}: {seen}"
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                pass
        mine = [line.split()[1:3] for line in seen if f"pod/{pod_name}" in line]
        assert ["Normal", "Scheduled"] in mine and ["Normal", "Started"] in mine, mine
    finally:
        watcher.kill()
        watcher.wait(5)
