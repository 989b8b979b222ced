"""Stopping one container, as the kubelet does (killContainer).

stop_container(), in order:
    1. a Killing event with the reason (deleted, failed liveness probe, ...);
    2. the preStop hook, if any, within the grace period;
    3. the stop signal: the spec's lifecycle.stopSignal, else the image's
       StopSignal, else SIGTERM, to the container's main process;
    4. wait for it to exit until the grace deadline, then SIGKILL.
The worker learns of the exit through the monitor's pidfd, as of any other
exit, and tells waiters here through Exits; nothing here calls back into
the worker.
"""

import os
import signal
import time

from minipod.kube import reasons
from minipod.linux import sandbox as namespaces
from minipod.pod import handlers
from minipod.pod.events import PodEvents
from minipod.pod.exits import Exits
from minipod.pod.node_config import NodeConfig
from minipod.pod.record import ContainerRecord, PodRecord


def kill_quietly(pid: int | None, sig: int) -> None:
    if pid:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def stop_signal(record: PodRecord, c: ContainerRecord) -> int:
    spec = record.spec_of(c)
    name = (spec.get("lifecycle") or {}).get("stopSignal") or c.stop_signal or "SIGTERM"
    name = name if name.startswith("SIG") else "SIG" + name
    sig = getattr(signal, name.upper(), signal.SIGTERM)
    return int(sig)


def is_alive(c: ContainerRecord) -> bool:
    return namespaces.alive(c.process.pid, c.process.start)


async def stop_container(
    record: PodRecord,
    c: ContainerRecord,
    deadline: float,
    message: str,
    events: PodEvents,
    exits: Exits,
    node: NodeConfig | None = None,
) -> None:
    """Steps 1-4 for one container; returns once it is gone."""
    if not is_alive(c) or c.stopping == c.id:
        return
    c.stopping = c.id
    events.emit(reasons.NORMAL, reasons.KILLING, message, c.name)
    hook = (record.spec_of(c).get("lifecycle") or {}).get("preStop")
    if hook and time.time() < deadline:
        ok, out = await handlers.run_handler(record, c, hook, max(deadline - time.time(), 0.001), node)
        if not ok:
            events.emit(reasons.WARNING, reasons.FAILED_PRE_STOP_HOOK, f"PreStopHook failed: {out}", c.name)
    kill_quietly(c.process.pid, stop_signal(record, c) if time.time() < deadline else signal.SIGKILL)
    while is_alive(c) and time.time() < deadline:
        await exits.wait(deadline - time.time())
    if is_alive(c):
        kill_quietly(c.process.pid, signal.SIGKILL)
