"""critest's image names resolve through registries.json's mirrors: an
instance whose mirrors send registry.k8s.io and gcr.io to the session's
loopback registry pulls them by their original names, keeps those names,
and runs a pod from one."""

from helpers.critest import BUSYBOX

LATEST = "gcr.io/k8s-staging-cri-tools/test-image-latest"


def test_critest_images_pull_by_their_original_names(critest_mp, pod_name):
    out = critest_mp.run("image", "pull", BUSYBOX, timeout=120)
    assert BUSYBOX in out.stdout and "@sha256:" in out.stdout
    critest_mp.run("image", "pull", LATEST, timeout=120)
    listed = critest_mp.run("image", "ls").stdout
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
        critest_mp.run_pod(manifest, timeout=60)
        critest_mp.wait_for(pod_name, lambda p: p["status"]["phase"] == "Succeeded", what="Succeeded")
        logs = critest_mp.logs(pod_name)
        assert "/test-image-latest" in logs and "BusyBox v1.35.0" in logs
    finally:
        critest_mp.delete(pod_name)
        critest_mp.run("image", "rm", LATEST, check=False)


def test_unmirrored_registry_is_not_redirected(critest_mp):
    # quay.io is not mirrored: the pull goes to quay.io itself, which this
    # offline machine cannot reach; the error names the origin, not the mirror.
    out = critest_mp.run("image", "pull", "quay.io/nothing/here:1", check=False, timeout=120)
    assert out.returncode == 1
    assert "quay.io" in out.stderr


def test_missing_image_in_the_mirror_is_not_found(critest_mp):
    name = "registry.k8s.io/e2e-test-images/no-such-image:1"
    out = critest_mp.run("image", "pull", name, check=False, timeout=120)
    assert out.returncode == 1 and "no-such-image" in out.stderr
