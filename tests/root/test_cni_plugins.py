"""The CNI contract of minipod's plugins, driven as executables.

As root, on real kernel objects, no mocks: each test makes its own network
namespaces, bridge, subnet, lease directory and nft table (helpers.cni.Net)
and removes them all. What a runtime relies on (CNI spec 1.0.0/1.1.0):
ADD's result, ADD twice refused, DEL idempotent (even with the netns gone),
CHECK noticing drift, VERSION, error JSON and codes, leases that never
collide under concurrency and are freed by DEL and GC.
"""

import ipaddress
import json
import os

import pytest
from helpers.cni import VERSIONS, ns_addresses, run_plugin
from helpers.host import sh

from minipod.network.cni.bridge import host_veth_name

PLUGINS = ["minipod-bridge", "minipod-ipam", "minipod-portmap"]


def test_version_lists_the_supported_versions():
    for plugin in PLUGINS:
        rc, out, err = run_plugin(plugin, "VERSION", {"cniVersion": "1.0.0"})
        assert rc == 0, err
        assert out == {"cniVersion": "1.0.0", "supportedVersions": VERSIONS}
    rc, out, _ = run_plugin("minipod-bridge", "VERSION", "")
    assert rc == 0 and out["supportedVersions"] == VERSIONS


def test_add_returns_interfaces_ips_and_routes_that_exist(net):
    ns = net.new_netns()
    rc, res, err = net.add("ctr-a", ns)
    assert rc == 0, err
    veth = host_veth_name("ctr-a", "eth0")
    assert res["cniVersion"] == "1.0.0"
    assert [i["name"] for i in res["interfaces"]] == [net.bridge, veth, "eth0"]
    assert res["interfaces"][2]["sandbox"] == ns
    assert "sandbox" not in res["interfaces"][0] and "sandbox" not in res["interfaces"][1]
    [ip] = res["ips"]
    assert ip["interface"] == 2 and ip["gateway"] == net.gateway and "version" not in ip
    assert ipaddress.ip_interface(ip["address"]).network == net.subnet
    assert res["routes"] == [{"dst": "0.0.0.0/0"}]
    # ... and the kernel agrees with the result.
    assert ns_addresses(ns) == [ip["address"]]
    pod = json.loads(sh("ip", "-n", os.path.basename(ns), "-j", "link", "show", "eth0").stdout)[0]
    assert pod["address"] == res["interfaces"][2]["mac"] and "UP" in pod["flags"]
    host = json.loads(sh("ip", "-j", "link", "show", veth).stdout)[0]
    assert host["master"] == net.bridge and host["address"] == res["interfaces"][1]["mac"]
    with open(f"/sys/class/net/{veth}/brport/hairpin_mode") as f:
        assert f.read().strip() == "1"
    br = json.loads(sh("ip", "-j", "addr", "show", net.bridge).stdout)[0]
    assert f"{net.gateway}/24" in [f"{a['local']}/{a['prefixlen']}" for a in br["addr_info"]]
    routes = sh("ip", "-n", os.path.basename(ns), "route").stdout
    assert f"default via {net.gateway} dev eth0" in routes
    addr = ip["address"].split("/")[0]
    assert net.leases() == {addr: "ctr-a\r\neth0"}  # host-local's lease format


def test_a_0_4_0_config_gets_a_0_4_0_result(net):
    rc, res, err = net.add("ctr-old", net.new_netns(), version="0.4.0")
    assert rc == 0, err
    assert res["cniVersion"] == "0.4.0" and res["ips"][0]["version"] == "4"


def test_add_twice_is_an_error_and_keeps_the_first_attachment(net):
    ns = net.new_netns()
    rc, first, err = net.add("ctr-b", ns)
    assert rc == 0, err
    rc, out, _ = net.add("ctr-b", ns)
    assert rc != 0
    assert out["code"] == 101 and "attached already" in out["msg"]
    assert out["cniVersion"] == "1.0.0"
    assert ns_addresses(ns) == [first["ips"][0]["address"]]  # untouched
    assert len(net.leases()) == 1


