"""Pods whose images live only in a registry: pulled by the daemon, as the
kubelet asks its runtime to. A real registry on loopback; the session's
minipod instance (mp) pulls from it."""

import base64
import json
import os

from helpers.pods import pod_yaml
from helpers.registry import push, random_layer

from minipod.image import base as baseimage


def push_image(registry, workdir, name: str, creds: str | None = None) -> str:
    """busybox plus one layer of our own, pushed as NAME to the registry."""
    base = os.path.join(workdir, "base.tar")
    if not os.path.exists(base):
        baseimage.build_busybox_archive(base)
    push(f"oci-archive:{base}", f"{registry.host}/{name}", creds)
    return f"{registry.host}/{name}"


def test_a_pod_whose_image_is_only_in_the_registry_starts(mp, registry, workdir, pod_name):
    ref = push_image(registry, workdir, "team/tool:1.0")
    assert not [
        i
        for i in json.loads(mp.run("get", "pods", "-o", "json").stdout)["items"]
        if i["metadata"]["name"] == pod_name
    ]
    try:
        mp.run_pod(pod_yaml(pod_name, "sleep 3600", image=ref), timeout=60)
        status = mp.pod(pod_name)["status"]["containerStatuses"][0]
        assert status["image"] == f"{registry.host}/team/tool:1.0"
        assert status["imageID"].startswith(f"{registry.host}/team/tool@sha256:")
        reasons = [
            line
            for line in mp.run("describe", "pod", pod_name).stdout.splitlines()
            if "Pulling" in line or "Pulled" in line
        ]
        assert any("Pulling image" in r for r in reasons)
        assert any("Successfully pulled image" in r for r in reasons)
        listed = mp.run("image", "ls").stdout
        assert f"{registry.host}/team/tool" in listed
        # In use: refused; the store keeps it.
        rm = mp.run("image", "rm", ref, check=False)
        assert rm.returncode == 1 and "in use" in rm.stderr
    finally:
        mp.delete(pod_name)
    mp.run("image", "rm", ref)
    assert f"{registry.host}/team/tool" not in mp.run("image", "ls").stdout


def test_missing_image_is_err_image_pull_then_back_off_with_the_registry_message(mp, registry, pod_name):
    ref = f"{registry.host}/team/missing:9"
    try:
        out = mp.run_pod(pod_yaml(pod_name, "sleep 3600", image=ref), check=False)
        assert out.returncode == 1
        assert "ErrImagePull" in out.stderr or "ImagePullBackOff" in out.stderr
        assert "manifest unknown" in out.stderr
        pod = mp.wait_for(
            pod_name,
            lambda p: (
                p["status"]["containerStatuses"][0]["state"].get("waiting", {}).get("reason")
                == "ImagePullBackOff"
            ),
            what="ImagePullBackOff",
        )
        assert "manifest unknown" in pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
        assert "Traceback" not in out.stderr
    finally:
        mp.delete(pod_name)


def test_image_pull_secret_from_the_same_manifest(mp, auth_registry, workdir, pod_name):
    ref = push_image(auth_registry, workdir, "private/app:1", creds="alice:s3cret")
    config = {"auths": {auth_registry.host: {"auth": base64.b64encode(b"alice:s3cret").decode()}}}
    secret = f"""apiVersion: v1
kind: Secret
metadata:
  name: {pod_name[:40]}-creds
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: {base64.b64encode(json.dumps(config).encode()).decode()}
"""
    manifest = (
        secret
        + "---\n"
        + pod_yaml(
            pod_name,
            "sleep 3600",
            image=ref,
            extra_spec=f"""  imagePullSecrets:
  - name: {pod_name[:40]}-creds""",
        )
    )
    without = pod_yaml(pod_name + "-x", "sleep 3600", image=ref)
    try:
        out = mp.run_pod(without, check=False)
        assert out.returncode == 1 and "unauthorized" in out.stderr
        out = mp.run_pod(manifest, timeout=60)
        assert f"secret/{pod_name[:40]}-creds created" in out.stderr
        assert mp.pod(pod_name)["status"]["phase"] == "Running"
    finally:
        mp.run("delete", "-f", "-", "--grace-period", "0", "--ignore-not-found", input=manifest)
        mp.run("delete", "pod", pod_name + "-x", "--grace-period", "0", "--ignore-not-found")
        mp.run("image", "rm", ref, check=False)


def test_image_pull_command_and_prune(mp, registry, workdir):
    name = "team/layers:2"
    archive = os.path.join(workdir, "layers.tar")
    baseimage.write_oci_archive(
        archive,
        [random_layer("a", 200_000, "p1"), random_layer("b", 200_000, "p2")],
        {"Cmd": ["sh"]},
        "unused:1",
    )
    push(f"oci-archive:{archive}", f"{registry.host}/{name}")
    out = mp.run("image", "pull", f"{registry.host}/{name}")
    assert f"{registry.host}/{name}" in out.stdout and "@sha256:" in out.stdout
    assert "sha256:" in out.stderr  # progress, one line per layer when not a terminal
    mp.run("image", "rm", f"{registry.host}/{name}")
    pruned = mp.run("image", "prune").stdout
    assert pruned.startswith("Deleted ")
    # The base image every other test uses is still there.
    assert "docker.io/library/busybox" in mp.run("image", "ls").stdout
