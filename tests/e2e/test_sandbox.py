"""The pod sandbox, checked on the real kernel: shared and private
namespaces, hostname and loopback, host namespaces, zombie reaping and each
container's root filesystem.

Two processes share a namespace exactly when /proc/PID/ns/TYPE has the same
inode, so every claim about sharing is checked from the host's /proc with
the host pids `minipod inspect` reports, and from inside with `minipod exec`.
"""

import os
import socket

import pytest
from helpers.host import eventually
from helpers.pods import ctr, pids, pod, pod_sh
from helpers.procfs import (
    CAP_NET_ADMIN,
    CAP_SYS_ADMIN,
    CAP_SYS_MODULE,
    CAP_SYS_PTRACE,
    DEFAULT_CAPS,
    NS,
    caps,
    host_ns,
    mountinfo,
    ns_inode,
    pod_mountinfo,
    status,
)

SLEEP = "exec sleep 3600"


def args_in(mp, pod_name: str, container: str) -> list[str]:
    """The command line of every process the container can see."""
    out = mp.run("exec", pod_name, "-c", container, "--", "ps", "-o", "args").stdout
    return [line.strip() for line in out.splitlines()[1:]]


# --- 1. shared and separate namespaces --------------------------------------------


def test_share_process_namespace_true_shares_net_ipc_uts_pid_but_not_mnt(mp, pods, pod_name):
    other = pod_name[:40] + "-other"
    pods.run(
        pod(
            pod_name,
            ctr("a", None, command=["sleep", "3600"]),
            ctr("b", None, command=["sleep", "3601"]),
            shareProcessNamespace=True,
        ),
        pod(other, ctr("main", SLEEP), shareProcessNamespace=True),
    )
    p, q = pids(mp, pod_name), pids(mp, other)
    ns = {k: {t: ns_inode(pid, t) for t in NS} for k, pid in p.items()}
    for t in ("net", "ipc", "uts", "pid"):
        assert ns["a"][t] == ns["b"][t] == ns["init"][t], t
        assert ns_inode(q["main"], t) == ns_inode(q["init"], t), t
        assert ns_inode(q["main"], t) != ns["a"][t], f"two pods share their {t} namespace"
    # Each container has its own mount namespace, neither the pod's nor the host's.
    assert len({ns["a"]["mnt"], ns["b"]["mnt"], ns["init"]["mnt"], ns_inode(q["main"], "mnt")}) == 4
    for t in NS:
        for pid in (p["init"], p["a"], p["b"], q["init"], q["main"]):
            assert ns_inode(pid, t) not in host_ns(t), f"{pid} is in the host's {t} namespace"

    # One process tree: PID 1 is the pod init, and each container sees the other.
    assert status(p["init"])["NSpid"].split()[-1] == "1"
    cmdline = pod_sh(mp, pod_name, "cat /proc/1/cmdline", "b").stdout.split("\0")
    assert os.path.basename(cmdline[0]) == "minipod-shim" and cmdline[1] == "init"
    seen = args_in(mp, pod_name, "a")
    assert "sleep 3601" in seen and "sleep 3600" in seen
    assert "sleep 3601" not in args_in(mp, other, "main")  # pods do not see each other


