"""What every lab's `check` shares: run minipod, read the live system, report.

A check never trusts the manifest alone: it asks the running instance
(`minipod get`, `inspect`, `exec`) and the host's /proc and /sys, and
prints one line per point:

    PASS  the pod's net namespace is its own (inode 4026532181, the host's is 4026531840)
    FAIL  container "web" is not ready
          hint: ...

It exits 0 when every point passes, 1 otherwise. The instance is the one
`minipod` uses by default, or the one named by MINIPOD_ROOT (or --root DIR
given to the check); MINIPOD names the minipod command if it is not on PATH.
Standard library only, so a check runs with any python3.
"""

import json
import os
import subprocess
import sys
import time


class Lab:
    def __init__(self, title: str):
        self.title = title
        self.failed = 0
        args = sys.argv[1:]
        if len(args) == 2 and args[0] == "--root":
            os.environ["MINIPOD_ROOT"] = args[1]
        self.minipod_cmd = os.environ.get("MINIPOD", "minipod")
        print(f"== {title}")

    # --- asking the instance ---------------------------------------------------
    def minipod(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        env = dict(os.environ, MINIPOD_NO_AUTOSTART="1")
        try:
            p = subprocess.run([self.minipod_cmd, *args], capture_output=True, text=True, env=env, timeout=60)
        except FileNotFoundError:
            self.abort(f"no `{self.minipod_cmd}` command: install minipod, or set MINIPOD")
        if check and p.returncode != 0:
            self.abort(f"minipod {' '.join(args)} failed: {p.stderr.strip()}")
        return p

    def pod(self, name: str) -> dict | None:
        """The pod as `minipod get pod NAME -o json` shows it, or None."""
        p = self.minipod("get", "pod", name, "-o", "json")
        return json.loads(p.stdout) if p.returncode == 0 else None

    def inspect(self, name: str) -> dict:
        return json.loads(self.minipod("inspect", name, "-o", "json", check=True).stdout)

    def exec(self, pod: str, container: str, script: str) -> subprocess.CompletedProcess:
        return self.minipod("exec", pod, "-c", container, "--", "sh", "-c", script)

    def wait(self, fn, timeout: float):
        """Call fn until it returns something true, or the timeout passes; its last value."""
        deadline = time.time() + timeout
        while True:
            value = fn()
            if value or time.time() > deadline:
                return value
            time.sleep(0.2)

    def require_pod(self, name: str, manifest: str = "pod.yml") -> dict:
        """The pod, once it has left Pending; stop here if there is none."""
        pod = self.wait(lambda: (p := self.pod(name)) and p["status"].get("phase") != "Pending" and p, 30)
        if not pod:
            self.check(f"pod {name} exists and has started", False, f"minipod apply -f {manifest}")
            sys.exit(self.finish())
        return pod

    # --- reporting -------------------------------------------------------------
    def check(self, what: str, ok: bool, hint: str = "") -> bool:
        print(f"{'PASS' if ok else 'FAIL'}  {what}")
        if not ok:
            self.failed += 1
            if hint:
                print(f"      hint: {hint}")
        return ok

    def abort(self, why: str) -> None:
        print(f"FAIL  {why}")
        sys.exit(1)

    def finish(self) -> int:
        print("== all checks pass" if not self.failed else f"== {self.failed} check(s) failed")
        return 1 if self.failed else 0


def container_status(pod: dict, name: str) -> dict:
    """A container's (or init container's) status, or {}."""
    for key in ("initContainerStatuses", "containerStatuses"):
        for s in pod["status"].get(key) or []:
            if s["name"] == name:
                return s
    return {}


def container_spec(pod: dict, name: str) -> dict:
    for key in ("initContainers", "containers"):
        for c in pod["spec"].get(key) or []:
            if c["name"] == name:
                return c
    return {}
