"""minipod-ipam: host-local address leases, one file per address.

Type `minipod-ipam`, configured like the reference `host-local` IPAM
plugin, and storing its leases the same way, so either can read the
other's directory:

    "ipam": {
      "type": "minipod-ipam",
      "ranges": [[{"subnet": "10.85.0.0/16", "rangeStart": "10.85.0.10",
                   "rangeEnd": "10.85.255.254", "gateway": "10.85.0.1"}]],
      "routes": [{"dst": "0.0.0.0/0"}],
      "dataDir": "/var/lib/cni/networks"
    }

`ranges` is a list of range sets; each attachment gets one address from
each set. The older flat form (`subnet`, `rangeStart`, `rangeEnd`,
`gateway` directly under "ipam") is one set of one range. IPv4 only.

Files, under DATADIR/NETWORK-NAME/ (the network's directory):
    10.85.0.5            a lease: created with O_CREAT|O_EXCL, so two
                         allocators can never both own an address; it
                         holds "CONTAINERID\\r\\nIFNAME"
    last_reserved_ip.N   the address last handed out from range set N:
                         the next ADD starts after it (round-robin, so a
                         freed address is not reused at once)
    lock                 the lock file: every command holds an exclusive
                         flock(2) on it while it reads or changes leases,
                         so concurrent ADDs from different processes (and
                         host-local's, which locks the same file) are
                         serialised

ADD, in order: 1. prepare (config, env)  2. lock  3. refuse a second lease
for the same container id + ifname  4. for each range set, the requested
address (CNI_ARGS IP= or runtimeConfig.ips) or the next free one after
last_reserved_ip, skipping the gateway  5. write the lease and
last_reserved_ip.N  6. unlock; return ips (with gateway) and routes.
DEL removes the attachment's leases (none left is success: DEL is
idempotent, CNI spec section 2). CHECK verifies they exist. GC removes
leases of attachments not in cni.dev/valid-attachments. STATUS fails (50)
when a range set has no free address.
"""

import contextlib
import ipaddress
import os

from minipod import trace
from minipod.fsutil import lock, open_lock
from minipod.network.cni import (
    E_EXISTS,
    E_INVALID_CONFIG,
    E_IO,
    E_IPAM,
    E_NOT_AVAILABLE,
    E_UNKNOWN_CONTAINER,
    CniError,
    skel,
)

TYPE = "minipod-ipam"
DEFAULT_DATA_DIR = "/var/lib/cni/networks"
LAST_RESERVED = "last_reserved_ip."


class Range:
    """One range of a range set: a subnet and the addresses to hand out."""

    def __init__(self, spec: dict, where: str):
        if not isinstance(spec, dict) or "subnet" not in spec:
            raise CniError(E_INVALID_CONFIG, f"{where}: a range needs a subnet")
        try:
            self.subnet = ipaddress.ip_network(spec["subnet"], strict=False)
        except (ValueError, TypeError) as e:
            raise CniError(E_INVALID_CONFIG, f"{where}: invalid subnet {spec['subnet']!r}", str(e)) from None
        if self.subnet.version != 4:
            raise CniError(
                E_INVALID_CONFIG, f"{where}: IPv6 subnet {self.subnet} is not supported yet (IPv4 only)"
            )
        if self.subnet.prefixlen > 30:
            raise CniError(E_INVALID_CONFIG, f"{where}: subnet {self.subnet} is too small")
        net = int(self.subnet.network_address)
        self.start = self._addr(spec, "rangeStart", net + 1, where)
        self.end = self._addr(spec, "rangeEnd", int(self.subnet.broadcast_address) - 1, where)
        self.gateway = self._addr(spec, "gateway", net + 1, where)
        if self.start > self.end:
            raise CniError(E_INVALID_CONFIG, f"{where}: rangeStart is after rangeEnd")

    def _addr(self, spec: dict, key: str, default: int, where: str) -> int:
        if not spec.get(key):
            return default
        try:
            a = ipaddress.IPv4Address(spec[key])
        except ValueError:
            raise CniError(E_INVALID_CONFIG, f"{where}: invalid {key} {spec[key]!r}") from None
        if a not in self.subnet:
            raise CniError(E_INVALID_CONFIG, f"{where}: {key} {a} is outside {self.subnet}")
        return int(a)

    def __contains__(self, ip: int) -> bool:
        return self.start <= ip <= self.end

    def size(self) -> int:
        return self.end - self.start + 1 - (self.gateway in self)


