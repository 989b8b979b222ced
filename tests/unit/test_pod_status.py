"""A pod's phase and conditions as minipod.pod.status computes them from
the runtime record (the kubelet's getPhase and its conditions), and the
ContainerStatus shapes. Records are written here by hand, in the record
file's first format, and read as the daemon reads a file: no daemon."""

import pytest

from minipod.pod import record as rec
from minipod.pod import record_file
from minipod.pod.status import container_status, phase, pod_status

CREATED = "2026-01-01T00:00:00Z"


def ctr(name="main", state="waiting", **fields) -> dict:
    return dict({"name": name, "state": state}, **fields)


def running(name="main", **fields) -> dict:
    """Started and ready unless FIELDS say otherwise (no probes)."""
    return ctr(
        name, "running", **{"startedAt": "2026-01-01T00:00:01Z", "ready": True, "started": True, **fields}
    )


def exited(code: int, name="main", **fields) -> dict:
    return ctr(
        name,
        "terminated",
        exitCode=code,
        startedAt="2026-01-01T00:00:01Z",
        finishedAt="2026-01-01T00:00:02Z",
        **fields,
    )


def record(containers, init=(), policy="Always", **runtime) -> rec.PodRecord:
    return record_file.from_json(
        {
            "metadata": {"name": "p", "namespace": "default", "creationTimestamp": CREATED},
            "spec": {"restartPolicy": policy, "containers": [{"name": c["name"]} for c in containers]},
            "runtime": dict({"initContainers": list(init), "containers": list(containers)}, **runtime),
        }
    )


def status_of(c: dict) -> dict:
    """The ContainerStatus of one container record."""
    return container_status(record([c]).runtime.containers[0])


@pytest.mark.parametrize(
    "containers, init, policy, want",
    [
        ([ctr()], (), "Always", "Pending"),  # not started yet
        ([running()], (), "Always", "Running"),
        ([running(), ctr("b")], (), "Always", "Pending"),  # one has never started
        ([exited(0)], (), "Never", "Succeeded"),
        ([exited(1)], (), "Never", "Failed"),
        ([exited(0), exited(2, "b")], (), "Never", "Failed"),
        ([exited(0), running("b")], (), "Never", "Running"),
        ([exited(1)], (), "OnFailure", "Running"),  # it will be restarted
        ([exited(0)], (), "OnFailure", "Succeeded"),
        ([exited(0)], (), "Always", "Running"),  # Always: never done
        ([ctr(last={"exitCode": 1})], (), "Always", "Running"),  # waiting to restart: it ran
        ([ctr()], [running("init")], "Always", "Pending"),  # init containers first
        ([ctr()], [exited(1, "init")], "Never", "Failed"),  # a failed init with Never
        ([ctr()], [exited(1, "init")], "OnFailure", "Pending"),  # ... else it is retried
        ([running()], [exited(0, "init")], "Always", "Running"),
    ],
)
def test_phase(containers, init, policy, want):
    assert phase(record(containers, init, policy)) == want


def test_a_sidecar_counts_as_initialized_once_it_has_started():
    sidecar = running("proxy", sidecar=True, everStarted=True)
    assert phase(record([running()], [sidecar])) == "Running"
    # A sidecar that failed does not fail the pod, even with Never.
    assert phase(record([ctr()], [exited(1, "proxy", sidecar=True)], "Never")) == "Pending"


def conditions_of(rec) -> dict[str, dict]:
    return {c["type"]: c for c in pod_status(rec)["conditions"]}


def test_conditions_of_a_running_ready_pod():
    conds = conditions_of(record([running()]))
    assert {t: c["status"] for t, c in conds.items()} == {
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    assert all(c["lastProbeTime"] is None and "reason" not in c for c in conds.values())


def test_conditions_of_a_pod_not_ready_yet():
    conds = conditions_of(record([running(ready=False)], [exited(0, "init")]))
    assert conds["Initialized"]["status"] == "True"
    assert (conds["Ready"]["status"], conds["Ready"]["reason"]) == ("False", "ContainersNotReady")
    assert conds["ContainersReady"]["reason"] == "ContainersNotReady"
    conds = conditions_of(record([ctr()], [running("init")]))
    assert (conds["Initialized"]["status"], conds["Initialized"]["reason"]) == (
        "False",
        "ContainersNotInitialized",
    )


def test_conditions_of_a_completed_pod():
    conds = conditions_of(record([exited(0)], policy="Never"))
    assert (conds["Ready"]["status"], conds["Ready"]["reason"]) == ("False", "PodCompleted")


def test_an_unstarted_container_is_not_ready():
    # Without started (startup probe pending), ready does not count.
    conds = conditions_of(record([running(started=False)]))
    assert conds["Ready"]["status"] == "False"


def test_container_status_shapes():
    assert status_of(ctr(reason="ErrImagePull", message="no such image"))["state"] == {
        "waiting": {"reason": "ErrImagePull", "message": "no such image"}
    }
    assert status_of(ctr())["state"] == {"waiting": {"reason": "ContainerCreating"}}
    s = status_of(running(id="abc123", restartCount=2, last={"exitCode": 1, "reason": "Error"}))
    assert s["state"] == {"running": {"startedAt": "2026-01-01T00:00:01Z"}}
    assert s["lastState"] == {"terminated": {"exitCode": 1, "reason": "Error"}}
    assert (s["ready"], s["started"], s["restartCount"]) == (True, True, 2)
    assert s["containerID"] == "minipod://abc123"
    t = status_of(exited(137, id="abc", signal=9))["state"]["terminated"]
    assert t == {
        "exitCode": 137,
        "reason": "Error",
        "signal": 9,
        "startedAt": "2026-01-01T00:00:01Z",
        "finishedAt": "2026-01-01T00:00:02Z",
        "containerID": "minipod://abc",
    }
    assert status_of(exited(0))["state"]["terminated"]["reason"] == "Completed"
    assert status_of(exited(0))["ready"] is False


def test_pod_status_carries_the_ip_and_the_qos_class():
    st = pod_status(record([running()], podIP="10.0.0.5", hostIP="10.0.0.1"))
    assert st["podIP"] == "10.0.0.5" and st["podIPs"] == [{"ip": "10.0.0.5"}]
    assert st["hostIP"] == "10.0.0.1"
    assert st["qosClass"] == "BestEffort"
    assert "initContainerStatuses" not in st
