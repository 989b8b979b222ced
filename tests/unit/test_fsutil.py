"""minipod.fsutil: atomic writes and flock(2) locks, on plain files in a
temporary directory (no root)."""

import os
import stat

import pytest

from minipod import fsutil


def test_write_atomic_replaces_the_file_whole_and_leaves_no_temp(tmp_path):
    path = str(tmp_path / "state.json")
    fsutil.write_atomic(path, b"old")
    fsutil.write_atomic(path, b"new", mode=0o600)
    assert open(path, "rb").read() == b"new"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path) == ["state.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    path = str(tmp_path / "state.json")
    fsutil.write_atomic(path, b"old")
    with pytest.raises(TypeError):
        fsutil.write_atomic(path, "not bytes")  # type: ignore[arg-type]
    assert open(path, "rb").read() == b"old"
    assert os.listdir(tmp_path) == ["state.json"]


def test_temp_files_carry_the_mark_the_stores_clean_up(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    fsutil.write_atomic(str(tmp_path / "pod.json"), b"{}")
    assert seen and seen[0].startswith("pod.json" + fsutil.TEMP_MARK)


def test_json_round_trip(tmp_path):
    path = str(tmp_path / "doc.json")
    fsutil.write_json_atomic(path, {"a": [1, 2]})
    assert open(path).read() == '{"a":[1,2]}'  # compact
    assert fsutil.read_json(path) == {"a": [1, 2]}
    fsutil.write_json_atomic(path, {"a": 1}, indent=2)
    assert open(path).read() == '{\n  "a": 1\n}'
    assert fsutil.read_json(str(tmp_path / "missing.json"), default={}) == {}


def test_an_flock_excludes_every_other_open_file(tmp_path):
    # flock(2) locks belong to an open file: a second open() of the same
    # file, even in this process, does not get the lock.
    path = str(tmp_path / "lock")
    with fsutil.flocked(path):
        with fsutil.try_flocked(path) as got:
            assert got is False
        fd = fsutil.open_lock(path)
        try:
            assert fsutil.try_lock(fd) is False
        finally:
            os.close(fd)
    with fsutil.try_flocked(path) as got:
        assert got is True
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_shared_locks_coexist(tmp_path):
    import fcntl

    path = str(tmp_path / "pulls.lock")
    with fsutil.flocked(path, fcntl.LOCK_SH), fsutil.flocked(path, fcntl.LOCK_SH):
        with fsutil.try_flocked(path) as exclusive:
            assert exclusive is False  # an exclusive lock waits for the shared ones


def test_stored_secrets_are_0600_whatever_the_umask(tmp_path):
    from minipod.objects import resources as kinds
    from minipod.objects.store import ObjectStore

    old = os.umask(0o022)
    try:
        store = ObjectStore(str(tmp_path))
        store.ensure_defaults()
        body = {"metadata": {"name": "creds"}, "stringData": {"password": "hunter2"}}
        store.create(kinds.builtin("", "v1", "secrets"), body, "default")
    finally:
        os.umask(old)
    directory = tmp_path / "objects" / "core_secrets"
    assert stat.S_IMODE(os.stat(tmp_path / "objects").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(directory / "default_creds.json").st_mode) == 0o600
