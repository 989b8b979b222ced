"""What minipod implements of a v1 Pod, and the warnings for the rest.

A manifest that passed minipod.kube.validate is valid Kubernetes, but minipod
does not run every feature yet. The tables below are the one place that
says what it runs; a present field is treated according to the first
table that has it:

    IGNORED       server bookkeeping, meaningless here      -> silent
    DEFAULTS      holds the Kubernetes default value        -> silent
    IMPLEMENTED   honoured by minipod                       -> silent
    anything else                                           -> a warning:
        spec.readinessGates: not implemented by minipod yet; ignored

Two narrower tables complete it: SUPPORTED_VOLUME_TYPES (any other volume
type is an error, raised by minipod.kube.validate, since a missing volume would
break the pod) and IMPLEMENTED_ENV_FIELD_PATHS (for env valueFrom.fieldRef).

When a feature gets implemented, add its path here: nothing else needs to
change. collect_warnings() walks the manifest top-down and gives a whole
unimplemented subtree, such as a probe, a single warning.

Standard library only.
"""

import json
import re
from typing import Any

# Paths below are patterns: "[]" stands for any list index. Init containers
# have the same type as containers, so the spec.containers[] entries cover
# them too.

# Fields minipod honours, with everything inside them.
IMPLEMENTED = {
    "apiVersion",
    "kind",
    "metadata.name",
    "metadata.generateName",
    "metadata.namespace",
    "metadata.labels",
    "metadata.annotations",
    "spec.restartPolicy",
    # This node's name runs here; another's keeps the pod Pending (pod/admission.py).
    "spec.nodeName",
    # A gated pod stays Pending (pod/admission.py); the gates are fixed at creation here.
    "spec.schedulingGates",
    # The scheduler's filters and priority (pod/admission.py, pod/scheduler.py).
    "spec.nodeSelector",
    "spec.affinity",
    "spec.tolerations",
    "spec.topologySpreadConstraints",
    "spec.priorityClassName",
    "spec.priority",
    "spec.preemptionPolicy",
    "spec.terminationGracePeriodSeconds",
    "spec.hostname",
    "spec.hostNetwork",
    "spec.hostPID",
    "spec.hostIPC",
    "spec.shareProcessNamespace",
    # false: a user namespace of its own (linux/userns.py).
    "spec.hostUsers",
    "spec.dnsPolicy",
    "spec.dnsConfig",
    # The cluster DNS names the pod HOSTNAME.SUBDOMAIN (minipod/services/dns_answers.py).
    "spec.subdomain",
    # Service variables (minipod/services/service_env.py).
    "spec.enableServiceLinks",
    "spec.hostAliases",
    "spec.imagePullSecrets",
    "spec.securityContext.runAsUser",
    "spec.securityContext.runAsGroup",
    "spec.securityContext.supplementalGroups",
    "spec.securityContext.seccompProfile",
    "spec.securityContext.fsGroup",
    "spec.securityContext.fsGroupChangePolicy",
    "spec.securityContext.runAsNonRoot",
    "spec.securityContext.sysctls",
    "spec.securityContext.appArmorProfile",
    "spec.volumes[].name",
    "spec.volumes[].emptyDir",
    "spec.volumes[].hostPath",
    # Written by pod/config_volumes.py, kept in step with the objects.
    "spec.volumes[].configMap",
    "spec.volumes[].secret",
    "spec.volumes[].downwardAPI",
    "spec.volumes[].projected",
    # The claim's bound volume (minipod.storage), mounted by pod/volumes.py.
    "spec.volumes[].persistentVolumeClaim",
    "spec.volumes[].ephemeral",
    "spec.containers[].name",
    "spec.containers[].image",
    "spec.containers[].command",
    "spec.containers[].args",
    "spec.containers[].workingDir",
    "spec.containers[].env[].name",
    "spec.containers[].env[].value",
    # Only for the field paths in IMPLEMENTED_ENV_FIELD_PATHS.
    "spec.containers[].env[].valueFrom.fieldRef",
    # Read from the object store (pod/env_sources.py).
    "spec.containers[].env[].valueFrom.resourceFieldRef",
    "spec.containers[].env[].valueFrom.configMapKeyRef",
    "spec.containers[].env[].valueFrom.secretKeyRef",
    "spec.containers[].envFrom",
    "spec.containers[].ports[].containerPort",
    "spec.containers[].ports[].name",
    "spec.containers[].ports[].protocol",
    "spec.containers[].ports[].hostPort",
    "spec.containers[].ports[].hostIP",
    "spec.containers[].volumeMounts[].name",
    "spec.containers[].volumeMounts[].mountPath",
    "spec.containers[].volumeMounts[].readOnly",
    # Checked to stay inside the volume, mounted without following symlinks (pod/subpaths.py).
    "spec.containers[].volumeMounts[].subPath",
    "spec.containers[].volumeMounts[].subPathExpr",
    "spec.containers[].imagePullPolicy",
    "spec.containers[].tty",
    "spec.containers[].stdin",
    "spec.containers[].stdinOnce",
    "spec.containers[].securityContext.runAsUser",
    "spec.containers[].securityContext.runAsGroup",
    "spec.containers[].securityContext.capabilities",
    "spec.containers[].securityContext.privileged",
    "spec.containers[].securityContext.readOnlyRootFilesystem",
    "spec.containers[].securityContext.allowPrivilegeEscalation",
    "spec.containers[].securityContext.seccompProfile",
    "spec.containers[].securityContext.runAsNonRoot",
    # Decided at admission: rejected where it cannot be enforced (AppArmor).
    "spec.containers[].securityContext.appArmorProfile",
    # Probes and lifecycle hooks (grpc probes are refused by validate_container.py).
    "spec.containers[].startupProbe",
    "spec.containers[].livenessProbe",
    "spec.containers[].readinessProbe",
    "spec.containers[].lifecycle",
    "spec.containers[].terminationMessagePath",
    "spec.containers[].terminationMessagePolicy",
    # Requests and limits: cgroups, QoS class, admission (pod/pod_cgroups.py).
    "spec.containers[].resources.requests",
    "spec.containers[].resources.limits",
    "spec.overhead",
    # Init containers only: restartPolicy Always makes a sidecar.
    "spec.containers[].restartPolicy",
}

