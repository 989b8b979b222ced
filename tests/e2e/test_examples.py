"""Every manifest in examples/ runs to the state its header promises.

Each example's comment header says what to look at, and ends with lines the
test reads:
    # expect: POD STATUS READY [RESTARTS]   the row `minipod get pods POD` settles on
    # check: POD CONTAINER -- SHELL         run with `minipod exec`; must exit 0
    # select: SELECTOR -> POD...            exactly these of the file's pods match
    # ready: KIND/NAME N                    a workload's ready (or a Job's
                                            succeeded) count reaches N
    # cleanup: KIND/NAME...                 deleted after the file (claims a
                                            StatefulSet leaves behind)
The example is applied as a student would (`minipod apply -f FILE`) on the
session's instance, and deleted afterwards.
"""

import json
import os
import re
from dataclasses import dataclass, field

import pytest
import yaml
from helpers.cli import rows
from helpers.host import eventually

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


@dataclass
class Expectations:
    pods: list[str]
    expect: dict[str, list[str]] = field(default_factory=dict)
    checks: list[tuple[str, str, str]] = field(default_factory=list)
    selects: list[tuple[str, set[str]]] = field(default_factory=list)
    ready: list[tuple[str, int]] = field(default_factory=list)
    cleanup: list[str] = field(default_factory=list)


def read_example(path: str) -> Expectations:
    with open(path) as f:
        text = f.read()
    docs = [d for d in yaml.safe_load_all(text) if d]
    out = Expectations(pods=[d["metadata"]["name"] for d in docs if d["kind"] == "Pod"])
    for line in text.splitlines():
        if m := re.match(r"# expect: (\S+) (.+)$", line):
            out.expect[m[1]] = m[2].split()
        elif m := re.match(r"# check: (\S+) (\S+) -- (.+)$", line):
            out.checks.append((m[1], m[2], m[3]))
        elif m := re.match(r"# select: (.+?) -> (.+)$", line):
            out.selects.append((m[1], set(m[2].split())))
        elif m := re.match(r"# ready: (\S+) (\d+)$", line):
            out.ready.append((m[1], int(m[2])))
        elif m := re.match(r"# cleanup: (.+)$", line):
            out.cleanup += m[1].split()
    return out


def example_files() -> list[str]:
    return sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".yml"))


def test_every_example_says_what_to_look_at_and_what_to_expect():
    assert len(example_files()) >= 14
    for name in example_files():
        path = os.path.join(EXAMPLES, name)
        with open(path) as f:
            assert f.readline().startswith("# "), f"{name}: no comment header"
        ex = read_example(path)
        assert "What to look at" in open(path).read(), name
        assert set(ex.pods) <= set(ex.expect), f"{name}: an expect line per pod"
        assert ex.expect or ex.ready, f"{name}: nothing to expect"


def settled(mp, pod: str, want: list[str]) -> bool:
    """Whether `get pods POD` shows STATUS and READY (and RESTARTS, if given)."""
    status, ready, *restarts = want
    row = rows(mp.run("get", "pods", pod).stdout)[pod]  # NAME READY STATUS RESTARTS AGE
    return row[1] == ready and row[2] == status and (not restarts or row[3] == restarts[0])


@pytest.mark.parametrize("name", example_files())
def test_example_runs_to_its_expected_state(mp, name):
    path = os.path.join(EXAMPLES, name)
    ex = read_example(path)
    try:
        mp.run("apply", "-f", path)
        for what, count in ex.ready:
            eventually(
                lambda what=what, count=count: ready_count(mp, what) == count, 90, f"{what}: {count} ready"
            )
        for pod, want in ex.expect.items():
            eventually(lambda pod=pod, want=want: settled(mp, pod, want), 30, f"{pod}: {' '.join(want)}")
        for pod, container, script in ex.checks:
            mp.run("exec", pod, "-c", container, "--", "sh", "-c", script)
        for selector, expected in ex.selects:
            out = mp.run("get", "pods", "-l", selector, "-o", "name").stdout.split()
            assert {n.removeprefix("pod/") for n in out} & set(ex.pods) == expected, selector
    finally:
        mp.run("delete", "-f", path, "--grace-period", "0", "--ignore-not-found", check=False)
        for what in ex.cleanup:
            mp.run("delete", *what.split("/"), "--ignore-not-found", check=False)


def ready_count(mp, what: str) -> int:
    """A Deployment's or StatefulSet's readyReplicas, a Job's succeeded."""
    kind, name = what.split("/")
    status = json.loads(mp.run("get", kind, name, "-o", "json").stdout).get("status") or {}
    return status.get("succeeded" if kind == "job" else "readyReplicas") or 0
