"""The pod network, end to end: real pods through the CLI, real packets.

Every pod gets its own IP on the instance's bridge; pods, the host and the
pod's own containers reach each other; pods find each other by name
through /etc/hosts; traffic leaving the host is masqueraded and hostPorts
are DNATed to the pod. "Another machine" is a network namespace joined to
the host by a veth pair of its own (helpers.network.OutsideHost), so nothing leaves
this host.
"""

import ipaddress
import json
import os

from helpers.host import eventually, free_port, http_get, sh
from helpers.kubectl import kubectl
from helpers.network import (
    OutsideHost,
    bridge_ports,
    http_from_pod,
    instance_network,
    link_exists,
    nft_rules,
    rules_with_port,
    udp_ask,
    udp_echo_in,
    wait_http,
)
from helpers.pods import ctr, delete_quietly, manifest, pod, pod_ip, pod_sh, sleeper_pod, web_pod


def _names(pod_name: str, *suffixes: str) -> list[str]:
    return [f"{pod_name[:40]}-{s}" for s in suffixes]


def _wide_ips(mp) -> dict[str, str]:
    """NAME -> IP column of `get pods -o wide`."""
    lines = mp.run("get", "pods", "-o", "wide").stdout.splitlines()
    head = lines[0].split()
    i_name, i_ip = head.index("NAME"), head.index("IP")
    return {f[i_name]: f[i_ip] for f in (line.split() for line in lines[1:])}


def test_pods_get_their_own_ips_and_reach_each_other_the_host_and_the_gateway(mp, pod_name):
    a, b, c = _names(pod_name, "a", "b", "c")
    net = instance_network(mp)
    try:
        mp.run_pod(manifest(web_pod(a), web_pod(b), sleeper_pod(c)))
        pods = {n: mp.pod(n) for n in (a, b, c)}
        ips = {n: p["status"]["podIP"] for n, p in pods.items()}
        assert len(set(ips.values())) == 3, f"two pods share an IP: {ips}"
        for n, p in pods.items():
            assert ipaddress.ip_address(ips[n]) in net["subnet"], (n, ips[n], net["subnet"])
            assert p["status"]["podIPs"] == [{"ip": ips[n]}]
            assert ips[n] != p["status"]["hostIP"]
        wide = _wide_ips(mp)
        assert {n: wide[n] for n in (a, b, c)} == ips

        # A third pod reaches both servers by IP, over HTTP.
        for server in (a, b):
            wait_http(
                lambda s=server: http_from_pod(mp, c, ips[s]),
                f"hello-from-{server}",
                f"pod {c} to fetch / from {server} at {ips[server]}",
            )
        # The servers reach each other too.
        assert http_from_pod(mp, a, ips[b]) == f"hello-from-{b}"
        # The host reaches each pod IP.
        for server in (a, b):
            assert http_get(ips[server]) == f"hello-from-{server}"

        # The gateway is the bridge's address; a pod reaches it (ping needs
        # NET_RAW, a default capability).
        gateway = mp.inspect(c)["network"]["gateway"]
        bridge_addrs = json.loads(sh("ip", "-j", "-4", "addr", "show", net["bridge"]).stdout)
        assert gateway in [x["local"] for x in bridge_addrs[0]["addr_info"]]
        assert f"default via {gateway}" in pod_sh(mp, c, "ip route").stdout
        p = pod_sh(mp, c, f"ping -c 1 -W 3 {gateway}", check=False)
        assert p.returncode == 0, f"pod {c} cannot ping its gateway {gateway}: {p.stdout}{p.stderr}"
    finally:
        delete_quietly(mp, a, b, c)


def test_containers_of_a_pod_share_its_ip_and_talk_over_localhost(mp, pod_name):
    p = pod(
        pod_name,
        ctr("web", "mkdir -p /www && echo hello-local > /www/index.html && exec httpd -f -p 8080 -h /www"),
        ctr("side", "exec sleep 3600"),
    )
    try:
        mp.run_pod(json.dumps(p))
        ip = pod_ip(mp, pod_name)
        seen = {}
        for c in ("web", "side"):
            out = pod_sh(mp, pod_name, "ip -o -4 addr show dev eth0", container=c).stdout
            seen[c] = out.split("inet ")[1].split("/")[0]
        assert seen == {"web": ip, "side": ip}
        wait_http(
            lambda: http_from_pod(mp, pod_name, "127.0.0.1", container="side"),
            "hello-local",
            "the side container to reach the web container on localhost",
        )
        assert http_from_pod(mp, pod_name, "localhost", container="side") == "hello-local"
        assert http_get(ip) == "hello-local"
    finally:
        delete_quietly(mp, pod_name)


