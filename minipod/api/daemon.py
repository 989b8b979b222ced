"""The minipod daemon: one per instance, it owns all state and serves the API.

Steps of serve(), in order:
    1. create the instance's dirs; take an exclusive lock on run/daemon.lock
       so two daemons never manage the same instance;
    2. open the image store and the pod manager, which reloads every saved
       pod and adopts the containers that are still running;
    3. serve HTTP/JSON on run/minipod.sock, a Unix socket only root can
       open (mode 0600), with Kubernetes-shaped paths
       (/api/v1/namespaces/NS/pods/NAME, .../log, .../exec), and every
       other kind through the Kubernetes API's REST handler (kubeapi/rest.py);
    4. with --cri, serve the CRI (gRPC) on run/cri.sock, also 0600, over the
       same pod manager and image store (minipod/cri/server.py);
    5. on SIGTERM/SIGINT stop serving and exit, leaving every pod running:
       pods do not depend on the daemon (see minipod/linux/launch.py).

The daemon is one asyncio event loop, and it never forks: containers,
sandboxes and exec sessions are forked by its fork server
(minipod/linux/fork_server.py), a small single-threaded process. So the
threads the daemon does run (the CRI's gRPC server, a short-lived thread
that opens a socket inside a pod's netns) can never leave a forked copy
holding a lock that only they would release.
"""

import asyncio
import os
import signal
import sys
import time

from aiohttp import web

from minipod import __version__, trace
from minipod.api import loop_stalls, node_routes, pod_trace
from minipod.api import pod_exec as api_exec
from minipod.api import pod_logs as api_logs
from minipod.api.status import body_json, body_text, errors_middleware, query_float, query_int, query_required
from minipod.errors import MinipodError
from minipod.fsutil import open_lock, try_lock
from minipod.image.store import ImageStore
from minipod.kube.yaml_load import MAX_BYTES
from minipod.kubeapi import schemas
from minipod.kubeapi import server as kubeapi_server
from minipod.linux import fork_server
from minipod.objects.apply import StoredApplier
from minipod.objects.cluster import open_cluster
from minipod.pod.manager import PodManager


def build_app(manager: PodManager, images: ImageStore, log) -> web.Application:
    app = web.Application(
        middlewares=[errors_middleware], client_max_size=MAX_BYTES
    )  # as the API server: 3 MiB
    app["manager"], app["images"], app["log"] = manager, images, log
    pods = "/api/v1/namespaces/{ns}/pods"
    app.add_routes(
        [
            web.get("/version", version),
            web.get("/healthz", healthz),
            web.post("/minipod/v1/apply", apply),
            web.get("/api/v1/pods", list_pods),
            web.get(pods, list_pods),
            web.get(pods + "/{name}", get_pod),
            web.delete(pods + "/{name}", delete_pod),
            web.get(pods + "/{name}/log", api_logs.pod_log),
            web.get(pods + "/{name}/exec", api_exec.pod_exec),
            web.get("/api/v1/events", api_logs.events),
            web.get("/api/v1/namespaces/{ns}/events", api_logs.events),
            web.get("/minipod/v1/namespaces/{ns}/pods/{name}/inspect", inspect_pod),
            web.get("/minipod/v1/images", list_images),
            web.get("/minipod/v1/debug/loop", loop_stalls.loop_stalls),  # bench/: the event loop's stalls
            web.post("/minipod/v1/images/import", import_image),
            web.post("/minipod/v1/images/build-base", build_base_image),
            web.delete("/minipod/v1/images", remove_image),
            web.post("/minipod/v1/images/pull", pull_image),
            web.post("/minipod/v1/images/prune", prune_images),
        ]
    )
    node_routes.add_routes(app)
    # Every other kind of the object store, with the Kubernetes API's REST
    # verbs: the CLI's get, describe and delete of ConfigMaps, Deployments...
    app.add_routes(
        [web.route("*", "/api/{tail:.*}", kube_rest), web.route("*", "/apis/{tail:.*}", kube_rest)]
    )
    return app


async def kube_rest(request):
    """The HTTPS API's REST handler, for the socket's user: only root can
    open the socket (0600), so it acts as the cluster admin."""
    from minipod.kubeapi import auth, rest

    request["user"] = auth.User("minipod", ["system:masters", "system:authenticated"])
    return await rest.handle(request)


# A request body larger than this has its memory handed back once it is done.
TRIM_AFTER = 64 * 1024


