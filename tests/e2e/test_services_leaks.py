"""Issue 17: nothing of the Services is left in nftables once they are
gone. An instance of its own, so no other test's Service keeps the table:
it goes with the instance's last Service (the `kubernetes` Service is not
programmed), and when the daemon stops with no pod left."""

import subprocess

import yaml
from helpers.host import eventually
from helpers.kubectl import kubectl


def table_exists(mp) -> bool:
    table = f"minipod-svc-minipod-{mp.bridge}"
    return subprocess.run(["nft", "list", "table", "ip", table], capture_output=True).returncode == 0


def lone_service() -> str:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "lone"},
        "spec": {"selector": {"app": "none"}, "ports": [{"port": 80}]},
    }
    return yaml.safe_dump(svc)


def test_the_table_goes_with_the_last_service_and_with_the_daemon(fresh_mp):
    mp = fresh_mp
    assert not table_exists(mp)
    kubectl(mp, "apply", "-f", "-", input=lone_service())
    eventually(
        lambda: table_exists(mp), what="the Services' table (a reject for the Service without endpoints)"
    )
    kubectl(mp, "delete", "svc", "lone")
    eventually(lambda: not table_exists(mp), what="the table gone with the last Service")
    kubectl(mp, "apply", "-f", "-", input=lone_service())
    eventually(lambda: table_exists(mp), what="the table back")
    mp.stop()  # no pod left: the daemon removes its table as it removes its bridge
    assert not table_exists(mp)
