"""Output as kubectl prints it: tables, -o json/yaml/name/wide, describe.

Stdlib only, except yaml, imported when -o yaml asks for it.
"""

import json
import sys
import time

from minipod.cli.pod_columns import pod_columns, since


def human_age(ts: str | None, now: float | None = None) -> str:
    """kubectl's duration.HumanDuration of the time since `ts`."""
    return since(ts, time.time() if now is None else now)


def table(rows: list[list[str]], out=sys.stdout) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("   ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


def pod_rows(
    pods: list[dict], wide: bool = False, with_ip: bool = False, all_namespaces: bool = False
) -> list[list[str]]:
    """`kubectl get pods` (-o wide, -A); `with_ip` adds only the IP column."""
    head = ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    if wide or with_ip:
        head.append("IP")
    if wide:
        head += ["NODE", "NOMINATED NODE", "READINESS GATES"]
    if all_namespaces:
        head.insert(0, "NAMESPACE")
    rows = [head]
    now = time.time()
    for p in pods:
        col = pod_columns(p, now)
        row = [col.name, col.ready, col.status, col.restarts, col.age]
        if wide or with_ip:
            row.append(col.ip)
        if wide:
            row += [col.node, col.nominated_node, col.readiness_gates]
        if all_namespaces:
            row.insert(0, p["metadata"]["namespace"])
        rows.append(row)
    return rows


def dump(obj, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(obj, indent=4) + "\n"
    import yaml

    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)


def as_list(pods: list[dict]) -> dict:
    return {"apiVersion": "v1", "kind": "List", "items": pods, "metadata": {"resourceVersion": ""}}


# --- describe ---------------------------------------------------------------------


def _kv(lines: list[str], indent: int, key: str, value) -> None:
    pad = " " * indent
    lines.append(f"{pad}{key + ':':<{max(18 - indent, len(key) + 2)}}{value}")


def _map(m: dict | None) -> list[str]:
    return [f"{k}={v}" for k, v in (m or {}).items()] or ["<none>"]


def _state(lines: list[str], title: str, state: dict) -> None:
    if not state:
        return
    kind, detail = next(iter(state.items()))
    _kv(lines, 4, title, kind.capitalize())
    for key, label in (
        ("reason", "Reason"),
        ("message", "Message"),
        ("exitCode", "Exit Code"),
        ("signal", "Signal"),
        ("startedAt", "Started"),
        ("finishedAt", "Finished"),
    ):
        if detail.get(key) is not None:
            _kv(lines, 6, label, detail[key])


def _env_value(e: dict) -> str:
    """An env entry as kubectl describe shows it: references named, never
    the value of a Secret or ConfigMap."""
    source = e.get("valueFrom") or {}
    for key, what in (("secretKeyRef", "in secret"), ("configMapKeyRef", "of config map")):
        if source.get(key):
            ref = source[key]
            return f"<set to the key '{ref.get('key')}' {what} '{ref.get('name')}'>  Optional: {str(bool(ref.get('optional'))).lower()}"
    if source.get("fieldRef"):
        ref = source["fieldRef"]
        return f"({ref.get('apiVersion', 'v1')}:{ref.get('fieldPath')})"
    if source.get("resourceFieldRef"):
        return f"({source['resourceFieldRef'].get('resource')})"
    return str(e.get("value", ""))


def _containers(lines: list[str], title: str, specs: list[dict], statuses: list[dict]) -> None:
    if not specs:
        return
    lines.append(f"{title}:")
    by_name = {s["name"]: s for s in statuses}
    for c in specs:
        st = by_name.get(c["name"], {})
        lines.append(f"  {c['name']}:")
        _kv(lines, 4, "Container ID", st.get("containerID", ""))
        _kv(lines, 4, "Image", c["image"])
        _kv(lines, 4, "Image ID", st.get("imageID", ""))
        for key, label in (("command", "Command"), ("args", "Args")):
            if c.get(key):
                lines.append(f"    {label}:")
                lines += [f"      {a}" for a in c[key]]
        _state(lines, "State", st.get("state", {}))
        _state(lines, "Last State", st.get("lastState", {}))
        _kv(lines, 4, "Ready", str(st.get("ready", False)))
        _kv(lines, 4, "Restart Count", st.get("restartCount", 0))
        for key, label in (("limits", "Limits"), ("requests", "Requests")):
            amounts = (c.get("resources") or {}).get(key)
            if amounts:
                lines.append(f"    {label}:")
                lines += [f"      {k}:  {v}" for k, v in sorted(amounts.items())]
        env = c.get("env") or []
        _kv(lines, 4, "Environment", "<none>" if not env else "")
        lines += [f"      {e['name']}:  {_env_value(e)}" for e in env]
        mounts = c.get("volumeMounts") or []
        _kv(lines, 4, "Mounts", "<none>" if not mounts else "")
        lines += [
            f"      {m['mountPath']} from {m['name']} ({'ro' if m.get('readOnly') else 'rw'})" for m in mounts
        ]


def describe_pod(pod: dict, events: list[dict]) -> str:
    meta, spec, status = pod["metadata"], pod["spec"], pod.get("status", {})
    lines: list[str] = []
    _kv(lines, 0, "Name", meta["name"])
    _kv(lines, 0, "Namespace", meta["namespace"])
    node = spec.get("nodeName")
    _kv(lines, 0, "Node", f"{node}/{status.get('hostIP', '')}" if node else "<none>")
    _kv(lines, 0, "Start Time", status.get("startTime", "<none>"))
    labels = _map(meta.get("labels"))
    _kv(lines, 0, "Labels", labels[0])
    lines += [" " * 18 + x for x in labels[1:]]
    annotations = _map(meta.get("annotations"))
    _kv(lines, 0, "Annotations", annotations[0])
    lines += [" " * 18 + x for x in annotations[1:]]
    _kv(lines, 0, "Status", "Terminating" if meta.get("deletionTimestamp") else status.get("phase"))
    if status.get("reason"):
        _kv(lines, 0, "Reason", status["reason"])
        _kv(lines, 0, "Message", status.get("message", ""))
    _kv(lines, 0, "IP", status.get("podIP", ""))
    _containers(
        lines, "Init Containers", spec.get("initContainers") or [], status.get("initContainerStatuses", [])
    )
    _containers(lines, "Containers", spec["containers"], status.get("containerStatuses", []))
    lines.append("Conditions:")
    lines.append(f"  {'Type':<18}Status")
    lines += [f"  {c['type']:<18}{c['status']}" for c in status.get("conditions", [])]
    lines.append("Volumes:" + ("" if spec.get("volumes") else "  <none>"))
    for v in spec.get("volumes") or []:
        kind = next(k for k in v if k != "name")
        lines.append(f"  {v['name']}:")
        _kv(
            lines,
            4,
            "Type",
            {
                "emptyDir": "EmptyDir (a temporary directory that shares a pod's lifetime)",
                "hostPath": "HostPath (bare host directory volume)",
            }.get(kind, kind),
        )
        for k, val in (v[kind] or {}).items():
            _kv(lines, 4, k[0].upper() + k[1:], val)
    _kv(lines, 0, "QoS Class", status.get("qosClass", "BestEffort"))
    lines.append("Events:" + ("" if events else "  <none>"))
    if events:
        rows = [["Type", "Reason", "Age", "From", "Message"], ["----", "------", "----", "----", "-------"]]
        for e in events:
            age = human_age(e.get("lastTimestamp"))
            if e.get("count", 1) > 1:
                age = f"{age} (x{e['count']} over {human_age(e.get('firstTimestamp'))})"
            source = (e.get("source") or {}).get("component") or e.get("reportingComponent") or ""
            rows.append([e["type"], e["reason"], age, source, e["message"]])
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines) + "\n"


