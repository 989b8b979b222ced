"""Deployments, ReplicaSets, DaemonSets and StatefulSets as the API server
checks and defaults them (pkg/apis/apps: defaults.go, validation.go),
before the store keeps them.

On create and on every update, in order:
    1. default (apps/v1): replicas 1 (not for a DaemonSet); a Deployment's
       strategy RollingUpdate with maxSurge and maxUnavailable 25%,
       revisionHistoryLimit 10, progressDeadlineSeconds 600; a DaemonSet's
       updateStrategy RollingUpdate (maxUnavailable 1), a StatefulSet's
       (partition 0), podManagementPolicy OrderedReady and claim retention
       Retain; the pod template as a Pod is defaulted;
    2. validate: a selector that is not empty and matches the template's
       labels, the template as a Pod (restartPolicy Always), the
       strategy's numbers; on update the selector is immutable (apps/v1),
       and a StatefulSet's spec may change only in its mutable fields.
A failure is the API server's 422 Invalid with each field's message.

scale_of() / with_scale() are the `scale` subresource (autoscaling/v1
Scale), what `kubectl scale` reads and writes.
"""

import copy
import re

from minipod.errors import ManifestError
from minipod.kube import label_selector
from minipod.kube.manifest import default_pod
from minipod.kube.validate import validate_pod
from minipod.objects.errors import invalid
from minipod.objects.meta import spec_part

Cause = tuple[str, str, str]
PERCENT = re.compile(r"^[0-9]+%$")


def defaulted(obj: dict) -> dict:
    obj = copy.deepcopy(obj)
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return obj  # validate() names it
    if spec.get("replicas") is None and obj["kind"] != "DaemonSet":
        spec["replicas"] = 1
    if obj["kind"] in ("DaemonSet", "StatefulSet"):
        default_set(obj["kind"], spec)
    if obj["kind"] == "Deployment":
        strategy = spec.setdefault("strategy", {})
        if isinstance(strategy, dict):
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                if strategy.get("rollingUpdate") is None:
                    strategy["rollingUpdate"] = {}
                ru = strategy["rollingUpdate"]
                if isinstance(ru, dict):
                    ru.setdefault("maxUnavailable", "25%")
                    ru.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        try:
            pod = default_pod({"metadata": template.get("metadata") or {}, "spec": template["spec"]})
        except (KeyError, TypeError, AttributeError):
            return obj  # a malformed template: validate() names the field
        pod["metadata"].pop("namespace", None)
        spec["template"] = {"metadata": pod["metadata"], "spec": pod["spec"]}
    return obj


def default_set(kind: str, spec: dict) -> None:
    """A DaemonSet's or StatefulSet's defaults (apps/v1 defaults.go)."""
    strategy = spec.setdefault("updateStrategy", {})
    if not isinstance(strategy, dict):
        return
    strategy.setdefault("type", "RollingUpdate")
    spec.setdefault("revisionHistoryLimit", 10)
    if kind == "DaemonSet":
        if strategy["type"] == "RollingUpdate":
            ru = strategy.setdefault("rollingUpdate", {})
            if isinstance(ru, dict):
                ru.setdefault("maxUnavailable", 1)
                ru.setdefault("maxSurge", 0)
        return
    spec.setdefault("podManagementPolicy", "OrderedReady")
    if strategy["type"] == "RollingUpdate":
        ru = strategy.setdefault("rollingUpdate", {})
        if isinstance(ru, dict):
            ru.setdefault("partition", 0)
    spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    for claim in spec.get("volumeClaimTemplates") or []:
        if isinstance(claim, dict) and isinstance(claim.get("spec"), dict):
            claim["spec"].setdefault("volumeMode", "Filesystem")
            claim.setdefault("apiVersion", "v1")
            claim.setdefault("kind", "PersistentVolumeClaim")


# What a StatefulSet's update may change (apps validation.go).
STATEFULSET_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def _set_strategy(kind: str, spec: dict, causes: list[Cause]) -> None:
    kind_of = (spec.get("updateStrategy") or {}).get("type")
    if kind_of not in ("RollingUpdate", "OnDelete"):
        causes.append(
            (
                "FieldValueNotSupported",
                "spec.updateStrategy.type",
                f'Unsupported value: "{kind_of}": supported values: "OnDelete", "RollingUpdate"',
            )
        )
    if kind == "StatefulSet" and spec.get("podManagementPolicy") not in ("OrderedReady", "Parallel"):
        causes.append(
            (
                "FieldValueNotSupported",
                "spec.podManagementPolicy",
                f'Unsupported value: "{spec.get("podManagementPolicy")}": supported values: "OrderedReady", "Parallel"',
            )
        )


