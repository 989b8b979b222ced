"""One pod's life: the worker that drives it towards its spec (process supervision).

Each pod has a PodWorker, an asyncio task that wakes when something changes
(a container exited, a back-off expired, a delete was asked for) and runs
sync(), modelled on the kubelet's SyncPod. Steps of sync(), in order:
    1. a pod being deleted is terminated instead (terminate());
    2. make sure the sandbox exists: the pod's dirs, its /etc files and its
       namespaces with their PID 1 (namespaces.py); a sandbox whose PID 1
       died is replaced and its containers marked lost;
    3. init containers, one at a time in order: start the first one that has
       not succeeded; wait while it runs; if it fails, restart it per the
       pod's restartPolicy (Never: the pod fails);
    4. once every init container succeeded, start each app container that
       is not running and should be (restartPolicy: Always, OnFailure on a
       non-zero exit, Never only for its first start), with the kubelet's
       back-off: the first restart is immediate, then 10 s, 20 s, 40 s...
       capped at 5 min, reset once a container ran for 10 min;
    5. save the record and sleep until the next wake-up or timer.

The worker never waits on a container directly: a container's parent is its
monitor (process.py), and the worker watches the monitor through a pidfd,
so a restarted daemon can watch the same monitor again.
"""

import asyncio
import json
import os
import shutil
import time
import uuid

from minipod.errors import MinipodError
from minipod.kube import resources
from minipod.kube.sysctls import pod_sysctls
from minipod.kube.times import parse_rfc3339, rfc3339
from minipod.linux import launch as process
from minipod.linux import launch_spec as containers
from minipod.linux import sandbox as namespaces
from minipod.linux import volume_ownership
from minipod.network import pod_network as network
from minipod.paths import path_in
from minipod.pod import etc_files as podfiles
from minipod.pod import handlers, pod_cgroups, probes, termination
from minipod.pod import record as rec
from minipod.pod import status as podstatus
from minipod.pod.record import ContainerRecord, ContainerState, ExitInfo, PodRecord

RUNNING, STARTING, TERMINATED = ContainerState.RUNNING, ContainerState.STARTING, ContainerState.TERMINATED


