"""minipod's CNI plugins, callable in-process or as executables.

The Container Network Interface (CNI spec 1.0.0, with GC and STATUS from
1.1.0) is the seam between a runtime and the pod network: the runtime
hands a plugin a network configuration (JSON) and an attachment
(container id, netns path, interface name), and the plugin makes the
kernel objects. minipod ships three plugins:

    minipod-bridge   (bridge.py)   a bridge, a veth pair, the pod's address
                                   and routes, the masquerade rule
    minipod-ipam     (ipam.py)     host-local style address leases on disk
    minipod-portmap  (portmap.py)  hostPort DNAT rules (chained plugin)

Each plugin module has the same functions, with the semantics of the
executable of that name (skel.py speaks the executable protocol):

    add(conf, env) -> result        CNI ADD
    delete(conf, env) -> None       CNI DEL
    check(conf, env) -> None        CNI CHECK
    gc(conf, env) -> None           CNI GC (1.1)
    status(conf, env) -> None       CNI STATUS (1.1)

`conf` is the plugin's configuration as the runtime would write it on
stdin (name and cniVersion filled in, prevResult and runtimeConfig when
due); `env` holds the CNI_* variables (CNI_CONTAINERID, CNI_NETNS,
CNI_IFNAME, CNI_ARGS, CNI_PATH). bridge, which talks netlink, also has
add_async, delete_async, check_async and gc_async, for a caller inside
a running asyncio loop (the daemon); the plain forms run their own loop.

A network configuration *list* (a .conflist: the bridge, then portmap) is
run by add_list / del_list / check_list / gc_list / status_list below, as
libcni does: in order for ADD and CHECK, in reverse for DEL, feeding each
plugin's result to the next as prevResult (CNI spec, section 1,
"Network configuration lists", and section 3, "Execution of network
configurations"). Plugins of these types run in-process; any other type is
executed from CNI_PATH.

Every failure is a CniError carrying the spec's error code (section 2,
"Error"); the executables print it as the spec's error JSON.
"""

import importlib
import json
import os
import subprocess

from minipod.errors import MinipodError

SUPPORTED_VERSIONS = ["0.4.0", "1.0.0", "1.1.0"]
LATEST_VERSION = "1.1.0"

# Well-known error codes (CNI spec, "Error" and "Well-known error codes").
E_INCOMPATIBLE_VERSION = 1
E_UNSUPPORTED_FIELD = 2
E_UNKNOWN_CONTAINER = 3
E_INVALID_ENV = 4
E_IO = 5
E_DECODE = 6
E_INVALID_CONFIG = 7
E_TRY_AGAIN = 11
E_NOT_AVAILABLE = 50  # STATUS: the plugin cannot service ADD requests
E_LIMITED = 51  # STATUS: ... and existing attachments may suffer
# minipod's own codes (100 and up are free for plugins).
E_LINK = 100  # a netlink request failed (link, address, route)
E_EXISTS = 101  # the attachment exists already (ADD twice)
E_IPAM = 102  # no address could be allocated
E_CHECK = 103  # CHECK found a missing or different object
E_NFT = 104  # an nftables transaction failed
E_SYSCTL = 105  # writing a /proc/sys file failed
E_INTERNAL = 999  # a bug: an unexpected exception


class CniError(MinipodError):
    """A CNI failure: `code` from the spec's table or minipod's own (100+),
    `msg` short, `details` longer (the spec's error fields)."""

    def __init__(self, code: int, msg: str, details: str = ""):
        super().__init__(msg + (f": {details}" if details else ""))
        self.code, self.msg, self.details = code, msg, details

    def to_json(self, version: str = LATEST_VERSION) -> dict:
        out = {"cniVersion": version, "code": self.code, "msg": self.msg}
        if self.details:
            out["details"] = self.details
        return out


# In-process plugins, by the `type` a configuration names.
PLUGIN_MODULES = {
    "minipod-bridge": "minipod.network.cni.bridge",
    "minipod-ipam": "minipod.network.cni.ipam",
    "minipod-portmap": "minipod.network.cni.portmap",
}


def plugin_module(plugin_type: str):
    """The module implementing `plugin_type` in-process, or None."""
    name = PLUGIN_MODULES.get(plugin_type)
    return importlib.import_module(name) if name else None


