"""Probes on real pods: readiness, liveness and startup, with exec, httpGet
and tcpSocket actions, and the events they leave.

The runtime runs every probe itself (an exec probe in the container's
namespaces, an HTTP GET or a TCP connect to the pod's IP), so the busybox
containers here only serve: `httpd` for the HTTP and TCP probes. Periods are
1 s; nothing here asserts a duration except "within about one period".
"""

import os
import time

from helpers.cli import events_of
from helpers.host import eventually
from helpers.pods import ctr, pod, pod_sh
from helpers.procfs import ns_inode

SLEEP = "exec sleep 3600"
# A container's command is PID 1 of its own pid namespace, and the kernel
# gives PID 1 no default action for SIGTERM: a command that is to end on the
# stop signal (exit code 143) must handle it, as on Kubernetes.
ENDS_ON_SIGTERM = "trap 'exit 143' TERM; sleep 3600 & wait"


def every_second(action: dict, **extra) -> dict:
    """A probe run once a second: ACTION is {"exec": ...}, {"httpGet": ...}..."""
    return dict(action, periodSeconds=1, **extra)


def run_cmd(*argv: str) -> dict:
    return {"exec": {"command": list(argv)}}


def status_of(p: dict, name: str = "main", init: bool = False) -> dict:
    key = "initContainerStatuses" if init else "containerStatuses"
    return next(s for s in p["status"][key] if s["name"] == name)


def conditions(p: dict) -> dict[str, str]:
    return {c["type"]: c["status"] for c in p["status"]["conditions"]}


def ready_column(mp, name: str) -> str:
    lines = mp.run("get", "pods", name).stdout.splitlines()
    assert lines[0].split()[:2] == ["NAME", "READY"], lines
    return lines[1].split()[1]


def wait_event(mp, name: str, reason: str, text: str, timeout: float = 10) -> str:
    """The message of the first event of the pod with REASON and TEXT in it."""

    def found():
        return next((m for _, r, m in events_of(mp, name) if r == reason and text in m), None)

    return eventually(found, timeout, f"a {reason} event saying {text!r} for {name}")


def describe_events(mp, name: str) -> list[str]:
    out = mp.run("describe", "pod", name).stdout
    return out.split("\nEvents:", 1)[1].splitlines()


# --- readiness ------------------------------------------------------------------


def test_readiness_gates_ready_until_the_probe_passes_and_never_restarts(mp, pods, pod_name):
    probe = every_second(run_cmd("cat", "/tmp/ready"))
    pods.run(pod(pod_name, ctr("main", SLEEP, readinessProbe=probe)))
    wait_event(mp, pod_name, "Unhealthy", "Readiness probe failed")
    p = mp.pod(pod_name)
    assert p["status"]["phase"] == "Running"
    cs = status_of(p)
    assert "running" in cs["state"] and cs["ready"] is False and cs["started"] is True
    cond = conditions(p)
    assert cond["Ready"] == "False" and cond["ContainersReady"] == "False"
    assert ready_column(mp, pod_name) == "0/1"
    # Failing readiness is reported, again and again, but kills nothing.
    eventually(
        lambda: any(
            "Unhealthy" in line and "Readiness probe failed" in line and "(x" in line
            for line in describe_events(mp, pod_name)
        ),
        10,
        "a repeated Readiness Unhealthy event",
    )
    assert status_of(mp.pod(pod_name))["restartCount"] == 0

    pod_sh(mp, pod_name, "touch /tmp/ready")
    start = time.monotonic()
    p = mp.wait_for(pod_name, lambda p: status_of(p)["ready"], timeout=5, what="Ready")
    assert time.monotonic() - start < 5
    cond = conditions(p)
    assert cond["Ready"] == "True" and cond["ContainersReady"] == "True"
    assert ready_column(mp, pod_name) == "1/1"
    assert status_of(p)["restartCount"] == 0 and "running" in status_of(p)["state"]


# --- liveness -------------------------------------------------------------------


def test_failing_liveness_probe_restarts_the_container(mp, pods, pod_name):
    # The container makes its file; the probe passes until we remove it.
    probe = every_second(run_cmd("test", "-e", "/tmp/alive"), failureThreshold=2)
    pods.run(
        pod(
            pod_name,
            ctr("main", "touch /tmp/alive; " + ENDS_ON_SIGTERM, livenessProbe=probe),
            terminationGracePeriodSeconds=5,
        )
    )
    first_id = status_of(mp.pod(pod_name))["containerID"]
    time.sleep(2.5)  # a few passing periods: a passing liveness probe changes nothing
    assert status_of(mp.pod(pod_name))["restartCount"] == 0
    assert not [e for e in events_of(mp, pod_name) if e[1] == "Unhealthy"]

    pod_sh(mp, pod_name, "rm /tmp/alive")
    p = mp.wait_for(
        pod_name,
        lambda p: status_of(p)["restartCount"] >= 1,
        timeout=15,
        what="a restart after the liveness probe failed",
    )
    cs = status_of(p)
    assert cs["restartCount"] == 1
    last = cs["lastState"]["terminated"]
    assert last["containerID"] == first_id
    assert last["exitCode"] == 143 and last["reason"] == "Error"  # SIGTERM
    assert cs["containerID"] != first_id
    wait_event(mp, pod_name, "Unhealthy", "Liveness probe failed")
    kill = wait_event(mp, pod_name, "Killing", "failed liveness probe, will be restarted")
    assert "main" in kill
    described = "\n".join(describe_events(mp, pod_name))
    assert "Liveness probe failed" in described
    assert "failed liveness probe, will be restarted" in described
    # The new instance made its file again: it stays up.
    mp.wait_for(pod_name, lambda p: "running" in status_of(p)["state"], what="running again")
    time.sleep(2)
    assert status_of(mp.pod(pod_name))["restartCount"] == 1


