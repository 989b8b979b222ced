"""Tests of the image store (minipod.image.store, minipod.image.layers) and of the
offline busybox base image (minipod.image.base).

They run as root on real files: layers keep owners, create device nodes
and trusted.* xattrs, and one test mounts a real overlayfs in a private
mount namespace.
"""

import gzip
import hashlib
import io
import json
import os
import stat
import subprocess
import tarfile

import pytest

from minipod.errors import ImageError, NotFound
from minipod.image import base as baseimage
from minipod.image.layers import OVERLAY_OPAQUE_XATTR
from minipod.image.store import ImageStore, normalize_ref

BUSYBOX = "/bin/busybox"
REF = "docker.io/library/busybox:1.35"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


# ---------------------------------------------------------------- helpers


def layer_tar(*members) -> bytes:
    """A plain layer tar. Each member: (name, type, extra tarinfo fields, data)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, fields, data in members:
            info = baseimage.tar_entry(name, kind, 0o644, size=len(data))
            for key, value in fields.items():
                setattr(info, key, value)
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def file_member(name, data=b"x", **fields):
    return (name, tarfile.REGTYPE, fields, data)


def store_is_empty(store: ImageStore) -> bool:
    """Nothing imported: no name, no blob, no layer, no staging leftovers."""
    return (
        not os.path.exists(store.index_path)
        and os.listdir(store.blobs_dir) == []
        and os.listdir(store.layers_dir) == []
        and os.listdir(store.tmp_dir) == []
    )


def replace_member(archive: str, name: str, data: bytes) -> None:
    """Rewrite ARCHIVE with the member NAME's content replaced by DATA."""
    with tarfile.open(archive) as src:
        members = [(m, src.extractfile(m).read() if m.isfile() else None) for m in src.getmembers()]
    with tarfile.open(archive, "w") as out:
        for m, content in members:
            if m.name == name:
                content, m.size = data, len(data)
            out.addfile(m, io.BytesIO(content) if content is not None else None)


def blob_members(archive: str) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {
            m.name: tar.extractfile(m).read()
            for m in tar.getmembers()
            if m.name.startswith("blobs/sha256/") and m.isfile()
        }


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def busybox_archive(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("archive") / "busybox.tar")
    baseimage.build_busybox_archive(path, BUSYBOX)
    return path


@pytest.fixture(scope="session")
def busybox_store(tmp_path_factory, busybox_archive) -> ImageStore:
    """One store with busybox imported, shared by the tests that only read."""
    store = ImageStore(str(tmp_path_factory.mktemp("store") / "images"))
    assert store.import_archive(busybox_archive) == [REF]
    return store


@pytest.fixture
def store(tmp_path) -> ImageStore:
    return ImageStore(str(tmp_path / "images"))


# ---------------------------------------------------------------- references


@pytest.mark.parametrize(
    "ref, full",
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.35", "docker.io/library/busybox:1.35"),
        ("library/busybox:1.35", "docker.io/library/busybox:1.35"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox:latest"),
        ("me/app", "docker.io/me/app:latest"),
        ("me/app:v1.0-rc_1", "docker.io/me/app:v1.0-rc_1"),
        ("quay.io/x/y:1", "quay.io/x/y:1"),
        ("localhost:5000/a:b", "localhost:5000/a:b"),
        ("localhost/a", "localhost/a:latest"),
        ("registry.example:443/team/sub/app", "registry.example:443/team/sub/app:latest"),
        ("busybox@sha256:" + "a" * 64, "docker.io/library/busybox@sha256:" + "a" * 64),
        ("busybox:1.35@sha256:" + "b" * 64, "docker.io/library/busybox@sha256:" + "b" * 64),
        ("quay.io/x/y@sha256:" + "c" * 64, "quay.io/x/y@sha256:" + "c" * 64),
    ],
)
def test_normalize_ref(ref, full):
    assert normalize_ref(ref) == full
    assert normalize_ref(full) == full  # normalizing is idempotent


@pytest.mark.parametrize(
    "ref",
    [
        "",
        "Busybox",
        "busybox:",
        ":1.35",
        "busy box",
        "busybox:a:b",
        "/busybox",
        "busybox/",
        "a//b",
        "busybox@sha256:abc",
        "busybox@md5:" + "a" * 32,
        "busybox:" + "x" * 129,
        "busybox:\u00fc",
        "a" * 64,
        "-lead/x",
        "x" * 300,
    ],
)
def test_normalize_ref_refuses(ref):
    with pytest.raises(ImageError):
        normalize_ref(ref)


# ---------------------------------------------------------------- the busybox image


