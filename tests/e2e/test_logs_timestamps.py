"""Issue 12: `logs --timestamps`, `--since` and `--since-time`, through the
real kubectl, the Python client and minipod's own CLI (one implementation:
api/pod_logs.py reads the times the container's monitor marks beside the
log). A line's time is when the monitor read it, as the kubelet's CRI log
reader gives it, in RFC 3339 with nanoseconds."""

import datetime
import json
import re
import subprocess
import time

from helpers.host import eventually
from helpers.kubectl import KUBECTL, client, env, kubectl
from helpers.pods import ctr, pod

STAMPED = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z) (.*)$")
GAP = 6  # seconds between the two lines


def _epoch(stamp: str) -> float:
    whole, _, frac = stamp.rstrip("Z").partition(".")
    base = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.timezone.utc).timestamp()
    return base + (float("0." + frac) if frac else 0.0)


def _stamped(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        m = STAMPED.match(line)
        assert m, f"not a timestamped line: {line!r}"
        frac = m.group(1).rstrip("Z").partition(".")[2]
        assert not frac.endswith("0"), "RFC3339Nano drops trailing zeros"
        out.append((m.group(1), m.group(2)))
    return out


def test_timestamps_and_since(mp, pods):
    before = time.time()
    pods.run(pod("lt-pod", ctr("main", f"echo early; sleep {GAP}; echo late; exec sleep 3600")))
    eventually(lambda: "late" in kubectl(mp, "logs", "lt-pod").stdout, timeout=30, what="the late line")
    [(t_early, early), (t_late, late)] = _stamped(kubectl(mp, "logs", "lt-pod", "--timestamps").stdout)
    assert (early, late) == ("early", "late")
    assert before - 1 < _epoch(t_early) < _epoch(t_late) <= time.time()
    assert _epoch(t_late) - _epoch(t_early) >= GAP - 1
    assert kubectl(mp, "logs", "lt-pod", "--timestamps", "--tail=1").stdout == f"{t_late} late\n"
    # --since-time at the late line's time: that line on; --since 1h: both.
    assert kubectl(mp, "logs", "lt-pod", f"--since-time={t_late}").stdout == "late\n"
    assert kubectl(mp, "logs", "lt-pod", "--since=1h").stdout == "early\nlate\n"
    # sinceSeconds reaching back past the late line but not the early one.
    api = client(mp)
    since = int(time.time() - _epoch(t_late)) + 2
    assert since < time.time() - _epoch(t_early)
    assert api.read_namespaced_pod_log("lt-pod", "default", since_seconds=since) == "late\n"
    assert api.read_namespaced_pod_log("lt-pod", "default", timestamps=True, limit_bytes=10) == t_early[:10]
    # minipod's own CLI, through the socket API's log route.
    assert mp.logs("lt-pod", "--timestamps") == f"{t_early} early\n{t_late} late\n"
    assert mp.logs("lt-pod", "--since-time", t_late) == "late\n"
    assert mp.logs("lt-pod", "--since", "1h") == "early\nlate\n"
    bad = mp.run("logs", "lt-pod", "--since", "soon", check=False)
    assert bad.returncode != 0 and "--since" in bad.stderr and "Traceback" not in bad.stderr
    # Bad input: a clear 400, no log.
    p = kubectl(
        mp,
        "get",
        "--raw",
        "/api/v1/namespaces/default/pods/lt-pod/log?sinceSeconds=5&sinceTime=" + t_late,
        check=False,
    )
    assert p.returncode == 1 and "at most one of `sinceTime` or `sinceSeconds` may be specified" in p.stderr
    p = kubectl(
        mp, "get", "--raw", "/api/v1/namespaces/default/pods/lt-pod/log?sinceTime=yesterday", check=False
    )
    assert p.returncode == 1 and "sinceTime" in p.stderr and "RFC 3339" in p.stderr


def test_follow_with_timestamps(mp, pods):
    pods.run(
        pod(
            "lt-follow", ctr("main", "sleep 1; for i in 1 2 3; do echo n$i; sleep 0.3; done; exec sleep 3600")
        )
    )
    f = subprocess.Popen(
        [KUBECTL, "logs", "-f", "--timestamps", "lt-follow"], stdout=subprocess.PIPE, text=True, env=env(mp)
    )
    try:
        lines = [f.stdout.readline() for _ in range(3)]
    finally:
        f.kill()
        f.wait()
    stamped = _stamped("".join(lines))
    assert [text for _, text in stamped] == ["n1", "n2", "n3"]
    times = [_epoch(t) for t, _ in stamped]
    assert times == sorted(times) and times[2] - times[0] >= 0.4
    assert (
        json.loads(kubectl(mp, "get", "pod", "lt-follow", "-o", "json").stdout)["status"]["phase"]
        == "Running"
    )
