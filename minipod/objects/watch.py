"""Watch fan-out: every change is sent to every watcher that wants it.

The store keeps a window of the most recent WINDOW changes (of all kinds),
each with its resourceVersion. A watch that starts from resourceVersion N
first gets the changes after N still in the window; if some changes after
N have already left the window (or came before this daemon started), the
watch cannot be served and gets 410 Gone ("too old resource version"), as
from the API server's watch cache; the client then lists again.

A watcher is an asyncio.Queue; a watcher that does not keep up (its queue
holds MAX_BEHIND changes) is closed instead of making the daemon grow.
"""

import asyncio
from collections import deque
from dataclasses import dataclass

from minipod.objects.errors import gone

WINDOW = 2000
MAX_BEHIND = 5000


@dataclass(frozen=True)
class Change:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    resource: str  # "group/plural", e.g. "/pods"
    namespace: str | None
    obj: dict


class Watcher:
    def __init__(self, resource: str, namespace: str | None, match):
        self.resource, self.namespace, self.match = resource, namespace, match
        self.queue: asyncio.Queue = asyncio.Queue()
        self.closed = False

    def wants(self, ch: Change) -> bool:
        return (
            ch.resource == self.resource
            and (self.namespace is None or ch.namespace == self.namespace)
            and self.match(ch.obj)
        )


class WatchHub:
    def __init__(self, start_rv: int, size: int = WINDOW):
        self.size = size
        self.window: deque[Change] = deque()
        self.floor = start_rv  # every change after this is still in the window
        self.watchers: set[Watcher] = set()

    def publish(self, ch: Change) -> None:
        self.window.append(ch)
        while len(self.window) > self.size:
            self.floor = self.window.popleft().rv
        for w in list(self.watchers):
            if w.wants(ch):
                if w.queue.qsize() >= MAX_BEHIND:
                    self.close(w)
                else:
                    w.queue.put_nowait(ch)

    def subscribe(self, resource: str, namespace: str | None, match, since: int) -> Watcher:
        """A watcher that has already been given every change after `since`."""
        if since < self.floor:
            raise gone(f"too old resource version: {since} ({self.floor + 1})")
        w = Watcher(resource, namespace, match)
        for ch in self.window:
            if ch.rv > since and w.wants(ch):
                w.queue.put_nowait(ch)
        self.watchers.add(w)
        return w

    def close_all(self) -> None:
        """The daemon stops: end every watch stream."""
        for w in list(self.watchers):
            self.close(w)

    def close(self, w: Watcher) -> None:
        self.watchers.discard(w)
        if not w.closed:
            w.closed = True
            w.queue.put_nowait(None)  # wakes the reader, which then ends the stream
