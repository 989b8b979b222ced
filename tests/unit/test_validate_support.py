"""Tests for what minipod accepts and warns about (minipod.kube.implemented).

Pure Python, no root needed. In order:
  1. real tool output (kubectl run, kubectl get, podman kube generate) is
     accepted, with warnings only for what minipod really lacks;
  2. warnings for valid Kubernetes that minipod does not implement yet,
     and silence for implemented fields and Kubernetes defaults;
  3. the schema and support tables cover the v1 Pod API and agree.
"""

import os

import pytest
import yaml
from helpers import MANIFESTS

from minipod.errors import ManifestError
from minipod.kube import implemented, schema
from minipod.kube.validate import validate_pod


def fixture(name: str) -> dict:
    """The Pod document of a file under tests/manifests/."""
    with open(os.path.join(MANIFESTS, name)) as f:
        return next(d for d in yaml.safe_load_all(f) if d)


def kubectl_run_pod(extra_spec: str = "") -> dict:
    """What `kubectl run web --image=nginx` writes, plus extra spec fields."""
    pod = fixture("kubectl-run.yaml")
    pod["spec"].update(yaml.safe_load(extra_spec) or {})
    return pod


def not_implemented(path: str) -> str:
    return f"{path}: not implemented by minipod yet; ignored"


# ----------------------------------------------------- 1. real tool output


def test_kubectl_run_output_is_valid_and_quiet():
    assert validate_pod(fixture("kubectl-run.yaml")) == []
    assert validate_pod(fixture("kubectl-run-args.yaml")) == []


def test_kubectl_get_pod_output_only_warns_about_the_token_volume():
    assert validate_pod(fixture("kubectl-get-pod.yaml")) == [
        'spec.volumes[0]: service account volume "kube-api-access-7xq2n": minipod mounts '
        "its own instance's token, CA and namespace there"
    ]


def test_podman_kube_generate_pod_is_valid_and_quiet():
    assert validate_pod(fixture("podman-kube-generate-pod.yaml")) == []


def test_podman_kube_generate_container_is_valid_and_quiet():
    assert validate_pod(fixture("podman-kube-generate-container.yaml")) == []


# ------------------------------------------------------------ 2. warnings


def test_implemented_fields_do_not_warn():
    assert validate_pod(fixture("minipod-implemented.yaml")) == []


def test_unimplemented_fields_warn_once_per_subtree():
    pod = kubectl_run_pod("""
affinity:
  nodeAffinity: {}
dnsConfig:
  nameservers: [1.1.1.1]
hostAliases:
- ip: 10.0.0.1
  hostnames: [db]
imagePullSecrets:
- name: registry
hostUsers: false
ephemeralContainers:
- name: debug
  image: busybox
""")
    web = pod["spec"]["containers"][0]
    web["resources"] = {"limits": {"memory": "128Mi"}}
    web["livenessProbe"] = {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 5}
    web["ports"] = [{"containerPort": 80, "hostPort": 8080, "hostIP": "127.0.0.1"}]
    web["securityContext"] = {"runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
    web["env"] = [
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}},
        {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
    ]
    assert validate_pod(pod) == [
        not_implemented("spec.ephemeralContainers"),
    ]


def test_sub_path_is_implemented_and_mount_propagation_warns():
    pod = kubectl_run_pod("volumes: [{name: data, emptyDir: {}}]")
    pod["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "data", "mountPath": "/d", "subPath": "x"},
        {"name": "data", "mountPath": "/e", "subPathExpr": "$(POD)/x", "mountPropagation": "HostToContainer"},
    ]
    assert validate_pod(pod) == [not_implemented("spec.containers[0].volumeMounts[1].mountPropagation")]


def test_sub_paths_and_propagation_checked_as_the_api_server_does():
    pod = kubectl_run_pod("volumes: [{name: data, emptyDir: {}}]")
    pod["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "data", "mountPath": "/a", "subPath": "/etc"},
        {"name": "data", "mountPath": "/b", "subPath": "x/../../y"},
        {"name": "data", "mountPath": "/c", "subPath": "x", "subPathExpr": "y"},
        {"name": "data", "mountPath": "/d", "mountPropagation": "Bidirectional"},
    ]
    with pytest.raises(ManifestError) as e:
        validate_pod(pod)
    m = "spec.containers[0].volumeMounts"
    assert e.value.errors == [
        f'{m}[0].subPath: invalid value "/etc": must be a relative path',
        f"{m}[1].subPath: invalid value \"x/../../y\": must not contain '..'",
        f'{m}[2].subPathExpr: invalid value "y": subPathExpr and subPath are mutually exclusive',
        f"{m}[3].mountPropagation: forbidden: Bidirectional mount propagation is available only to privileged containers",
    ]


