"""Two pod subresources that act once and answer a v1 Status (201):

POST pods/NAME/eviction   a policy/v1 (or v1beta1) Eviction: the pod is
                          deleted gracefully with the Eviction's
                          deleteOptions, what `kubectl drain` does to each
                          pod. minipod has no PodDisruptionBudgets, so no
                          eviction is ever refused for one (a cluster may
                          answer 429 TooManyRequests there).
POST pods/NAME/binding    a v1 Binding: a pod still waiting for a node (too
                          big for what is left, Pending) is bound to this
                          node, as the scheduler does; the pod then starts.
                          A pod already bound is a Conflict, one with
                          schedulingGates an error, and a node other than
                          this one is not found (there is no other node).
Steps of each: read and check the body (kind, a name that matches the URL),
then act through the object store or the pod manager.
"""

from minipod.kube.times import rfc3339
from minipod.objects import resources as kinds
from minipod.objects.errors import ApiError, bad_request, conflict, not_found
from minipod.pod.admission import node_name
from minipod.pod.record import Condition

EVICTION_VERSIONS = ("policy/v1", "policy/v1beta1")


def _success() -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def _check_body(body: dict, kind: str, versions: tuple[str, ...], name: str) -> None:
    if body.get("kind") not in (None, kind) or body.get("apiVersion") not in (None, *versions):
        raise bad_request(
            f"the body of the request must be a {kind} ({', '.join(versions)}), "
            f"not {body.get('apiVersion')}/{body.get('kind')}"
        )
    if (body.get("metadata") or {}).get("name") not in (None, "", name):
        raise bad_request(f"name in URL does not match name in {kind} object")


def evict(store, res: kinds.Resource, namespace: str, name: str, body: dict, dry_run: bool) -> dict:
    _check_body(body, "Eviction", EVICTION_VERSIONS, name)
    opts = body.get("deleteOptions") or {}
    if not isinstance(opts, dict):
        raise bad_request("deleteOptions: expected an object")
    grace = opts.get("gracePeriodSeconds")
    if grace is not None and not isinstance(grace, int):
        raise bad_request("deleteOptions.gracePeriodSeconds: expected an integer")
    dry_run = dry_run or "All" in (opts.get("dryRun") or [])
    store.delete(
        res, namespace, name, grace, opts.get("preconditions"), dry_run, opts.get("propagationPolicy")
    )
    return _success()


def bind(manager, store, res: kinds.Resource, namespace: str, name: str, body: dict, dry_run: bool) -> dict:
    _check_body(body, "Binding", ("v1",), name)
    target = body.get("target") or {}
    if not isinstance(target, dict) or not target.get("name"):
        raise ApiError(
            422,
            "Invalid",
            f'Binding "{name}" is invalid: target.name: Required value',
            {
                "name": name,
                "kind": "Binding",
                "causes": [{"reason": "FieldValueRequired", "field": "target.name"}],
            },
        )
    pod = store.get(res, namespace, name)
    node = node_name()
    if target["name"] != node:
        raise not_found("nodes", target["name"])
    if pod["spec"].get("nodeName"):
        raise conflict(
            "pods/binding", name, f'pod {name} is already assigned to node "{pod["spec"]["nodeName"]}"'
        )
    if pod["spec"].get("schedulingGates"):
        raise ApiError(
            500, "InternalError", f"Internal error occurred: pod {name} has non-empty .spec.schedulingGates"
        )
    if dry_run:
        return _success()
    w = manager.worker(namespace, name)
    w.record.spec["nodeName"] = node
    w.rt.scheduled, w.rt.refusal = True, None
    w.rt.conditions["PodScheduled"] = Condition(True, rfc3339())
    w.save()
    w.wake.set()
    return _success()
