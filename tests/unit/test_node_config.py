"""The instance's kubelet-like settings: defaults, parsing, clear errors."""

import re

import pytest

from minipod.errors import MinipodError
from minipod.pod import node_config


def parse(data: dict) -> node_config.NodeConfig:
    return node_config.parse(data, "/etc/x/kubelet-config.yaml", "/var/lib/x/seccomp")


def test_defaults_are_the_kubelets_with_runtime_default_seccomp():
    c = parse({})
    assert (c.seccomp_default, c.container_log_max_size, c.container_log_max_files) == (
        "RuntimeDefault",
        10 * 1024 * 1024,
        5,
    )
    assert c.seccomp_root == "/var/lib/x/seccomp" and c.allowed_unsafe_sysctls == ()


def test_fields_use_the_kubelets_names_and_quantities():
    c = parse({"seccompDefault": False, "containerLogMaxSize": "1Mi", "containerLogMaxFiles": 2})
    assert (c.seccomp_default, c.container_log_max_size, c.container_log_max_files) == (
        "Unconfined",
        1 << 20,
        2,
    )
    assert parse({"containerLogMaxSize": "500K"}).container_log_max_size == 500_000


@pytest.mark.parametrize(
    "data, message",
    [
        ({"seccompDefault": "yes"}, "seccompDefault: expected true or false"),
        ({"containerLogMaxFiles": 1}, "containerLogMaxFiles: must be an integer >= 2, got 1"),
        (
            {"containerLogMaxSize": "ten"},
            """containerLogMaxSize: expected a size such as "10Mi", got 'ten'""",
        ),
        ({"allowedUnsafeSysctls": "net.*"}, "allowedUnsafeSysctls: expected a list"),
    ],
)
def test_bad_values_name_the_file_and_the_field(data, message):
    with pytest.raises(MinipodError, match="^" + re.escape("/etc/x/kubelet-config.yaml: " + message)):
        parse(data)


def test_allowed_unsafe_sysctls_must_be_namespaced():
    assert parse({"allowedUnsafeSysctls": ["kernel.msg*", "net.core.somaxconn"]}).allowed_unsafe_sysctls == (
        "kernel.msg*",
        "net.core.somaxconn",
    )
    with pytest.raises(MinipodError, match="'kernel.panic' is not a namespaced sysctl"):
        parse({"allowedUnsafeSysctls": ["kernel.panic"]})
