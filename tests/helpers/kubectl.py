"""The real kubectl (and the official Python client) against a test instance.

kubectl(mp, *args)     run kubectl with the instance's admin kubeconfig and
                       a HOME of the instance's own (kubectl's discovery cache)
client(mp)             the official `kubernetes` client, configured the same way
"""

import os
import shutil
import subprocess

import pytest

KUBECTL = shutil.which("kubectl")


def kubeconfig(mp) -> str:
    return os.path.join(mp.root, "etc", "admin.kubeconfig")


def env(mp, **extra) -> dict:
    home = os.path.join(mp.root, "kubectl-home")
    os.makedirs(home, exist_ok=True)
    return dict(os.environ, KUBECONFIG=kubeconfig(mp), HOME=home, **extra)


def kubectl(mp, *args, input: str | None = None, check: bool = True, timeout: float = 60, **extra_env):
    if KUBECTL is None:
        pytest.skip("kubectl is not on PATH")
    p = subprocess.run(
        [KUBECTL, *args],
        input=input,
        text=True,
        capture_output=True,
        timeout=timeout,
        env=env(mp, **extra_env),
    )
    if check and p.returncode != 0:
        raise AssertionError(
            f"kubectl {' '.join(args)} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
        )
    return p


def client(mp):
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes import config

    api_client = config.new_client_from_config(config_file=kubeconfig(mp))
    return kubernetes.client.CoreV1Api(api_client)
