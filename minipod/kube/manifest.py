"""From manifest text to defaulted Pod objects, or a clear error.

Steps of load_manifest(), in order; nothing is created until all succeed:
    1. parse every YAML document, strictly and within bounds (yaml_load.py);
       a `kind: List` is opened into its items;
    2. skip, with a warning, objects of kinds minipod does not serve yet
       (SUPPORTED_KINDS); validate each Pod strictly against the v1 Pod
       schema (validate.py), collecting every error;
    3. fill in what the API server would default (namespace, restartPolicy,
       imagePullPolicy, terminationGracePeriodSeconds, ...), so that
       `get pod -o yaml` shows the same object kubectl would.
The result is a list of Pods and a list of warnings for fields that are
valid Kubernetes but that minipod does not implement yet.
"""

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from minipod.errors import ManifestError, MinipodError
from minipod.image.store import default_pull_policy
from minipod.kube import names
from minipod.kube.validate import validate_pod
from minipod.kube.yaml_load import load_documents


def parse_documents(text: str) -> list[dict[str, Any]]:
    docs = load_documents(text)
    objects = []
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict):
            raise ManifestError([f"document {i + 1}: expected a mapping (an object), got {_type(doc)}"])
        if doc.get("kind") == "List":
            items = doc.get("items") or []
            if not isinstance(items, list):
                raise ManifestError([f"document {i + 1}: items: expected list, got {type(items).__name__}"])
            for j, item in enumerate(items):
                if not isinstance(item, dict):
                    raise ManifestError(
                        [f"document {i + 1}: items[{j}]: expected a mapping (an object), got {_type(item)}"]
                    )
            objects.extend(items)
        else:
            objects.append(doc)
    if not objects:
        raise ManifestError(
            ["no objects in the manifest"], hint="a Pod manifest starts with apiVersion: v1 and kind: Pod"
        )
    return objects


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


# The kinds minipod serves, and what it does with an object of each; the
# one place to add a kind. Objects of other kinds are skipped with a
# warning, as kubectl sends each object on its own and the others still
# apply.
SUPPORTED_KINDS = {
    "Pod": "runs it",
}


def unsupported_kind(obj: dict[str, Any]) -> str | None:
    """The warning for an object of a kind minipod does not serve yet, or
    None for a supported one."""
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind or kind in SUPPORTED_KINDS:
        return None
    served = ", ".join(f"{k} ({what})" for k, what in SUPPORTED_KINDS.items())
    version = obj.get("apiVersion") or "no apiVersion"
    return (
        f"{_label(obj)}: skipped: kind {kind} ({version}) is not served by minipod yet; "
        f"it serves {served} and the kinds `minipod api-resources` lists"
    )


@dataclass
class Manifest:
    """A manifest's objects, validated: what the pod manager applies
    (pods) and what the object store keeps (stored: ConfigMaps, Secrets, ...)."""

    pods: list[dict[str, Any]] = field(default_factory=list)
    stored: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def load_manifest(
    text: str, default_namespace: str = "default", enforce_namespace: bool = False
) -> tuple[list[dict[str, Any]], list[str]]:
    """(pods, warnings) of a manifest of pods."""
    m = load_objects(text, default_namespace, enforce_namespace)
    return m.pods, m.warnings


def load_objects(
    text: str,
    default_namespace: str = "default",
    enforce_namespace: bool = False,
    is_stored: Callable[[dict[str, Any]], bool] = lambda obj: False,
) -> Manifest:
    """Every object of the manifest, sorted by who acts on it; ManifestError
    with every error found. enforce_namespace: the namespace was asked for
    (-n), so an object that names another one is refused, as kubectl
    refuses it. is_stored: the object store keeps objects of this kind
    (the store checks them itself, objects/apply.py)."""
    problems = names.dns_label_problems(default_namespace) if default_namespace else ["required value"]
    if problems:
        # The namespace of the request (-n): it becomes part of file names.
        raise ManifestError(
            [f"namespace: invalid value {json.dumps(default_namespace)}: {p}" for p in problems]
        )
    objects = parse_documents(text)
    if enforce_namespace:
        check_namespaces(objects, default_namespace)
    pods, errors, warnings, skipped, stored = [], [], [], [], []
    for obj in objects:
        kind = obj.get("kind")
        label = _label(obj)
        if isinstance(kind, str) and kind not in SUPPORTED_KINDS and is_stored(obj):
            stored.append(obj)
            continue
        skip = unsupported_kind(obj)
        if skip:
            skipped.append(skip)
            continue
        try:
            warnings += [f"{label}: {w}" for w in validate_pod(obj)]
        except ManifestError as e:
            errors += [f"{label}: {m}" for m in e.errors]
            continue
        pods.append(default_pod(obj, default_namespace))
    keys = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods]
    for key in {k for k in keys if keys.count(k) > 1}:
        errors.append(f"pod {key[1]!r} in namespace {key[0]!r} is defined more than once")
    if not errors and not pods and not stored:
        # Nothing at all to do: say so, rather than succeed doing nothing.
        errors = [s.replace(": skipped: ", ": ", 1) for s in skipped]
        skipped = []
    if errors:
        raise ManifestError(errors)
    return Manifest(pods, stored, skipped + warnings)


def check_namespaces(objects: list[dict[str, Any]], namespace: str) -> None:
    """kubectl's check when -n is given: every object that names a
    namespace names that one."""
    for obj in objects:
        meta = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
        theirs = meta.get("namespace")
        if theirs and theirs != namespace:
            raise ManifestError(
                [
                    f'the namespace from the provided object "{theirs}" does not match the namespace '
                    f"\"{namespace}\". You must pass '--namespace={theirs}' to perform this operation."
                ]
            )


def _label(obj: dict[str, Any]) -> str:
    meta = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
    return f"{str(obj.get('kind', 'object')).lower()}/{meta.get('name') or '<unnamed>'}"


def default_pod(obj: dict[str, Any], default_namespace: str = "default") -> dict[str, Any]:
    """The defaults the API server fills in (pkg/apis/core/v1/defaults.go)."""
    meta: dict[str, Any] = copy.deepcopy(obj.get("metadata") or {})
    spec: dict[str, Any] = copy.deepcopy(obj.get("spec") or {})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
    for k in (
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "selfLink",
        "managedFields",
        "generation",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ):
        meta.pop(k, None)
    meta["namespace"] = meta.get("namespace") or default_namespace
    for k, v in [
        ("restartPolicy", "Always"),
        ("terminationGracePeriodSeconds", 30),
        ("dnsPolicy", "ClusterFirst"),
        ("schedulerName", "default-scheduler"),
        ("securityContext", {}),
        ("enableServiceLinks", True),
    ]:
        if spec.get(k) is None:
            spec[k] = v
    for c in spec.get("initContainers") or []:
        _default_container(c)
    for c in spec["containers"]:
        _default_container(c)
    for v in spec.get("volumes") or []:
        if "hostPath" in v and v["hostPath"].get("type") is None:
            v["hostPath"]["type"] = ""
    return pod


def _pull_policy(image: str) -> str:
    try:
        return default_pull_policy(image)
    except MinipodError:
        return "IfNotPresent"  # an invalid name: reported as InvalidImageName at start


def _default_container(c: dict[str, Any]) -> None:
    for k, v in [
        ("imagePullPolicy", _pull_policy(c["image"])),
        ("terminationMessagePath", "/dev/termination-log"),
        ("terminationMessagePolicy", "File"),
        ("resources", {}),
    ]:
        if c.get(k) is None:
            c[k] = v
    for p in c.get("ports") or []:
        p.setdefault("protocol", "TCP")
