"""A container's exit as its monitor wrote it (or its own failure), and the
mounts a container gets: files in a temporary directory, no root."""

import json

from minipod.pod import exits, volumes
from minipod.pod.record import ContainerRecord


def test_the_exit_file_is_read_into_an_exit(tmp_path):
    c = ContainerRecord(name="web", exit_file=str(tmp_path / "exit.json"))
    assert exits.read_exit_file(c) is None  # not yet
    (tmp_path / "exit.json").write_text(
        json.dumps({"exitCode": 137, "signal": 9, "finishedAt": "2026-11-26T12:00:01.500000000Z"})
    )
    info = exits.read_exit_file(c)
    assert info is not None and info.exit_code == 137 and info.signal == 9
    assert info.finished_epoch == 1795694401.5


def test_a_half_written_exit_file_is_no_exit(tmp_path):
    (tmp_path / "exit.json").write_text('{"exitCode": 1')
    assert exits.read_exit_file(ContainerRecord(name="web", exit_file=str(tmp_path / "exit.json"))) is None


def test_the_monitors_own_failure_is_read_beside_the_exit_file(tmp_path):
    c = ContainerRecord(name="web", exit_file=str(tmp_path / "exit.json"))
    assert exits.monitor_failure(c) is None
    (tmp_path / "exit.json.error").write_text("minipod-shim: writing the exit status (3): open x: No space\n")
    assert exits.monitor_failure(c) == "minipod-shim: writing the exit status (3): open x: No space"


def test_each_mount_says_which_volume_and_where(tmp_path):
    pod = {
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {
            "volumes": [
                {"name": "data", "emptyDir": {}},
                {"name": "cache", "emptyDir": {"medium": "Memory"}},
            ],
        },
    }
    dirs = {
        "run": str(tmp_path / "run"),
        "memory_volumes": str(tmp_path / "run" / "volumes"),
        "disk_volumes": str(tmp_path / "lib"),
    }
    container = {
        "name": "web",
        "volumeMounts": [
            {"name": "data", "mountPath": "/data", "readOnly": True},
            {"name": "cache", "mountPath": "/cache"},
        ],
    }
    mounts = volumes.container_mounts(pod, container, dirs, str(tmp_path / "term"))
    assert [m["target"] for m in mounts] == [
        "/etc/hosts",
        "/etc/hostname",
        "/etc/resolv.conf",
        "/dev/termination-log",
        "/data",
        "/cache",
    ]
    data, cache = mounts[4], mounts[5]
    assert data == {
        "source": str(tmp_path / "lib" / "data"),
        "target": "/data",
        "readonly": True,
        "nodev": True,
        "what": "volume data at /data",
    }
    assert (
        cache["source"] == str(tmp_path / "run" / "volumes" / "cache")
        and cache["what"] == "volume cache at /cache"
    )