def parse_config(conf: dict) -> tuple[list[list[Range]], list[dict], str]:
    """(range sets, routes, the network's lease directory) from the config."""
    ipam = conf.get("ipam")
    if not isinstance(ipam, dict):
        raise CniError(E_INVALID_CONFIG, "the configuration has no ipam section")
    raw = ipam.get("ranges")
    if raw is None and ipam.get("subnet"):
        raw = [[{k: ipam[k] for k in ("subnet", "rangeStart", "rangeEnd", "gateway") if k in ipam}]]
    if not isinstance(raw, list) or not raw or not all(isinstance(s, list) and s for s in raw):
        raise CniError(
            E_INVALID_CONFIG,
            "ipam.ranges must be a non-empty list of range sets "
            "(lists of {subnet, rangeStart, rangeEnd, gateway})",
        )
    sets = [[Range(r, f"ipam.ranges[{i}][{j}]") for j, r in enumerate(s)] for i, s in enumerate(raw)]
    routes = ipam.get("routes") or []
    for r in routes:
        try:
            ipaddress.ip_network(r["dst"], strict=False)
            if r.get("gw"):
                ipaddress.ip_address(r["gw"])
        except (KeyError, TypeError, ValueError):
            raise CniError(
                E_INVALID_CONFIG,
                f"invalid ipam route {r!r}",
                'a route is {"dst": CIDR, "gw": optional address}',
            ) from None
    data_dir = ipam.get("dataDir") or DEFAULT_DATA_DIR
    return sets, [dict(r) for r in routes], os.path.join(data_dir, conf["name"])


