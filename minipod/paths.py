"""Every path of one minipod instance, derived from one root.

An *instance* is one daemon and everything it owns. Two instances with
different roots never touch each other's files, sockets or kernel objects,
which is what lets tests, labs and a system install run side by side.

    --root DIR / MINIPOD_ROOT=DIR    everything lives under DIR:
        DIR/lib/...                  persistent state (pods, images, containers)
        DIR/run/...                  runtime state (socket, pod run dirs, exits)
        DIR/etc/...                  instance configuration
    (no root)                        the usual system paths:
        /var/lib/minipod, /run/minipod, /etc/minipod

Every path built from a name that came from outside (a namespace, a pod or
container name, a uid) goes through path_in(), which refuses to leave its
base directory whatever the name holds: '/', '..', a NUL byte.

This module is imported by the CLI, so it must stay light: stdlib only.
"""

import os

from minipod.errors import MinipodError


class UnsafePath(MinipodError):
    """A name that would make a path outside its directory."""


def path_in(base: str, *parts: str) -> str:
    """base/part1/part2..., each part one plain path component.

    Names are validated at the API (DNS labels and subdomains), so this
    never refuses a valid one: it is the last line of defence, so that no
    bug upstream can ever write outside `base`."""
    for part in parts:
        if (
            not isinstance(part, str)
            or part in ("", ".", "..")
            or "/" in part
            or "\0" in part
            or len(part.encode()) > 255
        ):
            raise UnsafePath(
                f"refusing to build a path in {base} from {part!r}: "
                "a name must be one plain path component (no '/', '..' or NUL)"
            )
    path = os.path.join(base, *parts)
    # Belt and braces: the joined path, normalised, must still be inside base.
    if not os.path.normpath(path).startswith(os.path.normpath(base) + os.sep):
        raise UnsafePath(f"refusing the path {path!r}: it is not inside {base}")
    return path


def log_times_path(log_path: str) -> str:
    """Where the monitor marks the times of a container log's lines:
    LOGS/CONTAINER/N.log -> LOGS/CONTAINER.times/N.log (rotated alongside;
    a container name has no '.', so this never is a container's folder)."""
    folder, name = os.path.split(log_path)
    return os.path.join(folder + ".times", name)


def stdin_fifo_path(log_path: str) -> str:
    """The FIFO through which `attach -i` reaches a `stdin: true`
    container: LOGS/CONTAINER/N.log -> LOGS/CONTAINER.stdin/N.fifo."""
    folder, name = os.path.split(log_path)
    return os.path.join(folder + ".stdin", name.removesuffix(".log") + ".fifo")


def object_file(namespace: str, name: str) -> str:
    """The file name of a namespaced object's state: NAMESPACE_NAME.json.
    Both are DNS names, so '_' cannot occur in either: the split is unique."""
    return f"{namespace}_{name}.json"


class Instance:
    # A plain class, not a dataclass: importing dataclasses costs the CLI
    # several milliseconds on every command.
    def __init__(self, root: str | None, lib: str, run: str, etc: str):
        self.root, self.lib, self.run, self.etc = root, lib, run, etc

    @property
    def socket(self) -> str:
        """The daemon's HTTP API, a root-only Unix socket."""
        return os.path.join(self.run, "minipod.sock")

    @property
    def cri_socket(self) -> str:
        """The CRI's gRPC endpoint (`minipod daemon --cri`), root only too."""
        return os.path.join(self.run, "cri.sock")

    @property
    def daemon_log(self) -> str:
        return os.path.join(self.run, "daemon.log")

    @property
    def pid_file(self) -> str:
        return os.path.join(self.run, "daemon.pid")

    @property
    def pods_state(self) -> str:
        """One JSON file per pod: its manifest, status and runtime facts."""
        return os.path.join(self.lib, "pods")

    @property
    def containers_dir(self) -> str:
        """Per-container writable overlay layers and logs."""
        return os.path.join(self.lib, "containers")

    @property
    def images_dir(self) -> str:
        return os.path.join(self.lib, "images")

    @property
    def pods_run(self) -> str:
        """Per-pod runtime dirs: exit records, volumes, pinned namespaces."""
        return os.path.join(self.run, "pods")

    @property
    def tag(self) -> str:
        """A short id for names that must be unique per instance
        (cgroup dirs, and later bridge-independent link names)."""
        import hashlib

        return hashlib.sha256((self.root or "/").encode()).hexdigest()[:8]


def instance(root: str | None = None) -> Instance:
    root = root or os.environ.get("MINIPOD_ROOT") or None
    if root:
        root = os.path.abspath(root)
        return Instance(root, os.path.join(root, "lib"), os.path.join(root, "run"), os.path.join(root, "etc"))
    return Instance(None, "/var/lib/minipod", "/run/minipod", "/etc/minipod")
