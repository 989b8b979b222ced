"""The pod network the plugins build: packets, NAT rules, and the in-process API.

Same ground rules as test_cni_plugins.py: root, real kernel objects, a fresh
private network per test (helpers.cni.Net), everything removed at the end.
Traffic only goes between this host and namespaces the test made.
"""

import asyncio
import ipaddress
import json
import os
import threading
import time

import pytest
from helpers.cni import BUSYBOX, free_subnet, http_get_from, ns_exec, run_plugin
from helpers.host import free_port, http_get, sh, wait_listening

from minipod.network import cni, nft
from minipod.network.cni import bridge, portmap

needs_busybox = pytest.mark.skipif(not BUSYBOX, reason="busybox is not installed")


def _table_rules(table: str) -> list[dict]:
    p = sh("nft", "-j", "list", "table", "ip", table, check=False)
    if p.returncode != 0:
        return []
    return [o["rule"] for o in json.loads(p.stdout)["nftables"] if "rule" in o]


@needs_busybox
def test_pods_reach_each_other_and_the_host_reaches_them(net):
    a, b = net.new_netns(), net.new_netns()
    ips = []
    for cid, ns in (("ping-a", a), ("ping-b", b)):
        rc, res, err = net.add(cid, ns)
        assert rc == 0, err
        ips.append(res["ips"][0]["address"].split("/")[0])
    p = ns_exec(a, BUSYBOX, "ping", "-c", "1", "-W", "3", ips[1])
    assert p.returncode == 0, f"pod a cannot ping pod b: {p.stdout}{p.stderr}"
    p = ns_exec(b, BUSYBOX, "ping", "-c", "1", "-W", "3", net.gateway)
    assert p.returncode == 0, f"pod b cannot ping its gateway: {p.stdout}{p.stderr}"
    p = sh(BUSYBOX, "ping", "-c", "1", "-W", "3", ips[0], check=False)
    assert p.returncode == 0, f"the host cannot ping pod a: {p.stdout}{p.stderr}"


def _masq_set(table: str) -> dict:
    """{address: comment} of the table's masquerade set(s); {} without a table."""
    p = sh("nft", "-j", "list", "table", "ip", table, check=False)
    if p.returncode != 0:
        return {}
    sets = [o["set"] for o in json.loads(p.stdout)["nftables"] if "set" in o]
    return {e["elem"]["val"]: e["elem"]["comment"] for s in sets for e in s.get("elem", [])}


def test_ipmasq_is_one_rule_and_a_set_of_pods_until_the_last_del(net):
    nss = [net.new_netns() for _ in range(2)]
    results = []
    for i, ns in enumerate(nss):
        rc, res, err = net.add(f"masq-{i}", ns)
        assert rc == 0, err
        results.append(res)
    ips = [r["ips"][0]["address"].split("/")[0] for r in results]
    # One rule for the subnet, whatever the number of pods; the pods in its set.
    rules = _table_rules(net.table)
    assert [r["comment"] for r in rules] == [f"masq pods {net.subnet}"]
    assert rules[0]["chain"] == "postrouting" and {"masquerade": None} in rules[0]["expr"]
    name = rules[0]["expr"][0]["match"]["right"]
    assert name == "@masq_" + str(net.subnet).replace(".", "_").replace("/", "_")
    # Its own subnet and multicast keep the pod's address.
    excluded = rules[0]["expr"][1]["match"]
    assert excluded["op"] == "!=" and {"prefix": {"addr": "224.0.0.0", "len": 4}} in excluded["right"]["set"]
    assert _masq_set(net.table) == {ips[0]: "masq masq-0 eth0", ips[1]: "masq masq-1 eth0"}
    chain = json.loads(sh("nft", "-j", "list", "chain", "ip", net.table, "postrouting").stdout)
    base = [o["chain"] for o in chain["nftables"] if "chain" in o][0]
    assert (base["type"], base["hook"], base["prio"]) == ("nat", "postrouting", 100)
    env0 = net.env("masq-0", nss[0])
    rc, _, err = run_plugin("minipod-bridge", "CHECK", dict(net.bridge_conf(), prevResult=results[0]), env0)
    assert rc == 0, err
    rc, _, err = run_plugin("minipod-bridge", "DEL", dict(net.bridge_conf(), prevResult=results[0]), env0)
    assert rc == 0, err
    assert _masq_set(net.table) == {ips[1]: "masq masq-1 eth0"}
    rc, out, _ = run_plugin("minipod-bridge", "CHECK", dict(net.bridge_conf(), prevResult=results[0]), env0)
    assert rc != 0 and out["code"] in (103, 3)
    # A DEL without prevResult finds the element by its comment.
    rc, _, err = run_plugin("minipod-bridge", "DEL", net.bridge_conf(), net.env("masq-1", nss[1]))
    assert rc == 0, err
    assert sh("nft", "list", "table", "ip", net.table, check=False).returncode != 0


