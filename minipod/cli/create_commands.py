"""`minipod create configmap|secret`: kubectl's generators, then one POST.

In order:
    1. read the sources, as kubectl reads them: --from-literal KEY=VALUE,
       --from-file [KEY=]PATH (a directory: each regular file in it, by
       its name), --from-env-file PATH (KEY=VALUE lines; # comments and
       blank lines skipped; a bare KEY takes its value from the
       environment);
    2. build the object (pure: build_configmap(), build_secret()): a
       ConfigMap keeps UTF-8 values in data and others in binaryData; a
       Secret keeps every value base64-encoded in data; a key given twice
       is refused with kubectl's message;
    3. POST it to the store, which checks it as the API server does
       (objects/config_objects.py), and print `configmap/NAME created`.
"""

import base64
import json
import os

import click

from minipod.cli.context import Ctx, namespace_opt, pass_ctx
from minipod.errors import MinipodError

Sources = list[tuple[str, bytes]]  # (key, value) in the order given


def _literal(text: str) -> tuple[str, bytes]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise MinipodError(f"invalid literal source {text}, expected key=value")
    return key, value.encode()


def _files(spec: str) -> Sources:
    key, sep, path = spec.partition("=")
    if not sep:
        key, path = "", spec
    if os.path.isdir(path):
        if key:
            raise MinipodError(f"cannot give a key name for a directory path: {spec}")
        return [
            (name, _read(os.path.join(path, name)))
            for name in sorted(os.listdir(path))
            if os.path.isfile(os.path.join(path, name))
        ]
    return [(key or os.path.basename(path), _read(path))]


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise MinipodError(f"error reading {path}: {e.strerror}") from None


def _env_file(path: str) -> Sources:
    out: Sources = []
    for n, line in enumerate(_read(path).decode(errors="replace").splitlines(), 1):
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            value = os.environ.get(key, "")
        if not key or any(ch.isspace() for ch in key):
            raise MinipodError(f'"{key}" is not a valid key name (line {n} of {path})')
        out.append((key, value.encode()))
    return out


def gather(literals: tuple[str, ...], files: tuple[str, ...], env_files: tuple[str, ...]) -> Sources:
    """Step 1."""
    sources: Sources = []
    for f in files:
        sources += _files(f)
    for lit in literals:
        sources.append(_literal(lit))
    for e in env_files:
        sources += _env_file(e)
    return sources


def _unique(sources: Sources, kind: str, name: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for key, value in sources:
        if key in out:
            raise MinipodError(
                f'cannot add key {key}, another key by that name already exists in data for {kind} "{name}"'
            )
        out[key] = value
    return out


def build_configmap(name: str, sources: Sources) -> dict:
    """Step 2, a ConfigMap."""
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for key, value in _unique(sources, "ConfigMap", name).items():
        try:
            data[key] = value.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(value).decode()
    obj: dict = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    if binary:
        obj["binaryData"] = binary
    return obj


def build_secret(name: str, sources: Sources, kind: str = "Opaque") -> dict:
    """Step 2, a Secret."""
    data = {k: base64.b64encode(v).decode() for k, v in _unique(sources, "Secret", name).items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": kind, "data": data}


def docker_config(server: str, username: str, password: str, email: str | None) -> bytes:
    """kubectl's .dockerconfigjson for one registry."""
    entry = {"username": username, "password": password}
    if email:
        entry["email"] = email
    entry["auth"] = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {server: entry}}).encode()


def _post(c: Ctx, plural: str, obj: dict, namespace: str) -> None:
    """Step 3."""
    from minipod.objects import resources as kinds

    res = kinds.builtin("", "v1", plural)
    c.client.json("POST", res.path(namespace), body=obj)
    click.echo(f"{res.singular}/{obj['metadata']['name']} created")


sources_options = [
    click.option(
        "--from-literal", "literals", multiple=True, metavar="KEY=VALUE", help="A key and its value."
    ),
    click.option(
        "--from-file",
        "files",
        multiple=True,
        metavar="[KEY=]PATH",
        help="A file (or each file of a directory).",
    ),
    click.option("--from-env-file", "env_files", multiple=True, metavar="PATH", help="KEY=VALUE lines."),
]


def with_sources(f):
    for option in reversed(sources_options):
        f = option(f)
    return f


@click.group()
def create() -> None:
    """Create a ConfigMap or a Secret from literals and files, as kubectl does."""


@create.command()
@click.argument("name")
@with_sources
@namespace_opt
@pass_ctx
def configmap(c: Ctx, name, literals, files, env_files, namespace):
    """A ConfigMap: minipod create configmap NAME --from-literal k=v --from-file f."""
    _post(c, "configmaps", build_configmap(name, gather(literals, files, env_files)), namespace)


@create.group()
def secret() -> None:
    """A Secret: generic, tls or docker-registry."""


@secret.command()
@click.argument("name")
@with_sources
@click.option("--type", "kind", default="Opaque", show_default=True, help="The Secret's type.")
@namespace_opt
@pass_ctx
def generic(c: Ctx, name, literals, files, env_files, kind, namespace):
    """A Secret from literals and files (values are never printed)."""
    _post(c, "secrets", build_secret(name, gather(literals, files, env_files), kind), namespace)


@secret.command()
@click.argument("name")
@click.option("--cert", required=True, metavar="PATH", help="The PEM certificate (tls.crt).")
@click.option("--key", required=True, metavar="PATH", help="The PEM private key (tls.key).")
@namespace_opt
@pass_ctx
def tls(c: Ctx, name, cert, key, namespace):
    """A kubernetes.io/tls Secret."""
    sources = [("tls.crt", _read(cert)), ("tls.key", _read(key))]
    _post(c, "secrets", build_secret(name, sources, "kubernetes.io/tls"), namespace)


@secret.command(name="docker-registry")
@click.argument("name")
@click.option("--docker-server", default="https://index.docker.io/v1/", show_default=True)
@click.option("--docker-username", required=True)
@click.option("--docker-password", required=True)
@click.option("--docker-email", default=None)
@namespace_opt
@pass_ctx
def docker_registry(c: Ctx, name, docker_server, docker_username, docker_password, docker_email, namespace):
    """A kubernetes.io/dockerconfigjson Secret, for imagePullSecrets."""
    config = docker_config(docker_server, docker_username, docker_password, docker_email)
    _post(
        c,
        "secrets",
        build_secret(name, [(".dockerconfigjson", config)], "kubernetes.io/dockerconfigjson"),
        namespace,
    )
