"""Kubernetes' protobuf bodies, read into the same dicts as JSON.

kubectl's typed clients (`kubectl create configmap|secret|namespace|
serviceaccount|deployment|job|cronjob|service|priorityclass`, `kubectl auth
can-i`) send protobuf
(application/vnd.kubernetes.protobuf) and accept JSON back. A body is
"k8s\\0" + runtime.Unknown {typeMeta=1 {apiVersion=1, kind=2}, raw=2};
raw is the object in protobuf's wire format. MESSAGES gives the field
numbers of the kinds kubectl writes that way (from the API's
generated.proto); a kind not in it is a 415 naming JSON as the way.

Steps of decode(): split the envelope, read the fields of the object
(_fields()), turn them into a dict with MESSAGES, add apiVersion/kind.
"""

import base64
from typing import Any

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

# message: {field number: (json name, type)}; types: str, bytes (base64 in
# JSON), int, bool, map (string values), bmap (bytes values), [T] repeated,
# or another message's name.
MESSAGES: dict[str, dict[int, tuple[str, Any]]] = {
    # Go writes ObjectMeta's strings even when empty (a pod template's
    # metadata has name ""): "ostr", so "" stays unset as in its JSON.
    "ObjectMeta": {
        1: ("name", "ostr"),
        2: ("generateName", "ostr"),
        3: ("namespace", "ostr"),
        5: ("uid", "ostr"),
        6: ("resourceVersion", "ostr"),
        11: ("labels", "map"),
        12: ("annotations", "map"),
        13: ("ownerReferences", ["OwnerReference"]),
        14: ("finalizers", ["str"]),
    },
    "OwnerReference": {
        1: ("kind", "str"),
        3: ("name", "str"),
        4: ("uid", "str"),
        5: ("apiVersion", "str"),
        6: ("controller", "bool"),
        7: ("blockOwnerDeletion", "bool"),
    },
    "ConfigMap": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "map"),
        3: ("binaryData", "bmap"),
        4: ("immutable", "bool"),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "bmap"),
        3: ("type", "str"),
        4: ("stringData", "map"),
        5: ("immutable", "bool"),
    },
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", ["str"])},
    "ServiceAccount": {
        1: ("metadata", "ObjectMeta"),
        2: ("secrets", ["ObjectReference"]),
        3: ("imagePullSecrets", ["LocalObjectReference"]),
        4: ("automountServiceAccountToken", "bool"),
    },
    "ObjectReference": {1: ("kind", "str"), 2: ("namespace", "str"), 3: ("name", "str"), 4: ("uid", "str")},
    "LocalObjectReference": {1: ("name", "str")},
    "SelfSubjectAccessReview": {1: ("metadata", "ObjectMeta"), 2: ("spec", "SelfSubjectAccessReviewSpec")},
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes"),
        2: ("nonResourceAttributes", "NonResourceAttributes"),
    },
    "ResourceAttributes": {
        1: ("namespace", "str"),
        2: ("verb", "str"),
        3: ("group", "str"),
        4: ("version", "str"),
        5: ("resource", "str"),
        6: ("subresource", "str"),
        7: ("name", "str"),
    },
    "NonResourceAttributes": {1: ("path", "str"), 2: ("verb", "str")},
    "SelfSubjectRulesReview": {1: ("metadata", "ObjectMeta"), 2: ("spec", "SelfSubjectRulesReviewSpec")},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", "str")},
    # `kubectl create deployment`: the Deployment and what its pod template
    # holds when kubectl makes it. These are read strictly (STRICT): a field
    # minipod has no number for is a 415, never dropped in silence.
    "Deployment": {1: ("metadata", "ObjectMeta"), 2: ("spec", "DeploymentSpec"), 3: ("status", "skip")},
    "DeploymentSpec": {
        1: ("replicas", "int"),
        2: ("selector", "LabelSelector"),
        3: ("template", "PodTemplateSpec"),
        4: ("strategy", "DeploymentStrategy"),
        5: ("minReadySeconds", "oint"),
        6: ("revisionHistoryLimit", "int"),
        7: ("paused", "obool"),
        9: ("progressDeadlineSeconds", "int"),
    },
    "DeploymentStrategy": {1: ("type", "ostr"), 2: ("rollingUpdate", "RollingUpdateDeployment")},
    "RollingUpdateDeployment": {1: ("maxUnavailable", "IntOrString"), 2: ("maxSurge", "IntOrString")},
    "LabelSelector": {1: ("matchLabels", "map"), 2: ("matchExpressions", ["LabelSelectorRequirement"])},
    "LabelSelectorRequirement": {1: ("key", "ostr"), 2: ("operator", "ostr"), 3: ("values", ["str"])},
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta"), 2: ("spec", "PodSpec")},
    "PodSpec": {
        2: ("containers", ["Container"]),
        3: ("restartPolicy", "ostr"),
        4: ("terminationGracePeriodSeconds", "int"),
        5: ("activeDeadlineSeconds", "int"),
        6: ("dnsPolicy", "ostr"),
        7: ("nodeSelector", "map"),
        8: ("serviceAccountName", "ostr"),
        9: ("serviceAccount", "ostr"),
        10: ("nodeName", "ostr"),
        11: ("hostNetwork", "obool"),
        12: ("hostPID", "obool"),
        13: ("hostIPC", "obool"),
        14: ("securityContext", "PodSecurityContext"),
        15: ("imagePullSecrets", ["LocalObjectReference"]),
        16: ("hostname", "ostr"),
        17: ("subdomain", "ostr"),
        19: ("schedulerName", "ostr"),
        20: ("initContainers", ["Container"]),
        21: ("automountServiceAccountToken", "bool"),
        24: ("priorityClassName", "ostr"),
        25: ("priority", "int"),
        27: ("shareProcessNamespace", "bool"),
        29: ("runtimeClassName", "str"),
        30: ("enableServiceLinks", "bool"),
        31: ("preemptionPolicy", "str"),
        35: ("setHostnameAsFQDN", "bool"),
        37: ("hostUsers", "bool"),
    },
    # What a stored template holds once defaulted (`kubectl create job
    # --from=cronjob/NAME` sends the CronJob's template back).
    "PodSecurityContext": {
        2: ("runAsUser", "int"),
        3: ("runAsNonRoot", "bool"),
        4: ("supplementalGroups", ["int"]),
        5: ("fsGroup", "int"),
        6: ("runAsGroup", "int"),
        9: ("fsGroupChangePolicy", "str"),
        10: ("seccompProfile", "SeccompProfile"),
    },
    "SecurityContext": {
        1: ("capabilities", "Capabilities"),
        2: ("privileged", "bool"),
        4: ("runAsUser", "int"),
        5: ("runAsNonRoot", "bool"),
        6: ("readOnlyRootFilesystem", "bool"),
        7: ("allowPrivilegeEscalation", "bool"),
        8: ("runAsGroup", "int"),
        9: ("procMount", "str"),
        11: ("seccompProfile", "SeccompProfile"),
    },
    "SeccompProfile": {1: ("type", "str"), 2: ("localhostProfile", "str")},
    "Capabilities": {1: ("add", ["str"]), 2: ("drop", ["str"])},
    "VolumeMount": {
        1: ("name", "ostr"),
        2: ("readOnly", "obool"),
        3: ("mountPath", "ostr"),
        4: ("subPath", "ostr"),
        5: ("mountPropagation", "str"),
        6: ("subPathExpr", "ostr"),
    },
    "Container": {
        1: ("name", "ostr"),
        2: ("image", "ostr"),
        3: ("command", ["str"]),
        4: ("args", ["str"]),
        5: ("workingDir", "ostr"),
        6: ("ports", ["ContainerPort"]),
        7: ("env", ["EnvVar"]),
        8: ("resources", "ResourceRequirements"),
        9: ("volumeMounts", ["VolumeMount"]),
        13: ("terminationMessagePath", "ostr"),
        14: ("imagePullPolicy", "ostr"),
        15: ("securityContext", "SecurityContext"),
        16: ("stdin", "obool"),
        17: ("stdinOnce", "obool"),
        18: ("tty", "obool"),
        20: ("terminationMessagePolicy", "ostr"),
    },
    "ResourceRequirements": {},
    "ContainerPort": {
        1: ("name", "ostr"),
        2: ("hostPort", "oint"),
        3: ("containerPort", "int"),
        4: ("protocol", "ostr"),
        5: ("hostIP", "ostr"),
    },
    "EnvVar": {1: ("name", "ostr"), 2: ("value", "ostr")},
    # `kubectl create job|cronjob|service|priorityclass`.
    "Job": {1: ("metadata", "ObjectMeta"), 2: ("spec", "JobSpec"), 3: ("status", "skip")},
    "JobSpec": {
        1: ("parallelism", "int"),
        2: ("completions", "int"),
        3: ("activeDeadlineSeconds", "int"),
        4: ("selector", "LabelSelector"),
        5: ("manualSelector", "bool"),
        6: ("template", "PodTemplateSpec"),
        7: ("backoffLimit", "int"),
        8: ("ttlSecondsAfterFinished", "int"),
        9: ("completionMode", "str"),
        10: ("suspend", "bool"),
    },
    "CronJob": {1: ("metadata", "ObjectMeta"), 2: ("spec", "CronJobSpec"), 3: ("status", "skip")},
    "CronJobSpec": {
        1: ("schedule", "str"),
        2: ("startingDeadlineSeconds", "int"),
        3: ("concurrencyPolicy", "ostr"),
        4: ("suspend", "bool"),
        5: ("jobTemplate", "JobTemplateSpec"),
        6: ("successfulJobsHistoryLimit", "int"),
        7: ("failedJobsHistoryLimit", "int"),
        8: ("timeZone", "str"),
    },
    "JobTemplateSpec": {1: ("metadata", "ObjectMeta"), 2: ("spec", "JobSpec")},
    "Service": {1: ("metadata", "ObjectMeta"), 2: ("spec", "ServiceSpec"), 3: ("status", "skip")},
    "ServiceSpec": {
        1: ("ports", ["ServicePort"]),
        2: ("selector", "map"),
        3: ("clusterIP", "ostr"),
        4: ("type", "ostr"),
        5: ("externalIPs", ["str"]),
        7: ("sessionAffinity", "ostr"),
        10: ("externalName", "ostr"),
        11: ("externalTrafficPolicy", "ostr"),
        13: ("publishNotReadyAddresses", "obool"),
        17: ("ipFamilyPolicy", "str"),
        18: ("clusterIPs", ["str"]),
        19: ("ipFamilies", ["str"]),
        22: ("internalTrafficPolicy", "str"),
    },
    "ServicePort": {
        1: ("name", "ostr"),
        2: ("protocol", "ostr"),
        3: ("port", "int"),
        4: ("targetPort", "IntOrString"),
        5: ("nodePort", "oint"),
        6: ("appProtocol", "str"),
    },
    "TokenRequest": {1: ("metadata", "ObjectMeta"), 2: ("spec", "TokenRequestSpec"), 3: ("status", "skip")},
    "TokenRequestSpec": {
        1: ("audiences", ["str"]),
        3: ("boundObjectRef", "BoundObjectReference"),
        4: ("expirationSeconds", "int"),
    },
    "BoundObjectReference": {
        1: ("kind", "ostr"),
        2: ("apiVersion", "ostr"),
        3: ("name", "ostr"),
        4: ("uid", "ostr"),
    },
    "PriorityClass": {
        1: ("metadata", "ObjectMeta"),
        2: ("value", "int"),
        3: ("globalDefault", "obool"),
        4: ("description", "ostr"),
        5: ("preemptionPolicy", "str"),
    },
}
# Messages read strictly ("skip": a field the server ignores), and their "o" types (ostr, oint, obool): Go's
# encoder writes every non-pointer field, so "" / 0 / false there mean
# "not set", as omitempty does in JSON.
STRICT = {
    "Deployment",
    "DeploymentSpec",
    "DeploymentStrategy",
    "RollingUpdateDeployment",
    "LabelSelector",
    "LabelSelectorRequirement",
    "PodTemplateSpec",
    "PodSpec",
    "Container",
    "ResourceRequirements",
    "ContainerPort",
    "EnvVar",
    "Job",
    "JobSpec",
    "CronJob",
    "CronJobSpec",
    "JobTemplateSpec",
    "Service",
    "ServiceSpec",
    "ServicePort",
    "PriorityClass",
    "TokenRequest",
    "TokenRequestSpec",
    "BoundObjectReference",
    "PodSecurityContext",
    "SecurityContext",
    "SeccompProfile",
    "Capabilities",
    "VolumeMount",
}


