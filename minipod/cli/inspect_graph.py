"""The anatomy of a pod as a picture: `minipod inspect POD -o dot|svg|png`.

A pure function turns what `minipod inspect` read live from /proc into a
graph; a second one writes that graph in Graphviz's DOT language. Nothing
here touches the system, so both are unit-tested on plain data.

How the picture is laid out:
    1. the host is the outer box; each pod is a box inside it;
    2. inside a pod, the namespaces are nested boxes, in the order
       net > uts > ipc > pid > mnt. The pod init and every running
       container are grouped by the inode of each namespace in turn, so
       processes that share a namespace sit in one box, and a box appears
       exactly where the kernel has a namespace: `shareProcessNamespace:
       false` splits the pid box, `hostNetwork: true` makes the net box the
       host's (dashed);
    3. volumes are folders in the pod's box, with an edge to every
       container that mounts one (labelled with the mount path);
    4. outside the pod, on the host: each container's monitor (its parent,
       an edge to the process), the host end of the veth pair and the
       bridge (the pod end, eth0, sits in the net box), and the cgroup tree
       below kubepods when the pod's processes are in one;
    5. terminated containers (init containers done) are grey, in the pod box.
`minipod inspect --all -o dot` draws every pod in one host box, sharing the
bridge and the cgroup tree.
"""

from dataclasses import dataclass, field

NS_ORDER = ("net", "uts", "ipc", "pid", "mnt")
NS_FILL = {"net": "#e8f0ff", "uts": "#e8f8e8", "ipc": "#fff4e0", "pid": "#f4e8ff", "mnt": "#ffffff"}
NS_MEANS = {
    "net": "IP address, ports, routes",
    "uts": "hostname",
    "ipc": "shared memory",
    "pid": "process tree",
    "mnt": "filesystems",
}


@dataclass
class Node:
    id: str
    label: str
    shape: str = "box"
    style: str = "rounded"


@dataclass
class Cluster:
    id: str
    label: str
    style: str = "solid"
    fill: str = "white"
    nodes: list[Node] = field(default_factory=list)
    clusters: list["Cluster"] = field(default_factory=list)

    def walk(self):
        """This cluster and every cluster inside it."""
        yield self
        for c in self.clusters:
            yield from c.walk()


@dataclass
class Edge:
    tail: str
    head: str
    label: str = ""
    style: str = "solid"
    arrow: bool = True


@dataclass
class Graph:
    host: Cluster
    edges: list[Edge] = field(default_factory=list)

    def node_ids(self) -> set[str]:
        return {n.id for c in self.host.walk() for n in c.nodes}

    def cluster(self, cluster_id: str) -> Cluster | None:
        return next((c for c in self.host.walk() if c.id == cluster_id), None)


@dataclass
class _Member:
    """A process of the pod: the pod init or a running container."""

    key: str
    namespaces: dict
    node: Node
    whose_mnt: str  # how to label its mnt box


# --- building the graph (pure) --------------------------------------------------------


def pod_graph(data: dict) -> Graph:
    """The graph of one pod, from `minipod inspect POD -o json`."""
    return node_graph([data])


def node_graph(pods: list[dict]) -> Graph:
    """The graph of the host and every pod on it."""
    host = Cluster("host", "host (the node): minipod daemon, monitors, bridge, cgroups", "bold")
    graph = Graph(host)
    for data in pods:
        _add_pod(graph, data)
    return graph


def _add_pod(graph: Graph, data: dict) -> None:
    """Steps 2-5 of the module docstring, for one pod."""
    p = "pod/" + data["namespace"] + "/" + data["name"] + "/"
    pod_box = Cluster(p, f"Pod {data['namespace']}/{data['name']}", "bold,rounded")
    graph.host.clusters.append(pod_box)
    init = data.get("podInit") or {}
    pod_ns = init.get("namespaces") or {}
    members = _add_processes(graph, pod_box, p, data)
    pod_box.clusters += _group(members, NS_ORDER, p + "ns", data.get("hostNamespaceInodes") or {}, pod_ns)
    _add_volumes(graph, pod_box, p, data)
    _add_network(graph, pod_box, p, data.get("network") or {})


