"""nftables rules of the pod network, through libnftables' JSON API.

All of minipod's rules for a network live in one table of its own,
`table ip minipod-NETWORK`, so nothing here ever reads or changes another
table (podman's, docker's, a firewall's). The table holds these chains:

    postrouting  nat, hook postrouting, priority srcnat (100)
                 masquerade rules: a pod's traffic leaving the pod subnet
                 (ipMasq: one rule per subnet and a set of the pods'
                 addresses, masquerade.py), and hostPort traffic that must
                 come back through the host (from 127.0.0.0/8, or a pod
                 reaching a pod, itself included, through a hostPort)
    prerouting   nat, hook prerouting, priority dstnat (-100):
                 `fib daddr type local jump hostports`
    output       nat, hook output, priority dstnat (-100): the same, for
                 connections the host itself opens (to 127.0.0.1 too)
    hostports    one DNAT rule per port mapping: [ip daddr HOSTIP]
                 tcp|udp dport HOSTPORT dnat to POD_IP:CONTAINERPORT

Each hostPort rule carries a comment "hostport CONTAINERID IFNAME": DEL
lists the two chains that hold them (never the whole table) and deletes
exactly the attachment's rules by handle, never another container's, even
one that now has the same IP. When no rule of a pod is left, the table
itself is deleted (drop_table_if(), or the last hostPort DEL). Every
change happens under an exclusive flock(2) on LOCK_PATH, so a DEL that
drops the table cannot race an ADD that adds to it, across processes.

Steps of add_port_mappings(), in order, in one nft transaction (all or
nothing): add table, add chains (idempotent), flush+refill the two jump
rules, add the attachment's rules.

libnftables' Python binding is the Debian package python3-nftables
(`import nftables`, or loaded from the system's dist-packages when the
virtualenv does not see them); without it the same JSON goes through
`nft -j -f -`.
"""

import contextlib
import hashlib
import importlib.util
import ipaddress
import json
import os
import subprocess
import sys
from collections.abc import Iterator

from minipod import trace
from minipod.errors import MinipodError
from minipod.fsutil import flocked

FAMILY = "ip"
LOCK_PATH = "/run/lock/minipod-nft.lock"
MASQ, HOSTPORT = "masq", "hostport"

_BASE_CHAINS = {
    "postrouting": {"type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"},
    "prerouting": {"type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"},
    "output": {"type": "nat", "hook": "output", "prio": -100, "policy": "accept"},
}


class NftError(MinipodError):
    """An nftables command failed; the message has nft's own error text."""


class PortInUse(NftError):
    """A hostPort is mapped for another attachment already."""


def table_name(network: str) -> str:
    """The table of a network: `minipod-NETWORK`."""
    return f"minipod-{network}"


def owner(cid: str, ifname: str) -> str:
    """The part of a rule comment that names its attachment. nft comments
    hold 128 bytes; an id too long for that is replaced by its hash."""
    text = f"{cid} {ifname}"
    if len(text) > 110:
        text = "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:40]
    return text


# --- running nft ------------------------------------------------------------------

_ctx = None
# Where Debian's python3-nftables lives, for a virtualenv that does not see
# the system's site-packages: the module is pure Python (over the C
# library libnftables1), so loading it from there is safe.
_SYSTEM_SITE_DIRS = ("/usr/lib/python3/dist-packages",)


def _import_nftables():
    try:
        import nftables

        return nftables
    except ImportError:
        pass
    for d in _SYSTEM_SITE_DIRS:
        init = os.path.join(d, "nftables", "__init__.py")
        if os.path.exists(init):
            spec = importlib.util.spec_from_file_location(
                "nftables", init, submodule_search_locations=[os.path.dirname(init)]
            )
            mod = importlib.util.module_from_spec(spec)
            sys.modules["nftables"] = mod
            try:
                spec.loader.exec_module(mod)
                return mod
            except Exception:
                del sys.modules["nftables"]
    return None