def go_selector(sel: dict) -> str:
    """A LabelSelector as the API server's messages print it (its String())."""
    labels = "".join(f"{k}: {v}," for k, v in sorted((sel.get("matchLabels") or {}).items()))
    exprs = "".join(
        f"&LabelSelectorRequirement{{Key:{e.get('key')},Operator:{e.get('operator')},"
        f"Values:[{' '.join(e.get('values') or [])}],}},"
        for e in sel.get("matchExpressions") or []
    )
    return f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"


def go_map(m: dict) -> str:
    return "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(m.items())) + "}"


def _int_or_percent(value, path: str, is_percent_capped: bool, causes: list[Cause]) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        causes.append(
            ("FieldValueInvalid", path, f"Invalid value: {value!r}: must be an integer or percentage")
        )
    elif isinstance(value, str):
        if not PERCENT.match(value):
            causes.append(
                (
                    "FieldValueInvalid",
                    path,
                    f'Invalid value: "{value}": a valid percent string must be a numeric string followed by '
                    "an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                )
            )
        elif is_percent_capped and int(value[:-1]) > 100:
            causes.append(
                ("FieldValueInvalid", path, f"Invalid value: {value}: must not be greater than 100%")
            )
    elif value < 0:
        causes.append(
            ("FieldValueInvalid", path, f"Invalid value: {value}: must be greater than or equal to 0")
        )


def _non_negative(spec: dict, field: str, causes: list[Cause]) -> None:
    value = spec.get(field)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        causes.append(("FieldValueInvalid", f"spec.{field}", f"Invalid value: {value!r}: must be an integer"))
    elif value < 0:
        causes.append(
            (
                "FieldValueInvalid",
                f"spec.{field}",
                f"Invalid value: {value}: must be greater than or equal to 0",
            )
        )


def _is_zero(value) -> bool:
    return value in (0, "0%")


def _strategy(spec: dict, causes: list[Cause]) -> None:
    strategy = spec.get("strategy") or {}
    kind = strategy.get("type")
    if kind not in ("Recreate", "RollingUpdate"):
        causes.append(
            (
                "FieldValueNotSupported",
                "spec.strategy.type",
                f'Unsupported value: "{kind}": supported values: "Recreate", "RollingUpdate"',
            )
        )
        return
    ru = strategy.get("rollingUpdate")
    if kind == "Recreate":
        if ru is not None:
            causes.append(
                (
                    "FieldValueForbidden",
                    "spec.strategy.rollingUpdate",
                    "Forbidden: may not be specified when strategy `type` is 'Recreate'",
                )
            )
        return
    ru = ru if isinstance(ru, dict) else {}
    base = "spec.strategy.rollingUpdate"
    _int_or_percent(ru.get("maxUnavailable"), f"{base}.maxUnavailable", True, causes)
    _int_or_percent(ru.get("maxSurge"), f"{base}.maxSurge", False, causes)
    if _is_zero(ru.get("maxUnavailable")) and _is_zero(ru.get("maxSurge")):
        causes.append(
            (
                "FieldValueInvalid",
                f"{base}.maxUnavailable",
                f"Invalid value: {ru.get('maxUnavailable')}: may not be 0 when `maxSurge` is 0",
            )
        )


def _template(spec: dict, causes: list[Cause]) -> None:
    template = spec.get("template")
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
        causes.append(("FieldValueRequired", "spec.template.spec", "Required value"))
        return
    meta = dict(template.get("metadata") or {}, name="template")
    pod_spec = dict(template["spec"])
    # A StatefulSet's claims become volumes of each pod (controllers/statefulset.py).
    claims = [c for c in spec.get("volumeClaimTemplates") or [] if isinstance(c, dict)]
    if claims:
        named = {(c.get("metadata") or {}).get("name") for c in claims}
        pod_spec["volumes"] = [v for v in pod_spec.get("volumes") or [] if v.get("name") not in named] + [
            {"name": n, "persistentVolumeClaim": {"claimName": n}} for n in sorted(filter(None, named))
        ]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec}
    try:
        validate_pod(pod)
    except ManifestError as e:
        for line in e.errors:
            field, sep, message = line.partition(": ")
            causes.append(
                ("FieldValueInvalid", f"spec.template.{field}" if sep else "spec.template", message)
            )
    policy = template["spec"].get("restartPolicy")
    if policy != "Always":
        causes.append(
            (
                "FieldValueNotSupported",
                "spec.template.spec.restartPolicy",
                f'Unsupported value: "{policy}": supported values: "Always"',
            )
        )


