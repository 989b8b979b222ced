"""The CRI's RuntimeService: each call checked, then handed to the runtime.

Every method is a coroutine on the daemon's loop (grpc.aio). Errors follow
containerd's CRI plugin: an unknown id is NOT_FOUND, a bad request
INVALID_ARGUMENT (naming the field), a name in use ALREADY_EXISTS, an
ExecSync past its timeout DEADLINE_EXCEEDED, the rest UNKNOWN with the
step that failed. In order:
    Version, Status, UpdateRuntimeConfig   what the runtime says of itself
    *PodSandbox*                           sandbox_verbs.py
    *Container*, ExecSync                  container_verbs.py
    *Stats                                 from the cgroups, now
"""

import functools

import grpc

# The generated stubs (setup.py): absent from a source checkout, so mypy
# sees them as a missing module, not a missing attribute.
import minipod.cri.api_pb2 as api_pb2
import minipod.cri.api_pb2_grpc as api_pb2_grpc
from minipod.cri import container_config, container_verbs, runtime_info, sandbox_config, sandbox_verbs
from minipod.cri.lookup import CriNotFound, containers, find_container, find_sandbox, sandboxes
from minipod.cri.stream_calls import StreamingCalls
from minipod.errors import MinipodError
from minipod.kube import cgroup_values
from minipod.linux import cgroups
from minipod.network import pod_network
from minipod.pod import pod_cgroups


def cri_call(method):
    """Map the verbs' exceptions to gRPC status codes (module docstring)."""

    @functools.wraps(method)
    async def call(self, request, context):
        try:
            return await method(self, request, context)
        except CriNotFound as e:
            code, message = grpc.StatusCode.NOT_FOUND, str(e)
        except (ValueError, sandbox_config.ConfigError, container_config.ConfigError) as e:
            code, message = grpc.StatusCode.INVALID_ARGUMENT, str(e)
        except FileExistsError as e:
            code, message = grpc.StatusCode.ALREADY_EXISTS, str(e)
        except TimeoutError as e:
            code, message = grpc.StatusCode.DEADLINE_EXCEEDED, str(e)
        except (RuntimeError, MinipodError, OSError) as e:
            code, message = grpc.StatusCode.UNKNOWN, f"{method.__name__}: {e}"
        self.log(f"CRI {method.__name__}: {code.name}: {message}")
        await context.abort(code, message)

    return call


class RuntimeService(StreamingCalls, api_pb2_grpc.RuntimeServiceServicer):
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

    # --- sandboxes ------------------------------------------------------------
    @cri_call
    async def RunPodSandbox(self, request, context):
        sandbox_id = await sandbox_verbs.run(self.manager, request.config, request.runtime_handler)
        return api_pb2.RunPodSandboxResponse(pod_sandbox_id=sandbox_id)

    @cri_call
    async def StopPodSandbox(self, request, context):
        await sandbox_verbs.stop(self.manager, request.pod_sandbox_id)
        return api_pb2.StopPodSandboxResponse()

    @cri_call
    async def RemovePodSandbox(self, request, context):
        await sandbox_verbs.remove(self.manager, request.pod_sandbox_id)
        return api_pb2.RemovePodSandboxResponse()

    @cri_call
    async def PodSandboxStatus(self, request, context):
        return sandbox_verbs.status(self.manager, request.pod_sandbox_id, request.verbose)

    @cri_call
    async def ListPodSandbox(self, request, context):
        return sandbox_verbs.list_sandboxes(
            self.manager, request.filter if request.HasField("filter") else None
        )

    # --- containers -----------------------------------------------------------
    @cri_call
    async def CreateContainer(self, request, context):
        cid = container_verbs.create(self.manager, self.images, request.pod_sandbox_id, request.config)
        return api_pb2.CreateContainerResponse(container_id=cid)

    @cri_call
    async def StartContainer(self, request, context):
        await container_verbs.start(self.manager, request.container_id)
        return api_pb2.StartContainerResponse()

    @cri_call
    async def StopContainer(self, request, context):
        await container_verbs.stop(self.manager, request.container_id, request.timeout)
        return api_pb2.StopContainerResponse()

    @cri_call
    async def RemoveContainer(self, request, context):
        await container_verbs.remove(self.manager, request.container_id)
        return api_pb2.RemoveContainerResponse()

    @cri_call
    async def ContainerStatus(self, request, context):
        return container_verbs.status(self.manager, request.container_id, request.verbose)

    @cri_call
    async def ListContainers(self, request, context):
        return container_verbs.list_containers(
            self.manager, request.filter if request.HasField("filter") else None
        )

    @cri_call
    async def ExecSync(self, request, context):
        return await container_verbs.exec_sync(
            self.manager, request.container_id, request.cmd, request.timeout
        )

    @cri_call
    async def UpdateContainerResources(self, request, context):
        w, c = find_container(self.manager, request.container_id)
        spec = w.record.spec_of(c)
        spec["resources"] = container_config.resources(request.linux)
        if c.id and w.rt.cgroup:
            rel = pod_cgroups.container_rel(w.record, c.id)
            cgroups.write_limits(self.manager.cgroups, rel, cgroup_values.container_limits(spec))
        w.save()
        return api_pb2.UpdateContainerResourcesResponse()

    @cri_call
    async def ReopenContainerLog(self, request, context):
        await container_verbs.reopen_log(self.manager, request.container_id)
        return api_pb2.ReopenContainerLogResponse()

    # --- stats ----------------------------------------------------------------
    @cri_call
    async def ContainerStats(self, request, context):
        w, c = find_container(self.manager, request.container_id)
        return api_pb2.ContainerStatsResponse(stats=container_verbs.stats(self.manager, w, c))

    @cri_call
    async def ListContainerStats(self, request, context):
        f = request.filter if request.HasField("filter") else None
        out = []
        for w, c in containers(self.manager):
            if f is not None and (
                (f.id and c.next_id != f.id)
                or (f.pod_sandbox_id and w.record.metadata["name"] != f.pod_sandbox_id)
                or not all(
                    (w.rt.origin_data.get("containers") or {}).get(c.name, {}).get("labels", {}).get(k) == v
                    for k, v in f.label_selector.items()
                )
            ):
                continue
            out.append(container_verbs.stats(self.manager, w, c))
        return api_pb2.ListContainerStatsResponse(stats=out)

    @cri_call
    async def ListPodSandboxStats(self, request, context):
        f = request.filter if request.HasField("filter") else None
        out = []
        for w in sandboxes(self.manager):
            labels = w.record.metadata.get("labels") or {}
            if f is not None and (
                (f.id and not w.record.metadata["name"].startswith(f.id))
                or not all(labels.get(k) == v for k, v in f.label_selector.items())
            ):
                continue
            out.append(sandbox_verbs.stats(self.manager, w))
        return api_pb2.ListPodSandboxStatsResponse(stats=out)

    @cri_call
    async def PodSandboxStats(self, request, context):
        w = find_sandbox(self.manager, request.pod_sandbox_id)
        return api_pb2.PodSandboxStatsResponse(stats=sandbox_verbs.stats(self.manager, w))