def _context():
    """One libnftables context per process (creating one costs ~1 ms); False
    when the binding is missing, and `nft -j -f -` is run instead (~5 ms a
    call more)."""
    global _ctx
    if _ctx is None:
        mod = _import_nftables()
        try:
            _ctx = mod.Nftables() if mod else False
        except OSError:  # libnftables.so.1 itself is missing
            _ctx = False
        if _ctx:
            _ctx.set_json_output(True)
    return _ctx


def run(commands: list[dict], what: str) -> list[dict]:
    """Run JSON commands as one transaction; the "nftables" output list."""
    with trace.span(f"nft {what}"):
        return _run(commands, what)


def _run(commands: list[dict], what: str) -> list[dict]:
    doc = {"nftables": commands}
    ctx = _context()
    if ctx:
        rc, out, err = ctx.json_cmd(doc)
    else:
        try:
            p = subprocess.run(
                ["nft", "-j", "-f", "-"], input=json.dumps(doc), text=True, capture_output=True, timeout=30
            )
        except OSError as e:
            raise NftError(f"nft {what}: cannot run nft: {e.strerror}") from None
        rc, err = p.returncode, p.stderr
        out = json.loads(p.stdout) if p.stdout.strip() else ""
    if rc != 0:
        raise NftError(f"nft {what}: {(err or '').strip().splitlines()[0] if err else rc}")
    return out.get("nftables", []) if isinstance(out, dict) else []


def run_script(text: str, what: str) -> None:
    """Run nft's own language (`nft -f`) as one transaction: for rulesets
    whose verdict maps and concatenations read better as text
    (minipod/services/proxy_rules.py)."""
    ctx = _context()
    if ctx:
        rc, _, err = ctx.cmd(text)
    else:
        try:
            p = subprocess.run(["nft", "-f", "-"], input=text, text=True, capture_output=True, timeout=30)
        except OSError as e:
            raise NftError(f"nft {what}: cannot run nft: {e.strerror}") from None
        rc, err = p.returncode, p.stderr
    if rc != 0:
        raise NftError(f"nft {what}: {(err or '').strip().splitlines()[0] if err else rc}")


@contextlib.contextmanager
def locked() -> Iterator[None]:
    os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
    with flocked(LOCK_PATH):
        yield


# --- expressions --------------------------------------------------------------------


def match(left: dict, right, op: str = "==") -> dict:
    return {"match": {"op": op, "left": left, "right": right}}


def payload(proto: str, field: str) -> dict:
    return {"payload": {"protocol": proto, "field": field}}


def prefixes(cidrs: list[str]) -> dict:
    nets = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    return {"set": [{"prefix": {"addr": str(n.network_address), "len": n.prefixlen}} for n in nets]}


def rule(table: str, chain: str, expr: list, comment: str) -> dict:
    return {"family": FAMILY, "table": table, "chain": chain, "expr": expr, "comment": comment}


def skeleton(table: str, chains: list[str]) -> list[dict]:
    cmds: list[dict] = [{"add": {"table": {"family": FAMILY, "name": table}}}]
    for c in chains:
        spec = {"family": FAMILY, "table": table, "name": c, **_BASE_CHAINS.get(c, {})}
        cmds.append({"add": {"chain": spec}})
    return cmds


# --- what the plugins ask for ----------------------------------------------------------


