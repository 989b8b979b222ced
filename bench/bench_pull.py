"""Benchmark pulling an image from a loopback registry: minipod beside
skopeo (and podman, when it works here), in the same run.

    python bench/bench_pull.py [--layers N] [--layer-mib M] [--runs R] [--no-podman] [--json]

Run it as root with the interpreter minipod is installed into; it needs the
docker-registry and skopeo packages. What it does, in order:

  1. start a registry on 127.0.0.1 (the test suite's RegistryServer: the
     distribution project's registry, temp storage, a free port)
  2. build an image of N layers (default 4) of M MiB (default 4) of random
     data each, gzip-compressed, and push it there with skopeo
  3. R runs (default 5); in each, every tool pulls the image into an empty
     destination, one tool after the other, timed as wall time of the
     whole command, interpreter or binary start included:
       minipod  python -m minipod.image.pull REF --store EMPTY   (download, verify
                digests, unpack every layer, store blobs and layers)
       skopeo   skopeo copy docker://REF oci:EMPTY:tag      (download and verify
                blobs into an OCI layout; it does not unpack layers)
       podman   podman --root EMPTY pull REF                (download and unpack
                into its overlay storage: the same work as minipod)
     plus minipod's pull_image() in this process (no interpreter start).
  4. print the medians and the ratios minipod / other (target: <= 1.0)
  5. remove everything it made: the registry process, its storage, every
     destination (podman's images are removed with podman rmi first)
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

# The registry helpers are the tests' (tests/ is put on sys.path just above).
from helpers.registry import INSECURE_POLICY, RegistryServer, push, random_layer  # noqa: E402 (after sys.path)

from minipod.image import base as baseimage  # noqa: E402 (after sys.path, with the helpers)
from minipod.image import pull  # noqa: E402 (after sys.path, with the helpers)
from minipod.image.store import ImageStore  # noqa: E402 (after sys.path, with the helpers)


def timed(cmd: list[str], **kwargs) -> float:
    start = time.perf_counter()
    subprocess.run(
        cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs
    )
    return time.perf_counter() - start


class Tools:
    """One pull per tool into a fresh destination under WORK."""

    def __init__(self, work: str, ref: str, podman: bool):
        self.work, self.ref = work, ref
        self.policy = os.path.join(work, "policy.json")
        with open(self.policy, "w") as f:
            f.write(INSECURE_POLICY)
        self.names = ["minipod", "minipod in-process", "skopeo"]
        if podman and shutil.which("podman"):
            try:
                self.podman()
                self.names.append("podman")
            except subprocess.CalledProcessError as e:
                print(f"podman skipped: {e.stderr.decode(errors='replace').strip()[-300:]}", file=sys.stderr)

    def fresh(self) -> str:
        return tempfile.mkdtemp(dir=self.work)

    def minipod(self) -> float:
        dest = self.fresh()
        try:
            return timed(
                [
                    sys.executable,
                    "-m",
                    "minipod.image.pull",
                    self.ref,
                    "--store",
                    os.path.join(dest, "images"),
                ]
            )
        finally:
            shutil.rmtree(dest)

    def minipod_in_process(self) -> float:
        dest = self.fresh()
        try:
            start = time.perf_counter()
            pull.pull_image(ImageStore(os.path.join(dest, "images")), self.ref)
            return time.perf_counter() - start
        finally:
            shutil.rmtree(dest)

    def skopeo(self) -> float:
        dest = self.fresh()
        try:
            return timed(
                [
                    "skopeo",
                    "--policy",
                    self.policy,
                    "copy",
                    "-q",
                    "--src-tls-verify=false",
                    f"docker://{self.ref}",
                    f"oci:{dest}:bench",
                ]
            )
        finally:
            shutil.rmtree(dest)

    def podman(self) -> float:
        dest = self.fresh()
        store = [
            "podman",
            "--root",
            os.path.join(dest, "root"),
            "--runroot",
            os.path.join(dest, "run"),
            "--storage-driver",
            "overlay",
        ]
        try:
            return timed(store + ["pull", "-q", "--tls-verify=false", self.ref])
        finally:
            subprocess.run(store + ["rmi", "-a", "-f"], capture_output=True)
            shutil.rmtree(dest)

    def run(self, name: str) -> float:
        return getattr(self, name.replace(" ", "_").replace("-", "_"))()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--layer-mib", type=float, default=4.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-podman", action="store_true")
    parser.add_argument("--json", action="store_true", help="print every sample as JSON")
    args = parser.parse_args()
    for tool in ("docker-registry", "skopeo"):
        if not shutil.which(tool):
            parser.exit(1, f"bench_pull: {tool} is not installed\n")

    work = tempfile.mkdtemp(prefix="minipod-bench-pull-")
    registry = None
    try:
        registry = RegistryServer(os.path.join(work, "registry"))
        os.makedirs(registry.dir)
        registry.start()  # step 1
        size = int(args.layer_mib * (1 << 20))
        layers = [random_layer(f"data{i}", size, f"bench{i}") for i in range(args.layers)]
        archive = os.path.join(work, "image.tar")  # step 2
        baseimage.write_oci_archive(archive, layers, {"Cmd": ["sh"]}, "bench:1")
        ref = f"{registry.host}/bench/pull:1"
        push(f"oci-archive:{archive}", ref)
        tools = Tools(work, ref, not args.no_podman)
        samples = {name: [] for name in tools.names}
        for _ in range(args.runs):  # step 3
            for name in tools.names:
                samples[name].append(tools.run(name))
        report(args, samples, os.path.getsize(archive))  # step 4
    finally:
        if registry:  # step 5
            registry.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report(args, samples: dict, archive_size: int) -> None:
    medians = {name: statistics.median(s) for name, s in samples.items()}
    mine = medians["minipod"]
    if args.json:
        print(
            json.dumps(
                {
                    "layers": args.layers,
                    "layer_mib": args.layer_mib,
                    "runs": args.runs,
                    "samples": samples,
                    "medians": medians,
                    "ratios": {n: mine / m for n, m in medians.items() if n in ("skopeo", "podman")},
                },
                indent=1,
            )
        )
        return
    print(
        f"image: {args.layers} layers x {args.layer_mib:g} MiB of random data "
        f"({archive_size / (1 << 20):.1f} MiB pushed), {args.runs} runs, "
        "empty destination each time"
    )
    print(f"{'':34}{'median':>9}{'min':>9}   minipod / this")
    what = {
        "minipod": "minipod pull (+unpack)",
        "minipod in-process": "  pull_image() in-process",
        "skopeo": "skopeo copy to oci: (no unpack)",
        "podman": "podman pull (+unpack)",
    }
    for name, values in samples.items():
        ratio = f"{mine / medians[name]:10.2f}" if name in ("skopeo", "podman") else ""
        print(f"{what[name]:34}{medians[name]:8.3f}s{min(values):8.3f}s{ratio}")
    print("target: minipod / other <= 1.0")


if __name__ == "__main__":
    sys.exit(main())
