"""`minipod run` on the CLI's fast path (cli/fast_path.py): the same
output, messages and exit codes as when click parses it, for a pod that
runs, one that fails, and the mistakes a user makes."""

import os
import re
import subprocess
import sys

from helpers.pods import pod_yaml

# click's half of the entry point, called directly: the fast path skipped.
CLICK = "import sys; from minipod.cli.commands import main; sys.argv[0] = 'minipod'; main()"


def both(
    mp, *args: str, stdin: str | None = None
) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """(the fast path's run, click's run) of `minipod run ARGS`."""
    env = dict(os.environ, MINIPOD_NO_AUTOSTART="1", MINIPOD_BACKOFF_BASE="0.5")
    out = []
    for argv in (
        [os.path.join(os.path.dirname(sys.executable), "minipod")],
        [sys.executable, "-c", CLICK],
    ):
        out.append(
            subprocess.run(
                [*argv, "--root", mp.root, "run", *args],
                input=stdin,
                text=True,
                capture_output=True,
                timeout=90,
                env=env,
            )
        )
    return out[0], out[1]


def table(stdout: str) -> list[list[str]]:
    """The table without what differs from run to run (AGE, IP)."""
    return [line.split()[:4] for line in stdout.splitlines()]


def test_a_running_pod_reads_the_same(mp, pod_name, pods, tmp_path):
    pods.add(pod_name)
    path = tmp_path / "pod.yml"
    path.write_text(pod_yaml(pod_name, "sleep 3600"))
    fast, slow = both(mp, str(path), "--timeout", "30")
    assert (fast.returncode, slow.returncode) == (0, 0)
    assert fast.stderr == f"pod/{pod_name} created\n"
    assert slow.stderr == f"pod/{pod_name} unchanged\n"
    assert (
        table(fast.stdout)
        == table(slow.stdout)
        == [
            ["NAME", "READY", "STATUS", "RESTARTS"],
            [pod_name, "1/1", "Running", "0"],
        ]
    )


def test_a_failing_pod_reads_the_same(mp, pod_name, pods, tmp_path):
    pods.add(pod_name)
    text = pod_yaml(pod_name, "").replace('["sh", "-c", ""]', '["nosuchcmd"]')
    fast, slow = both(mp, "-", stdin=text)
    assert fast.returncode == slow.returncode == 1
    errors = [line for line in fast.stderr.splitlines() if line.startswith("error:")]
    assert errors and 'exec: "nosuchcmd"' in errors[0]
    assert [line for line in slow.stderr.splitlines() if line.startswith("error:")] == errors
    assert table(fast.stdout) == table(slow.stdout)


def test_mistakes_read_the_same(mp, pod_name, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(pod_yaml(pod_name, "sleep 1").replace("containers:", "containerz:"))
    other = tmp_path / "other.yml"
    other.write_text(pod_yaml(pod_name, "sleep 1").replace("name:", "namespace: team-a\n  name:", 1))
    binary = tmp_path / "binary.yml"
    binary.write_bytes(b"\xff\xfe")
    cases = [
        [str(tmp_path / "missing.yml")],
        [str(bad)],
        ["-n", "team-b", str(other)],
        [str(binary)],
    ]
    for args in cases:
        fast, slow = both(mp, *args)
        assert fast.returncode == slow.returncode == 1, (args, fast.stderr, slow.stderr)
        assert fast.stderr == slow.stderr, args
        assert fast.stdout == slow.stdout == "", args
        assert "Traceback" not in fast.stderr and re.match(r"(error|Error)", fast.stderr), fast.stderr
