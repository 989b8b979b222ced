"""The pod-template-hash: how a Deployment names the ReplicaSet of each
template (`web-7d4b9c8f6d`) and labels its pods. Pure.

As kube-controller-manager's controller.ComputeHash: FNV-32a over the pod
template, then over the collisionCount (when set) as 8 little-endian bytes,
and the decimal digits of the 32-bit sum rendered with the API server's
"safe" alphabet (no vowels, no look-alike digits), so a hash never spells
a word. Kubernetes feeds FNV a dump of the Go struct; minipod feeds it the
template's canonical JSON (sorted keys), so the hash of a given template is
stable across restarts here, but differs from a real cluster's.
"""

import json

SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand
LABEL = "pod-template-hash"

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193


def fnv32a(data: bytes, h: int = FNV_OFFSET) -> int:
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: each byte picks a character of the alphabet."""
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in text.encode())


def compute_hash(template: dict, collision_count: int | None = None) -> str:
    h = fnv32a(json.dumps(template, sort_keys=True, separators=(",", ":")).encode())
    if collision_count is not None:
        h = fnv32a((collision_count & 0xFFFFFFFF).to_bytes(4, "little") + bytes(4), h)
    return safe_encode(str(h))


def without_hash(template: dict) -> dict:
    """The template with no pod-template-hash label (EqualIgnoreHash)."""
    meta = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != LABEL}
    if labels:
        meta["labels"] = labels
    else:
        meta.pop("labels", None)
    return dict(template, metadata=meta)
