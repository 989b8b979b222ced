"""Tests for minipod.kube.validate: every error, with its exact message text.

Pure Python, no root needed. Sections follow the checks: unknown fields,
wrong types, required fields, names, duplicates and references, container
restartPolicy, volumes, env, and reporting everything at once.
(Real tool output and the warnings are tested in test_validate_support.py.)
"""

import pytest
import yaml

from minipod.errors import ManifestError, MinipodError
from minipod.kube import schema
from minipod.kube.validate import validate_pod

MINIMAL = """
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: web
    image: nginx
"""


def load(text: str) -> dict:
    return yaml.safe_load(text)


def minimal() -> dict:
    return load(MINIMAL)


def errors_of(pod: dict) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        validate_pod(pod)
    return caught.value.errors


def error_of(pod: dict) -> str:
    """The single error of a manifest that has exactly one."""
    errors = errors_of(pod)
    assert len(errors) == 1, errors
    return errors[0]


def container(pod: dict, i: int = 0) -> dict:
    return pod["spec"]["containers"][i]


# --------------------------------------------------------- unknown fields


def test_typo_gets_did_you_mean():
    pod = minimal()
    pod["spec"]["containers"].append({"name": "db", "image": "postgres", "imagePullPolicyy": "Always"})
    assert error_of(pod) == (
        "spec.containers[1].imagePullPolicyy: unknown field; did you mean imagePullPolicy?"
    )


def test_misplaced_field_names_its_home():
    pod = minimal()
    pod["spec"]["image"] = "nginx"
    assert error_of(pod) == 'spec.image: unknown field; "image" belongs in spec.containers[]'


def test_misplaced_field_prefers_the_nearest_home():
    pod = minimal()
    container(pod)["runAsUser"] = 1000
    assert error_of(pod) == (
        "spec.containers[0].runAsUser: unknown field; "
        '"runAsUser" belongs in spec.containers[].securityContext'
    )


def test_misplaced_top_level_fields():
    pod = minimal()
    pod["containers"] = pod["spec"].pop("containers")
    pod["spec"]["labels"] = {"app": "web"}
    assert errors_of(pod) == [
        'spec.labels: unknown field; "labels" belongs in metadata',
        'containers: unknown field; "containers" belongs in spec',
        "spec.containers: required value",
    ]


def test_unknown_field_without_a_close_match_has_no_hint():
    pod = minimal()
    container(pod)["flavour"] = "spicy"
    assert error_of(pod) == "spec.containers[0].flavour: unknown field"


# ------------------------------------------------------------ wrong types


def test_quoted_number_is_not_an_integer():
    pod = minimal()
    container(pod)["ports"] = [{"containerPort": "80a"}, {"containerPort": "80"}]
    assert errors_of(pod) == [
        'spec.containers[0].ports[0].containerPort: expected integer, got string "80a"',
        'spec.containers[0].ports[1].containerPort: expected integer, got string "80"',
    ]


def test_wrong_types_of_every_kind():
    pod = load(
        MINIMAL
        + """
  hostNetwork: "yes"
  terminationGracePeriodSeconds: 1.5
  volumes: {name: data}
"""
    )
    container(pod)["env"] = [{"name": "TIMEOUT", "value": 3600}]
    container(pod)["command"] = "nginx -g daemon off"
    container(pod)["tty"] = 1
    pod["metadata"]["labels"] = {"version": 1.2}
    assert errors_of(pod) == [
        "metadata.labels[version]: expected string, got number 1.2",
        "spec.containers[0].env[0].value: expected string, got integer 3600",
        'spec.containers[0].command: expected list, got string "nginx -g daemon off"',
        "spec.containers[0].tty: expected boolean, got integer 1",
        'spec.hostNetwork: expected boolean, got string "yes"',
        "spec.terminationGracePeriodSeconds: expected integer, got number 1.5",
        "spec.volumes: expected list, got map",
    ]


def test_struct_expected():
    pod = minimal()
    pod["spec"]["containers"] = ["nginx"]
    assert errors_of(pod) == ['spec.containers[0]: expected map, got string "nginx"']


def test_int_or_string_accepts_both():
    pod = minimal()
    container(pod)["livenessProbe"] = {"httpGet": {"port": 8080}}
    container(pod)["readinessProbe"] = {"httpGet": {"port": "http"}}
    validate_pod(pod)
    container(pod)["startupProbe"] = {"tcpSocket": {"port": True}}
    assert error_of(pod) == (
        "spec.containers[0].startupProbe.tcpSocket.port: expected integer or string, got boolean true"
    )


def test_quantities():
    pod = minimal()
    container(pod)["resources"] = {
        "limits": {"cpu": 0.5, "memory": "128Mi"},
        "requests": {"cpu": "500m", "nvidia.com/gpu": 1},
    }
    validate_pod(pod)
    container(pod)["resources"]["limits"]["memory"] = "lots"
    assert error_of(pod) == (
        "spec.containers[0].resources.limits[memory]: invalid value "
        '"lots": must be a quantity such as 2, 0.5, 500m or 128Mi'
    )


