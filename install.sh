#!/bin/sh
# Builds kip from this checkout and installs the binary, its shell
# completions and its man page. Safe to run again: it replaces what it
# installed before.
#
#   ./install.sh [--prefix DIR]     (default: $HOME/.local, or /usr/local as root)
set -eu

usage() {
    echo "usage: ./install.sh [--prefix DIR]" >&2
    exit 2
}

if [ "$(id -u)" = 0 ]; then prefix=/usr/local; else prefix=${HOME:?}/.local; fi
while [ $# -gt 0 ]; do
    case $1 in
        --prefix) [ $# -ge 2 ] || usage; prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        -h | --help) usage ;;
        *) echo "install.sh: unknown argument: $1" >&2; usage ;;
    esac
done

command -v cargo >/dev/null 2>&1 || {
    echo "install.sh: cargo is needed to build kip (https://rustup.rs)" >&2
    exit 1
}
here=$(cd "$(dirname "$0")" && pwd)
# cargo --quiet prints nothing while it works: say what is going on.
echo "install.sh: building kip with cargo (release; a first build takes several minutes)..." >&2
cargo build --release --locked --quiet --manifest-path "$here/Cargo.toml" --bin kip
echo "install.sh: built; installing into $prefix" >&2
bin=$here/target/release/kip

install -d "$prefix/bin" "$prefix/share/man/man1" \
    "$prefix/share/bash-completion/completions" \
    "$prefix/share/zsh/site-functions" \
    "$prefix/share/fish/vendor_completions.d"
install -m 0755 "$bin" "$prefix/bin/kip"
install -m 0644 "$here/completions/kip.bash" "$prefix/share/bash-completion/completions/kip"
install -m 0644 "$here/completions/_kip" "$prefix/share/zsh/site-functions/_kip"
install -m 0644 "$here/completions/kip.fish" "$prefix/share/fish/vendor_completions.d/kip.fish"
"$bin" man >"$prefix/share/man/man1/kip.1"

echo "installed $("$prefix/bin/kip" --version) to $prefix/bin/kip"
case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) echo "note: $prefix/bin is not on your PATH" ;;
esac
