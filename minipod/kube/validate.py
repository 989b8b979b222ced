"""Strict checking of a v1 Pod manifest, with kubectl-style messages.

validate_pod(obj) looks at a parsed manifest (a dict from YAML or JSON) in
three passes:

  1. shape    walk the manifest beside the schema table (minipod.kube.schema):
              unknown fields (with a "did you mean") and wrong types
              (minipod.kube.validate_shape);
  2. rules    what a type alone cannot say: required fields, name formats,
              duplicates, ranges, references between fields, and the volume
              types minipod can run. The pod-level rules (apiVersion, kind,
              metadata, spec, volumes) are here; each container's rules
              are in minipod.kube.validate_container;
  3. support  fields that are valid Kubernetes but not implemented by
              minipod yet become warnings. What is implemented is decided in
              one place, the tables of minipod.kube.implemented.

Passes 1 and 2 collect every error and raise one ManifestError holding all
of them, so the user fixes everything in one go. Pass 3 only runs on a
valid manifest and returns its warnings as a list of strings.

Every message starts with the path of the field, written the way kubectl
writes it: spec.containers[1].name, metadata.labels[app].
"""

from typing import Any

from minipod.errors import ManifestError
from minipod.kube import implemented, names, schema, security_context, validate_config_volumes
from minipod.kube.validate_container import (
    _check_absolute,
    _check_container,
    _check_id,
    _check_ids,
    _check_name,
    _dicts,
)
from minipod.kube.validate_shape import _check_shape, _describe, _is_int, _quote, _short, _unsupported


def validate_pod(obj: dict[str, Any]) -> list[str]:
    """Check a v1 Pod manifest; return warnings or raise ManifestError."""
    if not isinstance(obj, dict):
        raise ManifestError([f"expected a map at the top level, got {_describe(obj)}"])
    errors: list[str] = []
    _check_shape(obj, schema.POD, "", errors)
    _check_pod_rules(obj, errors)
    if errors:
        raise ManifestError(errors)
    return implemented.collect_warnings(obj)


# ---------------------------------------------------------- pass 2: rules


def _check_pod_rules(pod: dict[str, Any], errors: list[str]) -> None:
    for key, wanted in (("apiVersion", "v1"), ("kind", "Pod")):
        value = pod.get(key)
        if value is None or value == "":
            errors.append(f"{key}: required value")
        elif isinstance(value, str) and value != wanted:
            errors.append(_unsupported(key, value, [wanted]))

    metadata = pod.get("metadata")
    if metadata is None or isinstance(metadata, dict):  # else: pass 1 said so
        _check_metadata(metadata or {}, errors)

    spec = pod.get("spec")
    if spec is None:
        errors.append("spec: required value")
    elif isinstance(spec, dict):
        _check_spec(spec, errors)
    errors.extend(security_context.check_pod(pod))


TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024  # bytes, keys and values together


def _check_metadata(meta: dict[str, Any], errors: list[str]) -> None:
    name, generate_name = meta.get("name"), meta.get("generateName")
    if not name and not generate_name:
        errors.append("metadata.name: required value: name or generateName is required")
    _check_name(name, "metadata.name", names.dns_subdomain_problems, errors)
    if isinstance(generate_name, str) and generate_name and not name:
        # A prefix: the server appends random characters, so a trailing
        # '-' is fine (web- becomes web-x7k2p).
        prefix = generate_name[:-1] + "a" if generate_name.endswith("-") else generate_name
        for problem in names.dns_subdomain_problems(prefix):
            errors.append(f"metadata.generateName: invalid value {_quote(generate_name)}: " + problem)
    _check_name(meta.get("namespace"), "metadata.namespace", names.dns_label_problems, errors)

    labels = meta.get("labels")
    for key, value in labels.items() if isinstance(labels, dict) else []:
        if key == "":
            errors.append('metadata.labels: invalid value "": name part must be non-empty')
        _check_name(key, "metadata.labels", names.qualified_name_problems, errors)
        _check_name(value, f"metadata.labels[{key}]", names.label_value_problems, errors)
    annotations = meta.get("annotations")
    for key in annotations if isinstance(annotations, dict) else []:
        # Like Kubernetes: the case of annotation keys does not matter
        # (tools write keys such as io.kubernetes.cri-o.TTY/web).
        for problem in names.qualified_name_problems(str(key).lower()):
            errors.append(f"metadata.annotations: invalid value {_short(key)}: {problem}")
    if isinstance(annotations, dict):
        # apimachinery's ValidateAnnotationsSize: keys and values, in bytes.
        size = sum(len(str(k).encode()) + len(str(v or "").encode()) for k, v in annotations.items())
        if size > TOTAL_ANNOTATION_SIZE_LIMIT:
            errors.append(
                f"metadata.annotations: too long: may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"
            )


