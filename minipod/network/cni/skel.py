"""The CNI execution protocol: what makes a Python function a CNI plugin.

A runtime executes a plugin (CNI spec 1.0.0/1.1.0, section 2, "Execution
Protocol") with:
    CNI_COMMAND      ADD, DEL, CHECK, VERSION, GC or STATUS
    CNI_CONTAINERID  the container (for minipod: the pod sandbox) id
    CNI_NETNS        the path of its network namespace (optional for DEL)
    CNI_IFNAME       the interface name to create inside it
    CNI_ARGS         extra "KEY=VALUE;KEY2=VALUE2" arguments
    CNI_PATH         where to look for other plugins (e.g. an IPAM)
and the plugin's network configuration as JSON on stdin. It answers on
stdout: the result JSON (ADD), nothing (DEL, CHECK, GC, STATUS), the
version info (VERSION), or on failure a non-zero exit and the error JSON
{"cniVersion", "code", "msg", "details"}.

main(module), the executables' whole body, does, in order:
    1. read CNI_COMMAND and stdin; VERSION answers at once
    2. decode the configuration (error 6) and dispatch to module.add,
       .delete, .check, .gc or .status, which start with prepare():
       the configuration's name and cniVersion (errors 7 and 1) and the
       variables the command needs (error 4)
    3. print the result in the configuration's cniVersion, or the error

The helpers here are shared by the plugins, whether exec'd or called
in-process by the daemon: both paths go through prepare().
"""

import ipaddress
import json
import os
import re
import sys
import traceback

from minipod.errors import MinipodError
from minipod.network.cni import (
    E_DECODE,
    E_INCOMPATIBLE_VERSION,
    E_INTERNAL,
    E_INVALID_CONFIG,
    E_INVALID_ENV,
    LATEST_VERSION,
    SUPPORTED_VERSIONS,
    CniError,
)

# CNI spec section 1: a network name, and section 2: a container id.
_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$")
_IFNAME_BAD = re.compile(r"[/:\s]")

# The variables each command needs (spec section 2, "Parameters"). DEL
# works without CNI_NETNS: the netns may be gone already.
_REQUIRED_ENV = {
    "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
    "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
    "DEL": ("CNI_CONTAINERID", "CNI_IFNAME"),
    "GC": (),
    "STATUS": (),
}


def decode_conf(data: bytes | str) -> dict:
    """stdin as a JSON object, or CniError 6."""
    try:
        conf = json.loads(data)
    except ValueError as e:
        raise CniError(E_DECODE, "the network configuration on stdin is not valid JSON", str(e)) from None
    if not isinstance(conf, dict):
        raise CniError(E_DECODE, "the network configuration on stdin is not a JSON object")
    return conf


def prepare(command: str, conf: dict, env: dict) -> str:
    """Validate what every plugin call needs; return the cniVersion."""
    if not isinstance(conf, dict):
        raise CniError(E_DECODE, "the network configuration is not a JSON object")
    version = conf.get("cniVersion")
    if version not in SUPPORTED_VERSIONS:
        raise CniError(
            E_INCOMPATIBLE_VERSION,
            f"incompatible CNI version {version!r}",
            f"this plugin supports {', '.join(SUPPORTED_VERSIONS)}",
        )
    if command in ("GC", "STATUS") and version in ("0.4.0", "1.0.0"):
        raise CniError(
            E_INCOMPATIBLE_VERSION,
            f"{command} needs cniVersion 1.1.0 or later, the configuration says {version}",
        )
    name = conf.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise CniError(
            E_INVALID_CONFIG,
            f"invalid network name {name!r}",
            "it must start with a letter or digit, then letters, digits, _ . -",
        )
    missing = [k for k in _REQUIRED_ENV.get(command, ()) if not env.get(k)]
    if missing:
        raise CniError(
            E_INVALID_ENV, f"{command} needs {', '.join(missing)}", f"missing or empty: {', '.join(missing)}"
        )
    cid = env.get("CNI_CONTAINERID")
    if cid and not _NAME_RE.match(cid):
        raise CniError(E_INVALID_ENV, f"invalid CNI_CONTAINERID {cid!r}")
    ifname = env.get("CNI_IFNAME")
    if ifname and (len(ifname.encode()) > 15 or ifname in (".", "..") or _IFNAME_BAD.search(ifname)):
        raise CniError(
            E_INVALID_ENV,
            f"invalid CNI_IFNAME {ifname!r}",
            "an interface name has at most 15 bytes and no '/', ':' or spaces",
        )
    return version


