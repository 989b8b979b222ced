"""hostUsers: false: each pod in a user namespace of its own, checked on the host.

Root in such a pod is uid BASE on the host, BASE from the instance's pool
(the test instance's own, per session): /proc/self/uid_map says so, the
files it writes on disk say so, two pods never share a range, a deleted
pod's range comes back, and a restarted daemon keeps an adopted pod's.
"""

import json
import os
import signal

from helpers.kubectl import kubectl
from helpers.pods import ctr, pids, pod
from helpers.pods import pod_sh as sh
from helpers.procfs import status

SIZE = 65536
SLEEP = "exec sleep 3600"


def userns_pod(name: str, *containers: dict, **spec) -> dict:
    return pod(name, *(containers or (ctr("main", SLEEP),)), hostUsers=False, **spec)


def uid_map(mp, name: str) -> list[int]:
    return [int(x) for x in sh(mp, name, "cat /proc/self/uid_map").stdout.split()]


def host_base(mp, name: str) -> int:
    """The host uid of the pod's root, read from the host's /proc."""
    return int(status(pids(mp, name)["main"])["Uid"].split()[0])


def test_root_in_the_pod_is_its_ranges_base_on_the_host(mp, pods, pod_name):
    pods.run(userns_pod(pod_name))
    start, base, count = uid_map(mp, pod_name)
    assert (start, count) == (0, SIZE)
    assert mp.userns_base <= base < mp.userns_base + 8 * SIZE and (base - mp.userns_base) % SIZE == 0
    assert host_base(mp, pod_name) == base
    assert sh(mp, pod_name, "cat /proc/self/gid_map").stdout.split() == ["0", str(base), str(SIZE)]
    # Inside it is root, of its own namespace only: the image's files are its root's.
    assert sh(mp, pod_name, "id -u; stat -c %u /bin/busybox /etc/hosts").stdout.split() == ["0", "0", "0"]
    pid = pids(mp, pod_name)["main"]
    assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
    # minipod inspect shows it: the pod's own, shared by its container.
    seen = mp.inspect(pod_name)
    user_ns = os.stat(f"/proc/{pid}/ns/user").st_ino
    assert seen["podInit"]["namespaces"]["user"] == user_ns
    assert "user namespace" in mp.run("inspect", pod_name).stdout


def test_its_files_on_disk_belong_to_the_mapped_uid(mp, pods, pod_name):
    main = ctr(
        "main",
        "echo a > /made-here && echo b > /data/f && echo c >> /etc/passwd && mkdir /dir && " + SLEEP,
        volumeMounts=[{"name": "data", "mountPath": "/data"}],
        securityContext={"runAsUser": 0},
    )
    user = ctr(
        "user",
        "echo u > /data/u && " + SLEEP,
        securityContext={"runAsUser": 1000},
        volumeMounts=[{"name": "data", "mountPath": "/data"}],
    )
    pods.run(userns_pod(pod_name, main, user, volumes=[{"name": "data", "emptyDir": {}}]))
    base = uid_map(mp, pod_name)[1]
    upper = mp.inspect(pod_name)
    root = _upper_dir(mp, pod_name, "main")
    for path in ("made-here", "dir", "etc/passwd"):  # new, a directory, copied up from the image
        st = os.stat(os.path.join(root, path))
        assert (st.st_uid, st.st_gid) == (base, base), (path, upper)
    volume = os.path.join(mp.root, "lib", "volumes", mp.pod(pod_name)["metadata"]["uid"], "data")
    assert os.stat(os.path.join(volume, "f")).st_uid == base
    assert os.stat(os.path.join(volume, "u")).st_uid == base + 1000


def _upper_dir(mp, name: str, container: str) -> str:
    cid = next(
        c["containerID"].split("//")[1]
        for c in mp.pod(name)["status"]["containerStatuses"]
        if c["name"] == container
    )
    matches = [
        os.path.join(d, cid, "upper")
        for d, subdirs, _ in os.walk(mp.root)
        if cid in subdirs and os.path.isdir(os.path.join(d, cid, "upper"))
    ]
    assert matches, f"no upper dir for {cid} under {mp.root}"
    return matches[0]


def test_two_pods_get_disjoint_ranges_and_a_deleted_pods_range_returns(mp, pods, pod_name):
    a, b = f"{pod_name}-a", f"{pod_name}-b"
    pods.run(userns_pod(a), userns_pod(b))
    base_a, base_b = uid_map(mp, a)[1], uid_map(mp, b)[1]
    assert abs(base_a - base_b) >= SIZE
    mp.delete(a)
    c = f"{pod_name}-c"
    pods.run(userns_pod(c))
    # The lowest free range is handed first: a's, free again.
    assert uid_map(mp, c)[1] == base_a


