"""The tar files of images: reading an image archive, and unpacking one
image layer (a tar "changeset") into its own directory, safely.

ArchiveReader(path) reads the files of an image archive (the outer tar, or
a directory laid out the same way) by name: "index.json", "blobs/sha256/HEX".
It only reads; it never extracts the archive anywhere.

An image layer is a tar archive of the files one build step added, changed or
deleted (OCI image-spec, layer.md). minipod keeps every layer unpacked in its
own directory and stacks those directories with overlayfs, so unpacking
happens once per layer, not once per container.

unpack_layer(blob, media_type, dest), or unpack_stream(fileobj, ...) for a
blob still downloading, does, in order:

    1. open the blob and decompress it if its media type says gzip
    2. hash the uncompressed bytes as they stream by: that hash is the
       layer's DiffID, which the image config lists (config.md, "Layer DiffID")
    3. for each tar member, in archive order:
       a. clean its path: refuse absolute paths and ".." components
       b. walk its parent directories inside DEST, creating missing ones
          and refusing to go through a symlink or a non-directory
       c. turn OCI whiteouts into overlayfs whiteouts (layer.md, "Whiteouts"):
            .wh.NAME      -> NAME as a character device 0/0
            .wh..wh..opq  -> xattr trusted.overlay.opaque=y on the directory
       d. create the entry: directory, file, symlink, hardlink, device, fifo
       e. set its owner, mode, xattrs and mtime
    4. set directory mtimes last (creating a child changes its parent's)

On-disk objects: DEST/... the layer's files. DEST must be a new, empty
directory nobody else writes to (the store gives a private temp dir and
renames it into place afterwards). That privacy is what makes the plain
lstat() checks of step 3b enough: between our check and our write, no one
can swap a directory for a symlink.

Needs root: it sets owners, creates device nodes and trusted.* xattrs.
"""

import hashlib
import json
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zlib
from typing import IO, cast

from minipod.errors import ImageError

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
# layer.md: the ".wh..wh." prefix is reserved; besides the opaque marker,
# such names (e.g. aufs' ".wh..wh.plnk" hardlink dirs) carry no files.
RESERVED_PREFIX = ".wh..wh."
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"

# Extended attributes we copy from the tar's PAX headers. File capabilities
# (e.g. ping's cap_net_raw) matter for images; trusted.* would let a layer
# forge overlayfs' own bookkeeping (redirects, opaque flags), so it is dropped.
KEPT_XATTRS = ("user.", "security.capability")
PAX_XATTR_PREFIX = "SCHILY.xattr."

CHUNK = 1 << 20
MAX_JSON = 8 << 20  # index.json, manifests, configs are small: refuse huge ones


def compression_of(media_type: str) -> str:
    """'gzip' or 'none' for a layer media type (layer.md, media-types.md)."""
    if media_type.endswith(("+gzip", ".tar.gzip")):
        return "gzip"
    if media_type.endswith(".tar"):
        return "none"
    if media_type.endswith("+zstd"):
        raise ImageError(
            f"layer media type {media_type} is zstd-compressed", hint="re-export the image with gzip layers"
        )
    raise ImageError(f"unsupported layer media type {media_type!r}")


class HashingReader:
    """A read-only file object that sha256-hashes everything read through it."""

    def __init__(self, fileobj):
        self.fileobj = fileobj
        self.sha256 = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.fileobj.read(n)
        self.sha256.update(data)
        return data

    def drain(self) -> None:
        """Read (and hash) whatever is left, e.g. the tar's zero padding."""
        while self.read(CHUNK):
            pass

    def digest(self) -> str:
        return "sha256:" + self.sha256.hexdigest()