def test_null_is_the_same_as_absent():
    pod = load(
        MINIMAL
        + """
  nodeSelector: null
  volumes: null
status: null
"""
    )
    pod["metadata"]["creationTimestamp"] = None
    container(pod)["args"] = None
    assert validate_pod(pod) == []


def test_unquoted_timestamp_is_accepted():
    pod = load(
        MINIMAL.replace("  name: web\n", "  name: web\n  creationTimestamp: 2024-05-14T09:12:31Z\n", 1)
    )
    assert validate_pod(pod) == []


def test_enums():
    pod = load(
        MINIMAL
        + """
  restartPolicy: Sometimes
  dnsPolicy: Google
"""
    )
    container(pod)["imagePullPolicy"] = "Maybe"
    container(pod)["terminationMessagePolicy"] = "Stdout"
    container(pod)["ports"] = [{"containerPort": 80, "protocol": "tcp"}]
    assert errors_of(pod) == [
        'spec.containers[0].imagePullPolicy: unsupported value "Maybe": '
        'supported values: "Always", "IfNotPresent", "Never"',
        'spec.containers[0].terminationMessagePolicy: unsupported value "Stdout": '
        'supported values: "File", "FallbackToLogsOnError"',
        'spec.containers[0].ports[0].protocol: unsupported value "tcp": '
        'supported values: "TCP", "UDP", "SCTP"',
        'spec.restartPolicy: unsupported value "Sometimes": supported values: "Always", "OnFailure", "Never"',
        'spec.dnsPolicy: unsupported value "Google": '
        'supported values: "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"',
    ]


def test_top_level_must_be_a_map():
    with pytest.raises(ManifestError) as caught:
        validate_pod(["not", "a", "pod"])
    assert caught.value.errors == ["expected a map at the top level, got list"]


# -------------------------------------------------------- required fields


def test_required_top_level_fields():
    assert errors_of({}) == [
        "apiVersion: required value",
        "kind: required value",
        "metadata.name: required value: name or generateName is required",
        "spec: required value",
    ]


def test_only_v1_pods():
    pod = minimal()
    pod["apiVersion"] = "apps/v1"
    pod["kind"] = "Deployment"
    assert errors_of(pod) == [
        'apiVersion: unsupported value "apps/v1": supported values: "v1"',
        'kind: unsupported value "Deployment": supported values: "Pod"',
    ]


def test_generate_name_replaces_name():
    pod = minimal()
    del pod["metadata"]["name"]
    pod["metadata"]["generateName"] = "web-"
    assert validate_pod(pod) == []


def test_containers_and_their_name_and_image_are_required():
    pod = minimal()
    pod["spec"]["containers"] = []
    assert error_of(pod) == "spec.containers: required value"
    pod["spec"]["containers"] = [{"workingDir": "/srv"}]
    assert errors_of(pod) == [
        "spec.containers[0].name: required value",
        "spec.containers[0].image: required value",
    ]


# ------------------------------------------------------------------ names

SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
    "characters, '-' or '.', and must start and end with an alphanumeric "
    "character"
)
LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric "
    "characters or '-', and must start and end with an alphanumeric character"
)


def test_pod_name_is_a_dns_subdomain():
    pod = minimal()
    pod["metadata"]["name"] = "My_Pod"
    assert error_of(pod) == f'metadata.name: invalid value "My_Pod": {SUBDOMAIN_RULE}'
    pod["metadata"]["name"] = "web.example.com"
    assert validate_pod(pod) == []
    pod["metadata"]["name"] = "a" * 254
    assert error_of(pod) == (
        f'metadata.name: invalid value "{"a" * 254}": must be no more than 253 characters'
    )


def test_container_volume_and_namespace_names_are_dns_labels():
    pod = load(
        MINIMAL
        + """
  volumes:
  - name: Data
    emptyDir: {}
"""
    )
    pod["metadata"]["namespace"] = "team_a"
    container(pod)["name"] = "web.v1"
    assert errors_of(pod) == [
        f'metadata.namespace: invalid value "team_a": {LABEL_RULE}',
        f'spec.volumes[0].name: invalid value "Data": {LABEL_RULE}',
        'spec.containers[0].name: invalid value "web.v1": must not contain dots',
    ]
    container(pod)["name"] = "w" * 64
    pod["metadata"]["namespace"] = "team-a"
    pod["spec"]["volumes"][0]["name"] = "data"
    assert error_of(pod) == (
        f'spec.containers[0].name: invalid value "{"w" * 64}": must be no more than 63 characters'
    )


