"""Helpers for the CNI plugin tests: a fresh, private network per test.

Each test gets a `net` (the fixture below) with its own network name (so its
own nft table `minipod-NAME`), its own bridge name, its own 10.199.N.0/24
subnet (one no route on the host uses yet), its own lease directory, and
the network namespaces it asks for. At the end everything is removed: the
processes it started, the veths, the namespaces, the bridge and the table,
since the suite runs under a leak checker.

The plugins are driven as the executables a runtime would run:
/path/to/cni/minipod-bridge with CNI_* variables and the config on stdin.
"""

import ipaddress
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import time

import pytest

from helpers import REPO
from helpers.host import GET, http_body, sh
from minipod.network import netlink, nft
from minipod.network.cni.bridge import host_veth_name

CNI_DIR = os.path.join(REPO, "cni")
PYTHON = sys.executable
BUSYBOX = shutil.which("busybox")
VERSIONS = ["0.4.0", "1.0.0", "1.1.0"]
_taken_subnets: set[int] = set()


def free_subnet() -> int:
    """N such that 10.199.N.0/24 is used by no route of the host."""
    routes = sh("ip", "-4", "route", "show", "table", "all").stdout
    free = [n for n in range(1, 250) if n not in _taken_subnets and f"10.199.{n}." not in routes]
    n = random.choice(free)
    _taken_subnets.add(n)
    return n


def run_plugin(plugin: str, command: str, conf, env: dict | None = None, popen: bool = False):
    """Run cni/PLUGIN as a runtime does; (exit code, parsed stdout or None,
    stderr). With popen=True, return the running Popen instead."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    full.update(env or {})
    full["CNI_COMMAND"] = command
    full.setdefault("CNI_PATH", CNI_DIR)
    data = conf if isinstance(conf, str) else json.dumps(conf)
    argv = [PYTHON, os.path.join(CNI_DIR, plugin)]
    if popen:
        p = subprocess.Popen(
            argv, env=full, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        p.stdin.write(data)
        p.stdin.close()
        p.stdin = None  # so that communicate() only reads
        return p
    p = subprocess.run(argv, env=full, input=data, capture_output=True, text=True, timeout=60)
    return p.returncode, (json.loads(p.stdout) if p.stdout.strip() else None), p.stderr


def wait_gone(link: str, timeout: float = 10) -> None:
    """A netns is freed asynchronously, and its veths with it."""
    deadline = time.time() + timeout
    while os.path.exists(f"/sys/class/net/{link}") and time.time() < deadline:
        time.sleep(0.05)


class Net:
    def __init__(self, tmp_path):
        self.tag = secrets.token_hex(3)
        self.name = f"mpt-{self.tag}"
        self.table = nft.table_name(self.name)
        self.bridge = f"mpb{self.tag}"
        n = free_subnet()
        self.subnet = ipaddress.ip_network(f"10.199.{n}.0/24")
        self.gateway = f"10.199.{n}.1"
        self.data_dir = str(tmp_path / "leases")
        self.lease_dir = os.path.join(self.data_dir, self.name)
        self.namespaces: list[str] = []
        self.links: list[str] = []
        self.procs: list[subprocess.Popen] = []

    # --- kernel objects the test owns ---------------------------------------------
    def new_netns(self) -> str:
        name = f"mpt-{self.tag}-{len(self.namespaces)}"
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        return f"/run/netns/{name}"

    def spawn(self, *argv: str) -> subprocess.Popen:
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    # --- configurations -----------------------------------------------------------------
    def bridge_conf(self, version: str = "1.0.0", **over) -> dict:
        conf = {
            "cniVersion": version,
            "name": self.name,
            "type": "minipod-bridge",
            "bridge": self.bridge,
            "isGateway": True,
            "ipMasq": True,
            "hairpinMode": True,
            "ipam": {
                "type": "minipod-ipam",
                "ranges": [[{"subnet": str(self.subnet)}]],
                "routes": [{"dst": "0.0.0.0/0"}],
                "dataDir": self.data_dir,
            },
        }
        conf.update(over)
        return conf

    def ipam_conf(self, version: str = "1.1.0") -> dict:
        conf = self.bridge_conf(version)
        conf["type"] = "minipod-ipam"
        return conf

    def portmap_conf(
        self, prev: dict | None, mappings: list[dict] | None = None, version: str = "1.0.0"
    ) -> dict:
        conf = {
            "cniVersion": version,
            "name": self.name,
            "type": "minipod-portmap",
            "capabilities": {"portMappings": True},
        }
        if mappings is not None:
            conf["runtimeConfig"] = {"portMappings": mappings}
        if prev is not None:
            conf["prevResult"] = prev
        return conf

    def env(self, cid: str, netns: str | None = None, ifname: str = "eth0") -> dict:
        self.links.append(host_veth_name(cid, ifname))
        env = {"CNI_CONTAINERID": cid, "CNI_IFNAME": ifname, "CNI_PATH": CNI_DIR}
        if netns:
            env["CNI_NETNS"] = netns
        return env

    def add(self, cid: str, netns: str, **over):
        return run_plugin("minipod-bridge", "ADD", self.bridge_conf(**over), self.env(cid, netns))

    def leases(self) -> dict[str, str]:
        if not os.path.isdir(self.lease_dir):
            return {}
        out = {}
        for f in os.listdir(self.lease_dir):
            if f[0].isdigit():
                with open(os.path.join(self.lease_dir, f), newline="") as fh:
                    out[f] = fh.read()
        return out

    def cleanup(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for link in self.links:
            try:
                if os.path.exists(f"/sys/class/net/{link}"):
                    netlink.teardown_bridge(link)  # any link: deletes the veth pair
            except Exception:
                pass
        for ns in self.namespaces:
            sh("ip", "netns", "del", ns, check=False)
        for link in self.links:
            wait_gone(link)
        netlink.teardown_bridge(self.bridge)
        nft.delete_table(self.table)


@pytest.fixture
def net(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("CNI plugins need root")
    n = Net(tmp_path)
    try:
        yield n
    finally:
        n.cleanup()


def ns_name(path: str) -> str:
    return os.path.basename(path)


def ns_addresses(netns: str, ifname: str = "eth0") -> list[str]:
    out = json.loads(sh("ip", "-n", ns_name(netns), "-j", "addr", "show", ifname).stdout)
    return [f"{a['local']}/{a['prefixlen']}" for a in out[0]["addr_info"] if a["family"] == "inet"]


def ns_exec(netns: str, *argv: str, input: str | None = None, check: bool = False):
    return sh("ip", "netns", "exec", ns_name(netns), *argv, input=input, check=check)


def http_get_from(netns: str, host: str, port: int) -> str:
    """GET / from inside a netns (busybox nc: busybox wget is not reliable
    everywhere); the body's last line, or ''. From the host: host.http_get."""
    p = ns_exec(netns, BUSYBOX, "nc", "-w", "3", host, str(port), input=GET)
    return http_body(p.stdout)
