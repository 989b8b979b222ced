"""runAsNonRoot, decided as the kubelet decides it, with its messages."""

import pytest

from minipod.errors import MinipodError
from minipod.linux.launch_security import verify_run_as_non_root

WHERE = '(pod: "web_default(u1)", container: main)'


def check(image_user: str, pod_sc=None, sc=None):
    pod = {
        "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
        "spec": {"securityContext": pod_sc},
    }
    verify_run_as_non_root(pod, {"name": "main", "securityContext": sc}, image_user)


@pytest.mark.parametrize(
    "image_user, message",
    [
        ("", f"container has runAsNonRoot and image will run as root {WHERE}"),
        ("0", f"container has runAsNonRoot and image will run as root {WHERE}"),
        ("0:100", f"container has runAsNonRoot and image will run as root {WHERE}"),
        (
            "app",
            "container has runAsNonRoot and image has non-numeric user (app), "
            f"cannot verify user is non-root {WHERE}",
        ),
    ],
)
def test_an_image_that_runs_as_root_or_cannot_be_verified_is_refused(image_user, message):
    with pytest.raises(MinipodError) as e:
        check(image_user, sc={"runAsNonRoot": True})
    assert str(e.value) == message


def test_run_as_user_decides_when_set():
    check("", sc={"runAsNonRoot": True, "runAsUser": 1000})
    check("", pod_sc={"runAsNonRoot": True, "runAsUser": 1000})
    with pytest.raises(MinipodError, match=r"^container's runAsUser breaks non-root policy"):
        check("1000", pod_sc={"runAsNonRoot": True}, sc={"runAsUser": 0})


def test_a_numeric_non_root_image_user_passes_and_the_container_setting_wins():
    check("1000:100", pod_sc={"runAsNonRoot": True})
    check("", pod_sc={"runAsNonRoot": True}, sc={"runAsNonRoot": False})
    check("")
