"""The offline busybox image against the real busybox:1.35's applet set
(minipod.image.busybox_applets, minipod.image.base): the layer is built in
memory and read back, no daemon."""

import io
import os
import posixpath
import re
import subprocess
import tarfile

import pytest
from helpers import REPO

from minipod.image import base
from minipod.image.busybox_applets import REAL_IMAGE_APPLETS, WRAPPERS, missing_applets

BUSYBOX = "/bin/busybox"
pytestmark = pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="no busybox on this host")


def layer_names() -> dict[str, tarfile.TarInfo]:
    with open(BUSYBOX, "rb") as f:
        layer = base.build_layer(f.read(), base.list_applets(BUSYBOX))
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        return {m.name: m for m in tar.getmembers()}


def image_applets(members: dict[str, tarfile.TarInfo]) -> set[str]:
    dirs = ("", "bin", "sbin", "usr/bin", "usr/sbin")
    return {
        posixpath.basename(n) for n, m in members.items() if posixpath.dirname(n) in dirs and not m.isdir()
    }


def test_wrappers_fill_in_what_busybox_static_lacks():
    members = layer_names()
    host = set(subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True).stdout.split())
    for name in set(WRAPPERS) - host:
        m = members[f"bin/{name}"]
        assert m.isfile() and m.mode == 0o755, name
    have = image_applets(members)
    assert "printenv" in have
    # Everything of the real image is there, except what is written down as missing.
    assert set(REAL_IMAGE_APPLETS) - have == set(missing_applets(host))


def test_wrappers_use_only_applets_the_image_has():
    host = set(subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True).stdout.split())
    for name, script in WRAPPERS.items():
        for word in re.findall(r"exec ([a-z][\w.]*)", script):
            assert word in host or word == "env", f"{name} needs {word}"


def test_the_readme_lists_every_missing_applet():
    host = set(subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True).stdout.split())
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    section = readme[readme.index("<!-- busybox-missing -->") : readme.index("<!-- /busybox-missing -->")]
    listed = set(re.findall(r"`([^`]+)`", section))
    assert set(missing_applets(host)) <= listed, sorted(set(missing_applets(host)) - listed)
