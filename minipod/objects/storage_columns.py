"""What `kubectl get` prints for PersistentVolumeClaims, PersistentVolumes
and StorageClasses."""

from minipod.objects.columns import AGE, NAME, Column, status_of

# --- storage: printPersistentVolumeClaim, printPersistentVolume, printStorageClass ---
_MODE_ABBREVIATIONS = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def access_modes(modes: list | None) -> str:
    """GetAccessModesAsString: RWO,ROX,RWX,RWOP, always in that order."""
    return ",".join(short for mode, short in _MODE_ABBREVIATIONS if mode in (modes or []))


def _phase(o: dict) -> str:
    return "Terminating" if o["metadata"].get("deletionTimestamp") else status_of(o).get("phase", "")


def _claim_class(o: dict) -> str:
    annotations = o["metadata"].get("annotations") or {}
    return (o.get("spec") or {}).get("storageClassName") or annotations.get(
        "volume.beta.kubernetes.io/storage-class", ""
    )


def _volume_attributes_class(o: dict, now: float) -> str:
    return (o.get("spec") or {}).get("volumeAttributesClassName") or "<unset>"


def _volume_mode(o: dict, now: float) -> str:
    return (o.get("spec") or {}).get("volumeMode") or "<unset>"


def _claim_bound(field: str):
    """Capacity and access modes are printed once the claim names its volume."""

    def cell(o: dict, now: float) -> str:
        if not (o.get("spec") or {}).get("volumeName"):
            return ""
        st = status_of(o)
        return (
            (st.get("capacity") or {}).get("storage", "")
            if field == "capacity"
            else access_modes(st.get("accessModes"))
        )

    return cell


def _claim_ref(o: dict, now: float) -> str:
    ref = (o.get("spec") or {}).get("claimRef")
    return f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else ""


def _class_name(o: dict, now: float) -> str:
    annotations = o["metadata"].get("annotations") or {}
    default = "true" in (
        annotations.get("storageclass.kubernetes.io/is-default-class"),
        annotations.get("storageclass.beta.kubernetes.io/is-default-class"),
    )
    return o["metadata"]["name"] + (" (default)" if default else "")


_VOLUME_MODE_DOC = "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec."

PVC = (
    NAME,
    Column(
        "Status",
        "string",
        lambda o, now: _phase(o),
        0,
        "phase represents the current phase of PersistentVolumeClaim.",
    ),
    Column(
        "Volume",
        "string",
        lambda o, now: (o.get("spec") or {}).get("volumeName", ""),
        0,
        "volumeName is the binding reference to the PersistentVolume backing this claim.",
    ),
    Column(
        "Capacity",
        "string",
        _claim_bound("capacity"),
        0,
        "capacity represents the actual resources of the underlying volume.",
    ),
    Column(
        "Access Modes",
        "string",
        _claim_bound("accessModes"),
        0,
        "accessModes contains the actual access modes the volume backing the PVC has.",
    ),
    Column("StorageClass", "string", lambda o, now: _claim_class(o), 0, "StorageClass of the pvc"),
    Column(
        "VolumeAttributesClass", "string", _volume_attributes_class, 0, "VolumeAttributesClass of the pvc"
    ),
    AGE,
    Column("VolumeMode", "string", _volume_mode, 1, _VOLUME_MODE_DOC),
)

PV = (
    NAME,
    Column(
        "Capacity",
        "string",
        lambda o, now: ((o.get("spec") or {}).get("capacity") or {}).get("storage", ""),
        0,
        "capacity is the description of the persistent volume's resources and capacity.",
    ),
    Column(
        "Access Modes",
        "string",
        lambda o, now: access_modes((o.get("spec") or {}).get("accessModes")),
        0,
        "accessModes contains all ways the volume can be mounted.",
    ),
    Column(
        "Reclaim Policy",
        "string",
        lambda o, now: (o.get("spec") or {}).get("persistentVolumeReclaimPolicy", ""),
        0,
        "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.",
    ),
    Column(
        "Status",
        "string",
        lambda o, now: _phase(o),
        0,
        "phase indicates if a volume is available, bound to a claim, or released by a claim.",
    ),
    Column(
        "Claim",
        "string",
        _claim_ref,
        0,
        "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.",
    ),
    Column(
        "StorageClass",
        "string",
        lambda o, now: (o.get("spec") or {}).get("storageClassName", ""),
        0,
        "storageClassName is the name of StorageClass to which this persistent volume belongs.",
    ),
    Column("VolumeAttributesClass", "string", _volume_attributes_class, 0, "VolumeAttributesClass of the pv"),
    Column(
        "Reason",
        "string",
        lambda o, now: status_of(o).get("reason", ""),
        0,
        "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.",
    ),
    AGE,
    Column(
        "VolumeMode",
        "string",
        _volume_mode,
        1,
        "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.",
    ),
)

STORAGECLASS = (
    Column("Name", "string", _class_name, 0, "Name must be unique within a namespace.", "name"),
    Column(
        "Provisioner",
        "string",
        lambda o, now: o.get("provisioner", ""),
        0,
        "provisioner indicates the type of the provisioner.",
    ),
    Column(
        "ReclaimPolicy",
        "string",
        lambda o, now: o.get("reclaimPolicy") or "Delete",
        0,
        "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class.",
    ),
    Column(
        "VolumeBindingMode",
        "string",
        lambda o, now: o.get("volumeBindingMode") or "Immediate",
        0,
        "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.",
    ),
    Column(
        "AllowVolumeExpansion",
        "string",
        lambda o, now: bool(o.get("allowVolumeExpansion")),
        0,
        "allowVolumeExpansion shows whether the storage class allow volume expand.",
    ),
    AGE,
)
