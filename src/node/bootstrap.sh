#!/bin/sh
# kip node bootstrap: runs inside the node container under an init (tini /
# docker-init) as PID 1. Every setting arrives in the environment (KIP_*), so
# this file is never templated. Progress goes to stdout as marker lines that
# kip follows on the container's log stream:
#   kip-phase: NAME          a phase finished
#   kip-info: KEY=VALUE      a decision the node made (kip status shows them)
#   kip-warn: TEXT           something a user should know; the bootstrap goes on
#   kip-fail: PHASE: WHY     the bootstrap failed; the log tail follows
# The steps run in the order of `main` at the end of this file. Over 400
# lines: it is the node's one program (its init's child), shipped and tested
# as one file, every step a named function.
set -eu

log_dir=/var/log/kip
conf_dir=/etc/kip
data_root=/var/lib/docker
seed_store=/var/lib/kip/seeds
# Test seams: the tests point these at prepared trees and stop after the
# setup decisions (KIP_SETUP_ONLY=1), or after the seed's (KIP_SEED_ONLY=1),
# before dockerd starts.
cgroup_root=${KIP_CGROUP_ROOT:-/sys/fs/cgroup}
proc_cgroup=${KIP_PROC_CGROUP:-/proc/self/cgroup}
shim=${KIP_IPTABLES_SHIM_DIR:-/usr/local/lib/kip/iptables}
proc_status=${KIP_PROC_STATUS:-/proc/self/status}
cap_last_cap=${KIP_CAP_LAST_CAP:-/proc/sys/kernel/cap_last_cap}
kmsg=${KIP_KMSG:-/dev/kmsg}
runtime_dir=${KIP_RUNTIME_DIR:-/usr/local/lib/kip}
conf_dir=${KIP_CONF_DIR:-$conf_dir}
log_dir=${KIP_LOG_DIR:-$log_dir}
data_root=${KIP_DATA_ROOT:-$data_root}
seed_store=${KIP_SEED_STORE:-$seed_store}

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
    await_restore_copy
    restore_data_root
    [ -n "${KIP_NODE_RUN:-}" ] || return 0
    if [ "$(cat "$data_root/.kip-node-run" 2>/dev/null || true)" != "$KIP_NODE_RUN" ] &&
        [ -n "$(ls -A "$data_root" 2>/dev/null)" ]; then
        echo "kip-info: docker-root=wiped (left by an earlier node of this name)"
        find "$data_root" -mindepth 1 -maxdepth 1 -exec rm -rf {} \;
    fi
    echo "$KIP_NODE_RUN" >"$data_root/.kip-node-run"
}

# A node restored from a snapshot (KIP_RESTORE=1) starts while kip still
# copies the snapshot into its volume: it waits for the copy's last mark
# (.kip-restore) before it touches the volume, unless it claimed the volume
# already (a restart of this node). Bounded: kip removes the node when the
# copy fails.
await_restore_copy() {
    [ "${KIP_RESTORE:-}" = 1 ] || return 0
    [ "$(cat "$data_root/.kip-node-run" 2>/dev/null || true)" != "$KIP_NODE_RUN" ] || return 0
    deadline=$(($(date +%s) + ${KIP_RESTORE_TIMEOUT:-900}))
    until [ -f "$data_root/.kip-restore" ]; do
        [ "$(date +%s)" -lt "$deadline" ] ||
            fail restore "the snapshot's copy into this node's volume did not finish within ${KIP_RESTORE_TIMEOUT:-900}s"
        sleep 0.05
    done
}