def release_memory() -> None:
    import gc

    from minipod.linux.syscalls import malloc_trim

    gc.collect()
    malloc_trim()


async def version(request):
    return web.json_response(
        {"minipod": __version__, "gitVersion": f"v{__version__}", "platform": f"linux/{os.uname().machine}"}
    )


async def healthz(request):
    return web.Response(text="ok")


async def apply(request):
    timeout = query_float(request, "timeout", 60.0, minimum=0)  # checked before anything is created
    traced = pod_trace.wanted(request)
    text = await body_text(request)
    ns = request.query.get("namespace", "default")
    manager = request.app["manager"]
    sink = pod_trace.begin(request) if traced else None  # the new pods' workers take it
    began = time.monotonic_ns()
    try:
        stored = StoredApplier(request.app["cluster"].store, schemas.unknown_fields_of)
        result = manager.apply(text, ns, request.query.get("enforceNamespace") == "true", stored)
    except BaseException:
        if sink is not None:
            sink.close()
        raise
    finally:
        if len(text) > TRIM_AFTER:
            del text
            release_memory()
    if sink is not None:
        # Traced: the steps stream while the pods start (api/pod_trace.py).
        return await pod_trace.stream(
            request,
            sink,
            pod_trace.wait_traced(
                sink, pod_trace.created(sink, result, began), result, wait_running(manager, result, timeout)
            ),
        )
    if request.query.get("wait") == "running":
        await wait_running(manager, result, timeout)
    return web.json_response(result)


async def wait_running(manager, result: dict, timeout: float) -> dict:
    """`minipod run`: answer once every pod is Running, Succeeded or stuck."""
    pods = [i for i in result["items"] if i["kind"] == "Pod"]
    keys = [(i["pod"]["metadata"]["namespace"], i["pod"]["metadata"]["name"]) for i in pods]
    result["outcomes"] = await manager.wait_running(keys, timeout)
    for key, item in zip(keys, pods, strict=True):
        if key in manager.workers:
            item["pod"] = manager.get(*key)
    return result


async def list_pods(request):
    items = request.app["manager"].list_pods(request.match_info.get("ns"), request.query.get("labelSelector"))
    return web.json_response({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})


async def get_pod(request):
    return web.json_response(request.app["manager"].get(request.match_info["ns"], request.match_info["name"]))


async def delete_pod(request):
    grace = query_int(request, "gracePeriodSeconds", minimum=0)
    ns, name = request.match_info["ns"], request.match_info["name"]
    manager = request.app["manager"]
    wait = request.query.get("wait", "true") != "false"
    if pod_trace.wanted(request):
        worker = manager.worker(ns, name)  # 404 before the stream starts
        sink = pod_trace.begin(request)
        worker.trace = trace.for_pod(ns, name, sink)
        return await pod_trace.stream(request, sink, manager.delete(ns, name, grace, wait=True))
    pod = await manager.delete(ns, name, grace, wait=wait)
    return web.json_response(pod)


async def inspect_pod(request):
    return web.json_response(
        request.app["manager"].inspect(request.match_info["ns"], request.match_info["name"])
    )


async def list_images(request):
    return web.json_response({"items": request.app["images"].list()})


async def import_image(request):
    body = await body_json(request, "path")
    return web.json_response({"refs": request.app["images"].import_archive(body["path"])})


async def build_base_image(request: web.Request) -> web.Response:
    from minipod.image.base import build_busybox_archive

    images: ImageStore = request.app["images"]
    os.makedirs(images.dir, mode=0o700, exist_ok=True)
    tmp = os.path.join(images.dir, f"busybox-base-{os.getpid()}.tar")
    try:
        build_busybox_archive(tmp)
        refs = images.import_archive(tmp)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return web.json_response({"refs": refs})


async def pull_image(request):
    """`minipod image pull`: the pull's progress lines, streamed, then its end."""
    import json

    ref = query_required(request, "ref")  # before the answer starts: a 400 is still possible
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await resp.prepare(request)
    manager = request.app["manager"]

    def relay(event: dict) -> None:
        asyncio.ensure_future(resp.write((json.dumps(event) + "\n").encode()))

    try:
        end = await manager.pulls.pull(ref, "Always", None, relay)
    except MinipodError as e:
        end = {"event": "error", "reason": getattr(e, "reason", "ErrImagePull"), "message": str(e)}
    await resp.write((json.dumps(end) + "\n").encode())
    await resp.write_eof()
    return resp