# The env valueFrom.fieldRef.fieldPath values minipod fills in
# ("<key>" stands for any label or annotation key).
IMPLEMENTED_ENV_FIELD_PATHS = {
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "metadata.labels['<key>']",
    "metadata.annotations['<key>']",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.podIP",
    "status.podIPs",
    "status.hostIP",
    "status.hostIPs",
}

# Bookkeeping written by an API server or by export tools. It means nothing
# on a single host, so it is accepted silently, whatever its value.
IGNORED = {
    "metadata.uid",
    "metadata.resourceVersion",
    "metadata.generation",
    "metadata.creationTimestamp",
    "metadata.deletionTimestamp",
    "metadata.deletionGracePeriodSeconds",
    "metadata.ownerReferences",
    "metadata.finalizers",
    "metadata.managedFields",
    "metadata.selfLink",
    "status",
}

# The tolerations every cluster adds to every pod.
DEFAULT_TOLERATIONS = [
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
]

# Values that behave exactly like leaving the field out, because they are
# the Kubernetes default. `kubectl get -o yaml`, `kubectl run --dry-run -o
# yaml` and `podman kube generate` write them all the time, so warning
# about them would only be noise. (Zero values - "", 0, false, [], {} - are
# treated the same way, except for MEANINGFUL_ZEROS.)
DEFAULTS = {
    "spec.dnsPolicy": "ClusterFirst",
    "spec.schedulerName": "default-scheduler",
    "spec.enableServiceLinks": True,
    "spec.automountServiceAccountToken": True,
    "spec.serviceAccountName": "default",
    "spec.serviceAccount": "default",
    "spec.preemptionPolicy": "PreemptLowerPriority",
    "spec.hostUsers": True,
    "spec.os": {"name": "linux"},
    "spec.tolerations": DEFAULT_TOLERATIONS,  # any of them, in any order
    "spec.containers[].terminationMessagePath": "/dev/termination-log",
    "spec.containers[].terminationMessagePolicy": "File",
    "spec.containers[].securityContext.procMount": "Default",
    "spec.containers[].volumeMounts[].mountPropagation": "None",
    "spec.containers[].volumeMounts[].recursiveReadOnly": "Disabled",
}

# Fields where false or 0 means something different from leaving them out
# (Kubernetes stores them as pointers): hostUsers false asks for a user
# namespace, fsGroup 0 asks for group root.
MEANINGFUL_ZEROS = {"spec.hostUsers", "spec.securityContext.fsGroup"}

SUPPORTED_VOLUME_TYPES = [
    "emptyDir",
    "hostPath",
    "configMap",
    "secret",
    "downwardAPI",
    "projected",
    "persistentVolumeClaim",
    "ephemeral",
]

# A real cluster adds a projected volume named kube-api-access-<random> to
# every pod, holding its API token. When such an exported pod is run here,
# the volume gets this instance's token, CA and namespace instead (one
# warning says so; kubeapi/pod_access.py writes them).
SERVICE_ACCOUNT_VOLUME_PREFIX = "kube-api-access-"


