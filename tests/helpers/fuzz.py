"""Mutated manifests and API requests, from a seed, for the fuzz test and
bench/bench_fuzz.py. Nothing here talks to a daemon: each function returns
what to send.

    manifest_bodies(rng, n)   n manifest bodies (bytes): valid pods with
                              one or two values replaced, keys dropped or
                              added, and text-level damage (bad UTF-8,
                              duplicate keys, alias bombs, deep nesting,
                              huge strings, truncation)
    api_requests(rng, n)      n (method, path, body) for every route, with
                              hostile names, query parameters and bodies
"""

import copy
import json
import urllib.parse

import yaml

# The pods the mutations start from: every container uses an image that is
# never pulled, so an accepted pod costs a sandbox, not a container.
BASE_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "fuzz", "labels": {"app": "fuzz"}, "annotations": {"a": "b"}},
    "spec": {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 0,
        "securityContext": {"runAsUser": 1000, "fsGroup": 2000},
        "volumes": [{"name": "data", "emptyDir": {}}],
        "initContainers": [{"name": "init", "image": "fuzz.invalid/none:1", "imagePullPolicy": "Never"}],
        "containers": [
            {
                "name": "main",
                "image": "fuzz.invalid/none:1",
                "imagePullPolicy": "Never",
                "command": ["sh", "-c", "sleep 1"],
                "env": [{"name": "A", "value": "1"}],
                "ports": [{"containerPort": 80, "name": "http"}],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 5},
                "securityContext": {"runAsGroup": 1000},
            }
        ],
    },
}

NASTY_STRINGS = [
    "",
    "..",
    "../..",
    "a/b",
    "x\0y",
    "Caps",
    "-x",
    "a" * 64,
    "b" * 300,
    "é",
    "\u202e",
    "%00",
    "a=b",
    "*",
    "<script>",
    "' OR 1=1",
    "\n",
    "😀",
]


def nasty_value(rng):
    pick = rng.randrange(12)
    if pick == 0:
        return None
    if pick == 1:
        return rng.choice([-1, 0, 2**31, 2**63, -(2**63) - 1, 10**400, 65536])
    if pick == 2:
        return rng.choice([True, False])
    if pick == 3:
        return rng.random() * 1e10
    if pick == 4:
        return []
    if pick == 5:
        return {}
    if pick == 6:
        return [rng.choice(NASTY_STRINGS), None, 3]
    if pick == 7:
        return {rng.choice(NASTY_STRINGS) or "k": rng.choice(NASTY_STRINGS)}
    if pick == 8:
        return "x" * rng.choice([1000, 70_000, 300_000])
    return rng.choice(NASTY_STRINGS)


def _paths(doc, prefix=()):
    """Every (path, value) inside doc."""
    yield prefix, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


def mutate(rng, doc):
    doc = copy.deepcopy(doc)
    for _ in range(rng.choice([1, 1, 2, 3])):
        paths = [p for p, _ in _paths(doc) if p]
        path = rng.choice(paths)
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        what = rng.randrange(4)
        if what == 0 and isinstance(parent, dict):
            del parent[path[-1]]
        elif what == 1 and isinstance(parent, dict):
            parent[rng.choice(NASTY_STRINGS) or "extra"] = nasty_value(rng)
        else:
            parent[path[-1]] = nasty_value(rng)
    return doc


def _dump(doc) -> bytes:
    return yaml.safe_dump(doc, allow_unicode=True, width=1 << 20).encode()


def text_damage(rng, body: bytes) -> bytes:
    pick = rng.randrange(9)
    if pick == 0:
        return body[: rng.randrange(len(body))]
    if pick == 1:
        at = rng.randrange(len(body))
        return body[:at] + bytes([rng.randrange(128, 256)]) + body[at:]
    if pick == 2:  # a duplicate key
        return body.replace(b"  name: ", b"  name: dup\n  name: ", 1)
    if pick == 3:  # an alias bomb
        lines = [b'a0: &a0 ["' + b"x" * 100 + b'"]']
        lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]".encode() for i in range(1, 12)]
        return b"\n".join(lines) + b"\n"
    if pick == 4:
        return b"a: " + b"[" * 2000 + b"]" * 2000
    if pick == 5:
        return b"kind: List\nitems: [null, 1, 'x', [], {kind: Pod}]\n"
    if pick == 6:
        return json.dumps(BASE_POD).encode()[:-1]
    if pick == 7:
        return body + b"---\n" + body
    return b"\xff\xfe" + body


def manifest_bodies(rng, n: int) -> list[tuple[str, bytes]]:
    """(namespace query value, body) pairs."""
    out = []
    for i in range(n):
        doc = copy.deepcopy(BASE_POD)
        doc["metadata"]["name"] = f"fuzz-{i}"
        body = _dump(mutate(rng, doc)) if rng.random() < 0.8 else text_damage(rng, _dump(doc))
        namespace = rng.choice(NASTY_STRINGS) if rng.random() < 0.15 else "fuzz"
        out.append((namespace, body))
    return out


