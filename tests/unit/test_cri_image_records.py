"""The CRI's view of the image store (minipod/cri/image_records.py): ids,
repo tags and digests as containerd reports them, reference lookup, the
image user, and pull credentials from a CRI AuthConfig."""

import base64

import pytest

from minipod.cri.image_records import StoredName, find_image, group_images, image_user, pull_auths
from minipod.errors import MinipodError

C1, C2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
M1, M2 = "sha256:" + "a" * 64, "sha256:" + "b" * 64
REPO = "gcr.io/k8s-staging-cri-tools/test-image-tags"


def names():
    return [
        StoredName(f"{REPO}:1", M1, C1, 100),
        StoredName(f"{REPO}:3", M1, C1, 100),
        StoredName(f"{REPO}:2", M1, C1, 100),
        StoredName("docker.io/library/busybox@" + M2, M2, C2, 50),
    ]


def test_one_image_per_config_digest_with_every_name():
    first, second = group_images(names())
    assert first.id == C1 and second.id == C2
    assert first.repo_tags == [f"{REPO}:1", f"{REPO}:2", f"{REPO}:3"]
    # A tag is reachable by its manifest digest too, once per repository.
    assert first.repo_digests == [f"{REPO}@{M1}"]
    assert first.size == 100
    # A name pulled by digest has no tag.
    assert second.repo_tags == [] and second.repo_digests == ["docker.io/library/busybox@" + M2]


@pytest.mark.parametrize(
    "ref,want",
    [
        (C1, C1),
        ("1" * 64, C1),  # the bare hex of an id
        ("1111", C1),  # a unique prefix, as crictl's short ids
        ("sha256:2222", C2),
        (f"{REPO}:2", C1),
        (f"{REPO}@{M1}", C1),
        ("busybox@" + M2, C2),  # normalized as the store does
        (f"{REPO}:4", None),
        ("busybox", None),
        ("sha256:" + "3" * 64, None),
        ("Not A Name!", None),
    ],
)
def test_find_image_by_id_name_or_prefix(ref, want):
    found = find_image(group_images(names()), ref)
    assert (found.id if found else None) == want


def test_an_ambiguous_prefix_finds_nothing():
    images = group_images(names() + [StoredName("x.io/y:1", M1, "sha256:1" + "f" * 63, 1)])
    assert find_image(images, "1") is None


@pytest.mark.parametrize(
    "user,want",
    [
        ("", (None, "")),
        ("1002", (1002, "")),
        ("1003:1004", (1003, "")),
        ("www-data", (None, "www-data")),
        ("www-data:1004", (None, "www-data")),
        (":1004", (None, "")),
    ],
)
def test_image_user_as_containerd_reads_it(user, want):
    assert image_user(user) == want


HOSTS = ["127.0.0.1:5000", "registry.k8s.io"]


def test_credentials_go_to_the_registry_and_its_mirrors():
    doc = pull_auths("alice", "s3cret", "", "", "", HOSTS)
    assert doc == {"auths": {h: {"username": "alice", "password": "s3cret"} for h in HOSTS}}
    token = pull_auths("", "", "", "", "tok", HOSTS)
    assert token["auths"]["registry.k8s.io"] == {"identitytoken": "tok"}
    encoded = base64.b64encode(b"alice:s3cret").decode()
    assert pull_auths("", "", encoded, "", "", HOSTS)["auths"]["127.0.0.1:5000"] == {"auth": encoded}


def test_a_server_address_limits_credentials_to_that_host():
    doc = pull_auths("alice", "pw", "", "https://registry.k8s.io", "", HOSTS)
    assert list(doc["auths"]) == ["registry.k8s.io"]
    assert pull_auths("alice", "pw", "", "other.example", "", HOSTS) == {"auths": {}}


def test_no_credentials_and_bad_ones():
    assert pull_auths("", "", "", "", "", HOSTS) is None
    with pytest.raises(MinipodError, match=r"PullImageRequest\.auth\.auth: expected base64"):
        pull_auths("", "", "not base64!", "", "", HOSTS)
