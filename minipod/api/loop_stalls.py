"""How long the daemon's event loop stalls: a heartbeat that times itself.

Every pod's worker is a task on the daemon's one event loop: while one of
them runs something synchronous (a mkdir, a netlink round trip, a JSON
dump), no other pod moves. A heartbeat task asks to wake every INTERVAL
and writes down how late it woke: each lateness is a stall, the time the
loop was busy past the heartbeat's turn. bench/ reads them around a burst
of pod starts (loop stall per pod start: median, p99, max).

Steps:
    1. the first GET /minipod/v1/debug/loop starts the heartbeat (it is
       off until someone measures: its wake-ups are not free);
    2. the heartbeat appends each lateness, in ms, to a bounded ring and
       counts them;
    3. GET /minipod/v1/debug/loop?since=N answers the samples numbered N
       and later, and `next`, the number to ask from next time.
"""

import asyncio
import collections
import time

from aiohttp import web

from minipod.api.status import query_int

INTERVAL = 0.002  # seconds between heartbeats
KEEP = 200_000  # samples kept: minutes of a busy loop


class LoopStalls:
    def __init__(self) -> None:
        self.samples: collections.deque[float] = collections.deque(maxlen=KEEP)
        self.count = 0  # samples ever taken: the number of the next one
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._beat())

    async def _beat(self) -> None:
        while True:
            due = time.perf_counter() + INTERVAL
            await asyncio.sleep(INTERVAL)
            self.samples.append(max(time.perf_counter() - due, 0.0) * 1000)
            self.count += 1

    def since(self, n: int) -> list[float]:
        first = self.count - len(self.samples)  # the number of the oldest kept
        return list(self.samples)[max(n - first, 0) :]


STALLS = LoopStalls()


async def loop_stalls(request: web.Request) -> web.Response:
    """Step 1 and 3."""
    since = query_int(request, "since", 0, minimum=0) or 0
    STALLS.start()
    return web.json_response(
        {"intervalMs": INTERVAL * 1000, "next": STALLS.count, "stallsMs": STALLS.since(since)}
    )
