"""The pod's runtime record: typed, with every container state change here.

What minipod knows about a pod beyond its v1 object (which processes hold
it, where each container's files are, its back-off) lives in these
dataclasses. The JSON on disk is read and written by record_file.py alone:
    1. load: record_file.from_json() reads a pod file once, migrating a
       record written by the previous release (no "version"; camelCase
       keys) on the way;
    2. run: the worker changes the record only through the transition
       functions below (ContainerState: waiting -> starting -> running ->
       terminated -> waiting/starting again), and note_conditions() records
       when each pod condition last flipped;
    3. save: record_file.to_json() gives the v1 object (metadata, spec,
       status) and a private "runtime" section that the API never shows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from minipod.kube.times import rfc3339
from minipod.pod.admission import Refusal

# The record's own format. 0: the first release's dict of camelCase keys.
VERSION = 1

# The kubelet's default, applied here and nowhere else (see grace_period()).
DEFAULT_GRACE_SECONDS = 30


class ContainerState(str, enum.Enum):
    """A container instance's life, as runc's state machine has it:
    waiting (not created, or between two instances), starting (its process
    is being launched), running, terminated (its monitor wrote an exit)."""

    WAITING = "waiting"
    STARTING = "starting"
    RUNNING = "running"
    TERMINATED = "terminated"


@dataclass
class Process:
    """A host process, named by pid *and* start time (a recycled pid is
    never mistaken for it)."""

    pid: int | None = None
    start: int | None = None


@dataclass
class Terminated:
    """How one container instance ended: v1 ContainerStateTerminated."""

    exit_code: int
    reason: str
    started_at: str | None = None
    finished_at: str | None = None
    container_id: str | None = None
    signal: int | None = None
    message: str | None = None
    finished_epoch: float | None = None

    def to_v1(self) -> dict[str, Any]:
        out: dict[str, Any] = {"exitCode": self.exit_code, "reason": self.reason}
        for key, value in (
            ("startedAt", self.started_at),
            ("finishedAt", self.finished_at),
            ("containerID", self.container_id),
            ("signal", self.signal),
            ("message", self.message),
        ):
            if value:
                out[key] = value
        return out


@dataclass
class ExitInfo:
    """What a container's monitor (or the daemon, when it lost one) says of
    an exit."""

    exit_code: int
    finished_epoch: float
    signal: int | None = None
    reason: str | None = None
    message: str | None = None


@dataclass
class ContainerRecord:
    """One container of the pod, across its instances (restarts)."""

    name: str
    init: bool = False
    sidecar: bool = False  # an init container with restartPolicy: Always
    state: ContainerState = ContainerState.WAITING
    reason: str | None = None  # waiting or terminated reason
    message: str | None = None
    restart_count: int = 0
    image: str = ""
    image_id: str = ""
    # The current (or last) instance: its ID, files and processes.
    id: str | None = None
    log_path: str | None = None
    exit_file: str | None = None
    termination_file: str | None = None
    stop_signal: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: Process = field(default_factory=Process)
    monitor: Process = field(default_factory=Process)
    started_epoch: float | None = None
    ready: bool = False
    started: bool = False
    ever_started: bool = False  # a sidecar counts for Initialized once it started
    # How the instance ended (state terminated), and the one before it.
    exit_code: int | None = None
    signal: int | None = None
    finished_epoch: float | None = None
    last: Terminated | None = None
    # Restarts and pulls back off (the kubelet's doBackOff).
    retry_at: float | None = None
    backoff: float | None = None
    backoff_updated: float | None = None
    pull_backoff: float | None = None
    no_restart: bool = False  # a sidecar stopped for good
    stopping: str | None = None  # the instance ID a stop is under way for
    # Created one by one by a front door that starts them itself (the CRI's
    # CreateContainer, then StartContainer): held until it asks, its ID and
    # log path chosen by it.
    held: bool = False  # never started by the worker until released
    next_id: str | None = None  # the ID its next instance takes (else a fresh one)
    log_file: str | None = None  # where its log goes (else LOGS/NAME/N.log)
    # Launch plan values its creator chose where a v1 container has no field
    # (the CRI's user name, per-container supplemental groups, masked and
    # read-only paths, host devices): user, supplemental_groups,
    # masked_paths, readonly_paths, devices.
    plan_overrides: dict[str, Any] = field(default_factory=dict)
    created_epoch: float | None = None

    @property
    def active(self) -> bool:
        """Its process exists or is being made."""
        return self.state in (ContainerState.RUNNING, ContainerState.STARTING)

    @property
    def succeeded(self) -> bool:
        return self.state == ContainerState.TERMINATED and self.exit_code == 0

    @property
    def started_at(self) -> str | None:
        return rfc3339(self.started_epoch) if self.started_epoch is not None else None

    @property
    def finished_at(self) -> str | None:
        return rfc3339(self.finished_epoch) if self.finished_epoch is not None else None

    def terminated(self) -> Terminated:
        """The current instance's end, as v1 reports it."""
        code = self.exit_code or 0
        return Terminated(
            exit_code=code,
            reason=self.reason or ("Completed" if code == 0 else "Error"),
            started_at=self.started_at,
            finished_at=self.finished_at,
            container_id=f"minipod://{self.id}" if self.id else None,
            signal=self.signal,
            message=self.message,
            finished_epoch=self.finished_epoch,
        )


