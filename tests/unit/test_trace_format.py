"""The trace's line format, its printer, and that an untraced step costs
nothing but a lookup (minipod/trace.py, minipod/cli/trace_printer.py)."""

import asyncio
import contextvars
import io
import json
import os

from minipod import trace
from minipod.cli.trace_printer import TracePrinter, as_json, total_ns


def test_a_span_is_one_line_that_reads_back(tmp_path):
    sink = trace.TraceSink(str(tmp_path / "t" / "x.trace"))
    t = trace.PodTrace(sink, "default/p")
    t.record("mount(overlay, /r)", "a\tb\nc", 10, 25, True, "web")
    t.record("cgroup mkdir", "", 30, 31, False, None)
    lines = open(sink.path).read().splitlines()
    assert len(lines) == 2
    a, b = (trace.parse_line(line) for line in lines)
    assert a == trace.Span(10, 25, os.getpid(), "default/p", "web", True, "mount(overlay, /r)", "a b c")
    assert b is not None and b.container == "" and not b.ok and b.step == "cgroup mkdir"
    assert trace.parse_line("not a span") is None
    sink.close()
    assert not os.path.exists(sink.path)
    t.record("after", "", 1, 2)  # a closed sink writes nothing, and does not fail


def test_untraced_steps_do_nothing():
    trace.use(None)
    assert not trace.traced()
    with trace.span("unshare(CLONE_NEWNS)") as s:
        assert s is None
    trace.result(s, "ignored")
    trace.mark("execve")
    assert trace.keep_fds() == []


def test_traced_steps_time_the_block_and_record_a_failure(tmp_path):
    sink = trace.TraceSink(str(tmp_path / "x.trace"))
    trace.use(trace.PodTrace(sink, "ns/p"))
    try:
        with trace.span("probe readiness", "web") as s:
            trace.result(s, "success")
        try:
            with trace.span("pivot_root(/x)"):
                raise OSError("EINVAL")
        except OSError:
            pass
        assert trace.keep_fds() == [sink.fd()]
    finally:
        trace.use(None)
    spans = [trace.parse_line(line) for line in open(sink.path)]
    assert [(s.step, s.detail, s.ok) for s in spans if s] == [
        ("probe readiness", "success", True),
        ("pivot_root(/x)", "(failed: EINVAL)", False),
    ]
    assert all(s and s.end_ns >= s.start_ns for s in spans)
    sink.close()


def test_a_process_that_did_not_fork_from_the_daemon_resumes_its_trace(tmp_path):
    """The fork server's children learn the pod's trace through the socket
    (carry, resume), not by inheriting the daemon's memory."""
    sink = trace.TraceSink(str(tmp_path / "x.trace"))
    trace.use(trace.PodTrace(sink, "ns/p"))
    try:

        async def in_web():
            return trace.carry()

        carried = asyncio.run(trace.in_container("web", in_web()))
        with trace.span("cgroup mkdir"):
            pass
    finally:
        trace.use(None)
    assert carried == (sink.path, "ns/p", "web")

    def elsewhere() -> None:  # a fresh context, as in another process
        assert not trace.traced()
        trace.resume(carried)
        with trace.span("execve", "/bin/true"):
            pass

    contextvars.Context().run(elsewhere)
    spans = [trace.parse_line(line) for line in open(sink.path)]
    # The file was not truncated: the daemon's line is still there.
    assert [(s.step, s.pod, s.container) for s in spans if s] == [
        ("cgroup mkdir", "ns/p", ""),
        ("execve", "ns/p", "web"),
    ]
    assert trace.carry() is None and (trace.resume(None) is None)
    sink.close()


def span(start, end, container="", step="s", pod="default/p"):
    return trace.Span(start * 1_000_000, end * 1_000_000, 1, pod, container, True, step, "")


def test_the_printer_groups_by_pod_and_container_and_totals_wall_time():
    out = io.StringIO()
    p = TracePrinter(out)
    for s in (
        span(0, 5, step="create pod"),
        span(6, 7, "a", "execve"),
        span(2, 20, "a", "ran"),
        span(21, 22),
    ):
        p.add(s)
    p.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "default/p  pod"
    assert lines[1].split() == ["+", "0.0", "ms", "5.0", "ms", "create", "pod"]
    assert lines[2] == "default/p  container a"
    assert lines[5] == "default/p  pod"  # back to the pod's own steps: a new group
    assert lines[-1] == "default/p: 4 steps, total 22.0 ms"  # first start to last end, not a sum
    assert total_ns([span(0, 5), span(1, 3)]) == 5_000_000


def test_json_sorts_steps_by_start_with_seconds():
    doc = as_json({"default/p": [span(6, 7, "a", "execve"), span(0, 5, step="create pod")]})
    json.dumps(doc)
    (pod,) = doc["pods"]
    assert pod["totalSeconds"] == 0.007
    assert [s["step"] for s in pod["steps"]] == ["create pod", "execve"]
    assert pod["steps"][1] == {
        "container": "a",
        "step": "execve",
        "detail": "",
        "ok": True,
        "pid": 1,
        "startSeconds": 0.006,
        "durationSeconds": 0.001,
    }
