#!/bin/sh
# kip node bootstrap: runs inside the node container under an init (tini /
# docker-init) as PID 1. Every setting arrives in the environment (KIP_*), so
# this file is never templated. Progress goes to stdout as marker lines that
# kip follows on the container's log stream:
#   kip-phase: NAME          a phase finished
#   kip-info: KEY=VALUE      a decision the node made (kip status shows them)
#   kip-warn: TEXT           something a user should know; the bootstrap goes on
#   kip-fail: PHASE: WHY     the bootstrap failed; the log tail follows
# The steps run in the order of `main` at the end of this file.
set -eu

log_dir=/var/log/kip
conf_dir=/etc/kip
data_root=/var/lib/docker
# Test seams: the tests point these at prepared trees and stop after the
# setup decisions (KIP_SETUP_ONLY=1), before dockerd starts.
cgroup_root=${KIP_CGROUP_ROOT:-/sys/fs/cgroup}
proc_cgroup=${KIP_PROC_CGROUP:-/proc/self/cgroup}
shim=${KIP_IPTABLES_SHIM_DIR:-/usr/local/lib/kip/iptables}
proc_status=${KIP_PROC_STATUS:-/proc/self/status}
cap_last_cap=${KIP_CAP_LAST_CAP:-/proc/sys/kernel/cap_last_cap}
kmsg=${KIP_KMSG:-/dev/kmsg}
runtime_dir=${KIP_RUNTIME_DIR:-/usr/local/lib/kip}
conf_dir=${KIP_CONF_DIR:-$conf_dir}

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

# /dev/kmsg: the kubelet's OOM watcher opens it and the kubelet exits without
# it ("open /dev/kmsg: no such file or directory"). Docker's default /dev has
# none; a privileged node gets the host's, a capability-profile node makes it
# (CAP_MKNOD and the `a *:* rmw` device rule allow that).
ensure_kmsg() {
    if [ "${KIP_KMSG_CREATE:-true}" != true ]; then
        echo "kip-info: kmsg=not-created (KIP_KMSG_CREATE=false)"
    elif [ -c "$kmsg" ]; then
        echo "kip-info: kmsg=present"
    elif mknod -m 600 "$kmsg" c 1 11 2>/dev/null; then
        echo "kip-info: kmsg=created"
    else
        echo "kip-warn: cannot create $kmsg; the kubelet cannot start in this node"
    fi
}

# The capabilities the kernel knows that this node may not hold (absent from
# its bounding set), as CAP_ names, space-separated.
missing_capabilities() {
    last=$(cat "$cap_last_cap" 2>/dev/null || echo 40)
    bounding=$(awk '$1 == "CapBnd:" { print $2 }' "$proc_status" 2>/dev/null || true)
    [ -n "$bounding" ] || return 0
    # linux/capability.h, by number.
    set -- CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP \
        LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER \
        SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE \
        SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP \
        MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF \
        CHECKPOINT_RESTORE
    i=0 missing=
    while [ "$i" -le "$last" ] && [ $# -gt 0 ]; do
        [ $(((0x$bounding >> i) & 1)) -eq 1 ] || missing="$missing CAP_$1"
        i=$((i + 1))
        shift
    done
    echo "${missing# }"
}

# An engine that withholds a capability (CI's Firecracker VMs withhold
# CAP_SYS_RESOURCE) gives the node a bounding set without it. The node's
# dockerd (before Docker 23) still asks runc for every capability for a
# `--privileged` container and for `exec --privileged`, as kind does for its
# node and every step, and runc fails: "unable to apply caps: operation not
# permitted". So, only when capabilities are missing, the node's default
# runtime is a wrapper that removes them from the container's spec (create,
# run) or process (exec) and then runs runc: nested containers keep exactly
# what the node has. Sets runtime_args for dockerd.
clamp_runtime() {
    runtime_args=
    missing=$(missing_capabilities)
    if [ -z "$missing" ]; then
        echo "kip-info: runtime=runc"
        return
    fi
    if [ "${KIP_RUNTIME_CLAMP:-true}" != true ]; then
        echo "kip-info: runtime=runc (unclamped, KIP_RUNTIME_CLAMP=false; the node lacks $missing)"
        return
    fi
    real=$(command -v runc 2>/dev/null) || fail runtime "runc is not installed in the node image"
    expr=
    for cap in $missing; do
        expr="$expr -e 's/\"$cap\",//g' -e 's/,\"$cap\"//g' -e 's/\"$cap\"//g'"
    done
    mkdir -p "$runtime_dir"
    cat >"$runtime_dir/runc-clamp.tmp" <<EOF
#!/bin/sh
# Written by kip's node bootstrap: runs $real with the capabilities this
# node lacks ($missing) removed from the OCI spec or the exec process file.
sub= bundle= process= prev=
for a in "\$@"; do
    case \$prev in --bundle | -b) bundle=\$a ;; --process | -p) process=\$a ;; esac
    case \$a in
    --bundle=*) bundle=\${a#--bundle=} ;;
    --process=*) process=\${a#--process=} ;;
    create | run | exec) [ -n "\$sub" ] || sub=\$a ;;
    esac
    prev=\$a