# --- startup --------------------------------------------------------------------


def test_startup_probe_holds_back_liveness_until_it_succeeds(mp, pods, pod_name):
    startup = every_second(run_cmd("test", "-e", "/tmp/started"), failureThreshold=60)
    # This liveness probe fails from the start: only the startup probe keeps
    # it from killing the container.
    liveness = every_second(run_cmd("test", "-e", "/tmp/alive"), failureThreshold=3)
    pods.run(
        pod(
            pod_name,
            ctr("main", SLEEP, startupProbe=startup, livenessProbe=liveness),
            terminationGracePeriodSeconds=5,
        )
    )
    wait_event(mp, pod_name, "Unhealthy", "Startup probe failed")
    time.sleep(3)  # three liveness periods, were liveness running
    p = mp.pod(pod_name)
    cs = status_of(p)
    assert cs["restartCount"] == 0 and "running" in cs["state"]
    assert cs["started"] is False and cs["ready"] is False
    assert ready_column(mp, pod_name) == "0/1"
    reasons = events_of(mp, pod_name)
    assert not [e for e in reasons if "Liveness" in e[2]], reasons
    assert not [e for e in reasons if e[1] == "Killing"], reasons

    pod_sh(mp, pod_name, "touch /tmp/started")
    p = mp.wait_for(
        pod_name,
        lambda p: status_of(p)["started"] or status_of(p)["restartCount"],
        timeout=5,
        what="started: true",
    )
    assert status_of(p)["started"] is True and status_of(p)["restartCount"] == 0
    assert status_of(p)["ready"] is True  # no readiness probe: started means ready
    # Now liveness runs, fails three times and restarts the container.
    mp.wait_for(
        pod_name,
        lambda p: status_of(p)["restartCount"] >= 1,
        timeout=15,
        what="the liveness probe to restart the container",
    )
    wait_event(mp, pod_name, "Unhealthy", "Liveness probe failed")
    wait_event(mp, pod_name, "Killing", "failed liveness probe, will be restarted")


def test_startup_probe_that_never_succeeds_restarts_the_container(mp, pods, pod_name):
    startup = every_second(run_cmd("test", "-e", "/tmp/never"), failureThreshold=2)
    pods.run(
        pod(pod_name, ctr("main", ENDS_ON_SIGTERM, startupProbe=startup), terminationGracePeriodSeconds=5)
    )
    p = mp.wait_for(
        pod_name,
        lambda p: status_of(p)["restartCount"] >= 1,
        timeout=15,
        what="a restart after the startup probe failed",
    )
    assert status_of(p)["lastState"]["terminated"]["exitCode"] == 143
    wait_event(mp, pod_name, "Unhealthy", "Startup probe failed")
    wait_event(mp, pod_name, "Killing", "failed startup probe, will be restarted")


# --- httpGet and tcpSocket ------------------------------------------------------

# A CGI script (its output starts with the status line, which httpd then
# sends as is): 200 with the right X-Probe-Token header, else 403. It keeps
# the headers it got in /tmp/headers.
CGI = r"""#!/bin/sh
env | grep '^HTTP_' >> /tmp/headers
if [ "$HTTP_X_PROBE_TOKEN" = s3cret ]; then echo 'HTTP/1.0 200 OK'; else echo 'HTTP/1.0 403 Forbidden'; fi
echo 'Content-Type: text/plain'
echo
echo checked
"""
HTTPD = (
    "mkdir -p /www/cgi-bin && echo ok > /www/index.html\n"
    f"cat > /www/cgi-bin/check <<'EOF'\n{CGI}EOF\n"
    "chmod +x /www/cgi-bin/check && exec httpd -f -p 8080 -h /www"
)