def _add_processes(graph: Graph, pod_box: Cluster, p: str, data: dict) -> list[_Member]:
    """The pod init and the running containers, to be placed in namespace
    boxes; the containers that do not run are drawn in the pod's box."""
    members = []
    init = data.get("podInit") or {}
    if init.get("alive"):
        label = f"pod init (minipod-shim init)\nhost pid {init['pid']}, pid {init.get('nsPid')} in the pod"
        members.append(_Member("init", init.get("namespaces") or {}, Node(p + "init", label), "the pod's"))
    for c in data["containers"]:
        proc = c.get("process") or {}
        if c["state"] == "running" and proc.get("alive"):
            kind = "sidecar" if c["init"] else "container"
            label = (
                f"{kind} {c['name']}\n{_short(' '.join(proc.get('command') or []))}\n"
                f"host pid {proc['pid']}, pid {proc.get('nsPid')} in its pid ns\n"
                f"capabilities {proc.get('capabilities', {}).get('CapEff')}"
            )
            node = Node(p + "c/" + c["name"], label, style="rounded,filled")
            members.append(_Member(c["name"], proc.get("namespaces") or {}, node, "its own"))
            _add_host_side(graph, p, c, node)
        else:
            kind = "init container" if c["init"] else "container"
            label = f"{kind} {c['name']}\n{c['state']}"
            pod_box.nodes.append(Node(p + "c/" + c["name"], label, style="rounded,dashed"))
    return members


def _add_volumes(graph: Graph, pod_box: Cluster, p: str, data: dict) -> None:
    """A folder per volume, an edge to each running container that mounts it."""
    for v in data.get("volumes") or []:
        what = f"{v['type']} ({v['medium'] or 'disk'})" if v["type"] == "emptyDir" else v["type"]
        label = f"volume {v['name']}\n{what}\n{_tail(v.get('hostPath'))}"
        pod_box.nodes.append(Node(p + "vol/" + v["name"], label, "folder", ""))
    for c in data["containers"]:
        if c["state"] != "running":
            continue
        for m in c.get("volumeMounts") or []:
            label = m["mountPath"] + (" (ro)" if m.get("readOnly") else "")
            graph.edges.append(Edge(p + "vol/" + m["name"], p + "c/" + c["name"], label, "dashed"))


def _add_network(graph: Graph, pod_box: Cluster, p: str, net: dict) -> None:
    """eth0 in the pod's net box; the veth's host end and the bridge on the host."""
    if not net.get("vethPod"):
        return  # hostNetwork, or no network yet
    net_box = next((b for b in pod_box.clusters if b.id.startswith(p + "ns/net")), pod_box)
    pod_end = Node(p + "eth0", f"{net['vethPod']}\n{', '.join(net.get('ips') or [])}", "ellipse", "")
    net_box.nodes.append(pod_end)
    host_end = Node(p + "veth", f"{net.get('vethHost')}\n(host end of the veth pair)", "ellipse", "")
    graph.host.nodes.append(host_end)
    bridge_id = "bridge/" + str(net.get("bridge"))
    if bridge_id not in graph.node_ids():  # one bridge for every pod of the instance
        gw = f"\ngateway {net['gateway']}" if net.get("gateway") else ""
        graph.host.nodes.append(Node(bridge_id, f"bridge {net.get('bridge')}{gw}", "box3d", ""))
    graph.edges.append(Edge(pod_end.id, host_end.id, "veth pair", arrow=False))
    graph.edges.append(Edge(host_end.id, bridge_id, "bridge port", arrow=False))


