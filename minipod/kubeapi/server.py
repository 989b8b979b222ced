"""The Kubernetes API over HTTPS, beside the daemon's Unix socket.

Steps of start(), in order:
    1. the instance's certificates (certs.py; made at the first start, kept
       after), and ETC/admin.kubeconfig (0600) pointing at this address;
    2. a TLS context that asks for a client certificate and takes any:
       auth.py checks it against the instance's CA and reads who it names
       (a wrong one gets a 401 Status, not a failed handshake);
    3. the routes: discovery, OpenAPI, the pod streams, access reviews,
       and every resource path (rest.py);
    4. listen on ADDRESS:PORT (127.0.0.1:6443 unless configured), on the
       daemon's event loop, in its one thread; and on the pod bridge's
       gateway, the one other address, so pods can reach the API;
    5. let pods use it (pod_access.py): the token volume, the service
       variables, a kube-root-ca.crt ConfigMap in every namespace.
The address and port an instance was first started with are kept in
ETC/apiserver.json, so a daemon restarted without flags serves the same.
"""

import ipaddress
import json
import os
import socket
import ssl

from aiohttp import web
from cryptography import x509

from minipod.api import node_routes, pod_logs
from minipod.api.status import errors_middleware
from minipod.fsutil import read_json, write_json_atomic
from minipod.kube.yaml_load import MAX_BYTES
from minipod.kubeapi import (
    auth,
    certs,
    discovery,
    kubeconfig,
    openapi,
    openapi_proto,
    pod_access,
    rest,
    reviews,
    streams,
)
from minipod.linux import syscalls
from minipod.pod.admission import node_name
from minipod.services import allocate

DEFAULT_ADDRESS, DEFAULT_PORT = "127.0.0.1", 6443
IP_FREEBIND = 15  # linux/in.h: bind to an address not (yet) on an interface


def settings(etc: str, address: str | None, port: int | None) -> tuple[str, int]:
    """The address and port: flags win, else what the instance had, else defaults."""
    path = os.path.join(etc, "apiserver.json")
    saved = read_json(path, {}) or {}
    chosen = (
        address or saved.get("address") or DEFAULT_ADDRESS,
        int(port or saved.get("port") or DEFAULT_PORT),
    )
    if saved != {"address": chosen[0], "port": chosen[1]}:
        os.makedirs(etc, mode=0o755, exist_ok=True)
        write_json_atomic(path, {"address": chosen[0], "port": chosen[1]})
    return chosen


def pod_gateway(conflist: dict) -> str | None:
    """The bridge's address: where pods reach the node (and this API)."""
    for plugin in conflist.get("plugins", []):
        for rng in ((plugin.get("ipam") or {}).get("ranges") or [[]])[0:1]:
            for r in rng:
                if r.get("gateway"):
                    return r["gateway"]
                if r.get("subnet"):
                    return str(ipaddress.ip_network(r["subnet"], strict=False)[1])
    return None


