"""Issue 15, storage: PersistentVolumeClaims, PersistentVolumes, the
default local-path StorageClass and generic ephemeral volumes, driven with
the real kubectl, with real pods and real directories under the instance's
storage root."""

import json
import os
import re
import signal

import pytest
import yaml
from helpers.host import eventually
from helpers.kubectl import kubectl
from helpers.pods import ctr, pod, pod_sh

STORAGE = "lib/storage"


def claim(name: str, modes=("ReadWriteOnce",), size: str = "64Mi", **spec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": dict(spec, accessModes=list(modes), resources={"requests": {"storage": size}}),
    }


def claim_pod(name: str, claim_name: str, script: str = "exec sleep 3600", read_only: bool = False) -> dict:
    volume: dict = {"claimName": claim_name}
    if read_only:
        volume["readOnly"] = True
    return pod(
        name,
        ctr("main", script, volumeMounts=[{"name": "data", "mountPath": "/data"}]),
        volumes=[{"name": "data", "persistentVolumeClaim": volume}],
        terminationGracePeriodSeconds=0,
    )


def create(mp, *objs: dict) -> None:
    """kubectl apply of the objects, as one multi-document YAML file."""
    kubectl(mp, "apply", "-f", "-", input=yaml.safe_dump_all(objs))


def get(mp, kind: str, name: str) -> dict:
    return json.loads(kubectl(mp, "get", kind, name, "-o", "json").stdout)


def exists(mp, kind: str, name: str) -> bool:
    return kubectl(mp, "get", kind, name, "--ignore-not-found", "-o", "name").stdout.strip() != ""


def phase(mp, kind: str, name: str) -> str:
    return get(mp, kind, name).get("status", {}).get("phase", "")


def running(mp, name: str) -> None:
    mp.wait_for(name, lambda p: p["status"].get("phase") == "Running", 60, "Running")


def pending_message(mp, name: str) -> str:
    def message():
        conds = mp.pod(name)["status"].get("conditions") or []
        sched = next((c for c in conds if c["type"] == "PodScheduled"), None)
        return sched.get("message") if sched and sched["status"] == "False" else None

    return eventually(message, 20, f"pod {name} held Pending by the scheduler")


def delete_pod(mp, name: str) -> None:
    mp.run("delete", "pod", name, "--grace-period", "0", "--ignore-not-found")


@pytest.fixture
def objects(mp):
    """Kubernetes objects (kind, name) the test made, deleted at its end:
    pods first, then claims, then volumes and classes."""
    made: list[tuple[str, str]] = []
    yield made
    order = {"pod": 0, "pvc": 1, "pv": 2, "sc": 3}
    for kind, name in sorted(made, key=lambda kn: order[kn[0]]):
        if kind == "pod":
            delete_pod(mp, name)
        else:
            kubectl(mp, "delete", kind, name, "--ignore-not-found", "--wait=false", check=False)
    for kind, name in made:
        if kind == "pvc":
            eventually(lambda n=name: not exists(mp, "pvc", n), 30, f"claim {name} gone")


def events_of(mp, kind: str, name: str) -> list[tuple[str, str]]:
    out = kubectl(mp, "get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json").stdout
    return [
        (e["reason"], e["message"]) for e in json.loads(out)["items"] if e["involvedObject"]["kind"] == kind
    ]