def event_rows(events: list[dict], all_namespaces: bool = False) -> list[list[str]]:
    rows = [["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]]
    if all_namespaces:
        rows[0].insert(0, "NAMESPACE")
    for e in events:
        obj = e["involvedObject"]
        what = f"{str(obj.get('kind') or 'Pod').lower()}/{obj['name']}"  # pod/web, persistentvolumeclaim/data
        row = [human_age(e.get("lastTimestamp")), e["type"], e["reason"], what, e["message"]]
        if all_namespaces:
            row.insert(0, obj["namespace"])
        rows.append(row)
    return rows


def describe_inspect(data: dict) -> str:
    """`minipod inspect POD` as text: the pod's kernel objects, as a tree."""
    init = data["podInit"]
    lines = [
        f"Pod {data['namespace']}/{data['name']}  (uid {data['uid']})",
        f"  pod init: host pid {init.get('pid')}, pid {init.get('nsPid', '?')} in the pod"
        f"{'' if init.get('alive') else '  (not running)'}",
    ]
    host_ns = data.get("hostNamespaceInodes") or {}
    for t, ino in (init.get("namespaces") or {}).items():
        whose = "the host's" if host_ns.get(t) == ino else "the pod's own"
        lines.append(f"    {t + ' namespace':<18} inode {ino}  ({whose})")
    lines.append(f"  run dir: {data['runDir']}   /dev/shm: {data['shm']}")
    net = data.get("network")
    if net:
        lines.append(
            f"  network: {', '.join(net.get('ips') or ['no address'])} via {net.get('gateway')} "
            f"({net.get('state')})"
        )
        lines.append(f"    netns pinned at {net.get('netns')}")
        lines.append(
            f"    veth pair: {net.get('vethHost')} (host, port of bridge {net.get('bridge')})"
            f" <-> {net.get('vethPod')} (pod)"
        )
        if net.get("lease"):
            lines.append(f"    IP lease: {net['lease']}")
    pod_ns = init.get("namespaces") or {}
    for c in data["containers"]:
        kind = "init container" if c["init"] else "container"
        lines.append(f"  {kind} {c['name']}: {c['state']}, restarts {c['restartCount']}")
        proc = c.get("process") or {}
        if proc.get("alive"):
            lines.append(
                f"    process: host pid {proc['pid']}, pid {proc.get('nsPid')} in its pid namespace: "
                f"{' '.join(proc.get('command', []))}"
            )
            mon = c.get("monitor") or {}
            lines.append(f"    monitor: host pid {mon.get('pid')} (its parent, outside the pod)")
            for t, ino in proc.get("namespaces", {}).items():
                shared = (
                    "the host's"
                    if host_ns.get(t) == ino
                    else "shared with the pod"
                    if pod_ns.get(t) == ino
                    else "its own"
                )
                lines.append(f"    {t + ' namespace':<18} inode {ino}  ({shared})")
            lines.append(f"    capabilities: effective {proc['capabilities'].get('CapEff')}")
        rootfs = c.get("rootfs") or {}
        if rootfs:
            lines.append(f"    rootfs: overlay at {rootfs['mountPoint']} (upper {rootfs['upperdir']})")
        for m in c.get("mounts", []):
            lines.append(f"      {m['mountPoint']:<24} {m['type']:<8} {m['source']}")
        if c.get("logPath"):
            lines.append(f"    log: {c['logPath']}")
    return "\n".join(lines) + "\n"
