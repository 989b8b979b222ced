"""`minipod logs` and `minipod exec`, end to end through the real command.

Interactive exec is driven through a real pseudo-terminal, as a user's
terminal would drive it.
"""

import os
import pty
import re
import select
import subprocess
import time

import pytest
from helpers.cli import assert_user_error
from helpers.instance import MINIPOD
from helpers.pods import pod_yaml

SLEEP = "sleep 3600"
NAMESPACES = ("net", "ipc", "uts", "pid", "mnt")


def two_containers(name: str) -> str:
    return pod_yaml(
        name,
        "echo main-1; sleep 3600",
        extra_container="""    env:
    - name: WHO
      value: main-container
  - name: side
    image: busybox:1.35
    command: ["sh", "-c", "echo side-1; sleep 3600"]
    env:
    - name: WHO
      value: side-container""",
    )


# --- logs -----------------------------------------------------------------------------


def test_logs_keep_stdout_and_stderr_in_order(mp, pod_name, pods):
    pods.add(pod_name)
    mp.run_pod(pod_yaml(pod_name, "echo out-1; echo err-1 >&2; echo out-2; echo err-2 >&2", restart="Never"))
    assert mp.logs(pod_name) == "out-1\nerr-1\nout-2\nerr-2\n"


def test_logs_of_one_container(mp, pod_name, pods):
    pods.add(pod_name)
    mp.run_pod(two_containers(pod_name))
    mp.wait_for(pod_name, lambda p: mp.logs(pod_name, "-c", "side") != "", what="side's output")
    assert mp.logs(pod_name, "-c", "side") == "side-1\n"
    assert mp.logs(pod_name, "-c", "main") == "main-1\n"
    assert_user_error(mp.run("logs", pod_name, "-c", "nope", check=False), "nope")


def test_logs_tail(mp, pod_name, pods):
    pods.add(pod_name)
    mp.run_pod(pod_yaml(pod_name, "for i in 1 2 3 4 5; do echo line-$i; done", restart="Never"))
    assert mp.logs(pod_name, "--tail", "2") == "line-4\nline-5\n"
    assert mp.logs(pod_name, "--tail", "0") == ""
    assert mp.logs(pod_name, "--tail", "10") == "".join(f"line-{i}\n" for i in range(1, 6))


def test_logs_previous_shows_the_instance_before_the_restart(mp, pod_name, pods):
    pods.add(pod_name)
    # The run number is kept in an emptyDir, which outlives container restarts.
    script = (
        "n=$(( $(cat /data/n 2>/dev/null || echo 0) + 1 )); echo $n > /data/n; "
        "echo run-$n; [ $n -gt 1 ] || exit 1; sleep 3600"
    )
    mp.apply(
        pod_yaml(
            pod_name,
            script,
            extra_spec="""  volumes:
  - name: data
    emptyDir: {}""",
            extra_container="""    volumeMounts:
    - name: data
      mountPath: /data""",
        )
    )
    mp.wait_for(
        pod_name,
        lambda p: (
            p["status"]["containerStatuses"][0]["restartCount"] == 1
            and "running" in p["status"]["containerStatuses"][0]["state"]
        ),
        what="a restart",
    )
    assert mp.logs(pod_name) == "run-2\n"
    assert mp.logs(pod_name, "--previous") == "run-1\n"
    assert mp.logs(pod_name, "-p") == "run-1\n"


def test_logs_previous_without_a_restart_is_an_error(mp, pod_name, pods):
    pods.add(pod_name)
    mp.run_pod(pod_yaml(pod_name, SLEEP))
    assert_user_error(mp.run("logs", pod_name, "--previous", check=False), "previous")


