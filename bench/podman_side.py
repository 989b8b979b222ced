"""podman beside minipod, in the same run, leaving the host as it was.

podman 4.3 (Debian: `apt-get install podman runc`, the one-time setup)
runs here only with runc and explicit ulimits. Instead of editing
/etc/containers, every podman command gets:
    1. CONTAINERS_CONF pointing at a containers.conf in the bench's
       temporary root (runtime runc, default_ulimits);
    2. its own --root and --runroot there too (a private image store: the
       busybox archive minipod builds is loaded into it, nothing pulled),
       and its own --network-config-dir (so the default network's CNI file
       is not written under /etc);
    3. at the end: every pod removed, the storage unmounted and deleted, and
       what podman made outside its directories, if it was not there
       before: the bridge of its default network (cni-podman0), its
       cgroups (libpod_parent in each v1 hierarchy) and the CNI firewall
       plugin's chains (the iptables-nft table ip filter it created).
"""

import glob
import os
import shutil
import subprocess
import time

CONF = """[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]
[engine]
runtime = "runc"
"""
BRIDGE = "cni-podman0"
CGROUPS = "/sys/fs/cgroup/*/libpod_parent"


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True)


def timed(fn, *args):
    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


class Podman:
    def __init__(self, workdir: str):
        self.dir = os.path.join(workdir, "podman")
        os.makedirs(os.path.join(self.dir, "net"), exist_ok=True)
        conf = os.path.join(self.dir, "containers.conf")
        with open(conf, "w") as f:
            f.write(CONF)
        self.env = {**os.environ, "CONTAINERS_CONF": conf}
        self.flags = [
            "--root", os.path.join(self.dir, "storage"),
            "--runroot", os.path.join(self.dir, "run"),
            "--network-config-dir", os.path.join(self.dir, "net"),
        ]  # fmt: skip
        self.bridge_existed = os.path.exists(f"/sys/class/net/{BRIDGE}")
        self.cgroups_existed = bool(glob.glob(CGROUPS))
        self.filter_existed = _run("nft", "list", "table", "ip", "filter").returncode == 0

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        p = subprocess.run(["podman", *self.flags, *args], capture_output=True, text=True, env=self.env)
        if check and p.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args)} failed: {p.stderr.strip()[-500:]}")
        return p

    def cleanup(self) -> None:
        self("pod", "rm", "-a", "-f", "-t", "0", check=False)
        self("system", "reset", "-f", check=False)  # unmounts and empties the private store
        for line in open("/proc/self/mountinfo").read().splitlines():
            if self.dir in line:
                subprocess.run(["umount", "-l", line.split()[4]], capture_output=True)
        if not self.bridge_existed and os.path.exists(f"/sys/class/net/{BRIDGE}"):
            _run("ip", "link", "del", BRIDGE)
        if not self.cgroups_existed:
            for top in glob.glob(CGROUPS):  # deepest first: rmdir takes empty cgroups only
                for path, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
                    try:
                        os.rmdir(path)
                    except OSError:
                        pass  # still in use: left, and a leak checker says so
        rules = _run("iptables", "-S").stdout.splitlines()
        if not self.filter_existed and all(r.startswith("-P ") or "CNI" in r for r in rules):
            _run("nft", "delete", "table", "ip", "filter")  # only podman's chains in it
        shutil.rmtree(self.dir, ignore_errors=True)


def bench_podman(
    root: str, archive: str, one_pod: str, many: str, n_many: int, runs: int, notes: list
) -> dict | None:
    """`podman kube play` of the one-pod file (N runs) and of the n-pod file (once)."""
    if not shutil.which("podman"):
        notes.append("podman is not installed (apt-get install podman runc): no comparison")
        return None
    pm = Podman(root)
    version = pm("--version").stdout.strip()
    notes.append(f"{version} with runc, private storage and config: kube play on its default bridge network")
    run, delete = [], []
    try:
        pm("load", "-i", archive)
        pm("kube", "play", one_pod)  # warm-up: podman builds its pause image on first use
        pm("kube", "down", one_pod)
        for _ in range(runs):
            run.append(timed(pm, "kube", "play", one_pod)[0])
            delete.append(timed(pm, "kube", "down", one_pod)[0])
        many_s = timed(pm, "kube", "play", many)[0]
        states = pm("pod", "ps", "--format", "{{.Status}}").stdout.split()
        if states.count("Running") != n_many:
            raise RuntimeError(f"podman's {n_many} pods: {states}")
        pm("kube", "down", many)
    except RuntimeError as e:
        notes.append(f"podman failed, no comparison: {e}")
        return None
    finally:
        pm.cleanup()
    return {"run": run, "delete": delete, "many_s": many_s, "version": version}