def test_default_class_binds_and_data_outlives_the_pod(mp, objects):
    out = kubectl(mp, "get", "sc").stdout.splitlines()
    assert out[0].split() == [
        "NAME",
        "PROVISIONER",
        "RECLAIMPOLICY",
        "VOLUMEBINDINGMODE",
        "ALLOWVOLUMEEXPANSION",
        "AGE",
    ]
    row = next(line for line in out if line.startswith("local-path"))
    assert row.split()[:6] == [
        "local-path",
        "(default)",
        "rancher.io/local-path",
        "Delete",
        "WaitForFirstConsumer",
        "false",
    ]

    objects += [("pvc", "st-data"), ("pod", "st-writer"), ("pod", "st-reader")]
    create(mp, claim("st-data"))
    pvc = get(mp, "pvc", "st-data")
    assert pvc["spec"]["storageClassName"] == "local-path"  # the default class
    assert pvc["spec"]["volumeMode"] == "Filesystem"
    assert pvc["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert pvc["status"]["phase"] == "Pending"
    eventually(
        lambda: (
            ("WaitForFirstConsumer", "waiting for first consumer to be created before binding")
            in events_of(mp, "PersistentVolumeClaim", "st-data")
        ),
        10,
        "the WaitForFirstConsumer event",
    )

    create(mp, claim_pod("st-writer", "st-data", "echo kept-across-pods > /data/msg && exec sleep 3600"))
    running(mp, "st-writer")
    pvc = eventually(
        lambda: (p := get(mp, "pvc", "st-data"))["status"]["phase"] == "Bound" and p, 20, "Bound"
    )
    volume = pvc["spec"]["volumeName"]
    assert volume == f"pvc-{pvc['metadata']['uid']}"
    assert pvc["status"]["capacity"] == {"storage": "64Mi"}
    assert pvc["status"]["accessModes"] == ["ReadWriteOnce"]
    pv = get(mp, "pv", volume)
    assert pv["status"]["phase"] == "Bound"
    assert (
        pv["spec"]["claimRef"]["name"] == "st-data"
        and pv["spec"]["claimRef"]["uid"] == pvc["metadata"]["uid"]
    )
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    reasons = [r for r, _ in events_of(mp, "PersistentVolumeClaim", "st-data")]
    assert "ProvisioningSucceeded" in reasons

    # kubectl's columns, as a 1.32 API server prints them.
    out = kubectl(mp, "get", "pvc", "st-data").stdout.splitlines()
    assert out[0].split() == [
        "NAME",
        "STATUS",
        "VOLUME",
        "CAPACITY",
        "ACCESS",
        "MODES",
        "STORAGECLASS",
        "VOLUMEATTRIBUTESCLASS",
        "AGE",
    ]
    assert out[1].split()[:7] == ["st-data", "Bound", volume, "64Mi", "RWO", "local-path", "<unset>"]
    out = kubectl(mp, "get", "pv", volume).stdout.splitlines()
    assert out[0].split() == [
        "NAME",
        "CAPACITY",
        "ACCESS",
        "MODES",
        "RECLAIM",
        "POLICY",
        "STATUS",
        "CLAIM",
        "STORAGECLASS",
        "VOLUMEATTRIBUTESCLASS",
        "REASON",
        "AGE",
    ]
    assert out[1].split()[:8] == [
        volume,
        "64Mi",
        "RWO",
        "Delete",
        "Bound",
        "default/st-data",
        "local-path",
        "<unset>",
    ]

    # The directory is on the host, under the instance's storage root.
    directory = pv["spec"]["hostPath"]["path"]
    assert directory.startswith(os.path.join(mp.root, STORAGE) + "/")
    assert open(os.path.join(directory, "msg")).read() == "kept-across-pods\n"

    # The next pod on the same claim reads what the first wrote.
    delete_pod(mp, "st-writer")
    create(mp, claim_pod("st-reader", "st-data"))
    running(mp, "st-reader")
    assert pod_sh(mp, "st-reader", "cat /data/msg").stdout == "kept-across-pods\n"

    # reclaimPolicy Delete: the claim's deletion takes the volume and the data.
    delete_pod(mp, "st-reader")
    kubectl(mp, "delete", "pvc", "st-data")
    eventually(lambda: not exists(mp, "pv", volume), 20, "the volume deleted with its claim")
    assert not os.path.exists(directory)


def test_retain_keeps_the_data_and_releases_the_volume(mp, objects):
    objects += [("sc", "st-retain"), ("pvc", "st-kept"), ("pod", "st-keeper")]
    sc = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "st-retain"},
        "provisioner": "rancher.io/local-path",
        "reclaimPolicy": "Retain",
    }
    create(mp, sc)
    assert get(mp, "sc", "st-retain")["volumeBindingMode"] == "Immediate"  # the API's default
    # Immediate binding: bound at once, with no pod.
    create(mp, claim("st-kept", storageClassName="st-retain"))
    eventually(lambda: phase(mp, "pvc", "st-kept") == "Bound", 20, "bound without a consumer")
    volume = get(mp, "pvc", "st-kept")["spec"]["volumeName"]
    objects.append(("pv", volume))
    create(mp, claim_pod("st-keeper", "st-kept", "echo retained > /data/msg && exec sleep 3600"))
    running(mp, "st-keeper")
    delete_pod(mp, "st-keeper")
    kubectl(mp, "delete", "pvc", "st-kept")
    eventually(lambda: phase(mp, "pv", volume) == "Released", 20, "the volume Released")
    pv = get(mp, "pv", volume)
    assert open(os.path.join(pv["spec"]["hostPath"]["path"], "msg")).read() == "retained\n"
    row = kubectl(mp, "get", "pv", volume, "--no-headers").stdout.split()
    assert row[3:6] == ["Retain", "Released", "default/st-kept"]


