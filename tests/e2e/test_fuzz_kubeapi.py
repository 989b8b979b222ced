"""Issue 11: the fuzz run of test_fuzz.py against the Kubernetes API over
HTTPS, as the admin: mutated objects, patches, hostile names and queries on
a few kinds. No 5xx, no traceback in an answer or in the daemon's log.
MINIPOD_FUZZ_SEED=N replays a run."""

import os
import random

from helpers import fuzz
from test_fuzz import daemon_log, delete_all


def test_fuzz_kubernetes_api(fresh_mp, tmp_path):
    """The same against the Kubernetes API over HTTPS, as the admin."""
    mp = fresh_mp
    seed = int(os.environ.get("MINIPOD_FUZZ_SEED") or random.randrange(1 << 32))
    why = f"(replay with MINIPOD_FUZZ_SEED={seed})"
    server, ctx = admin_tls(mp, tmp_path)
    answers: dict[int, int] = {}
    try:
        for method, path, body, ctype in fuzz.kube_requests(random.Random(seed), N_KUBE):
            status, raw = https_request(server, ctx, method, path, body, ctype)
            answers[status] = answers.get(status, 0) + 1
            assert status < 500 and b"Traceback" not in raw, (
                f"{method} {path} {ctype} {why}: {status} {raw[:500]!r}\n{(body or b'')[:500]!r}\n{daemon_log(mp)}"
            )
    finally:
        delete_all(mp)
    print(f"kubernetes API fuzz seed {seed}: {answers}")
    assert sum(n for s, n in answers.items() if 400 <= s < 500), answers
    log = daemon_log(mp)
    assert "Traceback" not in log and "internal error" not in log, f"{why}\n{log}"


def test_apply_body_must_name_the_url_object(fresh_mp, tmp_path):
    """Two answers the fuzz found as 500s: server-side apply of a body whose
    name is not the URL's, or not a string, is a 400 as on a cluster."""
    import json

    server, ctx = admin_tls(fresh_mp, tmp_path)
    path = "/api/v1/namespaces/default/configmaps/ssa-a?fieldManager=test"
    for name, message in (("ssa-b", b"does not match the name on the URL"), (2147483648, b"of type string")):
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}).encode()
        status, raw = https_request(server, ctx, "PATCH", path, body, "application/apply-patch+yaml")
        assert status == 400 and message in raw, raw
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa-a"}}).encode()
    status, raw = https_request(server, ctx, "PATCH", path, body, "application/apply-patch+yaml")
    assert status == 201, raw
    https_request(server, ctx, "DELETE", "/api/v1/namespaces/default/configmaps/ssa-a", None, "")


N_KUBE = 250


def admin_tls(mp, tmp_path):
    """The API's address and a TLS context holding the admin's certificate."""
    import base64
    import ssl

    import yaml

    with open(os.path.join(mp.root, "etc", "admin.kubeconfig")) as f:
        config = yaml.safe_load(f)
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    files = {}
    for key in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
        data = cluster.get(key) or user.get(key)
        files[key] = tmp_path / key
        files[key].write_bytes(base64.b64decode(data))
    ctx = ssl.create_default_context(cafile=str(files["certificate-authority-data"]))
    ctx.check_hostname = False
    ctx.load_cert_chain(str(files["client-certificate-data"]), str(files["client-key-data"]))
    return cluster["server"], ctx


def https_request(server: str, ctx, method: str, path: str, body, ctype: str) -> tuple[int, bytes]:
    import http.client
    import urllib.parse

    url = urllib.parse.urlsplit(server)
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=ctx, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": ctype} if body is not None else {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()
