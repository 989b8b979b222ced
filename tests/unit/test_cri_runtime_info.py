"""The runtime's Version and Status answers, built without a daemon."""

import json

from minipod.cri import runtime_info


def test_version():
    v = runtime_info.version()
    assert (v.version, v.runtime_name, v.runtime_api_version) == ("0.1.0", "minipod", "v1")


def test_status_network_not_ready_says_why():
    s = runtime_info.status(False, "no bridge plugin", verbose=False, config={})
    net = [c for c in s.status.conditions if c.type == "NetworkReady"][0]
    assert (net.status, net.reason, net.message) == (False, "NetworkPluginNotReady", "no bridge plugin")
    assert dict(s.info) == {}


def test_status_verbose_config():
    s = runtime_info.status(True, "", verbose=True, config={"bridge": "mp0"})
    assert json.loads(s.info["config"]) == {"cgroupDriver": "cgroupfs", "bridge": "mp0"}