def gateway_socket(address: str, port: int) -> socket.socket:
    """A listening socket on the bridge's gateway address, which exists
    only once the bridge does (at the first pod): IP_FREEBIND lets it be
    bound before that."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
    try:
        sock.bind((address, port))
    except OSError:
        sock.close()
        raise
    return sock


def tls_context(pki: certs.Pki) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki.path("apiserver.crt"), pki.path("apiserver.key"))
    # A client certificate is asked for, not required (a token may come
    # instead) and not checked here: auth.py checks it against the CA, so
    # one from another CA gets a 401 Status, as from the API server.
    syscalls.ssl_request_any_client_certificate(ctx)
    return ctx


def admin_kubeconfig_path(inst) -> str:
    return os.path.join(inst.etc, "admin.kubeconfig")


def build_app(manager, cluster, pki: certs.Pki, address: str, log) -> web.Application:
    app = web.Application(middlewares=[errors_middleware, auth.authenticate], client_max_size=MAX_BYTES)
    app["manager"], app["cluster"], app["log"], app["pki"] = manager, cluster, log, pki
    app["sa_key"] = pki.read("sa.key")
    app["ca_cert"] = x509.load_pem_x509_certificate(pki.read("ca.crt"))
    app["address"] = address
    pods = "/api/v1/namespaces/{ns}/pods/{name}"
    node_routes.add_metrics_routes(app)  # metrics.k8s.io: `kubectl top`, as the socket serves it
    app.add_routes(
        [
            web.get("/version", version),
            web.get("/healthz", ok),
            web.get("/livez", ok),
            web.get("/readyz", ok),
            web.get("/api", api_root),
            web.get("/apis", apis_root),
            web.get("/openapi/v2", openapi_v2),
            web.get("/openapi/v3", openapi_v3_root),
            web.get("/openapi/v3/{path:.*}", openapi_v3),
            web.get(pods + "/log", streams.guarded(pod_logs.pod_log)),
            web.get(pods + "/exec", streams.exec_),
            web.post(pods + "/exec", streams.exec_),
            web.get(pods + "/attach", streams.attach),
            web.post(pods + "/attach", streams.attach),
            web.get(pods + "/portforward", streams.portforward),
            web.post(pods + "/portforward", streams.portforward),
            web.post(
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", reviews.self_subject_access_review
            ),
            web.post(
                "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", reviews.self_subject_rules_review
            ),
            web.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", reviews.self_subject_review),
            web.get("/api/{version}", group_version),
            web.get("/apis/{group}/{version}", group_version),
            web.route("*", "/api/{tail:.*}", rest.handle),
            web.route("*", "/apis/{tail:.*}", rest.handle),
        ]
    )
    return app


async def version(request):
    return web.json_response(discovery.version_info())


async def ok(request):
    return web.Response(text="ok")


def _aggregated(request, core: bool):
    if discovery.wants_aggregated(request.headers.get("Accept", "")):
        return web.Response(
            text=json.dumps(discovery.aggregated(core)),
            headers={"Content-Type": discovery.AGGREGATED},
        )
    return None


async def api_root(request):
    return _aggregated(request, True) or web.json_response(discovery.api_versions(request.app["address"]))


async def apis_root(request):
    return _aggregated(request, False) or web.json_response(discovery.api_group_list())


async def group_version(request):
    doc = discovery.resource_list(request.match_info.get("group", ""), request.match_info["version"])
    if doc is None:
        return await rest.handle(request)
    return web.json_response(doc)


async def openapi_v2(request):
    # kubectl's client-side validator accepts only protobuf; other clients JSON.
    if "protobuf" in request.headers.get("Accept", "") and "json" not in request.headers.get("Accept", ""):
        return web.Response(body=openapi.v2_protobuf(), content_type=openapi_proto.CONTENT_TYPE)
    return web.Response(body=openapi.v2(), content_type="application/json")


async def openapi_v3_root(request):
    return web.json_response(openapi.v3_root())


async def openapi_v3(request):
    path = request.match_info["path"]
    parts = path.split("/")
    if parts[0] == "api" and len(parts) == 2:
        body = openapi.v3_document("", parts[1])
    elif parts[0] == "apis" and len(parts) == 3:
        body = openapi.v3_document(parts[1], parts[2])
    else:
        body = None
    if body is None:
        raise web.HTTPNotFound(text="the server could not find the requested resource")
    return web.Response(body=body, content_type="application/json")


async def start(inst, manager, cluster, log, address: str | None = None, port: int | None = None):
    """Serve the API; returns the aiohttp runner (None when it could not listen)."""
    address, port = settings(inst.etc, address, port)
    # The certificate names every address a client may dial: the host's,
    # the pods' gateway and the `kubernetes` Service's ClusterIP.
    cluster_ip = allocate.kubernetes_ip(cluster.services.cidr)
    addresses = [a for a in (manager.host_ip, pod_gateway(manager.conflist), cluster_ip) if a]
    pki = certs.ensure_pki(inst.etc, node_name(), addresses)
    server = f"https://{address}:{port}" if ":" not in address else f"https://[{address}]:{port}"
    doc = kubeconfig.admin_kubeconfig(
        server, pki.read("ca.crt"), pki.read("admin.crt"), pki.read("admin.key")
    )
    path = admin_kubeconfig_path(inst)
    if read_kubeconfig(path) != doc:
        kubeconfig.write_kubeconfig(path, doc)
    app = build_app(manager, cluster, pki, f"{address}:{port}", log)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    ctx = tls_context(pki)
    try:
        await web.TCPSite(runner, address, port, ssl_context=ctx, reuse_address=True).start()
    except OSError as e:
        log(f"the Kubernetes API cannot listen on {address}:{port}: {e.strerror}; serving the socket only")
        await runner.cleanup()
        return None
    # Pods reach the API at the bridge's gateway, behind the `kubernetes` Service.
    gateway = pod_gateway(manager.conflist)
    if gateway and gateway != address:
        try:
            await web.SockSite(runner, gateway_socket(gateway, port), ssl_context=ctx).start()
        except OSError as e:
            log(f"the Kubernetes API cannot listen on the pods' gateway {gateway}:{port}: {e.strerror}")
            gateway = None
    cluster.store.publish_root_ca(pki.read("ca.crt").decode())
    cluster.services.ensure_kubernetes(gateway, port)  # the `kubernetes` Service, as a cluster has
    # Containers dial the Service's ClusterIP:443, as on a cluster; the
    # service proxy DNATs it to the gateway's socket (its EndpointSlice).
    access = pod_access.PodApiAccess(
        cluster.store, pki.read("sa.key"), pki.read("ca.crt"), cluster_ip if gateway else None, 443
    )
    manager.api_access = access
    cluster.pods.admission.append(pod_access.inject)
    log(f"Kubernetes API on {server} (kubeconfig: {path})")
    return runner


def read_kubeconfig(path: str):
    import yaml

    try:
        with open(path) as f:
            return yaml.safe_load(f)
    except (OSError, yaml.YAMLError):
        return None
