"""Waiting on processes and pipes without blocking the daemon's event loop.

The daemon is one asyncio thread: it never calls a blocking waitpid() or
read() on a helper. Instead:
    reap_later(pid)      collect a short-lived child when it exits (a pidfd);
    until_exit(pid)      await a process's exit (a pidfd, pidfd_open(2));
    read_line(fd)        await one line from a helper's report pipe;
    read_to_eof(fd)      await everything a pipe carries until it closes.
"""

import asyncio
import os


def reap_later(pid: int) -> None:
    """Collect a short-lived child's exit status when it comes, without
    blocking the event loop (and without leaving a zombie)."""
    loop = asyncio.get_running_loop()
    fd = os.pidfd_open(pid)

    def exited() -> None:
        loop.remove_reader(fd)
        os.close(fd)
        os.waitpid(pid, 0)

    loop.add_reader(fd, exited)


async def until_exit(pid: int) -> None:
    """Wait, without blocking the event loop, until process `pid` has exited:
    a pidfd (pidfd_open(2)) becomes readable then. The caller reaps it."""
    loop = asyncio.get_running_loop()
    fd = os.pidfd_open(pid)
    ready = loop.create_future()
    loop.add_reader(fd, lambda: None if ready.done() else ready.set_result(None))
    try:
        await ready
    finally:
        loop.remove_reader(fd)
        os.close(fd)


async def read_line(fd: int) -> str:
    """Read one line from a pipe (the rest, if any, is left in the pipe's
    buffer only up to that line: the writer sends one line, then waits)."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    data = b""
    ready = asyncio.Event()
    loop.add_reader(fd, ready.set)
    try:
        while not data.endswith(b"\n"):
            await ready.wait()
            ready.clear()
            try:
                chunk = os.read(fd, 1)  # byte by byte: never past the line
            except BlockingIOError:
                continue
            if not chunk:
                break
            data += chunk
            ready.set()
    finally:
        loop.remove_reader(fd)
    return data.decode(errors="replace")


async def read_to_eof(fd: int) -> str:
    """Read a pipe to EOF without blocking the event loop."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    chunks: list[bytes] = []
    done = loop.create_future()

    def readable() -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if data:
            chunks.append(data)
        elif not done.done():
            done.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return b"".join(chunks).decode(errors="replace")
