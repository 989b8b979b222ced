"""Pods in the object store, backed by the pod manager.

The API writes desired state; the pod workers act; status flows back:
    create   validate the Pod (kube/validate.py), default it as the API
             server does, schedule it on this node (spec.nodeName), and
             hand it to the manager, which starts a worker;
    update   only metadata may change on a live pod (labels, annotations,
             finalizers, ownerReferences), as in Kubernetes;
    delete   mark it (deletionTimestamp + grace period); the worker stops
             it, and when it is gone the manager says so (gone()); a pod
             with finalizers then stays in the API, stopped, until an
             update removes the last one, as the API server keeps it
             (held: not kept across a daemon restart).
Every save of a pod record comes here (saved()), so its status changes
get a resourceVersion and reach the watchers.
"""

import copy

from minipod.errors import ManifestError
from minipod.kube.manifest import default_pod
from minipod.kube.validate import validate_pod
from minipod.objects import pod_security_admission
from minipod.objects.errors import ApiError, invalid
from minipod.objects.resources import builtin
from minipod.pod.record import PodRecord

# What a client may change on a live pod: metadata only.
MUTABLE_METADATA = ("labels", "annotations", "finalizers", "ownerReferences", "managedFields")

FORBIDDEN_UPDATE = (
    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def causes_of(e: ManifestError) -> list[tuple[str, str, str]]:
    """minipod's "path: message" lines as Status causes."""
    out = []
    for line in e.errors:
        field, sep, message = line.partition(": ")
        out.append(("FieldValueInvalid", field, message) if sep else ("FieldValueInvalid", "", line))
    return out


class PodBackend:
    def __init__(self, store, manager):
        self.store, self.manager = store, manager
        self.res = builtin("", "v1", "pods")
        self.warnings: list[str] = []  # of the last create: the API sends them as Warning headers
        self.admission: list = []  # callables(pod, its ServiceAccount) that may change the pod
        self.held: set[tuple[str, str]] = set()  # stopped pods that finalizers keep (gone())
        # Validating: PodSecurity (open_cluster() gives it the instance's configuration and audit log).
        self.pod_security = pod_security_admission.PodSecurity(store)
        manager.listeners.append(self)
        for w in manager.workers.values():
            self.saved(w.record)

    def take_warnings(self) -> list[str]:
        """The warnings of the last create (fields minipod does not implement yet)."""
        out, self.warnings = self.warnings, []
        return out

    # --- the manager tells us -------------------------------------------------
    def saved(self, record: PodRecord) -> None:
        if record.runtime.origin != "api":
            return  # a kubelet's pod (the CRI): a node's pods are the kubelet's API server's, not ours
        view = self.manager.view(record)
        view["metadata"].pop("resourceVersion", None)
        record.metadata["resourceVersion"] = self.store.track(self.res, view)

    def gone(self, namespace: str, name: str) -> None:
        obj = self.store.objects[self.res.key].get((namespace, name))
        if obj is not None and obj["metadata"].get("finalizers"):
            self.held.add((namespace, name))  # stopped; its finalizers keep it in the API
            return
        self.store.untrack(self.res, namespace, name)

    def update_held(self, old: dict, new: dict, dry_run: bool) -> dict:
        """A stopped pod held by finalizers: metadata may change; without
        finalizers it goes."""
        key = (old["metadata"]["namespace"], old["metadata"]["name"])
        if dry_run:
            return new
        if new["metadata"].get("finalizers"):
            self.store.track(self.res, new)
        else:
            self.held.discard(key)
            self.store.untrack(self.res, *key)
        return new

    # --- the API asks ---------------------------------------------------------
    def create(self, res, obj: dict, dry_run: bool) -> dict:
        meta = obj["metadata"]
        try:
            self.warnings = validate_pod(obj)
        except ManifestError as e:
            raise invalid("Pod", meta["name"], causes_of(e)) from None
        pod = default_pod(obj, meta["namespace"])
        pod["metadata"].update(uid=meta["uid"], creationTimestamp=meta["creationTimestamp"])
        if meta.get("managedFields"):
            pod["metadata"]["managedFields"] = meta["managedFields"]
        pod["metadata"].pop("generation", None)  # pods have no generation in Kubernetes' output
        spec = pod["spec"]
        spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        sa_res = builtin("", "v1", "serviceaccounts")
        ns, sa = meta["namespace"], spec["serviceAccountName"]
        if not self.store.exists(sa_res, ns, sa):
            raise ApiError(
                403,
                "Forbidden",
                f'pods "{meta["name"]}" is forbidden: error looking up service account {ns}/{sa}: '
                f'serviceaccount "{sa}" not found',
            )
        for admit in self.admission:  # the API's admission steps (the token volume)
            admit(pod, self.store.get(sa_res, ns, sa))
        self.warnings += self.pod_security.admit(pod)  # validating, after mutating
        if dry_run:
            return dict(pod, status={"phase": "Pending", "qosClass": "BestEffort"})
        self.manager.create(pod)
        return pod

    def update(self, res, old: dict, new: dict, dry_run: bool) -> dict:
        same = copy.deepcopy(new)
        for k in MUTABLE_METADATA:
            same["metadata"].pop(k, None)
        was = copy.deepcopy(old)
        for k in MUTABLE_METADATA:
            was["metadata"].pop(k, None)
        if same.get("spec") != was.get("spec"):
            raise invalid("Pod", old["metadata"]["name"], [("FieldValueForbidden", "spec", FORBIDDEN_UPDATE)])
        if (old["metadata"]["namespace"], old["metadata"]["name"]) in self.held:
            return self.update_held(old, new, dry_run)
        if dry_run:
            return new
        w = self.manager.worker(old["metadata"]["namespace"], old["metadata"]["name"])
        for k in MUTABLE_METADATA:
            if new["metadata"].get(k) is not None:
                w.record.metadata[k] = new["metadata"][k]
            else:
                w.record.metadata.pop(k, None)
        w.save()
        return new

    def delete(self, res, old: dict, grace: int | None, dry_run: bool) -> tuple[dict, bool]:
        if dry_run:
            return old, False
        if grace is not None and grace < 0:
            raise ApiError(422, "Invalid", "gracePeriodSeconds must be non-negative")
        if (old["metadata"]["namespace"], old["metadata"]["name"]) in self.held:
            return old, False  # stopped already: it waits for its finalizers
        self.manager.begin_delete(old["metadata"]["namespace"], old["metadata"]["name"], grace)
        return self.store.get(res, old["metadata"]["namespace"], old["metadata"]["name"]), False
