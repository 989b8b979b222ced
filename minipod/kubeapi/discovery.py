"""Discovery, as kubectl reads it: which groups, versions and resources
this server has.

    /version                       the Kubernetes version served (nodes.KUBE_VERSION)
    /api, /apis                    APIVersions, APIGroupList; or, when the client
                                   asks for it (Accept: ...;as=APIGroupDiscoveryList),
                                   the aggregated discovery document (v2)
    /api/v1, /apis/GROUP/VERSION   APIResourceList
Everything here is derived from the resource table (objects/resources.py).
"""

import hashlib
import platform
from typing import Any

from minipod import __version__
from minipod.objects import resources as kinds
from minipod.objects.nodes import KUBE_VERSION

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

SUBRESOURCE_VERBS = {
    "status": ["get", "patch", "update"],
    "log": ["get"],
    "exec": ["create", "get"],
    "attach": ["create", "get"],
    "portforward": ["create", "get"],
    "eviction": ["create"],
    "binding": ["create"],
    "finalize": ["update"],
    "scale": ["get", "patch", "update"],
    "token": ["create"],
}
SUBRESOURCE_KIND = {
    "log": "Pod",
    "exec": "PodExecOptions",
    "attach": "PodAttachOptions",
    "portforward": "PodPortForwardOptions",
    "eviction": "Eviction",
    "binding": "Binding",
    "scale": "Scale",
    "token": "TokenRequest",
}
# Subresources whose kind is of another group: kubectl drain looks for
# pods/eviction with its group and version, else it deletes the pods.
SUBRESOURCE_GROUP_VERSION = {
    "eviction": ("policy", "v1"),
    "scale": ("autoscaling", "v1"),
    "token": ("authentication.k8s.io", "v1"),
}


def subresource_group_version(res: kinds.Resource, sub: str) -> tuple[str, str]:
    if sub in SUBRESOURCE_GROUP_VERSION:
        return SUBRESOURCE_GROUP_VERSION[sub]
    return ("", "v1") if sub in SUBRESOURCE_KIND else (res.group, res.version)


def version_info() -> dict:
    major, minor = KUBE_VERSION.lstrip("v").split(".")[:2]
    return {
        "major": major,
        "minor": minor,
        "gitVersion": KUBE_VERSION,
        "gitCommit": f"minipod-{__version__}",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": f"python{platform.python_version()}",
        "compiler": "cpython",
        "platform": f"linux/{ {'x86_64': 'amd64', 'aarch64': 'arm64'}.get(platform.machine(), platform.machine()) }",
    }


def _hash(res: kinds.Resource) -> str:
    import base64

    digest = hashlib.sha256(f"{res.group}/{res.version}/{res.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _served(group: str, version: str) -> list[kinds.Resource]:
    return [r for r in kinds.RESOURCES if r.group == group and r.version == version]


def api_versions(address: str) -> dict:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def api_group_list() -> dict:
    groups = []
    for group, versions in kinds.groups().items():
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        groups.append({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def resource_list(group: str, version: str) -> dict | None:
    served = _served(group, version)
    if not served:
        return None
    out = []
    for r in served:
        out.append(
            {
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": list(r.verbs),
                **({"shortNames": list(r.short_names)} if r.short_names else {}),
                **({"categories": list(r.categories)} if r.categories else {}),
                "storageVersionHash": _hash(r),
            }
        )
        for sub in r.subresources:
            out.append(
                {
                    "name": f"{r.plural}/{sub}",
                    "singularName": "",
                    "namespaced": r.namespaced,
                    **(
                        dict(zip(("group", "version"), SUBRESOURCE_GROUP_VERSION[sub], strict=True))
                        if sub in SUBRESOURCE_GROUP_VERSION
                        else {}
                    ),
                    "kind": SUBRESOURCE_KIND.get(sub, r.kind),
                    "verbs": SUBRESOURCE_VERBS.get(sub, ["get"]),
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": out,
    }


def _discovery_resource(r: kinds.Resource) -> dict:
    doc: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        doc["shortNames"] = list(r.short_names)
    if r.categories:
        doc["categories"] = list(r.categories)
    if r.subresources:
        doc["subresources"] = [
            {
                "subresource": sub,
                "responseKind": {
                    "group": SUBRESOURCE_GROUP_VERSION.get(
                        sub, ("" if sub in SUBRESOURCE_KIND else r.group,)
                    )[0],
                    "version": SUBRESOURCE_GROUP_VERSION.get(
                        sub, ("", "v1" if sub in SUBRESOURCE_KIND else r.version)
                    )[1],
                    "kind": SUBRESOURCE_KIND.get(sub, r.kind),
                },
                "verbs": SUBRESOURCE_VERBS.get(sub, ["get"]),
            }
            for sub in r.subresources
        ]
    return doc


def aggregated(core: bool) -> dict:
    """The APIGroupDiscoveryList of /api (core=True) or /apis."""
    if core:
        groups = {"": ["v1"]}
    else:
        groups = kinds.groups()
    items = []
    for group, versions in groups.items():
        items.append(
            {
                "metadata": {"name": group, "creationTimestamp": None},
                "versions": [
                    {
                        "version": v,
                        "resources": [_discovery_resource(r) for r in _served(group, v)],
                        "freshness": "Current",
                    }
                    for v in versions
                ],
            }
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def wants_aggregated(accept: str) -> bool:
    return "as=APIGroupDiscoveryList" in accept and "v=v2" in accept
