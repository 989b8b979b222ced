"""The pod network's bookkeeping: leases, veths, netns pins, nft rules.

Whatever happens (a delete, a daemon SIGKILLed in the middle of a burst of
creations or deletions, 200 pods coming and going, the reference CNI
plugins instead of minipod's), the host ends up holding exactly what the
live pods need: one lease, one veth on the bridge, one netns pin and one
masquerade rule per pod, and nothing at all once the last pod is gone (the
bridge, costly to make, goes when the daemon stops with no pod left).
"""

import ipaddress
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time

import pytest
from helpers.host import eventually, free_port, http_get, sh
from helpers.instance import MINIPOD, Minipod, new_root
from helpers.network import (
    OutsideHost,
    bridge_ports,
    check_network_matches_pods,
    http_from_pod,
    instance_network,
    instance_uids,
    kill_pids,
    leases,
    link_exists,
    live_pods,
    netns_pins,
    nft_rules,
    nft_set_elements,
    nft_tables,
    pod_inits,
    rules_with_port,
    wait_http,
)
from helpers.pods import delete_quietly, manifest, pod_ip, sleeper_pod, web_pod

from minipod.network.pod_network import CNI_PATH


def _reference_plugins_installed() -> bool:
    """bridge, host-local and portmap in one of the CNI bin dirs minipod searches."""
    return any(
        all(os.access(os.path.join(d, p), os.X_OK) for p in ("bridge", "host-local", "portmap"))
        for d in CNI_PATH.split(":")
    )


def _start(inst: Minipod) -> Minipod:
    inst.start_daemon()
    inst.run("image", "build-base")
    return inst


def _finish(inst: Minipod) -> None:
    """Stop an instance the test made; fail on what it left behind."""
    if inst.daemon and inst.daemon.poll() is None:
        inst.stop()
    leftovers = inst.processes() + inst.mounts()
    shutil.rmtree(inst.root, ignore_errors=True)
    assert not leftovers, f"the test left these behind: {leftovers}"


