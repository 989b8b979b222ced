"""Issue 15: ConfigMaps, Secrets and the downward API in real pods: volumes
(configMap, secret, downwardAPI, projected), env from references, updates
followed atomically, a missing reference waited for."""

import json
import os
import stat
import time

import pytest
import yaml
from helpers.host import eventually
from helpers.instance import running_instance
from helpers.kubectl import kubectl
from helpers.pods import ctr, pod, pod_sh

SECRET_VALUE = "s3cr3t-Zq81-value"


def create(mp, *docs: dict) -> None:
    kubectl(mp, "apply", "-f", "-", input="---\n".join(yaml.safe_dump(d) for d in docs))


def configmap(name: str, data: dict, **extra) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data, **extra}


def secret(name: str, string_data: dict, **extra) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "stringData": string_data,
        **extra,
    }


def apply_pod(mp, pods, doc: dict) -> None:
    pods.add(doc["metadata"]["name"])
    kubectl(mp, "apply", "-f", "-", input=json.dumps(doc))


def wait_running(mp, name: str, timeout: float = 30) -> dict:
    return mp.wait_for(name, lambda p: p["status"].get("phase") == "Running", timeout, "Running")


def waiting_reason(mp, name: str) -> tuple[str, str]:
    statuses = mp.pod(name)["status"].get("containerStatuses") or [{}]
    waiting = (statuses[0].get("state") or {}).get("waiting") or {}
    return waiting.get("reason", ""), waiting.get("message", "")


def cleanup(mp, *refs: str) -> None:
    for ref in refs:
        kubectl(mp, "delete", ref, "--ignore-not-found", "--grace-period=1", check=False)


