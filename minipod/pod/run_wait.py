"""What `minipod run` waits for: every pod it created ready or failed.

wait_running() looks at each pod's status (status.run_outcome) whenever
one of them changes, until every one is decided or the timeout passes.
"""

import asyncio
import time

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
    restartPolicy Always pod (a server) counts as soon as it runs."""
    deadline = time.time() + timeout
    outcomes: dict[str, list[str]] = {}
    running_since: dict[tuple[str, str], float] = {}
    while True:
        waits: list[asyncio.Event] = []
        now = time.time()
        for key in keys:
            w = workers.get(key)
            if w is None:
                outcomes[key[1]] = ["failed", "the pod was deleted"]
                continue
            pod = podstatus.pod_view(w.record)
            outcome = list(podstatus.run_outcome(pod))
            settling = (
                outcome[0] == "ready"
                and pod["status"]["phase"] == "Running"
                and w.record.spec["restartPolicy"] != "Always"
            )
            if settling and now - running_since.setdefault(key, now) < RUN_SETTLE:
                outcome = ["pending", ""]
            outcomes[key[1]] = outcome
            if outcome[0] == "pending":
                waits.append(w.changed)
        if not waits or now >= deadline:
            break
        # Wake on any change, or when the next settling pod is due.
        wake_at = min(
            [deadline] + [since + RUN_SETTLE for since in running_since.values() if since + RUN_SETTLE > now]
        )
        tasks = [asyncio.ensure_future(ev.wait()) for ev in waits]
        await asyncio.wait(tasks, timeout=max(wake_at - now, 0.001), return_when=asyncio.FIRST_COMPLETED)
        for t in tasks:
            t.cancel()
    return outcomes