done
case \$sub in
create | run) file=\${bundle:-.}/config.json ;;
exec) file=\$process ;;
*) file= ;;
esac
if [ -n "\$file" ] && [ -f "\$file" ]; then
    sed -i$expr "\$file"
fi
exec $real "\$@"
EOF
    chmod 0755 "$runtime_dir/runc-clamp.tmp"
    mv "$runtime_dir/runc-clamp.tmp" "$runtime_dir/runc-clamp"
    runtime_args="--add-runtime=kip-runc-clamp=$runtime_dir/runc-clamp --default-runtime=kip-runc-clamp"
    echo "kip-info: runtime=runc-clamp (without $missing)"
}

# Without CAP_SYS_RESOURCE a process may lower its oom_score_adj only down to
# the floor the last privileged writer left, and runc fails every control-plane
# container whose value is below it (the kubelet asks for -999 for itself,
# containerd for -998 for its sandboxes). A Pod of a node that lacks the
# capability can often go from 916 to 915 but not to -999: try the value
# itself, in a child shell, so the node's own value is left as it is.
can_lower_oom_score_adj() {
    sh -c 'echo -999 >/proc/self/oom_score_adj' 2>/dev/null
}

# add_list_item KEY LINE1 LINE2 FILE: a `|` block string of two lines at the
# head of the top-level block list KEY of the YAML FILE, or KEY as a new list
# at its end. kip renders its lists in block style, one key per line.
add_list_item() {
    awk -v key="$1" -v l1="$2" -v l2="$3" '
        !done && ($0 == key ":" || $0 == key ": []") {
            print key ":"; print "- |"; print "  " l1; print "  " l2; done = 1; next
        }
        { print }
        END { if (!done) { print key ":"; print "- |"; print "  " l1; print "  " l2 } }
    ' "$4" >"$4.add"
    mv "$4.add" "$4"
}

