"""Exec, Attach and PortForward of the RuntimeService: each checks its
request as the kubelet's streaming library does (k8s.io/kubelet/pkg/cri/
streaming), finds the container or sandbox, and answers a URL of the
streaming server (streaming.py) where the session will run:

    Exec         the command in the container's namespaces, as the
                 Kubernetes API's exec runs it (api/pod_exec.py ExecSession)
    Attach       the container's output from now on, and its stdin, as the
                 Kubernetes API's attach (kubeapi/streams.py)
    PortForward  connections to the sandbox's ports from inside its network
                 namespace (kubeapi/portforward.py serve_spdy)

Mixed into RuntimeService (runtime_service.py): it uses self.manager and
self.log.
"""

import grpc

import minipod.cri.api_pb2 as api_pb2  # generated at build time (setup.py)
from minipod.api.pod_exec import ExecSession
from minipod.cri import streaming
from minipod.cri.lookup import CriNotFound, container_id, find_container, find_sandbox
from minipod.kubeapi import portforward, streams
from minipod.pod import handlers
from minipod.pod.record import ContainerState


class StreamingCalls:
    manager: object
    log: object
    stream_server: streaming.StreamServer | None = None

    async def _url(self, kind: str, serve) -> str:
        if self.stream_server is None:
            self.stream_server = streaming.StreamServer(self.log)
        return await self.stream_server.url(kind, serve)

    async def _abort(self, context, call: str, e: Exception) -> None:
        code = grpc.StatusCode.NOT_FOUND if isinstance(e, CriNotFound) else grpc.StatusCode.INVALID_ARGUMENT
        if isinstance(e, RuntimeError):
            code = grpc.StatusCode.FAILED_PRECONDITION
        self.log(f"CRI {call}: {code.name}: {e}")  # type: ignore[operator]
        await context.abort(code, str(e))

    def _running(self, ident: str):
        w, c = find_container(self.manager, ident)
        if c.state != ContainerState.RUNNING:
            raise RuntimeError(f'container "{container_id(c)}" is not running')
        return w, c

    async def Exec(self, request, context):
        try:
            check_streams(request.container_id, request.stdin, request.stdout, request.stderr, request.tty)
            if not request.cmd:
                raise ValueError("cmd: required")
            w, c = self._running(request.container_id)
        except (ValueError, LookupError, RuntimeError) as e:
            return await self._abort(context, "Exec", e)
        argv, tty = list(request.cmd), request.tty
        expected = streaming.expected_streams(request.stdin, request.stdout, request.stderr, tty)

        async def serve(connection) -> None:
            channels = streaming.SpdyChannels(connection)
            await channels.open(expected)
            plan = handlers.exec_plan(w.record, c, argv, tty, self.manager.node)  # type: ignore[attr-defined]
            session = ExecSession(plan, tty, "stdin" in expected)
            try:
                await session.run(channels)  # type: ignore[arg-type]
            finally:
                session.close()

        return api_pb2.ExecResponse(url=await self._url("exec", serve))

    async def Attach(self, request, context):
        try:
            check_streams(request.container_id, request.stdin, request.stdout, request.stderr, request.tty)
            w, c = self._running(request.container_id)
        except (ValueError, LookupError, RuntimeError) as e:
            return await self._abort(context, "Attach", e)
        expected = streaming.expected_streams(request.stdin, request.stdout, request.stderr, request.tty)

        async def serve(connection) -> None:
            channels = streaming.SpdyChannels(connection)
            await channels.open(expected)
            output = streaming.CriLogChannels(channels) if c.log_file else channels
            await streams.relay_attach(output, c.log_path, c, w, "stdin" in expected)

        return api_pb2.AttachResponse(url=await self._url("attach", serve))

    async def PortForward(self, request, context):
        try:
            if not request.pod_sandbox_id:
                raise ValueError("missing required pod_sandbox_id")
            w = find_sandbox(self.manager, request.pod_sandbox_id)
            netns = portforward.netns_of(w)
        except (ValueError, LookupError) as e:
            return await self._abort(context, "PortForward", e)
        except Exception as e:  # the sandbox has no network: not ready
            return await self._abort(context, "PortForward", RuntimeError(str(e)))
        name = w.record.metadata["name"]

        async def serve(connection) -> None:
            await portforward.serve_spdy(connection, name, netns)

        return api_pb2.PortForwardResponse(url=await self._url("portforward", serve))


def check_streams(ident: str, stdin: bool, stdout: bool, stderr: bool, tty: bool) -> None:
    """The kubelet streaming library's checks of an Exec or Attach request."""
    if not ident:
        raise ValueError("missing required container_id")
    if tty and stderr:
        raise ValueError("tty and stderr cannot both be true")
    if not (stdin or stdout or stderr):
        raise ValueError("one of stdin, stdout, or stderr must be set")
