"""Issue 12: kubectl's streams against minipod: logs, exec (exit codes,
stdin, a pty), attach and cp, through the Kubernetes API."""

import os
import pty
import select
import subprocess
import time

from helpers.host import eventually
from helpers.kubectl import KUBECTL, env, kubectl
from helpers.pods import ctr, pod


def test_logs_flags(mp, pods):
    pods.run(
        pod(
            "kl-logs",
            ctr("a", "for i in 1 2 3; do echo a$i; done; exec sleep 3600"),
            ctr("b", "echo b1; exec sleep 3600"),
        )
    )
    # Both containers have written all their lines (they run side by side,
    # so one may be running while the other has not written yet).
    eventually(lambda: kubectl(mp, "logs", "kl-logs", "-c", "b").stdout, what="container b's line")
    eventually(lambda: kubectl(mp, "logs", "kl-logs", "-c", "a").stdout.count("\n") == 3, what="a's lines")
    assert kubectl(mp, "logs", "kl-logs", "-c", "a").stdout == "a1\na2\na3\n"
    assert kubectl(mp, "logs", "kl-logs", "-c", "a", "--tail=1").stdout == "a3\n"
    assert kubectl(mp, "logs", "kl-logs", "-c", "b").stdout == "b1\n"
    both = kubectl(mp, "logs", "kl-logs", "--all-containers").stdout
    # kubectl keeps its per-container requests in a Go map: the containers
    # come in any order, each one's lines in order.
    assert both in ("a1\na2\na3\nb1\n", "b1\na1\na2\na3\n"), both
    assert kubectl(mp, "logs", "kl-logs", "-c", "a", "--limit-bytes=3").stdout == "a1\n"


def test_logs_follow_and_previous(mp, pods):
    pods.run(pod("kl-follow", ctr("main", "echo start; sleep 1; echo later; sleep 0.3; exit 1")), check=False)
    f = subprocess.Popen([KUBECTL, "logs", "-f", "kl-follow"], stdout=subprocess.PIPE, text=True, env=env(mp))
    try:
        assert f.stdout.readline() == "start\n"
        assert f.stdout.readline() == "later\n"  # written after the request began
    finally:
        f.kill()
        f.wait()
    deadline = time.time() + 30
    while mp.pod("kl-follow")["status"]["containerStatuses"][0]["restartCount"] < 1:
        assert time.time() < deadline, "the container never restarted"
        time.sleep(0.2)
    assert kubectl(mp, "logs", "kl-follow", "--previous").stdout == "start\nlater\n"


def test_exec_exit_code_and_stdin(mp, pods):
    pods.run(pod("kl-exec", ctr("main", "exec sleep 3600")))
    p = kubectl(mp, "exec", "kl-exec", "--", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert (p.returncode, p.stdout) == (3, "out\n") and "err" in p.stderr
    assert kubectl(mp, "exec", "-i", "kl-exec", "--", "cat", input="from stdin\n").stdout == "from stdin\n"


def test_exec_it_gets_a_pty(mp, pods):
    pods.run(pod("kl-tty", ctr("main", "exec sleep 3600")))
    pid, fd = pty.fork()
    if pid == 0:
        e = env(mp)
        os.execve(KUBECTL, [KUBECTL, "exec", "-it", "kl-tty", "--", "sh", "-c", "tty; exit 7"], e)
    out = b""
    deadline = time.time() + 30
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert b"/dev/pts/" in out, out
    assert os.waitstatus_to_exitcode(status) == 7


def test_attach_sees_new_output(mp, pods):
    pods.run(
        pod(
            "kl-attach",
            ctr(
                "main", "sleep 1; for i in 1 2 3 4 5 6 7 8; do echo tick$i; sleep 0.5; done; exec sleep 3600"
            ),
        )
    )
    a = subprocess.Popen([KUBECTL, "attach", "kl-attach"], stdout=subprocess.PIPE, text=True, env=env(mp))
    try:
        line = a.stdout.readline()
        assert line.startswith("tick"), line
    finally:
        a.kill()
        a.wait()


def test_run_rm_i_gives_the_pods_exit_code(mp, pods):
    """`kubectl run --rm -i`: attach ends with Success as the kubelet's
    does, and kubectl takes the exit code from the pod's status."""
    pods.add("kl-rm")
    p = kubectl(
        mp,
        "run",
        "kl-rm",
        "--rm",
        "-i",
        "--restart=Never",
        "--image=busybox:1.35",
        "--",
        "sh",
        "-c",
        "sleep 1; echo out; exit 3",
        check=False,
    )
    assert p.returncode == 3, (p.stdout, p.stderr)
    assert "out" in p.stdout and "pod default/kl-rm terminated (Error)" in p.stderr, (p.stdout, p.stderr)
    assert "couldn't attach" not in p.stderr, p.stderr


def test_cp_both_ways(mp, pods, tmp_path):
    pods.run(pod("kl-cp", ctr("main", "exec sleep 3600")))
    src = tmp_path / "in.txt"
    src.write_text("copied in\n")
    kubectl(mp, "cp", str(src), "kl-cp:/tmp/in.txt")
    assert kubectl(mp, "exec", "kl-cp", "--", "cat", "/tmp/in.txt").stdout == "copied in\n"
    kubectl(mp, "exec", "kl-cp", "--", "sh", "-c", "echo copied out > /tmp/out.txt")
    dst = tmp_path / "out.txt"
    kubectl(mp, "cp", "kl-cp:/tmp/out.txt", str(dst))
    assert dst.read_text() == "copied out\n"


def test_port_forward(mp, pods):
    import socket
    import urllib.request

    script = "mkdir -p /www && echo hello-forwarded > /www/index.html && exec httpd -f -p 8080 -h /www"
    pods.run(pod("kl-pf", ctr("main", script)))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        local = s.getsockname()[1]
    f = subprocess.Popen(
        [KUBECTL, "port-forward", "pod/kl-pf", f"{local}:8080"],
        stdout=subprocess.PIPE,
        text=True,
        env=env(mp),
    )
    try:
        assert f.stdout.readline().startswith(f"Forwarding from 127.0.0.1:{local} -> 8080")
        for _ in range(2):  # two connections through one session
            body = urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=10).read()
            assert body == b"hello-forwarded\n"
    finally:
        f.terminate()
        f.wait(10)
