"""Stats and resources of CRI containers, from and into their cgroups."""

import json
import os

from minipod.cri import api_pb2

MI = 1024 * 1024


def memory_limit(pid: int) -> str:
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.strip().split(":", 2)
            if controllers == "memory":
                with open(
                    os.path.join("/sys/fs/cgroup/memory", path.lstrip("/"), "memory.limit_in_bytes")
                ) as m:
                    return m.read().strip()
    raise AssertionError(f"no memory cgroup for {pid}")


def test_resources_limits_stats_and_update(cri_pods):
    sid, config = cri_pods.run("stats")
    res = api_pb2.LinuxContainerResources(memory_limit_in_bytes=64 * MI, cpu_period=100000, cpu_quota=50000)
    cid = cri_pods.create(
        sid,
        config,
        "c",
        ["sh", "-c", "head -c 8m /dev/zero > /tmp/fill; exec sleep 300"],
        linux=api_pb2.LinuxContainerConfig(resources=res),
    )
    cri_pods.start(cid)
    pid = json.loads(cri_pods.status(cid, verbose=True).info["info"])["pid"]
    assert memory_limit(pid) == str(64 * MI)

    rt = cri_pods.rt
    stats = rt.ContainerStats(api_pb2.ContainerStatsRequest(container_id=cid), timeout=10).stats
    assert stats.attributes.id == cid and stats.attributes.metadata.name == "c"
    assert stats.memory.working_set_bytes.value > 0
    assert stats.cpu.usage_core_nano_seconds.value > 0
    listed = rt.ListContainerStats(
        api_pb2.ListContainerStatsRequest(filter=api_pb2.ContainerStatsFilter(pod_sandbox_id=sid)), timeout=10
    )
    assert [s.attributes.id for s in listed.stats] == [cid]
    pod = rt.PodSandboxStats(api_pb2.PodSandboxStatsRequest(pod_sandbox_id=sid), timeout=10).stats
    assert pod.attributes.id == sid
    assert pod.linux.memory.working_set_bytes.value >= stats.memory.working_set_bytes.value
    assert [c.attributes.id for c in pod.linux.containers] == [cid]

    bigger = api_pb2.LinuxContainerResources(memory_limit_in_bytes=128 * MI)
    rt.UpdateContainerResources(
        api_pb2.UpdateContainerResourcesRequest(container_id=cid, linux=bigger), timeout=10
    )
    assert memory_limit(pid) == str(128 * MI)


def test_list_pod_sandbox_stats_filters_by_label(cri_pods):
    a, _ = cri_pods.run("stats-a", labels={"k": "a"})
    cri_pods.run("stats-b", labels={"k": "b"})
    f = api_pb2.PodSandboxStatsFilter(label_selector={"k": "a"})
    stats = cri_pods.rt.ListPodSandboxStats(api_pb2.ListPodSandboxStatsRequest(filter=f), timeout=10).stats
    assert [s.attributes.id for s in stats] == [a]
