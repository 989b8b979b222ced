"""Steps 2-4 of ImageStore.import_archive (image/store.py): stage the images of
an archive in a private directory, checked, for the store to commit.

Stager(store, archive, stage, name) does, in order:

    stage_oci() / stage_docker()
        2. name the archive's images: annotations of its index.json
           (image-layout.md), or the RepoTags of `docker save`'s manifest.json
        3. copy every blob those images need into STAGE/blobs/, hashing while
           copying; a digest or size other than the descriptor's -> ImageError
           (image-layout.md, "Blobs": content MUST match its digest)
    stage_layers(manifest_digest)
        4. unpack every layer the store lacks into STAGE/layers/<diffid>
           (layers.py) and check its DiffID against the config's
           rootfs.diff_ids (config.md)

It only writes under STAGE; the store commits (renames) or discards it.
"""

import hashlib
import io
import json
import os
import posixpath
import re

from minipod.errors import ImageError
from minipod.image.layers import CHUNK, check_diff_id, new_layer_dir, unpack_layer
from minipod.image.refs import (
    CONTAINERD_NAME,
    INDEX_TYPES,
    OCI_CONFIG,
    OCI_LAYER_TAR,
    OCI_MANIFEST,
    REF_NAME,
    descriptor_of,
    diff_ids_of,
    normalize_ref,
    pick_platform,
)


class Stager:
    def __init__(self, store, archive, stage: str, name: str | None):
        self.store, self.archive, self.stage, self.name = store, archive, stage, name
        os.mkdir(os.path.join(stage, "blobs"))
        os.mkdir(os.path.join(stage, "layers"))

    def has_blob(self, digest: str) -> bool:
        return self.store._blob(digest, self.stage) is not None

    def blob(self, digest: str) -> str:
        """The path of a blob this import staged or the store holds."""
        return self.store._blob_path(digest, self.stage)

    def json_blob(self, digest: str) -> dict:
        return self.store._json_blob(digest, self.stage)

    # -- steps 2 and 3 --

    def stage_oci(self) -> list[tuple[str, str]]:
        archive = self.archive
        if archive.exists("oci-layout"):
            version = str(archive.read_json("oci-layout").get("imageLayoutVersion", ""))
            if not version.startswith("1."):
                raise ImageError(f"unsupported OCI layout version {version!r}")
        found = []
        for desc in archive.read_json("index.json").get("manifests") or []:
            notes = desc.get("annotations") or {}
            ref = archive_name(notes.get(CONTAINERD_NAME) or notes.get(REF_NAME), self.name)
            if ref is None:
                continue
            digest = self.fetch(desc)
            manifest = self.json_blob(digest)
            if desc.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
                # A multi-platform image (image-index.md): keep ours only.
                digest = self.fetch(pick_platform(manifest))
                manifest = self.json_blob(digest)
            for blob in [manifest.get("config")] + list(manifest.get("layers") or []):
                self.fetch(blob)
            found.append((ref, digest))
        return found

    def stage_docker(self) -> list[tuple[str, str]]:
        """`docker save`'s manifest.json: [{Config, RepoTags, Layers}]. Its layers
        are plain tars, so a layer's digest is its DiffID; we write the OCI
        manifest such an image would have and store it like any other."""
        found = []
        for entry in self.archive.read_json("manifest.json"):
            config_digest = self.fetch_member(entry.get("Config", ""))
            members, diff_ids = entry.get("Layers") or [], diff_ids_of(None, self.json_blob(config_digest))
            if len(members) != len(diff_ids):
                raise ImageError(
                    f"{self.archive.path}: manifest.json and the image config "
                    "list different numbers of layers"
                )
            layers = []
            for member, diff_id in zip(members, diff_ids, strict=True):
                digest = self.fetch_member(member, diff_id)
                layers.append(
                    {"mediaType": OCI_LAYER_TAR, "digest": digest, "size": os.path.getsize(self.blob(digest))}
                )
            manifest = {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "layers": layers,
                "config": {
                    "mediaType": OCI_CONFIG,
                    "digest": config_digest,
                    "size": os.path.getsize(self.blob(config_digest)),
                },
            }
            data = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
            digest = self.copy_blob(io.BytesIO(data))
            refs = entry.get("RepoTags") or ([self.name] if self.name else [])
            found += [(normalize_ref(r), digest) for r in refs]
        return found

    def fetch(self, desc) -> str:
        """Stage the blob a descriptor points to, checking digest and size."""
        digest, size, _ = descriptor_of(desc)
        return self.fetch_member(f"blobs/sha256/{digest[7:]}", digest, size)

    def fetch_member(self, member: str, digest: str | None = None, size: int | None = None) -> str:
        if digest is None:  # docker save names configs <hex>.json or blobs/sha256/<hex>
            hexname = posixpath.basename(member).removesuffix(".json")
            if re.fullmatch(r"[0-9a-f]{64}", hexname):
                digest = "sha256:" + hexname
        if digest and self.has_blob(digest):
            return digest  # already stored, and checked when it was
        with self.archive.open(member) as src:
            return self.copy_blob(src, digest, size)

    def copy_blob(self, src, digest: str | None = None, size: int | None = None) -> str:
        incoming = os.path.join(self.stage, "blobs", "incoming")
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
            raise ImageError(
                f"blob {digest}: content does not match its digest (got {got})",
                hint="the archive is corrupt or was altered",
            )
        os.rename(incoming, os.path.join(self.stage, "blobs", got[7:]))
        return got

    # -- step 4 --

    def stage_layers(self, manifest_digest: str) -> None:
        manifest = self.json_blob(manifest_digest)
        config = self.json_blob(descriptor_of(manifest.get("config"))[0])
        for desc, diff_id in zip(manifest["layers"], diff_ids_of(manifest, config), strict=True):
            staged = os.path.join(self.stage, "layers", diff_id[7:])
            if self.store.has_layer(diff_id) or os.path.isdir(staged):
                continue  # layers are shared: unpack each one once
            digest, _, media_type = descriptor_of(desc)
            tmp = new_layer_dir(self.stage)
            check_diff_id(unpack_layer(self.blob(digest), media_type, tmp), diff_id, digest)
            os.rename(tmp, staged)


def archive_name(annotation: str | None, name: str | None) -> str | None:
    """The full name of an archived image. The annotation holds either a
    full reference or, as image-layout.md intends, a bare tag."""
    if annotation and any(c in annotation for c in "/:@"):
        return normalize_ref(annotation)
    if annotation and name:
        return normalize_ref(f"{name}:{annotation}")
    if annotation:
        return normalize_ref(annotation)
    if name:
        return normalize_ref(name)
    return None
