"""Helpers for the pod network tests: pods through the CLI, the host's view
of the network they get, and a network namespace standing for another
machine.

Traffic only goes to addresses of this machine: pod IPs on the instance's
bridge, loopback, the host's own addresses, and the "outside host"
namespace a test makes (linked to the host by a veth pair of its own).
"""

import ipaddress
import json
import os
import random
import secrets
import subprocess
import sys

from helpers.host import GET, HTTP_PORT, eventually, http_body, sh
from helpers.pods import pod_sh


def live_pods(mp) -> list[dict]:
    return json.loads(mp.run("get", "pods", "-A", "-o", "json").stdout)["items"]


# --- HTTP, from wherever ------------------------------------------------------------


def http_from_pod(mp, name: str, host: str, port: int = HTTP_PORT, container: str | None = None) -> str:
    """GET / from inside pod `name` with busybox nc."""
    script = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host} {port}"
    return http_body(pod_sh(mp, name, script, container, check=False).stdout)


def wait_http(get, want: str, what: str, timeout: float = 15) -> None:
    """Poll `get()` until it answers `want` (a server may still be starting)."""
    eventually(lambda: get() == want, timeout, what)


# --- the host's view of an instance's network -------------------------------------------


def instance_network(mp) -> dict:
    """The instance's conflist: network name, bridge, subnet, lease dir."""
    with open(os.path.join(mp.root, "etc", "net.d", "10-minipod.conflist")) as f:
        conf = json.load(f)
    first = conf["plugins"][0]
    ipam = first["ipam"]
    data_dir = ipam.get("dataDir", "/var/lib/cni/networks")
    return {
        "name": conf["name"],
        "bridge": first.get("bridge", "cni0"),
        "subnet": ipaddress.ip_network(ipam["ranges"][0][0]["subnet"]),
        "lease_dir": os.path.join(data_dir, conf["name"]),
        "table": f"minipod-{conf['name']}",
    }


def bridge_ports(bridge: str) -> set[str]:
    """The bridge's ports (empty when there is no bridge)."""
    try:
        return set(os.listdir(f"/sys/class/net/{bridge}/brif"))
    except FileNotFoundError:
        return set()


def link_exists(name: str) -> bool:
    return bool(name) and os.path.exists(f"/sys/class/net/{name}")


def leases(lease_dir: str) -> dict[str, str]:
    """{IP: container id} of the lease files (host-local's format)."""
    out = {}
    if not os.path.isdir(lease_dir):
        return out
    for f in os.listdir(lease_dir):
        try:
            ipaddress.ip_address(f)
        except ValueError:
            continue
        with open(os.path.join(lease_dir, f), newline="") as fh:
            out[f] = fh.read().split("\r\n")[0].strip()
    return out


def netns_pins(mp) -> set[str]:
    d = os.path.join(mp.root, "run", "netns")
    return set(os.listdir(d)) if os.path.isdir(d) else set()


def nft_rules(table: str | None = None) -> list[dict]:
    """Every rule of the ruleset (`nft -j list ruleset`), or of one table."""
    out = json.loads(sh("nft", "-j", "list", "ruleset").stdout)["nftables"]
    return [o["rule"] for o in out if "rule" in o and (table is None or o["rule"]["table"] == table)]


def nft_set_elements(table: str) -> dict[str, str]:
    """{address: comment} of the elements of every set of `table` ({} without it)."""
    p = sh("nft", "-j", "list", "table", "ip", table, check=False)
    if p.returncode != 0:
        return {}
    sets = [o["set"] for o in json.loads(p.stdout)["nftables"] if "set" in o]
    return {e["elem"]["val"]: e["elem"].get("comment", "") for s in sets for e in s.get("elem", [])}


def nft_tables() -> set[str]:
    out = json.loads(sh("nft", "-j", "list", "ruleset").stdout)["nftables"]
    return {o["table"]["name"] for o in out if "table" in o}


def rules_with_port(rules: list[dict], port: int) -> list[dict]:
    """Rules that match or translate to `port` anywhere in their expressions."""
    return [r for r in rules if _mentions(r.get("expr", []), port)]


def _mentions(obj, port: int) -> bool:
    if isinstance(obj, dict):
        if obj.get("right") == port or obj.get("port") == port:
            return True
        return any(_mentions(v, port) for v in obj.values())
    if isinstance(obj, list):
        return any(_mentions(v, port) for v in obj)
    return False