def _hosts(mp, name: str, namespace: str = "default") -> str:
    return mp.run("exec", name, "-n", namespace, "--", "cat", "/etc/hosts").stdout


def test_pods_find_each_other_through_the_cluster_dns(mp, pod_name):
    """/etc/hosts holds only the pod's own entries, as the kubelet writes it;
    pods find each other through the cluster DNS: a headless Service names
    the pods whose subdomain it is, any pod has its dashed-IP record, and a
    pod that goes leaves the DNS."""
    a, c, late = _names(pod_name, "a", "c", "late")
    sub = f"sub-{pod_name[-20:]}".rstrip("-")
    other_ns = "podnet-other"
    far = f"{pod_name[:40]}-far"
    far_pod = web_pod(far)
    far_pod["metadata"]["namespace"] = other_ns
    headless = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": sub},
        "spec": {"clusterIP": "None", "selector": {"peers": sub}, "ports": [{"port": 8080}]},
    }
    kubectl(mp, "apply", "-f", "-", input=json.dumps(headless))
    try:
        mp.run_pod(
            manifest(web_pod(a, labels={"peers": sub}, hostname=a, subdomain=sub), sleeper_pod(c), far_pod)
        )
        ips = {n: pod_ip(mp, n) for n in (a, c)}
        ips[far] = mp.pod(far, other_ns)["status"]["podIP"]
        hosts = _hosts(mp, c)
        lines = [line.split("\t") for line in hosts.splitlines()]
        assert [ips[c], c] in lines, hosts  # its own name, and no other pod's
        assert ips[a] not in hosts and ips[far] not in hosts, hosts
        a_lines = [line.split("\t") for line in _hosts(mp, a).splitlines()]
        assert [ips[a], f"{a}.{sub}.default.svc.cluster.local", a] in a_lines
        # hostname.subdomain, short (search list) and in full; another namespace's pod by its record.
        for host in (f"{a}.{sub}", f"{a}.{sub}.default.svc.cluster.local"):
            wait_http(lambda h=host: http_from_pod(mp, c, h), f"hello-from-{a}", f"pod {c} to reach {host}")
        far_name = f"{ips[far].replace('.', '-')}.{other_ns}.pod"
        wait_http(lambda: http_from_pod(mp, c, far_name), f"hello-from-{far}", f"pod {c} to reach {far_name}")

        # A new pod of the subdomain appears in the DNS ...
        mp.run_pod(json.dumps(web_pod(late, labels={"peers": sub}, hostname=late, subdomain=sub)))
        wait_http(
            lambda: http_from_pod(mp, c, f"{late}.{sub}"), f"hello-from-{late}", f"pod {c} to reach {late}"
        )
        # ... and leaves it when it goes: the name no longer resolves.
        mp.delete(late)
        eventually(
            lambda: pod_sh(mp, c, f"nc -w 2 {late}.{sub} 8080 </dev/null", check=False).returncode != 0,
            10,
            f"{late}.{sub} to leave the DNS",
        )
    finally:
        delete_quietly(mp, a, c, late)
        mp.run("delete", "pod", far, "-n", other_ns, "--grace-period", "0", "--ignore-not-found", check=False)
        kubectl(mp, "delete", "svc", sub, "--ignore-not-found")


