"""The controllers' pure parts (minipod.controllers): the work queue, what a
controller reads from a pod, claims, the pod-template-hash and the rollout
arithmetic, checked without a daemon."""

import asyncio

from minipod.controllers import pods_state
from minipod.controllers import rollout_math as rm
from minipod.controllers.owners import decide_claims, owner_ref, with_owner
from minipod.controllers.queue import WorkQueue, retry_delay
from minipod.controllers.replicaset import pod_from_template, replica_status
from minipod.controllers.template_hash import SAFE_ALPHABET, compute_hash, fnv32a, safe_encode, without_hash
from minipod.kube.label_selector import format_selector, matches
from minipod.kube.times import rfc3339


def test_queue_deduplicates_and_requeues_a_key_added_while_processing():
    async def run():
        q = WorkQueue()
        q.add("a")
        q.add("b")
        q.add("a")
        assert len(q) == 2
        key = await q.get()
        assert key == "a"
        q.add("a")  # changed while being worked on: not handed out twice
        assert await q.get() == "b"
        assert len(q) == 0
        q.done("a")
        assert await q.get() == "a"

    asyncio.run(run())


def test_queue_add_after_and_rate_limited_retries():
    async def run():
        q = WorkQueue()
        q.add_after("k", 0.05)
        assert len(q) == 0
        assert await asyncio.wait_for(q.get(), 2) == "k"
        q.done("k")
        q.add_rate_limited("k")
        q.add_rate_limited("k")
        assert q.failures["k"] == 2
        q.forget("k")
        assert "k" not in q.failures
        q.close()

    asyncio.run(run())
    assert retry_delay(1) == 0.005 and retry_delay(2) == 0.01 and retry_delay(100) == 60.0


def pod(name, phase="Running", ready=True, since=100.0, restarts=0, created=50.0, node="n", deleting=False):
    status = {
        "phase": phase,
        "conditions": [
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": rfc3339(since)}
        ],
        "containerStatuses": [{"restartCount": restarts}],
    }
    meta = {"name": name, "creationTimestamp": rfc3339(created), "labels": {"app": "w"}}
    if deleting:
        meta["deletionTimestamp"] = rfc3339(0)
    return {"metadata": meta, "spec": {"nodeName": node}, "status": status}


def test_deletion_order_is_the_controllers():
    pods = [
        pod("old-ready", since=10),
        pod("pending", phase="Pending", ready=False),
        pod("not-ready", ready=False),
        pod("new-ready", since=90),
        pod("restarted", since=10, restarts=3),
        pod("unassigned", node=""),
    ]
    order = [p["metadata"]["name"] for p in pods_state.deletion_order(pods)]
    assert order == ["unassigned", "pending", "not-ready", "new-ready", "restarted", "old-ready"]


def test_availability_waits_for_min_ready_seconds():
    p = pod("p", since=100)
    assert pods_state.is_available(p, 0, 101)
    assert not pods_state.is_available(p, 10, 105)
    assert pods_state.is_available(p, 10, 111)
    assert pods_state.available_in(p, 10, 105) == 5
    assert not pods_state.is_active(pod("d", deleting=True))
    assert not pods_state.is_active(pod("f", phase="Failed"))


def rs(name="w-abc", replicas=3, uid="rs-uid", selector=None):
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default", "uid": uid, "generation": 2},
        "spec": {
            "replicas": replicas,
            "selector": selector or {"matchLabels": {"app": "w"}},
            "template": {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [{"name": "c"}]}},
        },
    }


def test_claims_adopt_matching_orphans_and_release_what_stopped_matching():
    owner = rs()
    mine = with_owner(pod("mine"), owner_ref(owner))
    strayed = with_owner(pod("strayed"), owner_ref(owner))
    strayed["metadata"]["labels"] = {"app": "other"}
    orphan = pod("orphan")
    others = with_owner(pod("others"), dict(owner_ref(owner), uid="x"))
    owned, adopt, release = decide_claims(owner, [mine, strayed, orphan, others, pod("gone", deleting=True)])
    assert [p["metadata"]["name"] for p in owned] == ["mine"]
    assert [p["metadata"]["name"] for p in adopt] == ["orphan"]
    assert [p["metadata"]["name"] for p in release] == ["strayed"]
    assert "ownerReferences" not in with_owner(mine, None, "rs-uid")["metadata"]


