"""The machine's state beside the figures, so two runs can be compared.

Two machines "of the same kind" gave figures 2x apart. What differs between
them is rarely the code: it is who else uses the CPUs. The bench records,
at its start and its end:
    1. what the machine is: CPU model, CPUs, clock (cpuinfo's MHz; a VM
       often has no cpufreq directory), memory, kernel, virtualisation;
    2. how busy it was over the run, from /proc/stat deltas: the share of
       CPU time that was busy, the share stolen by the hypervisor (steal),
       and iowait; plus the load average at the end;
    3. the kernel's pressure stall information (/proc/pressure/{cpu,memory,
       io}, avg10 of "some": the share of the last 10 s in which at least
       one task waited for that resource);
    4. the page cache (Cached, Dirty in /proc/meminfo): a cold cache makes
       the first overlay mounts and execve's slower.
"""

import os
import platform
import time

FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def cpu_ticks() -> dict[str, int]:
    """The first line of /proc/stat: clock ticks of all CPUs, by kind."""
    parts = _read("/proc/stat").split("\n", 1)[0].split()[1:]
    return {name: int(v) for name, v in zip(FIELDS, parts, strict=False)}


def meminfo_mib() -> dict[str, int]:
    out = {}
    for line in _read("/proc/meminfo").splitlines():
        key, _, rest = line.partition(":")
        if key in ("MemTotal", "MemAvailable", "Cached", "Dirty"):
            out[key] = int(rest.split()[0]) // 1024
    return out


def pressure() -> dict[str, float]:
    """avg10 of "some" for each resource the kernel reports (PSI)."""
    out = {}
    for res in ("cpu", "memory", "io"):
        for line in _read(f"/proc/pressure/{res}").splitlines():
            if line.startswith("some"):
                out[res] = float(line.split()[1].split("=")[1])
    return out


def facts() -> dict:
    cpuinfo = _read("/proc/cpuinfo").splitlines()
    model = next((x.split(":", 1)[1].strip() for x in cpuinfo if x.startswith("model name")), "?")
    mhz = [float(x.split(":", 1)[1]) for x in cpuinfo if x.startswith("cpu MHz")]
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "mhz": round(sum(mhz) / len(mhz)) if mhz else None,
        "hypervisor": any("hypervisor" in x for x in cpuinfo if x.startswith("flags")),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mem_total_mib": meminfo_mib().get("MemTotal"),
    }


def snapshot() -> dict:
    return {
        "time": time.monotonic(),
        "ticks": cpu_ticks(),
        "loadavg": _read("/proc/loadavg").split()[:3],
        "pressure": pressure(),
        "mem": meminfo_mib(),
    }


def over_run(before: dict, after: dict) -> dict:
    """How busy the machine was between two snapshots (step 2), in %."""
    delta = {k: after["ticks"].get(k, 0) - before["ticks"].get(k, 0) for k in FIELDS}
    total = sum(delta.values()) or 1
    return {
        "busy_pct": round(100 * (total - delta["idle"] - delta["iowait"]) / total, 1),
        "steal_pct": round(100 * delta["steal"] / total, 2),
        "iowait_pct": round(100 * delta["iowait"] / total, 2),
        "loadavg_end": after["loadavg"],
        "pressure_end": after["pressure"],
        "mem_end_mib": after["mem"],
        "seconds": round(after["time"] - before["time"], 1),
    }


def describe(f: dict, run: dict) -> str:
    """Two lines for the report."""
    return (
        f"machine: {f['nproc']} CPUs ({f['cpu']}, {f['mhz']} MHz"
        f"{', VM' if f['hypervisor'] else ''}), {f['mem_total_mib']} MiB, kernel {f['kernel']}, "
        f"Python {f['python']}\n"
        f"during the run ({run['seconds']} s): CPUs {run['busy_pct']}% busy (the bench's own "
        f"work included), steal {run['steal_pct']}%, iowait {run['iowait_pct']}%, "
        f"load {' '.join(run['loadavg_end'])}, pressure (some avg10) "
        f"{', '.join(f'{k} {v}' for k, v in run['pressure_end'].items()) or '-'}, "
        f"page cache {run['mem_end_mib'].get('Cached')} MiB"
    )