@pytest.mark.parametrize("share", [None, False], ids=["by-default", "shareProcessNamespace-false"])
def test_each_container_has_its_own_pid_1(mp, pods, pod_name, share):
    """As on Kubernetes: unless the pod says shareProcessNamespace: true,
    each container's command is PID 1 of a pid namespace of its own (as
    containerd makes one per container), and it sees no other container."""
    extra = {} if share is None else {"shareProcessNamespace": share}
    pods.run(
        pod(
            pod_name,
            ctr("a", None, command=["sleep", "3600"]),
            ctr("b", None, command=["sleep", "3601"]),
            **extra,
        )
    )
    p = pids(mp, pod_name)
    pid_ns = {k: ns_inode(v, "pid") for k, v in p.items()}
    assert len(set(pid_ns.values())) == 3, pid_ns
    assert not set(pid_ns.values()) & host_ns("pid")
    for t in ("net", "ipc", "uts"):  # the rest is still shared
        assert ns_inode(p["a"], t) == ns_inode(p["b"], t) == ns_inode(p["init"], t)
    for name, mine in (("a", "sleep\x003600"), ("b", "sleep\x003601")):
        assert pod_sh(mp, pod_name, "cat /proc/1/cmdline", name).stdout.rstrip("\0") == mine
        assert status(p[name])["NSpid"].split()[-1] == "1"
    seen = args_in(mp, pod_name, "a")
    assert "sleep 3600" in seen
    assert "sleep 3601" not in seen and not any("minipod-shim" in a for a in seen)


# --- 2. hostname, localhost, loopback ---------------------------------------------


def test_hostname_is_the_pod_name_unless_spec_hostname(mp, pods, pod_name):
    named = pod_name[:40] + "-h"
    pods.run(pod(pod_name, ctr("main", SLEEP)), pod(named, ctr("main", SLEEP), hostname="custom-host"))
    for name, expected in ((pod_name, pod_name), (named, "custom-host")):
        out = pod_sh(mp, name, 'hostname; cat /etc/hostname; echo "$HOSTNAME"').stdout.split()
        assert out == [expected] * 3, name
        assert expected in pod_sh(mp, name, "cat /etc/hosts").stdout
    assert socket.gethostname() not in (pod_name, "custom-host")


def test_containers_reach_each_other_on_localhost(mp, pods, pod_name):
    web = "mkdir -p /www && echo hello-over-loopback > /www/index.html && exec httpd -f -p 8080 -h /www"
    pods.run(pod(pod_name, ctr("web", web), ctr("client", SLEEP)))
    got = eventually(
        lambda: pod_sh(mp, pod_name, "wget -qO- http://localhost:8080/", "client", check=False).stdout,
        what="httpd to answer on localhost",
    )
    assert got.strip() == "hello-over-loopback"
    # Loopback is up (IFF_UP) and has its address, in the pod's own network namespace.
    assert int(pod_sh(mp, pod_name, "cat /sys/class/net/lo/flags", "client").stdout, 16) & 0x1
    assert "inet 127.0.0.1/8" in pod_sh(mp, pod_name, "ip addr show lo", "client").stdout


# --- 3. host namespaces -------------------------------------------------------------


def test_host_network_pid_and_ipc(mp, pods, pod_name):
    net, pid, ipc = (pod_name[:40] + s for s in ("-net", "-pid", "-ipc"))
    pods.run(
        pod(net, ctr("main", SLEEP), hostNetwork=True),
        pod(pid, ctr("main", SLEEP), hostPID=True),
        pod(ipc, ctr("main", SLEEP), hostIPC=True),
    )
    want = {net: {"net", "uts"}, pid: {"pid"}, ipc: {"ipc"}}
    for name, shared in want.items():
        c = pids(mp, name)["main"]
        for t in ("net", "uts", "pid", "ipc"):
            if t in shared:
                assert ns_inode(c, t) in host_ns(t), f"{name}: {t} should be the host's"
            else:
                assert ns_inode(c, t) not in host_ns(t), f"{name}: {t} should be the pod's"
        assert ns_inode(c, "mnt") not in host_ns("mnt")
    assert pod_sh(mp, net, "hostname; cat /etc/hostname").stdout.split() == [socket.gethostname()] * 2
    # hostPID: the container's /proc shows the host's processes, the daemon included.
    assert pod_sh(mp, pid, f"test -d /proc/{mp.daemon.pid}", check=False).returncode == 0
    assert pod_sh(mp, net, f"test -d /proc/{mp.daemon.pid}", check=False).returncode != 0
    # hostIPC: the host's /dev/shm, not a pod's.
    note = f"/dev/shm/{pod_name}"
    try:
        with open(note, "w") as f:
            f.write("host\n")
        assert pod_sh(mp, ipc, f"cat {note}").stdout == "host\n"
        assert pod_sh(mp, net, f"test -e {note}", check=False).returncode == 1
    finally:
        os.unlink(note)


