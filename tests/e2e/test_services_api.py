"""Issue 17: Services, Endpoints and EndpointSlices through the real
kubectl: defaults, ClusterIP and NodePort allocation, validation errors
with the API server's wording, and kubectl's columns."""

import ipaddress
import json

import yaml
from helpers.host import eventually
from helpers.kubectl import kubectl


def manifest(*docs: dict) -> str:
    return yaml.safe_dump_all(docs)


def service(name: str, **spec) -> dict:
    spec.setdefault("ports", [{"port": 80, "targetPort": 8080}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def get(mp, *args) -> dict:
    return json.loads(kubectl(mp, "get", *args, "-o", "json").stdout)


def test_kubernetes_service_exists(mp):
    svc = get(mp, "svc", "kubernetes")
    net = ipaddress.ip_network(mp.service_cidr)
    assert svc["spec"]["clusterIP"] == str(net[1])
    assert svc["spec"]["ports"][0]["port"] == 443 and svc["spec"]["ports"][0]["name"] == "https"
    eps = get(mp, "endpointslices", "kubernetes")
    assert eps["endpoints"][0]["conditions"]["ready"] is True
    assert eps["ports"][0]["port"] == mp.api_port
    legacy = get(mp, "endpoints", "kubernetes")
    assert legacy["subsets"][0]["ports"][0]["port"] == mp.api_port
    lines = kubectl(mp, "get", "endpoints", "kubernetes").stdout.splitlines()
    assert lines[0].split() == ["NAME", "ENDPOINTS", "AGE"]
    assert lines[1].split()[1] == f"{legacy['subsets'][0]['addresses'][0]['ip']}:{mp.api_port}"


def test_a_deleted_kubernetes_service_comes_back(fresh_mp):
    """As the API server's own loop does (`kubectl delete all --all`
    deletes it on a cluster too)."""
    mp = fresh_mp
    before = get(mp, "svc", "kubernetes")
    kubectl(mp, "delete", "svc", "kubernetes")
    kubectl(mp, "delete", "endpointslice", "kubernetes")
    again = eventually(lambda: get_or_none(mp, "svc", "kubernetes"), what="the kubernetes Service back")
    assert again["metadata"]["uid"] != before["metadata"]["uid"]
    assert again["spec"]["clusterIP"] == before["spec"]["clusterIP"]
    eps = eventually(lambda: get_or_none(mp, "endpointslices", "kubernetes"), what="its EndpointSlice back")
    assert eps["ports"][0]["port"] == mp.api_port


def get_or_none(mp, *what: str) -> dict | None:
    p = kubectl(mp, "get", *what, "-o", "json", check=False)
    return json.loads(p.stdout) if p.returncode == 0 else None


def test_clusterip_defaults_and_columns(mp):
    kubectl(mp, "apply", "-f", "-", input=manifest(service("svc-a", selector={"app": "a"})))
    try:
        svc = get(mp, "svc", "svc-a")
        spec = svc["spec"]
        assert spec["type"] == "ClusterIP" and spec["sessionAffinity"] == "None"
        assert spec["ports"][0]["protocol"] == "TCP" and spec["ports"][0]["targetPort"] == 8080
        assert spec["internalTrafficPolicy"] == "Cluster"
        assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
        assert ipaddress.ip_address(spec["clusterIP"]) in ipaddress.ip_network(mp.service_cidr)
        assert spec["clusterIPs"] == [spec["clusterIP"]]
        lines = kubectl(mp, "get", "svc", "svc-a", "-o", "wide").stdout.splitlines()
        assert lines[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
        cells = lines[1].split()
        assert cells[:5] == ["svc-a", "ClusterIP", spec["clusterIP"], "<none>", "80/TCP"]
        assert cells[6] == "app=a"
        # Re-applying keeps the allocated address.
        kubectl(mp, "apply", "-f", "-", input=manifest(service("svc-a", selector={"app": "a"})))
        assert get(mp, "svc", "svc-a")["spec"]["clusterIP"] == spec["clusterIP"]
    finally:
        kubectl(mp, "delete", "svc", "svc-a", "--ignore-not-found")


def test_nodeport_headless_externalname(mp):
    docs = [
        service("svc-np", type="NodePort", selector={"app": "np"}),
        service("svc-hl", clusterIP="None", selector={"app": "hl"}),
        service("svc-ext", type="ExternalName", externalName="example.org", ports=[]),
    ]
    kubectl(mp, "apply", "-f", "-", input=manifest(*docs))
    try:
        np = get(mp, "svc", "svc-np")["spec"]
        assert 30000 <= np["ports"][0]["nodePort"] <= 32767
        assert np["externalTrafficPolicy"] == "Cluster"
        hl = get(mp, "svc", "svc-hl")["spec"]
        assert hl["clusterIP"] == "None" and hl["clusterIPs"] == ["None"]
        ext = get(mp, "svc", "svc-ext")["spec"]
        assert "clusterIP" not in ext and ext["externalName"] == "example.org"
        out = kubectl(mp, "get", "svc", "svc-np", "svc-hl", "svc-ext").stdout.splitlines()
        rows = {line.split()[0]: line.split() for line in out[1:]}
        assert rows["svc-np"][4] == f"80:{np['ports'][0]['nodePort']}/TCP"
        assert rows["svc-hl"][2] == "None"
        assert rows["svc-ext"][1:4] == ["ExternalName", "<none>", "example.org"]
        # The same nodePort again is refused, naming the field.
        taken = np["ports"][0]["nodePort"]
        bad = service("svc-np2", type="NodePort", ports=[{"port": 80, "nodePort": taken}])
        p = kubectl(mp, "apply", "-f", "-", input=manifest(bad), check=False)
        assert p.returncode == 1
        assert (
            f"spec.ports[0].nodePort: Invalid value: {taken}: provided port is already allocated" in p.stderr
        )
    finally:
        kubectl(mp, "delete", "svc", "svc-np", "svc-hl", "svc-ext", "--ignore-not-found")


def test_invalid_services_are_refused_with_the_field(mp):
    cases = [
        (
            service("bad1", ports=[{"port": 0}]),
            "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535",
        ),
        (service("bad2", type="Fancy"), 'spec.type: Unsupported value: "Fancy"'),
        (service("bad3", ports=[]), "spec.ports: Required value"),
        (
            service("bad4", ports=[{"port": 80, "protocol": "ICMP"}]),
            'spec.ports[0].protocol: Unsupported value: "ICMP"',
        ),
        (service("bad5", clusterIP="192.0.2.77"), "provided IP is not in the valid range"),
        (service("bad6", ports=[{"port": 80}, {"port": 81}]), "spec.ports[0].name: Required value"),
        (service("bad7", type="ExternalName", ports=[]), "spec.externalName: Required value"),
    ]
    for doc, text in cases:
        p = kubectl(mp, "apply", "-f", "-", input=manifest(doc), check=False)
        assert p.returncode == 1, doc
        assert "is invalid" in p.stderr and text in p.stderr, (text, p.stderr)
        assert "Traceback" not in p.stderr
        assert kubectl(mp, "get", "svc", doc["metadata"]["name"], check=False).returncode == 1


def test_cluster_ip_is_immutable(mp):
    kubectl(mp, "apply", "-f", "-", input=manifest(service("svc-imm")))
    try:
        ip = get(mp, "svc", "svc-imm")["spec"]["clusterIP"]
        other = str(ipaddress.ip_address(ip) + 1 if ip[-2:] != "54" else ipaddress.ip_address(ip) - 1)
        patch = json.dumps({"spec": {"clusterIP": other, "clusterIPs": [other]}})
        p = kubectl(mp, "patch", "svc", "svc-imm", "-p", patch, check=False)
        assert p.returncode == 1 and "may not change once set" in p.stderr, p.stderr
    finally:
        kubectl(mp, "delete", "svc", "svc-imm")


def test_describe_and_the_minipod_cli(mp):
    kubectl(mp, "apply", "-f", "-", input=manifest(service("svc-desc", selector={"app": "desc"})))
    try:
        ip = get(mp, "svc", "svc-desc")["spec"]["clusterIP"]
        out = kubectl(mp, "describe", "svc", "svc-desc").stdout
        fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}
        assert fields["Type"] == "ClusterIP" and fields["IP"] == ip and fields["Selector"] == "app=desc", out
        assert fields["TargetPort"] == "8080/TCP" and fields["Internal Traffic Policy"] == "Cluster", out
        got = mp.run("get", "svc", "svc-desc").stdout.splitlines()
        assert got[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], got
        assert got[1].split()[:5] == ["svc-desc", "ClusterIP", ip, "<none>", "80/TCP"], got
    finally:
        kubectl(mp, "delete", "svc", "svc-desc", "--ignore-not-found")
