"""The IPAM's DEL given its ADD's result (prevResult) releases exactly the
leases of that attachment without reading every lease file; without a
prevResult it still finds them all."""

import os

from minipod.network.cni import ipam


def conf(tmp_path, prev_ips=None) -> dict:
    c = {
        "name": "net",
        "cniVersion": "1.0.0",
        "ipam": {"type": "minipod-ipam", "subnet": "10.77.0.0/24", "dataDir": str(tmp_path)},
    }
    if prev_ips is not None:
        c["prevResult"] = {"ips": [{"address": f"{ip}/24"} for ip in prev_ips]}
    return c


def env(cid: str) -> dict:
    return {"CNI_CONTAINERID": cid, "CNI_IFNAME": "eth0"}


def lease(tmp_path, cid: str) -> str:
    return ipam.allocate(conf(tmp_path), env(cid))["ips"][0]["address"].split("/")[0]


def test_del_with_prev_result_frees_only_this_attachments_leases(tmp_path):
    mine, theirs = lease(tmp_path, "a"), lease(tmp_path, "b")
    # A prevResult naming another attachment's address, or a path, frees nothing of it.
    freed = ipam.release(conf(tmp_path, [mine, theirs, "../../etc/passwd"]), env("a"))
    assert freed == [mine]
    assert not os.path.exists(tmp_path / "net" / mine)
    assert os.path.exists(tmp_path / "net" / theirs)


def test_del_without_prev_result_or_with_a_stale_one_finds_the_leases(tmp_path):
    mine = lease(tmp_path, "a")
    assert ipam.release(conf(tmp_path, ["10.77.0.200"]), env("a")) == [mine]
    again = lease(tmp_path, "a")
    assert ipam.release(conf(tmp_path), env("a")) == [again]
    assert ipam.release(conf(tmp_path), env("a")) == []


def test_an_empty_lease_of_a_killed_allocator_is_freed_by_the_del_that_finds_none(tmp_path):
    theirs = lease(tmp_path, "b")
    (tmp_path / "net" / "10.77.0.99").write_text("")  # created, never written
    assert ipam.release(conf(tmp_path), env("a")) == ["10.77.0.99"]
    assert sorted(os.listdir(tmp_path / "net")) == sorted([theirs, "last_reserved_ip.0", "lock"])
    assert ipam.release(conf(tmp_path, [theirs]), env("b")) == [theirs]
