# shellcheck shell=sh
# kip's copy of a node's data root (sourced by the snapshot helpers of
# src/snapshot/volume.rs, which run it with the engine's volumes at /vols
# when they can: `DockerProvider::volumes_folder`).
#
# copy_root (below) is `cp -a` of one volume's folder into another's,
# except that containerd's content store in the kind node's /var (an
# engine volume inside the data root) is hard-linked, not copied: its blobs
# are named by their digest and never written in place (containerd writes
# a new blob beside and renames it in; a removal only unlinks), so a clone
# that shares them cannot change the other's. Everything else is copied:
# etcd's and Docker's bolt files are written in place. A hard link needs
# both names in one mount: $vols, once it is seen to hold the very folders
# mounted at the two paths. The store is linked first, then one `cp -a`
# that never writes over what is there copies the rest: a handful of
# processes, whatever the tree (a walk forking a `cp` per entry kept saves
# frozen longer in an A/B: BENCHMARKS.md "Snapshots"). Prints "linked" (a
# store was) or "copied".

# Where the helper mounts them (a test sets others).
: "${vols:=/vols}" "${from:=/from}" "${to:=/to}"
store=lib/containerd/io.containerd.content.v1.content/blobs

# sees VOLUME PATH: whether $vols/VOLUME/_data is the folder at PATH.
sees() {
    [ -d "$vols" ] || return 1
    [ "$(stat -c %d:%i "$vols/$1/_data" 2>/dev/null)" = "$(stat -c %d:%i "$2")" ]
}

# keep: the `cp` option that skips what is there and still succeeds
# (`--update=none` since coreutils 9.3; `-n` before 9.2, which made `-n`
# fail on a skip); none if this cp has neither.
keep() {
    probe=$(mktemp -d)
    : >"$probe/a"
    : >"$probe/b"
    if cp --update=none "$probe/a" "$probe/b" 2>/dev/null; then
        printf '%s\n' --update=none
    elif cp -n "$probe/a" "$probe/b" 2>/dev/null; then
        printf '%s\n' -n
    fi
    rm -rf "$probe"
}

# link SRC DST: each content store of SRC's engine volumes hard-linked into
# DST (made with its parents); whether there was one. A store reached
# through a symbolic link is not one.
link() {
    linked=1
    real=$(cd "$1" && pwd -P)
    for blobs in "$1"/volumes/*/_data/"$store"; do
        [ -d "$blobs" ] || continue
        path=${blobs#"$1"/}
        [ "$(cd "$blobs" && pwd -P)" = "$real/$path" ] || continue
        mkdir -p "$2/${path%/*}"
        if cp -al "$blobs" "$2/$path" 2>/dev/null; then
            linked=0
        else
            # The copy below never writes over a link: it would write
            # the source.
            rm -rf "${2:?}/$path"
        fi
    done
    return $linked
}

# copy_root FROM FROM_SUB TO TO_SUB: $from/FROM_SUB/. into $to/TO_SUB/,
# where volume FROM is mounted at $from and volume TO at $to (the SUBs
# are "" or a folder in them, "/data").
copy_root() {
    skip=$(keep)
    if [ -n "$skip" ] && sees "$1" "$from" && sees "$3" "$to" &&
        link "$vols/$1/_data$2" "$vols/$3/_data$4"; then
        cp -a "$skip" "$vols/$1/_data$2/." "$vols/$3/_data$4/"
        echo linked
    else
        cp -a "$from$2/." "$to$4/"
        echo copied
    fi
}
