"""One pod's life: the worker that drives it towards its spec (the kubelet's
pod worker and SyncPod).

Each pod has a PodWorker, an asyncio task that wakes when something changes
(a container exited, a probe published a result, a back-off expired, a
delete was asked for) and runs sync(), which decides, then acts:
    1. apply what the probes published (started, ready) to the record;
    2. decide (decide.compute_pod_actions: pure, unit-tested): terminate,
       make the sandbox and network, kill, stop sidecars, start or wait;
    3. a pod being deleted is terminated (terminate(): sandbox_stop.py);
    4. a missing sandbox is made (sandbox_run.py; the containers of a lost
       one are marked ContainerStatusUnknown), then its network, and the
       pod is decided again;
    5. kills (a failed liveness or startup probe) run in the background;
       sidecars are stopped once the pod is done;
    6. each start (container_start.py) or wait (back-off) is carried out;
    7. the record is saved (with when each condition last changed), and
       the worker sleeps until the next wake-up or the earliest timer.

The worker never waits on a container directly: a container's parent is its
monitor (linux/launch.py), and the worker watches the monitor through a
pidfd, so a restarted daemon can watch the same monitor again.
"""

import asyncio
import os
import shutil
import time
from typing import TYPE_CHECKING, Any

from minipod import trace
from minipod.errors import MinipodError
from minipod.kube import reasons
from minipod.kube.times import rfc3339
from minipod.linux import launch as process
from minipod.linux import sandbox as namespaces
from minipod.pod import container_start, exits, pod_cgroups, probes, sandbox_run, sandbox_stop
from minipod.pod import decide as decider
from minipod.pod import etc_files as podfiles
from minipod.pod import record as rec
from minipod.pod import status as podstatus
from minipod.pod.container_stop import stop_container
from minipod.pod.events import PodEvents
from minipod.pod.record import ContainerRecord, ContainerState, ExitInfo, PodRecord

if TYPE_CHECKING:
    from minipod.pod.manager import PodManager


