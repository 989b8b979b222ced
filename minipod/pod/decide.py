"""Decide, then act: what one sync of a pod must do (the kubelet's
computePodActions). Pure: no I/O, no clock, no asyncio; the worker
(worker.py) carries out what this returns.

compute_pod_actions(record, probe_failures, now, backoff), in order:
    1. a pod being deleted is terminated: nothing else; a pod refused at
       admission (held Pending, or rejected), or whose sandbox was stopped
       for good, runs nothing;
    2. a pod whose sandbox (its PID 1) is gone gets a new one, and then a
       network (unless its record says a lost sandbox stays lost); the
       caller syncs again once they exist;
    3. a container whose liveness or startup probe failed is killed, with
       the probe's message and grace period;
    4. a pod that is done (Succeeded or Failed) stops its sidecars;
    5. init containers, in order: a sidecar is started when it is not
       running and lets the next one go once it has started; a regular
       init container must succeed before the next starts; a failed one is
       restarted unless restartPolicy is Never (then the pod fails);
    6. once every init container is done, each app container that is not
       running, not held (created to be started on request) and should run (Always; OnFailure after a failure; never
       again with Never) is started; sidecars restart when they exit, and
       are stopped once every app container is done for good;
    7. every start goes through back-off: an image pull that failed waits
       until its retry time (showing ImagePullBackOff); a container that
       exited waits `backoff` seconds from its exit (CrashLoopBackOff),
       the first restart being immediate, then base, 2 x base ... up to
       the cap, reset after it ran for twice the cap;
    8. the earliest time anything waits for becomes `wake_at`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from minipod.kube import reasons
from minipod.pod import status
from minipod.pod.record import ContainerRecord, ContainerState, PodRecord


@dataclass(frozen=True)
class BackOffPolicy:
    """The kubelet's container back-off: base (10 s) doubling up to max (5 min)."""

    base: float = 10.0
    max: float = 300.0


@dataclass(frozen=True)
class ProbeFailure:
    """A liveness or startup probe that reached its failureThreshold."""

    message: str  # for the Killing event: "Container web failed liveness probe, ..."
    grace: float | None = None  # the probe's terminationGracePeriodSeconds


@dataclass(frozen=True)
class Start:
    """Start a new instance of the container; record `backoff` first."""

    container: str
    init: bool
    backoff: float | None = None


@dataclass(frozen=True)
class EnterBackOff:
    """Wait before a restart: waiting/CrashLoopBackOff until `until`."""

    container: str
    init: bool
    until: float
    message: str


@dataclass(frozen=True)
class ShowPullBackOff:
    """A failed pull waits for its retry: ErrImagePull turns ImagePullBackOff."""

    container: str
    init: bool
    until: float


@dataclass(frozen=True)
class Wait:
    """Already waiting (back-off, a create error's retry) until `until`."""

    container: str
    init: bool
    until: float


@dataclass(frozen=True)
class Kill:
    """Stop the container; its exit then goes through the restart policy."""

    container: str
    init: bool
    message: str
    grace: float


Step = Start | EnterBackOff | ShowPullBackOff | Wait


@dataclass
class PodActions:
    terminate: bool = False
    create_sandbox: bool = False
    create_network: bool = False
    kills: list[Kill] = field(default_factory=list)
    stop_sidecars: bool = False
    done: bool = False  # Succeeded or Failed: nothing will run again
    steps: list[Step] = field(default_factory=list)
    wake_at: float | None = None


def should_restart(policy: str, exit_code: int | None) -> bool:
    return policy == "Always" or (policy == "OnFailure" and (exit_code or 0) != 0)


