"""The instance's service CIDR, chosen once and kept (like the bridge and
the pod subnet in the CNI config list).

The first start writes ETC/services.json with the CIDR it was given
(`minipod daemon --service-cidr`) or 10.96.0.0/16, the kube-apiserver's
usual choice; a range that overlaps the pod subnet is refused, because a
virtual IP must never be a pod's address. Later starts read the file.
"""

import ipaddress
import os

from minipod.errors import MinipodError
from minipod.fsutil import read_json, write_json_atomic

DEFAULT_SERVICE_CIDR = "10.96.0.0/16"
CLUSTER_DOMAIN = "cluster.local"
FILE = "services.json"


def pod_subnet(conflist: dict) -> str | None:
    for plugin in conflist.get("plugins", []):
        for rng in ((plugin.get("ipam") or {}).get("ranges") or [[]])[0:1]:
            for r in rng:
                if r.get("subnet"):
                    return str(ipaddress.ip_network(r["subnet"], strict=False))
    return None


def check_cidr(cidr: str, subnet: str | None) -> str:
    """The CIDR, normalized; a clear error when it cannot serve."""
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise MinipodError(
            f"--service-cidr: {cidr!r} is not an IPv4 network (expected e.g. 10.96.0.0/16)"
        ) from None
    if net.version != 4 or net.prefixlen > 28:
        raise MinipodError(f"--service-cidr: {cidr} must be an IPv4 network of at least 16 addresses (/28)")
    if subnet and net.overlaps(ipaddress.ip_network(subnet)):
        raise MinipodError(
            f"--service-cidr: {cidr} overlaps the pod subnet {subnet}: choose a range no pod address is in"
        )
    return str(net)


def ensure_service_cidr(etc: str, given: str | None, subnet: str | None) -> str:
    path = os.path.join(etc, FILE)
    saved = read_json(path) if os.path.exists(path) else None
    if saved and saved.get("serviceCIDR"):
        return str(saved["serviceCIDR"])
    cidr = check_cidr(given or DEFAULT_SERVICE_CIDR, subnet)
    os.makedirs(etc, exist_ok=True)
    write_json_atomic(path, {"serviceCIDR": cidr}, indent=2)
    return cidr
