"""kubectl get's columns for apps/v1 kinds: a count of 0 is 0, an unset
spec.replicas is the default 1."""

from minipod.objects.apps_columns import DEPLOYMENT, REPLICASET


def cells(columns, obj: dict) -> dict:
    return {c.name: c.cell(obj, 0.0) for c in columns if c.name != "Age"}


def test_a_replicaset_scaled_to_zero_desires_zero():
    rs = {"metadata": {"name": "web-1"}, "spec": {"replicas": 0}, "status": {"replicas": 0}}
    assert cells(REPLICASET, rs)["Desired"] == 0
    rs["spec"] = {}
    assert cells(REPLICASET, rs)["Desired"] == 1


def test_a_deployment_scaled_to_zero_is_ready_zero_of_zero():
    d = {
        "metadata": {"name": "web"},
        "spec": {"replicas": 0, "template": {"spec": {"containers": []}}},
        "status": {},
    }
    assert cells(DEPLOYMENT, d)["Ready"] == "0/0"
