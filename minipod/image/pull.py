"""Pull an image from a registry into the local image store, in a process
of its own (the daemon never runs an HTTP client: it forks).

    python -m minipod.image.pull REF --store IMAGES_DIR [--policy P] [--platform OS/ARCH[/V]]

stdin: a JSON object, every key optional (empty stdin is {}):

    {"secrets": [DOCKERCONFIGJSON, ...],  the pod's imagePullSecrets, decoded:
                                          {"auths": {...}} each, tried in order
     "auths": {...},                      or one such document's "auths"
     "authFiles": [PATH, ...],            Docker-style auth files, after the secrets
     "registriesFile": PATH,              registries.json (registry_config.py)
     "registries": {...},                 or its content inline
     "platform": "linux/arm64/v8"}        default: this host

stdout: one JSON object per line, as the pull goes:

    {"event": "manifest", "ref": R, "digest": D, "layers": [{"digest", "size"}]}
    {"event": "layer", "digest": D, "total": N, "done": M, "status": S}
        S: "present" (in the store already: nothing fetched), "waiting"
        (another process is fetching it), "downloading" (repeated, at most
        every 0.1 s), "done" (verified and unpacked)
    {"event": "done", "ref": R, "digest": D, "repoDigest": RD, "pulled": true|false}
        D is the stored manifest's digest, RD the one the registry names
        (an index's, for a multi-platform image)
    {"event": "error", "reason": "ErrImagePull", "message": "..."}
        reason: ErrImagePull, ErrImageNeverPull, or InvalidImageName

Exit status 0 when the image is in the store, 1 otherwise.

pull_image(store, ref, creds, config) does, in order:

    1. normalize REF; read the credentials and registries.json
    2. resolve the manifest for the platform (registry.py, steps 1-4)
    3. within store.pulling(): store the manifest and the config blob
    4. for each layer, up to 3 at once, holding the layer's blob lock:
       skip it if its DiffID's directory is in the store; unpack it from the
       stored blob if only that is there; else download it into tmp/,
       unpacking while it streams in, then check digest, size and DiffID,
       and only then rename blob and layer into the store
    5. store.commit_pulled(): name the image in index.json
"""

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from minipod.errors import ImageError
from minipod.image.layers import (
    check_diff_id,
    compression_of,
    new_layer_dir,
    remove_entry,
    unpack_layer,
    unpack_stream,
)
from minipod.image.refs import (
    descriptor_of,
    diff_ids_of,
    host_platform,
    normalize_ref,
    parse_platform,
    split_ref,
)
from minipod.image.store import Image, ImageStore, should_pull

PARALLEL_LAYERS = 3  # as Docker's max-concurrent-downloads
PROGRESS_EVERY = 0.1  # seconds between two "downloading" events of a layer


def pull_image(store: ImageStore, ref: str, creds=None, config: dict | None = None, progress=None) -> Image:
    """Pull REF into STORE; return the stored Image. CREDS: a list of
    dockerconfigjson documents (or one); CONFIG: the stdin keys above
    (authFiles, registriesFile, registries, platform); PROGRESS(event dict)
    is called, from several threads, with the events above."""
    from minipod.image.registry import Registry, RegistryError
    from minipod.image.registry_config import Credentials, RegistriesConfig

    emit = progress or (lambda event: None)
    config = config or {}
    ref = normalize_ref(ref)  # step 1
    secrets = [creds] if isinstance(creds, dict) else list(creds or [])
    credentials = Credentials.load(secrets, config.get("authFiles"))
    registries = RegistriesConfig.load(config.get("registriesFile"), config.get("registries"))
    wanted = parse_platform(config["platform"]) if config.get("platform") else host_platform()
    repository, tag, digest = split_ref(ref)
    host, name = repository.split("/", 1)
    with Registry(host, name, credentials, registries, ref) as registry:
        resolved = registry.resolve(digest or tag, wanted)  # step 2
        manifest = resolved.doc
        layers = [descriptor_of(d) for d in manifest.get("layers") or []]
        emit(
            {
                "event": "manifest",
                "ref": ref,
                "digest": resolved.digest,
                "layers": [{"digest": d, "size": s} for d, s, _ in layers],
            }
        )
        with store.pulling():
            store.put_blob(resolved.manifest, resolved.digest)  # step 3
            config_digest, config_size, _ = descriptor_of(manifest.get("config"))
            config_blob = registry.blob_bytes(config_digest, config_size)
            store.put_blob(config_blob, config_digest)
            try:
                diff_ids = diff_ids_of(manifest, json.loads(config_blob))
            except (ValueError, AttributeError, ImageError) as e:
                raise RegistryError(f"{ref}: config {config_digest}: {e}") from None
            fetch = _LayerFetcher(store, registry, emit)  # step 4
            with ThreadPoolExecutor(PARALLEL_LAYERS, thread_name_prefix="layer") as pool:
                for future in [
                    pool.submit(fetch, layer, diff_id)
                    for layer, diff_id in zip(layers, diff_ids, strict=True)
                ]:
                    future.result()
            image = store.commit_pulled(ref, resolved.digest)  # step 5
    emit(
        {
            "event": "done",
            "ref": ref,
            "digest": image.digest,
            "repoDigest": resolved.repo_digest,
            "pulled": True,
        }
    )
    return image


