"""fsGroup's volume ownership rules, without root."""

import os
import stat

from minipod.linux import volume_ownership as vo


def test_the_group_gets_read_write_and_directories_setgid():
    assert vo.wanted_mode(stat.S_IFDIR | 0o777) == 0o2777
    assert vo.wanted_mode(stat.S_IFREG | 0o600) == 0o660
    assert vo.wanted_mode(stat.S_IFREG | 0o644) == 0o664


def test_on_root_mismatch_skips_a_volume_already_right(tmp_path):
    os.chmod(tmp_path, 0o2777)
    st = os.stat(tmp_path)
    assert not vo.needs_change(st, st.st_gid, "OnRootMismatch")
    assert vo.needs_change(st, st.st_gid + 1, "OnRootMismatch")
    assert vo.needs_change(st, st.st_gid, "Always") and vo.needs_change(st, st.st_gid, None)
    os.chmod(tmp_path, 0o755)
    assert vo.needs_change(os.stat(tmp_path), st.st_gid, "OnRootMismatch")
