"""EndpointSlices from pods (minipod/services/endpoints.py) and the
nftables ruleset from Services and slices (proxy_rules.py): pure."""

from minipod.services import endpoints as eps
from minipod.services import proxy_rules as pr


def a_pod(
    name: str, ip: str, ready: bool = True, labels: dict | None = None, port_name: str = "http", **meta
) -> dict:
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "labels": labels or {"app": "web"},
            **meta,
        },
        "spec": {
            "nodeName": "n1",
            "containers": [{"name": "c", "ports": [{"name": port_name, "containerPort": 8080}]}],
        },
        "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": str(ready)}]},
    }


def a_service(**spec) -> dict:
    spec.setdefault("selector", {"app": "web"})
    spec.setdefault("ports", [{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"}])
    spec.setdefault("clusterIP", "10.96.0.10")
    return {"metadata": {"name": "web", "namespace": "default", "uid": "svc-uid"}, "spec": spec}


def test_slices_from_pods():
    pods = [
        a_pod("a", "10.85.0.2"),
        a_pod("b", "10.85.0.3", ready=False),
        a_pod("c", "10.85.0.4", deletionTimestamp="2026-01-01T00:00:00Z"),
        a_pod("other", "10.85.0.5", labels={"app": "db"}),
        a_pod("d", "10.85.0.6", port_name="www"),  # the named port resolves differently
    ]
    groups = eps.slice_groups(a_service(), pods)
    assert [ports for ports, _ in groups] == [[], [{"name": "web", "port": 8080, "protocol": "TCP"}]]
    by_ip = {e["addresses"][0]: e["conditions"] for e in groups[1][1]}
    assert by_ip == {
        "10.85.0.2": {"ready": True, "serving": True, "terminating": False},
        "10.85.0.3": {"ready": False, "serving": False, "terminating": False},
        "10.85.0.4": {"ready": False, "serving": True, "terminating": True},
    }
    body = eps.slice_object(a_service(), *groups[1])
    assert body["metadata"]["generateName"] == "web-"
    assert body["metadata"]["labels"][eps.SERVICE_NAME] == "web"
    assert body["metadata"]["ownerReferences"][0]["uid"] == "svc-uid"
    legacy = eps.endpoints_object(a_service(), groups)
    assert legacy["subsets"][0] == {"addresses": [legacy["subsets"][0]["addresses"][0]]}
    assert legacy["subsets"][1]["addresses"][0]["ip"] == "10.85.0.2"
    assert legacy["subsets"][1]["notReadyAddresses"][0]["ip"] == "10.85.0.3"
    published = eps.slice_groups(a_service(publishNotReadyAddresses=True), pods[1:2])
    assert published[0][1][0]["conditions"]["ready"] is True


def test_ruleset_from_services_and_slices():
    svc = a_service(
        type="NodePort",
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}},
    )
    svc["spec"]["ports"][0]["nodePort"] = 30080
    groups = eps.slice_groups(
        svc, [a_pod("a", "10.85.0.2"), a_pod("b", "10.85.0.3"), a_pod("c", "10.85.0.4", ready=False)]
    )
    slices = [dict(eps.slice_object(svc, *g), addressType="IPv4") for g in groups]
    for s in slices:
        s["metadata"]["namespace"] = "default"
    empty = {
        "metadata": {"name": "empty", "namespace": "default"},
        "spec": {"clusterIP": "10.96.0.11", "ports": [{"port": 53, "protocol": "UDP"}]},
    }
    ports = pr.service_ports([svc, empty], slices)
    assert [(p.id, p.endpoints) for p in ports] == [
        ("default/empty/udp/", ()),
        ("default/web/tcp/web", (pr.Endpoint("10.85.0.2", 8080), pr.Endpoint("10.85.0.3", 8080))),
    ]
    text = pr.ruleset("t", ports, "10.85.0.0/16")
    web = ports[1]
    assert f"10.96.0.10 . tcp . 80 : goto {pr.service_chain(web)}" in text
    assert f"tcp . 30080 : goto {pr.external_chain(web)}" in text
    assert "10.96.0.11 . udp . 53 : goto reject-chain" in text
    assert "numgen random mod 2 vmap { 0 : goto endpoint-" in text
    assert "ip saddr 10.85.0.2 jump mark-for-masquerade" in text  # hairpin
    assert "ip saddr != 10.85.0.0/16 jump mark-for-masquerade" in text
    assert "timeout 60s;" in text and "update @affinity-" in text
    assert "10.85.0.4" not in text  # not ready
    assert "ip saddr != " not in pr.ruleset("t", ports, "10.85.0.0/16", masquerade_all=True)