def cni_args(env: dict) -> dict:
    """CNI_ARGS "A=1;B=2" as a dict; CniError 4 if malformed."""
    out = {}
    for pair in filter(None, (env.get("CNI_ARGS") or "").split(";")):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CniError(
                E_INVALID_ENV,
                f"invalid CNI_ARGS pair {pair!r}",
                "CNI_ARGS is KEY=VALUE pairs separated by ';'",
            )
        out[key] = value
    return out


def valid_attachments(conf: dict) -> set[tuple[str, str]]:
    """GC's "cni.dev/valid-attachments" as {(containerID, ifname)}."""
    items = conf.get("cni.dev/valid-attachments", conf.get("cni.dev/attachments"))
    if not isinstance(items, list):
        raise CniError(E_INVALID_CONFIG, "GC needs cni.dev/valid-attachments (a list)")
    try:
        return {(a["containerID"], a["ifname"]) for a in items}
    except (KeyError, TypeError):
        raise CniError(
            E_INVALID_CONFIG, "each cni.dev/valid-attachments entry needs containerID and ifname"
        ) from None


def prev_result(conf: dict) -> dict | None:
    """The prevResult a chained plugin receives (any supported version)."""
    prev = conf.get("prevResult")
    if prev is not None and not isinstance(prev, dict):
        raise CniError(E_DECODE, "prevResult is not a JSON object")
    return prev


def required_prev_result(conf: dict, command: str) -> dict:
    """The prevResult, which COMMAND cannot do without."""
    prev = prev_result(conf)
    if prev is None:
        raise CniError(
            E_INVALID_CONFIG,
            f"{command} needs prevResult",
            "the runtime passes the previous plugin's result as prevResult",
        )
    return prev


def format_result(result: dict, version: str) -> dict:
    """A result in `version`'s format. 1.0.0 dropped the "version" of each
    IP (spec-upgrades, "1.0.0"); 0.4.0 results must carry it."""
    out = dict(result)
    out["cniVersion"] = version
    ips = []
    for ip in result.get("ips", []):
        ip = {k: v for k, v in ip.items() if k != "version"}
        if version == "0.4.0":
            addr = ipaddress.ip_interface(ip["address"])
            ip = {"version": str(addr.version), **ip}
        ips.append(ip)
    if "ips" in result:
        out["ips"] = ips
    return out


def version_info(stdin: bytes) -> dict:
    """VERSION: the versions we speak, in the caller's version if we know it."""
    asked = None
    try:
        asked = json.loads(stdin or b"{}").get("cniVersion")
    except (ValueError, AttributeError):
        pass
    return {
        "cniVersion": asked if asked in SUPPORTED_VERSIONS else LATEST_VERSION,
        "supportedVersions": list(SUPPORTED_VERSIONS),
    }


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main(module) -> int:
    """The executables' body: run one CNI command of `module`, print the
    answer, and return the exit status (0 success, 1 error)."""
    command = os.environ.get("CNI_COMMAND", "")
    version = LATEST_VERSION
    try:
        stdin = sys.stdin.buffer.read()
        if command == "VERSION":
            _emit(version_info(stdin))
            return 0
        if command not in _REQUIRED_ENV:
            raise CniError(
                E_INVALID_ENV,
                f"CNI_COMMAND={command!r}: unknown command",
                "expected ADD, DEL, CHECK, VERSION, GC or STATUS",
            )
        conf = decode_conf(stdin)
        if conf.get("cniVersion") in SUPPORTED_VERSIONS:
            version = conf["cniVersion"]
        env = {k: v for k, v in os.environ.items() if k.startswith("CNI_")}
        handler = {
            "ADD": module.add,
            "DEL": module.delete,
            "CHECK": module.check,
            "GC": module.gc,
            "STATUS": module.status,
        }[command]
        out = handler(conf, env)
        if command == "ADD":
            _emit(out)
        return 0
    except CniError as e:
        err = e
    except MinipodError as e:
        err = CniError(E_INTERNAL, str(e))
    except Exception as e:  # a bug: still answer in the protocol
        traceback.print_exc(file=sys.stderr)
        err = CniError(E_INTERNAL, f"{type(e).__name__}: {e}", traceback.format_exc(limit=5))
    _emit(err.to_json(version))
    print(f"{os.path.basename(sys.argv[0])}: {command}: {err}", file=sys.stderr)
    return 1


__all__ = [
    "decode_conf",
    "prepare",
    "cni_args",
    "valid_attachments",
    "prev_result",
    "required_prev_result",
    "format_result",
    "version_info",
    "main",
]