def test_host_network_container_has_the_nodes_hostname_in_its_environment(mp, pods, pod_name):
    # The kubelet leaves the sandbox's hostname empty for hostNetwork pods,
    # so the runtime sets $HOSTNAME to the node's name, as the kernel says.
    pods.run(pod(pod_name, ctr("main", SLEEP), hostNetwork=True))
    assert pod_sh(mp, pod_name, 'echo "$HOSTNAME"').stdout.strip() == socket.gethostname()


# --- 4. zombies -----------------------------------------------------------------------


def zombies_in(pid_ns: int) -> list[str]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if state == "Z" and ns_inode(entry, "pid") == pid_ns:
                out.append(entry)
        except OSError:
            continue
    return out


def test_orphans_are_reaped_by_the_pod_init(mp, pods, pod_name):
    # Each ( ... &) subshell exits at once, orphaning its background child,
    # which then exits: only the pod's PID 1 can collect it.
    orphans = 'for i in 1 2 3 4 5; do (sh -c "sleep 0.3; touch /tmp/orphan-$i" &); done'
    pods.run(pod(pod_name, ctr("main", f"{orphans}; {SLEEP}"), ctr("other", SLEEP)))
    pod_sh(mp, pod_name, f"{orphans}; exit 0", "other")  # orphans of an exec session, too
    p = pids(mp, pod_name)
    pid_ns = ns_inode(p["init"], "pid")
    for c in ("main", "other"):
        eventually(
            lambda c=c: (
                pod_sh(mp, pod_name, "ls /tmp/orphan-*", c).stdout.split()
                == [f"/tmp/orphan-{i}" for i in range(1, 6)]
            ),
            what=f"the orphans of {c} to finish",
        )
    # Give the reaper a moment, then require that no zombie is left.
    eventually(lambda: not zombies_in(pid_ns), timeout=5, what="the zombies to be reaped")
    assert zombies_in(pid_ns) == []
    assert status(p["init"])["State"][0] in "SR"


# --- 5. the root filesystem -------------------------------------------------------------


def test_root_is_an_overlay_with_a_writable_layer_per_container(mp, pods, pod_name):
    pods.run(pod(pod_name, ctr("a", SLEEP), ctr("b", SLEEP)))
    p = pids(mp, pod_name)
    view = mp.inspect(pod_name)
    for c in view["containers"]:
        root = [m for m in mountinfo(p[c["name"]]) if m["point"] == "/"]
        assert root[-1]["type"] == "overlay", root
    marker = f"/written-by-{pod_name}"
    pod_sh(mp, pod_name, f"echo from-a > {marker}", "a")
    assert pod_sh(mp, pod_name, f"cat {marker}", "a").stdout == "from-a\n"
    assert pod_sh(mp, pod_name, f"test -e {marker}", "b", check=False).returncode == 1
    assert not os.path.exists(marker)
    upper = {c["name"]: c["rootfs"]["upperdir"] for c in view["containers"]}
    assert os.path.isfile(upper["a"] + marker) and not os.path.exists(upper["b"] + marker)


