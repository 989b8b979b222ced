"""Probes: startup, liveness and readiness, run the way the kubelet runs them.

For each running container, one asyncio task per probe it declares (no
thread and no process per probe; an exec probe runs its command, nothing
more). The rules (kubelet: pkg/kubelet/prober/worker.go):
    1. the first attempt comes initialDelaySeconds after the container
       started, then one every periodSeconds, each limited to timeoutSeconds;
    2. a result flips only after successThreshold consecutive successes or
       failureThreshold consecutive failures;
    3. liveness and readiness wait until the startup probe has succeeded;
       the startup probe stops once it has;
    4. a failed startup or liveness probe kills the container (grace: the
       probe's terminationGracePeriodSeconds, else the pod's); the pod's
       restartPolicy and back-off then decide whether it runs again;
    5. readiness only sets `ready` (the READY column, the Ready and
       ContainersReady conditions); it never restarts anything;
    6. every failed attempt is an Unhealthy event with the probe's output.
Probes stop when their container stops (the worker cancels them).
"""

import asyncio

from minipod.pod import handlers
from minipod.pod.record import ContainerRecord, ContainerState

DEFAULTS = {
    "initialDelaySeconds": 0,
    "periodSeconds": 10,
    "timeoutSeconds": 1,
    "successThreshold": 1,
    "failureThreshold": 3,
}
KINDS = {"startupProbe": "Startup", "livenessProbe": "Liveness", "readinessProbe": "Readiness"}


def settings(probe: dict) -> dict:
    return {k: probe.get(k) if probe.get(k) is not None else v for k, v in DEFAULTS.items()}


class ContainerProbes:
    """The probes of one container instance (one container ID)."""

    def __init__(self, worker, c: ContainerRecord, spec: dict):
        self.worker, self.c, self.spec = worker, c, spec
        self.cid = c.id
        self.tasks: list[asyncio.Task] = []
        self.started = asyncio.Event()

    def start(self, adopted: bool = False) -> None:
        """adopted: a restarted daemon takes over a running container, which
        keeps the `started` and `ready` it had."""
        if not adopted:
            self.c.started = "startupProbe" not in self.spec
            self.c.ready = "readinessProbe" not in self.spec
        if self.c.started:
            self.started.set()
        loop = asyncio.get_running_loop()
        for kind in KINDS:
            if self.spec.get(kind):
                self.tasks.append(loop.create_task(self.run(kind, self.spec[kind])))

    def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        self.tasks = []

    def current(self) -> bool:
        return self.c.id == self.cid and self.c.state == ContainerState.RUNNING

    async def run(self, kind: str, probe: dict) -> None:
        s = settings(probe)
        if kind != "startupProbe":
            await self.started.wait()  # rule 3
        await asyncio.sleep(s["initialDelaySeconds"])
        successes = failures = 0
        while self.current():
            ok, message = await handlers.run_handler(self.worker, self.c, probe, s["timeoutSeconds"])
            if not self.current():
                return
            successes, failures = (successes + 1, 0) if ok else (0, failures + 1)
            if not ok:
                self.worker.event(
                    "Warning", "Unhealthy", f"{KINDS[kind]} probe failed: {message}", self.c.name
                )
            if kind == "readinessProbe":
                self.set_ready(ok, successes, failures, s)
            elif kind == "startupProbe" and ok and successes >= s["successThreshold"]:
                self.c.started = True
                self.started.set()
                self.worker.changed_status()
                return
            elif not ok and failures >= s["failureThreshold"]:
                what = "startup" if kind == "startupProbe" else "liveness"
                grace = probe.get("terminationGracePeriodSeconds")
                self.worker.kill_in_background(
                    self.c, f"Container {self.c.name} failed {what} probe, will be restarted", grace
                )
                return
            await asyncio.sleep(s["periodSeconds"])

    def set_ready(self, ok: bool, successes: int, failures: int, s: dict) -> None:
        if ok and not self.c.ready and successes >= s["successThreshold"]:
            self.c.ready = True
            self.worker.changed_status()
        elif not ok and self.c.ready and failures >= s["failureThreshold"]:
            self.c.ready = False
            self.worker.changed_status()