def add_port_mappings(
    table: str, who: str, pod_ip: str, subnet: str, mappings: list[dict], snat: bool = True
) -> None:
    """hostPort DNAT rules for one pod (mappings already validated:
    hostPort, containerPort, protocol, hostIP)."""
    cmds = skeleton(table, ["hostports", "prerouting", "output", "postrouting"])
    jump = [
        match({"fib": {"result": "type", "flags": ["daddr"]}}, "local"),
        {"jump": {"target": "hostports"}},
    ]
    for chain in ("prerouting", "output"):
        # Flush and refill in the same transaction: exactly one jump rule,
        # however many ADDs ran before.
        cmds.append({"flush": {"chain": {"family": FAMILY, "table": table, "name": chain}}})
        cmds.append({"add": {"rule": rule(table, chain, jump, "minipod hostports")}})
    comment = f"{HOSTPORT} {who}"
    for m in mappings:
        proto = m["protocol"]
        expr = []
        host_ip = m.get("hostIP") or ""
        if host_ip and not ipaddress.ip_address(host_ip).is_unspecified:
            expr.append(match(payload("ip", "daddr"), host_ip))
        expr += [
            match(payload(proto, "dport"), m["hostPort"]),
            {"dnat": {"addr": pod_ip, "port": m["containerPort"]}},
        ]
        # A mapping bound to one host address goes first, so it wins
        # over a wildcard mapping of the same port.
        verb = "insert" if len(expr) == 3 else "add"
        cmds.append({verb: {"rule": rule(table, "hostports", expr, comment)}})
        if snat:
            # Connections that must return through the host: from the host's
            # loopback (needs route_localnet on the bridge), and from a pod on
            # the same bridge, the target itself included (hairpin), whose
            # replies would otherwise go straight back over the bridge with
            # the wrong source address.
            masq = [
                match(payload("ip", "daddr"), pod_ip),
                match(payload(proto, "dport"), m["containerPort"]),
                match({"ct": {"key": "status"}}, "dnat", "in"),
                match(payload("ip", "saddr"), prefixes(["127.0.0.0/8", subnet])),
                {"masquerade": None},
            ]
            cmds.append({"add": {"rule": rule(table, "postrouting", masq, comment)}})
    with locked():
        _refuse_taken_ports(table, who, mappings)
        run(cmds, f"add port mappings for {pod_ip} to table {FAMILY} {table}")


def _mapped(rule: dict) -> tuple[str, int, str]:
    """(protocol, host port, host IP or "") of a hostports DNAT rule."""
    proto, port, host_ip = "", 0, ""
    for e in rule.get("expr", []):
        m = e.get("match", {})
        left = m.get("left", {}).get("payload", {})
        if left.get("field") == "dport":
            proto, port = left.get("protocol", ""), m.get("right")
        elif left.get("field") == "daddr":
            host_ip = m.get("right")
    return proto, port, host_ip


def _refuse_taken_ports(table: str, who: str, mappings: list[dict]) -> None:
    """Two pods cannot own one hostPort: the second DNAT rule would never
    match. Checked under the lock, so two concurrent ADDs cannot both win."""
    taken = {}
    for r in list_rules(table, "hostports"):
        if (r.get("comment") or "").startswith(HOSTPORT + " "):
            taken[_mapped(r)] = r["comment"].split(" ", 1)[1]
    for m in mappings:
        want_ip = m.get("hostIP") or ""
        if want_ip and ipaddress.ip_address(want_ip).is_unspecified:
            want_ip = ""
        for (proto, port, host_ip), other in taken.items():
            if (
                proto == m["protocol"]
                and port == m["hostPort"]
                and other != who
                and (not host_ip or not want_ip or host_ip == want_ip)
            ):
                raise PortInUse(
                    f"hostPort {port}/{proto}{' on ' + host_ip if host_ip else ''} "
                    f"is already mapped for {other}"
                )


def list_rules(table: str, chain: str | None = None) -> list[dict]:
    """The rules (chain, handle, comment, expr) of the table, or of one of
    its chains; [] if there is no such table or chain."""
    what = (
        {"table": {"family": FAMILY, "name": table}}
        if chain is None
        else {"chain": {"family": FAMILY, "table": table, "name": chain}}
    )
    try:
        out = run([{"list": what}], f"list {FAMILY} {table} {chain or ''}")
    except NftError as e:
        if "No such file or directory" in str(e):
            return []
        raise
    return [o["rule"] for o in out if "rule" in o]


def rules_of(table: str, kind: str, who: str) -> list[dict]:
    return [r for r in list_rules(table) if r.get("comment") == f"{kind} {who}"]


