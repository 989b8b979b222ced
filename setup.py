"""Build hooks: compile the pod shim and generate the CRI's gRPC stubs.

Everything else about the package is declared in pyproject.toml.
    1. the pod shim (minipod/native/shim.c), a small C program (the pod's
       PID 1 and the per-container monitor) because it must stay resident
       for the life of every pod, where a Python interpreter would cost
       several MiB per pod;
    2. the CRI's Python stubs (api_pb2.py, api_pb2_grpc.py), generated from
       minipod/cri/api.proto by grpcio-tools (a build requirement) into the
       build tree only: they are never written by hand nor committed.
"""

import os
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithShim(build_py):
    def run(self):
        super().run()
        native = os.path.join("minipod", "native")
        src = [os.path.join(native, "shim.c"), os.path.join(native, "cri_log.c")]
        out_dir = os.path.join(self.build_lib, "minipod", "bin")
        os.makedirs(out_dir, exist_ok=True)
        cc = os.environ.get("CC", "cc")
        # Static: the pod init runs in an empty root where no shared
        # library can be found (see namespaces.py, step 7).
        subprocess.check_call(
            [cc, "-O2", "-Wall", "-Wextra", "-static", "-o", os.path.join(out_dir, "minipod-shim"), *src]
        )
        generate_cri_stubs(self.build_lib)


def generate_cri_stubs(build_lib: str) -> None:
    """protoc with the proto's path relative to the source root, so the
    generated grpc module imports `minipod.cri.api_pb2`, not a top-level
    `api_pb2`."""
    from grpc_tools import protoc  # a build requirement (pyproject.toml)

    args = ["grpc_tools.protoc", "-I.", f"--python_out={build_lib}", f"--grpc_python_out={build_lib}"]
    if protoc.main([*args, os.path.join("minipod", "cri", "api.proto")]) != 0:
        raise SystemExit("generating the CRI stubs from minipod/cri/api.proto failed (see above)")


setup(cmdclass={"build_py": BuildWithShim})
