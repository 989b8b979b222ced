"""ipMasq: one masquerade rule per subnet and a set of the pods' addresses.

A pod's traffic that leaves the pod subnet goes out with the host's
address (the reference bridge plugin's ipMasq). Per pod, this is one
element in a named set of table ip minipod-NETWORK (nft.py):

    set masq_10_85_0_0_16 { type ipv4_addr; elements = { 10.85.0.5
                            comment "masq CONTAINERID IFNAME", ... } }
    chain postrouting {  ... ip saddr @masq_10_85_0_0_16
                         ip daddr != { 10.85.0.0/16, 224.0.0.0/4 } masquerade }

so an ADD adds an element and a DEL deletes it, by its address, without
listing anything: the kernel finds an element in a hash. (One rule per pod,
found by its comment, cost a listing of the whole table per DEL, longer
the more pods run.) The element's comment names its attachment, for
CHECK, GC and a DEL that has no result to go by.

Steps of add(), in order, in one transaction:
    1. the first time this process adds to the set: the table, the
       postrouting chain, `create set` (fails if it exists: then the rule
       exists too, made by whoever created it) and the rule, in the same
       transaction as the element, so a set never lacks its rule
       (libnftables, nft.py);
    2. later: the element alone, packed here and sent over netfilter
       netlink (nft_elements.py), ~0.2 ms instead of libnftables' ~1. A
       set gone since (a DEL dropped the table) makes that fail with
       ENOENT: step 1 again. Deletes go the same way.
Steps of delete(): the elements by address; ENOENT (no such set or
element) is reported as False, and the caller looks the attachment's
elements and rules up by comment: slow_remove(), which also removes the
per-pod comment rules that older minipods made (tables they left behind
are cleaned up that way, one pod at a time, on DEL).

Batching. Pods started or deleted together make their element changes in
one transaction: inside an event loop the first caller queues its change
and waits one loop turn (loop.call_soon), then one nft transaction carries
every change queued meanwhile. If it fails, each change runs alone, so
each caller gets its own error and one bad pod does not fail the others.
The CNI executables, with a loop of their own per call, send one each.

Every transaction runs under nft.py's flock, as every change to the table.
"""

import asyncio
import os
from dataclasses import dataclass

from minipod import trace
from minipod.network import nft, nft_elements

MULTICAST = "224.0.0.0/4"


@dataclass(frozen=True)
class Change:
    """One element to add or delete: the pod's address in the set of its subnet."""

    verb: str  # "add" | "delete"
    table: str
    subnet: str  # "10.85.0.0/16"
    ip: str
    who: str = ""  # nft.owner(): the element's comment


def set_name(subnet: str) -> str:
    """The set of a subnet's pods: masq_10_85_0_0_16."""
    return "masq_" + subnet.replace(".", "_").replace("/", "_")


def _is_missing(e: nft.NftError) -> bool:
    return "No such file or directory" in str(e)


def _elements(changes: list[Change]) -> list[dict]:
    """One add or delete element command per (verb, table, set)."""
    groups: dict[tuple[str, str, str], list] = {}
    for c in changes:
        elem = {"elem": {"val": c.ip, "comment": f"{nft.MASQ} {c.who}"}} if c.verb == "add" else c.ip
        groups.setdefault((c.verb, c.table, set_name(c.subnet)), []).append(elem)
    return [
        {verb: {"element": {"family": nft.FAMILY, "table": table, "name": name, "elem": elems}}}
        for (verb, table, name), elems in groups.items()
    ]


