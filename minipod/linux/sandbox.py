"""The pod sandbox: the namespaces a Pod's containers share, and its PID 1.

What the Kubernetes docs call the Pod's "shared execution environment" is a
set of namespaces plus one process that keeps them alive:

    net   the pod's IP address, ports, routing table and its loopback
    ipc   System V IPC and POSIX message queues (plus the pod's /dev/shm)
    uts   the hostname (the pod's name, or spec.hostname)
    pid   one process tree whose PID 1 is minipod-shim init (the "pause")
    mnt   the pod's mounts (its /dev/shm and memory-backed emptyDirs),
          which the host never sees

Steps of create_sandbox(), in order, in a child of the fork server
(fork_server.py), which the daemon hands the plan and the pipes:
    0. make the pod's cgroup and join it (the plan pod_cgroups.py
       decided: cgroup_plan.py), which the pod init inherits.
    1. setsid(): leave the daemon's session, so a Ctrl-C at the daemon's
       terminal never reaches a pod.
    2. unshare() the namespaces the pod does not take from the host
       (hostNetwork also keeps the host's UTS, as the kubelet does); with
       hostUsers: false, a user namespace too, which owns the others, its
       uid_map and gid_map written from outside (userns.py).
    3. make every mount a slave (MS_REC|MS_SLAVE): host mounts still show
       up in the pod, but nothing mounted in the pod reaches the host.
    4. sethostname(); bring `lo` up, so containers reach each other on
       localhost:PORT.
    5. tmpfs for /dev/shm and for each `emptyDir: {medium: Memory}`;
       the pod's sysctls (securityContext.sysctls), in its net and IPC
       namespaces.
    6. fork(): the child is PID 1 of the new pid namespace. The forked
       helper reports that pid and exits, so the pod init is reparented to
       the host's init and never depends on the daemon.
    7. the child confines itself (an empty read-only root of its own, no
       capabilities, no_new_privs), keeps the pod's mount namespace open on
       fd 3 for the containers to join, and execs `minipod-shim init`.
"""

import _thread
import os
import socket

from minipod import trace
from minipod.errors import MinipodError, SyscallError
from minipod.linux import cgroup_plan, userns
from minipod.linux import syscalls as sc

NS_TYPES = ["net", "ipc", "uts", "pid", "mnt", "cgroup", "user"]  # user: the host's unless hostUsers: false


_SHIM_FOUND: list[str] = []  # once found, not looked for again at every pod start


def shim_path() -> str:
    """The compiled minipod-shim, built into the package at install time."""
    if _SHIM_FOUND:
        return _SHIM_FOUND[0]
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "bin", "minipod-shim")
    if not os.access(path, os.X_OK):
        raise MinipodError(
            f"{path}: minipod-shim is not built", hint="reinstall minipod with ./scripts/install.sh"
        )
    _SHIM_FOUND.append(path)
    return path


def ns_inodes(pid: int) -> dict[str, int]:
    """The inode of each namespace of a process: two processes share a
    namespace exactly when these numbers are equal (namespaces(7))."""
    out = {}
    for t in NS_TYPES:
        try:
            out[t] = os.stat(f"/proc/{pid}/ns/{t}").st_ino
        except OSError:
            pass
    return out


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat: when the process started, in clock ticks
    since boot. A pid plus its start time names one process forever, so a
    recycled pid is never mistaken for the process we started."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def alive(pid: int | None, started: int | None) -> bool:
    """Is this exact process still running? A zombie (state Z) is not: it
    has exited and only waits for its parent to collect the status."""
    if not pid or started is None:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z" and int(fields[19]) == started


class Sandbox:
    """A pod init that waits for its go: release() lets it exec once the
    daemon has written its pid down. A daemon killed before that closes
    the go pipe by dying, and the init exits instead of running unknown."""

    def __init__(self, pid: int, report: int, go: int):
        self.pid, self._report, self._go = pid, report, go

    async def release(self) -> None:
        from minipod.linux.launch import read_to_eof

        os.write(self._go, b"go")
        os.close(self._go)
        errors = [
            line[4:] for line in (await read_to_eof(self._report)).splitlines() if line.startswith("ERR ")
        ]
        if errors:
            raise MinipodError(f"the pod init failed: {'; '.join(errors)}")