def test_http_and_tcp_probes_are_issued_by_the_runtime(mp, pods, pod_name):
    def http(path, port=8080, headers=None):
        get = {"path": path, "port": port}
        if headers:
            get["httpHeaders"] = headers
        return every_second({"httpGet": get})

    def tcp(port):
        return every_second({"tcpSocket": {"port": port}})

    token = [{"name": "X-Probe-Token", "value": "s3cret"}]
    # One pod, one network namespace: every probe reaches the web server.
    pods.run(
        pod(
            pod_name,
            ctr(
                "web",
                HTTPD,
                ports=[{"name": "web", "containerPort": 8080}],
                readinessProbe=http("/index.html", port="web"),
            ),
            ctr("missing", SLEEP, readinessProbe=http("/no-such-page")),
            ctr("headers", SLEEP, readinessProbe=http("/cgi-bin/check", headers=token)),
            ctr("no-headers", SLEEP, readinessProbe=http("/cgi-bin/check")),
            ctr("tcp-open", SLEEP, readinessProbe=tcp(8080)),
            ctr("tcp-closed", SLEEP, readinessProbe=tcp(8081)),
        )
    )
    ready = {
        "web": True,
        "missing": False,
        "headers": True,
        "no-headers": False,
        "tcp-open": True,
        "tcp-closed": False,
    }
    # The failing probes fail, each with its own message, while the others pass.
    msg_404 = wait_event(mp, pod_name, "Unhealthy", "HTTP probe failed with statuscode: 404")
    assert msg_404.startswith("Readiness probe failed: ")
    wait_event(mp, pod_name, "Unhealthy", "HTTP probe failed with statuscode: 403")
    refused = wait_event(mp, pod_name, "Unhealthy", ":8081")
    p = mp.wait_for(
        pod_name,
        lambda p: all(status_of(p, n)["ready"] == r for n, r in ready.items()),
        timeout=10,
        what=f"readiness {ready}",
    )
    assert conditions(p)["Ready"] == "False"
    assert ready_column(mp, pod_name) == "3/6"
    # The runtime sent the header, from outside the container (the pod's IP).
    headers = pod_sh(mp, pod_name, "cat /tmp/headers", "web").stdout
    assert "HTTP_X_PROBE_TOKEN=s3cret" in headers
    assert "HTTP_USER_AGENT=kube-probe/" in headers
    assert f"HTTP_HOST={p['status']['podIP']}:8080" in headers
    assert all(status_of(p, n)["restartCount"] == 0 for n in ready)
    # The kubelet's words for a closed port: "dial tcp IP:8081: connect:
    # connection refused".
    assert refused.endswith(f"dial tcp {p['status']['podIP']}:8081: connect: connection refused"), refused


# --- exec probe timeouts -----------------------------------------------------------


def sleeps_in_pod(pidns: int) -> int:
    """Live `sleep 5` processes in the pid namespace `pidns`."""
    n = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read() != b"sleep\x005\x00":
                    continue
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
            n += ns_inode(pid, "pid") == pidns
        except OSError:
            continue
    return n


def test_exec_probe_timeout_is_enforced(mp, pods, pod_name):
    probe = every_second(run_cmd("sh", "-c", "sleep 5"), timeoutSeconds=1)
    pods.run(pod(pod_name, ctr("main", SLEEP, readinessProbe=probe)))
    start = time.monotonic()
    message = wait_event(mp, pod_name, "Unhealthy", "Readiness probe failed", timeout=8)
    assert "timed out" in message or "timeout" in message, message
    assert time.monotonic() - start < 5
    pidns = ns_inode(mp.inspect(pod_name)["containers"][0]["process"]["pid"], "pid")  # the container's
    # Over four periods the timed-out commands are killed, not left to run
    # their 5 s: never more than a couple alive at once.
    counts = []
    end = time.monotonic() + 4
    while time.monotonic() < end:
        counts.append(sleeps_in_pod(pidns))
        time.sleep(0.1)
    assert max(counts) >= 1, "the probe's command never ran"
    assert max(counts) <= 2, f"timed-out probe commands pile up: {counts}"
    cs = status_of(mp.pod(pod_name))
    assert cs["ready"] is False and cs["restartCount"] == 0


# --- events ---------------------------------------------------------------------


def test_events_of_a_container_that_keeps_failing_its_liveness_probe(mp, pods, pod_name):
    probe = every_second(run_cmd("false"), failureThreshold=1)
    pods.run(pod(pod_name, ctr("main", SLEEP, livenessProbe=probe), terminationGracePeriodSeconds=5))
    mp.wait_for(pod_name, lambda p: status_of(p)["restartCount"] >= 3, timeout=30, what="three restarts")
    wait_event(mp, pod_name, "BackOff", "Back-off restarting failed container")
    reasons = {r for _, r, _ in events_of(mp, pod_name)}
    for reason in ("Scheduled", "Pulled", "Created", "Started", "Killing", "Unhealthy", "BackOff"):
        assert reason in reasons, f"no {reason} event: {events_of(mp, pod_name)}"
    types = {r: t for t, r, _ in events_of(mp, pod_name)}
    assert types["Unhealthy"] == types["BackOff"] == "Warning"
    assert types["Started"] == types["Killing"] == "Normal"
    # Repeats are one event with a count, not one line each.
    unhealthy = [e for e in events_of(mp, pod_name) if e[1] == "Unhealthy"]
    assert len(unhealthy) == 1, unhealthy
    lines = describe_events(mp, pod_name)
    counted = [line for line in lines if "Unhealthy" in line]
    assert len(counted) == 1 and "(x" in counted[0] and " over " in counted[0], lines
    assert int(counted[0].split("(x", 1)[1].split()[0]) >= 3
    assert any("Started" in line and "(x" in line for line in lines), lines
