"""`minipod describe node`, laid out as kubectl's describe prints a Node.

Steps of describe_node():
    1. the Node's own facts: name, labels, conditions, addresses,
       capacity, allocatable, system info;
    2. the non-terminated pods on it (phase not Succeeded or Failed, and
       scheduled), each with its requests and limits (kube/resources.py:
       init containers and sidecars counted as Kubernetes counts them)
       and their share of the node's allocatable;
    3. "Allocated resources": the sums, as percentages truncated the way
       kubectl truncates them.
"""

from minipod.cli.printers import human_age
from minipod.kube import quantity, resources

TABLE_RESOURCES = ("cpu", "memory", "ephemeral-storage", "hugepages-1Gi", "hugepages-2Mi")


def _aligned(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _amount(name: str, text: str) -> int:
    return resources.amount(name, text)


def _share(name: str, value: int, allocatable: dict) -> str:
    total = _amount(name, allocatable.get(name, "0"))
    percent = int(value / total * 100) if total else 0
    return f"{quantity.format_quantity(name, value)} ({percent}%)"


def on_node(pod: dict) -> bool:
    status = pod.get("status", {})
    scheduled = any(
        c["type"] == "PodScheduled" and c["status"] == "True" for c in status.get("conditions", [])
    )
    return scheduled and status.get("phase") not in ("Succeeded", "Failed")


def describe_node(node: dict, pods: list[dict]) -> str:
    meta, status = node["metadata"], node["status"]
    info, alloc = status["nodeInfo"], status["allocatable"]
    key = "{:<20}{}"
    lines = [key.format("Name:", meta["name"]), key.format("Roles:", "<none>")]
    labels = [f"{k}={v}" for k, v in sorted((meta.get("labels") or {}).items())] or ["<none>"]
    lines.append(key.format("Labels:", labels[0]))
    lines += [" " * 20 + x for x in labels[1:]]
    lines += [
        key.format("Annotations:", "<none>"),
        key.format("CreationTimestamp:", meta.get("creationTimestamp", "")),
        key.format("Taints:", "<none>"),
        key.format("Unschedulable:", "false"),
        "Conditions:",
    ]
    rows = [["Type", "Status", "LastHeartbeatTime", "LastTransitionTime", "Reason", "Message"]]
    rows.append(["-" * len(h) for h in rows[0]])
    rows += [
        [c["type"], c["status"], c["lastHeartbeatTime"], c["lastTransitionTime"], c["reason"], c["message"]]
        for c in status["conditions"]
    ]
    lines += _aligned(rows)
    lines.append("Addresses:")
    lines += _aligned([[f"{a['type']}:", a["address"]] for a in status["addresses"]])
    for title, amounts in (("Capacity", status["capacity"]), ("Allocatable", alloc)):
        lines.append(f"{title}:")
        lines += _aligned([[f"{k}:", v] for k, v in sorted(amounts.items())])
    lines.append("System Info:")
    lines += _aligned(
        [
            ["Machine ID:", info["machineID"]],
            ["System UUID:", info["systemUUID"]],
            ["Boot ID:", info["bootID"]],
            ["Kernel Version:", info["kernelVersion"]],
            ["OS Image:", info["osImage"]],
            ["Operating System:", info["operatingSystem"]],
            ["Architecture:", info["architecture"]],
            ["Container Runtime Version:", info["containerRuntimeVersion"]],
            ["Kubelet Version:", info["kubeletVersion"]],
            ["Kube-Proxy Version:", info["kubeProxyVersion"]],
        ]
    )
    running = [p for p in pods if on_node(p)]
    lines.append(f"Non-terminated Pods:          ({len(running)} in total)")
    rows = [["Namespace", "Name", "CPU Requests", "CPU Limits", "Memory Requests", "Memory Limits", "Age"]]
    rows.append(["-" * len(h) for h in rows[0]])
    req_total: dict = {}
    lim_total: dict = {}
    for p in running:
        req, lim = resources.pod_requests(p["spec"]), resources.pod_limits(p["spec"])
        for total, part in ((req_total, req), (lim_total, lim)):
            for k, v in part.items():
                total[k] = total.get(k, 0) + v
        rows.append(
            [
                p["metadata"]["namespace"],
                p["metadata"]["name"],
                _share("cpu", req.get("cpu", 0), alloc),
                _share("cpu", lim.get("cpu", 0), alloc),
                _share("memory", req.get("memory", 0), alloc),
                _share("memory", lim.get("memory", 0), alloc),
                human_age(p["metadata"].get("creationTimestamp")),
            ]
        )
    if running:
        lines += _aligned(rows)
    lines += ["Allocated resources:", "  (Total limits may be over 100 percent, i.e., overcommitted.)"]
    rows = [["Resource", "Requests", "Limits"], ["--------", "--------", "------"]]
    names = list(TABLE_RESOURCES) + sorted((set(req_total) | set(lim_total)) - set(TABLE_RESOURCES))
    for name in names:
        rows.append(
            [name, _share(name, req_total.get(name, 0), alloc), _share(name, lim_total.get(name, 0), alloc)]
        )
    lines += _aligned(rows)
    lines.append("Events:              <none>")
    return "\n".join(lines) + "\n"
