"""The pod's picture (minipod.cli.inspect_graph) built from inspect data: no root.

The data below has the shape `minipod inspect POD -o json` returns, with
made-up inodes and pids: the pod init and each container list the inode of
each namespace they are in, exactly as read from /proc/PID/ns.
"""

import re

from minipod.cli.inspect_graph import node_graph, pod_graph, to_dot

HOST = {"net": 1000, "uts": 1001, "ipc": 1002, "pid": 1003, "mnt": 1004}
POD = {"net": 2000, "uts": 2001, "ipc": 2002, "pid": 2003, "mnt": 2004}


def proc(pid: int, ns: dict, command: str, cgroup: str = "/") -> dict:
    return {
        "pid": pid,
        "alive": True,
        "nsPid": "2",
        "command": command.split(),
        "namespaces": ns,
        "capabilities": {"CapEff": "00000000a80425fb"},
        "cgroups": {"unified": cgroup, "memory": cgroup},
    }


def container(name: str, pid: int, ns: dict, mounts=(), init=False, cgroup="/") -> dict:
    return {
        "name": name,
        "init": init,
        "state": "running",
        "restartCount": 0,
        "process": proc(pid, ns, "sleep 3600", cgroup),
        "monitor": {"pid": pid - 1, "alive": True},
        "volumeMounts": [{"name": v, "mountPath": path, "readOnly": ro} for v, path, ro in mounts],
    }


def pod_data(name: str, init_ns: dict, containers: list, volumes=(), network=True) -> dict:
    data = {
        "name": name,
        "namespace": "default",
        "uid": "u-" + name,
        "podInit": {"pid": 100, "alive": True, "nsPid": "1", "namespaces": init_ns},
        "hostNamespaceInodes": HOST,
        "volumes": [
            {"name": v, "type": "emptyDir", "medium": "", "hostPath": f"/var/lib/minipod/volumes/u/{v}"}
            for v in volumes
        ],
        "containers": containers,
    }
    if network:
        data["network"] = {
            "bridge": "minipod0",
            "vethHost": "veth" + name,
            "vethPod": "eth0",
            "ips": ["10.85.0.7/16"],
            "gateway": "10.85.0.1",
        }
    return data


def own_mnt(ns: dict, mnt: int) -> dict:
    return dict(ns, mnt=mnt)


def two_containers_shared_emptydir() -> dict:
    return pod_data(
        "web",
        POD,
        [
            container("server", 201, own_mnt(POD, 3001), [("html", "/www", True)]),
            container("writer", 301, own_mnt(POD, 3002), [("html", "/out", False)]),
        ],
        volumes=["html"],
    )


def clusters(graph) -> dict[str, object]:
    return {c.id: c for c in graph.host.walk()}


def ns_boxes(graph, nstype: str) -> list:
    return [c for c in graph.host.walk() if re.search(rf"/{nstype}\d+$", c.id)]


def edges(graph) -> set[tuple[str, str, str]]:
    return {(e.tail, e.head, e.label) for e in graph.edges}


def inside(graph, cluster, node_id: str) -> bool:
    return any(n.id == node_id for c in cluster.walk() for n in c.nodes)


def test_two_containers_share_every_pod_namespace_and_the_emptydir():
    g = pod_graph(two_containers_shared_emptydir())
    p = "pod/default/web/"
    # One box per shared namespace, holding the pod init and both containers.
    for t in ("net", "uts", "ipc", "pid"):
        (box,) = ns_boxes(g, t)
        assert str(POD[t]) in box.label and "(the pod's)" in box.label
        for node in ("init", "c/server", "c/writer"):
            assert inside(g, box, p + node), (t, node)
    # A mount namespace each: the pod's (its init) and one per container.
    mnt = ns_boxes(g, "mnt")
    assert sorted(b.id.rsplit("mnt", 1)[1] for b in mnt) == ["2004", "3001", "3002"]
    assert all(len([n for c in b.walk() for n in c.nodes]) == 1 for b in mnt)
    # The volume is one node, with an edge to each container that mounts it.
    assert p + "vol/html" in g.node_ids()
    assert (p + "vol/html", p + "c/server", "/www (ro)") in edges(g)
    assert (p + "vol/html", p + "c/writer", "/out") in edges(g)
    # Network: eth0 in the pod's net box, the veth's host end and the bridge outside the pod.
    (net,) = ns_boxes(g, "net")
    assert any(n.id == p + "eth0" and "10.85.0.7/16" in n.label for n in net.nodes)
    host_nodes = {n.id for n in g.host.nodes}
    assert {p + "veth", "bridge/minipod0", p + "mon/server", p + "mon/writer"} <= host_nodes
    assert (p + "eth0", p + "veth", "veth pair") in edges(g)
    assert (p + "veth", "bridge/minipod0", "bridge port") in edges(g)
    # The monitor is outside the pod, the parent of its container.
    assert (p + "mon/server", p + "c/server", "parent (waits for it)") in edges(g)
    assert not inside(g, clusters(g)[p], p + "mon/server")


