"""The CRI's view of the image store, decided by pure functions.

minipod's store names images (index.json: one name -> one manifest); the CRI
speaks of images by id, each with every name it is known by. As containerd
reports them:

    id            the digest of the image's config blob (the "image ID"):
                  the same for every tag of one image, whatever the registry
    repo_tags     the names REPO:TAG that point at it
    repo_digests  REPO@MANIFEST-DIGEST, one per repository it has a name in
                  (a name pulled by tag is reachable by digest too)
    size          the bytes of its blobs (manifest, config, layers)
    uid/username  the config's User, before any ':group': a number is a uid,
                  anything else a user name

Steps, in order:
    1. group_images(): the store's names, grouped by config digest
    2. find_image(): which image a CRI reference names: a full id
       (sha256:HEX), else a name (normalized as the store does) among the
       repo tags and repo digests, else a unique prefix of an id
    3. image_user(): uid or user name from the config's User
    4. pull_auths(): a CRI AuthConfig as the dockerconfigjson document the
       pull reads, for the registry and each of its mirrors
"""

import base64
import re
import urllib.parse
from dataclasses import dataclass, field

from minipod.errors import MinipodError
from minipod.image.refs import normalize_ref, split_ref

HEX = re.compile(r"[0-9a-f]{1,64}")


@dataclass
class StoredName:
    """One name of the store, with what the CRI needs of its image."""

    name: str  # normalized: REPO:TAG or REPO@sha256:...
    manifest_digest: str
    config_digest: str
    size: int


@dataclass
class CriImage:
    id: str
    repo_tags: list[str] = field(default_factory=list)
    repo_digests: list[str] = field(default_factory=list)
    size: int = 0


def group_images(names: list[StoredName]) -> list[CriImage]:
    """One CriImage per config digest, its names sorted (step 1)."""
    found: dict[str, CriImage] = {}
    for stored in names:
        image = found.setdefault(stored.config_digest, CriImage(stored.config_digest))
        image.size = max(image.size, stored.size)
        repository, tag, digest = split_ref(stored.name)
        if tag is not None:
            image.repo_tags.append(stored.name)
        by_digest = f"{repository}@{digest or stored.manifest_digest}"
        if by_digest not in image.repo_digests:
            image.repo_digests.append(by_digest)
    for image in found.values():
        image.repo_tags.sort()
        image.repo_digests.sort()
    return sorted(found.values(), key=lambda i: i.id)


def find_image(images: list[CriImage], ref: str) -> CriImage | None:
    """The image REF names (step 2), or None. As containerd resolves it: a
    full id first, then a name, then a unique prefix of an id."""
    if re.fullmatch(r"sha256:[0-9a-f]{64}", ref):
        return next((i for i in images if i.id == ref), None)
    try:
        name = normalize_ref(ref)
    except MinipodError:
        name = None
    for image in images:
        if name in image.repo_tags or name in image.repo_digests:
            return image
    prefix = ref.removeprefix("sha256:")
    if not HEX.fullmatch(prefix):
        return None
    matches = [i for i in images if i.id[7:].startswith(prefix)]
    return matches[0] if len(matches) == 1 else None


def image_user(user: str) -> tuple[int | None, str]:
    """(uid, "") for a numeric User, (None, name) for a name, (None, "")
    for none: the part before any ':group' (step 3)."""
    user = user.split(":", 1)[0]
    if not user:
        return None, ""
    if user.isdigit():
        return int(user), ""
    return None, user


def pull_auths(
    username: str,
    password: str,
    auth: str,
    server_address: str,
    identity_token: str,
    hosts: list[str],
) -> dict | None:
    """The credentials of a CRI AuthConfig as a dockerconfigjson document
    for HOSTS (the image's registry and its mirrors), or None when it
    carries none (step 4). As containerd: a server_address limits them to
    that host; without one they go to every host the pull reaches."""
    if username or password:
        secret = {"username": username, "password": password}
    elif identity_token:
        secret = {"identitytoken": identity_token}
    elif auth:
        try:
            base64.b64decode(auth, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as e:
            raise MinipodError(
                'PullImageRequest.auth.auth: expected base64 of "user:password"',
                hint="or give username and password",
            ) from e
        secret = {"auth": auth}
    else:
        return None
    if server_address:
        text = server_address if "://" in server_address else "//" + server_address
        netloc = urllib.parse.urlsplit(text).netloc.lower()
        if not netloc:
            raise MinipodError(
                f"PullImageRequest.auth.server_address: {server_address!r} is not a host or URL",
                hint="e.g. registry.example:5000 or https://registry.example",
            )
        hosts = [h for h in hosts if h == netloc]
    return {"auths": {host: dict(secret) for host in hosts}}
