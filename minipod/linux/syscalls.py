"""The Linux system calls that Python 3.11's `os` module lacks.

This is the only module in minipod that uses ctypes. Everything here is a thin,
checked wrapper: on failure it raises `SyscallError` naming the syscall and the
path or namespace it was acting on, as crun does ("mount(overlay, /x): No such
device"), so a student can find the failing step from the message alone.

Wrapped calls (man 2 PAGE):
    unshare(2)      new namespaces for the calling process
    setns(2)        join the namespace behind a /proc/PID/ns/* file
    mount(2)        mount, bind, remount and change propagation
    umount2(2)      unmount, MNT_DETACH for lazy unmounts
    pivot_root(2)   swap the root mount of the calling mount namespace
    seccomp(2)      load a BPF syscall filter compiled by libseccomp
    open_tree(2)    a detached copy of a mount tree, as a file descriptor
    mount_setattr(2)  its flags and its id-mapping (MOUNT_ATTR_IDMAP)
    move_mount(2)   attach such a tree at a path
And one ioctl(2), SIOCSIFFLAGS, to bring a link (the pod's loopback) up
without loading a netlink library in the process that creates the pod.
And malloc_trim(3), so the daemon gives back to the kernel the memory a
large request used once it is freed; and SSL_CTX_set_verify(3), so the
Kubernetes API asks for client certificates without refusing at the TLS
handshake the ones it will answer with a 401.
"""

import ctypes
import ctypes.util
import errno
import fcntl
import os
import socket
import struct

from minipod import trace
from minipod.errors import SyscallError

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

# clone(2) flags, used by unshare(2) and setns(2).
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# The name of each namespace's file under /proc/PID/ns and its clone flag.
NAMESPACE_FLAGS = {
    "net": CLONE_NEWNET,
    "ipc": CLONE_NEWIPC,
    "uts": CLONE_NEWUTS,
    "pid": CLONE_NEWPID,
    "mnt": CLONE_NEWNS,
    "cgroup": CLONE_NEWCGROUP,
}

# mount(2) flags.
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_STRICTATIME = 1 << 24

MNT_DETACH = 2

# open_tree(2), mount_setattr(2), move_mount(2) (linux/mount.h).
OPEN_TREE_CLONE = 1
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_IDMAP = 0x100000