def test_read_write_once_pod_keeps_a_second_pod_pending(mp, objects):
    objects += [("pvc", "st-solo"), ("pod", "st-first"), ("pod", "st-second")]
    create(mp, claim("st-solo", modes=("ReadWriteOncePod",)), claim_pod("st-first", "st-solo"))
    running(mp, "st-first")
    create(mp, claim_pod("st-second", "st-solo"))
    assert pending_message(mp, "st-second") == (
        "0/1 nodes are available: 1 node has pod using PersistentVolumeClaim with the same name "
        "and ReadWriteOncePod access mode."
    )
    assert mp.pod("st-second")["status"]["phase"] == "Pending"
    assert kubectl(mp, "get", "pvc", "st-solo", "--no-headers").stdout.split()[4] == "RWOP"
    # Once the first pod is gone, the second one gets the claim.
    delete_pod(mp, "st-first")
    running(mp, "st-second")


def test_two_pods_placed_together_do_not_share_a_read_write_once_pod_claim(mp, objects):
    """Both wait for the claim's provisioning, then one scheduling pass
    looks at both: only the first gets the claim."""
    objects += [("pvc", "st-pair"), ("pod", "st-pair-a"), ("pod", "st-pair-b")]
    create(
        mp,
        claim_pod("st-pair-a", "st-pair"),
        claim_pod("st-pair-b", "st-pair"),
        claim("st-pair", modes=("ReadWriteOncePod",)),
    )

    def one_running_one_held():
        phases = sorted(mp.pod(n)["status"]["phase"] for n in ("st-pair-a", "st-pair-b"))
        return phases == ["Pending", "Running"]

    eventually(one_running_one_held, 60, "one pod Running, the other Pending")
    held = next(n for n in ("st-pair-a", "st-pair-b") if mp.pod(n)["status"]["phase"] == "Pending")
    assert "ReadWriteOncePod access mode" in pending_message(mp, held)


def test_a_missing_or_unbound_claim_keeps_the_pod_pending_until_bound(mp, objects, tmp_path):
    objects += [
        ("pod", "st-waiting"),
        ("pvc", "st-late"),
        ("pod", "st-static"),
        ("pvc", "st-manual"),
        ("pv", "st-disk"),
    ]
    create(mp, claim_pod("st-waiting", "st-late"))
    assert (
        pending_message(mp, "st-waiting")
        == '0/1 nodes are available: persistentvolumeclaim "st-late" not found.'
    )
    create(mp, claim("st-late"))
    running(mp, "st-waiting")

    # A claim with no class binds only to a volume made by hand: until
    # there is one, the pod waits with the scheduler's message.
    create(mp, claim("st-manual", storageClassName="", selector={"matchLabels": {"disk": "st"}}))
    create(mp, claim_pod("st-static", "st-manual", read_only=True))
    assert pending_message(mp, "st-static") == (
        "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims."
    )
    disk = os.path.join(mp.root, "st-disk")
    os.makedirs(disk)
    with open(os.path.join(disk, "msg"), "w") as f:
        f.write("static\n")
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "st-disk", "labels": {"disk": "st"}},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
            "hostPath": {"path": disk},
        },
    }
    create(mp, pv)
    running(mp, "st-static")
    assert get(mp, "pvc", "st-manual")["spec"]["volumeName"] == "st-disk"
    assert get(mp, "pv", "st-disk")["spec"]["persistentVolumeReclaimPolicy"] == "Retain"  # the API's default
    assert pod_sh(mp, "st-static", "cat /data/msg").stdout == "static\n"
    # persistentVolumeClaim.readOnly: the mount is read-only.
    denied = pod_sh(mp, "st-static", "echo x > /data/new", check=False)
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr
    assert not os.path.exists(os.path.join(disk, "new"))


