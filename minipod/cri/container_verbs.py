"""The CRI's container calls, over the runtime's pod workers.

create()   the container's spec (container_config.py) added to its
           sandbox's pod, held until started (pod/piecewise.py); its
           image must be in the store (the kubelet pulled it);
start()    released to the worker, which launches it as any container;
stop()     its stop signal, SIGKILL after the timeout; idempotent;
remove()   SIGKILL if it runs, then everything of it goes; an unknown
           id is not an error;
status(), list()  from the records (status_views.py);
exec_sync()  a command in its namespaces (as `minipod exec`), stdout
           and stderr apart, killed at the timeout;
stats()    CPU and memory from its cgroup.
"""

import asyncio
import os
import signal
import time
import uuid
from typing import Any

import minipod.cri.api_pb2 as api_pb2  # generated at build time (setup.py)
from minipod.cri import container_config, status_views
from minipod.cri.image_records import CriImage, find_image
from minipod.cri.image_service import ImageService
from minipod.cri.lookup import CriNotFound, container_id, containers, find_container, find_sandbox
from minipod.linux import cgroup_stats, exec_session
from minipod.linux import launch as process
from minipod.linux import sandbox as namespaces
from minipod.pod import handlers, piecewise, pod_cgroups
from minipod.pod.record import ContainerState

EXEC_OUTPUT_LIMIT = 16 * 1024 * 1024  # the kubelet's maxMsgSize for ExecSync


def resolve_image(manager, images, ref: str) -> CriImage:
    """The store's image REF names (a name, an id, a digest or a unique id
    prefix: image_records.find_image), as the ImageService knows it."""
    found = find_image(ImageService(None, manager, images, None).images(), ref)
    if found is None:
        raise CriNotFound(f'failed to get image "{ref}": not found in the image store (pull it first)')
    return found


def create(manager, images, sandbox_id: str, config: Any) -> str:
    w = find_sandbox(manager, sandbox_id)
    if w.rt.stopped:
        raise RuntimeError(f'sandbox "{w.record.metadata["name"]}" is stopped: create a new one')
    name = container_config.record_name(config)
    for c in w.rt.containers:
        if c.name == name:
            raise FileExistsError(
                f'failed to reserve container name "{name}": name is reserved for "{container_id(c)}"'
            )
    cid = uuid.uuid4().hex + uuid.uuid4().hex
    spec, volumes = container_config.container_spec(config, f"cri-{cid[:12]}")
    image = resolve_image(manager, images, config.image.image)
    # The store's own name for it; what the CRI reports, as containerd:
    # its first repo tag and repo digest, and its id.
    spec["image"] = (image.repo_tags or image.repo_digests)[0]
    log_dir = w.rt.origin_data.get("log_directory") or ""
    log_file = os.path.join(log_dir, config.log_path) if log_dir and config.log_path else None
    kept = w.rt.origin_data.setdefault("containers", {})
    kept[name] = {
        "metadata": {"name": config.metadata.name, "attempt": config.metadata.attempt},
        "image": image.repo_tags[0] if image.repo_tags else config.image.image,
        "image_ref": image.repo_digests[0] if image.repo_digests else image.id,
        "image_id": image.id,
        "labels": dict(config.labels),
        "annotations": dict(config.annotations),
    }
    piecewise.add_container(w, spec, volumes, cid, log_file, container_config.plan_overrides(config))
    return cid


async def start(manager, ident: str) -> None:
    w, c = find_container(manager, ident)
    if c.state != ContainerState.WAITING or not c.held:
        state = api_pb2.ContainerState.Name(status_views.container_state(c))
        raise RuntimeError(f'container "{container_id(c)}" is in {state} state, not CONTAINER_CREATED')
    await piecewise.start_container(w, c)


async def stop(manager, ident: str, timeout: int) -> None:
    w, c = find_container(manager, ident)
    await piecewise.stop_container(w, c, timeout)


