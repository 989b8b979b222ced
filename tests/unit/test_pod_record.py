"""The typed pod record: migration of the first release's files, the
round trip through JSON, container transitions and condition times. Pure:
no root, no daemon."""

import copy
import json
import os

from minipod.pod import record as rec
from minipod.pod import record_file, status
from minipod.pod.record import ContainerState, ExitInfo

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "pod-record-v0.json")


def v0_doc() -> dict:
    with open(FIXTURE) as f:
        return json.load(f)


def container(r: rec.PodRecord, name: str) -> rec.ContainerRecord:
    return next(c for c in r.runtime.all_containers() if c.name == name)


def test_a_first_release_record_migrates_to_the_same_status():
    doc = v0_doc()
    r = record_file.from_json(doc)
    # What the old daemon last reported is what the new one computes.
    assert status.pod_status(r) == doc["status"]
    assert "runtime" not in r.pod and "status" not in r.pod


def test_migration_keeps_every_runtime_fact():
    doc = v0_doc()
    old = doc["runtime"]
    r = record_file.from_json(doc)
    rt = r.runtime
    assert (rt.init.pid, rt.init.start) == (old["init"]["pid"], old["init"]["start"])
    assert rt.host_ip == old["hostIP"] and rt.pod_ip == old["podIP"] and rt.start_time == old["startTime"]
    assert rt.network.state == "ready" and rt.network.netns == old["network"]["netns"]
    assert rt.network.result == old["network"]["result"]
    assert rt.network.setup_seconds == old["network"]["setupSeconds"]
    assert [c.name for c in rt.init_containers] == ["prepare", "helper"]
    prepare, helper = rt.init_containers
    assert prepare.state == ContainerState.TERMINATED and prepare.exit_code == 0 and prepare.succeeded
    assert helper.sidecar and helper.state == ContainerState.RUNNING and helper.ever_started
    flaky = container(r, "flaky")
    v0 = old["containers"][1]
    assert flaky.restart_count == 2 and flaky.backoff == v0["backoff"]
    assert (flaky.process.pid, flaky.process.start) == (v0["pid"], v0["pidStart"])
    assert (flaky.monitor.pid, flaky.monitor.start) == (v0["monitorPid"], v0["monitorStart"])
    assert flaky.last is not None and flaky.last.exit_code == 3
    assert flaky.last.finished_epoch is not None
    # The previous instance's exit time, kept beside a running one, is dropped.
    assert flaky.finished_epoch is None and flaky.exit_code is None
    assert flaky.env == v0["env"] and flaky.exit_file == v0["exitFile"]