# A node restored from a snapshot (`kip up --from`): kip copied the
# snapshot's data root into this node's volume and marked it (.kip-restore).
# It is this node's own from now on: kept, not wiped. The copy carries the
# inner kind cluster's name (made under the source's name, .kip-kind-cluster)
# and kind's kubeconfig of it (.kip-kubeconfig): the kind node is restarted,
# as on a restart of this node, and its kubeconfig is kip's.
restore_data_root() {
    [ -f "$data_root/.kip-restore" ] || return 0
    if [ ! -s "$data_root/.kip-kind-cluster" ] || [ ! -s "$data_root/.kip-kubeconfig" ]; then
        fail restore "the restored data root has no .kip-kind-cluster or .kip-kubeconfig (not a kip snapshot)"
    fi
    mkdir -p "$conf_dir"
    cp "$data_root/.kip-kubeconfig" "$conf_dir/kubeconfig"
    # A remote node has no run: its data root is an emptyDir, its own.
    [ -z "${KIP_NODE_RUN:-}" ] || echo "$KIP_NODE_RUN" >"$data_root/.kip-node-run"
    rm -f "$data_root/.kip-restore"
    : >"$data_root/.kip-restored"
    echo "kip-info: restored=$(cat "$data_root/.kip-kind-cluster")"
}

# A restored data root keeps its Docker's default bridge (docker0) as the
# node it was saved on chose it, clear of that node's network; on this
# node's it may clash (a remote node's 172.17.0.0/16 restored on a local
# engine whose bridge is 172.17.0.0/16: replies to the engine go to
# docker0, and the API server's port resets). Such a node's dockerd gets a
# --bip clear of this node's routes and of the networks its Docker keeps,
# on every boot. Prints the argument, or nothing.
restored_bridge_arg() {
    [ -f "$data_root/.kip-restored" ] || return 0
    taken=$({
        ip -4 route show 2>/dev/null | awk '{ print $1 }'
        # Every address range its Docker keeps (the networks' pools, as
        # JSON inside the bolt file).
        grep -aoE '[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+/[0-9]+' "$data_root/network/files/local-kv.db" 2>/dev/null
    } | awk -F. '{ print $1 "." $2 }' | sort -u)
    for second in 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31; do
        printf '%s\n' "$taken" | grep -qx "172\.$second" || {
            echo "--bip=172.$second.0.1/16"
            return 0
        }
    done
}

# A remote node restored from a snapshot (`kip up --remote --from`): the
# node checks what only it can see against the snapshot's facts (KIP_RESTORE_EXPECT:
# "MTU CGROUP ARCH", "-" where unknown): its MTU must not be below the
# snapshot's, its cgroup version and architecture the same, else it fails
# naming each difference and kip removes it. Then it waits, before its
# dockerd starts, for kip to stream the snapshot's data root into its
# own (kip's `kip-snapshot-restore` script, which marks it .kip-restore):
# bounded, and given up at once when the stream began and ended without it.
await_restore() {
    [ "${KIP_AWAIT_RESTORE:-0}" = 1 ] || return 0
    # shellcheck disable=SC2086
    set -- ${KIP_RESTORE_EXPECT:-- - -}
    differs=
    [ "$1" = - ] || [ "$mtu" -ge "$1" ] ||
        differs="$differs; MTU: the snapshot's networks use $1, above this node's $mtu (packets would be lost)"
    [ "$2" = - ] || [ "$2" = "$cgroup" ] ||
        differs="$differs; cgroup version: the snapshot was taken on cgroup $2, this node runs cgroup $cgroup"
    arch=$(uname -m)
    [ "$3" = - ] || [ "$3" = "$arch" ] ||
        differs="$differs; architecture: the snapshot is $3, this node runs $arch"
    [ -z "$differs" ] || fail restore "the snapshot cannot be restored in this node: ${differs#; }"
    echo "kip-info: awaiting-restore=1"
    now=$(date +%s)
    deadline=$((now + ${KIP_IMAGE_TIMEOUT:-900}))
    start_by=$((now + ${KIP_STREAM_START_TIMEOUT:-60}))
    began=''
    ended=''
    until [ -f "$data_root/.kip-restore" ]; do
        now=$(date +%s)
        [ "$now" -lt "$deadline" ] || fail restore "the snapshot did not arrive within ${KIP_IMAGE_TIMEOUT:-900}s"
        if pgrep -f kip-snapshot-restore >/dev/null 2>&1; then
            began=1
            ended=''
        elif [ -z "$began" ]; then
            [ "$now" -lt "$start_by" ] ||
                fail restore "no stream of the snapshot began within ${KIP_STREAM_START_TIMEOUT:-60}s (the \`kip up\` streaming it is gone)"
        else
            [ -n "$ended" ] || ended=$now
            [ $((now - ended)) -lt "${KIP_STREAM_END_GRACE:-15}" ] ||
                fail restore "the stream of the snapshot ended without it (the \`kip up\` streaming it is gone: killed or interrupted)"
        fi
        sleep 0.1
    done
    echo "kip-info: restore-streamed=1"
}

