"""Decide, then act: the pure part of a pod's sync (decide.py) and the
status it leads to (status.py). No root, no daemon, no clock: every test
builds a record, says what time it is, and reads the decision."""

import pytest

from minipod.pod import decide, status
from minipod.pod import record as rec
from minipod.pod.decide import BackOffPolicy, EnterBackOff, Kill, ProbeFailure, ShowPullBackOff, Start, Wait
from minipod.pod.record import ContainerState, ExitInfo

POLICY = BackOffPolicy(base=10.0, max=300.0)
NOW = 1_000_000.0


def make_pod(*apps: str, inits=(), sidecars=(), restart="Always", **spec) -> rec.PodRecord:
    """A record of a pod whose sandbox and network are up, nothing started."""
    init_specs = [{"name": n, "image": "busybox"} for n in inits]
    init_specs += [{"name": n, "image": "busybox", "restartPolicy": "Always"} for n in sidecars]
    pod_spec = dict(spec, restartPolicy=restart, containers=[{"name": n, "image": "busybox"} for n in apps])
    if init_specs:
        pod_spec["initContainers"] = init_specs
    r = rec.PodRecord(
        pod={
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "uid": "u-1", "creationTimestamp": "T0"},
            "spec": pod_spec,
        },
        runtime=rec.PodRuntime(
            init_containers=[rec.new_container(s, True, bool(init_specs)) for s in init_specs],
            containers=[rec.new_container(s, False, bool(init_specs)) for s in pod_spec["containers"]],
        ),
    )
    r.runtime.init = rec.Process(10, 100)
    r.runtime.network.state = "ready"
    return r


def ctr(r: rec.PodRecord, name: str) -> rec.ContainerRecord:
    return next(c for c in r.runtime.all_containers() if c.name == name)


def run(c: rec.ContainerRecord, started: bool = True, ready: bool = True, at: float = NOW - 100) -> None:
    rec.to_starting(c, f"{c.name}-{c.restart_count}-{at}", "busybox", "busybox@sha256:1", None)
    c.started_epoch = at
    rec.to_running(c)
    c.started, c.ready = started, ready


def exit_(c: rec.ContainerRecord, code: int, at: float = NOW - 1) -> None:
    rec.to_terminated(c, ExitInfo(exit_code=code, finished_epoch=at))


def actions(r: rec.PodRecord, failures=None, now: float = NOW, alive: bool = True) -> decide.PodActions:
    return decide.compute_pod_actions(r, failures or {}, now, POLICY, sandbox_alive=alive)


def started(a: decide.PodActions) -> list[str]:
    return [s.container for s in a.steps if isinstance(s, Start)]


# --- the pod's own steps --------------------------------------------------------


def test_a_pod_being_deleted_is_only_terminated():
    r = make_pod("app")
    r.metadata["deletionTimestamp"] = "T1"
    a = actions(r)
    assert a.terminate and not a.steps and not a.create_sandbox


def test_a_lost_sandbox_is_made_again_before_anything_starts():
    r = make_pod("app")
    a = actions(r, alive=False)
    assert a.create_sandbox and a.create_network and not a.steps


def test_host_network_pods_need_no_network():
    r = make_pod("app", hostNetwork=True)
    r.runtime.network.state = None
    a = actions(r)
    assert not a.create_network and started(a) == ["app"]


# --- init containers and sidecars ------------------------------------------------


def test_init_containers_run_one_at_a_time_in_order():
    r = make_pod("app", inits=("one", "two"))
    assert started(actions(r)) == ["one"]
    run(ctr(r, "one"))
    assert started(actions(r)) == []  # still running: the next waits
    exit_(ctr(r, "one"), 0)
    assert started(actions(r)) == ["two"]
    run(ctr(r, "two"))
    exit_(ctr(r, "two"), 0)
    assert started(actions(r)) == ["app"]


def test_a_failed_init_container_is_retried_unless_restart_policy_is_never():
    r = make_pod("app", inits=("one",), restart="OnFailure")
    run(ctr(r, "one"))
    exit_(ctr(r, "one"), 1)
    assert started(actions(r)) == ["one"]  # first restart: immediate
    r = make_pod("app", inits=("one",), restart="Never")
    run(ctr(r, "one"))
    exit_(ctr(r, "one"), 1)
    a = actions(r)
    assert a.steps == [] and status.phase(r) == "Failed"


