"""A minipod instance for the tests: every test session runs its own daemon.

The session's instance lives under a fresh --root in /tmp, so it never
touches a system install, another suite or a lab running beside it. Tests
talk to it the way a user does, through the `minipod` command, and check
real kernel objects under /proc.

    mp            the session's instance (a Minipod), shared by most tests
    fresh_mp      a separate instance with its own daemon, for tests that
                  kill or restart the daemon
    pod_name      a pod name unique to the test

At the end of the session it waits for the host's init to collect the pods'
last exit statuses (pytest_sessionfinish), so a leak checker sees a clean host.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from helpers.host import eventually

# The minipod under test is the installed one, next to this interpreter.
MINIPOD = os.path.join(os.path.dirname(sys.executable), "minipod")
BACKOFF_BASE = "0.5"  # seconds; Kubernetes uses 10 (the tests check the doubling)


def _network() -> tuple[str, str]:
    """A bridge name (at most 15 characters) and a /24 that no other suite,
    lab or system instance on this host uses at the same time."""
    tag = os.urandom(3).hex()
    return f"mpt{tag}", f"10.{200 + os.urandom(1)[0] % 50}.{os.urandom(1)[0]}.0/24"


def _service_cidr() -> str:
    """The Services' virtual IPs of one instance: a /24 of 10.150-199.x,
    outside every test pod subnet (10.200-249.x), so parallel suites'
    nftables rules never match each other's addresses."""
    return f"10.{150 + os.urandom(1)[0] % 50}.{os.urandom(1)[0]}.0/24"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now: each instance's Kubernetes API gets
    its own, so parallel suites never collide on 6443."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Minipod:
    def __init__(self, root: str):
        self.root = root
        self.bridge, self.subnet = _network()
        self.service_cidr = _service_cidr()
        self.api_port = free_port()
        # Its own cgroup parent, below ours: parallel suites never share one.
        self.cgroup_parent = f"minipod-test-{os.urandom(4).hex()}"
        # Its own pool of user namespace ranges (8 of 65536 host ids, high
        # up, where no account lives): parallel suites never share a uid.
        self.userns_base = 2**31 + int.from_bytes(os.urandom(2), "big") % 4000 * 8 * 65536
        self.daemon_args: list[str] = []  # more `minipod daemon` flags, for one test's instance
        # The CRI's gRPC socket, served when daemon_args hold --cri (helpers/cri.py).
        self.cri_socket = os.path.join(root, "run", "cri.sock")
        self.daemon: subprocess.Popen | None = None

    # --- the daemon -----------------------------------------------------------
    def start_daemon(self) -> None:
        os.makedirs(self.root, exist_ok=True)
        env = dict(os.environ, MINIPOD_BACKOFF_BASE=BACKOFF_BASE)
        self.log = open(os.path.join(self.root, "daemon-test.log"), "ab")
        self.daemon = subprocess.Popen(
            [
                *(MINIPOD, "--root", self.root, "daemon", "--bridge", self.bridge, "--subnet", self.subnet),
                *("--api-port", str(self.api_port)),
                *("--service-cidr", self.service_cidr),
                *("--cgroup-parent", self.cgroup_parent),
                *("--userns-base", str(self.userns_base), "--userns-ranges", "8"),
                *self.daemon_args,
            ],
            env=env,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        sock = os.path.join(self.root, "run", "minipod.sock")
        deadline = time.time() + 20
        while not _accepts(sock) or ("--cri" in self.daemon_args and not _accepts(self.cri_socket)):
            # (a killed daemon leaves its socket files behind)
            assert self.daemon.poll() is None, "the daemon exited at start-up"
            assert time.time() < deadline, "the daemon did not start serving"
            time.sleep(0.01)

    def kill_daemon(self, sig=signal.SIGKILL) -> None:
        self.daemon.send_signal(sig)
        self.daemon.wait(10)

    # --- commands -------------------------------------------------------------
    def run(
        self, *args, check: bool = True, input: str | None = None, timeout: float = 90
    ) -> subprocess.CompletedProcess:
        # The tests start and kill their daemons themselves: never another.
        env = dict(os.environ, MINIPOD_BACKOFF_BASE=BACKOFF_BASE, MINIPOD_NO_AUTOSTART="1")
        p = subprocess.run(
            [MINIPOD, "--root", self.root, *args],
            input=input,
            text=True,
            capture_output=True,
            timeout=timeout,
            env=env,
        )
        if check and p.returncode != 0:
            raise AssertionError(
                f"minipod {' '.join(args)} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
            )
        return p

    def apply(self, manifest: str, *extra) -> subprocess.CompletedProcess:
        return self.run("apply", "-f", "-", *extra, input=manifest)

    def run_pod(self, manifest: str, *extra, check: bool = True, timeout: float = 30):
        return self.run("run", "-", "--timeout", str(timeout), *extra, input=manifest, check=check)

    def pod(self, name: str, namespace: str = "default") -> dict:
        return json.loads(self.run("get", "pod", name, "-n", namespace, "-o", "json").stdout)

    def inspect(self, name: str, namespace: str = "default") -> dict:
        return json.loads(self.run("inspect", name, "-n", namespace, "-o", "json").stdout)

    def delete(self, *names: str, grace: int = 0) -> None:
        self.run("delete", "pod", *names, "--grace-period", str(grace))

    def logs(self, name: str, *extra) -> str:
        return self.run("logs", name, *extra).stdout

    def wait_for(self, name: str, predicate, timeout: float = 30, what: str = "condition") -> dict:
        """Poll the pod until predicate(pod) is true and return it; fail with
        its last status."""
        seen: list[dict] = []

        def holds() -> dict | None:
            seen[:] = [self.pod(name)]
            return seen[0] if predicate(seen[0]) else None

        return eventually(
            holds,
            timeout,
            f"pod {name}: {what}",
            explain=lambda: "status:\n" + json.dumps(seen[0].get("status"), indent=1),
        )

    # --- the host, as the tests check it ----------------------------------------
    def processes(self) -> list[str]:
        """Live processes whose command line mentions this instance's root."""
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or (self.daemon and int(pid) == self.daemon.pid):
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
                with open(f"/proc/{pid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if self.root in cmd and state != "Z":
                out.append(f"{pid}: {cmd}")
        return out

    def cgroups(self) -> list[str]:
        """The instance's cgroup directories still on the host (removed:
        the test fixtures fail on leftovers, after cleaning them up)."""
        try:
            with open(os.path.join(self.root, "lib", "cgroups.json")) as f:
                parents = [d for _, d in json.load(f)["parents"]]
        except (OSError, ValueError, KeyError):
            return []
        left = []
        for top in parents:
            for d, _, _ in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
                left.append(d)
                try:
                    os.rmdir(d)
                except OSError:
                    pass
        return left

    def mounts(self) -> list[str]:
        with open("/proc/self/mountinfo") as f:
            return [line for line in f if self.root in line]

    def stop(self) -> None:
        if self.daemon and self.daemon.poll() is None:
            # Controllers first, their pods left behind (deleted below): a
            # ReplicaSet would otherwise replace every pod deleted here.
            from helpers.kubectl import KUBECTL, env

            if KUBECTL:
                subprocess.run(
                    [
                        KUBECTL,
                        "delete",
                        "deployments,replicasets,daemonsets,statefulsets,cronjobs,jobs",
                        "--all",
                        "-A",
                        "--cascade=orphan",
                        "--wait=false",
                    ],
                    env=env(self),
                    capture_output=True,
                    timeout=60,
                )
            # Every namespace: a test that failed half-way may have left pods anywhere.
            for p in json.loads(self.run("get", "pods", "-A", "-o", "json").stdout)["items"]:
                meta = p["metadata"]
                if meta.get("finalizers"):  # they would hold the pod forever: nobody removes them now
                    drop_finalizers(self, meta.get("namespace", "default"), meta["name"])
                self.run(
                    "delete",
                    "pod",
                    meta["name"],
                    "-n",
                    meta.get("namespace", "default"),
                    "--grace-period",
                    "0",
                    "--ignore-not-found",
                    check=False,
                )
            self.kill_daemon(signal.SIGTERM)


def drop_finalizers(inst, namespace: str, name: str) -> None:
    """Remove a pod's finalizers (a merge patch over the socket), so that a
    delete can complete."""
    from helpers.api import request

    path = f"/api/v1/namespaces/{namespace}/pods/{name}"
    body = json.dumps({"metadata": {"finalizers": None}}).encode()
    request(inst, "PATCH", path, body, {"Content-Type": "application/merge-patch+json"})


def _accepts(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def new_root(tag: str) -> str:
    return tempfile.mkdtemp(prefix=f"minipod-test-{tag}-")


@contextlib.contextmanager
def running_instance(tag: str, daemon_args: list[str] | None = None, setup=None):
    """An instance of its own, its daemon started (with DAEMON_ARGS, after
    SETUP(inst) when given) and the
    base image built; at the end its pods are deleted, its daemon stopped
    (restarted first if the test killed it, so it cleans up), and nothing of
    it may be left on the host."""
    inst = Minipod(new_root(tag))
    if daemon_args:
        inst.daemon_args = daemon_args
    if setup:
        setup(inst)  # files the daemon reads at its first start (etc/...)
    inst.start_daemon()
    inst.run("image", "build-base")
    yield inst
    if inst.daemon.poll() is not None:
        inst.start_daemon()
    inst.stop()
    leftovers = inst.processes() + inst.mounts() + inst.cgroups()
    shutil.rmtree(inst.root, ignore_errors=True)
    assert not leftovers, f"instance {tag} left these behind: {leftovers}"


@pytest.fixture(scope="session")
def mp():
    with running_instance("session") as inst:
        yield inst


@pytest.fixture
def fresh_mp():
    with running_instance("fresh") as inst:
        yield inst


@pytest.fixture
def pod_name(request) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
    return base[-50:].strip("-") or "pod"


def _zombies_of_init() -> list[int]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and fields[1] == "1":
            out.append(int(pid))
    return out


def pytest_sessionfinish(session, exitstatus):
    """Pod inits and monitors are orphans of the host's init, which collects
    their exit status in its own time (a second or two on some hosts). Wait
    for it, so the leak checker that runs after us sees a clean host."""
    deadline = time.time() + 20
    while _zombies_of_init() and time.time() < deadline:
        time.sleep(0.2)