def test_host_aliases_and_dns_config_land_in_hosts_and_resolv_conf(mp, pod_name):
    aliased, custom, extra = _names(pod_name, "alias", "dns", "extra")
    p1 = web_pod(
        aliased,
        hostAliases=[
            {"ip": "127.0.0.1", "hostnames": ["web.alias", "also.alias"]},
            {"ip": "10.99.0.7", "hostnames": ["seven.alias"]},
        ],
    )
    p2 = sleeper_pod(
        custom,
        dnsPolicy="None",
        dnsConfig={
            "nameservers": ["10.99.0.10", "10.99.0.11"],
            "searches": ["svc.example", "example"],
            "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
        },
    )
    p3 = sleeper_pod(extra, dnsConfig={"nameservers": ["10.99.0.12"], "searches": ["extra.example"]})
    try:
        mp.run_pod(manifest(p1, p2, p3))
        hosts = _hosts(mp, aliased)
        lines = [line.split("\t") for line in hosts.splitlines()]
        assert ["127.0.0.1", "web.alias", "also.alias"] in lines, hosts
        assert ["10.99.0.7", "seven.alias"] in lines, hosts
        # The alias resolves (to the pod's own loopback, where httpd listens).
        wait_http(
            lambda: http_from_pod(mp, aliased, "web.alias"),
            f"hello-from-{aliased}",
            "web.alias to resolve to 127.0.0.1",
        )

        resolv = mp.run("exec", custom, "--", "cat", "/etc/resolv.conf").stdout
        assert resolv == (
            "nameserver 10.99.0.10\nnameserver 10.99.0.11\n"
            "search svc.example example\noptions ndots:2 edns0\n"
        )
        # dnsPolicy ClusterFirst (the default): the cluster DNS, its search
        # list and ndots:5, with dnsConfig's added, as the kubelet writes it.
        resolv = mp.run("exec", extra, "--", "cat", "/etc/resolv.conf").stdout
        gateway = str(ipaddress.ip_network(mp.subnet)[1])
        servers = [x.split()[1] for x in resolv.splitlines() if x.startswith("nameserver ")]
        assert servers == [gateway, "10.99.0.12"], resolv
        search = next(x for x in resolv.splitlines() if x.startswith("search ")).split()[1:]
        assert search[:3] == ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"], resolv
        assert search[-1] == "extra.example", resolv
        assert "options ndots:5" in resolv.splitlines(), resolv
    finally:
        delete_quietly(mp, aliased, custom, extra)


def test_traffic_leaving_the_host_is_masqueraded(mp, pod_name):
    with OutsideHost() as outside:
        try:
            mp.run_pod(json.dumps(sleeper_pod(pod_name)))
            ip = pod_ip(mp, pod_name)
            port = free_port()
            server = outside.tcp_listener(port)
            out = pod_sh(mp, pod_name, f"echo hi | nc -w 5 {outside.ip} {port}", check=False)
            assert "hello-from-outside" in out.stdout, f"the pod did not reach {outside.ip}: {out}"
            server.wait(10)
            peer = server.stdout.read().strip()
            # The other machine sees the host's address on its link, not the pod's.
            assert peer == outside.host_ip, f"the connection arrived from {peer!r} (pod IP {ip})"
            assert peer != ip
        finally:
            delete_quietly(mp, pod_name)


def test_host_port_tcp_from_another_host_the_host_and_host_ip_bound(mp, pod_name):
    net = instance_network(mp)
    with OutsideHost() as outside:
        port, bound = free_port(), free_port()
        body = f"hello-from-{pod_name}"
        # Two servers in one container: 8080 (on a wildcard hostPort) and 8081
        # (on a hostPort bound to the host's address on the outside link).
        script = (
            f"mkdir -p /www && echo {body} > /www/index.html && httpd -p 8081 -h /www && "
            f"exec httpd -f -p 8080 -h /www"
        )
        p = pod(
            pod_name,
            ctr(
                "web",
                script,
                ports=[
                    {"containerPort": 8080, "hostPort": port},
                    {"containerPort": 8081, "hostPort": bound, "hostIP": outside.host_ip},
                ],
            ),
        )
        try:
            mp.run_pod(json.dumps(p))
            uid = mp.pod(pod_name)["metadata"]["uid"]
            host_ip = mp.pod(pod_name)["status"]["hostIP"]
            gateway = mp.inspect(pod_name)["network"]["gateway"]
            wait_http(
                lambda: outside.http_get(outside.host_ip, port),
                body,
                f"the other host to reach hostPort {port} at {outside.host_ip}",
            )
            assert http_get("127.0.0.1", port) == body
            assert http_get(outside.host_ip, port) == body
            assert http_get(gateway, port) == body
            if not ipaddress.ip_address(host_ip).is_loopback:
                assert http_get(host_ip, port) == body  # status.hostIP
            # hostIP: answered at that address only.
            wait_http(
                lambda: outside.http_get(outside.host_ip, bound),
                body,
                f"the other host to reach hostPort {bound} at {outside.host_ip}",
            )
            assert http_get(outside.host_ip, bound) == body
            assert http_get("127.0.0.1", bound) == ""
            assert http_get(gateway, bound) == ""
            assert rules_with_port(nft_rules(net["table"]), port)
            assert rules_with_port(nft_rules(net["table"]), bound)
        finally:
            delete_quietly(mp, pod_name)
        # Gone with the pod: no answer, no rule anywhere in the ruleset.
        assert outside.http_get(outside.host_ip, port) == ""
        assert outside.http_get(outside.host_ip, bound) == ""
        assert http_get("127.0.0.1", port) == ""
        rules = nft_rules()
        left = [r for r in rules if r["table"] == net["table"] and uid in r.get("comment", "")]
        assert not left, f"rules of the deleted pod remain: {left}"
        left = [r for r in rules if r["table"] == net["table"]]
        assert not rules_with_port(left, port) and not rules_with_port(left, bound), left


