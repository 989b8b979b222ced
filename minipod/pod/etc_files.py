"""The files every container of a pod shares: /etc/hostname, /etc/hosts and
/etc/resolv.conf (the kubelet keeps the same three in the pod's directory).

They live in the pod's run dir and are bind-mounted into each container.
Updates rewrite them in place (same inode), so a running container sees the
new content: a bind mount follows the inode, not the name.

/etc/hosts is how pods find each other by name here: it holds localhost,
the pod's own IP and hostname, `spec.hostAliases`, and every other pod of
the instance as "IP NAME NAME.NAMESPACE" (no cluster DNS is needed for a
single host). /etc/resolv.conf is the host's, or built from `dnsConfig`
(`dnsPolicy: None` uses dnsConfig alone, as the kubelet does).
"""

import os

HOSTS_HEADER = (
    "# Kubernetes-managed hosts file (minipod).\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
)


def hostname_of(pod: dict) -> str:
    spec = pod["spec"]
    if spec.get("hostNetwork"):
        return os.uname().nodename
    return spec.get("hostname") or pod["metadata"]["name"]


def hosts_file(pod: dict, ip: str | None, peers: list[tuple[str, str, str]]) -> str:
    """`peers`: (ip, name, namespace) of the other pods with an address."""
    spec = pod["spec"]
    if spec.get("hostNetwork"):
        with open("/etc/hosts") as f:
            return f.read()
    text = HOSTS_HEADER
    if ip:
        text += f"{ip}\t{hostname_of(pod)}\n"
    aliases = spec.get("hostAliases") or []
    if aliases:
        text += "\n# Entries added by HostAliases.\n"
        text += "".join(f"{a['ip']}\t{chr(9).join(a.get('hostnames') or [])}\n" for a in aliases)
    if peers:
        text += "\n# Other pods on this host (minipod).\n"
        text += "".join(f"{p_ip}\t{name}\t{name}.{ns}\n" for p_ip, name, ns in peers)
    return text


def resolv_conf(pod: dict) -> str:
    spec = pod["spec"]
    dns = spec.get("dnsConfig") or {}
    servers, searches, options = [], [], []
    if spec.get("dnsPolicy") != "None":
        try:
            with open("/etc/resolv.conf") as f:
                for line in f:
                    key, _, rest = line.strip().partition(" ")
                    if key == "nameserver":
                        servers.append(rest.strip())
                    elif key in ("search", "domain"):
                        searches += rest.split()
                    elif key == "options":
                        options += rest.split()
        except OSError:
            pass
    servers += [s for s in dns.get("nameservers") or [] if s not in servers]
    searches += [s for s in dns.get("searches") or [] if s not in searches]
    for opt in dns.get("options") or []:
        value = f"{opt['name']}:{opt['value']}" if opt.get("value") is not None else opt["name"]
        options = [o for o in options if o.split(":")[0] != opt["name"]] + [value]
    text = "".join(f"nameserver {s}\n" for s in servers)
    if searches:
        text += f"search {' '.join(searches)}\n"
    if options:
        text += f"options {' '.join(options)}\n"
    return text


def write_in_place(path: str, text: str) -> None:
    """Replace the content, keeping the inode that containers have mounted."""
    with open(path, "w") as f:
        f.write(text)


def write_hosts(pod: dict, ip: str | None, run_dir: str, peers: list[tuple[str, str, str]]) -> None:
    if not pod["spec"].get("hostNetwork"):
        write_in_place(os.path.join(run_dir, "hosts"), hosts_file(pod, ip, peers))


def write_pod_files(pod: dict, ip: str | None, run_dir: str, peers: list[tuple[str, str, str]]) -> None:
    write_in_place(os.path.join(run_dir, "hostname"), hostname_of(pod) + "\n")
    write_in_place(os.path.join(run_dir, "hosts"), hosts_file(pod, ip, peers))
    write_in_place(os.path.join(run_dir, "resolv.conf"), resolv_conf(pod))
