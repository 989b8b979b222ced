"""The CLI's fast path (cli/fast_path.py, cli/http_unix.py): which commands
skip click, that they import nothing heavy, and the small HTTP client's
reading of each body shape the daemon sends."""

import os
import socket
import subprocess
import sys
import threading

import pytest

from minipod.cli import fast_path, http_unix


def test_the_shapes_it_takes():
    p = fast_path.parse(["get", "pods"])
    assert (p.verb, p.name, p.namespace, p.output, p.all_namespaces) == ("get", None, "default", None, False)
    p = fast_path.parse(["--root", "/tmp/x", "get", "po", "web", "-n", "team", "-o", "wide"])
    assert (p.root, p.name, p.namespace, p.output) == ("/tmp/x", "web", "team", "wide")
    p = fast_path.parse(["--root=/r", "get", "pod", "-nkube-system", "--selector=app=web", "-A"])
    assert (p.root, p.namespace, p.selector, p.all_namespaces) == ("/r", "kube-system", "app=web", True)
    assert fast_path.parse(["version"]).verb == "version"


def test_the_run_shapes_it_takes():
    p = fast_path.parse(["run", "pod.yml"])
    assert (p.verb, p.name, p.namespace, p.explicit_namespace, p.timeout) == (
        "run",
        "pod.yml",
        "default",
        False,
        60.0,
    )
    p = fast_path.parse(["--root", "/r", "run", "-n", "team", "--timeout", "5", "pod.yml"])
    assert (p.root, p.name, p.namespace, p.explicit_namespace, p.timeout) == (
        "/r",
        "pod.yml",
        "team",
        True,
        5.0,
    )
    p = fast_path.parse(["run", "-", "--namespace=a", "--timeout=0.5"])
    assert (p.name, p.namespace, p.timeout) == ("-", "a", 0.5)
    assert fast_path.parse(["run", "-nb", "x.yml"]).namespace == "b"


def test_the_apply_delete_logs_shapes_it_takes():
    p = fast_path.parse(["apply", "-f", "x.yml", "-nteam"])
    assert (p.verb, p.name, p.namespace, p.explicit_namespace) == ("apply", "x.yml", "team", True)
    assert fast_path.parse(["apply", "--filename=-"]).name == "-"
    p = fast_path.parse(["delete", "pod", "a", "b", "--grace-period", "0", "--no-wait", "--ignore-not-found"])
    assert (p.verb, p.names, p.grace_period, p.wait, p.ignore_not_found) == (
        "delete",
        ["a", "b"],
        0,
        False,
        True,
    )
    p = fast_path.parse(["delete", "po/a", "pods/b", "-n", "x"])
    assert (p.names, p.namespace, p.wait, p.grace_period) == (["a", "b"], "x", True, None)
    p = fast_path.parse(["logs", "web", "-c", "app", "-f", "--tail=5", "--timestamps"])
    assert (p.verb, p.name, p.container, p.follow, p.tail, p.timestamps) == (
        "logs",
        "web",
        "app",
        True,
        5,
        True,
    )
    p = fast_path.parse(["logs", "-p", "--limit-bytes", "10", "--since-time", "2026-01-01T00:00:00Z", "web"])
    assert (p.previous, p.limit_bytes, p.since_time, p.follow) == (True, 10, "2026-01-01T00:00:00Z", False)
    assert fast_path.parse(["get", "pods", "-n=x"]).namespace == "=x"  # click reads -n=x so


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["apply"],  # click: -f is required
        ["apply", "-f"],
        ["apply", "-f", "x.yml", "extra"],
        ["apply", "-f", "x.yml", "--trace", "-"],
        ["delete"],
        ["delete", "pod"],  # click: nothing to delete
        ["delete", "-f", "x.yml"],  # needs the YAML parser and the kind tables
        ["delete", "configmap", "x"],
        ["delete", "pod/a", "b"],
        ["delete", "pod/"],
        ["delete", "pod", "a", "--grace-period", "soon"],
        ["delete", "pod", "a", "--cascade", "orphan"],
        ["delete", "pod", "a", "--wait=yes"],
        ["logs"],
        ["logs", "a", "b"],
        ["logs", "a", "--since", "5m"],
        ["logs", "a", "-fp"],  # combined short flags: click
        ["logs", "a", "--tail", "x"],
        ["logs", "a", "--", "b"],
        ["--help"],
        ["get"],
        ["get", "deployments"],
        ["get", "pods", "--help"],
        ["get", "pods", "-o", "custom"],  # click names the allowed values
        ["get", "pods", "a", "b"],
        ["get", "pods", "-n"],
        ["get", "pods", "--watch"],
        ["version", "--help"],
        ["run"],  # click: Missing argument 'FILE'
        ["run", "/"],  # click: a directory
        ["run", "x.yml", "--trace", "-"],
        ["run", "x.yml", "-o", "json"],
        ["run", "--timeout", "soon", "x.yml"],
        ["run", "--timeout"],
        ["run", "a.yml", "b.yml"],
        ["run", "x.yml", "--help"],
    ],
)
def test_everything_else_goes_to_click(args):
    assert fast_path.parse(args) is None


def test_the_fast_path_imports_nothing_heavy():
    code = (
        "import sys; from minipod.cli import entry, fast_path, pod_listing, pod_actions, client\n"
        "heavy = {'click', 'http.client', 'email', 'yaml', 'dataclasses', 'urllib.parse', 'datetime', 'inspect'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def serve_once(path: str, answer: bytes) -> threading.Thread:
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)

    def run():
        conn, _ = srv.accept()
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(4096)
        assert request.startswith(b"GET /x?a=b HTTP/1.1\r\n") and b"Content-Length: 0\r\n" in request
        conn.sendall(answer)
        conn.close()
        srv.close()

    t = threading.Thread(target=run)
    t.start()
    return t


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nline1\nline2\nEXTRA",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nlin\r\n9\r\ne1\nline2\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nline1\nline2\n",
    ],
    ids=["content-length", "chunked", "to-eof"],
)
def test_each_body_shape_reads_the_same(tmp_path, answer):
    path = os.path.join(tmp_path, "s")
    t = serve_once(path, answer)
    resp = http_unix.request(path, "GET", "/x?a=b", None, {}, 5)
    assert resp.status == 200
    assert list(resp) == [b"line1\n", b"line2\n"]
    resp.close()
    t.join()


def test_quote_encodes_what_urllib_would():
    assert http_unix.quote("a b/c?d&e=f") == "a%20b%2Fc%3Fd%26e%3Df"
    assert http_unix.urlencode([("labelSelector", "app=web,x!=y")]) == "labelSelector=app%3Dweb%2Cx%21%3Dy"


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\nline1\nline2\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nlin\r\n9\r\ne1\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nlin\r\n",
    ],
    ids=["content-length", "in-a-chunk", "before-the-last-chunk"],
)
def test_an_answer_cut_short_is_a_lost_connection(tmp_path, answer):
    from minipod.cli.client import lost_daemon

    path = os.path.join(tmp_path, "s")
    t = serve_once(path, answer)
    resp = http_unix.request(path, "GET", "/x?a=b", None, {}, 5)
    with pytest.raises(http_unix.IncompleteRead) as e:
        resp.read()
    assert lost_daemon(e.value)  # reported as the daemon gone, not as an internal error
    resp.close()
    t.join()
