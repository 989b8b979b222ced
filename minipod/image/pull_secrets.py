"""imagePullSecrets: the registry credentials a Secret holds.

A Pod's `imagePullSecrets` name Secrets of its namespace (kept in the object
store, like every Secret); docker_config() reads their credentials:
    kubernetes.io/dockerconfigjson   data[".dockerconfigjson"]: {"auths": {...}}
    kubernetes.io/dockercfg          data[".dockercfg"]: the older {...auths...}
"""

import base64
import json


def docker_config(secret: dict) -> dict | None:
    """The {"auths": ...} document of a registry Secret, or None."""
    data = secret.get("data") or {}
    try:
        if ".dockerconfigjson" in data:
            return json.loads(base64.b64decode(data[".dockerconfigjson"]))
        if ".dockercfg" in data:
            return {"auths": json.loads(base64.b64decode(data[".dockercfg"]))}
    except ValueError:
        return None
    return None