def remove(table: str, kind: str, keep=None, who: str | None = None) -> int:
    """Delete the rules of one attachment (`who`), or for GC every rule of
    `kind` whose attachment is not in `keep`; drop the table when no
    attachment's rule is left. Idempotent: a missing table is success.
    Returns how many rules were deleted."""
    with locked():
        rules = list_rules(table)
        if not rules:
            return 0
        doomed, left = [], 0
        for r in rules:
            c = r.get("comment") or ""
            k, _, w = c.partition(" ")
            if k == kind and ((who is not None and w == who) or (keep is not None and w not in keep)):
                doomed.append(r)
            elif k in (MASQ, HOSTPORT):
                left += 1
        if left == 0:
            cmds = [{"delete": {"table": {"family": FAMILY, "name": table}}}]
        else:
            cmds = [
                {
                    "delete": {
                        "rule": {"family": FAMILY, "table": table, "chain": r["chain"], "handle": r["handle"]}
                    }
                }
                for r in doomed
            ]
        if cmds and (doomed or left == 0):
            run(cmds, f"delete {kind} rules from table {FAMILY} {table}")
        return len(doomed)


def delete_table(table: str) -> bool:
    """Drop the whole table (tests, uninstall); False if it did not exist."""
    with locked():
        try:
            _drop(table)
            return True
        except NftError as e:
            if "No such file or directory" in str(e):
                return False
            raise


def _drop(table: str) -> None:
    from minipod.network import masquerade

    masquerade.forget(table)
    run([{"delete": {"table": {"family": FAMILY, "name": table}}}], f"delete table {FAMILY} {table}")


def drop_table_if(table: str, unused) -> bool:
    """Drop the table if `unused()` says, under the lock, that no pod uses it
    any more (the bridge plugin: its bridge has no port left). Checked
    under the lock, an ADD either comes after (and makes the table again
    in its own transaction) or has its veth on the bridge already."""
    with locked():
        # A failed nft transaction costs 10-20 ms (the kernel aborts it):
        # listing the table names first is ~1 ms.
        if not unused() or table not in table_names():
            return False
        _drop(table)
        return True


def table_names() -> set[str]:
    """The names of the tables of FAMILY (`nft list tables`: no rules read)."""
    out = run([{"list": {"tables": {}}}], "list tables")
    return {o["table"]["name"] for o in out if "table" in o and o["table"].get("family") == FAMILY}


def remove_from_chains(table: str, kind: str, who: str, chains: tuple[str, ...]) -> int:
    """Delete the rules of attachment `who` of `kind` found in `chains`: one
    listing of those chains, not of the table (its sets can hold hundreds of
    pods). When none of a pod's rules is left in them, the table goes.
    A missing table or chain is success; returns how many were deleted."""
    with locked():
        listed = []
        try:
            for c in chains:  # one list per call: libnftables 1.0.6 fails a batch of two
                listed += run(
                    [{"list": {"chain": {"family": FAMILY, "table": table, "name": c}}}], f"list {table} {c}"
                )
        except NftError as e:
            if "No such file or directory" in str(e):
                return 0
            raise
        rules = [o["rule"] for o in listed if "rule" in o]
        doomed = [r for r in rules if r.get("comment") == f"{kind} {who}"]
        left = [
            r for r in rules if r not in doomed and (r.get("comment") or "").split(" ")[0] in (MASQ, HOSTPORT)
        ]
        if not left:
            _drop(table)
        elif doomed:
            cmds = [
                {
                    "delete": {
                        "rule": {"family": FAMILY, "table": table, "chain": r["chain"], "handle": r["handle"]}
                    }
                }
                for r in doomed
            ]
            run(cmds, f"delete {kind} rules of {who} from table {FAMILY} {table}")
        return len(doomed)


def table_exists(table: str) -> bool:
    try:
        run([{"list": {"table": {"family": FAMILY, "name": table}}}], "list")
        return True
    except NftError:
        return False


__all__ = [
    "table_name",
    "owner",
    "run",
    "run_script",
    "drop_table_if",
    "remove_from_chains",
    "table_names",
    "match",
    "payload",
    "prefixes",
    "rule",
    "skeleton",
    "locked",
    "add_port_mappings",
    "list_rules",
    "rules_of",
    "remove",
    "delete_table",
    "table_exists",
    "NftError",
    "PortInUse",
    "MASQ",
    "HOSTPORT",
]
