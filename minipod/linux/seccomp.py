"""Seccomp filters for container processes (seccomp(2)), from OCI/Docker profiles.

A profile is data: JSON in the format Docker, containerd and the kubelet's
`Localhost` profiles share (defaultAction, archMap, syscalls[] with names,
action, errnoRet, args, includes/excludes). RuntimeDefault is the default
profile of containerd and Docker, shipped beside this module as
seccomp_profiles/runtime-default.json.

Steps:
    1. choose (pure, in the daemon): the container's seccompProfile, else
       the pod's, else the instance's default; privileged runs unconfined,
       as containerd does (choose_profile);
    2. resolve (pure, in the daemon): read the JSON, keep the rules that
       apply to this architecture, kernel and capability set (a rule may
       require or exclude a capability: CAP_SYS_ADMIN brings mount, unshare
       and friends), and check every action and operator (resolve);
    3. compile (in the daemon, cached): libseccomp (through pyseccomp, a
       binding over the C library) turns the rules into a BPF program
       (compile_bpf);
    4. install (in the container process, right before execve()): load
       that program with seccomp(2) (install).
What the filter does not allow fails with the profile's errno, EPERM for
RuntimeDefault, as it would under Docker or containerd.
"""

import functools
import json
import os
from dataclasses import dataclass

import pyseccomp

from minipod.errors import MinipodError
from minipod.linux import syscalls

RUNTIME_DEFAULT = os.path.join(os.path.dirname(__file__), "seccomp_profiles", "runtime-default.json")
EPERM = 1

# The profile's names for the native architecture, as Go names them in
# "includes"/"excludes" (the profile format comes from Docker, written in Go).
GO_ARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "ppc64le": "ppc64le",
}
SCMP_ARCH = {
    "x86_64": "SCMP_ARCH_X86_64",
    "aarch64": "SCMP_ARCH_AARCH64",
    "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64",
    "ppc64le": "SCMP_ARCH_PPC64LE",
}
ACTIONS = (
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_LOG",
    "SCMP_ACT_TRACE",
)
OPERATORS = {
    "SCMP_CMP_NE": pyseccomp.NE,
    "SCMP_CMP_LT": pyseccomp.LT,
    "SCMP_CMP_LE": pyseccomp.LE,
    "SCMP_CMP_EQ": pyseccomp.EQ,
    "SCMP_CMP_GE": pyseccomp.GE,
    "SCMP_CMP_GT": pyseccomp.GT,
    "SCMP_CMP_MASKED_EQ": pyseccomp.MASKED_EQ,
}


@dataclass(frozen=True)
class Choice:
    """Which profile a container runs with: RuntimeDefault, Unconfined or
    Localhost (then `path`, under the instance's seccomp root)."""

    kind: str
    path: str | None = None


@dataclass(frozen=True)
class ArgCheck:
    index: int
    op: str
    value: int
    value_two: int = 0


@dataclass(frozen=True)
class Rule:
    names: tuple[str, ...]
    action: str
    errno: int  # for SCMP_ACT_ERRNO and SCMP_ACT_TRACE
    args: tuple[ArgCheck, ...] = ()


@dataclass(frozen=True)
class Filter:
    default_action: str
    default_errno: int
    architectures: tuple[str, ...]  # extra ones, beside the native one
    rules: tuple[Rule, ...]


# --- 1. choose ------------------------------------------------------------------


def choose_profile(pod_sc: dict, container_sc: dict, default: str, root: str) -> Choice:
    """The profile of one container, as the kubelet and containerd pick it."""
    if container_sc.get("privileged"):
        return Choice("Unconfined")
    profile = container_sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {"type": default}
    if profile["type"] == "Localhost":
        return Choice("Localhost", os.path.join(root, profile["localhostProfile"]))
    return Choice(profile["type"])


# --- 2. resolve -----------------------------------------------------------------


def filter_for(choice: Choice, caps: list[str]) -> Filter | None:
    """The filter for a choice and a container's capabilities (names
    without CAP_), or None when unconfined. A Localhost profile that cannot
    be read or is not a valid profile raises MinipodError with its path."""
    if choice.kind == "Unconfined":
        return None
    if choice.kind == "RuntimeDefault":
        return _runtime_default(tuple(sorted(caps)))
    path = choice.path or ""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise MinipodError(
            f'failed to generate seccomp spec opts: cannot load seccomp profile "{path}": '
            f"open {path}: {(e.strerror or str(e)).lower()}"
        ) from None
    return resolve(parse(text, path), caps)


@functools.lru_cache(maxsize=64)
def _runtime_default(caps: tuple[str, ...]) -> Filter:
    with open(RUNTIME_DEFAULT) as f:
        return resolve(parse(f.read(), RUNTIME_DEFAULT), list(caps))


def parse(text: str, path: str) -> dict:
    try:
        profile = json.loads(text)
    except ValueError as e:
        raise MinipodError(f'seccomp profile "{path}": not valid JSON: {e}') from None
    if not isinstance(profile, dict) or not isinstance(profile.get("defaultAction"), str):
        raise MinipodError(f'seccomp profile "{path}": defaultAction: required value (e.g. "SCMP_ACT_ERRNO")')
    return profile