def test_every_volume_type_and_env_source(mp, pods):
    cm, sec = "cfg-all-cm", "cfg-all-secret"
    create(
        mp,
        configmap(cm, {"greeting": "hello", "color": "blue", "1bad": "skipped"}),
        secret(sec, {"password": SECRET_VALUE, "user": "admin"}),
    )
    main = ctr(
        "main",
        "exec sleep 3600",
        resources={
            "limits": {"cpu": "250m", "memory": "64Mi"},
            "requests": {"cpu": "100m", "memory": "32Mi"},
        },
        env=[
            {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": cm, "key": "greeting"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": sec, "key": "password"}}},
            {
                "name": "NOPE",
                "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "x", "optional": True}},
            },
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "POD_IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}},
            {"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
            {
                "name": "MEM_MI",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
            },
            {
                "name": "CPU_REQ_M",
                "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}},
            },
            {"name": "MSG", "value": "$(GREETING) from $(POD_NAME)"},
        ],
        envFrom=[
            {"prefix": "CM_", "configMapRef": {"name": cm}},
            {"secretRef": {"name": "absent-too", "optional": True}},
        ],
        volumeMounts=[
            {"name": "cm", "mountPath": "/etc/cm"},
            {"name": "sec", "mountPath": "/etc/sec"},
            {"name": "down", "mountPath": "/etc/down"},
            {"name": "proj", "mountPath": "/etc/proj"},
        ],
    )
    doc = pod(
        "cfg-all",
        main,
        labels={"app": "demo", "tier": "back"},
        volumes=[
            {
                "name": "cm",
                "configMap": {"name": cm, "items": [{"key": "greeting", "path": "sub/g.txt", "mode": 0o600}]},
            },
            {"name": "sec", "secret": {"secretName": sec, "defaultMode": 0o440}},
            {
                "name": "down",
                "downwardAPI": {
                    "items": [
                        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                        {"path": "uid", "fieldRef": {"fieldPath": "metadata.uid"}},
                        {
                            "path": "cpu_limit",
                            "resourceFieldRef": {
                                "containerName": "main",
                                "resource": "limits.cpu",
                                "divisor": "1m",
                            },
                        },
                    ]
                },
            },
            {
                "name": "proj",
                "projected": {
                    "defaultMode": 0o444,
                    "sources": [
                        {"configMap": {"name": cm, "items": [{"key": "color", "path": "color"}]}},
                        {
                            "secret": {
                                "name": sec,
                                "items": [{"key": "user", "path": "creds/user", "mode": 0o400}],
                            }
                        },
                        {
                            "downwardAPI": {
                                "items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]
                            }
                        },
                        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                    ],
                },
            },
        ],
    )
    apply_pod(mp, pods, doc)
    try:
        got = wait_running(mp, "cfg-all")
        ip, host_ip, uid = got["status"]["podIP"], got["status"]["hostIP"], got["metadata"]["uid"]

        def env(name: str) -> str:
            return pod_sh(mp, "cfg-all", f'printf %s "${name}"').stdout

        assert env("GREETING") == "hello"
        assert env("PASSWORD") == SECRET_VALUE
        assert pod_sh(mp, "cfg-all", 'echo "${NOPE-unset}"').stdout == "unset\n"
        assert env("POD_IP") == ip and ip
        assert env("POD_IPS") == ip
        assert env("HOST_IP") == host_ip
        assert env("APP") == "demo"
        assert env("SA") == "default"
        assert env("MEM_MI") == "64"
        assert env("CPU_REQ_M") == "100"
        assert env("MSG") == "hello from cfg-all"
        assert env("CM_greeting") == "hello" and env("CM_color") == "blue"
        assert env("CM_1bad") == "skipped"  # a valid name under the relaxed rule (1.32)

        def read(path: str) -> str:
            return pod_sh(mp, "cfg-all", f"cat {path}").stdout

        def mode(path: str) -> str:
            return pod_sh(mp, "cfg-all", f"stat -L -c %a {path}").stdout.strip()

        assert read("/etc/cm/sub/g.txt") == "hello" and mode("/etc/cm/sub/g.txt") == "600"
        assert pod_sh(mp, "cfg-all", "ls /etc/cm").stdout.split() == ["sub"]
        assert read("/etc/sec/password") == SECRET_VALUE and mode("/etc/sec/password") == "440"
        assert read("/etc/sec/user") == "admin"
        assert read("/etc/down/labels") == 'app="demo"\ntier="back"'
        assert read("/etc/down/name") == "cfg-all" and read("/etc/down/uid") == uid
        assert read("/etc/down/cpu_limit") == "250"
        assert read("/etc/proj/color") == "blue" and mode("/etc/proj/color") == "444"
        assert read("/etc/proj/creds/user") == "admin" and mode("/etc/proj/creds/user") == "400"
        assert read("/etc/proj/ns") == "default"
        assert read("/etc/proj/token").count(".") == 2  # a JWT
        # The kubelet's layout: ..data -> a timestamped dir; each key a symlink through ..data.
        layout = pod_sh(mp, "cfg-all", "readlink /etc/sec/..data; readlink /etc/sec/password").stdout.split()
        assert layout[0].startswith("..20") and layout[1] == "..data/password"
        # Read-only, whatever the container asks.
        assert pod_sh(mp, "cfg-all", "touch /etc/cm/x", check=False).returncode != 0
        # Labels change: the labels file follows.
        kubectl(mp, "label", "pod", "cfg-all", "tier=front", "--overwrite")
        eventually(lambda: read("/etc/down/labels") == 'app="demo"\ntier="front"', 10, "labels file updated")
    finally:
        cleanup(mp, f"configmap/{cm}", f"secret/{sec}")


