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