def _fields(data: bytes) -> list[tuple[int, Any]]:
    """(field number, value) in order: varints as ints, length-delimited as bytes."""
    out = []
    i = 0

    def varint() -> int:
        nonlocal i
        shift = value = 0
        while True:
            b = data[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value

    while i < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            value: object = varint()
        elif wire == 2:
            size = varint()
            value, i = data[i : i + size], i + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, i = data[i : i + size], i + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, value))
    return out


def _value(kind, raw):
    # A varint where bytes belong (or the reverse) is a malformed body.
    if isinstance(raw, int) != (kind in ("int", "oint", "bool", "obool")):
        raise ValueError(f"a {kind} field in protobuf has the wrong wire type")
    if kind in ("str", "ostr"):
        return raw.decode()
    if kind in ("int", "oint"):
        return raw - (1 << 64) if raw >= 1 << 63 else raw  # int32/int64: two's complement
    if kind in ("bool", "obool"):
        return bool(raw)
    if kind == "IntOrString":  # {type=1 (0 int, 1 string), intVal=2, strVal=3}
        fields = dict(_fields(raw))
        return fields.get(3, b"").decode() if fields.get(1) == 1 else fields.get(2, 0)
    if kind in ("map", "bmap"):
        entry = dict(_fields(raw))
        key = entry.get(1, b"").decode()
        value = entry.get(2, b"")
        return key, (base64.b64encode(value).decode() if kind == "bmap" else value.decode())
    return message(kind, raw)


