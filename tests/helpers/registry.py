"""Registries on loopback for the pull tests, and images to put in them.

    RegistryServer    a real registry (the distribution project's, packaged as
                      `docker-registry`): temp storage, generated config, a
                      free port, optional htpasswd basic auth; its access log
                      counts the blob GETs
    TokenRegistry     a minimal fake registry (http.server, in a thread) that
                      serves an OCI layout's blobs only with a Bearer token
                      from its own /token realm, as Docker Hub, GHCR and Quay do
    push()            skopeo copy an image into a registry
    random_layer(), write_layout()   layer tars and (multi-platform) OCI layouts

Every server listens on 127.0.0.1 only and stops at the end of its fixture.
"""

import base64
import gzip
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from minipod.image import base as baseimage
from minipod.image.base import OCI_LAYER_GZIP
from minipod.image.refs import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, REF_NAME

INSECURE_POLICY = '{"default": [{"type": "insecureAcceptAnything"}]}'


class RegistryServer:
    def __init__(self, workdir: str, users: dict[str, str] | None = None):
        self.dir = workdir
        self.storage = os.path.join(workdir, "storage")
        self.access_log = os.path.join(workdir, "access.log")
        self.users = users or {}
        self.proc = None
        self.host = None

    def start(self) -> "RegistryServer":
        os.makedirs(self.storage, exist_ok=True)
        auth = ""
        if self.users:
            htpasswd = os.path.join(self.dir, "htpasswd")
            with open(htpasswd, "w") as f:
                for user, password in self.users.items():
                    f.write(
                        subprocess.run(
                            ["htpasswd", "-Bbn", user, password], check=True, capture_output=True, text=True
                        ).stdout.strip()
                        + "\n"
                    )
            auth = f"auth:\n  htpasswd:\n    realm: test-realm\n    path: {htpasswd}\n"
        config = os.path.join(self.dir, "config.yml")
        with open(config, "w") as f:
            f.write(
                "version: 0.1\nlog:\n  level: info\n"
                f"storage:\n  filesystem:\n    rootdirectory: {self.storage}\n"
                "http:\n  addr: 127.0.0.1:0\n  secret: test-secret\n" + auth
            )
        errors = os.path.join(self.dir, "registry.log")
        with open(self.access_log, "wb") as out, open(errors, "wb") as err:
            self.proc = subprocess.Popen(
                ["docker-registry", "serve", config], stdout=out, stderr=err, stdin=subprocess.DEVNULL
            )
        deadline = time.time() + 20
        while self.host is None:
            with open(errors) as f:
                found = re.search(r"listening on (127\.0\.0\.1:\d+)", f.read())
            if found:
                self.host = found.group(1)
            elif self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                with open(errors) as f:
                    raise RuntimeError(f"the registry did not start:\n{f.read()}")
            else:
                time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def blob_gets(self, digest: str) -> int:
        """How many GETs of the blob DIGEST the registry answered."""
        pattern = re.compile(rf'"GET /v2/\S+/blobs/{re.escape(digest)} HTTP/[\d.]+" 200 ')
        with open(self.access_log) as f:
            return sum(1 for line in f if pattern.search(line))

    def blob_file(self, digest: str) -> str:
        """Where the registry keeps the blob's bytes (its filesystem driver)."""
        hexa = digest.split(":")[1]
        return os.path.join(self.storage, "docker/registry/v2/blobs/sha256", hexa[:2], hexa, "data")


def push(source: str, dest: str, creds: str | None = None, all_images: bool = False) -> None:
    """skopeo copy SOURCE (e.g. oci-archive:PATH) to docker://DEST, with a
    signature policy of its own (a host may have none)."""
    cmd = ["skopeo", "--policy", "/dev/stdin", "copy", "-q", "--dest-tls-verify=false"]
    cmd += ["--dest-creds", creds] if creds else []
    cmd += ["--all"] if all_images else []
    subprocess.run(
        cmd + [source, f"docker://{dest}"],
        check=True,
        capture_output=True,
        input=INSECURE_POLICY,
        text=True,
        timeout=120,
    )


# ---------------------------------------------------------------- images


def random_layer(name: str, size: int, seed: int | str) -> bytes:
    """A layer tar with one file of SIZE pseudo-random bytes (same SEED, same tar)."""
    data = hashlib.shake_256(str(seed).encode()).digest(size) if size else b""
    return file_layer({name: data})