def test_host_port_udp(mp, pod_name):
    net = instance_network(mp)
    with OutsideHost() as outside:
        port = free_port()
        p = sleeper_pod(pod_name)
        p["spec"]["containers"][0]["ports"] = [{"containerPort": 5353, "hostPort": port, "protocol": "UDP"}]
        echo = None
        try:
            mp.run_pod(json.dumps(p))
            echo = udp_echo_in(mp.inspect(pod_name)["network"]["netns"], 5353)
            eventually(
                lambda: outside.udp_ask(outside.host_ip, port, "from-outside") == "echo:from-outside",
                15,
                f"a UDP answer from hostPort {port} at {outside.host_ip}",
            )
            eventually(
                lambda: udp_ask("127.0.0.1", port, "from-host") == "echo:from-host",
                15,
                f"a UDP answer from 127.0.0.1:{port}",
            )
            dnat = [
                r
                for r in rules_with_port(nft_rules(net["table"]), port)
                if any("dnat" in e for e in r["expr"])
            ]
            assert dnat and all(
                any(
                    e.get("match", {}).get("left", {}).get("payload", {}).get("protocol") == "udp"
                    for e in r["expr"]
                )
                for r in dnat
            ), dnat
        finally:
            if echo is not None:
                echo.kill()
                echo.wait()
            delete_quietly(mp, pod_name)
        left = [r for r in nft_rules() if r["table"] == net["table"]]
        assert not rules_with_port(left, port), left


def test_inspect_shows_the_pods_network(mp, pod_name):
    net = instance_network(mp)
    try:
        mp.run_pod(json.dumps(web_pod(pod_name)))
        status = mp.pod(pod_name)
        uid, ip = status["metadata"]["uid"], status["status"]["podIP"]
        view = mp.inspect(pod_name)
        nv = view["network"]
        assert nv["state"] == "ready"
        # The pinned netns: a mount of the pod's network namespace.
        assert nv["netns"] == os.path.join(mp.root, "run", "netns", uid)
        assert os.path.ismount(nv["netns"])
        init_net = os.stat(f"/proc/{view['podInit']['pid']}/ns/net").st_ino
        assert os.stat(nv["netns"]).st_ino == nv["netnsInode"] == init_net
        # The host end of the veth pair: on the host, a port of the bridge.
        veth = nv["vethHost"]
        assert link_exists(veth), veth
        assert os.path.basename(os.path.realpath(f"/sys/class/net/{veth}/master")) == net["bridge"]
        assert nv["bridge"] == net["bridge"]
        assert veth in bridge_ports(net["bridge"])
        # The pod end: eth0, the peer of that veth.
        assert nv["vethPod"] == "eth0"
        with open(f"/sys/class/net/{veth}/ifindex") as f:
            host_index = f.read().strip()
        link = pod_sh(mp, pod_name, "ip -o link show eth0").stdout
        assert link.split(":")[1].strip() == f"eth0@if{host_index}", link
        # The address, the gateway and the lease.
        assert nv["ips"] == [f"{ip}/{net['subnet'].prefixlen}"]
        assert nv["gateway"] == str(net["subnet"][1])
        assert f"default via {nv['gateway']}" in pod_sh(mp, pod_name, "ip route").stdout
        assert nv["lease"] == os.path.join(net["lease_dir"], ip)
        with open(nv["lease"], newline="") as f:
            assert f.read().split("\r\n") == [uid, "eth0"]
        lease = nv["lease"]
    finally:
        delete_quietly(mp, pod_name)
    assert not os.path.exists(lease), "the lease outlived the pod"
    assert not os.path.exists(nv["netns"]), "the netns pin outlived the pod"
    assert not link_exists(veth), "the host veth outlived the pod"
