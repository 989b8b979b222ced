"""The local-path provisioner: a directory per claim, as Rancher's
local-path-provisioner makes them (the provisioner name is its own,
rancher.io/local-path, so manifests and StorageClasses written for k3s or
kind work unchanged).

In order:
    1. volume_for(): the PersistentVolume for a claim (pure): named
       pvc-<claim uid>, the claim's size and access modes, the class's
       reclaim policy, a hostPath under the instance's storage root,
       node affinity to this node, claimRef already set (so a daemon
       killed right after creating it binds the same volume on restart);
    2. make_directory(): the directory, mode 0777 as the provisioner
       makes it (any container user may write to its volume);
    3. remove_directory(): reclaimPolicy Delete: the directory and the
       data go with the claim. Only a directory this provisioner made
       (under the storage root) is ever removed.
"""

import os
import shutil
from typing import Any

from minipod.paths import path_in
from minipod.storage import binding

PROVISIONER = "rancher.io/local-path"
CLASS_NAME = "local-path"
HOSTNAME_LABEL = "kubernetes.io/hostname"


def default_class() -> dict[str, Any]:
    """The instance's default StorageClass, as k3s ships it."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": CLASS_NAME,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


def directory_name(claim: dict[str, Any]) -> str:
    meta = claim["metadata"]
    return f"pvc-{meta['uid']}_{meta['namespace']}_{meta['name']}"


def volume_for(claim: dict[str, Any], sc: dict[str, Any], root: str, node: str) -> dict[str, Any]:
    """Step 1."""
    meta, spec = claim["metadata"], claim["spec"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": f"pvc-{meta['uid']}",
            "annotations": {
                binding.PROVISIONED_BY: PROVISIONER,
                "local.path.provisioner/selected-node": node,
            },
        },
        "spec": {
            "accessModes": list(spec["accessModes"]),
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "claimRef": binding.claim_ref(claim),
            "hostPath": {"path": path_in(root, directory_name(claim)), "type": "DirectoryOrCreate"},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}]}
                    ]
                }
            },
            "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
            "storageClassName": sc["metadata"]["name"],
            "volumeMode": "Filesystem",
        },
    }


def make_directory(path: str) -> None:
    """Step 2."""
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o777)  # whatever the umask: every container user writes here


def is_ours(volume: dict[str, Any], root: str) -> bool:
    path = ((volume.get("spec") or {}).get("hostPath") or {}).get("path") or ""
    annotations = volume["metadata"].get("annotations") or {}
    return annotations.get(binding.PROVISIONED_BY) == PROVISIONER and os.path.dirname(path) == root


def remove_directory(volume: dict[str, Any], root: str) -> None:
    """Step 3."""
    if is_ours(volume, root):
        shutil.rmtree(volume["spec"]["hostPath"]["path"], ignore_errors=True)
