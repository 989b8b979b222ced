"""Image names, media types and platforms: the vocabulary shared by the
image store (store.py), archive import and registry pulls (registry.py).

    normalize_ref(ref)        busybox -> docker.io/library/busybox:latest
    split_ref(ref)            -> (repository, tag, digest)
    host_platform()           this machine as an OCI platform: linux/amd64, linux/arm/v7
    parse_platform(text)      "linux/arm64/v8" -> {"os", "architecture", "variant"}
    pick_platform(index, p)   the descriptor of an image index that runs on p

Stdlib only and no I/O besides platform.machine(): the pull process and the
daemon both import it.
"""

import platform
import re

from minipod.errors import ImageError

REF_NAME = "org.opencontainers.image.ref.name"
# containerd and Docker keep the full name here and only a tag in REF_NAME.
CONTAINERD_NAME = "io.containerd.image.name"

# image-spec media-types.md, and Docker's manifest v2 schema 2 equivalents.
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)

# ---------------------------------------------------------------- references
# The grammar of github.com/distribution/reference, which Docker uses:
#   [DOMAIN/]PATH[:TAG][@DIGEST]

DEFAULT_DOMAIN = "docker.io"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*(?::[0-9]+)?")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")


def normalize_ref(ref: str) -> str:
    """The full form of an image reference, as Docker spells it:
    busybox -> docker.io/library/busybox:latest, me/app -> docker.io/me/app:latest,
    NAME@sha256:HEX -> docker.io/.../NAME@sha256:HEX (a tag given along with a
    digest is dropped: the digest alone decides the content)."""

    def bad(why: str) -> ImageError:
        return ImageError(
            f"invalid image reference {ref!r}: {why}",
            hint="use NAME[:TAG] or NAME@sha256:DIGEST, e.g. busybox:1.35",
        )

    if re.fullmatch(r"[0-9a-f]{64}", ref):
        raise bad("a 64-hex string looks like an image ID, not a name")
    name, _, digest = ref.partition("@")
    if digest and not DIGEST_RE.fullmatch(digest):
        raise bad("the digest must be sha256: and 64 lowercase hex digits")
    # A ':' starts a tag only if no '/' follows it (localhost:5000/app is a port).
    head, colon, tag = name.rpartition(":")
    if colon and "/" not in tag:
        name = head
        if not _TAG_RE.fullmatch(tag):
            raise bad(f"invalid tag {tag!r}")
    else:
        tag = ""
    # Docker's rule: the first component is a registry host only if it
    # looks like one (has a '.' or a ':', is localhost, or has capitals).
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == "index.docker.io":
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = "library/" + path  # official images live in library/
    if not _DOMAIN_RE.fullmatch(domain):
        raise bad(f"invalid registry {domain!r}")
    if not _PATH_RE.fullmatch(path):
        raise bad("a repository name is lowercase letters, digits and . _ - / separators")
    full = f"{domain}/{path}"
    if len(full) > 255:
        raise bad("the name is longer than 255 characters")
    return f"{full}@{digest}" if digest else f"{full}:{tag or 'latest'}"


