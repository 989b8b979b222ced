"""The node's side of the CLI: `get nodes`, `describe node`, `top`, and the
daemon's kubelet-like flags.

Like every command, a thin layer over the API (api/node_routes.py); the
sums in `describe node` are the pure ones of kube/resources.py.
"""

import click

NODE_KINDS = ("nodes", "node", "no")


def node_options(fn):
    """The kubelet's flags for this instance, on `minipod daemon`."""
    options = [
        click.option(
            "--cgroup-parent",
            envvar="MINIPOD_CGROUP_PARENT",
            default="",
            help="Parent cgroup of the pods: relative to the daemon's own cgroup, or absolute "
            "(from each hierarchy's root). Default: the daemon's own cgroup. Kept from the first start.",
        ),
        click.option(
            "--pod-pids-limit",
            type=int,
            default=None,
            help="Most processes per pod (kubelet podPidsLimit; -1: unlimited). Default 1024.",
        ),
        click.option("--max-pods", type=int, default=110, show_default=True, help="The node's pod capacity."),
        click.option("--system-reserved", default="", help="Reserved for the system: cpu=100m,memory=256Mi."),
        click.option("--kube-reserved", default="", help="Reserved for minipod itself, same syntax."),
        click.option(
            "--userns-base",
            type=click.IntRange(1, 2**32 - 2**16),
            default=65536,
            show_default=True,
            help="First host uid/gid of the user namespace ranges (65536 ids each) of hostUsers: false "
            "pods, as the kubelet's. Give each instance on a host its own.",
        ),
        click.option(
            "--userns-ranges",
            type=click.IntRange(1),
            default=1024,
            show_default=True,
            help="How many such ranges (pods with hostUsers: false running at once).",
        ),
        click.option(
            "--node-labels",
            default="",
            help="Labels of the Node, as the kubelet's flag: topology.kubernetes.io/zone=lab-a,disk=ssd.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def resource_config(
    cgroup_parent,
    pod_pids_limit,
    max_pods,
    system_reserved,
    kube_reserved,
    userns_base,
    userns_ranges,
    node_labels="",
):
    from minipod.kube.cgroup_values import DEFAULT_POD_PIDS_LIMIT
    from minipod.pod.node import ResourceConfig, parse_node_labels, parse_reserved

    if pod_pids_limit is None:
        pod_pids_limit = DEFAULT_POD_PIDS_LIMIT
    return ResourceConfig(
        cgroup_parent=cgroup_parent,
        pod_pids_limit=None if pod_pids_limit < 0 else pod_pids_limit,
        max_pods=max_pods,
        system_reserved=parse_reserved("system-reserved", system_reserved),
        kube_reserved=parse_reserved("kube-reserved", kube_reserved),
        userns_base=userns_base,
        userns_ranges=userns_ranges,
        node_labels=parse_node_labels(node_labels),
    )


def get_nodes(c, name: str | None, output: str | None) -> None:
    from minipod.cli import printers  # only when it prints: `daemon` needs none of it

    if name:
        nodes = [c.client.json("GET", f"/api/v1/nodes/{name}")]
    else:
        nodes = c.client.json("GET", "/api/v1/nodes")["items"]
    if output in ("json", "yaml"):
        obj = (
            nodes[0]
            if name
            else {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": nodes}
        )
        click.echo(printers.dump(obj, output), nl=False)
        return
    if output == "name":
        for n in nodes:
            click.echo(f"node/{n['metadata']['name']}")
        return
    head = ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    if output == "wide":
        head += ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"]
    rows = [head]
    for n in nodes:
        info, status = n["status"]["nodeInfo"], n["status"]
        ready = next((x["status"] for x in status["conditions"] if x["type"] == "Ready"), "Unknown")
        row = [
            n["metadata"]["name"],
            "Ready" if ready == "True" else "NotReady",
            "<none>",
            printers.human_age(n["metadata"].get("creationTimestamp")),
            info["kubeletVersion"],
        ]
        if output == "wide":
            ip = next((a["address"] for a in status["addresses"] if a["type"] == "InternalIP"), "<none>")
            row += [ip, "<none>", info["osImage"], info["kernelVersion"], info["containerRuntimeVersion"]]
        rows.append(row)
    printers.table(rows)


def describe_node(c, name: str) -> None:
    from minipod.cli.node_printers import describe_node as render

    node = c.client.json("GET", f"/api/v1/nodes/{name}")
    pods = c.client.json("GET", "/api/v1/pods")["items"]
    click.echo(render(node, pods), nl=False)


@click.group()
def top():
    """Show CPU and memory use of pods or the node (read from the cgroups)."""


@top.command("pod")
@click.argument("name", required=False)
@click.option("--containers", is_flag=True, help="One line per container.")
@click.option("-A", "--all-namespaces", is_flag=True)
@click.option("-n", "--namespace", default="default", show_default=True)
@click.pass_obj
def top_pod(c, name, containers, all_namespaces, namespace):
    """CPU (millicores) and memory (working set) of pods."""
    from minipod.cli import printers  # only when it prints: `daemon` needs none of it

    base = "/apis/metrics.k8s.io/v1beta1"
    if name:
        items = [c.client.json("GET", f"{base}/namespaces/{namespace}/pods/{name}")]
    elif all_namespaces:
        items = c.client.json("GET", f"{base}/pods")["items"]
    else:
        items = c.client.json("GET", f"{base}/namespaces/{namespace}/pods")["items"]
    if not items:
        where = "" if all_namespaces else f" in {namespace} namespace"
        click.echo(f"No resources found{where}.", err=True)
        return
    head = (["POD", "NAME"] if containers else ["NAME"]) + ["CPU(cores)", "MEMORY(bytes)"]
    if all_namespaces:
        head.insert(0, "NAMESPACE")
    rows = [head]
    for pm in items:
        ns = [pm["metadata"]["namespace"]] if all_namespaces else []
        if containers:
            for ctr in pm["containers"]:
                rows.append(ns + [pm["metadata"]["name"], ctr["name"], *_usage(ctr["usage"])])
        else:
            cpu = sum(_nano(ctr["usage"]["cpu"]) for ctr in pm["containers"])
            mem = sum(_kib(ctr["usage"]["memory"]) for ctr in pm["containers"])  # bytes
            rows.append(ns + [pm["metadata"]["name"], f"{cpu // 10**6}m", f"{mem // 2**20}Mi"])
    printers.table(rows)


@top.command("node")
@click.argument("name", required=False)
@click.pass_obj
def top_node(c, name):
    """CPU and memory of the node, and their share of its allocatable."""
    from minipod.cli import printers  # only when it prints: `daemon` needs none of it

    base = "/apis/metrics.k8s.io/v1beta1"
    metrics = (
        c.client.json("GET", f"{base}/nodes/{name}")
        if name
        else c.client.json("GET", f"{base}/nodes")["items"][0]
    )
    node = c.client.json("GET", f"/api/v1/nodes/{metrics['metadata']['name']}")
    from minipod.kube.quantity import milli, value

    alloc = node["status"]["allocatable"]
    cpu = _nano(metrics["usage"]["cpu"]) // 10**6
    mem = _kib(metrics["usage"]["memory"])
    rows = [
        ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"],
        [
            metrics["metadata"]["name"],
            f"{cpu}m",
            f"{cpu * 100 // max(milli(alloc['cpu']), 1)}%",
            f"{mem // 2**20}Mi",
            f"{mem * 100 // max(value(alloc['memory']), 1)}%",
        ],
    ]
    printers.table(rows)


def _nano(text: str) -> int:
    return int(text[:-1]) if text.endswith("n") else int(float(text) * 10**9)


def _kib(text: str) -> int:
    return int(text[:-2]) * 1024 if text.endswith("Ki") else int(text)


def _usage(usage: dict) -> list[str]:
    return [f"{_nano(usage['cpu']) // 10**6}m", f"{_kib(usage['memory']) // 2**20}Mi"]
