"""`run --trace`, `apply --trace`, `delete --trace`: the steps of each pod
as they arrive, then each pod's total. Pure formatting (no I/O but the
stream it is given), so it is unit-tested on its own.

Text: one line per step, as it ends: its start (ms since the pod's first
step), its duration, what it was; a header whenever the pod or container
changes, so the lines come grouped as they happen; then per pod the number
of steps and the total, from the start of its first step to the end of its
last (steps overlap: a total is wall time, not a sum).
JSON (-o json): one document at the end, {"pods": [{pod, totalSeconds,
steps: [...]}]}, each step with its container, start and duration in seconds.
"""

from typing import IO, Any

from minipod.trace import Span


class TracePrinter:
    def __init__(self, out: IO[str], fmt: str = "text"):
        self.out, self.fmt = out, fmt
        self.spans: dict[str, list[Span]] = {}  # pod -> its steps, in arrival order
        self._origin: dict[str, int] = {}
        self._last: tuple[str, str] | None = None

    def add(self, span: Span) -> None:
        self.spans.setdefault(span.pod, []).append(span)
        origin = self._origin.setdefault(span.pod, span.start_ns)
        if self.fmt != "text":
            return
        if self._last != (span.pod, span.container):
            self._last = (span.pod, span.container)
            where = f"container {span.container}" if span.container else "pod"
            self.out.write(f"{span.pod}  {where}\n")
        self.out.write(step_line(span, origin) + "\n")
        self.out.flush()

    def close(self) -> None:
        if self.fmt == "json":
            import json

            self.out.write(json.dumps(as_json(self.spans), indent=2) + "\n")
        else:
            for pod, spans in self.spans.items():
                self.out.write(f"{pod}: {len(spans)} steps, total {ms(total_ns(spans))}\n")
        self.out.flush()


def ms(ns: int) -> str:
    return f"{ns / 1e6:.1f} ms"


def step_line(span: Span, origin: int) -> str:
    """`  +  12.3 ms   0.8 ms  setns(/proc/42/ns/net)  detail`"""
    flag = "" if span.ok else "  FAILED"
    detail = f"  {span.detail}" if span.detail else ""
    return f"  +{ms(span.start_ns - origin):>11} {ms(span.end_ns - span.start_ns):>10}  {span.step}{detail}{flag}"


def total_ns(spans: list[Span]) -> int:
    """Wall time from the first step's start to the last step's end."""
    return max(s.end_ns for s in spans) - min(s.start_ns for s in spans) if spans else 0


def as_json(pods: dict[str, list[Span]]) -> dict[str, Any]:
    out = []
    for pod, spans in pods.items():
        origin = min(s.start_ns for s in spans)
        out.append(
            {
                "pod": pod,
                "totalSeconds": total_ns(spans) / 1e9,
                "steps": [
                    {
                        "container": s.container,
                        "step": s.step,
                        "detail": s.detail,
                        "ok": s.ok,
                        "pid": s.pid,
                        "startSeconds": (s.start_ns - origin) / 1e9,
                        "durationSeconds": s.seconds,
                    }
                    for s in sorted(spans, key=lambda s: s.start_ns)
                ],
            }
        )
    return {"pods": out}


def open_output(path: str) -> IO[str]:
    """--trace FILE ("-": standard output), opened before anything is asked
    of the daemon, so a bad path changes nothing."""
    import sys

    from minipod.errors import MinipodError

    if path == "-":
        return sys.stdout
    try:
        return open(path, "w")
    except OSError as e:
        raise MinipodError(
            f"--trace {path}: {e.strerror}", hint="give a writable file, or - for stdout"
        ) from None


def follow(lines, printer: TracePrinter) -> dict[str, Any]:
    """Read a traced request's answer (api/pod_trace.py): each span to the
    printer as it comes; the last line, {"result": ...} or {"error": ...}."""
    import json
    from dataclasses import fields

    names = {f.name for f in fields(Span)}
    end: dict[str, Any] = {"error": {"code": 500, "message": "the daemon's answer ended early"}}
    for raw in lines:
        msg = json.loads(raw)
        if "span" in msg:
            printer.add(Span(**{k: v for k, v in msg["span"].items() if k in names}))
        else:
            end = msg
    return end
