"""The CRI test tools and their images, for the CRI tests.

    cri_tools         (session) crictl, critest and a running loopback
                      registry holding every image critest pulls, built once
                      per machine by scripts/critest-build.sh and cached there
    critest_mp        (session) an instance serving the CRI (--cri) whose
                      registries.json sends those registries
                      to that loopback registry
    cri_mirrors()     the registries.json that sends the registries critest
                      names to that loopback registry over plain HTTP, as a
                      runtime's mirror configuration does
    crictl()          run crictl against a CRI socket

The registry serves a per-session copy of the cached storage, on a port the
kernel picks (two suites never collide), and stops at the end of the session.
"""

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import pytest

from helpers.instance import running_instance
from helpers.registry import RegistryServer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(REPO, "scripts", "critest-build.sh")
# Where the cri-tools source and the image scripts are (critest-build.sh's default).
SOURCE = os.environ.get("MINIPOD_CRITEST_SRC") or os.path.join(REPO, "..", "shared", "critest")
# The registries critest's images come from (cri-tools v1.26.1,
# pkg/framework/util.go and pkg/validate/consts.go); the loopback registry
# holds them under the same repository paths.
MIRRORED = ("registry.k8s.io", "gcr.io")
BUSYBOX = "registry.k8s.io/e2e-test-images/busybox:1.29-2"
NGINX = "registry.k8s.io/e2e-test-images/nginx:1.14-2"


@dataclass
class CriTools:
    crictl: str
    critest: str
    registry: str  # host:port of the loopback registry


def cri_mirrors(registry: str) -> dict:
    """registries.json sending MIRRORED to REGISTRY (host:port) over HTTP."""
    return {"mirrors": {host: [f"http://{registry}"] for host in MIRRORED}}


def write_cri_mirrors(etc_dir: str, registry: str) -> None:
    os.makedirs(etc_dir, exist_ok=True)
    with open(os.path.join(etc_dir, "registries.json"), "w") as f:
        json.dump(cri_mirrors(registry), f)


def build() -> str:
    """The cache folder with bin/ and registry/ (built now if it is not);
    skip the CRI tests, saying why, where the cri-tools source is absent."""
    if not os.path.isfile(os.path.join(SOURCE, "images.sh")):
        pytest.skip(f"no cri-tools source at {SOURCE} (set MINIPOD_CRITEST_SRC)")
    p = subprocess.run([BUILD], capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        raise RuntimeError(f"scripts/critest-build.sh failed:\n{p.stderr}")
    return p.stdout.strip().splitlines()[-1]


def crictl(tools: CriTools, socket: str, *args: str, check: bool = True, timeout: float = 60, input=None):
    p = subprocess.run(
        [
            tools.crictl,
            "--runtime-endpoint",
            f"unix://{socket}",
            "--image-endpoint",
            f"unix://{socket}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )
    if check and p.returncode != 0:
        raise AssertionError(f"crictl {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture(scope="session")
def cri_tools():
    cache = build()
    workdir = tempfile.mkdtemp(prefix="minipod-cri-registry-")
    # A copy: the registry may write (uploads, its own state) and the cache
    # is shared by every suite on the machine.
    shutil.copytree(os.path.join(cache, "registry"), os.path.join(workdir, "storage"), symlinks=True)
    server = RegistryServer(workdir).start()
    try:
        yield CriTools(
            os.path.join(cache, "bin", "crictl"), os.path.join(cache, "bin", "critest"), server.host
        )
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def critest_mp(cri_tools):
    """An instance of its own whose registries.json mirrors critest's
    registries to the session's loopback registry."""

    def setup(inst) -> None:
        write_cri_mirrors(os.path.join(inst.root, "etc"), cri_tools.registry)

    with running_instance("critest", daemon_args=["--cri"], setup=setup) as inst:
        yield inst


# ---------------------------------------------------------------- critest's report


@dataclass
class SpecResult:
    name: str  # container texts and the spec's own, as ginkgo prints them
    state: str  # passed, failed, skipped, ...
    reason: str  # the failure's first line


def critest_results(report_json: str) -> list[SpecResult]:
    """The specs (ginkgo "It" nodes) of critest's --ginkgo.json-report."""
    with open(report_json) as f:
        suites = json.load(f)
    results = []
    for suite in suites:
        for spec in suite.get("SpecReports") or []:
            if spec.get("LeafNodeType") != "It":
                continue
            name = " ".join([*spec.get("ContainerHierarchyTexts", []), spec.get("LeafNodeText", "")])
            message = (spec.get("Failure") or {}).get("Message", "")
            results.append(SpecResult(name, spec.get("State", ""), message.strip().split("\n")[0]))
    return results


# What the session's critest run measured, for the terminal summary.
CRITEST_SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter):
    for line in CRITEST_SUMMARY:
        terminalreporter.write_line(line)
