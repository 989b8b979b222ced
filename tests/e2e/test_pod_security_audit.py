"""PodSecurity's audit mode, the instance's defaults and exemptions, and
the -version labels: where an auditor and a user would look.

audit annotations never reach kubectl: the API server puts them in its
audit log. minipod writes them to LIB/audit.log (one audit.k8s.io/v1
Event a line) and to the daemon's log.
"""

import json
import os
import signal

import pytest
from helpers.kubectl import kubectl
from helpers.pods import ctr, pod

SLEEP = "exec sleep 3600"
PRIVILEGED_DETAIL = 'privileged (container "main" must not set securityContext.privileged=true)'


def namespace(mp, name: str, **labels) -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
    kubectl(mp, "apply", "-f", "-", input=json.dumps(ns))


def privileged_pod(name: str, namespace: str) -> dict:
    manifest = pod(name, ctr("main", SLEEP, securityContext={"privileged": True}))
    manifest["metadata"]["namespace"] = namespace
    return manifest


def audit_events(mp, name: str) -> list[dict]:
    path = os.path.join(mp.root, "lib", "audit.log")
    with open(path) as f:
        events = [json.loads(line) for line in f]
    return [e for e in events if e["objectRef"]["name"] == name]


def test_audit_violations_go_to_the_audit_log_and_the_daemon_log(mp, pods, pod_name):
    ns = "psa-audit"
    namespace(mp, ns, **{"pod-security.kubernetes.io/audit": "baseline"})
    try:
        pods.add(pod_name, namespace=ns)
        k = kubectl(mp, "apply", "-f", "-", input=json.dumps(privileged_pod(pod_name, ns)))
        assert "Warning" not in k.stderr  # audit is not warn: the user sees nothing
        [event] = audit_events(mp, pod_name)
        assert event["apiVersion"] == "audit.k8s.io/v1" and event["kind"] == "Event"
        assert (event["verb"], event["level"], event["stage"]) == ("create", "Metadata", "ResponseComplete")
        assert event["objectRef"] == {
            "resource": "pods",
            "namespace": ns,
            "name": pod_name,
            "apiVersion": "v1",
        }
        assert event["responseStatus"]["code"] == 201
        assert event["user"]["username"] == "minipod-admin"
        assert "system:masters" in event["user"]["groups"]
        assert event["requestURI"].startswith(f"/api/v1/namespaces/{ns}/pods")
        assert event["userAgent"].startswith("kubectl/")
        assert event["annotations"] == {
            "pod-security.kubernetes.io/enforce-policy": "privileged:latest",
            "pod-security.kubernetes.io/audit-violations": (
                f'would violate PodSecurity "baseline:latest": {PRIVILEGED_DETAIL}'
            ),
        }
        with open(mp.log.name) as f:  # the daemon's log, as this test instance keeps it
            log = f.read()
        assert (
            f"audit: create pods {ns}/{pod_name}: pod-security.kubernetes.io/audit-violations: "
            f'would violate PodSecurity "baseline:latest": {PRIVILEGED_DETAIL}'
        ) in log
    finally:
        mp.run("delete", "pod", pod_name, "-n", ns, "--grace-period", "0", "--ignore-not-found")
        kubectl(mp, "delete", "namespace", ns, "--wait=false", check=False)


def test_a_refused_pod_is_audited_with_its_403_and_versions_are_honoured(mp, pod_name):
    ns = "psa-versions"
    labels = {
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/enforce-version": "v1.30",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn-version": "v1.29",  # no warn level: the default's, privileged
    }
    namespace(mp, ns, **labels)
    try:
        r = mp.run("apply", "-f", "-", input=json.dumps(privileged_pod(pod_name, ns)), check=False)
        assert r.returncode == 1
        assert f'violates PodSecurity "baseline:v1.30": {PRIVILEGED_DETAIL}' in r.stderr
        [event] = audit_events(mp, pod_name)
        assert event["responseStatus"]["code"] == 403
        assert event["user"]["username"] == "minipod-admin"  # the root-only socket: the admin
        annotations = event["annotations"]
        assert annotations["pod-security.kubernetes.io/enforce-policy"] == "baseline:v1.30"
        assert annotations["pod-security.kubernetes.io/audit-violations"].startswith(
            'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false'
        )
    finally:
        kubectl(mp, "delete", "namespace", ns, "--wait=false", check=False)


