"""Starting processes inside a pod: containers and `minipod exec` sessions.

Who is the parent of a container? Not the daemon: the daemon may be killed
and restarted at any moment, and a parent that dies takes its children's
exit statuses with it. Each container gets a monitor (minipod-shim monitor,
a few hundred KiB) as its parent, outside the pod's pid namespace, as
conmon is for podman.

Steps of launch(), each in its own process:
    daemon   hands the plan and the report pipe to its fork server
             (fork_server.py): forking the daemon's own big process would
             stand its event loop still for milliseconds per container.
    server   fork() -> L1, and reap it (it exits at once).
    L1       fork() -> L2, then exit: L2 is orphaned, so the host's init,
             not the daemon, becomes its parent.
    L2       setsid(); setns() into the pod's net, IPC, UTS and mount
             namespaces and its pid namespace (which applies to L2's
             children, not L2: pid_namespaces(7)); or unshare(CLONE_NEWPID)
             when the pod does not share one pid namespace.
             Open the log file, and a pty or a pipe for C's output (and
             one for stdin); fork() -> C; report C's host pid; exec
             minipod-shim monitor C, which relays C's output into the log
             file and rotates it (containerLogMaxSize, containerLogMaxFiles).
    C        the container: makes and joins its cgroup (cgroup_plan.py)
             before anything else, so no process of it ever runs outside; setsid(), stdio,
             rootfs (rootfs.py), then
             prepare_and_exec(): user and groups, capabilities
             (credentials.py), working directory, signals, no_new_privs,
             execve() the container's command.
A pipe with O_CLOEXEC tells the daemon how it went: each stage writes
"PID n" or "ERR reason<TAB>message"; the pipe reaches EOF when every stage
has exec'd (or died), so EOF without ERR means the command is running.

exec sessions (`minipod exec`, exec probes and hooks) are started the
same way, by the fork server, with fewer stages: exec_session.py.
"""

import fcntl
import os
import signal
import termios
import time

import prctl

from minipod import trace
from minipod.errors import MinipodError
from minipod.linux import cgroup_plan, credentials, rootfs, seccomp, userns
from minipod.linux import syscalls as sc
from minipod.linux.credentials import step

# Re-exported: callers wait on processes and pipes through launch as before.
from minipod.linux.process_wait import read_line, read_to_eof, reap_later, until_exit  # noqa: F401 - re-exported
from minipod.paths import log_times_path, stdin_fifo_path

# Reasons reported through the pipe, as the kubelet names them.
CREATE_ERROR = "CreateContainerError"  # setup failed before exec
START_ERROR = "StartError"  # execve() itself failed


class LaunchResult:
    def __init__(self, report: str):
        self.pid: int | None = None  # the container's host pid
        self.monitor: int | None = None  # its monitor's host pid
        self.reason: str | None = None
        self.message: str | None = None
        self.exec_ns: int | None = None  # when the container's execve began (traced pods only)
        for line in report.splitlines():
            if line.startswith("PID "):
                self.pid = int(line[4:])
            elif line.startswith("MON "):
                self.monitor = int(line[4:])
            elif line.startswith("EXEC "):
                self.exec_ns = int(line[5:])
            elif line.startswith("ERR ") and self.reason is None:
                self.reason, _, self.message = line[4:].partition("\t")

    @property
    def ok(self) -> bool:
        return self.pid is not None and self.reason is None


async def launch(plan: dict, fork_here: bool = False) -> LaunchResult:
    """Start a container as described by `plan` (see _l2 and _container):
    L1 is forked by the fork server (fork_server.py), or, with `fork_here`
    (what bench/bench_launch.py compares it with), by this process."""
    r, w = os.pipe2(os.O_CLOEXEC)
    plan["trace_exec"] = trace.traced()  # the container reports when its execve began
    if fork_here:
        pid = os.fork()
        if pid == 0:
            _guard(_l1, plan, w)
        os.close(w)
        reap_later(pid)  # L1 only forks and exits
        return LaunchResult(await read_to_eof(r))
    from minipod.linux import fork_server

    try:
        await fork_server.server().request(fork_server.CONTAINER, plan, [w])  # closes w
    except OSError as e:
        os.close(r)
        return LaunchResult(f"ERR {CREATE_ERROR}\t{_STAGES['_l1']}: the fork server: {e.strerror or e}")
    return LaunchResult(await read_to_eof(r))


def _guard(fn, *args) -> None:
    """Run a forked stage; whatever happens, this process never returns into
    the daemon's code (which is still in our copy of memory)."""
    w = args[-1]
    try:
        fn(*args)
    except MinipodError as e:
        reason = START_ERROR if isinstance(e, _StartError) else CREATE_ERROR
        _report(w, f"ERR {reason}\t{e}")
    except OSError as e:  # a step without its own wrapping: still no raw repr
        _report(w, f"ERR {CREATE_ERROR}\t{_STAGES[fn.__name__]}: {e.strerror or e}")
    except BaseException as e:  # noqa: BLE001 - anything: a bug, said as one
        _report(w, f"ERR {CREATE_ERROR}\t{_STAGES[fn.__name__]}: internal error: {e}")
    os._exit(128)