def test_del_twice_succeeds_and_frees_everything(net):
    ns = net.new_netns()
    env = net.env("ctr-c", ns)
    rc, res, err = net.add("ctr-c", ns)
    assert rc == 0, err
    conf = dict(net.bridge_conf(), prevResult=res)
    for _ in range(2):
        rc, out, err = run_plugin("minipod-bridge", "DEL", conf, env)
        assert rc == 0 and out is None, err
    assert net.leases() == {}
    assert not os.path.exists(f"/sys/class/net/{host_veth_name('ctr-c', 'eth0')}")
    assert sh("ip", "-n", os.path.basename(ns), "link", "show", "eth0", check=False).returncode
    assert sh("nft", "list", "table", "ip", net.table, check=False).returncode != 0


def test_del_succeeds_after_the_netns_is_gone(net):
    ns = net.new_netns()
    rc, _, err = net.add("ctr-d", ns)
    assert rc == 0, err
    sh("ip", "netns", "del", os.path.basename(ns))
    rc, out, err = run_plugin("minipod-bridge", "DEL", net.bridge_conf(), net.env("ctr-d", ns))
    assert rc == 0, err
    rc, _, err = run_plugin("minipod-bridge", "DEL", net.bridge_conf(), net.env("ctr-d"))
    assert rc == 0, err  # no CNI_NETNS at all: allowed for DEL
    assert net.leases() == {}


def test_check_passes_then_detects_a_removed_address(net):
    ns = net.new_netns()
    env = net.env("ctr-e", ns)
    rc, res, err = net.add("ctr-e", ns)
    assert rc == 0, err
    conf = dict(net.bridge_conf(), prevResult=res)
    rc, out, err = run_plugin("minipod-bridge", "CHECK", conf, env)
    assert rc == 0 and out is None, err
    sh("ip", "-n", os.path.basename(ns), "addr", "del", res["ips"][0]["address"], "dev", "eth0")
    rc, out, _ = run_plugin("minipod-bridge", "CHECK", conf, env)
    assert rc != 0 and out["code"] == 103
    assert res["ips"][0]["address"] in out["msg"]
    rc, out, _ = run_plugin("minipod-bridge", "CHECK", net.bridge_conf(), env)
    assert rc != 0 and out["code"] == 7  # CHECK without prevResult


@pytest.mark.parametrize(
    "stdin, env_drop, code",
    [
        ("{not json", None, 6),
        ("[1, 2]", None, 6),
        ('{"cniVersion": "1.0.0", "type": "minipod-bridge"}', None, 7),  # no name
        ('{"cniVersion": "0.2.0", "name": "x", "type": "minipod-bridge"}', None, 1),
        ("BRIDGE", "CNI_NETNS", 4),
        ("BRIDGE+vlan", None, 2),
        ("BRIDGE-ipam", None, 7),
    ],
)
def test_malformed_input_gives_the_spec_error_json(net, stdin, env_drop, code):
    ns = net.new_netns()
    conf = net.bridge_conf()
    if stdin == "BRIDGE":
        stdin = json.dumps(conf)
    elif stdin == "BRIDGE+vlan":
        stdin = json.dumps(dict(conf, vlan=100))
    elif stdin == "BRIDGE-ipam":
        stdin = json.dumps({k: v for k, v in conf.items() if k != "ipam"})
    env = net.env("ctr-f", ns)
    if env_drop:
        del env[env_drop]
    rc, out, _ = run_plugin("minipod-bridge", "ADD", stdin, env)
    assert rc != 0
    assert out["code"] == code and out["msg"] and out["cniVersion"] in VERSIONS
    assert net.leases() == {}
    assert not os.path.exists(f"/sys/class/net/{host_veth_name('ctr-f', 'eth0')}")


def test_an_unknown_command_is_error_4():
    rc, out, _ = run_plugin("minipod-ipam", "FROB", {"cniVersion": "1.0.0", "name": "x"})
    assert rc != 0 and out["code"] == 4 and "CNI_COMMAND" in out["msg"]