def test_port_names_are_iana_service_names():
    pod = minimal()
    container(pod)["ports"] = [
        {"containerPort": 80, "name": "http"},
        {"containerPort": 81, "name": "a-very-long-port-name"},
        {"containerPort": 82, "name": "8080"},
        {"containerPort": 83, "name": "my--port"},
        {"containerPort": 84, "name": "-metrics"},
    ]
    prefix = "spec.containers[0].ports"
    assert errors_of(pod) == [
        f'{prefix}[1].name: invalid value "a-very-long-port-name": must be no more than 15 characters',
        f'{prefix}[2].name: invalid value "8080": must contain at least one letter (a-z)',
        f'{prefix}[3].name: invalid value "my--port": must not contain consecutive hyphens',
        f'{prefix}[4].name: invalid value "-metrics": must not begin or end with a hyphen',
    ]


def test_label_and_annotation_keys():
    pod = minimal()
    pod["metadata"]["labels"] = {"app.kubernetes.io/name": "web", "bad key": "x"}
    # Annotation keys are checked ignoring case, as Kubernetes does.
    pod["metadata"]["annotations"] = {"io.kubernetes.cri-o.TTY/web": "true"}
    assert error_of(pod) == (
        'metadata.labels: invalid value "bad key": name part must consist of alphanumeric '
        "characters, '-', '_' or '.', and must start and end with an alphanumeric character"
    )


def test_hostname_is_a_dns_label():
    pod = minimal()
    pod["spec"]["hostname"] = "Web_1"
    assert error_of(pod) == f'spec.hostname: invalid value "Web_1": {LABEL_RULE}'


# ------------------------------------------------ duplicates and references


def test_container_names_are_unique_across_init_and_regular():
    pod = minimal()
    pod["spec"]["containers"].append({"name": "web", "image": "nginx"})
    assert error_of(pod) == 'spec.containers[1].name: duplicate value "web"'
    pod["spec"]["containers"].pop()
    pod["spec"]["initContainers"] = [{"name": "web", "image": "busybox"}]
    assert error_of(pod) == 'spec.containers[0].name: duplicate value "web"'


def test_volumes_and_mounts():
    pod = load(
        MINIMAL
        + """
  volumes:
  - name: data
    emptyDir: {}
  - name: data
    hostPath: {path: /srv}
"""
    )
    container(pod)["volumeMounts"] = [
        {"name": "data", "mountPath": "/data"},
        {"name": "data", "mountPath": "/data"},
        {"name": "cache", "mountPath": "cache"},
        {"mountPath": "/x"},
    ]
    mounts = "spec.containers[0].volumeMounts"
    assert errors_of(pod) == [
        'spec.volumes[1].name: duplicate value "data"',
        f'{mounts}[1].mountPath: duplicate value "/data"',
        f'{mounts}[2].name: not found: no volume named "cache" in spec.volumes',
        f'{mounts}[2].mountPath: invalid value "cache": must be an absolute path',
        f"{mounts}[3].name: required value",
    ]


def test_port_ranges_and_duplicate_names():
    pod = minimal()
    container(pod)["ports"] = [
        {"containerPort": 0},
        {"containerPort": 65536},
        {"containerPort": 80, "hostPort": 70000},
        {"containerPort": 81, "name": "web"},
        {"containerPort": 82, "name": "web"},
        {"protocol": "UDP"},
    ]
    ports = "spec.containers[0].ports"
    assert errors_of(pod) == [
        f"{ports}[0].containerPort: invalid value 0: must be between 1 and 65535, inclusive",
        f"{ports}[1].containerPort: invalid value 65536: must be between 1 and 65535, inclusive",
        f"{ports}[2].hostPort: invalid value 70000: must be between 0 and 65535, inclusive",
        f'{ports}[4].name: duplicate value "web"',
        f"{ports}[5].containerPort: required value",
    ]


def test_grace_period_and_deadline():
    pod = load(
        MINIMAL
        + """
  terminationGracePeriodSeconds: -1
  activeDeadlineSeconds: 0
"""
    )
    assert errors_of(pod) == [
        "spec.terminationGracePeriodSeconds: invalid value -1: must be greater than or equal to 0",
        "spec.activeDeadlineSeconds: invalid value 0: must be greater than or equal to 1",
    ]
    pod["spec"]["terminationGracePeriodSeconds"] = 0
    pod["spec"]["activeDeadlineSeconds"] = 60
    validate_pod(pod)


def test_host_pid_and_shared_process_namespace_exclude_each_other():
    pod = load(MINIMAL + "  hostPID: true\n  shareProcessNamespace: true\n")
    assert error_of(pod) == (
        "spec.shareProcessNamespace: invalid value true: "
        "ShareProcessNamespace and HostPID cannot both be enabled"
    )


# ------------------------------------------------ container restartPolicy


