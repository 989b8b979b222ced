"""critest, the CRI validation suite (cri-tools v1.26.1), against the
session's CRI instance: the source folder's run-critest.sh with the cached
critest binary, its images from the loopback registry through the mirrors.

The pass count is printed at the end of the pytest run (terminal summary),
with each failing spec and its first line of failure (critest's own log
goes with its temporary folder). The test fails below
MIN_PASSED, raised as minipod passes more; containerd 1.6 passes 79 of the
80 specs that run on the same machine (the 80th pulls a digest-pinned image
nobody can rebuild offline).
"""

import os
import shutil
import subprocess
import tempfile

from helpers.critest import CRITEST_SUMMARY, SOURCE, critest_results

MIN_PASSED = 79  # measured: 79 of 80, as containerd (the digest-pinned image fails)
SPECS_RUN = 80  # as with containerd: 85 registered, the 5 benchmarks skipped
DIGEST_PINNED = "public image with digest should be pulled and removed"


def test_critest_pass_count(critest_mp, cri_tools):
    out = tempfile.mkdtemp(prefix="minipod-critest-")
    env = dict(os.environ, CRITEST=cri_tools.critest, ENDPOINT=f"unix://{critest_mp.cri_socket}")
    try:
        # ginkgo's own deadline first: critest then ends itself and reports
        # what ran, where a timeout here would leave it running.
        argv = [os.path.join(SOURCE, "run-critest.sh"), out, "--ginkgo.timeout=15m"]
        subprocess.run(argv, env=env, timeout=1200, check=False)
        results = critest_results(os.path.join(out, "junit", "report.json"))
        with open(os.path.join(out, "summary.txt")) as f:
            wall = f.read().split()[1]  # wall_s=N
    finally:
        shutil.rmtree(out)
    ran = [r for r in results if r.state != "skipped"]
    passed = [r for r in ran if r.state == "passed"]
    failed = [r for r in ran if r.state != "passed"]
    CRITEST_SUMMARY.append(f"critest v1.26.1: {len(passed)} of {len(ran)} specs passed ({wall})")
    for r in failed:
        why = "the digest-pinned image (not rebuildable offline)" if DIGEST_PINNED in r.name else r.reason
        CRITEST_SUMMARY.append(f"  FAILED {r.name}: {why[:200]}")
    assert len(ran) == SPECS_RUN, f"critest ran {len(ran)} specs, not {SPECS_RUN}"
    assert len(passed) >= MIN_PASSED, f"critest: {len(passed)} of {len(ran)} passed, fewer than {MIN_PASSED}"