def _selector(spec: dict, kind: str, causes: list[Cause]) -> None:
    sel = spec.get("selector")
    if sel is None:
        causes.append(("FieldValueRequired", "spec.selector", "Required value"))
        return
    if not isinstance(sel, dict) or not (sel.get("matchLabels") or sel.get("matchExpressions")):
        shown = go_selector(sel) if isinstance(sel, dict) else repr(sel)
        causes.append(
            (
                "FieldValueInvalid",
                "spec.selector",
                f"Invalid value: {shown}: empty selector is invalid for {kind.lower()}",
            )
        )
        return
    for line in label_selector.problems(sel, "spec.selector"):
        field, _, message = line.partition(": ")
        causes.append(("FieldValueInvalid", field, message))
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not causes and not label_selector.matches(sel, labels):
        causes.append(
            (
                "FieldValueInvalid",
                "spec.template.metadata.labels",
                f"Invalid value: {go_map(labels)}: `selector` does not match template `labels`",
            )
        )


def validate(obj: dict, old: dict | None = None) -> None:
    """Raise the API server's 422 Invalid for a Deployment, ReplicaSet,
    DaemonSet or StatefulSet."""
    kind, name = obj["kind"], obj["metadata"].get("name", "")
    spec = obj.get("spec")
    causes: list[Cause] = []
    if not isinstance(spec, dict):
        raise invalid(kind, name, [("FieldValueRequired", "spec", "Required value")])
    _non_negative(spec, "replicas", causes)
    _non_negative(spec, "minReadySeconds", causes)
    _selector(spec, kind, causes)
    _template(spec, causes)
    if kind in ("DaemonSet", "StatefulSet"):
        _set_strategy(kind, spec, causes)
    if kind == "StatefulSet" and old is not None:
        before = old.get("spec") or {}
        if any(spec.get(k) != before.get(k) for k in set(spec) | set(before) if k not in STATEFULSET_MUTABLE):
            fields = "', '".join(STATEFULSET_MUTABLE[:-1])
            causes.append(
                (
                    "FieldValueForbidden",
                    "spec",
                    f"Forbidden: updates to statefulset spec for fields other than '{fields}' and "
                    f"'{STATEFULSET_MUTABLE[-1]}' are forbidden",
                )
            )
    if kind == "Deployment":
        _strategy(spec, causes)
        _non_negative(spec, "revisionHistoryLimit", causes)
        deadline, min_ready = spec.get("progressDeadlineSeconds"), spec.get("minReadySeconds") or 0
        if isinstance(deadline, int) and isinstance(min_ready, int) and deadline <= min_ready:
            causes.append(
                (
                    "FieldValueInvalid",
                    "spec.progressDeadlineSeconds",
                    f"Invalid value: {deadline}: must be greater than minReadySeconds",
                )
            )
    if old is not None and old["spec"].get("selector") != spec.get("selector"):
        causes.append(
            (
                "FieldValueInvalid",
                "spec.selector",
                f"Invalid value: {go_selector(spec.get('selector') or {})}: field is immutable",
            )
        )
    if causes:
        raise invalid(kind, name, causes)


def admit_apps(obj: dict, old: dict | None) -> dict:
    """The store's admission step for Deployments and ReplicaSets
    (store.admission): defaulted and validated, status kept from the stored
    object (it changes through /status), generation counted after defaults."""
    obj = defaulted(obj)
    validate(obj, old)
    if old is None:
        obj.pop("status", None)
        return obj
    if "status" in old:
        obj["status"] = old["status"]
    else:
        obj.pop("status", None)
    generation = old["metadata"].get("generation", 1)
    changed = spec_part(old) != spec_part(obj)
    obj["metadata"]["generation"] = generation + 1 if changed else generation
    return obj


# --- the scale subresource -------------------------------------------------------------


def scale_of(obj: dict) -> dict:
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": obj["spec"].get("replicas", 1)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": label_selector.format_selector(obj["spec"].get("selector")).replace("<none>", ""),
        },
    }


def with_scale(obj: dict, scale: dict) -> dict:
    """obj with the replicas a Scale asks for."""
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise invalid(
            "Scale",
            obj["metadata"]["name"],
            [
                (
                    "FieldValueInvalid",
                    "spec.replicas",
                    f"Invalid value: {replicas}: must be greater than or equal to 0",
                )
            ],
        )
    new = copy.deepcopy(obj)
    new["spec"]["replicas"] = replicas
    want_rv = (scale.get("metadata") or {}).get("resourceVersion")
    if want_rv:
        new["metadata"]["resourceVersion"] = want_rv
    return new