def _restart(mp) -> None:
    """Start the daemon again after it died or stopped. A SIGKILLed
    daemon leaves its socket behind: waiting for "the socket exists" would
    not wait at all, and a command sent before the new daemon listens
    would start a daemon of its own."""
    sock = os.path.join(mp.root, "run", "minipod.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    mp.start_daemon()
    eventually(lambda: _daemon_answers(sock), 20, "the restarted daemon to listen")
    assert mp.daemon.poll() is None, "the restarted daemon exited"


def _assert_no_network_left(mp, net: dict, veths: set[str]) -> None:
    """Nothing of the instance's network is left once its pods are gone:
    no lease, no pin, no veth, no masquerade element. The bridge (costly to
    make) and the nft table stay, without ports or elements, while the
    daemon runs, and go when the daemon stops with no pod left. The daemon is running again at the end."""
    assert leases(net["lease_dir"]) == {}, "leases of deleted pods remain"
    assert netns_pins(mp) == set(), "netns pins of deleted pods remain"
    left = [v for v in veths if link_exists(v)]
    assert not left, f"veths of deleted pods remain: {left}"
    assert bridge_ports(net["bridge"]) == set(), "the bridge still has ports"
    # The table stays with the bridge (keepTable), its masquerade set empty.
    assert nft_set_elements(net["table"]) == {}, "masquerade elements of deleted pods remain"
    mp.kill_daemon(signal.SIGTERM)
    assert not link_exists(net["bridge"]), "the daemon stopped with no pod and left its bridge"
    assert net["table"] not in nft_tables(), f"table {net['table']} remains"
    _restart(mp)


@pytest.fixture
def tiny_mp():
    """An instance whose subnet is a /30: one address for pods (the other
    one is the gateway's)."""
    inst = Minipod(new_root("tiny"))
    inst.subnet = str(next(ipaddress.ip_network(inst.subnet).subnets(new_prefix=30)))
    _start(inst)
    yield inst
    _finish(inst)


def test_delete_removes_the_lease_and_the_address_is_handed_out_again(tiny_mp, pod_name):
    mp = tiny_mp
    net = instance_network(mp)
    assert net["subnet"].prefixlen == 30
    first, second = f"{pod_name[:40]}-1", f"{pod_name[:40]}-2"
    try:
        mp.run_pod(json.dumps(sleeper_pod(first)))
        ip = pod_ip(mp, first)
        assert ip == str(net["subnet"][2])  # .1 is the gateway
        uid = mp.pod(first)["metadata"]["uid"]
        lease = mp.inspect(first)["network"]["lease"]
        assert lease == os.path.join(net["lease_dir"], ip)
        assert leases(net["lease_dir"]) == {ip: uid}
        # The only address is taken: the next pod gets none and says why.
        mp.apply(json.dumps(sleeper_pod(second)))
        eventually(
            lambda: "FailedCreatePodSandBox" in mp.run("describe", "pod", second).stdout,
            15,
            f"{second} to report that it has no address",
        )
        status = mp.pod(second)["status"]
        assert status["phase"] == "Pending" and not status.get("podIP"), status
        assert leases(net["lease_dir"]) == {ip: uid}
        mp.delete(first)
        # The waiting pod may take the freed address at once, in a lease
        # file of the same name: what must be gone is the deleted pod's.
        assert leases(net["lease_dir"]).get(ip) != uid, "the lease outlived the pod"
        # Freed, the address goes to the waiting pod.
        pod = mp.wait_for(
            second, lambda p: p["status"].get("phase") == "Running", 30, f"{second} to get the freed address"
        )
        assert pod["status"]["podIP"] == ip
        assert leases(net["lease_dir"]) == {ip: pod["metadata"]["uid"]}
        veth = mp.inspect(second)["network"]["vethHost"]
        mp.delete(second)
        _assert_no_network_left(mp, net, {veth})
    finally:
        delete_quietly(mp, first, second)


def _settle(mp, timeout: float = 60, unready: list | None = None) -> list[dict]:
    """Wait until no pod is being deleted and every pod runs (its network
    is then set up), then up to 15 s more for every container to be ready;
    the names of the pods that are not go to `unready`, for the verdict."""
    deadline = time.time() + timeout
    ready_by = None
    while True:
        if mp.daemon.poll() is not None:
            with open(os.path.join(mp.root, "daemon-test.log"), errors="replace") as f:
                raise AssertionError(
                    f"the daemon exited ({mp.daemon.returncode}); its log ends with:\n{f.read()[-3000:]}"
                )
        items = live_pods(mp)
        stuck = {
            p["metadata"]["name"]: (p["status"]["phase"], p["metadata"].get("deletionTimestamp"))
            for p in items
            if p["status"]["phase"] != "Running" or p["metadata"].get("deletionTimestamp")
        }
        if not stuck:
            ready_by = ready_by or time.time() + 15
            waiting = [
                p["metadata"]["name"]
                for p in items
                if not all(c.get("ready") for c in p["status"].get("containerStatuses", []))
            ]
            if not waiting or time.time() > ready_by:
                if unready is not None:
                    unready += [n for n in waiting if n not in unready]
                return items
        elif time.time() > deadline:
            detail = {n: mp.run("describe", "pod", n, check=False).stdout[-1500:] for n in stuck}
            raise AssertionError(
                f"the pods did not settle after the restart: {stuck}\n"
                + "\n".join(f"--- {n}\n{d}" for n, d in detail.items())
            )
        time.sleep(0.2)


def _restarted(mp, items: list[dict]) -> dict[str, str]:
    """Pods whose containers were restarted (they only sleep: nothing but
    the runtime stops them), with the events that say why."""
    out = {}
    for p in items:
        if any(c.get("restartCount") for c in p["status"].get("containerStatuses", [])):
            name = p["metadata"]["name"]
            events = mp.run("describe", "pod", name, check=False).stdout.split("Events:")[-1]
            out[name] = " | ".join(line.split(None, 4)[-1] for line in events.strip().splitlines()[2:])
    return out


def _kill_daemon_during(mp, *args: str, text: str | None = None, delay: float) -> None:
    """Run `minipod ARGS` and SIGKILL the daemon `delay` seconds later,
    whatever it is doing; then start the daemon again. The command must
    not start a daemon of its own (one that raced the restart), so it may
    not autostart one, and it is frozen before the kill and killed after."""
    env = dict(os.environ, MINIPOD_NO_AUTOSTART="1")
    cmd = subprocess.Popen(
        [MINIPOD, "--root", mp.root, *args],
        stdin=subprocess.PIPE,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    if text is not None:
        cmd.stdin.write(text)
    cmd.stdin.close()
    time.sleep(delay)
    cmd.send_signal(signal.SIGSTOP)
    mp.kill_daemon(signal.SIGKILL)
    cmd.kill()
    cmd.wait()
    sock = os.path.join(mp.root, "run", "minipod.sock")
    deadline = time.time() + 10
    while _daemon_answers(sock):
        assert time.time() < deadline, (
            f"the killed daemon's socket still accepts connections: held by {_holders(sock)}"
        )
        time.sleep(0.05)
    _restart(mp)


def _daemon_answers(sock: str) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(sock)
            return True
        except OSError:
            return False


def _holders(sock: str) -> list[str]:
    """The processes holding the listening socket bound to `sock`."""
    inodes = set()
    with open("/proc/net/unix") as f:
        for line in f:
            if line.rstrip().endswith(" " + sock):
                inodes.add(f"socket:[{line.split()[6]}]")
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in fds):
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    out.append(f"{pid}: {f.read().replace(bytes(1), b' ').decode(errors='replace')}")
        except OSError:
            continue
    return out


def _orphan_inits(mp, uids: set[str]) -> dict[int, str]:
    """Pod inits (PID 1 of a pod) of the instance's pods (`uids`: every
    uid it had) that belong to no live pod: a restarted daemon must not
    leave behind the inits the killed one made."""
    uids |= instance_uids(mp)
    known = {mp.inspect(p["metadata"]["name"])["podInit"]["pid"] for p in live_pods(mp)}
    return {pid: uid for pid, uid in pod_inits(uids).items() if pid not in known}


def _clean_orphans(mp, uids: set[str]) -> None:
    """After the pods are gone: kill what the test's daemons left behind
    (by pid), so that a failing run does not leave it on the machine."""
    kill_pids(pod_inits(uids | instance_uids(mp)))


def test_sigkill_during_creations_keeps_leases_veths_and_pins_exact(fresh_mp, pod_name):
    mp = fresh_mp
    net = instance_network(mp)
    rng = random.Random()
    prefix = f"{pod_name[:40]}-"
    uids: set[str] = set()  # of every pod the instance had
    veths: set[str] = set()
    names: list[str] = []
    orphans: dict[int, str] = {}
    restarted: dict[str, str] = {}
    unready: list[str] = []
    try:
        for rnd in range(4):
            batch = [f"{prefix}{rnd}-{i}" for i in range(10)]
            names += batch
            text = manifest(*(sleeper_pod(n) for n in batch))
            # Killed while it creates pods and plugs them into the bridge.
            _kill_daemon_during(mp, "apply", "-f", "-", text=text, delay=rng.uniform(0.02, 0.35))
            uids |= instance_uids(mp)
            mp.apply(text)  # the pods the killed apply never created
            items = _settle(mp, unready=unready)
            assert set(batch) <= {p["metadata"]["name"] for p in items}
            check_network_matches_pods(mp, net)
            veths |= bridge_ports(net["bridge"])
            orphans.update(_orphan_inits(mp, uids))
            restarted.update(_restarted(mp, items))
            # Free some addresses for the next round to hand out again.
            mp.delete(*rng.sample(sorted(p["metadata"]["name"] for p in items), 5))
            check_network_matches_pods(mp, net)
        mp.delete(*[p["metadata"]["name"] for p in live_pods(mp)])
        _assert_no_network_left(mp, net, veths)
        orphans.update(_orphan_inits(mp, uids))
        assert not orphans, f"pod inits orphaned by the killed daemon: {orphans}"
        assert not restarted, f"containers the restarted daemon killed and restarted: {restarted}"
        assert not unready, f"pods running but never ready after the daemon's restart: {unready}"
    finally:
        delete_quietly(mp, *names)
        _clean_orphans(mp, uids)


def test_sigkill_during_deletions_keeps_leases_veths_and_pins_exact(fresh_mp, pod_name):
    """A deletion the daemon had begun is finished by the restarted daemon:
    the pod goes, with its lease, veth, pin and rule."""
    mp = fresh_mp
    net = instance_network(mp)
    rng = random.Random()
    prefix = f"{pod_name[:40]}-"
    uids: set[str] = set()  # of every pod the instance had
    names = [f"{prefix}{i}" for i in range(15)]
    ghosts: list[str] = []
    restarted: dict[str, str] = {}
    unready: list[str] = []
    try:
        mp.run_pod(manifest(*(sleeper_pod(n) for n in names)))
        check_network_matches_pods(mp, net)
        uids |= instance_uids(mp)
        veths = bridge_ports(net["bridge"])
        for rnd in range(3):
            doomed = rng.sample(sorted(p["metadata"]["name"] for p in live_pods(mp)), 4)
            wait = "--wait" if rnd % 2 == 0 else "--no-wait"  # one at a time, or all at once
            _kill_daemon_during(
                mp,
                "delete",
                "pod",
                *doomed,
                "--grace-period",
                "0",
                wait,
                "--ignore-not-found",
                delay=rng.uniform(0.02, 0.3),
            )
            stuck = _terminating_after(mp, 15)
            if stuck:
                # Remembered for the verdict below; deleted again so that
                # the rest of the test can check the network.
                ghosts += stuck
                mp.run("delete", "pod", *stuck, "--grace-period", "0", "--ignore-not-found")
            restarted.update(_restarted(mp, _settle(mp, timeout=30, unready=unready)))
            check_network_matches_pods(mp, net)
            mp.run("delete", "pod", *doomed, "--grace-period", "0", "--ignore-not-found")
            check_network_matches_pods(mp, net)
        mp.delete(*[p["metadata"]["name"] for p in live_pods(mp)])
        _assert_no_network_left(mp, net, veths)
        assert not _orphan_inits(mp, uids)
        assert not ghosts, (
            f"deletions begun before the SIGKILL never completed after the "
            f"restart (the pods stayed Terminating until deleted again): {ghosts}"
        )
        assert not restarted, f"containers the restarted daemon killed and restarted: {restarted}"
        assert not unready, f"pods running but never ready after the daemon's restart: {unready}"
    finally:
        delete_quietly(mp, *names)
        _clean_orphans(mp, uids)


def _terminating_after(mp, timeout: float) -> list[str]:
    """The pods still being deleted after `timeout` seconds."""
    deadline = time.time() + timeout
    while True:
        stuck = [p["metadata"]["name"] for p in live_pods(mp) if p["metadata"].get("deletionTimestamp")]
        if not stuck or time.time() > deadline:
            return stuck
        time.sleep(0.2)


def test_churn_of_200_pods_leaves_no_port_and_no_lease(mp, pod_name):
    net = instance_network(mp)
    ports_before = bridge_ports(net["bridge"])
    leases_before = leases(net["lease_dir"])
    pins_before = netns_pins(mp)
    names: list[str] = []
    started = time.monotonic()
    try:
        for rnd in range(4):
            batch = [f"{pod_name[:40]}-{rnd}-{i}" for i in range(50)]
            names += batch
            mp.run_pod(manifest(*(sleeper_pod(n) for n in batch)), timeout=60)
            assert len(bridge_ports(net["bridge"]) - ports_before) == 50
            assert len(set(leases(net["lease_dir"])) - set(leases_before)) == 50
            mp.delete(*batch)
            assert leases(net["lease_dir"]) == leases_before
        elapsed = time.monotonic() - started
        print(f"\nchurn: 200 pods created and deleted in {elapsed:.1f} s")
        assert bridge_ports(net["bridge"]) == ports_before
        assert leases(net["lease_dir"]) == leases_before
        assert netns_pins(mp) == pins_before
    finally:
        delete_quietly(mp, *names)


def _reference_conflist(inst: Minipod) -> dict:
    return {
        "cniVersion": "1.0.0",
        "name": f"refcni-{inst.bridge}",
        "plugins": [
            {
                "type": "bridge",
                "bridge": inst.bridge,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": inst.subnet}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": os.path.join(inst.root, "lib", "cni-leases"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


@pytest.mark.skipif(
    not _reference_plugins_installed(),
    reason="the reference CNI plugins (bridge, host-local, portmap) are not installed",
)
def test_reference_plugins_run_pods_under_minipod(pod_name):
    inst = Minipod(new_root("refcni"))
    conf_dir = os.path.join(inst.root, "etc", "net.d")
    os.makedirs(conf_dir)
    with open(os.path.join(conf_dir, "10-minipod.conflist"), "w") as f:
        json.dump(_reference_conflist(inst), f)
    a, b = f"{pod_name[:40]}-a", f"{pod_name[:40]}-b"
    port = free_port()
    veths: set[str] = set()
    try:
        _start(inst)
        net = instance_network(inst)
        assert net["name"] == f"refcni-{inst.bridge}"  # the daemon kept our list
        with OutsideHost() as outside:
            server = web_pod(a, ports=[{"containerPort": 8080, "hostPort": port}])
            try:
                inst.run_pod(manifest(server, web_pod(b)))
                ips = {n: pod_ip(inst, n) for n in (a, b)}
                assert ips[a] != ips[b]
                assert all(ipaddress.ip_address(ip) in net["subnet"] for ip in ips.values()), ips
                assert leases(net["lease_dir"]) == {ips[n]: inst.pod(n)["metadata"]["uid"] for n in (a, b)}
                for n in (a, b):
                    view = inst.inspect(n)["network"]
                    assert view["lease"] == os.path.join(net["lease_dir"], ips[n])
                    veths.add(view["vethHost"])
                assert bridge_ports(net["bridge"]) == veths
                # The pods reach each other, the host reaches them.
                wait_http(lambda: http_from_pod(inst, b, ips[a]), f"hello-from-{a}", f"{b} to reach {a}")
                wait_http(lambda: http_from_pod(inst, a, ips[b]), f"hello-from-{b}", f"{a} to reach {b}")
                assert http_get(ips[a]) == f"hello-from-{a}"
                # The hostPort, from another machine and from the host.
                wait_http(
                    lambda: outside.http_get(outside.host_ip, port),
                    f"hello-from-{a}",
                    f"the other host to reach hostPort {port}",
                )
                assert http_get(outside.host_ip, port) == f"hello-from-{a}"
                assert http_get("127.0.0.1", port) == f"hello-from-{a}"
                assert rules_with_port(nft_rules(), port), "no rule for the hostPort"
                uids = {inst.pod(n)["metadata"]["uid"] for n in (a, b)}
            finally:
                delete_quietly(inst, a, b)
            assert leases(net["lease_dir"]) == {}
            assert not [v for v in veths if link_exists(v)]
            assert outside.http_get(outside.host_ip, port) == ""
            assert not rules_with_port(nft_rules(), port), "a rule for the hostPort remains"
            left = [r for r in nft_rules() if any(u in json.dumps(r) for u in uids)]
            assert not left, f"rules of the deleted pods remain: {left}"
            # The bridge (the reference plugin made it) stays while the daemon
            # runs, with no port left; minipod removes it when it stops.
            assert bridge_ports(net["bridge"]) == set()
            inst.kill_daemon(signal.SIGTERM)
            assert not link_exists(net["bridge"]), "the daemon stopped with no pod and left its bridge"
    finally:
        try:
            _finish(inst)
        finally:
            if link_exists(inst.bridge):
                sh("ip", "link", "del", inst.bridge, check=False)
