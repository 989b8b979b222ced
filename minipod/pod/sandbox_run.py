"""Making a pod's sandbox (the CRI's RunPodSandbox), in order:
1. run_sandbox(): the pod's directories, its volumes (volumes.py), its
   /etc files (etc_files.py), then its namespaces and their PID 1
   (linux/sandbox.py), returned not yet exec'd: the caller writes the
   PID 1 down before letting it run, so a daemon killed in between
   leaves nothing it does not know of;
2. add_network(): pin the netns and run the CNI ADD chain
   (network/pod_network.py); the record says "adding" before the first
   plugin runs, so a daemon killed half-way DELs what may exist before
   it adds again (remove_network(), which is idempotent).
"""

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

from minipod import trace
from minipod.kube.sysctls import pod_sysctls
from minipod.linux import sandbox as namespaces
from minipod.network import pod_network as network
from minipod.pod import etc_files as podfiles
from minipod.pod import volumes
from minipod.pod.record import PodRecord


async def run_sandbox(
    record: PodRecord, dirs: dict[str, Any], cluster_dns: str | None, cgroup: Any
) -> namespaces.Sandbox:
    """Step 1; `cgroup`: the pod's cgroup, which the sandbox helper makes
    and joins (pod_cgroups.pod_plan);
    `cluster_dns`: the DNS server's address for /etc/resolv.conf."""
    spec, rt = record.spec, record.runtime
    for key in ("run", "shm", "memory_volumes", "disk_volumes", "logs", "init_root"):
        os.makedirs(dirs[key], exist_ok=True)
    with trace.span("volumes", "emptyDir directories, hostPath checks"):
        memory = volumes.make_volumes(record.pod, dirs, rt.user_range)
    if spec.get("hostNetwork"):
        rt.pod_ip = rt.host_ip
    with trace.span("/etc files", "hosts, hostname, resolv.conf"):
        podfiles.write_pod_files(record.pod, rt.pod_ip, dirs["run"], cluster_dns)
    return await namespaces.create_sandbox(
        {
            "name": record.name,
            "uid": record.metadata["uid"],
            "hostname": podfiles.hostname_of(record.pod),
            "host_network": spec.get("hostNetwork"),
            "host_ipc": spec.get("hostIPC"),
            "host_pid": spec.get("hostPID"),
            "shm_dir": dirs["shm"],
            "memory_volumes": memory,
            "sysctls": pod_sysctls(record.pod),
            # emptyDir.sizeLimit of a memory volume: the tmpfs's size.
            "memory_volume_sizes": volumes.memory_volume_sizes(record.pod, dirs),
            "init_root": dirs["init_root"],
            "cgroup": cgroup,
            "user_range": rt.user_range,
        }
    )


async def add_network(
    record: PodRecord, netns: str, conflist: dict[str, Any], lock: asyncio.Lock, save: Callable[[], None]
) -> None:
    """Step 2. Raises what the CNI chain raised (its netns unpinned, the
    record saying "failed")."""
    net = record.runtime.network
    net.state, net.netns, net.conflist, net.result = "adding", netns, conflist, None
    save()
    try:
        async with lock:
            began = time.perf_counter()
            result = await network.setup_pod_network(
                conflist, record.pod, record.runtime.init.pid or 0, netns, record.runtime.sandbox_ports
            )
        # What the network costs this pod (pin + every plugin's ADD):
        # `minipod inspect` shows it, bench/ reports its median.
        net.setup_seconds = round(time.perf_counter() - began, 6)
    except Exception:
        network.unpin_netns(netns)
        net.state = "failed"
        save()
        raise
    net.state, net.result = "ready", result
    record.runtime.pod_ip = network.pod_ip(result)
    save()


async def remove_network(record: PodRecord, save: Callable[[], None]) -> None:
    """CNI DEL of the pod's network (idempotent: safe to repeat). Raises
    what DEL raised; the record says "deleted" either way."""
    net = record.runtime.network
    if net.state in (None, "deleted"):
        return
    net.state = "deleting"
    save()
    try:
        await network.teardown_pod_network(
            net.conflist or {"plugins": []},
            record.pod,
            net.netns or "",
            net.result,
            record.runtime.sandbox_ports,
        )
    finally:
        net.state = "deleted"
        record.runtime.pod_ip = None
        save()
