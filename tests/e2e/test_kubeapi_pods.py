"""Issue 12: pods use the API as in a cluster: a `default` ServiceAccount,
the projected kube-api-access volume, KUBERNETES_SERVICE_HOST/PORT at the
`kubernetes` Service's ClusterIP, which the pod reaches, and a token bound to the pod: it may read, not
write, and is worthless once the pod is deleted."""

import ipaddress
import json

import pytest
from helpers.kubectl import kubectl
from helpers.pods import ctr, pod

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def _in_cluster_client(tmp_path, token: str, ca: str, env: dict):
    """The official client's in-cluster configuration, fed the pod's own
    files and variables (read out of the pod)."""
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.config.incluster_config import InClusterConfigLoader

    (tmp_path / "token").write_text(token)
    (tmp_path / "ca.crt").write_text(ca)
    config = kubernetes.client.Configuration()
    InClusterConfigLoader(str(tmp_path / "token"), str(tmp_path / "ca.crt"), environ=env).load_and_set(config)
    return kubernetes.client.CoreV1Api(kubernetes.client.ApiClient(config)), kubernetes.client.ApiException


def test_a_pod_lists_pods_with_its_token(mp, pods, tmp_path):
    pods.add("ic-pod")
    kubectl(mp, "run", "ic-pod", "--image=busybox:1.35", "--", "sleep", "3600")
    kubectl(mp, "wait", "--for=condition=Ready", "pod/ic-pod", "--timeout=30s")
    spec = json.loads(kubectl(mp, "get", "pod", "ic-pod", "-o", "json").stdout)["spec"]
    assert spec["serviceAccountName"] == "default"
    [volume] = [v for v in spec["volumes"] if v["name"].startswith("kube-api-access-")]
    assert spec["containers"][0]["volumeMounts"] == [
        {"name": volume["name"], "mountPath": SA_DIR, "readOnly": True}
    ]

    def sh(script: str) -> str:
        return kubectl(mp, "exec", "ic-pod", "--", "sh", "-c", script).stdout

    token, ca, ns = sh(f"cat {SA_DIR}/token"), sh(f"cat {SA_DIR}/ca.crt"), sh(f"cat {SA_DIR}/namespace")
    assert ns == "default" and ca.startswith("-----BEGIN CERTIFICATE-----")
    env = dict(line.split("=", 1) for line in sh("env").splitlines() if line.startswith("KUBERNETES_"))
    # The `kubernetes` Service's ClusterIP and port, as on a cluster.
    assert env["KUBERNETES_SERVICE_HOST"] == str(ipaddress.ip_network(mp.service_cidr)[1])
    assert env["KUBERNETES_SERVICE_PORT"] == "443"
    # The pod reaches that address from its own network namespace, and the
    # Service's DNS name too (the service proxy DNATs it to the API).
    sh(f"echo | nc -w 3 {env['KUBERNETES_SERVICE_HOST']} {env['KUBERNETES_SERVICE_PORT']}")
    sh("echo | nc -w 3 kubernetes.default.svc 443")
    # A write is refused, and the file is read-only.
    assert sh(f"touch {SA_DIR}/x 2>&1 || echo refused").strip().endswith("refused")

    api, ApiException = _in_cluster_client(tmp_path, token, ca, env)
    names = [p.metadata.name for p in api.list_namespaced_pod(ns).items]
    assert "ic-pod" in names
    with pytest.raises(ApiException) as e:
        api.create_namespaced_config_map(ns, {"metadata": {"name": "ic-denied"}})
    assert e.value.status == 403 and "system:serviceaccount:default:default" in e.value.body

    kubectl(mp, "delete", "pod", "ic-pod", "--grace-period=0")
    with pytest.raises(ApiException) as e:
        api.list_namespaced_pod(ns)
    assert e.value.status == 401


def test_automount_false_and_a_missing_serviceaccount(mp, pods):
    pods.add("ic-none")
    doc = pod("ic-none", ctr("main", "exec sleep 3600"), automountServiceAccountToken=False)
    kubectl(mp, "apply", "-f", "-", input=json.dumps(doc))
    spec = json.loads(kubectl(mp, "get", "pod", "ic-none", "-o", "json").stdout)["spec"]
    assert not any(v["name"].startswith("kube-api-access-") for v in spec.get("volumes") or [])
    bad = pod("ic-nosa", ctr("main", "exec sleep 3600"), serviceAccountName="nobody")
    p = kubectl(mp, "apply", "-f", "-", input=json.dumps(bad), check=False)
    assert p.returncode == 1
    assert 'error looking up service account default/nobody: serviceaccount "nobody" not found' in p.stderr
