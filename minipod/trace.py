"""Tracing a pod's start (and delete): every kernel-level step, with its
duration, from whichever process took it.

The steps of one pod happen in several processes: the daemon (cgroups, the
CNI plugins, which run in-process), the sandbox helper and the pod init it
forks (unshare, sethostname, pivot_root), the launcher and the container
process (setns, mount overlay, capset, seccomp, execve). One cheap path
serves them all:
    1. a request asks for a trace (`minipod run --trace`): the API handler
       opens a TraceSink, a file in the instance's run dir, and sets it in
       its context (contextvars) before it creates or deletes pods;
    2. a pod's worker takes it from there when it is made (asyncio copies
       the context into the task it creates), or when a traced delete
       hands it one, as a PodTrace: the sink plus the pod's name;
    3. the worker sets its PodTrace as current at each sync(); the tasks it
       starts and the children it forks inherit it (fork copies memory, so
       a child knows it is traced without being told);
    4. each step is one line at its call site, `with trace.span("step",
       detail):`, which appends one fixed-format line to the sink with a
       single write(2) on an O_APPEND descriptor (atomic for a line this
       short, whichever process writes); a forked child opens its own
       descriptor on its first span, and keeps it (keep_fds()) across the
       close-every-descriptor steps before execve;
    5. the handler reads the file as it grows and streams the lines to the
       CLI (api/pod_trace.py), then closes the sink: later spans (probes
       that keep running) write nothing.
When no trace was asked for, span() costs one ContextVar lookup and
returns a shared no-op context manager: nothing is opened or written.

Times are CLOCK_MONOTONIC nanoseconds: the same clock in every process of
the host, so spans from different processes line up.

A line: START_NS END_NS PID POD CONTAINER OK STEP<TAB>DETAIL
(POD is namespace/name, CONTAINER is "-" for pod-level steps, OK is 1 or
0). parse_line() reads one back into a Span.
"""

import contextvars
import os
import time
from dataclasses import dataclass

_SINK: contextvars.ContextVar["TraceSink | None"] = contextvars.ContextVar("minipod_trace_sink", default=None)
_CURRENT: contextvars.ContextVar["PodTrace | None"] = contextvars.ContextVar(
    "minipod_trace_pod", default=None
)
_CONTAINER: contextvars.ContextVar[str] = contextvars.ContextVar("minipod_trace_container", default="-")


@dataclass
class Span:
    start_ns: int
    end_ns: int
    pid: int
    pod: str
    container: str  # "" for the pod's own steps
    ok: bool
    step: str
    detail: str

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9


class TraceSink:
    """The file every traced process appends its lines to (step 1)."""

    def __init__(self, path: str, create: bool = True):
        self.path = path
        self.active = True
        self._fd = -1
        self._pid = 0
        if create:  # not when a process that did not fork from the daemon resumes it
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600))

    def fd(self) -> int:
        """This process's descriptor: a forked child opens its own (the
        parent's number may be closed, or reused for another file)."""
        if self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            self._pid = os.getpid()
        return self._fd

    def write(self, line: str) -> None:
        if not self.active:
            return
        try:
            os.write(self.fd(), line.encode(errors="replace"))
        except OSError:
            pass  # a trace must never break what it watches

    def close(self) -> None:
        """Stop tracing (step 5) and remove the file."""
        self.active = False
        if self._fd >= 0 and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = -1
        try:
            os.unlink(self.path)
        except OSError:
            pass


@dataclass
class PodTrace:
    sink: TraceSink
    pod: str  # namespace/name

    def record(self, step: str, detail: str, start_ns: int, end_ns: int, ok: bool = True, container=None):
        where = container or _CONTAINER.get()
        detail = detail.replace("\n", " ").replace("\t", " ")
        self.sink.write(f"{start_ns} {end_ns} {os.getpid()} {self.pod} {where} {int(ok)} {step}\t{detail}\n")