def _segment(rng) -> str:
    return urllib.parse.quote(rng.choice(NASTY_STRINGS + ["fuzz-1", "default", "none"]) or "x", safe="")


def _query(rng) -> str:
    keys = [
        "gracePeriodSeconds",
        "tailLines",
        "limitBytes",
        "previous",
        "container",
        "labelSelector",
        "fieldSelector",
        "namespace",
        "timeout",
        "wait",
        "ref",
        "command",
        "stdin",
        "tty",
    ]
    pairs = [
        (rng.choice(keys), rng.choice(NASTY_STRINGS + ["1", "-1", "abc", "1e999", "nan", "true"]))
        for _ in range(rng.randrange(3))
    ]
    return urllib.parse.urlencode(pairs)


def api_requests(rng, n: int) -> list[tuple[str, str, bytes | None]]:
    out = []
    for _ in range(n):
        ns, name = _segment(rng), _segment(rng)
        path = rng.choice(
            [
                f"/api/v1/namespaces/{ns}/pods",
                f"/api/v1/namespaces/{ns}/pods/{name}",
                f"/api/v1/namespaces/{ns}/pods/{name}/log",
                f"/api/v1/namespaces/{ns}/pods/{name}/exec",
                f"/api/v1/namespaces/{ns}/events",
                f"/minipod/v1/namespaces/{ns}/pods/{name}/inspect",
                f"/api/v1/namespaces/{ns}/secrets/{name}",
                "/api/v1/pods",
                "/api/v1/events",
                "/minipod/v1/images",
                "/minipod/v1/images/import",
                "/minipod/v1/apply",
                "/version",
                f"/{name}/{ns}",
            ]
        )
        method = rng.choice(["GET", "GET", "DELETE", "POST", "PUT", "PATCH"])
        body = rng.choice(
            [None, b"", b"{}", b"[]", b"\xff", b'{"path": "/nonexistent"}', b'{"path": 3}', b"null"]
        )
        query = _query(rng)
        out.append((method, path + (f"?{query}" if query else ""), body))
    return out


# --- the Kubernetes API (HTTPS) -----------------------------------------------------

KUBE_KINDS = ["pods", "configmaps", "secrets", "services", "namespaces", "events"]
CONTENT_TYPES = [
    "application/json",
    "application/yaml",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
    "text/plain",
    "application/vnd.kubernetes.protobuf",
]


def kube_requests(rng, n: int) -> list[tuple[str, str, bytes | None, str]]:
    """(method, path, body, content type) for the Kubernetes API: every verb
    on a few kinds, mutated objects, hostile names, queries and patches.
    Never a watch or a stream: each request must end by itself."""
    out = []
    for i in range(n):
        ns = rng.choice(["fuzz"] * 4 + [_segment(rng)])
        kind = rng.choice(KUBE_KINDS)
        name = rng.choice([f"fuzz-{i}", "fuzz-1", _segment(rng)])
        base = f"/api/v1/namespaces/{ns}/{kind}"
        method = rng.choice(["GET", "POST", "POST", "PUT", "PATCH", "PATCH", "DELETE"])
        path = base if method == "POST" or rng.random() < 0.2 else f"{base}/{name}"
        if rng.random() < 0.1:
            path = rng.choice(
                ["/api/v1/pods", "/apis", "/api", "/apis/apps/v1", "/version", f"{base}/{name}/status"]
            )
        doc = (
            copy.deepcopy(BASE_POD)
            if kind == "pods"
            else {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}}
        )
        doc.setdefault("metadata", {})["name"] = f"fuzz-{i}"
        if rng.random() < 0.8:
            doc = mutate(rng, doc)
        body = json.dumps(doc).encode() if rng.random() < 0.7 else text_damage(rng, _dump(doc))
        if method == "PATCH" and rng.random() < 0.5:
            body = rng.choice(
                [
                    b'[{"op": "replace", "path": "/metadata/labels/a", "value": 1}]',
                    b"[1]",
                    b'{"spec": null}',
                    b"[]",
                    b'{"metadata": {"labels": {"a": null}}}',
                ]
            )
        if method in ("GET", "DELETE") and rng.random() < 0.7:
            body = None
        query = _query(rng) if rng.random() < 0.5 else ""
        extra = rng.choice(
            [
                "",
                "dryRun=All",
                "fieldValidation=Strict",
                "limit=abc",
                "limit=-1",
                "continue=%00",
                "resourceVersion=x",
                "fieldManager=%FF",
                "propagationPolicy=Sideways",
            ]
        )
        query = "&".join(q for q in (query, extra) if q)
        out.append((method, path + (f"?{query}" if query else ""), body, rng.choice(CONTENT_TYPES)))
    return out