def _send_elements(changes: list[Change], what: str) -> None:
    """The elements alone, over netfilter netlink directly (nft_elements.py:
    ~0.2 ms where libnftables takes ~1 ms); NftError as nft.run raises it."""
    groups: dict[tuple[str, str, str], list[tuple[str, str | None]]] = {}
    for c in changes:
        comment = f"{nft.MASQ} {c.who}" if c.verb == "add" else None
        groups.setdefault((c.verb, c.table, set_name(c.subnet)), []).append((c.ip, comment))
    try:
        with trace.span(f"nft {what}", "one netfilter netlink batch"):
            code = nft_elements.send([(v, t, s, elems) for (v, t, s), elems in groups.items()])
    except ValueError as e:  # not an IPv4 address
        raise nft.NftError(f"nft {what}: {e}") from None
    except OSError as e:
        raise nft.NftError(f"nft {what}: netfilter netlink: {e.strerror or e}") from None
    if code:
        raise nft.NftError(f"nft {what}: {os.strerror(code)}")


def _skeleton(table: str, subnet: str) -> list[dict]:
    """Table, chain, a new set and its rule: step 1 of add()."""
    name = set_name(subnet)
    expr = [
        nft.match(nft.payload("ip", "saddr"), f"@{name}"),
        nft.match(nft.payload("ip", "daddr"), nft.prefixes([subnet, MULTICAST]), "!="),
        {"masquerade": None},
    ]
    return nft.skeleton(table, ["postrouting"]) + [
        {"create": {"set": {"family": nft.FAMILY, "table": table, "name": name, "type": "ipv4_addr"}}},
        {"add": {"rule": nft.rule(table, "postrouting", expr, f"{nft.MASQ} pods {subnet}")}},
    ]


# Sets this process made or found, so an ADD sends its element alone.
_known: set[tuple[str, str]] = set()


def forget(table: str) -> None:
    """The table was dropped (nft.delete_table): its sets must be made again."""
    for key in [k for k in _known if k[0] == table]:
        _known.discard(key)


def apply(changes: list[Change]) -> None:
    """Run `changes` as one transaction (under the lock), making the sets the
    adds need; raises NftError. A delete of a missing element fails the
    whole transaction with ENOENT, as `nft delete element` does."""
    with nft.locked():
        _apply_locked(changes)


def _apply_locked(changes: list[Change]) -> None:
    what = f"{changes[0].verb} {len(changes)} masquerade element(s) in table {nft.FAMILY} {changes[0].table}"
    new = {(c.table, c.subnet) for c in changes if c.verb == "add"} - _known
    if not new:
        try:
            _send_elements(changes, what)
            return
        except nft.NftError as e:
            if not _is_missing(e) or all(c.verb == "delete" for c in changes):
                raise
            new = {(c.table, c.subnet) for c in changes if c.verb == "add"}  # dropped since
    skeleton = [cmd for table, subnet in sorted(new) for cmd in _skeleton(table, subnet)]
    try:
        nft.run(skeleton + _elements(changes), what)
    except nft.NftError as e:
        if "File exists" not in str(e):
            raise
        # Another process created a set first (with its rule): make those
        # that are missing one by one, then the elements alone.
        for table, subnet in sorted(new):
            try:
                nft.run(_skeleton(table, subnet), f"create set {set_name(subnet)} in {table}")
            except nft.NftError as e2:
                if "File exists" not in str(e2):
                    raise
        nft.run(_elements(changes), what)
    _known.update(new)


# --- batching on the event loop ---------------------------------------------------


_queue: list[tuple[Change, asyncio.Future]] = []


def _flush() -> None:
    batch = _queue[:]
    _queue.clear()
    results: list[BaseException | None]
    try:
        apply([c for c, _ in batch])
        results = [None] * len(batch)
    except Exception:  # noqa: BLE001 - each caller gets its own error below
        # Each alone now: each caller gets its own error.
        results = []
        for c, _ in batch:
            try:
                apply([c])
                results.append(None)
            except Exception as e:  # noqa: BLE001 - handed to its caller, never lost
                results.append(e)
    for (_, fut), err in zip(batch, results, strict=True):
        if fut.done():  # its caller was cancelled
            continue
        if err is None:
            fut.set_result(None)
        else:
            fut.set_exception(err)