class GunzipReader:
    """Read a gzip stream (RFC 1952; members back to back, as pigz writes)
    decompressed, in big steps: gzip.GzipFile feeds zlib 8 KiB at a time
    on Python 3.11. zlib checks each member's header, CRC-32 and length
    (wbits=31); trailing zero padding is ignored, as gzip(1) does."""

    def __init__(self, raw):
        self.raw, self.input, self.started, self.done = raw, b"", False, False
        self.z = zlib.decompressobj(wbits=31)

    def read(self, n: int = -1) -> bytes:
        n = CHUNK if n is None or n < 0 else n
        while not self.done:
            if not self.input:
                self.input = self.raw.read(CHUNK)
                if not self.started:
                    self.input = self.input.lstrip(b"\0")
                if not self.input:
                    if self.started:
                        raise EOFError("the compressed layer ends in the middle of its data")
                    self.done = True
                    break
            self.started = True
            out = self.z.decompress(self.input, n)
            if self.z.eof:  # a member ended: another may follow
                self.input = self.z.unused_data.lstrip(b"\0")
                self.z, self.started = zlib.decompressobj(wbits=31), False
            else:
                self.input = self.z.unconsumed_tail
            if out:
                return out
        return b""


def unpack_layer(blob_path: str, media_type: str, dest: str) -> str:
    """Unpack the layer blob into DEST (an empty private dir); return its DiffID."""
    compression_of(media_type)  # refuse an unknown type before opening
    with open(blob_path, "rb") as raw:
        return unpack_stream(raw, media_type, dest, os.path.basename(blob_path))


def unpack_stream(raw, media_type: str, dest: str, label: str) -> str:
    """Unpack a layer read from the file object RAW (its compressed bytes,
    e.g. straight from a download) into DEST; return its DiffID. LABEL
    names the layer in errors. RAW is read to its end."""
    compression = compression_of(media_type)
    reader = HashingReader(GunzipReader(raw) if compression == "gzip" else raw)
    try:
        # "r|" reads the tar as a stream, member after member, which is
        # all a layer needs and never seeks back; big reads, few calls.
        # (tarfile's stubs want a full file object; a stream needs read() only.)
        with tarfile.open(fileobj=cast(IO[bytes], reader), mode="r|", bufsize=CHUNK) as tar:
            _Unpacker(dest).unpack(tar)
        reader.drain()
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise ImageError(f"layer {label} is not a valid tar archive: {e}") from e
    except OSError as e:
        raise ImageError(f"unpacking layer {label}: {e}") from e
    return reader.digest()


def new_layer_dir(parent: str) -> str:
    """A new private directory under PARENT to unpack one layer into."""
    tmp = tempfile.mkdtemp(prefix="layer-", dir=parent)
    os.chmod(tmp, 0o755)  # the image's "/" unless the layer sets it
    return tmp


def check_diff_id(got: str, want: str, digest: str) -> None:
    """config.md, "Layer DiffID": the unpacked tar must hash to the DiffID."""
    if got != want:
        raise ImageError(f"layer {digest}: its content's DiffID {got} is not the {want} its config lists")