async def prune_images(request):
    return web.json_response(request.app["images"].prune())


async def remove_image(request):
    ref = query_required(request, "ref")
    users = [
        p["metadata"]["name"]
        for p in request.app["manager"].list_pods()
        if any(
            images_match(request.app["images"], c.get("image"), ref)
            for c in p["spec"]["containers"] + p["spec"].get("initContainers", [])
        )
    ]
    if users:
        raise MinipodError(
            f"image {ref} is in use by pods: {', '.join(users)}", hint="delete those pods first"
        )
    request.app["images"].remove(ref)
    return web.json_response({"removed": ref})


def images_match(images: ImageStore, a: str | None, b: str) -> bool:
    from minipod.image.store import normalize_ref

    if not a:
        return False
    try:
        return normalize_ref(a) == normalize_ref(b)
    except MinipodError:
        return False


def _lock(inst) -> int:
    fd = open_lock(os.path.join(inst.run, "daemon.lock"))
    # A daemon killed a moment ago may still have a forked helper that has
    # not closed its copy of the lock yet: give it a second.
    deadline = time.time() + 1.0
    while not try_lock(fd):
        if time.time() > deadline:
            raise MinipodError(
                f"another minipod daemon is running for {inst.root or 'the system instance'}",
                hint=f"its pid is in {inst.pid_file}",
            )
        time.sleep(0.02)
    return fd


async def serve(
    inst,
    backoff_base: float = 10.0,
    bridge: str | None = None,
    subnet: str | None = None,
    api_address: str | None = None,
    api_port: int | None = None,
    resource_config=None,
    service_cidr: str | None = None,
    cri: bool = False,
) -> None:
    def log(msg: str) -> None:
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} minipod: {msg}", file=sys.stderr, flush=True)

    os.chdir("/")  # a daemon holds no directory busy
    for d in (inst.lib, inst.run, inst.pods_run):
        os.makedirs(d, mode=0o700, exist_ok=True)
    lock_fd = _lock(inst)
    fork_server.start()  # it forks every container, sandbox and exec session (linux/fork_server.py)
    with open(inst.pid_file, "w") as f:
        f.write(f"{os.getpid()}\n")
    images = ImageStore(inst.images_dir)
    manager = PodManager(
        inst,
        images,
        backoff_base=backoff_base,
        log=log,
        bridge=bridge,
        subnet=subnet,
        resource_config=resource_config,
    )
    await manager.start()
    cluster = open_cluster(inst, manager, log, service_cidr)
    manager.cluster_dns = await cluster.services.start_dns(kubeapi_server.pod_gateway(manager.conflist))
    app = build_app(manager, images, log)
    app["cluster"] = cluster
    # The Kubernetes API first: once the socket accepts, both serve.
    kube_runner = await kubeapi_server.start(inst, manager, cluster, log, api_address, api_port)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    if os.path.exists(inst.socket):
        os.unlink(inst.socket)  # stale: we hold the lock, so no daemon owns it
    old_umask = os.umask(0o177)  # the socket is born 0600: root only
    try:
        site = web.UnixSite(runner, inst.socket)
        await site.start()
    finally:
        os.umask(old_umask)
    log(f"serving on {inst.socket} ({len(manager.workers)} pods adopted)")
    cri_server = None
    if cri:
        from minipod.cri import server as cri_serving  # grpc: only for a daemon that serves the CRI

        cri_server = await cri_serving.start(inst, manager, images, log)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log("stopping; pods keep running")
    if cri_server is not None:
        await cri_serving.stop(cri_server, inst.cri_socket)
    await manager.remove_idle_bridge()
    cluster.services.stop(pods_left=bool(manager.workers))
    manager.events.flush()
    cluster.stop()
    cluster.store.hub.close_all()
    if kube_runner is not None:
        await kube_runner.cleanup()
    await runner.cleanup()
    os.close(lock_fd)


def main(
    inst,
    backoff_base: float | None = None,
    bridge: str | None = None,
    subnet: str | None = None,
    api_address: str | None = None,
    api_port: int | None = None,
    resource_config=None,
    service_cidr: str | None = None,
    cri: bool = False,
) -> None:
    if backoff_base is None:
        backoff_base = float(os.environ.get("MINIPOD_BACKOFF_BASE", "10"))
    asyncio.run(
        serve(inst, backoff_base, bridge, subnet, api_address, api_port, resource_config, service_cidr, cri)
    )
