"""The README's example pod, end to end."""

import os

from helpers import REPO

EXAMPLE = os.path.join(REPO, "examples", "hello-pod.yml")


def test_hello_example_runs_and_is_deleted(mp):
    with open(EXAMPLE) as f:
        manifest = f.read()
    out = mp.run_pod(manifest)
    header, row = out.stdout.splitlines()[:2]
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP"]
    assert row.split()[:4] == ["hello", "1/1", "Running", "0"]
    assert "hello from pod hello" in mp.logs("hello")
    mp.delete("hello")
    assert mp.run("get", "pod", "hello", check=False).returncode == 1
