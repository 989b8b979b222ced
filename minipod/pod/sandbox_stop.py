"""Stopping a pod being deleted, as the kubelet does (killPod), in order:
1. stop every app container at once, all sharing one deadline
   (deletionGracePeriodSeconds: --grace-period, else the pod's
   terminationGracePeriodSeconds), then the sidecars, last started
   first, with what is left of it (stop_containers());
2. CNI DEL of the pod's network, while its netns still exists (the
   worker's teardown_network(), between the two steps here);
3. SIGKILL the pod's PID 1: the kernel kills whatever is left in the
   pod's pid namespace; wait for every process of the pod to be gone
   (kill_sandbox()).
"""

import asyncio
import signal
import time

from minipod.linux import sandbox as namespaces
from minipod.pod.container_stop import is_alive, kill_quietly, stop_container
from minipod.pod.events import PodEvents
from minipod.pod.exits import Exits
from minipod.pod.node_config import NodeConfig
from minipod.pod.record import PodRecord, Process


async def stop_containers(
    record: PodRecord, events: PodEvents, exits: Exits, node: NodeConfig | None = None
) -> None:
    """Step 1."""
    rt = record.runtime
    if rt.kill_deadline is None:
        grace = record.metadata.get("deletionGracePeriodSeconds", record.grace_period())
        rt.kill_deadline = time.time() + grace
    deadline = rt.kill_deadline
    why = "Stopping container {}"
    apps = [c for c in rt.containers if is_alive(c)]
    await asyncio.gather(
        *(stop_container(record, c, deadline, why.format(c.name), events, exits, node) for c in apps)
    )
    for c in reversed(rt.init_containers):
        await stop_container(record, c, deadline, why.format(c.name), events, exits, node)


async def stop_sidecars(
    record: PodRecord, events: PodEvents, exits: Exits, node: NodeConfig | None = None
) -> None:
    """Not for a delete: a pod that is done (Succeeded or Failed) stops its
    sidecars, last started first, and they are not restarted."""
    deadline = time.time() + record.grace_period()
    for c in reversed(record.runtime.init_containers):
        if c.sidecar:
            c.no_restart = True
            await stop_container(record, c, deadline, f"Stopping container {c.name}", events, exits, node)


async def kill_sandbox(record: PodRecord) -> None:
    """Step 3."""
    rt = record.runtime
    if namespaces.alive(rt.init.pid, rt.init.start):
        kill_quietly(rt.init.pid, signal.SIGKILL)
    await wait_gone([rt.init] + [c.monitor for c in rt.all_containers()])


async def wait_gone(procs: list[Process], timeout: float = 10.0) -> None:
    end = time.time() + timeout
    while time.time() < end and any(namespaces.alive(p.pid, p.start) for p in procs):
        await asyncio.sleep(0.002)
