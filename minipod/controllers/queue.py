"""A work queue of keys, as client-go's workqueue: what a controller must
look at next.

Three promises, in the order a key meets them:
    1. de-duplication: a key waiting in the queue is there once, however
       many changes named it (a controller reads the *current* state, so
       one look covers them all);
    2. one at a time: a key being worked on is not handed out again; if it
       is added meanwhile, it waits and comes back once the work is done;
    3. rate-limited retries: a key whose work failed comes back after
       BASE_DELAY * 2**failures seconds (at most MAX_DELAY); forget()
       resets its count once it succeeds.
add_after() brings a key back later (a controller waiting for
minReadySeconds or a progress deadline).
"""

import asyncio
from collections import deque

BASE_DELAY = 0.005  # client-go's ItemExponentialFailureRateLimiter: 5 ms ...
MAX_DELAY = 60.0  # ... doubling; client-go stops at 1000 s, a one-node cluster sooner


def retry_delay(failures: int) -> float:
    """Seconds before the next try of a key that failed `failures` times. Pure."""
    return min(MAX_DELAY, BASE_DELAY * 2 ** max(0, failures - 1))


class WorkQueue:
    def __init__(self) -> None:
        self.waiting: deque[str] = deque()
        self.queued: set[str] = set()  # the keys in `waiting`
        self.processing: set[str] = set()
        self.dirty: set[str] = set()  # added while processing: queue again when done
        self.failures: dict[str, int] = {}
        self.wakeup = asyncio.Event()
        self.timers: dict[str, asyncio.TimerHandle] = {}

    def __len__(self) -> int:
        return len(self.waiting)

    def add(self, key: str) -> None:
        if key in self.processing:
            self.dirty.add(key)
        elif key not in self.queued:
            self.queued.add(key)
            self.waiting.append(key)
            self.wakeup.set()

    def add_after(self, key: str, delay: float) -> None:
        """Add the key in `delay` seconds; an earlier pending timer wins."""
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        old = self.timers.get(key)
        if old is not None and old.when() <= loop.time() + delay:
            return
        if old is not None:
            old.cancel()
        self.timers[key] = loop.call_later(delay, self._timer_fired, key)

    def _timer_fired(self, key: str) -> None:
        self.timers.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: str) -> None:
        self.failures[key] = self.failures.get(key, 0) + 1
        self.add_after(key, retry_delay(self.failures[key]))

    def forget(self, key: str) -> None:
        self.failures.pop(key, None)

    async def get(self) -> str:
        """The next key; it is the caller's until done(key)."""
        while not self.waiting:
            self.wakeup.clear()
            await self.wakeup.wait()
        key = self.waiting.popleft()
        self.queued.discard(key)
        self.processing.add(key)
        return key

    def done(self, key: str) -> None:
        self.processing.discard(key)
        if key in self.dirty:
            self.dirty.discard(key)
            self.add(key)

    def close(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
