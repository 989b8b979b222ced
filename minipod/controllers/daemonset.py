"""The DaemonSet controller: one pod on every node that should run it, and
this instance is one node.

Steps of reconcile(key), in order (pkg/controller/daemon):
    1. read the DaemonSet; gone or being deleted: nothing to do;
    2. claim its pods (adopt matching orphans, release the others);
    3. should this node run it? (should_run: the template's nodeSelector
       and node affinity, and its tolerations, with the ones every daemon
       pod gets, against the Node's labels and NoSchedule/NoExecute taints);
    4. no pod and it should: create one, pinned to the node (node affinity
       on metadata.name, as the controller does); pods and it should not:
       delete them; more than one: delete the extras;
    5. RollingUpdate: a pod of an older template (controller-revision-hash)
       is deleted (maxUnavailable 1 on one node), and its successor is
       created once it is gone; OnDelete: only pods deleted by hand are
       replaced by the new template;
    6. write status.
"""

import copy
import time

from minipod.controllers import pods_state
from minipod.controllers.owners import owner_ref
from minipod.controllers.reconciler import Reconciler
from minipod.controllers.template_hash import compute_hash
from minipod.kube import node_affinity, taints
from minipod.objects import resources as kinds
from minipod.pod.admission import node_name

PODS = kinds.builtin("", "v1", "pods")
NODES = kinds.builtin("", "v1", "nodes")
DAEMONSETS = kinds.builtin("apps", "v1", "daemonsets")
REVISION = "controller-revision-hash"

# The tolerations every daemon pod gets (AddOrUpdateDaemonPodTolerations).
DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def revision(ds: dict) -> str:
    return compute_hash(ds["spec"]["template"])


def daemon_pod(ds: dict, node: str) -> dict:
    template = copy.deepcopy(ds["spec"]["template"])
    meta, spec = template.get("metadata") or {}, template["spec"]
    tolerations = spec.get("tolerations") or []
    spec["tolerations"] = tolerations + [t for t in DAEMON_TOLERATIONS if t not in tolerations]
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    affinity = spec.setdefault("affinity", {})
    affinity.setdefault("nodeAffinity", {})["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [term]
    }
    labels = dict(meta.get("labels") or {}, **{REVISION: revision(ds)})
    labels["pod-template-generation"] = str(ds["metadata"].get("generation", 1))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": f"{ds['metadata']['name']}-",
            "labels": labels,
            **({"annotations": meta["annotations"]} if meta.get("annotations") else {}),
            "ownerReferences": [owner_ref(ds)],
        },
        "spec": spec,
    }


def should_run(ds: dict, node: dict) -> tuple[bool, bool]:
    """(pure) (should the node run a new daemon pod, may a running one stay):
    its selector and affinity decide both; an untolerated NoSchedule taint
    keeps a new pod out, only a NoExecute one sends a running pod away."""
    name = node["metadata"]["name"]
    pod = {"spec": ds["spec"]["template"]["spec"]}
    pod["spec"] = dict(pod["spec"], tolerations=(pod["spec"].get("tolerations") or []) + DAEMON_TOLERATIONS)
    if not node_affinity.accepts(pod, name, node["metadata"].get("labels") or {}):
        return False, False
    node_taints = (node.get("spec") or {}).get("taints") or []
    no_execute = [t for t in node_taints if t.get("effect") == "NoExecute"]
    return taints.untolerated(pod, node_taints) is None, taints.untolerated(pod, no_execute) is None


class DaemonSetController(Reconciler):
    name = "daemonset-controller"
    primary = DAEMONSETS
    secondary = (PODS, NODES)

    def keys_for(self, res, obj: dict) -> list[str]:
        if res is NODES:  # a relabelled or tainted node concerns every DaemonSet
            return [f"{ns}/{name}" for (ns, name) in list(self.store.objects[DAEMONSETS.key])]
        return super().keys_for(res, obj)

    def reconcile(self, key: str) -> float | None:
        ds = self.get(DAEMONSETS, key)  # 1
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return None
        ns = ds["metadata"]["namespace"]
        owned = self.claim_owned(ds, PODS)  # 2
        node = self.store.get(NODES, None, node_name())
        run, stay = should_run(ds, node)  # 3
        live = [p for p in owned if pods_state.is_active(p)]
        wanted = run or (stay and bool(live))
        current = revision(ds)
        rolling = (ds["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
        keep = live[:1] if wanted else []  # 4
        if keep and rolling and (keep[0]["metadata"].get("labels") or {}).get(REVISION) != current:
            keep = []  # 5: the old template's pod goes first
        doomed = [p for p in live if p not in keep]
        for pod in doomed:
            self.store.delete(PODS, ns, pod["metadata"]["name"])
            self.event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
        terminating = [p for p in owned if p["metadata"].get("deletionTimestamp")]
        if wanted and not keep and not doomed and not terminating:
            created = self.store.create(PODS, daemon_pod(ds, node["metadata"]["name"]), ns)
            self.event(ds, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
        self.write_status(DAEMONSETS, ds, self.status(ds, wanted, current))  # 6
        return None

    def status(self, ds: dict, wanted: bool, current: str) -> dict:
        uid = ds["metadata"]["uid"]
        mine = [
            p
            for (p_ns, _), p in list(self.store.objects[PODS.key].items())
            if p_ns == ds["metadata"]["namespace"]
            and any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or [])
            and pods_state.is_active(p)
        ]
        min_ready = ds["spec"].get("minReadySeconds") or 0
        now = time.time()
        scheduled = 1 if mine and wanted else 0
        status = {
            "currentNumberScheduled": scheduled,
            "desiredNumberScheduled": 1 if wanted else 0,
            "numberMisscheduled": 1 if mine and not wanted else 0,
            "numberReady": sum(1 for p in mine if pods_state.is_ready(p)) if wanted else 0,
            "updatedNumberScheduled": sum(
                1 for p in mine if (p["metadata"].get("labels") or {}).get(REVISION) == current
            ),
            "numberAvailable": sum(1 for p in mine if pods_state.is_available(p, min_ready, now))
            if wanted
            else 0,
            "observedGeneration": ds["metadata"].get("generation", 1),
        }
        status["numberUnavailable"] = status["desiredNumberScheduled"] - status["numberAvailable"]
        return {
            k: v
            for k, v in status.items()
            if v
            or k in ("currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled", "numberReady")
        }
