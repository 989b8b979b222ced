"""Tests of pulling from registries (minipod.image.registry, minipod.image.pull) into
the image store, against a real registry (the distribution project's
`docker-registry`) and a fake token-auth registry, all on loopback.

Images get there with skopeo; the pulls are checked on disk (layers,
blobs, index.json) and in the registry's access log (what was fetched).
"""

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import zlib

import httpx
import pytest
from helpers.registry import USERS, TokenRegistry, file_layer, push, random_layer, write_layout

from minipod.cli.progress import Progress
from minipod.errors import ImageError
from minipod.image import base as baseimage
from minipod.image import pull
from minipod.image.layers import GunzipReader
from minipod.image.refs import host_architecture, pick_platform
from minipod.image.registry import RegistryError
from minipod.image.registry_auth import describe_transport_error
from minipod.image.registry_config import Credentials
from minipod.image.store import ImageStore, default_pull_policy, should_pull

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (layers keep owners)"),
    pytest.mark.skipif(
        not (shutil.which("docker-registry") and shutil.which("skopeo")),
        reason="needs the docker-registry and skopeo packages",
    ),
]
OTHER_ARCH = "arm64" if host_architecture() != "arm64" else "amd64"


def secret(host: str, user: str, password: str) -> dict:
    """A decoded kubernetes.io/dockerconfigjson Secret."""
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"auths": {host: {"auth": auth}}}


@pytest.fixture
def scratch():
    path = tempfile.mkdtemp(prefix="minipod-pull-")
    yield path
    shutil.rmtree(path)


@pytest.fixture
def store(scratch) -> ImageStore:
    return ImageStore(os.path.join(scratch, "images"))


@pytest.fixture(scope="module")
def busybox(registry, workdir) -> str:
    archive = os.path.join(workdir, "busybox.tar")
    baseimage.build_busybox_archive(archive)
    ref = f"{registry.host}/library/busybox:1.35"
    push(f"oci-archive:{archive}", ref)
    return ref


def push_layers(registry, workdir, name: str, layers: list[bytes], creds=None) -> str:
    archive = os.path.join(workdir, f"{name.replace('/', '_').replace(':', '_')}.tar")
    baseimage.write_oci_archive(archive, layers, {"Cmd": ["sh"]}, "unused:1")
    push(f"oci-archive:{archive}", f"{registry.host}/{name}", creds)
    return f"{registry.host}/{name}"


def layer_digests(store: ImageStore, image) -> list[str]:
    manifest = store._json_blob(image.digest)
    return [d["digest"] for d in manifest["layers"]]


def leftovers(store: ImageStore) -> list[str]:
    return os.listdir(store.tmp_dir) if os.path.isdir(store.tmp_dir) else []


# ---------------------------------------------------------------- pulling


def test_pull_by_tag_then_by_digest(busybox, store, scratch):
    events = []
    image = pull.pull_image(store, busybox, progress=events.append)
    assert image.ref == busybox and image.config["Cmd"] == ["sh"]
    [layer] = image.layer_dirs
    out = subprocess.run(
        [os.path.join(layer, "bin/sh"), "-c", "echo pulled"], capture_output=True, text=True, check=True
    ).stdout
    assert out == "pulled\n"
    assert [e["event"] for e in events][0] == "manifest" and events[-1]["event"] == "done"
    assert events[-1]["digest"] == image.digest == events[-1]["repoDigest"]
    assert store.lookup(busybox).digest == image.digest
    # By digest, into another store: the same image, named REPO@DIGEST.
    other = ImageStore(os.path.join(scratch, "other"))
    by_digest = busybox.rsplit(":", 1)[0] + "@" + image.digest
    again = pull.pull_image(other, by_digest)
    assert again.digest == image.digest and again.ref == by_digest
    assert [e["repository"] for e in other.list()] == [busybox.rsplit(":", 1)[0]]
    assert leftovers(store) == [] and leftovers(other) == []


