"""Container logs rotate as the kubelet rotates them, losing nothing.

The container's monitor writes its output to LOGS/CONTAINER/N.log and,
past containerLogMaxSize (10Mi by default), renames it N.log.1 (.1 to .2,
...), keeping containerLogMaxFiles (5) files in all.
"""

import os
import subprocess
import sys
import threading

from helpers.pods import ctr, pod

MINIPOD = os.path.join(os.path.dirname(sys.executable), "minipod")
MiB = 1024 * 1024


def log_files(mp, pod_name: str) -> dict[str, int]:
    c = mp.inspect(pod_name)["containers"][0]
    d = os.path.dirname(c["logPath"])
    return {name: os.path.getsize(os.path.join(d, name)) for name in os.listdir(d)}


def test_a_pod_that_writes_125_mb_keeps_at_most_five_10mi_files(mp, pods, pod_name):
    # 1,250,000 lines of 100 bytes, then five numbered ones.
    script = "yes 'x%s' | head -n 1250000; for i in 1 2 3 4 5; do echo final-$i; done; exec sleep 3600" % (
        "y" * 97
    )
    pods.run(pod(pod_name, ctr("main", script)))
    mp.wait_for(
        pod_name,
        lambda p: mp.logs(pod_name, "--tail", "1") == "final-5\n",
        timeout=120,
        what="the last line in the log",
    )
    files = log_files(mp, pod_name)
    assert sorted(files) == ["0.log", "0.log.1", "0.log.2", "0.log.3", "0.log.4"], files
    assert sum(files.values()) <= 60 * 1000 * 1000
    assert all(size <= 10 * MiB for size in files.values()), files
    assert mp.logs(pod_name, "--tail", "5") == "".join(f"final-{i}\n" for i in range(1, 6))
    # Rotation cuts at line ends: every file holds whole lines.
    d = os.path.dirname(mp.inspect(pod_name)["containers"][0]["logPath"])
    for name in files:
        with open(os.path.join(d, name), "rb") as f:
            f.seek(-1, 2)
            assert f.read(1) == b"\n", name


def test_logs_follow_across_a_rotation_without_losing_a_line(mp, pods, pod_name):
    # About 24 MB of numbered lines: two rotations while a reader follows.
    total = 3_000_000
    pods.run(pod(pod_name, ctr("main", f"sleep 2; seq 1 {total}; exec sleep 3600")))
    follower = subprocess.Popen(
        [MINIPOD, "--root", mp.root, "logs", "-f", pod_name],
        stdout=subprocess.PIPE,
        env=dict(os.environ, MINIPOD_NO_AUTOSTART="1"),
    )
    watchdog = threading.Timer(120, follower.kill)  # a stuck reader ends the loop below
    watchdog.start()
    expected = 0
    try:
        for line in follower.stdout:
            assert int(line) == expected + 1, f"line {expected + 1} is missing or out of order: got {line!r}"
            expected += 1
            if expected == total:
                break
    finally:
        watchdog.cancel()
        follower.kill()
        follower.wait()
    assert expected == total
    assert "0.log.2" in log_files(mp, pod_name)
