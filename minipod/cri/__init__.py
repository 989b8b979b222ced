"""minipod.cri: the Container Runtime Interface, a second front door.

A kubelet drives its container runtime through the CRI (`runtime.v1`, gRPC
over a Unix socket). Served by `minipod daemon --cri` on RUN/cri.sock, it
reaches the same runtime layer (minipod/pod, minipod/linux, minipod/network)
that the Kubernetes API's pod workers use. Read the files in this order:

    api.proto        the CRI's messages and services, as k8s.io/cri-api
                     ships it (the Python stubs, api_pb2*.py, are generated
                     from it when the package is built: see setup.py)
    server           the grpc.aio server on RUN/cri.sock (mode 0600)
    runtime_info     Version, Status and the runtime's conditions: pure
    runtime_service  the RuntimeService: each call, checked and delegated
    sandbox_config   a PodSandboxConfig as the v1 pod the runtime runs: pure
    container_config a ContainerConfig as a v1 container of that pod: pure
    lookup           sandboxes and containers by ID (or a unique prefix)
    sandbox_verbs    Run/Stop/Remove/Status/ListPodSandbox, PodSandboxStats
    container_verbs  Create/Start/Stop/Remove/Status/ListContainers,
                     ExecSync, ContainerStats
    status_views     the records as the CRI reports them: pure
    image_records    the store's names as the CRI's images (ids, repo tags
                     and digests, users, pull credentials): pure
    image_service    the ImageService: pull, list, status, remove, fs info
    streaming        the streaming server Exec, Attach and PortForward
                     answer URLs of (SPDY/3.1, as the kubelet's)
"""
