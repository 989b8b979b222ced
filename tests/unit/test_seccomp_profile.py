"""The pure parts of seccomp: choosing a profile, resolving its rules for
a capability set, and validating seccompProfile fields. No root needed."""

import json

import pytest

from minipod.errors import MinipodError
from minipod.kube import security_context
from minipod.linux import seccomp
from minipod.linux.capabilities import DEFAULT_CAPS


def runtime_default(caps, machine="x86_64"):
    with open(seccomp.RUNTIME_DEFAULT) as f:
        return seccomp.resolve(json.load(f), caps, machine=machine, kernel=(6, 1))


def names_allowed(f: seccomp.Filter, with_args: bool = False) -> set[str]:
    return {n for r in f.rules if r.action == "SCMP_ACT_ALLOW" and bool(r.args) == with_args for n in r.names}


def test_runtime_default_blocks_what_docker_blocks_without_capabilities():
    f = runtime_default(DEFAULT_CAPS)
    assert (f.default_action, f.default_errno) == ("SCMP_ACT_ERRNO", 1)
    allowed = names_allowed(f)
    for blocked in ("unshare", "mount", "keyctl", "add_key", "bpf", "perf_event_open", "setns", "reboot"):
        assert blocked not in allowed, blocked
    for needed in ("read", "execve", "clone", "socket", "arch_prctl", "chroot"):
        assert needed in allowed | names_allowed(f, with_args=True), needed
    # clone only without namespace flags; clone3 answers ENOSYS so that
    # C libraries fall back to clone.
    clone = [r for r in f.rules if r.names == ("clone",)]
    assert [(a.index, a.op, a.value) for r in clone for a in r.args] == [
        (0, "SCMP_CMP_MASKED_EQ", 0x7E020000)
    ]
    assert [(r.action, r.errno) for r in f.rules if r.names == ("clone3",)] == [("SCMP_ACT_ERRNO", 38)]
    assert f.architectures == ("SCMP_ARCH_X86", "SCMP_ARCH_X32")


def test_capabilities_add_their_syscalls():
    plain = names_allowed(runtime_default([]))
    assert "chroot" not in plain
    admin = runtime_default(["SYS_ADMIN"])
    assert {"mount", "unshare", "setns", "clone", "clone3", "bpf"} <= names_allowed(admin)
    assert not [r for r in admin.rules if r.names == ("clone3",) and r.action != "SCMP_ACT_ALLOW"]
    assert {"ptrace", "kcmp"} <= names_allowed(runtime_default(["SYS_PTRACE"]))
    assert "init_module" in names_allowed(runtime_default(["SYS_MODULE"]))


def test_architecture_specific_rules():
    arm = runtime_default(DEFAULT_CAPS, machine="aarch64")
    assert "arch_prctl" not in names_allowed(arm) and "set_tls" in names_allowed(arm)
    assert arm.architectures == ("SCMP_ARCH_ARM",)


def test_two_conditions_on_one_argument_become_two_rules():
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {
                "names": ["personality"],
                "action": "SCMP_ACT_ALLOW",
                "args": [
                    {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                    {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                ],
            }
        ],
    }
    f = seccomp.resolve(profile, [], machine="x86_64", kernel=(6, 1))
    assert [[a.value for a in r.args] for r in f.rules] == [[0], [8]]


def test_a_bad_profile_names_the_field():
    with pytest.raises(MinipodError, match=r"syscalls\[0\].action: unsupported value 'SCMP_ACT_NOPE'"):
        seccomp.resolve(
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_NOPE"}]}, []
        )
    with pytest.raises(MinipodError, match="defaultAction: required value"):
        seccomp.parse("{}", "/p.json")


def test_choosing_a_profile():
    choose = seccomp.choose_profile
    assert choose({}, {}, "RuntimeDefault", "/r") == seccomp.Choice("RuntimeDefault")
    assert choose({}, {}, "Unconfined", "/r") == seccomp.Choice("Unconfined")
    pod_sc = {"seccompProfile": {"type": "Localhost", "localhostProfile": "a.json"}}
    assert choose(pod_sc, {}, "RuntimeDefault", "/r") == seccomp.Choice("Localhost", "/r/a.json")
    assert (
        choose(pod_sc, {"seccompProfile": {"type": "Unconfined"}}, "RuntimeDefault", "/r").kind
        == "Unconfined"
    )
    assert choose({}, {"privileged": True}, "RuntimeDefault", "/r").kind == "Unconfined"


def test_seccomp_profile_validation():
    def check(profile):
        pod = {"spec": {"containers": [{"name": "c", "securityContext": {"seccompProfile": profile}}]}}
        return security_context.check_pod(pod)

    path = "spec.containers[0].securityContext.seccompProfile.localhostProfile"
    assert check({"type": "RuntimeDefault"}) == []
    assert check({"type": "Localhost", "localhostProfile": "profiles/a.json"}) == []
    assert check({"type": "Localhost"}) == [
        f"{path}: required value: must be set when seccomp type is Localhost"
    ]
    assert check({"type": "Localhost", "localhostProfile": "/etc/a.json"}) == [
        f'{path}: invalid value "/etc/a.json": must be a relative path'
    ]
    assert check({"type": "Localhost", "localhostProfile": "../a.json"}) == [
        f"{path}: invalid value \"../a.json\": must not contain '..'"
    ]
    assert check({"type": "Unconfined", "localhostProfile": "a.json"}) == [
        f'{path}: invalid value "a.json": can only be set when seccomp type is Localhost'
    ]


def test_proc_mount_unmasked_needs_host_users_false_and_windows_options_are_refused():
    sc = {"procMount": "Unmasked", "windowsOptions": {"runAsUserName": "x"}}
    pod = {"spec": {"containers": [{"name": "c", "securityContext": sc}]}}
    assert security_context.check_pod(pod) == [
        "spec.containers[0].securityContext.windowsOptions: forbidden: may not be set for a Linux pod",
        'spec.containers[0].securityContext.procMount: invalid value "Unmasked": '
        "`hostUsers` must be false to use `Unmasked`",
    ]


def test_apparmor_profiles_are_rejected_where_they_cannot_be_enforced():
    def pod(profile=None, annotations=None):
        c = {"name": "c", "securityContext": {"appArmorProfile": profile} if profile else {}}
        return {"metadata": {"annotations": annotations or {}}, "spec": {"containers": [c]}}

    refusal = security_context.apparmor_refusal
    assert refusal(pod(), False) is None
    assert refusal(pod({"type": "Unconfined"}), False) is None
    assert refusal(pod({"type": "RuntimeDefault"}), False) == (
        "Cannot enforce AppArmor: AppArmor is not enabled on the host"
    )
    beta = {"container.apparmor.security.beta.kubernetes.io/c": "runtime/default"}
    assert (
        refusal(pod(annotations=beta), False)
        == "Cannot enforce AppArmor: AppArmor is not enabled on the host"
    )
    assert refusal(pod({"type": "RuntimeDefault"}), True).startswith("Cannot enforce AppArmor: minipod")
