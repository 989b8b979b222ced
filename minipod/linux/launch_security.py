"""From a Pod's securityContext to the security part of a launch plan.

Pure decisions, made in the daemon before anything is forked (the
container's settings win over the pod's, as in Kubernetes):
    1. user and groups: runAsUser, runAsGroup, supplementalGroups, fsGroup;
    2. capabilities: Docker's default set, add, drop, privileged;
    3. no_new_privs: allowPrivilegeEscalation: false;
    4. seccomp: the profile chosen and compiled to BPF (seccomp.py);
    5. the root filesystem: readOnlyRootFilesystem;
and, before any of it, runAsNonRoot (verify_run_as_non_root).
A profile that cannot be loaded is a ContainerCreateError: the kubelet
reports it as CreateContainerError, not as a configuration error.
"""

from minipod.errors import MinipodError
from minipod.linux import capabilities, seccomp


class ContainerCreateError(MinipodError):
    """The container could not be created from a valid configuration."""

    reason = "CreateContainerError"


def security(pod: dict, container: dict, node=None) -> dict:
    """The effective security settings of one container; `node` is the
    instance's NodeConfig (seccomp default and profiles directory)."""
    pod_sc = pod["spec"].get("securityContext") or {}
    sc = container.get("securityContext") or {}
    caps = capabilities.container_caps(sc)
    choice = seccomp.choose_profile(
        pod_sc,
        sc,
        default=node.seccomp_default if node else "RuntimeDefault",
        root=node.seccomp_root if node else "",
    )
    try:
        program = seccomp.compile_bpf(f) if (f := seccomp.filter_for(choice, caps)) else None
    except MinipodError as e:
        raise ContainerCreateError(str(e)) from None
    return {
        "run_as_user": _pick(sc, pod_sc, "runAsUser"),
        "run_as_group": _pick(sc, pod_sc, "runAsGroup"),
        # The kubelet adds fsGroup to the groups of every container.
        "supplemental_groups": [*(pod_sc.get("supplementalGroups") or []), *_present(pod_sc.get("fsGroup"))],
        "caps": caps,
        "no_new_privs": sc.get("allowPrivilegeEscalation") is False,
        "seccomp": program,
        "seccomp_profile": choice.kind,
        "readonly_root": bool(sc.get("readOnlyRootFilesystem")),
    }


def _pick(sc: dict, pod_sc: dict, key: str):
    """A securityContext field: the container's if it sets it, else the pod's."""
    return sc[key] if sc.get(key) is not None else pod_sc.get(key)


def _present(value) -> list:
    return [] if value is None else [value]


def verify_run_as_non_root(pod: dict, container: dict, image_user: str) -> None:
    """runAsNonRoot, as the kubelet checks it before creating a container
    (kuberuntime's verifyRunAsNonRoot), with its messages. A failure is a
    CreateContainerConfigError: the pod waits, it does not crash."""
    pod_sc = pod["spec"].get("securityContext") or {}
    sc = container.get("securityContext") or {}
    if not _pick(sc, pod_sc, "runAsNonRoot"):
        return
    meta = pod["metadata"]
    where = (
        f'(pod: "{meta["name"]}_{meta["namespace"]}({meta.get("uid", "")})", container: {container["name"]})'
    )
    if _pick(sc, pod_sc, "runAsUser") is not None:
        if _pick(sc, pod_sc, "runAsUser") == 0:
            raise MinipodError(f"container's runAsUser breaks non-root policy {where}")
        return
    # The image's User: "" is root; "1000" or "1000:100" a uid; "app" a name.
    user = (image_user or "").partition(":")[0]
    if user == "" or user == "0":
        raise MinipodError(f"container has runAsNonRoot and image will run as root {where}")
    if not user.isdigit():
        raise MinipodError(
            f"container has runAsNonRoot and image has non-numeric user ({user}), "
            f"cannot verify user is non-root {where}"
        )