def split_ref(ref: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of a normalized reference."""
    if "@" in ref:
        name, _, digest = ref.partition("@")
        return name, None, digest
    name, _, tag = ref.rpartition(":")
    return name, tag, None


# ---------------------------------------------------------------- platforms
# image-index.md, "platform": os, architecture and variant, spelled as Go's
# GOOS/GOARCH. Aliases are what uname(2) and some manifests say instead.

_ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armhf": "arm",
    "armel": "arm",
    "i386": "386",
    "i686": "386",
}


def host_architecture() -> str:
    """This machine's architecture in OCI/Go spelling (config.md)."""
    machine = platform.machine().lower()
    if machine.startswith("arm") and machine != "arm64":
        return "arm"
    return _ARCH_ALIASES.get(machine, machine)


def host_platform() -> dict:
    """This machine as an OCI platform object; arm variants from uname:
    armv7l -> v7, armv6l -> v6; arm64 is v8 (image-spec's variant table)."""
    arch, machine = host_architecture(), platform.machine().lower()
    variant = ""
    if arch == "arm64":
        variant = "v8"
    elif arch == "arm":
        found = re.match(r"armv(\d+)", machine)
        variant = f"v{found.group(1)}" if found else "v7"
    return {"os": "linux", "architecture": arch, "variant": variant}


def parse_platform(text: str) -> dict:
    """ "os/arch[/variant]", e.g. linux/arm64/v8, as a platform object."""
    parts = text.strip().lower().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ImageError(f"invalid platform {text!r}", hint="use OS/ARCH[/VARIANT], e.g. linux/arm64")
    arch = _ARCH_ALIASES.get(parts[1], parts[1])
    return {"os": parts[0], "architecture": arch, "variant": parts[2] if len(parts) == 3 else ""}


def format_platform(p: dict) -> str:
    return "/".join(x for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x)


def _variant_rank(wanted: dict, variant: str) -> int | None:
    """How well an index entry's variant fits WANTED: 0 is an exact match,
    higher is a worse but still runnable one, None cannot run. An arm v7 CPU
    runs v6 and v5 code; an entry without a variant is the baseline."""
    want = wanted.get("variant") or ""
    if variant == want:
        return 0
    if wanted["architecture"] == "arm64" and {variant, want} <= {"", "v8"}:
        return 1
    if (
        wanted["architecture"] == "arm"
        and re.fullmatch(r"v\d+", variant or "-")
        and re.fullmatch(r"v\d+", want)
    ):
        gap = int(want[1:]) - int(variant[1:])
        return gap if gap > 0 else None
    if not variant:
        return 100
    return None


def pick_platform(index: dict, wanted: dict | None = None) -> dict:
    """The descriptor of INDEX (an image index, image-index.md) that runs on
    WANTED (default: this host): same os and architecture, the closest
    variant, the first such entry on a tie."""
    wanted = wanted or host_platform()
    best, best_rank = None, None
    for desc in index.get("manifests") or []:
        p = desc.get("platform") if isinstance(desc, dict) else None
        if not isinstance(p, dict):
            continue
        arch = _ARCH_ALIASES.get(
            str(p.get("architecture", "")).lower(), str(p.get("architecture", "")).lower()
        )
        if str(p.get("os", "")).lower() != wanted["os"] or arch != wanted["architecture"]:
            continue
        rank = _variant_rank(wanted, str(p.get("variant") or "").lower())
        if rank is not None and (best_rank is None or rank < best_rank):
            best, best_rank = desc, rank
    if best is None:
        offered = sorted(
            {
                format_platform(d.get("platform") or {}) or "?"
                for d in index.get("manifests") or []
                if isinstance(d, dict)
            }
        )
        raise ImageError(
            f"the image has no variant for {format_platform(wanted)} (it has: {', '.join(offered) or 'none'})"
        )
    return best


# ---------------------------------------------------------------- descriptors


def descriptor_of(desc) -> tuple[str, int, str]:
    """(digest, size, mediaType) of a descriptor (descriptor.md), checked."""
    if not isinstance(desc, dict):
        raise ImageError("the image manifest lacks a descriptor it needs")
    digest, size = desc.get("digest"), desc.get("size")
    if not isinstance(digest, str) or not DIGEST_RE.fullmatch(digest):
        raise ImageError(f"unsupported or invalid digest {digest!r} (only sha256)")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ImageError(f"descriptor {digest} has an invalid size {size!r}")
    return digest, size, str(desc.get("mediaType", ""))


def diff_ids_of(manifest: dict | None, config: dict) -> list[str]:
    """The config's rootfs.diff_ids, checked (against the manifest's layers)."""
    diff_ids = (config.get("rootfs") or {}).get("diff_ids")
    if not isinstance(diff_ids, list) or not all(
        isinstance(d, str) and DIGEST_RE.fullmatch(d) for d in diff_ids
    ):
        raise ImageError("the image config has no valid rootfs.diff_ids")
    if manifest is not None and len(diff_ids) != len(manifest.get("layers") or []):
        raise ImageError("the image config and manifest list different numbers of layers")
    return diff_ids