def test_concurrent_adds_from_many_processes_get_different_addresses(net):
    # 20 IPAM processes at once on one lease directory: the flock serialises them.
    conf = net.ipam_conf()
    procs = [
        run_plugin("minipod-ipam", "ADD", conf, net.env(f"par-{i}", "/run/netns/none"), popen=True)
        for i in range(20)
    ]
    addrs = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        addrs.append(json.loads(out)["ips"][0]["address"])
    assert len(set(addrs)) == 20
    assert len(net.leases()) == 20
    # And 6 whole bridge ADDs racing, the first ones to create the bridge.
    nss = [net.new_netns() for _ in range(6)]
    procs = [
        run_plugin("minipod-bridge", "ADD", net.bridge_conf(), net.env(f"brpar-{i}", ns), popen=True)
        for i, ns in enumerate(nss)
    ]
    got = []
    for p, ns in zip(procs, nss, strict=True):
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        got.append(json.loads(out)["ips"][0]["address"])
        assert ns_addresses(ns) == [got[-1]]
    assert len(set(got + addrs)) == 26
    for i in range(20):
        rc, _, err = run_plugin("minipod-ipam", "DEL", conf, net.env(f"par-{i}"))
        assert rc == 0, err
    assert len(net.leases()) == 6


def test_gc_drops_leases_rules_and_veths_of_invalid_attachments_and_status(net):
    nss = [net.new_netns() for _ in range(2)]
    for i, ns in enumerate(nss):
        rc, _, err = net.add(f"gc-{i}", ns, version="1.1.0")
        assert rc == 0, err
    conf = dict(
        net.bridge_conf("1.1.0"), **{"cni.dev/valid-attachments": [{"containerID": "gc-0", "ifname": "eth0"}]}
    )
    rc, out, err = run_plugin("minipod-bridge", "GC", conf, {})
    assert rc == 0 and out is None, err
    assert [v.split("\r\n")[0] for v in net.leases().values()] == ["gc-0"]
    listed = json.loads(sh("nft", "-j", "list", "table", "ip", net.table).stdout)["nftables"]
    elems = [e["elem"]["comment"] for o in listed if "set" in o for e in o["set"].get("elem", [])]
    assert elems == ["masq gc-0 eth0"]
    assert os.path.exists(f"/sys/class/net/{host_veth_name('gc-0', 'eth0')}")
    assert not os.path.exists(f"/sys/class/net/{host_veth_name('gc-1', 'eth0')}")
    rc, out, err = run_plugin("minipod-bridge", "STATUS", net.bridge_conf("1.1.0"), {})
    assert rc == 0 and out is None, err
    rc, out, _ = run_plugin("minipod-bridge", "GC", net.bridge_conf("1.0.0"), {})
    assert rc != 0 and out["code"] == 1  # GC is a 1.1.0 command
    # A range of one address, which gc-0 holds: no ADD could succeed.
    [held] = net.leases()
    full = net.bridge_conf("1.1.0")
    full["ipam"] = dict(
        full["ipam"], ranges=[[{"subnet": str(net.subnet), "rangeStart": held, "rangeEnd": held}]]
    )
    rc, out, _ = run_plugin("minipod-bridge", "STATUS", full, {})
    assert rc != 0 and out["code"] == 50


def test_another_ipam_type_is_executed_from_cni_path(net):
    """minipod-bridge delegating to the reference host-local, which writes
    the same lease files minipod-ipam does."""
    ref = next(
        (
            d
            for d in ("/opt/cni/bin", "/usr/lib/cni", "/usr/libexec/cni")
            if os.access(os.path.join(d, "host-local"), os.X_OK)
        ),
        None,
    )
    if ref is None:
        pytest.skip("the reference host-local plugin is not installed")
    conf = net.bridge_conf()
    conf["ipam"] = dict(conf["ipam"], type="host-local")
    ns = net.new_netns()
    env = dict(net.env("ext-ipam", ns), CNI_PATH=ref)
    rc, res, err = run_plugin("minipod-bridge", "ADD", conf, env)
    assert rc == 0, err
    assert net.leases() == {res["ips"][0]["address"].split("/")[0]: "ext-ipam\r\neth0"}
    assert ns_addresses(ns) == [res["ips"][0]["address"]]
    rc, _, err = run_plugin("minipod-bridge", "DEL", conf, env)
    assert rc == 0, err
    assert net.leases() == {}
