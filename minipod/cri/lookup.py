"""Finding the CRI's sandboxes and containers among the runtime's pods.

A CRI sandbox is a pod whose record says origin "cri", named by its
sandbox ID; its containers are named by their CRI container IDs. As with
containerd, a unique prefix of an ID names it too (crictl shows 13
characters); an unknown or ambiguous one is NOT_FOUND.
"""

from collections.abc import Iterator

from minipod.pod.record import ContainerRecord
from minipod.pod.worker import PodWorker


class CriNotFound(LookupError):
    """NOT_FOUND, as containerd words it."""


def sandboxes(manager) -> Iterator[PodWorker]:
    for w in list(manager.workers.values()):
        if w.record.runtime.origin == "cri":
            yield w


def container_id(c: ContainerRecord) -> str:
    return c.next_id or c.id or ""


def containers(manager) -> Iterator[tuple[PodWorker, ContainerRecord]]:
    for w in sandboxes(manager):
        for c in list(w.rt.containers):
            yield w, c


def find_sandbox(manager, ident: str) -> PodWorker:
    if not ident:
        raise ValueError("pod_sandbox_id: required")
    found = [w for w in sandboxes(manager) if w.record.metadata["name"].startswith(ident)]
    exact = [w for w in found if w.record.metadata["name"] == ident]
    if exact or len(found) == 1:
        return (exact or found)[0]
    raise CriNotFound(f'an error occurred when try to find sandbox "{ident}": not found')


def find_container(manager, ident: str) -> tuple[PodWorker, ContainerRecord]:
    if not ident:
        raise ValueError("container_id: required")
    found = [(w, c) for w, c in containers(manager) if container_id(c).startswith(ident)]
    exact = [(w, c) for w, c in found if container_id(c) == ident]
    if exact or len(found) == 1:
        return (exact or found)[0]
    raise CriNotFound(f'an error occurred when try to find container "{ident}": not found')
