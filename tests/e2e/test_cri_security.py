"""A CRI container's security context, seen from inside it: its user by
name, its own supplemental groups, the masked and read-only paths it lists,
capabilities and no_new_privs."""

import json

from minipod.cri import api_pb2


def sh(pods, cid: str, script: str) -> api_pb2.ExecSyncResponse:
    req = api_pb2.ExecSyncRequest(container_id=cid, cmd=["sh", "-c", script], timeout=10)
    return pods.rt.ExecSync(req, timeout=30)


def test_user_groups_and_paths_as_listed(cri_pods):
    sid, config = cri_pods.run("security")
    sc = api_pb2.LinuxContainerSecurityContext(
        run_as_username="nobody",
        supplemental_groups=[1234],
        masked_paths=["/etc/hostname"],
        readonly_paths=["/tmp"],
        no_new_privs=True,
        capabilities=api_pb2.Capability(drop_capabilities=["ALL"]),
    )
    linux = api_pb2.LinuxContainerConfig(security_context=sc)
    cid = cri_pods.create(sid, config, "c", ["sleep", "300"], linux=linux)
    cri_pods.start(cid)
    assert sh(cri_pods, cid, "id -un").stdout == b"nobody\n"
    assert "1234" in sh(cri_pods, cid, "id -G").stdout.decode().split()
    assert sh(cri_pods, cid, "cat /etc/hostname").stdout == b""  # /dev/null over it
    touch = sh(cri_pods, cid, "touch /tmp/x")
    assert touch.exit_code != 0 and b"Read-only" in touch.stderr
    pid = json.loads(cri_pods.status(cid, verbose=True).info["info"])["pid"]
    status = dict(
        line.split(":\t", 1) for line in open(f"/proc/{pid}/status").read().splitlines() if ":\t" in line
    )
    assert status["NoNewPrivs"].strip() == "1"
    assert int(status["CapEff"], 16) == 0


def test_mount_propagation_host_to_container(cri_pods, tmp_path):
    """A HostToContainer mount sees what the host mounts beneath it after
    the container started (the source a shared mount, as the kubelet makes
    /var/lib/kubelet); a plain one does not."""
    import subprocess

    src = tmp_path / "shared"
    (src / "later").mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(src), str(src)], check=True)
    try:
        subprocess.run(["mount", "--make-rshared", str(src)], check=True)
        sid, config = cri_pods.run("propagation")
        mounts = [
            api_pb2.Mount(
                container_path="/slave", host_path=str(src), propagation=api_pb2.PROPAGATION_HOST_TO_CONTAINER
            ),
            api_pb2.Mount(container_path="/private", host_path=str(src)),
        ]
        cid = cri_pods.create(sid, config, "c", ["sleep", "300"], mounts=mounts)
        cri_pods.start(cid)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "later", str(src / "later")], check=True)
        try:
            (src / "later" / "flag").write_text("x")
            assert sh(cri_pods, cid, "ls /slave/later").stdout == b"flag\n"
            assert sh(cri_pods, cid, "ls /private/later").stdout == b""
        finally:
            cri_pods.remove_all()
            cri_pods.sandboxes.clear()
            subprocess.run(["umount", str(src / "later")], check=True)
    finally:
        subprocess.run(["umount", "-R", str(src)], check=True)


def test_devices_given_with_their_permissions(cri_pods):
    """A host device node in the container, allowed by the devices cgroup
    with the permissions given (and no more)."""
    sid, config = cri_pods.run("devices")
    rw = [api_pb2.Device(host_path="/dev/fuse", container_path="/dev/fuse", permissions="rwm")]
    ro = [api_pb2.Device(host_path="/dev/fuse", container_path="/dev/myfuse", permissions="r")]
    a = cri_pods.create(sid, config, "rw", ["sleep", "300"], devices=rw)
    b = cri_pods.create(sid, config, "ro", ["sleep", "300"], devices=ro)
    cri_pods.start(a)
    cri_pods.start(b)
    assert sh(cri_pods, a, "exec 3<>/dev/fuse && echo opened").stdout == b"opened\n"
    denied = sh(cri_pods, b, "exec 3<>/dev/myfuse && echo opened")
    assert denied.stdout == b"" and b"not permitted" in denied.stderr
