"""PodSecurity's namespace labels as the API server reads them, the
instance's PodSecurityConfiguration, and the audit Event's shape."""

import datetime

import pytest

from minipod.errors import MinipodError
from minipod.kube import pod_security as pss
from minipod.kube.pod_security_config import PodSecurityConfig, parse
from minipod.objects import audit

P = "pod-security.kubernetes.io/"
BASELINE = {m: pss.Policy("baseline", "v1.30") for m in pss.MODES}


def test_a_version_label_alone_goes_with_the_default_level():
    got = pss.levels_of({P + "warn-version": "v1.29"}, BASELINE)
    assert got["warn"] == pss.Policy("baseline", "v1.29")
    assert got["enforce"] == pss.Policy("baseline", "v1.30")  # no label: the default, whole


def test_a_level_label_alone_means_latest():
    assert pss.levels_of({P + "audit": "restricted"}, BASELINE)["audit"] == pss.Policy("restricted", "latest")


def test_invalid_labels_are_strict_and_named():
    labels = {P + "enforce": "strict", P + "warn": "baseline", P + "warn-version": "1.29"}
    got = pss.levels_of(labels, BASELINE)
    # An invalid level keeps the default's version; an invalid version is latest.
    assert got["enforce"] == pss.Policy("restricted", "v1.30")
    assert got["warn"] == pss.Policy("baseline", "latest")
    assert pss.label_errors(labels) == [
        f'metadata.labels[{P}enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted',
        f'metadata.labels[{P}warn-version]: Invalid value: "1.29": must be "latest" or "v1.x"',
    ]


def _config(**body):
    return dict(
        {"apiVersion": "pod-security.admission.config.k8s.io/v1", "kind": "PodSecurityConfiguration"}, **body
    )


def test_the_configuration_gives_defaults_and_exemptions():
    c = parse(
        _config(
            defaults={"enforce": "baseline", "enforce-version": "v1.31", "audit": "restricted"},
            exemptions={"namespaces": ["kube-system"], "usernames": ["ci"], "runtimeClasses": ["kata"]},
        ),
        "ps.yaml",
    )
    assert c.defaults["enforce"] == pss.Policy("baseline", "v1.31")
    assert c.defaults["audit"] == pss.Policy("restricted", "latest")
    assert c.defaults["warn"] == pss.Policy("privileged", "latest")
    assert c.exemption("kube-system", "admin", {}) == "namespace"
    assert c.exemption("default", "ci", {}) == "user"
    assert c.exemption("default", "admin", {"runtimeClassName": "kata"}) == "runtimeClass"
    assert c.exemption("default", "admin", {}) is None
    assert PodSecurityConfig().defaults["enforce"] == pss.Policy()


@pytest.mark.parametrize(
    "body, message",
    [
        ({"defaults": {"warn": "strict"}}, 'ps.yaml: defaults.warn: invalid value "strict": must be one of'),
        ({"defaults": {"audit-version": "1.2"}}, 'ps.yaml: defaults.audit-version: invalid value "1.2"'),
        ({"exemptions": {"namespaces": "x"}}, "ps.yaml: exemptions.namespaces: expected a list of names"),
    ],
)
def test_a_bad_configuration_names_the_field(body, message):
    with pytest.raises(MinipodError) as e:
        parse(_config(**body), "ps.yaml")
    assert str(e.value).startswith(message)
    with pytest.raises(MinipodError, match="expected kind: PodSecurityConfiguration"):
        parse({"kind": "Pod"}, "ps.yaml")


def test_an_audit_event_is_an_api_servers_metadata_event():
    who = audit.Requester("alice", ["dev"], "", "10.0.0.1", "kubectl/v1.32.0", "/api/v1/namespaces/a/pods")
    ref = {"resource": "pods", "namespace": "a", "name": "p", "apiVersion": "v1"}
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc)
    ev = audit.event(who, "create", ref, 403, {P + "enforce-policy": "baseline:latest"}, when)
    ev.pop("auditID")
    assert ev == {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/a/pods",
        "verb": "create",
        "user": {"username": "alice", "groups": ["dev"]},
        "sourceIPs": ["10.0.0.1"],
        "userAgent": "kubectl/v1.32.0",
        "objectRef": ref,
        "responseStatus": {"metadata": {}, "code": 403},
        "requestReceivedTimestamp": "2026-01-02T03:04:05.678000Z",
        "stageTimestamp": "2026-01-02T03:04:05.678000Z",
        "annotations": {P + "enforce-policy": "baseline:latest"},
    }
    assert audit.requester() == audit.SOCKET_ADMIN  # no request being served: the socket's admin
