"""A container's image, pulled first when its policy says so (the CRI's
PullImage, as the kubelet's image manager calls it).

ensure_image(), in order:
    1. look the reference up in the store; a reference that cannot be
       parsed is InvalidImageName;
    2. imagePullPolicy Never and no image: ErrImageNeverPull;
    3. present and the policy does not ask for a pull (IfNotPresent): the
       Pulled "already present" event, done;
    4. pull (image/pull_coordinator.py) with the pod's imagePullSecrets,
       the Pulling and Pulled events around it; a failure is ErrImagePull
       (or the pull's own reason).
Failures raise ImagePullError, whose `reason` the status shows.
"""

import time
from collections.abc import Callable
from typing import Any

from minipod.errors import ImageError, MinipodError
from minipod.image import pull_secrets as secrets_mod
from minipod.image.pull_coordinator import PullFailed, Pulls
from minipod.image.store import Image, ImageStore, should_pull
from minipod.kube import reasons
from minipod.kube.implemented import honoured
from minipod.pod.events import PodEvents
from minipod.pod.record import ContainerRecord, PodRecord

PULL_SECRETS = honoured("spec.imagePullSecrets")


class ImagePullError(MinipodError):
    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


async def ensure_image(
    images: ImageStore,
    pulls: Pulls,
    secrets: Callable[[str, str], dict[str, Any] | None],
    record: PodRecord,
    c: ContainerRecord,
    container: dict[str, Any],
    events: PodEvents,
) -> Image:
    """Steps 1-4."""
    ref, policy = container["image"], container.get("imagePullPolicy", "IfNotPresent")
    try:
        image = images.lookup(ref)
    except ImageError as e:
        raise ImagePullError(f'Failed to apply default image tag "{ref}": {e}', "InvalidImageName") from None
    if policy == "Never" and image is None:
        raise ImagePullError(
            f'Container image "{ref}" is not present with pull policy of Never', reasons.ERR_IMAGE_NEVER_PULL
        )
    if image is not None and not should_pull(policy, True):
        events.emit(
            reasons.NORMAL, reasons.PULLED, f'Container image "{ref}" already present on machine', c.name
        )
        return image
    events.emit(reasons.NORMAL, reasons.PULLING, f'Pulling image "{ref}"', c.name)
    began = time.time()
    try:
        await pulls.pull(ref, policy, pull_secrets(secrets, record))
    except PullFailed as e:
        raise ImagePullError(f'Failed to pull image "{ref}": {e}', e.reason) from None
    image = images.lookup(ref)
    if image is None:
        raise ImagePullError(
            f'Failed to pull image "{ref}": not in the store after the pull', reasons.ERR_IMAGE_PULL
        )
    events.emit(
        reasons.NORMAL,
        reasons.PULLED,
        f'Successfully pulled image "{ref}" in {time.time() - began:.3f}s',
        c.name,
    )
    return image


def pull_secrets(
    secrets: Callable[[str, str], dict[str, Any] | None], record: PodRecord
) -> list[dict[str, Any]]:
    """The pod's imagePullSecrets, decoded, in order; missing ones are
    skipped (the kubelet warns and goes on, and so do we)."""
    out = []
    for ref in record.spec.get(PULL_SECRETS) or []:
        secret = secrets(record.metadata["namespace"], ref.get("name", ""))
        config = secrets_mod.docker_config(secret) if secret else None
        if config:
            out.append(config)
    return out
