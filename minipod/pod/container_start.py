"""Starting one container instance (the kubelet's startContainer).

The worker calls these in order; each step's failure ends the start:
    1. the image, pulled first when the imagePullPolicy says so (the
       manager's ensure_image; a failure waits with the pull back-off);
    2. prepare(): a new instance (record.to_starting: its ID, and the
       previous one as lastState), its log, exit and termination-message
       files, its mounts (volumes.py) and its launch plan
       (linux/launch_spec.py); a bad spec is CreateContainerConfigError;
    3. the worker writes the record down, then launches (linux/launch.py);
    4. launched(): the process and its monitor are recorded; an execve()
       that failed is StartError (the container ran and exited 128, as
       with runc); a setup that failed is CreateContainerError, retried
       after the back-off base;
    5. post_start(): the postStart hook, if any; only then does the
       container count as running (record.to_running).
"""

import copy
import dataclasses
import os
import time
import uuid
from enum import Enum
from typing import Any

from minipod.image.store import Image
from minipod.kube import reasons
from minipod.linux import launch as process
from minipod.linux import launch_spec
from minipod.linux import sandbox as namespaces
from minipod.paths import path_in
from minipod.pod import handlers, volumes
from minipod.pod import record as rec
from minipod.pod.events import PodEvents
from minipod.pod.node_config import NodeConfig
from minipod.pod.record import ContainerRecord, ExitInfo, PodRecord


class Launched(Enum):
    RUNNING = "running"  # its command runs: watch its monitor
    EXITED = "exited"  # it ran and is gone (StartError): sync again
    FAILED = "failed"  # it could not be created: retry after the back-off


