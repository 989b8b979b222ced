"""The instance's node settings, as a kubelet reads its KubeletConfiguration.

One optional file, ETC/kubelet-config.yaml (YAML or JSON), with the
kubelet's own field names; what it leaves out keeps the default below:

    seccompDefault: true          # pods that set no seccompProfile run with
                                  # RuntimeDefault (false: Unconfined)
    containerLogMaxSize: 10Mi     # a container's log rotates past this size
    containerLogMaxFiles: 5       # and keeps at most this many files
    allowedUnsafeSysctls: []      # e.g. ["net.core.somaxconn", "kernel.msg*"]

The kubelet's own default for seccompDefault is false; minipod's is true,
as podman's and as the kubelet's documentation recommends. Profiles for
`seccompProfile: {type: Localhost}` live in LIB/seccomp, the instance's
counterpart of the kubelet's /var/lib/kubelet/seccomp.
"""

import os
import re
from dataclasses import dataclass

from minipod.errors import MinipodError
from minipod.kube.sysctls import namespace_of

FILE_NAME = "kubelet-config.yaml"
_QUANTITY = re.compile(r"^(\d+)(Ki|Mi|Gi|K|M|G)?$")
_UNITS = {None: 1, "K": 1000, "M": 1000**2, "G": 1000**3, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}


@dataclass(frozen=True)
class NodeConfig:
    seccomp_root: str
    seccomp_default: str = "RuntimeDefault"  # or "Unconfined"
    container_log_max_size: int = 10 * 1024 * 1024
    container_log_max_files: int = 5
    allowed_unsafe_sysctls: tuple[str, ...] = ()


def load(inst) -> NodeConfig:
    """The instance's settings; a file that cannot be used is an error that
    names it and the field (the daemon refuses to start, as a kubelet)."""
    path = os.path.join(inst.etc, FILE_NAME)
    seccomp_root = os.path.join(inst.lib, "seccomp")
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return NodeConfig(seccomp_root=seccomp_root)
    import yaml

    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise MinipodError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise MinipodError(f"{path}: expected a map of KubeletConfiguration fields")
    return parse(data, path, seccomp_root)


def parse(data: dict, path: str, seccomp_root: str) -> NodeConfig:
    seccomp_default = data.get("seccompDefault", True)
    if not isinstance(seccomp_default, bool):
        raise MinipodError(f"{path}: seccompDefault: expected true or false")
    files = data.get("containerLogMaxFiles", 5)
    if not isinstance(files, int) or isinstance(files, bool) or files < 2:
        # The kubelet's own rule: rotation needs the live file and one more.
        raise MinipodError(f"{path}: containerLogMaxFiles: must be an integer >= 2, got {files!r}")
    sysctls = data.get("allowedUnsafeSysctls") or []
    if not isinstance(sysctls, list) or not all(isinstance(s, str) for s in sysctls):
        raise MinipodError(f"{path}: allowedUnsafeSysctls: expected a list of sysctl names or patterns")
    for name in sysctls:
        if namespace_of(name.rstrip("*") + ("x" if name.endswith("*") else "")) is None:
            # As the kubelet refuses to start: such a sysctl would be the host's.
            raise MinipodError(f"{path}: allowedUnsafeSysctls: {name!r} is not a namespaced sysctl")
    return NodeConfig(
        seccomp_root=seccomp_root,
        seccomp_default="RuntimeDefault" if seccomp_default else "Unconfined",
        container_log_max_size=quantity(data.get("containerLogMaxSize", "10Mi"), path),
        container_log_max_files=files,
        allowed_unsafe_sysctls=tuple(sysctls),
    )


def quantity(value, path: str) -> int:
    """ "10Mi" -> 10485760, as Kubernetes reads a resource quantity."""
    m = _QUANTITY.match(str(value))
    if not m or int(m.group(1)) == 0:
        raise MinipodError(f'{path}: containerLogMaxSize: expected a size such as "10Mi", got {value!r}')
    return int(m.group(1)) * _UNITS[m.group(2)]
