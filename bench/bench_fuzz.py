"""What hostile and large requests cost the daemon in memory.

    python bench/bench_fuzz.py [--seed N] [--manifests N] [--requests N]

Starts its own daemon (bench.py's Minipod: a temporary --root), then
measures the daemon's RSS (VmRSS) and its peak (VmHWM, the kernel's
high-water mark) in /proc/PID/status:
  1. at rest, after a small warm-up round (so the modules every request
     path imports are loaded before the baseline);
  2. under the fuzz load of the test suite (tests/helpers/fuzz.py): mutated
     manifests and API requests, then the accepted pods deleted;
  3. under large requests: five manifests each carrying a 1 MB string (a
     container argument, accepted) and five each with a 1 MB annotation
     (refused: over 256 KiB), sent one after the other;
and prints the peak and what is left after each step. Everything is
removed at the end.
"""

import argparse
import os
import random
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "tests")]

from helpers import fuzz  # noqa: E402 - after the sys.path lines above

from bench import Minipod, log  # noqa: E402 - after the sys.path lines above


def status_mb(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out


def send(mp: Minipod, method: str, path: str, body: bytes | None) -> int:
    try:
        resp = mp.client.request(method, path, body, content_type="application/yaml")
        resp.read()
        return resp.status
    except Exception as e:  # noqa: BLE001 - ApiError carries the 4xx code
        return getattr(e, "code", 404)


def fuzz_round(mp: Minipod, rng, manifests: int, requests: int) -> dict:
    answers: dict[int, int] = {}
    for ns, body in fuzz.manifest_bodies(rng, manifests):
        code = send(mp, "POST", "/minipod/v1/apply?" + urllib.parse.urlencode({"namespace": ns}), body)
        answers[code] = answers.get(code, 0) + 1
    for method, path, body in fuzz.api_requests(rng, requests):
        code = send(mp, method, path, body)
        answers[code] = answers.get(code, 0) + 1
    delete_all(mp)
    return answers


def delete_all(mp: Minipod) -> None:
    for pod in mp.client.json("GET", "/api/v1/pods")["items"]:
        meta = pod["metadata"]
        send(
            mp,
            "DELETE",
            f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}?gracePeriodSeconds=0",
            None,
        )
    deadline = time.time() + 60
    while mp.client.json("GET", "/api/v1/pods")["items"] and time.time() < deadline:
        time.sleep(0.1)


def large_round(mp: Minipod) -> None:
    big = "x" * 1_000_000
    for i in range(5):
        pod = fuzz.BASE_POD | {"metadata": {"name": f"big-{i}"}}
        body = fuzz._dump(pod).replace(b"sleep 1", big.encode())
        send(mp, "POST", "/minipod/v1/apply?namespace=bench", body)
        body = fuzz._dump(pod | {"metadata": {"name": f"bigger-{i}", "annotations": {"a": big}}})
        send(mp, "POST", "/minipod/v1/apply?namespace=bench", body)
    delete_all(mp)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--manifests", type=int, default=220)
    ap.add_argument("--requests", type=int, default=180)
    args = ap.parse_args()
    mp = Minipod()
    try:
        pid = mp.daemon.pid
        log("warm-up round")
        fuzz_round(mp, random.Random(args.seed + 1), 30, 30)
        rest = status_mb(pid)
        log(f"fuzz round: {args.manifests} manifests, {args.requests} requests, seed {args.seed}")
        began = time.monotonic()
        answers = fuzz_round(mp, random.Random(args.seed), args.manifests, args.requests)
        took = time.monotonic() - began
        after_fuzz = status_mb(pid)
        log("large round: 5 manifests with a 1 MB argument, 5 with a 1 MB annotation")
        large_round(mp)
        after_large = status_mb(pid)
        print(f"answers: {dict(sorted(answers.items()))} in {took:.1f}s")
        print("| step | daemon RSS after | peak RSS so far (VmHWM) |")
        print("|---|---|---|")
        print(f"| at rest, after the warm-up | {rest['VmRSS']:.0f} MB | {rest['VmHWM']:.0f} MB |")
        print(f"| fuzz load | {after_fuzz['VmRSS']:.0f} MB | {after_fuzz['VmHWM']:.0f} MB |")
        print(
            f"| 10 requests with a 1 MB string | {after_large['VmRSS']:.0f} MB | {after_large['VmHWM']:.0f} MB |"
        )
        with open(os.path.join(mp.root, "daemon.log"), errors="replace") as f:
            bugs = f.read().count("internal error")
        print(f"internal errors (5xx) in the daemon's log: {bugs}")
    finally:
        leftovers = mp.stop()
        if leftovers:
            log(f"left behind: {leftovers}")


if __name__ == "__main__":
    main()
