"""The pod network, runtime side: a pinned netns and a CNI chain per pod.

Every pod gets its own IP on the instance's bridge. minipod drives this the
way any CNI runtime (containerd, CRI-O, podman) does, through a network
configuration list, so minipod's plugins (minipod/network/cni/) are real CNI
plugins and the reference plugins (`bridge`, `host-local`, `portmap`)
work under minipod unchanged.

Steps of setup_pod_network(), in order:
    1. pin the pod's network namespace: bind-mount /proc/INIT/ns/net on
       RUN/netns/UID, as `ip netns add` does, because CNI wants a path
       (CNI_NETNS) that outlives any one process;
    2. run the list's plugins in order with CNI_COMMAND=ADD (minipod's own
       in-process, others exec'd from the CNI bin dirs), passing the pod's
       hostPorts as the `portMappings` capability;
    3. return the final result: the caller keeps it, DEL needs it.
teardown_pod_network() runs DEL in reverse order with that result, then
unmounts and removes the pin. The bridge stays while the daemon runs (it
costs ~90 ms to make) and goes when the daemon stops with no pod left. Both may run again after a daemon crash: CNI
DEL is idempotent by the spec.

The instance's network config list lives in ETC/net.d/10-minipod.conflist;
a daemon that finds none writes default_conflist() there, with the bridge
name and subnet it was given (so test instances and labs never share one).
"""

import ipaddress
import os

from minipod.fsutil import write_json_atomic
from minipod.linux import syscalls as sc

CNI_PATH = "/opt/cni/bin:/usr/lib/cni:/usr/libexec/cni"
DEFAULT_BRIDGE = "minipod0"
DEFAULT_SUBNET = "10.85.0.0/16"  # not podman's 10.88.0.0/16
CONFLIST_NAME = "10-minipod.conflist"


def default_conflist(bridge: str, subnet: str, data_dir: str) -> dict:
    """What cni/10-minipod.conflist holds, for this instance's bridge, subnet
    and lease dir."""
    return {
        "cniVersion": "1.0.0",
        "name": "minipod" if bridge == DEFAULT_BRIDGE else f"minipod-{bridge}",
        "plugins": [
            {
                "type": "minipod-bridge",
                "bridge": bridge,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "keepTable": True,
                "ipam": {
                    "type": "minipod-ipam",
                    "ranges": [[{"subnet": subnet}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": data_dir,
                },
            },
            {"type": "minipod-portmap", "capabilities": {"portMappings": True}},
        ],
    }


def ensure_conflist(inst, bridge: str | None, subnet: str | None) -> dict:
    """The instance's network config list, written on first start."""
    from minipod.network.cni import load_conflist

    path = os.path.join(inst.etc, "net.d", CONFLIST_NAME)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        conf = default_conflist(
            bridge or DEFAULT_BRIDGE, subnet or DEFAULT_SUBNET, os.path.join(inst.lib, "networks")
        )
        write_json_atomic(path, conf, indent=2)
    return load_conflist(path)


def bridge_of(conflist: dict) -> str | None:
    for plugin in conflist["plugins"]:
        if plugin.get("type") in ("minipod-bridge", "bridge"):
            return plugin.get("bridge", "cni0")
    return None


# --- 1. the pinned netns ----------------------------------------------------------


def pin_netns(init_pid: int, path: str) -> None:
    if os.path.ismount(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "a").close()
    sc.mount(f"/proc/{init_pid}/ns/net", path, None, sc.MS_BIND)


def unpin_netns(path: str) -> None:
    if os.path.ismount(path):
        sc.umount(path, sc.MNT_DETACH)
    if os.path.exists(path):
        os.unlink(path)


# --- 2. the chain -------------------------------------------------------------------


def cni_env(pod: dict, netns: str) -> dict:
    meta = pod["metadata"]
    uid = meta["uid"]
    return {
        "CNI_CONTAINERID": uid,
        "CNI_NETNS": netns,
        "CNI_IFNAME": "eth0",
        "CNI_PATH": CNI_PATH,
        "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE={meta['namespace']};"
        f"K8S_POD_NAME={meta['name']};K8S_POD_INFRA_CONTAINER_ID={uid};"
        f"K8S_POD_UID={uid}",
    }


def runtime_config(pod: dict, sandbox_ports: list | None = None) -> dict:
    """spec.containers[].ports[].hostPort as CNI's portMappings capability;
    `sandbox_ports`: more in the same shape, given for the sandbox itself
    (the CRI gives a sandbox's port mappings before any container exists)."""
    mappings = []
    ports = [
        p
        for c in pod["spec"]["containers"] + (pod["spec"].get("initContainers") or [])
        for p in c.get("ports") or []
    ]
    for p in ports + list(sandbox_ports or []):
        if p.get("hostPort"):
            m = {
                "hostPort": p["hostPort"],
                "containerPort": p["containerPort"],
                "protocol": p.get("protocol", "TCP").lower(),
            }
            if p.get("hostIP"):
                m["hostIP"] = p["hostIP"]
            mappings.append(m)
    return {"portMappings": mappings} if mappings else {}


async def setup_pod_network(
    conflist: dict, pod: dict, init_pid: int, netns: str, sandbox_ports: list | None = None
) -> dict:
    from minipod.network.cni import add_list_async

    pin_netns(init_pid, netns)
    return await add_list_async(conflist, cni_env(pod, netns), runtime_config(pod, sandbox_ports))


async def teardown_pod_network(
    conflist: dict | None,
    pod: dict,
    netns: str | None,
    result: dict | None,
    sandbox_ports: list | None = None,
) -> None:
    """DEL (the netns may be gone already: CNI_NETNS is then empty, which the
    spec allows), then remove the pin. Without a conflist or a pin, the
    network was never set up: nothing to undo."""
    if conflist is None or netns is None:
        return
    from minipod.network.cni import del_list_async

    try:
        env = cni_env(pod, netns if os.path.ismount(netns) else "")
        await del_list_async(conflist, env, result, runtime_config(pod, sandbox_ports))
    finally:
        unpin_netns(netns)


async def teardown_bridge(conflist: dict) -> None:
    """Remove the instance's bridge (no pod uses it any more): the plugins
    never delete a bridge (other pods may be plugged in), the runtime knows;
    and the network's nft table, which minipod-bridge keeps as long (keepTable)."""
    name = bridge_of(conflist)
    if not name:
        return
    from minipod.network import netlink, nft

    nft.delete_table(nft.table_name(conflist["name"]))  # kept with the bridge (keepTable)
    await netlink.teardown_link(name)


def host_ip() -> str:
    """The node's address, as Kubernetes reports it in status.hostIP: the
    address of the link that carries the default route."""
    try:
        with open("/proc/net/route") as f:
            for line in list(f)[1:]:
                fields = line.split()
                if fields[1] == "00000000":  # destination 0.0.0.0: the default route
                    return sc.interface_address(fields[0]) or "127.0.0.1"
    except OSError:
        pass
    return "127.0.0.1"


def pod_ip(result: dict) -> str | None:
    """The first IPv4 address of a CNI result."""
    for ip in result.get("ips", []):
        addr = ipaddress.ip_interface(ip["address"])
        if addr.version == 4:
            return str(addr.ip)
    return None


def interfaces(result: dict) -> dict:
    """The host and pod ends of the veth pair, from a CNI result."""
    out = {}
    for iface in result.get("interfaces", []):
        if iface.get("sandbox"):
            out["pod"] = iface
        elif iface.get("name", "").startswith("veth"):
            out["host"] = iface
        else:
            out.setdefault("bridge", iface)
    return out