def find_plugin(plugin_type: str, env: dict) -> str:
    """The executable `plugin_type` in the colon-separated CNI_PATH."""
    path = env.get("CNI_PATH") or os.environ.get("CNI_PATH", "")
    if "/" in plugin_type or not plugin_type:
        raise CniError(E_INVALID_CONFIG, f"invalid plugin type {plugin_type!r}")
    for d in filter(None, path.split(":")):
        candidate = os.path.join(d, plugin_type)
        if os.access(candidate, os.X_OK):
            return candidate
    raise CniError(
        E_INVALID_CONFIG,
        f"plugin {plugin_type} not found",
        f"no executable {plugin_type} in CNI_PATH={path!r}",
    )


def exec_plugin(command: str, conf: dict, env: dict, plugin_type: str | None = None) -> dict | None:
    """Run the plugin executable `plugin_type` (default `conf["type"]`; an
    IPAM delegation passes conf["ipam"]["type"] with the whole conf) from
    CNI_PATH (CNI spec, section 2): CNI_* variables in its environment,
    `conf` on stdin, the result or the error JSON on stdout. Returns the
    parsed result (None when it printed nothing); raises CniError with the
    plugin's own code."""
    plugin_type = plugin_type or conf.get("type", "")
    exe = find_plugin(plugin_type, env)
    full_env = dict(os.environ)
    full_env.update({k: v for k, v in env.items() if v is not None})
    full_env["CNI_COMMAND"] = command
    try:
        p = subprocess.run(
            [exe], input=json.dumps(conf).encode(), env=full_env, capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CniError(E_IO, f"{command} {exe} failed", str(e)) from None
    out = p.stdout.decode(errors="replace").strip()
    try:
        parsed = json.loads(out) if out else None
    except ValueError:
        parsed = None
    if p.returncode != 0:
        if isinstance(parsed, dict) and "code" in parsed:
            raise CniError(
                int(parsed["code"]), f"{plugin_type}: {parsed.get('msg', '')}", parsed.get("details", "")
            )
        raise CniError(
            E_IO,
            f"{command} {exe} exited {p.returncode}",
            (p.stderr.decode(errors="replace") or out).strip()[-2000:],
        )
    if out and parsed is None:
        raise CniError(E_DECODE, f"{command} {exe}: its output is not JSON", out[:2000])
    return parsed


async def invoke_async(command: str, conf: dict, env: dict) -> dict | None:
    """One plugin call, in-process for minipod's types, else exec'd. Exec'd
    plugins block the caller's loop while they run (a subprocess.run: no
    child-watcher thread is started in the daemon)."""
    mod = plugin_module(conf.get("type", ""))
    if mod is None:
        return exec_plugin(command, conf, env)
    name = {"ADD": "add", "DEL": "delete", "CHECK": "check", "GC": "gc"}.get(command)
    if name:
        # bridge talks netlink and has *_async forms; ipam and portmap do
        # only file and nft work and are plain functions.
        fn = getattr(mod, f"{name}_async", None)
        return await fn(conf, env) if fn else getattr(mod, name)(conf, env)
    if command == "STATUS":
        return mod.status(conf, env)
    raise CniError(E_INVALID_ENV, f"CNI_COMMAND={command}: unknown command")


def invoke(command: str, conf: dict, env: dict) -> dict | None:
    from minipod.network.netlink import run_sync

    return run_sync(invoke_async(command, conf, env))


def sysctl(key: str, value: str) -> None:
    """Set /proc/sys/KEY ("net/ipv4/ip_forward": slashes, since interface
    names may hold dots) to `value` unless it has it: writing even an
    unchanged ip_forward walks every interface of the netns."""
    path = "/proc/sys/" + key
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        raise CniError(E_SYSCTL, f"write({path}, {value}): {e.strerror}") from None


# --- network configuration lists --------------------------------------------------


def load_conflist(path: str) -> dict:
    """Read a .conflist file; CniError 6 (decode) or 7 (invalid) on failure."""
    try:
        with open(path, "rb") as f:
            conflist = json.load(f)
    except OSError as e:
        raise CniError(E_IO, f"reading {path}: {e.strerror}") from None
    except ValueError as e:
        raise CniError(E_DECODE, f"{path}: not valid JSON", str(e)) from None
    if (
        not isinstance(conflist, dict)
        or not isinstance(conflist.get("plugins"), list)
        or not conflist.get("name")
        or not conflist["plugins"]
    ):
        raise CniError(E_INVALID_CONFIG, f"{path}: a conflist needs a name and a plugins list")
    return conflist


def plugin_conf(conflist: dict, plugin: dict, runtime_config: dict | None, prev_result: dict | None) -> dict:
    """The configuration the runtime hands one plugin of a list: the list's
    name and cniVersion (the spec says the runtime MUST replace them), the
    runtimeConfig keys the plugin declared as capabilities, prevResult."""
    conf = dict(plugin)
    conf["name"] = conflist["name"]
    conf["cniVersion"] = conflist.get("cniVersion") or LATEST_VERSION
    caps = [k for k, on in (plugin.get("capabilities") or {}).items() if on]
    rc = {k: v for k, v in (runtime_config or {}).items() if k in caps}
    conf.pop("runtimeConfig", None)
    if rc:
        conf["runtimeConfig"] = rc
    if prev_result is not None:
        conf["prevResult"] = prev_result
    return conf


async def add_list_async(conflist: dict, env: dict, runtime_config: dict | None = None) -> dict:
    """ADD every plugin of the list in order; the last result is the
    attachment's result. On failure the plugins are DELeted in reverse
    order (what the spec asks a runtime to do) and the error re-raised;
    except when the attachment existed already (E_EXISTS): that one
    belongs to an earlier ADD, which a DEL would tear down."""
    result = None
    try:
        for plugin in conflist["plugins"]:
            conf = plugin_conf(conflist, plugin, runtime_config, result)
            result = await invoke_async("ADD", conf, env)
    except BaseException as e:
        if isinstance(e, CniError) and e.code == E_EXISTS:
            raise
        try:
            await del_list_async(conflist, env, result, runtime_config)
        except Exception:  # the ADD error is the one worth reporting
            pass
        raise
    return result or {}


async def del_list_async(
    conflist: dict, env: dict, prev_result: dict | None = None, runtime_config: dict | None = None
) -> None:
    """DEL every plugin in reverse order; the first error stops the list
    (spec section 3, "Deleting an attachment")."""
    for plugin in reversed(conflist["plugins"]):
        await invoke_async("DEL", plugin_conf(conflist, plugin, runtime_config, prev_result), env)


async def check_list_async(
    conflist: dict, env: dict, prev_result: dict, runtime_config: dict | None = None
) -> None:
    if str(conflist.get("disableCheck", "")).lower() == "true":
        return
    for plugin in conflist["plugins"]:
        await invoke_async("CHECK", plugin_conf(conflist, plugin, runtime_config, prev_result), env)


def add_list(conflist: dict, env: dict, runtime_config: dict | None = None) -> dict:
    from minipod.network.netlink import run_sync

    return run_sync(add_list_async(conflist, env, runtime_config))


def del_list(
    conflist: dict, env: dict, prev_result: dict | None = None, runtime_config: dict | None = None
) -> None:
    from minipod.network.netlink import run_sync

    run_sync(del_list_async(conflist, env, prev_result, runtime_config))


def check_list(conflist: dict, env: dict, prev_result: dict, runtime_config: dict | None = None) -> None:
    from minipod.network.netlink import run_sync

    run_sync(check_list_async(conflist, env, prev_result, runtime_config))


async def gc_list_async(conflist: dict, valid_attachments: list[dict], env: dict | None = None) -> None:
    """CNI GC (1.1): every plugin drops what belongs to attachments not in
    `valid_attachments` ([{"containerID", "ifname"}])."""
    if str(conflist.get("disableGC", "")).lower() == "true":
        return
    for plugin in conflist["plugins"]:
        conf = plugin_conf(conflist, plugin, None, None)
        conf["cni.dev/valid-attachments"] = valid_attachments
        await invoke_async("GC", conf, env or {})


def gc_list(conflist: dict, valid_attachments: list[dict], env: dict | None = None) -> None:
    from minipod.network.netlink import run_sync

    run_sync(gc_list_async(conflist, valid_attachments, env))


def status_list(conflist: dict, env: dict | None = None) -> None:
    """CNI STATUS (1.1): raises CniError 50/51 if a plugin is not ready.
    No netlink involved: a plain call, fine inside a running loop too."""
    for plugin in conflist["plugins"]:
        conf = plugin_conf(conflist, plugin, None, None)
        mod = plugin_module(conf.get("type", ""))
        if mod is None:
            exec_plugin("STATUS", conf, env or {})
        else:
            mod.status(conf, env or {})


__all__ = [
    "CniError",
    "SUPPORTED_VERSIONS",
    "plugin_module",
    "find_plugin",
    "exec_plugin",
    "invoke",
    "invoke_async",
    "load_conflist",
    "plugin_conf",
    "add_list",
    "del_list",
    "check_list",
    "add_list_async",
    "del_list_async",
    "check_list_async",
    "gc_list",
    "gc_list_async",
    "status_list",
]
