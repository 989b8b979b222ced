"""Where a pull may fetch from and with what credentials: registries.json
and Docker-style auth files. Stdlib only, so the daemon can import it to
validate or to build a pull's input without loading an HTTP client.

Credentials: Docker-style auth files, {"auths": {KEY: {"auth": base64(user:pass)}}}
(or "username"/"password", or "identitytoken"), which is also exactly what a
Kubernetes kubernetes.io/dockerconfigjson Secret holds. KEY is a host, a
host:port, host/some/path (for repositories under that path) or a URL such as
https://index.docker.io/v1/; "*.example.com" matches one label. Sources are
searched in the order given (pod secrets first, then auth files); the first
source with a matching key wins, its most specific key first.

registries.json, in the instance's etc dir (all keys optional):

    {"insecure": ["registry.lab:5000"],
     "mirrors": {"docker.io": ["https://mirror.example", "10.0.0.5:5000"]}}

    insecure  hosts (host or host:port) that may be reached over plain HTTP or
              HTTPS without certificate checks; loopback hosts (localhost,
              127.0.0.0/8, ::1) always may
    mirrors   per registry host, endpoints tried in order before the host
              itself, each a URL or a host[:port]; a mirror serves the same
              repository names; it is trusted for tags (by digest, its bytes
              are checked like any)

Where credentials come from, in order (default_auth_files): the pod's
imagePullSecrets (given by the caller), then the instance's etc/auth.json,
$REGISTRY_AUTH_FILE, ~/.docker/config.json, /run/containers/0/auth.json.
"""

import base64
import fnmatch
import ipaddress
import json
import os
import urllib.parse

from minipod.errors import ImageError

MAX_CONFIG = 1 << 20
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")


def default_auth_files(etc_dir: str) -> list[str]:
    """The auth files a pull reads, in order, for an instance's ETC_DIR."""
    paths = [os.path.join(etc_dir, "auth.json")]
    if os.environ.get("REGISTRY_AUTH_FILE"):
        paths.append(os.environ["REGISTRY_AUTH_FILE"])
    paths += [os.path.expanduser("~/.docker/config.json"), "/run/containers/0/auth.json"]
    return paths


def registries_file(etc_dir: str) -> str:
    return os.path.join(etc_dir, "registries.json")


def load_json_file(path: str, what: str) -> dict | None:
    """The JSON object in PATH, or None if there is no such file."""
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read(MAX_CONFIG))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise ImageError(f"{what} {path} is not readable JSON: {e}") from e
    if not isinstance(doc, dict):
        raise ImageError(f"{what} {path} is not a JSON object")
    return doc


class RegistriesConfig:
    """The insecure hosts and mirrors of registries.json (module docstring)."""

    def __init__(self, doc: dict | None = None):
        doc = doc or {}
        insecure, mirrors = doc.get("insecure") or [], doc.get("mirrors") or {}
        if not (isinstance(insecure, list) and all(isinstance(h, str) for h in insecure)):
            raise ImageError('registries config: "insecure" must be a list of host[:port]')
        if not (
            isinstance(mirrors, dict)
            and all(isinstance(v, list) and all(isinstance(u, str) for u in v) for v in mirrors.values())
        ):
            raise ImageError('registries config: "mirrors" must map a host to a list of URLs')
        self.insecure = {h.lower() for h in insecure}
        self.mirrors = {_hub(h.lower()): list(v) for h, v in mirrors.items()}

    @classmethod
    def load(cls, path: str | None = None, inline: dict | None = None) -> "RegistriesConfig":
        """INLINE if given, else the file PATH if it exists, else the defaults."""
        if inline is not None:
            return cls(inline)
        return cls(load_json_file(path, "registries config") if path else None)

    def endpoints(self, host: str) -> list["Endpoint"]:
        """Where to fetch HOST's repositories from: its mirrors, then itself."""
        found = [self._endpoint(m) for m in self.mirrors.get(_hub(host), [])]
        origin = "registry-1.docker.io" if _hub(host) == "docker.io" else host
        return found + [self._endpoint(origin)]

    def _endpoint(self, text: str) -> "Endpoint":
        parts = urllib.parse.urlsplit(text if "://" in text else "//" + text)
        netloc = parts.netloc.lower()
        if not netloc:
            raise ImageError(f"registries config: {text!r} is not a host or URL")
        relaxed = netloc in self.insecure or is_loopback(netloc)
        if parts.scheme:
            return Endpoint(netloc, [parts.scheme], verify=not relaxed)
        # Docker's order for insecure registries is HTTPS first; loopback
        # test registries nearly always speak plain HTTP, so try that first.
        if is_loopback(netloc):
            return Endpoint(netloc, ["http", "https"], verify=False)
        return Endpoint(netloc, ["https", "http"] if relaxed else ["https"], verify=not relaxed)


def is_loopback(netloc: str) -> bool:
    host = urllib.parse.urlsplit("//" + netloc).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hub(host: str) -> str:
    return "docker.io" if host in DOCKER_HUB_HOSTS else host


class Credentials:
    """Docker-style credential sources, searched in order (module docstring)."""

    def __init__(self, sources: list[dict] | None = None):
        self.sources = []
        for doc in sources or []:
            auths = doc.get("auths") if isinstance(doc, dict) else None
            if isinstance(auths, dict):
                self.sources.append([_credential(k, v) for k, v in auths.items() if isinstance(v, dict)])

    @classmethod
    def load(cls, secrets: list[dict] | None = None, files: list[str] | None = None):
        """SECRETS (dockerconfigjson documents) first, then the auth FILES that exist."""
        docs = list(secrets or [])
        docs += [d for d in (load_json_file(p, "auth file") for p in files or []) if d]
        return cls(docs)

    def lookup(self, host: str, repository: str) -> dict | None:
        """{"username", "password"} or {"identitytoken"} for HOST/REPOSITORY."""
        host = _hub(host.lower())
        for entries in self.sources:
            matches = [e for e in entries if _key_matches(e["key"], host, repository)]
            if matches:
                return max(matches, key=lambda e: len(e["key"][1]))["secret"]
        return None


def _credential(key: str, entry: dict) -> dict:
    text = key if "://" in key else "//" + key
    parts = urllib.parse.urlsplit(text)
    path = parts.path.strip("/")
    if path in ("v1", "v2"):  # https://index.docker.io/v1/
        path = ""
    secret = {"identitytoken": entry["identitytoken"]} if entry.get("identitytoken") else None
    if secret is None and entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as e:
            raise ImageError(f'credentials for {key}: "auth" is not base64 of user:password') from e
        secret = {"username": user, "password": password}
    elif secret is None:
        secret = {"username": str(entry.get("username", "")), "password": str(entry.get("password", ""))}
    return {"key": (_hub(parts.netloc.lower()), path), "secret": secret}


def _key_matches(key: tuple[str, str], host: str, repository: str) -> bool:
    key_host, key_path = key
    if "*" in key_host:
        # Kubernetes' rule: each label globs one label, ports must be equal.
        if key_host.count(".") != host.count(".") or not fnmatch.fnmatchcase(host, key_host):
            return False
    elif key_host != host:
        return False
    return not key_path or repository == key_path or repository.startswith(key_path + "/")


class Endpoint:
    """One server for a registry: a host[:port], the schemes to try in order
    (the first that answers sticks) and whether to check its certificate."""

    def __init__(self, netloc: str, schemes: list[str], verify: bool):
        self.netloc, self.schemes, self.verify = netloc, schemes, verify
        self.auth: str | None = None  # the Authorization header that works

    def __str__(self) -> str:
        return f"{self.schemes[0]}://{self.netloc}"
