"""critest's image names resolve through registries.json's mirrors: an
instance whose mirrors send registry.k8s.io and gcr.io to the session's
loopback registry pulls them by their original names, keeps those names,
and runs a pod from one."""

import os

import pytest
from helpers.critest import BUSYBOX, write_cri_mirrors
from helpers.instance import running_instance

LATEST = "gcr.io/k8s-staging-cri-tools/test-image-latest"


@pytest.fixture(scope="module")
def mirrored_mp(cri_tools):
    """An instance with the mirrors and no CRI: the mirrors are the image
    layer's, whichever front door asks for the pull."""

    def setup(inst) -> None:
        write_cri_mirrors(os.path.join(inst.root, "etc"), cri_tools.registry)

    with running_instance("mirrors", setup=setup) as inst:
        yield inst


def test_critest_images_pull_by_their_original_names(mirrored_mp, pod_name):
    out = mirrored_mp.run("image", "pull", BUSYBOX, timeout=120)
    assert BUSYBOX in out.stdout and "@sha256:" in out.stdout
    mirrored_mp.run("image", "pull", LATEST, timeout=120)
    listed = mirrored_mp.run("image", "ls").stdout
    assert "registry.k8s.io/e2e-test-images/busybox" in listed and "1.29-2" in listed
    assert "gcr.io/k8s-staging-cri-tools/test-image-latest" in listed
    # The image critest adds its marker file to (images.sh: ADD test-image-latest).
    manifest = f"""
apiVersion: v1
kind: Pod
metadata: {{name: {pod_name}}}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: {LATEST}
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "ls /test-image-latest && busybox | head -1"]
"""
    try:
        mirrored_mp.run_pod(manifest, timeout=60)
        mirrored_mp.wait_for(pod_name, lambda p: p["status"]["phase"] == "Succeeded", what="Succeeded")
        logs = mirrored_mp.logs(pod_name)
        assert "/test-image-latest" in logs and "BusyBox v1.35.0" in logs
    finally:
        mirrored_mp.delete(pod_name)
        mirrored_mp.run("image", "rm", LATEST, check=False)


def test_unmirrored_registry_is_not_redirected(mirrored_mp):
    # quay.io is not mirrored: the pull goes to quay.io itself, which this
    # offline machine cannot reach; the error names the origin, not the mirror.
    out = mirrored_mp.run("image", "pull", "quay.io/nothing/here:1", check=False, timeout=120)
    assert out.returncode == 1
    assert "quay.io" in out.stderr


def test_missing_image_in_the_mirror_is_not_found(mirrored_mp):
    name = "registry.k8s.io/e2e-test-images/no-such-image:1"
    out = mirrored_mp.run("image", "pull", name, check=False, timeout=120)
    assert out.returncode == 1 and "no-such-image" in out.stderr
