"""The client end of `minipod exec`: a WebSocket speaking v4.channel.k8s.io.

Steps:
    1. open a WebSocket to .../pods/NAME/exec on the daemon's Unix socket;
    2. with -t, put the local terminal in raw mode (restored on exit) and
       send its size now and on every SIGWINCH (channel 4);
    3. with -i, a thread copies stdin to channel 0 (an empty message = EOF);
    4. write channels 1 and 2 to stdout and stderr until channel 3 brings
       the exit status, which becomes our exit code.
"""

import json
import os
import signal
import socket
import sys
import threading
import urllib.parse
from collections.abc import Callable

import websocket

from minipod.cli.client import pod_path
from minipod.errors import MinipodError
from minipod.kube.exec_protocol import RESIZE, STATUS, STDERR, STDIN, STDOUT, SUBPROTOCOL


def _terminal_size() -> bytes:
    size = os.get_terminal_size(sys.stdout.fileno())
    return bytes([RESIZE]) + json.dumps({"Width": size.columns, "Height": size.lines}).encode()


def _exit_code(status: dict) -> int:
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes", []):
        if cause.get("reason") == "ExitCode":
            return int(cause["message"])
    print(f"error: {status.get('message', 'exec failed')}", file=sys.stderr)
    return 1


def run_exec(
    client, namespace: str, pod: str, container: str | None, command: list[str], stdin: bool, tty: bool
) -> int:
    query = [("command", c) for c in command] + [("stdin", str(stdin).lower()), ("tty", str(tty).lower())]
    if container:
        query.append(("container", container))
    path = pod_path(namespace, pod) + "/exec?" + urllib.parse.urlencode(query)
    # A plain GET first, so that "no such pod" reads as it does everywhere else.
    client.json("GET", pod_path(namespace, pod))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(client.inst.socket)
    try:
        ws = websocket.create_connection("ws://localhost" + path, socket=sock, subprotocols=[SUBPROTOCOL])
    except websocket.WebSocketBadStatusException as e:
        body = e.resp_body.decode(errors="replace") if e.resp_body else ""
        try:
            body = json.loads(body).get("message", body)
        except ValueError:
            pass
        raise MinipodError(body or str(e)) from None
    restore: Callable[[], None] | None = None  # puts the terminal back
    if tty and sys.stdin.isatty():
        import termios
        import tty as ttymod

        fd = sys.stdin.fileno()
        old = termios.tcgetattr(fd)

        def restore_terminal() -> None:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)

        restore = restore_terminal

        ttymod.setraw(fd)
        ws.send_binary(_terminal_size())
        signal.signal(signal.SIGWINCH, lambda *_: ws.send_binary(_terminal_size()))
    if stdin:
        threading.Thread(target=_pump_stdin, args=(ws,), daemon=True).start()
    code = 1
    try:
        while True:
            try:
                msg = ws.recv()
            except websocket.WebSocketConnectionClosedException:
                break
            if not msg:
                if ws.connected:
                    continue
                break
            if isinstance(msg, str):  # the channels are binary frames; be lenient with text
                msg = msg.encode()
            channel, data = msg[0], msg[1:]
            if channel == STDOUT:
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
            elif channel == STDERR:
                sys.stderr.buffer.write(data)
                sys.stderr.buffer.flush()
            elif channel == STATUS:
                code = _exit_code(json.loads(data))
                break
    finally:
        if restore:
            restore()
        ws.close()
    return code


def _pump_stdin(ws) -> None:
    fd = sys.stdin.fileno()
    try:
        while True:
            data = os.read(fd, 65536)
            ws.send_binary(bytes([STDIN]) + data)
            if not data:
                return
    except (OSError, websocket.WebSocketException):
        return
