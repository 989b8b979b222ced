"""The escape suite: what a process in a default pod tries, and must fail.

One pod with nothing but defaults (RuntimeDefault seccomp, Docker's
capabilities, root in the container), and a second pod as a neighbour.
Each row of ATTEMPTS is (what, how, proof that it was denied); every row
runs inside the pod and is checked on its own.
"""

import os
import socket

import pytest
from helpers.pods import ctr, delete_quietly, manifest, pids, pod
from helpers.pods import pod_sh as sh
from helpers.syscall_probe import probe_calls, probe_pod, with_probe

EPERM, ESRCH = 1, 3


@pytest.fixture(scope="module")
def pods_under_attack(mp, syscall_probe):
    """(the attacker pod, the host pid of its neighbour's process)."""
    attacker, neighbour = "escape-attacker", "escape-neighbour"
    mp.run_pod(
        manifest(
            probe_pod(pod(attacker, with_probe(ctr("main", "exec sleep 3600"))), syscall_probe),
            pod(neighbour, ctr("main", "exec sleep 3601")),
        )
    )
    try:
        yield attacker, pids(mp, neighbour)["main"]
    finally:
        delete_quietly(mp, attacker, neighbour, check=True)


def _root_device() -> tuple[int, int]:
    dev = os.stat("/").st_dev
    major, minor = os.major(dev), os.minor(dev)
    return (major, minor) if major else (8, 0)  # a virtual root: the first SCSI disk


def see_host_pids(mp, attacker, neighbour_pid):
    out = sh(mp, attacker, "cat /proc/[0-9]*/cmdline | tr '\\0' ' '").stdout
    assert mp.root not in out and "sleep 3601" not in out, out  # no daemon, no neighbour
    assert len(sh(mp, attacker, "ls -d /proc/[0-9]*").stdout.split()) < 10


def mount(mp, attacker, _):
    r = sh(mp, attacker, "mkdir -p /mnt && mount -t tmpfs none /mnt", check=False)
    assert r.returncode != 0
    assert probe_calls(mp, attacker, "mount") == {"mount": f"errno {EPERM}"}


def load_a_module(mp, attacker, _):
    assert probe_calls(mp, attacker, "init_module") == {"init_module": f"errno {EPERM}"}


def read_kcore(mp, attacker, _):
    assert sh(mp, attacker, "head -c 16 /proc/kcore | wc -c", check=False).stdout.strip() == "0"


def write_sysrq_trigger(mp, attacker, _):
    # 'h' only prints the help to the kernel log, were the write to pass.
    assert sh(mp, attacker, "echo h > /proc/sysrq-trigger", check=False).returncode != 0


def change_the_hosts_hostname(mp, attacker, _):
    before = socket.gethostname()
    assert probe_calls(mp, attacker, "sethostname") == {"sethostname": f"errno {EPERM}"}
    assert sh(mp, attacker, "hostname escaped", check=False).returncode != 0
    assert socket.gethostname() == before


def mknod_a_block_device(mp, attacker, _):
    # CAP_MKNOD is a default capability (as in Docker), so the node can be
    # made; the container's filesystems are nodev, so it cannot be opened.
    major, minor = _root_device()
    r = sh(mp, attacker, f"mknod /tmp/disk b {major} {minor}; head -c 512 /tmp/disk | wc -c", check=False)
    assert "Permission denied" in r.stderr and r.stdout.strip() == "0", r


def reach_the_daemons_socket(mp, attacker, _):
    sock = os.path.join(mp.root, "run", "minipod.sock")
    r = sh(mp, attacker, f"test -e {sock} || test -e /proc/1/root{sock} || test -e {mp.root}", check=False)
    assert r.returncode == 1


def ptrace_another_pods_process(mp, attacker, neighbour_pid):
    # Its host pid means nothing in the attacker's pid namespace.
    got = probe_calls(mp, attacker, f"ptrace:{neighbour_pid}")[f"ptrace:{neighbour_pid}"]
    assert got in (f"errno {EPERM}", f"errno {ESRCH}")


def join_the_namespaces_of_pid_1(mp, attacker, _):
    names = [f"setns:/proc/1/ns/{ns}" for ns in ("mnt", "net", "pid", "uts", "ipc", "user", "cgroup")]
    got = probe_calls(mp, attacker, *names)
    assert set(got.values()) == {f"errno {EPERM}"}, got


def write_dev_kmsg(mp, attacker, _):
    # There is no /dev/kmsg, and one made with mknod cannot be opened.
    assert sh(mp, attacker, "test -c /dev/kmsg", check=False).returncode == 1
    r = sh(mp, attacker, "mknod /dev/kmsg c 1 11 && echo escaped > /dev/kmsg", check=False)
    assert r.returncode != 0 and "Permission denied" in r.stderr, r


ATTEMPTS = [
    see_host_pids,
    mount,
    load_a_module,
    read_kcore,
    write_sysrq_trigger,
    change_the_hosts_hostname,
    mknod_a_block_device,
    reach_the_daemons_socket,
    ptrace_another_pods_process,
    join_the_namespaces_of_pid_1,
    write_dev_kmsg,
]


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=[a.__name__ for a in ATTEMPTS])
def test_a_default_pod_cannot(mp, pods_under_attack, attempt):
    attacker, neighbour_pid = pods_under_attack
    attempt(mp, attacker, neighbour_pid)
