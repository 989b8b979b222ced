"""The scheduler's filters as pure functions: node affinity, taints and
tolerations, inter-pod affinity, topology spread, preemption."""

import pytest

from minipod.kube import node_affinity, pod_affinity, preemption, taints


def pod(name="p", ns="default", labels=None, **spec) -> dict:
    return {"metadata": {"name": name, "namespace": ns, "labels": labels or {}}, "spec": spec}


def required(*terms) -> dict:
    return {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}
    }


NODE = {"kubernetes.io/hostname": "n1", "cores": "8", "zone": "a"}


@pytest.mark.parametrize(
    "expr, ok",
    [
        ({"key": "cores", "operator": "Gt", "values": ["4"]}, True),
        ({"key": "cores", "operator": "Lt", "values": ["4"]}, False),
        ({"key": "zone", "operator": "Gt", "values": ["4"]}, False),  # not an integer
        ({"key": "zone", "operator": "In", "values": ["a", "b"]}, True),
        ({"key": "zone", "operator": "NotIn", "values": ["a"]}, False),
        ({"key": "gpu", "operator": "DoesNotExist"}, True),
        ({"key": "gpu", "operator": "Exists"}, False),
    ],
)
def test_node_affinity_operators(expr, ok):
    assert node_affinity.accepts(pod(affinity=required({"matchExpressions": [expr]})), "n1", NODE) is ok


def test_terms_are_ored_and_match_fields_names_the_node():
    other = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}
    mine = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}
    assert not node_affinity.accepts(pod(affinity=required(other)), "n1", NODE)
    assert node_affinity.accepts(pod(affinity=required(other, mine)), "n1", NODE)
    assert not node_affinity.accepts(pod(affinity=required({})), "n1", NODE)  # an empty term matches nothing
    assert not node_affinity.accepts(pod(nodeSelector={"zone": "b"}), "n1", NODE)


def test_tolerations():
    taint = {"key": "k", "value": "v", "effect": "NoSchedule"}
    assert taints.tolerates({"key": "k", "operator": "Equal", "value": "v"}, taint)
    assert taints.tolerates({"key": "k", "operator": "Exists"}, taint)
    assert taints.tolerates({"operator": "Exists"}, taint)  # tolerates everything
    assert not taints.tolerates({"key": "k", "value": "w"}, taint)
    assert not taints.tolerates({"key": "k", "operator": "Exists", "effect": "NoExecute"}, taint)
    prefer = {"key": "p", "effect": "PreferNoSchedule"}
    assert taints.untolerated(pod(), [prefer]) is None  # only ranks nodes
    assert taints.untolerated(pod(), [prefer, taint]) is taint
    assert taints.taint_reason(taint) == "node(s) had untolerated taint {k: v}"


def test_no_execute_eviction_delay():
    taint = {"key": "k", "effect": "NoExecute"}
    assert taints.eviction_delay(pod(), [taint]) == 0
    forever = {"key": "k", "operator": "Exists", "effect": "NoExecute"}
    assert taints.eviction_delay(pod(tolerations=[forever]), [taint]) is None
    bounded = dict(forever, tolerationSeconds=30)
    shorter = dict(forever, tolerationSeconds=5)
    assert taints.eviction_delay(pod(tolerations=[bounded, shorter]), [taint]) == 5
    assert taints.eviction_delay(pod(), [{"key": "x", "effect": "NoSchedule"}]) is None


def term(labels: dict, key="kubernetes.io/hostname", **extra) -> dict:
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": key, **extra}


def test_pod_affinity_first_of_a_group_and_partners():
    web = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term({"app": "web"})]}}
    first = pod(labels={"app": "web"}, affinity=web)
    assert pod_affinity.affinity_reason(first, NODE, [], {}) is None  # matches its own term
    loner = pod(labels={"app": "other"}, affinity=web)
    assert pod_affinity.affinity_reason(loner, NODE, [], {}) == pod_affinity.AFFINITY
    assert pod_affinity.affinity_reason(loner, NODE, [pod("w", labels={"app": "web"})], {}) is None
    # Another namespace is out of scope unless the term names it.
    elsewhere = [pod("w", ns="team", labels={"app": "web"})]
    assert pod_affinity.affinity_reason(loner, NODE, elsewhere, {}) == pod_affinity.AFFINITY
    by_label = {
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                term({"app": "web"}, namespaceSelector={"matchLabels": {"team": "yes"}})
            ]
        }
    }
    assert (
        pod_affinity.affinity_reason(pod(affinity=by_label), NODE, elsewhere, {"team": {"team": "yes"}})
        is None
    )
    missing_key = {
        "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term({"app": "web"}, "rack")]}
    }
    assert (
        pod_affinity.affinity_reason(pod(affinity=missing_key), NODE, elsewhere, {}) == pod_affinity.AFFINITY
    )