async def remove(manager, ident: str) -> None:
    try:
        w, c = find_container(manager, ident)
    except CriNotFound:
        return
    await piecewise.remove_container(w, c)


def status(manager, ident: str, verbose: bool) -> Any:
    w, c = find_container(manager, ident)
    return status_views.container_status(w.record, c, verbose)


def list_containers(manager, f: Any) -> Any:
    items = [
        status_views.container(w.record, c)
        for w, c in containers(manager)
        if status_views.container_matches(w.record, c, f)
    ]
    return api_pb2.ListContainersResponse(containers=items)


async def reopen_log(manager, ident: str) -> None:
    """The kubelet renamed the log to rotate it: the file is made again
    now, and the container's monitor reopens it on SIGUSR1 (its new lines
    go there from then on)."""
    w, c = find_container(manager, ident)
    if c.state != ContainerState.RUNNING or not c.log_file:
        raise RuntimeError(f'container "{container_id(c)}" is not running')
    os.close(os.open(c.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640))
    if namespaces.alive(c.monitor.pid, c.monitor.start):
        os.kill(c.monitor.pid or 0, signal.SIGUSR1)


async def exec_sync(manager, ident: str, cmd: list[str], timeout: int) -> Any:
    w, c = find_container(manager, ident)
    if c.state != ContainerState.RUNNING:
        raise RuntimeError(f'container "{container_id(c)}" is not running')
    if not cmd:
        raise ValueError("cmd: required")
    plan = handlers.exec_plan(w.record, c, list(cmd), tty=False, node=manager.node)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    session = await exec_session.spawn_exec(plan, (null, out_w, err_w))
    for fd in (null, out_w, err_w):
        os.close(fd)
    reading = asyncio.gather(process.read_to_eof(out_r), process.read_to_eof(err_r))
    try:
        stdout, stderr = await asyncio.wait_for(reading, timeout if timeout > 0 else None)
        code = await session.wait()
    except asyncio.TimeoutError:
        children = session.kill()
        await session.wait()
        # Gone, not only signalled: the next exec must not find it (as a
        # zombie, until the pod's init reaps it).
        deadline = time.time() + 5
        while any(os.path.exists(f"/proc/{c}") for c in children) and time.time() < deadline:
            await asyncio.sleep(0.01)
        os.close(session.errors)
        raise TimeoutError(f"command {list(cmd)!r} timed out after {timeout}s") from None
    failed = process.LaunchResult(await process.read_to_eof(session.errors))
    if failed.reason:
        raise RuntimeError(failed.message or "exec failed")
    return api_pb2.ExecSyncResponse(
        stdout=stdout.encode()[-EXEC_OUTPUT_LIMIT:],
        stderr=stderr.encode()[-EXEC_OUTPUT_LIMIT:],
        exit_code=code,
    )


def stats(manager, w, c) -> Any:
    """CPU and memory of the container's cgroup, now."""
    now = time.time_ns()
    attrs = api_pb2.ContainerAttributes(
        id=container_id(c),
        metadata=status_views.container_metadata(w.record, c),
        labels=(w.rt.origin_data.get("containers") or {}).get(c.name, {}).get("labels", {}),
        annotations=(w.rt.origin_data.get("containers") or {}).get(c.name, {}).get("annotations", {}),
    )
    cpu = memory = 0
    if c.id and w.rt.cgroup and c.active:
        rel = pod_cgroups.container_rel(w.record, c.id)
        try:
            cpu = cgroup_stats.cpu_usage_ns(manager.cgroups, rel)
            memory = cgroup_stats.memory_working_set(manager.cgroups, rel)
        except OSError:
            pass
    return api_pb2.ContainerStats(
        attributes=attrs,
        cpu=api_pb2.CpuUsage(timestamp=now, usage_core_nano_seconds=api_pb2.UInt64Value(value=cpu)),
        memory=api_pb2.MemoryUsage(timestamp=now, working_set_bytes=api_pb2.UInt64Value(value=memory)),
        writable_layer=api_pb2.FilesystemUsage(timestamp=now),
    )
