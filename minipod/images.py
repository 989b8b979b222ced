"""The local image store: content-addressed blobs, plus one unpacked
directory per layer, laid out as an OCI image layout (image-spec,
image-layout.md) so that a later registry pull only adds blobs and names.

On-disk objects, under IMAGES_DIR:

    oci-layout             {"imageLayoutVersion": "1.0.0"}
    index.json             an OCI image index: one entry per image name, the
                           manifest's descriptor annotated with the full name in
                           org.opencontainers.image.ref.name (annotations.md)
    blobs/sha256/<hex>     manifests, configs and layer tars (compressed or not),
                           each named by the sha256 of its bytes
    layers/<diffid-hex>/   one unpacked layer, shared by every image that uses
                           it, named by its DiffID (sha256 of the plain tar)
    tmp/                   the staging area of the import under way
    lock                   flock()ed while an import or a remove changes things

ImageStore.import_archive(path) does, in order, holding the lock:

    1. open the archive: an OCI layout (tar file or directory), or the
       manifest.json kind that `docker save` writes
    2. name its images: annotations of its index.json, or RepoTags
    3. copy every blob the images need into tmp/<stage>/blobs/, hashing while
       copying; a digest or size other than the descriptor's -> ImageError
       (image-layout.md, "Blobs": content MUST match its digest)
    4. unpack every new layer into tmp/<stage>/layer-*/ (see layers.py) and
       check its DiffID against the config's rootfs.diff_ids (config.md)
    5. commit: os.sync(), rename the staged blobs into blobs/sha256/ and the
       layer dirs into layers/ (a rename is atomic: a layer is there whole or
       not at all), then write index.json (tmp + fsync + rename)

An error in steps 1-4 deletes tmp/<stage>/: nothing of that archive is kept.
remove(ref) drops a name from index.json, then deletes the blobs and layers
that no remaining name uses.
"""

from __future__ import annotations  # the method ImageStore.list shadows list[...]

import contextlib
import fcntl
import hashlib
import io
import json
import os
import platform
import posixpath
import re
import shutil
import tempfile
from dataclasses import dataclass

from minipod.errors import ImageError, NotFound
from minipod.layers import CHUNK, MAX_JSON, ArchiveReader, unpack_layer

REF_NAME = "org.opencontainers.image.ref.name"
# containerd and Docker keep the full name here and only a tag in REF_NAME.
CONTAINERD_NAME = "io.containerd.image.name"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
INDEX_TYPES = (OCI_INDEX, "application/vnd.docker.distribution.manifest.list.v2+json")

# ---------------------------------------------------------------- references
# The grammar of github.com/distribution/reference, which Docker uses:
#   [DOMAIN/]PATH[:TAG][@DIGEST]

DEFAULT_DOMAIN = "docker.io"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*(?::[0-9]+)?")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")


def normalize_ref(ref: str) -> str:
    """The full form of an image reference, as Docker spells it:
    busybox -> docker.io/library/busybox:latest, me/app -> docker.io/me/app:latest,
    NAME@sha256:HEX -> docker.io/.../NAME@sha256:HEX (a tag given along with a
    digest is dropped: the digest alone decides the content)."""
    def bad(why: str) -> ImageError:
        return ImageError(f"invalid image reference {ref!r}: {why}",
                          hint="use NAME[:TAG] or NAME@sha256:DIGEST, e.g. busybox:1.35")

    if re.fullmatch(r"[0-9a-f]{64}", ref):
        raise bad("a 64-hex string looks like an image ID, not a name")
    name, _, digest = ref.partition("@")
    if digest and not _DIGEST_RE.fullmatch(digest):
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
    if slash and ("." in first or ":" in first or first == "localhost"
                  or first != first.lower()):
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == "index.docker.io":
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = "library/" + path               # official images live in library/
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


def host_architecture() -> str:
    """This machine's architecture in OCI/Go spelling (config.md)."""
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm",
            "i386": "386", "i686": "386"}.get(machine, machine)


# ---------------------------------------------------------------- images