def test_sidecar_init_container_is_implemented():
    pod = kubectl_run_pod("""
initContainers:
- name: proxy
  image: envoy
  restartPolicy: Always
  readinessProbe: {tcpSocket: {port: 9901}}
""")
    assert validate_pod(pod) == []


def test_grpc_probes_are_refused_clearly():
    pod = kubectl_run_pod("")
    pod["spec"]["containers"][0]["livenessProbe"] = {"grpc": {"port": 9090}}
    with pytest.raises(ManifestError) as e:
        validate_pod(pod)
    assert e.value.errors == [
        "spec.containers[0].livenessProbe.grpc: not supported by minipod: "
        "use exec, httpGet or tcpSocket (they need no tool in the image either)"
    ]


def test_kubernetes_defaults_do_not_warn():
    pod = kubectl_run_pod("""
schedulerName: default-scheduler
enableServiceLinks: true
automountServiceAccountToken: false
priority: 0
preemptionPolicy: PreemptLowerPriority
serviceAccount: default
serviceAccountName: default
nodeName: somewhere
securityContext: {}
hostUsers: true
os: {name: linux}
nodeSelector: {}
tolerations:
- {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute,
   tolerationSeconds: 300}
""")
    pod["spec"]["containers"][0].update(
        {
            "securityContext": {},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
        }
    )
    pod["status"] = {"phase": "Running", "podIP": "10.0.0.5"}
    assert validate_pod(pod) == []


def test_non_default_values_of_default_fields_warn():
    pod = kubectl_run_pod("""
dnsPolicy: Default
serviceAccountName: builder
tolerations:
- {key: gpu, operator: Exists}
""")
    assert validate_pod(pod) == [not_implemented("spec.serviceAccountName")]


def test_service_account_volume_is_recognised():
    volume = {"name": "kube-api-access-abcde", "projected": {"sources": []}}
    assert implemented.is_service_account_volume(volume)
    assert not implemented.is_service_account_volume({"name": "data", "projected": {}})
    assert not implemented.is_service_account_volume({"name": "kube-api-access-x", "emptyDir": {}})


# ---------------------------------------------------------- 3. the tables


def test_schema_has_every_pod_spec_field():
    expected = """affinity tolerations topologySpreadConstraints nodeSelector nodeName
        schedulerName priority priorityClassName preemptionPolicy runtimeClassName overhead
        readinessGates resourceClaims schedulingGates os hostUsers securityContext
        serviceAccount serviceAccountName automountServiceAccountToken enableServiceLinks
        dnsPolicy dnsConfig hostAliases hostname subdomain setHostnameAsFQDN hostNetwork
        hostPID hostIPC shareProcessNamespace imagePullSecrets activeDeadlineSeconds
        terminationGracePeriodSeconds restartPolicy volumes initContainers containers
        ephemeralContainers""".split()
    assert set(expected) <= set(schema.POD_SPEC)


def test_schema_has_every_container_field():
    expected = """name image command args workingDir ports env envFrom resources
        resizePolicy restartPolicy volumeMounts volumeDevices livenessProbe readinessProbe
        startupProbe lifecycle terminationMessagePath terminationMessagePolicy
        imagePullPolicy securityContext stdin stdinOnce tty""".split()
    assert set(expected) <= set(schema.CONTAINER)
    assert set(
        """capabilities privileged seLinuxOptions windowsOptions runAsUser runAsGroup
        runAsNonRoot readOnlyRootFilesystem allowPrivilegeEscalation procMount seccompProfile
        appArmorProfile""".split()
    ) <= set(schema.SECURITY_CONTEXT)
    assert set(
        """name mountPath subPath subPathExpr readOnly recursiveReadOnly
        mountPropagation""".split()
    ) == set(schema.VOLUME_MOUNT)


def test_schema_has_every_volume_type():
    expected = """emptyDir hostPath configMap secret persistentVolumeClaim projected
        downwardAPI nfs iscsi csi ephemeral image""".split()
    assert set(expected) <= set(schema.VOLUME_SOURCE)
    assert len(schema.VOLUME_SOURCE) == 30


def test_every_table_path_exists_in_the_schema():
    """A typo in the support tables would silently never match."""

    def exists(pattern: str) -> bool:
        typ = schema.POD
        for part in pattern.split("."):
            name = part.removesuffix("[]")
            if not isinstance(typ, dict) or name not in typ:
                return False
            typ = typ[name][1] if part.endswith("[]") else typ[name]
        return True

    tables = (
        implemented.IMPLEMENTED
        | implemented.IGNORED
        | set(implemented.DEFAULTS)
        | implemented.MEANINGFUL_ZEROS
    )
    assert [p for p in sorted(tables) if not exists(p)] == []
    assert implemented.IMPLEMENTED_ENV_FIELD_PATHS <= set(schema.ENV_FIELD_PATHS)
