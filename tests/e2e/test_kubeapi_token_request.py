"""`kubectl create token`: a TokenRequest on serviceaccounts/NAME/token
gives a token the API accepts for that ServiceAccount, until the
ServiceAccount (or the pod it is bound to) is deleted."""

import base64
import json

from helpers.kubectl import kubectl


def claims(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def as_token(mp, token: str, *args: str):
    """kubectl with only the token: no client certificate."""
    server = json.loads(kubectl(mp, "config", "view", "--raw", "-o", "json").stdout)["clusters"][0]["cluster"]
    return kubectl(
        mp,
        "--kubeconfig=/dev/null",
        f"--server={server['server']}",
        "--insecure-skip-tls-verify",
        f"--token={token}",
        *args,
        check=False,
    )


def test_create_token_for_a_serviceaccount(mp):
    kubectl(mp, "create", "serviceaccount", "robot")
    try:
        token = kubectl(mp, "create", "token", "robot", "--duration=20m").stdout.strip()
        c = claims(token)
        assert c["sub"] == "system:serviceaccount:default:robot" and c["exp"] - c["iat"] == 1200
        p = as_token(mp, token, "get", "pods")
        assert p.returncode == 0, p.stderr
        p = as_token(mp, token, "auth", "whoami")
        assert "system:serviceaccount:default:robot" in p.stdout, p.stdout + p.stderr
        p = as_token(mp, token, "create", "configmap", "robot-cm")
        assert p.returncode == 1 and "forbidden" in p.stderr, p.stderr
        # A token for another audience is not one for this API.
        other = kubectl(mp, "create", "token", "robot", "--audience=vault").stdout.strip()
        assert as_token(mp, other, "get", "pods").returncode == 1
        p = kubectl(mp, "create", "token", "robot", "--duration=5m", check=False)
        assert p.returncode == 1 and "may not specify a duration less than 10 minutes" in p.stderr, p.stderr
        p = kubectl(mp, "create", "token", "nobody-here", check=False)
        assert p.returncode == 1 and 'serviceaccounts "nobody-here" not found' in p.stderr, p.stderr
    finally:
        kubectl(mp, "delete", "serviceaccount", "robot")
    # The ServiceAccount is gone: so is what its token was worth.
    p = as_token(mp, token, "get", "pods")
    assert p.returncode == 1 and "Unauthorized" in p.stderr, p.stderr


def test_a_token_bound_to_a_secret_dies_with_it(mp):
    kubectl(mp, "create", "secret", "generic", "bound-to", "--from-literal=a=b")
    token = kubectl(
        mp, "create", "token", "default", "--bound-object-kind=Secret", "--bound-object-name=bound-to"
    )
    token_text = token.stdout.strip()
    assert claims(token_text)["kubernetes.io"]["secret"]["name"] == "bound-to"
    assert as_token(mp, token_text, "get", "pods").returncode == 0
    kubectl(mp, "delete", "secret", "bound-to")
    assert as_token(mp, token_text, "get", "pods").returncode == 1