def test_proc_sys_and_dev_are_the_containers_own(mp, pods, pod_name):
    pods.run(pod(pod_name, ctr("main", None, command=["sleep", "3600"])))
    # /proc is the pod's: only the pod's processes, none of the host's.
    seen = args_in(mp, pod_name, "main")
    assert sorted(seen) == ["ps -o args", "sleep 3600"], seen
    cmdlines = pod_sh(mp, pod_name, "cat /proc/[0-9]*/cmdline | tr '\\0' ' '").stdout
    assert mp.root not in cmdlines and " daemon" not in cmdlines
    visible = pod_sh(mp, pod_name, "ls /proc").stdout.split()
    assert str(mp.daemon.pid) not in visible and str(os.getpid()) not in visible
    # /sys is read-only.
    r = pod_sh(mp, pod_name, "echo 1 > /sys/kernel/uevent_helper", check=False)
    assert r.returncode != 0 and "Read-only file system" in r.stderr
    table = pod_sh(mp, pod_name, "cat /proc/mounts").stdout.splitlines()
    mounts = {line.split()[1]: line.split() for line in table}
    assert mounts["/sys"][2] == "sysfs" and mounts["/sys"][3].split(",")[0] == "ro"
    assert mounts["/proc"][2] == "proc"
    # /dev is a small tmpfs with only the harmless devices.
    assert mounts["/dev"][2] == "tmpfs"
    assert mounts["/dev/pts"][2] == "devpts" and mounts["/dev/mqueue"][2] == "mqueue"
    assert mounts["/dev/shm"][2] == "tmpfs"
    entries = set(pod_sh(mp, pod_name, "ls -A /dev").stdout.split())
    devices = {"null", "zero", "full", "random", "urandom", "tty"}
    # termination-log: the file a container may write its last words to
    # (terminationMessagePath), as in every Kubernetes container.
    assert entries == devices | {
        "pts",
        "shm",
        "mqueue",
        "ptmx",
        "fd",
        "stdin",
        "stdout",
        "stderr",
        "core",
        "termination-log",
    }
    char = pod_sh(mp, pod_name, "for d in /dev/*; do [ -c $d ] && [ ! -L $d ] && echo ${d#/dev/}; done; true")
    char = char.stdout
    assert set(char.split()) == devices
    assert pod_sh(mp, pod_name, "head -c 4 /dev/zero | wc -c").stdout.strip() == "4"


def test_dev_shm_is_shared_in_the_pod_only(mp, pods, pod_name):
    other = pod_name[:40] + "-other"
    pods.run(pod(pod_name, ctr("a", SLEEP), ctr("b", SLEEP)), pod(other, ctr("main", SLEEP)))
    pod_sh(mp, pod_name, "echo shared-memory > /dev/shm/note", "a")
    assert pod_sh(mp, pod_name, "cat /dev/shm/note", "b").stdout == "shared-memory\n"
    assert pod_sh(mp, other, "test -e /dev/shm/note", check=False).returncode == 1
    # The pod's /dev/shm is a tmpfs in the pod's mount namespace, not a host directory.
    shm = mp.inspect(pod_name)["shm"]
    assert not os.path.ismount(shm) and "note" not in os.listdir(shm)
    init = pids(mp, pod_name)["init"]
    assert [m["type"] for m in pod_mountinfo(init) if m["point"] == shm] == ["tmpfs"]


def test_pod_mounts_never_reach_the_host(mp, pods, pod_name):
    with open("/proc/self/mountinfo") as f:
        before = set(f)
    vols = [{"name": "mem", "emptyDir": {"medium": "Memory"}}, {"name": "disk", "emptyDir": {}}]
    mounts = [{"name": "mem", "mountPath": "/mem"}, {"name": "disk", "mountPath": "/disk"}]
    pods.run(pod(pod_name, ctr("a", SLEEP, volumeMounts=mounts), ctr("b", SLEEP), volumes=vols))
    p, view = pids(mp, pod_name), mp.inspect(pod_name)
    # The mounts exist, in the pod's and the containers' mount namespaces...
    assert any(m["point"] == "/" and m["type"] == "overlay" for m in mountinfo(p["a"]))
    assert any(m["point"] == "/mem" and m["type"] == "tmpfs" for m in mountinfo(p["a"]))
    assert any(m["point"] == view["shm"] for m in pod_mountinfo(p["init"]))
    # ...and not on the host.
    with open("/proc/self/mountinfo") as f:
        new = set(f) - before
    # The one exception is by design: the pod's netns, pinned as CNI requires
    # (a bind mount of nsfs under the instance's run/netns), removed on delete.
    pinned = os.path.join(mp.root, "run", "netns", view["uid"])
    assert [
        line for line in new if (mp.root in line or view["uid"] in line) and line.split()[4] != pinned
    ] == []
    assert any(line.split()[4] == pinned and " nsfs " in line for line in new)
    for c in view["containers"]:
        assert not os.path.ismount(c["rootfs"]["mountPoint"])
    assert not os.path.ismount(view["shm"])
    assert not os.path.ismount(os.path.join(view["runDir"], "volumes", "mem"))


