#!/bin/sh
# Builds the TEST node image (test infrastructure, never shipped): a Debian
# bookworm root made with debootstrap (no registry is reachable on CI), with
# Debian's docker.io, tini and iptables, plus `kind`: the test stand-in, or
# the real kind binary given as KIND (test-stack/real-kind/build.sh does that).
#
#   test-stack/node-image/build.sh [IMAGE [KIND]]   (default kip-test-node:latest)
#
# The debootstrap root is cached as the image kip-test-base:bookworm; it is
# only rebuilt when the package list below changes. The stand-in layer is
# rebuilt every time (it is small and follows the source).
set -eu

image=${1:-kip-test-node:latest}
kind_binary=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
packages=docker.io,tini,iptables,ca-certificates,procps,iproute2,kmod
base_tag=$(printf '%s' "$packages" | sha256sum | cut -c1-12)
base=kip-test-base:$base_tag

if ! docker image inspect "$base" >/dev/null 2>&1; then
    root=$(mktemp -d /var/tmp/kip-test-root.XXXXXX)
    trap 'rm -rf "$root"' EXIT
    echo "building $base with debootstrap (about a minute)" >&2
    debootstrap --variant=minbase --include="$packages" bookworm "$root" >"$root.log" 2>&1 || {
        tail -n 30 "$root.log" >&2
        exit 1
    }
    rm -f "$root.log"
    # No apt caches or docker state in the image.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/lib/docker/*
    tar -C "$root" -c . | docker import - "$base" >/dev/null
fi

ctx=$(mktemp -d)
if [ -n "$kind_binary" ]; then
    cp "$kind_binary" "$ctx/kind"
else
    cargo build --quiet --release --manifest-path "$top/Cargo.toml" -p kip-test-kind
    cp "$top/target/release/kind" "$ctx/kind"
fi
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $base
COPY kind /usr/local/bin/kind
LABEL io.kip.test-stack=node-image
DOCKERFILE
docker build --quiet -t "$image" "$ctx" >/dev/null
if [ -z "$kind_binary" ]; then
    # The "kind node image" the stand-in is given (`kip up --image`): kip
    # streams it into the node as it does a real one, and the stand-in, like
    # kind, refuses to start without it. A tiny image: the stand-in itself.
    printf 'FROM scratch\nCOPY kind /kind-stand-in\nLABEL io.kip.test-stack=stand-in-kind-node\n' >"$ctx/Dockerfile"
    docker build --quiet -t kip-test-stand-in-node:latest "$ctx" >/dev/null
fi
rm -rf "$ctx"
echo "built $image" >&2
