"""Issue 12: `kubectl attach -i` to a container with `stdin: true` (busybox
cat echoing back what it reads), and `-it` to one with `tty: true` too,
from a real terminal (a pty): the input reaches the container, the output
comes back."""

import os
import select
import subprocess
import time
import tty

from helpers.host import eventually
from helpers.kubectl import KUBECTL, env, kubectl
from helpers.pods import ctr, pod


def _read_until(fd: int, want: bytes, timeout: float = 30) -> bytes:
    out = b""
    deadline = time.time() + timeout
    while want not in out and time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out


def _running(mp, name: str) -> None:
    kubectl(mp, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=30s")


def test_attach_i_reaches_stdin(mp, pods):
    pods.run(pod("at-cat", ctr("main", stdin=True, command=["cat"])))
    _running(mp, "at-cat")
    a = subprocess.Popen(
        [KUBECTL, "attach", "-i", "at-cat"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(mp),
    )
    try:
        # kubectl opens the stream first: send until cat echoes a line back.
        def echoed():
            a.stdin.write(b"hello-attach\n")
            a.stdin.flush()
            r, _, _ = select.select([a.stdout], [], [], 1)
            return r and a.stdout.readline()

        assert eventually(echoed, timeout=30, what="cat's echo") == b"hello-attach\n"
    finally:
        a.kill()
        a.wait()
    # What went in is in the container's log, as any output.
    assert "hello-attach" in kubectl(mp, "logs", "at-cat").stdout
    # A container without stdin: attach -i shows its output and nothing breaks.
    pods.run(pod("at-nostdin", ctr("main", "sleep 1; while true; do echo tick; sleep 0.3; done")))
    b = subprocess.Popen(
        [KUBECTL, "attach", "-i", "at-nostdin"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env(mp)
    )
    try:
        b.stdin.write(b"ignored\n")
        b.stdin.flush()
        assert b.stdout.readline() == b"tick\n"
    finally:
        b.kill()
        b.wait()


def test_attach_it_to_a_tty_container(mp, pods):
    pods.run(pod("at-tty", ctr("main", stdin=True, tty=True, command=["cat"])))
    _running(mp, "at-tty")
    # kubectl's terminal: raw, so it echoes nothing itself; what comes back
    # on the master side is what kubectl writes, from the container.
    master, slave = os.openpty()
    tty.setraw(slave)
    k = subprocess.Popen(
        [KUBECTL, "attach", "-it", "at-tty"], stdin=slave, stdout=slave, stderr=slave, env=env(mp)
    )
    os.close(slave)
    try:
        out = b""
        deadline = time.time() + 30
        both = b"hello-tty\r\nhello-tty\r\n"
        while both not in out and time.time() < deadline:
            os.write(master, b"hello-tty\r")
            out += _read_until(master, b"hello-tty", timeout=2)
            out += _read_until(master, b"\0", timeout=0.5)  # the rest of what came
        # The container's terminal turns the \r into a newline and echoes the
        # line, then cat writes it back (\n as \r\n): a terminal's doing.
        assert both in out, out
    finally:
        k.kill()
        k.wait()
        os.close(master)
