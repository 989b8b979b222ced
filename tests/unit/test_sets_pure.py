"""The pure parts of the DaemonSet and StatefulSet controllers and of their
API defaults."""

from minipod.controllers.daemonset import daemon_pod, should_run
from minipod.controllers.statefulset import ordinal_of, stateful_pod
from minipod.objects.apps import defaulted

TEMPLATE = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def sts(**spec) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web", "uid": "u1", "generation": 1},
        "spec": {"replicas": 2, "serviceName": "web", "template": TEMPLATE, **spec},
    }


def test_a_stateful_pod_has_its_name_its_host_and_its_claims():
    claim = {"metadata": {"name": "data"}, "spec": {}}
    pod = stateful_pod(sts(volumeClaimTemplates=[claim]), 1)
    assert pod["metadata"]["name"] == "web-1"
    assert pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-1"
    assert pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("web-1", "web")
    assert pod["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-1"}}]
    assert ordinal_of(sts(), {"metadata": {"name": "web-12"}}) == 12
    assert ordinal_of(sts(), {"metadata": {"name": "webby-1"}}) is None


def test_set_defaults():
    d = defaulted(sts())
    assert d["spec"]["podManagementPolicy"] == "OrderedReady"
    assert d["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    ds = defaulted({"kind": "DaemonSet", "metadata": {"name": "x"}, "spec": {"template": TEMPLATE}})
    assert "replicas" not in ds["spec"]
    assert ds["spec"]["updateStrategy"]["rollingUpdate"] == {"maxUnavailable": 1, "maxSurge": 0}


def node(labels=None, taints=None) -> dict:
    return {"metadata": {"name": "n1", "labels": labels or {}}, "spec": {"taints": taints or []}}


def test_should_the_node_run_the_daemon():
    ds = {"metadata": {"name": "d", "uid": "u"}, "spec": {"template": TEMPLATE}}
    assert should_run(ds, node()) == (True, True)
    picky = {
        "metadata": {"name": "d"},
        "spec": {"template": {**TEMPLATE, "spec": {**TEMPLATE["spec"], "nodeSelector": {"gpu": "yes"}}}},
    }
    assert should_run(picky, node()) == (False, False)
    assert should_run(ds, node(taints=[{"key": "k", "effect": "NoSchedule"}])) == (False, True)
    assert should_run(ds, node(taints=[{"key": "k", "effect": "NoExecute"}])) == (False, False)
    # Cordoned nodes still run daemons: they tolerate unschedulable.
    assert should_run(ds, node(taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]))[
        0
    ]


def test_a_daemon_pod_is_pinned_to_its_node():
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "d", "uid": "u"},
        "spec": {"template": TEMPLATE},
    }
    pod = daemon_pod(ds, "n1")
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert terms == [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]
    assert {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "spec"
    ]["tolerations"]
