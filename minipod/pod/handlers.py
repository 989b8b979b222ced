"""Handlers: the actions that probes and lifecycle hooks run, by the runtime.

The runtime runs them itself, so they work in any image, even one with no
shell, curl or nc in it (podman needs those tools inside the image):
    exec       the command, in the container's namespaces, as its user, with
               its capabilities (minipod.linux.exec_session), killed at the timeout
    httpGet    an HTTP(S) GET from the node to the pod's IP, as the kubelet
               does (from inside the pod's netns when it has no IP); TLS
               not verified, httpHeaders sent; 200-399 is success
    tcpSocket  a TCP connect to the pod's IP, the same way
    sleep      wait (lifecycle hooks only)
Each returns (ok, message): the message is what the kubelet would put in
an Unhealthy event ("Liveness probe failed: HTTP probe failed with
statuscode: 500"). Everything is a coroutine on the daemon's event loop;
the one thread is the short one that makes a socket inside the netns of a
pod without an IP (one setns() and one socket(), joined at once).
"""

import asyncio
import os
import socket

from minipod.errors import MinipodError
from minipod.linux import cgroup_layout, cgroups, exec_session
from minipod.linux import launch as process
from minipod.linux import launch_spec as containers
from minipod.linux import sandbox as namespaces
from minipod.pod.record import ContainerRecord, PodRecord

OUTPUT_LIMIT = 10 * 1024  # the kubelet keeps at most 10 KiB of probe output


def exec_namespaces(record: PodRecord) -> tuple[str, ...]:
    """The namespaces an exec session joins: the container's, and with
    hostUsers: false its user namespace (first, as its root)."""
    shared = ("net", "ipc", "uts", "pid", "mnt")
    return ("user", *shared) if record.runtime.user_range is not None else shared


def exec_plan(record: PodRecord, c: ContainerRecord, argv: list[str], tty: bool, node=None) -> dict:
    """Run `argv` like the container's main process: its namespaces, its
    environment, working directory and user, the container's capabilities."""
    pid = c.process.pid
    if pid is None:
        raise MinipodError(f"container {c.name} is not running")
    # The environment the container was started with (not /proc/PID/environ,
    # which is empty while that process is in the middle of an execve).
    env = dict(c.env)
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    uid = gid = 0
    groups: list[int] = []
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                uid = int(line.split()[1])
            elif line.startswith("Gid:"):
                gid = int(line.split()[1])
            elif line.startswith("Groups:"):
                groups = [int(g) for g in line.split()[1:]]
    # /proc shows host ids; a user-namespaced pod's are its own minus its base.
    base = record.runtime.user_range or 0
    uid, gid, groups = uid - base, gid - base, [g - base for g in groups]
    sec = containers.security(record.pod, record.spec_of(c), node)
    return {
        "join": {t: f"/proc/{pid}/ns/{t}" for t in exec_namespaces(record)},
        "pid": pid,
        "argv": argv,
        "env": env,
        "cwd": os.readlink(f"/proc/{pid}/cwd"),
        "user": "",
        "run_as_user": uid,
        "run_as_group": gid,
        "supplemental_groups": groups,
        "caps": sec["caps"],
        "no_new_privs": sec["no_new_privs"],
        "seccomp": sec["seccomp"],
        "tty": tty,
        "cgroup_procs": cgroups.procs_files_of(pid, cgroup_layout.detect_host()),
    }


async def run_exec(
    record: PodRecord, c: ContainerRecord, argv: list[str], timeout: float, node=None
) -> tuple[bool, str]:
    plan = exec_plan(record, c, argv, tty=False, node=node)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    session = await exec_session.spawn_exec(plan, (null, out_w, out_w))
    os.close(null)
    os.close(out_w)
    try:
        output = await asyncio.wait_for(process.read_to_eof(out_r), timeout)
        code = await session.wait()
    except asyncio.TimeoutError:
        session.kill()
        await session.wait()
        os.close(session.errors)
        return False, f"command {argv!r} timed out after {timeout:g}s"
    report = process.LaunchResult(await process.read_to_eof(session.errors))
    if report.reason:
        return False, report.message or "exec failed"
    output = output[-OUTPUT_LIMIT:]
    if code != 0:
        return False, f"command {argv!r} exited with {code}: {output}".rstrip(": ")
    return True, output


def _port(c_spec: dict, port) -> int:
    """A port by number, or by the name of one of the container's ports."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for p in c_spec.get("ports") or []:
        if p.get("name") == port:
            return p["containerPort"]
    raise ValueError(f"port {port!r} is not a named port of the container")


async def _connect(netns: str | None, host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection from inside the pod's network namespace (to the pod's
    own IP that is the loopback path: no veth, bridge or NAT on the way)."""
    sock = namespaces.socket_in_netns(netns) if netns else socket.socket()
    sock.setblocking(False)
    try:
        await within(timeout, asyncio.get_running_loop().sock_connect(sock, (host, port)))
    except BaseException:
        sock.close()
        raise
    return sock


