"""The files of the local image store (store.py): where each object lives
under IMAGES_DIR, reading blobs, reading and writing index.json (the names),
the store's lock. StoreFiles is the base of ImageStore, which does the
imports, pulls and removals on top of it.

On-disk objects, under IMAGES_DIR:

    oci-layout             {"imageLayoutVersion": "1.0.0"}
    index.json             an OCI image index: one entry per image name, the
                           manifest's descriptor annotated with the full name in
                           org.opencontainers.image.ref.name (annotations.md)
    blobs/sha256/<hex>     manifests, configs and layer tars (compressed or not),
                           each named by the sha256 of its bytes
    layers/<diffid-hex>/   one unpacked layer, shared by every image that uses
                           it, named by its DiffID (sha256 of the plain tar)
    tmp/                   staging: imports and pulls work here, then rename
    lock, pulls.lock, locks/   flock()s, see minipod/image/locks.py

StoreFiles holds:

    1. paths       blobs_dir, layers_dir, tmp_dir, locks_dir, index_path;
                   _blob/_blob_path (staged first, then stored), _layer_dir
    2. reading     _json_blob (a manifest or config, capped at MAX_JSON),
                   _references (the blobs and DiffIDs an image uses)
    3. the index   _read_index/_write_index: index.json as {normalized
                   name: manifest descriptor}, written tmp + fsync + rename;
                   _names_of: the names a reference designates
    4. layout      _ensure_layout (the directories and oci-layout), _locked
                   (the store's flock)
"""

import json
import os

from minipod.errors import ImageError
from minipod.fsutil import flocked, write_atomic
from minipod.image.layers import MAX_JSON
from minipod.image.refs import OCI_INDEX, REF_NAME, descriptor_of, diff_ids_of, split_ref


class StoreFiles:
    """The paths and files of an image store at IMAGES_DIR."""

    def __init__(self, images_dir: str):
        self.dir = os.path.abspath(images_dir)
        self.blobs_dir = os.path.join(self.dir, "blobs", "sha256")
        self.layers_dir = os.path.join(self.dir, "layers")
        self.tmp_dir = os.path.join(self.dir, "tmp")
        self.locks_dir = os.path.join(self.dir, "locks")
        self.index_path = os.path.join(self.dir, "index.json")

    # -- the files of the store --

    def _blob(self, digest: str, stage: str | None = None) -> str | None:
        """The path of a blob, staged or stored, or None."""
        paths = [os.path.join(self.blobs_dir, digest[7:])]
        if stage:
            paths.insert(0, os.path.join(stage, "blobs", digest[7:]))
        return next((p for p in paths if os.path.exists(p)), None)

    def _blob_path(self, digest: str, stage: str | None = None) -> str:
        """The path of a blob that must be there."""
        path = self._blob(digest, stage)
        if path is None:
            raise ImageError(f"blob {digest} is missing from the image store")
        return path

    def _json_blob(self, digest: str, stage: str | None = None) -> dict:
        path = self._blob_path(digest, stage)
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
        config_digest = descriptor_of(manifest.get("config"))[0]
        blobs = [manifest_digest, config_digest] + [descriptor_of(d)[0] for d in manifest.get("layers") or []]
        return blobs, diff_ids_of(manifest, self._json_blob(config_digest, stage))

    def _ensure_layout(self) -> None:
        for d in (self.blobs_dir, self.layers_dir, self.tmp_dir):
            os.makedirs(d, exist_ok=True)
        layout = os.path.join(self.dir, "oci-layout")
        if not os.path.exists(layout):
            write_atomic(layout, b'{"imageLayoutVersion": "1.0.0"}\n')

    def _locked(self):
        os.makedirs(self.dir, exist_ok=True)
        return flocked(os.path.join(self.dir, "lock"))

    def _read_index(self) -> dict[str, dict]:
        """index.json as {normalized name: manifest descriptor}."""
        try:
            with open(self.index_path, "rb") as f:
                doc = json.load(f)
        except FileNotFoundError:
            return {}
        return {
            desc["annotations"][REF_NAME]: {k: v for k, v in desc.items() if k != "annotations"}
            for desc in doc.get("manifests") or []
        }

    def _write_index(self, entries: dict[str, dict]) -> None:
        manifests = [dict(desc, annotations={REF_NAME: ref}) for ref, desc in sorted(entries.items())]
        doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        write_atomic(self.index_path, (json.dumps(doc, indent=2) + "\n").encode())


# ---------------------------------------------------------------- helpers


def _names_of(entries: dict, ref: str) -> list[str]:
    """The index names REF designates: itself, or for REPO@DIGEST every
    name of REPO whose image has that digest."""
    if ref in entries:
        return [ref]
    repository, _, digest = split_ref(ref)
    return [
        r
        for r, desc in entries.items()
        if digest and desc["digest"] == digest and split_ref(r)[0] == repository
    ]
