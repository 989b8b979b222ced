"""Requests and limits: what a container and a pod ask for, as Kubernetes counts it.

Amounts are ints in one unit per resource: millicores for `cpu`, bytes for
`memory` and `ephemeral-storage`, a count for anything else (extended
resources, `pods`). A ResourceList is a dict name -> amount.

    container_resources()  a container's requests and limits, with the API
                           server's defaulting (a limit without a request
                           makes the request equal to the limit)
    pod_requests()         the pod's effective requests, the scheduler's
    pod_limits()           and the kubelet's rule for init containers and
                           sidecars (component-helpers resource.PodRequests)
    qos_class()            Guaranteed, Burstable or BestEffort (qos.GetPodQOS)

Pure functions over the v1 Pod spec; standard library only.
"""

from dataclasses import dataclass, field
from typing import Any

from minipod.kube import quantity

ResourceList = dict[str, int]

# The resources the QoS class looks at (qos.supportedQoSComputeResources).
QOS_RESOURCES = ("cpu", "memory")


def amount(name: str, text: Any) -> int:
    """One quantity in minipod's unit for that resource."""
    return quantity.milli(text) if name == "cpu" else quantity.value(text)


@dataclass(frozen=True)
class ContainerResources:
    requests: ResourceList = field(default_factory=dict)
    limits: ResourceList = field(default_factory=dict)


def container_resources(container: dict[str, Any]) -> ContainerResources:
    """requests and limits of one container spec. As the API server
    defaults them: each limit without a request is also the request."""
    res = container.get("resources") or {}
    limits = {k: amount(k, v) for k, v in (res.get("limits") or {}).items()}
    requests = {k: amount(k, v) for k, v in (res.get("requests") or {}).items()}
    for k, v in limits.items():
        requests.setdefault(k, v)
    return ContainerResources(requests, limits)


def is_sidecar(container: dict[str, Any]) -> bool:
    return container.get("restartPolicy") == "Always"


def _add(into: ResourceList, more: ResourceList) -> None:
    for k, v in more.items():
        into[k] = into.get(k, 0) + v


def _max(into: ResourceList, other: ResourceList) -> None:
    for k, v in other.items():
        if v > into.get(k, 0):
            into[k] = v


def _pod_total(spec: dict[str, Any], which: str) -> ResourceList:
    """The rule of resource.PodRequests / PodLimits, per resource:
    app containers run together, so they add up; init containers run one
    at a time, each beside the sidecars started before it; sidecars keep
    running beside the app containers. The pod needs the larger of the
    two phases, plus spec.overhead."""
    total: ResourceList = {}
    for c in spec.get("containers") or []:
        _add(total, getattr(container_resources(c), which))
    sidecars: ResourceList = {}
    init_peak: ResourceList = {}
    for c in spec.get("initContainers") or []:
        own = dict(getattr(container_resources(c), which))
        if is_sidecar(c):
            _add(total, own)
            _add(sidecars, own)
            during = dict(sidecars)
        else:
            during = dict(own)
            _add(during, sidecars)
        _max(init_peak, during)
    _max(total, init_peak)
    overhead = {k: amount(k, v) for k, v in (spec.get("overhead") or {}).items()}
    _add(total, overhead)
    return total


def pod_requests(spec: dict[str, Any]) -> ResourceList:
    return _pod_total(spec, "requests")


def pod_limits(spec: dict[str, Any]) -> ResourceList:
    return _pod_total(spec, "limits")


def all_limited(spec: dict[str, Any], name: str) -> bool:
    """Does every container (init ones too) set a limit for `name`? Only
    then does the kubelet put that limit on the pod's cgroup."""
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    return all(name in container_resources(c).limits for c in containers)


def empty_dir_size_limit(volume: dict[str, Any]) -> int | None:
    """emptyDir.sizeLimit in bytes, or None."""
    limit = (volume.get("emptyDir") or {}).get("sizeLimit")
    return quantity.value(limit) if limit not in (None, "") else None


GUARANTEED, BURSTABLE, BEST_EFFORT = "Guaranteed", "Burstable", "BestEffort"


def qos_class(spec: dict[str, Any]) -> str:
    """qos.GetPodQOS: BestEffort when no container asks for cpu or memory;
    Guaranteed when every container limits both and the pod's summed
    requests equal its summed limits; Burstable otherwise."""
    requests: ResourceList = {}
    limits: ResourceList = {}
    guaranteed = True
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        res = container_resources(c)
        for k in QOS_RESOURCES:
            if res.requests.get(k, 0) > 0:
                requests[k] = requests.get(k, 0) + res.requests[k]
        found = set()
        for k in QOS_RESOURCES:
            if res.limits.get(k, 0) > 0:
                found.add(k)
                limits[k] = limits.get(k, 0) + res.limits[k]
        if found != set(QOS_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return BEST_EFFORT
    if guaranteed and all(limits.get(k) == v for k, v in requests.items()) and len(requests) == len(limits):
        return GUARANTEED
    return BURSTABLE