def test_restart_policy_only_on_init_containers_and_only_always():
    pod = minimal()
    container(pod)["restartPolicy"] = "Always"
    pod["spec"]["initContainers"] = [{"name": "init", "image": "busybox", "restartPolicy": "Never"}]
    assert errors_of(pod) == [
        'spec.initContainers[0].restartPolicy: unsupported value "Never": supported values: "Always"',
        "spec.containers[0].restartPolicy: forbidden: may not be set for non-init containers",
    ]


def test_plain_init_containers_may_not_have_probes_or_hooks():
    pod = minimal()
    probe = {"exec": {"command": ["true"]}}
    pod["spec"]["initContainers"] = [
        {
            "name": "init",
            "image": "busybox",
            "livenessProbe": probe,
            "lifecycle": {"preStop": {"sleep": {"seconds": 1}}},
        }
    ]
    assert errors_of(pod) == [
        "spec.initContainers[0].lifecycle: forbidden: "
        "may not be set for init containers without restartPolicy=Always",
        "spec.initContainers[0].livenessProbe: forbidden: "
        "may not be set for init containers without restartPolicy=Always",
    ]
    # A sidecar (restartPolicy: Always) may.
    pod["spec"]["initContainers"][0]["restartPolicy"] = "Always"
    assert validate_pod(pod) == []


# ---------------------------------------------------------------- volumes


def test_unsupported_volume_types_are_errors():
    pod = load(
        MINIMAL
        + """
  volumes:
  - name: config
    configMap: {name: web-config}
  - name: claim
    nfs: {server: x, path: /}
"""
    )
    assert errors_of(pod) == [
        "spec.volumes[1].nfs: volume type not supported by minipod yet "
        "(supported: emptyDir, hostPath, configMap, secret, downwardAPI, projected, persistentVolumeClaim, ephemeral)",
    ]


def test_a_volume_has_exactly_one_source():
    pod = load(
        MINIMAL
        + """
  volumes:
  - name: none
  - name: two
    emptyDir: {}
    hostPath: {path: /srv}
"""
    )
    assert errors_of(pod) == [
        "spec.volumes[0]: required value: must specify a volume type",
        "spec.volumes[1].hostPath: forbidden: may not specify more than 1 volume type",
    ]


def test_host_path_and_empty_dir_are_checked_exactly():
    pod = load(
        MINIMAL
        + """
  volumes:
  - name: a
    hostPath: {path: srv, type: Folder}
  - name: b
    emptyDir: {medium: Disk, sizeLimt: 1Gi}
  - name: c
    emptyDir: {medium: Memory, sizeLimit: 64Mi}
  - name: d
    hostPath: {path: /run/app.sock, type: Socket}
"""
    )
    assert errors_of(pod) == [
        'spec.volumes[0].hostPath.type: unsupported value "Folder": supported values: "", '
        '"DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", '
        '"BlockDevice"',
        "spec.volumes[1].emptyDir.sizeLimt: unknown field; did you mean sizeLimit?",
        'spec.volumes[0].hostPath.path: invalid value "srv": must be an absolute path',
        'spec.volumes[1].emptyDir.medium: unsupported value "Disk": '
        'supported values: "", "Memory", "HugePages", "HugePages-<size>"',
    ]


# -------------------------------------------------------------------- env


def test_env_rules():
    pod = minimal()
    container(pod)["env"] = [
        {"value": "x"},
        {"name": "A", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "B", "valueFrom": {}},
        {"name": "C", "valueFrom": {"fieldRef": {"fieldPath": "spec.hostname"}}},
    ]
    env = "spec.containers[0].env"
    assert errors_of(pod) == [
        f"{env}[0].name: required value",
        f"{env}[1].valueFrom: invalid value: may not be specified when `value` is not empty",
        f"{env}[2].valueFrom: invalid value: must specify exactly one of: `fieldRef`, "
        "`resourceFieldRef`, `configMapKeyRef`, `secretKeyRef`, `fileKeyRef`",
        f'{env}[3].valueFrom.fieldRef.fieldPath: unsupported value "spec.hostname": '
        "supported values: " + ", ".join(f'"{p}"' for p in schema.ENV_FIELD_PATHS),
    ]


# ------------------------------------------------------------ all at once


def test_every_error_is_reported_at_once():
    pod = load("""
apiVersion: v1
kind: Pod
metadata:
  name: My_Pod
spec:
  restartPolicy: Sometimes
  containers:
  - name: web
    image: nginx
    imagePullPolicyy: Always
    ports:
    - containerPort: "80"
  - name: web
  volumes:
  - name: config
    nfs: {server: x, path: /}
""")
    with pytest.raises(ManifestError) as caught:
        validate_pod(pod)
    error = caught.value
    assert len(error.errors) == 7, error.errors
    assert str(error) == "\n".join(error.errors)
    assert isinstance(error, MinipodError) and error.hint is None
