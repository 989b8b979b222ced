"""A client for OCI registries: the pull side of the distribution-spec
(spec.md of opencontainers/distribution-spec), with httpx. It runs in the
pull process (pull.py), never in the daemon: HTTP client libraries start
threads, and the daemon forks.

Pulling one image, in order (Registry.resolve, then Registry.blob):

    1. endpoints: the mirrors registries.json lists for the host, then the
       host itself (docker.io is served by registry-1.docker.io); scheme:
       https, or plain http for loopback hosts and hosts listed as insecure
    2. GET /v2/<name>/manifests/<tag or digest> with an Accept header naming
       the OCI index and manifest and Docker's manifest list and schema 2
       (spec.md, "Pulling manifests"); a 401 -> authenticate (registry_auth.py), retry;
       an endpoint that fails -> the next one
    3. check the manifest's bytes against the digest it was asked by, or
       when asked by tag against the Docker-Content-Digest header
       (spec.md, "Content Digests": the client MUST verify)
    4. an index or manifest list -> pick this host's platform (image-index.md)
       -> GET that manifest by its digest, check it as in 3
    5. GET /v2/<name>/blobs/<digest> for the config and each layer
       (spec.md, "Pulling blobs"), following redirects (httpx drops the
       Authorization header when one leaves the registry's origin); the
       caller reads a BlobStream, which hashes each byte as it passes and
       refuses more bytes than the descriptor's size

Authentication, on a 401 (Docker's token spec): registry_auth.py.
Credentials and registries.json: registry_config.py.
"""

import hashlib
import json
import threading
from collections.abc import Iterator

import httpx

from minipod.errors import ImageError
from minipod.image.layers import CHUNK, MAX_JSON
from minipod.image.refs import DIGEST_RE, DOCKER_SCHEMA1, INDEX_TYPES, MANIFEST_TYPES, pick_platform
from minipod.image.registry_auth import (
    USER_AGENT,
    _EndpointFailed,
    authenticate,
    describe_transport_error,
    error_message,
)
from minipod.image.registry_config import Credentials, Endpoint, RegistriesConfig, is_loopback

ACCEPT = ", ".join([*MANIFEST_TYPES, *INDEX_TYPES])
TIMEOUT = httpx.Timeout(60.0, connect=15.0)


class RegistryError(ImageError):
    """A pull that failed; reason is the kubelet's: ErrImagePull."""

    reason = "ErrImagePull"


# ---------------------------------------------------------------- HTTP


class Resolved:
    """A manifest of one platform: its bytes, digest and media type, and the
    digest the reference named (an index's, for a multi-platform image)."""

    def __init__(self, manifest: bytes, digest: str, media_type: str, repo_digest: str):
        self.manifest, self.digest, self.media_type = manifest, digest, media_type
        self.repo_digest = repo_digest
        self.doc = json.loads(manifest)