class Store:
    """The network's lease directory, locked while open (flock(2) on its
    `lock` file)."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self):
        try:
            os.makedirs(self.path, mode=0o755, exist_ok=True)
            self.fd = open_lock(os.path.join(self.path, "lock"))
            lock(self.fd)  # waits: the ADDs and DELs of one network take turns
        except OSError as e:
            raise CniError(E_IO, f"flock({self.path}/lock): {e.strerror}") from None
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # closing the last descriptor releases the flock

    def reserve(self, ip: str, cid: str, ifname: str) -> bool:
        """Create the lease file for `ip`; False if it exists (taken)."""
        try:
            fd = os.open(
                os.path.join(self.path, ip), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
            )
        except FileExistsError:
            return False
        except OSError as e:
            raise CniError(E_IO, f"open({self.path}/{ip}, O_EXCL): {e.strerror}") from None
        try:
            os.write(fd, f"{cid}\r\n{ifname}".encode())
        finally:
            os.close(fd)
        return True

    def leases(self):
        """(ip, container id, ifname or None) of every lease."""
        with os.scandir(self.path) as it:
            for entry in it:
                name = entry.name
                if name.startswith(LAST_RESERVED) or name == "lock" or not name[0].isdigit():
                    continue
                try:
                    with open(entry.path) as f:
                        lines = f.read().splitlines()  # "ID\r\nIFNAME"
                except OSError:
                    continue
                if not lines:  # an allocator killed between create and write
                    yield name, "", None
                    continue
                yield name, lines[0].strip(), (lines[1].strip() if len(lines) > 1 else None)

    def find(self, cid: str, ifname: str) -> list[str]:
        # A lease with no ifname comes from an old host-local: the id alone matches.
        return [ip for ip, c, i in self.leases() if c == cid and i in (ifname, None)]

    def held_of(self, ips: list[str], cid: str, ifname: str) -> list[str]:
        """Those of `ips` whose lease names this attachment: the leases a
        DEL given its ADD's result can release without reading every
        lease file (a read of all of them per DEL makes deleting n pods
        cost n squared)."""
        held = []
        for ip in ips:
            try:
                with open(os.path.join(self.path, ip)) as f:
                    lines = f.read().splitlines()
            except (OSError, ValueError):
                continue
            if lines and lines[0].strip() == cid and (len(lines) < 2 or lines[1].strip() == ifname):
                held.append(ip)
        return held

    def release(self, ip: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.path, ip))

    def last_reserved(self, n: int) -> int | None:
        try:
            with open(os.path.join(self.path, f"{LAST_RESERVED}{n}")) as f:
                return int(ipaddress.IPv4Address(f.read().strip()))
        except (OSError, ValueError):
            return None

    def set_last_reserved(self, n: int, ip: str) -> None:
        # Written in place, under the lock, as host-local does: a torn file
        # after a crash only makes the next ADD start from rangeStart. No
        # O_TRUNC: on ext4, truncating a file to zero makes its close flush
        # the data (auto_da_alloc), some 0.4 ms; ftruncate to the new
        # length does not.
        path = os.path.join(self.path, f"{LAST_RESERVED}{n}")
        data = ip.encode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, data)
                os.ftruncate(fd, len(data))
            finally:
                os.close(fd)
        except OSError as e:
            raise CniError(E_IO, f"write({path}): {e.strerror}") from None


def _candidates(rset: list[Range], last: int | None):
    """Every address of the set once, starting after `last` (round-robin)."""
    start_range, start_ip = 0, rset[0].start
    if last is not None:
        for i, r in enumerate(rset):
            if last in r:
                start_range, start_ip = i, last + 1
                if start_ip > r.end:
                    start_range, start_ip = (i + 1) % len(rset), rset[(i + 1) % len(rset)].start
                break
    for k in range(len(rset) + 1):
        r = rset[(start_range + k) % len(rset)]
        lo = start_ip if k == 0 else r.start
        hi = r.end if k < len(rset) else start_ip - 1
        for ip in range(lo, hi + 1):
            if ip != r.gateway:
                yield r, ip


def _requested(conf: dict, env: dict) -> list[ipaddress.IPv4Address]:
    """Addresses asked for by CNI_ARGS IP=a,b or runtimeConfig.ips (the
    `ips` capability, spec CONVENTIONS)."""
    asked = []
    arg = skel.cni_args(env).get("IP")
    if arg:
        asked += arg.split(",")
    asked += [a.split("/")[0] for a in (conf.get("runtimeConfig") or {}).get("ips") or []]
    try:
        return [ipaddress.IPv4Address(a.strip()) for a in asked]
    except ValueError as e:
        raise CniError(E_INVALID_CONFIG, "invalid requested IP", str(e)) from None


def allocate(conf: dict, env: dict, check_duplicate: bool = True) -> dict:
    """ADD: lease one address per range set; the IPAM result (no cniVersion).

    check_duplicate=False skips step 3, which reads every lease file: the
    in-process bridge plugin passes it, having just created the attachment's
    veth (its name is unique per container id + ifname, so no live ADD of
    it exists). A stale lease of a dead attachment is then no obstacle:
    DEL releases every lease of the attachment."""
    sets, routes, path = parse_config(conf)
    cid, ifname = env["CNI_CONTAINERID"], env["CNI_IFNAME"]
    asked = _requested(conf, env)
    ips = []
    with trace.span("IPAM lease", f"a free address, leases in {path}"), Store(path) as store:
        held = store.find(cid, ifname) if check_duplicate else None
        if held:
            raise CniError(
                E_EXISTS,
                f"{cid}/{ifname} already holds {', '.join(held)} in network {conf['name']}",
                "a second ADD for the same container and interface is refused; DEL it first",
            )
        got: list[str] = []
        try:
            for n, rset in enumerate(sets):
                ip, rng = _pick(store, n, rset, asked, cid, ifname, conf["name"])
                got.append(ip)
                store.set_last_reserved(n, ip)
                ips.append(
                    {
                        "address": f"{ip}/{rng.subnet.prefixlen}",
                        "gateway": str(ipaddress.IPv4Address(rng.gateway)),
                    }
                )
        except BaseException:
            for ip in got:  # all or nothing: a half-done ADD undoes its leases
                store.release(ip)
            raise
    return {"ips": ips, "routes": routes, "dns": {}}


def _pick(store: Store, n: int, rset: list[Range], asked, cid: str, ifname: str, net: str):
    for a in asked:
        for r in rset:
            if int(a) in r:
                if int(a) == r.gateway or not store.reserve(str(a), cid, ifname):
                    raise CniError(E_IPAM, f"requested address {a} is not available in network {net}")
                return str(a), r
    for r, ip in _candidates(rset, store.last_reserved(n)):
        text = str(ipaddress.IPv4Address(ip))
        if store.reserve(text, cid, ifname):
            return text, r
    subnets = ", ".join(str(r.subnet) for r in rset)
    raise CniError(
        E_IPAM,
        f"no free address in range set {n} ({subnets}) of network {net}",
        f"every address has a lease file in {store.path}",
    )


def release(conf: dict, env: dict) -> list[str]:
    """DEL: remove the attachment's leases; the addresses freed."""
    _, _, path = parse_config(conf)
    if not os.path.isdir(path):
        return []  # nothing was ever leased here: DEL is idempotent
    cid, ifname = env["CNI_CONTAINERID"], env["CNI_IFNAME"]
    with trace.span("IPAM release", path), Store(path) as store:
        ips = store.held_of(_prev_ips(conf), cid, ifname) or store.find(cid, ifname)
        # An empty lease is an allocator's killed half-way (the file is
        # created and written under this lock): nobody's, so freed too.
        if not ips:
            ips = [ip for ip, c, _ in store.leases() if not c]
        for ip in ips:
            store.release(ip)
    return ips