# The inner kind cluster's name: the node's cluster name, or for a node
# restored from a snapshot the name its cluster was made under.
kind_cluster_name() {
    cat "$data_root/.kip-kind-cluster" 2>/dev/null || echo "${KIP_CLUSTER:?KIP_CLUSTER is not set}"
}

# dockerd in the background, until it answers (1 if it exits first).
# Bounded: a dockerd that neither answers nor exits is a failure.
try_dockerd() {
    log=$1
    shift
    # Extra dockerd arguments are split on white space on purpose.
    # shellcheck disable=SC2086
    dockerd "$@" ${runtime_args:-} ${KIP_DOCKERD_ARGS:-} >"$log" 2>&1 &
    dockerd_pid=$!
    deadline=$(($(date +%s) + ${KIP_DOCKERD_TIMEOUT:-120}))
    until docker version >/dev/null 2>&1; do
        kill -0 "$dockerd_pid" 2>/dev/null || return 1
        [ "$(date +%s)" -lt "$deadline" ] ||
            fail dockerd "dockerd did not answer within ${KIP_DOCKERD_TIMEOUT:-120}s" "$log"
        sleep 0.02
    done
}

# The node's own dockerd. A node that made a seed has had a dockerd on the
# seed's data root already: kip was told then that Docker runs.
start_dockerd() {
    try_dockerd "$log_dir/dockerd.log" "$@" ||
        fail dockerd "dockerd exited before answering" "$log_dir/dockerd.log"
    if [ -z "${dockerd_was_ready:-}" ]; then
        echo "kip-phase: dockerd-ready"
        dockerd_was_ready=1
    fi
}

stop_dockerd() {
    kill "$dockerd_pid" 2>/dev/null || true
    deadline=$(($(date +%s) + 30))
    while kill -0 "$dockerd_pid" 2>/dev/null; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            kill -9 "$dockerd_pid" 2>/dev/null || true
            break
        fi
        sleep 0.05
    done
    wait "$dockerd_pid" 2>/dev/null || true
}

# The kind node image never comes from a registry inside the node when kip
# can bring it from the host: kip streams it in after dockerd-ready
# (KIP_AWAIT_IMAGE=1) and this waits until the node's Docker has it.
await_node_image() {
    [ -n "${KIP_NODE_IMAGE:-}" ] && [ "${KIP_AWAIT_IMAGE:-0}" = 1 ] || return 0
    await_stream fail_image
}

