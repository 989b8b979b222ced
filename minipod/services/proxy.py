"""The Services' data path on this node: what kube-proxy's nftables mode
does, driven by the store's watch hub.

Steps of sync(), in order:
    1. the Service ports and their ready endpoints, from the store's
       Services and EndpointSlices (proxy_rules.service_ports);
    2. none left: delete the table (nothing of minipod's stays in
       nftables once the last Service is gone);
    3. else the whole table as text (proxy_rules.ruleset), applied as one
       transaction that deletes and re-creates it: there is never a moment
       with half a ruleset; skipped when the text has not changed.
The table is `ip minipod-svc-NETWORK`, beside the hostPort table of
minipod/network/nft.py. When the daemon stops with no pod left, the table
goes too (stop()); with pods still running it stays, as the bridge does.

The `kubernetes` Service is programmed like any other: its EndpointSlice
names the API's socket on the bridge's gateway, so a pod dialing
KUBERNETES_SERVICE_HOST (its ClusterIP, which the API's certificate names)
or https://kubernetes.default.svc reaches the API, as on a cluster.
"""

from minipod.network import nft
from minipod.objects.resources import builtin
from minipod.services import proxy_rules
from minipod.services.reconcile_loop import ReconcileLoop

BRIDGE_NF_CALL = "/proc/sys/net/bridge/bridge-nf-call-iptables"


def bridged_traffic_is_tracked() -> bool:
    """Whether traffic between two pods of one bridge passes the host's
    conntrack (br_netfilter): then a pod's reply to a pod that reached it
    through a Service is un-DNATed without masquerading the request."""
    try:
        with open(BRIDGE_NF_CALL) as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def table_name(network: str) -> str:
    return f"minipod-svc-{network}"


class Proxy:
    def __init__(self, store, network: str, pod_subnet: str, log=print):
        self.store, self.log = store, log
        self.table = table_name(network)
        self.pod_subnet = pod_subnet
        self.services = builtin("", "v1", "services")
        self.slices = builtin("discovery.k8s.io", "v1", "endpointslices")
        self.applied: str | None = None  # the text last applied; None: unknown
        self.loop = ReconcileLoop(
            store, (self.services.key, self.slices.key), self.sync, "service proxy", log
        )

    def start(self) -> None:
        self.loop.start()

    def sync(self) -> None:
        services = list(self.store.objects[self.services.key].values())
        ports = proxy_rules.service_ports(
            services, list(self.store.objects[self.slices.key].values())
        )  # step 1
        if not ports:  # step 2
            if self.applied != "":
                nft.delete_table(self.table)
                self.applied = ""
            return
        text = proxy_rules.ruleset(self.table, ports, self.pod_subnet, not bridged_traffic_is_tracked())
        if text == self.applied:
            return
        nft.run_script(
            f"table ip {self.table} {{}}\ndelete table ip {self.table}\n{text}", f"sync table {self.table}"
        )
        self.applied = text  # step 3

    def stop(self, pods_left: bool) -> None:
        self.loop.stop()
        if not pods_left:
            nft.delete_table(self.table)
