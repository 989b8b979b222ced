"""A level-triggered controller loop over the store's watch hub.

A controller names the kinds it watches and one reconcile() that makes
the whole world right from the store's current objects. Any change of a
watched kind marks the loop dirty; the loop then waits DEBOUNCE seconds
(a burst of changes costs one pass) and calls reconcile(). Its own writes
come back as changes and cause one more pass, which finds nothing to do.
This is the shape of a kube-controller-manager controller without its
work queue: with one node's objects, a full pass is cheap.
"""

import asyncio
from collections.abc import Callable

DEBOUNCE = 0.02  # seconds


class ReconcileLoop:
    def __init__(self, store, keys: tuple[str, ...], reconcile: Callable[[], None], name: str, log=print):
        self.store, self.keys, self.reconcile, self.name, self.log = store, keys, reconcile, name, log
        self.dirty = asyncio.Event()
        self.tasks: list[asyncio.Task] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        since = self.store.rev.current
        for key in self.keys:
            w = self.store.hub.subscribe(key, None, lambda obj: True, since)
            self.tasks.append(loop.create_task(self._follow(w)))
        self.tasks.append(loop.create_task(self._run()))
        self.dirty.set()  # the first pass: the world as the daemon found it

    def stop(self) -> None:
        for t in self.tasks:
            t.cancel()

    async def _follow(self, watcher) -> None:
        while True:
            change = await watcher.queue.get()
            if change is None:  # the hub closed this watch (the daemon stops, or it fell behind)
                if self.store.hub.watchers:  # fell behind: start over from now
                    watcher = self.store.hub.subscribe(
                        watcher.resource, None, lambda obj: True, self.store.rev.current
                    )
                    self.dirty.set()
                    continue
                return
            self.dirty.set()

    async def _run(self) -> None:
        while True:
            await self.dirty.wait()
            await asyncio.sleep(DEBOUNCE)
            self.dirty.clear()
            try:
                self.reconcile()
            except Exception as e:  # noqa: BLE001 - a controller never crashes the daemon
                self.log(f"{self.name}: {e}")
                await asyncio.sleep(1)
                self.dirty.set()  # try again: the error may be passing