async def create_sandbox(plan: dict) -> Sandbox:
    """Create the pod's namespaces and its PID 1 (steps 1-6); return it, not
    yet exec'd (see Sandbox). `plan` keys: name (for ps), uid, hostname,
    host_network, host_ipc, host_pid, shm_dir, memory_volumes [dirs],
    sysctls [(name, value)], init_root (an empty directory), cgroup (a
    cgroup_plan.Plan: the pod's cgroup to make and join), user_range (the host base of its ids, or None:
    the host's user namespace)."""
    from minipod.linux import fork_server
    from minipod.linux.launch import read_line

    shim = shim_path()
    r, w = os.pipe2(os.O_CLOEXEC)
    go_r, go_w = os.pipe2(os.O_CLOEXEC)
    try:
        # The helper is forked by the fork server, not by the daemon (fork_server.py).
        await fork_server.server().request(fork_server.SANDBOX, dict(plan, shim=shim), [w, go_r])
        line = await read_line(r)
    except OSError as e:
        line = f"ERR the fork server: {e.strerror or e}"
    except BaseException:
        os.close(r)
        os.close(go_w)
        raise
    if line.startswith("OK "):
        return Sandbox(int(line.split()[1]), r, go_w)
    os.close(r)
    os.close(go_w)
    raise MinipodError(
        f"pod {plan['name']}: creating the sandbox failed: {line.removeprefix('ERR ').strip() or 'no report'}"
    )


def _sandbox_child(plan: dict, shim: str, w: int, go: int) -> None:
    try:
        from minipod.linux.launch import close_all_but

        close_all_but([w, go])  # not the daemon's socket and lock: see process._l1
        # The pod's cgroup (its sandbox leaf), made here, off the daemon's
        # event loop (cgroup_plan.py), and joined: the pod init inherits it.
        if plan.get("cgroup") is not None:
            cgroup_plan.setup(plan["cgroup"])
        os.setsid()
        flags = sc.CLONE_NEWNS
        if not plan.get("host_network"):
            flags |= sc.CLONE_NEWNET | sc.CLONE_NEWUTS
        if not plan.get("host_ipc"):
            flags |= sc.CLONE_NEWIPC
        if not plan.get("host_pid"):
            flags |= sc.CLONE_NEWPID
        if plan.get("user_range") is not None:
            userns.unshare_mapped(flags, plan["user_range"])
        else:
            sc.unshare(flags)
        sc.mount("", "/", None, sc.MS_REC | sc.MS_SLAVE)
        if not plan.get("host_network"):
            sc.sethostname(plan["hostname"])
            sc.set_link_up("lo")
        # In a user namespace, these belong to the pod's root (uid 0 there).
        owner = ",uid=0,gid=0" if plan.get("user_range") is not None else ""
        if not plan.get("host_ipc"):
            sc.mount(
                "shm",
                plan["shm_dir"],
                "tmpfs",
                sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC,
                "mode=1777,size=65536k" + owner,
            )
        sizes = plan.get("memory_volume_sizes") or {}
        for d in plan.get("memory_volumes", []):
            size = f",size={sizes[d]}" if sizes.get(d) else ""  # emptyDir.sizeLimit
            sc.mount("tmpfs", d, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, "mode=777" + size + owner)
        for name, value in plan.get("sysctls", []):
            _set_sysctl(name, value)
        with trace.span("fork", "the pod init, PID 1 of the new pid namespace"):
            init = os.fork()
        if init == 0:
            _guarded_init(plan, shim, w, go)
        os.write(w, f"OK {init}\n".encode())
        os._exit(0)
    except BaseException as e:  # report everything: the daemon must never hang
        try:
            os.write(w, f"ERR {e}\n".encode())
        finally:
            os._exit(1)


def _set_sysctl(name: str, value: str) -> None:
    """Step 5b: one of securityContext.sysctls. /proc/sys/net and the IPC
    sysctls show the namespaces of the process that opens them: ours, the
    pod's new ones (admission let only namespaced sysctls through)."""
    path = "/proc/sys/" + name.replace(".", "/")
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        raise MinipodError(f"sysctl {name}={value!r}: write {path}: {e.strerror}") from None