# --- 6. security by default, and securityContext ---------------------------------------


def test_a_container_has_dockers_default_capabilities_and_no_more(mp, pods, pod_name):
    pods.run(pod(pod_name, ctr("main", SLEEP)))
    c = caps(pids(mp, pod_name)["main"])
    assert c["CapEff"] == c["CapPrm"] == c["CapBnd"] == DEFAULT_CAPS, {k: hex(v) for k, v in c.items()}
    assert c["CapAmb"] == 0 and c["CapInh"] == 0
    for bit in (CAP_SYS_MODULE, CAP_SYS_ADMIN, CAP_SYS_PTRACE):
        assert not c["CapBnd"] >> bit & 1
    # An exec session gets the same set.
    inside = pod_sh(mp, pod_name, "grep -E '^Cap(Eff|Bnd)' /proc/self/status").stdout.split()
    assert [int(v, 16) for v in inside[1::2]] == [DEFAULT_CAPS, DEFAULT_CAPS]
    r = pod_sh(mp, pod_name, "mkdir -p /mnt && mount -t tmpfs none /mnt", check=False)
    assert r.returncode != 0 and "denied" in r.stderr.lower()
    assert " /mnt " not in pod_sh(mp, pod_name, "cat /proc/mounts").stdout
    # The daemon's socket and the instance are out of reach.
    sock = os.path.join(mp.root, "run", "minipod.sock")
    assert os.path.exists(sock)
    assert pod_sh(mp, pod_name, f"test -e {sock} || test -e {mp.root}", check=False).returncode == 1
    assert pod_sh(mp, pod_name, f"test -e /proc/1/root{sock}", check=False).returncode == 1


def test_ptrace_capability_does_not_open_the_hosts_filesystem(mp, pods, pod_name):
    # With a shared pid namespace, SYS_PTRACE lets a container into every
    # process of its pod through /proc/PID/root, PID 1 included (in
    # Kubernetes that is the pause container, with a root of its own). The
    # pod's PID 1 must not be a door to the host's root and the daemon's socket.
    pods.run(pod(pod_name, ctr("main", SLEEP, securityContext={"capabilities": {"add": ["SYS_PTRACE"]}})))
    sock = os.path.join(mp.root, "run", "minipod.sock")
    for pid in ("1", "self"):
        r = pod_sh(
            mp, pod_name, f"test -e /proc/{pid}/root{sock} || test -e /proc/{pid}/root{mp.root}", check=False
        )
        assert r.returncode == 1, f"the host's files are reachable through /proc/{pid}/root"


