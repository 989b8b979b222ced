"""What `minipod run`, `minipod get pods` and `minipod version` read and
print, without click: the click commands (pod_commands.py, commands.py)
and the fast path (fast_path.py) both call these, so the two ways in
print the same."""

import sys

from minipod import __version__
from minipod.cli import printers
from minipod.cli.client import Client, pod_path
from minipod.errors import MinipodError


def print_pods(client: Client, name, selector, output, all_namespaces: bool, namespace: str) -> None:
    if name:
        pods = [client.json("GET", pod_path(namespace, name))]
    else:
        path = "/api/v1/pods" if all_namespaces else pod_path(namespace)
        pods = client.json("GET", path, query={"labelSelector": selector})["items"]
    if output in ("json", "yaml"):
        sys.stdout.write(printers.dump(pods[0] if name else printers.as_list(pods), output))
    elif output == "name":
        for p in pods:
            print(f"pod/{p['metadata']['name']}")
    elif not pods:
        where = "" if all_namespaces else f" in {namespace} namespace"
        print(f"No resources found{where}.", file=sys.stderr)
    else:
        printers.table(printers.pod_rows(pods, wide=output == "wide", all_namespaces=all_namespaces))


def print_version(inst) -> None:
    print(f"Client Version: v{__version__}")
    try:
        server = Client(inst, autostart=False).json("GET", "/version")
        print(f"Server Version: {server['gitVersion']}")
    except MinipodError:
        print("Server Version: (daemon not running)")


def read_manifest(path: str) -> str:
    """The manifest at `path` (- for stdin), as text."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as e:
        raise MinipodError(f"{path}: {e.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        where = "stdin" if path == "-" else path
        raise MinipodError(
            f"{where}: not valid UTF-8 (byte {e.start}): a manifest is UTF-8 text (YAML or JSON)"
        ) from None


def apply_query(namespace: str, explicit_namespace: bool, query: dict) -> dict:
    """The apply request's query. As kubectl: with -n given, an object
    naming another namespace is refused (enforceNamespace)."""
    if explicit_namespace:
        query = dict(query, enforceNamespace="true")
    return {"namespace": namespace, **query}


def print_warnings(result: dict) -> None:
    for w in result.get("warnings", []):
        print(f"Warning: {w}", file=sys.stderr)


def what(item: dict) -> str:
    """kind/name, as kubectl prints an object it acted on."""
    if item.get("label"):
        return item["label"]
    name = item["pod"]["metadata"]["name"] if item["kind"] == "Pod" else item["name"]
    return f"{item['kind'].lower()}/{name}"


def print_run(result: dict, timeout: float) -> int:
    """What `minipod run` prints once its pods are decided; its exit code."""
    pods = [i["pod"] for i in result["items"] if i["kind"] == "Pod"]
    for i in result["items"]:
        print(f"{what(i)} {i['action']}", file=sys.stderr)
    printers.table(printers.pod_rows(pods, with_ip=True))
    failed = False
    for name, (outcome, why) in result.get("outcomes", {}).items():
        if outcome == "failed":
            print(f"error: pod/{name}: {why}", file=sys.stderr)
            failed = True
        elif outcome == "pending":
            print(
                f"error: pod/{name}: not Running after {timeout:g}s (see: minipod describe pod {name})",
                file=sys.stderr,
            )
            failed = True
    return 1 if failed else 0
