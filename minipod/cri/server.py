"""The CRI's gRPC server: grpc.aio on RUN/cri.sock, in the daemon's loop.

Steps of start(), in order:
    1. build the services (runtime_service.RuntimeService; an ImageService
       joins them through SERVICES) over the daemon's pod manager and image
       store;
    2. remove a stale socket file (the caller holds the instance's lock, so
       no other daemon owns it);
    3. bind unix:RUN/cri.sock with the umask 0177, so the socket is born
       0600: only root reaches the CRI, as only root reaches
       RUN/minipod.sock;
    4. start serving in the daemon's asyncio loop: every call runs on the
       same loop as the Kubernetes API's handlers and the pod workers.
stop() stops accepting calls and gives running ones a moment to finish.

Why opt-in (`minipod daemon --cri`): gRPC's C core starts threads of its
own, and the daemon forks the helpers that start containers; a daemon that
serves only the Kubernetes API stays the single-threaded process it was.
"""

import os

# Before grpc is imported: gRPC's own fork handlers must stay out of the
# daemon's forks (the helpers that make sandboxes and start containers
# never call gRPC; with the handlers on, a forked child aborts in gRPC's
# poller). The daemon's children exec or exit without touching gRPC.
os.environ["GRPC_ENABLE_FORK_SUPPORT"] = "false"

import grpc  # noqa: E402 - after the line above, on purpose

import minipod.cri.api_pb2_grpc as api_pb2_grpc  # generated at build time (setup.py)
from minipod.cri.image_service import add_image_service
from minipod.cri.runtime_service import RuntimeService

# Messages of a kubelet can be large (ListContainers of a busy node): the
# kubelet itself allows 16 MiB.
MAX_MESSAGE = 16 * 1024 * 1024


async def start(inst, manager, images, log) -> grpc.aio.Server:
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE),
        ]
    )
    api_pb2_grpc.add_RuntimeServiceServicer_to_server(RuntimeService(inst, manager, images, log), server)
    for add_service in SERVICES:
        add_service(server, inst, manager, images, log)
    path = inst.cri_socket
    if os.path.exists(path):
        os.unlink(path)
    old_umask = os.umask(0o177)
    try:
        server.add_insecure_port(f"unix:{path}")
        await server.start()
    finally:
        os.umask(old_umask)
    log(f"serving the CRI on {path}")
    return server


async def stop(server: grpc.aio.Server, path: str) -> None:
    await server.stop(grace=2)
    if os.path.exists(path):
        os.unlink(path)


# More services on the same socket: callables (server, inst, manager,
# images, log) that add one.
SERVICES: list = [add_image_service]