def test_a_claim_in_use_is_protected_until_its_pod_is_gone(mp, objects):
    objects += [("pvc", "st-guarded"), ("pod", "st-user")]
    create(mp, claim("st-guarded"), claim_pod("st-user", "st-guarded"))
    running(mp, "st-user")
    kubectl(mp, "delete", "pvc", "st-guarded", "--wait=false")
    assert kubectl(mp, "get", "pvc", "st-guarded", "--no-headers").stdout.split()[1] == "Terminating"
    pvc = get(mp, "pvc", "st-guarded")
    assert pvc["metadata"]["deletionTimestamp"] and pvc["metadata"]["finalizers"] == [
        "kubernetes.io/pvc-protection"
    ]
    assert mp.pod("st-user")["status"]["phase"] == "Running"
    delete_pod(mp, "st-user")
    eventually(lambda: not exists(mp, "pvc", "st-guarded"), 20, "the claim gone with its last pod")


def test_an_ephemeral_volume_claim_comes_and_goes_with_its_pod(mp, objects):
    objects.append(("pod", "st-scratch"))
    p = pod(
        "st-scratch",
        ctr(
            "main",
            "echo temp > /scratch/msg && exec sleep 3600",
            volumeMounts=[{"name": "tmp", "mountPath": "/scratch"}],
        ),
        volumes=[
            {
                "name": "tmp",
                "ephemeral": {
                    "volumeClaimTemplate": {
                        "metadata": {"labels": {"made-by": "st"}},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "16Mi"}},
                        },
                    }
                },
            }
        ],
        terminationGracePeriodSeconds=0,
    )
    create(mp, p)
    running(mp, "st-scratch")
    pvc = get(mp, "pvc", "st-scratch-tmp")
    owner = pvc["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Pod", "st-scratch", True)
    assert owner["uid"] == mp.pod("st-scratch")["metadata"]["uid"]
    assert pvc["metadata"]["labels"] == {"made-by": "st"}
    assert pvc["status"]["phase"] == "Bound"
    directory = get(mp, "pv", pvc["spec"]["volumeName"])["spec"]["hostPath"]["path"]
    assert open(os.path.join(directory, "msg")).read() == "temp\n"
    delete_pod(mp, "st-scratch")
    eventually(lambda: not exists(mp, "pvc", "st-scratch-tmp"), 20, "the claim deleted with its pod")
    eventually(lambda: not os.path.exists(directory), 20, "its directory deleted")


def test_bad_claims_and_changes_are_refused_as_the_api_server_does(mp, objects):
    bad = claim("st-bad", modes=("ReadWriteOncePod", "ReadWriteOnce"))
    del bad["spec"]["resources"]
    p = kubectl(mp, "apply", "-f", "-", input=json.dumps(bad), check=False)
    assert p.returncode == 1
    assert 'PersistentVolumeClaim "st-bad" is invalid' in p.stderr
    assert "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes" in p.stderr
    assert "spec.resources[storage]: Required value" in p.stderr
    assert not exists(mp, "pvc", "st-bad")

    objects.append(("pvc", "st-fixed"))
    create(mp, claim("st-fixed"))
    changed = claim("st-fixed", modes=("ReadWriteMany",))
    p = kubectl(mp, "apply", "-f", "-", input=json.dumps(changed), check=False)
    assert p.returncode == 1
    assert re.search(
        r"spec: Forbidden: spec is immutable after creation except resources.requests", p.stderr
    ), p.stderr

    p = kubectl(mp, "patch", "sc", "local-path", "-p", json.dumps({"reclaimPolicy": "Retain"}), check=False)
    assert (
        p.returncode == 1 and "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden." in p.stderr
    )
    assert get(mp, "sc", "local-path")["reclaimPolicy"] == "Delete"