def test_migration_takes_condition_times_from_the_old_status():
    doc = v0_doc()
    doc["status"]["conditions"][1]["lastTransitionTime"] = "2026-11-26T12:32:40Z"  # Ready
    r = record_file.from_json(doc)
    assert r.runtime.conditions["Ready"] == rec.Condition(True, "2026-11-26T12:32:40Z")
    ready = next(c for c in status.pod_status(r)["conditions"] if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == "2026-11-26T12:32:40Z"


def test_a_saved_record_reads_back_equal():
    r = record_file.from_json(v0_doc())
    doc = json.loads(json.dumps(record_file.to_json(r, status.pod_status(r))))
    assert doc["runtime"]["version"] == rec.VERSION
    assert doc["status"] == status.pod_status(r)
    again = record_file.from_json(doc)
    assert again == r


def test_the_private_record_stays_out_of_the_v1_object():
    r = record_file.from_json(v0_doc())
    doc = record_file.to_json(r, status.pod_status(r))
    assert set(doc) == {"apiVersion", "kind", "metadata", "spec", "status", "runtime"}
    text = json.dumps(doc["status"])
    for private in ("finished_epoch", "finishedEpoch", "backoff", "retry", "monitor"):
        assert private not in text


def new(name="c", **spec) -> rec.ContainerRecord:
    return rec.new_container(
        dict({"name": name, "image": "busybox"}, **spec), init=False, pod_has_inits=False
    )


def test_a_new_instance_counts_a_restart_only_after_one_ran():
    c = new()
    assert c.state == ContainerState.WAITING and c.reason == "ContainerCreating"
    rec.to_starting(c, "a" * 64, "busybox", "busybox@sha256:1", None)
    assert c.restart_count == 0 and c.state == ContainerState.STARTING and c.last is None
    c.started_epoch = 100.0
    rec.to_running(c)
    rec.to_terminated(c, ExitInfo(exit_code=2, finished_epoch=105.0))
    assert c.state == ContainerState.TERMINATED and c.reason == "Error" and not c.ready
    rec.to_starting(c, "b" * 64, "busybox", "busybox@sha256:1", None)
    assert c.restart_count == 1
    assert c.last is not None and c.last.exit_code == 2 and c.last.finished_epoch == 105.0
    assert c.last.container_id == "minipod://" + "a" * 64
    assert c.exit_code is None and c.finished_epoch is None and c.reason is None


def test_a_failed_create_is_not_a_restart():
    c = new()
    rec.to_starting(c, "a" * 64, "busybox", "busybox@sha256:1", None)
    rec.to_waiting(c, "CreateContainerError", "mount failed", retry_at=10.0)
    assert c.last is None and c.retry_at == 10.0
    rec.to_starting(c, "b" * 64, "busybox", "busybox@sha256:1", None)
    assert c.restart_count == 0


def test_a_second_exit_report_is_ignored():
    c = new()
    rec.to_starting(c, "a" * 64, "busybox", "busybox@sha256:1", None)
    rec.to_terminated(c, ExitInfo(exit_code=0, finished_epoch=1.0))
    rec.to_terminated(c, ExitInfo(exit_code=137, finished_epoch=2.0, reason="ContainerStatusUnknown"))
    assert c.exit_code == 0 and c.reason == "Completed" and c.finished_epoch == 1.0


def test_crash_loop_back_off_keeps_the_exit_as_last_state():
    c = new()
    rec.to_starting(c, "a" * 64, "busybox", "busybox@sha256:1", None)
    rec.to_terminated(c, ExitInfo(exit_code=1, finished_epoch=50.0))
    rec.to_waiting(c, "CrashLoopBackOff", "back-off 10s", retry_at=60.0)
    st = status.container_status(c)
    assert st["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}}
    assert st["lastState"]["terminated"]["exitCode"] == 1
    assert st["lastState"]["terminated"]["finishedAt"] == "1970-01-01T00:00:50Z"


def test_a_failed_post_start_hook_never_counts_as_started():
    c = new()
    rec.to_starting(c, "a" * 64, "busybox", "busybox@sha256:1", None)
    rec.to_running(c, hook_failed=True)
    assert c.state == ContainerState.RUNNING and not c.ever_started


def test_condition_times_change_only_when_the_condition_does():
    rt = rec.PodRuntime()
    assert rec.note_conditions(rt, {"Ready": False, "Initialized": True}, "T0")
    assert not rec.note_conditions(rt, {"Ready": False, "Initialized": True}, "T1")
    assert rec.note_conditions(rt, {"Ready": True, "Initialized": True}, "T2")
    assert rt.conditions["Ready"] == rec.Condition(True, "T2")
    assert rt.conditions["Initialized"] == rec.Condition(True, "T0")


def test_status_reports_each_condition_at_its_own_transition():
    r = record_file.from_json(v0_doc())
    r.runtime.conditions.clear()
    created = r.metadata["creationTimestamp"]
    web = container(r, "web")
    web.ready = False
    rec.note_conditions(r.runtime, status.condition_values(r), created)
    web.ready = True
    rec.note_conditions(r.runtime, status.condition_values(r), "2026-11-26T12:32:37Z")
    conds = {c["type"]: c for c in status.pod_status(r)["conditions"]}
    assert conds["Ready"]["status"] == "True"
    assert conds["Ready"]["lastTransitionTime"] == "2026-11-26T12:32:37Z"
    assert conds["ContainersReady"]["lastTransitionTime"] == "2026-11-26T12:32:37Z"
    assert conds["Initialized"]["lastTransitionTime"] == created
    assert conds["PodScheduled"]["lastTransitionTime"] == created


def test_grace_period_is_defaulted_once():
    r = record_file.from_json(v0_doc())
    assert r.grace_period() == 5
    spec = copy.deepcopy(r.spec)
    del spec["terminationGracePeriodSeconds"]
    r.pod["spec"] = spec
    assert r.grace_period() == rec.DEFAULT_GRACE_SECONDS == 30


def test_plain_writes_what_asdict_wrote():
    """record_file.plain() replaced dataclasses.asdict() for speed: the same
    document, on a record with optional parts set too (a refusal, a
    disruption, a terminated container with its last state)."""
    import dataclasses

    r = record_file.from_json(v0_doc())
    r.runtime.refusal = rec.Refusal("Failed", "OutOfcpu", "Pod was rejected: not enough cpu")
    r.runtime.disruption = rec.Disruption("PreemptionByScheduler", "preempted", "2026-11-26T12:00:00Z")
    r.runtime.sandbox_ports = [{"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}]
    r.runtime.origin_data = {"labels": {"a": "b"}, "ports": [1, 2]}
    expected = dataclasses.asdict(r.runtime)
    assert record_file.plain(r.runtime) == expected
    assert json.dumps(record_file.plain(r.runtime), sort_keys=True) == json.dumps(expected, sort_keys=True)