async def submit(change: Change) -> None:
    """Queue `change` for the transaction of this loop turn and wait for it."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    if not _queue:
        loop.call_soon(_flush)
    _queue.append((change, fut))
    await fut


# --- what the bridge plugin asks for ------------------------------------------------


async def add(table: str, subnet: str, ip: str, who: str) -> None:
    """The pod `ip` of `subnet` masqueraded (batched with this loop turn's)."""
    await submit(Change("add", table, subnet, ip, who))


async def delete(table: str, subnet: str, ip: str) -> bool:
    """The element of `ip` deleted; False if it (or its set) is missing:
    then call slow_remove()."""
    try:
        await submit(Change("delete", table, subnet, ip))
        return True
    except nft.NftError as e:
        if _is_missing(e):
            return False
        raise


def _set_elements(obj: dict) -> list[tuple[str, str]]:
    """(address, comment) of each element of a listed set."""
    out = []
    for e in obj.get("elem") or []:
        inner = e.get("elem", {}) if isinstance(e, dict) else {}
        val = inner.get("val", e) if isinstance(e, dict) else e
        if isinstance(val, str):
            out.append((val, inner.get("comment") or ""))
    return out


def slow_remove(table: str, who: str | None = None, keep: set[str] | None = None) -> int:
    """By comment, from a listing of the table: the elements (and the per-pod
    rules of older minipods) of attachment `who`, or for GC of every
    attachment not in `keep`. A missing table is success. Returns how many."""
    with nft.locked():
        try:
            listed = nft.run([{"list": {"table": {"family": nft.FAMILY, "name": table}}}], f"list {table}")
        except nft.NftError as e:
            if _is_missing(e):
                return 0
            raise

        def doomed(comment: str) -> bool:
            kind, _, w = comment.partition(" ")
            return (
                kind == nft.MASQ
                and w != "pods"
                and not w.startswith("pods ")
                and (w == who if who is not None else keep is not None and w not in keep)
            )

        cmds = []
        for o in listed:
            if "set" in o and o["set"]["name"].startswith("masq_"):
                gone = [ip for ip, comment in _set_elements(o["set"]) if doomed(comment)]
                if gone:
                    spec = {"family": nft.FAMILY, "table": table, "name": o["set"]["name"], "elem": gone}
                    cmds.append({"delete": {"element": spec}})
            elif "rule" in o and doomed(o["rule"].get("comment") or ""):
                r = o["rule"]
                spec = {"family": nft.FAMILY, "table": table, "chain": r["chain"], "handle": r["handle"]}
                cmds.append({"delete": {"rule": spec}})
        if cmds:
            nft.run(cmds, f"delete masquerade of {who or 'stale attachments'} from {table}")
        return sum(len(c["delete"]["element"]["elem"]) if "element" in c["delete"] else 1 for c in cmds)


def has(table: str, ip: str, who: str) -> bool:
    """CHECK: `ip` is in its set with `who`'s comment and the set has its
    rule, or an older minipod's rule for `who` is there."""
    try:
        listed = nft.run([{"list": {"table": {"family": nft.FAMILY, "name": table}}}], f"list {table}")
    except nft.NftError as e:
        if _is_missing(e):
            return False
        raise
    rules = [o["rule"] for o in listed if "rule" in o]
    if any(r.get("comment") == f"{nft.MASQ} {who}" for r in rules):
        return True
    for o in listed:
        if "set" in o and o["set"]["name"].startswith("masq_"):
            name = o["set"]["name"]
            ruled = any(f'"@{name}"' in str(r.get("expr")).replace("'", '"') for r in rules)
            if ruled and (ip, f"{nft.MASQ} {who}") in _set_elements(o["set"]):
                return True
    return False


__all__ = ["Change", "set_name", "apply", "submit", "add", "delete", "slow_remove", "has", "forget"]
