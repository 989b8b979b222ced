"""A Service's EndpointSlices and Endpoints from its pods (pure), as
kube-controller-manager's endpointslice and endpoints controllers make them.

Steps of desired_slices(), in order:
    1. the pods: in the Service's namespace, matching its selector, with
       an IP, not Succeeded or Failed;
    2. each pod's endpoint: its IP; conditions ready (the pod's Ready
       condition, and not terminating; always true with
       publishNotReadyAddresses), serving (Ready, even while terminating),
       terminating (deletionTimestamp set); targetRef, nodeName, and
       hostname when the pod's subdomain is this Service;
    3. each pod's ports: every Service port's targetPort, a name resolved
       in that pod's containers (pods may differ, so may their ports);
    4. one slice per distinct port list, named by generateName "SVC-",
       labelled kubernetes.io/service-name and managed-by, owned by the
       Service.
endpoints_object() is the legacy v1 Endpoints of the same slices.
"""

MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslice-controller.k8s.io"
SERVICE_NAME = "kubernetes.io/service-name"


def pod_ready(pod: dict) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def selects(selector: dict, pod: dict) -> bool:
    labels = pod["metadata"].get("labels") or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def resolve_port(target: object, pod: dict, protocol: str) -> int | None:
    """A targetPort as a number in this pod: a number as is, a name looked
    up in the pod's containers' ports (None when no container has it)."""
    if isinstance(target, int):
        return target
    for c in pod["spec"].get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target and p.get("protocol", "TCP") == protocol:
                return p.get("containerPort")
    return None


def _endpoint(svc: dict, pod: dict) -> dict:
    meta, spec = pod["metadata"], pod["spec"]
    terminating = bool(meta.get("deletionTimestamp"))
    ready = pod_ready(pod)
    publish = (svc.get("spec") or {}).get("publishNotReadyAddresses") is True
    ep: dict = {
        "addresses": [pod["status"]["podIP"]],
        "conditions": {
            "ready": publish or (ready and not terminating),
            "serving": ready,
            "terminating": terminating,
        },
        "targetRef": {
            "kind": "Pod",
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta.get("uid", ""),
        },
    }
    if spec.get("nodeName"):
        ep["nodeName"] = spec["nodeName"]
    if spec.get("hostname") and spec.get("subdomain") == svc["metadata"]["name"]:
        ep["hostname"] = spec["hostname"]
    return ep


def _ports(svc: dict, pod: dict) -> tuple[tuple[str, int, str], ...]:
    out = []
    for p in (svc.get("spec") or {}).get("ports") or []:
        number = resolve_port(p.get("targetPort", p.get("port")), pod, p.get("protocol", "TCP"))
        if number is not None:
            out.append((p.get("name") or "", number, p.get("protocol", "TCP")))
    return tuple(out)


def selected_pods(svc: dict, pods: list[dict]) -> list[dict]:
    ns, selector = svc["metadata"]["namespace"], (svc.get("spec") or {}).get("selector") or {}
    return sorted(
        (
            p
            for p in pods
            if p["metadata"].get("namespace") == ns
            and selects(selector, p)
            and (p.get("status") or {}).get("podIP")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ),
        key=lambda p: p["metadata"]["name"],
    )


def is_managed(svc: dict) -> bool:
    """Whether the controller manages this Service's slices: it has a
    selector (a selector-less Service's slices are the user's)."""
    spec = svc.get("spec") or {}
    return bool(spec.get("selector")) and spec.get("type") != "ExternalName"


def slice_groups(svc: dict, pods: list[dict]) -> list[tuple[list[dict], list[dict]]]:
    """Steps 1-3: [(ports, endpoints)], one entry per distinct port list."""
    groups: dict[tuple, list[dict]] = {}
    for pod in selected_pods(svc, pods):
        groups.setdefault(_ports(svc, pod), []).append(_endpoint(svc, pod))
    if not groups:
        groups[()] = []  # a Service with no pods still has one (empty) slice
    return [
        ([{"name": n, "port": num, "protocol": proto} for n, num, proto in key], eps)
        for key, eps in sorted(groups.items())
    ]


def slice_object(svc: dict, ports: list[dict], endpoints: list[dict]) -> dict:
    """Step 4: the slice's body (name left to generateName)."""
    meta = svc["metadata"]
    labels = dict(meta.get("labels") or {})
    labels.update({SERVICE_NAME: meta["name"], MANAGED_BY: CONTROLLER})
    if (svc.get("spec") or {}).get("clusterIP") == "None":
        labels["service.kubernetes.io/headless"] = ""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "generateName": meta["name"] + "-",
            "namespace": meta["namespace"],
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "name": meta["name"],
                    "uid": meta.get("uid", ""),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": ports,
    }


def endpoints_object(svc: dict, groups: list[tuple[list[dict], list[dict]]]) -> dict:
    """The legacy v1 Endpoints: one subset per port list, ready addresses
    and notReadyAddresses apart (terminating pods are left out)."""
    meta = svc["metadata"]
    subsets = []
    for ports, eps in groups:
        ready: list[dict] = []
        not_ready: list[dict] = []
        for ep in eps:
            if ep["conditions"]["terminating"] and not ep["conditions"]["ready"]:
                continue
            address = {"ip": ep["addresses"][0], "targetRef": ep["targetRef"]}
            if ep.get("nodeName"):
                address["nodeName"] = ep["nodeName"]
            if ep.get("hostname"):
                address["hostname"] = ep["hostname"]
            (ready if ep["conditions"]["ready"] else not_ready).append(address)
        if not ready and not not_ready:
            continue
        subset: dict = {}
        if ports:  # Endpoints ports have no empty name: an unnamed port leaves it out
            subset["ports"] = [{k: v for k, v in p.items() if k != "name" or v} for p in ports]
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        subsets.append(subset)
    labels = dict(meta.get("labels") or {})
    if (svc.get("spec") or {}).get("clusterIP") == "None":
        labels["service.kubernetes.io/headless"] = ""
    body: dict = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
    }
    if labels:
        body["metadata"]["labels"] = labels
    if subsets:
        body["subsets"] = subsets
    return body
