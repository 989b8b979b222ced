"""Helpers shared by the sandbox, volume and environment tests.

Pods are written as Python dicts and sent as JSON (JSON is YAML). The
`pods` fixture runs them and deletes them at the end of the test, even when
the test fails. Facts are read from the host's /proc with the host pids
`minipod inspect` reports, and from inside with `minipod exec`.
"""

import json
import os
import subprocess
import time

import pytest

BUSYBOX = "busybox:1.35"
DEFAULT_CAPS = 0x00000000A80425FB  # Docker's default set (moby oci/caps/defaults.go)
CAP_NET_ADMIN, CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_SYS_ADMIN = 12, 16, 19, 21
NS = ("net", "ipc", "uts", "pid", "mnt")


def ctr(name: str, script: str | None = None, **fields) -> dict:
    """A busybox container running `sh -c SCRIPT` (or only FIELDS)."""
    c = {"name": name, "image": BUSYBOX}
    if script is not None:
        c["command"] = ["sh", "-c", script]
    c.update(fields)
    return c


def pod(name: str, *containers: dict, labels: dict | None = None, **spec) -> dict:
    spec.setdefault("restartPolicy", "Always")
    meta = {"name": name}
    if labels:
        meta["labels"] = labels
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": dict(spec, containers=list(containers)),
    }


class Pods:
    """Runs pods for one test and remembers them for the clean-up."""

    def __init__(self, mp):
        self.mp = mp
        self.names: list[str] = []

    def run(self, *manifests: dict, check: bool = True, timeout: float = 30):
        self.names += [m["metadata"]["name"] for m in manifests]
        text = "\n---\n".join(json.dumps(m) for m in manifests)
        return self.mp.run_pod(text, check=check, timeout=timeout)

    def cleanup(self) -> None:
        if self.names:
            self.mp.run("delete", "pod", *self.names, "--grace-period", "0", "--ignore-not-found")


@pytest.fixture
def pods(mp):
    p = Pods(mp)
    yield p
    p.cleanup()


def sh(mp, pod_name: str, script: str, container: str | None = None, check: bool = True):
    """`minipod exec POD [-c C] -- sh -c SCRIPT`; the CompletedProcess."""
    args = ["exec", pod_name] + (["-c", container] if container else []) + ["--", "sh", "-c", script]
    return mp.run(*args, check=check)


def eventually(fn, timeout: float = 10, what: str = "condition", interval: float = 0.05):
    """Call fn until it returns something true; fail after `timeout` seconds
    with the last value it returned."""
    deadline = time.time() + timeout
    while True:
        result = fn()
        if result:
            return result
        assert time.time() < deadline, f"timed out waiting for {what} (last: {result!r})"
        time.sleep(interval)


# --- the host's view ------------------------------------------------------------


def ns_inode(pid, nstype: str) -> int:
    return os.stat(f"/proc/{pid}/ns/{nstype}").st_ino


def host_ns(nstype: str) -> set[int]:
    """The host's namespace of that type, seen from ourselves and from PID 1
    (when the host lets us look at its PID 1)."""
    out = {ns_inode("self", nstype)}
    try:
        out.add(ns_inode(1, nstype))
    except PermissionError:
        pass
    return out


def status(pid) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return {k: v.strip() for k, _, v in (line.partition(":") for line in f)}


def caps(pid) -> dict[str, int]:
    s = status(pid)
    return {k: int(s[k], 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}


def mountinfo(pid) -> list[dict]:
    with open(f"/proc/{pid}/mountinfo") as f:
        return _parse_mountinfo(f.read())


def pod_mountinfo(init_pid) -> list[dict]:
    """The mount table of the pod's mount namespace. The pod init confines
    itself to a namespace of its own and keeps the pod's open on fd 3, so
    enter that one to read it."""
    out = subprocess.run(
        ["nsenter", f"--mount=/proc/{init_pid}/fd/3", "cat", "/proc/self/mountinfo"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return _parse_mountinfo(out)


def _parse_mountinfo(text: str) -> list[dict]:
    out = []
    for line in text.splitlines(keepends=True):
        fields = line.split()
        sep = fields.index("-")
        out.append(
            {
                "point": fields[4],
                "options": fields[5],
                "type": fields[sep + 1],
                "source": fields[sep + 2],
                "line": line,
            }
        )
    return out


def pids(mp, pod_name: str) -> dict[str, int]:
    """Host pids: {"init": pod init, CONTAINER: its process}, all running."""
    view = mp.inspect(pod_name)
    out = {"init": view["podInit"]["pid"]}
    for c in view["containers"]:
        if c["state"] == "running":
            out[c["name"]] = c["process"]["pid"]
    return out


def pod_dirs_of(mp, pod_name: str) -> list[str]:
    """Every directory the instance keeps for this pod: its run dir, disk
    volumes, containers' writable layers and its logs."""
    view = mp.inspect(pod_name)
    uid = view["uid"]
    dirs = [os.path.join(mp.root, "run", "pods", uid), os.path.join(mp.root, "lib", "volumes", uid)]
    dirs += [
        os.path.join(mp.root, "lib", "containers", c["containerID"])
        for c in view["containers"]
        if c.get("containerID")
    ]
    dirs += sorted(
        {
            os.path.dirname(os.path.dirname(c["logPath"]))  # LOGS/CONTAINER/N.log
            for c in view["containers"]
            if c.get("logPath")
        }
    )
    return dirs