class Registry:
    """One repository of one registry (host, e.g. ghcr.io; name, e.g. me/app)."""

    def __init__(
        self,
        host: str,
        name: str,
        credentials: Credentials | None = None,
        config: RegistriesConfig | None = None,
        ref: str | None = None,
    ):
        self.host, self.name = host, name
        self.ref = ref or f"{host}/{name}"
        self.credentials = credentials or Credentials()
        self.config = config or RegistriesConfig()
        self.endpoints = self.config.endpoints(host)
        self.clients: dict[tuple, httpx.Client] = {}
        # Layers download in parallel threads; auth may fetch a token holding it.
        self.lock = threading.RLock()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for client in self.clients.values():
            client.close()

    # -- steps 2-4 --

    def resolve(self, reference: str, platform: dict) -> Resolved:
        """The manifest REFERENCE (a tag or a digest) names, for PLATFORM."""
        data, digest, media_type = self.manifest(reference)
        if media_type in INDEX_TYPES:
            try:
                chosen = pick_platform(json.loads(data), platform)
            except ImageError as e:
                raise RegistryError(f"{self.ref}: choosing from the index {digest}: {e}") from None
            inner, inner_digest, inner_type = self.manifest(chosen["digest"])
            if inner_type not in MANIFEST_TYPES:
                raise RegistryError(
                    f"{self.ref}: the index entry {inner_digest} is a {inner_type}, not an image manifest"
                )
            return Resolved(inner, inner_digest, inner_type, digest)
        return Resolved(data, digest, media_type, digest)

    def manifest(self, reference: str) -> tuple[bytes, str, str]:
        """GET one manifest: (bytes, digest, media type), checked (steps 2, 3)."""
        step = f"reading manifest {reference}"
        with self.get(f"manifests/{reference}", step, {"Accept": ACCEPT}) as (resp, endpoint):
            data = _read_capped(resp, MAX_JSON, f"{self.ref}: {step}")
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        header = resp.headers.get("docker-content-digest", "")
        expected = reference if DIGEST_RE.fullmatch(reference) else header
        if expected.startswith("sha256:") and expected != digest:
            raise RegistryError(
                f"{self.ref}: {step} from {endpoint}: the manifest does not "
                f"match its digest {expected} (got {digest})"
            )
        try:
            doc = json.loads(data)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise RegistryError(f"{self.ref}: {step} from {endpoint}: not a JSON manifest")
        media_type = doc.get("mediaType") or resp.headers.get("content-type", "").split(";")[0]
        if media_type not in (*MANIFEST_TYPES, *INDEX_TYPES):
            if doc.get("schemaVersion") == 1 or media_type in DOCKER_SCHEMA1:
                raise RegistryError(
                    f"{self.ref}: {step}: a Docker schema 1 manifest, which is deprecated and not supported",
                    hint="push the image again with a current tool",
                )
            media_type = INDEX_TYPES[0] if "manifests" in doc else MANIFEST_TYPES[0]
        return data, digest, media_type

    # -- step 5 --

    def blob_bytes(self, digest: str, size: int) -> bytes:
        """A small blob (a config), checked, in memory."""
        if size > MAX_JSON:
            raise RegistryError(f"{self.ref}: blob {digest} is {size} bytes, too big for a config")
        with self.blob(digest, size) as stream:
            data = stream.read_all()
        return data

    def blob(self, digest: str, size: int, sink=None, progress=None) -> "BlobStream":
        """A BlobStream of the blob DIGEST (use it as a context manager)."""
        return BlobStream(self, digest, size, sink, progress)

    # -- requests --

    def get(self, path: str, step: str, headers: dict | None = None):
        """GET /v2/<name>/PATH from the first endpoint that serves it; a
        context manager yielding (response, endpoint), the body unread."""
        return _Request(self, path, step, headers or {})

    def client(self, netloc: str, verify: bool) -> httpx.Client:
        """A client for the server NETLOC. Proxy settings from the
        environment apply, except to loopback hosts."""
        key = (verify, not is_loopback(netloc))
        with self.lock:
            if key not in self.clients:
                self.clients[key] = httpx.Client(
                    verify=key[0],
                    trust_env=key[1],
                    timeout=TIMEOUT,
                    follow_redirects=True,
                    # identity: digests are of the bytes as stored, never re-encoded
                    headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
                    limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
                )
            return self.clients[key]

    def send(self, endpoint: Endpoint, path: str, headers: dict) -> httpx.Response:
        """One GET, trying the endpoint's schemes; raises on transport errors."""
        errors = []
        for scheme in list(endpoint.schemes):
            url = f"{scheme}://{endpoint.netloc}/v2/{self.name}/{path}"
            client = self.client(endpoint.netloc, endpoint.verify)
            try:
                resp = client.send(client.build_request("GET", url, headers=headers), stream=True)
            except httpx.TransportError as e:
                errors.append(e)
                continue
            if (
                resp.status_code == 400
                and scheme == "http"
                and len(endpoint.schemes) > 1
                and b"HTTPS server" in resp.read()[:200]
            ):
                resp.close()  # a TLS server, reached in plain HTTP
                continue
            endpoint.schemes = [scheme]  # this one answers: keep it
            return resp
        raise errors[0] if errors else httpx.ConnectError("the server wants HTTPS")


