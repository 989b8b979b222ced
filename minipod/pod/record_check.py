"""Can a saved pod record be placed? The check a restarting daemon makes.

A state file the daemon cannot place (unreadable, not a pod, a namespace or
name that is not a valid DNS name, or a file name that does not match the
pod inside) is reported by the daemon, not silently dropped: its pod may
still have processes, a netns and a lease that nobody manages any more.

misplaced_record_problem(entry, record) -> None when the record is fine,
else one line saying what is wrong with it. Pure: no I/O.
"""

from typing import Any

from minipod.kube import names
from minipod.paths import object_file


def misplaced_record_problem(entry: str, record: Any) -> str | None:
    if not entry.endswith(".json"):
        return "not a pod state file (NAMESPACE_NAME.json)"
    if not isinstance(record, dict) or not isinstance(record.get("metadata"), dict):
        return "not a pod record"
    meta = record["metadata"]
    ns, name = meta.get("namespace"), meta.get("name")
    if not isinstance(ns, str) or not ns or names.dns_label_problems(ns):
        return f"its metadata.namespace {ns!r} is not a valid namespace"
    if not isinstance(name, str) or not name or names.dns_subdomain_problems(name):
        return f"its metadata.name {name!r} is not a valid pod name"
    if not isinstance(meta.get("uid"), str) or not isinstance(record.get("runtime"), dict):
        return "it has no uid or no runtime facts"
    if object_file(ns, name) != entry:
        return f"it holds pod {ns}/{name}, whose file would be {object_file(ns, name)}"
    return None
