"""Seccomp: RuntimeDefault for every pod by default, Unconfined, Localhost.

A static helper (helpers/syscall_probe.c) makes raw system calls from
inside the container, because busybox has no applet for most of what the
default profile blocks.
"""

import json
import os

from helpers.pods import ctr, pids, pod
from helpers.pods import pod_sh as sh
from helpers.procfs import status
from helpers.syscall_probe import probe_calls, probe_pod, with_probe

SLEEP = "exec sleep 3600"
EPERM = 1
BLOCKED = ["unshare-user", "clone-newuser", "keyctl", "add_key", "bpf", "perf_event_open", "mount"]


def probed(name: str = "main", script: str = SLEEP, **fields) -> dict:
    return with_probe(ctr(name, script, **fields))


def calls(mp, pod_name: str, *names: str, container: str = "main") -> dict[str, str]:
    return probe_calls(mp, pod_name, *names, container=container)


def test_a_default_pod_runs_under_the_runtime_default_profile(mp, pods, pod_name, syscall_probe):
    web = ctr("web", "echo hello > /tmp/index.html && exec httpd -f -p 8080 -h /tmp")
    pods.run(probe_pod(pod(pod_name, probed(), web), syscall_probe))
    p = pids(mp, pod_name)
    assert status(p["main"])["Seccomp"] == "2" and status(p["web"])["Seccomp"] == "2"
    assert status(p["main"])["NoNewPrivs"] == "0"  # the filter does not imply no_new_privs
    # An exec session gets the filter too.
    assert "Seccomp:\t2" in sh(mp, pod_name, "grep Seccomp: /proc/self/status").stdout
    got = calls(mp, pod_name, *BLOCKED, "socket-vsock", "socket-inet", "personality-query")
    assert got == {
        **{name: f"errno {EPERM}" for name in BLOCKED},
        "socket-vsock": f"errno {EPERM}",
        "socket-inet": "ok",
        "personality-query": "ok",
    }
    # Ordinary programs work: a shell, busybox httpd and wget.
    assert sh(mp, pod_name, "timeout 5 wget -qO- http://127.0.0.1:8080/").stdout == "hello\n"


def test_capabilities_bring_their_syscalls_back(mp, pods, pod_name, syscall_probe):
    admin = probed(securityContext={"capabilities": {"add": ["SYS_ADMIN"]}})
    pods.run(probe_pod(pod(pod_name, admin), syscall_probe))
    assert status(pids(mp, pod_name)["main"])["Seccomp"] == "2"
    # CAP_SYS_ADMIN adds mount, unshare and clone with namespace flags.
    assert calls(mp, pod_name, "mount", "unshare-ns") == {"mount": "ok", "unshare-ns": "ok"}


def test_unconfined_and_privileged_run_without_a_filter(mp, pods, pod_name, syscall_probe):
    unconfined = probed("unconfined", securityContext={"seccompProfile": {"type": "Unconfined"}})
    privileged = probed("privileged", securityContext={"privileged": True})
    confined = probed("confined", securityContext={"seccompProfile": {"type": "RuntimeDefault"}})
    manifest = pod(
        pod_name, unconfined, privileged, confined, securityContext={"seccompProfile": {"type": "Unconfined"}}
    )
    pods.run(probe_pod(manifest, syscall_probe))
    p = pids(mp, pod_name)
    assert [status(p[c])["Seccomp"] for c in ("unconfined", "privileged", "confined")] == ["0", "0", "2"]
    assert calls(mp, pod_name, "keyctl", container="unconfined") == {"keyctl": "ok"}
    assert calls(mp, pod_name, "keyctl", container="confined") == {"keyctl": f"errno {EPERM}"}


def test_a_localhost_profile_is_read_from_the_instances_seccomp_root(mp, pods, pod_name, syscall_probe):
    root = os.path.join(mp.root, "lib", "seccomp", "profiles")
    os.makedirs(root, exist_ok=True)
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}],
    }
    with open(os.path.join(root, "no-mkdir.json"), "w") as f:
        json.dump(profile, f)
    local = {"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/no-mkdir.json"}}
    pods.run(probe_pod(pod(pod_name, probed(securityContext=local)), syscall_probe))
    assert status(pids(mp, pod_name)["main"])["Seccomp"] == "2"
    r = sh(mp, pod_name, "mkdir /tmp/x", check=False)
    assert r.returncode != 0 and "Permission denied" in r.stderr
    # Everything else is allowed by this profile, keyctl included.
    assert calls(mp, pod_name, "keyctl") == {"keyctl": "ok"}


def test_a_missing_localhost_profile_is_a_create_container_error(mp, pods, pod_name):
    local = {"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/absent.json"}}
    pods.run(pod(pod_name, ctr("main", SLEEP, securityContext=local)), check=False)
    path = os.path.join(mp.root, "lib", "seccomp", "profiles", "absent.json")

    def waiting(p):
        return ((p["status"].get("containerStatuses") or [{}])[0].get("state") or {}).get("waiting", {})

    w = waiting(mp.wait_for(pod_name, lambda p: waiting(p).get("message"), what="a waiting message"))
    assert w["reason"] == "CreateContainerError"
    assert w["message"] == (
        f'failed to generate seccomp spec opts: cannot load seccomp profile "{path}": '
        f"open {path}: no such file or directory"
    )
