"""Services in the object store: what kube-apiserver does on a write.

The store calls ServiceAdmission before it commits a create or an update
(store.admission). Steps, in order:
    1. default and validate the Service (service_spec.py); problems are
       a 422 Invalid naming every field, nothing is stored;
    2. allocate (allocate.py): the ClusterIP (kept on update), the
       NodePorts (kept per port on update), from what the other Services
       hold;
    3. the store commits it: the watchers, among them the endpoint
       controller and the proxy, see it.
Delete is the store's own; a Service's EndpointSlices go with it through
their ownerReferences (collector.py).

ensure_kubernetes() keeps the `kubernetes` Service in `default`, which
every cluster has: the range's first address, port 443 named https, and an
EndpointSlice and Endpoints pointing at the API where pods reach it (the
bridge's gateway), as the API server's own endpoint reconciler writes them.
"""

import copy

from minipod.objects.errors import invalid
from minipod.objects.resources import builtin
from minipod.services import allocate, service_spec

KUBERNETES = "kubernetes"


class ServiceAdmission:
    def __init__(self, store, service_cidr: str):
        self.store, self.cidr = store, service_cidr
        self.res = builtin("", "v1", "services")

    def _others(self, uid: str | None) -> list[dict]:
        return [s for s in self.store.objects[self.res.key].values() if s["metadata"].get("uid") != uid]

    def _admit(self, obj: dict, old: dict | None) -> dict:
        """Steps 1 and 2: the Service as it will be stored, or ApiError."""
        meta = obj["metadata"]
        svc = service_spec.default_service(obj)
        spec = svc["spec"]
        if old is not None and isinstance(spec, dict):
            before = old.get("spec") or {}
            if not spec.get("clusterIP") and before.get("clusterIP") and spec.get("type") != "ExternalName":
                spec["clusterIP"] = before["clusterIP"]
            kept = {(p.get("port"), p.get("protocol")): p.get("nodePort") for p in before.get("ports") or []}
            if service_spec.wants_node_ports(spec):
                for p in spec.get("ports") or []:
                    if (
                        isinstance(p, dict)
                        and not p.get("nodePort")
                        and kept.get((p.get("port"), p.get("protocol")))
                    ):
                        p["nodePort"] = kept[(p.get("port"), p.get("protocol"))]
        causes = service_spec.service_problems(svc, self.cidr)
        if old is not None:
            causes += service_spec.update_problems(old, svc)
        if causes:
            raise invalid("Service", meta["name"], causes)
        others = self._others(meta.get("uid"))
        if service_spec.has_cluster_ip(spec):
            wanted = spec.get("clusterIP") or None
            if old is not None and wanted == (old.get("spec") or {}).get("clusterIP"):
                ip, causes = wanted, []
            else:
                ip, causes = allocate.cluster_ip(self.cidr, wanted, allocate.used_ips(others))
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
        elif service_spec.is_headless(spec):
            spec["clusterIPs"] = ["None"]
        else:  # ExternalName: no address of its own
            for k in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                spec.pop(k, None)
        if service_spec.wants_node_ports(spec):
            causes += allocate.node_ports(spec["ports"], allocate.used_node_ports(others))
        else:
            for p in spec.get("ports") or []:
                p.pop("nodePort", None)
        if causes:
            raise invalid("Service", meta["name"], causes)
        return svc

    def __call__(self, obj: dict, old: dict | None) -> dict:
        """The store's admission step for services (store.admission)."""
        return self._admit(obj, old)

    # --- the cluster's own Service ---------------------------------------------
    def ensure_kubernetes(self, api_ip: str | None, api_port: int) -> None:
        """The `kubernetes` Service and its EndpointSlice (api_ip: where
        pods reach the API; None when the API does not serve pods)."""
        body: dict = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": KUBERNETES, "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {
                "type": "ClusterIP",
                "clusterIP": allocate.kubernetes_ip(self.cidr),
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": api_port}],
                "sessionAffinity": "None",
            },
        }
        if self.store.exists(self.res, "default", KUBERNETES):
            old = self.store.get(self.res, "default", KUBERNETES)
            if old["spec"].get("ports") != body["spec"]["ports"]:  # a write only when it changes
                new = copy.deepcopy(old)
                new["spec"]["ports"] = body["spec"]["ports"]
                self.store.update(self.res, new, "default", KUBERNETES)
        else:
            self.store.create(self.res, body, "default")
        if api_ip is None:
            return
        slices = builtin("discovery.k8s.io", "v1", "endpointslices")
        slice_body = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": KUBERNETES,
                "labels": {"kubernetes.io/service-name": KUBERNETES},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [api_ip], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": api_port, "protocol": "TCP"}],
        }
        endpoints = builtin("", "v1", "endpoints")
        endpoints_body = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": KUBERNETES, "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [
                {
                    "addresses": [{"ip": api_ip}],
                    "ports": [{"name": "https", "port": api_port, "protocol": "TCP"}],
                }
            ],
        }
        for res, body, fields in (
            (slices, slice_body, ("endpoints", "ports")),
            (endpoints, endpoints_body, ("subsets",)),
        ):
            if self.store.exists(res, "default", KUBERNETES):
                old = self.store.get(res, "default", KUBERNETES)
                if all(old.get(f) == body[f] for f in fields):
                    continue
                self.store.delete(res, "default", KUBERNETES)
            self.store.create(res, body, "default")
