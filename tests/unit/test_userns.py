"""hostUsers: false, the pure parts: the range pool, the map line, which
mounts are id-mapped, and the API server's refusals."""

import pytest

from minipod.errors import MinipodError
from minipod.kube import security_context
from minipod.linux import userns
from minipod.linux.launch_spec import runtime_file

BASE = 1 << 31


def test_the_first_free_range_is_handed_out():
    assert userns.pick_range(set(), BASE, 4) == BASE
    assert userns.pick_range({BASE}, BASE, 4) == BASE + 65536
    # A range freed in the middle is handed out again before the ones after it.
    assert userns.pick_range({BASE, BASE + 2 * 65536}, BASE, 4) == BASE + 65536


def test_a_full_pool_is_a_clear_error():
    used = {BASE + i * 65536 for i in range(2)}
    with pytest.raises(MinipodError) as e:
        userns.pick_range(used, BASE, 2)
    assert "no free user namespace range: all 2 ranges of 65536 ids" in str(e.value)
    assert "--userns-ranges" in (e.value.hint or "")


def test_the_map_gives_the_pod_65536_ids_from_its_base():
    assert userns.map_line(BASE) == f"0 {BASE} 65536\n"


def test_only_the_runtimes_own_files_are_id_mapped():
    dirs = {"run": "/r/pods/uid", "memory_volumes": "/r/pods/uid/volumes"}
    assert runtime_file("/r/pods/uid/hosts", dirs)
    assert runtime_file("/r/pods/uid/termination/abc", dirs)
    assert not runtime_file("/r/pods/uid/volumes/cache", dirs)  # a memory emptyDir
    assert not runtime_file("/var/lib/x/volumes/uid/data", dirs)  # a disk emptyDir
    assert not runtime_file("/etc", dirs)  # a hostPath
    assert not runtime_file("/r/pods/uid2/hosts", dirs)


def _pod(**spec):
    return {"spec": dict({"containers": [{"name": "a", "image": "busybox"}]}, **spec)}


def test_host_namespaces_are_refused_with_host_users_false():
    pod = _pod(hostUsers=False, hostNetwork=True, hostPID=True, hostIPC=True)
    assert security_context.check_pod(pod) == [
        "spec.hostNetwork: Forbidden: when `pod.Spec.HostUsers` is false",
        "spec.HostPID: Forbidden: when `pod.Spec.HostUsers` is false",
        "spec.HostIPC: Forbidden: when `pod.Spec.HostUsers` is false",
    ]
    assert security_context.check_pod(_pod(hostUsers=True, hostNetwork=True)) == []
    assert security_context.check_pod(_pod(hostUsers=False)) == []
