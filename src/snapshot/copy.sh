# shellcheck shell=sh
# kip's copy of a node's data root (sourced by the snapshot helpers of
# src/snapshot/volume.rs, which run it with the engine's volumes at /vols
# when they can: `DockerProvider::volumes_folder`).
#
# copy_root (below): `cp -a` of one volume's folder into another's, except that containerd's content store in the kind
# node's /var (an engine volume inside the data root) is hard-linked, not
# copied: its blobs are named by their digest and never written in place
# (containerd writes a new blob beside and renames it in; a removal only
# unlinks), so a clone that shares them cannot change the other's. A hard
# link needs both names in one mount: $vols, after checking that it holds
# the very folders mounted at the two paths. Everything else is copied:
# etcd's and Docker's bolt files are written in place. Prints "linked"
# (a content store was) or "copied".

# Where the helper mounts them (a test sets others).
: "${vols:=/vols}" "${from:=/from}" "${to:=/to}"

# sees VOLUME PATH: whether $vols/VOLUME/_data is the folder at PATH.
sees() {
    [ -d "$vols" ] || return 1
    [ "$(stat -c %d:%i "$vols/$1/_data" 2>/dev/null)" = "$(stat -c %d:%i "$2")" ]
}

# attrs DIR: the source's owner, mode and times on the copy's DIR.
attrs() {
    chown "$(stat -c %u:%g "$src/$1")" "$dst/$1"
    chmod "$(stat -c %a "$src/$1")" "$dst/$1"
    touch -h -r "$src/$1" "$dst/$1"
}

# around DIR PATTERN...: copies DIR but the entries the PATTERNs name,
# level by level below it; the last level's folders are hard-linked.
around() {
    dir=$1 pattern=$2
    shift 2
    mkdir -p "$dst/$dir"
    for entry in "$src/$dir"/* "$src/$dir"/.[!.]* "$src/$dir"/..?*; do
        [ -e "$entry" ] || [ -L "$entry" ] || continue
        name=${entry##*/}
        # shellcheck disable=SC2254
        case $name in
        $pattern)
            if [ ! -d "$entry" ] || [ -L "$entry" ]; then
                cp -a "$entry" "$dst/$dir/"
            elif [ $# -gt 0 ]; then
                (around "$dir/$name" "$@")
            elif cp -al "$entry" "$dst/$dir/" 2>/dev/null; then
                echo "$dir/$name" >>"$links"
            else
                # Never copied over a link: that would write the source.
                rm -rf "${dst:?}/$dir/$name"
                cp -a "$entry" "$dst/$dir/"
            fi
            ;;
        *) cp -a "$entry" "$dst/$dir/" ;;
        esac
    done
    attrs "$dir"
}

# copy_root FROM FROM_SUB TO TO_SUB: $from/FROM_SUB/. into $to/TO_SUB/,
# where volume FROM is mounted at $from and volume TO at $to (the SUBs
# are "" or a folder in them, "/data").
copy_root() {
    if sees "$1" "$from" && sees "$3" "$to"; then
        src=$vols/$1/_data$2 dst=$vols/$3/_data$4 links=$(mktemp)
        around . volumes '*' _data lib containerd io.containerd.content.v1.content blobs
        if [ -s "$links" ]; then echo linked; else echo copied; fi
        rm -f "$links"
    else
        cp -a "$from$2/." "$to$4/"
        echo copied
    fi
}
