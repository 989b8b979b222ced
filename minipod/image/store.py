"""The local image store: content-addressed blobs, plus one unpacked
directory per layer, laid out as an OCI image layout (image-spec,
image-layout.md), filled by archive imports and by registry pulls.

On-disk objects, under IMAGES_DIR: see store_files.py, which reads and
writes them (ImageStore builds on its StoreFiles).

ImageStore.import_archive(path) does, in order, holding the lock:

    1. open the archive: an OCI layout (tar file or directory), or the
       manifest.json kind that `docker save` writes
    2-4. stage its images' blobs and new layers in tmp/import-*/, every
       digest and DiffID checked (image/import_archive.py)
    5. commit: os.sync(), rename the staged blobs into blobs/sha256/ and the
       layer dirs into layers/ (a rename is atomic: a layer is there whole or
       not at all), then write index.json (tmp + fsync + rename)

An error in steps 1-4 deletes tmp/import-*/: nothing of that archive is kept.

A pull (pull.py, in a process of its own) works inside pulling(): under
blob_lock(digest) it puts each verified blob (put_blob, publish_blob) and
unpacked layer (publish_layer) in place as soon as it has it, so a second
pull finds it; commit_pulled() then names the image. A layer directory
that is present is reused without its blob: image-layout.md lets a layout
lack blobs it references.

remove(ref) drops a name from index.json; prune() keeps the names. Both
then sweep: delete the blobs and layers no name uses, and tmp/ leftovers of
crashed imports and pulls. A sweep is skipped while a pull runs (the
pull may be about to name what looks unused); the next one catches up.
"""

from __future__ import annotations  # the method ImageStore.list shadows list[...]

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass

from minipod.errors import ImageError, NotFound
from minipod.fsutil import flocked, try_flocked
from minipod.image.import_archive import Stager
from minipod.image.layers import ArchiveReader
from minipod.image.locks import blob_lock

# (normalize_ref is also imported from here by the rest of minipod.)
from minipod.image.refs import (
    OCI_MANIFEST,
    REF_NAME,
    descriptor_of,
    diff_ids_of,
    normalize_ref,
    split_ref,
)
from minipod.image.store_files import StoreFiles, _names_of


@dataclass
class Image:
    """One stored image, ready to become a container's root filesystem."""

    ref: str  # the normalized name it was looked up by
    digest: str  # sha256:... of its manifest
    config: dict  # the "config" section of the OCI config: Env, Cmd...
    layer_dirs: list[str]  # unpacked layers, bottom -> top, absolute paths

    def lowerdir(self) -> str:
        """The overlayfs lowerdir= value: layers top-first, ':'-separated
        (the kernel's overlayfs.rst: the leftmost lower layer is the top)."""
        if not self.layer_dirs:
            raise ImageError(f"image {self.ref} has no layers")
        for d in self.layer_dirs:
            if ":" in d or "," in d:
                raise ImageError(
                    f"layer path {d} has a ':' or ',', which the overlayfs mount options cannot carry"
                )
        return ":".join(reversed(self.layer_dirs))


def default_pull_policy(ref: str) -> str:
    """The imagePullPolicy Kubernetes defaults to: Always for :latest (or
    no tag), IfNotPresent for any other tag or a digest."""
    _, tag, _ = split_ref(normalize_ref(ref))
    return "Always" if tag == "latest" else "IfNotPresent"


def should_pull(policy: str, present: bool) -> bool:
    """The kubelet's imagePullPolicy: Always pulls (to learn the tag's
    current image), IfNotPresent only when absent, Never never (an absent
    image under Never is the caller's ErrImageNeverPull)."""
    if policy == "Always":
        return True
    if policy == "IfNotPresent":
        return not present
    if policy == "Never":
        return False
    raise ValueError(f"unknown imagePullPolicy {policy!r}: Always, IfNotPresent or Never")


# Inside ImageStore, `list` is its method: these aliases name the builtin's types.
Names = list[str]
NamedManifests = list[tuple[str, str]]  # (normalized name, manifest digest)