@dataclass
class Condition:
    """A pod condition's value and when it last changed."""

    status: bool
    since: str


@dataclass
class Network:
    """The pod's CNI attachment: "adding" before the first plugin runs, so
    a daemon killed half-way knows to DEL what may exist."""

    state: str | None = None  # adding, ready, failed, deleting, deleted
    netns: str | None = None
    conflist: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    setup_seconds: float | None = None


@dataclass
class Disruption:
    """Why the pod is being removed from the node by someone other than its
    owner: the scheduler preempting it, the taint manager evicting it (the
    DisruptionTarget condition)."""

    reason: str
    message: str
    since: str


@dataclass
class PodRuntime:
    """What minipod knows of a pod beyond its v1 object."""

    host_ip: str = "127.0.0.1"
    init: Process = field(default_factory=Process)  # the pod's PID 1
    init_containers: list[ContainerRecord] = field(default_factory=list)
    containers: list[ContainerRecord] = field(default_factory=list)
    start_time: str | None = None
    pod_ip: str | None = None
    network: Network = field(default_factory=Network)
    kill_deadline: float | None = None
    conditions: dict[str, Condition] = field(default_factory=dict)
    refusal: Refusal | None = None  # held Pending or rejected at admission: nothing runs
    refusal_since: str | None = None
    # Admission (scheduler.py): False until the pod fits on the node; None
    # for a record older than admission, which was admitted.
    scheduled: bool | None = None
    created_epoch: float | None = None  # the order in which waiting pods are admitted
    cgroup: str | None = None  # the pod's cgroup, below the instance's parent (pod_cgroups.py)
    # hostUsers: false: the host uid (and gid) its uid 0 maps to, the base
    # of its 65536 ids (linux/userns.py). The records are the ledger of the
    # instance's pool: a range is free again when its pod's record is gone.
    user_range: int | None = None
    # The node the scheduler preempted pods on for this one (status.nominatedNodeName).
    nominated_node: str | None = None
    disruption: Disruption | None = None
    # Who asked for the pod: "api" (the Kubernetes API and the CLI) or "cri"
    # (a kubelet). Only the front doors read these two; the runtime acts the
    # same for both (a CRI pod's spec says restartPolicy: Never, no probes).
    origin: str = "api"
    origin_data: dict[str, Any] = field(default_factory=dict)
    # The sandbox was stopped and is not to be made again (the CRI's
    # StopPodSandbox): the record stays until the pod is deleted.
    stopped: bool = False
    # A lost sandbox (its PID 1 died) is made again, its containers with it;
    # False: it stays lost, and whoever created it decides (a kubelet makes
    # a new sandbox, as with containerd).
    remake_lost_sandbox: bool = True
    # hostPort mappings of the sandbox itself, as containers' ports are
    # ({hostPort, containerPort, protocol, hostIP}): the CRI gives them per sandbox.
    sandbox_ports: list[dict[str, Any]] = field(default_factory=list)

    def all_containers(self) -> list[ContainerRecord]:
        return self.init_containers + self.containers