def resolve(
    profile: dict,
    caps: list[str],
    machine: str | None = None,
    kernel: tuple[int, int] | None = None,
) -> Filter:
    """Steps 2: the rules of `profile` that apply here (Docker's rules:
    every capability in `includes.caps` present, none of `excludes.caps`;
    the architecture listed in `includes.arches` and not in
    `excludes.arches`; the kernel at least `includes.minKernel`)."""
    machine = machine or os.uname().machine
    kernel = kernel or _kernel_version(os.uname().release)
    have = {"CAP_" + c for c in caps}
    arch = GO_ARCH.get(machine, machine)
    rules = []
    for i, entry in enumerate(profile.get("syscalls") or []):
        where = f"syscalls[{i}]"
        inc, exc = entry.get("includes") or {}, entry.get("excludes") or {}
        if not set(inc.get("caps") or []) <= have or set(exc.get("caps") or []) & have:
            continue
        if inc.get("arches") and arch not in inc["arches"]:
            continue
        if arch in (exc.get("arches") or []):
            continue
        if inc.get("minKernel") and kernel < _kernel_version(inc["minKernel"]):
            continue
        rules.extend(_rules_of(entry, where, profile))
    return Filter(
        default_action=_action(profile["defaultAction"], "defaultAction"),
        default_errno=profile.get("defaultErrnoRet") or EPERM,
        architectures=_architectures(profile, machine),
        rules=tuple(rules),
    )


def _rules_of(entry: dict, where: str, profile: dict) -> list[Rule]:
    names = tuple(entry.get("names") or ([entry["name"]] if entry.get("name") else []))
    action = _action(entry.get("action"), f"{where}.action")
    errno = entry.get("errnoRet") or EPERM
    args = []
    for j, a in enumerate(entry.get("args") or []):
        op = a.get("op")
        if op not in OPERATORS:
            raise MinipodError(
                f"{where}.args[{j}].op: unsupported value {op!r}; expected one of {', '.join(OPERATORS)}"
            )
        args.append(ArgCheck(int(a.get("index", 0)), op, int(a.get("value", 0)), int(a.get("valueTwo", 0))))
    # As runc: when two conditions test the same argument they cannot be
    # ANDed in one libseccomp rule, so each becomes a rule of its own (OR).
    if len({a.index for a in args}) < len(args):
        return [Rule(names, action, errno, (a,)) for a in args]
    return [Rule(names, action, errno, tuple(args))]


def _action(action, where: str) -> str:
    if action not in ACTIONS:
        raise MinipodError(f"{where}: unsupported value {action!r}; expected one of {', '.join(ACTIONS)}")
    return action


def _architectures(profile: dict, machine: str) -> tuple[str, ...]:
    native = SCMP_ARCH.get(machine)
    extra: list[str] = list(profile.get("architectures") or [])
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == native:
            extra += entry.get("subArchitectures") or []
    return tuple(a for a in dict.fromkeys(extra) if a != native)


def _kernel_version(release: str) -> tuple[int, int]:
    parts = (release.split("-")[0].split(".") + ["0"])[:2]
    return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)


# --- 3. compile and install ------------------------------------------------------


@functools.lru_cache(maxsize=64)
def compile_bpf(f: Filter) -> bytes:
    """The BPF program of a filter, built by libseccomp in the daemon (once
    per profile and capability set: it takes ~15 ms) and loaded by each
    container process in microseconds (install)."""
    default = _scmp_action(f.default_action, f.default_errno)
    sf = pyseccomp.SyscallFilter(default)
    for name in f.architectures:
        arch = getattr(pyseccomp.Arch, name.removeprefix("SCMP_ARCH_"), None)
        if arch is not None:
            try:
                sf.add_arch(arch)
            except OSError:
                pass  # an architecture this libseccomp cannot add beside the native one
    for rule in f.rules:
        action = _scmp_action(rule.action, rule.errno)
        if action == default:
            continue  # libseccomp refuses a rule whose action is the default's
        args = [pyseccomp.Arg(a.index, OPERATORS[a.op], a.value, a.value_two) for a in rule.args]
        for name in rule.names:
            nr = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)
            if nr == -1:
                continue  # unknown to this architecture (chown32 on x86_64): skipped, as runc does
            try:
                sf.add_rule(action, nr, *args)
            except OSError as e:
                if nr >= 0:
                    raise MinipodError(f"seccomp rule for {name}: {e.strerror}") from None
                # A multiplexed pseudo-syscall (socketcall, ipc) that no
                # architecture of the filter has: nothing to filter.
    fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
    try:
        sf.export_bpf(_Fd(fd))
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class _Fd:
    """What pyseccomp's export_bpf wants: something with a fileno()."""

    def __init__(self, fd: int):
        self.fd = fd

    def fileno(self) -> int:
        return self.fd


def install(program: bytes) -> None:
    """Load a compiled filter into the calling process (seccomp(2)). It does
    not set no_new_privs: the launcher sets that only when the container
    asks (allowPrivilegeEscalation: false), and otherwise loads the filter
    while it still holds CAP_SYS_ADMIN, as runc does."""
    syscalls.seccomp_set_filter(program)


def _scmp_action(action: str, errno: int) -> int:
    return {
        "SCMP_ACT_ALLOW": pyseccomp.ALLOW,
        "SCMP_ACT_ERRNO": pyseccomp.ERRNO(errno),
        "SCMP_ACT_KILL": pyseccomp.KILL,
        "SCMP_ACT_KILL_THREAD": pyseccomp.KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS": pyseccomp.KILL_PROCESS,
        "SCMP_ACT_TRAP": pyseccomp.TRAP,
        "SCMP_ACT_LOG": pyseccomp.LOG,
        "SCMP_ACT_TRACE": pyseccomp.TRACE(errno),
    }[action]
