#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-activation.sh: the first call starts the hub.
#
# On a fresh private bus nobody owns org.switchboard.Hub1, though the bus
# can activate it; the user's first `busctl --user call ... Publish` starts
# switchboardd through D-Bus activation, gets a sequence number back, and
# from then on the name has an owner that stays the same across calls.

. "$(dirname "$0")/lib.sh"

out=$(name_has_owner) || die "NameHasOwner: $out"
expect_eq "$out" "b false" "NameHasOwner before any call"
ok "no owner before the first call"

out=$(busctl --user call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        ListActivatableNames) || die "ListActivatableNames: $out"
[[ $out == *'"org.switchboard.Hub1"'* ]] || die "the bus cannot activate $HUB_NAME: $out"
ok "the bus can activate $HUB_NAME"

out=$(busctl --user call org.switchboard.Hub1 /org/switchboard/Hub1 org.switchboard.Hub1 \
        Publish ss sensors.kitchen.temp 21.5 2>&1) || die "first Publish: $out"
expect_match "$out" '^t [0-9]+$' "reply to the first Publish"
seq1=$(num "$out")
[ "$seq1" -ge 1 ] || die "first seq is $seq1, expected >= 1"
ok "first Publish activated the hub: $out"

out=$(name_has_owner) || die "NameHasOwner: $out"
expect_eq "$out" "b true" "NameHasOwner after the first call"
owner=$(busctl --user call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        GetNameOwner s "$HUB_NAME") || die "GetNameOwner failed"
ok "the name has an owner: $owner"

seq2=$(num "$(bc Publish ss sensors.kitchen.temp 21.6)")
[ "$seq2" -gt "$seq1" ] || die "second seq $seq2 not greater than first $seq1"
owner2=$(busctl --user call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        GetNameOwner s "$HUB_NAME") || die "GetNameOwner failed"
expect_eq "$owner2" "$owner" "owner after a second call (no second instance)"
ok "second call reaches the same hub, seq $seq1 -> $seq2"

# The activated process is switchboardd from this build.
pid=$(busctl --user call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        GetConnectionUnixProcessID s "$HUB_NAME") || die "GetConnectionUnixProcessID failed"
pid=$(num "$pid")
exe=$(readlink "/proc/$pid/exe") || die "cannot read /proc/$pid/exe"
expect_eq "$exe" "$(readlink -f "$SWITCHBOARDD")" "the executable that owns $HUB_NAME"
ok "owner is pid $pid, $exe"
