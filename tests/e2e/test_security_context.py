"""The securityContext as hardened manifests write it, checked from /proc.

The Pod Security "restricted" shape (non-root, every capability dropped,
no privilege escalation, RuntimeDefault seccomp, an emptyDir to write to)
must reach Running with exactly the credentials it asked for; and every
process minipod starts begins with default signal dispositions.
"""

from helpers.pods import ctr, pids, pod
from helpers.pods import pod_sh as sh
from helpers.procfs import caps, status

SLEEP = "exec sleep 3600"

RESTRICTED = {
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "runAsGroup": 3000,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def test_the_restricted_pattern_runs_with_exactly_what_it_asked_for(mp, pods, pod_name):
    main = ctr(
        "main",
        "echo written > /data/f && " + SLEEP,
        securityContext=RESTRICTED,
        volumeMounts=[{"name": "data", "mountPath": "/data"}],
    )
    manifest = pod(
        pod_name,
        main,
        volumes=[{"name": "data", "emptyDir": {}}],
        securityContext={"supplementalGroups": [4000], "fsGroup": 2000},
    )
    pods.run(manifest)
    s = status(pids(mp, pod_name)["main"])
    assert s["Uid"].split() == ["1000"] * 4
    assert s["Gid"].split() == ["3000"] * 4
    assert sorted(int(g) for g in s["Groups"].split()) == [2000, 3000, 4000]
    c = caps(pids(mp, pod_name)["main"])
    assert c == {"CapInh": 0, "CapPrm": 0, "CapEff": 0, "CapBnd": 0, "CapAmb": 0}
    assert s["NoNewPrivs"] == "1"
    assert s["Seccomp"] == "2"  # RuntimeDefault, loaded after no_new_privs
    assert sh(mp, pod_name, "cat /data/f").stdout == "written\n"
    # fsGroup: the emptyDir belongs to group 2000, setgid, so files made in
    # it join the group.
    assert sh(mp, pod_name, "stat -c '%g %a' /data /data/f").stdout.split() == ["2000", "2777", "2000", "644"]
    # An exec session runs as the same user, with the same groups.
    uid, gid, *groups = sh(mp, pod_name, "id -u; id -g; id -G").stdout.split()
    assert (uid, gid, sorted(groups)) == ("1000", "3000", ["2000", "3000", "4000"])


def test_a_failed_credential_step_is_named_not_a_python_exception(mp, pods, pod_name):
    # A working directory that cannot be created on a read-only root.
    bad = ctr("main", SLEEP, workingDir="/nowhere", securityContext={"readOnlyRootFilesystem": True})
    pods.run(pod(pod_name, bad, restartPolicy="Never"), check=False)
    waiting = mp.wait_for(
        pod_name,
        lambda p: (
            (p["status"].get("containerStatuses") or [{}])[0]
            .get("state", {})
            .get("waiting", {})
            .get("message")
        ),
        what="the container's waiting message",
    )["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "CreateContainerError"
    assert waiting["message"] == "create the working directory /nowhere: Read-only file system", waiting
    assert "Error:" not in waiting["message"] and "Errno" not in waiting["message"]


def test_signals_start_at_their_defaults_in_containers_exec_and_probes(mp, pods, pod_name):
    # Python (the daemon) ignores SIGPIPE: inherited, `yes | head` never ends.
    # (`; true`: busybox sh leaves SIGQUIT ignored in a command it execs in
    # its own place, its own quirk; a forked child starts clean.)
    probe = {
        "exec": {"command": ["sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status > /tmp/probe; true"]}
    }
    script = "yes | head -c 10 > /tmp/yes && echo done > /tmp/main; " + SLEEP
    pods.run(pod(pod_name, ctr("main", script, readinessProbe=dict(probe, periodSeconds=1))))
    s = status(pids(mp, pod_name)["main"])
    assert int(s["SigIgn"], 16) == 0 and int(s["SigBlk"], 16) == 0, s
    assert sh(mp, pod_name, "cat /tmp/main; cat /tmp/yes").stdout == "done\n" + "y\n" * 5
    inside = mp.run("exec", pod_name, "--", "grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status").stdout.split()
    assert inside == ["SigBlk:", "0" * 16, "SigIgn:", "0" * 16]
    mp.wait_for(pod_name, lambda p: p["status"]["containerStatuses"][0]["ready"], what="ready")
    probed = sh(mp, pod_name, "cat /tmp/probe").stdout.split()
    assert probed == ["SigBlk:", "0" * 16, "SigIgn:", "0" * 16]


def test_run_as_non_root_with_a_root_image_is_a_create_container_config_error(mp, pods, pod_name):
    pods.run(pod(pod_name, ctr("main", SLEEP, securityContext={"runAsNonRoot": True})), check=False)

    def waiting(p):
        return ((p["status"].get("containerStatuses") or [{}])[0].get("state") or {}).get("waiting", {})

    got = mp.wait_for(pod_name, lambda p: waiting(p).get("message"), what="a waiting message")
    uid = got["metadata"]["uid"]
    assert waiting(got) == {
        "reason": "CreateContainerConfigError",
        "message": "container has runAsNonRoot and image will run as root "
        f'(pod: "{pod_name}_default({uid})", container: main)',
    }
    assert "CreateContainerConfigError" in mp.run("get", "pod", pod_name).stdout


def test_sysctls_are_set_in_the_pods_own_namespaces(mp, pods, pod_name):
    sysctls = [
        {"name": "net.ipv4.ip_unprivileged_port_start", "value": "80"},
        {"name": "kernel.shm_rmid_forced", "value": "1"},
    ]
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        host_port_start = f.read()
    with open("/proc/sys/kernel/shm_rmid_forced") as f:
        host_rmid = f.read()
    pods.run(pod(pod_name, ctr("main", SLEEP), securityContext={"sysctls": sysctls}))
    inside = sh(
        mp, pod_name, "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shm_rmid_forced"
    )
    assert inside.stdout.split() == ["80", "1"]
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        assert f.read() == host_port_start
    with open("/proc/sys/kernel/shm_rmid_forced") as f:
        assert f.read() == host_rmid


def test_an_apparmor_profile_this_host_cannot_enforce_fails_the_pod(mp, pods, pod_name):
    sc = {"appArmorProfile": {"type": "RuntimeDefault"}}
    pods.run(pod(pod_name, ctr("main", SLEEP, securityContext=sc), restartPolicy="Never"), check=False)
    status_ = mp.wait_for(pod_name, lambda p: p["status"].get("phase") == "Failed", what="Failed")["status"]
    assert status_["reason"] == "AppArmor"
    assert status_["message"].startswith("Pod was rejected: Cannot enforce AppArmor: ")
