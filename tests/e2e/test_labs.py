"""Every lab's `check` fails on its starter and passes on its solution.

Each lab in docs/labs/ is run as a student would run it, against the
session's own instance (MINIPOD_ROOT), never the system one: apply the
starter, run ./check (it must fail, with FAIL lines and no traceback),
delete it; apply solution/pod.yml, run ./check (it must pass).
"""

import os
import shutil
import subprocess

import pytest
from helpers import REPO
from helpers.instance import MINIPOD

LABS = os.path.join(REPO, "docs", "labs")


def labs() -> list[str]:
    return sorted(d for d in os.listdir(LABS) if os.path.isfile(os.path.join(LABS, d, "check")))


def run_lab_script(mp, lab: str, script: str) -> subprocess.CompletedProcess:
    """A lab's executable (check, solution/apply) against the session's instance."""
    env = dict(os.environ, MINIPOD=MINIPOD, MINIPOD_ROOT=mp.root)
    return subprocess.run(
        [os.path.join(LABS, lab, script)], capture_output=True, text=True, env=env, timeout=120
    )


def run_check(mp, lab: str) -> subprocess.CompletedProcess:
    return run_lab_script(mp, lab, "check")


def apply_solution(mp, lab: str) -> None:
    """solution/apply when the lab has one (how it is applied is the answer), else minipod apply."""
    if os.path.exists(os.path.join(LABS, lab, "solution", "apply")):
        p = run_lab_script(mp, lab, "solution/apply")
        assert p.returncode == 0, p.stdout + p.stderr
    else:
        mp.run("apply", "-f", os.path.join(LABS, lab, "solution", "pod.yml"))


def test_there_are_the_eight_labs_each_with_readme_starter_check_and_solution():
    assert labs() == [
        "01-namespaces",
        "02-multi-container",
        "03-init-and-sidecars",
        "04-pod-network",
        "05-probes-and-restarts",
        "06-resources-and-cgroups",
        "07-security",
        "08-to-kubernetes",
    ]
    for lab in labs():
        d = os.path.join(LABS, lab)
        readme = open(os.path.join(d, "README.md")).read()
        for part in ("**Goal.**", "## Background", "## Steps", "## Exercises"):
            assert part in readme, f"{lab}: README.md has no {part}"
        assert os.access(os.path.join(d, "check"), os.X_OK), f"{lab}: check is not executable"
        assert os.path.isfile(os.path.join(d, "pod.yml")) and os.path.isfile(
            os.path.join(d, "solution", "pod.yml")
        )


@pytest.mark.parametrize("lab", labs())
def test_check_fails_on_the_starter_and_passes_on_the_solution(mp, lab):
    starter, solution = os.path.join(LABS, lab, "pod.yml"), os.path.join(LABS, lab, "solution", "pod.yml")
    if lab == "08-to-kubernetes" and not shutil.which("kubectl"):
        pytest.skip("kubectl is not installed")
    try:
        mp.run("apply", "-f", starter)
        p = run_check(mp, lab)
        assert p.returncode == 1, f"the check passed on the starter:\n{p.stdout}{p.stderr}"
        assert "FAIL" in p.stdout and "Traceback" not in p.stderr, p.stdout + p.stderr
        mp.run("delete", "-f", starter, "--grace-period", "0")

        apply_solution(mp, lab)
        p = run_check(mp, lab)
        assert p.returncode == 0, f"the check failed on the solution:\n{p.stdout}{p.stderr}"
        assert "FAIL" not in p.stdout and p.stdout.rstrip().endswith("== all checks pass"), p.stdout
    finally:
        for f in (starter, solution):
            mp.run("delete", "-f", f, "--grace-period", "0", "--ignore-not-found", check=False)
