"""Service variables (minipod/services/service_env.py), cluster DNS
answers (dns_answers.py) and the pod's resolv.conf and hosts (pod/etc_files.py):
pure."""

from minipod.pod import etc_files
from minipod.services import dns_answers as dns
from minipod.services.service_env import service_env


def svc(name: str, ns: str = "default", **spec) -> dict:
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def a_pod(ns: str = "default", **spec) -> dict:
    return {"metadata": {"name": "p", "namespace": ns}, "spec": spec}


def test_service_variables():
    web = svc(
        "my-web",
        clusterIP="10.96.0.7",
        ports=[
            {"name": "http", "port": 80, "protocol": "TCP"},
            {"name": "dns-udp", "port": 53, "protocol": "UDP"},
        ],
    )
    env = service_env(
        a_pod(),
        [
            web,
            svc("hl", clusterIP="None", ports=[{"port": 1}]),
            svc("other", "ns2", clusterIP="10.96.0.8", ports=[{"port": 1}]),
        ],
    )
    assert env == {
        "MY_WEB_SERVICE_HOST": "10.96.0.7",
        "MY_WEB_SERVICE_PORT": "80",
        "MY_WEB_SERVICE_PORT_HTTP": "80",
        "MY_WEB_SERVICE_PORT_DNS_UDP": "53",
        "MY_WEB_PORT": "tcp://10.96.0.7:80",
        "MY_WEB_PORT_80_TCP": "tcp://10.96.0.7:80",
        "MY_WEB_PORT_80_TCP_PROTO": "tcp",
        "MY_WEB_PORT_80_TCP_PORT": "80",
        "MY_WEB_PORT_80_TCP_ADDR": "10.96.0.7",
        "MY_WEB_PORT_53_UDP": "udp://10.96.0.7:53",
        "MY_WEB_PORT_53_UDP_PROTO": "udp",
        "MY_WEB_PORT_53_UDP_PORT": "53",
        "MY_WEB_PORT_53_UDP_ADDR": "10.96.0.7",
    }
    assert service_env(a_pod(enableServiceLinks=False), [web]) == {}


def test_dns_answers():
    services = {
        ("default", "web"): svc(
            "web", clusterIP="10.96.0.7", ports=[{"name": "http", "port": 80, "protocol": "TCP"}]
        ),
        ("default", "hl"): svc(
            "hl", clusterIP="None", ports=[{"name": "http", "port": 80, "protocol": "TCP"}]
        ),
        ("default", "ext"): svc("ext", type="ExternalName", externalName="example.org"),
    }
    slices = [
        {
            "metadata": {"namespace": "default", "labels": {"kubernetes.io/service-name": "hl"}},
            "endpoints": [
                {"addresses": ["10.85.0.2"], "conditions": {"ready": True}, "hostname": "db-0"},
                {"addresses": ["10.85.0.3"], "conditions": {"ready": False}},
            ],
        }
    ]

    def ask(name, qtype="A"):
        return dns.answer(name, qtype, services, slices)

    assert [r.value for r in ask("web.default.svc.cluster.local.").records] == ["10.96.0.7"]
    assert [r.value for r in ask("hl.default.svc.cluster.local").records] == ["10.85.0.2"]
    assert [r.value for r in ask("db-0.hl.default.svc.cluster.local").records] == ["10.85.0.2"]
    assert [r.value for r in ask("10-85-0-2.hl.default.svc.cluster.local").records] == ["10.85.0.2"]
    assert ask("10-85-0-3.hl.default.svc.cluster.local").nxdomain  # not ready
    assert [r.value for r in ask("10-1-2-3.any.pod.cluster.local").records] == ["10.1.2.3"]
    assert ask("ext.default.svc.cluster.local", "CNAME").records[0].value == "example.org."
    srv = ask("_http._tcp.web.default.svc.cluster.local", "SRV").records
    assert [(r.value, r.port) for r in srv] == [("web.default.svc.cluster.local.", 80)]
    assert ask("nope.default.svc.cluster.local").nxdomain
    assert ask("web.other.svc.cluster.local").nxdomain
    nodata = ask("web.default.svc.cluster.local", "AAAA")
    assert not nodata.nxdomain and nodata.records == []
    assert ask("example.org").forward and not ask("cluster.local").nxdomain


HOST = (["10.255.255.53"], ["corp.example"], ["edns0"])


def test_resolv_conf_by_dns_policy():
    assert etc_files.resolv_conf(a_pod("team"), "10.85.0.1", HOST) == (
        "nameserver 10.85.0.1\n"
        "search team.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
        "options ndots:5\n"
    )
    assert etc_files.resolv_conf(a_pod(hostNetwork=True), "10.85.0.1", HOST).startswith(
        "nameserver 10.255.255.53\n"
    )
    with_host_net = a_pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet")
    assert etc_files.resolv_conf(with_host_net, "10.85.0.1", HOST).startswith("nameserver 10.85.0.1\n")
    assert etc_files.resolv_conf(a_pod(dnsPolicy="Default"), "10.85.0.1", HOST) == (
        "nameserver 10.255.255.53\nsearch corp.example\noptions edns0\n"
    )
    merged = a_pod(
        dnsConfig={
            "nameservers": ["1.1.1.1"],
            "searches": ["x.example"],
            "options": [{"name": "ndots", "value": "2"}],
        }
    )
    assert etc_files.resolv_conf(merged, "10.85.0.1", HOST) == (
        "nameserver 10.85.0.1\nnameserver 1.1.1.1\n"
        "search default.svc.cluster.local svc.cluster.local cluster.local corp.example x.example\n"
        "options ndots:2\n"
    )
    assert etc_files.resolv_conf(a_pod(), None, HOST).startswith("nameserver 10.255.255.53\n")


def test_hosts_file_has_only_the_pods_own_entries():
    pod = a_pod(hostname="db-0", subdomain="db", hostAliases=[{"ip": "10.0.0.9", "hostnames": ["nine"]}])
    text = etc_files.hosts_file(pod, "10.85.0.4")
    assert "10.85.0.4\tdb-0.db.default.svc.cluster.local\tdb-0\n" in text
    assert "10.0.0.9\tnine\n" in text
