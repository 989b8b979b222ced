"""Build the offline base image (busybox:1.35) from the host's static busybox.

minipod runs `image: busybox:1.35` with no network: this module packs the
host's statically linked /bin/busybox into an OCI image archive, which
ImageStore.import_archive() then imports like any other archive.

build_busybox_archive(out_path) does, in order (steps 2-5 are
write_oci_archive(), which tests also use to write crafted images):

    1. ask busybox for its applets (`busybox --list-full`: bin/sh, usr/bin/wget...)
    2. build the one layer, a tar: the directories of a small Unix tree,
       bin/busybox, one relative symlink per applet, a small script in bin/
       for each applet of the real image that is another applet in
       disguise (busybox_applets.py: printenv, nohup, hd...), etc/passwd,
       etc/group; every entry root-owned with a fixed mtime; then gzip it
    3. build the image config (config.md): Env PATH, Cmd ["sh"], the host's
       architecture, rootfs.diff_ids = [sha256 of the plain layer tar]
    4. build the manifest (manifest.md) that points at the config and layer
    5. write OUT_PATH, a tar holding an OCI image layout (image-layout.md):
           oci-layout
           index.json             the manifest, annotated with the image's name
           blobs/sha256/<hex>     config, layer and manifest

Nothing depends on the clock or the build machine's users, so the same busybox
binary always gives the same digests: importing twice stores the image once.

    python -m minipod.image.base OUT.tar [--busybox PATH] [--ref NAME]
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import posixpath
import subprocess
import tarfile

from minipod.errors import ImageError
from minipod.image.busybox_applets import WRAPPERS, wrapper_script
from minipod.image.layers import clean_path
from minipod.image.refs import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER_TAR,
    OCI_MANIFEST,
    REF_NAME,
    host_architecture,
    normalize_ref,
)

DEFAULT_REF = "docker.io/library/busybox:1.35"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MTIME = 1640995200  # 2022-01-01T00:00:00Z, fixed for reproducibility
CREATED = "2022-01-01T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The directories of the image, with their modes. /tmp is world-writable
# with the sticky bit, /root is private, like on any Linux system.
DIRECTORIES = {
    "bin": 0o755,
    "dev": 0o755,
    "etc": 0o755,
    "home": 0o755,
    "proc": 0o755,
    "root": 0o700,
    "sbin": 0o755,
    "sys": 0o755,
    "tmp": 0o1777,
    "usr": 0o755,
    "usr/bin": 0o755,
    "usr/sbin": 0o755,
    "var": 0o755,
}
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
GROUP = "root:x:0:\nnobody:x:65534:\n"


def build_busybox_archive(out_path: str, busybox: str = "/bin/busybox", ref: str = DEFAULT_REF) -> str:
    """Write the busybox image as an OCI layout tar; return its manifest digest."""
    applets = list_applets(busybox)  # step 1
    with open(busybox, "rb") as f:
        layer = build_layer(f.read(), applets)  # step 2
    return write_oci_archive(out_path, [layer], {"Env": [PATH_ENV], "Cmd": ["sh"]}, ref)


def write_oci_archive(
    out_path: str, layers: list[bytes], config_section: dict, ref: str, gzip_layers: bool = True
) -> str:
    """Write one image as an OCI layout tar: LAYERS are plain tars, bottom
    first; CONFIG_SECTION is the config's "config" (Env, Cmd...).
    Return the manifest digest. Steps 2 (gzip) to 5 of the module docstring."""
    ref = normalize_ref(ref)
    blobs = [gzip.compress(t, compresslevel=6, mtime=0) if gzip_layers else t for t in layers]
    config = canonical_json(
        {  # step 3
            "architecture": host_architecture(),
            "os": "linux",
            "created": CREATED,
            "config": config_section,
            "rootfs": {"type": "layers", "diff_ids": [sha256(t) for t in layers]},
        }
    )
    layer_type = OCI_LAYER_GZIP if gzip_layers else OCI_LAYER_TAR
    manifest = canonical_json(
        {  # step 4
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [descriptor(layer_type, blob) for blob in blobs],
        }
    )
    index = canonical_json(
        {  # step 5
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                dict(
                    descriptor(OCI_MANIFEST, manifest),
                    platform={"architecture": host_architecture(), "os": "linux"},
                    annotations={REF_NAME: ref},
                )
            ],
        }
    )
    files = [("oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"})), ("index.json", index)]
    files += [(f"blobs/sha256/{sha256(b)[7:]}", b) for b in [config, *blobs, manifest]]
    tmp = out_path + ".tmp"
    with tarfile.open(tmp, "w") as tar:
        for name in ("blobs", "blobs/sha256"):
            tar.addfile(tar_entry(name, tarfile.DIRTYPE, 0o755))
        for name, data in files:
            tar.addfile(tar_entry(name, tarfile.REGTYPE, 0o644, size=len(data)), io.BytesIO(data))
    os.replace(tmp, out_path)  # a reader never sees half an archive
    return sha256(manifest)


def list_applets(busybox: str) -> list[str]:
    """Where each applet lives, relative to /: ["bin/ash", ..., "usr/bin/wget"]."""
    try:
        out = subprocess.run([busybox, "--list-full"], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise ImageError(
            f"cannot list the applets of {busybox}: {e}",
            hint="a busybox binary built with --list-full is needed",
        ) from e
    applets = set()
    for line in out.split():
        path = "/".join(clean_path(line))  # refuses absolute paths and ".."
        if path and path != "bin/busybox":
            applets.add(path)
    return sorted(applets)


def build_layer(binary: bytes, applets: list[str]) -> bytes:
    """The layer as an uncompressed tar (its sha256 is the DiffID)."""
    directories = dict(DIRECTORIES)
    for applet in applets:  # an applet in an unusual directory
        parent = posixpath.dirname(applet)
        while parent and parent not in directories:
            directories[parent] = 0o755
            parent = posixpath.dirname(parent)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(directories):  # parents sort before their children
            tar.addfile(tar_entry(name, tarfile.DIRTYPE, directories[name]))
        tar.addfile(tar_entry("bin/busybox", tarfile.REGTYPE, 0o755, size=len(binary)), io.BytesIO(binary))
        for applet in applets:
            # Relative links (usr/bin/wget -> ../../bin/busybox) also work when
            # the layer directory is looked at from outside the container.
            target = posixpath.relpath("bin/busybox", posixpath.dirname(applet) or ".")
            tar.addfile(tar_entry(applet, tarfile.SYMTYPE, 0o777, linkname=target))
        have = {posixpath.basename(a) for a in applets}
        for name in sorted(set(WRAPPERS) - have):
            script = wrapper_script(name)
            tar.addfile(
                tar_entry(f"bin/{name}", tarfile.REGTYPE, 0o755, size=len(script)), io.BytesIO(script)
            )
        for name, text in (("etc/passwd", PASSWD), ("etc/group", GROUP)):
            data = text.encode()
            tar.addfile(tar_entry(name, tarfile.REGTYPE, 0o644, size=len(data)), io.BytesIO(data))
    return buf.getvalue()


def tar_entry(name: str, kind: bytes, mode: int, size: int = 0, linkname: str = "") -> tarfile.TarInfo:
    """A root-owned tar header with the fixed mtime."""
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, linkname
    info.mtime, info.uid, info.gid, info.uname, info.gname = MTIME, 0, 0, "root", "root"
    return info


def canonical_json(obj) -> bytes:
    """JSON with sorted keys and no spaces: equal objects, equal bytes, equal digests."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, blob: bytes) -> dict:
    """An OCI descriptor (descriptor.md): what a blob is, its digest and size."""
    return {"mediaType": media_type, "digest": sha256(blob), "size": len(blob)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m minipod.image.base",
        description="Write the offline busybox base image as an OCI archive.",
    )
    parser.add_argument("out", metavar="OUT.tar")
    parser.add_argument(
        "--busybox", default="/bin/busybox", help="a statically linked busybox (default: %(default)s)"
    )
    parser.add_argument("--ref", default=DEFAULT_REF, help="image name (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        digest = build_busybox_archive(args.out, args.busybox, args.ref)
    except ImageError as e:
        parser.exit(1, f"error: {e}\n" + (f"hint: {e.hint}\n" if e.hint else ""))
    print(f"{args.out}: {normalize_ref(args.ref)} {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