def test_del_cleans_up_an_older_minipods_per_pod_rule(net):
    """A table left by a minipod that made one masquerade rule per pod: DEL
    still removes the pod's rule (found by its comment)."""
    ns = net.new_netns()
    rc, res, err = net.add("old-0", ns)
    assert rc == 0, err
    ip = res["ips"][0]["address"].split("/")[0]
    rule = f'ip saddr {ip} ip daddr != {{ {net.subnet}, 224.0.0.0/4 }} masquerade comment "masq old-0 eth0"'
    sh("nft", f"add rule ip {net.table} postrouting {rule}")
    sh(
        "nft",
        "delete",
        "element",
        "ip",
        net.table,
        "masq_" + str(net.subnet).replace(".", "_").replace("/", "_"),
        f"{{ {ip} }}",
    )
    rc, _, err = run_plugin(
        "minipod-bridge", "DEL", dict(net.bridge_conf(), prevResult=res), net.env("old-0", ns)
    )
    assert rc == 0, err
    assert sh("nft", "list", "table", "ip", net.table, check=False).returncode != 0


def _other_host(net) -> tuple[str, str]:
    """A namespace standing for another machine, linked to this host by a
    veth pair on a /30 of its own: (its netns path, this host's address)."""
    ns = net.new_netns()
    m = free_subnet()  # the /30 lives in another unused 10.199.M.0/24
    host_if, host_ip, peer_ip = f"mpe{net.tag}", f"10.199.{m}.1", f"10.199.{m}.2"
    net.links.append(host_if)
    sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", os.path.basename(ns))
    sh("ip", "addr", "add", f"{host_ip}/30", "dev", host_if)
    sh("ip", "link", "set", host_if, "up")
    name = os.path.basename(ns)
    sh("ip", "-n", name, "addr", "add", f"{peer_ip}/30", "dev", "eth0")
    sh("ip", "-n", name, "link", "set", "eth0", "up")
    sh("ip", "-n", name, "route", "add", "default", "via", host_ip)
    return ns, host_ip


@needs_busybox
def test_portmap_dnat_reaches_the_pod_from_the_host_pods_and_another_host(net, tmp_path):
    web, other = net.new_netns(), net.new_netns()
    rc, res, err = net.add("web", web)
    assert rc == 0, err
    rc, res2, err = net.add("client", other)
    assert rc == 0, err
    pod_ip = res["ips"][0]["address"].split("/")[0]
    port, bound_port = free_port(), free_port()
    maps = [
        {"hostPort": port, "containerPort": 8080, "protocol": "tcp"},
        {"hostPort": bound_port, "containerPort": 8080, "protocol": "tcp", "hostIP": net.gateway},
    ]
    env = net.env("web", web)
    rc, out, err = run_plugin("minipod-portmap", "ADD", net.portmap_conf(res, maps), env)
    assert rc == 0, err
    assert out["ips"] == res["ips"] and out["interfaces"] == res["interfaces"]  # passed on
    docroot = tmp_path / "www"
    docroot.mkdir()
    (docroot / "index.html").write_text(f"hello from {net.tag}\n")
    net.spawn(
        "ip", "netns", "exec", os.path.basename(web), BUSYBOX, "httpd", "-f", "-p", "8080", "-h", str(docroot)
    )
    wait_listening(pod_ip, 8080)
    want = f"hello from {net.tag}"
    ext, ext_host_ip = _other_host(net)
    assert http_get("127.0.0.1", port) == want  # route_localnet + masquerade
    assert http_get(net.gateway, port) == want  # a host address, from the host
    assert http_get_from(other, net.gateway, port) == want  # another pod
    assert http_get_from(web, net.gateway, port) == want  # the pod itself: hairpin
    assert http_get_from(ext, ext_host_ip, port) == want  # another "machine"
    assert http_get(net.gateway, bound_port) == want  # hostIP honoured ...
    assert http_get("127.0.0.1", bound_port) == ""  # ... and only there
    with open(f"/proc/sys/net/ipv4/conf/{net.bridge}/route_localnet") as f:
        assert f.read().strip() == "1"
    # Another pod cannot take the same hostPort.
    rc, out, _ = run_plugin(
        "minipod-portmap", "ADD", net.portmap_conf(res2, maps[:1]), net.env("client", other)
    )
    assert rc != 0 and out["code"] == 101
    conf = net.portmap_conf(res, maps)
    rc, _, err = run_plugin("minipod-portmap", "CHECK", conf, env)
    assert rc == 0, err
    for _ in range(2):
        rc, _, err = run_plugin("minipod-portmap", "DEL", conf, env)
        assert rc == 0, err
    assert not [r for r in _table_rules(net.table) if r["comment"].startswith("hostport")]
    # DEL of a pod without hostPorts touches nothing: the rules of "web" stay.
    rc, _, err = run_plugin("minipod-portmap", "ADD", conf, env)
    assert rc == 0, err
    rc, _, err = run_plugin("minipod-portmap", "DEL", net.portmap_conf(res2, []), net.env("client", other))
    assert rc == 0, err
    assert [r for r in _table_rules(net.table) if r["comment"] == "hostport web eth0"]
    rc, _, err = run_plugin("minipod-portmap", "DEL", conf, env)
    assert rc == 0, err
    assert http_get("127.0.0.1", port) == ""
    rc, out, _ = run_plugin("minipod-portmap", "CHECK", conf, env)
    assert rc != 0 and out["code"] == 103


