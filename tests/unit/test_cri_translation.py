"""CRI configs as the v1 pods and containers the runtime runs: pure."""

import pytest

from minipod.cri import api_pb2, container_config, sandbox_config


def sandbox(**fields):
    md = api_pb2.PodSandboxMetadata(name="web", namespace="team", uid="u1", attempt=2)
    return api_pb2.PodSandboxConfig(metadata=md, **fields)


def test_sandbox_pod_names_it_by_its_id_and_never_restarts():
    pod = sandbox_config.sandbox_pod(sandbox(labels={"a": "b"}, annotations={"x": "y"}), "abc")
    assert pod["metadata"] == {
        "name": "abc",
        "namespace": "team",
        "uid": "abc",
        "labels": {"a": "b"},
        "annotations": {"x": "y"},
    }
    spec = pod["spec"]
    assert spec["containers"] == [] and spec["restartPolicy"] == "Never"
    assert spec["hostname"] == "web" and spec["dnsPolicy"] == "Default"
    assert spec["shareProcessNamespace"] is True  # pid POD (the zero value)


def test_sandbox_namespaces_dns_sysctls_and_user():
    ns = api_pb2.NamespaceOption(network=api_pb2.NODE, pid=api_pb2.CONTAINER, ipc=api_pb2.NODE)
    linux = api_pb2.LinuxPodSandboxConfig(
        sysctls={"net.ipv4.ip_forward": "1"},
        security_context=api_pb2.LinuxSandboxSecurityContext(
            namespace_options=ns, run_as_user=api_pb2.Int64Value(value=1000), supplemental_groups=[5]
        ),
    )
    dns = api_pb2.DNSConfig(servers=["10.0.0.10"], searches=["svc.local"], options=["ndots:5", "rotate"])
    spec = sandbox_config.sandbox_pod(sandbox(linux=linux, dns_config=dns, hostname="h1"), "abc")["spec"]
    assert spec["hostNetwork"] and spec["hostIPC"] and "hostPID" not in spec
    assert "shareProcessNamespace" not in spec
    assert spec["hostname"] == "h1"
    assert spec["dnsPolicy"] == "None"
    assert spec["dnsConfig"] == {
        "nameservers": ["10.0.0.10"],
        "searches": ["svc.local"],
        "options": [{"name": "ndots", "value": "5"}, {"name": "rotate"}],
    }
    assert spec["securityContext"] == {
        "runAsUser": 1000,
        "supplementalGroups": [5],
        "sysctls": [{"name": "net.ipv4.ip_forward", "value": "1"}],
    }


def test_sandbox_without_name_is_refused_naming_the_field():
    with pytest.raises(sandbox_config.ConfigError, match="config.metadata"):
        sandbox_config.sandbox_pod(api_pb2.PodSandboxConfig(), "abc")


def test_origin_data_keeps_the_kubelets_metadata():
    pm = api_pb2.PortMapping(protocol=api_pb2.UDP, container_port=53, host_port=5353)
    data = sandbox_config.origin_data(sandbox(log_directory="/var/log/pods/x", port_mappings=[pm]), "runc")
    assert data["metadata"] == {"name": "web", "uid": "u1", "namespace": "team", "attempt": 2}
    assert data["log_directory"] == "/var/log/pods/x" and data["runtime_handler"] == "runc"
    assert data["port_mappings"] == [
        {"protocol": "UDP", "container_port": 53, "host_port": 5353, "host_ip": ""}
    ]


def container(**fields):
    return api_pb2.ContainerConfig(
        metadata=api_pb2.ContainerMetadata(name="app", attempt=1),
        image=api_pb2.ImageSpec(image="busybox:1.35"),
        **fields,
    )


