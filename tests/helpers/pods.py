"""The pod builder, the `pods` fixture and exec in a pod.

Pods are written as Python dicts and sent as JSON (JSON is YAML):

    ctr(name, script, **fields)   a busybox container running `sh -c SCRIPT`
    pod(name, *containers, labels=, **spec)   a v1 Pod
    web_pod, sleeper_pod          the pods the network tests use
    manifest(*docs)               several documents (dicts or text) as one file
    pod_yaml(name, command, ...)  the one-container pod as YAML text, for the
                                  tests that edit a manifest's text

The `pods` fixture runs pods (or is told their names) and deletes them at
the end of the test, even when the test fails. pod_sh is `minipod exec POD
-- sh -c SCRIPT`; pids and pod_dirs_of read what `minipod inspect` reports.
"""

import json
import os

import pytest

from helpers.host import HTTP_PORT

BUSYBOX = "busybox:1.35"


def ctr(name: str, script: str | None = None, **fields) -> dict:
    """A busybox container running `sh -c SCRIPT` (or only FIELDS)."""
    c = {"name": name, "image": BUSYBOX}
    if script is not None:
        c["command"] = ["sh", "-c", script]
    c.update(fields)
    return c


def pod(name: str, *containers: dict, labels: dict | None = None, **spec) -> dict:
    spec.setdefault("restartPolicy", "Always")
    meta = {"name": name}
    if labels:
        meta["labels"] = labels
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": dict(spec, containers=list(containers)),
    }


def web_ctr(name: str, body: str, port: int = HTTP_PORT, **fields) -> dict:
    """busybox httpd serving `body` as / on `port`."""
    script = f"mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p {port} -h /www"
    return ctr(name, script, **fields)


def web_pod(name: str, body: str | None = None, ports: list[dict] | None = None, **spec) -> dict:
    fields = {"ports": ports} if ports else {}
    return pod(name, web_ctr("web", body or f"hello-from-{name}", **fields), **spec)


def sleeper_pod(name: str, **spec) -> dict:
    return pod(name, ctr("main", "exec sleep 3600"), **spec)


def manifest(*docs: dict | str) -> str:
    """Several documents as one multi-document file: dicts as JSON, text as is."""
    return "\n---\n".join(d if isinstance(d, str) else json.dumps(d) for d in docs)


def pod_yaml(
    name: str,
    command: str,
    *,
    image: str = "busybox:1.35",
    extra_spec: str = "",
    extra_container: str = "",
    restart: str = "Always",
    labels: str = "",
) -> str:
    """A one-container Pod running `sh -c COMMAND`."""
    return f"""apiVersion: v1
kind: Pod
metadata:
  name: {name}
{labels}
spec:
  restartPolicy: {restart}
{extra_spec}
  containers:
  - name: main
    image: {image}
    command: ["sh", "-c", {json.dumps(command)}]
{extra_container}
"""


class Pods:
    """The pods of one test, deleted at its end: those it runs through
    run() and those it names with add()."""

    def __init__(self, mp):
        self.mp = mp
        self.added: list[tuple[str, str]] = []  # (namespace, name)

    def add(self, *names: str, namespace: str = "default") -> None:
        self.added += [(namespace, n) for n in names]

    def run(self, *manifests: dict, check: bool = True, timeout: float = 30):
        self.add(*(m["metadata"]["name"] for m in manifests))
        return self.mp.run_pod(manifest(*manifests), check=check, timeout=timeout)

    def cleanup(self) -> None:
        for ns in sorted({ns for ns, _ in self.added}):
            delete_quietly(self.mp, *(n for n_ns, n in self.added if n_ns == ns), namespace=ns, check=True)


@pytest.fixture
def pods(mp):
    p = Pods(mp)
    yield p
    p.cleanup()


def delete_quietly(mp, *names: str, namespace: str = "default", check: bool = False) -> None:
    """The clean-up of a test: grace 0, missing pods are fine, and nothing
    to do when the test killed the daemon. With check, a delete that fails
    fails the test (the `pods` fixture's clean-up)."""
    if names and mp.daemon and mp.daemon.poll() is None:
        mp.run(
            "delete", "pod", *names, "-n", namespace, "--grace-period", "0", "--ignore-not-found", check=check
        )


def pod_sh(mp, pod_name: str, script: str, container: str | None = None, check: bool = True):
    """`minipod exec POD [-c C] -- sh -c SCRIPT`; the CompletedProcess."""
    args = ["exec", pod_name] + (["-c", container] if container else []) + ["--", "sh", "-c", script]
    return mp.run(*args, check=check)


def pod_ip(mp, name: str) -> str:
    return mp.pod(name)["status"]["podIP"]


def pids(mp, pod_name: str) -> dict[str, int]:
    """Host pids: {"init": pod init, CONTAINER: its process}, all running."""
    view = mp.inspect(pod_name)
    out = {"init": view["podInit"]["pid"]}
    for c in view["containers"]:
        if c["state"] == "running":
            out[c["name"]] = c["process"]["pid"]
    return out


def pod_dirs_of(mp, pod_name: str) -> list[str]:
    """Every directory the instance keeps for this pod: its run dir, disk
    volumes, containers' writable layers and its logs."""
    view = mp.inspect(pod_name)
    uid = view["uid"]
    dirs = [os.path.join(mp.root, "run", "pods", uid), os.path.join(mp.root, "lib", "volumes", uid)]
    dirs += [
        os.path.join(mp.root, "lib", "containers", c["containerID"])
        for c in view["containers"]
        if c.get("containerID")
    ]
    dirs += sorted(
        {
            os.path.dirname(os.path.dirname(c["logPath"]))  # LOGS/CONTAINER/N.log
            for c in view["containers"]
            if c.get("logPath")
        }
    )
    return dirs
