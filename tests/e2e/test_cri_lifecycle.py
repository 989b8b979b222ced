"""A sandbox and its containers through the CRI, as a kubelet drives them:
real namespaces, real processes, removed without a trace."""

import json
import os
import re
import time

import grpc
import pytest
from helpers.host import eventually
from helpers.procfs import ns_inode

from minipod.cri import api_pb2


def test_sandbox_runs_with_its_own_namespaces_and_network(cri_pods, cri_mp):
    sid, _ = cri_pods.run("web", hostname="web-host", labels={"app": "web"}, annotations={"a": "b"})
    s = cri_pods.sandbox_status(sid, verbose=True)
    assert s.status.state == api_pb2.SANDBOX_READY
    assert s.status.metadata.name == "web" and s.status.labels["app"] == "web"
    assert s.status.annotations == {"a": "b"}
    assert s.status.network.ip.startswith(cri_mp.subnet.rsplit(".", 2)[0])
    info = json.loads(s.info["info"])
    pid = info["pid"]
    assert ns_inode(pid, "net") != ns_inode(os.getpid(), "net")
    assert ns_inode(pid, "uts") != ns_inode(os.getpid(), "uts")
    # Not a pod of the Kubernetes API (the kubelet's API server owns it)...
    from helpers.kubectl import KUBECTL, kubectl

    if KUBECTL:
        listed = json.loads(kubectl(cri_mp, "get", "pods", "-A", "-o", "json").stdout)["items"]
        assert sid not in [p["metadata"]["name"] for p in listed]
    # ... but a pod of the node, with its kernel objects, for minipod inspect.
    seen = cri_mp.run("inspect", sid, "-n", "cri-test").stdout
    assert f"host pid {pid}" in seen and "netns pinned at" in seen