def test_container_spec_command_env_mounts():
    config = container(
        command=["sh"],
        args=["-c", "true"],
        working_dir="/w",
        envs=[api_pb2.KeyValue(key="A", value="1")],
        mounts=[
            api_pb2.Mount(container_path="/data", host_path="/srv/data", readonly=True),
            api_pb2.Mount(
                container_path="/m", host_path="/mnt", propagation=api_pb2.PROPAGATION_BIDIRECTIONAL
            ),
        ],
        tty=True,
    )
    spec, volumes = container_config.container_spec(config, "cri-x")
    assert spec["name"] == "app-1" and spec["imagePullPolicy"] == "Never"
    assert (spec["command"], spec["args"], spec["workingDir"]) == (["sh"], ["-c", "true"], "/w")
    assert spec["env"] == [{"name": "A", "value": "1"}] and spec["tty"] is True
    assert volumes == [
        {"name": "cri-x-0", "hostPath": {"path": "/srv/data"}},
        {"name": "cri-x-1", "hostPath": {"path": "/mnt"}},
    ]
    assert spec["volumeMounts"] == [
        {"name": "cri-x-0", "mountPath": "/data", "readOnly": True},
        {"name": "cri-x-1", "mountPath": "/m", "mountPropagation": "Bidirectional"},
    ]


def test_container_security_and_resources():
    sc = api_pb2.LinuxContainerSecurityContext(
        capabilities=api_pb2.Capability(add_capabilities=["CAP_NET_ADMIN"], drop_capabilities=["ALL"]),
        run_as_user=api_pb2.Int64Value(value=1001),
        run_as_group=api_pb2.Int64Value(value=1002),
        readonly_rootfs=True,
        no_new_privs=True,
        seccomp=api_pb2.SecurityProfile(profile_type=api_pb2.SecurityProfile.RuntimeDefault),
    )
    res = api_pb2.LinuxContainerResources(
        cpu_period=100000, cpu_quota=50000, cpu_shares=256, memory_limit_in_bytes=64 << 20
    )
    spec, _ = container_config.container_spec(
        container(linux=api_pb2.LinuxContainerConfig(security_context=sc, resources=res)), "v"
    )
    assert spec["securityContext"] == {
        "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
        "runAsUser": 1001,
        "runAsGroup": 1002,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert spec["resources"] == {
        "limits": {"cpu": "500m", "memory": str(64 << 20)},
        "requests": {"cpu": "250m"},
    }


def test_container_without_seccomp_is_unconfined_as_the_kubelet_means():
    spec, _ = container_config.container_spec(container(), "v")
    assert spec["securityContext"] == {"seccompProfile": {"type": "Unconfined"}}
    old = api_pb2.LinuxContainerSecurityContext(seccomp_profile_path="runtime/default")
    assert container_config.seccomp_profile(old) == {"type": "RuntimeDefault"}


def test_container_mount_without_host_path_names_the_field():
    bad = container(mounts=[api_pb2.Mount(container_path="/x")])
    with pytest.raises(container_config.ConfigError, match=r"config.mounts\[0\]"):
        container_config.container_spec(bad, "v")


def test_sandbox_ports_only_those_with_a_host_port():
    maps = [
        api_pb2.PortMapping(protocol=api_pb2.TCP, container_port=80, host_port=8080, host_ip="127.0.0.1"),
        api_pb2.PortMapping(protocol=api_pb2.UDP, container_port=53),
    ]
    assert sandbox_config.sandbox_ports(sandbox(port_mappings=maps)) == [
        {"hostPort": 8080, "containerPort": 80, "protocol": "TCP", "hostIP": "127.0.0.1"}
    ]


def test_run_as_group_without_a_user_and_a_bad_seccomp_path_are_refused():
    sc = api_pb2.LinuxContainerSecurityContext(run_as_group=api_pb2.Int64Value(value=5))
    with pytest.raises(container_config.ConfigError, match="run_as_group"):
        container_config.security_context(sc)
    with pytest.raises(container_config.ConfigError, match="seccomp_profile_path"):
        container_config.seccomp_profile(
            api_pb2.LinuxContainerSecurityContext(seccomp_profile_path="/tmp/p.json")
        )


def test_devices_and_their_cgroup_rules():
    from minipod.kube import cgroup_values

    dev = api_pb2.Device(host_path="/dev/fuse", container_path="/dev/f", permissions="rw")
    assert container_config.plan_overrides(container(devices=[dev]))["devices"] == [
        {"host_path": "/dev/fuse", "container_path": "/dev/f", "permissions": "rw"}
    ]
    assert cgroup_values.device_rule("c", 10, 229, "rw") == "c 10:229 rw"
    assert cgroup_values.device_rule("b", 8, 0, "") == "b 8:0 rwm"
    with pytest.raises(container_config.ConfigError, match=r"config.devices\[0\]"):
        container_config.plan_overrides(
            container(devices=[api_pb2.Device(host_path="fuse", container_path="/f")])
        )
