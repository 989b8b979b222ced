"""Issue 11, defect 1: a namespace is a DNS-1123 label, checked at the API;
nothing is created outside the state directories; a restarted daemon reports
a state file it cannot place instead of dropping it silently."""

import json
import os
import urllib.parse

import pytest
from helpers.api import request, status_of
from helpers.cli import assert_user_error
from helpers.pods import pod_yaml


def all_files(root: str) -> set[str]:
    out = set()
    for d, _, files in os.walk(root):
        out |= {os.path.join(d, f) for f in files}
    return out


@pytest.mark.parametrize("namespace", ["../..", "a/b", "..", "Caps", "x" * 64, "-x", "a_b"])
def test_cli_refuses_a_bad_namespace_and_creates_nothing(mp, pod_name, namespace):
    before = all_files(mp.root)
    p = mp.run("apply", "-n", namespace, "-f", "-", input=pod_yaml(pod_name, "sleep 1"), check=False)
    assert_user_error(p, "namespace: invalid value")
    assert "RFC 1123" in p.stderr or "no more than 63" in p.stderr, p.stderr
    created = {f for f in all_files(mp.root) - before if not f.endswith(".log")}
    assert not created, created
    assert pod_name not in mp.run("get", "pods", "-A").stdout


@pytest.mark.parametrize("namespace", ["a/b", "x\0y", "x" * 300, "../.."])
def test_api_refuses_a_bad_namespace_with_a_4xx(mp, pod_name, namespace):
    query = urllib.parse.urlencode({"namespace": namespace})
    status, _, raw = request(mp, "POST", f"/minipod/v1/apply?{query}", pod_yaml(pod_name, "sleep 1").encode())
    assert status == 422, raw
    assert "namespace: invalid value" in status_of(raw)["message"]


def test_a_bad_namespace_in_the_manifest_is_refused(mp, pod_name):
    text = pod_yaml(pod_name, "sleep 1").replace(
        f"name: {pod_name}\n", f"name: {pod_name}\n  namespace: ../..\n", 1
    )
    p = mp.run("apply", "-f", "-", input=text, check=False)
    assert_user_error(p, 'metadata.namespace: invalid value "../.."')


def test_a_restarted_daemon_reports_state_files_it_cannot_place(fresh_mp, pod_name):
    mp = fresh_mp
    mp.run_pod(pod_yaml(pod_name, "sleep 3600"))
    pods_dir = os.path.join(mp.root, "lib", "pods")
    good = os.path.join(pods_dir, f"default_{pod_name}.json")
    with open(good) as f:
        record = json.load(f)
    mp.kill_daemon()
    # A copy of the pod under a file name that does not match it, and junk.
    misplaced = os.path.join(pods_dir, "other_name.json")
    with open(misplaced, "w") as f:
        json.dump(record, f)
    junk = os.path.join(pods_dir, "default_junk.json")
    with open(junk, "w") as f:
        f.write("{not json")
    try:
        mp.start_daemon()
        assert mp.pod(pod_name)["status"]["phase"] == "Running"  # the good one is adopted
        with open(os.path.join(mp.root, "daemon-test.log")) as f:
            log = f.read()
        assert f"state file {misplaced}: cannot place it: it holds pod default/{pod_name}" in log, log
        assert f"state file {junk}: cannot place it: cannot read it" in log, log
        assert os.path.exists(misplaced) and os.path.exists(junk)  # left for a human
    finally:
        os.unlink(misplaced)
        os.unlink(junk)
        mp.delete(pod_name)
