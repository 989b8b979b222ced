#!/usr/bin/env bash
# Provision node I of N for the multi-node lab (docs/labs/multi-node), as
# root, from the repository (Vagrant runs it in /vagrant):
#   1. install minipod with the pod subnet 10.85.I.0/24: the daemon that
#      install.sh starts writes its network config on this first start;
#   2. keep that subnet for the systemd unit too;
#   3. route every other node's pod subnet via that node's address on the
#      private network (192.168.56.1J): the "host-gw" way, no overlay.
# Usage: scripts/lab-node.sh I N
set -euo pipefail

i=${1:?node number}
n=${2:?number of nodes}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

MINIPOD_SUBNET="10.85.$i.0/24" "$here/scripts/install.sh"

mkdir -p /etc/systemd/system/minipod.service.d
printf '[Service]\nEnvironment=MINIPOD_SUBNET=10.85.%s.0/24\n' "$i" \
    > /etc/systemd/system/minipod.service.d/subnet.conf
systemctl daemon-reload

for j in $(seq 1 "$n"); do
    [ "$j" = "$i" ] && continue
    ip route replace "10.85.$j.0/24" via "192.168.56.$((10 + j))"
done
echo "==> node$i: pod subnet 10.85.$i.0/24; routes:"
ip route show | grep '^10\.85\.'