def held_by(conf: dict, ips: list[str], cid: str, ifname: str) -> list[str]:
    """Those of `ips` whose lease names this attachment (no lock: only the
    attachment itself releases its leases)."""
    _, _, path = parse_config(conf)
    return Store(path).held_of(ips, cid, ifname) if os.path.isdir(path) else []


def _prev_ips(conf: dict) -> list[str]:
    """The addresses of the prevResult a DEL was given (none if absent or
    malformed: the DEL then looks through every lease)."""
    prev = conf.get("prevResult")
    ips = prev.get("ips") if isinstance(prev, dict) else None
    if not isinstance(ips, list):
        return []
    out = []
    for entry in ips:
        address = entry.get("address") if isinstance(entry, dict) else None
        try:  # a lease file's name: never a path from the caller's JSON
            out.append(str(ipaddress.IPv4Address(str(address).split("/")[0])))
        except ValueError:
            continue
    return out


# --- the plugin interface (see minipod.network.cni) -----------------------------------


def add(conf: dict, env: dict) -> dict:
    version = skel.prepare("ADD", conf, env)
    return skel.format_result(allocate(conf, env), version)


def delete(conf: dict, env: dict) -> None:
    skel.prepare("DEL", conf, env)
    release(conf, env)


def check(conf: dict, env: dict) -> None:
    skel.prepare("CHECK", conf, env)
    _, _, path = parse_config(conf)
    cid, ifname = env["CNI_CONTAINERID"], env["CNI_IFNAME"]
    held = set()
    if os.path.isdir(path):
        with Store(path) as store:
            held = set(store.find(cid, ifname))
    if not held:
        raise CniError(
            E_UNKNOWN_CONTAINER,
            f"{cid}/{ifname} holds no address in network {conf['name']}",
            f"no lease file for it in {path}",
        )
    prev = skel.prev_result(conf) or {}
    for ip in prev.get("ips", []):
        addr = ip["address"].split("/")[0]
        if addr not in held:
            raise CniError(
                E_UNKNOWN_CONTAINER,
                f"{addr} is not leased to {cid}/{ifname}",
                f"{path}/{addr} is missing or belongs to another attachment",
            )


def gc(conf: dict, env: dict) -> None:
    skel.prepare("GC", conf, env)
    valid = skel.valid_attachments(conf)
    valid_ids = {c for c, _ in valid}
    _, _, path = parse_config(conf)
    if not os.path.isdir(path):
        return
    with Store(path) as store:
        for ip, cid, ifname in list(store.leases()):
            keep = (cid, ifname) in valid if ifname is not None else cid in valid_ids
            if not keep:
                store.release(ip)


def status(conf: dict, env: dict) -> None:
    skel.prepare("STATUS", conf, env)
    sets, _, path = parse_config(conf)
    try:
        os.makedirs(path, mode=0o755, exist_ok=True)
    except OSError as e:
        raise CniError(E_NOT_AVAILABLE, f"cannot create {path}: {e.strerror}") from None
    with Store(path) as store:
        leased = {int(ipaddress.IPv4Address(ip)) for ip, _, _ in store.leases()}
    for n, rset in enumerate(sets):
        used = sum(1 for ip in leased for r in rset if ip in r and ip != r.gateway)
        free = sum(r.size() for r in rset) - used
        if free <= 0:
            raise CniError(E_NOT_AVAILABLE, f"range set {n} of network {conf['name']} has no free address")


__all__ = [
    "add",
    "delete",
    "check",
    "gc",
    "status",
    "allocate",
    "release",
    "parse_config",
    "DEFAULT_DATA_DIR",
]
