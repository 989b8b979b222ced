"""The bench's table: each figure of issue 19, podman's beside it, the ratio,
the goal and whether it was met. Pure: it only formats what bench.py measured."""

import statistics

import bench_loop
import bench_slo
import machine


def ms(seconds: list[float]) -> float:
    return round(statistics.median(seconds) * 1000, 1)


def row(metric, value, podman=None, goal="-", ok=None, ratio=None) -> dict:
    if ratio is None and podman:
        ratio = round(value / podman, 2)
    return {"metric": metric, "minipod": value, "podman": podman, "ratio": ratio, "goal": goal, "ok": ok}


def rows(r: dict) -> list[dict]:
    pm = r.get("podman") or {}
    run_ms, pm_run = ms(r["cli_run"]), ms(pm["run"]) if pm else None
    n = r["many"]["pods"]
    many_rate = round(n / r["many"]["seconds"], 1)
    pm_rate = round(n / pm["many_s"], 1) if pm else None
    many_ratio = round(r["many"]["seconds"] / pm["many_s"], 3) if pm else None
    out = [
        row(
            "run 1 pod, CLI wall (ms)",
            run_ms,
            pm_run,
            "<= 0.25 x podman",
            None if pm_run is None else run_ms / pm_run <= 0.25,
        ),
        row(
            f"a {n}-pod file until all Running, CLI (pods/s; ratio of times)",
            many_rate,
            pm_rate,
            ">= 100 pods/s, <= 0.10 x podman",
            many_rate >= 100 and (many_ratio is None or many_ratio <= 0.10),
            many_ratio,
        ),
    ]
    for way, b in r["burst"].items():
        v = b["create_pods_per_s"]
        out.append(row(f"burst of {r['burst_size']}, {way} (pods/s)", v, None, ">= 100 pods/s", v >= 100))
    get = ms(r["cli_get"]["get_pods"])
    net = ms(r["pss"]["network_setup"])
    api = ms(r["api_apply"])
    out += [
        row(f"get pods ({r['cli_get']['pods']} pods), CLI wall (ms)", get, None, "<= 60 ms", get <= 60),
        row("network's share of a pod start (ms)", net, None, "<= 3 ms", net <= 3),
        row("daemon time, request to Running (ms)", api, None, "<= 15 ms", api <= 15),
        row("pod start p50, creation -> Running (ms)", r["slo"]["p50_ms"]),
        row("pod start p99, creation -> Running (ms)", r["slo"]["p99_ms"]),
        row("version, CLI wall (ms)", ms(r["cli_get"]["version"])),
        row("delete grace 0, API (ms)", ms(r["api_delete"])),
        row("delete, CLI wall (ms)", ms(r["cli_delete"]), ms(pm["delete"]) if pm else None),
        row("PSS added per pod (KiB)", r["pss"]["kib_per_pod"]),
    ]
    return out


def print_table(table_rows: list[dict]) -> None:
    table = [["figure", "minipod", "podman", "ratio", "goal", ""]]
    for x in table_rows:
        table.append(
            [
                x["metric"],
                f"{x['minipod']:g}",
                "-" if x["podman"] is None else f"{x['podman']:g}",
                "-" if x["ratio"] is None else f"{x['ratio']:g}",
                x["goal"],
                {True: "met", False: "missed", None: ""}[x["ok"]],
            ]
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        cells = [
            c.ljust(w) if i in (0, 4) else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())


def print_report(r: dict) -> None:
    print(machine.describe(r["machine"], r["machine_run"]))
    print(f"minipod {r['minipod']} at commit {r['commit']}; medians of {r['runs']} runs, image cached\n")
    print_table(r["table"])
    bench_slo.print_slo(r["slo"])
    bench_slo.print_shares(r["trace"])
    p = r["pss"]
    parts = ", ".join(f"{k} {v:g}" for k, v in p["parts_kib"].items())
    print(f"\nPSS per pod with {p['pods']} pods: {p['kib_per_pod']:g} KiB = {parts}")
    for way, b in r["burst"].items():
        print(f"burst, {way}: all Running in {b['create_s']:g} s (runs {b['create_s_samples']})")
    if "loop_stall" in r:
        bench_loop.print_loop_stall(r["loop_stall"])
    for note in r["notes"]:
        print(f"note: {note}")
