#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# fuzz-test.sh TARGET SEEDDIR ARTIFACTDIR SECONDS [DICT]: one bounded fuzz
# run of a libFuzzer TARGET, as a meson test (suite 'fuzz'). It starts from
# the seed corpus SEEDDIR (read only: new inputs go to a scratch corpus that
# is thrown away) and fails on the first crash, leak, sanitizer report or
# input slower than 5 s, leaving the input in ARTIFACTDIR and printing how
# to reproduce it. Exit 77 (skip) when the target cannot run at all.
set -u

target=$1 seeds=$2 artifacts=$3 seconds=$4 dict=${5:-}
name=$(basename "$target")

[ -x "$target" ] || { echo "$name: $target not built; skipping"; exit 77; }
[ -d "$seeds" ] || { echo "$name: no seed corpus at $seeds" >&2; exit 1; }

scratch=$(mktemp -d "/tmp/$name.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$artifacts"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

args=(-max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -max_len=65536
      -print_final_stats=1 -artifact_prefix="$artifacts/$name-")
[ -n "$dict" ] && args+=(-dict="$dict")

echo "$name: fuzzing for $seconds s from $(ls "$seeds" | wc -l) seeds in $seeds"
"$target" "${args[@]}" "$scratch" "$seeds"
rc=$?
if [ $rc -ne 0 ]; then
        echo "$name: FAILED (exit $rc). The input is in $artifacts/$name-*;" \
             "reproduce with: $target $artifacts/$name-<crash-file>" >&2
        exit 1
fi
echo "$name: no failure in $seconds s"