# The kind config: kip's, from the environment or (remote) a file, plus what
# only the node can know: its pod IP for the certificate, failCgroupV1 on a
# cgroup v1 host (kubelet >= 1.35 refuses v1 otherwise; kind only warns), and
# containerd's restrict_oom_score_adj (keep requests within what it may set)
# when the node cannot lower oom_score_adj. Both patches unversioned.
write_kind_config() {
    file=$conf_dir/kind.yaml
    mkdir -p "$conf_dir"
    if [ -n "${KIP_KIND_CONFIG_FILE:-}" ]; then
        cp "$KIP_KIND_CONFIG_FILE" "$file.tmp" || fail cluster "cannot read $KIP_KIND_CONFIG_FILE"
    else
        printf '%s\n' "${KIP_KIND_CONFIG:?KIP_KIND_CONFIG is not set}" >"$file.tmp"
    fi
    # A remote node's pod IP is known only now (API_SERVER_ADDRESS, from
    # status.podIP): it takes the place of kip's reserved placeholder SAN.
    if [ -n "${API_SERVER_ADDRESS:-}" ]; then
        sed -i "s/^\( *- \)kip-pod-ip\.invalid\$/\1$API_SERVER_ADDRESS/" "$file.tmp"
        echo "kip-info: pod-ip=$API_SERVER_ADDRESS"
    fi
    if [ "$cgroup" = v1 ]; then
        if [ "${KIP_FAIL_CGROUP_V1:-false}" = false ]; then
            add_list_item kubeadmConfigPatches "kind: KubeletConfiguration" "failCgroupV1: false" "$file.tmp"
            echo "kip-info: kubelet=failCgroupV1-false (cgroup v1 host)"
        fi
        echo "kip-warn: this host uses cgroup v1, which Kubernetes is dropping (the kubelet refuses it from 1.35 unless told otherwise; kip tells it)"
    fi
    restrict=${KIP_RESTRICT_OOM:-auto}
    oom_unrestricted=false
    if ! can_lower_oom_score_adj; then
        [ "$restrict" != auto ] || restrict=true
        # Turned off where it is needed: runc will fail; the watcher says why.
        [ "$restrict" = true ] || oom_unrestricted=true
    elif [ "$restrict" = auto ]; then
        restrict=false
    fi
    if [ "$restrict" = true ]; then
        add_list_item containerdConfigPatches '[plugins."io.containerd.grpc.v1.cri"]' \
            "  restrict_oom_score_adj = true" "$file.tmp"
        echo "kip-info: containerd=restrict_oom_score_adj (the node cannot lower oom_score_adj)"
    fi
    mv "$file.tmp" "$file"
}

# The volume at /var/lib/docker outlives a node removed outside kip (say,
# `docker rm -f`). A new node must not start on the old one's images and
# containers (kind would find its old cluster); a restart of this same node
# (the same KIP_NODE_RUN) keeps them.
prepare_data_root() {
    [ -n "${KIP_NODE_RUN:-}" ] || return 0
    if [ "$(cat "$data_root/.kip-node-run" 2>/dev/null || true)" != "$KIP_NODE_RUN" ] &&
        [ -n "$(ls -A "$data_root" 2>/dev/null)" ]; then
        echo "kip-info: docker-root=wiped (left by an earlier node of this name)"
        find "$data_root" -mindepth 1 -maxdepth 1 -exec rm -rf {} \;
    fi
    echo "$KIP_NODE_RUN" >"$data_root/.kip-node-run"
}

start_dockerd() {
    # Extra dockerd arguments are split on white space on purpose.
    # shellcheck disable=SC2086
    dockerd "$@" ${runtime_args:-} ${KIP_DOCKERD_ARGS:-} >"$log_dir/dockerd.log" 2>&1 &
    dockerd_pid=$!
    # Bounded: a dockerd that neither answers nor exits is a failure too.
    deadline=$(($(date +%s) + ${KIP_DOCKERD_TIMEOUT:-120}))
    until docker version >/dev/null 2>&1; do
        kill -0 "$dockerd_pid" 2>/dev/null || fail dockerd "dockerd exited before answering" "$log_dir/dockerd.log"
        [ "$(date +%s)" -lt "$deadline" ] ||
            fail dockerd "dockerd did not answer within ${KIP_DOCKERD_TIMEOUT:-120}s" "$log_dir/dockerd.log"
        sleep 0.02
    done
    echo "kip-phase: dockerd-ready"
}

