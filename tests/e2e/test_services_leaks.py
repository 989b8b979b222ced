"""Issue 17: nothing of the Services is left in nftables once they are
gone. An instance of its own, so no other test's Service is in the table:
the `kubernetes` Service keeps it while the daemon runs, as kube-proxy
keeps its own, and it goes when the daemon stops with no pod left."""

import subprocess

import yaml
from helpers.host import eventually
from helpers.kubectl import kubectl


def table_exists(mp) -> bool:
    table = f"minipod-svc-minipod-{mp.bridge}"
    return subprocess.run(["nft", "list", "table", "ip", table], capture_output=True).returncode == 0


def nft_text(mp) -> str:
    table = f"minipod-svc-minipod-{mp.bridge}"
    return subprocess.run(["nft", "list", "table", "ip", table], capture_output=True, text=True).stdout


def lone_service() -> str:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "lone"},
        "spec": {"selector": {"app": "none"}, "ports": [{"port": 80}]},
    }
    return yaml.safe_dump(svc)


def test_the_table_goes_with_the_daemon(fresh_mp):
    mp = fresh_mp
    eventually(lambda: table_exists(mp), what="the Services' table, for the `kubernetes` Service")
    kubectl(mp, "apply", "-f", "-", input=lone_service())
    ip = kubectl(mp, "get", "svc", "lone", "-o", "jsonpath={.spec.clusterIP}").stdout
    # No endpoints: its ClusterIP is in the reject map.
    eventually(lambda: f"{ip} . tcp . 80" in nft_text(mp), what="the reject of the lone Service")
    kubectl(mp, "delete", "svc", "lone")
    eventually(lambda: ip not in nft_text(mp), what="its rules gone with it")
    mp.stop()  # no pod left: the daemon removes its table as it removes its bridge
    assert not table_exists(mp)