def test_security_context(mp, pods, pod_name):
    vol = [{"name": "scratch", "emptyDir": {}}]
    containers = [
        ctr("default", SLEEP),
        ctr("nobody", SLEEP, securityContext={"runAsUser": 65534}),
        ctr("dropall", SLEEP, securityContext={"capabilities": {"drop": ["ALL"]}}),
        # setuid() needs CAP_SETUID, so the sets are limited only after it.
        ctr("nobody-dropall", SLEEP, securityContext={"runAsUser": 65534, "capabilities": {"drop": ["ALL"]}}),
        ctr("netadmin", SLEEP, securityContext={"capabilities": {"add": ["NET_ADMIN"]}}),
        ctr("privileged", SLEEP, securityContext={"privileged": True}),
        ctr(
            "readonly",
            SLEEP,
            securityContext={"readOnlyRootFilesystem": True},
            volumeMounts=[{"name": "scratch", "mountPath": "/scratch"}],
        ),
        ctr("nonewprivs", SLEEP, securityContext={"allowPrivilegeEscalation": False}),
    ]
    pods.run(pod(pod_name, *containers, volumes=vol))
    p = pids(mp, pod_name)
    c = {name: caps(p[name]) for name in p if name != "init"}

    assert status(p["nobody"])["Uid"].split() == ["65534"] * 4
    assert pod_sh(mp, pod_name, "id -u", "nobody").stdout.strip() == "65534"
    assert c["nobody"]["CapEff"] == c["nobody"]["CapPrm"] == 0
    assert pod_sh(mp, pod_name, "grep CapEff /proc/self/status", "nobody").stdout.split()[1] == "0" * 16

    assert c["dropall"]["CapBnd"] == c["dropall"]["CapEff"] == 0
    assert status(p["nobody-dropall"])["Uid"].split() == ["65534"] * 4
    assert (
        c["nobody-dropall"]["CapBnd"] == c["nobody-dropall"]["CapEff"] == c["nobody-dropall"]["CapPrm"] == 0
    )

    assert c["netadmin"]["CapEff"] == c["netadmin"]["CapBnd"] == DEFAULT_CAPS | 1 << CAP_NET_ADMIN

    # privileged: every capability there is to have (the daemon's own bounding set).
    everything = caps(mp.daemon.pid)["CapBnd"]
    assert c["privileged"]["CapEff"] == c["privileged"]["CapBnd"] == everything
    assert everything >> CAP_SYS_ADMIN & 1
    # The capabilities work: mounting needs SYS_ADMIN, changing a link NET_ADMIN.
    pod_sh(
        mp,
        pod_name,
        "mkdir -p /mnt && mount -t tmpfs none /mnt && grep -q ' /mnt ' /proc/mounts",
        "privileged",
    )
    pod_sh(mp, pod_name, "ip link set lo mtu 1500", "netadmin")
    r = pod_sh(mp, pod_name, "ip link set lo mtu 1400", "default", check=False)
    assert r.returncode != 0 and "not permitted" in r.stderr

    r = pod_sh(mp, pod_name, "touch /written", "readonly", check=False)
    assert r.returncode != 0 and "Read-only file system" in r.stderr
    assert pod_sh(mp, pod_name, "touch /tmp/x", "readonly", check=False).returncode != 0
    pod_sh(mp, pod_name, "echo ok > /scratch/f && cat /scratch/f", "readonly")

    assert status(p["nonewprivs"])["NoNewPrivs"] == "1"
    assert pod_sh(mp, pod_name, "grep NoNewPrivs /proc/self/status", "nonewprivs").stdout.split() == [
        "NoNewPrivs:",
        "1",
    ]
    assert status(p["default"])["NoNewPrivs"] == "0"


def test_pod_security_context_applies_to_containers_that_do_not_override_it(mp, pods, pod_name):
    pods.run(
        pod(
            pod_name,
            ctr("inherits", SLEEP),
            ctr("overrides", SLEEP, securityContext={"runAsUser": 65534}),
            securityContext={"runAsUser": 1000, "runAsGroup": 3000},
        )
    )
    p = pids(mp, pod_name)
    assert status(p["inherits"])["Uid"].split()[0] == "1000"
    assert status(p["inherits"])["Gid"].split()[0] == "3000"
    assert status(p["overrides"])["Uid"].split()[0] == "65534"
    assert status(p["overrides"])["Gid"].split()[0] == "3000"
    assert pod_sh(mp, pod_name, "id -u; id -g", "inherits").stdout.split() == ["1000", "3000"]
