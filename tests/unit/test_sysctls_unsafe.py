"""Unsafe sysctls: refused unless the instance allows them, and then only
namespaced ones (minipod.kube.sysctls)."""

from minipod.kube.sysctls import forbidden_sysctl, namespace_of, pod_sysctls


def pod(*sysctls, **spec):
    return {"spec": dict(spec, securityContext={"sysctls": [{"name": n, "value": v} for n, v in sysctls]})}


def test_an_unsafe_sysctl_needs_the_instances_allowlist():
    p = pod(("net.core.somaxconn", "1024"))
    assert forbidden_sysctl(p) == 'forbidden sysctl: "net.core.somaxconn" not allowlisted'
    assert forbidden_sysctl(p, ("net.core.somaxconn",)) is None
    assert forbidden_sysctl(pod(("kernel.msgmax", "9000")), ("kernel.msg*",)) is None
    assert forbidden_sysctl(p, ("net.core.somaxconn",)) is None
    assert forbidden_sysctl(pod(("net.core.somaxconn", "1")), ("net.core.somaxconn",)) is None
    assert (
        forbidden_sysctl(pod(("net.core.somaxconn", "1"), hostNetwork=True), ("net.core.somaxconn",))
        == 'forbidden sysctl: "net.core.somaxconn" not allowed with host net enabled'
    )


def test_namespaces_and_names():
    assert namespace_of("net.core.somaxconn") == "net"
    assert namespace_of("kernel.sem") == namespace_of("fs.mqueue.msg_max") == "ipc"
    assert namespace_of("kernel.panic") is None and namespace_of("vm.swappiness") is None
    assert pod_sysctls(pod(("net/ipv4/tcp_syncookies", "1"))) == [("net.ipv4.tcp_syncookies", "1")]