def clean_path(name: str, what: str = "layer member") -> list[str]:
    """Split a tar member name into components; refuse anything that could
    point outside the layer. "./a//b/" -> ["a", "b"]; "." -> []."""
    if name.startswith("/"):
        raise ImageError(f"{what} {name!r} is an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ImageError(f"{what} {name!r} has a '..' component")
    return parts


class _Unpacker:
    def __init__(self, root: str):
        self.root = root
        self.dir_mtimes: dict[str, int] = {}  # applied last, see step 4

    def unpack(self, tar: tarfile.TarFile) -> None:
        for member in tar:
            self.add(tar, member)
        for path, mtime in self.dir_mtimes.items():
            st = os.lstat(path) if os.path.lexists(path) else None
            if st and stat.S_ISDIR(st.st_mode):
                os.utime(path, ns=(mtime, mtime), follow_symlinks=False)

    # -- step 3b: the parent directory, inside the layer, no symlinks --

    def parent_of(self, name: str, parts: list[str], create: bool, what: str = "layer member") -> str:
        path = self.root
        for part in parts[:-1]:
            path = os.path.join(path, part)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                if not create:
                    raise ImageError(
                        f"{what} {name!r}: {os.path.relpath(path, self.root)} does not exist"
                    ) from None
                # Layers may omit parent directory entries; make them like
                # other runtimes do: root-owned, 0755 (chmod: umask-proof).
                os.mkdir(path)
                os.chmod(path, 0o755)
                continue
            if stat.S_ISLNK(st.st_mode):
                # The symlink was extracted earlier from this same layer.
                # Following it could write anywhere on the host.
                raise ImageError(
                    f"{what} {name!r} goes through a symlink ({os.path.relpath(path, self.root)})"
                )
            if not stat.S_ISDIR(st.st_mode):
                raise ImageError(f"{what} {name!r}: {os.path.relpath(path, self.root)} is not a directory")
        return path

    # -- steps 3c-3e --

    def add(self, tar: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        parts = clean_path(m.name)
        if not parts:  # "./": the layer's root itself
            if not m.isdir():
                raise ImageError(f"layer member {m.name!r} replaces the root with a non-directory")
            self.set_metadata(self.root, m)
            return
        parent = self.parent_of(m.name, parts, create=True)
        base = parts[-1]
        if base == OPAQUE_MARKER:
            # layer.md "Opaque Whiteout": hide every sibling from lower layers.
            # overlayfs reads this xattr on a directory of a lower layer.
            os.setxattr(parent, OVERLAY_OPAQUE_XATTR, b"y", follow_symlinks=False)
            return
        if base.startswith(RESERVED_PREFIX):
            return
        if base.startswith(WHITEOUT_PREFIX):
            self.whiteout(m.name, parent, base[len(WHITEOUT_PREFIX) :])
            return

        path = os.path.join(parent, base)
        if m.isdir():
            existing = os.lstat(path) if os.path.lexists(path) else None
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                remove_entry(path)
                os.mkdir(path, 0o700)  # set_metadata gives the real mode
        elif m.islnk():
            # Hardlinks name an earlier member of this layer (layer.md,
            # "Hardlinks"). Resolve it with the same no-symlink walk so
            # it cannot reach e.g. the host's /etc/passwd.
            what = f"the target of hardlink {m.name!r}:"
            target_parts = clean_path(m.linkname, what)
            if not target_parts:
                raise ImageError(f"hardlink {m.name!r} points at the layer root")
            target = os.path.join(self.parent_of(m.linkname, target_parts, False, what), target_parts[-1])
            target_st = os.lstat(target) if os.path.lexists(target) else None
            if target_st is None or stat.S_ISDIR(target_st.st_mode) or target == path:
                raise ImageError(f"hardlink {m.name!r} -> {m.linkname!r}: no such file earlier in the layer")
            remove_entry(path)
            # follow_symlinks=False: link the symlink itself, never its target.
            os.link(target, path, follow_symlinks=False)
            return  # a hardlink shares its target's metadata
        else:
            remove_entry(path)  # a later member replaces an earlier one
            self.create_leaf(tar, m, path)
        self.set_metadata(path, m)

    def whiteout(self, name: str, parent: str, hidden: str) -> None:
        if hidden in ("", ".", ".."):
            raise ImageError(f"layer member {name!r} is not a valid whiteout")
        path = os.path.join(parent, hidden)
        if os.path.lexists(path):
            # layer.md: a whiteout only hides files of *lower* layers; an entry
            # of this same layer stays, and already hides the lower one.
            return
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))

    def create_leaf(self, tar: tarfile.TarFile, m: tarfile.TarInfo, path: str) -> None:
        if m.isreg():  # also covers CONTTYPE and sparse files
            # O_EXCL|O_NOFOLLOW: create a fresh file, never open an existing one.
            src = tar.extractfile(m)
            if src is None:  # cannot be for a regular file
                raise ImageError(f"{m.name}: a regular file without data")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as out, src:
                shutil.copyfileobj(src, out, CHUNK)
        elif m.issym():
            # The target is stored as is: it is only resolved later, inside the
            # container's root, where an absolute target means the image's /.
            os.symlink(m.linkname, path)
        elif m.ischr() or m.isblk():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
            os.mknod(path, kind | 0o600, os.makedev(m.devmajor, m.devminor))
        elif m.isfifo():
            os.mkfifo(path, 0o600)
        else:
            raise ImageError(f"layer member {m.name!r} has an unsupported type {m.type!r}")

    def set_metadata(self, path: str, m: tarfile.TarInfo) -> None:
        os.chown(path, m.uid, m.gid, follow_symlinks=False)
        if not m.issym():
            # After chown: chown clears the set-user-ID and set-group-ID bits.
            # (Linux has no mode on symlinks.)
            os.chmod(path, stat.S_IMODE(m.mode))
        if m.isreg() or m.isdir():  # the kernel refuses user.* xattrs elsewhere
            self.set_xattrs(path, m)
        mtime = int(m.mtime * 1_000_000_000)
        if m.isdir():
            self.dir_mtimes[path] = mtime
        else:
            os.utime(path, ns=(mtime, mtime), follow_symlinks=False)

    @staticmethod
    def set_xattrs(path: str, m: tarfile.TarInfo) -> None:
        for key, value in m.pax_headers.items():
            if not key.startswith(PAX_XATTR_PREFIX):
                continue
            attr = key[len(PAX_XATTR_PREFIX) :]
            if attr.startswith(KEPT_XATTRS):
                # tarfile decodes PAX values as UTF-8 with surrogateescape;
                # encoding back the same way gives the original bytes.
                os.setxattr(path, attr, value.encode("utf-8", "surrogateescape"), follow_symlinks=False)


