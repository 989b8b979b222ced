"""The CRI server: the socket, and what the runtime says of itself.

Driven as a kubelet drives it: gRPC over RUN/cri.sock, through the stubs
the package generated from api.proto at install time."""

import json
import os
import stat

from helpers.cri import runtime

from minipod.cri import api_pb2


def test_cri_socket_is_root_only(cri_mp):
    mode = os.stat(cri_mp.cri_socket).st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600


def test_version_names_minipod_and_api_v1(cri_mp):
    v = runtime(cri_mp).Version(api_pb2.VersionRequest(version="0.1.0"), timeout=10)
    assert (v.version, v.runtime_name, v.runtime_api_version) == ("0.1.0", "minipod", "v1")
    assert v.runtime_version  # minipod's own version, e.g. 0.1.0


def test_status_is_ready_and_verbose_tells_the_cgroup_driver(cri_mp):
    s = runtime(cri_mp).Status(api_pb2.StatusRequest(verbose=True), timeout=10)
    conditions = {c.type: c.status for c in s.status.conditions}
    assert conditions == {"RuntimeReady": True, "NetworkReady": True}
    config = json.loads(s.info["config"])
    assert config["cgroupDriver"] == "cgroupfs"
    assert config["bridge"] == cri_mp.bridge
    assert runtime(cri_mp).Status(api_pb2.StatusRequest(), timeout=10).info == {}


def test_update_runtime_config_is_accepted(cri_mp):
    req = api_pb2.UpdateRuntimeConfigRequest(
        runtime_config=api_pb2.RuntimeConfig(network_config=api_pb2.NetworkConfig(pod_cidr="10.244.0.0/24"))
    )
    assert runtime(cri_mp).UpdateRuntimeConfig(req, timeout=10) == api_pb2.UpdateRuntimeConfigResponse()


def test_a_daemon_without_cri_serves_no_socket(mp):
    assert not os.path.exists(mp.cri_socket)