def pod_inits(uids: set[str]) -> dict[int, str]:
    """{pid: pod uid} of the live pod inits (PID 1 of a pod, whose command
    line is `minipod-shim init NAMESPACE/NAME UID`) of the pods with these
    uids: an instance's own, whatever else runs on the host."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        if len(argv) > 3 and argv[0].endswith(b"minipod-shim") and argv[1] == b"init":
            uid = argv[3].decode(errors="replace")
            if uid in uids:
                out[int(pid)] = uid
    return out


def instance_uids(mp) -> set[str]:
    """The uids of the pods the instance has a record or a netns pin of."""
    uids = netns_pins(mp)
    d = os.path.join(mp.root, "lib", "pods")
    for f in os.listdir(d) if os.path.isdir(d) else []:
        if f.endswith(".json"):
            try:
                with open(os.path.join(d, f)) as fh:
                    uids.add(json.load(fh)["metadata"]["uid"])
            except (OSError, ValueError, KeyError):
                continue
    return uids


def kill_pids(pids) -> None:
    """SIGKILL these pids (processes the test's own daemon started)."""
    for pid in pids:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


def check_network_matches_pods(mp, net: dict) -> dict[str, str]:
    """The invariants of a settled instance: every live pod Running with an
    IP of the subnet that no other pod holds, exactly one lease per live
    pod (its own) and none for a gone pod, one netns pin per live pod, the
    bridge's ports exactly the live pods' host veths, one masquerade
    element per live pod (its address in the masquerade set). Returns {pod name: IP}."""
    items = live_pods(mp)
    ips = {p["metadata"]["name"]: p["status"].get("podIP") for p in items}
    assert all(p["status"]["phase"] == "Running" for p in items), {
        p["metadata"]["name"]: p["status"]["phase"] for p in items
    }
    assert all(ips.values()), f"a pod without an IP: {ips}"
    assert len(set(ips.values())) == len(ips), f"an IP held by two pods: {ips}"
    assert all(ipaddress.ip_address(ip) in net["subnet"] for ip in ips.values()), ips
    uids = {p["status"]["podIP"]: p["metadata"]["uid"] for p in items}
    assert leases(net["lease_dir"]) == uids, "leases (IP -> pod uid) differ from the live pods"
    assert netns_pins(mp) == set(uids.values()), "netns pins differ from the live pods"
    veths = set()
    for p in items:
        view = mp.inspect(p["metadata"]["name"], p["metadata"]["namespace"])["network"]
        if view["state"] != "ready":
            raise AssertionError(
                f"pod {p['metadata']['name']} runs, its network is {view}\n"
                + _diagnosis(mp, p["metadata"]["name"], p["metadata"]["namespace"])
            )
        veths.add(view["vethHost"])
    assert bridge_ports(net["bridge"]) == veths, "the bridge's ports differ from the live pods' veths"
    masq = nft_set_elements(net["table"])
    assert masq == {ip: f"masq {uid} eth0" for ip, uid in uids.items()}, masq
    return ips


def _diagnosis(mp, name: str, namespace: str) -> str:
    """The pod's description (events included) and the daemon log's tail."""
    text = mp.run("describe", "pod", name, "-n", namespace, check=False).stdout[-2500:]
    try:
        with open(os.path.join(mp.root, "daemon-test.log"), errors="replace") as f:
            text += "\n--- daemon log (tail)\n" + f.read()[-3000:]
    except OSError:
        pass
    return text


# --- another machine: a network namespace on a veth pair ------------------------------


def _used_networks() -> list[ipaddress.IPv4Network]:
    used = []
    for o in json.loads(sh("ip", "-j", "-4", "addr").stdout):
        for a in o.get("addr_info", []):
            used.append(ipaddress.ip_interface(f"{a['local']}/{a['prefixlen']}").network)
    for r in json.loads(sh("ip", "-j", "-4", "route", "show", "table", "all").stdout):
        dst = r.get("dst", "")
        if dst and dst != "default" and dst[0].isdigit():
            used.append(ipaddress.ip_network(dst if "/" in dst else dst + "/32", strict=False))
    return used


class OutsideHost:
    """A netns standing for another machine on the host's LAN: a veth pair
    with a /30 from 192.168.200.0-192.168.254.255 (outside every pod
    subnet) that no address or route of the host uses yet; the netns'
    default route goes through the host. Use it as a context manager: the
    netns, the veth and the processes started in it always go away."""

    def __init__(self):
        tag = secrets.token_hex(4)
        self.netns = f"mpo-{tag}"
        self.host_if = f"mpo{tag}"  # 11 characters
        used = _used_networks()
        while True:
            net = ipaddress.ip_network(f"192.168.{random.randint(200, 254)}.{4 * random.randint(0, 63)}/30")
            if not any(net.overlaps(u) for u in used):
                break
        self.network = net
        self.host_ip, self.ip = str(net[1]), str(net[2])  # this host's end, the other host's
        self.procs: list[subprocess.Popen] = []

    def __enter__(self):
        try:
            sh("ip", "netns", "add", self.netns)
            sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", "eth0", "netns", self.netns)
            sh("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            sh("ip", "link", "set", self.host_if, "up")
            sh("ip", "-n", self.netns, "link", "set", "lo", "up")
            sh("ip", "-n", self.netns, "addr", "add", f"{self.ip}/30", "dev", "eth0")
            sh("ip", "-n", self.netns, "link", "set", "eth0", "up")
            sh("ip", "-n", self.netns, "route", "add", "default", "via", self.host_ip)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        sh("ip", "netns", "del", self.netns, check=False)
        if link_exists(self.host_if):
            sh("ip", "link", "del", self.host_if, check=False)

    def run(self, *argv: str, input: str | None = None, timeout: float = 30):
        return sh("ip", "netns", "exec", self.netns, *argv, check=False, input=input, timeout=timeout)

    def http_get(self, host: str, port: int) -> str:
        """GET / from the other machine (Python's socket, as helpers.host.http_get)."""
        code = (
            "import socket,sys\n"
            "try:\n"
            f"    s = socket.create_connection(({host!r}, {port}), timeout=3)\n"
            f"    s.sendall({GET.encode()!r})\n"
            "    data = b''\n"
            "    while True:\n"
            "        chunk = s.recv(4096)\n"
            "        if not chunk: break\n"
            "        data += chunk\n"
            "    sys.stdout.write(data.decode(errors='replace'))\n"
            "except OSError as e:\n"
            "    sys.stderr.write(str(e))\n"
        )
        return http_body(self.run(sys.executable, "-c", code).stdout)

    def udp_ask(self, host: str, port: int, payload: str) -> str:
        """Send one datagram from the other machine; the reply, or ''."""
        return udp_ask(host, port, payload, netns=self.netns)

    def tcp_listener(self, port: int) -> subprocess.Popen:
        """A server on the other machine that accepts one connection, prints
        the peer's address and says hello; returns once it listens."""
        code = (
            "import socket,sys\n"
            "s = socket.socket()\n"
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            f"s.bind(('0.0.0.0', {port})); s.listen(5); s.settimeout(60)\n"
            "print('listening', flush=True)\n"
            "c, peer = s.accept()\n"
            "print(peer[0], flush=True)\n"
            "c.sendall(b'hello-from-outside\\n'); c.close()\n"
        )
        p = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(p)
        line = p.stdout.readline().strip()
        assert line == "listening", f"the outside listener did not start: {p.stderr.read()}"
        return p


def udp_ask(host: str, port: int, payload: str, netns: str | None = None) -> str:
    code = (
        "import socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)\n"
        f"s.sendto({payload.encode()!r}, ({host!r}, {port}))\n"
        "try:\n"
        "    print(s.recvfrom(4096)[0].decode(), end='')\n"
        "except OSError:\n"
        "    pass\n"
    )
    argv = (["ip", "netns", "exec", netns] if netns else []) + [sys.executable, "-c", code]
    return sh(*argv, check=False).stdout.strip()


def udp_echo_in(netns_path: str, port: int) -> subprocess.Popen:
    """A UDP echo server inside a pod's network namespace (its pinned
    netns): the image's busybox has no UDP server, and what a hostPort
    reaches is the pod's network, whichever process listens there."""
    code = (
        "import socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        f"s.bind(('0.0.0.0', {port}))\n"
        "print('listening', flush=True)\n"
        "while True:\n"
        "    data, peer = s.recvfrom(4096)\n"
        "    s.sendto(b'echo:' + data, peer)\n"
    )
    p = subprocess.Popen(
        ["nsenter", f"--net={netns_path}", sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = p.stdout.readline().strip()
    if line != "listening":
        p.kill()
        raise AssertionError(f"the UDP echo server did not start: {p.stderr.read()}")
    return p
