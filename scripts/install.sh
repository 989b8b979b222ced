#!/usr/bin/env bash
# Install minipod on a Debian 12 / Ubuntu 22.04+ host, as root. Idempotent:
# run it again to upgrade. Needs only the distribution's and PyPI's mirrors.
#
# Steps:
#   1. apt packages: Python with venv and headers, a C compiler (the pod
#      shim and python-prctl are compiled), libcap-dev (for python-prctl),
#      libseccomp2 (seccomp profiles, through pyseccomp), busybox-static
#      (the offline base image), iproute2;
#   2. a virtualenv in $MINIPOD_PREFIX (default /opt/minipod) with minipod
#      and its Python dependencies; `minipod` linked into /usr/local/bin;
#   3. the CNI plugins into /opt/cni/bin and the default network config;
#   4. the systemd unit (not enabled: the CLI starts the daemon on demand);
#      a daemon already running is restarted on the new code (pods survive);
#   5. the base image docker.io/library/busybox:1.35, built from the host's
#      busybox and imported through the normal image import path.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=${MINIPOD_PREFIX:-/opt/minipod}
python=${MINIPOD_PYTHON:-/usr/bin/python3}

if [ "$(id -u)" != 0 ]; then
    echo "install.sh: minipod creates namespaces and mounts: run this as root" >&2
    exit 1
fi

# 1. Distribution packages, installed only when missing.
packages="python3 python3-venv python3-dev python3-pip gcc libc6-dev libcap-dev libseccomp2 busybox-static iproute2 util-linux nftables python3-nftables"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "==> installing packages:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# 2. The Python package, in its own virtualenv (PEP 668 keeps pip out of
#    the system Python). An isolated one: the system's site-packages would
#    add their start-up cost to every `minipod` command.
if grep -qs "include-system-site-packages = true" "$prefix/venv/pyvenv.cfg"; then
    echo "==> recreating $prefix/venv without the system site-packages"
    rm -rf "$prefix/venv"
fi
if [ ! -x "$prefix/venv/bin/python" ]; then
    echo "==> creating $prefix/venv"
    "$python" -m venv "$prefix/venv"
fi
echo "==> installing minipod into $prefix/venv"
"$prefix/venv/bin/pip" install -q --disable-pip-version-check --upgrade pip >/dev/null
"$prefix/venv/bin/pip" install -q --disable-pip-version-check "$here"
ln -sf "$prefix/venv/bin/minipod" /usr/local/bin/minipod

# 3. The CNI plugins, where every CNI runtime looks for them, and the
#    system instance's network config list (kept if already there).
install -d /opt/cni/bin /etc/minipod/net.d
for plugin in "$here"/cni/minipod-*; do
    sed "1s|.*|#!$prefix/venv/bin/python|" "$plugin" > "/opt/cni/bin/$(basename "$plugin").tmp"
    chmod 0755 "/opt/cni/bin/$(basename "$plugin").tmp"
    mv "/opt/cni/bin/$(basename "$plugin").tmp" "/opt/cni/bin/$(basename "$plugin")"
done
[ -f /etc/minipod/net.d/10-minipod.conflist ] || install -m 0644 "$here/cni/10-minipod.conflist" /etc/minipod/net.d/

# 4. The systemd unit, for hosts that want the daemon at boot.
if [ -d /run/systemd/system ]; then
    install -m 0644 "$here/scripts/minipod.service" /etc/systemd/system/minipod.service
    systemctl daemon-reload
    if systemctl is-active -q minipod; then
        systemctl restart minipod
    fi
fi
pidfile="${MINIPOD_ROOT:+$MINIPOD_ROOT/run/daemon.pid}"
pidfile=${pidfile:-/run/minipod/daemon.pid}
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "==> restarting the running daemon on the new code (pods keep running)"
    kill -TERM "$(cat "$pidfile")"
    for _ in $(seq 50); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
fi

# 5. The offline base image.
echo "==> building the base image from $(command -v busybox || echo /bin/busybox)"
minipod image build-base
echo "==> minipod $("$prefix/venv/bin/python" -c 'import minipod; print(minipod.__version__)') installed; try: minipod run examples/hello-pod.yml"