def test_host_network_pod_draws_the_hosts_net_namespace_and_no_veth():
    ns = dict(POD, net=HOST["net"])
    g = pod_graph(pod_data("hostnet", ns, [container("main", 201, own_mnt(ns, 3001))], network=False))
    (net,) = ns_boxes(g, "net")
    assert str(HOST["net"]) in net.label and "the host's" in net.label and net.style == "dashed"
    assert not any("veth" in i or i.startswith("bridge/") for i in g.node_ids())
    # uts is still the pod's own: hostNetwork shares only the network.
    (uts,) = ns_boxes(g, "uts")
    assert "(the pod's)" in uts.label


def test_share_process_namespace_false_splits_the_pid_box():
    a, b = dict(POD, pid=4001, mnt=3001), dict(POD, pid=4002, mnt=3002)
    g = pod_graph(pod_data("split", POD, [container("a", 201, a), container("b", 301, b)]))
    pid_boxes = ns_boxes(g, "pid")
    assert len(pid_boxes) == 3  # the pod init's, a's, b's
    owners = {b.id.rsplit("pid", 1)[1]: [n.id for c in b.walk() for n in c.nodes] for b in pid_boxes}
    assert owners["4001"] == ["pod/default/split/c/a"]
    assert owners["4002"] == ["pod/default/split/c/b"]
    assert owners[str(POD["pid"])] == ["pod/default/split/init"]
    # ... while net, uts and ipc stay one box each.
    assert [len(ns_boxes(g, t)) for t in ("net", "uts", "ipc")] == [1, 1, 1]


def test_the_three_pods_differ_exactly_where_their_namespaces_do():
    shared = pod_graph(two_containers_shared_emptydir())
    ns = dict(POD, net=HOST["net"])
    hostnet = pod_graph(
        pod_data("web", ns, [container("server", 201, own_mnt(ns, 3001))], volumes=[], network=False)
    )
    assert len(ns_boxes(shared, "pid")) == 1
    assert ns_boxes(shared, "net")[0].style == "solid" and ns_boxes(hostnet, "net")[0].style == "dashed"


def test_cgroup_tree_is_drawn_once_the_processes_are_in_kubepods():
    cg = "/minipod/kubepods/burstable/podu-web/abc123"
    data = pod_data("web", POD, [container("server", 201, own_mnt(POD, 3001), cgroup=cg)])
    g = pod_graph(data)
    ids = g.node_ids()
    assert {"cgroup/kubepods", "cgroup/kubepods/burstable", "cgroup/kubepods/burstable/podu-web"} <= ids
    assert ("pod/default/web/c/server", "cgroup/kubepods/burstable/podu-web/abc123", "in cgroup") in edges(g)
    # Not in one (the host's root cgroup): no tree at all.
    assert not any(i.startswith("cgroup/") for i in pod_graph(two_containers_shared_emptydir()).node_ids())


def test_all_pods_share_one_bridge_and_terminated_containers_are_grey():
    done = {"name": "prepare", "init": True, "state": "terminated", "restartCount": 0}
    a = two_containers_shared_emptydir()
    a["containers"].insert(0, done)
    b = pod_data("other", dict(POD, net=2100), [container("main", 401, dict(POD, net=2100, mnt=3003))])
    g = node_graph([a, b])
    assert [n.id for n in g.host.nodes].count("bridge/minipod0") == 1
    assert {"pod/default/web/", "pod/default/other/"} <= set(clusters(g))
    (node,) = [n for n in clusters(g)["pod/default/web/"].nodes if n.id.endswith("c/prepare")]
    assert "terminated" in node.label and "dashed" in node.style


def test_dot_text_is_well_formed_and_escaped():
    data = two_containers_shared_emptydir()
    data["containers"][0]["process"]["command"] = ["sh", "-c", 'echo "hi" \\ there']
    dot = to_dot(pod_graph(data))
    assert dot.startswith('digraph "minipod" {') and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    assert '\\"hi\\" \\\\ there' in dot
    assert '"pod/default/web/vol/html" -> "pod/default/web/c/server" [label="/www (ro)"' in dot
    assert 'subgraph "cluster_host"' in dot
