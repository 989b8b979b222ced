"""The CRI's RuntimeService: each call checked, then handed to the runtime.

Every method is a coroutine on the daemon's loop (grpc.aio). Errors follow
containerd's CRI plugin: an unknown id is NOT_FOUND, a bad request
INVALID_ARGUMENT, each with a message naming the id and the field.
    Version, Status, UpdateRuntimeConfig   what the runtime says of itself
"""

# The generated stubs (setup.py): absent from a source checkout, so mypy
# sees them as a missing module, not a missing attribute.
import minipod.cri.api_pb2 as api_pb2
import minipod.cri.api_pb2_grpc as api_pb2_grpc
from minipod.cri import runtime_info
from minipod.network import pod_network


class RuntimeService(api_pb2_grpc.RuntimeServiceServicer):
    def __init__(self, inst, manager, images, log):
        self.inst, self.manager, self.images, self.log = inst, manager, images, log

    # --- the runtime itself ---------------------------------------------------
    async def Version(self, request, context):
        return runtime_info.version()

    async def Status(self, request, context):
        bridge = pod_network.bridge_of(self.manager.conflist)
        config = {"cniConfig": self.manager.conflist.get("name", ""), "bridge": bridge or ""}
        ready = bridge is not None
        reason = "" if ready else "the instance's CNI configuration has no bridge plugin"
        return runtime_info.status(ready, reason, request.verbose, config)

    async def UpdateRuntimeConfig(self, request, context):
        # The kubelet sends the node's pod CIDR here. minipod's bridge and
        # subnet are the instance's own (chosen at its first start), so
        # like containerd without a CNI template there is nothing to change.
        return api_pb2.UpdateRuntimeConfigResponse()
