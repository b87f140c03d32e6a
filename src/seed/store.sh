#!/bin/sh
# kip's seed store helper (`kip seed`, `kip gc`, `kip doctor`): runs in a
# throwaway container with the seed store mounted. The layout and the
# locks are the node bootstrap's (src/node/bootstrap.sh, "Seeds"): a lock
# held shared is a node using the seed; held exclusively, a maker or
# another remover. Nothing is removed whose lock cannot be had
# exclusively at once, so no seed is ever removed under a node.
#   list            one line per seed or leftover (tab-separated)
#   remove KEY...   removed, busy or absent, per key
#   clean           removes what dead makers and removers left
set -eu

store=${KIP_SEED_STORE:-/var/lib/kip/seeds}
tab=$(printf '\t')

# fd 9 on KEY.lock, held exclusively, if nobody holds it (1 if somebody
# does). A node checks after locking that the file is still the one at the
# path, so a lock file is removed only while held.
hold() {
    lock=$store/$1.lock
    [ -e "$lock" ] || touch "$lock"
    exec 9<"$lock"
    flock -n -x 9 && return 0
    exec 9<&-
    return 1
}

release() {
    exec 9<&-
}

field() {
    sed -n "s/^$2=//p" "$store/$1/seed.env" 2>/dev/null
}

mtime() {
    stat -c %Y "$1" 2>/dev/null || echo 0
}

# key state held size_kb made_at last_used image image_id dockerd
list() {
    for dir in "$store"/*; do
        [ -d "$dir" ] || continue
        name=${dir##*/}
        case $name in
        *.making) key=${name%.making} state=making ;;
        *.removing.*) key=${name%%.removing.*} state=removing ;;
        *) key=$name state=ready ;;
        esac
        held=no
        if hold "$key"; then
            release
            [ "$state" = ready ] || state=abandoned
        else
            held=yes
        fi
        if [ "$state" = ready ]; then
            line="$key$tab$state$tab$held$tab$(field "$key" size_kb)$tab$(field "$key" made_at)"
            line="$line$tab$(mtime "$store/$key.used")$tab$(field "$key" image)$tab$(field "$key" image_id)"
            echo "$line$tab$(field "$key" dockerd)"
        else
            echo "$key$tab$state$tab$held$tab$(du -sk "$dir" | cut -f1)$tab$tab$(mtime "$dir")$tab$tab$tab"
        fi
    done
}

remove() {
    for key in "$@"; do
        if ! hold "$key"; then
            echo "busy$tab$key"
            continue
        fi
        if [ -d "$store/$key" ]; then
            # Renamed first: no half of it is ever taken for a seed.
            mv "$store/$key" "$store/$key.removing.$$"
            rm -rf "$store/$key.removing.$$"
            echo "removed$tab$key"
        else
            echo "absent$tab$key"
        fi
        rm -f "$store/$key.used" "$store/$key.lock"
        release
    done
}

clean() {
    for path in "$store"/*.making "$store"/*.removing.* "$store"/*.lock; do
        [ -e "$path" ] || continue
        name=${path##*/}
        case $name in
        *.making) key=${name%.making} ;;
        *.removing.*) key=${name%%.removing.*} ;;
        *) key=${name%.lock} ;;
        esac
        hold "$key" || continue
        case $name in
        *.lock)
            # A lock and stamp whose seed is gone (a maker that died before
            # making anything).
            if [ ! -e "$store/$key" ] && [ ! -e "$store/$key.making" ]; then
                rm -f "$store/$key.used" "$path"
            fi
            ;;
        *)
            rm -rf "$path"
            echo "cleaned$tab$name"
            ;;
        esac
        release
    done
}

command=${1:-}
[ $# -eq 0 ] || shift
case $command in
list) list ;;
remove) remove "$@" ;;
clean) clean ;;
*)
    echo "usage: store.sh list | remove KEY... | clean" >&2
    exit 2
    ;;
esac
