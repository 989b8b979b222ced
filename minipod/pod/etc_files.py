"""The files every container of a pod shares: /etc/hostname, /etc/hosts and
/etc/resolv.conf (the kubelet keeps the same three in the pod's directory).

They live in the pod's run dir and are bind-mounted into each container.
Updates rewrite them in place (same inode), so a running container sees the
new content: a bind mount follows the inode, not the name.

/etc/hosts holds what the kubelet writes there: localhost, the pod's own
IP and hostname (with its subdomain's FQDN), and `spec.hostAliases`; pods
find each other and Services through the cluster DNS. /etc/resolv.conf is
built by the pod's dnsPolicy, as the kubelet does:
    ClusterFirst   (the default) the cluster DNS, searching
                   NS.svc.cluster.local svc.cluster.local cluster.local and
                   the host's search list, options ndots:5; a hostNetwork
                   pod uses the host's file instead, as with Default;
    ClusterFirstWithHostNet  the cluster DNS, hostNetwork or not;
    Default        the host's /etc/resolv.conf;
    None           only dnsConfig;
then `dnsConfig` is merged in (nameservers and searches appended, options
replacing the same name's). Without a cluster DNS (the API not serving
pods), ClusterFirst falls back to the host's file.
"""

import os

CLUSTER_DOMAIN = "cluster.local"

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


def hosts_file(pod: dict, ip: str | None) -> str:
    spec = pod["spec"]
    if spec.get("hostNetwork"):
        with open("/etc/hosts") as f:
            return f.read()
    text = HOSTS_HEADER
    if ip:
        names = [hostname_of(pod)]
        if spec.get("subdomain"):
            ns = pod["metadata"].get("namespace") or "default"
            names.insert(0, f"{hostname_of(pod)}.{spec['subdomain']}.{ns}.svc.{CLUSTER_DOMAIN}")
        text += f"{ip}\t{chr(9).join(names)}\n"
    aliases = spec.get("hostAliases") or []
    if aliases:
        text += "\n# Entries added by HostAliases.\n"
        text += "".join(f"{a['ip']}\t{chr(9).join(a.get('hostnames') or [])}\n" for a in aliases)
    return text


def host_resolv_conf(path: str = "/etc/resolv.conf") -> tuple[list[str], list[str], list[str]]:
    """(nameservers, searches, options) of the host's file."""
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    try:
        with open(path) as f:
            for line in f:
                key, _, rest = line.strip().partition(" ")
                if key == "nameserver":
                    servers.append(rest.strip())
                elif key in ("search", "domain"):
                    searches = rest.split()  # the last search/domain line wins, as in glibc
                elif key == "options":
                    options += rest.split()
    except OSError:
        pass
    return servers, searches, options


def resolv_conf(pod: dict, cluster_dns: str | None = None, host: tuple | None = None) -> str:
    """The pod's /etc/resolv.conf (`host`: the host's file, parsed)."""
    spec = pod["spec"]
    dns = spec.get("dnsConfig") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    host_servers, host_searches, host_options = host if host is not None else host_resolv_conf()
    use_cluster = bool(cluster_dns) and (
        policy == "ClusterFirstWithHostNet" or (policy == "ClusterFirst" and not spec.get("hostNetwork"))
    )
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    if use_cluster:
        ns = pod["metadata"].get("namespace") or "default"
        servers = [str(cluster_dns)]
        searches = [f"{ns}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN] + host_searches
        options = ["ndots:5"]
    elif policy != "None":
        servers, searches, options = list(host_servers), list(host_searches), list(host_options)
    servers += [s for s in dns.get("nameservers") or [] if s not in servers]
    searches += [s for s in dns.get("searches") or [] if s not in searches]
    for opt in dns.get("options") or []:
        value = f"{opt['name']}:{opt['value']}" if opt.get("value") is not None else opt["name"]
        options = [o for o in options if o.split(":")[0] != opt["name"]] + [value]
    text = "".join(f"nameserver {s}\n" for s in servers[:3])  # glibc reads three
    if searches:
        text += f"search {' '.join(dict.fromkeys(searches))}\n"
    if options:
        text += f"options {' '.join(options)}\n"
    return text


def write_in_place(path: str, text: str) -> None:
    """Replace the content, keeping the inode that containers have mounted."""
    with open(path, "w") as f:
        f.write(text)


def write_hosts(pod: dict, ip: str | None, run_dir: str) -> None:
    if not pod["spec"].get("hostNetwork"):
        write_in_place(os.path.join(run_dir, "hosts"), hosts_file(pod, ip))


def write_pod_files(pod: dict, ip: str | None, run_dir: str, cluster_dns: str | None) -> None:
    write_in_place(os.path.join(run_dir, "hostname"), hostname_of(pod) + "\n")
    write_in_place(os.path.join(run_dir, "hosts"), hosts_file(pod, ip))
    write_in_place(os.path.join(run_dir, "resolv.conf"), resolv_conf(pod, cluster_dns))
