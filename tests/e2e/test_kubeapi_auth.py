"""Issue 12: who may use the API. No credentials: 401; a certificate
from another CA (or signed by the instance's CA but expired): 401 with a
v1 Status, through urllib, curl and kubectl, not a failed handshake; a daemon SIGKILLed and
restarted keeps its CA, kubectl keeps working with the same kubeconfig,
and resourceVersions never go backwards."""

import base64
import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request

import pytest
import yaml
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


def _foreign_pki(tmp_path):
    from minipod.kubeapi import certs

    return certs.ensure_pki(str(tmp_path), "elsewhere", [])


def _expect_401(ctx, mp) -> None:
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"https://127.0.0.1:{mp.api_port}/api/v1/pods", context=ctx, timeout=10)
    assert e.value.code == 401
    status = json.loads(e.value.read())
    assert (status["kind"], status["status"], status["reason"]) == ("Status", "Failure", "Unauthorized")


def test_a_certificate_from_another_ca_is_401(mp, tmp_path):
    other = _foreign_pki(tmp_path)
    ctx = ssl.create_default_context(cafile=_ca(mp))
    ctx.load_cert_chain(other.path("admin.crt"), other.path("admin.key"))
    _expect_401(ctx, mp)
    # The same with curl, and the instance's own admin certificate still works.
    pki = os.path.join(mp.root, "etc", "pki")
    url = f"https://127.0.0.1:{mp.api_port}/api/v1/namespaces/default/pods"
    curl = ["curl", "-sS", "--cacert", _ca(mp), "-w", "\n%{http_code}", url]
    bad = subprocess.run(
        [*curl, "--cert", other.path("admin.crt"), "--key", other.path("admin.key")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    body, _, code = bad.stdout.rpartition("\n")
    assert code == "401" and json.loads(body)["reason"] == "Unauthorized", bad
    good = subprocess.run(
        [*curl, "--cert", f"{pki}/admin.crt", "--key", f"{pki}/admin.key"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert good.stdout.rpartition("\n")[2] == "200", good


def test_an_expired_certificate_of_the_instance_ca_is_401(mp, tmp_path):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    pki = os.path.join(mp.root, "etc", "pki")
    ca = x509.load_pem_x509_certificate(open(f"{pki}/ca.crt", "rb").read())
    ca_key = serialization.load_pem_private_key(open(f"{pki}/ca.key", "rb").read(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=2)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
            x509.NameAttribute(NameOID.COMMON_NAME, "expired-admin"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(past)
        .not_valid_after(past + datetime.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    (tmp_path / "c.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "c.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    ctx = ssl.create_default_context(cafile=_ca(mp))
    ctx.load_cert_chain(str(tmp_path / "c.crt"), str(tmp_path / "c.key"))
    _expect_401(ctx, mp)


def test_kubectl_with_a_self_made_certificate_is_unauthorized(mp, tmp_path):
    other = _foreign_pki(tmp_path)
    doc = yaml.safe_load(open(kubeconfig(mp)))
    user = doc["users"][0]["user"]
    user["client-certificate-data"] = base64.b64encode(open(other.path("admin.crt"), "rb").read()).decode()
    user["client-key-data"] = base64.b64encode(open(other.path("admin.key"), "rb").read()).decode()
    forged = tmp_path / "forged.kubeconfig"
    forged.write_text(yaml.safe_dump(doc))
    p = kubectl(mp, "get", "pods", "--kubeconfig", str(forged), check=False)
    assert p.returncode == 1
    # What kubectl prints for a 401 from a real cluster: "(Unauthorized)" when
    # its discovery cache is warm, "(the server has asked for the client to
    # provide credentials)" when discovery itself was refused.
    assert "error: You must be logged in to the server (" in p.stderr, p.stderr


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