# What each forked stage does, for the messages of failures it did not name.
_STAGES = {
    "_l1": "start the launcher",
    "_l2": "start the container's monitor",
    "_container": "set up the container",
    "_exec_session": "join the container's namespaces",
    "_exec_child": "set up the exec session",
}


def _report(w: int, line: str) -> None:
    try:
        os.write(w, (line.replace("\n", " ") + "\n").encode())
    except OSError:
        pass


def _l1(plan: dict, w: int) -> None:
    # Drop the daemon's descriptors at once (its socket, its lock, pidfds):
    # a helper that kept them could keep a restarted daemon from starting.
    close_all_but([w])
    if os.fork() == 0:
        _guard(_l2, plan, w)
    os._exit(0)


def _join(namespaces: dict[str, str]) -> None:
    """setns() into each namespace; open them all first, because joining
    the mount namespace changes what the other paths resolve to."""
    fds = [(t, os.open(p, os.O_RDONLY | os.O_CLOEXEC)) for t, p in namespaces.items()]
    # A user namespace first (it owns the others: inside it we may join
    # them), the mount namespace last, as nsenter(1) orders them. Before
    # even the user namespace, a container's own pid namespace: its launcher
    # made it as the host's root, before the container entered the pod's
    # user namespace, so only the host's root may join it.
    order = {"pid": 0, "user": 1, "mnt": 3}
    for nstype, fd in sorted(fds, key=lambda x: order.get(x[0], 2)):
        try:
            sc.setns_fd(fd, namespaces[nstype])
        finally:
            os.close(fd)
        if nstype == "user":
            userns.become_root()