def honoured(path: str) -> str:
    """The field name at the end of `path`, for the code that implements it.

    Code that reads a pod field names it through this function, so that
    the table above and the implementation cannot disagree: a field read
    but not listed (which would warn "not implemented") fails at import."""
    if path not in IMPLEMENTED:
        raise RuntimeError(f"{path} is implemented but not listed in minipod.kube.implemented.IMPLEMENTED")
    return path.rsplit(".", 1)[-1]


def is_service_account_volume(volume: dict[str, Any]) -> bool:
    """True for the token volume a cluster injects (see the note above).
    The runtime uses this too, to skip the volume and its mounts."""
    name = volume.get("name")
    return (
        isinstance(name, str)
        and name.startswith(SERVICE_ACCOUNT_VOLUME_PREFIX)
        and volume.get("projected") is not None
    )


# Annotations that ask the node for a feature, by key prefix: what the
# API server warns (pkg/api/pod/warnings.go), and what minipod does about it.
FEATURE_ANNOTATIONS = {
    "container.apparmor.security.beta.kubernetes.io/": (
        'deprecated since v1.30; use the "appArmorProfile" field instead; '
        "minipod does not load AppArmor profiles: a pod asking for one is rejected (reason AppArmor)"
    ),
    "seccomp.security.alpha.kubernetes.io/pod": (
        'non-functional in v1.27+; use the "seccompProfile" field instead'
    ),
    "container.seccomp.security.alpha.kubernetes.io/": (
        'non-functional in v1.27+; use the "seccompProfile" field instead'
    ),
}


def annotation_warnings(pod: dict[str, Any]) -> list[str]:
    out = []
    for key in (pod.get("metadata") or {}).get("annotations") or {}:
        for prefix, what in FEATURE_ANNOTATIONS.items():
            if key.startswith(prefix):
                out.append(f"metadata.annotations[{key}]: {what}")
    return out


def env_field_pattern(field_path: str) -> str:
    """metadata.labels['app'] -> metadata.labels['<key>'], the form used in
    IMPLEMENTED_ENV_FIELD_PATHS and in minipod.kube.schema.ENV_FIELD_PATHS."""
    return re.sub(r"^(metadata\.(labels|annotations))\['[^']+'\]$", r"\1['<key>']", field_path)


def collect_warnings(pod: dict[str, Any]) -> list[str]:
    """One warning per present, non-default field that minipod does not
    implement. The pod must already be valid (minipod.kube.validate)."""
    warnings: list[str] = annotation_warnings(pod)
    for key, value in pod.items():
        _walk(value, key, key, warnings)
    return warnings


def _is_default(pattern: str, value: Any) -> bool:
    """True if value behaves exactly like leaving the field out."""
    default = DEFAULTS.get(pattern)
    if isinstance(default, list) and isinstance(value, list):
        return all(item in default for item in value)
    if pattern in DEFAULTS and value == default and type(value) is type(default):
        return True
    if pattern in MEANINGFUL_ZEROS:
        return value is None
    # Go's zero values: writing them is the same as not writing the field.
    return value is None or value is False or value in ("", 0, [], {})


def _has_implemented_inside(pattern: str) -> bool:
    return any(p.startswith(pattern + ".") or p.startswith(pattern + "[]") for p in IMPLEMENTED)


def _walk(value: Any, path: str, pattern: str, warnings: list[str]) -> None:
    """Warn about value (found at path) unless minipod implements it. Walks
    down only as far as needed: a whole unimplemented subtree, such as a
    probe, gets a single warning.

    pattern is path without list indexes: spec.containers[].image.
    """
    if pattern.startswith("spec.initContainers"):
        pattern = pattern.replace("spec.initContainers", "spec.containers", 1)
    if pattern in IGNORED or _is_default(pattern, value):
        return
    if pattern == "spec.volumes[]" and is_service_account_volume(value):
        warnings.append(
            f"{path}: service account volume {json.dumps(value['name'])}: minipod mounts "
            "its own instance's token, CA and namespace there"
        )
        return
    if pattern == "spec.containers[].env[].valueFrom.fieldRef":
        field_path = value.get("fieldPath")
        if env_field_pattern(field_path) not in IMPLEMENTED_ENV_FIELD_PATHS:
            warnings.append(
                f"{path}.fieldPath: {json.dumps(field_path)} not implemented by minipod yet; ignored"
            )
        return
    if pattern in IMPLEMENTED:
        return
    if not _has_implemented_inside(pattern):
        warnings.append(f"{path}: not implemented by minipod yet; ignored")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{path}[{i}]", pattern + "[]", warnings)
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(item, f"{path}.{key}", f"{pattern}.{key}", warnings)