def test_multi_arch_index_picks_the_host_platform(registry, workdir, store):
    layout = os.path.join(workdir, "multiarch")
    digests = write_layout(
        layout,
        "multi",
        [
            ({"os": "linux", "architecture": arch}, [file_layer({"arch": arch.encode()})])
            for arch in (OTHER_ARCH, host_architecture())
        ],
    )
    ref = f"{registry.host}/multi/arch:1"
    push(f"oci:{layout}:multi", ref, all_images=True)
    image = pull.pull_image(store, ref)
    with open(os.path.join(image.layer_dirs[0], "arch")) as f:
        assert f.read() == host_architecture()
    assert image.digest == digests[f"linux/{host_architecture()}"]
    other = pull.pull_image(ImageStore(store.dir + "-other"), ref, config={"platform": f"linux/{OTHER_ARCH}"})
    assert other.digest == digests[f"linux/{OTHER_ARCH}"]
    with pytest.raises(RegistryError, match=r"no variant for linux/s390x \(it has: linux/"):
        pull.pull_image(store, ref, config={"platform": "linux/s390x"})


def test_unknown_tag_carries_the_registry_message(busybox, store):
    with pytest.raises(RegistryError) as e:
        pull.pull_image(store, busybox.replace(":1.35", ":9.99"))
    assert "manifest unknown" in str(e.value) and "reading manifest 9.99" in str(e.value)
    assert e.value.reason == "ErrImagePull"


def test_connection_refused_and_name_resolution_messages(store):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    with pytest.raises(RegistryError, match=f"127.0.0.1:{port}: connection refused"):
        pull.pull_image(store, f"127.0.0.1:{port}/x:1")
    try:
        raise httpx.ConnectError("failed") from socket.gaierror(-2, "Name or service not known")
    except httpx.ConnectError as err:
        assert describe_transport_error(err) == "cannot resolve the host name (Name or service not known)"


def test_mirror_is_tried_first_and_a_dead_one_skipped(busybox, registry, store):
    # docker.io/library/busybox:1.35 from the mirror: the origin is never asked.
    config = {"registries": {"mirrors": {"docker.io": ["127.0.0.1:1", f"http://{registry.host}"]}}}
    image = pull.pull_image(store, "busybox:1.35", config=config)
    assert image.ref == "docker.io/library/busybox:1.35"


# ---------------------------------------------------------------- authentication


def test_basic_auth(auth_registry, workdir, store, scratch):
    ref = push_layers(
        auth_registry, workdir, "private/app:1", [random_layer("a", 1000, "basic")], creds="alice:s3cret"
    )
    for creds in (None, secret(auth_registry.host, "alice", "wrong")):
        with pytest.raises(RegistryError, match="unauthorized: authentication required"):
            pull.pull_image(store, ref, creds)
    assert store.list() == [] and leftovers(store) == []
    assert pull.pull_image(store, ref, [secret(auth_registry.host, "alice", "s3cret")])
    # From an auth file, keyed by URL and repository path, as podman writes them.
    auth_file = os.path.join(scratch, "auth.json")
    with open(auth_file, "w") as f:
        json.dump(
            {
                "auths": {
                    f"https://{auth_registry.host}/private": secret("x", "alice", "s3cret")["auths"]["x"]
                }
            },
            f,
        )
    other = ImageStore(os.path.join(scratch, "other"))
    config = {"authFiles": [os.path.join(scratch, "missing.json"), auth_file]}
    assert pull.pull_image(other, ref, config=config).digest == store.lookup(ref).digest


@pytest.mark.parametrize("users", [None, USERS])
def test_bearer_token_flow(workdir, store, users):
    layout = tempfile.mkdtemp(dir=workdir)
    write_layout(
        layout,
        "v1",
        [({"os": "linux", "architecture": host_architecture()}, [random_layer("t", 5000, "token")])],
    )
    with TokenRegistry(layout, "team/app", "v1", users) as fake:
        ref = f"{fake.host}/team/app:v1"
        if users:
            with pytest.raises(RegistryError, match="incorrect username or password"):
                pull.pull_image(store, ref, secret(fake.host, "alice", "wrong"))
        creds = secret(fake.host, "alice", "s3cret") if users else None
        image = pull.pull_image(store, ref, creds)
        token_requests = [a for p, a in fake.requests if p.startswith("/token?")]
        assert image.layer_dirs and all(
            a.startswith("Bearer ") for p, a in fake.requests[-3:]
        )  # manifest, config, layer
        assert (
            "scope=repository%3Ateam%2Fapp%3Apull"
            in [p for p, _ in fake.requests if p.startswith("/token?")][-1]
        )
        assert token_requests[-1].startswith("Basic ") if users else token_requests[-1] == ""