def compute_pod_actions(
    record: PodRecord,
    probe_failures: dict[str, ProbeFailure],
    now: float,
    backoff: BackOffPolicy,
    sandbox_alive: bool = True,
) -> PodActions:
    """Steps 1-8 of the module docstring. `probe_failures` maps container
    IDs to their failed liveness/startup probe; `sandbox_alive` is whether
    the pod's PID 1 still runs (the caller looked)."""
    out = PodActions()
    rt, spec = record.runtime, record.spec
    # 1. deleted
    if record.metadata.get("deletionTimestamp"):
        out.terminate = True
        return out
    if rt.refusal is not None or rt.scheduled is False:
        return out  # held Pending or rejected at admission (scheduler.py): nothing runs
    if rt.stopped:
        return out  # its sandbox was stopped for good, the record kept until a delete
    # 2. sandbox and network
    if not sandbox_alive:
        if rt.init.pid is not None and not rt.remake_lost_sandbox:
            return out  # lost for good: its creator decides what comes next
        out.create_sandbox = True
    if not spec.get("hostNetwork") and (out.create_sandbox or rt.network.state != "ready"):
        out.create_network = True
    if out.create_sandbox or out.create_network:
        return out
    # 3. failed probes
    for c in rt.all_containers():
        failure = probe_failures.get(c.id or "")
        if failure and c.state == ContainerState.RUNNING and c.stopping != c.id:
            grace = failure.grace if failure.grace is not None else record.grace_period()
            out.kills.append(Kill(c.name, c.init, failure.message, grace))
    # 4. done
    policy = spec.get("restartPolicy", "Always")
    if status.phase(record) in ("Succeeded", "Failed"):
        out.done = True
        out.stop_sidecars = _sidecars_to_stop(record)
        return out
    # 5. init containers
    for c in rt.init_containers:
        if c.sidecar:
            if not c.active:
                out.steps.append(start_or_wait(record, c, now, backoff))
            if c.state == ContainerState.RUNNING and c.started:
                continue
            break
        if c.succeeded:
            continue
        if c.active or (c.state == ContainerState.TERMINATED and policy == "Never"):
            break
        out.steps.append(start_or_wait(record, c, now, backoff))
        break
    else:
        # 6. app containers, then sidecars
        for c in rt.containers:
            if c.active or (c.state == ContainerState.TERMINATED and not should_restart(policy, c.exit_code)):
                continue
            if c.held:
                continue  # created, to be started when its creator asks
            out.steps.append(start_or_wait(record, c, now, backoff))
        apps_done = all(
            c.state == ContainerState.TERMINATED and not should_restart(policy, c.exit_code)
            for c in rt.containers
        )
        if apps_done:
            out.stop_sidecars = _sidecars_to_stop(record)
        else:
            for c in rt.init_containers:
                if c.sidecar and not c.active and not c.no_restart and not _planned(out, c):
                    out.steps.append(start_or_wait(record, c, now, backoff))
    # 8. when to look again
    out.wake_at = _earliest(out)
    return out


def start_or_wait(record: PodRecord, c: ContainerRecord, now: float, backoff: BackOffPolicy) -> Step:
    """Step 7 for one container that should run: start it, or wait."""
    if c.retry_at is not None and c.retry_at > now:
        if c.reason == reasons.ERR_IMAGE_PULL:
            # As the kubelet: the failure first, then the wait for the retry.
            return ShowPullBackOff(c.name, c.init, c.retry_at)
        return Wait(c.name, c.init, c.retry_at)
    if c.state == ContainerState.TERMINATED:
        finished = c.finished_epoch if c.finished_epoch is not None else now
        if (
            c.backoff
            and now - finished < c.backoff
            and finished - (c.backoff_updated or 0) <= 2 * backoff.max
        ):
            meta = record.metadata
            return EnterBackOff(
                c.name,
                c.init,
                until=finished + c.backoff,
                message=f"back-off {c.backoff:g}s restarting failed container="
                f"{c.name} pod={meta['name']}_{meta['namespace']}({meta['uid']})",
            )
        return Start(c.name, c.init, next_backoff(c, finished, backoff))
    if c.state == ContainerState.WAITING and c.last and c.reason == reasons.CRASH_LOOP_BACK_OFF:
        finished = c.last.finished_epoch if c.last.finished_epoch is not None else now
        return Start(c.name, c.init, next_backoff(c, finished, backoff))
    return Start(c.name, c.init)


def next_backoff(c: ContainerRecord, finished: float, backoff: BackOffPolicy) -> float:
    """The wait before the restart after this one: base at first, and again
    once the container ran for twice the cap; else double, capped."""
    if not c.backoff or finished - (c.backoff_updated or 0) > 2 * backoff.max:
        return backoff.base
    return min(2 * c.backoff, backoff.max)


def _sidecars_to_stop(record: PodRecord) -> bool:
    """Sidecars that still run, or may yet be restarted."""
    return any(c.sidecar and (c.active or not c.no_restart) for c in record.runtime.init_containers)


def _planned(out: PodActions, c: ContainerRecord) -> bool:
    return any(s.container == c.name and s.init == c.init for s in out.steps)


def _earliest(out: PodActions) -> float | None:
    waits = [s.until for s in out.steps if not isinstance(s, Start)]
    return min(waits) if waits else None
