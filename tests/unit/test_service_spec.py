"""Services defaulted, validated and allocated as the API server does
(minipod/services/service_spec.py, allocate.py), and kubectl's columns."""

import random

from minipod.objects import network_columns as columns
from minipod.services import allocate, service_spec

CIDR = "10.96.0.0/24"


def svc(**spec) -> dict:
    spec.setdefault("ports", [{"port": 80}])
    return {"metadata": {"name": "web", "uid": "u1"}, "spec": spec}


def fields(causes) -> list[str]:
    return [f for _, f, _ in causes]


def test_defaults():
    s = service_spec.default_service(svc(sessionAffinity="ClientIP"))["spec"]
    assert s["type"] == "ClusterIP" and s["ports"][0] == {"port": 80, "protocol": "TCP", "targetPort": 80}
    assert s["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    assert s["internalTrafficPolicy"] == "Cluster"
    ext = service_spec.default_service(svc(type="ExternalName", externalName="a.example", ports=[]))["spec"]
    assert "internalTrafficPolicy" not in ext and "ipFamilies" not in ext


def test_problems_name_the_field():
    def problems(**spec):
        return fields(service_spec.service_problems(service_spec.default_service(svc(**spec)), CIDR))

    assert problems() == []
    assert problems(ports=[]) == ["spec.ports"]
    assert problems(clusterIP="None", ports=[]) == []  # headless may have no ports
    assert problems(ports=[{"port": 70000}]) == ["spec.ports[0].port", "spec.ports[0].targetPort"]
    assert problems(ports=[{"port": 80, "name": "a"}, {"port": 81}]) == ["spec.ports[1].name"]
    assert problems(ports=[{"port": 80, "targetPort": "8080"}]) == ["spec.ports[0].targetPort"]
    assert problems(ports=[{"port": 80, "targetPort": "http"}]) == []
    assert problems(type="NodePort", clusterIP="None") == ["spec.clusterIPs[0]"]
    assert problems(clusterIP="10.1.0.1") == ["spec.clusterIPs[0]"]
    assert problems(ports=[{"port": 80, "nodePort": 30001}]) == ["spec.ports[0].nodePort"]
    assert problems(selector={"app": "bad value"}) == ["spec.selector"]


def test_cluster_ip_allocation():
    ip, causes = allocate.cluster_ip(CIDR, None, set(), random.Random(1))
    assert causes == [] and ip not in ("10.96.0.0", "10.96.0.1", "10.96.0.255")
    _, causes = allocate.cluster_ip(CIDR, "10.96.0.9", {"10.96.0.9"})
    assert "provided IP is already allocated" in causes[0][2]
    full = {f"10.96.0.{i}" for i in range(2, 255)}
    assert allocate.cluster_ip(CIDR, None, full)[0] is None


def test_node_port_allocation():
    ports = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}, {"port": 80}]
    assert allocate.node_ports(ports, {30000}, random.Random(2)) == []
    assert ports[0]["nodePort"] == ports[1]["nodePort"] != ports[2]["nodePort"]
    assert all(30001 <= p["nodePort"] <= 32767 for p in ports)
    causes = allocate.node_ports([{"port": 80, "nodePort": 80}], set())
    assert "The range of valid ports is 30000-32767" in causes[0][2]
    causes = allocate.node_ports([{"port": 80, "nodePort": 30500}], {30500})
    assert causes[0][2] == "Invalid value: 30500: provided port is already allocated"


def test_columns():
    s = {
        "metadata": {"name": "w"},
        "spec": {
            "type": "NodePort",
            "clusterIPs": ["10.96.0.5"],
            "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}],
            "selector": {"b": "2", "a": "1"},
        },
    }
    cells = [c.cell(s, 0) for c in columns.SERVICE if c.name not in ("Name", "Age")]
    assert cells == ["NodePort", "10.96.0.5", "<none>", "80:30080/TCP", "a=1,b=2"]
    eps = {
        "addressType": "IPv4",
        "ports": [{"port": 8080}],
        "endpoints": [{"addresses": [f"10.0.0.{i}"]} for i in range(5)],
    }
    assert [c.cell(eps, 0) for c in columns.ENDPOINTSLICE[1:4]] == [
        "IPv4",
        "8080",
        "10.0.0.0,10.0.0.1,10.0.0.2 + 2 more...",
    ]
    assert columns.ENDPOINTSLICE[3].cell({"endpoints": []}, 0) == "<unset>"
    ep = {"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}
    assert columns.ENDPOINTS[1].cell(ep, 0) == "10.0.0.1:80"
    assert columns.ENDPOINTS[1].cell({}, 0) == "<none>"