def test_the_minipod_cli_applies_and_prints_claims_volumes_and_classes(mp, objects):
    objects += [("pvc", "st-cli"), ("pod", "st-cli-user")]
    text = yaml.safe_dump_all([claim("st-cli", size="32Mi"), claim_pod("st-cli-user", "st-cli")])
    assert "persistentvolumeclaim/st-cli created" in mp.run("apply", "-f", "-", input=text).stdout
    running(mp, "st-cli-user")
    out = mp.run("get", "pvc", "st-cli").stdout.splitlines()
    assert out[0].split() == kubectl(mp, "get", "pvc", "st-cli").stdout.splitlines()[0].split()
    volume = get(mp, "pvc", "st-cli")["spec"]["volumeName"]
    assert out[1].split()[:7] == ["st-cli", "Bound", volume, "32Mi", "RWO", "local-path", "<unset>"]
    assert mp.run("get", "sc").stdout.splitlines()[1].split()[:3] == [
        "local-path",
        "(default)",
        "rancher.io/local-path",
    ]
    assert volume in mp.run("get", "pv").stdout
    described = kubectl(mp, "describe", "pvc", "st-cli").stdout
    assert re.search(r"^Status:\s+Bound$", described, re.M), described
    assert re.search(r"^Used By:\s+st-cli-user$", described, re.M), described
    assert "ProvisioningSucceeded" in described
    described = mp.run("describe", "pvc", "st-cli").stdout
    assert re.search(r"ProvisioningSucceeded\s+persistentvolumeclaim/st-cli\s", described), described
    bad = mp.run("apply", "-f", "-", input=yaml.safe_dump(claim("st-cli-bad", modes=())), check=False)
    assert (
        bad.returncode == 1
        and "spec.accessModes: Required value: at least 1 access mode is required" in bad.stderr
    )
    assert "Traceback" not in bad.stderr


def test_a_daemon_sigkill_loses_nothing(fresh_mp):
    """The controllers re-list on start: a claim bound before the kill
    stays bound with its data, and a deletion begun before it finishes."""
    mp = fresh_mp
    create(
        mp,
        claim("st-survivor"),
        claim_pod("st-holder", "st-survivor", "echo before > /data/msg && exec sleep 3600"),
    )
    running(mp, "st-holder")
    pvc = eventually(
        lambda: (p := get(mp, "pvc", "st-survivor"))["status"]["phase"] == "Bound" and p, 20, "Bound"
    )
    directory = get(mp, "pv", pvc["spec"]["volumeName"])["spec"]["hostPath"]["path"]
    kubectl(mp, "delete", "pvc", "st-survivor", "--wait=false")

    mp.kill_daemon(signal.SIGKILL)
    mp.start_daemon()
    after = get(mp, "pvc", "st-survivor")
    assert after["metadata"]["uid"] == pvc["metadata"]["uid"] and after["status"]["phase"] == "Bound"
    assert after["metadata"]["deletionTimestamp"]  # still protected: its pod is there
    assert pod_sh(mp, "st-holder", "cat /data/msg").stdout == "before\n"

    delete_pod(mp, "st-holder")
    eventually(lambda: not exists(mp, "pvc", "st-survivor"), 20, "the claim gone after its pod")
    eventually(lambda: not exists(mp, "pv", pvc["spec"]["volumeName"]), 20, "its volume deleted")
    assert not os.path.exists(directory)