def file_layer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            tar.addfile(baseimage.tar_entry(name, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    return buf.getvalue()


def write_layout(path: str, tag: str, images: list[tuple[dict, list[bytes]]]) -> dict:
    """Write an OCI layout directory: one manifest per (platform, plain layer
    tars), all under one image index tagged TAG (a lone manifest if only one).
    Return {"index": digest or None, platform "os/arch": manifest digest}."""
    blobs, entries, found = {}, [], {}

    def add(media_type: str, data: bytes, **extra) -> dict:
        blobs[baseimage.sha256(data)] = data
        return dict(baseimage.descriptor(media_type, data), **extra)

    for platform, layers in images:
        gz = [gzip.compress(t, mtime=0) for t in layers]
        config = baseimage.canonical_json(
            {
                **platform,
                "config": {"Cmd": ["sh"]},
                "rootfs": {"type": "layers", "diff_ids": [baseimage.sha256(t) for t in layers]},
            }
        )
        manifest = baseimage.canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": add(OCI_CONFIG, config),
                "layers": [add(OCI_LAYER_GZIP, b) for b in gz],
            }
        )
        entries.append(add(OCI_MANIFEST, manifest, platform=platform))
        found[f"{platform['os']}/{platform['architecture']}"] = entries[-1]["digest"]
    top = entries[0]
    found["index"] = None
    if len(entries) > 1:
        index = baseimage.canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
        top = add(OCI_INDEX, index)
        found["index"] = top["digest"]
    os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
    for digest, data in blobs.items():
        with open(os.path.join(path, "blobs", "sha256", digest[7:]), "wb") as f:
            f.write(data)
    top = dict(top, annotations={REF_NAME: tag})
    top.pop("platform", None)
    with open(os.path.join(path, "index.json"), "wb") as f:
        f.write(baseimage.canonical_json({"schemaVersion": 2, "manifests": [top]}))
    with open(os.path.join(path, "oci-layout"), "wb") as f:
        f.write(b'{"imageLayoutVersion":"1.0.0"}')
    return found


# ---------------------------------------------------------------- a token registry


class TokenRegistry:
    """Serves the image of an OCI layout directory as REPO:TAG, only to
    requests with a Bearer token from GET /token (token.md), which needs
    Basic credentials when USERS is given; anonymous tokens otherwise."""

    def __init__(self, layout: str, repo: str, tag: str, users: dict | None = None):
        self.layout, self.repo, self.tag, self.users = layout, repo, tag, users or {}
        self.tokens: set[str] = set()
        self.requests: list[tuple[str, str]] = []  # (path, Authorization)
        with open(os.path.join(layout, "index.json")) as f:
            self.top = json.load(f)["manifests"][0]
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def _handler(self):
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, code: int, body: bytes, headers: dict | None = None):
                self.send_response(code)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                auth = self.headers.get("Authorization", "")
                registry.requests.append((self.path, auth))
                if self.path.startswith("/token?"):
                    return self.token(auth)
                if auth.removeprefix("Bearer ") not in registry.tokens:
                    challenge = (
                        f'Bearer realm="http://{registry.host}/token",service='
                        f'"fake-registry",scope="repository:{registry.repo}:pull"'
                    )
                    return self.reply(
                        401,
                        b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                        {"WWW-Authenticate": challenge},
                    )
                prefix = f"/v2/{registry.repo}/"
                kind, _, ref = self.path.removeprefix(prefix).partition("/")
                digest = registry.top["digest"] if ref == registry.tag else ref
                path = os.path.join(registry.layout, "blobs", "sha256", digest[7:])
                if not self.path.startswith(prefix) or not os.path.isfile(path):
                    return self.reply(
                        404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'
                    )
                with open(path, "rb") as f:
                    data = f.read()
                media = json.loads(data).get("mediaType") if kind == "manifests" else None
                self.reply(
                    200,
                    data,
                    {"Content-Type": media or "application/octet-stream", "Docker-Content-Digest": digest},
                )

            def token(self, auth: str):
                if registry.users:
                    try:
                        user, _, password = (
                            base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
                        )
                    except ValueError:
                        user, password = "", None
                    if registry.users.get(user) != password:
                        return self.reply(401, b'{"details":"incorrect username or password"}')
                token = secrets.token_hex(16)
                registry.tokens.add(token)
                self.reply(
                    200,
                    json.dumps({"token": token, "expires_in": 300}).encode(),
                    {"Content-Type": "application/json"},
                )

        return Handler


# --- fixtures shared by the pull tests (imported by the test modules) ---------

USERS = {"alice": "s3cret"}


@pytest.fixture(scope="module")
def workdir():
    path = tempfile.mkdtemp(prefix="minipod-pull-test-")
    yield path
    shutil.rmtree(path)


@pytest.fixture(scope="module")
def registry(workdir):
    server = RegistryServer(tempfile.mkdtemp(dir=workdir)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def auth_registry(workdir):
    server = RegistryServer(tempfile.mkdtemp(dir=workdir), users=USERS).start()
    yield server
    server.stop()