def _l2(plan: dict, w: int) -> None:
    os.setsid()
    # A volume with mountPropagation is the host's mount itself (a detached
    # copy in its peer group), taken while we are still in the host's mount
    # namespace: the pod's was made before the host mounted it (rootfs.py, 1).
    for m in (plan.get("rootfs") or {}).get("mounts") or []:
        if m.get("propagation") and not m.get("subpath") and not m.get("idmap"):
            with step(f"open the host's mount at {m['source']}"):
                m["tree"] = sc.open_tree(m["source"])
    _join(plan["join"])
    if plan.get("new_pid_ns"):
        sc.unshare(sc.CLONE_NEWPID)
    with step(f"open the log {plan['log_path']}"):
        log = os.open(plan["log_path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
    # The container's output goes to the monitor, which writes and rotates
    # the log file (a terminal's master side, or the read end of a pipe).
    hold = stdin_r = errors = err_out = -1
    if plan.get("tty"):
        relay, out = os.openpty()
    else:
        relay, out = os.pipe()
        if plan.get("cri_log"):  # the CRI's log format tells stdout from stderr
            errors, err_out = os.pipe()
        if plan.get("stdin"):
            stdin_r, hold = os.pipe()
    with trace.span("fork", "the container's process"):
        child = os.fork()
    if child == 0:
        _guard(_container, plan, out, bool(plan.get("tty")), stdin_r, err_out, w)
    # L2 never joined the pod's pid namespace itself, so both numbers are
    # host pids; L2's own pid becomes the monitor's when it execs.
    _report(w, f"PID {child}")
    _report(w, f"MON {os.getpid()}")
    # The monitor needs only what it relays or holds; its stdio is /dev/null
    # so that it never keeps a daemon's log or terminal open.
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    keep = [fd for fd in (w, relay, hold, log, errors) if fd >= 0]
    for fd in (out, stdin_r, err_out):
        if fd >= 0:
            os.close(fd)
    argv = ["minipod-shim", "monitor", str(child), plan["exit_file"], "--relay", str(relay)]
    argv += ["--log", plan["log_path"], str(log)]
    argv += [str(plan.get("log_max_size", 0)), str(plan.get("log_max_files", 0))]
    if plan.get("cri_log"):
        # A log path the kubelet chose: the CRI's format, each line with its
        # time and stream (minipod-shim's cri_log.c), stderr on a pipe of its own.
        argv += ["--cri"] + (["--stderr", str(errors)] if errors >= 0 else [])
    else:
        # The times of the log's lines (logs --timestamps, --since), beside it.
        times = log_times_path(plan["log_path"])
        os.makedirs(os.path.dirname(times), mode=0o750, exist_ok=True)
        argv += ["--times", times]
    if hold >= 0:
        argv += ["--hold", str(hold)]
    if plan.get("stdin"):
        # attach -i writes into this FIFO; the monitor passes it on to the
        # container's stdin (the pipe's write end, or the terminal's master).
        fifo = stdin_fifo_path(plan["log_path"])
        os.makedirs(os.path.dirname(fifo), mode=0o700, exist_ok=True)
        if not os.path.exists(fifo):
            os.mkfifo(fifo, 0o600)
        if plan.get("stdin_once") and hold >= 0:
            argv += ["--stdin-once"]  # the first attach's EOF is the container's (not with a tty)
        argv += ["--stdin", fifo, str(hold if hold >= 0 else relay)]
    for fd in keep:
        os.set_inheritable(fd, fd != w)
    close_all_but(keep)
    os.execv(plan["shim"], argv)


def close_all_but(keep: list[int]) -> None:
    last = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(last, fd)
        last = fd + 1
    os.closerange(last, 1 << 16)


def _stdio(out: int, tty: bool, stdin_r: int, err_out: int = -1) -> None:
    if tty:
        fcntl.ioctl(out, termios.TIOCSCTTY, 0)  # our controlling terminal
        for fd in (0, 1, 2):
            os.dup2(out, fd)
        return
    os.dup2(stdin_r if stdin_r >= 0 else os.open("/dev/null", os.O_RDONLY), 0)
    os.dup2(out, 1)
    os.dup2(err_out if err_out >= 0 else out, 2)


def _container(plan: dict, out: int, tty: bool, stdin_r: int, err_out: int, w: int) -> None:
    # First the container's cgroup, made here, off the daemon's event loop
    # (cgroup_plan.py), and joined while /sys/fs/cgroup is still
    # reachable: from here on, all it does is accounted and limited.
    if plan.get("cgroup") is not None:
        cgroup_plan.setup(plan["cgroup"])
    os.setsid()
    _stdio(out, tty, stdin_r, err_out)
    if plan.get("rootfs"):
        rootfs.setup_rootfs(plan["rootfs"])
    prepare_and_exec(plan, w)


def prepare_and_exec(plan: dict, w: int) -> None:
    """The last steps of every process minipod starts in a container, in
    runc's order (its standard_init and finalizeNamespace):
        1. user: the ids and groups, from the container's own files;
        2. working directory, created when missing (as runc does);
        3. user, groups and capabilities (credentials.become);
        4. chdir();
        5. signals: every disposition back to default, an empty mask (the
           daemon's Python ignores SIGPIPE and SIGXFSZ, which execve()
           would pass on: `yes | head` would never end);
        6. no_new_privs (allowPrivilegeEscalation: false);
        7. close every other descriptor;
        8. the seccomp filter, then execve() at once.
    Loading a filter needs no_new_privs or CAP_SYS_ADMIN: without
    no_new_privs it is loaded before step 3 instead, while the process still
    has every capability, as runc does (the profile allows steps 3-7).
    A failure names its step (credentials.step)."""
    with step("resolve the user"):
        user = credentials.resolve_user(
            plan.get("user", ""),
            plan.get("run_as_user"),
            plan.get("run_as_group"),
            tuple(plan.get("supplemental_groups") or ()),
        )
    env = dict(plan["env"])
    env.setdefault("HOME", user.home)
    cwd = plan.get("cwd") or "/"
    if not os.path.isdir(cwd):
        with step(f"create the working directory {cwd}"):
            os.makedirs(cwd, 0o755, exist_ok=True)
    program = plan.get("seccomp")
    if program and not plan.get("no_new_privs"):
        with step("load the seccomp filter"):
            seccomp.install(program)
    credentials.become(user, plan["caps"])
    with step(f"chdir({cwd})"):
        os.chdir(cwd)
    with step("reset the signal dispositions and mask"):
        reset_signals()
    if plan.get("no_new_privs"):
        with step("prctl(PR_SET_NO_NEW_PRIVS)"):
            prctl.set_no_new_privs(1)
    argv = plan["argv"]
    path = find_executable(argv[0], env.get("PATH", ""))
    close_all_but([w, *trace.keep_fds()])
    if program and plan.get("no_new_privs"):
        with step("load the seccomp filter"):
            seccomp.install(program)
    if plan.get("trace_exec"):
        _report(w, f"EXEC {time.monotonic_ns()}")
    try:
        os.execve(path, argv, env)
    except OSError as e:
        _report(w, f'ERR {START_ERROR}\texec: "{argv[0]}": {(e.strerror or str(e)).lower()}')
        os._exit(128)


def reset_signals() -> None:
    """Default action for every signal that has one to set, and nothing
    blocked: what a freshly started program expects (runc does the same)."""
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # the C library's own real-time signals (32, 33) cannot be set
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def find_executable(name: str, path_env: str) -> str:
    if "/" in name:
        if not os.path.exists(name):
            raise _StartError(f'exec: "{name}": stat {name}: no such file or directory')
        return name
    for d in path_env.split(":"):
        candidate = os.path.join(d or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise _StartError(f'exec: "{name}": executable file not found in $PATH')


class _StartError(MinipodError):
    pass
