"""Deployments and ReplicaSets as the API server defaults and checks them
(minipod.objects.apps), and their scale subresource."""

import pytest

from minipod.objects.apps import admit_apps, scale_of, with_scale
from minipod.objects.errors import ApiError


def deployment(**spec):
    base = {
        "selector": {"matchLabels": {"app": "w"}},
        "template": {
            "metadata": {"labels": {"app": "w"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": dict(base, **spec),
    }


def messages(e: ApiError) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in e.details["causes"]]


def test_defaults_as_apps_v1():
    d = admit_apps(deployment(), None)
    spec = d["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always" and pod_spec["dnsPolicy"] == "ClusterFirst"
    assert pod_spec["containers"][0]["terminationMessagePath"] == "/dev/termination-log"


def test_selector_must_match_the_template_labels():
    with pytest.raises(ApiError) as e:
        admit_apps(deployment(selector={"matchLabels": {"app": "x"}}), None)
    assert e.value.code == 422
    assert messages(e.value) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"w"}: `selector` does not match template `labels`'
    ]


def test_selector_is_immutable_and_strategy_numbers_are_checked():
    old = admit_apps(deployment(), None)
    new = deployment(selector={"matchLabels": {"app": "w", "b": "c"}})
    new["spec"]["template"]["metadata"]["labels"]["b"] = "c"
    with pytest.raises(ApiError) as e:
        admit_apps(new, old)
    assert messages(e.value) == [
        "spec.selector: Invalid value: &LabelSelector{MatchLabels:map[string]string{app: w,b: c,},"
        "MatchExpressions:[]LabelSelectorRequirement{},}: field is immutable"
    ]
    with pytest.raises(ApiError) as e:
        admit_apps(
            deployment(
                replicas=-1,
                strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}},
            ),
            None,
        )
    assert messages(e.value) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0%: may not be 0 when `maxSurge` is 0",
    ]
    with pytest.raises(ApiError) as e:
        admit_apps(deployment(progressDeadlineSeconds=5, minReadySeconds=10), None)
    assert messages(e.value) == [
        "spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds"
    ]


def test_template_is_checked_as_a_pod_with_restart_policy_always():
    d = deployment()
    d["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    with pytest.raises(ApiError) as e:
        admit_apps(d, None)
    assert messages(e.value) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'
    ]
    d = deployment()
    del d["spec"]["template"]["spec"]["containers"][0]["image"]
    with pytest.raises(ApiError) as e:
        admit_apps(d, None)
    assert any(m.startswith("spec.template.spec.containers[0].image") for m in messages(e.value))


def test_scale_subresource():
    d = admit_apps(deployment(replicas=3), None)
    d["metadata"].update(namespace="default", uid="u", resourceVersion="7")
    scale = scale_of(d)
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 3} and scale["status"] == {"replicas": 0, "selector": "app=w"}
    assert with_scale(d, {"spec": {"replicas": 5}})["spec"]["replicas"] == 5
    with pytest.raises(ApiError):
        with_scale(d, {"spec": {"replicas": -2}})
