"""What `minipod run` waits for: every pod it created ready or failed.

wait_running() looks at each pod's status (status.run_outcome) whenever
one of them changes, until every one is decided or the timeout passes.
"""

import asyncio
import time
from typing import Any

from minipod.pod import status as podstatus
from minipod.pod.worker import PodWorker

# How long `minipod run` watches a run-to-completion pod after it started.
RUN_SETTLE = 0.5


async def wait_running(
    workers: dict[tuple[str, str], PodWorker], keys: list[tuple[str, str]], timeout: float
) -> dict[str, list[str]]:
    """Wait until every pod is ready or failed (podstatus.run_outcome),
    or `timeout` passes; return {name: [outcome, why]}.

    A run-to-completion pod (restartPolicy Never or OnFailure) must stay
    Running for RUN_SETTLE seconds to count: its command may end at
    once, and then what the user wants to hear is how it ended. A
    restartPolicy Always pod (a server) counts as soon as it runs.

    Each pod's outcome is computed again only when that pod changed (its
    worker's `changed` event fired) or its settling time is up: a file of
    N pods costs N outcomes per change, not N per change of any pod."""
    deadline = time.time() + timeout
    outcomes: dict[str, list[str]] = {}
    running_since: dict[tuple[str, str], float] = {}
    dirty = set(keys)
    wake = asyncio.Event()
    waiters: list[asyncio.Task[Any]] = []
    watched: dict[tuple[str, str], asyncio.Event] = {}

    def watch(key: tuple[str, str], changed: asyncio.Event) -> None:
        if watched.get(key) is changed:
            return  # already waited on (a settling pod's timer woke us)
        watched[key] = changed

        def fired(_: object) -> None:
            dirty.add(key)
            wake.set()

        waiter = asyncio.ensure_future(changed.wait())
        waiter.add_done_callback(fired)
        waiters.append(waiter)

    try:
        while True:
            now = time.time()
            dirty.update(running_since)  # settling pods: their time may be up
            for key in sorted(dirty):
                outcomes[key[1]] = _outcome(workers.get(key), key, running_since, now)
                if key in workers:
                    watch(key, workers[key].changed)
            dirty.clear()
            if all(o[0] != "pending" for o in outcomes.values()) or now >= deadline:
                break
            # Wake on any change, or when the next settling pod is due.
            due = [since + RUN_SETTLE for since in running_since.values() if since + RUN_SETTLE > now]
            wake.clear()
            try:
                await asyncio.wait_for(wake.wait(), max(min([deadline, *due]) - now, 0.001))
            except asyncio.TimeoutError:
                pass
    finally:
        for waiter in waiters:
            waiter.cancel()
    return outcomes


def _outcome(
    w: PodWorker | None, key: tuple[str, str], running_since: dict[tuple[str, str], float], now: float
) -> list[str]:
    if w is None:
        running_since.pop(key, None)
        return ["failed", "the pod was deleted"]
    pod = podstatus.pod_view(w.record)
    outcome = list(podstatus.run_outcome(pod))
    settling = (
        outcome[0] == "ready"
        and pod["status"]["phase"] == "Running"
        and w.record.spec["restartPolicy"] != "Always"
    )
    if not settling:
        running_since.pop(key, None)
        return outcome
    if now - running_since.setdefault(key, now) < RUN_SETTLE:
        return ["pending", ""]
    return outcome
