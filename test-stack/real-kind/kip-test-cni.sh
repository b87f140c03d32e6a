#!/bin/sh
# TEST INFRASTRUCTURE: the container of the kip-test-cni DaemonSet
# (default-cni.yaml). Writes the node's CNI config for the pod subnet kind
# templated in, with the MTU of the default-route interface (a pod's eth0 must
# not be larger than the node's), then stays up so the DaemonSet is Running.
set -eu

subnet=${POD_SUBNET%%,*}
[ -n "$subnet" ] || { echo "kip-test-cni: POD_SUBNET is empty" >&2; exit 1; }

dev=$(ip -o route show default | awk '{ print $5; exit }')
[ -n "$dev" ] || { echo "kip-test-cni: no default route on this node" >&2; exit 1; }
mtu=$(cat "/sys/class/net/$dev/mtu")

dir=/host/etc/cni/net.d
tmp="$dir/.10-kip-test-cni.conflist.tmp"
cat >"$tmp" <<EOF
{
  "cniVersion": "0.3.1",
  "name": "kip-test-cni",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": true,
      "mtu": $mtu,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "ranges": [[{ "subnet": "$subnet" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
mv "$tmp" "$dir/10-kip-test-cni.conflist"
echo "kip-test-cni: wrote $dir/10-kip-test-cni.conflist (subnet $subnet, MTU $mtu from $dev)"

# Stay up, and leave at once on TERM (this is PID 1 in its container).
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
