"""A pod's cgroups, as the kubelet lays them out, from the worker's side.

    <parent>/kubepods/pod<uid>/                  Guaranteed pods
    <parent>/kubepods/{burstable,besteffort}/pod<uid>/
        sandbox/         the pod init (PID 1 of the pod)
        <container id>/  one per container instance

Steps, in the order a pod lives them:
    1. setup_pod(): at sandbox creation, the pod's cgroup with the summed
       limits and the pids limit, and its `sandbox` leaf, which the pod
       init joins (returned: the cgroup.procs files to write).
    2. setup_container(): before each container start, its cgroup with
       its own limits and the device allow-list (with the host devices
       its creator gave it: device_rules()); the launcher joins it
       before execve. The previous instance's cgroup is killed and
       removed first, so a restarted container leaves nothing behind.
    3. oom_killed(): after an exit, did the OOM killer strike in it?
    4. teardown_pod(): kill everything left in the pod's cgroup (a
       hostPID pod's setsid child too) and remove the tree.

The relative path is written into the record (runtime.cgroup), so a
restarted daemon finds the same cgroups.
"""

import asyncio
import os
import stat
from typing import Any

from minipod.kube import cgroup_values as values
from minipod.kube import resources
from minipod.linux import cgroup_stats, cgroups
from minipod.pod.record import ContainerRecord, PodRecord

SANDBOX = "sandbox"


def pod_rel(record: PodRecord) -> str:
    rt = record.runtime
    if not rt.cgroup:
        qos = resources.qos_class(record.spec)
        rt.cgroup = f"{values.qos_parent(qos)}/pod{record.metadata['uid']}"
    return rt.cgroup


def container_rel(record: PodRecord, cid: str) -> str:
    return f"{pod_rel(record)}/{cid}"


def setup_pod(root: cgroups.Root, record: PodRecord, pids_limit: int | None) -> list[str]:
    rel = pod_rel(record)
    cgroups.create(root, rel, values.pod_limits(record.spec, pids_limit))
    cgroups.make(root, f"{rel}/{SANDBOX}")
    return cgroups.procs_files(root, f"{rel}/{SANDBOX}")


def setup_container(
    root: cgroups.Root, record: PodRecord, spec: dict, c: ContainerRecord, old_id: str | None
) -> list[str]:
    if old_id:
        rel = container_rel(record, old_id)
        cgroups.kill(root, rel, timeout=1.0)
        cgroups.remove(root, rel, timeout=1.0)
    privileged = bool((spec.get("securityContext") or {}).get("privileged"))
    rel = container_rel(record, c.id or "")
    extra = tuple(device_rules(c.plan_overrides.get("devices") or []))
    cgroups.create(root, rel, values.container_limits(spec), devices=privileged, extra_devices=extra)
    return cgroups.procs_files(root, rel)


def device_rules(devices: list[dict[str, Any]]) -> list[str]:
    """The allow rules for the host devices a container is given (the
    CRI's config.devices): each node's type and numbers, as the host has them."""
    rules = []
    for d in devices:
        st = os.stat(d["host_path"])
        kind = "b" if stat.S_ISBLK(st.st_mode) else "c"
        rules.append(
            values.device_rule(kind, os.major(st.st_rdev), os.minor(st.st_rdev), d.get("permissions", ""))
        )
    return rules


def oom_killed(root: cgroups.Root, record: PodRecord, c: ContainerRecord) -> bool:
    return bool(c.id) and cgroup_stats.oom_kills(root, container_rel(record, c.id or "")) > 0


async def teardown_pod(root: cgroups.Root, record: PodRecord, timeout: float = 10.0) -> None:
    """Kill every process still in the pod's cgroups, wait for them to be
    gone without blocking the event loop, then remove the tree."""
    rel = record.runtime.cgroup
    if not rel:
        return
    cgroups.signal_kill(root, rel)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while cgroups.populated(root, rel) and loop.time() < deadline:
        await asyncio.sleep(0.002)
    cgroups.remove(root, rel)