fail_image() {
    fail image "$1"
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
    docker ps -aq --filter "label=io.x-k8s.kind.cluster=$(kind_cluster_name)" 2>/dev/null || true
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

# kind's kubelet.service is not ordered after containerd.service: on a
# restart systemd starts the kubelet before containerd answers, the kubelet
# fails once and comes back after its RestartSec (1.3 s of a restore,
# measured). A drop-in orders it (After= only: a containerd that fails
# still lets the kubelet start and say why), written into each stopped
# kind node before its start.
order_kubelet_after_containerd() {
    dropin=$conf_dir/05-kip-after-containerd.conf
    printf '[Unit]\nAfter=containerd.service\n' >"$dropin"
    for node in "$@"; do
        docker cp "$dropin" "$node:/etc/systemd/system/kubelet.service.d/" >>"$log_dir/kind.log" 2>&1 ||
            echo "kip-warn: cannot order the kubelet after containerd in the kind node $node (see $log_dir/kind.log)"
    done
}

# A restarted node (`docker restart`, a host reboot) finds its kind nodes
# stopped and starts them again; a new one creates the cluster.
create_cluster() {
    nodes=$(kind_nodes)
    if [ -n "$nodes" ] && [ -s "$conf_dir/kubeconfig" ]; then
        restore_kind_node_addresses
        # shellcheck disable=SC2086
        order_kubelet_after_containerd $nodes
        # shellcheck disable=SC2086
        docker start $nodes >>"$log_dir/kind.log" 2>&1 || fail cluster "cannot restart the kind nodes" "$log_dir/kind.log"
        echo "kip-info: cluster=restarted"
        cluster_created
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
    cluster_created
}

# The cluster is made: said, and marked for a probe (a remote pool's
# member is offered to claims only once this file is there, and only once
# every kind node is Ready, so that a claim waits for nothing).
cluster_created() {
    echo "kip-phase: cluster-created"
    [ "${KIP_MARK_AFTER_NODES:-}" != 1 ] || await_kind_nodes_ready
    : >"$conf_dir/cluster-created"
}

await_kind_nodes_ready() {
    docker exec "$KIP_CLUSTER-control-plane" kubectl --kubeconfig=/etc/kubernetes/admin.conf \
        wait --for=condition=Ready nodes --all --timeout="${KIP_NODES_TIMEOUT:-600}s" >>"$log_dir/kind.log" 2>&1 ||
        echo "kip-warn: cannot see every kind node Ready (see $log_dir/kind.log): the cluster is marked made as it is"
}

# On TERM (docker stop / restart, kip down): stop the kind nodes through
# dockerd, gracefully, so that their cgroups go with them (a node killed
# outright leaves them behind on cgroup v1) and a restart finds them whole.
# dockerd itself holds nothing worth a graceful stop.
shutdown() {
    trap - TERM INT
    # Stopped from outside, not failed: a `kip up` still making the cluster
    # tells a `kip down` at work from a failure of its own by this line.
    echo "kip-info: stopped=signal"
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

# --- Seeds: the kind node image without `docker load` (issue 18) ---------
# A seed is the kind node image unpacked once, in overlay2's own layout, in
# a store shared by the nodes of one engine (locally the kip-seeds volume;
# remotely a hostPath on the outer node), at $seed_store:
#   KEY/                 a complete seed: made in KEY.making, then renamed
#     seed.env           what it is: key, image, image ID, dockerd, layers, size
#     skel/              a data root without layer contents, copied into each node
#     layers/ID/         overlay2's diff of layer ID, bind-mounted read-only on
#                        the node's overlay2/ID/diff
#   KEY.lock             flock: shared while a node uses KEY, exclusive while a
#                        node makes it or kip removes it; dies with its holder
#   KEY.used             its mtime: the last boot of a node from KEY
#   KEY.making           a maker's work; a dead maker's is removed by the next
#                        maker or `kip gc`
# Only layer contents, which no dockerd ever changes, are shared: everything
# a dockerd writes in place is the node's own copy (skel). KIP_SEED is the
# key kip computed (kind node image ID, storage driver, DinD engine);
# KIP_SEED_OFF is why kip gave the node no seed store (the cluster refuses
# a hostPath volume), which the node reports as its seed decision.

# Why this node cannot use a seed ("" if it can).
seed_unusable() {
    for tool in flock stat mount; do
        command -v "$tool" >/dev/null 2>&1 || {
            echo "the node image has no $tool"
            return
        }
    done
    case " ${KIP_DOCKERD_ARGS:-} " in
    *" --data-root"* | *" --storage-driver"* | *" -s "* | *" -g "*)
        echo "--dockerd-arg sets the data root or storage driver"
        return
        ;;
    esac
    [ -n "${KIP_NODE_IMAGE:-}" ] || {
        echo "no kind node image named"
        return
    }
    [ -d "$seed_store" ] && [ -w "$seed_store" ] || echo "no writable seed store at $seed_store"
}

# fd 9 on KEY.lock, locked with flock $1 (-s or -x) if that can be had now;
# 1 if not. kip removes a lock file with its seed (holding it exclusively),
# so a lock on a file no longer at that path is no lock.
seed_lock() {
    touch "$seed_lock" 2>/dev/null || return 1
    exec 9<"$seed_lock"
    if flock -n "$1" 9 &&
        [ "$(stat -L -c %d:%i /proc/self/fd/9)" = "$(stat -c %d:%i "$seed_lock" 2>/dev/null)" ]; then
        return 0
    fi
    exec 9<&-
    return 1
}

# A field of the seed's seed.env.
seed_field() {
    sed -n "s/^$1=//p" "$seed_dir/seed.env" 2>/dev/null
}

# What is wrong with the complete seed ("" if nothing): a missing layer
# (or metadata) is a damaged seed.
seed_damage() {
    if [ ! -s "$seed_dir/seed.env" ] || [ ! -d "$seed_dir/skel/image" ]; then
        echo "no seed.env or skel"
        return
    fi
    for id in $(seed_field layers); do
        if [ ! -d "$seed_dir/layers/$id" ] || [ ! -d "$seed_dir/skel/overlay2/$id" ]; then
            echo "layer $id is missing"
            return
        fi
    done
}

# Whether the seed is of this node's image name and dockerd (the key names
# both already; this guards a key that does not, such as a remote node's):
# another node's seed is left to it, and the image streamed in.
seed_fits_node() {
    made_by=$(seed_field dockerd)
    runs=$(dockerd --version 2>/dev/null || true)
    if [ "$(seed_field image)" != "$KIP_NODE_IMAGE" ]; then
        echo "kip-info: seed=off (a seed of $(seed_field image), not $KIP_NODE_IMAGE)"
    elif [ "$made_by" != "$runs" ]; then
        echo "kip-info: seed=off (made by $made_by, this node runs $runs)"
    else
        return 0
    fi
    exec 9<&-
    return 1
}

# Decides how this node gets the kind node image: seed_mode=use (a complete
# seed), make (this node makes it), remount (a restart of a node made from
# it) or off (kip streams the image in). One maker per key: the exclusive
# lock; a node that finds another maker at work waits for its seed rather
# than stream the same image beside it (twice the disk writes, and no
# sooner done).
seed_prepare() {
    seed_mode=off
    if [ -n "${KIP_SEED_OFF:-}" ]; then
        echo "kip-info: seed=off ($KIP_SEED_OFF)"
        return 0
    fi
    [ -n "${KIP_SEED:-}" ] || return 0
    why=$(seed_unusable)
    if [ -n "$why" ]; then
        echo "kip-info: seed=off ($why)"
        return 0
    fi
    seed_dir=$seed_store/$KIP_SEED
    seed_lock=$seed_dir.lock
    if [ "$(cat "$data_root/.kip-seed" 2>/dev/null || true)" = "$KIP_SEED" ]; then
        seed_mode=remount
        return 0
    fi
    deadline=$(($(date +%s) + ${KIP_IMAGE_TIMEOUT:-900}))
    waiting=
    while :; do
        if seed_lock -s; then
            # A pool's remote member: nobody streams it an image to make a
            # seed of; without a seed its Docker pulls the image.
            if [ ! -d "$seed_dir" ] && [ "${KIP_SEED_USE_ONLY:-}" = 1 ]; then
                exec 9<&-
                echo "kip-info: seed=off (no seed $KIP_SEED on this node, and nothing streams the image: it is pulled)"
                return 0
            fi
            [ -d "$seed_dir" ] || {
                exec 9<&-
                if seed_lock -x; then
                    [ ! -d "$seed_dir" ] || continue
                    seed_mode='make'
                    return 0
                fi
            }
            if [ -d "$seed_dir" ]; then
                damage=$(seed_damage)
                [ -n "$damage" ] || {
                    seed_mode=use
                    seed_fits_node || seed_mode=off
                    return 0
                }
                exec 9<&-
                if seed_lock -x; then
                    echo "kip-warn: the seed $KIP_SEED is damaged ($damage); this node makes it again"
                    seed_discard "$seed_dir"
                    seed_mode='make'
                    return 0
                fi
                echo "kip-warn: the seed $KIP_SEED is damaged ($damage) and other nodes use it; the image is streamed in instead (\`kip seed rm $KIP_SEED\` once they are gone)"
                echo "kip-info: seed=off (damaged)"
                return 0
            fi
        fi
        if [ -z "$waiting" ]; then
            echo "kip-info: seed=waiting $KIP_SEED"
            waiting=1
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "kip-warn: the seed $KIP_SEED was not made within ${KIP_IMAGE_TIMEOUT:-900}s by the node making it; the image is streamed in instead"
            echo "kip-info: seed=off (timed out waiting)"
            return 0
        fi
        sleep 0.2
    done
}

# Removes a seed directory atomically: renamed first, so that no half of
# it is ever taken for a seed. The caller holds its key exclusively.
seed_discard() {
    gone=$1.removing.$$
    mv "$1" "$gone" && rm -rf "$gone"
}

# What a dead maker or remover of this key left: nobody else holds the key
# now (this node holds it exclusively), so nobody else can be at work.
seed_clear_leftovers() {
    making=$seed_dir.making
    for left in "$making" "$seed_dir".removing.*; do
        if [ -e "$left" ]; then
            echo "kip-info: seed-leftover=removed ${left##*/}"
            rm -rf "$left"
        fi
    done
}

# This node makes the seed (it holds the key exclusively): a dockerd on
# KEY.making takes the image kip streams in (`docker load`), stops, and the
# result becomes the seed by one rename. 1 (seed_mode=off) when overlay2
# cannot keep a seed here: kip then streams into the node's own dockerd.
seed_make() {
    mkdir -p "$making/docker"
    echo "kip-info: seed=making $KIP_SEED"
    if ! try_dockerd "$log_dir/dockerd-seed.log" "$@" --data-root="$making/docker" --storage-driver=overlay2; then
        echo "kip-warn: dockerd cannot keep a seed here ($(tail -n 1 "$log_dir/dockerd-seed.log")); the image is streamed in instead"
        rm -rf "$making"
        exec 9<&-
        seed_mode=off
        echo "kip-info: seed=off (overlay2 unusable)"
        return 1
    fi
    echo "kip-phase: dockerd-ready"
    dockerd_was_ready=1
    await_seed_image
    seed_publish
}

# Gives the seed up (the stream failed, or never came): nothing of it is
# kept, the key is free for the next maker, and the node fails. The reason
# is said first: stopping the seed's dockerd can take seconds, and a kip
# whose stream that stop broke looks for the node's reason at once.
seed_give_up() {
    echo "kip-fail: image: $1; the seed $KIP_SEED was not made (the next kip up makes it)"
    stop_dockerd
    rm -rf "$making"
    exec 9<&-
    exit 1
}

# The image kip streams into the node's dockerd (the seed's, or its own):
# kip's `docker load` runs in this node, so when kip is gone (killed), so is
# the load, and the node gives up at once ($1, given why) instead of waiting
# KIP_IMAGE_TIMEOUT for an image that will not come.
await_stream() {
    give_up=$1
    echo "kip-info: awaiting-image=$KIP_NODE_IMAGE"
    now=$(date +%s)
    deadline=$((now + ${KIP_IMAGE_TIMEOUT:-900}))
    start_by=$((now + ${KIP_STREAM_START_TIMEOUT:-60}))
    loading=''
    ended=''
    until docker image inspect "$KIP_NODE_IMAGE" >/dev/null 2>&1; do
        now=$(date +%s)
        [ "$now" -lt "$deadline" ] ||
            "$give_up" "the node image $KIP_NODE_IMAGE did not arrive within ${KIP_IMAGE_TIMEOUT:-900}s"
        if pgrep -f '^docker load' >/dev/null 2>&1; then
            loading=1
            ended=''
        elif [ -z "$loading" ]; then
            [ "$now" -lt "$start_by" ] ||
                "$give_up" "no stream of $KIP_NODE_IMAGE began within ${KIP_STREAM_START_TIMEOUT:-60}s (the \`kip up\` streaming it is gone)"
        else
            # kip names a digest-pinned image (`docker tag`) after the load.
            [ -n "$ended" ] || ended=$now
            [ $((now - ended)) -lt "${KIP_STREAM_END_GRACE:-15}" ] ||
                "$give_up" "the stream of $KIP_NODE_IMAGE ended without the image (the \`kip up\` streaming it is gone: killed or interrupted)"
        fi
        sleep 0.1
    done
    await_loader
    echo "kip-info: node-image=$KIP_NODE_IMAGE"
}

# The image is in a moment before kip's `docker load` (or `docker tag`) has
# its answer. A dockerd stopped in that moment (the seed's, once made)
# cuts the answer off, and kip takes a load that worked for a failure
# ("unexpected EOF"). So the loader ends first; bounded, as it is kip's.
await_loader() {
    settled=$(($(date +%s) + ${KIP_STREAM_END_GRACE:-15}))
    said=''
    while pgrep -f '^docker load' >/dev/null 2>&1 || pgrep -f '^docker tag' >/dev/null 2>&1; do
        [ -n "$said" ] || echo "kip-info: image-loader=finishing"
        said=1
        [ "$(date +%s)" -lt "$settled" ] || return 0
        sleep 0.05
    done
}

await_seed_image() {
    await_stream seed_give_up
}

# Unmounts what is mounted on or under $1 in this node, deepest first. A
# dockerd whose data root is not a shared mount (a Pod's hostPath) makes
# it one by bind-mounting it on itself, and may leave that when it stops:
# nothing of the seed's dockerd may stay mounted in the seed.
unmount_under() {
    awk -v root="$1" '$5 == root || index($5, root "/") == 1 { print $5 }' /proc/self/mountinfo |
        sort -r | while read -r point; do
        umount "$point" || umount -l "$point"
    done
}

# The loaded image becomes the seed: layer contents moved to layers/, the
# rest of the data root kept as skel/, then KEY.making renamed to KEY.
seed_publish() {
    id=$(docker image inspect -f '{{.Id}}' "$KIP_NODE_IMAGE")
    [ -z "${KIP_SEED_IMAGE_ID:-}" ] || [ "$id" = "$KIP_SEED_IMAGE_ID" ] ||
        seed_give_up "the node got image $id as $KIP_NODE_IMAGE, not the host's $KIP_SEED_IMAGE_ID"
    stop_dockerd
    root=$making/docker
    unmount_under "$root"
    layers=
    for file in "$root"/image/overlay2/layerdb/sha256/*/cache-id; do
        layers="$layers $(cat "$file")"
    done
    layers=${layers# }
    mkdir -p "$making/skel/overlay2/l" "$making/layers"
    cp -a "$root/image" "$making/skel/"
    for layer in $layers; do
        mv "$root/overlay2/$layer/diff" "$making/layers/$layer"
        cp -a "$root/overlay2/$layer" "$making/skel/overlay2/"
        mkdir -m 0755 "$making/skel/overlay2/$layer/diff"
        cp -a "$root/overlay2/l/$(cat "$root/overlay2/$layer/link")" "$making/skel/overlay2/l/"
    done
    rm -rf "$root"
    {
        echo "key=$KIP_SEED"
        echo "image=$KIP_NODE_IMAGE"
        echo "image_id=$id"
        echo "driver=overlay2"
        echo "dockerd=$(dockerd --version)"
        echo "made_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "layers=$layers"
        echo "size_kb=$(du -sk "$making" | cut -f1)"
    } >"$making/seed.env"
    mv "$making" "$seed_dir"
    # Now a user like any other.
    flock -n -s 9 || fail image "the seed $KIP_SEED was taken away as it was made"
    echo "kip-info: seed=made $KIP_SEED"
    seed_mode=use
}

# The node's data root from the seed: skel copied, each layer's contents
# bind-mounted read-only. Then the node's own dockerd starts on it.
seed_use() {
    started=$(date +%s%N 2>/dev/null || true)
    cp -a "$seed_dir/skel/." "$data_root/"
    seed_mount_layers
    echo "$KIP_SEED" >"$data_root/.kip-seed"
    touch "$seed_dir.used"
    took=
    case $started in *N | "") ;; *) took=" in $((($(date +%s%N) - started) / 1000000))ms" ;; esac
    count=$(seed_field layers | wc -w | tr -d ' ')
    [ "$count" = 1 ] && unit=layer || unit=layers
    echo "kip-info: seed=used $KIP_SEED ($count $unit$took)"
}

# The bind mounts, read-only. Every boot: a restart starts a new mount
# namespace. A layer this node's dockerd removed (`docker rmi`) is left
# out; it took only its own copy of the layer's metadata with it.
seed_mount_layers() {
    view=$runtime_dir/seed-layers
    mkdir -p "$view"
    if ! mount -o bind "$seed_dir/layers" "$view" || ! mount -o remount,bind,ro "$view"; then
        fail seed "cannot mount the seed's layers ($seed_dir/layers) read-only"
    fi
    for layer in $(seed_field layers); do
        diff=$data_root/overlay2/$layer/diff
        [ -d "$diff" ] || continue
        # A bind of a read-only mount is read-only too.
        mount -o bind "$view/$layer" "$diff" || fail seed "cannot mount layer $layer of the seed $KIP_SEED"
    done
}

# A restarted node (same KIP_NODE_RUN, so the same data root): its copy of
# skel is its own and stays as its dockerd left it; only the mounts are
# made again. The seed cannot have gone (kip removes no seed a node of
# its own carries, stopped or not); a damaged one is a clear failure.
seed_remount() {
    deadline=$(($(date +%s) + 60))
    until seed_lock -s; do
        [ "$(date +%s)" -lt "$deadline" ] || fail seed "the seed $KIP_SEED is held by a maker or remover"
        sleep 0.2
    done
    [ -d "$seed_dir" ] ||
        fail seed "the seed $KIP_SEED this node's images come from is gone; recreate the cluster (kip up --recreate)"
    for layer in $(seed_field layers); do
        [ ! -d "$data_root/overlay2/$layer" ] || [ -d "$seed_dir/layers/$layer" ] ||
            fail seed "layer $layer of the seed $KIP_SEED is missing; recreate the cluster (kip up --recreate)"
    done
    seed_mount_layers
    touch "$seed_dir.used"
    echo "kip-info: seed=remounted $KIP_SEED"
}

# After the seed's setup nothing in this node writes to the store: its
# view of it becomes read-only (the lock, open for reading, stays held).
seal_seed_store() {
    mount -o remount,bind,ro "$seed_store" 2>/dev/null ||
        echo "kip-warn: the seed store stays writable in this node (cannot remount it read-only)"
}

# The kind node image from a seed when there is one (making it if need
# be); else kip streams it in after dockerd starts. Adds dockerd's storage
# driver to the arguments (set -- in the caller): the seed's layout is
# overlay2's.
prepare_node_image() {
    seed_prepare
    case $seed_mode in
    make)
        seed_clear_leftovers
        if [ "${KIP_SEED_ONLY:-}" = 1 ]; then
            echo "kip-info: seed-only: would make $KIP_SEED"
            exit 0
        fi
        seed_make "$@" || true
        ;;
    esac
    case $seed_mode in
    use) seed_use ;;
    remount) seed_remount ;;
    esac
    [ "$seed_mode" = off ] || seal_seed_store
}

main() {
    # A new run of the bootstrap (the node made, or started again): what an
    # earlier run said is over.
    echo "kip-phase: booting"
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
    await_restore
    prepare_data_root
    trap shutdown TERM INT
    prepare_node_image "$@"
    if [ "${KIP_SEED_ONLY:-}" = 1 ]; then
        echo "kip-info: seed-only: mode $seed_mode"
        exit 0
    fi
    [ "$seed_mode" = off ] || set -- "$@" --storage-driver=overlay2
    bip=$(restored_bridge_arg)
    if [ -n "$bip" ]; then
        set -- "$@" "$bip"
        echo "kip-info: docker-bridge=${bip#--bip=} (a restored data root's, clear of this node's networks)"
    fi
    start_dockerd "$@"
    await_node_image
    create_cluster
    wait "$dockerd_pid" || fail dockerd "dockerd exited" "$log_dir/dockerd.log"
}

main
