"""The CRI for the tests: an instance serving it, and the generated stubs.

    cri_mp          the session's CRI instance (`minipod daemon --cri`), its
                    own daemon beside `mp`'s
    runtime(inst)   a RuntimeService stub on inst's RUN/cri.sock, through
                    the stubs the package generated at install time
    images(inst)    the same for the ImageService
A test reaches the CRI exactly as a kubelet does: gRPC over the socket.
"""

import grpc
import pytest

from helpers.instance import running_instance


def channel(inst) -> grpc.Channel:
    return grpc.insecure_channel(f"unix:{inst.cri_socket}")


def runtime(inst):
    from minipod.cri import api_pb2_grpc

    return api_pb2_grpc.RuntimeServiceStub(channel(inst))


def images(inst):
    from minipod.cri import api_pb2_grpc

    return api_pb2_grpc.ImageServiceStub(channel(inst))


@pytest.fixture(scope="session")
def cri_mp():
    with running_instance("cri", daemon_args=["--cri"]) as inst:
        yield inst
