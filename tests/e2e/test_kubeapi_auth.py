"""Issue 12: who may use the API. No credentials: 401; a certificate
from another CA: refused at the TLS handshake; a daemon SIGKILLed and
restarted keeps its CA, kubectl keeps working with the same kubeconfig,
and resourceVersions never go backwards."""

import json
import os
import ssl
import urllib.error
import urllib.request

import pytest
from helpers.kubectl import kubeconfig, kubectl


def _ca(mp) -> str:
    return os.path.join(mp.root, "etc", "pki", "ca.crt")


def test_no_credentials_is_401(mp):
    ctx = ssl.create_default_context(cafile=_ca(mp))
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"https://127.0.0.1:{mp.api_port}/api/v1/pods", context=ctx, timeout=10)
    assert e.value.code == 401
    status = json.loads(e.value.read())
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "Unauthorized", 401)


def test_a_bad_token_is_401(mp):
    ctx = ssl.create_default_context(cafile=_ca(mp))
    req = urllib.request.Request(
        f"https://127.0.0.1:{mp.api_port}/api/v1/pods", headers={"Authorization": "Bearer not.a.token"}
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, context=ctx, timeout=10)
    assert e.value.code == 401


def test_a_certificate_from_another_ca_is_refused(mp, tmp_path):
    from minipod.kubeapi import certs

    other = certs.ensure_pki(str(tmp_path), "elsewhere", [])
    ctx = ssl.create_default_context(cafile=_ca(mp))
    ctx.load_cert_chain(other.path("admin.crt"), other.path("admin.key"))
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionResetError)):
        urllib.request.urlopen(f"https://127.0.0.1:{mp.api_port}/api/v1/pods", context=ctx, timeout=10)


def _hex(address: str) -> str:
    """An IPv4 address as /proc/net/tcp writes it (little-endian hex)."""
    return "".join(f"{int(part):02X}" for part in reversed(address.split(".")))


def test_listens_on_loopback_and_the_pod_gateway_only(mp):
    import ipaddress

    with open(os.path.join(mp.root, "etc", "apiserver.json")) as f:
        assert json.load(f) == {"address": "127.0.0.1", "port": mp.api_port}
    gateway = str(ipaddress.ip_network(mp.subnet)[1])
    listening = open("/proc/net/tcp").read().split("\n")[1:]
    ours = {  # state 0A: LISTEN
        line.split()[1]
        for line in listening
        if line and line.split()[1].endswith(f":{mp.api_port:04X}") and line.split()[3] == "0A"
    }
    assert ours == {f"{_hex('127.0.0.1')}:{mp.api_port:04X}", f"{_hex(gateway)}:{mp.api_port:04X}"}, ours


def test_admin_kubeconfig_is_0600_and_minipod_prints_it(mp):
    assert os.stat(kubeconfig(mp)).st_mode & 0o777 == 0o600
    assert mp.run("kubeconfig").stdout == open(kubeconfig(mp)).read()


def test_kubeconfig_merge_keeps_other_entries(mp, tmp_path):
    import yaml

    target = tmp_path / "config"
    other = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "prod", "cluster": {"server": "https://prod.example:6443"}}],
        "users": [{"name": "prod", "user": {"token": "t"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "prod"}}],
        "current-context": "prod",
    }
    target.write_text(yaml.safe_dump(other))
    env = dict(os.environ, KUBECONFIG=str(target), MINIPOD_NO_AUTOSTART="1")
    import subprocess

    from helpers.instance import MINIPOD

    subprocess.run(
        [MINIPOD, "--root", mp.root, "kubeconfig", "--merge"], env=env, check=True, capture_output=True
    )
    merged = yaml.safe_load(target.read_text())
    assert [c["name"] for c in merged["clusters"]] == ["prod", "minipod"]
    assert [u["name"] for u in merged["users"]] == ["prod", "minipod"]
    assert merged["current-context"] == "prod"
    assert os.stat(target).st_mode & 0o777 == 0o600


def test_sigkill_keeps_the_ca_and_resource_versions_go_on(fresh_mp):
    mp = fresh_mp
    ca = open(_ca(mp), "rb").read()
    kubectl(mp, "create", "configmap", "before", "--from-literal=a=1")
    rv_before = int(kubectl(mp, "get", "cm", "before", "-o", "jsonpath={.metadata.resourceVersion}").stdout)
    mp.kill_daemon()
    mp.start_daemon()
    assert open(_ca(mp), "rb").read() == ca
    assert kubectl(mp, "get", "cm", "before", "-o", "jsonpath={.data.a}").stdout == "1"
    kubectl(mp, "create", "configmap", "after", "--from-literal=a=2")
    rv_after = int(kubectl(mp, "get", "cm", "after", "-o", "jsonpath={.metadata.resourceVersion}").stdout)
    assert rv_after > rv_before
    raw = kubectl(mp, "get", "--raw", "/api/v1/namespaces/default/configmaps").stdout
    listed = int(json.loads(raw)["metadata"]["resourceVersion"])
    assert listed >= rv_after
