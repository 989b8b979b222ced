"""Differences from a kubelet that real manifests hit (issue 10), each
checked on a real pod through the daemon and the CLI:

- a disk emptyDir is world-writable (0777), as the kubelet makes it, so a
  non-root container can write to it;
- the pod's own "IP hostname" line is in /etc/hosts before any container
  starts;
- `-o json` carries only v1 fields: nothing minipod keeps for itself.
"""

import json

from helpers.pods import ctr, pod, pod_sh

# Fields a v1 ContainerState may hold (k8s.io/api/core/v1 types.go).
STATE_FIELDS = {
    "waiting": {"reason", "message"},
    "running": {"startedAt"},
    "terminated": {"exitCode", "signal", "reason", "message", "startedAt", "finishedAt", "containerID"},
}


def test_disk_empty_dir_is_writable_by_a_non_root_user(mp, pods, pod_name):
    c = ctr(
        "main",
        "echo hello > /data/file && cat /data/file && exec sleep 3600",
        volumeMounts=[{"name": "data", "mountPath": "/data"}],
        securityContext={"runAsUser": 1000, "runAsGroup": 1000},
    )
    pods.run(pod(pod_name, c, volumes=[{"name": "data", "emptyDir": {}}]))
    assert mp.logs(pod_name) == "hello\n"
    assert pod_sh(mp, pod_name, "stat -c %a /data").stdout.strip() == "777"


def test_own_hosts_entry_is_there_when_the_container_starts(mp, pods, pod_name):
    # The very first thing the container does: look for its own name.
    c = ctr("main", 'grep -w "$(hostname)" /etc/hosts || { echo missing; exit 1; }')
    pods.run(pod(pod_name, c, restartPolicy="Never"))
    p = mp.wait_for(pod_name, lambda p: p["status"]["phase"] in ("Succeeded", "Failed"), what="the end")
    ip = p["status"]["podIP"]
    assert p["status"]["phase"] == "Succeeded", mp.logs(pod_name)
    assert mp.logs(pod_name).split() == [ip, pod_name]


def test_json_carries_only_v1_fields(mp, pods, pod_name):
    # Fails once, then runs: lastState.terminated holds the first exit.
    script = "[ -f /data/ran ] && exec sleep 3600; touch /data/ran; exit 3"
    c = ctr("main", script, volumeMounts=[{"name": "data", "mountPath": "/data"}])
    pods.run(pod(pod_name, c, volumes=[{"name": "data", "emptyDir": {}}]), check=False)
    p = mp.wait_for(
        pod_name,
        lambda p: (
            p["status"]["containerStatuses"][0]["lastState"]
            and "running" in p["status"]["containerStatuses"][0]["state"]
        ),
        what="a restart",
    )
    for fmt in ("json", "yaml"):
        text = mp.run("get", "pod", pod_name, "-o", fmt).stdout
        assert "Epoch" not in text, text
    cs = p["status"]["containerStatuses"][0]
    assert cs["lastState"]["terminated"]["exitCode"] == 3
    for which in ("state", "lastState"):
        for kind, fields in cs[which].items():
            extra = set(fields) - STATE_FIELDS[kind]
            assert not extra, f"{which}.{kind} has non-API fields {extra}: {json.dumps(cs[which])}"


def test_busybox_has_printenv_as_the_real_image(mp, pods, pod_name):
    # The Kubernetes documentation's env examples print with printenv.
    env = [
        {"name": "GREETING", "value": "Warm greetings to"},
        {"name": "HONORIFIC", "value": "The Most Honorable"},
    ]
    script = 'printenv GREETING HONORIFIC; printenv NOPE || echo "rc=$?"; nohup echo hup; echo ab | hd'
    pods.run(pod(pod_name, ctr("main", script, env=env), restartPolicy="Never"))
    mp.wait_for(pod_name, lambda p: p["status"]["phase"] == "Succeeded", what="Succeeded")
    assert mp.logs(pod_name).splitlines() == [
        "Warm greetings to",
        "The Most Honorable",
        "rc=1",
        "hup",
        "00000000  61 62 0a                                          |ab.|",
        "00000003",
    ]
