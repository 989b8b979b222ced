"""crictl, the CRI's command-line client (cri-tools v1.26.1), against the
session's CRI instance: every verb a node operator uses, each checked on
its real output. pull, images and rmi on an image of their own; then one
pod through its life, in file order: runp, pods, inspectp, create, start,
ps, inspect, exec -it, exec, logs -f, port-forward, stats, stopp, rmp."""

import json
import os
import pty
import re
import select
import socket
import subprocess
import time
import urllib.request

import pytest
from helpers.critest import BUSYBOX, crictl
from helpers.host import eventually

ID = r"[0-9a-f]{64}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def table(out: str) -> tuple[list[str], list[list[str]]]:
    """crictl's table: its header's columns and each row's cells (two or
    more spaces apart, as crictl's tabwriter pads them)."""
    lines = [line for line in out.splitlines() if line.strip()]
    split = [re.split(r"\s{2,}", line.strip()) for line in lines]
    return split[0], split[1:]


def pty_session(argv: list[str], send: bytes, until: bytes, timeout: float = 30) -> bytes:
    """Run ARGV on a pseudo-terminal (crictl exec -t wants one), type SEND,
    and read until UNTIL shows up or the command ends."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec at once (no Python work after a fork)
        os.execv(argv[0], argv)
    out = b""
    try:
        os.write(fd, send)
        deadline = time.time() + timeout
        while until not in out and time.time() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: the child has closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
    finally:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)
    return out


LATEST = "gcr.io/k8s-staging-cri-tools/test-image-latest"


def test_pull_images_rmi(critest_mp, cri_tools):
    def run(*args, **kw):
        return crictl(cri_tools, critest_mp.cri_socket, *args, **kw).stdout

    pulled = run("pull", LATEST, timeout=120)
    image_id = re.fullmatch(r"Image is up to date for (sha256:[0-9a-f]{64})\n", pulled).group(1)
    header, rows = table(run("images"))
    assert header == ["IMAGE", "TAG", "IMAGE ID", "SIZE"]
    [row] = [r for r in rows if r[0] == LATEST]
    assert row[1:3] == ["latest", image_id[7:20]] and re.fullmatch(r"[\d.]+(kB|MB)", row[3])
    assert run("images", "-q", LATEST) == image_id + "\n"
    # rmi: every name of the image, as crictl prints them
    assert run("rmi", LATEST) == f"Deleted: {LATEST}:latest\n"
    assert LATEST not in run("images")
    p = crictl(cri_tools, critest_mp.cri_socket, "rmi", LATEST, check=False)
    assert p.returncode == 1 and f"no such image {LATEST}" in p.stderr


class Pod:
    def __init__(self, tools, sock: str, tmp: str):
        self.tools, self.sock, self.tmp = tools, sock, tmp
        self.sandbox = self.container = ""
        self.logs = os.path.join(tmp, "logs")
        os.makedirs(self.logs)

    def run(self, *args, **kw) -> str:
        return crictl(self.tools, self.sock, *args, **kw).stdout

    def argv(self, *args) -> list[str]:
        return [self.tools.crictl, "--runtime-endpoint", f"unix://{self.sock}", *args]

    def write(self, name: str, doc: dict) -> str:
        path = os.path.join(self.tmp, f"{name}.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        return path


@pytest.fixture(scope="module")
def pod(critest_mp, cri_tools, tmp_path_factory):
    p = Pod(cri_tools, critest_mp.cri_socket, str(tmp_path_factory.mktemp("crictl")))
    p.pod_config = p.write(
        "pod",
        {
            "metadata": {"name": "crictl-pod", "namespace": "crictl", "uid": "crictl-uid-1", "attempt": 1},
            "log_directory": p.logs,
            "linux": {},
        },
    )
    script = "mkdir -p /www && echo served-by-crictl > /www/index.html && httpd -p 8080 -h /www; "
    script += "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done"
    p.ctr_config = p.write(
        "ctr",
        {
            "metadata": {"name": "app"},
            "image": {"image": BUSYBOX},
            "command": ["sh", "-c", script],
            "log_path": "app.log",
            "linux": {},
        },
    )
    p.run("pull", BUSYBOX, timeout=120)
    try:
        yield p
    finally:
        if p.sandbox:
            crictl(cri_tools, p.sock, "rmp", "-f", p.sandbox, check=False)


def test_runp_pods_inspectp(pod):
    pod.sandbox = pod.run("runp", pod.pod_config, timeout=120).strip()
    assert re.fullmatch(ID, pod.sandbox)
    header, rows = table(pod.run("pods"))
    assert header[:5] == ["POD ID", "CREATED", "STATE", "NAME", "NAMESPACE"]
    [row] = [r for r in rows if r[0] == pod.sandbox[:13]]
    assert row[2:6] == ["Ready", "crictl-pod", "crictl", "1"]
    status = json.loads(pod.run("inspectp", pod.sandbox))["status"]
    assert status["state"] == "SANDBOX_READY" and status["metadata"]["uid"] == "crictl-uid-1"
    assert re.fullmatch(r"10\.\d+\.\d+\.\d+", status["network"]["ip"])


def test_create_start_ps_inspect(pod):
    assert pod.sandbox, "runp failed"
    pod.container = pod.run("create", pod.sandbox, pod.ctr_config, pod.pod_config, timeout=120).strip()
    assert re.fullmatch(ID, pod.container)
    assert pod.run("start", pod.container).strip() == pod.container
    header, rows = table(pod.run("ps"))
    assert header[:5] == ["CONTAINER", "IMAGE", "CREATED", "STATE", "NAME"]
    [row] = [r for r in rows if r[0] == pod.container[:13]]
    assert row[3:5] == ["Running", "app"] and pod.sandbox[:13] in row[5:]
    status = json.loads(pod.run("inspect", pod.container))["status"]
    assert status["state"] == "CONTAINER_RUNNING" and status["image"]["image"] == BUSYBOX
    assert status["logPath"] == os.path.join(pod.logs, "app.log")


def test_exec_it(pod):
    """A shell on a terminal, in the container's namespaces."""
    assert pod.container, "create failed"
    out = pty_session(
        pod.argv("exec", "-it", pod.container, "sh"),
        b"echo tty=$(tty) sum=$((40+2)); hostname\n",
        b"crictl-pod",
    )
    assert re.search(rb"tty=/dev/pts/\d+ sum=42", out), out
    assert b"crictl-pod" in out.split(b"sum=42", 1)[1]