# The kind node image never comes from a registry inside the node when kip
# can bring it from the host: kip streams it in after dockerd-ready
# (KIP_AWAIT_IMAGE=1) and this waits until the node's Docker has it.
await_node_image() {
    [ -n "${KIP_NODE_IMAGE:-}" ] && [ "${KIP_AWAIT_IMAGE:-0}" = 1 ] || return 0
    deadline=$(($(date +%s) + ${KIP_IMAGE_TIMEOUT:-900}))
    until docker image inspect "$KIP_NODE_IMAGE" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] ||
            fail image "the node image $KIP_NODE_IMAGE did not arrive within ${KIP_IMAGE_TIMEOUT:-900}s"
        sleep 0.1
    done
    echo "kip-info: node-image=$KIP_NODE_IMAGE"
}

# While kind creates the cluster: a kubelet or runc that cannot run in this
# node fails over and over, and kubeadm would only give up after 4 minutes.
# The causes kip knows are named at once, and kind is stopped.
watch_kind_node() {
    known='open /dev/kmsg|configured to not run on a host using cgroup v1|failed to update /proc/self/oom_score_adj|unable to apply caps'
    # runc 1.2+ reports nsexec's oom_score_adj failure only as a lost child.
    [ "${oom_unrestricted:-false}" = false ] || known="$known|can't get final child's PID from pipe"
    while sleep 2; do
        for node in $(kind_nodes); do
            cause=$(docker exec "$node" journalctl --no-pager -q -u kubelet -u containerd 2>/dev/null |
                grep -m1 -o -E ".{0,120}($known).{0,60}") || continue
            case $cause in
            *"final child's PID"*)
                cause="$cause (this node cannot lower oom_score_adj and containerd's restrict_oom_score_adj is off)"
                ;;
            esac
            printf '%s\n' "$cause" >"$log_dir/kind-node-cause"
            kill "$kind_pid" 2>/dev/null || true
            return 0
        done
    done
}

# The nested containers of this cluster (kind's nodes), if any.
kind_nodes() {
    docker ps -aq --filter "label=io.x-k8s.kind.cluster=$KIP_CLUSTER" 2>/dev/null || true
}

# Several kind nodes must come back at the addresses they were made with: a
# restarted node hands them out anew, and the kubelets, etcd and the
# certificates name the old ones. Docker keeps a container's address only
# on a network whose subnet was given, so kip makes kind's network itself
# (kind takes a network named kind that exists), with the subnet the engine
# would pick and kind's options.
prepare_kind_network() {
    [ "${KIP_KIND_NODES:-1}" -gt 1 ] || return 0
    ! docker network inspect kind >/dev/null 2>&1 || return 0
    probe=kip-subnet-probe
    docker network create "$probe" >/dev/null || fail cluster "cannot create a network in the node"
    subnet=$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' "$probe" | awk '{ print $1 }')
    docker network rm "$probe" >/dev/null || true
    set -- -d bridge --subnet "$subnet" -o com.docker.network.bridge.enable_ip_masquerade=true
    [ "${mtu:-1500}" = 1500 ] || set -- "$@" -o "com.docker.network.driver.mtu=$mtu"
    docker network create "$@" kind >/dev/null || fail cluster "cannot create kind's network with subnet $subnet"
    echo "kip-info: kind-network=$subnet (fixed addresses for $KIP_KIND_NODES kind nodes)"
}

# The address each kind node was made with, for a restart to give back.
# kind's restart policy (on-failure) would have a restarted node's dockerd
# start them itself, at whatever address is free: the bootstrap starts them.
record_kind_node_addresses() {
    [ "${KIP_KIND_NODES:-1}" -gt 1 ] || return 0
    for node in $(kind_nodes); do
        docker inspect -f '{{.Name}} {{with index .NetworkSettings.Networks "kind"}}{{.IPAddress}}{{end}}' "$node"
    done | sed 's#^/##' >"$conf_dir/kind-node-addresses"
    # shellcheck disable=SC2046
    docker update --restart=no $(kind_nodes) >/dev/null ||
        fail cluster "cannot turn off the kind nodes' restart policy"
}

