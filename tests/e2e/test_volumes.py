"""Volumes on the real kernel: emptyDir (disk and memory), hostPath with its
type checks, the refusal of unsupported volume types, and the clean-up of
every directory a pod had once it is deleted."""

import os

from helpers.pods import ctr, pids, pod, pod_dirs_of, pod_sh
from helpers.procfs import pod_mountinfo

SLEEP = "exec sleep 3600"


def mounted(path: str, name: str) -> list[dict]:
    return [{"name": name, "mountPath": path}]


def host_mounts() -> str:
    with open("/proc/self/mountinfo") as f:
        return f.read()


def instance_dirs(mp) -> dict[str, set[str]]:
    out = {}
    for d in (("lib", "volumes"), ("run", "pods"), ("lib", "containers"), ("lib", "logs")):
        path = os.path.join(mp.root, *d)
        out[path] = set(os.listdir(path)) if os.path.isdir(path) else set()
    return out


def test_empty_dir_is_shared_between_containers(mp, pods, pod_name):
    vols = [{"name": "shared", "emptyDir": {}}]
    pods.run(
        pod(
            pod_name,
            ctr("writer", SLEEP, volumeMounts=mounted("/out", "shared")),
            ctr("reader", SLEEP, volumeMounts=mounted("/in", "shared")),
            volumes=vols,
        )
    )
    pod_sh(mp, pod_name, "echo written-by-writer > /out/file", "writer")
    assert pod_sh(mp, pod_name, "cat /in/file", "reader").stdout == "written-by-writer\n"
    pod_sh(mp, pod_name, "echo reply > /in/back", "reader")
    assert pod_sh(mp, pod_name, "cat /out/back", "writer").stdout == "reply\n"
    # A disk emptyDir is a directory of the pod on the host's disk.
    uid = mp.pod(pod_name)["metadata"]["uid"]
    with open(os.path.join(mp.root, "lib", "volumes", uid, "shared", "file")) as f:
        assert f.read() == "written-by-writer\n"


def test_memory_empty_dir_is_a_tmpfs_the_host_never_sees(mp, pods, pod_name):
    vols = [{"name": "cache", "emptyDir": {"medium": "Memory"}}]
    pods.run(
        pod(
            pod_name,
            ctr("a", SLEEP, volumeMounts=mounted("/cache", "cache")),
            ctr("b", SLEEP, volumeMounts=mounted("/cache", "cache")),
            volumes=vols,
        )
    )
    table = [line.split() for line in pod_sh(mp, pod_name, "cat /proc/mounts", "a").stdout.splitlines()]
    assert [m[2] for m in table if m[1] == "/cache"] == ["tmpfs"]
    pod_sh(mp, pod_name, "echo in-memory > /cache/f", "a")
    assert pod_sh(mp, pod_name, "cat /cache/f", "b").stdout == "in-memory\n"  # one tmpfs for the pod
    # On the host the volume's directory is empty and not a mount point.
    src = os.path.join(mp.inspect(pod_name)["runDir"], "volumes", "cache")
    assert not os.path.ismount(src) and os.listdir(src) == []
    assert src not in host_mounts()
    assert any(m["point"] == src and m["type"] == "tmpfs" for m in pod_mountinfo(pids(mp, pod_name)["init"]))


def test_host_path_read_write_and_read_only(mp, pods, pod_name, tmp_path):
    (tmp_path / "hello.txt").write_text("from the host\n")
    vols = [{"name": "host", "hostPath": {"path": str(tmp_path), "type": "Directory"}}]
    mounts = [{"name": "host", "mountPath": "/rw"}, {"name": "host", "mountPath": "/ro", "readOnly": True}]
    pods.run(pod(pod_name, ctr("main", SLEEP, volumeMounts=mounts), volumes=vols))
    assert pod_sh(mp, pod_name, "cat /rw/hello.txt /ro/hello.txt").stdout == "from the host\n" * 2
    pod_sh(mp, pod_name, "echo from the pod > /rw/back.txt")
    assert (tmp_path / "back.txt").read_text() == "from the pod\n"
    r = pod_sh(mp, pod_name, "echo overwritten > /ro/hello.txt", check=False)
    assert r.returncode != 0 and "Read-only file system" in r.stderr
    assert pod_sh(mp, pod_name, "touch /ro/new", check=False).returncode != 0
    assert (tmp_path / "hello.txt").read_text() == "from the host\n"
    assert not (tmp_path / "new").exists()


