"""Issue 11, defect 5: logs are streamed from the file, so a 200 MB log
costs the daemon a chunk of memory, not the file: --tail reads from the
end, --limit-bytes stops early, and a full read streams."""

import os
import signal
import subprocess
import threading
import time

from helpers.host import eventually
from helpers.instance import MINIPOD
from helpers.pods import pod_yaml

# 40,000 numbered lines (2.24 MB), written 90 times: a ~200 MB log.
WRITE = (
    "awk 'BEGIN{for(i=0;i<40000;i++) printf \"log line %06d of the chunk, padded to be a bit longer\\n\", i}'"
    " > /tmp/chunk; i=0; while [ $i -lt 90 ]; do cat /tmp/chunk; i=$((i+1)); done; echo THE-END; sleep 3600"
)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def test_a_200mb_log_is_served_in_bounded_memory(fresh_mp, pod_name):
    mp = fresh_mp
    # One 200 MB file: rotation (10 MiB by default) would keep it small.
    os.makedirs(os.path.join(mp.root, "etc"), exist_ok=True)
    with open(os.path.join(mp.root, "etc", "kubelet-config.yaml"), "w") as f:
        f.write("containerLogMaxSize: 400Mi\n")
    mp.kill_daemon(signal.SIGTERM)
    mp.start_daemon()
    mp.run_pod(pod_yaml(pod_name, WRITE))
    eventually(lambda: mp.logs(pod_name, "--tail", "1") == "THE-END\n", timeout=120, what="the whole log")
    pid = mp.daemon.pid
    base = rss_mb(pid)

    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        tail = mp.logs(pod_name, "--tail", "3")
        limited = mp.logs(pod_name, "--limit-bytes", "100")
        env = dict(os.environ, MINIPOD_NO_AUTOSTART="1")
        began = time.monotonic()
        full = subprocess.run(
            [MINIPOD, "--root", mp.root, "logs", pod_name], stdout=subprocess.PIPE, env=env, check=True
        ).stdout
        took = time.monotonic() - began
    finally:
        done.set()
        sampler.join()
    assert tail == (
        "log line 039998 of the chunk, padded to be a bit longer\n"
        "log line 039999 of the chunk, padded to be a bit longer\n"
        "THE-END\n"
    )
    assert (
        limited
        == "log line 000000 of the chunk, padded to be a bit longer\nlog line 000001 of the chunk, padded to be a"
    )
    assert len(full) > 200_000_000 and full.endswith(b"THE-END\n")
    print(f"200 MB log: daemon RSS {base:.0f} MB, peak {peak[0]:.0f} MB while serving; full read {took:.1f}s")
    mp.delete(pod_name)
    assert peak[0] - base < 30, f"the daemon grew from {base:.0f} to {peak[0]:.0f} MB"
