"""A pod's cgroups, as the kubelet lays them out, from the worker's side.

    <parent>/kubepods/pod<uid>/                  Guaranteed pods
    <parent>/kubepods/{burstable,besteffort}/pod<uid>/
        sandbox/         the pod init (PID 1 of the pod)
        <container id>/  one per container instance

Steps, in the order a pod lives them:
    1. pod_plan(): at sandbox creation, the pod's cgroup with the summed
       limits and the pids limit, and its `sandbox` leaf, which the pod
       init joins: a plan (linux/cgroup_plan.py) the sandbox helper
       carries out, so the event loop makes no directory itself.
    2. container_plan(): before each container start, its cgroup with
       its own limits and the device allow-list (with the host devices
       its creator gave it: device_rules()), made and joined by the
       container's process before execve. The previous instance's cgroup
       is killed and removed first (remove_instance()), so a restarted
       container leaves nothing behind; a start that failed leaves none
       either (remove_plan()). Both wait in a thread, not on the loop.
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
from minipod.linux import cgroup_plan, cgroup_stats, cgroups
from minipod.linux.cgroup_plan import Plan
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


def pod_plan(root: cgroups.Root, record: PodRecord, pids_limit: int | None) -> Plan:
    """Step 1: the pod's cgroup and its sandbox leaf, which the sandbox
    helper makes and joins (its pod init inherits it)."""
    rel = pod_rel(record)
    steps = cgroup_plan.plan_create(root, rel, values.pod_limits(record.spec, pids_limit))
    steps += cgroup_plan.plan_make(root, f"{rel}/{SANDBOX}")
    who = f"pod {record.name}"
    return Plan(rel, tuple(steps), tuple(cgroups.procs_files(root, f"{rel}/{SANDBOX}")), who)


def container_plan(root: cgroups.Root, record: PodRecord, spec: dict, c: ContainerRecord) -> Plan:
    """Step 2: the container's cgroup, which its own process makes and
    joins before execve."""
    privileged = bool((spec.get("securityContext") or {}).get("privileged"))
    rel = container_rel(record, c.id or "")
    extra = tuple(device_rules(c.plan_overrides.get("devices") or []))
    steps = cgroup_plan.plan_create(root, rel, values.container_limits(spec), privileged, extra)
    who = f"container {c.name} of pod {record.name}"
    return Plan(rel, tuple(steps), tuple(cgroups.procs_files(root, rel)), who)


async def remove_instance(root: cgroups.Root, record: PodRecord, cid: str) -> None:
    """Before a restart: the previous instance's cgroup, killed and removed."""
    rel = container_rel(record, cid)
    await asyncio.to_thread(_kill_and_remove, root, rel)


async def remove_plan(root: cgroups.Root, plan: Plan) -> None:
    """Step 2 failed: what its plan made (if anything) goes, with whatever
    is left in it."""
    await asyncio.to_thread(_kill_and_remove, root, plan.rel)


def _kill_and_remove(root: cgroups.Root, rel: str, timeout: float = 1.0) -> None:
    # In a thread: both wait for the kernel (the last exit, an rmdir).
    cgroups.kill(root, rel, timeout)
    cgroups.remove(root, rel, timeout)


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
    gone, then remove the tree: in a thread, as all of it waits for the
    kernel (the last exit, each rmdir), not on the event loop."""
    rel = record.runtime.cgroup
    if rel:
        await asyncio.to_thread(_kill_and_remove, root, rel, timeout)
