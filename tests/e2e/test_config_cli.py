"""Issue 15: `minipod create configmap|secret` as kubectl's generators, and
get / describe / delete of what they made (Secret values never printed)."""

import base64
import json
import os

from helpers.instance import running_instance
from helpers.kubectl import kubectl

VALUE = "pa55-Wq7-never-shown"


def test_create_configmap_from_literals_files_and_env_files(mp, tmp_path):
    (tmp_path / "app.conf").write_text("port=80\n")
    (tmp_path / "blob").write_bytes(b"\xff\x00\x01")
    (tmp_path / "vars.env").write_text("# a comment\n\nCOLOR=blue\nSIZE=2\n")
    try:
        out = mp.run(
            "create",
            "configmap",
            "cli-cm",
            "--from-literal",
            "greeting=hello=world",
            "--from-file",
            str(tmp_path / "app.conf"),
            "--from-file",
            f"raw={tmp_path / 'blob'}",
            "--from-env-file",
            str(tmp_path / "vars.env"),
        )
        assert out.stdout == "configmap/cli-cm created\n"
        got = json.loads(kubectl(mp, "get", "configmap", "cli-cm", "-o", "json").stdout)
        assert got["data"] == {
            "greeting": "hello=world",
            "app.conf": "port=80\n",
            "COLOR": "blue",
            "SIZE": "2",
        }
        assert base64.b64decode(got["binaryData"]["raw"]) == b"\xff\x00\x01"
        listed = mp.run("get", "configmaps").stdout
        assert any(line.split()[:2] == ["cli-cm", "5"] for line in listed.splitlines()), listed
        twice = mp.run(
            "create", "configmap", "cli-cm2", "--from-literal", "a=1", "--from-literal", "a=2", check=False
        )
        assert twice.returncode == 1
        assert (
            'cannot add key a, another key by that name already exists in data for ConfigMap "cli-cm2"'
            in twice.stderr
        )
        bad = mp.run("create", "configmap", "cli-cm3", "--from-literal", "a b=1", check=False)
        assert (
            bad.returncode == 1
            and "a valid config key must consist of" in bad.stderr
            and "Traceback" not in bad.stderr
        )
    finally:
        mp.run("delete", "configmap", "cli-cm", "--ignore-not-found")
    assert mp.run("get", "configmap", "cli-cm", check=False).returncode == 1


def test_create_secrets_and_describe_never_prints_values(mp, tmp_path):
    try:
        out = mp.run("create", "secret", "generic", "cli-secret", "--from-literal", f"password={VALUE}")
        assert out.stdout == "secret/cli-secret created\n"
        described = mp.run("describe", "secret", "cli-secret").stdout
        assert f"password:  {len(VALUE)} bytes" in described and VALUE not in described
        got = json.loads(kubectl(mp, "get", "secret", "cli-secret", "-o", "json").stdout)
        assert got["type"] == "Opaque" and base64.b64decode(got["data"]["password"]).decode() == VALUE
        mp.run(
            "create",
            "secret",
            "docker-registry",
            "cli-pull",
            "--docker-server",
            "registry.example:5000",
            "--docker-username",
            "alice",
            "--docker-password",
            VALUE,
        )
        pull = json.loads(kubectl(mp, "get", "secret", "cli-pull", "-o", "json").stdout)
        assert pull["type"] == "kubernetes.io/dockerconfigjson"
        auths = json.loads(base64.b64decode(pull["data"][".dockerconfigjson"]))["auths"]
        assert auths["registry.example:5000"]["auth"] == base64.b64encode(f"alice:{VALUE}".encode()).decode()
        (tmp_path / "tls.crt").write_text("CERT")
        (tmp_path / "tls.key").write_text("KEY")
        mp.run(
            "create",
            "secret",
            "tls",
            "cli-tls",
            "--cert",
            str(tmp_path / "tls.crt"),
            "--key",
            str(tmp_path / "tls.key"),
        )
        assert "kubernetes.io/tls" in mp.run("get", "secrets").stdout
        assert VALUE not in mp.run("describe", "secret", "cli-pull").stdout
    finally:
        mp.run("delete", "secret", "cli-secret", "cli-pull", "cli-tls", "--ignore-not-found")


def test_secrets_encrypted_at_rest_with_an_encryption_configuration():
    key = base64.b64encode(os.urandom(32)).decode()

    def setup(inst):
        os.makedirs(os.path.join(inst.root, "etc"), exist_ok=True)
        with open(os.path.join(inst.root, "etc", "encryption-config.yaml"), "w") as f:
            f.write(
                "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                f"- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - {{name: k1, secret: {key}}}\n"
                "  - identity: {}\n"
            )

    with running_instance("cfgenc", setup=setup) as inst:
        inst.run("create", "secret", "generic", "enc", "--from-literal", f"password={VALUE}")
        path = os.path.join(inst.root, "lib", "objects", "core_secrets", "default_enc.json")
        with open(path, "rb") as f:
            raw = f.read()
        assert raw.startswith(b"k8s:enc:aescbc:v1:k1:") and VALUE.encode() not in raw
        # A restarted daemon reads it back.
        inst.kill_daemon()
        inst.start_daemon()
        got = json.loads(inst.run("get", "secret", "enc", "-o", "json").stdout)
        assert base64.b64decode(got["data"]["password"]).decode() == VALUE
        inst.run("delete", "secret", "enc")
