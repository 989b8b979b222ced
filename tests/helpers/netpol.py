"""NetworkPolicy tests' helpers: namespaces of their own, servers on two
ports, and who can reach whom, asked from inside real pods.

    Namespaces(mp)       namespaces made for one test (with labels), deleted
                         with everything in them at its end
    server(name, ...)    a busybox pod answering "np-ok" over HTTP on 8080
                         (a port named `web`) and 9090
    client(name, ...)    a busybox pod that only sleeps
    reach(mp, ns, pod, targets)  {"IP:PORT": True|False}: one exec, every
                         target tried at once with nc (1 s timeout each)
    policy_table(mp)     the instance's policy table, or None
"""

import json
import os
import subprocess
import time

import yaml

from helpers.host import eventually, http_get
from helpers.kubectl import kubectl
from helpers.network import instance_network
from helpers.pods import ctr, pod

BODY = "np-ok"
WEB, OTHER = 8080, 9090


def server(name: str, labels: dict | None = None) -> dict:
    script = (
        f"mkdir -p /www && echo {BODY} > /www/index.html && httpd -p {OTHER} -h /www && "
        f"exec httpd -f -p {WEB} -h /www"
    )
    ports = [{"name": "web", "containerPort": WEB}, {"name": "other", "containerPort": OTHER}]
    return pod(name, ctr("web", script, ports=ports), labels=labels, terminationGracePeriodSeconds=0)


def client(name: str, labels: dict | None = None) -> dict:
    return pod(name, ctr("main", "exec sleep 3600"), labels=labels, terminationGracePeriodSeconds=0)


class Namespaces:
    def __init__(self, mp, tag: str):
        self.mp, self.tag, self.made = mp, tag, []

    def make(self, suffix: str, labels: dict | None = None) -> str:
        name = f"np-{self.tag}-{suffix}"[:63]
        doc = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}
        kubectl(self.mp, "apply", "-f", "-", input=json.dumps(doc))
        self.made.append(name)
        return name

    def cleanup(self) -> None:
        for ns in self.made:
            kubectl(self.mp, "delete", "namespace", ns, "--wait=true", "--timeout=90s", check=False)


def run_pods(mp, ns: str, *pods: dict) -> dict[str, str]:
    """Start the pods in `ns` and wait until all are Ready: {name: IP}."""
    kubectl(mp, "apply", "-n", ns, "-f", "-", input=_as_list(pods))
    names = [p["metadata"]["name"] for p in pods]
    kubectl(mp, "wait", "-n", ns, "--for=condition=Ready", "--timeout=60s", *(f"pod/{n}" for n in names))
    return {n: mp.pod(n, ns)["status"]["podIP"] for n in names}


def apply(mp, ns: str, *docs: dict) -> None:
    kubectl(mp, "apply", "-n", ns, "-f", "-", input=_as_list(docs))


def _as_list(docs) -> str:
    """Several objects as one YAML stream (kubectl reads a JSON stream as one document)."""
    return yaml.safe_dump_all(list(docs))


def policy(name: str, pod_selector: dict | None = None, **spec) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name},
        "spec": {"podSelector": pod_selector or {}, **spec},
    }


def reach(mp, ns: str, pod_name: str, targets: list[str]) -> dict[str, bool]:
    """Which of `targets` ("IP:PORT") pod `pod_name` can fetch "np-ok" from."""
    script = (
        "for t in " + " ".join(targets) + "; do "
        "( if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 1 ${t%:*} ${t#*:} 2>/dev/null "
        f'| grep -q {BODY}; then echo "$t open"; else echo "$t closed"; fi ) & '
        "done; wait"
    )
    out = mp.run("exec", pod_name, "-n", ns, "--", "sh", "-c", script).stdout
    seen = dict(line.split() for line in out.splitlines() if line.strip())
    assert set(seen) == set(targets), f"pod {ns}/{pod_name} answered for {sorted(seen)}, asked {targets}"
    return {t: seen[t] == "open" for t in targets}


def expect(mp, ns: str, pod_name: str, want: dict[str, bool], timeout: float = 5) -> None:
    """reach() gives exactly `want`, now or within `timeout` (the first
    try right after a change may still see the old table)."""
    got: dict = {}

    def right() -> bool:
        got.update(reach(mp, ns, pod_name, list(want)))
        return got == want

    eventually(right, timeout, f"{ns}/{pod_name} to reach exactly {want}", explain=lambda: f"reached: {got}")


def table_name(mp) -> str:
    return f"minipod-policy-{instance_network(mp)['bridge']}"


def policy_table(mp) -> str | None:
    p = subprocess.run(["nft", "list", "table", "inet", table_name(mp)], capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else None


def wait_table_gone(mp, timeout: float = 10) -> None:
    eventually(lambda: policy_table(mp) is None, timeout, f"table inet {table_name(mp)} to be deleted")


def host_reaches(ip: str, port: int = WEB) -> bool:
    """The node itself (the test process, on the host) fetches "np-ok"."""
    return http_get(ip, port) == BODY


def tag() -> str:
    return f"{os.urandom(3).hex()}{int(time.time()) % 1000}"
