"""Build hook: compile the pod shim (minipod/native/shim.c) into the package.

Everything else about the package is declared in pyproject.toml. The shim is
a small C program (the pod's PID 1 and the per-container monitor) because it
must stay resident for the life of every pod, where a Python interpreter
would cost several MiB per pod.
"""

import os
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithShim(build_py):
    def run(self):
        super().run()
        src = os.path.join("minipod", "native", "shim.c")
        out_dir = os.path.join(self.build_lib, "minipod", "bin")
        os.makedirs(out_dir, exist_ok=True)
        cc = os.environ.get("CC", "cc")
        # Static: the pod init runs in an empty root where no shared
        # library can be found (see namespaces.py, step 7).
        subprocess.check_call(
            [cc, "-O2", "-Wall", "-Wextra", "-static", "-o", os.path.join(out_dir, "minipod-shim"), src]
        )


setup(cmdclass={"build_py": BuildWithShim})