def message(name: str, data: bytes) -> dict:
    spec = MESSAGES[name]
    out: dict = {}
    for number, raw in _fields(data):
        if number not in spec:
            if name in STRICT and raw not in (b"", 0):
                raise ValueError(f"{name} field {number} in protobuf is not read by minipod: send it as JSON")
            continue  # a field minipod does not read (timestamps, managedFields)
        field, kind = spec[number]
        if kind == "skip" or (kind in ("ostr", "oint", "obool") and not raw):
            continue  # status is the server's; an unset field
        if isinstance(kind, list):
            out.setdefault(field, []).append(_value(kind[0], raw))
        elif kind in ("map", "bmap"):
            k, v = _value(kind, raw)
            out.setdefault(field, {})[k] = v
        else:
            out[field] = _value(kind, raw)
    return out


def decode(body: bytes) -> dict:
    """The object in a protobuf body, as its JSON dict. ValueError if it
    is not one minipod reads."""
    if not body.startswith(MAGIC):
        raise ValueError("the body does not start with the k8s protobuf prefix")
    unknown = dict(_fields(body[len(MAGIC) :]))
    type_meta = dict(_fields(unknown.get(1, b"")))
    api_version, kind = type_meta.get(1, b"").decode(), type_meta.get(2, b"").decode()
    if kind not in MESSAGES:
        raise ValueError(f"{kind or 'this kind'} in protobuf is not read by minipod: send it as JSON")
    obj = message(kind, unknown.get(2, b""))
    return {"apiVersion": api_version, "kind": kind, **obj}