def test_logs_follow_streams_until_the_container_exits(mp, pod_name, pods):
    pods.add(pod_name)
    # line-2 waits for the test's signal, so the first line is surely read
    # while the container still runs: -f must then keep following.
    mp.run_pod(
        pod_yaml(
            pod_name,
            "echo line-1; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo line-2; sleep 0.3; echo line-3",
            restart="Never",
        )
    )
    follow = subprocess.Popen(
        [MINIPOD, "--root", mp.root, "logs", "-f", pod_name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follow.stdout.readline() == "line-1\n"
        assert follow.poll() is None, "logs -f ended while the container was running"
        mp.run("exec", pod_name, "--", "touch", "/tmp/go")
        rest, err = follow.communicate(timeout=30)
    finally:
        follow.kill()
        follow.wait()
    assert rest == "line-2\nline-3\n", err
    assert follow.returncode == 0, err
    assert mp.pod(pod_name)["status"]["phase"] == "Succeeded"


# --- exec: plain ---------------------------------------------------------------------------


@pytest.fixture
def running(mp, pod_name, pods):
    """A running two-container pod, for the exec tests."""
    pods.add(pod_name)
    mp.run_pod(two_containers(pod_name))
    return pod_name


def test_exec_passes_the_exit_code_through(mp, running):
    assert mp.run("exec", running, "--", "sh", "-c", "exit 7", check=False).returncode == 7
    assert mp.run("exec", running, "--", "true").returncode == 0


def test_exec_keeps_stdout_and_stderr_apart(mp, running):
    p = mp.run("exec", running, "--", "sh", "-c", "echo to-out; echo to-err >&2")
    assert (p.stdout, p.stderr) == ("to-out\n", "to-err\n")


def test_exec_stdin(mp, running):
    p = mp.run("exec", "-i", running, "--", "cat", input="hi\nthere\n", timeout=10)
    assert p.stdout == "hi\nthere\n"
    p = mp.run("exec", "-i", running, "--", "wc", "-l", input="a\nb\nc\n", timeout=10)
    assert p.stdout.strip() == "3"


def test_exec_picks_the_container(mp, running):
    assert mp.run("exec", running, "--", "sh", "-c", "echo $WHO").stdout == "main-container\n"
    assert mp.run("exec", running, "-c", "side", "--", "sh", "-c", "echo $WHO").stdout == "side-container\n"
    assert mp.run("exec", "-c", "main", running, "--", "sh", "-c", "echo $WHO").stdout == "main-container\n"


def test_exec_a_missing_command(mp, running):
    p = mp.run("exec", running, "--", "nosuch", check=False)
    assert p.returncode in (126, 127), p
    assert 'exec: "nosuch"' in p.stderr and "executable file not found" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr


def test_exec_into_a_container_that_is_not_running(mp, pod_name, pods):
    pods.add(pod_name)
    mp.run_pod(pod_yaml(pod_name, "true", restart="Never"))
    p = mp.run("exec", pod_name, "--", "true", check=False)
    assert_user_error(p)
    assert "not running" in p.stderr or "completed" in p.stderr, p.stderr


def test_exec_runs_in_the_containers_namespaces(mp, running):
    script = "; ".join(f"readlink /proc/self/ns/{t}" for t in NAMESPACES)
    inside = {}
    for line in mp.run("exec", running, "--", "sh", "-c", script).stdout.split():
        kind, ino = re.fullmatch(r"(\w+):\[(\d+)\]", line).groups()
        inside[kind] = int(ino)
    [main] = [c for c in mp.inspect(running)["containers"] if c["name"] == "main"]
    theirs = main["process"]["namespaces"]
    assert inside == {t: theirs[t] for t in NAMESPACES}
    host = {t: os.stat(f"/proc/self/ns/{t}").st_ino for t in NAMESPACES}
    assert all(inside[t] != host[t] for t in NAMESPACES)


# --- exec: interactive, on a real terminal ----------------------------------------------------


class Terminal:
    """`minipod exec -it ...` with a pseudo-terminal as its stdin, stdout and stderr."""

    def __init__(self, mp, *args: str):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [MINIPOD, "--root", mp.root, "exec", "-it", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.seen = b""

    def read_until(self, pattern: bytes, timeout: float = 15) -> bool:
        """Read the screen until `pattern` (a regex) shows, or EOF, or the timeout."""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.seen):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                return False
            try:
                data = os.read(self.master, 4096)
            except OSError:  # EIO: the other end is closed
                return False
            if not data:
                return False
            self.seen += data
        return True

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self, timeout: float = 15) -> int:
        self.read_until(b"(?!)", timeout=0.2)  # drain
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            os.close(self.master)


def test_exec_it_runs_an_interactive_shell(mp, running):
    term = Terminal(mp, running, "--", "sh")
    try:
        assert term.read_until(rb"# "), f"no prompt; screen: {term.seen!r}"
        term.send("echo $((6*7))\n")
        assert term.read_until(rb"\r?\n42\r?\n"), f"no 42; screen: {term.seen!r}"
        term.send("exit 5\n")
        term.read_until(rb"exit 5", timeout=5)
    finally:
        code = term.close()
    assert code == 5, f"exit code {code}; screen: {term.seen!r}"


def test_exec_it_has_a_terminal_inside_the_container(mp, running):
    term = Terminal(mp, running, "--", "sh", "-c", "tty; echo done")
    try:
        assert term.read_until(rb"done"), f"screen: {term.seen!r}"
    finally:
        code = term.close()
    screen = term.seen.decode(errors="replace")
    assert re.search(r"^/dev/pts/\d+\r?$", screen, re.M), f"tty printed: {screen!r}"
    assert code == 0, f"exit code {code}; screen: {screen!r}"
