"""Requests, limits, QoS classes and the scheduler's fit: pure, no root."""

from fractions import Fraction

import pytest

from minipod.kube import admission, quantity, resources


def ctr(name="c", requests=None, limits=None, **extra):
    res = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    return {"name": name, "image": "busybox", "resources": res, **extra}


@pytest.mark.parametrize(
    "text,value",
    [
        ("128Mi", 128 * 2**20),
        ("1Gi", 2**30),
        ("500m", Fraction(1, 2)),
        ("2", 2),
        ("0.1", Fraction(1, 10)),
        ("1e3", 1000),
        ("1k", 1000),
        ("1.5Ki", 1536),
    ],
)
def test_quantities_parse_exactly(text, value):
    assert quantity.parse(text) == value


def test_cpu_rounds_up_to_millicores_and_prints_as_kubectl():
    assert quantity.milli("0.1") == 100
    assert quantity.milli("1n") == 1
    assert quantity.format_cpu(250) == "250m"
    assert quantity.format_cpu(2000) == "2"
    assert quantity.format_bytes(64 * 2**20) == "64Mi"
    assert quantity.format_bytes(1000) == "1000"
    with pytest.raises(ValueError):
        quantity.parse("12 apples")


def test_a_limit_without_a_request_is_also_the_request():
    r = resources.container_resources(ctr(limits={"memory": "48Mi", "cpu": "200m"}))
    assert r.requests == {"memory": 48 * 2**20, "cpu": 200}


def test_qos_classes_as_kubernetes_computes_them():
    guaranteed = {"containers": [ctr(limits={"cpu": "1", "memory": "1Gi"})]}
    burstable = {"containers": [ctr(requests={"memory": "64Mi"})]}
    best_effort = {"containers": [ctr()]}
    unequal = {
        "containers": [ctr(requests={"cpu": "100m", "memory": "1Gi"}, limits={"cpu": "1", "memory": "1Gi"})]
    }
    one_unlimited = {
        "containers": [ctr("a", limits={"cpu": "1", "memory": "1Gi"}), ctr("b")],
    }
    init_counts = {
        "initContainers": [ctr("i", requests={"cpu": "10m"})],
        "containers": [ctr("a")],
    }
    assert resources.qos_class(guaranteed) == "Guaranteed"
    assert resources.qos_class(burstable) == "Burstable"
    assert resources.qos_class(best_effort) == "BestEffort"
    assert resources.qos_class(unequal) == "Burstable"
    assert resources.qos_class(one_unlimited) == "Burstable"
    assert resources.qos_class(init_counts) == "Burstable"


def test_pod_requests_count_init_containers_and_sidecars_as_kubernetes_does():
    mi = 2**20
    # App containers add up; the largest init container wins if larger.
    spec = {
        "initContainers": [
            ctr("big", requests={"memory": "500Mi"}),
            ctr("small", requests={"memory": "10Mi"}),
        ],
        "containers": [ctr("a", requests={"memory": "100Mi"}), ctr("b", requests={"memory": "200Mi"})],
    }
    assert resources.pod_requests(spec) == {"memory": 500 * mi}
    spec["initContainers"][0]["resources"]["requests"]["memory"] = "250Mi"
    assert resources.pod_requests(spec) == {"memory": 300 * mi}
    # A sidecar runs beside the app containers, and beside later inits.
    spec = {
        "initContainers": [
            ctr("side", requests={"memory": "50Mi"}, restartPolicy="Always"),
            ctr("init", requests={"memory": "400Mi"}),
        ],
        "containers": [ctr("a", requests={"memory": "100Mi"})],
        "overhead": {"memory": "1Mi"},
    }
    assert resources.pod_requests(spec) == {"memory": 451 * mi}


def test_fit_is_the_schedulers_message():
    gi = 2**30
    alloc = {"cpu": 2000, "memory": 4 * gi, "pods": 110}
    assert admission.unschedulable_reasons({"memory": 1 * gi}, alloc, {"memory": 2 * gi}, 3) == []
    reasons = admission.unschedulable_reasons({"memory": 3 * gi, "cpu": 100}, alloc, {"memory": 2 * gi}, 3)
    assert reasons == ["Insufficient memory"]
    assert admission.scheduler_message(reasons) == "0/1 nodes are available: 1 Insufficient memory."
    both = admission.unschedulable_reasons(
        {"memory": 5 * gi, "cpu": 3000, "example.com/gpu": 1}, alloc, {}, 0
    )
    assert admission.scheduler_message(both) == (
        "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient example.com/gpu, 1 Insufficient memory."
    )
    assert admission.unschedulable_reasons({}, alloc, {}, 110) == ["Too many pods"]
