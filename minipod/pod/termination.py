"""Stopping containers and pods, as the kubelet does (killContainer, killPod).

stop_container(), for one container, in order:
    1. a Killing event with the reason (deleted, failed liveness probe, ...);
    2. the preStop hook, if any, within the grace period;
    3. the stop signal: the spec's lifecycle.stopSignal, else the image's
       StopSignal, else SIGTERM, to the container's main process;
    4. wait for it to exit until the grace deadline, then SIGKILL.
terminate_pod(), for a pod being deleted:
    1. stop every app container at once, all sharing one deadline
       (deletionGracePeriodSeconds: --grace-period, else the pod's
       terminationGracePeriodSeconds), then the sidecars, last started
       first, with what is left of it;
    2. CNI DEL of the pod's network, while its netns still exists;
    3. SIGKILL the pod's PID 1: the kernel kills whatever is left in the
       pod's pid namespace;
    4. wait for every process of the pod to be gone, remove its files.
"""

import asyncio
import os
import signal
import time

from minipod.linux import sandbox as namespaces
from minipod.pod import handlers
from minipod.pod.record import ContainerRecord, Process


def kill_quietly(pid: int | None, sig: int) -> None:
    if pid:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def stop_signal(worker, c: ContainerRecord) -> int:
    spec = worker.spec_of(c)
    name = (spec.get("lifecycle") or {}).get("stopSignal") or c.stop_signal or "SIGTERM"
    name = name if name.startswith("SIG") else "SIG" + name
    return getattr(signal, name.upper(), signal.SIGTERM)


def is_alive(c: ContainerRecord) -> bool:
    return namespaces.alive(c.process.pid, c.process.start)


async def stop_container(worker, c: ContainerRecord, deadline: float, message: str) -> None:
    """Steps 1-4 for one container; returns once it is gone."""
    if not is_alive(c) or c.stopping == c.id:
        return
    c.stopping = c.id
    worker.event("Normal", "Killing", message, c.name)
    hook = (worker.spec_of(c).get("lifecycle") or {}).get("preStop")
    if hook and time.time() < deadline:
        ok, out = await handlers.run_handler(worker, c, hook, max(deadline - time.time(), 0.001))
        if not ok:
            worker.event("Warning", "FailedPreStopHook", f"PreStopHook failed: {out}", c.name)
    kill_quietly(c.process.pid, stop_signal(worker, c) if time.time() < deadline else signal.SIGKILL)
    while is_alive(c) and time.time() < deadline:
        await worker.wait_change(deadline - time.time())
    if is_alive(c):
        kill_quietly(c.process.pid, signal.SIGKILL)


async def terminate_pod(worker) -> None:
    rt = worker.rt
    if rt.kill_deadline is None:
        rt.kill_deadline = time.time() + worker.record.metadata.get(
            "deletionGracePeriodSeconds", worker.record.grace_period()
        )
    deadline = rt.kill_deadline
    why = "Stopping container {}"
    apps = [c for c in rt.containers if is_alive(c)]
    await asyncio.gather(*(stop_container(worker, c, deadline, why.format(c.name)) for c in apps))
    for c in reversed(rt.init_containers):
        await stop_container(worker, c, deadline, why.format(c.name))
    await worker.teardown_network()
    if namespaces.alive(rt.init.pid, rt.init.start):
        kill_quietly(rt.init.pid, signal.SIGKILL)
    await wait_gone([rt.init] + [c.monitor for c in rt.all_containers()])


async def wait_gone(procs: list[Process], timeout: float = 10.0) -> None:
    end = time.time() + timeout
    while time.time() < end and any(namespaces.alive(p.pid, p.start) for p in procs):
        await asyncio.sleep(0.002)