def test_configmap_update_is_atomic(mp, pods):
    cm = "cfg-upd"
    first, second = "A" * 3000, "B" * 3000
    create(mp, configmap(cm, {"value": first}))
    # A reader in the container loops on the file and logs anything that
    # is neither the whole old value nor the whole new one.
    reader = (
        f'while true; do v="$(cat /etc/cfg/value)"; '
        f'case "$v" in "{first}"|"{second}") ;; *) echo "BAD:${{#v}}" >> /tmp/bad;; esac; done'
    )
    doc = pod(
        "cfg-upd",
        ctr("main", reader, volumeMounts=[{"name": "cfg", "mountPath": "/etc/cfg"}]),
        volumes=[{"name": "cfg", "configMap": {"name": cm}}],
    )
    apply_pod(mp, pods, doc)
    try:
        wait_running(mp, "cfg-upd")
        create(mp, configmap(cm, {"value": second}))
        eventually(
            lambda: pod_sh(mp, "cfg-upd", "cat /etc/cfg/value").stdout == second,
            10,
            "the mounted file to change within 10 s",
        )
        # More updates, back and forth, while the reader reads.
        for value in (first, second, first, second):
            create(mp, configmap(cm, {"value": value}))
            eventually(lambda v=value: pod_sh(mp, "cfg-upd", "cat /etc/cfg/value").stdout == v, 10, "update")
        assert pod_sh(mp, "cfg-upd", "cat /tmp/bad 2>/dev/null; true").stdout == ""
    finally:
        cleanup(mp, f"configmap/{cm}")


@pytest.fixture(scope="module")
def slow_mp():
    """An instance whose back-off is a minute: a waiting container that
    starts within seconds was woken by the watch, not by a retry."""
    with running_instance("cfgslow", ["--backoff-base", "60"]) as inst:
        yield inst


def test_missing_configmap_waits_then_starts(slow_mp):
    mp = slow_mp
    cm = "cfg-late"
    doc = pod(
        "cfg-late",
        ctr(
            "main",
            "exec sleep 3600",
            env=[{"name": "LATE", "valueFrom": {"configMapKeyRef": {"name": cm, "key": "k"}}}],
        ),
    )
    kubectl(mp, "apply", "-f", "-", input=json.dumps(doc))
    try:
        eventually(
            lambda: (
                waiting_reason(mp, "cfg-late")
                == ("CreateContainerConfigError", f'configmap "{cm}" not found')
            ),
            20,
            "CreateContainerConfigError",
            explain=lambda: str(waiting_reason(mp, "cfg-late")),
        )
        events = kubectl(mp, "get", "events", "--field-selector", "involvedObject.name=cfg-late").stdout
        assert f'Error: configmap "{cm}" not found' in events
        # The object exists but not the key: the kubelet's other message.
        create(mp, configmap(cm, {"other": "x"}))
        eventually(
            lambda: (
                waiting_reason(mp, "cfg-late")
                == ("CreateContainerConfigError", f"couldn't find key k in ConfigMap default/{cm}")
            ),
            20,
            "missing key message",
            explain=lambda: str(waiting_reason(mp, "cfg-late")),
        )
        create(mp, configmap(cm, {"k": "now"}))
        # The base back-off of the test instances is long: the watch wakes the pod.
        wait_running(mp, "cfg-late", timeout=8)
        assert pod_sh(mp, "cfg-late", 'printf %s "$LATE"').stdout == "now"
    finally:
        cleanup(mp, f"configmap/{cm}", "pod/cfg-late")


def test_missing_volume_source_is_failed_mount(slow_mp):
    mp = slow_mp
    doc = pod(
        "cfg-mount",
        ctr("main", "exec sleep 3600", volumeMounts=[{"name": "s", "mountPath": "/s"}]),
        volumes=[{"name": "s", "secret": {"secretName": "cfg-mount-s"}}],
    )
    kubectl(mp, "apply", "-f", "-", input=json.dumps(doc))
    try:
        eventually(lambda: waiting_reason(mp, "cfg-mount")[0] == "ContainerCreating", 20, "ContainerCreating")
        eventually(
            lambda: (
                'MountVolume.SetUp failed for volume "s" : secret "cfg-mount-s" not found'
                in kubectl(mp, "get", "events", "--field-selector", "involvedObject.name=cfg-mount").stdout
            ),
            10,
            "FailedMount event",
        )
        create(mp, secret("cfg-mount-s", {"k": "v"}))
        wait_running(mp, "cfg-mount", timeout=8)
        assert pod_sh(mp, "cfg-mount", "cat /s/k").stdout == "v"
    finally:
        cleanup(mp, "secret/cfg-mount-s", "pod/cfg-mount")


