"""What the CRI reports of a sandbox and of a container: pure.

From the runtime's records (and whether the sandbox's PID 1 still runs,
which the caller looked up), as containerd's CRI plugin reports them:
    1. a sandbox is READY while its PID 1 runs, it was not stopped and its
       network is up (or it uses the host's); else NOTREADY;
    2. a container is CREATED until it is started, RUNNING while its
       process runs (or is being launched), EXITED once its monitor wrote
       its exit; a start that failed is EXITED with its reason;
    3. the list filters: id and sandbox id (or a prefix of them, as crictl
       sends), state, and labels (every pair must match);
    4. verbose info: a JSON "info" entry, as containerd's, with the pid,
       the namespaces and the runtime's own record.
Times are nanoseconds since the epoch, as the CRI counts them.
"""

import json
from typing import Any

import minipod.cri.api_pb2 as api_pb2  # generated at build time (setup.py)
from minipod.pod.record import ContainerRecord, ContainerState, PodRecord

PROPAGATION = {
    "HostToContainer": api_pb2.PROPAGATION_HOST_TO_CONTAINER,
    "Bidirectional": api_pb2.PROPAGATION_BIDIRECTIONAL,
}


def ns(epoch: float | None) -> int:
    return int(epoch * 1e9) if epoch else 0


# --- 1. sandboxes -------------------------------------------------------------------


def sandbox_ready(record: PodRecord, init_alive: bool) -> bool:
    rt = record.runtime
    network_up = bool(record.spec.get("hostNetwork")) or rt.network.state == "ready"
    return init_alive and not rt.stopped and network_up


def sandbox_metadata(record: PodRecord) -> Any:
    md = record.runtime.origin_data["metadata"]
    return api_pb2.PodSandboxMetadata(
        name=md["name"], uid=md["uid"], namespace=md["namespace"], attempt=md["attempt"]
    )


def pod_sandbox(record: PodRecord, ready: bool) -> Any:
    return api_pb2.PodSandbox(
        id=record.metadata["name"],
        metadata=sandbox_metadata(record),
        state=api_pb2.SANDBOX_READY if ready else api_pb2.SANDBOX_NOTREADY,
        created_at=ns(record.runtime.created_epoch),
        labels=record.metadata.get("labels") or {},
        annotations=record.metadata.get("annotations") or {},
        runtime_handler=record.runtime.origin_data.get("runtime_handler", ""),
    )


def sandbox_status(record: PodRecord, ready: bool, verbose: bool, inspect: dict[str, Any] | None) -> Any:
    rt = record.runtime
    opts = rt.origin_data.get("namespace_options") or {}
    status = api_pb2.PodSandboxStatus(
        id=record.metadata["name"],
        metadata=sandbox_metadata(record),
        state=api_pb2.SANDBOX_READY if ready else api_pb2.SANDBOX_NOTREADY,
        created_at=ns(rt.created_epoch),
        network=api_pb2.PodSandboxNetworkStatus(ip=rt.pod_ip or "" if ready else ""),
        linux=api_pb2.LinuxPodSandboxStatus(
            namespaces=api_pb2.Namespace(
                options=api_pb2.NamespaceOption(
                    network=opts.get("network", 0), pid=opts.get("pid", 0), ipc=opts.get("ipc", 0)
                )
            )
        ),
        labels=record.metadata.get("labels") or {},
        annotations=record.metadata.get("annotations") or {},
        runtime_handler=rt.origin_data.get("runtime_handler", ""),
    )
    info = {}
    if verbose:
        info["info"] = json.dumps(
            {
                "pid": rt.init.pid if ready else 0,
                "image": "minipod-shim (the pod's PID 1)",
                "config": rt.origin_data,
                "runtimeSpec": record.spec,
                "cgroup": rt.cgroup,
                "network": {"state": rt.network.state, "netns": rt.network.netns, "ip": rt.pod_ip},
                "kernelObjects": inspect or {},
            },
            default=str,
        )
    return api_pb2.PodSandboxStatusResponse(status=status, info=info)