class PodWorker:
    def __init__(self, manager: "PodManager", record: PodRecord) -> None:
        self.m = manager
        self.record = record
        self.wake = asyncio.Event()
        self.finished = asyncio.Event()
        self.changed = asyncio.Event()
        self.exits = exits.Exits()  # wakes whoever waits for a container to stop
        self.events = PodEvents(manager.events, record.pod, manager.log)
        self.results = probes.ProbeResults(self.wake)  # what the probes publish
        self.probes: dict[str, probes.ContainerProbes] = {}  # container ID -> its probes
        self.pidfds = exits.PidWatch(self.on_exit)  # the monitors and the PID 1 we watch
        self.task: asyncio.Task[None] | None = None
        self.trace = trace.for_pod(*record.key)  # a traced request made it (minipod/trace.py)

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

    def event(self, etype: str, reason: str, message: str, container: str | None = None) -> None:
        self.events.emit(etype, reason, message, container)

    def all_containers(self) -> list[ContainerRecord]:
        return self.rt.all_containers()

    def container(self, name: str, init: bool) -> ContainerRecord:
        group = self.rt.init_containers if init else self.rt.containers
        return next(c for c in group if c.name == name)

    def spec_of(self, c: ContainerRecord) -> dict[str, Any]:
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

    # --- the loop -------------------------------------------------------------
    async def run(self) -> None:
        while True:
            self.wake.clear()
            try:
                timeout = await self.sync()
            except Exception as e:  # noqa: BLE001 - a pod must never take the daemon down
                self.m.log(f"pod {self.name}: sync failed: {type(e).__name__}: {e}")
                self.event(reasons.WARNING, reasons.FAILED_SYNC, f"error syncing pod: {e}")
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

    def decide(self) -> decider.PodActions:
        return decider.compute_pod_actions(
            self.record,
            self.results.failures,
            time.time(),
            decider.BackOffPolicy(self.m.backoff_base, self.m.backoff_max),
            sandbox_alive=namespaces.alive(self.rt.init.pid, self.rt.init.start),
        )

    async def sync(self) -> float | None:
        """Steps 1-7 of the module docstring; the seconds until the next
        look (None: only when woken)."""
        trace.use(self.trace)  # this task's steps, and its children's, go to the pod's trace if any
        self.apply_probe_results()  # 1
        actions = self.decide()  # 2
        if actions.terminate:  # 3
            await self.terminate()
            return None
        if actions.create_sandbox or actions.create_network:  # 4
            if actions.create_sandbox:
                await self.ensure_sandbox()
            if actions.create_network:
                await self.ensure_network()
            actions = self.decide()
        for kill in actions.kills:  # 5
            self.results.failures.pop(self.container(kill.container, kill.init).id or "", None)
            self.kill_in_background(self.container(kill.container, kill.init), kill.message, kill.grace)
        if actions.stop_sidecars:
            await sandbox_stop.stop_sidecars(self.record, self.events, self.exits, self.m.node)
        if actions.done:
            self.save()
            self.m.schedule()  # its requests are free for the pods waiting
            return None
        timers = [actions.wake_at - time.time()] if actions.wake_at is not None else []
        started = False
        for step in actions.steps:  # 6
            c = self.container(step.container, step.init)
            if isinstance(step, decider.ShowPullBackOff):
                image = self.spec_of(c)["image"]
                c.reason, c.message = (
                    reasons.IMAGE_PULL_BACK_OFF,
                    f'Back-off pulling image "{image}": {c.message}',
                )
                self.event(reasons.NORMAL, reasons.BACK_OFF, f'Back-off pulling image "{image}"', c.name)
            elif isinstance(step, decider.EnterBackOff):
                rec.to_waiting(c, reasons.CRASH_LOOP_BACK_OFF, step.message, retry_at=step.until)
                self.event(reasons.WARNING, reasons.BACK_OFF, "Back-off restarting failed container", c.name)
            elif isinstance(step, decider.Start):
                if step.backoff is not None:
                    c.backoff, c.backoff_updated = step.backoff, time.time()
                retry = await trace.in_container(c.name, self.start_container(c))
                if retry is None:
                    started = True
                else:
                    timers.append(retry)  # it could not start: look again then
        self.save()  # 7
        if started:
            return 0  # look again at once: what started may let more start
        due = [t for t in timers if t is not None]
        return max(min(due), 0) if due else None

    def apply_probe_results(self) -> None:
        probes.apply_results(self.record, self.results)

    def kill_in_background(self, c: ContainerRecord, message: str, grace: float | None = None) -> None:
        """Stop a container (a failed probe or hook); its exit then goes
        through the restart policy like any other exit."""
        deadline = time.time() + (self.record.grace_period() if grace is None else grace)
        asyncio.get_running_loop().create_task(
            stop_container(self.record, c, deadline, message, self.events, self.exits, self.m.node)
        )

    # --- the sandbox ----------------------------------------------------------
    async def ensure_sandbox(self) -> None:
        """Step 4: the pod's directories, files and namespaces."""
        if self.rt.init.pid is not None:
            self.event(
                reasons.NORMAL,
                reasons.SANDBOX_CHANGED,
                "Pod sandbox changed, it will be killed and re-created.",
            )
            for c in self.all_containers():
                if c.active:
                    self.finish(
                        c,
                        ExitInfo(
                            exit_code=137,
                            finished_epoch=time.time(),
                            reason=reasons.CONTAINER_STATUS_UNKNOWN,
                            message="The container could not be located when the pod sandbox was lost",
                        ),
                    )
            await self.teardown_network()
            # A failed sandbox: whatever is left of it dies with its cgroup.
            await pod_cgroups.teardown_pod(self.m.cgroups, self.record)
        if self.record.spec.get("hostUsers") is False and self.rt.user_range is None:
            # Written down before anything uses it: a range is never handed twice.
            self.rt.user_range = self.m.allocate_user_range()
            self.save()
        cgroup = pod_cgroups.pod_plan(self.m.cgroups, self.record, self.m.pids_limit)
        try:
            sandbox = await sandbox_run.run_sandbox(
                self.record, self.m.pod_dirs(self.record), self.m.cluster_dns, cgroup
            )
        except Exception:
            await pod_cgroups.remove_plan(self.m.cgroups, cgroup)  # nothing left behind
            raise
        pid = sandbox.pid
        self.rt.init = rec.Process(pid, namespaces.start_time(pid))
        if self.rt.start_time is None:
            self.rt.start_time = rfc3339()
        self.watch(pid)
        self.save()  # written down: now the init may run (a crash before: it exits)
        await sandbox.release()

    async def ensure_network(self) -> None:
        """The pod's IP (sandbox_run.add_network); a network left half-made
        by a killed daemon is removed first."""
        if self.rt.network.state in ("adding", "deleting"):
            await self.teardown_network()
        netns = os.path.join(self.m.inst.run, "netns", self.record.metadata["uid"])
        try:
            await sandbox_run.add_network(self.record, netns, self.m.conflist, self.m.net_lock, self.save)
        except Exception as e:
            self.event(
                reasons.WARNING,
                reasons.FAILED_CREATE_POD_SANDBOX,
                f"Failed to create pod sandbox: failed to set up the pod network: {e}",
            )
            raise
        # The pod's own "IP hostname" line now, before any container starts
        # (a program may resolve its own name first thing).
        run_dir = self.m.pod_dirs(self.record)["run"]
        podfiles.write_hosts(self.record.pod, self.rt.pod_ip, run_dir)

    async def teardown_network(self) -> None:
        try:
            await sandbox_run.remove_network(self.record, self.save)
        except Exception as e:  # noqa: BLE001 - report, and go on removing the pod
            self.event(reasons.WARNING, reasons.FAILED_KILL_POD, f"error tearing down the pod network: {e}")

    # --- containers -----------------------------------------------------------
    async def start_container(self, c: ContainerRecord) -> float | None:
        """Steps 1-5 of container_start.py; the seconds until a retry, if any."""
        try:
            image = await self.m.ensure_image(self, c, self.spec_of(c))
        except MinipodError as e:
            # Image pulls back off like restarts: base, doubling, capped.
            delay = min(2 * c.pull_backoff, self.m.backoff_max) if c.pull_backoff else self.m.backoff_base
            rec.to_waiting(
                c, getattr(e, "reason", reasons.ERR_IMAGE_PULL), str(e), retry_at=time.time() + delay
            )
            c.pull_backoff = delay
            self.event(reasons.WARNING, reasons.FAILED, str(e), c.name)
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
        self.results.forget(old_id or "")
        spec = self.spec_of(c)
        try:
            self.m.api_access.write_files(self.record.pod, dirs["run"])  # the kube-api-access volume
            declared = self.m.config.prepare(self.record, c, self.events)  # config volumes, env refs
            with trace.span("prepare", "its log, its mounts, its launch plan"):
                plan = container_start.prepare(
                    self.record, c, image, dirs, self.m.shim, self.m.node, declared
                )
            self.m.api_access.add_env(spec, plan["env"], self.record.pod)  # KUBERNETES_SERVICE_HOST, ...
        except (MinipodError, OSError) as e:
            # A configuration the kubelet refuses (CreateContainerConfigError),
            # or one it cannot carry out (CreateContainerError: its `reason`);
            # a volume not set up waits as ContainerCreating (its FailedMount event is out).
            why = getattr(e, "reason", reasons.CREATE_CONTAINER_CONFIG_ERROR)
            rec.to_waiting(c, why, str(e), retry_at=time.time() + self.m.backoff_base)
            if why != reasons.CONTAINER_CREATING:
                self.event(reasons.WARNING, reasons.FAILED, f"Error: {e}", c.name)
            return self.m.backoff_base
        # Its cgroup, made and joined by its process before execve; the
        # previous instance's goes.
        if old_id:
            await pod_cgroups.remove_instance(self.m.cgroups, self.record, old_id)
        plan["cgroup"] = pod_cgroups.container_plan(self.m.cgroups, self.record, spec, c)
        self.save()  # a restarted daemon finds "starting" and looks for the monitor
        self.event(reasons.NORMAL, reasons.CREATED, f"Created container {c.name}", c.name)
        result = await process.launch(plan)
        if result.exec_ns:  # it reported when execve began; the pipe's EOF says it is done
            trace.mark("execve", " ".join(plan["argv"])[:200], start_ns=result.exec_ns)
        outcome = container_start.launched(c, result, self.events, time.time() + self.m.backoff_base)
        if outcome == container_start.Launched.FAILED:
            await pod_cgroups.remove_plan(self.m.cgroups, plan["cgroup"])  # nothing left behind
            return self.m.backoff_base
        if outcome == container_start.Launched.EXITED:
            c.message = c.message or container_start.termination_message(self.record, c)
            return None
        if not self.watch(result.monitor):
            self.collect_exit(c)
        with trace.span("postStart and Started", c.name):
            kill_reason = await container_start.post_start(self.record, c, self.events, self.m.node)
        if kill_reason:
            self.kill_in_background(c, kill_reason)
        elif c.state == ContainerState.RUNNING and c.ever_started:
            self.start_probes(c)
        return None

    def start_probes(self, c: ContainerRecord, adopted: bool = False) -> None:
        """A new container starts not ready, and not started if it has a
        startup probe; an adopted one keeps what it had."""
        assert c.id is not None
        spec = self.spec_of(c)
        if not adopted:
            c.started = "startupProbe" not in spec
            c.ready = "readinessProbe" not in spec
        p = probes.ContainerProbes(self.record, c, self.events, self.results, self.m.node)
        self.probes[c.id] = p
        p.start()

    def stop_probes(self, c: ContainerRecord) -> None:
        p = self.probes.pop(c.id or "", None)
        if p:
            p.stop()

    def finish(self, c: ContainerRecord, info: ExitInfo) -> None:
        """Record that a container's process is gone."""
        if c.state != ContainerState.TERMINATED:
            if c.started_epoch:  # (traced pods: how long it ran)
                trace.mark(
                    "ran", f"exit code {info.exit_code}", trace.monotonic_of_epoch(c.started_epoch), c.name
                )
            rec.to_terminated(c, info)
            c.message = info.message or container_start.termination_message(self.record, c)
        self.stop_probes(c)
        c.retry_at = None

    def collect_exit(self, c: ContainerRecord) -> bool:
        """Read the monitor's exit file for `c`; False if there is none yet."""
        info = exits.read_exit_file(c)
        if info is None:
            return False
        if c.reason == reasons.START_ERROR or c.state == ContainerState.TERMINATED:
            return True
        if pod_cgroups.oom_killed(self.m.cgroups, self.record, c):
            # The cgroup's own OOM counter says so, not a guess from 137.
            info.reason, info.exit_code = reasons.OOM_KILLED, 137
            limit = ((self.spec_of(c).get("resources") or {}).get("limits") or {}).get("memory")
            self.event(
                reasons.WARNING,
                reasons.OOM_KILLING,
                f"Container {c.name} was killed by the OOM killer: memory limit {limit}",
                c.name,
            )
        self.finish(c, info)
        return True

    def watch(self, pid: int | None) -> bool:
        """Wake the worker when `pid` exits (exits.PidWatch)."""
        return self.pidfds.watch(pid)

    def unwatch(self, pid: int) -> None:
        self.pidfds.unwatch(pid)

    def on_exit(self, pid: int) -> None:
        for c in self.all_containers():
            if c.monitor.pid == pid and c.active and not self.collect_exit(c):
                # The shim writes its own failure beside the exit file.
                failure = exits.monitor_failure(c)
                self.finish(
                    c,
                    ExitInfo(
                        exit_code=137,
                        finished_epoch=time.time(),
                        reason=reasons.CONTAINER_STATUS_UNKNOWN,
                        message=f"the container's monitor failed: {failure}"
                        if failure
                        else "the container's monitor exited without a status",
                    ),
                )
                self.m.log(f"pod {self.name}: container {c.name}: {c.message}")
        self.exits.notify()
        self.wake.set()

    # --- termination ------------------------------------------------------------
    async def terminate(self) -> None:
        """A pod being deleted (sandbox_stop.py): stop its containers, its
        network, its sandbox; then remove what the pod had."""
        for c in self.all_containers():
            self.stop_probes(c)
        with trace.span("stop containers", "preStop, the stop signal, SIGKILL after the grace period"):
            await sandbox_stop.stop_containers(self.record, self.events, self.exits, self.m.node)
        await self.teardown_network()
        with trace.span("kill the pod init", "SIGKILL: its namespaces go with it"):
            await sandbox_stop.kill_sandbox(self.record)
        # Whatever escaped the pod init's pid namespace (a hostPID pod's
        # setsid child, a double fork) dies with the pod's cgroup.
        with trace.span("cgroup teardown", "cgroup.kill, then rmdir"):
            await pod_cgroups.teardown_pod(self.m.cgroups, self.record)
        self.pidfds.close()
        with trace.span("remove the pod's files"):
            await self.m.remove_pod_files(self.record)
        self.finished.set()