def _world_readable(path: str) -> bool:
    """Can any user read this file (every directory above it searchable by others)?"""
    st = os.stat(path)
    if not st.st_mode & stat.S_IROTH:
        return False
    d = os.path.dirname(path)
    while d and d != "/":
        if not os.stat(d).st_mode & stat.S_IXOTH:
            return False
        d = os.path.dirname(d)
    return True


def test_secret_values_never_shown(mp, pods):
    sec = "cfg-hidden"
    create(mp, secret(sec, {"password": SECRET_VALUE}))
    doc = pod(
        "cfg-hidden",
        ctr(
            "main",
            "exec sleep 3600",
            env=[{"name": "P", "valueFrom": {"secretKeyRef": {"name": sec, "key": "password"}}}],
            volumeMounts=[{"name": "s", "mountPath": "/s"}],
        ),
        volumes=[{"name": "s", "secret": {"secretName": sec}}],
    )
    apply_pod(mp, pods, doc)
    try:
        wait_running(mp, "cfg-hidden")
        described = kubectl(mp, "describe", "secret", sec).stdout
        assert "password:  17 bytes" in described and SECRET_VALUE not in described
        assert SECRET_VALUE not in kubectl(mp, "describe", "pod", "cfg-hidden").stdout
        ours = mp.run("describe", "pod", "cfg-hidden").stdout
        assert SECRET_VALUE not in ours
        assert f"P:  <set to the key 'password' in secret '{sec}'>  Optional: false" in ours, ours
        assert SECRET_VALUE not in kubectl(mp, "get", "events", "-A").stdout
        with open(os.path.join(mp.root, "daemon-test.log"), errors="replace") as f:
            assert SECRET_VALUE not in f.read()
        found = []
        for top, _dirs, files in os.walk(mp.root):
            for name in files:
                path = os.path.join(top, name)
                try:
                    with open(path, "rb") as f:
                        if SECRET_VALUE.encode() in f.read(4 << 20):
                            found.append(path)
                except OSError:
                    continue
        assert found, "the secret is stored somewhere"
        assert [p for p in found if _world_readable(p)] == []
    finally:
        cleanup(mp, f"secret/{sec}")


def test_subpath_of_a_configmap_does_not_follow_updates(mp, pods):
    cm = "cfg-sub"
    create(mp, configmap(cm, {"app.conf": "v1", "other": "o"}))
    doc = pod(
        "cfg-sub",
        ctr(
            "main",
            "exec sleep 3600",
            env=[{"name": "DIR", "value": "logs"}],
            volumeMounts=[
                {"name": "cfg", "mountPath": "/etc/full"},
                {"name": "cfg", "mountPath": "/etc/app.conf", "subPath": "app.conf"},
                {"name": "work", "mountPath": "/work"},
                {"name": "work", "mountPath": "/logs", "subPathExpr": "$(DIR)/$(POD)"},
            ],
        ),
        volumes=[{"name": "cfg", "configMap": {"name": cm}}, {"name": "work", "emptyDir": {}}],
    )
    doc["spec"]["containers"][0]["env"].append(
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    )
    apply_pod(mp, pods, doc)
    try:
        wait_running(mp, "cfg-sub")
        assert pod_sh(mp, "cfg-sub", "cat /etc/app.conf").stdout == "v1"
        # subPathExpr: $(DIR)/$(POD) made inside the emptyDir, and mounted.
        pod_sh(mp, "cfg-sub", "echo hi > /logs/f")
        assert pod_sh(mp, "cfg-sub", "cat /work/logs/cfg-sub/f").stdout == "hi\n"
        create(mp, configmap(cm, {"app.conf": "v2", "other": "o"}))
        eventually(
            lambda: pod_sh(mp, "cfg-sub", "cat /etc/full/app.conf").stdout == "v2", 10, "full mount updated"
        )
        # Two more updates: the version the subPath came from is long gone from the volume.
        for v in ("v3", "v4"):
            create(mp, configmap(cm, {"app.conf": v, "other": "o"}))
            eventually(lambda v=v: pod_sh(mp, "cfg-sub", "cat /etc/full/app.conf").stdout == v, 10, "update")
        assert pod_sh(mp, "cfg-sub", "cat /etc/app.conf").stdout == "v1"
    finally:
        cleanup(mp, f"configmap/{cm}")