class _LayerFetcher:
    """Step 4 for one layer; called in pool threads."""

    def __init__(self, store: ImageStore, registry, emit):
        self.store, self.registry, self.emit = store, registry, emit
        self.failed = threading.Event()  # one layer failed: the others stop early

    def __call__(self, layer: tuple[str, int, str], diff_id: str) -> None:
        digest, size, media_type = layer
        event = {"event": "layer", "digest": digest, "total": size}
        try:
            compression_of(media_type)  # refuse e.g. zstd before downloading
            fetched = False
            if not self.store.has_layer(diff_id) and not self.failed.is_set():
                with self.store.blob_lock(digest, lambda: self.emit(dict(event, done=0, status="waiting"))):
                    # Another pull may have stored it while we waited.
                    if not self.store.has_layer(diff_id) and not self.failed.is_set():
                        self.fetch(layer, diff_id, event)
                        fetched = True
        except BaseException as e:
            self.failed.set()
            from minipod.image.registry import RegistryError

            if isinstance(e, ImageError) and not isinstance(e, RegistryError):
                raise RegistryError(f"{self.registry.ref}: layer {digest}: {e}") from None
            raise
        if not self.failed.is_set():
            self.emit(dict(event, done=size, status="done" if fetched else "present"))

    def fetch(self, layer: tuple[str, int, str], diff_id: str, event: dict) -> None:
        """Holding the blob's lock: unpack the stored blob, or download it;
        check; then rename blob and layer into the store."""
        digest, size, media_type = layer
        tmp_dir = new_layer_dir(self.store.tmp_dir)
        blob = tmp_dir + ".blob"
        try:
            if self.store.has_blob(digest):
                got = unpack_layer(self.store.blob_path(digest), media_type, tmp_dir)
            else:
                got = self.download(digest, size, media_type, tmp_dir, event)
            check_diff_id(got, diff_id, digest)
            self.store.publish_layer(tmp_dir, diff_id, (blob, digest) if os.path.exists(blob) else None)
        except BaseException:
            for path in (tmp_dir, blob):
                remove_entry(path)
            raise

    def download(self, digest: str, size: int, media_type: str, tmp_dir: str, event: dict) -> str:
        """Fetch the blob into TMP_DIR.blob, unpacking it into TMP_DIR as it
        streams in; return the DiffID. A blob whose digest is wrong raises
        (that error wins over an unpacking error its damage caused)."""
        last = [0.0]

        def progress(done: int) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY and done < size:
                last[0] = now
                self.emit(dict(event, done=done, status="downloading"))

        with (
            open(tmp_dir + ".blob", "wb") as sink,
            self.registry.blob(digest, size, sink, progress) as stream,
        ):
            try:
                got = unpack_stream(stream, media_type, tmp_dir, digest)
            except ImageError:
                stream.drain()
                stream.verify()
                raise
            stream.drain()
            stream.verify()
        return got


# ---------------------------------------------------------------- the command


def pull_command(ref: str, store_dir: str, policy: str = "Always") -> list[str]:
    """The argv that runs a pull in its own process, with this interpreter."""
    return [sys.executable, "-I", "-m", "minipod.image.pull", ref, "--store", store_dir, "--policy", policy]


def pull_input(etc_dir: str, secrets: list[dict] | None = None) -> bytes:
    """The stdin of a pull for an instance whose config lives in ETC_DIR."""
    from minipod.image.registry_config import default_auth_files, registries_file

    return json.dumps(
        {
            "secrets": secrets or [],
            "authFiles": default_auth_files(etc_dir),
            "registriesFile": registries_file(etc_dir),
        }
    ).encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m minipod.image.pull",
        description="Pull an image into a minipod image store; progress as JSON lines on stdout.",
    )
    parser.add_argument("ref")
    parser.add_argument("--store", required=True, metavar="IMAGES_DIR")
    parser.add_argument("--policy", default="Always", choices=["Always", "IfNotPresent", "Never"])
    parser.add_argument("--platform", help="OS/ARCH[/VARIANT] (default: this host's)")
    args = parser.parse_args(argv)
    out_lock = threading.Lock()

    def emit(event: dict) -> None:
        line = json.dumps(event, separators=(",", ":")) + "\n"
        with out_lock:
            sys.stdout.write(line)
            sys.stdout.flush()

    def fail(reason: str, message: str) -> int:
        emit({"event": "error", "reason": reason, "message": message})
        return 1

    try:
        ref = normalize_ref(args.ref)
    except ImageError as e:
        return fail("InvalidImageName", str(e))
    try:
        text = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
        stdin = json.loads(text) if text.strip() else {}
        if not isinstance(stdin, dict):
            raise ValueError("not a JSON object")
    except ValueError as e:
        return fail("ErrImagePull", f"the pull's input on stdin is not valid JSON: {e}")
    if args.platform:
        stdin["platform"] = args.platform
    store = ImageStore(args.store)
    try:
        image = store.lookup(ref)
    except ImageError:
        image = None  # damaged: pulling again repairs it
    if not should_pull(args.policy, image is not None):
        if image is None:
            return fail(
                "ErrImageNeverPull", f'Container image "{args.ref}" is not present with pull policy of Never'
            )
        emit({"event": "done", "ref": ref, "digest": image.digest, "repoDigest": None, "pulled": False})
        return 0
    secrets = stdin.get("secrets") or ([{"auths": stdin["auths"]}] if stdin.get("auths") else [])
    try:
        pull_image(store, ref, secrets, stdin, emit)
    except ImageError as e:
        return fail(getattr(e, "reason", "ErrImagePull"), str(e))
    except OSError as e:
        return fail("ErrImagePull", f"{ref}: writing to the image store {store.dir}: {e}")
    return 0


if __name__ == "__main__":
    try:
        status = main()
    except KeyboardInterrupt:  # the progress lines are the interface: no traceback
        status = 130
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is on disk, every file closed, every lock released: skip the
    # interpreter's teardown, a tenth of a small pull's time.
    os._exit(status)
