#!/usr/bin/env bash
# TEST INFRASTRUCTURE, never shipped: builds, with no container registry, a
# real kind node image (Kubernetes from source), a Docker-in-Docker test
# image that carries the real kind CLI, and a registry image.
#
#   test-stack/real-kind/build.sh [NODE_IMAGE [DIND_IMAGE [REGISTRY_IMAGE]]]
#     NODE_IMAGE      default kip-test-kind-node:latest  (kind create cluster --image)
#     DIND_IMAGE      default kip-test-node:real-kind     (kip up --dind-image)
#     REGISTRY_IMAGE  default kip-test-registry:latest    (kip registry create --image)
#
# Everything comes from the Go module proxy and Debian's archive:
# - go/<component>/go.mod + go.sum: one small build module per component
#   (Kubernetes, etcd, CoreDNS, containerd, runc, crictl, CNI plugins, kind,
#   the local-path provisioner, the Distribution registry), versions pinned
#   there; kind's node files (entrypoint, systemd units, containerd config),
#   kind's default storage manifest and the names of its storage images
#   (read with go/kindconst), pause.c and the registry's config are read from
#   the module cache at build time, never copied into this repository;
# - the node's root file system is Debian bookworm made with debootstrap.
# The images kubeadm needs are preloaded into the node's containerd the way
# kind's own node-image builder does (run, exec containerd, ctr import, commit),
# then the image checks itself (every image under its exact name, versions,
# executables) so a mistake fails here in seconds, not in kubeadm's 4-minute
# wait.
#
# Caching: Go binaries by a hash of their module files and flags (under
# $KIP_REAL_KIND_CACHE, default /var/cache/kip-real-kind; Go's own module and
# build caches stay where `go env` says), images by a hash of their inputs. A
# rerun with nothing changed takes seconds. Each stage prints its time.
set -euo pipefail

node_image=${1:-kip-test-kind-node:latest}
dind_image=${2:-kip-test-node:real-kind}
registry_image=${3:-kip-test-registry:latest}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${KIP_REAL_KIND_CACHE:-/var/cache/kip-real-kind}
mkdir -p "$cache/bin"

export GOTOOLCHAIN=local GOFLAGS=-mod=readonly DOCKER_BUILDKIT=0

# Versions that are not Go module versions. Kubernetes, etcd, CoreDNS and
# friends are pinned in go/*/go.mod; the self-check compares them with what
# kubeadm asks for.
k8s_minor_pause=3.10.1         # kubeadm's PauseVersion (constants.go) for 1.35
kind_sandbox_pause=3.10        # the sandbox_image in kind v0.32.0's containerd config
rootfs_packages=systemd,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,e2fsprogs,bash,ca-certificates,curl,jq,procps

