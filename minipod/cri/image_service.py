"""The CRI's ImageService over minipod's image store (minipod/image/).

Each call reads the store's names (stored_names), lets image_records decide
what the CRI sees, and answers as containerd's CRI plugin does:

    PullImage     normalize the name; credentials of the request's
                  AuthConfig for the registry and its mirrors
                  (registries.json); the daemon's pull (one process per
                  pull, shared with the Kubernetes API's pods), always
                  pulled: the kubelet has decided; answers the image id
    ListImages    every image, or the one the filter names
    ImageStatus   the image a name or id designates, or an empty answer
                  (not an error) when there is none; `verbose` adds
                  info["info"]: {"chainID", "imageSpec"} (the OCI config)
    RemoveImage   every name of the image; none is not an error
    ImageFsInfo   the store's directory: bytes and inodes it uses

PullImageRequest.sandbox_config only picks a snapshotter or runtime
handler in containerd; minipod has one of each, so it is accepted and not
needed.
"""

import hashlib
import json
import os
import time

import grpc

import minipod.cri.api_pb2 as api_pb2  # generated at build time (setup.py)
import minipod.cri.api_pb2_grpc as api_pb2_grpc
from minipod.cri.image_records import CriImage, StoredName, find_image, group_images, image_user, pull_auths
from minipod.errors import MinipodError
from minipod.image.pull_coordinator import PullFailed
from minipod.image.refs import descriptor_of, diff_ids_of, normalize_ref
from minipod.image.registry_config import RegistriesConfig, registries_file


def add_image_service(server, inst, manager, images, log) -> None:
    api_pb2_grpc.add_ImageServiceServicer_to_server(ImageService(inst, manager, images, log), server)


class ImageService(api_pb2_grpc.ImageServiceServicer):
    def __init__(self, inst, manager, images, log):
        self.inst, self.manager, self.store, self.log = inst, manager, images, log

    # --- reading the store ----------------------------------------------------
    def _json(self, digest: str) -> dict:
        with open(self.store.blob_path(digest), "rb") as f:
            return json.load(f)

    def stored_names(self) -> list[StoredName]:
        names = []
        for entry in self.store.list():
            repository, tag, digest = entry["repository"], entry["tag"], entry["digest"]
            name = f"{repository}:{tag}" if tag is not None else f"{repository}@{digest}"
            config_digest = descriptor_of(self._json(digest).get("config"))[0]
            names.append(StoredName(name, digest, config_digest, entry["size"]))
        return names

    def images(self) -> list[CriImage]:
        return group_images(self.stored_names())

    def message(self, image: CriImage) -> "api_pb2.Image":
        config = self._json(image.id).get("config") or {}
        uid, username = image_user(str(config.get("User") or ""))
        return api_pb2.Image(
            id=image.id,
            repo_tags=image.repo_tags,
            repo_digests=image.repo_digests,
            size=image.size,
            uid=api_pb2.Int64Value(value=uid) if uid is not None else None,
            username=username,
        )

    # --- the calls ------------------------------------------------------------
    async def ListImages(self, request, context):
        images = self.images()
        wanted = request.filter.image.image if request.HasField("filter") else ""
        if wanted:
            found = find_image(images, wanted)
            images = [found] if found else []
        return api_pb2.ListImagesResponse(images=[self.message(i) for i in images])

    async def ImageStatus(self, request, context):
        image = find_image(self.images(), request.image.image)
        if image is None:
            return api_pb2.ImageStatusResponse()
        info = {}
        if request.verbose:
            spec = self._json(image.id)
            info["info"] = json.dumps({"chainID": chain_id(diff_ids_of(None, spec)), "imageSpec": spec})
        return api_pb2.ImageStatusResponse(image=self.message(image), info=info)

    async def PullImage(self, request, context):
        text = request.image.image
        try:
            ref = normalize_ref(text)
        except MinipodError as e:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"PullImageRequest.image.image: {e}")
        try:
            config = RegistriesConfig.load(registries_file(self.inst.etc))
            hosts = [e.netloc for e in config.endpoints(ref.split("/", 1)[0])]
            a = request.auth
            auths = pull_auths(a.username, a.password, a.auth, a.server_address, a.identity_token, hosts)
        except MinipodError as e:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, _with_hint(e))
        try:
            done = await self.manager.pulls.pull(ref, "Always", [auths] if auths else None)
        except PullFailed as e:
            await context.abort(grpc.StatusCode.UNKNOWN, f'failed to pull and unpack image "{ref}": {e}')
        image_id = descriptor_of(self._json(done["digest"]).get("config"))[0]
        self.log(f"CRI: pulled {ref} ({image_id})")
        return api_pb2.PullImageResponse(image_ref=image_id)

    async def RemoveImage(self, request, context):
        image = find_image(self.images(), request.image.image)
        if image is None:
            return api_pb2.RemoveImageResponse()  # containerd: already gone is done
        for stored in self.stored_names():
            if stored.config_digest == image.id:
                try:
                    self.store.remove(stored.name)
                except MinipodError as e:  # removed meanwhile by another caller
                    self.log(f"CRI: removing image name {stored.name}: {e}")
        self.log(f"CRI: removed image {image.id}")
        return api_pb2.RemoveImageResponse()

    async def ImageFsInfo(self, request, context):
        used, inodes = tree_usage(self.store.dir)
        usage = api_pb2.FilesystemUsage(
            timestamp=time.time_ns(),
            fs_id=api_pb2.FilesystemIdentifier(mountpoint=self.store.dir),
            used_bytes=api_pb2.UInt64Value(value=used),
            inodes_used=api_pb2.UInt64Value(value=inodes),
        )
        return api_pb2.ImageFsInfoResponse(image_filesystems=[usage])


def chain_id(diff_ids: list[str]) -> str:
    """The image's ChainID (image-spec config.md): the layers' DiffIDs,
    each hashed with the chain below it."""
    chain = ""
    for diff_id in diff_ids:
        chain = (
            diff_id if not chain else "sha256:" + hashlib.sha256(f"{chain} {diff_id}".encode()).hexdigest()
        )
    return chain


def tree_usage(path: str) -> tuple[int, int]:
    """Bytes (allocated blocks) and inodes under PATH, each inode once: an
    image's hard links (busybox's applets) share one."""
    used = 0
    seen: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(root, name))
            except FileNotFoundError:  # removed while we walk
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                used += st.st_blocks * 512
    return used, len(seen)


def _with_hint(e: MinipodError) -> str:
    return f"{e} ({e.hint})" if e.hint else str(e)