# The pod init keeps the pod's mount namespace open on this descriptor;
# containers join it through /proc/INIT/fd/3 (see pod_mount_ns()).
POD_MNT_FD = 3


def pod_mount_ns(init_pid: int) -> str:
    return f"/proc/{init_pid}/fd/{POD_MNT_FD}"


def _guarded_init(plan: dict, shim: str, w: int, go: int) -> None:
    try:
        # Wait for the daemon to have written this pid down (Sandbox).
        if os.read(go, 2) != b"go":
            os._exit(0)
        os.close(go)
        _confine_and_exec_init(plan, shim)
    except BaseException as e:
        try:
            os.write(w, f"ERR pod init: {e}\n".encode())
        finally:
            os._exit(1)


def _confine_and_exec_init(plan: dict, shim: str) -> None:
    """Step 7: the pod's PID 1 is visible to every container of the pod
    (with the shared pid namespace) through /proc/1. Left as it is, its root
    would be the host's / and it would hold every capability, so a container
    allowed CAP_SYS_PTRACE could reach the host's files via /proc/1/root.
    Like Kubernetes' pause container, it gets nothing: an empty read-only
    root, no capabilities, no_new_privs."""
    from minipod.linux import capabilities

    mnt = os.open("/proc/self/ns/mnt", os.O_RDONLY)  # the pod's mount namespace
    binary = os.open(shim, os.O_RDONLY | os.O_CLOEXEC)
    null = os.open("/dev/null", os.O_RDWR)
    # A mount namespace of its own, rooted on an empty tmpfs.
    sc.unshare(sc.CLONE_NEWNS)
    sc.mount("", "/", None, sc.MS_REC | sc.MS_PRIVATE)
    root = plan["init_root"]
    sc.mount("tmpfs", root, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC, "size=4k,mode=0555")
    os.chdir(root)
    sc.pivot_root(".", ".")
    sc.umount(".", sc.MNT_DETACH)
    sc.mount("", "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)
    os.chdir("/")
    if plan.get("user_range") is not None:
        userns.become_root()  # host uid BASE, not the host's root
    with trace.span("capset", "the pod init: no capabilities, no_new_privs"):
        capabilities.drop_bounding([])
        capabilities.set_process_caps([], root=True)
        capabilities.set_no_new_privs()
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    trace.mark("execve", "minipod-shim init: the pod's PID 1")  # the last span before its descriptor closes
    os.dup2(mnt, POD_MNT_FD)
    os.set_inheritable(POD_MNT_FD, True)
    os.closerange(POD_MNT_FD + 1, binary)
    os.closerange(binary + 1, 1 << 16)
    # fexecve(3): the binary is no longer reachable by path, and it is
    # linked statically because no shared library is reachable either.
    os.execve(binary, ["minipod-shim", "init", plan["name"], plan["uid"]], {})


def socket_in_netns(
    netns: str, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM, proto: int = 0, inside=None
):
    """A socket created inside the network namespace `netns`; it stays there
    for its whole life, whoever uses it (socket(7), network_namespaces(7)).
    setns() is done by a short-lived thread, joined before we return, so the
    daemon's own thread never leaves the host's namespace. (The low-level
    _thread module: probes may make hundreds of these a second.)

    `inside`, if given, is called in that thread, in the netns, and
    (socket, its result) is returned instead (netlink.py looks link
    indexes up there)."""
    box: list = []
    done = _thread.allocate_lock()
    done.acquire()

    def make() -> None:
        try:
            try:
                sc.setns(netns, sc.CLONE_NEWNET)
            except FileNotFoundError as e:  # the netns file is gone
                raise SyscallError(f"setns({netns}, CLONE_NEWNET): {e.strerror}", e.errno) from None
            sock = socket.socket(family, kind | socket.SOCK_CLOEXEC, proto)
            box.append(sock)
            box.append(inside() if inside else None)
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            if box:
                box[0].close()
            box[:] = [e]
        finally:
            done.release()

    _thread.start_new_thread(make, ())
    done.acquire()
    if isinstance(box[0], BaseException):
        raise box[0]
    box[0].setblocking(False)
    return (box[0], box[1]) if inside else box[0]
