#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# with-bus.sh CMD [ARGS...]: run one integration test on a private session
# bus (tests/data/session.conf, whose service dir activates the build-tree
# switchboardd) with private XDG_RUNTIME_DIR, XDG_STATE_HOME and
# XDG_CONFIG_HOME. The hub exits with its bus. Under sanitizers, the
# activated hub writes reports to $SB_TMP/asan.*; any such report fails the
# test even when the test itself passed. Exit 77 (skip) without dbus-daemon.
set -u

command -v dbus-run-session >/dev/null || { echo "dbus-run-session not found: skipping"; exit 77; }
command -v dbus-daemon >/dev/null || { echo "dbus-daemon not found: skipping"; exit 77; }
: "${SB_SESSION_CONF:?run through meson test}"

SB_TMP=$(mktemp -d /tmp/sb-test.XXXXXX)
chmod 0700 "$SB_TMP"
mkdir -m 0700 "$SB_TMP/runtime" "$SB_TMP/state" "$SB_TMP/config"
export SB_TMP
export XDG_RUNTIME_DIR="$SB_TMP/runtime"
export XDG_STATE_HOME="$SB_TMP/state"
export XDG_CONFIG_HOME="$SB_TMP/config"
# The hub inherits these through the bus. abort_on_error keeps reports short;
# exitcode makes a leak a failure of the hub's exit status too.
export ASAN_OPTIONS="log_path=$SB_TMP/asan:detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$SB_TMP/asan:print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
unset DBUS_SESSION_BUS_ADDRESS

dbus-run-session --config-file="$SB_SESSION_CONF" -- "$@"
rc=$?

# dbus-run-session has killed the bus; the hub exits on the disconnect.
# Wait (bounded) for it so that LeakSanitizer's report is complete.
pidfile="$XDG_RUNTIME_DIR/switchboard/switchboardd.pid"
if [ -f "$pidfile" ]; then
        timeout 20 tail -s 0.05 --pid="$(cat "$pidfile")" -f /dev/null || echo "the hub did not exit with its bus"
fi

reports=$(ls "$SB_TMP"/asan.* 2>/dev/null)
if [ -n "$reports" ]; then
        echo "sanitizer reports from processes started under this test:"
        cat $reports
        [ $rc -eq 0 ] && rc=1
fi
if [ $rc -eq 0 ] || [ $rc -eq 77 ]; then
        rm -rf "$SB_TMP"
else
        echo "test state kept in $SB_TMP"
fi
exit $rc
