"""A pod built piece by piece, by a front door that drives each step itself
(the CRI: a kubelet runs the sandbox, then creates, starts, stops and
removes each container, and stops the sandbox before it removes it).

The worker's loop does the work, as for any pod; these only change the
record and wake it, or call the same stop steps the worker uses:
    1. add_container(): a new container in the spec and the record, held
       (the worker does not start it) with the ID and log path its creator
       chose;
    2. start_container(): release it, and wait until the worker started it
       (running), or it failed (exited, or waiting with an error);
    3. stop_container(): its stop signal, SIGKILL after `timeout` seconds;
       wait until its exit is recorded;
    4. remove_container(): SIGKILL if it runs, then its files, its cgroup,
       its volumes and its entries in the spec and the record;
    5. stop_sandbox(): the sandbox stopped for good (containers killed,
       network removed, PID 1 killed, cgroup removed); the record stays,
       so it can be looked at until the pod is deleted.
"""

import asyncio
import os
import shutil
import time
from typing import Any

from minipod.linux import cgroups
from minipod.pod import container_stop, pod_cgroups, sandbox_stop
from minipod.pod.record import ContainerRecord, ContainerState
from minipod.pod.worker import PodWorker


def add_container(
    w: PodWorker,
    spec: dict[str, Any],
    volumes: list[dict[str, Any]],
    cid: str,
    log_file: str | None,
    plan_overrides: dict[str, Any] | None = None,
) -> ContainerRecord:
    """Step 1."""
    c = ContainerRecord(
        plan_overrides=plan_overrides or {},
        name=spec["name"],
        image=spec["image"],
        reason="ContainerCreating",
        held=True,
        next_id=cid,
        log_file=log_file,
        created_epoch=time.time(),
    )
    w.record.spec["containers"].append(spec)
    if volumes:
        w.record.spec.setdefault("volumes", []).extend(volumes)
    w.rt.containers.append(c)
    w.save()
    return c


async def start_container(w: PodWorker, c: ContainerRecord, timeout: float = 60.0) -> None:
    """Step 2: returns once it runs; raises RuntimeError with the reason
    when it could not start (the creator decides what comes next, so the
    worker does not retry it: it is held again)."""
    c.held = False
    w.wake.set()
    deadline = time.time() + timeout
    while True:
        if c.state in (ContainerState.RUNNING, ContainerState.TERMINATED):
            if c.state == ContainerState.TERMINATED and c.reason == "StartError":
                raise RuntimeError(c.message or "the container's command could not be run")
            return
        if c.state == ContainerState.WAITING and c.retry_at is not None:
            c.held, c.retry_at = True, None  # no retry: its creator decides
            w.save()
            raise RuntimeError(f"{c.reason}: {c.message}")
        if time.time() > deadline:
            raise RuntimeError(f"the container did not start within {timeout:g}s")
        changed = w.changed
        try:
            await asyncio.wait_for(changed.wait(), max(deadline - time.time(), 0.01))
        except asyncio.TimeoutError:
            pass


async def stop_container(w: PodWorker, c: ContainerRecord, timeout: float) -> None:
    """Step 3."""
    if c.active:
        w.stop_probes(c)
        deadline = time.time() + max(timeout, 0)
        await container_stop.stop_container(
            w.record, c, deadline, f"Stopping container {c.name}", w.events, w.exits, w.m.node
        )
    await _until_terminated(w, c)


async def _until_terminated(w: PodWorker, c: ContainerRecord, timeout: float = 10.0) -> None:
    """The monitor's exit reaches the record through the worker's pidfd
    watch; a held container that never ran has nothing to wait for."""
    deadline = time.time() + timeout
    while c.state in (ContainerState.RUNNING, ContainerState.STARTING) and time.time() < deadline:
        changed = w.changed
        try:
            await asyncio.wait_for(changed.wait(), 0.2)
        except asyncio.TimeoutError:
            w.on_exit(c.monitor.pid or 0)  # look at the exit file again


async def remove_container(w: PodWorker, c: ContainerRecord) -> None:
    """Step 4."""
    c.held = True  # never started again, whatever happens below
    await stop_container(w, c, 0)
    dirs = w.m.pod_dirs(w.record)
    if c.id:
        shutil.rmtree(os.path.join(dirs["containers"], c.id), ignore_errors=True)
        for path in (c.exit_file, c.termination_file):
            if path and os.path.exists(path):
                os.unlink(path)
        if w.rt.cgroup:
            rel = pod_cgroups.container_rel(w.record, c.id)
            cgroups.kill(w.m.cgroups, rel, timeout=1.0)
            cgroups.remove(w.m.cgroups, rel, timeout=1.0)
    spec = w.record.spec_of(c)
    mounted = {m["name"] for m in spec.get("volumeMounts") or []}
    w.record.spec["containers"].remove(spec)
    w.record.spec["volumes"] = [v for v in w.record.spec.get("volumes") or [] if v["name"] not in mounted]
    w.rt.containers.remove(c)
    w.save()


async def stop_sandbox(w: PodWorker) -> None:
    """Step 5: idempotent."""
    w.rt.stopped = True  # first: the worker must not make a new sandbox when PID 1 dies
    w.rt.kill_deadline = time.time()  # the CRI's StopPodSandbox kills at once (SIGKILL)
    for c in w.all_containers():
        w.stop_probes(c)
    await sandbox_stop.stop_containers(w.record, w.events, w.exits, w.m.node)
    for c in w.all_containers():
        await _until_terminated(w, c)
    await w.teardown_network()
    await sandbox_stop.kill_sandbox(w.record)
    w.unwatch(w.rt.init.pid or 0)
    await pod_cgroups.teardown_pod(w.m.cgroups, w.record)
    w.rt.kill_deadline = None
    w.save()
