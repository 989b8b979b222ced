"""A CRI PodSandboxConfig as the v1 Pod the runtime layer runs: pure.

The runtime layer runs v1 pods; a sandbox is one with no containers yet
(they come one by one: container_config.py). sandbox_pod() builds it:
    1. metadata: the sandbox ID as its name and uid (two attempts of one
       kubelet pod are two sandboxes), the CRI namespace, the kubelet's
       labels and annotations as they came;
    2. namespaces: network/pid/ipc NODE -> hostNetwork/hostPID/hostIPC;
       pid POD -> shareProcessNamespace (CONTAINER: each its own);
    3. the hostname, DNS (servers, searches, options: dnsPolicy None; none
       given: the host's resolv.conf, dnsPolicy Default), sysctls and the
       pod's security context (user, group, supplemental groups);
    4. restartPolicy Never and no probes: the kubelet decides restarts.
origin_data() keeps what only the CRI reads back: the kubelet's metadata,
log directory, cgroup parent, port mappings and runtime handler.
"""

from typing import Any

import minipod.cri.api_pb2 as api_pb2  # generated at build time (setup.py)

POD, CONTAINER, NODE, TARGET = 0, 1, 2, 3  # runtime.v1 NamespaceMode


class ConfigError(ValueError):
    """A config the runtime cannot run: INVALID_ARGUMENT, naming the field."""


def sandbox_pod(config: Any, sandbox_id: str) -> dict[str, Any]:
    """Steps 1-4."""
    md = config.metadata
    if not md.name or not md.namespace:
        raise ConfigError("config.metadata: name and namespace are required")
    linux = config.linux
    sc = linux.security_context
    ns = sc.namespace_options
    spec: dict[str, Any] = {"containers": [], "restartPolicy": "Never", "terminationGracePeriodSeconds": 0}
    if ns.network == NODE:
        spec["hostNetwork"] = True
    if ns.pid == NODE:
        spec["hostPID"] = True
    elif ns.pid == POD:
        spec["shareProcessNamespace"] = True
    if ns.ipc == NODE:
        spec["hostIPC"] = True
    if config.hostname:
        spec["hostname"] = config.hostname
    elif not spec.get("hostNetwork"):
        spec["hostname"] = md.name[:63]
    dns = config.dns_config
    if dns.servers or dns.searches or dns.options:
        spec["dnsPolicy"] = "None"
        spec["dnsConfig"] = {
            "nameservers": list(dns.servers),
            "searches": list(dns.searches),
            "options": [_dns_option(o) for o in dns.options],
        }
    else:
        spec["dnsPolicy"] = "Default"
    psc: dict[str, Any] = {}
    if sc.HasField("run_as_user"):
        psc["runAsUser"] = sc.run_as_user.value
    if sc.HasField("run_as_group"):
        psc["runAsGroup"] = sc.run_as_group.value
    if sc.supplemental_groups:
        psc["supplementalGroups"] = list(sc.supplemental_groups)
    if linux.sysctls:
        psc["sysctls"] = [{"name": k, "value": v} for k, v in sorted(linux.sysctls.items())]
    if psc:
        spec["securityContext"] = psc
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": sandbox_id,
            "namespace": md.namespace,
            "uid": sandbox_id,
            "labels": dict(config.labels),
            "annotations": dict(config.annotations),
        },
        "spec": spec,
    }


def sandbox_ports(config: Any) -> list[dict[str, Any]]:
    """The port mappings with a host port, as containers' ports say them
    (containerd skips a mapping without one)."""
    out = []
    for p in config.port_mappings:
        if p.host_port <= 0:
            continue
        m: dict[str, Any] = {
            "hostPort": p.host_port,
            "containerPort": p.container_port,
            "protocol": api_pb2.Protocol.Name(p.protocol),
        }
        if p.host_ip:
            m["hostIP"] = p.host_ip
        out.append(m)
    return out


def _dns_option(option: str) -> dict[str, str]:
    """resolv.conf's "ndots:5" as v1's {name: ndots, value: "5"}."""
    name, sep, value = option.partition(":")
    return {"name": name, "value": value} if sep else {"name": name}


def origin_data(config: Any, runtime_handler: str) -> dict[str, Any]:
    md = config.metadata
    return {
        "metadata": {"name": md.name, "uid": md.uid, "namespace": md.namespace, "attempt": md.attempt},
        "log_directory": config.log_directory,
        "cgroup_parent": config.linux.cgroup_parent,
        "runtime_handler": runtime_handler,
        "port_mappings": [
            {
                "protocol": api_pb2.Protocol.Name(p.protocol),
                "container_port": p.container_port,
                "host_port": p.host_port,
                "host_ip": p.host_ip,
            }
            for p in config.port_mappings
        ],
        "namespace_options": {
            "network": config.linux.security_context.namespace_options.network,
            "pid": config.linux.security_context.namespace_options.pid,
            "ipc": config.linux.security_context.namespace_options.ipc,
        },
    }


def reserved_name(md: Any) -> str:
    """containerd's sandbox name: one live sandbox per (name, namespace,
    uid, attempt)."""
    return f"{md.name}_{md.namespace}_{md.uid}_{md.attempt}"