def test_subpath_symlink_escape_is_refused(mp, pods):
    """CVE-2017-1002101: the container replaces its subPath by a symlink to
    the host's / and exits; the restart must not mount the host's root."""
    marker = f"minipod-escape-{os.getpid()}"
    script = (
        # First run: turn the subPath into a symlink to / and exit.
        "if [ ! -e /vol/first-done ]; then touch /vol/first-done; rmdir /vol/sub; ln -s / /vol/sub; exit 1; fi; "
        # Any later run would write through the mount into the host's /.
        f"touch /mnt/sub/{marker}; exec sleep 3600"
    )
    doc = pod(
        "cfg-escape",
        ctr(
            "main",
            script,
            volumeMounts=[
                {"name": "v", "mountPath": "/vol"},
                {"name": "v", "mountPath": "/mnt/sub", "subPath": "sub"},
            ],
        ),
        volumes=[{"name": "v", "emptyDir": {}}],
    )
    apply_pod(mp, pods, doc)
    try:
        eventually(
            lambda: (
                waiting_reason(mp, "cfg-escape")
                == (
                    "CreateContainerConfigError",
                    'failed to prepare subPath for volumeMount "v" of container "main"',
                )
            ),
            60,
            "the restart refused",
            explain=lambda: str(waiting_reason(mp, "cfg-escape")),
        )
        assert not os.path.exists(f"/{marker}")
        time.sleep(2)  # a few retries (the test back-off is 0.5 s): each refused, none a restart
        status = mp.pod("cfg-escape")["status"]["containerStatuses"][0]
        # The first run ended (exit 1); no second container was ever created.
        assert status["restartCount"] == 0 and "waiting" in status["state"]
        assert status["lastState"]["terminated"]["exitCode"] == 1
        assert not os.path.exists(f"/{marker}")
    finally:
        if os.path.exists(f"/{marker}"):
            os.unlink(f"/{marker}")


def test_configmap_and_secret_validation_through_kubectl(mp):
    name = "cfg-immutable"
    create(mp, configmap(name, {"greeting": "hi"}, immutable=True))
    try:
        changed = kubectl(
            mp,
            "apply",
            "-f",
            "-",
            input=yaml.safe_dump(configmap(name, {"greeting": "bye"}, immutable=True)),
            check=False,
        )
        assert changed.returncode == 1
        assert (
            f'The ConfigMap "{name}" is invalid: data: Forbidden: field is immutable when `immutable` is set'
            in changed.stderr
        ), changed.stderr
        tls = secret("cfg-tls", {"tls.crt": "x"}, type="kubernetes.io/tls")
        refused = kubectl(mp, "apply", "-f", "-", input=yaml.safe_dump(tls), check=False)
        assert refused.returncode == 1
        assert 'The Secret "cfg-tls" is invalid: data[tls.key]: Required value' in refused.stderr, (
            refused.stderr
        )
        bad_key = kubectl(mp, "create", "configmap", "cfg-badkey", "--from-literal=a b=1", check=False)
        assert bad_key.returncode == 1 and "a valid config key must consist of" in bad_key.stderr
    finally:
        cleanup(mp, f"configmap/{name}")
