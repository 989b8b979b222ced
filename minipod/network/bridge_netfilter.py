"""Make traffic bridged between pods visible to the inet forward hook.

Two pods on one bridge talk through it at layer 2: the IP stack, and so
the NetworkPolicy table's forward chain, never sees those packets unless
the kernel's br_netfilter passes bridged IPv4 through the IP hooks. That
is the node prerequisite Kubernetes documents (kubeadm checks
net.bridge.bridge-nf-call-iptables = 1). minipod asks for no more than
its own bridge needs, and changes no host-wide setting it leaves behind:

    1. br_netfilter already on for every bridge (the sysctl is 1, as on
       any host running Docker or a Kubernetes node): nothing to do;
    2. br_netfilter loaded but off host-wide (the sysctl is 0): turn it on
       for this instance's bridge only (its nf_call_iptables option, which
       goes away with the bridge);
    3. br_netfilter not loaded: load it, put the host-wide switches back
       to 0 at once (so every other bridge behaves as before), and do 2.
"""

import os
import subprocess

from minipod.errors import MinipodError

SYSCTL = "/proc/sys/net/bridge/bridge-nf-call-iptables"
# What loading the module turns on host-wide, and 3. turns off again.
HOST_SWITCHES = ("bridge-nf-call-iptables", "bridge-nf-call-ip6tables", "bridge-nf-call-arptables")


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def ensure(bridge: str) -> None:
    """Bridged IPv4 between the pods of `bridge` goes through the IP hooks.
    A bridge that does not exist yet is fine: called again once it does."""
    host = _read(SYSCTL)
    if host == "1":
        return
    if host is None:
        p = subprocess.run(["modprobe", "br_netfilter"], capture_output=True, text=True)
        if p.returncode != 0 or _read(SYSCTL) is None:
            raise MinipodError(
                "NetworkPolicy: the kernel module br_netfilter is not loaded and cannot be: "
                f"{(p.stderr or '').strip() or 'modprobe failed'}",
                hint="load it (modprobe br_netfilter) and restart the daemon",
            )
        for name in HOST_SWITCHES:
            if os.path.exists(f"/proc/sys/net/bridge/{name}"):
                _write(f"/proc/sys/net/bridge/{name}", "0")
    option = f"/sys/class/net/{bridge}/bridge/nf_call_iptables"
    if os.path.exists(option) and _read(option) != "1":
        _write(option, "1")
