#!/bin/sh
# TEST INFRASTRUCTURE: the container of the kip-test-cni DaemonSet
# (default-cni.yaml), on every node. Writes the node's CNI config for the pod
# range the controller manager gave it (spec.podCIDR, from the API server at
# CONTROL_PLANE_ENDPOINT, which kind fills in), with the MTU of the
# default-route interface (a pod's eth0 must not be larger than the node's);
# then keeps a route to every other node's pod range through that node's
# address, as kindnetd does, so pods on different nodes reach each other.
set -eu

: "${NODE_NAME:?NODE_NAME is not set}"
: "${CONTROL_PLANE_ENDPOINT:?CONTROL_PLANE_ENDPOINT is not set (kind patches it in)}"
sa=/var/run/secrets/kubernetes.io/serviceaccount
dir=/host/etc/cni/net.d

nodes() {
    curl -fsS --max-time 10 --cacert "$sa/ca.crt" -H "Authorization: Bearer $(cat "$sa/token")" \
        "https://$CONTROL_PLANE_ENDPOINT/api/v1/nodes"
}

write_config() {
    subnet=$1
    dev=$(ip -o route show default | awk '{ print $5; exit }')
    [ -n "$dev" ] || { echo "kip-test-cni: no default route on this node" >&2; exit 1; }
    mtu=$(cat "/sys/class/net/$dev/mtu")
    tmp="$dir/.10-kip-test-cni.conflist.tmp"
    cat >"$tmp" <<CONF
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
CONF
    mv "$tmp" "$dir/10-kip-test-cni.conflist"
    echo "kip-test-cni: wrote $dir/10-kip-test-cni.conflist (subnet $subnet, MTU $mtu from $dev)"
}

# Leave at once on TERM (this is PID 1 in its container).
trap 'exit 0' TERM INT
written=
while :; do
    if list=$(nodes 2>/dev/null); then
        own=$(printf '%s' "$list" | jq -r --arg n "$NODE_NAME" '.items[] | select(.metadata.name == $n) | .spec.podCIDR // empty')
        if [ -n "$own" ] && [ "$own" != "$written" ]; then
            write_config "$own"
            written=$own
        fi
        printf '%s' "$list" | jq -r --arg n "$NODE_NAME" '.items[] | select(.metadata.name != $n and .spec.podCIDR != null)
            | "\(.spec.podCIDR) \([.status.addresses[]? | select(.type == "InternalIP") | .address][0] // "")"' |
            while read -r cidr via; do
                [ -z "$via" ] || ip route replace "$cidr" via "$via" 2>/dev/null ||
                    echo "kip-test-cni: cannot route $cidr via $via" >&2
            done
    fi
    # Fast until this node's config is written, then as often as kindnetd.
    if [ -z "$written" ]; then pause=1; else pause=10; fi
    sleep "$pause" &
    wait $!
done
