"""The CRI for the tests: an instance serving it, and the generated stubs.

    cri_mp          the session's CRI instance (`minipod daemon --cri`), its
                    own daemon beside `mp`'s
    runtime(inst)   a RuntimeService stub on inst's RUN/cri.sock, through
                    the stubs the package generated at install time
    images(inst)    the same for the ImageService
    sandbox_config(name, **fields), container_config(name, command, ...)
                    the configs a kubelet would send, with unique metadata
    CriPods         run sandboxes and containers, and remove every one of
                    them at the end (fixture cri_pods)
A test reaches the CRI exactly as a kubelet does: gRPC over the socket.
"""

import os
import uuid

import grpc
import pytest

from helpers.instance import running_instance

BUSYBOX = "docker.io/library/busybox:1.35"  # the instance's base image (minipod image build-base)


def channel(inst) -> grpc.Channel:
    return grpc.insecure_channel(f"unix:{inst.cri_socket}")


def runtime(inst):
    from minipod.cri import api_pb2_grpc

    return api_pb2_grpc.RuntimeServiceStub(channel(inst))


def images(inst):
    from minipod.cri import api_pb2_grpc

    return api_pb2_grpc.ImageServiceStub(channel(inst))


def sandbox_config(name: str, log_directory: str = "", **fields):
    from minipod.cri import api_pb2

    md = api_pb2.PodSandboxMetadata(name=name, namespace="cri-test", uid=str(uuid.uuid4()), attempt=0)
    return api_pb2.PodSandboxConfig(metadata=md, log_directory=log_directory, **fields)


def container_config(name: str, command: list[str], **fields):
    from minipod.cri import api_pb2

    return api_pb2.ContainerConfig(
        metadata=api_pb2.ContainerMetadata(name=name),
        image=api_pb2.ImageSpec(image=fields.pop("image", BUSYBOX)),
        command=command,
        **fields,
    )


class CriPods:
    def __init__(self, inst, tmp: str):
        self.inst, self.tmp = inst, tmp
        self.rt = runtime(inst)
        self.sandboxes: list[str] = []

    def run(self, name: str, **fields) -> tuple[str, object]:
        from minipod.cri import api_pb2

        logs = os.path.join(self.tmp, name)
        config = sandbox_config(name, log_directory=logs, **fields)
        sid = self.rt.RunPodSandbox(api_pb2.RunPodSandboxRequest(config=config), timeout=90).pod_sandbox_id
        self.sandboxes.append(sid)
        return sid, config

    def create(self, sid: str, sandbox, name: str, command: list[str], **fields) -> str:
        from minipod.cri import api_pb2

        config = container_config(name, command, log_path=f"{name}/0.log", **fields)
        req = api_pb2.CreateContainerRequest(pod_sandbox_id=sid, config=config, sandbox_config=sandbox)
        return self.rt.CreateContainer(req, timeout=60).container_id

    def start(self, cid: str) -> None:
        from minipod.cri import api_pb2

        self.rt.StartContainer(api_pb2.StartContainerRequest(container_id=cid), timeout=60)

    def status(self, cid: str, verbose: bool = False):
        from minipod.cri import api_pb2

        return self.rt.ContainerStatus(
            api_pb2.ContainerStatusRequest(container_id=cid, verbose=verbose), timeout=10
        )

    def sandbox_status(self, sid: str, verbose: bool = False):
        from minipod.cri import api_pb2

        req = api_pb2.PodSandboxStatusRequest(pod_sandbox_id=sid, verbose=verbose)
        return self.rt.PodSandboxStatus(req, timeout=10)

    def remove_all(self) -> None:
        from minipod.cri import api_pb2

        for sid in self.sandboxes:
            self.rt.StopPodSandbox(api_pb2.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=60)
            self.rt.RemovePodSandbox(api_pb2.RemovePodSandboxRequest(pod_sandbox_id=sid), timeout=60)


@pytest.fixture(scope="session")
def cri_mp():
    with running_instance("cri", daemon_args=["--cri"]) as inst:
        yield inst


@pytest.fixture
def cri_pods(cri_mp, tmp_path):
    pods = CriPods(cri_mp, str(tmp_path))
    yield pods
    pods.remove_all()