def test_credentials_lookup_rules():
    creds = Credentials(
        [
            {
                "auths": {
                    "https://index.docker.io/v1/": {"username": "hub", "password": "1"},
                    "quay.io/team": {"username": "team", "password": "2"},
                    "quay.io": {"username": "any", "password": "3"},
                    "*.example.com": {"username": "glob", "password": "4"},
                }
            },
            {"auths": {"ghcr.io": {"identitytoken": "refresh"}}},
        ]
    )
    assert creds.lookup("registry-1.docker.io", "library/busybox")["username"] == "hub"
    assert creds.lookup("quay.io", "team/app")["username"] == "team"
    assert creds.lookup("quay.io", "teams/app")["username"] == "any"
    assert creds.lookup("r.example.com", "x")["username"] == "glob"
    assert creds.lookup("a.b.example.com", "x") is None
    assert creds.lookup("ghcr.io", "x") == {"identitytoken": "refresh"}


# ---------------------------------------------------------------- integrity and sharing


def test_corrupted_blob_is_refused_and_nothing_kept(registry, workdir, store):
    layers = [random_layer("good", 200_000, "c1"), random_layer("bad", 300_000, "c2")]
    ref = push_layers(registry, workdir, "corrupt/app:1", layers)
    manifest = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    bad = manifest["layers"][1]["digest"]
    with open(registry.blob_file(bad), "r+b") as f:  # same size, other bytes
        f.seek(150_000)
        byte = f.read(1)
        f.seek(150_000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(RegistryError, match=f"blob {bad} from .* does not match its digest"):
        pull.pull_image(store, ref)
    assert not store.has_blob(bad) and store.list() == [] and leftovers(store) == []
    assert len(os.listdir(store.layers_dir)) <= 1  # at most the good layer


def test_layers_are_shared_and_fetched_once(registry, workdir, store):
    base = [random_layer("base1", 100_000, "s1"), random_layer("base2", 100_000, "s2")]
    first = push_layers(registry, workdir, "shared/base:1", base)
    second = push_layers(registry, workdir, "shared/app:1", base + [random_layer("app", 100_000, "s3")])
    one = pull.pull_image(store, first)
    events = []
    two = pull.pull_image(store, second, progress=events.append)
    assert two.layer_dirs[:2] == one.layer_dirs and len(os.listdir(store.layers_dir)) == 3
    status = {e["digest"]: e["status"] for e in events if e["event"] == "layer"}
    digests = layer_digests(store, two)
    assert [status[d] for d in digests] == ["present", "present", "done"]
    assert [registry.blob_gets(d) for d in digests] == [1, 1, 1]


def test_concurrent_pulls_fetch_each_layer_once(registry, workdir, store):
    layers = [random_layer(f"l{i}", 3 << 20, f"concurrent{i}") for i in range(3)]
    ref = push_layers(registry, workdir, "concurrent/app:1", layers)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "minipod.image.pull", ref, "--store", store.dir],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    digests = layer_digests(store, store.lookup(ref))
    assert [registry.blob_gets(d) for d in digests] == [1, 1, 1]
    assert len(os.listdir(store.layers_dir)) == 3 and leftovers(store) == []


# ---------------------------------------------------------------- prune, policy, CLI


def test_prune_frees_only_what_no_image_uses(busybox, registry, workdir, store):
    kept = pull.pull_image(store, busybox)
    ref = push_layers(registry, workdir, "prune/app:1", [random_layer("p", 50_000, "prune")])
    dropped = pull.pull_image(store, ref)
    # The name goes while a pull runs: the sweep waits for a later one.
    with store.pulling():
        store.remove(ref)
        assert store.prune()["deferred"]
        assert all(os.path.isdir(d) for d in dropped.layer_dirs)
    os.makedirs(os.path.join(store.tmp_dir, "layer-crashed"))
    stats = store.prune()
    assert (stats["blobs"], stats["layers"], stats["deferred"]) == (3, 1, False)
    assert stats["bytes"] > 50_000
    assert not os.path.exists(dropped.layer_dirs[0]) and leftovers(store) == []
    assert store.lookup(busybox).layer_dirs == kept.layer_dirs
    assert os.path.isdir(kept.layer_dirs[0]) and len(os.listdir(store.blobs_dir)) == 3
    assert store.prune() == {"blobs": 0, "layers": 0, "bytes": 0, "deferred": False}


