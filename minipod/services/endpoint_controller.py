"""The endpointslice and endpoints controllers: every Service with a
selector gets EndpointSlices (and a v1 Endpoints) listing its pods, kept
current as pods come, go, turn ready or not ready, change labels, and as
the Service changes. Reads and writes only through the object store.

A controller of minipod/controllers/ (reconciler.py): a change of a
Service, of a pod of its namespace, or of its slices queues the Service's
key. Steps of reconcile(key), in order, for a Service with a selector:
    1. the desired slices and Endpoints (endpoints.py, pure);
    2. match them to the slices this controller already made for the
       Service (by port list), update the ones that differ, create the
       missing ones (generateName), delete the ones left over;
    3. the Endpoints object the same way.
Slices and Endpoints of a Service that is gone go with it (their
ownerReferences for slices; step 4 here: the Endpoints of a Service that
is gone is deleted, as the endpoints controller does). Slices and Endpoints
of a selector-less Service are the user's: never touched.
"""

from minipod.controllers.reconciler import Reconciler, split_key
from minipod.objects.resources import Resource, builtin
from minipod.services import endpoints as eps

SERVICES = builtin("", "v1", "services")
PODS = builtin("", "v1", "pods")
SLICES = builtin("discovery.k8s.io", "v1", "endpointslices")
ENDPOINTS = builtin("", "v1", "endpoints")


class EndpointController(Reconciler):
    name = "endpointslice-controller"
    primary = SERVICES
    secondary = (PODS, SLICES, ENDPOINTS)

    def keys_for(self, res: Resource, obj: dict) -> list[str]:
        """A pod concerns every Service of its namespace (its labels may have
        left a selector: the old labels are not in the change); a slice or
        an Endpoints, the Service it names."""
        ns = obj["metadata"].get("namespace") or ""
        if res is PODS:
            return [f"{ns}/{name}" for (s_ns, name) in self.store.objects[SERVICES.key] if s_ns == ns]
        if res is SLICES:
            name = (obj["metadata"].get("labels") or {}).get(eps.SERVICE_NAME)
            return [f"{ns}/{name}"] if name else []
        return [f"{ns}/{obj['metadata']['name']}"]

    def reconcile(self, key: str) -> float | None:
        svc = self.get(SERVICES, key)
        if svc is None or svc["metadata"].get("deletionTimestamp"):
            ns, name = split_key(key)
            if self.store.exists(ENDPOINTS, ns, name):  # step 4
                self.store.delete(ENDPOINTS, ns, name)
            return None
        if eps.is_managed(svc):
            self.sync_service(svc, list(self.store.objects[PODS.key].values()))
        return None

    def _owned(self, svc: dict) -> list[dict]:
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        return [
            s
            for (s_ns, _), s in self.store.objects[SLICES.key].items()
            if s_ns == ns
            and (s["metadata"].get("labels") or {}).get(eps.SERVICE_NAME) == name
            and (s["metadata"].get("labels") or {}).get(eps.MANAGED_BY) == eps.CONTROLLER
        ]

    def sync_service(self, svc: dict, pods: list[dict]) -> None:
        ns = svc["metadata"]["namespace"]
        groups = eps.slice_groups(svc, pods)  # step 1
        left = self._owned(svc)
        for ports, endpoints in groups:  # step 2
            body = eps.slice_object(svc, ports, endpoints)
            have = next((s for s in left if s.get("ports") == ports), None) or (left[0] if left else None)
            if have is None:
                self.store.create(SLICES, body, ns)
                continue
            left.remove(have)
            if (
                have.get("endpoints") != body["endpoints"]
                or have.get("ports") != body["ports"]
                or have["metadata"].get("labels") != body["metadata"]["labels"]
            ):
                new = dict(have, endpoints=body["endpoints"], ports=body["ports"])
                new["metadata"] = dict(have["metadata"], labels=body["metadata"]["labels"])
                new["metadata"].pop("resourceVersion", None)
                self.store.update(SLICES, new, ns, have["metadata"]["name"])
        for s in left:
            self.store.delete(SLICES, ns, s["metadata"]["name"])
        want = eps.endpoints_object(svc, groups)  # step 3
        name = svc["metadata"]["name"]
        if not self.store.exists(ENDPOINTS, ns, name):
            self.store.create(ENDPOINTS, want, ns)
            return
        have_ep = self.store.get(ENDPOINTS, ns, name)
        if have_ep.get("subsets") != want.get("subsets") or have_ep["metadata"].get("labels") != want[
            "metadata"
        ].get("labels"):
            new = dict(have_ep, subsets=want.get("subsets"))
            if "subsets" not in want:
                new.pop("subsets", None)
            new["metadata"] = dict(have_ep["metadata"], labels=want["metadata"].get("labels"))
            new["metadata"].pop("resourceVersion", None)
            self.store.update(ENDPOINTS, new, ns, name)
