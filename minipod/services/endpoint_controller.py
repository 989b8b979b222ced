"""The endpointslice and endpoints controllers: every Service with a
selector gets EndpointSlices (and a v1 Endpoints) listing its pods, kept
current as pods come, go, turn ready or not ready, change labels, and as
the Service changes. Reads and writes only through the object store.

Steps of reconcile(), in order, for each Service with a selector:
    1. the desired slices and Endpoints (endpoints.py, pure);
    2. match them to the slices this controller already made for the
       Service (by port list), update the ones that differ, create the
       missing ones (generateName), delete the ones left over;
    3. the Endpoints object the same way.
Slices and Endpoints of a Service that is gone go with it (their
ownerReferences for slices; step 4 here: an Endpoints whose Service is
gone is deleted, as the endpoints controller does). Slices and Endpoints
of a selector-less Service are the user's: never touched.
"""

from minipod.objects.resources import builtin
from minipod.services import endpoints as eps
from minipod.services.reconcile_loop import ReconcileLoop


class EndpointController:
    def __init__(self, store, log=print):
        self.store, self.log = store, log
        self.services = builtin("", "v1", "services")
        self.pods = builtin("", "v1", "pods")
        self.slices = builtin("discovery.k8s.io", "v1", "endpointslices")
        self.endpoints = builtin("", "v1", "endpoints")
        self.loop = ReconcileLoop(
            store,
            (self.services.key, self.pods.key, self.slices.key),
            self.reconcile,
            "endpointslice controller",
            log,
        )

    def start(self) -> None:
        self.loop.start()

    def reconcile(self) -> None:
        pods = list(self.store.objects[self.pods.key].values())
        services = [
            s
            for s in self.store.objects[self.services.key].values()
            if not s["metadata"].get("deletionTimestamp")
        ]
        for svc in services:
            if eps.is_managed(svc):
                self.sync_service(svc, pods)
        alive = {(s["metadata"]["namespace"], s["metadata"]["name"]) for s in services}
        for key in list(self.store.objects[self.endpoints.key]):
            if key not in alive:
                self.store.delete(self.endpoints, key[0], key[1])  # step 4

    def _owned(self, svc: dict) -> list[dict]:
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        return [
            s
            for (s_ns, _), s in self.store.objects[self.slices.key].items()
            if s_ns == ns
            and (s["metadata"].get("labels") or {}).get(eps.SERVICE_NAME) == name
            and (s["metadata"].get("labels") or {}).get(eps.MANAGED_BY) == eps.CONTROLLER
        ]

    def sync_service(self, svc: dict, pods: list[dict]) -> None:
        ns = svc["metadata"]["namespace"]
        groups = eps.slice_groups(svc, pods)  # step 1
        existing = self._owned(svc)
        left = list(existing)
        for ports, endpoints in groups:  # step 2
            body = eps.slice_object(svc, ports, endpoints)
            same_ports = next((s for s in left if s.get("ports") == ports), None) or (
                left[0] if left else None
            )
            if same_ports is None:
                self.store.create(self.slices, body, ns)
                continue
            left.remove(same_ports)
            if (
                same_ports.get("endpoints") != body["endpoints"]
                or same_ports.get("ports") != body["ports"]
                or same_ports["metadata"].get("labels") != body["metadata"]["labels"]
            ):
                new = dict(same_ports, endpoints=body["endpoints"], ports=body["ports"])
                new["metadata"] = dict(same_ports["metadata"], labels=body["metadata"]["labels"])
                new["metadata"].pop("resourceVersion", None)
                self.store.update(self.slices, new, ns, same_ports["metadata"]["name"])
        for s in left:
            self.store.delete(self.slices, ns, s["metadata"]["name"])
        want = eps.endpoints_object(svc, groups)  # step 3
        name = svc["metadata"]["name"]
        if not self.store.exists(self.endpoints, ns, name):
            self.store.create(self.endpoints, want, ns)
            return
        have = self.store.get(self.endpoints, ns, name)
        if have.get("subsets") != want.get("subsets") or have["metadata"].get("labels") != want[
            "metadata"
        ].get("labels"):
            new = dict(have, subsets=want.get("subsets"))
            if "subsets" not in want:
                new.pop("subsets", None)
            new["metadata"] = dict(have["metadata"], labels=want["metadata"].get("labels"))
            new["metadata"].pop("resourceVersion", None)
            self.store.update(self.endpoints, new, ns, name)
