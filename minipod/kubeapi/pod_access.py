"""Pods using the Kubernetes API, as in a cluster.

inject() is the ServiceAccount admission step, run when the API creates a
pod: unless `automountServiceAccountToken: false` (on the pod or its
ServiceAccount), the pod gets a projected volume `kube-api-access-XXXXX`
(token, ca.crt, namespace) mounted read-only at
/var/run/secrets/kubernetes.io/serviceaccount in every container.

PodApiAccess is what the pod worker calls before each container start:
    write_files()  the volume's three files in the pod's run dir: a fresh
                   token (tokens.py, bound to the pod's uid), the
                   instance's CA, the namespace;
    add_env()      KUBERNETES_SERVICE_HOST/PORT (and the other service
                   variables a kubelet sets) pointing at the bridge's
                   gateway, where this API also listens for pods; and the
                   variables of the pod's namespace's Services.
"""

import os
import time

from minipod.kube.implemented import SERVICE_ACCOUNT_VOLUME_PREFIX, is_service_account_volume
from minipod.kubeapi import tokens
from minipod.linux.launch_spec import API_ACCESS_DIR
from minipod.objects import meta as objmeta
from minipod.objects.resources import builtin, find
from minipod.services import service_env as service_links

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def projected_volume(name: str) -> dict:
    return {
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": tokens.LIFETIME, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
        },
    }


def inject(pod: dict, service_account: dict) -> dict:
    """The pod with its token volume and mounts (pure; `pod` is changed)."""
    spec = pod["spec"]
    if spec.get("automountServiceAccountToken") is False:
        return pod
    if (
        spec.get("automountServiceAccountToken") is None
        and service_account.get("automountServiceAccountToken") is False
    ):
        return pod
    if any(is_service_account_volume(v) for v in spec.get("volumes") or []):
        return pod
    name = SERVICE_ACCOUNT_VOLUME_PREFIX + objmeta.random_suffix()
    spec.setdefault("volumes", []).append(projected_volume(name))
    for c in (spec.get("initContainers") or []) + spec["containers"]:
        mounts = c.setdefault("volumeMounts", [])
        if not any(m.get("mountPath") == MOUNT_PATH for m in mounts):
            mounts.append({"name": name, "mountPath": MOUNT_PATH, "readOnly": True})
    return pod


def service_env(host: str, port: int) -> dict[str, str]:
    """What a kubelet sets for the `kubernetes` Service in every container."""
    return {
        "KUBERNETES_SERVICE_HOST": host,
        "KUBERNETES_SERVICE_PORT": str(port),
        "KUBERNETES_SERVICE_PORT_HTTPS": str(port),
        "KUBERNETES_PORT": f"tcp://{host}:{port}",
        f"KUBERNETES_PORT_{port}_TCP": f"tcp://{host}:{port}",
        f"KUBERNETES_PORT_{port}_TCP_PROTO": "tcp",
        f"KUBERNETES_PORT_{port}_TCP_PORT": str(port),
        f"KUBERNETES_PORT_{port}_TCP_ADDR": host,
    }


class PodApiAccess:
    def __init__(self, store, sa_key: bytes, ca_pem: bytes, host: str | None, port: int):
        self.store, self.sa_key, self.ca_pem = store, sa_key, ca_pem
        self.env = service_env(host, port) if host else {}

    def write_files(self, pod: dict, run_dir: str) -> None:
        if not any(is_service_account_volume(v) for v in pod["spec"].get("volumes") or []):
            return
        meta = pod["metadata"]
        token = self.token_for(pod)
        d = os.path.join(run_dir, API_ACCESS_DIR)
        os.makedirs(d, mode=0o755, exist_ok=True)
        for name, data in (
            ("token", token.encode()),
            ("ca.crt", self.ca_pem),
            ("namespace", meta["namespace"].encode()),
        ):
            tmp = os.path.join(d, f".{name}.tmp")
            with open(tmp, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)  # defaultMode 420, as the kubelet writes them
            os.replace(tmp, os.path.join(d, name))

    def token_for(self, pod: dict) -> str:
        """A fresh token bound to the pod (also for projected serviceAccountToken sources)."""
        meta = pod["metadata"]
        sa_name = pod["spec"].get("serviceAccountName") or "default"
        sa_res = find("", "v1", "serviceaccounts")
        sa_uid = ""
        if self.store.exists(sa_res, meta["namespace"], sa_name):
            sa_uid = self.store.get(sa_res, meta["namespace"], sa_name)["metadata"]["uid"]
        return tokens.sign(self.sa_key, tokens.claims_for(pod, sa_uid, time.time()))

    def add_env(self, container: dict, env: dict, pod: dict | None = None) -> None:
        """The `kubernetes` Service's variables, and those of the pod's
        namespace's Services (services/service_env.py), under the
        container's own."""
        declared = {v.get("name") for v in container.get("env") or []}
        links: dict[str, str] = {}
        if pod is not None:
            services = builtin("", "v1", "services")
            links = service_links.service_env(pod, list(self.store.objects[services.key].values()))
        for k, v in {**links, **self.env}.items():
            if k not in declared:
                env[k] = v
