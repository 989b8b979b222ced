"""A container's root filesystem, built inside its own mount namespace.

Runs in the container process after fork and before exec (see launch.py).
Every mount below is made in the container's private mount namespace, so
none of them exists on the host and the kernel removes them all when the
last process of the container exits: a crash can never leak them.

Steps, in order:
    1. unshare(CLONE_NEWNS) and make every mount private (MS_REC|MS_PRIVATE):
       from now on no mount event propagates to the pod or the host.
    2. overlayfs at ROOTFS: the image layers read-only (lowerdir), the
       container's own writable layer (upperdir) and overlayfs' workdir.
    3. /proc (the pod's pid namespace), /sys read-only, a minimal /dev on
       tmpfs (null, zero, full, random, urandom, tty bind-mounted from the
       host; a private devpts for /dev/pts; /dev/shm from the pod;
       mqueue for the pod's IPC namespace).
    4. the pod's files (/etc/hostname, /etc/hosts, /etc/resolv.conf) and
       volumes, bind-mounted; readOnly volumes remounted read-only.
    5. mask the /proc and /sys paths that reveal or change the host, as
       Docker does (bind /dev/null over files, read-only remounts); not
       with procMount: Unmasked (a user-namespaced pod's own choice).
    6. pivot_root into ROOTFS and detach the old root, so the host's
       filesystem (and the daemon's socket) is no longer reachable; unlike
       chroot(2), pivot_root(2) cannot be escaped with a second chroot.
    7. readOnlyRootFilesystem: remount / read-only.

With hostUsers: false (userns.py) steps 1-5 are done as host root, then
the container enters the pod's user namespace, as runc and containerd
order it for user-namespaced pods:
    2. the image layers are id-mapped bind mounts (userns.idmapped_tree):
       image files owned by root belong to the pod's root; the upper dir
       is owned by the range's base, so what the container writes is
       owned on disk by the uid it maps to;
    3. /dev's tmpfs belongs to the pod's root; devpts waits for step 6;
    4. the runtime's own files for the pod (/etc/hosts, the termination
       log, the API token) are id-mapped; volumes are not: an emptyDir
       belongs to the pod's root, and a hostPath keeps its host owners
       (nobody in the pod, unless they lie in its range);
    6. join the pod's user namespace as its root, then a mount namespace
       of its own owned by it: every mount made so far is locked there
       (mount_namespaces(7)), so even CAP_SYS_ADMIN in the pod cannot
       unmount a mask or remount a volume read-write; bind the root onto
       itself (pivot_root refuses a locked new root), mount devpts, pivot.
"""

import os

from minipod.errors import MinipodError, SyscallError
from minipod.linux import subpath, userns
from minipod.linux import syscalls as sc

