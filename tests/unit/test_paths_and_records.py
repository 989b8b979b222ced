"""Issue 11, defect 1: paths are built from names through one function that
never leaves its base, and a restarted daemon can tell a record it cannot place."""

import pytest

from minipod.paths import UnsafePath, object_file, path_in
from minipod.pod.record_check import misplaced_record_problem


@pytest.mark.parametrize("bad", ["..", ".", "", "a/b", "../..", "x\0y", "/etc", "a" * 256])
def test_path_in_refuses_names_that_leave_the_base(bad):
    with pytest.raises(UnsafePath):
        path_in("/var/lib/minipod/pods", bad)
    with pytest.raises(UnsafePath):
        path_in("/var/lib/minipod/logs", "ok", bad)


def test_path_in_accepts_plain_names():
    assert path_in("/b", "default_web.json") == "/b/default_web.json"
    assert path_in("/b", "ns_pod_uid", "ctr", "0.log") == "/b/ns_pod_uid/ctr/0.log"
    assert path_in("/b", "..a") == "/b/..a"  # dots inside a name are fine


def record(ns="default", name="web"):
    return {"metadata": {"namespace": ns, "name": name, "uid": "u"}, "runtime": {}}


def test_a_placeable_record():
    assert misplaced_record_problem(object_file("default", "web"), record()) is None


@pytest.mark.parametrize(
    "entry, rec, says",
    [
        ("default_web.json", record(ns="../.."), "namespace"),
        ("default_web.json", record(ns="Caps"), "namespace"),
        ("default_web.json", record(name="a/b"), "name"),
        ("other_web.json", record(), "whose file would be default_web.json"),
        ("default_web.json", [1, 2], "not a pod record"),
        ("default_web.json", None, "not a pod record"),
        ("default_web.txt", record(), "not a pod state file"),
        ("default_web.json", {"metadata": {"namespace": "default", "name": "web"}}, "no uid"),
    ],
)
def test_records_that_cannot_be_placed_say_why(entry, rec, says):
    problem = misplaced_record_problem(entry, rec)
    assert problem and says in problem, problem
