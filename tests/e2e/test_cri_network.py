"""A CRI sandbox's network: its port mappings (hostPort DNAT, made with the
sandbox, before any container exists), gone with the sandbox."""

import time

from helpers.host import free_port, http_get

from minipod.cri import api_pb2


def test_port_mapping_reaches_the_container_and_goes_with_the_sandbox(cri_pods):
    port = free_port()
    mapping = api_pb2.PortMapping(protocol=api_pb2.TCP, container_port=8080, host_port=port)
    sid, config = cri_pods.run("ports", port_mappings=[mapping])
    script = "mkdir -p /www && echo hello-cri > /www/index.html && exec httpd -f -p 8080 -h /www"
    cid = cri_pods.create(sid, config, "web", ["sh", "-c", script])
    cri_pods.start(cid)
    deadline = time.time() + 20
    while http_get("127.0.0.1", port) != "hello-cri" and time.time() < deadline:
        time.sleep(0.2)
    assert http_get("127.0.0.1", port) == "hello-cri"
    cri_pods.rt.StopPodSandbox(api_pb2.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=60)
    assert http_get("127.0.0.1", port) == ""
