"""The teaching view: every kernel object a pod is made of.

`minipod inspect POD` answers "what *is* a Pod?" with facts read live from
/proc, not from minipod's own bookkeeping:
    - the pod init (PID 1 of the pod) and the inode of each namespace it
      holds: two processes share a namespace exactly when the inodes match;
    - per container: its host pid and its pid inside the pod (NSpid), its
      monitor, its namespaces (net/ipc/uts equal to the pod's; mnt its own),
      its overlayfs layers and the mounts of its mount namespace, its
      capabilities and cgroups, its log file and exit record;
    - the pod's volumes (the host directory behind each) and which
      container mounts which, where.
`minipod inspect POD -o dot` draws the same facts (minipod/cli/inspect_graph.py).
"""

import os
from typing import Any

from minipod.linux import sandbox as namespaces
from minipod.pod.record import ContainerState, Network, PodRecord


def _proc_status(pid: int) -> dict[str, str]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = v.strip()
    except OSError:
        pass
    return out


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def _mounts(pid: int) -> list[dict]:
    """The container's mount table, from its own mount namespace."""
    out = []
    try:
        with open(f"/proc/{pid}/mountinfo") as f:
            for line in f:
                fields = line.split()
                sep = fields.index("-")
                out.append(
                    {
                        "mountPoint": fields[4],
                        "type": fields[sep + 1],
                        "source": fields[sep + 2],
                        "options": fields[5],
                        "superOptions": fields[sep + 3] if len(fields) > sep + 3 else "",
                    }
                )
    except (OSError, ValueError):
        pass
    return out


def _cgroups(pid: int) -> dict[str, str]:
    out = {}
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                out[controllers or "unified"] = path
    except OSError:
        pass
    return out


def process_view(pid: int | None, started: int | None) -> dict:
    if pid is None or not namespaces.alive(pid, started):
        return {"pid": pid, "alive": False}
    status = _proc_status(pid)
    return {
        "pid": pid,
        "alive": True,
        "nsPid": status.get("NSpid", "").split()[-1:] or None,
        "command": _cmdline(pid),
        "namespaces": namespaces.ns_inodes(pid),
        "capabilities": {k: status.get(k) for k in ("CapBnd", "CapEff", "CapPrm")},
        "cgroups": _cgroups(pid),
    }


def inspect_pod(record: PodRecord, dirs: dict) -> dict:
    meta, spec, rt = record.metadata, record.spec, record.runtime
    init = rt.init
    pod = {
        "name": meta["name"],
        "namespace": meta["namespace"],
        "uid": meta["uid"],
        "podInit": process_view(init.pid, init.start),
        "runDir": dirs["run"],
        "shm": dirs["shm"],
        "podIP": rt.pod_ip,
        "hostNamespaces": {
            "network": bool(spec.get("hostNetwork")),
            "pid": bool(spec.get("hostPID")),
            "ipc": bool(spec.get("hostIPC")),
        },
        "shareProcessNamespace": spec.get("shareProcessNamespace") is True,
        # The daemon runs in the host's namespaces: the reference to compare with.
        "hostNamespaceInodes": namespaces.ns_inodes(os.getpid()),
        "volumes": [volume_view(v, dirs) for v in spec.get("volumes") or []],
        "containers": [],
    }
    if pod["podInit"].get("nsPid"):
        pod["podInit"]["nsPid"] = pod["podInit"]["nsPid"][0]
    if pod["podInit"].get("alive") and init.pid is not None:
        # The init confines itself to a mount namespace of its own and keeps
        # the pod's open on a descriptor: report the pod's.
        pod["podInit"]["namespaces"]["mnt"] = os.stat(namespaces.pod_mount_ns(init.pid)).st_ino
    if rt.network.state is not None:
        pod["network"] = network_view(rt.network)
    for c in rt.all_containers():
        view: dict[str, Any] = {
            "name": c.name,
            "init": c.init,
            "state": c.state.value,
            "containerID": c.id,
            "restartCount": c.restart_count,
            "startedAt": c.started_epoch,
            "finishedAt": c.finished_epoch,
            "logPath": c.log_path,
            "exitFile": c.exit_file,
            "volumeMounts": [
                {"name": m["name"], "mountPath": m["mountPath"], "readOnly": bool(m.get("readOnly"))}
                for m in record.spec_of(c).get("volumeMounts") or []
            ],
        }
        if c.id:
            cdir = os.path.join(dirs["containers"], c.id)
            view["rootfs"] = {
                "mountPoint": os.path.join(cdir, "rootfs"),
                "upperdir": os.path.join(cdir, "upper"),
                "workdir": os.path.join(cdir, "work"),
            }
        if c.state == ContainerState.RUNNING:
            proc = process_view(c.process.pid, c.process.start)
            if proc.get("nsPid"):
                proc["nsPid"] = proc["nsPid"][0]
            view["process"] = proc
            view["monitor"] = process_view(c.monitor.pid, c.monitor.start)
            if proc.get("alive") and c.process.pid is not None:
                view["mounts"] = _mounts(c.process.pid)
                overlay = next((m for m in view["mounts"] if m["mountPoint"] == "/"), None)
                if overlay:
                    view["rootfs"]["overlay"] = overlay
        pod["containers"].append(view)
    return pod


def volume_view(vol: dict, dirs: dict) -> dict:
    """A volume of the pod and the host directory behind it."""
    if "emptyDir" in vol:
        memory = (vol["emptyDir"] or {}).get("medium") == "Memory"
        where = dirs["memory_volumes" if memory else "disk_volumes"]
        return {
            "name": vol["name"],
            "type": "emptyDir",
            "medium": "Memory" if memory else "",
            "hostPath": os.path.join(where, vol["name"]),
        }
    if "hostPath" in vol:
        return {"name": vol["name"], "type": "hostPath", "medium": "", "hostPath": vol["hostPath"]["path"]}
    return {"name": vol["name"], "type": next(iter(set(vol) - {"name"}), ""), "medium": "", "hostPath": None}


def network_view(net: Network) -> dict:
    """The pod's side of the network: pinned netns, veth pair, bridge, lease."""
    from minipod.network import pod_network as network

    result = net.result or {}
    ends = network.interfaces(result)
    view = {
        "state": net.state,
        "netns": net.netns,
        "setupSeconds": net.setup_seconds,
        "netnsInode": os.stat(net.netns).st_ino if net.netns and os.path.ismount(net.netns) else None,
        "bridge": network.bridge_of(net.conflist or {"plugins": []}),
        "vethHost": (ends.get("host") or {}).get("name"),
        "vethPod": (ends.get("pod") or {}).get("name"),
        "ips": [ip["address"] for ip in result.get("ips", [])],
        "gateway": next((ip.get("gateway") for ip in result.get("ips", []) if ip.get("gateway")), None),
    }
    ipam = next((p.get("ipam") for p in (net.conflist or {}).get("plugins", []) if p.get("ipam")), None)
    ip = network.pod_ip(result)
    if ipam and ip and net.conflist:
        data_dir = ipam.get("dataDir", "/var/lib/cni/networks")
        view["lease"] = os.path.join(data_dir, net.conflist["name"], ip)
    return view