def test_exec_streams_and_exit_status(pod):
    assert pod.container, "create failed"
    assert pod.run("exec", pod.container, "cat", "/www/index.html") == "served-by-crictl\n"
    # stdout and stderr apart, and the exit status (crictl 1.26 exits 1
    # for any failure, naming the code)
    p = crictl(
        pod.tools, pod.sock, "exec", pod.container, "sh", "-c", "echo out; echo err >&2; exit 3", check=False
    )
    assert (p.returncode, p.stdout, p.stderr.splitlines()[0]) == (1, "out\n", "err")
    assert "execing command in container: command terminated with exit code 3" in p.stderr


def test_logs_follow(pod):
    """The lines as the container writes them."""
    assert pod.container, "create failed"
    follow = subprocess.Popen(
        pod.argv("logs", "-f", pod.container), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        seen = [follow.stdout.readline() for _ in range(3)]
    finally:
        follow.kill()
        follow.wait()
    assert all(re.fullmatch(rb"line \d+\n", line) for line in seen), (seen, follow.stderr.read())
    numbers = [int(line.split()[1]) for line in seen]
    assert numbers == list(range(numbers[0], numbers[0] + 3)), seen


def test_port_forward(pod):
    """A local port to the pod's 8080, where its httpd listens."""
    assert pod.container, "create failed"
    local = free_port()
    forward = subprocess.Popen(
        pod.argv("port-forward", pod.sandbox, f"{local}:8080"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def fetched():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=5) as r:
                    return r.read()
            except OSError:
                return None

        assert eventually(fetched, 30, "port-forward serves the pod's httpd") == b"served-by-crictl\n"
    finally:
        forward.kill()
        forward.wait()


def test_stats(pod):
    """The container's cgroup: CPU, memory."""
    assert pod.container, "create failed"
    # (crictl clears the screen first, as `watch` would)
    header, rows = table(re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", pod.run("stats")))
    assert header == ["CONTAINER", "NAME", "CPU %", "MEM", "DISK", "INODES"]
    [row] = [r for r in rows if r[0] == pod.container[:13]]
    assert row[1] == "app" and re.fullmatch(r"[\d.]+", row[2]), row
    assert re.fullmatch(r"[\d.]+(B|kB|MB)", row[3]), row


def test_stopp_rmp(pod, critest_mp):
    assert pod.sandbox, "runp failed"
    assert pod.run("stopp", pod.sandbox) == f"Stopped sandbox {pod.sandbox}\n"
    assert json.loads(pod.run("inspectp", pod.sandbox))["status"]["state"] == "SANDBOX_NOTREADY"
    assert pod.run("rmp", pod.sandbox) == f"Removed sandbox {pod.sandbox}\n"
    assert pod.sandbox[:13] not in pod.run("pods")
    assert not critest_mp.processes(), "the pod's processes are gone"