# Before the kind nodes start again: each gets its address back, fixed.
restore_kind_node_addresses() {
    [ -s "$conf_dir/kind-node-addresses" ] || return 0
    running=$(docker ps -q --filter "label=io.x-k8s.kind.cluster=$KIP_CLUSTER")
    # shellcheck disable=SC2086
    [ -z "$running" ] || docker stop -t 2 $running >>"$log_dir/kind.log" 2>&1 || true
    while read -r node address; do
        [ -n "$address" ] || continue
        docker network disconnect -f kind "$node" >>"$log_dir/kind.log" 2>&1 || true
        docker network connect --ip "$address" kind "$node" >>"$log_dir/kind.log" 2>&1 ||
            fail cluster "cannot give the kind node $node its address $address back" "$log_dir/kind.log"
    done <"$conf_dir/kind-node-addresses"
    echo "kip-info: kind-node-addresses=kept"
}

# Registries the cluster pulls through (kip up --registry, --mirror): a
# containerd hosts.toml per registry name in every kind node (kip's kind
# config points containerd's config_path there), and the KEP-1755 ConfigMap
# that tells tools where the local registry is.
configure_registries() {
    [ -n "${KIP_CONTAINERD_HOSTS:-}" ] || return 0
    for node in $(kind_nodes); do
        # Read from a here-document, not a pipe: a failure must end the
        # bootstrap, not a subshell.
        while read -r registry toml; do
            [ -n "$registry" ] || continue
            dir=/etc/containerd/certs.d/$registry
            printf '%b' "$toml" | docker exec -i "$node" sh -c "mkdir -p '$dir' && cat >'$dir/hosts.toml'" ||
                fail cluster "cannot write $dir/hosts.toml in the kind node $node"
        done <<EOF
$KIP_CONTAINERD_HOSTS
EOF
    done
    echo "kip-info: registries=$(printf '%s\n' "$KIP_CONTAINERD_HOSTS" | awk '{ print $1 }' | tr '\n' ' ' | sed 's/ $//')"
    [ -n "${KIP_REGISTRY_CONFIGMAP:-}" ] || return 0
    if printf '%s\n' "$KIP_REGISTRY_CONFIGMAP" |
        docker exec -i "$KIP_CLUSTER-control-plane" kubectl --kubeconfig=/etc/kubernetes/admin.conf apply -f - \
            >>"$log_dir/kind.log" 2>&1; then
        echo "kip-info: local-registry-hosting=kube-public"
    else
        echo "kip-warn: cannot create the local-registry-hosting ConfigMap (see $log_dir/kind.log); pulls from the registry still work"
    fi
}

# A restarted node (`docker restart`, a host reboot) finds its kind nodes
# stopped and starts them again; a new one creates the cluster.
create_cluster() {
    nodes=$(kind_nodes)
    if [ -n "$nodes" ] && [ -s "$conf_dir/kubeconfig" ]; then
        restore_kind_node_addresses
        # shellcheck disable=SC2086
        docker start $nodes >"$log_dir/kind.log" 2>&1 || fail cluster "cannot restart the kind nodes" "$log_dir/kind.log"
        echo "kip-info: cluster=restarted"
        echo "kip-phase: cluster-created"
        return
    fi
    set -- --name "${KIP_CLUSTER:?KIP_CLUSTER is not set}" --config "$conf_dir/kind.yaml" \
        --kubeconfig "$conf_dir/kubeconfig"
    [ -z "${KIP_NODE_IMAGE:-}" ] || set -- "$@" --image "$KIP_NODE_IMAGE"
    prepare_kind_network
    # In the background, so that a TERM during creation is handled at once.
    kind create cluster "$@" >"$log_dir/kind.log" 2>&1 &
    kind_pid=$!
    watch_kind_node &
    watcher_pid=$!
    if ! wait "$kind_pid"; then
        kill "$watcher_pid" 2>/dev/null || true
        if [ -s "$log_dir/kind-node-cause" ]; then
            fail cluster "the kind node cannot run Kubernetes: $(cat "$log_dir/kind-node-cause")" "$log_dir/kind.log"
        fi
        fail cluster "kind create cluster failed" "$log_dir/kind.log"
    fi
    kill "$watcher_pid" 2>/dev/null || true
    kind_pid=
    cat "$log_dir/kind.log"
    record_kind_node_addresses
    configure_registries
    echo "kip-phase: cluster-created"
}

