"""What `minipod get pods` and `minipod version` print, without click: the
click commands (pod_commands.py, commands.py) and the fast path
(fast_path.py) both call these, so the two ways in print the same."""

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
