"""The Kubernetes API's cost: kubectl against minipod, beside minipod's CLI.

    python bench/bench_kubeapi.py [--pods 100] [--apply 50] [--watchers 20] [--objects 500] [--runs 5]

Steps:
    1. start a private daemon (its own --root, bridge, subnet and API port)
       and build the busybox image into it;
    2. apply a file of A pods (default 50), once with `kubectl apply -f`
       and once with `minipod apply -f` (wall time of the command; each
       time the pods are deleted after);
    3. with P pods (default 100) running: `kubectl get pods` and
       `minipod get pods`, median wall time of R runs (kubectl's discovery
       cache warm, as a user's is);
    4. W watchers (default 20) on the pods' watch, each its own HTTPS
       connection: the time from a label change to the last watcher
       receiving its event (median of R changes);
    5. (done first, before any pod) the daemon's anonymous memory before
       and after creating N ConfigMaps (default 500) through the API, and
       after the OpenAPI documents were built.
Everything is removed at the end: the pods, the daemon and the root.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import yaml

MINIPOD = os.path.join(os.path.dirname(sys.executable), "minipod")
KUBECTL = shutil.which("kubectl") or "kubectl"


def pod(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"bench": "yes"}},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.35", "command": ["sleep", "3600"]}]},
    }


def anon_kib(pid: int) -> int:
    """The process's own heap and stacks (RssAnon): what the objects cost,
    without the shared pages forked children blur PSS with."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssAnon:"))


def timed(cmd: list[str], env: dict, input: str | None = None) -> float:
    began = time.perf_counter()
    subprocess.run(cmd, env=env, input=input, text=True, check=True, capture_output=True)
    return time.perf_counter() - began


class Api:
    """Raw HTTPS to the instance's API with the admin certificate."""

    def __init__(self, root: str, port: int):
        pki = os.path.join(root, "etc", "pki")
        self.ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
        self.ctx.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
        self.port = port

    def request(
        self, method: str, path: str, body: dict | None = None, ctype: str = "application/json"
    ) -> dict:
        import http.client

        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=60)
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": ctype})
        resp = conn.getresponse()
        out = json.loads(resp.read() or b"{}")
        conn.close()
        return out

    def watch_socket(self, path: str) -> socket.socket:
        raw = socket.create_connection(("127.0.0.1", self.port))
        s = self.ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--apply", type=int, default=50)
    ap.add_argument("--watchers", type=int, default=20)
    ap.add_argument("--objects", type=int, default=500)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="minipod-bench-kubeapi-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(
        os.environ, KUBECONFIG=os.path.join(root, "etc", "admin.kubeconfig"), HOME=os.path.join(root, "home")
    )
    os.makedirs(env["HOME"])
    mp = [MINIPOD, "--root", root]
    with open(os.path.join(root, "daemon.log"), "ab") as log:
        daemon = subprocess.Popen(
            [*mp, "daemon", "--bridge", "mpbenchk0", "--subnet", "10.253.0.0/16", "--api-port", str(port)],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        while not os.path.exists(os.path.join(root, "run", "minipod.sock")):
            time.sleep(0.05)
        time.sleep(0.3)
        subprocess.run([*mp, "image", "build-base"], check=True, capture_output=True)
        api = Api(root, port)
        idle = anon_kib(daemon.pid)
        subprocess.run([KUBECTL, "api-resources"], env=env, check=True, capture_output=True)  # warm the cache

        # 5. (first, while no pod runs) memory with N objects.
        for i in range(args.objects):
            api.request(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                {"metadata": {"name": f"cm-{i}"}, "data": {"key": "value " * 20}},
            )
        with_objects = anon_kib(daemon.pid)
        api.request("GET", "/openapi/v3/api/v1")
        with_openapi = anon_kib(daemon.pid)
        print(
            f"daemon memory (RssAnon): {idle} KiB idle, {with_objects} KiB with {args.objects} ConfigMaps "
            f"(+{with_objects - idle} KiB), {with_openapi} KiB once the OpenAPI documents are built"
        )

        # 2. apply of a file of A pods.
        text = yaml.safe_dump_all(pod(f"apply-{i}") for i in range(args.apply))
        results = {}
        for tool, cmd in (("kubectl", [KUBECTL, "apply", "-f", "-"]), ("minipod", [*mp, "apply", "-f", "-"])):
            results[tool] = timed(cmd, env, text)
            subprocess.run(
                [*mp, "delete", "pod", *[f"apply-{i}" for i in range(args.apply)], "--grace-period", "0"],
                check=True,
                capture_output=True,
            )
        print(
            f"apply of {args.apply} pods: kubectl {results['kubectl']:.2f} s, minipod {results['minipod']:.2f} s"
        )

        # 3. get with P pods.
        text = yaml.safe_dump_all(pod(f"get-{i}") for i in range(args.pods))
        subprocess.run(
            [*mp, "run", "-", "--timeout", "300"], input=text, text=True, check=True, capture_output=True
        )
        kubectl_get = statistics.median(timed([KUBECTL, "get", "pods"], env) for _ in range(args.runs))
        minipod_get = statistics.median(timed([*mp, "get", "pods"], env) for _ in range(args.runs))
        print(
            f"get pods with {args.pods} pods: kubectl {kubectl_get * 1000:.0f} ms, minipod {minipod_get * 1000:.0f} ms"
        )

        # 4. watch fan-out.
        rv = api.request("GET", "/api/v1/namespaces/default/pods?limit=1")["metadata"]["resourceVersion"]
        socks = [
            api.watch_socket(
                f"/api/v1/namespaces/default/pods?watch=true&resourceVersion={rv}&fieldSelector=metadata.name%3Dget-0"
            )
            for _ in range(args.watchers)
        ]
        latencies = []
        for run in range(args.runs):
            got = []
            marker = f"run{run}"

            def read(s, got=got, marker=marker):
                buf = b""
                while marker.encode() not in buf:
                    buf += s.recv(65536)
                got.append(time.perf_counter())

            threads = [threading.Thread(target=read, args=(s,)) for s in socks]
            for t in threads:
                t.start()
            began = time.perf_counter()
            api.request(
                "PATCH",
                "/api/v1/namespaces/default/pods/get-0",
                {"metadata": {"labels": {"mark": marker}}},
                "application/merge-patch+json",
            )
            for t in threads:
                t.join(30)
            latencies.append(max(got) - began)
        for s in socks:
            s.close()
        print(
            f"watch fan-out to {args.watchers} watchers: last event after {statistics.median(latencies) * 1000:.1f} ms (median of {args.runs})"
        )

    finally:
        names = [f"get-{i}" for i in range(args.pods)] + [f"apply-{i}" for i in range(args.apply)]
        subprocess.run(
            [*mp, "delete", "pod", *names, "--grace-period", "0", "--ignore-not-found"], capture_output=True
        )
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
