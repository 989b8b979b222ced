"""`minipod apply`, `delete pod` and `logs` on the CLI's fast path
(cli/fast_path.py): the same output, messages and exit codes as when click
parses them, on the same inputs, the mistakes included."""

import os
import subprocess
import sys

from helpers.pods import pod_yaml

# click's half of the entry point, called directly: the fast path skipped.
CLICK = "import sys; from minipod.cli.commands import main; sys.argv[0] = 'minipod'; main()"


def minipod(mp, fast: bool, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MINIPOD_NO_AUTOSTART="1")
    argv = (
        [os.path.join(os.path.dirname(sys.executable), "minipod")] if fast else [sys.executable, "-c", CLICK]
    )
    return subprocess.run(
        [*argv, "--root", mp.root, *args], text=True, capture_output=True, timeout=90, env=env
    )


def same(mp, *args: str) -> subprocess.CompletedProcess:
    """Run `minipod ARGS` both ways; they must agree; the fast one's result."""
    fast, slow = minipod(mp, True, *args), minipod(mp, False, *args)
    assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr), args
    assert "Traceback" not in fast.stderr
    return fast


def test_apply_logs_delete_read_the_same(mp, pod_name, pods, tmp_path):
    pods.add(pod_name)
    path = tmp_path / "pod.yml"
    path.write_text(pod_yaml(pod_name, "echo one; echo two; sleep 3600"))
    first = minipod(mp, True, "apply", "-f", str(path))
    assert (first.returncode, first.stdout) == (0, f"pod/{pod_name} created\n"), first.stderr
    assert same(mp, "apply", "-f", str(path)).stdout == f"pod/{pod_name} unchanged\n"
    assert minipod(mp, True, "run", str(path)).returncode == 0  # waits until Running
    logs = same(mp, "logs", pod_name, "-n", "default")
    assert logs.returncode == 0 and logs.stdout.startswith("one\ntwo\n"), logs
    assert same(mp, "logs", pod_name, "--tail=1").stdout == "two\n"
    missing = same(mp, "logs", "no-such-pod")
    assert missing.returncode == 1 and missing.stderr.startswith("Error from server (NotFound):")
    bad_container = same(mp, "logs", pod_name, "-c", "nope")
    assert bad_container.returncode == 1 and "nope" in bad_container.stderr
    gone = same(mp, "delete", "pod", "no-such-pod")
    assert gone.returncode == 1 and gone.stderr.startswith("Error from server (NotFound):")
    assert same(mp, "delete", "pod/no-such-pod", "--ignore-not-found").returncode == 0
    done = minipod(mp, True, "delete", "pod", pod_name, "--grace-period", "0")
    assert (done.returncode, done.stdout, done.stderr) == (0, f'pod "{pod_name}" deleted\n', "")
    assert minipod(mp, True, "get", "pod", pod_name).returncode == 1  # waited until gone


def test_apply_mistakes_read_the_same(mp, pod_name, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(pod_yaml(pod_name, "sleep 1").replace("containers:", "containerz:"))
    broken = tmp_path / "broken.yml"
    broken.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: [\n")
    other = tmp_path / "other.yml"
    other.write_text(pod_yaml(pod_name, "sleep 1").replace("name:", "namespace: team-a\n  name:", 1))
    for args in (
        [str(tmp_path / "missing.yml")],
        [str(bad)],
        [str(broken)],
        ["-n", "team-b", str(other)],
        [str(tmp_path)],
    ):
        result = same(mp, "apply", *args[:-1], "-f", args[-1])
        assert result.returncode == 1 and result.stdout == "", args
        assert result.stderr.startswith(("error:", "Error")), result.stderr
    validation = same(mp, "apply", "-f", str(bad))
    assert "spec" in validation.stderr, validation.stderr  # names the field path
