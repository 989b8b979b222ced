"""A restarted daemon takes its pods back (recovery after a SIGKILL, an
upgrade in place, a reboot of the daemon alone).

adopt(worker), for a pod whose record was just loaded (record_file.from_json,
which migrates older formats), in order:
    1. watch the pod's PID 1 again (if it died meanwhile, the worker's
       first sync makes a new sandbox);
    2. each container that was running or starting: a live monitor (pid
       *and* start time match) is watched again and its probes restart,
       keeping the `started`/`ready` it had; a container the daemon was
       still starting when it died is found by its monitor's command line;
       one that exited meanwhile reports the exit its monitor wrote down;
       one with no trace is ContainerStatusUnknown, as the kubelet says.
"""

import os
import time

from minipod.kube import reasons
from minipod.linux import sandbox as namespaces
from minipod.pod import exits
from minipod.pod import record as rec
from minipod.pod.record import ContainerRecord
from minipod.pod.worker import PodWorker


def adopt(worker: PodWorker) -> None:
    """Steps 1 and 2."""
    init = worker.record.runtime.init
    if init.pid:
        worker.watch(init.pid)
    for c in worker.all_containers():
        adopt_container(worker, c)


def adopt_container(worker: PodWorker, c: ContainerRecord) -> None:
    """Step 2 for one container."""
    if not c.active:
        return
    # A container the killed daemon was still starting counts as just
    # started: its probes begin from scratch (started/ready unknown yet).
    was_starting = c.state == rec.ContainerState.STARTING
    if was_starting and not c.monitor.pid:
        # The daemon died between fork and report: find the monitor by
        # the exit file it was given on its command line.
        found = find_monitor(c.exit_file or "")
        if found:
            c.monitor = rec.Process(found[0], namespaces.start_time(found[0]))
            c.process = rec.Process(found[1], namespaces.start_time(found[1]))
            c.started_epoch = time.time()
    if namespaces.alive(c.monitor.pid, c.monitor.start):
        rec.to_running(c)
        worker.watch(c.monitor.pid)
        worker.start_probes(c, adopted=not was_starting)
    elif not worker.collect_exit(c):
        if was_starting and not c.monitor.pid:
            rec.to_waiting(c, reasons.CONTAINER_CREATING, None)
        else:
            failure = exits.monitor_failure(c)
            worker.finish(
                c,
                rec.ExitInfo(
                    exit_code=137,
                    finished_epoch=time.time(),
                    reason=reasons.CONTAINER_STATUS_UNKNOWN,
                    message=f"the container's monitor failed: {failure}"
                    if failure
                    else "The container could not be located when the daemon restarted",
                ),
            )


def find_monitor(exit_file: str) -> tuple[int, int] | None:
    """(monitor pid, container pid) of the monitor told to write `exit_file`."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if len(argv) > 3 and argv[1] == "monitor" and argv[3] == exit_file:
            return int(entry), int(argv[2])
    return None
