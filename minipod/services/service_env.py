"""The environment variables the kubelet gives a container for each
Service of its namespace that exists when the container starts (pure).

For a Service `my-web` with ClusterIP 10.96.0.7 and ports http 80/TCP,
metrics 9090/TCP (the first port is the Service's "main" one):
    MY_WEB_SERVICE_HOST=10.96.0.7        MY_WEB_SERVICE_PORT=80
    MY_WEB_SERVICE_PORT_HTTP=80          MY_WEB_SERVICE_PORT_METRICS=9090
and the docker-link ones:
    MY_WEB_PORT=tcp://10.96.0.7:80
    MY_WEB_PORT_80_TCP=tcp://10.96.0.7:80
    MY_WEB_PORT_80_TCP_PROTO=tcp  MY_WEB_PORT_80_TCP_PORT=80  MY_WEB_PORT_80_TCP_ADDR=10.96.0.7
    (the same four for 9090)
Headless and ExternalName Services have no address: no variables.
`enableServiceLinks: false` leaves out all but the `kubernetes` Service's
(which pod_access.py sets). Variables the container declares win.
"""


def env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def one_service(svc: dict) -> dict[str, str]:
    spec = svc.get("spec") or {}
    ip, ports = spec.get("clusterIP"), spec.get("ports") or []
    if spec.get("type") == "ExternalName" or ip in (None, "", "None") or not ports:
        return {}
    base = env_name(svc["metadata"]["name"])
    out = {f"{base}_SERVICE_HOST": ip, f"{base}_SERVICE_PORT": str(ports[0]["port"])}
    for p in ports:
        if p.get("name"):
            out[f"{base}_SERVICE_PORT_{env_name(p['name'])}"] = str(p["port"])
    first = ports[0]
    out[f"{base}_PORT"] = f"{first.get('protocol', 'TCP').lower()}://{ip}:{first['port']}"
    for p in ports:
        proto = p.get("protocol", "TCP")
        prefix = f"{base}_PORT_{p['port']}_{proto.upper()}"
        out[prefix] = f"{proto.lower()}://{ip}:{p['port']}"
        out[f"{prefix}_PROTO"] = proto.lower()
        out[f"{prefix}_PORT"] = str(p["port"])
        out[f"{prefix}_ADDR"] = ip
    return out


def service_env(pod: dict, services: list[dict]) -> dict[str, str]:
    """The variables for `pod` from the Services in the store (the
    `kubernetes` Service's are pod_access.py's)."""
    if pod["spec"].get("enableServiceLinks") is False:
        return {}
    ns = pod["metadata"].get("namespace") or "default"
    out: dict[str, str] = {}
    for svc in sorted(services, key=lambda s: s["metadata"]["name"]):
        meta = svc["metadata"]
        if meta.get("namespace") == ns and not (ns == "default" and meta["name"] == "kubernetes"):
            out.update(one_service(svc))
    return out