def test_anti_affinity_both_ways_and_match_label_keys():
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term({"app": "db"})]}}
    existing = [pod("db-0", labels={"app": "db"})]
    assert (
        pod_affinity.affinity_reason(pod(labels={"app": "db"}, affinity=anti), NODE, existing, {})
        == pod_affinity.ANTI
    )
    guarded = [pod("db-0", labels={"app": "db"}, affinity=anti)]
    assert (
        pod_affinity.affinity_reason(pod(labels={"app": "db"}), NODE, guarded, {})
        == pod_affinity.EXISTING_ANTI
    )
    assert pod_affinity.affinity_reason(pod(labels={"app": "web"}), NODE, guarded, {}) is None
    # matchLabelKeys narrows the term to pods of the same revision.
    per_rev = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [term({"app": "db"}, matchLabelKeys=["rev"])]
        }
    }
    old = [pod("db-0", labels={"app": "db", "rev": "1"})]
    new = pod(labels={"app": "db", "rev": "2"}, affinity=per_rev)
    assert pod_affinity.affinity_reason(new, NODE, old, {}) is None


def test_topology_spread():
    c = {
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "labelSelector": {"matchLabels": {"app": "s"}},
    }
    existing = [pod("s-0", labels={"app": "s"})]
    me = pod(labels={"app": "s"}, topologySpreadConstraints=[c])
    assert pod_affinity.spread_reason(me, NODE, existing) is None  # one domain: skew stays 1
    two = pod(labels={"app": "s"}, topologySpreadConstraints=[dict(c, minDomains=2)])
    assert pod_affinity.spread_reason(two, NODE, existing) == pod_affinity.SPREAD
    assert pod_affinity.spread_reason(two, NODE, []) is None
    rack = pod(labels={"app": "s"}, topologySpreadConstraints=[dict(c, topologyKey="rack")])
    assert pod_affinity.spread_reason(rack, NODE, []) == pod_affinity.SPREAD_LABEL
    anyway = pod(
        labels={"app": "s"},
        topologySpreadConstraints=[dict(c, minDomains=2, whenUnsatisfiable="ScheduleAnyway")],
    )
    assert pod_affinity.spread_reason(anyway, NODE, existing) is None


def running(name, prio, memory, started=0.0):
    return preemption.Running(("default", name), prio, {"memory": memory}, started)


def test_preemption_picks_the_fewest_lowest_victims():
    node = {"memory": 100, "pods": 10}
    pods = [running("a", 1, 40), running("b", 5, 40), running("c", 100, 10)]
    victims = preemption.select_victims(10, "PreemptLowerPriority", {"memory": 45}, node, pods)
    # Either lower pod would make room: b, the more important, is reprieved first.
    assert [v.key[1] for v in victims] == ["a"]
    assert preemption.select_victims(10, "Never", {"memory": 45}, node, pods) is None
    assert (
        preemption.select_victims(10, "PreemptLowerPriority", {"memory": 95}, node, pods) is None
    )  # c stays
    assert preemption.select_victims(0, "PreemptLowerPriority", {"memory": 45}, node, pods) is None


def test_label_and_taint_arguments_as_kubectl_reads_them():
    from minipod.cli.label_commands import new_labels, new_taints
    from minipod.errors import MinipodError

    assert new_labels({"a": "1"}, ("b=2", "a-"), False) == {"b": "2", "a": None}
    with pytest.raises(MinipodError, match="--overwrite is false"):
        new_labels({"a": "1"}, ("a=2",), False)
    assert new_labels({"a": "1"}, ("a=2",), True) == {"a": "2"}
    t = new_taints([], ("dedicated=gpu:NoSchedule", "maint:NoExecute"))
    assert t == [
        {"key": "dedicated", "effect": "NoSchedule", "value": "gpu"},
        {"key": "maint", "effect": "NoExecute"},
    ]
    assert new_taints(t, ("dedicated-",)) == [{"key": "maint", "effect": "NoExecute"}]
    with pytest.raises(MinipodError, match='taint "maint" not found'):
        new_taints(t, ("maint:NoSchedule-",))  # that key has no NoSchedule taint
    with pytest.raises(MinipodError, match="invalid taint spec"):
        new_taints([], ("k=v:Sometimes",))