def _check(result: int, call: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise SyscallError(f"{call}: {os.strerror(err)}", err)


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces (CLONE_NEW* flags).

    CLONE_NEWPID is special: the caller stays where it is and only its
    next child becomes PID 1 of the new pid namespace (pid_namespaces(7)).
    """
    call = f"unshare({_flag_names(flags)})"
    with trace.span(call):
        _check(_libc.unshare(flags), call)


def setns(path: str, nstype: int = 0) -> None:
    """Join the namespace behind `path` (a /proc/PID/ns/* file or a bind mount
    of one). Changes only the calling thread, which is why minipod calls it
    only in forked, single-threaded children (setns(2), NOTES)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns_fd(fd, path, nstype)
    finally:
        os.close(fd)


def setns_fd(fd: int, path: str, nstype: int = 0) -> None:
    """setns(2) on an already open namespace file; `path` names it in errors."""
    with trace.span(f"setns({path})"):
        _check(_libc.setns(fd, nstype), f"setns({path})")


def mount(
    source: str, target: str, fstype: str | None = None, flags: int = 0, data: str | None = None
) -> None:
    call = f"mount({fstype or source or 'none'}, {target})"
    with trace.span(call):
        _check(
            _libc.mount(
                source.encode() if source else None,
                target.encode(),
                fstype.encode() if fstype else None,
                ctypes.c_ulong(flags),
                data.encode() if data else None,
            ),
            call,
        )


def umount(target: str, flags: int = 0) -> None:
    with trace.span(f"umount2({target})"):
        _check(_libc.umount2(target.encode(), flags), f"umount2({target})")


def pivot_root(new_root: str, put_old: str) -> None:
    with trace.span(f"pivot_root({os.getcwd() if new_root == '.' else new_root})"):
        _check(_libc.syscall(_SYS_PIVOT_ROOT, new_root.encode(), put_old.encode()), f"pivot_root({new_root})")


class _MountAttr(ctypes.Structure):
    """struct mount_attr (linux/mount.h)."""

    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def open_tree(path: str) -> int:
    """A detached copy of the mount tree at `path` (OPEN_TREE_CLONE |
    AT_RECURSIVE, like a recursive bind mount not yet attached anywhere);
    the caller owns the returned descriptor."""
    flags = OPEN_TREE_CLONE | AT_RECURSIVE | os.O_CLOEXEC
    fd = _libc.syscall(_SYS_OPEN_TREE, -100, path.encode(), ctypes.c_uint(flags))  # -100: AT_FDCWD
    if fd < 0:
        err = ctypes.get_errno()
        raise SyscallError(f"open_tree({path}): {os.strerror(err)}", err)
    return int(fd)


def mount_setattr(fd: int, what: str, attr_set: int, userns_fd: int = 0) -> None:
    """Set flags on every mount of a detached tree; with MOUNT_ATTR_IDMAP,
    files are seen through the id-mapping of the user namespace behind
    `userns_fd` (mount_setattr(2), "ID-mapped mounts")."""
    attr = _MountAttr(attr_set, 0, 0, userns_fd)
    _check(
        _libc.syscall(
            _SYS_MOUNT_SETATTR,
            fd,
            b"",
            ctypes.c_uint(AT_EMPTY_PATH | AT_RECURSIVE),
            ctypes.byref(attr),
            ctypes.c_size_t(ctypes.sizeof(attr)),
        ),
        f"mount_setattr({what})",
    )


def move_mount(fd: int, target: str) -> None:
    """Attach the detached tree `fd` at `target`."""
    _check(
        _libc.syscall(
            _SYS_MOVE_MOUNT, fd, b"", -100, target.encode(), ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH)
        ),
        f"move_mount({target})",
    )


class _SockFprog(ctypes.Structure):
    """struct sock_fprog (linux/filter.h): a BPF program, 8 bytes an instruction."""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def seccomp_set_filter(program: bytes) -> None:
    """seccomp(SECCOMP_SET_MODE_FILTER): filter every later system call of
    the calling thread (and what it execs) through `program`. Needs
    no_new_privs or CAP_SYS_ADMIN (seccomp(2))."""
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    seccomp_set_mode_filter = 1
    _check(
        _libc.syscall(_SYS_SECCOMP, seccomp_set_mode_filter, 0, ctypes.byref(prog)),
        "seccomp(SECCOMP_SET_MODE_FILTER)",
    )


def sethostname(name: str) -> None:
    try:
        with trace.span(f"sethostname({name})"):
            socket.sethostname(name)
    except OSError as e:
        raise SyscallError(f"sethostname({name}): {e.strerror}", e.errno) from None


def set_link_up(name: str) -> None:
    """ioctl(SIOCSIFFLAGS) IFF_UP on a link of the calling thread's network
    namespace. A fresh netns has only `lo`, and it is down (netdevice(7))."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, trace.span(f"ip link set {name} up"):
        try:
            req = struct.pack("16sH", name.encode(), 0)
            flags = struct.unpack("16sH", fcntl.ioctl(s, siocgifflags, req)[:18])[1]
            fcntl.ioctl(s, siocsifflags, struct.pack("16sH", name.encode(), flags | iff_up))
        except OSError as e:
            raise SyscallError(f"ioctl(SIOCSIFFLAGS, {name}): {e.strerror}", e.errno) from None


def interface_address(name: str) -> str | None:
    """The IPv4 address of a link of the calling thread's netns
    (ioctl SIOCGIFADDR, netdevice(7)), or None if it has none."""
    siocgifaddr = 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            res = fcntl.ioctl(s, siocgifaddr, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(res[20:24])


def _flag_names(flags: int) -> str:
    names = {v: "CLONE_NEW" + ("NS" if k == "mnt" else k.upper()) for k, v in NAMESPACE_FLAGS.items()}
    return "|".join(n for v, n in names.items() if flags & v) or hex(flags)


# pivot_root has no libc wrapper; its number depends on the architecture.
_SYS_PIVOT_ROOT = {
    "x86_64": 155,
    "aarch64": 41,
    "armv7l": 218,
    "riscv64": 41,
    "ppc64le": 203,
    "s390x": 217,
}.get(os.uname().machine, 155)
_SYS_SECCOMP = {
    "x86_64": 317,
    "aarch64": 277,
    "armv7l": 383,
    "riscv64": 277,
    "ppc64le": 358,
    "s390x": 348,
}.get(os.uname().machine, 317)

# The mount API's calls came after the unified syscall table: one number
# on every architecture.
_SYS_OPEN_TREE = 428
_SYS_MOVE_MOUNT = 429
_SYS_MOUNT_SETATTR = 442

__all__ = [
    "unshare",
    "setns",
    "setns_fd",
    "mount",
    "umount",
    "pivot_root",
    "open_tree",
    "mount_setattr",
    "move_mount",
    "seccomp_set_filter",
    "sethostname",
    "set_link_up",
    "interface_address",
    "errno",
]


def malloc_trim() -> None:
    """Return the C heap's free memory to the kernel (malloc_trim(3)).

    Python frees a large request's objects, but glibc keeps the freed heap
    pages for later: without this, one big manifest leaves the daemon's RSS
    high for the rest of its life."""
    trim = getattr(_libc, "malloc_trim", None)
    if trim is not None:  # glibc only
        trim(0)


# libssl's verify callback type: int (*)(int preverify_ok, X509_STORE_CTX *).
_VERIFY_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
_callbacks: list = []  # kept alive as long as the process: libssl holds a pointer
SSL_VERIFY_PEER = 1
SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 2


def ssl_request_any_client_certificate(ctx) -> None:
    """Make a server ssl.SSLContext ask for a client certificate and take
    whatever comes, as Go's tls.RequestClientCert does (SSL_CTX_set_verify(3)
    with a callback that accepts): the caller checks the certificate itself,
    so one from another CA gets an HTTP 401, not a failed handshake.

    Python's ssl module has no verify callback, so this reaches the SSL_CTX
    behind the SSLContext (the first field after the object header) and
    checks it is the right one by reading back two verify modes set through
    Python before it changes anything."""
    import ssl

    libssl = ctypes.CDLL(ctypes.util.find_library("ssl") or "libssl.so.3")
    libcrypto = ctypes.CDLL(ctypes.util.find_library("crypto") or "libcrypto.so.3")

    def accept(preverify_ok: int, store: int | None) -> int:
        # A failed check left its error in the thread's OpenSSL error
        # queue: cleared, or the next read on the connection reports it.
        libcrypto.ERR_clear_error()
        return 1

    if not _callbacks:
        _callbacks.append(_VERIFY_CALLBACK(accept))
    libssl.SSL_CTX_get_verify_mode.argtypes = [ctypes.c_void_p]
    libssl.SSL_CTX_get_verify_mode.restype = ctypes.c_int
    libssl.SSL_CTX_set_verify.argtypes = [ctypes.c_void_p, ctypes.c_int, _VERIFY_CALLBACK]
    libssl.SSL_CTX_set_verify.restype = None
    ssl_ctx = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    for mode, expected in (
        (ssl.CERT_REQUIRED, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT),
        (ssl.CERT_OPTIONAL, SSL_VERIFY_PEER),
    ):
        ctx.verify_mode = mode
        if not ssl_ctx or libssl.SSL_CTX_get_verify_mode(ssl_ctx) != expected:
            raise SyscallError(
                "SSL_CTX_set_verify: this Python's SSLContext does not hold its SSL_CTX where expected"
            )
    libssl.SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, _callbacks[0])