# On TERM (docker stop / restart, kip down): stop the kind nodes through
# dockerd, gracefully, so that their cgroups go with them (a node killed
# outright leaves them behind on cgroup v1) and a restart finds them whole.
# dockerd itself holds nothing worth a graceful stop.
shutdown() {
    trap - TERM INT
    [ -z "${kind_pid:-}" ] || kill "$kind_pid" 2>/dev/null || true
    ids=$(docker ps -q 2>/dev/null || true)
    if [ -n "$ids" ]; then
        # A runc killed while starting a container leaves that container's
        # init frozen (cgroup v1 freezer); a frozen process cannot die, and
        # the node would never stop ("did not receive an exit event"). So
        # thaw while the kind nodes stop, within the engine's stop timeout.
        # shellcheck disable=SC2086
        docker stop -t "${KIP_STOP_TIMEOUT:-4}" $ids >/dev/null 2>&1 &
        stopper=$!
        while kill -0 "$stopper" 2>/dev/null; do
            thaw_cgroups
            sleep 0.2
        done
        thaw_cgroups
    fi
    remove_empty_cgroups
    exit 0
}

# This node's own cgroup path on a v1 host whose hierarchy it sees ("" if
# it does not).
own_v1_cgroup() {
    [ ! -f "$cgroup_root/cgroup.controllers" ] || return 0
    awk -F: '$2 == "freezer" { print $3; exit }' "$proc_cgroup" 2>/dev/null || true
}

thaw_cgroups() {
    own=$(own_v1_cgroup)
    [ -n "$own" ] && [ "$own" != / ] && [ -d "$cgroup_root/freezer$own" ] || return 0
    find "$cgroup_root/freezer$own" -name freezer.state 2>/dev/null | while read -r state; do
        [ "$(cat "$state" 2>/dev/null)" = THAWED ] || echo THAWED >"$state" 2>/dev/null || true
    done
}

# Cgroups the nested containers left under this node's own (v1 keeps a
# directory until someone removes it). rmdir only removes a cgroup with no
# process and no child, so nothing alive is touched.
remove_empty_cgroups() {
    own=$(own_v1_cgroup)
    [ -n "$own" ] && [ "$own" != / ] || return 0
    for hierarchy in "$cgroup_root"/*/; do
        [ -d "$hierarchy${own#/}" ] || continue
        find "$hierarchy${own#/}" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
}

main() {
    iptables=$(iptables_backend)
    use_iptables "$iptables"
    echo "kip-info: iptables=$iptables"

    mtu=${KIP_MTU:-}
    [ -n "$mtu" ] || mtu=$(detect_mtu)
    echo "kip-info: mtu=$mtu"

    set -- --host=unix:///var/run/docker.sock --mtu="$mtu"
    if [ -f "$cgroup_root/cgroup.controllers" ]; then
        nest_cgroup_v2
        cgroup=v2
        echo "kip-info: cgroup=v2"
    else
        parent=$(v1_cgroup_parent)
        cgroup=v1
        echo "kip-info: cgroup=v1"
        if [ -n "$parent" ]; then
            set -- "$@" --cgroup-parent="$parent"
            echo "kip-info: cgroup-parent=$parent"
        fi
    fi
    ensure_kmsg
    clamp_runtime
    write_kind_config
    if [ "${KIP_SETUP_ONLY:-}" = 1 ]; then
        echo "kip-info: dockerd-args=$* ${runtime_args:-}"
        exit 0
    fi
    mkdir -p "$log_dir"
    prepare_data_root
    trap shutdown TERM INT
    start_dockerd "$@"
    await_node_image
    create_cluster
    wait "$dockerd_pid" || fail dockerd "dockerd exited" "$log_dir/dockerd.log"
}

main