def remove_entry(path: str) -> None:
    """Remove whatever is at PATH (a directory with its contents), if anything."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)  # rmtree never follows symlinks inside
    else:
        os.unlink(path)


class ArchiveReader:
    """Read-only access to the files of an image archive: a directory, or a
    tar file (plain or compressed). Names are relative: "blobs/sha256/HEX"."""

    def __init__(self, path: str):
        self.path = path
        self.tar = None
        if not os.path.isdir(path):
            try:
                self.tar = tarfile.open(path, "r:*")
                # Later members win, as when tar extracts.
                self.members = {posixpath.normpath(m.name).lstrip("/"): m for m in self.tar.getmembers()}
            except tarfile.TarError as e:
                raise ImageError(f"{path} is neither a tar archive nor a directory") from e
            except OSError as e:
                raise ImageError(f"cannot read image archive {path}: {e.strerror}") from e

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.tar:
            self.tar.close()

    def exists(self, name: str) -> bool:
        if self.tar is None:
            return os.path.isfile(os.path.join(self.path, *clean_path(name)))
        return posixpath.normpath(name) in self.members

    def open(self, name: str):
        """A binary file object for the archive's file NAME."""
        try:
            if self.tar is None:
                return open(os.path.join(self.path, *clean_path(name)), "rb")
            f = self.tar.extractfile(self.members[posixpath.normpath(name)])
            if f is None:  # a directory, a device...
                raise KeyError(name)
            return f  # (links inside the tar are followed)
        except (KeyError, OSError, tarfile.TarError) as e:
            raise ImageError(f"{self.path}: cannot read {name}: {e}") from e

    def read_json(self, name: str):
        with self.open(name) as f:
            data = f.read(MAX_JSON + 1)
        try:
            if len(data) > MAX_JSON:
                raise ValueError("too big")
            return json.loads(data)
        except ValueError as e:
            raise ImageError(f"{self.path}: {name} is not valid JSON: {e}") from e