def test_in_process_functions_and_conflist_with_timings(net):
    """The functions the daemon calls: same semantics, no process per call."""
    nss = [net.new_netns() for _ in range(6)]
    threads = threading.active_count()
    conflist = {
        "cniVersion": "1.0.0",
        "name": net.name,
        "plugins": [
            {k: v for k, v in net.bridge_conf().items() if k not in ("cniVersion", "name")},
            {"type": "minipod-portmap", "capabilities": {"portMappings": True}},
        ],
    }
    timings = {
        "bridge ADD": [],
        "portmap ADD": [],
        "list ADD": [],
        "CHECK": [],
        "portmap DEL": [],
        "bridge DEL": [],
        "list DEL": [],
    }
    T = time.perf_counter
    for i, ns in enumerate(nss[:3]):
        env = net.env(f"inproc-{i}", ns)
        t = T()
        res = bridge.add(net.bridge_conf(), env)
        timings["bridge ADD"].append(T() - t)
        t = T()
        portmap.add(net.portmap_conf(res, [{"hostPort": free_port(), "containerPort": 80}]), env)
        timings["portmap ADD"].append(T() - t)
        t = T()
        bridge.check(dict(net.bridge_conf(), prevResult=res), env)
        timings["CHECK"].append(T() - t)
        assert ipaddress.ip_interface(res["ips"][0]["address"]).network == net.subnet
        with pytest.raises(cni.CniError) as e:
            bridge.add(net.bridge_conf(), env)
        assert e.value.code == cni.E_EXISTS

    async def in_a_loop():
        # The daemon's way: *_async inside its running loop; the sync
        # wrappers refuse to run there instead of deadlocking.
        out = []
        for i, ns in enumerate(nss[3:]):
            env = net.env(f"inlist-{i}", ns)
            t = T()
            out.append(
                await cni.add_list_async(
                    conflist,
                    env,
                    {"portMappings": [{"hostPort": free_port(), "containerPort": 80, "protocol": "tcp"}]},
                )
            )
            timings["list ADD"].append(T() - t)
        with pytest.raises(RuntimeError):
            bridge.add(net.bridge_conf(), net.env("never", nss[3]))
        for i, (ns, res) in enumerate(zip(nss[3:], out, strict=True)):
            t = T()
            await cni.del_list_async(conflist, net.env(f"inlist-{i}", ns), res)
            timings["list DEL"].append(T() - t)
        return out

    results = asyncio.run(in_a_loop())
    assert all(r["interfaces"][2]["name"] == "eth0" for r in results)
    for i, ns in enumerate(nss[:3]):
        env = net.env(f"inproc-{i}", ns)
        t = T()
        portmap.delete(net.portmap_conf(None), env)
        timings["portmap DEL"].append(T() - t)
        t = T()
        bridge.delete(net.bridge_conf(), env)
        timings["bridge DEL"].append(T() - t)
    assert threading.active_count() == threads  # the netns-socket threads were joined
    assert net.leases() == {}
    assert not nft.table_exists(net.table)
    for what, ts in timings.items():
        print(f"in-process {what}: " + ", ".join(f"{x * 1000:.1f}" for x in ts) + " ms")