def should_restart(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


class PodWorker:
    def __init__(self, manager, record: PodRecord):
        self.m = manager
        self.record = record
        self.wake = asyncio.Event()
        self.finished = asyncio.Event()
        self.changed = asyncio.Event()
        self.exits = asyncio.Event()  # set (and replaced) whenever a watched process exits
        self.probes: dict[str, probes.ContainerProbes] = {}  # container ID -> its probes
        self.pidfds: dict[int, int] = {}  # pid -> pidfd we are watching
        self.task: asyncio.Task | None = None

    # --- small helpers ------------------------------------------------------
    @property
    def rt(self) -> rec.PodRuntime:
        return self.record.runtime

    @property
    def key(self) -> tuple[str, str]:
        return self.record.key

    @property
    def name(self) -> str:
        return self.record.name

    def event(self, etype: str, reason: str, message: str, container: str | None = None):
        self.m.events.record(self.record.pod, etype, reason, message, container)

    def all_containers(self) -> list[ContainerRecord]:
        return self.rt.all_containers()

    def spec_of(self, c: ContainerRecord) -> dict:
        return self.record.spec_of(c)

    def save(self) -> None:
        # When each condition flipped: lastTransitionTime in the status.
        rec.note_conditions(self.rt, podstatus.condition_values(self.record), rfc3339())
        self.m.pod_saved(self.record)  # the API's store gives it its resourceVersion
        self.m.store.save(self.record)
        self.changed.set()  # wake whoever waits for this pod's status
        self.changed = asyncio.Event()

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run())

    def changed_status(self) -> None:
        """A probe changed `ready` or `started`: save, tell the waiters, and
        let the worker look again (a started sidecar lets the next init
        container go)."""
        self.save()
        self.wake.set()

    async def wait_change(self, timeout: float) -> None:
        """Sleep until a watched process exits, or `timeout` seconds."""
        try:
            await asyncio.wait_for(self.exits.wait(), max(timeout, 0.0))
        except asyncio.TimeoutError:
            pass

    def kill_in_background(self, c: ContainerRecord, message: str, grace: float | None = None) -> None:
        """Stop a container (a failed probe or hook); its exit then goes
        through the restart policy like any other exit."""
        if grace is None:
            grace = self.record.grace_period()
        asyncio.get_running_loop().create_task(
            termination.stop_container(self, c, time.time() + grace, message)
        )

    # --- the loop -------------------------------------------------------------
    async def run(self) -> None:
        while True:
            self.wake.clear()
            try:
                timeout = await self.sync()
            except Exception as e:  # noqa: BLE001 - a pod must never take the daemon down
                self.m.log(f"pod {self.name}: sync failed: {type(e).__name__}: {e}")
                self.event("Warning", "FailedSync", f"error syncing pod: {e}")
                timeout = self.m.backoff_base
            if self.finished.is_set():
                # Gone: also after a daemon restart, when no delete request
                # is waiting for it any more.
                self.m.forget(*self.key)
                return
            try:
                await asyncio.wait_for(self.wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    async def sync(self) -> float | None:
        if self.record.metadata.get("deletionTimestamp"):
            await self.terminate()
            return None
        if self.rt.refusal is not None or self.rt.scheduled is False:
            return None  # held Pending or rejected at admission (scheduler.py): nothing runs
        if not namespaces.alive(self.rt.init.pid, self.rt.init.start):
            await self.ensure_sandbox()
        if not self.record.spec.get("hostNetwork") and self.rt.network.state != "ready":
            await self.ensure_network()
        timers: list[float | None] = []
        policy = self.record.spec["restartPolicy"]
        if podstatus.phase(self.record) in ("Succeeded", "Failed"):
            await self.sync_sidecars()  # nothing left for them to help: stop them
            self.save()
            self.m.schedule()  # its requests are free for the pods waiting
            return None
        for c in self.rt.init_containers:
            if c.sidecar:
                # A sidecar (restartPolicy: Always) lets the next init
                # container start once it has started; it keeps running.
                if not c.active:
                    timers.append(await self.maybe_start(c))
                if c.state == RUNNING and c.started:
                    continue
                break
            if c.succeeded:
                continue
            if c.active:
                break
            if c.state == TERMINATED and policy == "Never":
                break
            timers.append(await self.maybe_start(c))
            break
        else:
            for c in self.rt.containers:
                if c.active:
                    continue
                if c.state == TERMINATED and not should_restart(policy, c.exit_code or 0):
                    continue
                timers.append(await self.maybe_start(c))
            timers += await self.sync_sidecars()
        self.save()
        due = [t for t in timers if t is not None]
        return min(due) if due else None

    async def sync_sidecars(self) -> list[float | None]:
        """Sidecars restart whenever they exit, until the app containers are
        all done for good; then they are stopped, last started first, and
        do not count for the pod's phase."""
        policy = self.record.spec["restartPolicy"]
        sidecars = [c for c in self.rt.init_containers if c.sidecar]
        done = podstatus.phase(self.record) in ("Succeeded", "Failed") or all(
            c.state == TERMINATED and not should_restart(policy, c.exit_code or 0) for c in self.rt.containers
        )
        if done:
            deadline = time.time() + self.record.grace_period()
            for c in reversed(sidecars):
                c.no_restart = True
                await termination.stop_container(self, c, deadline, f"Stopping container {c.name}")
            return []
        return [await self.maybe_start(c) for c in sidecars if not c.active and not c.no_restart]

    # --- the sandbox ----------------------------------------------------------
    async def ensure_sandbox(self) -> None:
        """Step 2: the pod's directories, files and namespaces."""
        meta, spec = self.record.metadata, self.record.spec
        dirs = self.m.pod_dirs(self.record)
        lost = self.rt.init.pid is not None
        if lost:
            self.event("Normal", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
            for c in self.all_containers():
                if c.active:
                    self.finish(
                        c,
                        ExitInfo(
                            exit_code=137,
                            finished_epoch=time.time(),
                            reason="ContainerStatusUnknown",
                            message="The container could not be located when the pod sandbox was lost",
                        ),
                    )
            await self.teardown_network()
            # A failed sandbox: whatever is left of it dies with its cgroup.
            await pod_cgroups.teardown_pod(self.m.cgroups, self.record)
        for d in (
            dirs["run"],
            dirs["shm"],
            dirs["memory_volumes"],
            dirs["disk_volumes"],
            dirs["logs"],
            dirs["init_root"],
        ):
            os.makedirs(d, exist_ok=True)
        volumes = spec.get("volumes") or []
        memory = [
            path_in(dirs["memory_volumes"], v["name"])
            for v in volumes
            if "emptyDir" in v and (v["emptyDir"] or {}).get("medium") == "Memory"
        ]
        pod_sc = spec.get("securityContext") or {}
        for v in volumes:
            if "emptyDir" in v:
                # World-writable, as the kubelet makes every emptyDir (0777,
                # whatever the umask), so a non-root container can use it.
                path = containers.volume_source(self.record.pod, v["name"], dirs)
                os.makedirs(path, exist_ok=True)
                os.chmod(path, 0o777)
                if pod_sc.get("fsGroup") is not None:
                    volume_ownership.apply(path, pod_sc["fsGroup"], pod_sc.get("fsGroupChangePolicy"))
        if spec.get("hostNetwork"):
            self.rt.pod_ip = self.rt.host_ip
        podfiles.write_pod_files(self.record.pod, self.rt.pod_ip, dirs["run"], self.m.peers(self))
        sandbox = await namespaces.create_sandbox(
            {
                "name": self.name,
                "uid": meta["uid"],
                "hostname": podfiles.hostname_of(self.record.pod),
                "host_network": spec.get("hostNetwork"),
                "host_ipc": spec.get("hostIPC"),
                "host_pid": spec.get("hostPID"),
                "shm_dir": dirs["shm"],
                "memory_volumes": memory,
                "sysctls": pod_sysctls(self.record.pod),
                # emptyDir.sizeLimit of a memory volume: the tmpfs's size.
                "memory_volume_sizes": {
                    path_in(dirs["memory_volumes"], v["name"]): resources.empty_dir_size_limit(v)
                    for v in volumes
                    if "emptyDir" in v
                },
                "init_root": dirs["init_root"],
                "cgroup_procs": pod_cgroups.setup_pod(self.m.cgroups, self.record, self.m.pids_limit),
            }
        )
        pid = sandbox.pid
        self.rt.init = rec.Process(pid, namespaces.start_time(pid))
        if self.rt.start_time is None:
            self.rt.start_time = rfc3339()
        self.watch(pid)
        self.save()  # written down: now the init may run (a crash before: it exits)
        await sandbox.release()

    async def ensure_network(self) -> None:
        """The pod's IP: pin its netns and run the CNI ADD chain (network.py).
        The record says "adding" before the first plugin runs, so a daemon
        killed half-way DELs what may exist before it adds again."""
        net = self.rt.network
        if net.state in ("adding", "deleting"):
            await self.teardown_network()
        uid = self.record.metadata["uid"]
        net.state, net.netns, net.conflist = (
            "adding",
            os.path.join(self.m.inst.run, "netns", uid),
            self.m.conflist,
        )
        net.result = None
        self.save()
        assert net.netns is not None and net.conflist is not None
        try:
            async with self.m.net_lock:
                began = time.perf_counter()
                result = await network.setup_pod_network(
                    net.conflist, self.record.pod, self.rt.init.pid, net.netns
                )
            # What the network costs this pod (pin + every plugin's ADD):
            # `minipod inspect` shows it, bench/ reports its median.
            net.setup_seconds = round(time.perf_counter() - began, 6)
        except Exception as e:
            network.unpin_netns(net.netns)
            net.state = "failed"
            self.event(
                "Warning",
                "FailedCreatePodSandBox",
                f"Failed to create pod sandbox: failed to set up the pod network: {e}",
            )
            self.save()
            raise
        net.state, net.result = "ready", result
        self.rt.pod_ip = network.pod_ip(result)
        self.save()
        # The pod's own "IP hostname" line now, before any container starts
        # (a program may resolve its own name first thing); the other pods'
        # files follow a moment later.
        podfiles.write_hosts(
            self.record.pod, self.rt.pod_ip, self.m.pod_dirs(self.record)["run"], self.m.peers(self)
        )
        self.m.hosts_changed()

    async def teardown_network(self) -> None:
        """CNI DEL of the pod's network (idempotent: safe to repeat)."""
        net = self.rt.network
        if net.state in (None, "deleted"):
            return
        net.state = "deleting"
        self.save()
        try:
            await network.teardown_pod_network(net.conflist, self.record.pod, net.netns, net.result)
        except Exception as e:  # noqa: BLE001 - report, and go on removing the pod
            self.event("Warning", "FailedKillPod", f"error tearing down the pod network: {e}")
        net.state = "deleted"
        self.rt.pod_ip = None
        self.save()

    # --- containers -----------------------------------------------------------
    async def maybe_start(self, c: ContainerRecord) -> float | None:
        """Start `c` unless it is in back-off; return seconds until a retry."""
        now = time.time()
        if c.retry_at is not None and c.retry_at > now:
            if c.reason == "ErrImagePull":
                # As the kubelet: the failure first, then the wait for the retry.
                image = self.spec_of(c)["image"]
                c.reason, c.message = "ImagePullBackOff", f'Back-off pulling image "{image}": {c.message}'
                self.event("Normal", "BackOff", f'Back-off pulling image "{image}"', c.name)
            return c.retry_at - now
        if c.state == TERMINATED:
            # The kubelet's doBackOff(): the first restart is immediate; after
            # that the container waits `backoff` seconds from its last exit.
            finished = c.finished_epoch if c.finished_epoch is not None else now
            if (
                c.backoff
                and now - finished < c.backoff
                and finished - (c.backoff_updated or 0) <= 2 * self.m.backoff_max
            ):
                meta = self.record.metadata
                rec.to_waiting(
                    c,
                    "CrashLoopBackOff",
                    f"back-off {c.backoff:g}s restarting failed container="
                    f"{c.name} pod={meta['name']}_{meta['namespace']}({meta['uid']})",
                    retry_at=finished + c.backoff,
                )
                self.event("Warning", "BackOff", "Back-off restarting failed container", c.name)
                return finished + c.backoff - now
            self.next_backoff(c, finished)
        elif c.state == ContainerState.WAITING and c.last and c.reason == "CrashLoopBackOff":
            self.next_backoff(c, c.last.finished_epoch if c.last.finished_epoch is not None else now)
        return await self.start_container(c)

    def next_backoff(self, c: ContainerRecord, finished: float) -> None:
        if not c.backoff or finished - (c.backoff_updated or 0) > 2 * self.m.backoff_max:
            c.backoff = self.m.backoff_base
        else:
            c.backoff = min(2 * c.backoff, self.m.backoff_max)
        c.backoff_updated = time.time()

    async def start_container(self, c: ContainerRecord) -> float | None:
        spec = self.spec_of(c)
        try:
            image = await self.m.ensure_image(self, c, spec)
        except MinipodError as e:
            # Image pulls back off like restarts: base, doubling, capped.
            delay = min(2 * c.pull_backoff, self.m.backoff_max) if c.pull_backoff else self.m.backoff_base
            rec.to_waiting(c, getattr(e, "reason", "ErrImagePull"), str(e), retry_at=time.time() + delay)
            c.pull_backoff = delay
            self.event("Warning", "Failed", str(e), c.name)
            # Look again soon: the status then turns to ImagePullBackOff for
            # the rest of the wait, as the kubelet shows it.
            return min(delay / 2, 1.0)
        c.pull_backoff = None
        dirs = self.m.pod_dirs(self.record)
        old_id = c.id
        if old_id:
            # The previous instance's writable layer: a restarted container
            # starts from the image again, as in Kubernetes.
            shutil.rmtree(os.path.join(dirs["containers"], old_id), ignore_errors=True)
        cid = uuid.uuid4().hex + uuid.uuid4().hex
        rec.to_starting(c, cid, image.ref, image_id(image), (image.config or {}).get("StopSignal"))
        instance = containers.Instance(
            id=cid,
            log_path=path_in(dirs["logs"], c.name, f"{c.restart_count}.log"),
            exit_file=os.path.join(dirs["run"], "exits", f"{cid}.json"),
            termination_file=os.path.join(dirs["run"], "termination", cid),
            init_pid=self.rt.init.pid or 0,
            pod_ip=self.rt.pod_ip or "",
            host_ip=self.rt.host_ip,
        )
        c.log_path, c.exit_file, c.termination_file = (
            instance.log_path,
            instance.exit_file,
            instance.termination_file,
        )
        for path in (c.log_path, c.exit_file, c.termination_file):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        open(c.termination_file, "w").close()
        try:
            self.m.api_access.write_files(self.record.pod, dirs["run"])  # the kube-api-access volume
            plan = containers.build_plan(
                self.record.pod, spec, image, instance, dirs, self.m.shim, self.m.node
            )
            self.m.api_access.add_env(spec, plan["env"])  # KUBERNETES_SERVICE_HOST, ...
        except (MinipodError, OSError) as e:
            rec.to_waiting(
                c,
                getattr(e, "reason", "CreateContainerConfigError"),
                str(e),
                retry_at=time.time() + self.m.backoff_base,
            )
            self.event("Warning", "Failed", f"Error: {e}", c.name)
            return self.m.backoff_base
        # Its cgroup, joined before execve; the previous instance's goes.
        plan["cgroup_procs"] = pod_cgroups.setup_container(self.m.cgroups, self.record, spec, c, old_id)
        c.env = plan["env"]  # what `exec` and exec probes run with, as runc keeps it
        self.save()  # a restarted daemon finds "starting" and looks for the monitor
        self.event("Normal", "Created", f"Created container {c.name}", c.name)
        result = await process.launch(plan)
        return await self.launched(c, result)

    async def launched(self, c: ContainerRecord, result: process.LaunchResult) -> float | None:
        if result.pid:
            c.process = rec.Process(result.pid, namespaces.start_time(result.pid))
        if result.monitor:
            c.monitor = rec.Process(result.monitor, namespaces.start_time(result.monitor))
        c.started_epoch = time.time()
        if result.ok:
            if not self.watch(result.monitor):
                self.collect_exit(c)
            await self.post_start(c)
            return None
        if result.reason == process.START_ERROR:
            # execve() failed: the container ran (and exited 128), as with runc.
            self.event("Warning", "Failed", f"Error: {result.message}", c.name)
            self.finish(
                c,
                ExitInfo(
                    exit_code=128, finished_epoch=time.time(), reason="StartError", message=result.message
                ),
            )
            self.wake.set()
            return None
        rec.to_waiting(
            c,
            result.reason or process.CREATE_ERROR,
            result.message,
            retry_at=time.time() + self.m.backoff_base,
        )
        self.event("Warning", "Failed", f"Error: {result.message}", c.name)
        return self.m.backoff_base

    async def post_start(self, c: ContainerRecord) -> None:
        """The postStart hook runs before the container counts as Running;
        if it fails, the container is killed (and restarted per policy).
        Then the container's probes start."""
        cid, spec = c.id, self.spec_of(c)
        hook = (spec.get("lifecycle") or {}).get("postStart")
        if hook:
            ok, out = await handlers.run_handler(self, c, hook, max(self.record.grace_period(), 1))
            if c.id != cid or c.state != STARTING:
                return  # it exited while the hook ran
            if not ok:
                self.event("Warning", "FailedPostStartHook", f"PostStartHook failed: {out}", c.name)
                rec.to_running(c, hook_failed=True)
                self.kill_in_background(c, f"FailedPostStartHook: {out}")
                return
        if c.id != cid or c.state != STARTING:
            return
        rec.to_running(c)
        self.event("Normal", "Started", f"Started container {c.name}", c.name)
        self.start_probes(c)

    def start_probes(self, c: ContainerRecord, adopted: bool = False) -> None:
        assert c.id is not None
        p = probes.ContainerProbes(self, c, self.spec_of(c))
        self.probes[c.id] = p
        p.start(adopted)

    def stop_probes(self, c: ContainerRecord) -> None:
        p = self.probes.pop(c.id or "", None)
        if p:
            p.stop()

    def finish(self, c: ContainerRecord, info: ExitInfo) -> None:
        """Record that a container's process is gone."""
        if c.state != TERMINATED:
            rec.to_terminated(c, info)
            c.message = info.message or termination_message(self, c)
        self.stop_probes(c)
        c.retry_at = None

    def collect_exit(self, c: ContainerRecord) -> bool:
        """Read the monitor's exit file for `c`; False if there is none yet."""
        try:
            with open(c.exit_file or "") as f:
                info = json.load(f)
        except (OSError, ValueError, KeyError):
            return False
        if c.reason == "StartError" or c.state == TERMINATED:
            return True
        finished = info.get("finishedAt")
        exit_info = ExitInfo(
            exit_code=info.get("exitCode", 0),
            finished_epoch=parse_rfc3339(finished) if finished else time.time(),
            signal=info.get("signal"),
            reason=info.get("reason"),
            message=info.get("message"),
        )
        if pod_cgroups.oom_killed(self.m.cgroups, self.record, c):
            # The cgroup's own OOM counter says so, not a guess from 137.
            exit_info.reason, exit_info.exit_code = "OOMKilled", 137
            limit = ((self.spec_of(c).get("resources") or {}).get("limits") or {}).get("memory")
            self.event(
                "Warning",
                "OOMKilling",
                f"Container {c.name} was killed by the OOM killer: memory limit {limit}",
                c.name,
            )
        self.finish(c, exit_info)
        return True

    def watch(self, pid: int | None) -> bool:
        """Wake the worker when `pid` exits (pidfd_open(2) + the event loop)."""
        if not pid or pid in self.pidfds:
            return bool(pid)
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            return False
        self.pidfds[pid] = fd
        asyncio.get_running_loop().add_reader(fd, self.on_exit, pid)
        return True

    def unwatch(self, pid: int) -> None:
        fd = self.pidfds.pop(pid, None)
        if fd is not None:
            asyncio.get_running_loop().remove_reader(fd)
            os.close(fd)

    def on_exit(self, pid: int) -> None:
        self.unwatch(pid)
        for c in self.all_containers():
            if c.monitor.pid == pid and c.active:
                if not self.collect_exit(c):
                    self.finish(
                        c,
                        ExitInfo(
                            exit_code=137,
                            finished_epoch=time.time(),
                            reason="ContainerStatusUnknown",
                            message="the container's monitor exited without a status",
                        ),
                    )
        self.exits.set()
        self.exits = asyncio.Event()
        self.wake.set()

    # --- termination ------------------------------------------------------------
    async def terminate(self) -> None:
        """A pod being deleted: stop everything (termination.py), then
        remove what the pod had."""
        for c in self.all_containers():
            self.stop_probes(c)
        await termination.terminate_pod(self)
        # Whatever escaped the pod init's pid namespace (a hostPID pod's
        # setsid child, a double fork) dies with the pod's cgroup.
        await pod_cgroups.teardown_pod(self.m.cgroups, self.record)
        for pid in list(self.pidfds):
            self.unwatch(pid)
        self.m.remove_pod_files(self.record)
        self.finished.set()


def termination_message(worker, c: ContainerRecord) -> str | None:
    """The container's terminationMessagePath file (a per-container file
    the runtime mounted there), or with FallbackToLogsOnError the tail of
    its log when it failed without writing one."""
    spec = worker.spec_of(c)
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


def image_id(image) -> str:
    """REPOSITORY@DIGEST, the form the kubelet reports as imageID."""
    repo = image.ref.split("@")[0]
    if ":" in repo.rsplit("/", 1)[-1]:
        repo = repo.rsplit(":", 1)[0]
    return f"{repo}@{image.digest}"