def test_container_created_started_stopped_removed(cri_pods, cri_mp):
    sid, config = cri_pods.run("life")
    cid = cri_pods.create(
        sid,
        config,
        "main",
        ["sh", "-c", "trap '' TERM; echo hello; echo oops >&2; while :; do sleep 1; done"],
    )
    st = cri_pods.status(cid).status
    assert st.state == api_pb2.CONTAINER_CREATED and st.metadata.name == "main"
    cri_pods.start(cid)
    st = cri_pods.status(cid, verbose=True)
    assert st.status.state == api_pb2.CONTAINER_RUNNING
    pid = json.loads(st.info["info"])["pid"]
    assert open(f"/proc/{pid}/comm").read().strip() == "sh"
    assert st.status.log_path.endswith("life/main/0.log")
    eventually(lambda: b"oops" in open(st.status.log_path, "rb").read(), what="the log lines")
    # The CRI log format, as the kubelet reads it: TIMESTAMP STREAM F|P LINE.
    lines = open(st.status.log_path).read().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["stdout F hello", "stderr F oops"]
    stamp = lines[0].split(" ")[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", stamp), stamp
    out = cri_pods.rt.ExecSync(
        api_pb2.ExecSyncRequest(
            container_id=cid, cmd=["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=10
        ),
        timeout=30,
    )
    assert (out.stdout, out.stderr, out.exit_code) == (b"out\n", b"err\n", 3)
    began = time.time()
    cri_pods.rt.StopContainer(api_pb2.StopContainerRequest(container_id=cid, timeout=2), timeout=30)
    st = cri_pods.status(cid).status
    assert st.state == api_pb2.CONTAINER_EXITED
    assert st.exit_code == 137 and time.time() - began >= 1.5  # it ignores SIGTERM: SIGKILL after the timeout
    assert not os.path.exists(f"/proc/{pid}")
    # Stop again: nothing to do, no error. Never restarted by minipod.
    cri_pods.rt.StopContainer(api_pb2.StopContainerRequest(container_id=cid, timeout=2), timeout=30)
    time.sleep(1.5)
    assert cri_pods.status(cid).status.state == api_pb2.CONTAINER_EXITED
    cri_pods.rt.RemoveContainer(api_pb2.RemoveContainerRequest(container_id=cid), timeout=30)
    with pytest.raises(grpc.RpcError) as e:
        cri_pods.status(cid)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    cri_pods.rt.RemoveContainer(api_pb2.RemoveContainerRequest(container_id=cid), timeout=30)  # idempotent


def test_exited_container_is_not_restarted(cri_pods):
    sid, config = cri_pods.run("once")
    cid = cri_pods.create(sid, config, "quick", ["sh", "-c", "exit 4"])
    cri_pods.start(cid)
    eventually(lambda: cri_pods.status(cid).status.state == api_pb2.CONTAINER_EXITED, what="its exit")
    st = cri_pods.status(cid).status
    assert (st.exit_code, st.reason) == (4, "Error")
    time.sleep(2)  # the instance's back-off base is 0.5 s: a restart would have happened
    st2 = cri_pods.status(cid).status
    assert st2.state == api_pb2.CONTAINER_EXITED and st2.started_at == st.started_at


def test_lists_filter_by_id_state_and_labels(cri_pods):
    a, ca = cri_pods.run("list-a", labels={"tier": "a"})
    b, _ = cri_pods.run("list-b", labels={"tier": "b"})
    rt = cri_pods.rt
    f = api_pb2.PodSandboxFilter(label_selector={"tier": "a"})
    assert [s.id for s in rt.ListPodSandbox(api_pb2.ListPodSandboxRequest(filter=f), timeout=10).items] == [a]
    f = api_pb2.PodSandboxFilter(id=b[:13])
    assert [s.id for s in rt.ListPodSandbox(api_pb2.ListPodSandboxRequest(filter=f), timeout=10).items] == [b]
    cid = cri_pods.create(a, ca, "c", ["sleep", "300"], labels={"role": "x"})
    f = api_pb2.ContainerFilter(pod_sandbox_id=a)
    assert [
        c.id for c in rt.ListContainers(api_pb2.ListContainersRequest(filter=f), timeout=10).containers
    ] == [cid]
    running = api_pb2.ContainerFilter(state=api_pb2.ContainerStateValue(state=api_pb2.CONTAINER_RUNNING))
    assert cid not in [
        c.id for c in rt.ListContainers(api_pb2.ListContainersRequest(filter=running), timeout=10).containers
    ]
    rt.StopPodSandbox(api_pb2.StopPodSandboxRequest(pod_sandbox_id=b), timeout=60)
    notready = api_pb2.PodSandboxFilter(state=api_pb2.PodSandboxStateValue(state=api_pb2.SANDBOX_NOTREADY))
    ids = [s.id for s in rt.ListPodSandbox(api_pb2.ListPodSandboxRequest(filter=notready), timeout=10).items]
    assert b in ids and a not in ids


def test_unknown_ids_are_not_found(cri_mp):
    from helpers.cri import runtime

    rt = runtime(cri_mp)
    for call in (
        lambda: rt.PodSandboxStatus(api_pb2.PodSandboxStatusRequest(pod_sandbox_id="f" * 64), timeout=10),
        lambda: rt.StopPodSandbox(api_pb2.StopPodSandboxRequest(pod_sandbox_id="f" * 64), timeout=10),
        lambda: rt.ContainerStatus(api_pb2.ContainerStatusRequest(container_id="f" * 64), timeout=10),
        lambda: rt.StartContainer(api_pb2.StartContainerRequest(container_id="f" * 64), timeout=10),
    ):
        with pytest.raises(grpc.RpcError) as e:
            call()
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
    # Removing what is not there is not an error: the kubelet repeats removes.
    rt.RemovePodSandbox(api_pb2.RemovePodSandboxRequest(pod_sandbox_id="f" * 64), timeout=10)


def test_remove_sandbox_with_running_container_leaves_nothing(cri_pods, cri_mp):
    sid, config = cri_pods.run("gone")
    cid = cri_pods.create(sid, config, "c", ["sleep", "300"])
    cri_pods.start(cid)
    pid = json.loads(cri_pods.status(cid, verbose=True).info["info"])["pid"]
    cri_pods.rt.RemovePodSandbox(api_pb2.RemovePodSandboxRequest(pod_sandbox_id=sid), timeout=60)
    cri_pods.sandboxes.remove(sid)
    assert not os.path.exists(f"/proc/{pid}")
    assert not [p for p in cri_mp.processes() if sid in p]
    assert not [c for c in cri_mp.cgroups() if sid in c]
    assert not [m for m in cri_mp.mounts() if sid in m]
    assert not os.path.exists(os.path.join(cri_mp.root, "run", "netns", sid))
    with pytest.raises(grpc.RpcError) as e:
        cri_pods.status(cid)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_exec_sync_timeout_kills_the_command(cri_pods):
    sid, config = cri_pods.run("exec-timeout")
    cid = cri_pods.create(sid, config, "c", ["sleep", "300"])
    cri_pods.start(cid)
    with pytest.raises(grpc.RpcError) as e:
        cri_pods.rt.ExecSync(
            api_pb2.ExecSyncRequest(container_id=cid, cmd=["sleep", "4321"], timeout=1), timeout=30
        )
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    req = api_pb2.ExecSyncRequest(
        container_id=cid, cmd=["sh", "-c", "pgrep -f 'sleep 4321' || true"], timeout=10
    )
    assert cri_pods.rt.ExecSync(req, timeout=30).stdout == b""


def test_reopen_container_log_after_the_kubelet_renamed_it(cri_pods):
    sid, config = cri_pods.run("reopen")
    cid = cri_pods.create(sid, config, "c", ["sh", "-c", "while :; do echo tick; sleep 0.2; done"])
    cri_pods.start(cid)
    path = cri_pods.status(cid).status.log_path
    eventually(lambda: os.path.getsize(path) > 0, what="the first lines")
    os.rename(path, path + ".1")
    cri_pods.rt.ReopenContainerLog(api_pb2.ReopenContainerLogRequest(container_id=cid), timeout=10)
    assert os.path.exists(path)
    eventually(lambda: "stdout F tick" in open(path).read(), what="lines in the new file")
    size = os.path.getsize(path + ".1")
    time.sleep(1)
    assert os.path.getsize(path + ".1") == size  # the old file gets nothing more


def test_status_reports_the_image_as_the_image_service_does(cri_pods, cri_mp):
    from helpers.cri import images

    sid, config = cri_pods.run("image-ref")
    cid = cri_pods.create(sid, config, "c", ["true"])
    st = cri_pods.status(cid).status
    image = images(cri_mp).ImageStatus(api_pb2.ImageStatusRequest(image=st.image), timeout=10).image
    assert st.image.image in image.repo_tags
    assert st.image_ref in image.repo_digests
    listed = cri_pods.rt.ListContainers(api_pb2.ListContainersRequest(), timeout=10).containers
    assert [c.image_ref for c in listed if c.id == cid] == [image.id]


def test_a_lost_sandbox_stays_lost_for_the_kubelet_to_replace(cri_pods):
    import signal

    sid, config = cri_pods.run("lost")
    init = json.loads(cri_pods.sandbox_status(sid, verbose=True).info["info"])["pid"]
    os.kill(init, signal.SIGKILL)
    eventually(lambda: cri_pods.sandbox_status(sid).status.state == api_pb2.SANDBOX_NOTREADY, what="NOTREADY")
    time.sleep(1.5)  # a remade sandbox would be READY again by now
    assert cri_pods.sandbox_status(sid).status.state == api_pb2.SANDBOX_NOTREADY
