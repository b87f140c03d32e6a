#!/bin/sh
# Snapshots (issue 19), head to head: builds of kip saving one source
# cluster and restoring what each saved, interleaved round by round, so
# that a shared machine's load falls on all of them alike. Prints each
# save's line (the size, how long the source was frozen) and each
# restore's copy line and total; asserts nothing.
#
#   sh bench/snapshot_ab.sh [--rounds N] KIP_BUILD...
#
# The source is made by the first build, with one image `kip load`ed
# (the kind node image's kube-proxy, renamed); every cluster, snapshot and
# the image are removed at the end. Uses the real-kind test images.
set -eu
rounds=3
if [ "${1:-}" = --rounds ]; then
    rounds=$2
    shift 2
fi
[ $# -gt 0 ] || { echo "usage: $0 [--rounds N] KIP_BUILD..." >&2; exit 2; }
tmp=$(mktemp -d)
export KUBECONFIG="$tmp/kubeconfig" KIP_DIND_IMAGE="${KIP_DIND_IMAGE:-kip-test-node:real-kind}"
export KIP_IMAGE="${KIP_IMAGE:-kip-test-kind-node:latest}"
source=bench-ab-$$
image=kip.local/bench-ab:$$
first=$1
# What a round leaves if it stops half way, then the source.
made=
cleanup() {
    for snap in $made; do
        "$first" down "$snap-c" >/dev/null 2>&1 || true
        "$first" snapshot rm "$snap" >/dev/null 2>&1 || true
    done
    "$first" down "$source" >/dev/null 2>&1 || true
    docker rmi "$image" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
"$first" up "$source" --no-switch-context >/dev/null
version=$(docker run --rm --entrypoint cat "$KIP_IMAGE" /kind/version)
docker tag "registry.k8s.io/kube-proxy:$version" "$image"
"$first" load "$source" "$image" >/dev/null
round=1
while [ "$round" -le "$rounds" ]; do
    build=0
    for kip in "$@"; do
        build=$((build + 1))
        snap=bench-ab-$$-$round-$build
        made="$made $snap"
        echo "round $round, build $build ($kip), load $(cut -d' ' -f1 /proc/loadavg)"
        "$kip" snapshot save "$source" "$snap" 2>&1 | tail -n 1
        start=$(date +%s.%N)
        "$kip" up "$snap-c" --from "$snap" --no-switch-context 2>&1 | grep -E "Copied snapshot|is ready in"
        echo "  up --from returned after $(echo "$(date +%s.%N) - $start" | bc) s"
        "$kip" down "$snap-c" >/dev/null 2>&1
        "$kip" snapshot rm "$snap" >/dev/null 2>&1
    done
    round=$((round + 1))
done