def _add_host_side(graph: Graph, p: str, c: dict, node: Node) -> None:
    """The container's monitor and cgroup, both on the host side."""
    mon = c.get("monitor") or {}
    if mon.get("alive"):
        mon_node = Node(p + "mon/" + c["name"], f"monitor of {c['name']}\nhost pid {mon['pid']}", "box", "")
        graph.host.nodes.append(mon_node)
        graph.edges.append(Edge(mon_node.id, node.id, "parent (waits for it)"))
    path = _kube_cgroup((c.get("process") or {}).get("cgroups") or {})
    if path:
        parts = path.strip("/").split("/")
        ids = ["cgroup/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
        known = graph.node_ids()
        for i, (cg_id, part) in enumerate(zip(ids, parts, strict=True)):
            if cg_id not in known:
                graph.host.nodes.append(Node(cg_id, f"cgroup {part}", "note", ""))
                if i:
                    graph.edges.append(Edge(ids[i - 1], cg_id))
        graph.edges.append(Edge(node.id, ids[-1], "in cgroup", "dotted"))


def _kube_cgroup(cgroups: dict) -> str | None:
    """The process's cgroup from kubepods down, if minipod put it in one: the
    unified (v2) path, else the memory controller's (v1)."""
    for key in ("unified", "memory"):
        path = cgroups.get(key) or ""
        if "/kubepods" in path:
            return path[path.index("/kubepods") :]
    return None


def _group(members: list[_Member], levels: tuple, prefix: str, host_ns: dict, pod_ns: dict) -> list[Cluster]:
    """Nested namespace boxes: group by the first level's inode, recurse."""
    if not levels:
        return []
    t, out = levels[0], []
    by_inode: dict[int | None, list[_Member]] = {}  # None: the namespace was not readable
    for m in members:
        by_inode.setdefault(m.namespaces.get(t), []).append(m)
    for ino, group in by_inode.items():
        if ino is not None and host_ns.get(t) == ino:
            whose, style = "the host's", "dashed"
        elif t == "mnt" and len(group) == 1:
            whose, style = group[0].whose_mnt, "solid"
        else:
            whose, style = ("the pod's" if pod_ns.get(t) == ino else "its own"), "solid"
        fill = "#eeeeee" if whose == "the host's" else NS_FILL[t]
        box = Cluster(f"{prefix}/{t}{ino}", f"{t} namespace {ino} ({whose}): {NS_MEANS[t]}", style, fill)
        if len(levels) == 1:
            box.nodes += [m.node for m in group]
        box.clusters = _group(group, levels[1:], box.id, host_ns, pod_ns)
        out.append(box)
    return out


def _tail(path: str | None, parts: int = 3) -> str:
    """The last few components of a host path: enough to find it, short enough to draw."""
    if not path:
        return ""
    tail = "/".join(path.rstrip("/").split("/")[-parts:])
    return tail if len(tail) + 1 >= len(path) else ".../" + tail


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


# --- writing DOT (pure) ---------------------------------------------------------------


def to_dot(graph: Graph, title: str = "minipod") -> str:
    lines = [
        f"digraph {_q(title)} {{",
        "  rankdir=LR; compound=true; fontname=Helvetica; fontsize=11;",
        "  node [fontname=Helvetica, fontsize=10, shape=box];",
        "  edge [fontname=Helvetica, fontsize=9];",
    ]
    _cluster_dot(graph.host, lines, "  ")
    for e in graph.edges:
        attrs = f"label={_q(e.label)}, style={e.style}" + ("" if e.arrow else ", dir=none")
        lines.append(f"  {_q(e.tail)} -> {_q(e.head)} [{attrs}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _cluster_dot(c: Cluster, lines: list[str], indent: str) -> None:
    lines.append(f"{indent}subgraph {_q('cluster_' + c.id)} {{")
    lines.append(f"{indent}  label={_q(c.label)}; style={_q(c.style + ',filled')}; fillcolor={_q(c.fill)};")
    for n in c.nodes:
        style = f", style={_q(n.style)}" if n.style else ""
        fill = ", fillcolor=lightyellow" if "filled" in n.style else ""
        lines.append(f"{indent}  {_q(n.id)} [label={_q(n.label)}, shape={n.shape}{style}{fill}];")
    for sub in c.clusters:
        _cluster_dot(sub, lines, indent + "  ")
    lines.append(f"{indent}}}")


def _q(text: str) -> str:
    """A DOT string: quotes and backslashes escaped, newlines as \\n."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# --- rendering (the one function that runs something) ----------------------------------


def render(dot: str, fmt: str) -> bytes:
    """DOT text as an svg or png image, by Graphviz's `dot` command."""
    import shutil
    import subprocess

    from minipod.errors import MinipodError

    exe = shutil.which("dot")
    if not exe:
        raise MinipodError(
            f"-o {fmt}: Graphviz's `dot` command is not installed",
            hint="install the graphviz package, or use -o dot and render the text elsewhere",
        )
    p = subprocess.run([exe, "-T" + fmt], input=dot.encode(), capture_output=True)
    if p.returncode != 0:
        raise MinipodError(
            f"-o {fmt}: dot exited {p.returncode}: {p.stderr.decode(errors='replace').strip()}"
        )
    return p.stdout