class _Span:
    """One step being timed: written when the with-block ends."""

    __slots__ = ("trace", "step", "detail", "container", "start", "pid")

    def __init__(self, trace: PodTrace, step: str, detail: str, container: str | None):
        self.trace, self.step, self.detail, self.container = trace, step, detail, container
        self.start = self.pid = 0

    def __enter__(self) -> "_Span":
        if self.trace.sink.active:
            try:
                self.trace.sink.fd()  # opened now: the step may pivot_root away from its path
            except OSError:
                pass
        self.start, self.pid = time.monotonic_ns(), os.getpid()
        return self

    def __exit__(self, kind, value, tb) -> None:
        if os.getpid() != self.pid:
            return  # a child forked inside the block: the step is its parent's
        detail = self.detail if value is None else f"{self.detail} (failed: {value})".strip()
        self.trace.record(self.step, detail, self.start, time.monotonic_ns(), value is None, self.container)


class _Off:
    """The no-op span of an untraced pod: shared, stateless."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, value, tb) -> None:
        return None


_OFF = _Off()


# --- for call sites: one line each ------------------------------------------------


def span(step: str, detail: str = "", container: str | None = None):
    """`with trace.span("pivot_root", path):` times the block if this pod
    is traced; else does nothing."""
    t = _CURRENT.get()
    if t is None:
        return _OFF
    return _Span(t, step, detail, container)


def result(span_, detail: str) -> None:
    """Say how a step came out (a probe's result), before it ends."""
    if isinstance(span_, _Span):
        span_.detail = detail


def mark(step: str, detail: str = "", start_ns: int | None = None, container: str | None = None) -> None:
    """A step that already happened (from start_ns, if known, to now)."""
    t = _CURRENT.get()
    if t is not None:
        now = time.monotonic_ns()
        t.record(step, detail, now if start_ns is None else start_ns, now, True, container)


def traced() -> bool:
    return _CURRENT.get() is not None


def keep_fds() -> list[int]:
    """The trace descriptor a forked child must not close before execve
    (it is O_CLOEXEC: the exec'd program never sees it)."""
    t = _CURRENT.get()
    if t is None or not t.sink.active:
        return []
    try:
        return [t.sink.fd()]
    except OSError:
        return []


def carry() -> tuple[str, str, str] | None:
    """What a process that is not a fork of the daemon (the fork server's
    children, fork_server.py) needs to trace as the current pod: step 3
    across a socket instead of a fork."""
    t = _CURRENT.get()
    if t is None or not t.sink.active:
        return None
    return (t.sink.path, t.pod, _CONTAINER.get())


def resume(carried: tuple[str, str, str] | None) -> None:
    """In that process: trace into the same sink, as the same pod and container."""
    if carried is not None:
        path, pod, container = carried
        _CURRENT.set(PodTrace(TraceSink(path, create=False), pod))
        _CONTAINER.set(container)


def monotonic_of_epoch(epoch: float) -> int:
    """A time.time() instant on the monotonic clock the spans use."""
    return time.monotonic_ns() - int((time.time() - epoch) * 1e9)


# --- for the daemon: who is traced ------------------------------------------------


def open_sink(path: str) -> TraceSink:
    """Step 1: a request's sink, current in the caller's context."""
    sink = TraceSink(path)
    _SINK.set(sink)
    return sink


def for_pod(namespace: str, name: str, sink: TraceSink | None = None) -> PodTrace | None:
    """Step 2: the PodTrace of a pod made (or deleted) by a traced request."""
    sink = sink or _SINK.get()
    return PodTrace(sink, f"{namespace}/{name}") if sink is not None else None


def use(t: PodTrace | None) -> None:
    """Step 3: the worker's trace, current for its task from now on."""
    _CURRENT.set(t)


async def in_container(name: str, work):
    """Await `work` with its spans attributed to container `name`."""
    token = _CONTAINER.set(name)
    try:
        return await work
    finally:
        _CONTAINER.reset(token)


# --- reading ------------------------------------------------------------------------


def parse_line(line: str) -> Span | None:
    """One line of a sink back into a Span; None if it is not one."""
    head, _, detail = line.rstrip("\n").partition("\t")
    fields = head.split(" ", 6)
    if len(fields) != 7:
        return None
    try:
        start, end, pid = int(fields[0]), int(fields[1]), int(fields[2])
    except ValueError:
        return None
    container = "" if fields[4] == "-" else fields[4]
    return Span(start, end, pid, fields[3], container, fields[5] == "1", fields[6], detail)
