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
    4. a failed startup or liveness probe is published as a ProbeFailure
       (with the probe's terminationGracePeriodSeconds); the worker decides
       to kill the container (decide.py), and the pod's restartPolicy and
       back-off then decide whether it runs again;
    5. readiness only publishes `ready` (the READY column, the Ready and
       ContainersReady conditions); it never restarts anything;
    6. every failed attempt is an Unhealthy event with the probe's output.
Probes only publish (ProbeResults, the kubelet's results manager): they
never change the record nor call into the worker. Probes stop when their
container stops (the worker cancels them).
"""

import asyncio
from typing import Any

from minipod import trace
from minipod.kube import reasons
from minipod.pod import handlers
from minipod.pod.decide import ProbeFailure
from minipod.pod.events import PodEvents
from minipod.pod.node_config import NodeConfig
from minipod.pod.record import ContainerRecord, ContainerState, PodRecord

DEFAULTS = {
    "initialDelaySeconds": 0,
    "periodSeconds": 10,
    "timeoutSeconds": 1,
    "successThreshold": 1,
    "failureThreshold": 3,
}
KINDS = {"startupProbe": "Startup", "livenessProbe": "Liveness", "readinessProbe": "Readiness"}


def settings(probe: dict[str, Any]) -> dict[str, Any]:
    return {k: probe.get(k) if probe.get(k) is not None else v for k, v in DEFAULTS.items()}


class ProbeResults:
    """What the probes of one pod found, for its worker to apply: per
    container ID, `started` (startup probe passed), `ready`, and a failure
    that asks for a kill. Each change sets `updated`, which wakes the worker."""

    def __init__(self, updated: asyncio.Event):
        self.updated = updated
        self.started: dict[str, bool] = {}
        self.ready: dict[str, bool] = {}
        self.failures: dict[str, ProbeFailure] = {}

    def set_started(self, cid: str) -> None:
        self.started[cid] = True
        self.updated.set()

    def set_ready(self, cid: str, ready: bool) -> None:
        self.ready[cid] = ready
        self.updated.set()

    def fail(self, cid: str, failure: ProbeFailure) -> None:
        self.failures[cid] = failure
        self.updated.set()

    def forget(self, cid: str) -> None:
        for results in (self.started, self.ready, self.failures):
            results.pop(cid, None)


def apply_results(record: PodRecord, results: ProbeResults) -> None:
    """What the probes published, into the record (the kubelet's status
    manager reading the probe results); only the worker calls this."""
    for c in record.runtime.all_containers():
        if c.id and c.state == ContainerState.RUNNING:
            c.started = results.started.get(c.id, c.started)
            c.ready = results.ready.get(c.id, c.ready)


class ContainerProbes:
    """The probes of one container instance (one container ID)."""

    def __init__(
        self,
        record: PodRecord,
        c: ContainerRecord,
        events: PodEvents,
        results: ProbeResults,
        node: NodeConfig | None = None,
    ) -> None:
        self.record, self.c, self.events, self.results = record, c, events, results
        self.node = node  # the instance's NodeConfig: an exec probe runs under its seccomp default
        self.spec = record.spec_of(c)
        assert c.id is not None
        self.cid: str = c.id
        self.tasks: list[asyncio.Task[None]] = []
        self.started = asyncio.Event()
        self.ready = c.ready  # what was last published (readiness flips on thresholds)

    def start(self) -> None:
        """The container's `started` and `ready` are already set (the worker
        does it: from the spec for a new container, kept for an adopted one)."""
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

    async def run(self, kind: str, probe: dict[str, Any]) -> None:
        s = settings(probe)
        if kind != "startupProbe":
            await self.started.wait()  # rule 3
        await asyncio.sleep(s["initialDelaySeconds"])
        successes = failures = 0
        while self.current():
            with trace.span(f"probe {KINDS[kind].lower()}", self.c.name) as step:
                ok, message = await handlers.run_handler(
                    self.record, self.c, probe, s["timeoutSeconds"], self.node
                )
                trace.result(step, "success" if ok else f"failure: {message}")
            if not self.current():
                return
            successes, failures = (successes + 1, 0) if ok else (0, failures + 1)
            if not ok:
                self.events.emit(
                    reasons.WARNING, reasons.UNHEALTHY, f"{KINDS[kind]} probe failed: {message}", self.c.name
                )
            if kind == "readinessProbe":
                self.publish_ready(ok, successes, failures, s)
            elif kind == "startupProbe" and ok and successes >= s["successThreshold"]:
                self.started.set()
                self.results.set_started(self.cid)
                return
            elif not ok and failures >= s["failureThreshold"]:
                what = "startup" if kind == "startupProbe" else "liveness"
                self.results.fail(
                    self.cid,
                    ProbeFailure(
                        f"Container {self.c.name} failed {what} probe, will be restarted",
                        probe.get("terminationGracePeriodSeconds"),
                    ),
                )
                return
            await asyncio.sleep(s["periodSeconds"])

    def publish_ready(self, ok: bool, successes: int, failures: int, s: dict[str, Any]) -> None:
        if ok and not self.ready and successes >= s["successThreshold"]:
            self.ready = True
            self.results.set_ready(self.cid, True)
        elif not ok and self.ready and failures >= s["failureThreshold"]:
            self.ready = False
            self.results.set_ready(self.cid, False)
