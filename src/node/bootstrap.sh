#!/bin/sh
# kip node bootstrap: runs inside the node container under an init (tini /
# docker-init) as PID 1. Every setting arrives in the environment (KIP_*), so
# this file is never templated. Progress goes to stdout as marker lines that
# kip follows on the container's log stream:
#   kip-phase: NAME          a phase finished
#   kip-info: KEY=VALUE      a decision the node made (kip status shows them)
#   kip-fail: PHASE: WHY     the bootstrap failed; the log tail follows
set -eu

log_dir=/var/log/kip
conf_dir=/etc/kip
# Test seams: the tests point these at prepared trees and stop after the
# setup decisions (KIP_SETUP_ONLY=1), before dockerd starts.
cgroup_root=${KIP_CGROUP_ROOT:-/sys/fs/cgroup}
proc_cgroup=${KIP_PROC_CGROUP:-/proc/self/cgroup}
shim=${KIP_IPTABLES_SHIM_DIR:-/usr/local/lib/kip/iptables}

fail() {
    echo "kip-fail: $1: $2"
    if [ -n "${3:-}" ] && [ -f "$3" ]; then
        echo "--- last lines of $3 ---"
        tail -n 25 "$3"
    fi
    exit 1
}

# iptables: dockerd inside must use the backend whose rules the kernel already
# holds. auto: legacy when legacy tables hold rules or nft is unusable.
iptables_backend() {
    wanted=${KIP_IPTABLES:-auto}
    if [ "$wanted" = auto ]; then
        if command -v iptables-legacy-save >/dev/null 2>&1 &&
            iptables-legacy-save 2>/dev/null | grep -q '^-A'; then
            wanted=legacy
        elif command -v iptables-nft >/dev/null 2>&1 && iptables-nft -w -nL >/dev/null 2>&1; then
            wanted=nft
        else
            wanted=legacy
        fi
    fi
    echo "$wanted"
}

use_iptables() {
    mkdir -p "$shim"
    for tool in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
        target=$(command -v "$(echo "$tool" | sed "s/tables/tables-$1/")" 2>/dev/null) ||
            fail iptables "$tool-$1 is not installed in the node image (set --iptables to the other backend)"
        ln -sf "$target" "$shim/$tool"
    done
    PATH="$shim:$PATH"
    export PATH
}

# MTU: the inner bridge must not exceed the MTU of the node's own default-route
# interface (Calico IPIP leaves 1480; GCE 1440).
detect_mtu() {
    dev=$(awk '$2 == "00000000" { print $1; exit }' /proc/net/route 2>/dev/null)
    if [ -n "$dev" ] && [ -r "/sys/class/net/$dev/mtu" ]; then
        cat "/sys/class/net/$dev/mtu"
    else
        echo 1500
    fi
}

# cgroup v2: move every process out of the root into an `init` child so that
# controllers can be delegated, then enable each available controller.
nest_cgroup_v2() {
    # A non-privileged node sees its own cgroup read-only: with a private
    # cgroup namespace and CAP_SYS_ADMIN it may remount it.
    [ -w "$cgroup_root/cgroup.subtree_control" ] || mount -o remount,rw "$cgroup_root" 2>/dev/null || true
    mkdir -p "$cgroup_root/init"
    while read -r pid; do
        echo "$pid" >"$cgroup_root/init/cgroup.procs" 2>/dev/null || true
    done <"$cgroup_root/cgroup.procs"
    read -r controllers <"$cgroup_root/cgroup.controllers" || true
    for controller in ${controllers:-}; do
        echo "+$controller" >"$cgroup_root/cgroup.subtree_control" 2>/dev/null ||
            echo "kip-warn: cannot delegate cgroup controller $controller"
    done
}

# cgroup v1 with the host hierarchy visible: nest the inner containers under
# the node's own cgroup. A v2-only /proc/self/cgroup has just `0::/...`; that
# must not abort the script.
v1_cgroup_parent() {
    path=$(awk -F: '$2 == "name=systemd" { print $3; exit }' "$proc_cgroup" 2>/dev/null || true)
    if [ -z "$path" ]; then
        path=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3; exit }' "$proc_cgroup" 2>/dev/null || true)
    fi
    if [ -n "$path" ] && [ "$path" != / ]; then
        echo "$path/docker"
    fi
}

