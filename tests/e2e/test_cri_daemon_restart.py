"""CRI pods outlive their daemon: SIGKILL it, start it again, and the
sandbox, its containers and their states are all still there."""

import json
import os
import signal

import pytest
from helpers.cri import CriPods
from helpers.host import eventually
from helpers.instance import running_instance

from minipod.cri import api_pb2


@pytest.fixture
def cri_fresh(tmp_path):
    with running_instance("cri-fresh", daemon_args=["--cri"]) as inst:
        pods = CriPods(inst, str(tmp_path))
        yield inst, pods
        pods.remove_all()


def test_sigkilled_daemon_comes_back_with_its_cri_pods(cri_fresh):
    inst, pods = cri_fresh
    sid, config = pods.run("survivor")
    cid = pods.create(sid, config, "c", ["sleep", "300"])
    pods.start(cid)
    quick = pods.create(sid, config, "quick", ["sh", "-c", "sleep 2; exit 5"])
    pods.start(quick)
    pid = json.loads(pods.status(cid, verbose=True).info["info"])["pid"]

    inst.kill_daemon(signal.SIGKILL)
    assert os.path.exists(f"/proc/{pid}")  # the pod does not depend on the daemon
    inst.start_daemon()
    pods.rt = __import__("helpers.cri", fromlist=["runtime"]).runtime(inst)

    s = pods.sandbox_status(sid).status
    assert s.state == api_pb2.SANDBOX_READY
    st = pods.status(cid, verbose=True)
    assert st.status.state == api_pb2.CONTAINER_RUNNING
    assert json.loads(st.info["info"])["pid"] == pid
    # The one that exited while (or after) the daemon was away: its exit is known, and not acted on.
    eventually(lambda: pods.status(quick).status.state == api_pb2.CONTAINER_EXITED, what="quick's exit")
    assert pods.status(quick).status.exit_code == 5
    # Stop still reaches the adopted container.
    pods.rt.StopContainer(api_pb2.StopContainerRequest(container_id=cid, timeout=1), timeout=30)
    assert not os.path.exists(f"/proc/{pid}")