DEV_NODES = ["null", "zero", "full", "random", "urandom", "tty"]
MASKED_FILES = [
    "/proc/kcore",
    "/proc/keys",
    "/proc/timer_list",
    "/proc/sched_debug",
    "/proc/latency_stats",
    "/proc/acpi",
    "/proc/scsi",
    "/sys/firmware",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def secure_join(root: str, path: str) -> str:
    """Join `path` under `root`, resolving symlinks as if `root` were `/`.

    An image may contain `/data -> /etc`; a naive join followed by a bind
    mount would then mount over the *host's* /etc, because we have not yet
    pivoted into the container. Resolving each component inside `root`
    keeps every target under it (runc's securejoin does the same).
    """
    parts = [p for p in path.split("/") if p not in ("", ".")]
    current = ""  # relative to root
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            current = os.path.dirname(current)
            continue
        candidate = os.path.join(current, part)
        full = os.path.join(root, candidate)
        if os.path.islink(full):
            hops += 1
            if hops > 40:
                raise MinipodError(f"{path}: too many levels of symbolic links")
            target = os.readlink(full)
            if target.startswith("/"):
                current = ""
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        current = candidate
    return os.path.join(root, current)


def _mkdirs(path: str, owner: int | None = None) -> None:
    """makedirs; what it creates belongs to `owner` (a user-namespaced pod's
    root, its host base) when given, as if the pod's root had made it."""
    if owner is None or os.path.isdir(path):
        os.makedirs(path, mode=0o755, exist_ok=True)
        return
    _mkdirs(os.path.dirname(path), owner)
    os.mkdir(path, 0o755)
    os.chown(path, owner, owner)


def _touch(path: str, owner: int | None = None) -> None:
    if not os.path.exists(path):
        _mkdirs(os.path.dirname(path), owner)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
        if owner is not None:
            os.chown(path, owner, owner)


def bind(
    source: str,
    target: str,
    readonly: bool = False,
    nodev: bool = False,
    idmap: str | None = None,
    owner: int | None = None,
    tree: int | None = None,
) -> None:
    """Bind `source` at `target`; `idmap`: the user namespace (a
    /proc/PID/ns/user path) whose id-mapping the mount applies; `owner`:
    who the mount point belongs to if it must be made; `tree`: the source
    as a detached mount tree (open_tree) already, attached as it is."""
    if os.path.isdir(source):
        _mkdirs(target, owner)
    else:
        _touch(target, owner)
    if idmap or tree is not None:
        tree = tree if tree is not None else userns.idmapped_tree(source, idmap or "")
        try:
            sc.move_mount(tree, target)
        finally:
            os.close(tree)
    else:
        sc.mount(source, target, None, sc.MS_BIND | sc.MS_REC)
    if readonly or nodev:
        # A bind mount ignores MS_RDONLY and MS_NODEV on creation; it takes a remount.
        flags = (sc.MS_RDONLY if readonly else 0) | (sc.MS_NODEV if nodev else 0)
        sc.mount("", target, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_REC | flags)


PROPAGATION = {"HostToContainer": sc.MS_SLAVE, "Bidirectional": sc.MS_SHARED}


def setup_rootfs(rootfs: dict) -> None:
    """Steps 1-7 for one container. `rootfs` is the plan the daemon made:
    target, lowerdir, upperdir, workdir, mounts [{source, target, readonly,
    nodev, idmap}], shm (a directory), host_ipc, readonly_root, and for a
    user-namespaced pod userns {path, base} and layers_dir (where the
    id-mapped layers are mounted)."""
    root = rootfs["target"]
    ns = rootfs.get("userns")
    owner = ns["base"] if ns else None
    # 1. A private mount namespace; a slave one when a volume asks for
    # mountPropagation (as runc's rootfsPropagation: rslave). Such a volume
    # comes as a copy of the host's mount (its "tree", opened by the
    # launcher before it joined the pod's mount namespace): in the peer
    # group of the host's, so the host's later mounts beneath it reach the
    # container (and, Bidirectional, the container's reach the host).
    sc.unshare(sc.CLONE_NEWNS)
    propagating = any(m.get("propagation") for m in rootfs.get("mounts", []))
    sc.mount("", "/", None, sc.MS_REC | (sc.MS_SLAVE if propagating else sc.MS_PRIVATE))

    # 2. The overlay. lowerdir lists layers top-first (overlayfs docs).
    # nodev: with CAP_MKNOD (a default capability) a container can make a
    # device node; on its own filesystems that node must not open the host's
    # disk. Docker relies on the devices cgroup for this; nodev holds on any
    # host. (Its /dev is a tmpfs of its own, with the few devices it needs.)
    lowerdir = rootfs["lowerdir"]
    if ns:
        lowerdir = _idmapped_layers(lowerdir, rootfs["layers_dir"], ns["path"])
    sc.mount(
        "overlay",
        root,
        "overlay",
        sc.MS_NODEV if rootfs.get("nodev") else 0,
        f"lowerdir={lowerdir},upperdir={rootfs['upperdir']},workdir={rootfs['workdir']}",
    )

    # 3. Kernel filesystems and a minimal /dev.
    proc = secure_join(root, "/proc")
    _mkdirs(proc, owner)
    sc.mount("proc", proc, "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    sys_dir = secure_join(root, "/sys")
    _mkdirs(sys_dir, owner)
    sc.mount("sysfs", sys_dir, "sysfs", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_RDONLY)
    _setup_dev(root, rootfs, owner)

    # 4. Pod files and volumes, in the order given (parents before children).
    for m in rootfs.get("mounts", []):
        target = secure_join(root, m["target"])
        idmap = ns["path"] if ns and m.get("idmap") else None
        try:
            # A subPath: opened beneath the volume without following a
            # symlink (linux/subpath.py); that open file is what gets mounted.
            fd = subpath.open_beneath(m["source"], m["subpath"]) if m.get("subpath") else None
            source = f"/proc/self/fd/{fd}" if fd is not None else m["source"]
            try:
                tree = m.get("tree")
                bind(source, target, m.get("readonly", False), m.get("nodev", False), idmap, owner, tree)
                if propagating:
                    # Its own propagation: HostToContainer receives the host's
                    # mounts, Bidirectional also shares its own with its peers
                    # (a slave here: not back to the host), the rest none.
                    kind = PROPAGATION.get(m.get("propagation") or "", sc.MS_PRIVATE)
                    sc.mount("", target, None, sc.MS_REC | kind)
            finally:
                if fd is not None:
                    os.close(fd)
        except OSError as e:  # a file where a directory is, ...
            raise SyscallError(f"{m.get('what') or m['target']}: {e}", e.errno or 0) from None
        except SyscallError as e:
            # Name the step: "volume data at /data: mount(...): EACCES".
            raise SyscallError(f"{m.get('what') or m['target']}: {e}", e.errno) from None

    # 5. Hide what a container must not see or change (procMount: Default),
    # or the paths its creator listed (the CRI's masked and read-only paths).
    masked, readonly = ([], []) if rootfs.get("proc_unmasked") else (MASKED_FILES, READONLY_PATHS)
    masked, readonly = rootfs.get("masked_paths") or masked, rootfs.get("readonly_paths") or readonly
    for path in masked:
        target = secure_join(root, path)
        if os.path.isdir(target):
            sc.mount("tmpfs", target, "tmpfs", sc.MS_RDONLY)
        elif os.path.exists(target):
            sc.mount("/dev/null", target, None, sc.MS_BIND)
    for path in readonly:
        target = secure_join(root, path)
        if os.path.exists(target):
            sc.mount(target, target, None, sc.MS_BIND | sc.MS_REC)
            sc.mount("", target, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC)

    dev_pts = os.path.join(secure_join(root, "/dev"), "pts")
    if ns:
        _enter_user_namespace(root, ns["path"], os.path.relpath(dev_pts, root))
    else:
        _mount_devpts(dev_pts)
        os.chdir(root)

    # 6. pivot_root(".", ".") stacks the old root on top of the new one;
    # unmounting "." then detaches the old root (pivot_root(2), NOTES).
    sc.pivot_root(".", ".")
    sc.umount(".", sc.MNT_DETACH)
    os.chdir("/")

    # 7. A read-only root, if asked for; volumes keep their own mode.
    if rootfs.get("readonly_root"):
        sc.mount("", "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)


def _idmapped_layers(lowerdir: str, layers_dir: str, userns_path: str) -> str:
    """Step 2 of a user-namespaced pod: each image layer bind-mounted,
    id-mapped, under layers_dir/N; the new lowerdir, in the same order."""
    out = []
    for i, layer in enumerate(lowerdir.split(":")):
        target = os.path.join(layers_dir, str(i))
        _mkdirs(target)
        tree = userns.idmapped_tree(layer, userns_path)
        try:
            sc.move_mount(tree, target)
        finally:
            os.close(tree)
        out.append(target)
    return ":".join(out)


def _enter_user_namespace(root: str, userns_path: str, dev_pts: str) -> None:
    """Step 6 of a user-namespaced pod, up to pivot_root; ends in the new
    root. Paths are relative to the working directory from here on: the
    pod's root may not walk the daemon's 0700 directories, and need not."""
    os.chdir(os.path.dirname(root))
    userns.join(userns_path)
    sc.unshare(sc.CLONE_NEWNS)  # the working directory follows into the copy
    sc.mount("", "/", None, sc.MS_REC | sc.MS_PRIVATE)
    name = os.path.basename(root)
    sc.mount(name, name, None, sc.MS_BIND | sc.MS_REC)
    os.chdir(name)  # the new, unlocked bind on top
    _mount_devpts(dev_pts)


def _setup_dev(root: str, rootfs: dict, owner: int | None) -> None:
    dev = secure_join(root, "/dev")
    _mkdirs(dev, owner)
    # nodev too: the device nodes below are bind mounts, which keep the
    # host /dev's flags, while a node made here with mknod (/dev/kmsg, a
    # disk) cannot be opened.
    nodev = sc.MS_NODEV if rootfs.get("nodev") else 0
    # A user-namespaced pod's root owns its /dev, as if it had mounted it.
    ids = f",uid={owner},gid={owner}" if owner is not None else ""
    sc.mount("tmpfs", dev, "tmpfs", sc.MS_NOSUID | sc.MS_STRICTATIME | nodev, "mode=755,size=65536k" + ids)
    for node in DEV_NODES:
        bind(f"/dev/{node}", os.path.join(dev, node), owner=owner)
    _mkdirs(os.path.join(dev, "pts"), owner)
    os.symlink("pts/ptmx", os.path.join(dev, "ptmx"))
    if owner is not None:
        os.lchown(os.path.join(dev, "ptmx"), owner, owner)
    for name, target in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("core", "/proc/kcore"),
    ]:
        os.symlink(target, os.path.join(dev, name))
        if owner is not None:
            os.lchown(os.path.join(dev, name), owner, owner)
    # Host devices its creator gave it (the CRI's config.devices), as bind
    # mounts of the host's nodes; the devices cgroup allows exactly those.
    for d in rootfs.get("devices") or []:
        bind(d["host_path"], secure_join(root, d["container_path"]), owner=owner)
    # /dev/shm is the pod's (or the host's with hostIPC): shared memory is
    # one of the things a Pod's containers share.
    bind(rootfs["shm"], os.path.join(dev, "shm"), owner=owner)
    mqueue = os.path.join(dev, "mqueue")
    _mkdirs(mqueue, owner)
    # An mqueue mount shows the queues of the mounting process's IPC
    # namespace (mq_overview(7)): we are in the pod's.
    sc.mount("mqueue", mqueue, "mqueue", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)


def _mount_devpts(target: str) -> None:
    """A private devpts for the container's terminals. In a user-namespaced
    pod it is mounted from inside, so gid=5 is the pod's tty group."""
    sc.mount(
        "devpts",
        target,
        "devpts",
        sc.MS_NOSUID | sc.MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620,gid=5",
    )