class _Request:
    """Registry.get(): endpoints in order, authentication, errors (steps 1, 2)."""

    def __init__(self, registry: Registry, path: str, step: str, headers: dict):
        self.registry, self.path, self.step, self.headers = registry, path, step, headers
        self.resp = None

    def __enter__(self):
        reg, failures = self.registry, []
        for endpoint in reg.endpoints:
            try:
                resp = self._attempt(endpoint)
            except httpx.HTTPError as e:
                failures.append(f"{endpoint}: {describe_transport_error(e)}")
                continue
            except _EndpointFailed as e:
                failures.append(f"{endpoint}: {e}")
                continue
            if resp.status_code == 200:
                self.resp = resp
                return resp, endpoint
            failures.append(f"{endpoint}: {error_message(resp)}")
            resp.close()
        # The origin's answer says the most: it comes first, then the mirrors'.
        raise RegistryError(f"{reg.ref}: {self.step}: " + "; ".join(reversed(failures)))

    def _attempt(self, endpoint: Endpoint) -> httpx.Response:
        with self.registry.lock:
            auth = endpoint.auth
        headers = dict(self.headers, **({"Authorization": auth} if auth else {}))
        resp = self.registry.send(endpoint, self.path, headers)
        if resp.status_code != 401:
            return resp
        # The first 401 asks for credentials, or says a token expired: answer
        # it once. A 401 after that is the registry's final word.
        with self.registry.lock:
            if endpoint.auth == auth and not authenticate(self.registry, endpoint, resp, self.step):
                return resp
            headers["Authorization"] = endpoint.auth
        resp.read()
        resp.close()
        return self.registry.send(endpoint, self.path, headers)

    def __exit__(self, *exc):
        if self.resp is not None:
            self.resp.close()


class BlobStream:
    """A blob being downloaded, as a read-only file object: read() hands out
    its bytes as they arrive, after hashing them, counting them against the
    descriptor's size and copying them to SINK (a file, or None).
    verify() at the end: the digest (spec.md, "Content Digests")."""

    def __init__(self, registry: Registry, digest: str, size: int, sink, progress):
        self.registry, self.digest, self.size = registry, digest, size
        self.sink, self.progress = sink, progress
        self.sha256, self.done = hashlib.sha256(), 0
        self.buf = b""
        self.chunks: Iterator[bytes] = iter(())  # the response's, once entered

    def __enter__(self):
        self.request = self.registry.get(f"blobs/{self.digest}", f"fetching blob {self.digest}")
        resp, self.endpoint = self.request.__enter__()
        length = resp.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) != self.size:
            self.request.__exit__(None, None, None)
            raise RegistryError(
                f"{self.registry.ref}: blob {self.digest} from {self.endpoint} "
                f"is {length} bytes, not the {self.size} its descriptor says"
            )
        self.chunks = resp.iter_raw()  # as the network delivers it
        return self

    def __exit__(self, *exc):
        self.request.__exit__(*exc)

    def read(self, n: int = -1) -> bytes:
        if not self.buf:
            try:
                chunk = next(self.chunks)
            except StopIteration:
                return b""
            except httpx.HTTPError as e:
                raise RegistryError(
                    f"{self.registry.ref}: fetching blob {self.digest} from "
                    f"{self.endpoint}: {describe_transport_error(e)}"
                ) from None
            self.done += len(chunk)
            if self.done > self.size:
                raise RegistryError(
                    f"{self.registry.ref}: blob {self.digest} from "
                    f"{self.endpoint} is bigger than the {self.size} bytes "
                    "its descriptor says"
                )
            self.sha256.update(chunk)
            if self.sink is not None:
                self.sink.write(chunk)
            if self.progress:
                self.progress(self.done)
            self.buf = chunk
        if n < 0 or n >= len(self.buf):
            out, self.buf = self.buf, b""
        else:
            out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_all(self) -> bytes:
        parts = []
        while chunk := self.read(CHUNK):
            parts.append(chunk)
        self.verify()
        return b"".join(parts)

    def drain(self) -> None:
        """Read what is left (hashing it); e.g. after the tar's end."""
        while self.read(CHUNK):
            pass
        self.buf = b""

    def verify(self) -> None:
        got, what = (
            "sha256:" + self.sha256.hexdigest(),
            f"{self.registry.ref}: blob {self.digest} from {self.endpoint}",
        )
        if self.done != self.size:
            raise RegistryError(
                f"{what} ended after {self.done} of its {self.size} bytes; nothing of it was kept"
            )
        if got != self.digest:
            raise RegistryError(
                f"{what} does not match its digest (got {got}); nothing of it was kept",
                hint="the registry's copy is corrupt or altered",
            )


def _read_capped(resp: httpx.Response, limit: int, what: str) -> bytes:
    data = bytearray()
    for chunk in resp.iter_raw(CHUNK):
        data += chunk
        if len(data) > limit:
            raise RegistryError(f"{what}: the answer is over {limit} bytes")
    return bytes(data)
