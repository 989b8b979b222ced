"""A static helper that makes raw system calls from inside a container.

Busybox has no applet for most of what a seccomp profile or the escape
suite must try (keyctl, bpf, perf_event_open, init_module, setns), so
syscall_probe.c is built once per session and reaches pods through a
read-only hostPath volume mounted at /probe:

    syscall_probe          the fixture: the directory holding `probe`
    with_probe(c)          a container spec with the volume mounted
    probe_pod(name, dir, *containers, **spec)   a pod with the volume
    probe_calls(mp, pod, *names, container=)    {name: "ok" | "errno N"}
"""

import os
import shutil
import subprocess
import tempfile

import pytest

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "syscall_probe.c")


@pytest.fixture(scope="session")
def syscall_probe():
    d = tempfile.mkdtemp(prefix="minipod-probe-")
    subprocess.run(["cc", "-O1", "-static", "-o", os.path.join(d, "probe"), SOURCE], check=True)
    yield d
    shutil.rmtree(d)


def with_probe(container: dict) -> dict:
    mounts = list(container.get("volumeMounts") or [])
    mounts.append({"name": "probe", "mountPath": "/probe", "readOnly": True})
    return dict(container, volumeMounts=mounts)


def probe_pod(manifest: dict, probe_dir: str) -> dict:
    """Add the probe's hostPath volume to a pod built by helpers.pods.pod."""
    spec = manifest["spec"]
    spec["volumes"] = list(spec.get("volumes") or []) + [
        {"name": "probe", "hostPath": {"path": probe_dir, "type": "Directory"}}
    ]
    return manifest


def probe_calls(mp, pod_name: str, *names: str, container: str = "main") -> dict[str, str]:
    out = mp.run("exec", pod_name, "-c", container, "--", "/probe/probe", *names).stdout
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in out.splitlines()}
