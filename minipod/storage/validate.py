"""PersistentVolumeClaims, PersistentVolumes and StorageClasses as the API
server admits them: defaults, validation and the immutable fields. Pure.

On create, in the API server's order:
    1. admission: a claim without spec.storageClassName gets the default
       class (the DefaultStorageClass plugin: the newest class annotated
       storageclass.kubernetes.io/is-default-class=true); claims and
       volumes get their protection finalizer (StorageObjectInUseProtection);
    2. defaults: volumeMode Filesystem; a volume's reclaim policy Retain;
       a class's reclaimPolicy Delete and volumeBindingMode Immediate;
       status.phase Pending for claims and volumes;
    3. validation: the messages of pkg/apis/core/validation and
       pkg/apis/storage/validation, one cause per field path.
On update: the fields Kubernetes never lets change (a claim's spec, a
volume's source, a class's provisioner, parameters, reclaimPolicy,
volumeBindingMode) are refused with the API server's messages.
"""

import copy
from typing import Any

from minipod.kube import quantity
from minipod.objects.errors import invalid

Cause = tuple[str, str, str]

ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
VOLUME_MODES = ("Block", "Filesystem")
RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"
# The volume sources minipod can mount for a PersistentVolume.
PV_SOURCES = ("hostPath", "local")


def _supported(values: tuple[str, ...]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def _not_supported(path: str, value: Any, values: tuple[str, ...]) -> Cause:
    return (
        "FieldValueNotSupported",
        path,
        f'Unsupported value: "{value}": supported values: {_supported(values)}',
    )


def is_default_class(sc: dict[str, Any]) -> bool:
    annotations = sc["metadata"].get("annotations") or {}
    return "true" in (
        annotations.get(DEFAULT_CLASS_ANNOTATION),
        annotations.get(BETA_DEFAULT_CLASS_ANNOTATION),
    )


def default_class(classes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest default class, then by name, as the DefaultStorageClass plugin picks."""
    defaults = [sc for sc in classes if is_default_class(sc)]
    defaults.sort(key=lambda sc: (sc["metadata"].get("creationTimestamp") or "", sc["metadata"]["name"]))
    return defaults[-1] if defaults else None


def _add_finalizer(obj: dict[str, Any], finalizer: str) -> None:
    finalizers = obj["metadata"].setdefault("finalizers", [])
    if finalizer not in finalizers:
        finalizers.append(finalizer)


def access_mode_causes(path: str, modes: Any, required: bool = True) -> list[Cause]:
    if not modes:
        return (
            [("FieldValueRequired", path, "Required value: at least 1 access mode is required")]
            if required
            else []
        )
    if not isinstance(modes, list):
        return [("FieldValueInvalid", path, f"Invalid value: {modes!r}: must be a list of access modes")]
    causes = [_not_supported(path, m, ACCESS_MODES) for m in modes if m not in ACCESS_MODES]
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        causes.append(
            ("FieldValueForbidden", path, "Forbidden: may not use ReadWriteOncePod with other access modes")
        )
    return causes


def _storage_causes(path: str, value: Any) -> list[Cause]:
    if value is None:
        return [("FieldValueRequired", path, "Required value")]
    try:
        amount = quantity.parse(value)
    except ValueError:
        return [
            (
                "FieldValueInvalid",
                path,
                f'Invalid value: "{value}": quantities must match the regular expression '
                "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            )
        ]
    if amount <= 0:
        return [("FieldValueInvalid", path, f'Invalid value: "{value}": must be greater than zero')]
    return []


# --- PersistentVolumeClaim --------------------------------------------------------
def claim_create(pvc: dict[str, Any], classes: list[dict[str, Any]]) -> dict[str, Any]:
    """Steps 1-3 for a claim; raises ApiError 422."""
    pvc = copy.deepcopy(pvc)
    spec = pvc.setdefault("spec", {})
    if "storageClassName" not in spec:
        default = default_class(classes)
        if default is not None:
            spec["storageClassName"] = default["metadata"]["name"]
    _add_finalizer(pvc, PVC_PROTECTION)
    spec.setdefault("volumeMode", "Filesystem")
    pvc["status"] = {"phase": "Pending"}
    causes = claim_spec_causes(spec, "spec")
    if causes:
        raise invalid("PersistentVolumeClaim", pvc["metadata"]["name"], causes)
    return pvc


def claim_spec_causes(spec: dict[str, Any], path: str) -> list[Cause]:
    """ValidatePersistentVolumeClaimSpec (also for an ephemeral volume's template)."""
    causes = access_mode_causes(f"{path}.accessModes", spec.get("accessModes"))
    requests = (spec.get("resources") or {}).get("requests") or {}
    causes += _storage_causes(f"{path}.resources[storage]", requests.get("storage"))
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        causes.append(_not_supported(f"{path}.volumeMode", mode, VOLUME_MODES))
    return causes


def claim_update(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """ValidatePersistentVolumeClaimUpdate: the spec is fixed, except
    resources.requests (a larger request of a bound claim) and the
    volumeName / storageClassName the binder fills in."""
    new = copy.deepcopy(new)
    spec = new.setdefault("spec", {})
    spec.setdefault("volumeMode", "Filesystem")
    old_spec = copy.deepcopy(old.get("spec") or {})
    mine = copy.deepcopy(spec)
    for s in (old_spec, mine):
        s.pop("resources", None)
        s.pop("volumeAttributesClassName", None)
    if not old_spec.get("volumeName"):
        mine.pop("volumeName", None)  # the binder sets it once
        old_spec.pop("volumeName", None)
    if old_spec != mine:
        raise invalid(
            "PersistentVolumeClaim",
            old["metadata"]["name"],
            [
                (
                    "FieldValueForbidden",
                    "spec",
                    "Forbidden: spec is immutable after creation except resources.requests and "
                    "volumeAttributesClassName for bound claims",
                )
            ],
        )
    causes = claim_spec_causes(spec, "spec")
    if causes:
        raise invalid("PersistentVolumeClaim", old["metadata"]["name"], causes)
    return new


# --- PersistentVolume -------------------------------------------------------------
def volume_create(pv: dict[str, Any]) -> dict[str, Any]:
    pv = copy.deepcopy(pv)
    spec = pv.setdefault("spec", {})
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")
    _add_finalizer(pv, PV_PROTECTION)
    pv["status"] = {"phase": "Pending"}
    causes = volume_spec_causes(spec)
    if causes:
        raise invalid("PersistentVolume", pv["metadata"]["name"], causes)
    return pv


def volume_spec_causes(spec: dict[str, Any]) -> list[Cause]:
    """ValidatePersistentVolumeSpec, for the sources minipod mounts."""
    causes = access_mode_causes("spec.accessModes", spec.get("accessModes"))
    capacity = spec.get("capacity")
    if not capacity:
        causes.append(("FieldValueRequired", "spec.capacity", "Required value"))
    elif set(capacity) != {"storage"}:
        causes.append(_not_supported("spec.capacity", ",".join(sorted(capacity)), ("storage",)))
    else:
        causes += _storage_causes("spec.capacity[storage]", capacity.get("storage"))
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy not in RECLAIM_POLICIES:
        causes.append(_not_supported("spec.persistentVolumeReclaimPolicy", policy, RECLAIM_POLICIES))
    mode = spec.get("volumeMode")
    if mode not in VOLUME_MODES:
        causes.append(_not_supported("spec.volumeMode", mode, VOLUME_MODES))
    elif mode == "Block":
        causes.append(
            (
                "FieldValueNotSupported",
                "spec.volumeMode",
                'Unsupported value: "Block": minipod mounts Filesystem volumes only',
            )
        )
    sources = [s for s in PV_SOURCES if spec.get(s) is not None]
    if not sources:
        causes.append(("FieldValueRequired", "spec", "Required value: must specify a volume type"))
    elif len(sources) > 1:
        causes.append(
            (
                "FieldValueForbidden",
                f"spec.{sources[1]}",
                "Forbidden: may not specify more than 1 volume type",
            )
        )
    for source in sources:
        if not (spec[source] or {}).get("path"):
            causes.append(("FieldValueRequired", f"spec.{source}.path", "Required value"))
        elif not str(spec[source]["path"]).startswith("/"):
            causes.append(
                (
                    "FieldValueInvalid",
                    f"spec.{source}.path",
                    f'Invalid value: "{spec[source]["path"]}": must be an absolute path',
                )
            )
    if "local" in sources and not spec.get("nodeAffinity"):
        causes.append(
            ("FieldValueRequired", "spec.nodeAffinity", "Required value: Local volume requires node affinity")
        )
    return causes


def volume_update(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """ValidatePersistentVolumeUpdate: the source and the volume mode are fixed."""
    new = copy.deepcopy(new)
    spec = new.setdefault("spec", {})
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")
    old_spec = old.get("spec") or {}
    name = old["metadata"]["name"]
    causes = volume_spec_causes(spec)
    if any(old_spec.get(s) != spec.get(s) for s in PV_SOURCES):
        causes.append(
            (
                "FieldValueForbidden",
                "spec.persistentvolumesource",
                "Forbidden: spec.persistentvolumesource is forbidden.",
            )
        )
    if old_spec.get("volumeMode") != spec.get("volumeMode"):
        causes.append(
            (
                "FieldValueInvalid",
                "spec.volumeMode",
                f'Invalid value: "{spec.get("volumeMode")}": field is immutable',
            )
        )
    if causes:
        raise invalid("PersistentVolume", name, causes)
    return new


# --- StorageClass -----------------------------------------------------------------
CLASS_FIXED = ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode")


def class_create(sc: dict[str, Any]) -> dict[str, Any]:
    sc = copy.deepcopy(sc)
    sc.setdefault("reclaimPolicy", "Delete")
    sc.setdefault("volumeBindingMode", "Immediate")
    causes: list[Cause] = []
    if not sc.get("provisioner"):
        causes.append(("FieldValueRequired", "provisioner", "Required value"))
    if sc["reclaimPolicy"] not in ("Delete", "Retain"):
        causes.append(_not_supported("reclaimPolicy", sc["reclaimPolicy"], ("Delete", "Retain")))
    if sc["volumeBindingMode"] not in BINDING_MODES:
        causes.append(_not_supported("volumeBindingMode", sc["volumeBindingMode"], BINDING_MODES))
    if causes:
        raise invalid("StorageClass", sc["metadata"]["name"], causes)
    return sc


def class_update(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    new = class_create(new)
    causes = [
        ("FieldValueForbidden", field, f"Forbidden: updates to {field} are forbidden.")
        for field in CLASS_FIXED
        if old.get(field) != new.get(field)
    ]
    if causes:
        raise invalid("StorageClass", old["metadata"]["name"], causes)
    return new
