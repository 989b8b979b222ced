"""The CRI's sandbox calls, over the runtime's pod manager.

run()     the sandbox's pod record (sandbox_config.py), handed to the
          manager, which starts its worker; wait until the worker made
          the sandbox and its network (READY), or report why not;
stop()    stop it for good, keeping the record (pod/piecewise.py):
          idempotent, and NOT_FOUND only for an id never known;
remove()  stop it, then delete the pod: its containers, network,
          cgroup and files go, as for any pod; an unknown id is not an
          error (the kubelet may repeat a remove);
status(), list()  from the records (status_views.py).
"""

import asyncio
import time
import uuid
from typing import Any

import minipod.cri.api_pb2 as api_pb2  # generated at build time (setup.py)
from minipod.cri import sandbox_config, status_views
from minipod.cri.lookup import CriNotFound, find_sandbox, sandboxes
from minipod.linux import sandbox as namespaces
from minipod.pod import piecewise
from minipod.pod import record as rec

READY_TIMEOUT = 60.0


def is_ready(w) -> bool:
    return status_views.sandbox_ready(w.record, namespaces.alive(w.rt.init.pid, w.rt.init.start))


async def run(manager, config: Any, runtime_handler: str) -> str:
    name = sandbox_config.reserved_name(config.metadata)
    for w in sandboxes(manager):
        if w.rt.origin_data.get("reserved_name") == name and not w.rt.stopped:
            raise FileExistsError(
                f'failed to reserve sandbox name "{name}": name "{name}" is reserved for "{w.record.metadata["name"]}"'
            )
    sandbox_id = uuid.uuid4().hex + uuid.uuid4().hex
    pod = sandbox_config.sandbox_pod(config, sandbox_id)
    data = sandbox_config.origin_data(config, runtime_handler)
    data["reserved_name"] = name
    runtime = rec.PodRuntime(
        origin="cri",
        origin_data=data,
        sandbox_ports=sandbox_config.sandbox_ports(config),
        remake_lost_sandbox=False,  # NOTREADY: the kubelet makes a new one, as with containerd
    )
    record = rec.PodRecord(pod=pod, runtime=runtime)
    w = manager.add_record(record)
    deadline = time.time() + READY_TIMEOUT
    while not is_ready(w):
        failure = w.rt.network.state == "failed"
        if failure or time.time() > deadline:
            await remove(manager, sandbox_id)
            why = "its network could not be set up" if failure else f"not ready within {READY_TIMEOUT:g}s"
            raise RuntimeError(
                f"failed to run pod sandbox {config.metadata.name}: {why} (see the daemon's log)"
            )
        changed = w.changed
        try:
            await asyncio.wait_for(changed.wait(), 0.5)
        except asyncio.TimeoutError:
            pass
    return sandbox_id


async def stop(manager, ident: str) -> None:
    await piecewise.stop_sandbox(find_sandbox(manager, ident))


async def remove(manager, ident: str) -> None:
    try:
        w = find_sandbox(manager, ident)
    except CriNotFound:
        return  # removed already: a repeated remove is not an error
    await piecewise.stop_sandbox(w)
    await manager.delete(*w.record.key, grace=0, wait=True)


def status(manager, ident: str, verbose: bool) -> Any:
    w = find_sandbox(manager, ident)
    inspect = None
    if verbose and is_ready(w):
        inspect = manager.inspect(*w.record.key)
    return status_views.sandbox_status(w.record, is_ready(w), verbose, inspect)


def list_sandboxes(manager, f: Any) -> Any:
    items = []
    for w in sandboxes(manager):
        ready = is_ready(w)
        if status_views.sandbox_matches(w.record, ready, f):
            items.append(status_views.pod_sandbox(w.record, ready))
    return api_pb2.ListPodSandboxResponse(items=items)


def stats(manager, w) -> Any:
    """The pod's cgroup, and each container's (container_verbs.stats)."""
    from minipod.cri import container_verbs
    from minipod.linux import cgroup_stats

    now = time.time_ns()
    cpu = memory = 0
    if w.rt.cgroup and not w.rt.stopped:
        try:
            cpu = cgroup_stats.cpu_usage_ns(manager.cgroups, w.rt.cgroup)
            memory = cgroup_stats.memory_working_set(manager.cgroups, w.rt.cgroup)
        except OSError:
            pass
    return api_pb2.PodSandboxStats(
        attributes=api_pb2.PodSandboxAttributes(
            id=w.record.metadata["name"],
            metadata=status_views.sandbox_metadata(w.record),
            labels=w.record.metadata.get("labels") or {},
            annotations=w.record.metadata.get("annotations") or {},
        ),
        linux=api_pb2.LinuxPodSandboxStats(
            cpu=api_pb2.CpuUsage(timestamp=now, usage_core_nano_seconds=api_pb2.UInt64Value(value=cpu)),
            memory=api_pb2.MemoryUsage(timestamp=now, working_set_bytes=api_pb2.UInt64Value(value=memory)),
            containers=[container_verbs.stats(manager, w, c) for c in w.rt.containers],
        ),
    )