def test_pod_from_template_and_status():
    owner = rs()
    p = pod_from_template(owner)
    assert p["metadata"]["generateName"] == "w-abc-"
    assert p["metadata"]["ownerReferences"][0] == {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "w-abc",
        "uid": "rs-uid",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    status = replica_status(owner, [pod("a"), pod("b", ready=False)], 1000)
    assert status == {
        "replicas": 2,
        "fullyLabeledReplicas": 2,
        "readyReplicas": 1,
        "availableReplicas": 1,
        "observedGeneration": 2,
    }


def test_pod_template_hash_is_fnv32a_in_the_safe_alphabet():
    assert fnv32a(b"") == 0x811C9DC5
    assert fnv32a(b"a") == 0xE40C292C  # the FNV-1a test vector
    assert safe_encode("0123") == "".join(SAFE_ALPHABET[b % 27] for b in b"0123")
    t = {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    h = compute_hash(t)
    assert h == compute_hash(t) and set(h) <= set(SAFE_ALPHABET) and 1 <= len(h) <= 10
    assert compute_hash(t, 1) != h
    labelled = {"metadata": {"labels": {"app": "w", "pod-template-hash": h}}, "spec": t["spec"]}
    assert without_hash(labelled) == t


def deployment(replicas=10, surge="25%", unavailable="25%", rolling=True, **spec):
    strategy = (
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
        if rolling
        else {"type": "Recreate"}
    )
    return {
        "metadata": {"name": "d"},
        "spec": dict(replicas=replicas, strategy=strategy, **spec),
        "status": {},
    }


def test_fenceposts_round_surge_up_and_unavailable_down():
    assert rm.fenceposts(deployment(10)) == (3, 2)
    assert rm.fenceposts(deployment(3)) == (1, 0)
    assert rm.fenceposts(deployment(3, surge=0, unavailable=0)) == (0, 1)
    assert rm.fenceposts(deployment(4, surge=2, unavailable="50%")) == (2, 2)
    assert rm.max_unavailable(deployment(3, unavailable=5)) == 3
    assert rm.max_surge(deployment(3, rolling=False)) == 0


def sized(name, replicas, available, created=0.0):
    r = rs(name, replicas)
    r["metadata"]["creationTimestamp"] = rfc3339(created)
    r["status"] = {"replicas": replicas, "availableReplicas": available}
    return r


def test_rolling_update_with_surge_one_and_no_unavailable_steps():
    d = deployment(3, surge=1, unavailable=0)
    old, new = sized("old", 3, 3), sized("new", 0, 0, 10)
    assert rm.new_rs_replicas(d, [old, new], new) == 1  # one extra pod at most
    new = sized("new", 1, 0, 10)
    assert rm.new_rs_replicas(d, [old, new], new) == 1
    assert rm.scale_down_old(d, [old], new) == {}  # the new pod is not available yet
    new = sized("new", 1, 1, 10)
    assert rm.scale_down_old(d, [old], new) == {"old": 2}
    old = sized("old", 2, 2)
    assert rm.new_rs_replicas(d, [old, new], new) == 2


def test_unhealthy_old_pods_go_first():
    old = sized("old", 4, 2)  # two of its pods are not available
    new = sized("new", 0, 0, 10)
    assert rm.scale_down_old(deployment(4, surge=0, unavailable=1), [old], new) == {"old": 3}
    assert rm.scale_down_old(deployment(4, surge=0, unavailable=2), [old], new) == {"old": 2}


def test_proportional_scaling_during_a_rollout():
    d = deployment(20, surge=3, unavailable=2)
    a, b = sized("a", 8, 8), sized("b", 5, 0, 10)
    for r in (a, b):
        r["metadata"]["annotations"] = {rm.MAX: "13"}
    assert rm.proportional(d, [a, b]) == {"a": 14, "b": 9}


def test_history_keeps_revision_history_limit_empty_sets():
    d = deployment(3, revisionHistoryLimit=1)
    olds = []
    for i in range(3):
        r = sized(f"r{i}", 0, 0, i)
        r["metadata"]["annotations"] = {rm.REVISION: str(i + 1)}
        r["status"]["observedGeneration"] = 2
        olds.append(r)
    assert [r["metadata"]["name"] for r in rm.history_to_delete(d, olds)] == ["r0", "r1"]


def test_label_selector_objects():
    sel = {
        "matchLabels": {"app": "w"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["b", "a"]},
            {"key": "x", "operator": "DoesNotExist"},
        ],
    }
    assert format_selector(sel) == "app=w,tier in (a,b),!x"
    assert matches(sel, {"app": "w", "tier": "a"})
    assert not matches(sel, {"app": "w", "tier": "a", "x": "1"})
    assert format_selector({}) == "<none>"


def dep_with_status(status=None, generation=2, **spec):
    d = deployment(3, surge=1, unavailable=0, progressDeadlineSeconds=10, **spec)
    d["metadata"]["generation"] = generation
    d["status"] = status or {}
    return d


def test_status_counts_and_the_available_condition():
    from minipod.controllers import deployment_status as ds

    old, new = sized("old", 2, 2), sized("new", 2, 1, 10)
    for r, ready in ((old, 2), (new, 1)):
        r["status"]["readyReplicas"] = ready
    s = ds.calculate(dep_with_status(), [old, new], new, 1000)
    assert {k: s[k] for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")} == {
        "replicas": 4,
        "updatedReplicas": 2,
        "readyReplicas": 3,
        "availableReplicas": 3,
    }
    assert s["unavailableReplicas"] == 1 and s["observedGeneration"] == 2
    available = ds.condition(s, "Available")
    assert (available["status"], available["reason"]) == ("True", "MinimumReplicasAvailable")
    s = ds.calculate(dep_with_status(), [sized("only", 3, 2)], None, 1000)
    assert ds.condition(s, "Available")["reason"] == "MinimumReplicasUnavailable"


def test_progressing_then_deadline_exceeded_then_complete():
    from minipod.controllers import deployment_status as ds

    new = sized("web-abc", 1, 0, 10)
    old = sized("old", 3, 3)
    d = dep_with_status({"replicas": 3, "updatedReplicas": 0, "availableReplicas": 3})
    s = ds.calculate(d, [old, new], new, 1000)
    ds.progress(d, s, new, 1000)
    cond = ds.condition(s, "Progressing")
    assert (cond["status"], cond["reason"]) == ("True", "ReplicaSetUpdated")
    assert cond["message"] == 'ReplicaSet "web-abc" is progressing.'
    assert 10 <= ds.check_again(d, s, 1000) <= 11  # when the deadline would pass
    # nothing moves for longer than progressDeadlineSeconds
    d = dep_with_status(s)
    s = ds.calculate(d, [old, new], new, 1011)
    ds.progress(d, s, new, 1011)
    cond = ds.condition(s, "Progressing")
    assert (cond["status"], cond["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert cond["message"] == 'ReplicaSet "web-abc" has timed out progressing.'
    assert ds.check_again(d, s, 1011) is None
    # the rollout completes
    done = sized("web-abc", 3, 3, 10)
    d = dep_with_status(s)
    s = ds.calculate(d, [sized("old", 0, 0), done], done, 1020)
    ds.progress(d, s, done, 1020)
    cond = ds.condition(s, "Progressing")
    assert (cond["status"], cond["reason"]) == ("True", "NewReplicaSetAvailable")
    assert cond["message"] == 'ReplicaSet "web-abc" has successfully progressed.'


def test_paused_and_resumed_conditions():
    from minipod.controllers import deployment_status as ds

    d = dep_with_status(paused=True)
    s: dict = {}
    ds.paused_condition(d, s, 1000)
    assert ds.condition(s, "Progressing")["reason"] == "DeploymentPaused"
    ds.paused_condition(dep_with_status(), s, 1001)
    cond = ds.condition(s, "Progressing")
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "Unknown",
        "DeploymentResumed",
        "Deployment is resumed",
    )