def prepare(
    record: PodRecord,
    c: ContainerRecord,
    image: Image,
    dirs: dict[str, Any],
    shim: str,
    node: NodeConfig | None = None,
    declared_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Step 2: the new instance in the record, its files, and its plan
    (`declared_env`: the spec's env and envFrom, resolved by pod_config.py).
    Raises MinipodError or OSError when the spec cannot be carried out."""
    cid = c.next_id or uuid.uuid4().hex + uuid.uuid4().hex
    before = copy.copy(c)
    rec.to_starting(c, cid, image.ref, image_id(image), (image.config or {}).get("StopSignal"))
    try:
        return _files_and_plan(record, c, cid, image, dirs, shim, node, declared_env)
    except BaseException:
        # Never created (a subPath refused, a mount that cannot be made):
        # not a restart, as the kubelet counts only containers it created.
        for f in dataclasses.fields(c):
            setattr(c, f.name, getattr(before, f.name))
        raise


def _files_and_plan(
    record: PodRecord,
    c: ContainerRecord,
    cid: str,
    image: Image,
    dirs: dict[str, Any],
    shim: str,
    node: NodeConfig | None,
    declared_env: dict[str, str] | None,
) -> dict[str, Any]:
    rt = record.runtime
    instance = launch_spec.Instance(
        id=cid,
        log_path=c.log_file or path_in(dirs["logs"], c.name, f"{c.restart_count}.log"),
        exit_file=os.path.join(dirs["run"], "exits", f"{cid}.json"),
        termination_file=os.path.join(dirs["run"], "termination", cid),
        init_pid=rt.init.pid or 0,
        pod_ip=rt.pod_ip or "",
        host_ip=rt.host_ip,
        user_range=rt.user_range,
    )
    c.log_path, c.exit_file, c.termination_file = (
        instance.log_path,
        instance.exit_file,
        instance.termination_file,
    )
    for path in (c.log_path, c.exit_file, c.termination_file):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    open(c.termination_file, "w").close()
    spec = record.spec_of(c)
    mounts = volumes.container_mounts(record.pod, spec, dirs, instance.termination_file, declared_env)
    plan = launch_spec.build_plan(record.pod, spec, image, instance, mounts, dirs, shim, node, declared_env)
    c.env = plan["env"]  # what `exec` and exec probes run with, as runc keeps it
    # A log path its creator chose (the kubelet, through the CRI) is read by
    # the kubelet: the CRI log format there, not minipod's own.
    plan["cri_log"] = bool(c.log_file)
    apply_overrides(plan, c.plan_overrides)
    return plan


def apply_overrides(plan: dict[str, Any], overrides: dict[str, Any]) -> None:
    """ContainerRecord.plan_overrides into the launch plan."""
    if overrides.get("user"):
        plan["user"], plan["run_as_user"] = overrides["user"], None
    plan["supplemental_groups"] = [
        *plan["supplemental_groups"],
        *(overrides.get("supplemental_groups") or []),
    ]
    for key in ("masked_paths", "readonly_paths", "devices"):
        if overrides.get(key):
            plan["rootfs"][key] = list(overrides[key])


def launched(
    c: ContainerRecord, result: process.LaunchResult, events: PodEvents, retry_at: float
) -> Launched:
    """Step 4."""
    if result.pid:
        c.process = rec.Process(result.pid, namespaces.start_time(result.pid))
    if result.monitor:
        c.monitor = rec.Process(result.monitor, namespaces.start_time(result.monitor))
    c.started_epoch = time.time()
    if result.ok:
        return Launched.RUNNING
    events.emit(reasons.WARNING, reasons.FAILED, f"Error: {result.message}", c.name)
    if result.reason == process.START_ERROR:
        rec.to_terminated(
            c,
            ExitInfo(
                exit_code=128, finished_epoch=time.time(), reason=reasons.START_ERROR, message=result.message
            ),
        )
        return Launched.EXITED
    rec.to_waiting(c, result.reason or process.CREATE_ERROR, result.message, retry_at=retry_at)
    return Launched.FAILED


async def post_start(
    record: PodRecord, c: ContainerRecord, events: PodEvents, node: NodeConfig | None = None
) -> str | None:
    """Step 5: None when the container now runs; else why it must be
    killed (its postStart hook failed). Nothing to do if it exited meanwhile."""
    cid = c.id
    hook = (record.spec_of(c).get("lifecycle") or {}).get("postStart")
    if hook:
        ok, out = await handlers.run_handler(record, c, hook, max(record.grace_period(), 1), node)
        if c.id != cid or c.state != rec.ContainerState.STARTING:
            return None  # it exited while the hook ran
        if not ok:
            events.emit(
                reasons.WARNING, reasons.FAILED_POST_START_HOOK, f"PostStartHook failed: {out}", c.name
            )
            rec.to_running(c, hook_failed=True)
            return f"FailedPostStartHook: {out}"
    if c.id != cid or c.state != rec.ContainerState.STARTING:
        return None
    rec.to_running(c)
    events.emit(reasons.NORMAL, reasons.STARTED, f"Started container {c.name}", c.name)
    return None


def termination_message(record: PodRecord, c: ContainerRecord) -> str | None:
    """The container's terminationMessagePath file (a per-container file
    the runtime mounted there), or with FallbackToLogsOnError the tail of
    its log when it failed without writing one."""
    spec = record.spec_of(c)
    text = ""
    if c.termination_file:
        try:
            with open(c.termination_file, errors="replace") as f:
                text = f.read(4096)
        except OSError:
            pass
    if not text and c.exit_code and spec.get("terminationMessagePolicy") == "FallbackToLogsOnError":
        try:
            with open(c.log_path or "", "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - 2048))
                text = b"".join(f.read().splitlines(keepends=True)[-80:]).decode(errors="replace")
        except OSError:
            pass
    return text or None


def image_id(image: Image) -> str:
    """REPOSITORY@DIGEST, the form the kubelet reports as imageID."""
    repo = image.ref.split("@")[0]
    if ":" in repo.rsplit("/", 1)[-1]:
        repo = repo.rsplit(":", 1)[0]
    return f"{repo}@{image.digest}"
