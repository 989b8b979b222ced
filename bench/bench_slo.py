"""Pod start as the kubelet's SLO measures it, and where a start's time goes.

1. slo(): N pods (default 200) created in waves of W (one apply request per
   wave), each pod's start measured from a watch on the pods, as the
   Kubernetes pod-startup SLI does: from the event that shows the pod
   created (ADDED) to the first event that shows it Running. A pod's
   creationTimestamp has one-second resolution (RFC 3339 without a
   fraction, as the API server writes it), too coarse here, so the watch
   event's arrival time stands for both ends. p50, p99 and a text
   histogram; the pods are deleted afterwards.
2. step_shares(): `minipod run --trace FILE -o json` of one pod, R times
   (the trace points of minipod/trace.py, nothing timed twice): for each
   step the median milliseconds and its share of the pod's median total,
   and the same summed by kind (sandbox, network, rootfs, cgroups, exec,
   ...). Steps of different processes overlap, so shares need not add
   up to 100 %.
"""

import json
import os
import statistics
import subprocess
import threading
import time


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (as the SLO's p99 is computed)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def histogram(values_ms: list[float], width: int = 40) -> list[str]:
    """Text histogram with doubling buckets: a slow tail stays readable."""
    edges = [10.0]
    while edges[-1] < max(values_ms):
        edges.append(edges[-1] * 2)
    counts = [0] * len(edges)
    for v in values_ms:
        counts[next(i for i, e in enumerate(edges) if v <= e)] += 1
    top = max(counts) or 1
    lines, low = [], 0.0
    for edge, n in zip(edges, counts, strict=True):
        bar = "#" * round(width * n / top) if n else ""
        lines.append(f"  {low:>6.0f}-{edge:<6.0f} ms {n:>4} {bar}")
        low = edge
    return lines


class PodWatch:
    """A watch on the namespace's pods over the Kubernetes API (HTTPS, the
    admin kubeconfig's client certificate), noting when each pod was first
    seen (ADDED: created) and first seen Running."""

    def __init__(self, kubeconfig: str, workdir: str):
        import base64
        import http.client
        import ssl

        import yaml

        with open(kubeconfig) as f:
            conf = yaml.safe_load(f)
        cluster, user = conf["clusters"][0]["cluster"], conf["users"][0]["user"]
        paths = {}
        for key in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
            paths[key] = os.path.join(workdir, key)
            with open(paths[key], "wb") as out:
                out.write(base64.b64decode(cluster.get(key) or user[key]))
        ctx = ssl.create_default_context(cafile=paths["certificate-authority-data"])
        ctx.load_cert_chain(paths["client-certificate-data"], paths["client-key-data"])
        host = cluster["server"].split("://", 1)[1]
        self.conn = http.client.HTTPSConnection(host, context=ctx, timeout=120)
        # The request is sent here; its answer's headers may come only with
        # the first event, so the thread waits for them.
        self.conn.request("GET", "/api/v1/namespaces/default/pods?watch=true")
        self.created: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            resp = self.conn.getresponse()
            while line := resp.readline():
                now = time.perf_counter()
                if not line.strip():
                    continue
                event = json.loads(line)
                pod = event["object"]
                name = pod["metadata"]["name"]
                if event["type"] == "ADDED":
                    self.created.setdefault(name, now)
                if pod.get("status", {}).get("phase") == "Running":
                    self.running.setdefault(name, now)
        except (OSError, ValueError, AttributeError):
            pass  # closed by stop()

    def stop(self) -> None:
        if self.conn.sock is not None:
            self.conn.sock.shutdown(2)  # wakes the reading thread
        self.thread.join(5)
        self.conn.close()


def slo(mp, pod_yaml, n: int = 200, wave: int = 20) -> dict:
    names = [f"slo-{i}" for i in range(n)]
    watch = PodWatch(os.path.join(mp.client.inst.etc, "admin.kubeconfig"), mp.root)
    time.sleep(0.2)  # the watch is established before the first create
    try:
        for i in range(0, n, wave):
            mp.apply_running("---\n".join(pod_yaml(x) for x in names[i : i + wave]))
        deadline = time.time() + 10
        while len(watch.running.keys() & set(names)) < n and time.time() < deadline:
            time.sleep(0.05)
    finally:
        watch.stop()
        parallel_delete(mp, names)
    starts = [
        1000 * (watch.running[x] - watch.created[x])
        for x in names
        if x in watch.running and x in watch.created
    ]
    if len(starts) < n:
        raise SystemExit(f"the watch saw {len(starts)} of {n} pods created and Running")
    return {
        "pods": n,
        "wave": wave,
        "p50_ms": round(percentile(starts, 50), 1),
        "p99_ms": round(percentile(starts, 99), 1),
        "max_ms": round(max(starts), 1),
        "samples_ms": [round(x, 1) for x in starts],
    }


def parallel_delete(mp, names: list[str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(lambda x: _delete_quiet(mp, x), names))


def _delete_quiet(mp, name: str) -> None:
    try:
        mp.delete(name)
    except Exception:  # noqa: BLE001 - a pod that failed to be created
        pass


# Which kind of work a trace step is, by the first word that matches its name.
KINDS = (
    ("network", ("ip ", "nft", "cni", "netns", "veth", "bridge", "route", "network", "ipam")),
    ("cgroups", ("cgroup",)),
    ("rootfs", ("overlay", "mount", "pivot_root", "rootfs", "layer", "chroot", "/etc files", "volumes")),
    ("sandbox", ("sandbox", "unshare", "sethostname", "pod init", "init", "pause")),
    ("security", ("seccomp", "capset", "caps", "prctl", "apparmor", "no_new_privs")),
    ("exec", ("execve", "exec", "launch", "fork", "clone", "monitor", "setns")),
)


def step_name(step: str) -> str:
    """A step without its arguments (paths, pids, addresses differ per pod)."""
    if "(" in step:
        return step[: step.index("(")]
    return " ".join(step.split()[:3]) if step.startswith(("ip ", "nft ")) else step


def kind_of(step: str) -> str:
    low = step.lower()
    for kind, words in KINDS:
        if any(w in low for w in words):
            return kind
    return "other"


def step_shares(mp, minipod: str, pod_yaml, runs: int = 10) -> dict:
    path = os.path.join(mp.root, "trace-pod.yml")
    with open(path, "w") as f:
        f.write(pod_yaml("traced"))
    out = os.path.join(mp.root, "trace.json")
    totals: list[float] = []
    per_step: dict[str, list[float]] = {}
    per_kind: dict[str, list[float]] = {}
    for _ in range(runs):
        p = subprocess.run(
            [minipod, "--root", mp.root, "run", path, "--trace", out, "-o", "json"],
            capture_output=True,
            text=True,
        )
        if p.returncode != 0:
            raise SystemExit(f"minipod run --trace failed:\n{p.stdout}{p.stderr}")
        with open(out) as f:
            pod = json.load(f)["pods"][0]
        totals.append(pod["totalSeconds"] * 1000)
        steps: dict[str, float] = {}
        kinds: dict[str, float] = {}
        for s in pod["steps"]:
            name = step_name(s["step"])
            steps[name] = steps.get(name, 0.0) + s["durationSeconds"] * 1000
            kinds[kind_of(name)] = kinds.get(kind_of(name), 0.0) + s["durationSeconds"] * 1000
        for name, v in steps.items():
            per_step.setdefault(name, []).append(v)
        for kind, v in kinds.items():
            per_kind.setdefault(kind, []).append(v)
        mp.delete("traced")
    total = statistics.median(totals)

    def table(d: dict[str, list[float]]) -> list[dict]:
        rows = [
            # a step missing from some runs counts 0 there
            {"step": k, "ms": round(statistics.median(v + [0.0] * (runs - len(v))), 2)}
            for k, v in d.items()
        ]
        for r in rows:
            r["share_pct"] = round(100 * r["ms"] / total, 1)
        return sorted(rows, key=lambda r: -r["ms"])

    return {"runs": runs, "total_ms": round(total, 1), "kinds": table(per_kind), "steps": table(per_step)}


def print_slo(s: dict) -> None:
    print(
        f"\npod start, creation -> Running (watch events), {s['pods']} pods in waves of "
        f"{s['wave']}: p50 {s['p50_ms']:g} ms, p99 {s['p99_ms']:g} ms, max {s['max_ms']:g} ms"
    )
    for line in histogram(s["samples_ms"]):
        print(line)


def print_shares(t: dict) -> None:
    print(
        f"\nwhere a pod start goes (minipod run --trace, median of {t['runs']}; total {t['total_ms']:g} ms):"
    )
    for r in t["kinds"]:
        print(f"  {r['step']:<10} {r['ms']:>8.2f} ms {r['share_pct']:>5.1f} %")
    print("  by step (the 15 longest):")
    for r in t["steps"][:15]:
        print(f"    {r['step'][:48]:<48} {r['ms']:>8.2f} ms {r['share_pct']:>5.1f} %")