def _check_spec(spec: dict[str, Any], errors: list[str]) -> None:
    if spec.get("containers") in (None, []):
        errors.append("spec.containers: required value")

    volume_names = _check_volumes(spec, errors)

    # Container names are unique across init and regular containers.
    seen_names: set[str] = set()
    for kind in ("initContainers", "containers"):
        for i, container in _dicts(spec, kind):
            path = f"spec.{kind}[{i}]"
            name = container.get("name")
            if isinstance(name, str) and name in seen_names:
                errors.append(f"{path}.name: duplicate value {_quote(name)}")
            elif isinstance(name, str):
                seen_names.add(name)
            _check_container(container, path, kind == "initContainers", volume_names, errors)

    grace = spec.get("terminationGracePeriodSeconds")
    if _is_int(grace) and grace < 0:
        errors.append(
            f"spec.terminationGracePeriodSeconds: invalid value {grace}: must be greater than or equal to 0"
        )
    deadline = spec.get("activeDeadlineSeconds")
    if _is_int(deadline) and deadline < 1:
        errors.append(
            f"spec.activeDeadlineSeconds: invalid value {deadline}: must be greater than or equal to 1"
        )
    for field in ("hostname", "subdomain"):
        _check_name(spec.get(field), f"spec.{field}", names.dns_label_problems, errors)
    pod_sc = spec.get("securityContext")
    if isinstance(pod_sc, dict):
        _check_ids(pod_sc, "spec.securityContext", ("runAsUser", "runAsGroup", "fsGroup"), errors)
        groups = pod_sc.get("supplementalGroups")
        for i, gid in enumerate(groups if isinstance(groups, list) else []):
            _check_id(gid, f"spec.securityContext.supplementalGroups[{i}]", errors)
    if spec.get("hostPID") is True and spec.get("shareProcessNamespace") is True:
        errors.append(
            "spec.shareProcessNamespace: invalid value true: "
            "ShareProcessNamespace and HostPID cannot both be enabled"
        )


def _check_claim_volume(volume: dict[str, Any], path: str, errors: list[str]) -> None:
    """A persistentVolumeClaim names its claim; an ephemeral volume has a
    claim template with access modes and a storage request (the rest of
    the claim is checked when the claim is created)."""
    claim = volume.get("persistentVolumeClaim")
    if isinstance(claim, dict) and not claim.get("claimName"):
        errors.append(f"{path}.persistentVolumeClaim.claimName: required value")
    ephemeral = volume.get("ephemeral")
    if isinstance(ephemeral, dict):
        template = ephemeral.get("volumeClaimTemplate")
        where = f"{path}.ephemeral.volumeClaimTemplate"
        if not isinstance(template, dict):
            errors.append(f"{where}: required value")
            return
        claim_spec: dict[str, Any] = template["spec"] if isinstance(template.get("spec"), dict) else {}
        if not claim_spec.get("accessModes"):
            errors.append(f"{where}.spec.accessModes: required value: at least 1 access mode is required")
        if not ((claim_spec.get("resources") or {}).get("requests") or {}).get("storage"):
            errors.append(f"{where}.spec.resources[storage]: required value")


def _check_volumes(spec: dict[str, Any], errors: list[str]) -> set[str]:
    """Check spec.volumes; return the volume names, for volumeMounts."""
    seen: set[str] = set()
    supported = implemented.SUPPORTED_VOLUME_TYPES
    for i, volume in _dicts(spec, "volumes"):
        path = f"spec.volumes[{i}]"
        name = volume.get("name")
        if not name:
            errors.append(f"{path}.name: required value")
        elif isinstance(name, str) and name in seen:
            errors.append(f"{path}.name: duplicate value {_quote(name)}")
        elif isinstance(name, str):
            seen.add(name)
            _check_name(name, f"{path}.name", names.dns_label_problems, errors)

        sources = [key for key in schema.VOLUME_SOURCE if volume.get(key) is not None]
        if not sources:
            errors.append(f"{path}: required value: must specify a volume type")
        for extra in sources[1:]:
            errors.append(f"{path}.{extra}: forbidden: may not specify more than 1 volume type")
        for source in sources:
            # The cluster's token volume is let through: it is skipped
            # with a warning (see minipod.kube.implemented).
            if source not in supported and not implemented.is_service_account_volume(volume):
                errors.append(
                    f"{path}.{source}: volume type not supported by minipod yet "
                    f"(supported: {', '.join(supported)})"
                )

        validate_config_volumes.check(volume, path, errors)
        _check_claim_volume(volume, path, errors)
        host_path = volume.get("hostPath")
        if isinstance(host_path, dict):
            _check_absolute(host_path.get("path"), f"{path}.hostPath.path", errors)
        empty_dir = volume.get("emptyDir")
        medium = empty_dir.get("medium") if isinstance(empty_dir, dict) else None
        if (
            isinstance(medium, str)
            and medium not in ("", "Memory", "HugePages")
            and not medium.startswith("HugePages-")
        ):
            errors.append(
                _unsupported(
                    f"{path}.emptyDir.medium", medium, ["", "Memory", "HugePages", "HugePages-<size>"]
                )
            )
    return seen