def test_a_sidecar_lets_the_next_init_container_go_once_started():
    r = make_pod("app", inits=("migrate",), sidecars=("proxy",))
    r.spec["initContainers"].reverse()  # proxy first, as written in a manifest
    r.runtime.init_containers.reverse()
    assert started(actions(r)) == ["proxy"]
    run(ctr(r, "proxy"), started=False)  # its startup probe has not passed
    assert started(actions(r)) == []
    ctr(r, "proxy").started = True
    assert started(actions(r)) == ["migrate"]
    run(ctr(r, "migrate"))
    exit_(ctr(r, "migrate"), 0)
    assert started(actions(r)) == ["app"]
    assert status.initialized(r)


def test_sidecars_restart_while_apps_run_and_stop_when_they_are_done():
    r = make_pod("app", sidecars=("proxy",), restart="Never")
    run(ctr(r, "proxy"))
    run(ctr(r, "app"))
    exit_(ctr(r, "proxy"), 2)
    a = actions(r)
    assert started(a) == ["proxy"] and not a.stop_sidecars
    run(ctr(r, "proxy"))
    exit_(ctr(r, "app"), 0)
    a = actions(r)
    assert a.stop_sidecars and a.steps == []
    assert status.phase(r) == "Succeeded"  # sidecars do not count


# --- restart policy and back-off ---------------------------------------------------


@pytest.mark.parametrize(
    "policy, code, restarts",
    [
        ("Always", 0, True),
        ("Always", 1, True),
        ("OnFailure", 0, False),
        ("OnFailure", 1, True),
        ("Never", 0, False),
        ("Never", 1, False),
    ],
)
def test_restart_policy(policy, code, restarts):
    r = make_pod("app", restart=policy)
    run(ctr(r, "app"))
    exit_(ctr(r, "app"), code)
    assert (started(actions(r)) == ["app"]) is restarts


def test_back_off_first_restart_immediate_then_doubling_up_to_the_cap():
    r = make_pod("app")
    c = ctr(r, "app")
    run(c)
    exit_(c, 1, at=NOW)
    a = actions(r)
    assert a.steps == [Start("app", False, backoff=10.0)]  # immediate; the next waits 10 s
    waits = []
    now = NOW
    for _ in range(7):
        c.backoff, c.backoff_updated = a.steps[0].backoff, now
        run(c, at=now)
        exit_(c, 1, at=now + 1)
        now += 1
        a = actions(r, now=now)
        (step,) = a.steps
        assert isinstance(step, EnterBackOff) and a.wake_at == step.until
        assert step.message.startswith(
            f"back-off {c.backoff:g}s restarting failed container=app pod=p_default("
        )
        waits.append(step.until - now)
        rec.to_waiting(c, "CrashLoopBackOff", step.message, retry_at=step.until)
        assert actions(r, now=step.until - 0.5).steps == [Wait("app", False, step.until)]
        now = step.until
        a = actions(r, now=now)
        assert started(a) == ["app"]
    assert waits == [10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]


def test_back_off_resets_after_running_twice_the_cap():
    r = make_pod("app")
    c = ctr(r, "app")
    c.backoff, c.backoff_updated = 160.0, NOW - 1000
    run(c, at=NOW - 990)
    exit_(c, 1, at=NOW)  # ran well over 10 min since the last back-off
    assert actions(r).steps == [Start("app", False, backoff=10.0)]


def test_a_failed_pull_shows_image_pull_back_off_until_its_retry():
    r = make_pod("app")
    c = ctr(r, "app")
    rec.to_waiting(c, "ErrImagePull", "not found", retry_at=NOW + 5)
    a = actions(r)
    assert a.steps == [ShowPullBackOff("app", False, NOW + 5)] and a.wake_at == NOW + 5
    assert started(actions(r, now=NOW + 5)) == ["app"]


# --- probes -------------------------------------------------------------------------


def test_a_failed_liveness_probe_kills_with_the_probes_grace_period():
    r = make_pod("app", "other", terminationGracePeriodSeconds=20)
    run(ctr(r, "app"))
    run(ctr(r, "other"))
    app_id = ctr(r, "app").id
    failure = ProbeFailure("Container app failed liveness probe, will be restarted")
    assert actions(r, {app_id: failure}).kills == [Kill("app", False, failure.message, 20)]
    failure = ProbeFailure("Container app failed startup probe, will be restarted", grace=3)
    assert actions(r, {app_id: failure}).kills[0].grace == 3
    # A report about an instance that is gone kills nothing.
    assert actions(r, {"old-instance": failure}).kills == []


