"""Admission on the one node (minipod.pod.admission, minipod.kube.sysctls):
pure decisions, checked without a daemon."""

import pytest

from minipod.kube.sysctls import forbidden_sysctl, normalize
from minipod.pod.admission import Node, admit, extended_requests, is_extended_resource

NODE = Node(name="vm")


def pod(containers=None, inits=None, **spec):
    spec["containers"] = containers or [{"name": "a", "image": "busybox"}]
    if inits:
        spec["initContainers"] = inits
    return {"metadata": {"name": "p"}, "spec": spec}


def limits(name, **res):
    return {"name": name, "image": "busybox", "resources": {"limits": res}}


def test_a_plain_pod_is_admitted():
    assert admit(pod(), NODE) is None
    assert admit(pod(nodeName="vm"), NODE) is None


def test_another_node_keeps_the_pod_pending_with_the_scheduler_message():
    r = admit(pod(nodeName="node-2"), NODE)
    assert (r.phase, r.reason) == ("Pending", "Unschedulable")
    assert r.message == "0/1 nodes are available: 1 node(s) didn't match the requested node name."


@pytest.mark.parametrize(
    "name, extended",
    [
        ("example.com/dongle", True),
        ("nvidia.com/gpu", True),
        ("cpu", False),
        ("memory", False),
        ("hugepages-2Mi", False),
        ("kubernetes.io/something", False),
        ("foo.kubernetes.io/bar", False),
        ("requests.example.com/x", False),
    ],
)
def test_extended_resource_names(name, extended):
    assert is_extended_resource(name) is extended


def test_extended_resources_are_counted_as_the_scheduler_counts_them():
    p = pod(
        [limits("a", **{"example.com/dongle": "2", "cpu": "1"}), limits("b", **{"example.com/dongle": 1})],
        inits=[limits("i", **{"example.com/dongle": "5"}), limits("j", **{"example.com/other": "1"})],
    )
    assert extended_requests(p) == {"example.com/dongle": 5, "example.com/other": 1}


def test_extended_resources_keep_the_pod_pending():
    r = admit(pod([limits("a", **{"example.com/dongle": "1", "example.com/bar": "2"})]), NODE)
    assert (r.phase, r.reason) == ("Pending", "Unschedulable")
    assert r.message == (
        "0/1 nodes are available: 1 Insufficient example.com/bar, 1 Insufficient example.com/dongle."
    )
    assert (
        admit(pod([limits("a", **{"example.com/dongle": "1"})]), Node("vm", {"example.com/dongle": 1}))
        is None
    )


def test_nodename_is_checked_before_resources():
    r = admit(pod([limits("a", **{"example.com/dongle": "1"})], nodeName="other"), NODE)
    assert "requested node name" in r.message


@pytest.mark.parametrize(
    "sysctls, message",
    [
        ([{"name": "kernel.shm_rmid_forced", "value": "0"}], None),
        ([{"name": "net.ipv4.ip_local_port_range", "value": "1024 65535"}], None),
        ([{"name": "net/ipv4/tcp_syncookies", "value": "1"}], None),
        ([{"name": "kernel.msgmax", "value": "65536"}], 'forbidden sysctl: "kernel.msgmax" not allowlisted'),
        (
            [
                {"name": "net.ipv4.tcp_syncookies", "value": "1"},
                {"name": "net.core.somaxconn", "value": "1024"},
            ],
            'forbidden sysctl: "net.core.somaxconn" not allowlisted',
        ),
    ],
)
def test_sysctls(sysctls, message):
    p = pod(securityContext={"sysctls": sysctls})
    assert forbidden_sysctl(p) == message
    r = admit(p, NODE)
    assert (r.phase, r.reason, r.message) == ("Failed", "SysctlForbidden", message) if message else r is None


def test_safe_sysctls_are_refused_with_the_host_namespace():
    net = pod(
        hostNetwork=True, securityContext={"sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]}
    )
    assert (
        forbidden_sysctl(net)
        == 'forbidden sysctl: "net.ipv4.tcp_syncookies" not allowed with host net enabled'
    )
    ipc = pod(hostIPC=True, securityContext={"sysctls": [{"name": "kernel.shm_rmid_forced", "value": "1"}]})
    assert (
        forbidden_sysctl(ipc)
        == 'forbidden sysctl: "kernel.shm_rmid_forced" not allowed with host ipc enabled'
    )


def test_normalize_slashes():
    assert normalize("net/ipv4/tcp_rmem") == "net.ipv4.tcp_rmem"
    assert normalize("net/ipv4/conf/eno2.100/rp_filter") == "net.ipv4.conf.eno2/100.rp_filter"
    assert normalize("kernel.shm_rmid_forced") == "kernel.shm_rmid_forced"


def test_scheduling_gates_come_first():
    r = admit(pod(nodeName="other", schedulingGates=[{"name": "example.com/foo"}]), NODE)
    assert (r.phase, r.reason, r.message) == (
        "Pending",
        "SchedulingGated",
        "Scheduling is blocked due to non-empty scheduling gates",
    )