def sandbox_matches(record: PodRecord, ready: bool, f: Any) -> bool:
    """Step 3, for a ListPodSandbox filter (None: everything)."""
    if f is None:
        return True
    if f.id and not record.metadata["name"].startswith(f.id):  # a unique prefix: lookup.py checked
        return False
    if f.HasField("state") and f.state.state != (
        api_pb2.SANDBOX_READY if ready else api_pb2.SANDBOX_NOTREADY
    ):
        return False
    labels = record.metadata.get("labels") or {}
    return all(labels.get(k) == v for k, v in f.label_selector.items())


# --- 2. containers -------------------------------------------------------------------


def container_state(c: ContainerRecord) -> int:
    if c.state in (ContainerState.RUNNING, ContainerState.STARTING):
        return api_pb2.CONTAINER_RUNNING
    if c.state == ContainerState.TERMINATED:
        return api_pb2.CONTAINER_EXITED
    return api_pb2.CONTAINER_CREATED


def container_metadata(record: PodRecord, c: ContainerRecord) -> Any:
    md = _cri(record, c).get("metadata") or {}
    return api_pb2.ContainerMetadata(name=md.get("name", c.name), attempt=md.get("attempt", 0))


def _cri(record: PodRecord, c: ContainerRecord) -> dict[str, Any]:
    """What the CRI kept of the container's config (cri/containers.py)."""
    return (record.runtime.origin_data.get("containers") or {}).get(c.name) or {}


def container(record: PodRecord, c: ContainerRecord) -> Any:
    kept = _cri(record, c)
    return api_pb2.Container(
        id=c.next_id or c.id or "",
        pod_sandbox_id=record.metadata["name"],
        metadata=container_metadata(record, c),
        image=api_pb2.ImageSpec(image=kept.get("image", c.image)),
        image_ref=kept.get("image_id") or c.image_id,
        state=container_state(c),
        created_at=ns(c.created_epoch),
        labels=kept.get("labels") or {},
        annotations=kept.get("annotations") or {},
    )


def container_status(record: PodRecord, c: ContainerRecord, verbose: bool) -> Any:
    kept = _cri(record, c)
    state = container_state(c)
    spec = record.spec_of(c)
    volumes = {v["name"]: v for v in record.spec.get("volumes") or []}
    mounts = [
        api_pb2.Mount(
            container_path=m["mountPath"],
            host_path=volumes[m["name"]]["hostPath"]["path"],
            readonly=bool(m.get("readOnly")),
            propagation=PROPAGATION.get(m.get("mountPropagation") or "", api_pb2.PROPAGATION_PRIVATE),
        )
        for m in spec.get("volumeMounts") or []
        if m["name"] in volumes and "hostPath" in volumes[m["name"]]
    ]
    status = api_pb2.ContainerStatus(
        id=c.next_id or c.id or "",
        metadata=container_metadata(record, c),
        state=state,
        created_at=ns(c.created_epoch),
        started_at=ns(c.started_epoch) if state != api_pb2.CONTAINER_CREATED else 0,
        finished_at=ns(c.finished_epoch) if state == api_pb2.CONTAINER_EXITED else 0,
        exit_code=(c.exit_code or 0) if state == api_pb2.CONTAINER_EXITED else 0,
        image=api_pb2.ImageSpec(image=kept.get("image", c.image)),
        image_ref=kept.get("image_ref") or c.image_id,
        reason=(c.reason or "") if state == api_pb2.CONTAINER_EXITED else "",
        message=(c.message or "") if state == api_pb2.CONTAINER_EXITED else "",
        labels=kept.get("labels") or {},
        annotations=kept.get("annotations") or {},
        mounts=mounts,
        log_path=c.log_file or "",
    )
    info = {}
    if verbose:
        info["info"] = json.dumps(
            {
                "sandboxID": record.metadata["name"],
                "pid": c.process.pid if state == api_pb2.CONTAINER_RUNNING else 0,
                "runtimeSpec": spec,
                "config": kept,
            },
            default=str,
        )
    return api_pb2.ContainerStatusResponse(status=status, info=info)


def container_matches(record: PodRecord, c: ContainerRecord, f: Any) -> bool:
    if f is None:
        return True
    if f.id and not (c.next_id or c.id or "").startswith(f.id):
        return False
    if f.pod_sandbox_id and not record.metadata["name"].startswith(f.pod_sandbox_id):
        return False
    if f.HasField("state") and f.state.state != container_state(c):
        return False
    labels = _cri(record, c).get("labels") or {}
    return all(labels.get(k) == v for k, v in f.label_selector.items())
