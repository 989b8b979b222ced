"""Issue 11, defect 6: deleting several pods is one state the daemon records
for all of them at once, carried out concurrently, and finished by a
restarted daemon even if the CLI (or the daemon) died part-way."""

import os
import time

from helpers.pods import pod_yaml

STUBBORN = "trap '' TERM; while true; do sleep 0.2; done"  # ignores SIGTERM: waits for SIGKILL


def test_four_pods_with_a_3s_grace_take_3s_not_12(mp, pod_name):
    names = [f"{pod_name[:40]}-{i}" for i in range(4)]
    mp.run_pod("---\n".join(pod_yaml(n, STUBBORN) for n in names))
    began = time.monotonic()
    p = mp.run("delete", "pod", *names, "--grace-period", "3")
    took = time.monotonic() - began
    assert p.stdout.splitlines() == [f'pod "{n}" deleted' for n in names]
    assert 3 <= took < 8, f"took {took:.1f}s"  # sequential would be 12 s and more
    listed = mp.run("get", "pods", "-o", "name").stdout
    assert not any(f"pod/{n}\n" in listed + "\n" for n in names), listed


def test_a_restarted_daemon_finishes_every_recorded_deletion(fresh_mp, pod_name):
    mp = fresh_mp
    names = [f"{pod_name[:40]}-{i}" for i in range(3)]
    mp.run_pod("---\n".join(pod_yaml(n, STUBBORN) for n in names))
    mp.run("delete", "pod", *names, "--grace-period", "2", "--no-wait")
    for n in names:  # recorded for every one at once, before any is gone
        assert mp.pod(n)["metadata"]["deletionTimestamp"]
    mp.kill_daemon()
    mp.start_daemon()
    deadline = time.time() + 30
    while mp.run("get", "pods", "-o", "name").stdout.strip():
        assert time.time() < deadline, mp.run("get", "pods").stdout
        time.sleep(0.2)
    assert not os.listdir(os.path.join(mp.root, "lib", "pods"))
