"""Issue 15, storage: the pure rules behind claims, volumes and classes:
the API server's defaults and messages, the binder's choice of volume, the
scheduler's volume messages and kubectl's columns."""

import pytest

from minipod.objects import storage_columns as columns
from minipod.objects.errors import ApiError
from minipod.pod.admission import WAITING_FOR_VOLUMES
from minipod.storage import binding, local_path, pod_claims, validate


def claim(name="c", modes=("ReadWriteOnce",), size="1Gi", **spec) -> dict:
    return {
        "kind": "PersistentVolumeClaim",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
        "spec": dict(spec, accessModes=list(modes), resources={"requests": {"storage": size}}),
    }


def volume(name, size="1Gi", modes=("ReadWriteOnce",), labels=None, **spec) -> dict:
    return {
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": dict(
            spec, capacity={"storage": size}, accessModes=list(modes), hostPath={"path": f"/d/{name}"}
        ),
        "status": {"phase": "Available"},
    }


def causes(e: pytest.ExceptionInfo) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in e.value.details["causes"]]


def test_a_claim_gets_the_default_class_its_finalizer_and_defaults():
    classes = [local_path.default_class()]
    classes[0]["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    pvc = validate.claim_create(claim(), classes)
    assert pvc["spec"]["storageClassName"] == "local-path"
    assert pvc["spec"]["volumeMode"] == "Filesystem"
    assert pvc["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert pvc["status"] == {"phase": "Pending"}
    # An explicit "" means no class at all: the admission plugin leaves it.
    assert validate.claim_create(claim(storageClassName=""), classes)["spec"]["storageClassName"] == ""


def test_bad_claims_get_the_api_servers_messages():
    bad = claim(modes=("ReadWriteOncePod", "Sometimes"))
    bad["spec"]["resources"] = {"requests": {"storage": "0"}}
    bad["spec"]["volumeMode"] = "Raw"
    with pytest.raises(ApiError) as e:
        validate.claim_create(bad, [])
    assert e.value.code == 422
    assert causes(e) == [
        'spec.accessModes: Unsupported value: "Sometimes": supported values: "ReadOnlyMany", "ReadWriteMany", '
        '"ReadWriteOnce", "ReadWriteOncePod"',
        "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes",
        'spec.resources[storage]: Invalid value: "0": must be greater than zero',
        'spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"',
    ]


def test_a_claims_spec_is_immutable_but_the_binder_may_name_its_volume():
    old = validate.claim_create(claim(), [])
    bound = dict(old, spec=dict(old["spec"], volumeName="pv-1"))
    assert validate.claim_update(old, bound)["spec"]["volumeName"] == "pv-1"
    with pytest.raises(ApiError) as e:
        validate.claim_update(bound, dict(bound, spec=dict(bound["spec"], accessModes=["ReadWriteMany"])))
    assert causes(e) == [
        "spec: Forbidden: spec is immutable after creation except resources.requests and "
        "volumeAttributesClassName for bound claims"
    ]


def test_volumes_and_classes_defaults_and_fixed_fields():
    pv = validate.volume_create(volume("v"))
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
    with pytest.raises(ApiError) as e:
        validate.volume_update(pv, dict(pv, spec=dict(pv["spec"], hostPath={"path": "/elsewhere"})))
    assert causes(e) == ["spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is forbidden."]
    with pytest.raises(ApiError) as e:
        validate.volume_create(
            {
                "metadata": {"name": "l"},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "local": {"path": "/x"},
                },
            }
        )
    assert causes(e) == ["spec.nodeAffinity: Required value: Local volume requires node affinity"]

    sc = validate.class_create({"metadata": {"name": "s"}, "provisioner": "p"})
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")
    with pytest.raises(ApiError) as e:
        validate.class_update(sc, dict(sc, reclaimPolicy="Retain"))
    assert causes(e) == ["reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden."]


def test_the_binder_picks_the_smallest_fitting_volume_by_selector_class_and_modes():
    c = claim(size="2Gi", storageClassName="", selector={"matchLabels": {"disk": "ssd"}})
    candidates = [
        volume("too-small", "1Gi", labels={"disk": "ssd"}),
        volume("big", "10Gi", labels={"disk": "ssd"}),
        volume("right", "3Gi", labels={"disk": "ssd"}),
        volume("other-label", "2Gi", labels={"disk": "hdd"}),
        volume("wrong-modes", "2Gi", modes=("ReadOnlyMany",), labels={"disk": "ssd"}),
        volume("has-class", "2Gi", labels={"disk": "ssd"}, storageClassName="fast"),
    ]
    assert binding.find_volume(c, candidates)["metadata"]["name"] == "right"
    # A volume promised to another claim is not a candidate; one promised to this claim wins.
    taken = volume(
        "taken", "2Gi", labels={"disk": "ssd"}, claimRef={"namespace": "default", "name": "x", "uid": "u"}
    )
    mine = volume("mine", "9Gi", labels={"disk": "ssd"}, claimRef=binding.claim_ref(c))
    assert binding.find_volume(c, [taken, *candidates, mine])["metadata"]["name"] == "mine"
    # spec.volumeName: that volume or none.
    assert (
        binding.find_volume(dict(c, spec=dict(c["spec"], volumeName="big")), candidates)["metadata"]["name"]
        == "big"
    )
    assert binding.find_volume(dict(c, spec=dict(c["spec"], volumeName="too-small")), candidates) is None


def test_binding_writes_both_halves_and_a_released_volume_is_released():
    c, v = claim(), volume("v")
    bound_v = binding.bound_volume(v, c)
    assert bound_v["spec"]["claimRef"]["uid"] == "uid-c"
    assert bound_v["metadata"]["annotations"][binding.BOUND_BY_CONTROLLER] == "yes"
    bound_c = binding.bound_claim(c, bound_v)
    assert bound_c["spec"]["volumeName"] == "v"
    assert binding.bound_claim_status(bound_v) == {
        "phase": "Bound",
        "accessModes": ["ReadWriteOnce"],
        "capacity": {"storage": "1Gi"},
    }
    assert binding.volume_phase(bound_v, claim_exists=False) == "Released"
    prebound = volume("p", claimRef={"namespace": "default", "name": "later"})
    assert binding.volume_phase(prebound, claim_exists=False) == "Available"


def test_the_scheduler_messages_of_a_pods_claims():
    def p(name, *claims, ephemeral=()):
        vols = [{"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}} for i, c in enumerate(claims)]
        vols += [{"name": e, "ephemeral": {"volumeClaimTemplate": {"spec": {}}}} for e in ephemeral]
        return {
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
            "spec": {"volumes": vols, "nodeName": "n"},
            "status": {"phase": "Running"},
        }

    wffc = {"local-path": local_path.default_class()}
    unbound = validate.claim_create(claim("u"), [local_path.default_class()])
    bound = dict(claim("b", modes=("ReadWriteOncePod",)), status={"phase": "Bound"})
    bound["spec"]["volumeName"] = "pv"
    immediate = claim("i", storageClassName="")
    claims = {"u": unbound, "b": bound, "i": immediate}

    assert pod_claims.scheduling_refusal(p("a", "nope"), claims, wffc, []).message == (
        '0/1 nodes are available: persistentvolumeclaim "nope" not found.'
    )
    assert pod_claims.scheduling_refusal(p("a", "i"), claims, wffc, []).message == (
        "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims."
    )
    assert pod_claims.scheduling_refusal(p("a", "u"), claims, wffc, []).reason == WAITING_FOR_VOLUMES
    assert pod_claims.scheduling_refusal(p("a", "b"), claims, wffc, []) is None
    assert pod_claims.scheduling_refusal(p("a", "b"), claims, wffc, [p("holder", "b")]).message == (
        "0/1 nodes are available: 1 node has pod using PersistentVolumeClaim with the same name "
        "and ReadWriteOncePod access mode."
    )
    assert pod_claims.scheduling_refusal(p("a", ephemeral=["scratch"]), claims, wffc, []).message == (
        '0/1 nodes are available: waiting for ephemeral volume controller to create the persistentvolumeclaim "a-scratch".'
    )
    made = pod_claims.ephemeral_claims(p("a", ephemeral=["scratch"]))[0]
    assert made["metadata"]["name"] == "a-scratch"
    assert made["metadata"]["ownerReferences"][0]["uid"] == "uid-a"


def test_kubectl_columns_of_the_three_kinds():
    c = dict(
        claim("data"),
        status={"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOncePod"]},
    )
    c["spec"].update(volumeName="pv-1", storageClassName="local-path")
    assert [col.cell(c, 0) for col in columns.PVC[1:7]] == [
        "Bound",
        "pv-1",
        "1Gi",
        "RWOP",
        "local-path",
        "<unset>",
    ]
    pending = claim("p")
    assert [col.cell(pending, 0) for col in columns.PVC[2:5]] == ["", "", ""]
    assert columns.access_modes(["ReadWriteMany", "ReadOnlyMany", "ReadWriteOnce"]) == "RWO,ROX,RWX"
    sc = local_path.default_class()
    assert [col.cell(sc, 0) for col in columns.STORAGECLASS[:5]] == [
        "local-path (default)",
        "rancher.io/local-path",
        "Delete",
        "WaitForFirstConsumer",
        False,
    ]
    assert [col.name for col in columns.PV if col.priority == 0] == [
        "Name",
        "Capacity",
        "Access Modes",
        "Reclaim Policy",
        "Status",
        "Claim",
        "StorageClass",
        "VolumeAttributesClass",
        "Reason",
        "Age",
    ]
