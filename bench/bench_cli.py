"""How fast the `minipod` command starts: wall time of short commands, from
exec to exit, median and minimum of N runs.

Run with the Python of minipod's venv (as root if --root names a running
instance):

    $PREFIX/venv/bin/python bench/bench_cli.py [--runs N] [--root DIR] [--compare DIR ...]

Steps:
    1. the floors: `python -c pass` (the interpreter) and `python -c
       "import click"` (what every command that click parses pays);
    2. the fast path (cli/fast_path.py, no click): `version`, `get pods`,
       `run`, `apply -f`, `delete pod`, `logs`;
    3. click's path: `run --help`, so that it parses, imports its verb's
       module and prints, with no daemon work in the figure;
    4. with --compare DIR (another build of minipod, installed with
       `pip install --no-deps --target DIR`; may be repeated): every
       command once with each build in turn, run after run, so that the
       machine's load falls on all alike; the table gets a column per
       build, named after DIR.

Without --root, the fast verbs meet no daemon (MINIPOD_NO_AUTOSTART=1:
they answer "cannot reach the minipod daemon" at once), which is the
start-up alone (`run` and `apply` read an empty manifest first); with
--root `get pods` lists that instance's pods and the others find nothing
(a pod named bench-cli-none). What each command
imports: `python -X importtime -m minipod get pods`.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = [
    ("python -c pass", ["-c", "pass"]),
    ("python -c 'import click'", ["-c", "import click"]),
    ("minipod version", ["-m", "minipod", "version"]),
    ("minipod get pods", ["-m", "minipod", "get", "pods"]),
    ("minipod run FILE", ["-m", "minipod", "run", "/dev/null"]),
    ("minipod apply -f FILE", ["-m", "minipod", "apply", "-f", "/dev/null"]),
    ("minipod delete pod NAME", ["-m", "minipod", "delete", "pod", "bench-cli-none"]),
    ("minipod logs NAME", ["-m", "minipod", "logs", "bench-cli-none"]),
    ("minipod run --help (click)", ["-m", "minipod", "run", "--help"]),
]


def timed(argv: list[str], env: dict) -> float:
    """One run's wall time in ms (cwd /: never a source checkout's minipod)."""
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd="/", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=30, help="runs per command and build (median, min)")
    ap.add_argument("--root", help="a running instance's root, for `get pods` (default: no daemon)")
    ap.add_argument(
        "--compare",
        metavar="DIR",
        action="append",
        default=[],
        help="another build of minipod, from pip install --target DIR (may be repeated)",
    )
    args = ap.parse_args()

    env = dict(os.environ, MINIPOD_NO_AUTOSTART="1")
    env.pop("PYTHONPATH", None)
    if args.root:
        env["MINIPOD_ROOT"] = args.root
    else:  # an empty root: no daemon there, nothing to find
        env["MINIPOD_ROOT"] = tempfile.mkdtemp(prefix="bench-cli-")
    builds = {os.path.basename(d.rstrip("/")): dict(env, PYTHONPATH=os.path.abspath(d)) for d in args.compare}
    builds["this build"] = env

    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.runs):
        for label, argv in COMMANDS:
            for build, build_env in builds.items():  # step 4: interleaved
                times.setdefault((label, build), []).append(timed([sys.executable, *argv], build_env))
    if not args.root:
        os.rmdir(env["MINIPOD_ROOT"])

    print(f"CLI wall time, ms: median (min) of {args.runs} runs; {sys.executable}")
    header = ["command", *builds]
    rows = [header] + [
        [label]
        + [
            f"{statistics.median(times[label, b]):.0f} ({min(times[label, b]):.0f})"
            for b in builds  # noqa: B023 - used at once
        ]
        for label, _ in COMMANDS
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