class ImageStore(StoreFiles):
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
        config = self._json_blob(descriptor_of(manifest.get("config"))[0])
        layer_dirs = [self._layer_dir(d) for d in diff_ids_of(manifest, config)]
        for d in layer_dirs:
            if not os.path.isdir(d):
                raise ImageError(
                    f"image {ref}: layer {d} is missing from the store",
                    hint="remove the image and import or pull it again",
                )
        return Image(ref, digest, config.get("config") or {}, layer_dirs)

    def list(self) -> list[dict]:
        """One dict per name: repository, tag (None for a digest name),
        digest (of the manifest) and size (bytes of its blobs)."""
        result = []
        for ref, desc in sorted(self._read_index().items()):
            repository, tag, _ = split_ref(ref)
            manifest = self._json_blob(desc["digest"])
            descs = [manifest.get("config")] + list(manifest.get("layers") or [])
            size = desc.get("size", 0) + sum(descriptor_of(d)[1] for d in descs)
            result.append({"repository": repository, "tag": tag, "digest": desc["digest"], "size": size})
        return result

    def has_blob(self, digest: str) -> bool:
        return os.path.isfile(self.blob_path(digest))

    def blob_path(self, digest: str) -> str:
        """Where the blob DIGEST is (or would be) stored."""
        return os.path.join(self.blobs_dir, digest[7:])

    def has_layer(self, diff_id: str) -> bool:
        return os.path.isdir(self._layer_dir(diff_id))

    # -- importing --

    def import_archive(self, path: str, name: str | None = None) -> Names:
        """Import every named image of an archive; return their normalized names.
        NAME (a repository) names images the archive leaves unnamed, and
        turns a bare tag annotation ("1.35") into NAME:1.35."""
        self._ensure_layout()
        with self._locked(), ArchiveReader(path) as archive:
            stage = tempfile.mkdtemp(prefix="import-", dir=self.tmp_dir)
            try:
                stager = Stager(self, archive, stage, name)
                if archive.exists("index.json"):
                    found = stager.stage_oci()
                elif archive.exists("manifest.json"):
                    found = stager.stage_docker()
                else:
                    raise ImageError(
                        f"{path} is neither an OCI layout nor a docker-save "
                        "archive (no index.json, no manifest.json)"
                    )
                if not found:
                    raise ImageError(
                        f"{path} names no image (no {REF_NAME} annotation, no RepoTags)",
                        hint="give the image a name to import it",
                    )
                for _, digest in found:
                    stager.stage_layers(digest)
                self._commit(stage, found)
            finally:
                shutil.rmtree(stage, ignore_errors=True)
        return [ref for ref, _ in found]

    def _commit(self, stage: str, found: NamedManifests) -> None:
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
                if os.path.isdir(staged):
                    self._rename_layer(staged, diff_id)
        self._name_images(found)

    def _name_images(self, found: NamedManifests) -> None:
        """Point each name at its manifest in index.json (holding the lock)."""
        entries = self._read_index()
        for ref, digest in found:
            old = entries.get(ref, {}).get("digest")
            if old and old != digest and not any(d["digest"] == old for r, d in entries.items() if r != ref):
                # The name moves to the new image; the old one stays reachable
                # as REPOSITORY@DIGEST, as Docker keeps a re-tagged image.
                entries[f"{split_ref(ref)[0]}@{old}"] = dict(entries[ref])
            manifest = self._json_blob(digest)
            entries[ref] = {
                "mediaType": manifest.get("mediaType", OCI_MANIFEST),
                "digest": digest,
                "size": os.path.getsize(self._blob_path(digest)),
            }
        self._write_index(entries)

    def _rename_layer(self, src: str, diff_id: str) -> None:
        """Move an unpacked, checked layer into layers/. If another import or
        pull got the same DiffID there first, its copy is as good: drop ours."""
        try:
            os.rename(src, self._layer_dir(diff_id))
        except OSError:
            if not self.has_layer(diff_id):
                raise
            shutil.rmtree(src, ignore_errors=True)

    # -- pulling (pull.py, in a process of its own) --

    @contextlib.contextmanager
    def pulling(self):
        """Hold the store for one pull: no sweep runs until it ends."""
        self._ensure_layout()
        with flocked(os.path.join(self.dir, "pulls.lock"), fcntl.LOCK_SH):
            yield

    def blob_lock(self, digest: str, on_wait=None):
        """Exclusive, per blob digest, across processes (inside pulling());
        ON_WAIT() is called if another process holds it."""
        return blob_lock(self.locks_dir, digest, on_wait)

    def put_blob(self, data: bytes, digest: str) -> None:
        """Store a small blob held in memory (a manifest, a config), checked."""
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise ImageError(f"blob {digest}: content does not match its digest")
        if not self.has_blob(digest):
            fd, tmp = tempfile.mkstemp(prefix="blob-", dir=self.tmp_dir)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            self.publish_blob(tmp, digest)

    def publish_blob(self, tmp_path: str, digest: str, synced: bool = False) -> None:
        """Move a verified blob from tmp/ into blobs/, durably (SYNCED: the
        caller has just flushed it, e.g. by publish_layer's os.sync())."""
        if not synced:
            fd = os.open(tmp_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, os.path.join(self.blobs_dir, digest[7:]))

    def publish_layer(self, tmp_dir: str, diff_id: str, blob: tuple[str, str] | None = None):
        """Move an unpacked layer whose DiffID was checked into layers/, and
        BLOB (tmp path, digest), the verified blob it came from, into blobs/."""
        os.sync()  # its files are complete on disk before their names exist
        if blob:
            self.publish_blob(*blob, synced=True)
        self._rename_layer(tmp_dir, diff_id)

    def commit_pulled(self, ref: str, manifest_digest: str) -> Image:
        """Name the pulled image REF (normalized) once all it uses is stored."""
        with self._locked():
            manifest = self._json_blob(manifest_digest)
            config = self._json_blob(descriptor_of(manifest.get("config"))[0])
            for diff_id in diff_ids_of(manifest, config):
                if not self.has_layer(diff_id):
                    raise ImageError(f"pulling {ref}: layer {diff_id} is not in the store")
            self._name_images([(ref, manifest_digest)])
            image = self.lookup(ref)
        if image is None:  # cannot be: named just above, under the lock
            raise ImageError(f"pulling {ref}: named, then not found in the store")
        return image

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
            self._sweep(entries)

    def prune(self) -> dict:
        """Delete every blob and layer no image name uses, and the tmp/
        leftovers of crashed imports and pulls (`image prune`). Returns
        {"blobs": N, "layers": N, "bytes": N, "deferred": bool}; deferred
        means a pull was running, so nothing was deleted."""
        self._ensure_layout()
        with self._locked():
            return self._sweep(self._read_index())

    def _sweep(self, entries: dict) -> dict:
        """Holding the lock: delete what ENTRIES do not use, if no pull runs."""
        stats = {"blobs": 0, "layers": 0, "bytes": 0, "deferred": False}
        with try_flocked(os.path.join(self.dir, "pulls.lock")) as idle:
            if not idle:
                stats["deferred"] = True
                return stats
            keep_blobs: set[str] = set()
            keep_layers: set[str] = set()
            for desc in entries.values():
                blobs, diff_ids = self._references(desc["digest"])
                keep_blobs.update(d[7:] for d in blobs)
                keep_layers.update(d[7:] for d in diff_ids)
            for hexname in os.listdir(self.blobs_dir):
                if hexname not in keep_blobs:
                    path = os.path.join(self.blobs_dir, hexname)
                    stats["bytes"] += os.lstat(path).st_size
                    stats["blobs"] += 1
                    os.unlink(path)
            os.makedirs(self.tmp_dir, exist_ok=True)
            trash = tempfile.mkdtemp(prefix="trash-", dir=self.tmp_dir)
            for hexname in os.listdir(self.layers_dir):
                if hexname not in keep_layers:
                    # Rename first: a crash mid-delete must not leave half a
                    # layer under a name that says it is whole.
                    stats["bytes"] += _tree_size(os.path.join(self.layers_dir, hexname))
                    stats["layers"] += 1
                    os.rename(os.path.join(self.layers_dir, hexname), os.path.join(trash, hexname))
            # No import (we hold the lock) and no pull (pulls.lock) is running:
            # everything in tmp/ and locks/ is a leftover.
            for d in (self.tmp_dir, self.locks_dir):
                for name in os.listdir(d) if os.path.isdir(d) else []:
                    path = os.path.join(d, name)
                    if os.path.isdir(path) and not os.path.islink(path):
                        shutil.rmtree(path)
                    else:
                        os.unlink(path)
        return stats


# ---------------------------------------------------------------- helpers


def _tree_size(path: str) -> int:
    total = 0
    for root, dirs, files in os.walk(path):
        for name in files + dirs:
            total += os.lstat(os.path.join(root, name)).st_size
    return total