iptables=$(iptables_backend)
use_iptables "$iptables"
echo "kip-info: iptables=$iptables"

mtu=${KIP_MTU:-}
[ -n "$mtu" ] || mtu=$(detect_mtu)
echo "kip-info: mtu=$mtu"

set -- --host=unix:///var/run/docker.sock --mtu="$mtu"
if [ -f "$cgroup_root/cgroup.controllers" ]; then
    nest_cgroup_v2
    echo "kip-info: cgroup=v2"
else
    parent=$(v1_cgroup_parent)
    echo "kip-info: cgroup=v1"
    if [ -n "$parent" ]; then
        set -- "$@" --cgroup-parent="$parent"
        echo "kip-info: cgroup-parent=$parent"
    fi
fi
if [ "${KIP_SETUP_ONLY:-}" = 1 ]; then
    echo "kip-info: dockerd-args=$*"
    exit 0
fi
mkdir -p "$log_dir" "$conf_dir"

# The volume at /var/lib/docker outlives a node removed outside kip (say,
# `docker rm -f`). A new node must not start on the old one's images and
# containers (kind would find its old cluster); a restart of this same node
# (the same KIP_NODE_RUN) keeps them.
data_root=/var/lib/docker
if [ -n "${KIP_NODE_RUN:-}" ]; then
    if [ "$(cat "$data_root/.kip-node-run" 2>/dev/null || true)" != "$KIP_NODE_RUN" ] &&
        [ -n "$(ls -A "$data_root" 2>/dev/null)" ]; then
        echo "kip-info: docker-root=wiped (left by an earlier node of this name)"
        find "$data_root" -mindepth 1 -maxdepth 1 -exec rm -rf {} \;
    fi
    echo "$KIP_NODE_RUN" >"$data_root/.kip-node-run"
fi

# Extra dockerd arguments are split on white space on purpose.
# shellcheck disable=SC2086
dockerd "$@" ${KIP_DOCKERD_ARGS:-} >"$log_dir/dockerd.log" 2>&1 &
dockerd_pid=$!

shutdown() {
    trap - TERM INT
    # Remove the nested containers through dockerd so that their cgroups go
    # with them (a node killed outright leaves them behind on cgroup v1).
    # dockerd itself holds nothing worth a graceful stop: the node's end
    # takes it down.
    [ -z "${kind_pid:-}" ] || kill "$kind_pid" 2>/dev/null || true
    ids=$(docker ps -aq 2>/dev/null || true)
    # shellcheck disable=SC2086
    [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
    exit 0
}
trap shutdown TERM INT

until docker version >/dev/null 2>&1; do
    kill -0 "$dockerd_pid" 2>/dev/null || fail dockerd "dockerd exited before answering" "$log_dir/dockerd.log"
    sleep 0.02
done
echo "kip-phase: dockerd-ready"

# Remote nodes get the kind config as a file from their ConfigMap.
if [ -n "${KIP_KIND_CONFIG_FILE:-}" ]; then
    cp "$KIP_KIND_CONFIG_FILE" "$conf_dir/kind.yaml" || fail cluster "cannot read $KIP_KIND_CONFIG_FILE"
else
    printf '%s\n' "${KIP_KIND_CONFIG:?KIP_KIND_CONFIG is not set}" >"$conf_dir/kind.yaml"
fi
# A remote node's pod IP is known only now (API_SERVER_ADDRESS, from
# status.podIP): it takes the place of kip's reserved placeholder SAN.
if [ -n "${API_SERVER_ADDRESS:-}" ]; then
    sed -i "s/^\( *- \)kip-pod-ip\.invalid\$/\1$API_SERVER_ADDRESS/" "$conf_dir/kind.yaml"
    echo "kip-info: pod-ip=$API_SERVER_ADDRESS"
fi
# In the background, so that a TERM during creation is handled at once.
kind create cluster --name "${KIP_CLUSTER:?KIP_CLUSTER is not set}" \
    --config "$conf_dir/kind.yaml" --kubeconfig "$conf_dir/kubeconfig" \
    >"$log_dir/kind.log" 2>&1 &
kind_pid=$!
wait "$kind_pid" || fail cluster "kind create cluster failed" "$log_dir/kind.log"
kind_pid=
cat "$log_dir/kind.log"
echo "kip-phase: cluster-created"

wait "$dockerd_pid" || fail dockerd "dockerd exited" "$log_dir/dockerd.log"