t_all=$(date +%s)
stage_start=0
stage() {
    stage_end
    stage_name=$*
    stage_start=$(date +%s)
    printf '\n--- real-kind: %s\n' "$stage_name" >&2
}
stage_end() {
    if [ "$stage_start" -ne 0 ]; then
        printf -- '--- real-kind: %s took %ss\n' "$stage_name" $(($(date +%s) - stage_start)) >&2
    fi
}
die() { echo "real-kind: $*" >&2; exit 1; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
sha() { sha256sum | cut -c1-16; }

# modver DIR MODULE: the version of MODULE that the build module DIR pins.
modver() { (cd "$here/go/$1" && go list -m -f '{{.Version}}' "$2"); }

# gobuild COMPONENT "LDFLAGS" "TAGS" CGO PKG...: builds the packages of the
# build module go/COMPONENT into $cache/bin/COMPONENT-KEY/ unless that folder
# exists; sets $out to it.
gobuild() {
    local comp=$1 ldflags=$2 tags=$3 cgo=$4
    shift 4
    local key
    key=$({ go version; echo "$ldflags|$tags|$cgo|$*"; cat "$here/go/$comp/go.mod" "$here/go/$comp/go.sum"; } | sha)
    out=$cache/bin/$comp-$key
    if [ -d "$out" ]; then
        echo "$comp: cached ($out)" >&2
        return
    fi
    rm -rf "$out.tmp"
    mkdir -p "$out.tmp"
    (cd "$here/go/$comp" && CGO_ENABLED=$cgo go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$out.tmp/" "$@") ||
        die "building $comp failed"
    mv "$out.tmp" "$out"
}

stage "probes"
go version >&2
command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
command -v gcc >/dev/null || die "gcc is missing (apt-get install gcc libc6-dev libseccomp-dev pkg-config)"
pkg-config --exists libseccomp || die "libseccomp-dev is missing (apt-get install libseccomp-dev pkg-config)"
docker info >/dev/null 2>&1 || die "no Docker daemon answers"
# Download every module first: a proxy problem fails here, in seconds.
for d in "$here"/go/*/; do (cd "$d" && go mod download) || die "go mod download failed in $d"; done

k8s_version=$(modver k8s k8s.io/kubernetes)
k8s_minor=$(echo "$k8s_version" | cut -d. -f2)
kind_version=$(modver kind sigs.k8s.io/kind)
etcd_version=$(modver etcd go.etcd.io/etcd/server/v3)
coredns_version=$(modver coredns github.com/coredns/coredns)
containerd_version=$(modver containerd github.com/containerd/containerd/v2)
runc_version=$(modver runc github.com/opencontainers/runc)
crictl_version=$(modver crictl sigs.k8s.io/cri-tools)
local_path_version=$(modver local-path github.com/rancher/local-path-provisioner)
registry_version=$(modver registry github.com/distribution/distribution/v3)
kind_dir=$(cd "$here/go/kind" && go list -m -f '{{.Dir}}' sigs.k8s.io/kind)
k8s_dir=$(cd "$here/go/k8s" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)
registry_dir=$(cd "$here/go/registry" && go list -m -f '{{.Dir}}' github.com/distribution/distribution/v3)
echo "Kubernetes $k8s_version, kind $kind_version, etcd $etcd_version, CoreDNS $coredns_version," \
    "containerd $containerd_version, runc $runc_version, crictl $crictl_version," \
    "local-path-provisioner $local_path_version, registry $registry_version" >&2

stage "Go builds (Kubernetes, etcd, CoreDNS, containerd, runc, crictl, CNI plugins, kind, local-path, registry)"
kv="-X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1"
kv="$kv -X k8s.io/component-base/version.gitMinor=$k8s_minor -X k8s.io/component-base/version.gitTreeState=clean"
kv="$kv -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"
kv="$kv ${kv//component-base\/version/client-go\/pkg\/version}"
gobuild k8s "-s -w $kv" "" 0 \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kubectl \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy
k8s_bin=$out
gobuild etcd "-s -w" "" 0 go.etcd.io/etcd/server/v3
etcd_bin=$out
gobuild coredns "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$coredns_version" "" 0 github.com/coredns/coredns
coredns_bin=$out
gobuild containerd "-s -w -X github.com/containerd/containerd/v2/version.Version=$containerd_version" \
    "urfave_cli_no_docs no_btrfs no_devmapper no_zfs no_aufs" 0 \
    github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/ctr \
    github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2
containerd_bin=$out
gobuild runc "-s -w -X main.version=${runc_version#v}" "seccomp urfave_cli_no_docs" 1 github.com/opencontainers/runc
runc_bin=$out
gobuild crictl "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$crictl_version" "" 0 sigs.k8s.io/cri-tools/cmd/crictl
crictl_bin=$out
gobuild cni "-s -w" "" 0 \
    github.com/containernetworking/plugins/plugins/main/ptp github.com/containernetworking/plugins/plugins/main/loopback \
    github.com/containernetworking/plugins/plugins/ipam/host-local github.com/containernetworking/plugins/plugins/meta/portmap \
    github.com/containernetworking/plugins/plugins/main/bridge
cni_bin=$out
gobuild kind "-s -w" "" 0 sigs.k8s.io/kind
kind_bin=$out
gobuild local-path "-s -w -X main.VERSION=$local_path_version" "" 0 github.com/rancher/local-path-provisioner
local_path_bin=$out
gobuild registry "-s -w" "" 0 github.com/distribution/distribution/v3/cmd/registry
registry_bin=$out

pause_bin=$cache/bin/pause-$(sha <"$k8s_dir/build/pause/linux/pause.c")-$k8s_minor_pause
if [ ! -x "$pause_bin/pause" ]; then
    mkdir -p "$pause_bin"
    gcc -Os -Wall -Werror -static -DVERSION="v$k8s_minor_pause" -o "$pause_bin/pause" "$k8s_dir/build/pause/linux/pause.c"
    strip "$pause_bin/pause"
fi

# What kubeadm of this version will ask the node's containerd for.
mapfile -t kubeadm_images < <("$k8s_bin/kubeadm" config images list --kubernetes-version "$k8s_version" 2>/dev/null)
[ "${#kubeadm_images[@]}" -ge 6 ] || die "kubeadm config images list printed ${#kubeadm_images[@]} images"
printf '  kubeadm needs %s\n' "${kubeadm_images[@]}" >&2
image_for() { printf '%s\n' "${kubeadm_images[@]}" | grep "/$1:" || die "kubeadm lists no $1 image"; }
etcd_ref=$(image_for etcd)
coredns_ref=$(image_for coredns)
pause_ref=$(image_for pause)
[ "${etcd_ref##*:}" = "${etcd_version#v}-0" ] || die "kubeadm wants $etcd_ref but go/etcd pins $etcd_version"
[ "${coredns_ref##*:}" = "$coredns_version" ] || die "kubeadm wants $coredns_ref but go/coredns pins $coredns_version"
[ "${pause_ref##*:}" = "$k8s_minor_pause" ] || die "kubeadm wants $pause_ref but this script builds pause $k8s_minor_pause"

# kind's default storage (pkg/build/nodeimage/const_storage.go of the kind
# version pinned): the manifest kind writes to /kind/manifests/
# default-storage.yaml and the two images it names, which kind preloads.
kind_storage=$kind_dir/pkg/build/nodeimage/const_storage.go
kindconst() { (cd "$here/go/kindconst" && go run . "$kind_storage" "$1") || die "cannot read $1 from $kind_storage"; }
storage_manifest=$(kindconst defaultStorageManifest)
provisioner_ref=$(kindconst storageProvisionerImage)
storage_helper_ref=$(kindconst storageHelperImage)
for ref in "$provisioner_ref" "$storage_helper_ref"; do
    printf '%s\n' "$storage_manifest" | grep -qF "$ref" || die "kind's storage manifest does not name $ref"
done

stage "root file system (debootstrap)"
rootfs=kip.local/kind-rootfs:$(printf '%s' "$rootfs_packages" | sha)
if ! have_image "$rootfs"; then
    root=$(mktemp -d /var/tmp/kip-kind-root.XXXXXX)
    trap 'rm -rf "$root" "$root.log"' EXIT
    debootstrap --variant=minbase --include="$rootfs_packages" bookworm "$root" >"$root.log" 2>&1 || {
        tail -n 30 "$root.log" >&2
        die "debootstrap failed"
    }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker import - "$rootfs" >/dev/null
    rm -rf "$root" "$root.log"
    trap - EXIT
fi
echo "$rootfs" >&2

# quiet_build REF DIR: docker build, its output shown only when it fails
# (the classic builder's deprecation notice is noise here).
quiet_build() {
    local out
    out=$(docker build --quiet -t "$1" "$2" 2>&1) || { printf '%s\n' "$out" >&2; die "docker build of $1 failed"; }
}

stage "component images"
ctx=$(mktemp -d /var/tmp/kip-kind-ctx.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
# build_image REF DOCKERFILE FILE[=NAME]...: a classic-builder image from the
# files given (copied into an empty context, as NAME if given), tagged REF.
build_image() {
    local ref=$1 dockerfile=$2 file
    shift 2
    rm -rf "$ctx/img" && mkdir -p "$ctx/img"
    for file in "$@"; do
        cp "${file%%=*}" "$ctx/img/$(basename "${file#*=}")"
    done
    printf '%s\n' "$dockerfile" >"$ctx/img/Dockerfile"
    quiet_build "$ref" "$ctx/img"
}
for c in kube-apiserver kube-controller-manager kube-scheduler; do
    build_image "registry.k8s.io/$c:$k8s_version" \
        "FROM scratch
COPY $c /usr/local/bin/$c
ENV PATH=/usr/local/bin:/usr/bin:/bin" "$k8s_bin/$c"
done
build_image "$etcd_ref" "FROM scratch
COPY etcd /usr/local/bin/etcd
ENV PATH=/usr/local/bin:/usr/bin:/bin" "$etcd_bin/server=etcd"
# go build names the etcd binary "server" (the element before /v3).
docker run --rm --entrypoint /usr/local/bin/etcd "$etcd_ref" --version >/dev/null 2>&1 ||
    die "the etcd image does not run"
build_image "$coredns_ref" "FROM scratch
COPY coredns /coredns
ENTRYPOINT [\"/coredns\"]" "$coredns_bin/coredns"
build_image "$pause_ref" "FROM scratch
COPY pause /pause
USER 65535:65535
ENTRYPOINT [\"/pause\"]" "$pause_bin/pause"
docker tag "$pause_ref" "registry.k8s.io/pause:$kind_sandbox_pause"
# kube-proxy needs iptables; the node's own root file system has it.
build_image "registry.k8s.io/kube-proxy:$k8s_version" "FROM $rootfs
COPY kube-proxy /usr/local/bin/kube-proxy" "$k8s_bin/kube-proxy"
# The local-path provisioner under the name kind's manifest gives it; its
# helper pod needs sh, rm and mkdir (kind stages them from Debian), which the
# node's root file system has.
build_image "$provisioner_ref" "FROM scratch
COPY local-path-provisioner /usr/local/bin/local-path-provisioner
ENV PATH=/usr/local/bin:/usr/bin:/bin
ENTRYPOINT [\"/usr/local/bin/local-path-provisioner\"]" "$local_path_bin/local-path-provisioner"
docker run --rm "$provisioner_ref" --version >/dev/null 2>&1 || die "the local-path provisioner image does not run"
build_image "$storage_helper_ref" "FROM $rootfs"
docker run --rm --entrypoint sh "$storage_helper_ref" -c 'mkdir -m 0777 -p /v/pvc && rm -rf /v/pvc' ||
    die "the local-path helper image cannot run its setup and teardown commands"
cni_key=$(sha <"$here/kip-test-cni.sh")
cni_image=kip.local/test-cni:$cni_key
build_image "$cni_image" "FROM $rootfs
COPY kip-test-cni.sh /usr/local/bin/kip-test-cni
RUN chmod 0755 /usr/local/bin/kip-test-cni" "$here/kip-test-cni.sh"
preload=(
    "registry.k8s.io/kube-apiserver:$k8s_version" "registry.k8s.io/kube-controller-manager:$k8s_version"
    "registry.k8s.io/kube-scheduler:$k8s_version" "registry.k8s.io/kube-proxy:$k8s_version"
    "$etcd_ref" "$coredns_ref" "$pause_ref" "registry.k8s.io/pause:$kind_sandbox_pause" "$cni_image"
    "$provisioner_ref" "$storage_helper_ref"
)

stage "node image"
node_key=$({
    cat "$0" "$here/default-cni.yaml" "$here/kip-test-cni.sh"
    printf '%s\n' "$storage_manifest"
    for i in "${preload[@]}" "$rootfs"; do docker image inspect --format '{{.Id}}' "$i"; done
    sha256sum "$k8s_bin"/kube{adm,let,ctl} "$containerd_bin"/* "$runc_bin"/* "$crictl_bin"/* "$cni_bin"/*
    find "$kind_dir/images/base/files" -type f -exec sha256sum {} + | sort
} | sha)
node_built=kip.local/kind-node:$k8s_version-$node_key
if have_image "$node_built"; then
    echo "$node_built: cached" >&2
else
    rm -rf "$ctx/node" && mkdir -p "$ctx/node/bin" "$ctx/node/cni"
    cp -r "$kind_dir/images/base/files" "$ctx/node/kindfiles"
    chmod -R u+w "$ctx/node/kindfiles"
    rm -rf "$ctx/node/kindfiles/LICENSES"
    cp "$k8s_bin"/kube{adm,let,ctl} "$containerd_bin"/* "$runc_bin/runc" "$crictl_bin/crictl" "$ctx/node/bin/"
    cp "$cni_bin"/{ptp,loopback,host-local,portmap,bridge} "$ctx/node/cni/"
    mkdir -p "$ctx/node/kindfiles/kind/manifests"
    sed "s#CNI_IMAGE#$cni_image#" "$here/default-cni.yaml" >"$ctx/node/kindfiles/kind/manifests/default-cni.yaml"
    printf '%s\n' "$storage_manifest" >"$ctx/node/kindfiles/kind/manifests/default-storage.yaml"
    # The steps of kind's base Dockerfile (images/base/Dockerfile at the kind
    # version pinned): systemd as init with the units kind ships, containerd's
    # CRI base spec with kind's createContainer hook, and /kind/version.
    cat >"$ctx/node/Dockerfile" <<DOCKERFILE
FROM $rootfs
COPY kindfiles/ /
COPY bin/kubeadm bin/kubelet bin/kubectl /usr/bin/
COPY bin/containerd bin/ctr bin/containerd-shim-runc-v2 bin/crictl /usr/local/bin/
COPY bin/runc /usr/local/sbin/runc
COPY cni/ /opt/cni/bin/
RUN chmod 0755 /usr/local/bin/* /usr/local/sbin/runc /opt/cni/bin/* /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl \\
        /kind /kind/bin /kind/bin/* \\
 && find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete \\
 && rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \\
          /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \\
          /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/* \\
 && echo ReadKMsg=no >>/etc/systemd/journald.conf \\
 && ln -sf /usr/lib/systemd/systemd /sbin/init \\
 && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \\
 && systemctl mask systemd-binfmt.service \\
 && mkdir -p /etc/kubernetes/manifests /etc/cni/net.d \\
 && ctr oci spec | jq '.hooks.createContainer[.hooks.createContainer|length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \\
      | jq 'del(.process.rlimits)' >/etc/containerd/cri-base.json \\
 && printf '%s' '$k8s_version' >/kind/version
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
DOCKERFILE
    quiet_build kip.local/kind-node-unloaded:"$node_key" "$ctx/node"

    # Preload: kind's own technique (pkg/build/nodeimage): containerd started
    # in a plain container of the image, images imported into namespace
    # k8s.io pinned, the container committed.
    docker save "${preload[@]}" >"$ctx/images.tar"
    builder=kip-kind-node-build-$node_key
    docker rm -f "$builder" >/dev/null 2>&1 || true
    # --init: containerd stopped below must be reaped, not linger as a zombie.
    docker run -d --init --name "$builder" --security-opt seccomp=unconfined --entrypoint sleep \
        kip.local/kind-node-unloaded:"$node_key" infinity >/dev/null
    docker exec "$builder" sh -c 'containerd >/var/log/containerd-build.log 2>&1 &'
    for _ in $(seq 1 100); do
        docker exec "$builder" ctr version >/dev/null 2>&1 && break
        sleep 0.2
    done
    docker exec -i "$builder" ctr -n k8s.io images import --label=io.cri-containerd.pinned=pinned \
        --all-platforms --no-unpack --digests - <"$ctx/images.tar" >/dev/null ||
        { docker exec "$builder" tail -n 20 /var/log/containerd-build.log >&2; die "ctr import failed"; }
    docker exec "$builder" sh -c 'pkill containerd; while pgrep -x containerd >/dev/null; do sleep 0.1; done; rm -f /var/log/containerd-build.log'
    docker commit --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' --change 'CMD []' \
        "$builder" "$node_built" >/dev/null
    docker rm -f "$builder" >/dev/null
    docker rmi kip.local/kind-node-unloaded:"$node_key" >/dev/null
fi

stage "node image self-check"
# The image must hold, under their exact names, every image kubeadm and kind
# will ask containerd for; its version file, kubelet and kubeadm must agree;
# kind's scripts must be executable.
check=$(docker run --rm --security-opt seccomp=unconfined --entrypoint bash "$node_built" -c '
    set -eu
    containerd >/dev/null 2>&1 &
    for _ in $(seq 1 100); do ctr version >/dev/null 2>&1 && break; sleep 0.2; done
    echo "version=$(cat /kind/version)"
    echo "kubelet=$(kubelet --version)"
    echo "kubeadm=$(kubeadm version -o short)"
    echo "sandbox=$(containerd config dump 2>/dev/null | sed -n "s/^ *sandbox\(_image\)\{0,1\} = [\"'\'']\([^\"'\'']*\)[\"'\''].*/\2/p" | head -n1)"
    for f in /usr/local/bin/entrypoint /kind/bin/*.sh; do test -x "$f" || echo "notexec=$f"; done
    storage=/kind/manifests/default-storage.yaml
    if [ -f "$storage" ]; then
        sed -n -e "s/^ *image: *//p" -e "/- --helper-image/{n;s/^ *- *//p;}" "$storage" | sed "s/^/storageimage=/"
        grep -q "storageclass.kubernetes.io/is-default-class: \"true\"" "$storage" && echo "defaultclass=yes"
    fi
    ctr -n k8s.io images ls -q | sed "s/^/image=/"
') || die "the node image does not run its self-check"
field() { printf '%s\n' "$check" | sed -n "s/^$1=//p"; }
[ "$(field version)" = "$k8s_version" ] || die "/kind/version is '$(field version)', want $k8s_version"
[ "$(field kubelet)" = "Kubernetes $k8s_version" ] || die "kubelet says '$(field kubelet)', want $k8s_version"
[ "$(field kubeadm)" = "$k8s_version" ] || die "kubeadm says '$(field kubeadm)', want $k8s_version"
[ -z "$(field notexec)" ] || die "not executable in the node image: $(field notexec)"
sandbox=$(field sandbox)
[ -n "$sandbox" ] || die "cannot read containerd's sandbox image from the node image"
[ "$(field defaultclass)" = yes ] || die "the node image has no default-storage.yaml with a default StorageClass"
mapfile -t storage_images < <(field storageimage | sort -u)
[ "${#storage_images[@]}" -eq 2 ] || die "default-storage.yaml names ${#storage_images[@]} images, want the provisioner and its helper"
for want in "${kubeadm_images[@]}" "$sandbox" "$cni_image" "${storage_images[@]}"; do
    field image | grep -qxF "$want" || die "the node image lacks $want (kind or kubeadm would try to pull it)"
done
echo "$node_built: $(field image | wc -l) images preloaded, sandbox $sandbox, Kubernetes $k8s_version," \
    "storage ${storage_images[*]}" >&2
docker tag "$node_built" "$node_image"

stage "registry image (the Distribution registry)"
# As the project's own image (its Dockerfile at the version pinned): the
# registry binary, the module's config-dev.yml as /etc/distribution/config.yml,
# storage in /var/lib/registry, port 5000; FROM scratch with the build
# machine's CA bundle, so a pull-through cache can reach an https upstream.
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca_bundle" ] || die "$ca_bundle is missing (apt-get install ca-certificates)"
registry_dockerfile="FROM scratch
COPY registry /bin/registry
COPY config-dev.yml /etc/distribution/config.yml
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
VOLUME [\"/var/lib/registry\"]
ENV OTEL_TRACES_EXPORTER=none
EXPOSE 5000
ENTRYPOINT [\"/bin/registry\"]
CMD [\"serve\", \"/etc/distribution/config.yml\"]"
registry_key=$({
    printf '%s\n' "$registry_dockerfile"
    cat "$registry_bin/registry" "$registry_dir/cmd/registry/config-dev.yml" "$ca_bundle"
} | sha)
registry_built=kip.local/registry:$registry_version-$registry_key
if have_image "$registry_built"; then
    echo "$registry_built: cached" >&2
else
    build_image "$registry_built" "$registry_dockerfile" "$registry_bin/registry" \
        "$registry_dir/cmd/registry/config-dev.yml" "$ca_bundle"
fi
# Self-check: it serves the registry API, takes a push and lists it.
probe=kip-registry-build-check-$registry_key
docker rm -f "$probe" >/dev/null 2>&1 || true
docker run -d --name "$probe" -p 127.0.0.1::5000 "$registry_built" >/dev/null
registry_port=$(docker port "$probe" 5000/tcp | head -n1 | sed 's/.*://')
registry_check() {
    local pushed=127.0.0.1:$registry_port/kip-build-check/pause:$registry_key
    for _ in $(seq 1 50); do
        curl -fsS "http://127.0.0.1:$registry_port/v2/" >/dev/null 2>&1 && break
        sleep 0.2
    done
    docker tag "$pause_ref" "$pushed" && docker push "$pushed" >/dev/null &&
        curl -fsS "http://127.0.0.1:$registry_port/v2/_catalog" | grep -q kip-build-check/pause
    local status=$?
    docker rmi "$pushed" >/dev/null 2>&1 || true
    return $status
}
registry_check || { docker logs --tail 20 "$probe" >&2; docker rm -f -v "$probe" >/dev/null; die "the registry image does not serve pushes"; }
docker rm -f -v "$probe" >/dev/null
echo "$registry_built: serves pushes (Distribution $registry_version)" >&2
docker tag "$registry_built" "$registry_image"

stage "Docker-in-Docker test image with the real kind"
"$top/test-stack/node-image/build.sh" "$dind_image" "$kind_bin/kind"
docker run --rm --entrypoint kind "$dind_image" version >&2

stage_end
printf '\nreal-kind: built %s, %s and %s in %ss\n' "$node_image" "$dind_image" "$registry_image" $(($(date +%s) - t_all)) >&2
