"""The Service machinery of one instance, started and stopped together.

start(), in order (in the daemon's event loop, after the store is open):
    1. the service CIDR (config.py) and the store's admission step for
       Services (admission.py);
    2. (the endpointslice/endpoints controller runs with the workload
       controllers: minipod/controllers/controller_manager.py);
    3. the proxy: nftables rules for the Services (proxy.py);
    4. the cluster DNS server on the bridge's gateway (dns_server.py),
       once the daemon knows it (start_dns());
    5. the `kubernetes` Service, kept (ensure_kubernetes()), once the
       API listens.
stop() ends them; the nftables table goes when no pod is left.
"""

from minipod.objects.resources import builtin
from minipod.services import config
from minipod.services.admission import ServiceAdmission
from minipod.services.dns_server import DnsServer
from minipod.services.proxy import Proxy
from minipod.services.reconcile_loop import ReconcileLoop


class ServiceRuntime:
    def __init__(self, store, inst, conflist: dict, service_cidr: str | None, log=print):
        subnet = config.pod_subnet(conflist) or ""
        self.cidr = config.ensure_service_cidr(inst.etc, service_cidr, subnet)  # step 1
        self.admission = ServiceAdmission(store, self.cidr)
        store.admission["/services"] = self.admission
        self.proxy = Proxy(store, conflist["name"], subnet, log)  # step 3
        self.store, self.log = store, log
        self.dns: DnsServer | None = None
        self.keeper: ReconcileLoop | None = None

    def start(self) -> None:
        self.proxy.start()

    async def start_dns(self, address: str | None) -> str | None:
        """Step 4: the DNS server on `address` (the bridge's gateway); its
        address, or None when it cannot listen (pods then use the host's
        resolvers, and the log says why)."""
        if not address:
            return None
        dns = DnsServer(self.store, address, self.log)
        try:
            await dns.start()
        except OSError as e:
            self.log(
                f"cluster DNS cannot listen on {address}:53: {e.strerror}; pods use the host's resolvers"
            )
            dns.close()
            return None
        self.dns = dns
        self.log(f"cluster DNS on {address}:53 (forwarding to {', '.join(dns.upstreams) or 'no resolver'})")
        return address

    def ensure_kubernetes(self, api_ip: str | None, api_port: int) -> None:
        """The `kubernetes` Service and its endpoints, kept from now on as
        the API server's own loop keeps them: deleted (`kubectl delete all
        --all` does), they come back."""

        def keep() -> None:
            self.admission.ensure_kubernetes(api_ip, api_port)

        keep()
        kinds = [builtin("", "v1", "services"), builtin("discovery.k8s.io", "v1", "endpointslices")]
        kinds.append(builtin("", "v1", "endpoints"))
        self.keeper = ReconcileLoop(
            self.store, tuple(k.key for k in kinds), keep, "kubernetes service", self.log
        )
        self.keeper.start()

    def stop(self, pods_left: bool) -> None:
        if self.keeper is not None:
            self.keeper.stop()
        if self.dns is not None:
            self.dns.close()
        try:
            self.proxy.stop(pods_left)
        except Exception as e:  # noqa: BLE001 - the daemon stops all the same
            self.log(f"removing the Services' nftables table: {e}")