@dataclass
class PodRecord:
    """The v1 Pod as applied (metadata and spec, kept in the API's own
    shape) and minipod's runtime record of it."""

    pod: dict[str, Any]
    runtime: PodRuntime

    @property
    def metadata(self) -> dict[str, Any]:
        return self.pod["metadata"]  # type: ignore[no-any-return]

    @property
    def spec(self) -> dict[str, Any]:
        return self.pod["spec"]  # type: ignore[no-any-return]

    @property
    def key(self) -> tuple[str, str]:
        return self.metadata["namespace"], self.metadata["name"]

    @property
    def name(self) -> str:
        return f"{self.metadata['namespace']}/{self.metadata['name']}"

    def spec_of(self, c: ContainerRecord) -> dict[str, Any]:
        """The container's entry in spec.containers or spec.initContainers."""
        key = "initContainers" if c.init else "containers"
        return next(s for s in self.spec[key] if s["name"] == c.name)

    def grace_period(self) -> int:
        """spec.terminationGracePeriodSeconds, defaulted as the API server does."""
        value = self.spec.get("terminationGracePeriodSeconds")
        return DEFAULT_GRACE_SECONDS if value is None else int(value)


# --- container transitions: the only writers of ContainerRecord.state --------


def new_container(spec: dict[str, Any], init: bool, pod_has_inits: bool) -> ContainerRecord:
    """A container that never ran: waiting, for the init containers
    (PodInitializing) or to be created (ContainerCreating)."""
    return ContainerRecord(
        name=spec["name"],
        init=init,
        sidecar=init and spec.get("restartPolicy") == "Always",
        reason="PodInitializing" if (not init and pod_has_inits) else "ContainerCreating",
        image=spec["image"],
    )


def to_waiting(c: ContainerRecord, reason: str, message: str | None, retry_at: float | None = None) -> None:
    """Not running, and why (ErrImagePull, CrashLoopBackOff, CreateContainerError, ...)."""
    if c.state == ContainerState.TERMINATED:
        c.last = c.terminated()
    c.state, c.reason, c.message = ContainerState.WAITING, reason, message
    if retry_at is not None:
        c.retry_at = retry_at


def to_starting(c: ContainerRecord, cid: str, image: str, image_id: str, stop_signal: str | None) -> None:
    """A new instance of `c`: the previous one (if any) becomes lastState and
    counts as a restart. The caller then gives it its files."""
    if c.id and (c.state == ContainerState.TERMINATED or c.last):
        c.restart_count += 1
    if c.state == ContainerState.TERMINATED:
        c.last = c.terminated()
    c.state = ContainerState.STARTING
    c.id, c.image, c.image_id, c.stop_signal = cid, image, image_id, stop_signal
    c.ready = c.started = False
    c.reason = c.message = None
    c.exit_code = c.signal = c.finished_epoch = c.retry_at = None
    c.process, c.monitor = Process(), Process()
    c.stopping = None


def to_running(c: ContainerRecord, hook_failed: bool = False) -> None:
    """Its process runs and its postStart hook succeeded; or the hook
    failed, and it runs only until it is killed (it never counted as
    started)."""
    c.state = ContainerState.RUNNING
    c.ever_started = c.ever_started or not hook_failed


def to_terminated(c: ContainerRecord, info: ExitInfo) -> None:
    """Its process is gone; `info` says how. A second report is ignored."""
    if c.state == ContainerState.TERMINATED:
        return
    c.state = ContainerState.TERMINATED
    c.exit_code = info.exit_code
    c.signal = info.signal or None
    c.finished_epoch = info.finished_epoch
    c.reason = info.reason or ("Completed" if info.exit_code == 0 else "Error")
    c.message = info.message
    c.ready = c.started = False
    c.retry_at = None


# --- pod conditions: when each last changed ------------------------------------


def note_conditions(rt: PodRuntime, values: dict[str, bool], now: str) -> bool:
    """Record `values` (condition type -> true?), keeping the time of the
    last change of each; True if any changed."""
    changed = False
    for ctype, status in values.items():
        old = rt.conditions.get(ctype)
        if old is None or old.status != status:
            rt.conditions[ctype] = Condition(status, now)
            changed = True
    return changed
