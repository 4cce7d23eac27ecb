# SPDX-License-Identifier: GPL-2.0-or-later
# Common helpers for the TME/MKTME scripts.  Source it, do not run it.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${TME_BUILD_DIR:-$TOP/build}
CACHE=${TME_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qemu-tme}

# The pinned Debian source package and the suite whose deb-src index
# serves it (moving to another version is a change of these lines).
QEMU_PKG_VERSION="1:10.2.2+ds-1"
QEMU_SUITE="sid"
QEMU_DIR_NAME="qemu-10.2.2+ds"
QEMU_DSC="qemu_10.2.2+ds-1.dsc"
# SHA-256 of the .dsc; the .dsc lists the checksums of the tarballs and
# dpkg-source verifies those on unpack.
QEMU_DSC_SHA256="f1684b3aa5ec500c3389d346c6501dee45041ea91656c6556d4da9023b7987dd"
# SHA-256 of the upstream tarball, checked as well before unpacking
QEMU_ORIG="qemu_10.2.2+ds.orig.tar.xz"
QEMU_ORIG_SHA256="be05230fe47a6937cd29f28f562932c8125f9c93c2a82c625198f7a4aa601dfb"

step_name=""
step() {
    step_name="$*"
    printf '\n==> [%s] %s\n' "$(date +%H:%M:%S)" "$*"
}

die() {
    printf '\nERROR in step "%s": %s\n' "$step_name" "$*" >&2
    exit 1
}

# The URI of the Debian archive this machine's apt uses, read from its
# configuration (deb822 sources or the one-line format).
debian_archive_uri() {
    local uri
    uri=$(awk '
        /^URIs:/ { for (i = 2; i <= NF; i++) print $i }
    ' /etc/apt/sources.list.d/*.sources 2>/dev/null |
        grep -E '/debian/?$' | head -n 1)
    if [ -z "$uri" ]; then
        uri=$(grep -hE '^deb[[:space:]]' /etc/apt/sources.list \
                  /etc/apt/sources.list.d/*.list 2>/dev/null |
              awk '{ for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' |
              grep -E '/debian/?$' | head -n 1)
    fi
    [ -n "$uri" ] || return 1
    printf '%s\n' "${uri%/}"
}

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo > /dev/null; then
        sudo "$@"
    else
        die "installing Debian packages needs root: run this as root, or" \
            "install sudo and allow this user to use it (the command was:" \
            "$*)"
    fi
}

# Fail early, with what to do, when the file system of DIR has less than
# GIB GiB free: a build that runs out of space fails in obscure ways.
need_disk() {
    local dir=$1 gib=$2 free
    mkdir -p "$dir"
    free=$(df -Pk "$dir" | awk 'NR == 2 { print int($4 / 1048576) }')
    [ "$free" -ge "$gib" ] ||
        die "$dir has $free GiB free; the build and the guest kernels" \
            "need about $gib GiB: free some space or set TME_BUILD_DIR to" \
            "a directory with more"
}

# A git tree of the pristine source at DIR: one commit, "QEMU <version>",
# with a fixed identity and date so that its hash is always the same.
GIT_IDENT=(-c "user.name=QEMU TME/MKTME authors"
           -c "user.email=tme@qemu-tme.invalid")
pristine_repo() {
    local dir=$1
    rm -rf "$dir"
    mkdir -p "$dir"
    rsync -a --exclude=.pc "$CACHE/$QEMU_DIR_NAME/" "$dir/"
    git -C "$dir" init -q
    git -C "$dir" add -A
    GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
        git "${GIT_IDENT[@]}" -C "$dir" commit -q -m "QEMU $QEMU_PKG_VERSION"
}

# The patch files of patches/series, in order
series_patches() {
    sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$TOP/patches/series"
}

# Apply patches/series to a tree: the whole series, new files included
# (patches/ is what scripts/update-patches exported from a development
# tree, see scripts/dev-tree).
apply_series() {
    local dest=$1 p
    [ -f "$TOP/patches/series" ] || return 0
    for p in $(series_patches); do
        patch -d "$dest" -p1 -s --no-backup-if-mismatch -F0 \
            < "$TOP/patches/$p" || die "patch $p does not apply"
    done
}

CONFIGURE_ARGS=(--python=/usr/bin/python3 --target-list=x86_64-softmmu
    --without-default-features --enable-tcg --enable-gnutls --enable-slirp
    --enable-fdt=system --enable-pixman --enable-vhost-user --enable-vhost-kernel
    --enable-vhost-net --enable-tools --disable-docs --disable-install-blobs
    --enable-werror)

# scripts/build --sanitize: ASan and UBSan, frame pointers for the stack
# traces.  UBSan stays recoverable so that scripts/ubsan-suppressions can
# name stock QEMU's known cases; UBSAN_OPTIONS=halt_on_error=1
# (sanitizer_env) stops QEMU at any other report.  Sanitizer builds are for
# run-time checks: GCC's warnings under -fsanitize are spurious at times,
# so no -Werror there (the normal build keeps it).
SANITIZE_CONFIGURE_ARGS=(--enable-asan --enable-ubsan --disable-werror
    --extra-cflags=-fno-omit-frame-pointer)
# scripts/build --tsan: ThreadSanitizer (not with the other two)
TSAN_CONFIGURE_ARGS=(--enable-tsan --disable-werror
    "--extra-cflags=-fno-omit-frame-pointer")

# Run a command with the sanitizers' run-time options: every ASan, UBSan
# or LeakSanitizer report halts the process with a stack trace (TSan's
# reports, many in stock TCG, are only printed); LeakSanitizer and UBSan
# ignore the known cases of stock QEMU listed in scripts/lsan-suppressions
# and scripts/ubsan-suppressions.
sanitizer_env() {
    ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1:print_summary=1:fast_unwind_on_malloc=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1:print_summary=1:suppressions=$TOP/scripts/ubsan-suppressions} \
    LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$TOP/scripts/lsan-suppressions:print_suppressions=0} \
    TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0:exitcode=0:second_deadlock_stack=1} \
        "$@"
}

# QEMU's configure names the compiler itself, so meson does not add
# ccache: put Debian's ccache wrappers first in PATH instead.
export PATH=/usr/lib/ccache:$PATH
export CCACHE_BASEDIR=$BUILD CCACHE_NOHASHDIR=true