# --- phase and conditions -------------------------------------------------------------


def test_phase_follows_get_phase():
    r = make_pod("a", "b", restart="OnFailure")
    assert status.phase(r) == "Pending"
    run(ctr(r, "a"))
    assert status.phase(r) == "Pending"  # b has not started
    run(ctr(r, "b"))
    assert status.phase(r) == "Running"
    exit_(ctr(r, "a"), 0)
    exit_(ctr(r, "b"), 1)
    assert status.phase(r) == "Running"  # OnFailure: b will run again
    r.spec["restartPolicy"] = "Never"
    assert status.phase(r) == "Failed"
    ctr(r, "b").exit_code = 0
    assert status.phase(r) == "Succeeded"


def test_conditions_values():
    r = make_pod("app", inits=("one",))
    assert status.condition_values(r) == {
        "PodScheduled": True,
        "Initialized": False,
        "ContainersReady": False,
        "Ready": False,
    }
    run(ctr(r, "one"))
    exit_(ctr(r, "one"), 0)
    run(ctr(r, "app"), ready=False)
    assert status.condition_values(r)["Initialized"] and not status.condition_values(r)["Ready"]
    ctr(r, "app").ready = True
    assert status.condition_values(r)["Ready"] and status.condition_values(r)["ContainersReady"]
    conds = {c["type"]: c for c in status.conditions(r, "Running")}
    assert conds["Ready"]["status"] == "True" and "reason" not in conds["Ready"]
    ctr(r, "app").ready = False
    conds = {c["type"]: c for c in status.conditions(r, "Running")}
    assert conds["Ready"]["reason"] == "ContainersNotReady"
    exit_(ctr(r, "app"), 0)
    conds = {c["type"]: c for c in status.conditions(r, "Succeeded")}
    assert conds["Ready"]["reason"] == "PodCompleted"


def test_container_states_in_the_status():
    r = make_pod("app", inits=("one",))
    assert status.container_status(ctr(r, "app"))["state"] == {"waiting": {"reason": "PodInitializing"}}
    c = ctr(r, "one")
    run(c, at=0)
    assert status.container_status(c)["state"] == {"running": {"startedAt": "1970-01-01T00:00:00Z"}}
    exit_(c, 137, at=61)
    c.signal = 9
    t = status.container_status(c)["state"]["terminated"]
    assert t["exitCode"] == 137 and t["signal"] == 9 and t["reason"] == "Error"
    assert t["finishedAt"] == "1970-01-01T00:01:01Z" and t["containerID"] == f"minipod://{c.id}"
    assert c.state == ContainerState.TERMINATED


def test_label_selectors():
    from minipod.kube.selectors import parse_selector

    labels = {"app": "web", "tier": "front"}
    assert parse_selector("app=web")(labels) and parse_selector("app==web,tier")(labels)
    assert not parse_selector("app!=web")(labels) and parse_selector("app!=db")(labels)
    assert parse_selector("!canary")(labels) and not parse_selector("!tier")(labels)
    assert parse_selector("")(labels)


def test_a_restart_being_made_waits_with_no_reason():
    r = make_pod("app")
    c = ctr(r, "app")
    rec.to_starting(c, "a" * 64, "busybox", "busybox@sha256:1", None)
    assert status.container_status(c)["state"] == {"waiting": {"reason": "ContainerCreating"}}  # first start
    run(c)
    exit_(c, 1)
    rec.to_starting(c, "b" * 64, "busybox", "busybox@sha256:1", None)
    st = status.container_status(c)
    assert st["state"] == {"waiting": {}} and st["lastState"]["terminated"]["exitCode"] == 1


def test_held_containers_stopped_and_lost_sandboxes_are_left_to_their_creator():
    """A pod built by a front door that drives each step (the CRI)."""
    r = make_pod("app", "later", restart="Never")
    ctr(r, "later").held = True
    assert started(actions(r)) == ["app"]
    r.runtime.init = rec.Process(123, 1)
    r.runtime.remake_lost_sandbox = False
    a = actions(r, alive=False)
    assert not a.create_sandbox and not a.steps
    r.runtime.remake_lost_sandbox, r.runtime.stopped = True, True
    a = actions(r, alive=False)
    assert not a.create_sandbox and not a.steps