def test_host_path_directory_or_create(mp, pods, pod_name, tmp_path):
    target = tmp_path / "made" / "by" / "minipod"
    vols = [{"name": "host", "hostPath": {"path": str(target), "type": "DirectoryOrCreate"}}]
    pods.run(pod(pod_name, ctr("main", SLEEP, volumeMounts=mounted("/data", "host")), volumes=vols))
    assert target.is_dir()
    pod_sh(mp, pod_name, "echo made > /data/f")
    assert (target / "f").read_text() == "made\n"
    mp.delete(pod_name)
    assert (target / "f").read_text() == "made\n"  # a hostPath outlives the pod


def test_host_path_directory_that_is_missing_keeps_the_container_waiting(mp, pods, pod_name, tmp_path):
    missing = tmp_path / "not-there"
    vols = [{"name": "host", "hostPath": {"path": str(missing), "type": "Directory"}}]
    out = pods.run(
        pod(pod_name, ctr("main", SLEEP, volumeMounts=mounted("/data", "host")), volumes=vols),
        check=False,
        timeout=5,
    )
    assert out.returncode == 1
    status = mp.pod(pod_name)["status"]
    assert status["phase"] == "Pending"
    waiting = status["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "CreateContainerConfigError"
    assert str(missing) in waiting["message"] and "Directory" in waiting["message"]
    assert "running" not in status["containerStatuses"][0]["state"]
    assert not missing.exists()
    assert mp.daemon.poll() is None  # a refused volume is the pod's problem, not the daemon's
    assert pod_name in mp.run("get", "pods").stdout
    dirs = pod_dirs_of(mp, pod_name)
    mp.delete(pod_name)
    assert [d for d in dirs if os.path.exists(d)] == []


def test_unsupported_volume_type_is_refused_and_nothing_is_created(mp, pod_name):
    good = pod_name[:40] + "-good"
    manifest = f"""apiVersion: v1
kind: Pod
metadata:
  name: {good}
spec:
  containers:
  - {{name: main, image: busybox:1.35, command: [sleep, "3600"]}}
---
apiVersion: v1
kind: Pod
metadata:
  name: {pod_name}
spec:
  volumes:
  - name: config
    nfs: {{server: nfs.example, path: /}}
  containers:
  - name: main
    image: busybox:1.35
    command: [sleep, "3600"]
    volumeMounts: [{{name: config, mountPath: /config}}]
"""
    before = instance_dirs(mp)
    r = mp.run("apply", "-f", "-", input=manifest, check=False)
    try:
        assert r.returncode == 1
        assert "spec.volumes[0].nfs" in r.stderr
        assert mp.run("get", "pod", pod_name, check=False).returncode == 1
        assert mp.run("get", "pod", good, check=False).returncode == 1  # the whole manifest is refused
        assert instance_dirs(mp) == before
    finally:
        mp.run("delete", "pod", pod_name, good, "--grace-period", "0", "--ignore-not-found")


def test_deleting_a_pod_removes_all_its_directories(mp, pods, pod_name, tmp_path):
    vols = [
        {"name": "disk", "emptyDir": {}},
        {"name": "mem", "emptyDir": {"medium": "Memory"}},
        {"name": "host", "hostPath": {"path": str(tmp_path)}},
    ]
    mounts = [
        {"name": "disk", "mountPath": "/disk"},
        {"name": "mem", "mountPath": "/mem"},
        {"name": "host", "mountPath": "/host"},
    ]
    pods.run(
        pod(
            pod_name, ctr("a", SLEEP, volumeMounts=mounts), ctr("b", SLEEP, volumeMounts=mounts), volumes=vols
        )
    )
    pod_sh(mp, pod_name, "echo x > /disk/x; echo y > /mem/y; echo z > /host/z; echo w > /w", "a")
    dirs = pod_dirs_of(mp, pod_name)
    assert len(dirs) == 5 and all(os.path.isdir(d) for d in dirs)
    mp.delete(pod_name)
    assert [d for d in dirs if os.path.exists(d)] == []
    uid_or_ids = [os.path.basename(d) for d in dirs]
    for parent, names in instance_dirs(mp).items():
        assert not set(uid_or_ids) & names, parent
    assert (tmp_path / "z").read_text() == "z\n"
