"""What the runtime says about itself: Version and Status, as responses.

Pure: the answers are built from minipod's version and the facts the
caller passes in, so tests check them without a daemon.
    1. version(): the CRI version the kubelet checks ("0.1.0", as every
       runtime answers), minipod's name and version, API "v1";
    2. status(): the two conditions the kubelet waits for (RuntimeReady,
       NetworkReady) and, when verbose, the runtime's configuration.
"""

import json

import minipod.cri.api_pb2 as api_pb2  # generated at build time (setup.py)
from minipod import __version__

# The version of the kubelet-runtime protocol itself (the kubelet's
# kubeRuntimeAPIVersion), not the CRI's package version.
KUBELET_API_VERSION = "0.1.0"
RUNTIME_NAME = "minipod"
RUNTIME_API_VERSION = "v1"
# minipod writes cgroup files under its own parent directories (cgroupfs),
# never through systemd: a kubelet must run with --cgroup-driver=cgroupfs.
CGROUP_DRIVER = "cgroupfs"


def version() -> api_pb2.VersionResponse:
    return api_pb2.VersionResponse(
        version=KUBELET_API_VERSION,
        runtime_name=RUNTIME_NAME,
        runtime_version=__version__,
        runtime_api_version=RUNTIME_API_VERSION,
    )


def status(network_ready: bool, network_reason: str, verbose: bool, config: dict) -> api_pb2.StatusResponse:
    """RuntimeReady is true while the daemon serves; NetworkReady is the
    pod network's (a missing CNI configuration keeps it false, as
    containerd reports NetworkPluginNotReady)."""
    conditions = [
        api_pb2.RuntimeCondition(type="RuntimeReady", status=True),
        api_pb2.RuntimeCondition(
            type="NetworkReady",
            status=network_ready,
            reason="" if network_ready else "NetworkPluginNotReady",
            message="" if network_ready else network_reason,
        ),
    ]
    info = {"config": json.dumps({"cgroupDriver": CGROUP_DRIVER, **config})} if verbose else {}
    return api_pb2.StatusResponse(status=api_pb2.RuntimeStatus(conditions=conditions), info=info)
