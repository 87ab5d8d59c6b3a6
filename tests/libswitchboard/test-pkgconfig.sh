#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# libswitchboard as another project uses it: install the build into a
# temporary prefix, then compile and link examples/c/demo.c out of tree
# with nothing but `pkg-config --cflags --libs switchboard`, once against
# the shared library and once with --static; check that only the sb_*
# symbols are exported, versioned, and that the program runs (it cannot
# connect: no hub listens at the socket it is given).
set -eu
: "${SB_BUILD_ROOT:?run through meson test}" "${SB_SOURCE_ROOT:?}"
command -v pkg-config >/dev/null || { echo "pkg-config not found: skipping"; exit 77; }

tmp=$(mktemp -d /tmp/sb-pc.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
DESTDIR= meson install -C "$SB_BUILD_ROOT" --no-rebuild --quiet --destdir "$tmp/root" >/dev/null
# meson installs under DESTDIR + the configured prefix: use that tree as the prefix.
configured=$(meson introspect "$SB_BUILD_ROOT" --buildoptions |
        python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
libdir=$(meson introspect "$SB_BUILD_ROOT" --buildoptions |
        python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"][0])')
mv "$tmp/root$configured" "$prefix"
pcdir=$prefix/$libdir/pkgconfig
[ -f "$pcdir/switchboard.pc" ] || { echo "FAIL: no switchboard.pc under $pcdir"; exit 1; }
# The .pc file names the configured prefix: point it at the temporary one.
sed -i "s#^prefix=.*#prefix=$prefix#" "$pcdir/switchboard.pc"
export PKG_CONFIG_PATH=$pcdir

# A sanitized build's objects need the sanitizers' run-time when linked statically.
sanitize=$(meson introspect "$SB_BUILD_ROOT" --buildoptions |
        python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="b_sanitize"][0])')
cflags=""
[ "$sanitize" = none ] || cflags="-fsanitize=$sanitize"

mkdir "$tmp/project"
cp "$SB_SOURCE_ROOT/examples/c/demo.c" "$tmp/project/"
cd "$tmp/project"
# shellcheck disable=SC2046
cc -std=c99 -Wall -Werror $cflags -o demo demo.c $(pkg-config --cflags --libs switchboard)
# shellcheck disable=SC2046
cc -std=c99 -Wall -Werror $cflags -o demo-static demo.c $(pkg-config --cflags --libs --static switchboard | sed 's/-lswitchboard/-l:libswitchboard.a/')
echo "built demo (shared) and demo-static out of tree with pkg-config"

# Only the sb_* API leaves the shared library, each symbol versioned.
so=$(ls "$prefix/$libdir"/libswitchboard.so.0)
exported=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^LIBSWITCHBOARD_0$')
bad=$(echo "$exported" | grep -v '^sb_.*@@LIBSWITCHBOARD_0$' || true)
[ -z "$bad" ] || { echo "FAIL: exported beyond the sb_* API:"; echo "$bad"; exit 1; }
echo "exports $(echo "$exported" | wc -l) versioned sb_* symbols and nothing else"

# Runs, finds the installed library, and says why it cannot connect.
for prog in ./demo ./demo-static; do
        rc=0
        out=$(LD_LIBRARY_PATH="$prefix/$libdir" ASAN_OPTIONS=detect_leaks=0 "$prog" "$tmp/no-such-socket" 2>&1) || rc=$?
        [ "$rc" = 1 ] || { echo "FAIL: $prog exited $rc: $out"; exit 1; }
        case $out in
        *"cannot connect to the hub: No such file or directory"*) ;;
        *) echo "FAIL: $prog said: $out"; exit 1 ;;
        esac
done
echo "ok: both run and report the missing hub"