def test_an_invalid_label_refuses_the_namespace_as_the_api_server_does(mp):
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "psa-invalid"}}
    ns["metadata"]["labels"] = {"pod-security.kubernetes.io/enforce": "strict"}
    r = kubectl(mp, "apply", "-f", "-", input=json.dumps(ns), check=False)
    assert r.returncode == 1
    assert (
        'The Namespace "psa-invalid" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: '
        'Invalid value: "strict": must be one of privileged, baseline, restricted'
    ) in r.stderr
    namespace(mp, "psa-relabel")
    try:
        r = kubectl(
            mp,
            "label",
            "namespace",
            "psa-relabel",
            "pod-security.kubernetes.io/warn-version=1.29",
            check=False,
        )
        assert r.returncode == 1
        assert 'Invalid value: "1.29": must be "latest" or "v1.x"' in r.stderr
    finally:
        kubectl(mp, "delete", "namespace", "psa-relabel", "--wait=false", check=False)


def test_the_instance_defaults_and_exemptions_come_from_its_configuration(fresh_mp, pod_name):
    mp = fresh_mp
    with open(os.path.join(mp.root, "etc", "pod-security.yaml"), "w") as f:
        f.write(
            "apiVersion: pod-security.admission.config.k8s.io/v1\n"
            "kind: PodSecurityConfiguration\n"
            "defaults: {enforce: baseline, enforce-version: v1.32, warn: restricted}\n"
            "exemptions: {namespaces: [tools]}\n"
        )
    mp.kill_daemon(signal.SIGTERM)
    mp.start_daemon()
    r = mp.run("apply", "-f", "-", input=json.dumps(privileged_pod(pod_name, "default")), check=False)
    assert r.returncode == 1
    assert (
        f'pods "{pod_name}" is forbidden: violates PodSecurity "baseline:v1.32": {PRIVILEGED_DETAIL}'
        in r.stderr
    )
    # A label still wins over the default.
    namespace(mp, "open", **{"pod-security.kubernetes.io/enforce": "privileged"})
    r = mp.run("apply", "-f", "-", input=json.dumps(privileged_pod(pod_name, "open")))
    assert 'Warning: would violate PodSecurity "restricted:latest"' in r.stderr
    # An exempt namespace is not checked at all.
    namespace(mp, "tools")
    r = mp.run("apply", "-f", "-", input=json.dumps(privileged_pod(pod_name, "tools")))
    assert "Warning" not in r.stderr
    [event] = [e for e in audit_events(mp, pod_name) if e["objectRef"]["namespace"] == "tools"]
    assert event["annotations"] == {"pod-security.kubernetes.io/exempt": "namespace"}


def test_a_bad_configuration_stops_the_daemon_with_the_field(fresh_mp):
    mp = fresh_mp
    with open(os.path.join(mp.root, "etc", "pod-security.yaml"), "w") as f:
        f.write(
            "apiVersion: pod-security.admission.config.k8s.io/v1\n"
            "kind: PodSecurityConfiguration\n"
            "defaults: {audit: strict}\n"
        )
    mp.kill_daemon(signal.SIGTERM)
    with open(mp.log.name) as f:
        f.seek(0, os.SEEK_END)
        before = f.tell()
    with pytest.raises(AssertionError, match="exited at start-up"):
        mp.start_daemon()
    with open(mp.log.name) as f:
        f.seek(before)
        log = f.read()
    assert 'pod-security.yaml: defaults.audit: invalid value "strict": must be one of' in log
    assert "Traceback" not in log
    os.remove(os.path.join(mp.root, "etc", "pod-security.yaml"))
