"""PodSecurity admission: the Pod Security Standards, enforced per Namespace.

As the API server's PodSecurity plugin, for every new pod, after the
mutating steps (the ServiceAccount's token volume):
    1. read the pod's Namespace labels pod-security.kubernetes.io/enforce,
       warn and audit (and their -version); a mode without a label takes
       the instance default, privileged, as in Kubernetes;
    2. enforce: any violation of that level refuses the pod (403
       Forbidden, `pods "x" is forbidden: violates PodSecurity
       "restricted:latest": ...`), before anything is created;
    3. warn: violations become one warning (`Warning: would violate
       PodSecurity "baseline:latest": ...`), and the pod is created.
Audit annotations need an audit log, which minipod does not keep.
The checks themselves are pure: minipod/kube/pod_security.py.
"""

from minipod.kube import pod_security as pss
from minipod.objects.errors import ApiError
from minipod.objects.resources import find

PRIVILEGED = pss.Policy()  # the instance-wide default level, as in Kubernetes


def admit(store, pod: dict, default: pss.Policy = PRIVILEGED) -> list[str]:
    """Warnings for the pod, or ApiError 403 when its Namespace enforces a
    level it violates."""
    meta = pod.get("metadata") or {}
    res = find("", "v1", "namespaces")
    ns = meta.get("namespace") or "default"
    labels = (
        (store.get(res, None, ns).get("metadata") or {}).get("labels") if store.exists(res, None, ns) else {}
    )
    policies = pss.levels_of(labels, default)
    enforce, warn = policies["enforce"], policies["warn"]
    if enforce.level != "privileged":
        violations = pss.evaluate(pod, enforce.level)
        if violations:
            message = pss.forbidden_message(meta.get("name", ""), enforce.level, enforce.version, violations)
            raise ApiError(403, "Forbidden", message)
    if warn.level != "privileged":
        violations = pss.evaluate(pod, warn.level)
        if violations:
            return [pss.warning_message(warn.level, warn.version, violations)]
    return []