def test_cap_sys_admin_in_the_pod_does_not_reach_a_host_file(mp, pods, pod_name, tmp_path):
    host_dir = tmp_path / "shared"
    host_dir.mkdir()
    secret = host_dir / "secret"
    secret.write_text("host\n")
    os.chmod(host_dir, 0o755)
    os.chmod(secret, 0o644)
    main = ctr(
        "main",
        SLEEP,
        securityContext={"capabilities": {"add": ["SYS_ADMIN"]}},
        volumeMounts=[{"name": "host", "mountPath": "/host"}],
    )
    pods.run(userns_pod(pod_name, main, volumes=[{"name": "host", "hostPath": {"path": str(host_dir)}}]))
    attempts = {
        "write": "echo pwned > /host/secret",
        "chmod": "chmod 666 /host/secret",
        "chown": "chown 0:0 /host/secret",
        "unmount the volume": "umount /host",
        "remount /proc read-write": "mount -o remount,rw /proc/sys",
        "mount the host's disk": "mkdir -p /m && mount /dev/vda /m || mount -t ext4 /dev/root /m",
    }
    for what, script in attempts.items():
        r = sh(mp, pod_name, script, check=False)
        assert r.returncode != 0, f"{what}: succeeded: {r.stdout}{r.stderr}"
    # What it does hold applies only inside: it may mount a tmpfs of its own.
    assert sh(mp, pod_name, "mkdir -p /t && mount -t tmpfs t /t && echo ok").stdout == "ok\n"
    assert secret.read_text() == "host\n"
    st = os.stat(secret)
    assert (st.st_uid, st.st_mode & 0o777) == (0, 0o644)
    # The host's files are nobody's in the pod.
    assert sh(mp, pod_name, "stat -c %u /host/secret").stdout == "65534\n"


def test_host_namespaces_are_refused_with_the_api_servers_message(mp, pod_name):
    bad = userns_pod(pod_name, hostNetwork=True, hostPID=True)
    r = mp.run_pod(json.dumps(bad), check=False)
    assert r.returncode == 1
    assert "spec.hostNetwork: Forbidden: when `pod.Spec.HostUsers` is false" in r.stderr
    assert "spec.HostPID: Forbidden: when `pod.Spec.HostUsers` is false" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_restarted_daemon_adopts_the_pod_with_its_range(fresh_mp, pod_name):
    mp = fresh_mp
    mp.run_pod(json.dumps(userns_pod(pod_name)))
    base = uid_map(mp, pod_name)[1]
    pid = pids(mp, pod_name)["main"]
    mp.kill_daemon(signal.SIGKILL)
    mp.start_daemon()
    assert mp.pod(pod_name)["status"]["phase"] == "Running"
    assert pids(mp, pod_name)["main"] == pid
    # Its range is still its own: a new pod gets another one.
    other = f"{pod_name}-2"
    mp.run_pod(json.dumps(userns_pod(other)))
    assert uid_map(mp, other)[1] != base
    # A restart of its container joins the same user namespace.
    os.kill(pid, signal.SIGKILL)
    mp.wait_for(
        pod_name,
        lambda p: (
            p["status"]["containerStatuses"][0]["restartCount"] == 1
            and "running" in p["status"]["containerStatuses"][0]["state"]
        ),
        what="the container to be restarted",
    )
    assert uid_map(mp, pod_name)[1] == base
    assert host_base(mp, pod_name) == base


def test_proc_mount_unmasked_shows_proc_but_not_the_hosts_secrets(mp, pods, pod_name):
    masked, unmasked = f"{pod_name}-m", f"{pod_name}-u"
    pods.run(
        userns_pod(masked),
        userns_pod(unmasked, ctr("main", SLEEP, securityContext={"procMount": "Unmasked"})),
    )
    # /proc/timer_list: the host root's, 0400 (and masked by default).
    probe = "stat -c %F /proc/timer_list; touch /proc/sys/kernel/domainname 2>/dev/null || echo read-only"
    assert sh(mp, masked, probe).stdout.splitlines() == ["character special file", "read-only"]
    out = sh(mp, unmasked, "stat -c %F /proc/timer_list; head -c1 /proc/timer_list >/dev/null || echo denied")
    # Unmasked, and still the host's root's: the pod's root may not read it.
    assert out.stdout.splitlines() == ["regular empty file", "denied"]


def test_a_secret_subpaths_and_exec_probes_work_as_the_pods_root(mp, pods, pod_name):
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": pod_name},
        "stringData": {"token": "s3cr3t"},
    }
    kubectl(mp, "apply", "-f", "-", input=json.dumps(secret))
    try:
        main = ctr(
            "main",
            SLEEP,
            volumeMounts=[
                {"name": "secret", "mountPath": "/secret"},
                {"name": "secret", "mountPath": "/token", "subPath": "token"},
                {"name": "data", "mountPath": "/data"},
            ],
            # Readable only by root (0400): the pod's root, through the id-mapped mount.
            readinessProbe={"exec": {"command": ["cat", "/secret/token"]}, "periodSeconds": 1},
        )
        # An emptyDir subPath the runtime makes (with the volume's mode, 0777).
        writer = ctr(
            "writer",
            "echo in-sub > /sub/f && " + SLEEP,
            volumeMounts=[{"name": "data", "mountPath": "/sub", "subPath": "sub"}],
        )
        volumes = [
            {"name": "secret", "secret": {"secretName": pod_name, "defaultMode": 0o400}},
            {"name": "data", "emptyDir": {}},
        ]
        pods.run(userns_pod(pod_name, main, writer, volumes=volumes))
        mp.wait_for(
            pod_name,
            lambda p: all(c["ready"] for c in p["status"]["containerStatuses"]),
            what="the exec probe to pass",
        )
        out = sh(mp, pod_name, "cat /secret/token /token; stat -c %u /secret/token", "main").stdout
        assert out == "s3cr3ts3cr3t0\n"
        assert sh(mp, pod_name, "cat /data/sub/f", "main").stdout == "in-sub\n"
    finally:
        kubectl(mp, "delete", "secret", pod_name, "--ignore-not-found", check=False)
