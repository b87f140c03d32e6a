#!/bin/sh
# Builds the TEST node image (test infrastructure, never shipped): a Debian
# bookworm root made with debootstrap (no registry is reachable on CI), with
# Debian's docker.io, tini and iptables, plus the test stand-in for `kind`.
#
#   test-stack/node-image/build.sh [IMAGE]      (default kip-test-node:latest)
#
# The debootstrap root is cached as the image kip-test-base:bookworm; it is
# only rebuilt when the package list below changes. The stand-in layer is
# rebuilt every time (it is small and follows the source).
set -eu

image=${1:-kip-test-node:latest}
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

cargo build --quiet --release --manifest-path "$top/Cargo.toml" -p kip-test-kind
ctx=$(mktemp -d)
cp "$top/target/release/kind" "$ctx/kind"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $base
COPY kind /usr/local/bin/kind
LABEL io.kip.test-stack=node-image
DOCKERFILE
docker build --quiet -t "$image" "$ctx" >/dev/null
rm -rf "$ctx"
echo "built $image" >&2
