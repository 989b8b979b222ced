"""The pod network's fast paths on real kernel objects: masquerade elements
of pods added together in one nft transaction (each caller its own error),
and DELs whose veth deletions leave the event loop free.

Same ground rules as test_cni_plugins.py: root, a fresh private network per
test (helpers.cni.Net), everything removed at the end.
"""

import asyncio
import ipaddress
import os
import time

from helpers.cni import run_plugin
from helpers.network import nft_set_elements

from minipod.network import masquerade, netlink, nft, nft_elements
from minipod.network.cni import bridge


def _counting_nft(monkeypatch) -> list[str]:
    """Record each nft transaction, through libnftables or netfilter netlink
    (the real one still runs)."""
    calls: list[str] = []
    real_run, real_send = nft.run, nft_elements.send

    def run(commands, what):
        calls.append(what)
        return real_run(commands, what)

    def send(groups):
        calls.append(f"netlink {groups}")
        return real_send(groups)

    monkeypatch.setattr(nft, "run", run)
    monkeypatch.setattr(nft_elements, "send", send)
    return calls


def test_element_adds_of_one_loop_turn_are_one_transaction_and_a_bad_one_fails_alone(net, monkeypatch):
    hosts = [str(h) for h in list(net.subnet.hosts())[10:16]]
    calls = _counting_nft(monkeypatch)

    async def main():
        adds = [masquerade.add(net.table, str(net.subnet), ip, f"pod-{i} eth0") for i, ip in enumerate(hosts)]
        adds.append(masquerade.add(net.table, str(net.subnet), "10.0.0.300", "bad eth0"))
        return await asyncio.gather(*adds, return_exceptions=True)

    try:
        out = asyncio.run(main())
        assert out[:-1] == [None] * len(hosts)
        assert isinstance(out[-1], nft.NftError)
        assert nft_set_elements(net.table) == {ip: f"masq pod-{i} eth0" for i, ip in enumerate(hosts)}
        # One transaction for all (it failed on the bad element), then each alone.
        assert len(calls) == 1 + len(hosts) + 1, calls
        calls.clear()

        async def delete_all():
            return await asyncio.gather(
                *(masquerade.delete(net.table, str(net.subnet), ip) for ip in hosts + [hosts[0]])
            )

        # Deleting one element twice fails that transaction: each alone, the
        # repeat says "missing" (False), the others are gone.
        assert asyncio.run(delete_all()) == [True] * len(hosts) + [False]
        assert nft_set_elements(net.table) == {}
        calls.clear()
        asyncio.run(delete_all())  # all missing now
        assert nft_set_elements(net.table) == {}
    finally:
        masquerade.forget(net.table)


def test_concurrent_adds_in_one_loop_each_get_their_element_and_one_failure_fails_only_itself(net):
    nss = [net.new_netns() for _ in range(5)]
    conf = net.bridge_conf()
    envs = [net.env(f"batch-{i}", ns) for i, ns in enumerate(nss)]
    envs.append(net.env("batch-missing", "/run/netns/does-not-exist"))

    async def main():
        return await asyncio.gather(*(bridge.add_async(dict(conf), e) for e in envs), return_exceptions=True)

    try:
        out = asyncio.run(main())
        ok, failed = out[:-1], out[-1]
        assert all(isinstance(r, dict) for r in ok), ok
        assert getattr(failed, "code", None) == 3, failed  # CNI error 3: unknown container
        ips = [r["ips"][0]["address"].split("/")[0] for r in ok]
        assert len(set(ips)) == len(ips)
        assert all(ipaddress.ip_address(ip) in net.subnet for ip in ips)
        assert nft_set_elements(net.table) == {ip: f"masq batch-{i} eth0" for i, ip in enumerate(ips)}
        for i, ns in enumerate(nss):  # each pod has its address, link up, route
            p = run_plugin("minipod-bridge", "CHECK", dict(conf, prevResult=ok[i]), net.env(f"batch-{i}", ns))
            assert p[0] == 0, p[2]

        async def delete_all():
            await asyncio.gather(
                *(bridge.delete_async(dict(conf, prevResult=r), e) for r, e in zip(ok, envs, strict=False))
            )

        asyncio.run(delete_all())
        assert not nft.table_exists(net.table)  # the last pod gone: the table too
        assert net.leases() == {}
    finally:
        masquerade.forget(net.table)


def test_veth_deletions_leave_the_event_loop_ticking(net):
    """RTM_DELLINK blocks its caller for 10-25 ms of RCU waits: done on the
    loop, deleting n veths stalls the loop for all of it. A heartbeat task
    measures how long the loop was stalled (gaps over 5 ms) while 8 pods'
    veths are deleted at once; then their DELs run (the veths gone is fine)."""
    nss = [net.new_netns() for _ in range(8)]
    conf = net.bridge_conf()
    results = []
    for i, ns in enumerate(nss):
        rc, res, err = net.add(f"hb-{i}", ns)
        assert rc == 0, err
        results.append(res)
    veths = [bridge.host_veth_name(f"hb-{i}", "eth0") for i in range(len(nss))]

    async def main():
        stalled, ticks, done = 0.0, 0, False

        async def heartbeat():
            nonlocal stalled, ticks
            last = time.perf_counter()
            while not done:
                await asyncio.sleep(0)
                now = time.perf_counter()
                if now - last > 0.005:
                    stalled += now - last
                last, ticks = now, ticks + 1

        hb = asyncio.create_task(heartbeat())
        await asyncio.sleep(0)
        began = time.perf_counter()
        deleted = await asyncio.gather(*(netlink.teardown_link(v) for v in veths))
        wall = time.perf_counter() - began
        done = True
        await hb
        assert deleted == [True] * len(veths)
        await asyncio.gather(
            *(
                bridge.delete_async(dict(conf, prevResult=r), net.env(f"hb-{i}", ns))
                for i, (r, ns) in enumerate(zip(results, nss, strict=True))
            )
        )
        return stalled, ticks, wall

    try:
        stalled, ticks, wall = asyncio.run(main())
    finally:
        masquerade.forget(net.table)
    assert not any(os.path.exists(f"/sys/class/net/{v}") for v in veths)
    assert net.leases() == {}
    assert ticks > 10, ticks
    # On the loop, the deletions stall it for nearly all the wall time.
    assert stalled < 0.5 * wall, f"the loop stalled {stalled * 1000:.0f} ms of {wall * 1000:.0f} ms"
