"""`kubectl get pods` columns, checked against kubectl's printing rules
(printPod in kubectl's table printer), without a daemon."""

import calendar
import time

import pytest

from minipod.cli.pod_columns import human_duration, pod_columns

NOW = calendar.timegm(time.strptime("2024-05-01T12:00:00", "%Y-%m-%dT%H:%M:%S"))


def ago(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - seconds))


def cs(name, state, restarts=0, ready=False, started=None, last_finished=None):
    out = {"name": name, "state": state, "restartCount": restarts, "ready": ready}
    if started is not None:
        out["started"] = started
    if last_finished is not None:
        out["lastState"] = {
            "terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(last_finished)}
        }
    return out


RUNNING = {"running": {"startedAt": "2024-05-01T11:00:00Z"}}


def make(containers, statuses, inits=(), init_statuses=(), phase="Running", conditions=(), **meta):
    return {
        "metadata": {"name": "p", "namespace": "default", "creationTimestamp": ago(3600), **meta},
        "spec": {"containers": [{"name": n} for n in containers], "initContainers": list(inits)},
        "status": {
            "phase": phase,
            "conditions": [{"type": t, "status": s} for t, s in conditions],
            "containerStatuses": statuses,
            "initContainerStatuses": list(init_statuses),
        },
    }


@pytest.mark.parametrize(
    "seconds, text",
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (125, "2m5s"),
        (599, "9m59s"),
        (600, "10m"),
        (3 * 3600 - 1, "179m"),
        (3 * 3600, "3h"),
        (5 * 3600 + 3 * 60, "5h3m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (52 * 3600, "2d4h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (2 * 365 * 86400 + 5 * 86400, "2y5d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


def test_restarts_include_init_containers_and_the_last_restart_age():
    # An init container that failed once and now backs off: kubectl counts it.
    pod = make(
        ["app"],
        [cs("app", {"waiting": {"reason": "PodInitializing"}})],
        inits=[{"name": "setup"}],
        init_statuses=[cs("setup", {"waiting": {"reason": "CrashLoopBackOff"}}, 1, last_finished=120)],
        phase="Pending",
    )
    col = pod_columns(pod, NOW)
    assert (col.ready, col.status, col.restarts) == ("0/1", "Init:CrashLoopBackOff", "1 (2m ago)")


def test_restarts_sum_app_containers_with_the_latest_restart():
    pod = make(
        ["a", "b"],
        [cs("a", RUNNING, 2, True, last_finished=600), cs("b", RUNNING, 3, True, last_finished=125)],
        conditions=[("Ready", "True")],
    )
    col = pod_columns(pod, NOW)
    assert (col.ready, col.status, col.restarts, col.age) == ("2/2", "Running", "5 (2m5s ago)", "60m")


def test_no_restarts_prints_a_bare_zero():
    col = pod_columns(make(["a"], [cs("a", RUNNING, 0, True)]), NOW)
    assert col.restarts == "0"


def test_init_restarts_are_dropped_once_initialized_unless_sidecars():
    # Plain init containers' restarts stop counting once the pod is
    # initialized; a sidecar's keep counting, and it is one of READY's.
    pod = make(
        ["app"],
        [cs("app", RUNNING, 1, True, last_finished=300)],
        inits=[{"name": "setup"}, {"name": "proxy", "restartPolicy": "Always"}],
        init_statuses=[
            cs("setup", {"terminated": {"exitCode": 0, "reason": "Completed"}}, 4, last_finished=900),
            cs("proxy", RUNNING, 2, True, started=True, last_finished=60),
        ],
        conditions=[("Initialized", "True"), ("Ready", "True")],
    )
    col = pod_columns(pod, NOW)
    assert (col.ready, col.status, col.restarts) == ("2/2", "Running", "3 (60s ago)")


@pytest.mark.parametrize(
    "init_states, status",
    [
        (
            [{"waiting": {"reason": "PodInitializing"}}, {"waiting": {"reason": "PodInitializing"}}],
            "Init:0/2",
        ),
        ([{"terminated": {"exitCode": 0, "reason": "Completed"}}, RUNNING], "Init:1/2"),
        ([{"terminated": {"exitCode": 1, "reason": "Error"}}, {"waiting": {}}], "Init:Error"),
        ([{"terminated": {"exitCode": 3}}, {"waiting": {}}], "Init:ExitCode:3"),
        ([{"terminated": {"exitCode": 137, "signal": 9}}, {"waiting": {}}], "Init:Signal:9"),
    ],
)
def test_init_status(init_states, status):
    pod = make(
        ["app"],
        [cs("app", {"waiting": {"reason": "PodInitializing"}})],
        inits=[{"name": "i0"}, {"name": "i1"}],
        init_statuses=[cs(f"i{n}", s) for n, s in enumerate(init_states)],
        phase="Pending",
    )
    assert pod_columns(pod, NOW).status == status


def test_completed_beside_a_running_container_is_running_or_not_ready():
    statuses = [cs("a", {"terminated": {"exitCode": 0, "reason": "Completed"}}), cs("b", RUNNING, 0, True)]
    ready = make(["a", "b"], list(statuses), conditions=[("Ready", "True")])
    not_ready = make(["a", "b"], list(statuses), conditions=[("Ready", "False")])
    # kubectl walks the containers last first: "a" sets Completed.
    assert pod_columns(ready, NOW).status == "Running"
    assert pod_columns(not_ready, NOW).status == "NotReady"


def test_terminating_only_while_the_phase_is_not_final():
    running = make(["a"], [cs("a", RUNNING, 0, True)], deletionTimestamp=ago(1))
    done = make(
        ["a"],
        [cs("a", {"terminated": {"exitCode": 0, "reason": "Completed"}})],
        phase="Succeeded",
        deletionTimestamp=ago(1),
    )
    assert pod_columns(running, NOW).status == "Terminating"
    assert pod_columns(done, NOW).status == "Completed"


def test_unscheduled_pod_and_wide_columns():
    pod = make(["a", "b"], [], phase="Pending", conditions=[("PodScheduled", "False")])
    col = pod_columns(pod, NOW)
    assert (col.ready, col.status, col.restarts) == ("0/2", "Pending", "0")
    assert (col.ip, col.node, col.nominated_node, col.readiness_gates) == ("<none>",) * 4
    pod["spec"].update(nodeName="node-1", readinessGates=[{"conditionType": "x/y"}])
    pod["status"].update(podIPs=[{"ip": "10.0.0.7"}], podIP="10.0.0.7")
    pod["status"]["conditions"].append({"type": "x/y", "status": "True"})
    col = pod_columns(pod, NOW)
    assert (col.ip, col.node, col.readiness_gates) == ("10.0.0.7", "node-1", "1/1")


def test_status_reason_and_scheduling_gated():
    pod = make(["a"], [], phase="Failed")
    pod["status"]["reason"] = "Evicted"
    assert pod_columns(pod, NOW).status == "Evicted"
    gated = make(["a"], [], phase="Pending")
    gated["status"]["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]
    assert pod_columns(gated, NOW).status == "SchedulingGated"