@dataclass
class Image:
    """One stored image, ready to become a container's root filesystem."""
    ref: str                  # the normalized name it was looked up by
    digest: str               # sha256:... of its manifest
    config: dict              # the "config" section of the OCI config: Env, Cmd...
    layer_dirs: list[str]     # unpacked layers, bottom -> top, absolute paths

    def lowerdir(self) -> str:
        """The overlayfs lowerdir= value: layers top-first, ':'-separated
        (the kernel's overlayfs.rst: the leftmost lower layer is the top)."""
        if not self.layer_dirs:
            raise ImageError(f"image {self.ref} has no layers")
        for d in self.layer_dirs:
            if ":" in d or "," in d:
                raise ImageError(f"layer path {d} has a ':' or ',', which the "
                                 "overlayfs mount options cannot carry")
        return ":".join(reversed(self.layer_dirs))


class ImageStore:
    def __init__(self, images_dir: str):
        self.dir = os.path.abspath(images_dir)
        self.blobs_dir = os.path.join(self.dir, "blobs", "sha256")
        self.layers_dir = os.path.join(self.dir, "layers")
        self.tmp_dir = os.path.join(self.dir, "tmp")
        self.index_path = os.path.join(self.dir, "index.json")

    # -- reading --

    def lookup(self, ref: str) -> Image | None:
        """The image named REF (normalized first), or None."""
        ref = normalize_ref(ref)
        entries = self._read_index()
        names = _names_of(entries, ref)
        if not names:
            return None
        digest = entries[names[0]]["digest"]
        manifest = self._json_blob(digest)
        config = self._json_blob(_descriptor(manifest.get("config"))[0])
        layer_dirs = [self._layer_dir(d) for d in _diff_ids(manifest, config)]
        for d in layer_dirs:
            if not os.path.isdir(d):
                raise ImageError(f"image {ref}: layer {d} is missing from the store",
                                 hint="remove the image and import it again")
        return Image(ref, digest, config.get("config") or {}, layer_dirs)

    def list(self) -> list[dict]:
        """One dict per name: repository, tag (None for a digest name),
        digest (of the manifest) and size (bytes of its blobs)."""
        result = []
        for ref, desc in sorted(self._read_index().items()):
            repository, tag, _ = split_ref(ref)
            manifest = self._json_blob(desc["digest"])
            descs = [manifest.get("config")] + list(manifest.get("layers") or [])
            size = desc.get("size", 0) + sum(_descriptor(d)[1] for d in descs)
            result.append({"repository": repository, "tag": tag,
                           "digest": desc["digest"], "size": size})
        return result

    # -- importing --

    def import_archive(self, path: str, name: str | None = None) -> list[str]:
        """Import every named image of an archive; return their normalized names.
        NAME (a repository) names images the archive leaves unnamed, and
        turns a bare tag annotation ("1.35") into NAME:1.35."""
        self._ensure_layout()
        with self._locked(), ArchiveReader(path) as archive:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)   # a crashed import's leftovers
            os.makedirs(self.tmp_dir)
            stage = tempfile.mkdtemp(prefix="import-", dir=self.tmp_dir)
            try:
                os.mkdir(os.path.join(stage, "blobs"))
                os.mkdir(os.path.join(stage, "layers"))
                if archive.exists("index.json"):
                    found = self._stage_oci(archive, stage, name)
                elif archive.exists("manifest.json"):
                    found = self._stage_docker(archive, stage, name)
                else:
                    raise ImageError(f"{path} is neither an OCI layout nor a docker-save "
                                     "archive (no index.json, no manifest.json)")
                if not found:
                    raise ImageError(f"{path} names no image (no {REF_NAME} annotation, "
                                     "no RepoTags)", hint="give the image a name to import it")
                for _, digest in found:
                    self._stage_layers(stage, digest)
                self._commit(stage, found)
            finally:
                shutil.rmtree(stage, ignore_errors=True)
        return [ref for ref, _ in found]

    def _stage_oci(self, archive, stage: str, name: str | None) -> list[tuple[str, str]]:
        if archive.exists("oci-layout"):
            version = str(archive.read_json("oci-layout").get("imageLayoutVersion", ""))
            if not version.startswith("1."):
                raise ImageError(f"unsupported OCI layout version {version!r}")
        found = []
        for desc in archive.read_json("index.json").get("manifests") or []:
            notes = desc.get("annotations") or {}
            ref = _archive_name(notes.get(CONTAINERD_NAME) or notes.get(REF_NAME), name)
            if ref is None:
                continue
            digest = self._fetch(archive, stage, desc)
            manifest = self._json_blob(digest, stage)
            if desc.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
                # A multi-platform image (image-index.md): keep ours only.
                digest = self._fetch(archive, stage, _pick_platform(manifest))
                manifest = self._json_blob(digest, stage)
            for blob in [manifest.get("config")] + list(manifest.get("layers") or []):
                self._fetch(archive, stage, blob)
            found.append((ref, digest))
        return found

    def _stage_docker(self, archive, stage: str, name: str | None) -> list[tuple[str, str]]:
        """`docker save`'s manifest.json: [{Config, RepoTags, Layers}]. Its layers
        are plain tars, so a layer's digest is its DiffID; we write the OCI
        manifest such an image would have and store it like any other."""
        found = []
        for entry in archive.read_json("manifest.json"):
            config_digest = self._fetch_member(archive, stage, entry.get("Config", ""))
            config = self._json_blob(config_digest, stage)
            members, diff_ids = entry.get("Layers") or [], _diff_ids(None, config)
            if len(members) != len(diff_ids):
                raise ImageError(f"{archive.path}: manifest.json and the image config "
                                 "list different numbers of layers")
            layers = []
            for member, diff_id in zip(members, diff_ids):
                digest = self._fetch_member(archive, stage, member, diff_id)
                layers.append({"mediaType": OCI_LAYER_TAR, "digest": digest,
                               "size": os.path.getsize(self._blob(digest, stage))})
            manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": layers,
                        "config": {"mediaType": OCI_CONFIG, "digest": config_digest,
                                   "size": os.path.getsize(self._blob(config_digest, stage))}}
            data = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
            digest = self._copy_blob(io.BytesIO(data), stage)
            refs = entry.get("RepoTags") or ([name] if name else [])
            found += [(normalize_ref(r), digest) for r in refs]
        return found

    def _fetch(self, archive, stage: str, desc) -> str:
        """Stage the blob a descriptor points to, checking digest and size."""
        digest, size, _ = _descriptor(desc)
        return self._fetch_member(archive, stage, f"blobs/sha256/{digest[7:]}", digest, size)

    def _fetch_member(self, archive, stage: str, member: str,
                      digest: str | None = None, size: int | None = None) -> str:
        if digest is None:   # docker save names configs <hex>.json or blobs/sha256/<hex>
            hexname = posixpath.basename(member).removesuffix(".json")
            if re.fullmatch(r"[0-9a-f]{64}", hexname):
                digest = "sha256:" + hexname
        if digest and self._blob(digest, stage):
            return digest         # already stored, and checked when it was
        with archive.open(member) as src:
            return self._copy_blob(src, stage, digest, size)

    def _copy_blob(self, src, stage: str, digest: str | None = None,
                   size: int | None = None) -> str:
        incoming = os.path.join(stage, "blobs", "incoming")
        sha, copied = hashlib.sha256(), 0
        with open(incoming, "wb") as out:
            while chunk := src.read(CHUNK):
                copied += len(chunk)
                if size is not None and copied > size:
                    break
                sha.update(chunk)
                out.write(chunk)
        got = "sha256:" + sha.hexdigest()
        if size is not None and copied != size:
            raise ImageError(f"blob {digest}: size is not the {size} bytes its descriptor says")
        if digest is not None and got != digest:
            raise ImageError(f"blob {digest}: content does not match its digest "
                             f"(got {got})", hint="the archive is corrupt or was altered")
        os.rename(incoming, os.path.join(stage, "blobs", got[7:]))
        return got

    def _stage_layers(self, stage: str, manifest_digest: str) -> None:
        manifest = self._json_blob(manifest_digest, stage)
        config = self._json_blob(_descriptor(manifest.get("config"))[0], stage)
        for desc, diff_id in zip(manifest["layers"], _diff_ids(manifest, config)):
            staged = os.path.join(stage, "layers", diff_id[7:])
            if os.path.isdir(self._layer_dir(diff_id)) or os.path.isdir(staged):
                continue          # layers are shared: unpack each one once
            digest, _, media_type = _descriptor(desc)
            tmp = tempfile.mkdtemp(prefix="layer-", dir=stage)
            os.chmod(tmp, 0o755)  # the image's "/" unless the layer sets it
            got = unpack_layer(self._blob(digest, stage), media_type, tmp)
            if got != diff_id:
                raise ImageError(f"layer {digest}: its content's DiffID {got} is not the "
                                 f"{diff_id} its config lists")
            os.rename(tmp, staged)

    def _commit(self, stage: str, found: list[tuple[str, str]]) -> None:
        # Flush the staged files to disk first, so that once renamed they
        # are complete even after a power cut. (A re-import stages nothing.)
        if os.listdir(os.path.join(stage, "blobs")) or os.listdir(os.path.join(stage, "layers")):
            os.sync()
        for _, manifest_digest in found:
            blobs, diff_ids = self._references(manifest_digest, stage)
            for digest in blobs:
                staged = os.path.join(stage, "blobs", digest[7:])
                if os.path.exists(staged):
                    os.replace(staged, os.path.join(self.blobs_dir, digest[7:]))
            for diff_id in diff_ids:
                staged = os.path.join(stage, "layers", diff_id[7:])
                if os.path.isdir(staged) and not os.path.exists(self._layer_dir(diff_id)):
                    os.rename(staged, self._layer_dir(diff_id))
        entries = self._read_index()
        for ref, digest in found:
            old = entries.get(ref, {}).get("digest")
            if old and old != digest and not any(
                    d["digest"] == old for r, d in entries.items() if r != ref):
                # The name moves to the new image; the old one stays reachable
                # as REPOSITORY@DIGEST, as Docker keeps a re-tagged image.
                entries[f"{split_ref(ref)[0]}@{old}"] = dict(entries[ref])
            manifest = self._json_blob(digest)
            entries[ref] = {"mediaType": manifest.get("mediaType", OCI_MANIFEST),
                            "digest": digest, "size": os.path.getsize(self._blob(digest))}
        self._write_index(entries)

    # -- removing --

    def remove(self, ref: str) -> None:
        """Forget the name REF; delete blobs and layers no other name uses.
        (Callers must make sure no container still runs on those layers.)"""
        ref = normalize_ref(ref)
        with self._locked():
            entries = self._read_index()
            names = _names_of(entries, ref)
            if not names:
                raise NotFound(f"no image {ref}")
            for name in names:
                del entries[name]
            self._write_index(entries)
            self._collect_garbage(entries)

    def _collect_garbage(self, entries: dict) -> None:
        keep_blobs, keep_layers = set(), set()
        for desc in entries.values():
            blobs, diff_ids = self._references(desc["digest"])
            keep_blobs.update(d[7:] for d in blobs)
            keep_layers.update(d[7:] for d in diff_ids)
        for hexname in os.listdir(self.blobs_dir):
            if hexname not in keep_blobs:
                os.unlink(os.path.join(self.blobs_dir, hexname))
        os.makedirs(self.tmp_dir, exist_ok=True)
        for hexname in os.listdir(self.layers_dir):
            if hexname not in keep_layers:
                # Rename first: a crash mid-delete must not leave half a layer
                # under a name that says it is whole.
                trash = tempfile.mkdtemp(prefix="trash-", dir=self.tmp_dir)
                os.rename(os.path.join(self.layers_dir, hexname), os.path.join(trash, "l"))
                shutil.rmtree(trash)

    # -- the files of the store --

    def _blob(self, digest: str, stage: str | None = None) -> str | None:
        """The path of a blob, staged or stored, or None."""
        paths = [os.path.join(self.blobs_dir, digest[7:])]
        if stage:
            paths.insert(0, os.path.join(stage, "blobs", digest[7:]))
        return next((p for p in paths if os.path.exists(p)), None)

    def _json_blob(self, digest: str, stage: str | None = None) -> dict:
        path = self._blob(digest, stage)
        if path is None:
            raise ImageError(f"blob {digest} is missing from the image store")
        with open(path, "rb") as f:
            data = f.read(MAX_JSON + 1)
        try:
            doc = json.loads(data) if len(data) <= MAX_JSON else None
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise ImageError(f"blob {digest} is not a manifest or config (a JSON object)")
        return doc

    def _layer_dir(self, diff_id: str) -> str:
        return os.path.join(self.layers_dir, diff_id[7:])

    def _references(self, manifest_digest: str, stage: str | None = None):
        """The blobs (manifest, config, layers) and DiffIDs an image uses."""
        manifest = self._json_blob(manifest_digest, stage)
        config_digest = _descriptor(manifest.get("config"))[0]
        blobs = [manifest_digest, config_digest] + [
            _descriptor(d)[0] for d in manifest.get("layers") or []]
        return blobs, _diff_ids(manifest, self._json_blob(config_digest, stage))

    def _ensure_layout(self) -> None:
        for d in (self.blobs_dir, self.layers_dir, self.tmp_dir):
            os.makedirs(d, exist_ok=True)
        layout = os.path.join(self.dir, "oci-layout")
        if not os.path.exists(layout):
            _write_atomically(layout, b'{"imageLayoutVersion": "1.0.0"}\n')

    @contextlib.contextmanager
    def _locked(self):
        os.makedirs(self.dir, exist_ok=True)
        fd = os.open(os.path.join(self.dir, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                     0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)                   # closing the file releases the lock

    def _read_index(self) -> dict[str, dict]:
        """index.json as {normalized name: manifest descriptor}."""
        try:
            with open(self.index_path, "rb") as f:
                doc = json.load(f)
        except FileNotFoundError:
            return {}
        return {desc["annotations"][REF_NAME]: {k: v for k, v in desc.items()
                                                if k != "annotations"}
                for desc in doc.get("manifests") or []}

    def _write_index(self, entries: dict[str, dict]) -> None:
        manifests = [dict(desc, annotations={REF_NAME: ref})
                     for ref, desc in sorted(entries.items())]
        doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        _write_atomically(self.index_path, (json.dumps(doc, indent=2) + "\n").encode())


# ---------------------------------------------------------------- helpers

def _descriptor(desc) -> tuple[str, int, str]:
    """(digest, size, mediaType) of a descriptor (descriptor.md), checked."""
    if not isinstance(desc, dict):
        raise ImageError("the image manifest lacks a descriptor it needs")
    digest, size = desc.get("digest"), desc.get("size")
    if not isinstance(digest, str) or not _DIGEST_RE.fullmatch(digest):
        raise ImageError(f"unsupported or invalid digest {digest!r} (only sha256)")
    if not isinstance(size, int) or size < 0:
        raise ImageError(f"descriptor {digest} has an invalid size {size!r}")
    return digest, size, str(desc.get("mediaType", ""))


def _diff_ids(manifest: dict | None, config: dict) -> list[str]:
    """The config's rootfs.diff_ids, checked (against the manifest's layers)."""
    diff_ids = (config.get("rootfs") or {}).get("diff_ids")
    if not isinstance(diff_ids, list) or not all(
            isinstance(d, str) and _DIGEST_RE.fullmatch(d) for d in diff_ids):
        raise ImageError("the image config has no valid rootfs.diff_ids")
    if manifest is not None and len(diff_ids) != len(manifest.get("layers") or []):
        raise ImageError("the image config and manifest list different numbers of layers")
    return diff_ids


def _names_of(entries: dict, ref: str) -> list[str]:
    """The index names REF designates: itself, or for REPO@DIGEST every
    name of REPO whose image has that digest."""
    if ref in entries:
        return [ref]
    repository, _, digest = split_ref(ref)
    return [r for r, desc in entries.items()
            if digest and desc["digest"] == digest and split_ref(r)[0] == repository]


def _archive_name(annotation: str | None, name: str | None) -> str | None:
    """The full name of an archived image. The annotation holds either a
    full reference or, as image-layout.md intends, a bare tag."""
    if annotation and any(c in annotation for c in "/:@"):
        return normalize_ref(annotation)
    if annotation and name:
        return normalize_ref(f"{name}:{annotation}")
    if annotation or name:
        return normalize_ref(annotation or name)
    return None


def _pick_platform(index: dict) -> dict:
    arch = host_architecture()
    for desc in index.get("manifests") or []:
        wanted = desc.get("platform") or {}
        if wanted.get("os") == "linux" and wanted.get("architecture") == arch:
            return desc
    raise ImageError(f"the image has no variant for linux/{arch}")


def _write_atomically(path: str, data: bytes) -> None:
    """Replace PATH with DATA: readers see the old file or the new one, whole."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)              # make the rename itself durable
    finally:
        os.close(dir_fd)
