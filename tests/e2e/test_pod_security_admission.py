"""PodSecurity admission on Namespaces, through `minipod apply` and kubectl."""

import json

from helpers.kubectl import kubectl
from helpers.pods import ctr, pod

SLEEP = "exec sleep 3600"


def namespace(mp, name: str, **labels) -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
    kubectl(mp, "apply", "-f", "-", input=json.dumps(ns))


def test_enforce_restricted_refuses_a_privileged_pod_and_creates_nothing(mp, pods, pod_name):
    namespace(mp, "psa-restricted", **{"pod-security.kubernetes.io/enforce": "restricted"})
    try:
        manifest = pod(pod_name, ctr("main", SLEEP, securityContext={"privileged": True}))
        manifest["metadata"]["namespace"] = "psa-restricted"
        r = mp.run("apply", "-f", "-", input=json.dumps(manifest), check=False)
        assert r.returncode == 1
        assert r.stderr == (
            f'error: pods "{pod_name}" is forbidden: violates PodSecurity "restricted:latest": '
            'allowPrivilegeEscalation != false (container "main" must set '
            "securityContext.allowPrivilegeEscalation=false), "
            'unrestricted capabilities (container "main" must set securityContext.capabilities.drop=["ALL"]), '
            'privileged (container "main" must not set securityContext.privileged=true), '
            'runAsNonRoot != true (pod or container "main" must set securityContext.runAsNonRoot=true), '
            'seccompProfile (pod or container "main" must set securityContext.seccompProfile.type to '
            '"RuntimeDefault" or "Localhost")\n'
        )
        assert mp.run("get", "pod", pod_name, "-n", "psa-restricted", check=False).returncode == 1
        # The same through the Kubernetes API.
        k = kubectl(mp, "apply", "-f", "-", input=json.dumps(manifest), check=False)
        assert k.returncode == 1 and 'violates PodSecurity "restricted:latest": ' in k.stderr, k.stderr
        assert mp.run("get", "pod", pod_name, "-n", "psa-restricted", check=False).returncode == 1
    finally:
        kubectl(mp, "delete", "namespace", "psa-restricted", "--wait=false", check=False)


def test_warn_baseline_prints_warnings_and_creates_the_pod(mp, pods, pod_name):
    namespace(mp, "psa-warn", **{"pod-security.kubernetes.io/warn": "baseline"})
    try:
        manifest = pod(pod_name, ctr("main", SLEEP, securityContext={"privileged": True}))
        manifest["metadata"]["namespace"] = "psa-warn"
        pods.add(pod_name, namespace="psa-warn")
        r = mp.run("apply", "-f", "-", input=json.dumps(manifest))
        assert (
            'Warning: would violate PodSecurity "baseline:latest": privileged (container "main" '
            "must not set securityContext.privileged=true)"
        ) in r.stderr, r.stderr
        assert mp.run("get", "pod", pod_name, "-n", "psa-warn").returncode == 0
    finally:
        mp.run("delete", "pod", pod_name, "-n", "psa-warn", "--grace-period", "0", "--ignore-not-found")
        kubectl(mp, "delete", "namespace", "psa-warn", "--wait=false", check=False)
