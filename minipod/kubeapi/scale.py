"""The `scale` subresource: GET, PUT and PATCH of an autoscaling/v1 Scale
that stands for a Deployment's or ReplicaSet's spec.replicas
(`kubectl scale` patches it).

Steps of a write: read the Scale of the live object, apply the body (a
whole Scale, or a patch of one), and update the object's spec.replicas
through the store, which checks the resourceVersion and bumps generation.
"""

import jsonpatch

from minipod.api.status import body_text
from minipod.kube.yaml_load import load_one
from minipod.kubeapi import patches
from minipod.objects.apps import scale_of, with_scale
from minipod.objects.errors import ApiError, bad_request


async def handle(request, t, respond):
    store = request.app["cluster"].store
    live = store.get(t.res, t.namespace, t.name)
    if request.method == "GET":
        return respond(request, scale_of(live))
    if request.method not in ("PUT", "PATCH"):
        raise ApiError(
            405,
            "MethodNotAllowed",
            f"the server does not allow this method on the requested resource ({request.method})",
        )
    try:
        body = load_one(await body_text(request))
    except Exception as e:  # noqa: BLE001 - any decoding problem is the client's 400
        raise bad_request(f"the body of the request could not be decoded: {e}") from None
    current = scale_of(live)
    if request.method == "PUT":
        scale = body
    elif request.content_type == "application/json-patch+json":
        try:
            scale = jsonpatch.apply_patch(current, body)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError) as e:
            raise ApiError(
                422, "Invalid", f"the server rejected our request due to an error in our request: {e}"
            ) from None
    elif request.content_type in patches.TYPES and isinstance(body, dict):
        scale = patches.merge_patch(current, body)  # a Scale has no lists: strategic is a merge
    else:
        raise bad_request("the patch must be a JSON object")
    if not isinstance(scale, dict):
        raise bad_request("the body of the request must be an object")
    dry = bool(request.query.getall("dryRun", []))
    updated = store.update(t.res, with_scale(live, scale), t.namespace, t.name, dry)
    return respond(request, scale_of(updated))
