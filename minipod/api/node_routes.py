"""The Node and its metrics over HTTP: /api/v1/nodes and metrics.k8s.io.

    GET /api/v1/nodes[/{name}]                                 v1 Node(List)
    GET /apis/metrics.k8s.io/v1beta1/nodes[/{name}]            NodeMetrics
    GET /apis/metrics.k8s.io/v1beta1/pods                      PodMetrics, all namespaces
    GET /apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods[/{name}]
                                                    (?labelSelector= as kubectl top -l)

The shapes are the API server's and metrics-server's (cpu in nanocores
"n", memory in "Ki"), so `kubectl top` logic applies unchanged.
"""

import os
import time

from aiohttp import web

from minipod.errors import NotFound
from minipod.objects.nodes import user_part, with_user_part
from minipod.objects.resources import builtin
from minipod.objects.selectors import label_selector
from minipod.pod import node as node_mod
from minipod.pod.usage import NodeUsage, PodUsage, UsageReader

METRICS = "/apis/metrics.k8s.io/v1beta1"


def add_routes(app: web.Application) -> None:
    app.add_routes([web.get("/api/v1/nodes", list_nodes), web.get("/api/v1/nodes/{name}", get_node)])
    add_metrics_routes(app)


def add_metrics_routes(app: web.Application) -> None:
    """metrics.k8s.io, here and on the Kubernetes API (kubeapi/server.py)."""
    app["usage"] = UsageReader(app["manager"].cgroups)
    app.add_routes(
        [
            web.get(METRICS + "/nodes", node_metrics),
            web.get(METRICS + "/nodes/{name}", node_metrics),
            web.get(METRICS + "/pods", pod_metrics),
            web.get(METRICS + "/namespaces/{ns}/pods", pod_metrics),
            web.get(METRICS + "/namespaces/{ns}/pods/{name}", pod_metrics),
        ]
    )


def _rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def the_node(request) -> dict:
    """The kubelet's view of the node, with what users set on the Node
    object (labels, annotations, taints, cordon: objects/nodes.py)."""
    manager = request.app["manager"]
    created = os.stat(manager.cgroups_state).st_mtime
    node = node_mod.node_object(manager.node_facts, _rfc3339(created))
    cluster = request.app.get("cluster")
    if cluster is not None:
        stored = cluster.store.get(builtin("", "v1", "nodes"), None, node["metadata"]["name"])
        node = with_user_part(node, user_part(stored))
    return node


def _check_name(request) -> None:
    name = request.match_info.get("name")
    if name is not None and name != request.app["manager"].node_facts.name:
        raise NotFound(f'nodes "{name}" not found')


async def list_nodes(request):
    return web.json_response(
        {"kind": "NodeList", "apiVersion": "v1", "metadata": {}, "items": [the_node(request)]}
    )


async def get_node(request):
    _check_name(request)
    return web.json_response(the_node(request))


def node_metrics_object(name: str, usage: NodeUsage) -> dict:
    return {
        "kind": "NodeMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {"name": name, "creationTimestamp": _rfc3339(time.time())},
        "timestamp": _rfc3339(usage.timestamp),
        "window": f"{usage.window:.3f}s",
        "usage": {"cpu": f"{usage.cpu_millicores * 10**6}n", "memory": f"{usage.memory_bytes // 1024}Ki"},
    }


def pod_metrics_object(usage: PodUsage) -> dict:
    return {
        "kind": "PodMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": usage.name,
            "namespace": usage.namespace,
            "creationTimestamp": _rfc3339(time.time()),
        },
        "timestamp": _rfc3339(usage.timestamp),
        "window": f"{usage.window:.3f}s",
        "containers": [
            {
                "name": c.name,
                "usage": {"cpu": f"{c.cpu_millicores * 10**6}n", "memory": f"{c.memory_bytes // 1024}Ki"},
            }
            for c in usage.containers
        ],
    }


async def node_metrics(request):
    _check_name(request)
    name = request.app["manager"].node_facts.name
    usage = await request.app["usage"].node()
    item = node_metrics_object(name, usage)
    if "name" in request.match_info:
        return web.json_response(item)
    return web.json_response(
        {"kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": [item]}
    )


async def pod_metrics(request):
    manager = request.app["manager"]
    ns, name = request.match_info.get("ns"), request.match_info.get("name")
    if name is not None:
        records = [manager.worker(ns, name).record]
    else:
        match = label_selector(request.query.get("labelSelector"))
        records = [
            w.record
            for (wns, _), w in sorted(manager.workers.items())
            if (ns is None or wns == ns) and match(w.record.metadata.get("labels") or {})
        ]
    usages = await request.app["usage"].pods(records)
    items = [pod_metrics_object(u) for u in usages]
    if name is not None:
        if not items:
            raise NotFound(f'podmetrics.metrics.k8s.io "{ns}/{name}" not found')
        return web.json_response(items[0])
    return web.json_response(
        {"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}
    )
