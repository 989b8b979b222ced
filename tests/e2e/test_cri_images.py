"""The CRI's ImageService, called over gRPC on the instance's cri.sock as a
kubelet calls it: pulls through the mirrors (and with credentials), image
ids, repo tags and digests as containerd reports them, status by every
kind of reference, verbose info, removal, and the image filesystem."""

import json
import os
import subprocess
import tempfile

import grpc
import pytest
from helpers import cri
from helpers.critest import BUSYBOX
from helpers.registry import INSECURE_POLICY, RegistryServer

TAGS = "gcr.io/k8s-staging-cri-tools/test-image-tags"
TAGGED = "gcr.io/k8s-staging-cri-tools/test-image-tag:test"


def spec(name: str):
    from minipod.cri import api_pb2

    return api_pb2.ImageSpec(image=name)


def pull(inst, name: str, auth=None) -> str:
    from minipod.cri import api_pb2

    request = api_pb2.PullImageRequest(image=spec(name), auth=auth, sandbox_config=api_pb2.PodSandboxConfig())
    return cri.images(inst).PullImage(request, timeout=120).image_ref


def status(inst, name: str, verbose: bool = False):
    from minipod.cri import api_pb2

    return cri.images(inst).ImageStatus(api_pb2.ImageStatusRequest(image=spec(name), verbose=verbose))


def remove(inst, name: str) -> None:
    from minipod.cri import api_pb2

    cri.images(inst).RemoveImage(api_pb2.RemoveImageRequest(image=spec(name)))


def test_pull_status_and_remove_by_every_reference(critest_mp):
    image_id = pull(critest_mp, TAGGED)
    assert image_id.startswith("sha256:") and len(image_id) == 71
    got = status(critest_mp, TAGGED).image
    assert got.id == image_id and got.size > 0
    assert list(got.repo_tags) == [TAGGED]
    [digest] = got.repo_digests
    assert digest.startswith("gcr.io/k8s-staging-cri-tools/test-image-tag@sha256:")
    # critest's "image status should support all kinds of references".
    for ref in (image_id, digest, image_id[7:19]):
        assert status(critest_mp, ref).image == got, ref
    remove(critest_mp, image_id)
    assert not status(critest_mp, TAGGED).HasField("image")
    remove(critest_mp, image_id)  # gone already: not an error, as containerd


def test_a_name_without_tag_is_latest_and_three_tags_are_one_image(critest_mp):
    latest = "gcr.io/k8s-staging-cri-tools/test-image-latest"
    pull(critest_mp, latest)
    assert list(status(critest_mp, latest).image.repo_tags) == [latest + ":latest"]
    remove(critest_mp, latest)
    ids = {pull(critest_mp, f"{TAGS}:{n}") for n in (1, 2, 3)}
    assert len(ids) == 1
    from minipod.cri import api_pb2

    listed = cri.images(critest_mp).ListImages(api_pb2.ListImagesRequest()).images
    [image] = [i for i in listed if i.id in ids]
    assert sorted(image.repo_tags) == [f"{TAGS}:1", f"{TAGS}:2", f"{TAGS}:3"]
    only = cri.images(critest_mp).ListImages(
        api_pb2.ListImagesRequest(filter=api_pb2.ImageFilter(image=spec(f"{TAGS}:2")))
    )
    assert [i.id for i in only.images] == [image.id]
    remove(critest_mp, f"{TAGS}:1")  # by one name: every name goes, as containerd
    assert not status(critest_mp, f"{TAGS}:3").HasField("image")


@pytest.mark.parametrize(
    "name,uid,username",
    [
        ("test-image-user-uid", 1002, ""),
        ("test-image-user-username", None, "www-data"),
        ("test-image-user-uid-group", 1003, ""),
        ("test-image-user-username-group", None, "www-data"),
    ],
)
def test_image_user(critest_mp, name, uid, username):
    ref = f"gcr.io/k8s-staging-cri-tools/{name}"
    pull(critest_mp, ref)
    try:
        got = status(critest_mp, ref).image
        assert got.HasField("uid") == (uid is not None)
        assert got.uid.value == (uid or 0) and got.username == username
    finally:
        remove(critest_mp, ref)


def test_verbose_status_carries_the_image_config(critest_mp):
    image_id = pull(critest_mp, BUSYBOX)
    answer = status(critest_mp, BUSYBOX, verbose=True)
    info = json.loads(answer.info["info"])
    assert info["chainID"].startswith("sha256:")
    assert info["imageSpec"]["config"]["Cmd"] == ["sh"]
    assert info["imageSpec"]["rootfs"]["type"] == "layers"
    assert not status(critest_mp, BUSYBOX).info  # only when asked
    assert answer.image.id == image_id


def test_image_fs_info(critest_mp):
    from minipod.cri import api_pb2

    pull(critest_mp, BUSYBOX)
    [fs] = cri.images(critest_mp).ImageFsInfo(api_pb2.ImageFsInfoRequest()).image_filesystems
    assert fs.fs_id.mountpoint == os.path.join(critest_mp.root, "lib", "images")
    assert fs.used_bytes.value > 1_000_000  # busybox's layer at least
    # each inode once: busybox's hundreds of applet links are one binary
    assert fs.used_bytes.value < 50_000_000
    assert fs.inodes_used.value > 100 and fs.timestamp > 0


def test_bad_name_and_failed_pull_are_grpc_errors(critest_mp):
    with pytest.raises(grpc.RpcError) as bad:
        pull(critest_mp, "Not A Name!")
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "PullImageRequest.image.image" in bad.value.details()
    with pytest.raises(grpc.RpcError) as missing:
        pull(critest_mp, "registry.k8s.io/e2e-test-images/no-such-image:1")
    assert missing.value.code() == grpc.StatusCode.UNKNOWN
    assert missing.value.details().startswith(
        'failed to pull and unpack image "registry.k8s.io/e2e-test-images/no-such-image:1"'
    )


def test_pull_with_credentials(critest_mp, cri_tools):
    from minipod.cri import api_pb2

    with tempfile.TemporaryDirectory(prefix="minipod-cri-auth-") as workdir:
        server = RegistryServer(workdir, users={"alice": "s3cret"}).start()
        try:
            ref = f"{server.host}/private/busybox:1"
            subprocess.run(
                [
                    *("skopeo", "--policy", "/dev/stdin", "copy", "-q", "--src-tls-verify=false"),
                    *("--dest-tls-verify=false", "--dest-creds", "alice:s3cret"),
                    f"docker://{cri_tools.registry}/e2e-test-images/busybox:1.29-2",
                    f"docker://{ref}",
                ],
                check=True,
                input=INSECURE_POLICY,
                text=True,
                timeout=120,
            )
            with pytest.raises(grpc.RpcError) as anonymous:
                pull(critest_mp, ref)
            assert anonymous.value.code() == grpc.StatusCode.UNKNOWN
            wrong = api_pb2.AuthConfig(username="alice", password="wrong")
            with pytest.raises(grpc.RpcError):
                pull(critest_mp, ref, wrong)
            image_id = pull(critest_mp, ref, api_pb2.AuthConfig(username="alice", password="s3cret"))
            assert status(critest_mp, ref).image.id == image_id
            remove(critest_mp, ref)
        finally:
            server.stop()