def test_busybox_archive_is_reproducible(busybox_archive, tmp_path):
    again = str(tmp_path / "again.tar")
    digest = baseimage.build_busybox_archive(again, BUSYBOX)
    with open(busybox_archive, "rb") as a, open(again, "rb") as b:
        assert a.read() == b.read()
    with tarfile.open(again) as tar:
        names = tar.getnames()
    assert "oci-layout" in names and "index.json" in names
    assert f"blobs/sha256/{digest[7:]}" in names


def test_busybox_image_runs(busybox_store):
    image = busybox_store.lookup("busybox:1.35")
    assert image.ref == REF
    assert image.config["Cmd"] == ["sh"]
    assert image.config["Env"] == [baseimage.PATH_ENV]
    [layer] = image.layer_dirs
    assert image.lowerdir() == layer and os.path.isabs(layer)
    st = os.stat(os.path.join(layer, "bin/busybox"))
    assert stat.S_IMODE(st.st_mode) == 0o755 and (st.st_uid, st.st_gid) == (0, 0)
    assert stat.S_IMODE(os.stat(os.path.join(layer, "tmp")).st_mode) == 0o1777
    assert os.readlink(os.path.join(layer, "bin/sh")) == "busybox"
    with open(os.path.join(layer, "etc/passwd")) as f:
        assert f.read().startswith("root:x:0:0:")
    # Applet links work: busybox picks the applet from the name it was run as.
    out = subprocess.run(
        [os.path.join(layer, "bin/sh"), "-c", "echo hello"], capture_output=True, text=True, check=True
    ).stdout
    assert out == "hello\n"
    listed = subprocess.run(
        [os.path.join(layer, "bin/ls"), os.path.join(layer, "usr/bin")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "wget" in listed and "env" in listed


def test_lookup_by_digest_and_unknown(busybox_store):
    image = busybox_store.lookup(REF)
    by_digest = busybox_store.lookup(f"busybox@{image.digest}")
    assert by_digest.digest == image.digest and by_digest.layer_dirs == image.layer_dirs
    assert busybox_store.lookup("busybox:9.99") is None
    assert busybox_store.lookup("busybox@sha256:" + "0" * 64) is None


def test_reimport_is_idempotent(store, busybox_archive):
    assert store.import_archive(busybox_archive) == [REF]
    with open(store.index_path) as f:
        index = f.read()
    assert store.import_archive(busybox_archive) == [REF]
    with open(store.index_path) as f:
        assert f.read() == index
    assert len(os.listdir(store.layers_dir)) == 1
    assert len(os.listdir(store.blobs_dir)) == 3  # manifest, config, layer
    [entry] = store.list()
    assert entry["repository"] == "docker.io/library/busybox" and entry["tag"] == "1.35"
    assert entry["size"] > os.path.getsize(BUSYBOX) // 3


def test_remove_deletes_unused_blobs_and_layers(store, busybox_archive):
    store.import_archive(busybox_archive)
    store.remove("busybox:1.35")
    assert store.lookup(REF) is None and store.list() == []
    assert os.listdir(store.blobs_dir) == [] and os.listdir(store.layers_dir) == []
    with pytest.raises(NotFound):
        store.remove("busybox:1.35")


def test_import_oci_directory_with_bare_tag(store, busybox_archive, tmp_path):
    # image-layout.md: the ref.name annotation is often just a tag.
    layout = tmp_path / "layout"
    with tarfile.open(busybox_archive) as tar:
        tar.extractall(layout)  # our own, trusted archive
    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0]["annotations"] = {"org.opencontainers.image.ref.name": "1.35"}
    (layout / "index.json").write_text(json.dumps(index))
    assert store.import_archive(str(layout), name="busybox") == [REF]
    assert store.lookup("busybox:1.35") is not None


def test_import_docker_save_archive_shares_layers(store, busybox_archive, tmp_path):
    # What `docker save` writes: manifest.json, <config-hex>.json, <id>/layer.tar.
    blobs = blob_members(busybox_archive)
    manifest = next(json.loads(b) for b in blobs.values() if b"schemaVersion" in b)
    config = blobs["blobs/sha256/" + manifest["config"]["digest"][7:]]
    layer_gz = blobs["blobs/sha256/" + manifest["layers"][0]["digest"][7:]]
    files = {
        "manifest.json": json.dumps(
            [
                {
                    "Config": f"{hashlib.sha256(config).hexdigest()}.json",
                    "RepoTags": ["me/app:1"],
                    "Layers": ["0123/layer.tar"],
                }
            ]
        ).encode(),
        f"{hashlib.sha256(config).hexdigest()}.json": config,
        "0123/layer.tar": gzip.decompress(layer_gz),
    }
    archive = str(tmp_path / "docker.tar")
    with tarfile.open(archive, "w") as tar:
        for name, data in files.items():
            tar.addfile(baseimage.tar_entry(name, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    assert store.import_archive(archive) == ["docker.io/me/app:1"]
    store.import_archive(busybox_archive)
    app, busybox = store.lookup("me/app:1"), store.lookup("busybox:1.35")
    assert app.config["Cmd"] == ["sh"]
    assert app.layer_dirs == busybox.layer_dirs  # one snapshot, two images
    assert len(os.listdir(store.layers_dir)) == 1
    store.remove("busybox:1.35")  # the layer is still used
    assert os.path.isdir(store.lookup("me/app:1").layer_dirs[0])


def test_retag_keeps_old_image_by_digest(store, tmp_path):
    old, new = str(tmp_path / "old.tar"), str(tmp_path / "new.tar")
    old_digest = baseimage.write_oci_archive(old, [layer_tar(file_member("v", b"1"))], {}, "x:1")
    baseimage.write_oci_archive(new, [layer_tar(file_member("v", b"2"))], {}, "x:1")
    store.import_archive(old)
    store.import_archive(new)
    assert store.lookup("x:1").digest != old_digest
    assert store.lookup(f"x@{old_digest}").digest == old_digest
    assert {(e["tag"], e["digest"] == old_digest) for e in store.list()} == {("1", False), (None, True)}


# ---------------------------------------------------------------- hostile input

HOSTILE = {
    "absolute path": lambda outside: [file_member(f"{outside}/abs")],
    "dotdot": lambda outside: [file_member("../../../../outside/dotdot")],
    "write through a symlink": lambda outside: [
        ("evil", tarfile.SYMTYPE, {"linkname": outside}, b""),
        file_member("evil/through"),
    ],
    "hardlink to /etc/passwd": lambda outside: [("pw", tarfile.LNKTYPE, {"linkname": "/etc/passwd"}, b"")],
    "hardlink with dotdot": lambda outside: [
        ("pw", tarfile.LNKTYPE, {"linkname": "../" * 12 + "etc/passwd"}, b"")
    ],
    "hardlink through a symlink": lambda outside: [
        ("etc", tarfile.SYMTYPE, {"linkname": "/etc"}, b""),
        ("pw", tarfile.LNKTYPE, {"linkname": "etc/passwd"}, b""),
    ],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_layer_is_refused(store, tmp_path, case):
    outside = tmp_path / "outside"  # where an escape would land
    outside.mkdir()
    archive = str(tmp_path / "evil.tar")
    members = [file_member("ok.txt")] + HOSTILE[case](str(outside))
    baseimage.write_oci_archive(archive, [layer_tar(*members)], {}, "evil:1")
    passwd = os.stat("/etc/passwd")
    with pytest.raises(ImageError):
        store.import_archive(archive)
    assert os.listdir(outside) == []
    assert store_is_empty(store)
    after = os.stat("/etc/passwd")
    assert (after.st_nlink, after.st_mtime_ns) == (passwd.st_nlink, passwd.st_mtime_ns)


@pytest.mark.parametrize("which", ["config", "layer", "manifest"])
def test_corrupted_blob_is_refused(store, busybox_archive, tmp_path, which):
    archive = str(tmp_path / "corrupt.tar")
    with open(busybox_archive, "rb") as src, open(archive, "wb") as dst:
        dst.write(src.read())
    blobs = blob_members(archive)
    with tarfile.open(archive) as tar:
        index = json.loads(tar.extractfile("index.json").read())
    manifest_digest = index["manifests"][0]["digest"]
    manifest = json.loads(blobs["blobs/sha256/" + manifest_digest[7:]])
    digest = {
        "config": manifest["config"]["digest"],
        "layer": manifest["layers"][0]["digest"],
        "manifest": manifest_digest,
    }[which]
    data = bytearray(blobs["blobs/sha256/" + digest[7:]])
    data[len(data) // 2] ^= 0xFF  # same size, different content
    replace_member(archive, "blobs/sha256/" + digest[7:], bytes(data))
    with pytest.raises(ImageError, match="does not match its digest"):
        store.import_archive(archive)
    assert store_is_empty(store)


# ---------------------------------------------------------------- unpacking


def test_layer_keeps_metadata_links_devices_and_xattrs(store, tmp_path):
    archive = str(tmp_path / "meta.tar")
    xattrs = {
        "SCHILY.xattr.user.note": "kept",
        "SCHILY.xattr.trusted.overlay.redirect": "/elsewhere",
    }  # dropped
    layer = layer_tar(
        file_member("opt/app/run", b"#!/bin/sh\n", mode=0o4750, uid=1000, gid=100, pax_headers=xattrs),
        ("opt/app/run-again", tarfile.LNKTYPE, {"linkname": "opt/app/run"}, b""),
        ("opt/app/link", tarfile.SYMTYPE, {"linkname": "/no/such/target"}, b""),
        ("dev/null", tarfile.CHRTYPE, {"devmajor": 1, "devminor": 3, "mode": 0o666}, b""),
        ("opt/app", tarfile.DIRTYPE, {"mode": 0o750, "uid": 1000}, b""),
    )
    baseimage.write_oci_archive(archive, [layer], {}, "meta:1")
    [root] = store.lookup(store.import_archive(archive)[0]).layer_dirs
    run = os.lstat(os.path.join(root, "opt/app/run"))
    assert (stat.S_IMODE(run.st_mode), run.st_uid, run.st_gid) == (0o4750, 1000, 100)
    assert run.st_mtime == baseimage.MTIME and run.st_nlink == 2
    assert os.path.samefile(os.path.join(root, "opt/app/run"), os.path.join(root, "opt/app/run-again"))
    assert os.getxattr(os.path.join(root, "opt/app/run"), "user.note") == b"kept"
    assert "trusted.overlay.redirect" not in os.listxattr(os.path.join(root, "opt/app/run"))
    assert os.readlink(os.path.join(root, "opt/app/link")) == "/no/such/target"
    null = os.lstat(os.path.join(root, "dev/null"))
    assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3)
    app = os.lstat(os.path.join(root, "opt/app"))
    assert (stat.S_IMODE(app.st_mode), app.st_uid, app.st_mtime) == (0o750, 1000, baseimage.MTIME)


# ---------------------------------------------------------------- whiteouts and overlayfs


def whiteout_layer() -> bytes:
    """Deletes etc/group and bin/ls, makes usr/sbin opaque, adds a file."""
    return layer_tar(
        file_member("etc/.wh.group", b""),
        file_member("bin/.wh.ls", b""),
        ("usr/sbin", tarfile.DIRTYPE, {"mode": 0o755}, b""),
        file_member("usr/sbin/.wh..wh..opq", b""),
        file_member("usr/sbin/mine", b"mine\n", mode=0o755),
        file_member("hello.txt", b"hello\n"),
    )


@pytest.mark.parametrize("gzip_layers", [True, False])
def test_whiteouts_become_overlayfs_whiteouts(store, tmp_path, gzip_layers):
    archive = str(tmp_path / "wh.tar")
    baseimage.write_oci_archive(archive, [whiteout_layer()], {}, "wh:1", gzip_layers)
    [layer] = store.lookup(store.import_archive(archive)[0]).layer_dirs
    for hidden in ("etc/group", "bin/ls"):
        st = os.lstat(os.path.join(layer, hidden))
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert not os.path.lexists(os.path.join(layer, "etc/.wh.group"))
    assert os.getxattr(os.path.join(layer, "usr/sbin"), OVERLAY_OPAQUE_XATTR) == b"y"
    assert not os.path.lexists(os.path.join(layer, "usr/sbin/.wh..wh..opq"))
    assert os.listdir(os.path.join(layer, "usr/sbin")) == ["mine"]


def test_overlay_mount_hides_whiteouts(store, tmp_path):
    with open(BUSYBOX, "rb") as f:
        base = baseimage.build_layer(f.read(), baseimage.list_applets(BUSYBOX))
    archive = str(tmp_path / "two.tar")
    baseimage.write_oci_archive(archive, [base, whiteout_layer()], {}, "two:1")
    image = store.lookup(store.import_archive(archive)[0])
    assert len(image.layer_dirs) == 2
    assert image.lowerdir() == ":".join(reversed(image.layer_dirs))  # top first
    for d in ("upper", "work", "merged"):
        (tmp_path / d).mkdir()
    merged = tmp_path / "merged"
    script = f"""
        set -e
        bb={BUSYBOX}
        $bb mount --make-rprivate /
        $bb mount -t overlay overlay \\
            -o lowerdir={image.lowerdir()},upperdir={tmp_path}/upper,workdir={tmp_path}/work \\
            {merged}
        trap '$bb umount {merged}' EXIT
        test ! -e {merged}/etc/group
        test ! -e {merged}/bin/ls
        test -e {merged}/etc/passwd
        test "$(cat {merged}/hello.txt)" = hello
        test "$($bb ls {merged}/usr/sbin)" = mine
        $bb chroot {merged} /bin/busybox true
        $bb chroot {merged} /bin/sh -c 'echo inside > /tmp/proof; cat /tmp/proof'
    """
    result = subprocess.run(
        [BUSYBOX, "unshare", "-m", BUSYBOX, "sh", "-c", script], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "inside\n"
    # The write went to the container's upper dir, never into a shared layer.
    assert (tmp_path / "upper/tmp/proof").read_text() == "inside\n"
    with open("/proc/self/mountinfo") as f:
        assert str(merged) not in f.read()
