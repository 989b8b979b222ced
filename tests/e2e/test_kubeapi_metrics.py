"""Issue 12: `kubectl top pod` and `kubectl top node` over HTTPS, through
metrics.k8s.io/v1beta1 (PodMetrics, NodeMetrics) as metrics-server answers,
found by kubectl through discovery; read from the same cgroup readings as
the socket API's top; and the same through the Python client."""

import json

from helpers.host import eventually
from helpers.kubectl import kubectl
from helpers.pods import ctr, pod

# Busy enough to show CPU use, with memory the cgroup counts.
BUSY = "head -c 20000000 /dev/zero > /dev/shm/blob; while true; do :; done"


def test_discovery_names_the_metrics_group(mp):
    groups = json.loads(kubectl(mp, "get", "--raw", "/apis").stdout)["groups"]
    assert {
        "name": "metrics.k8s.io",
        "versions": [{"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}],
        "preferredVersion": {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"},
    } in groups
    out = kubectl(mp, "api-resources", "--api-group=metrics.k8s.io").stdout.split("\n")
    assert out[1].split() == ["nodes", "metrics.k8s.io/v1beta1", "false", "NodeMetrics"]
    assert out[2].split() == ["pods", "metrics.k8s.io/v1beta1", "true", "PodMetrics"]


def test_kubectl_top_pod_and_node(mp, pods):
    pods.run(pod("top-busy", ctr("main", BUSY), labels={"top": "busy"}))
    pods.run(pod("top-idle", ctr("main", "exec sleep 3600")))

    def busy_row():
        out = kubectl(mp, "top", "pod", "-l", "top=busy").stdout.split("\n")
        assert out[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
        [row] = [line.split() for line in out[1:] if line]
        return row if row[0] == "top-busy" and int(row[1].rstrip("m")) > 100 else None

    name, cpu, mem = eventually(busy_row, timeout=30, what="the busy pod's CPU in kubectl top")
    assert mem.endswith("Mi") and int(mem[:-2]) >= 19  # the 20 MB file in /dev/shm is the pod's
    all_pods = kubectl(mp, "top", "pod", "--containers").stdout.split("\n")
    assert all_pods[0].split() == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert any(line.split()[:2] == ["top-idle", "main"] for line in all_pods[1:] if line)
    nodes = kubectl(mp, "top", "node").stdout.split("\n")
    assert nodes[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    row = nodes[1].split()
    assert row[1].endswith("m") and row[2].endswith("%") and row[3].endswith("Mi") and row[4].endswith("%")
    one = json.loads(
        kubectl(mp, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/top-idle").stdout
    )
    assert one["kind"] == "PodMetrics" and one["containers"][0]["name"] == "main"
    assert one["containers"][0]["usage"]["cpu"].endswith("n") and one["containers"][0]["usage"][
        "memory"
    ].endswith("Ki")
    p = kubectl(mp, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nope", check=False)
    assert p.returncode == 1 and "NotFound" in p.stderr
    # Read only, as metrics-server.
    p = kubectl(
        mp,
        "create",
        "--raw",
        "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods",
        "-f",
        "-",
        input='{"metadata": {"name": "x"}}',
        check=False,
    )
    assert p.returncode == 1 and "MethodNotAllowed" in p.stderr, p.stderr


def test_python_client_reads_pod_metrics(mp, pods):
    import kubernetes
    from kubernetes import config

    pods.run(pod("top-py", ctr("main", "exec sleep 3600")))
    api = kubernetes.client.CustomObjectsApi(
        config.new_client_from_config(config_file=f"{mp.root}/etc/admin.kubeconfig")
    )
    got = api.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", "default", "pods")
    assert got["kind"] == "PodMetricsList"
    assert "top-py" in [i["metadata"]["name"] for i in got["items"]]
    nodes = api.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")
    assert nodes["kind"] == "NodeMetricsList" and len(nodes["items"]) == 1
