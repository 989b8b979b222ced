"""The Pod Security Standards' checks, with the API server's messages."""

from minipod.kube import pod_security as pss


def pod(*containers, **spec):
    return {"metadata": {"name": "busybox"}, "spec": dict(spec, containers=list(containers))}


def test_the_documentations_restricted_refusal_word_for_word():
    # The message Kubernetes' documentation shows for `kubectl run busybox`
    # in a namespace that enforces restricted.
    v = pss.evaluate(pod({"name": "busybox", "image": "busybox"}), "restricted")
    assert pss.forbidden_message("busybox", "restricted", "latest", v) == (
        'pods "busybox" is forbidden: violates PodSecurity "restricted:latest": '
        'allowPrivilegeEscalation != false (container "busybox" must set securityContext.allowPrivilegeEscalation=false), '
        'unrestricted capabilities (container "busybox" must set securityContext.capabilities.drop=["ALL"]), '
        'runAsNonRoot != true (pod or container "busybox" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "busybox" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")'
    )


def test_the_restricted_shape_passes_every_level():
    sc = {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    p = pod({"name": "main", "securityContext": sc}, volumes=[{"name": "d", "emptyDir": {}}])
    assert pss.evaluate(p, "restricted") == [] and pss.evaluate(p, "baseline") == []


def test_baseline_violations():
    p = pod(
        {
            "name": "a",
            "securityContext": {"privileged": True, "capabilities": {"add": ["SYS_ADMIN", "CHOWN"]}},
        },
        {
            "name": "b",
            "ports": [{"containerPort": 80, "hostPort": 8080}],
            "securityContext": {"procMount": "Unmasked"},
        },
        hostNetwork=True,
        hostPID=True,
        volumes=[{"name": "root", "hostPath": {"path": "/"}}],
        securityContext={
            "sysctls": [{"name": "kernel.panic", "value": "1"}],
            "seccompProfile": {"type": "Unconfined"},
            "seLinuxOptions": {"type": "spc_t", "user": "u"},
        },
    )
    assert [str(v) for v in pss.evaluate(p, "baseline")] == [
        'non-default capabilities (container "a" must not include "SYS_ADMIN" in securityContext.capabilities.add)',
        "host namespaces (hostNetwork=true, hostPID=true)",
        'hostPath volumes (volume "root")',
        'hostPort (container "b" uses hostPort 8080)',
        'privileged (container "a" must not set securityContext.privileged=true)',
        'procMount (container "b" must not set securityContext.procMount to "Unmasked")',
        'seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set)',
        'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")',
        "forbidden sysctls (kernel.panic)",
    ]


def test_restricted_adds_its_own_checks():
    p = pod(
        {"name": "a", "securityContext": {"runAsUser": 0, "runAsNonRoot": False}},
        {"name": "b", "securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}},
        volumes=[
            {"name": "cfg", "configMap": {"name": "x"}},
            {"name": "disk", "gcePersistentDisk": {"pdName": "p"}},
        ],
    )
    got = {v.reason: v.detail for v in pss.evaluate(p, "restricted")}
    assert got["runAsUser=0"] == 'container "a" must not set runAsUser=0'
    assert got["runAsNonRoot != true"] == 'container "a" must not set securityContext.runAsNonRoot=false'
    assert got["unrestricted capabilities"] == (
        'container "a" must set securityContext.capabilities.drop=["ALL"]; '
        'container "b" must not include "NET_ADMIN" in securityContext.capabilities.add'
    )
    assert got["restricted volume types"] == 'volume "disk" uses restricted volume type "gcePersistentDisk"'
    assert got["allowPrivilegeEscalation != false"] == (
        'containers "a", "b" must set securityContext.allowPrivilegeEscalation=false'
    )


def test_user_namespace_pods_are_relaxed_only_with_the_feature_gate(monkeypatch):
    p = pod({"name": "a", "securityContext": {"runAsUser": 0}}, hostUsers=False)
    # As a 1.32 API server: UserNamespacesPodSecurityStandards is alpha, off.
    assert "runAsUser=0" in {v.reason for v in pss.evaluate(p, "restricted")}
    monkeypatch.setattr("minipod.kube.pod_security_checks.USER_NAMESPACES", True)
    reasons = {v.reason for v in pss.evaluate(p, "restricted")}
    assert "runAsUser=0" not in reasons and "runAsNonRoot != true" not in reasons


def test_privileged_allows_all():
    assert pss.evaluate(pod({"name": "a", "securityContext": {"privileged": True}}), "privileged") == []


def test_namespace_labels():
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "v1.32",
        "pod-security.kubernetes.io/warn": "baseline",
        "pod-security.kubernetes.io/audit": "bogus",
    }
    got = pss.levels_of(labels)
    assert got["enforce"] == pss.Policy("restricted", "v1.32")
    assert got["warn"] == pss.Policy("baseline", "latest")
    assert got["audit"] == pss.Policy("restricted", "latest")  # an invalid level is the strictest
    assert pss.levels_of({})["enforce"] == pss.Policy("privileged", "latest")
    v = pss.evaluate(pod({"name": "a", "securityContext": {"privileged": True}}), "baseline")
    assert pss.warning_message("baseline", "latest", v) == (
        'would violate PodSecurity "baseline:latest": privileged (container "a" must not set '
        "securityContext.privileged=true)"
    )