async def within(seconds: float, coro):
    """await `coro` for at most `seconds` (asyncio.TimeoutError after).
    asyncio.timeout() where Python has it (3.11+): no extra task per call,
    which counts when hundreds of probes run every second."""
    if hasattr(asyncio, "timeout"):
        async with asyncio.timeout(seconds):
            return await coro
    return await asyncio.wait_for(coro, seconds)


async def run_http(netns: str | None, ip: str, c_spec: dict, h: dict, timeout: float) -> tuple[bool, str]:
    """GET and read the status line. A probe needs nothing else, and a full
    HTTP client costs several times the CPU per request, which matters with
    a hundred pods probed every second; HTTPS goes through aiohttp."""
    scheme = h.get("scheme", "HTTP").lower()
    host = h.get("host") or ip
    port = _port(c_spec, h["port"])
    path = h.get("path") or "/"
    path = path if path.startswith("/") else "/" + path
    url = f"{scheme}://{host}:{port}{path}"
    headers = {
        "Host": f"{host}:{port}",
        "User-Agent": "kube-probe/minipod",
        "Accept": "*/*",
        "Connection": "close",
    }
    headers.update({x["name"]: x["value"] for x in h.get("httpHeaders") or []})
    if scheme == "https":
        return await _run_https(netns, url, host, port, headers, timeout)
    loop = asyncio.get_running_loop()
    sock, error = await _dial(netns, host, port, timeout)
    if error:
        return False, f'Get "{url}": {error}'
    try:
        request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        await loop.sock_sendall(sock, (request + "\r\n").encode())
        data = b""
        while b"\r\n" not in data and len(data) < OUTPUT_LIMIT:
            chunk = await within(timeout, loop.sock_recv(sock, 4096))
            if not chunk:
                break
            data += chunk
    except (OSError, asyncio.TimeoutError) as e:
        return False, f'Get "{url}": {e or "timeout"}'
    finally:
        sock.close()
    status_line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = status_line.split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return False, f'Get "{url}": malformed HTTP response {status_line[:80]!r}'
    status = int(parts[1])
    if 200 <= status < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {status}"


async def _run_https(netns, url, host, port, headers, timeout) -> tuple[bool, str]:
    import aiohttp

    connector = aiohttp.TCPConnector(
        force_close=True,
        ssl=False,
        socket_factory=(lambda _addr: namespaces.socket_in_netns(netns) if netns else socket.socket()),
    )
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.get(
                url, headers=headers, allow_redirects=False, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as resp:
                if 200 <= resp.status < 400:
                    return True, ""
                return False, f"HTTP probe failed with statuscode: {resp.status}"
    except asyncio.TimeoutError:
        return False, f'Get "{url}": context deadline exceeded (timeout {timeout:g}s)'
    except (aiohttp.ClientError, OSError) as e:
        return False, f'Get "{url}": {e}'


async def _dial(netns: str | None, host: str, port: int, timeout: float):
    """(connected socket, None), or (None, the error as the kubelet words it:
    "dial tcp IP:PORT: connect: connection refused" - asyncio's own text is
    "Connect call failed ...")."""
    try:
        return await _connect(netns, host, port, timeout), None
    except asyncio.TimeoutError:
        return None, f"dial tcp {host}:{port}: i/o timeout"
    except OSError as e:
        reason = os.strerror(e.errno).lower() if e.errno else str(e)
        return None, f"dial tcp {host}:{port}: connect: {reason}"


async def run_tcp(netns: str | None, ip: str, c_spec: dict, h: dict, timeout: float) -> tuple[bool, str]:
    host, port = h.get("host") or ip, _port(c_spec, h["port"])
    sock, error = await _dial(netns, host, port, timeout)
    if error:
        return False, error
    sock.close()
    return True, ""


async def run_handler(
    record: PodRecord, c: ContainerRecord, handler: dict, timeout: float, node=None
) -> tuple[bool, str]:
    """Run whichever action `handler` names (a Probe or a LifecycleHandler);
    `node` is the instance's NodeConfig (an exec runs under its seccomp default)."""
    c_spec = record.spec_of(c)
    # As the kubelet does, from the node to the pod's IP: the cheapest path
    # (bench/bench_probes.py: a socket made in the pod's netns costs a
    # thread and a setns() per probe, about 3 % of a core per 100 pods).
    # A pod without an IPv4 address is probed from inside its own netns.
    ip = record.runtime.pod_ip
    init = record.runtime.init.pid
    netns = None if ip or not init else f"/proc/{init}/ns/net"
    ip = ip or "127.0.0.1"
    try:
        if "exec" in handler:
            return await run_exec(record, c, list(handler["exec"].get("command") or []), timeout, node)
        if "httpGet" in handler:
            return await run_http(netns, ip, c_spec, handler["httpGet"], timeout)
        if "tcpSocket" in handler:
            return await run_tcp(netns, ip, c_spec, handler["tcpSocket"], timeout)
        if "sleep" in handler:
            await asyncio.sleep(handler["sleep"]["seconds"])
            return True, ""
    except (OSError, ValueError) as e:
        return False, str(e)
    return False, "no handler: exec, httpGet, tcpSocket or sleep is required"