def test_pull_policy():
    assert [
        should_pull(p, present) for p in ("Always", "IfNotPresent", "Never") for present in (True, False)
    ] == [True, True, False, True, False, False]
    assert default_pull_policy("busybox") == "Always"
    assert default_pull_policy("busybox:1.35") == "IfNotPresent"
    with pytest.raises(ValueError):
        should_pull("Sometimes", True)


def run_cli(ref: str, store: ImageStore, *args, stdin: dict | None = None):
    p = subprocess.run(
        [sys.executable, "-m", "minipod.image.pull", ref, "--store", store.dir, *args],
        input=json.dumps(stdin or {}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return p.returncode, [json.loads(line) for line in p.stdout.splitlines()]


def test_cli_prints_progress_lines(busybox, auth_registry, workdir, store):
    code, events = run_cli(busybox, store, "--policy", "IfNotPresent")
    assert code == 0
    assert [e["event"] for e in events][0] == "manifest"
    layer = [e for e in events if e["event"] == "layer"]
    assert layer[-1]["status"] == "done" and layer[-1]["done"] == layer[-1]["total"] > 0
    assert events[-1]["event"] == "done" and events[-1]["pulled"] is True
    assert run_cli(busybox, store, "--policy", "IfNotPresent")[1][-1]["pulled"] is False
    code, events = run_cli(busybox.replace("1.35", "0.1"), store, "--policy", "Never")
    assert (code, events[0]["reason"]) == (1, "ErrImageNeverPull")
    code, events = run_cli(busybox.replace("1.35", "0.1"), store)
    assert (code, events[0]["event"], events[0]["reason"]) == (1, "error", "ErrImagePull")
    assert "manifest unknown" in events[0]["message"]
    assert run_cli("Bad:Ref", store)[1][0]["reason"] == "InvalidImageName"
    # Credentials come as a dockerconfigjson on stdin.
    ref = push_layers(
        auth_registry, workdir, "private/cli:1", [random_layer("c", 100, "cli")], creds="alice:s3cret"
    )
    code, events = run_cli(ref, store, stdin={"secrets": [secret(auth_registry.host, "alice", "s3cret")]})
    assert code == 0, events


def test_progress_renderer(busybox, store):
    events = []
    pull.pull_image(store, busybox, progress=events.append)
    for tty in (False, True):
        out = io.StringIO()
        renderer = Progress(out, tty=tty)
        for event in events:
            renderer.feed(json.dumps(event))
        renderer.close()
        text = out.getvalue()
        assert text.rstrip().endswith(f"{busybox}: pulled ({events[-1]['digest']})")
        assert ("\x1b[2K" in text) == tty and ("[####################]" in text) == tty
        assert tty or " done " in text


def test_pick_platform_variants():
    index = {
        "manifests": [
            {"digest": "unknown", "platform": {"os": "unknown", "architecture": "unknown"}},
            {"digest": "v6", "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
            {"digest": "v7", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
            {"digest": "a64", "platform": {"os": "linux", "architecture": "arm64"}},
        ]
    }
    arm = {"os": "linux", "architecture": "arm"}
    assert pick_platform(index, dict(arm, variant="v7"))["digest"] == "v7"
    assert pick_platform(index, dict(arm, variant="v8"))["digest"] == "v7"
    assert pick_platform(index, dict(arm, variant="v6"))["digest"] == "v6"
    assert pick_platform(index, {"os": "linux", "architecture": "arm64", "variant": "v8"})["digest"] == "a64"
    with pytest.raises(ImageError):
        pick_platform(index, dict(arm, variant="v5"))


def test_gunzip_reader_checks_members_and_trailer():
    data = hashlib.shake_256(b"gz").digest(300_000) + b"a" * 500_000
    two = gzip.compress(data[:400_000]) + gzip.compress(data[400_000:]) + b"\0" * 100

    def read_all(blob: bytes) -> bytes:
        reader, out = GunzipReader(io.BytesIO(blob)), []
        while chunk := reader.read(70_000):
            out.append(chunk)
        return b"".join(out)

    assert read_all(two) == data  # two members, zero padding
    corrupt = bytearray(two)
    corrupt[-108] ^= 1  # the second member's CRC-32 (then 100 zeros)
    for bad in (two[:-200], bytes(corrupt)):
        with pytest.raises((EOFError, zlib.error)):
            read_all(bad)
