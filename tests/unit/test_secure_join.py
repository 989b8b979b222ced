"""Path joining under a container's root (minipod.linux.rootfs.secure_join):
every symlink is resolved as if the root were /, so a mount target can
never lead out of the root. Plain files in a temporary directory: no root."""

import os

import pytest

from minipod.errors import MinipodError
from minipod.linux.rootfs import secure_join


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "rootfs"
    (r / "etc").mkdir(parents=True)
    (r / "data").mkdir()
    os.symlink("/etc", r / "abs-etc")  # absolute: means the image's /etc
    os.symlink("../../../../etc", r / "climb")  # tries to leave the root
    os.symlink("data", r / "rel-data")
    os.symlink("/abs-etc/sub", r / "chain")  # a link through a link
    os.symlink("loop-b", r / "loop-a")
    os.symlink("loop-a", r / "loop-b")
    return str(r)


@pytest.mark.parametrize(
    "path, inside",
    [
        ("/data", "data"),
        ("data/x", "data/x"),
        ("/data/./x/", "data/x"),
        ("/abs-etc", "etc"),
        ("/abs-etc/passwd", "etc/passwd"),
        ("/climb/passwd", "etc/passwd"),  # .. stops at the root
        ("/../../etc", "etc"),
        ("/data/../../etc", "etc"),
        ("/rel-data/f", "data/f"),
        ("/chain", "etc/sub"),
        ("/missing/deeper", "missing/deeper"),  # what does not exist yet is joined as is
        ("/", ""),
    ],
)
def test_join_stays_under_the_root(root, path, inside):
    got = secure_join(root, path)
    assert got == os.path.join(root, inside)
    assert os.path.commonpath([root, os.path.realpath(got)]) == root


def test_a_symlink_loop_is_an_error_not_a_hang(root):
    with pytest.raises(MinipodError, match="too many levels of symbolic links"):
        secure_join(root, "/loop-a/x")
