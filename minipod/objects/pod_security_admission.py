"""PodSecurity admission: the Pod Security Standards, enforced per Namespace.

As the API server's PodSecurity plugin, for every new pod, after the
mutating steps (the ServiceAccount's token volume):
    1. exemptions (the instance's configuration): a pod in an exempt
       namespace, made by an exempt user or with an exempt runtimeClassName
       is not checked (annotation `exempt`);
    2. read the pod's Namespace labels pod-security.kubernetes.io/enforce,
       audit and warn (and their -version); a mode without a label takes
       the instance default (privileged unless configured, as in
       Kubernetes); an invalid label is read as restricted (or latest)
       and noted (annotation `error`);
    3. enforce: any violation of that level refuses the pod (403
       Forbidden, `pods "x" is forbidden: violates PodSecurity
       "restricted:latest": ...`), before anything is created
       (annotation `enforce-policy`, always);
    4. audit: violations become the annotation `audit-violations`;
    5. warn: violations become one warning (`Warning: would violate
       PodSecurity "baseline:latest": ...`), unless the pod is refused;
    6. the annotations go to the audit log (audit.py), with the answer.
And for Namespaces (admit_namespace()): a label with a level or version
the API server does not know refuses the create or update (422 Invalid).
The instance's configuration is the API server's own format, a
PodSecurityConfiguration in ETC/pod-security.yaml (kube/pod_security_config.py).
The checks themselves are pure: minipod/kube/pod_security.py.
"""

from typing import Any

from minipod.kube import pod_security as pss
from minipod.kube.pod_security_config import PodSecurityConfig
from minipod.objects import audit
from minipod.objects.errors import ApiError, invalid
from minipod.objects.resources import find

ANNOTATION = "pod-security.kubernetes.io/"
# What an auditor must see in the daemon's log too.
LOUD = (ANNOTATION + "audit-violations", ANNOTATION + "error")


class PodSecurity:
    def __init__(self, store, config: PodSecurityConfig | None = None, log: audit.AuditLog | None = None):
        self.store, self.config, self.audit_log = store, config or PodSecurityConfig(), log

    def admit(self, pod: dict[str, Any]) -> list[str]:
        """Warnings for the pod, or ApiError 403 when its Namespace enforces a
        level it violates."""
        meta = pod.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        annotations: dict[str, str] = {}
        try:
            warnings = self._evaluate(pod, ns, annotations)
        except ApiError:
            self._audit(meta, ns, 403, annotations)
            raise
        self._audit(meta, ns, 201, annotations)
        return warnings

    def _evaluate(self, pod: dict[str, Any], ns: str, annotations: dict[str, str]) -> list[str]:
        exempt = self.config.exemption(ns, audit.requester().username, pod.get("spec") or {})
        if exempt:
            annotations[ANNOTATION + "exempt"] = exempt
            return []
        res = find("", "v1", "namespaces")
        labels = (
            (self.store.get(res, None, ns).get("metadata") or {}).get("labels")
            if self.store.exists(res, None, ns)
            else {}
        )
        policies = pss.levels_of(labels, self.config.defaults)
        errors = pss.label_errors(labels)
        if errors:
            joined = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
            annotations[ANNOTATION + "error"] = f"Failed to parse policy: {joined}"
        name = (pod.get("metadata") or {}).get("name", "")
        enforce, audit_policy, warn = policies["enforce"], policies["audit"], policies["warn"]
        annotations[ANNOTATION + "enforce-policy"] = str(enforce)
        refusal = None
        if enforce.level != "privileged":
            violations = pss.evaluate(pod, enforce.level)
            if violations:
                message = pss.forbidden_message(name, enforce.level, enforce.version, violations)
                refusal = ApiError(403, "Forbidden", message)
        if audit_policy.level != "privileged":  # audited even when refused, as the API server does
            violations = pss.evaluate(pod, audit_policy.level)
            if violations:
                annotations[ANNOTATION + "audit-violations"] = pss.warning_message(
                    audit_policy.level, audit_policy.version, violations
                )
        if refusal:
            raise refusal
        if warn.level != "privileged":
            violations = pss.evaluate(pod, warn.level)
            if violations:
                return [pss.warning_message(warn.level, warn.version, violations)]
        return []

    def _audit(self, meta: dict[str, Any], ns: str, code: int, annotations: dict[str, str]) -> None:
        if self.audit_log is None:
            return
        ref = {"resource": "pods", "namespace": ns, "name": meta.get("name", ""), "apiVersion": "v1"}
        self.audit_log.write(audit.event(audit.requester(), "create", ref, code, annotations))


def admit_namespace(ns: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """A Namespace's pod-security labels must be valid, as the API
    server's PodSecurity plugin checks them on create and update."""
    meta = ns.get("metadata") or {}
    problems = pss.label_problems(meta.get("labels"))
    if problems:
        causes = [("FieldValueInvalid", path, message) for path, message in problems]
        raise invalid("Namespace", meta.get("name", ""), causes)
    return ns
