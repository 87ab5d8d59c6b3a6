#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-methods-cli.sh: every method of org.switchboard.Hub1 called the way
# users call it, with busctl, gdbus and dbus-send, and the replies checked.
#
# Each command is its own short-lived D-Bus client, so a subscription or a
# watch made by one is gone (or foreign) for the next: Unsubscribe/Unwatch
# of such an id is NotFound. Sequence numbers and revisions are hub-wide and
# must grow from one call to the next whatever tool made it.

. "$(dirname "$0")/lib.sh"

seqs=()
add_seq() {
        local s
        s=$(num "$1")
        if [ ${#seqs[@]} -gt 0 ]; then
                [ "$s" -gt "${seqs[-1]}" ] || die "seq $s after ${seqs[-1]}: not increasing ($1)"
        fi
        seqs+=("$s")
}

# Publish / PublishRetained / PublishBinary with each tool.
out=$(bc Publish ss cli.a 21.5);                expect_match "$out" '^t [0-9]+$' "busctl Publish"; add_seq "$out"
out=$(gd Publish cli.a "'text with spaces'");   expect_match "$out" '^\(uint64 [0-9]+,\)$' "gdbus Publish"; add_seq "$out"
out=$(ds Publish string:cli.a string:x);        expect_match "$out" 'uint64 [0-9]+' "dbus-send Publish"; add_seq "$out"
ok "Publish with busctl, gdbus, dbus-send: seq ${seqs[*]}"

out=$(bc PublishRetained ss cli.r.a ra);        expect_match "$out" '^t [0-9]+$' "busctl PublishRetained"; add_seq "$out"
out=$(ds PublishRetained string:cli.r.b string:rb); add_seq "$out"
out=$(gd PublishBinary cli.r.c "[0xff, 0x00, 0x41]" true)
expect_match "$out" '^\(uint64 [0-9]+,\)$' "gdbus PublishBinary"; add_seq "$out"
out=$(bc PublishBinary sayb cli.bin 3 1 2 3 false); expect_match "$out" '^t [0-9]+$' "busctl PublishBinary"; add_seq "$out"
out=$(ds PublishBinary string:cli.bin array:byte:1,2,255 boolean:false); add_seq "$out"
ok "PublishRetained, PublishBinary: seq ${seqs[*]}"
expect_eq "$(prop Topics)" "3" "Topics after three retained publishes"

# ClearRetained counts.
expect_eq "$(bc ClearRetained s 'nothing.>')" "u 0" "busctl ClearRetained(nothing.>)"
expect_eq "$(bc ClearRetained s 'cli.r.a')" "u 1" "busctl ClearRetained(cli.r.a)"
expect_eq "$(gd ClearRetained "'cli.r.*'")" "(uint32 2,)" "gdbus ClearRetained(cli.r.*)"
out=$(ds ClearRetained string:'cli.>');         expect_match "$out" 'uint32 0' "dbus-send ClearRetained(cli.>)"
expect_eq "$(prop Topics)" "0" "Topics after ClearRetained"
ok "ClearRetained counts 0, 1, 2, 0"

# Subscribe / Unsubscribe: ids are positive and distinct; a finished
# process's id is not ours to unsubscribe.
out=$(bc Subscribe sb 'cli.>' false);           expect_match "$out" '^t [1-9][0-9]*$' "busctl Subscribe"
sid1=$(num "$out")
out=$(gd Subscribe "'cli.*.x'" true);           expect_match "$out" '^\(uint64 [1-9][0-9]*,\)$' "gdbus Subscribe"
sid2=$(num "$out")
out=$(ds Subscribe string:'>' boolean:false);   sid3=$(num "$out")
[ "$sid1" != "$sid2" ] && [ "$sid2" != "$sid3" ] && [ "$sid1" != "$sid3" ] ||
        die "subscription ids not distinct: $sid1 $sid2 $sid3"
out=$(ds_fail Unsubscribe uint64:"$sid1")
[[ $out == *"$HUB_ERR.NotFound"* ]] || die "dbus-send Unsubscribe of a finished client's id: $out"
out=$(gd_fail Unsubscribe "$sid2")
[[ $out == *"$HUB_ERR.NotFound"* ]] || die "gdbus Unsubscribe of a finished client's id: $out"
out=$(bc_fail Unsubscribe t 999999)
[[ $out == *"does not exist"* ]] || die "busctl Unsubscribe(999999): $out"
ok "Subscribe ids $sid1 $sid2 $sid3; Unsubscribe of them from another process: NotFound"

# Store: Set / Get / GetBinary / SetBinary / SetIf / Delete / List.
out=$(bc Set ss cli.k.theme dark);              expect_match "$out" '^t [1-9][0-9]*$' "busctl Set"
r1=$(num "$out")
expect_eq "$(bc Get s cli.k.theme)" "st \"dark\" $r1" "busctl Get"
expect_eq "$(gd Get cli.k.theme)" "('dark', uint64 $r1)" "gdbus Get"
out=$(ds Get string:cli.k.theme)
[[ $out == *dark*"uint64 $r1"* ]] || die "dbus-send Get: $out"
out=$(gd SetBinary cli.k.blob "[0xff, 0x00, 0x41]"); expect_match "$out" '^\(uint64 [0-9]+,\)$' "gdbus SetBinary"
r2=$(num "$out")
[ "$r2" -gt "$r1" ] || die "revision $r2 after $r1"
expect_eq "$(bc GetBinary s cli.k.blob)" "ayt 3 255 0 65 $r2" "busctl GetBinary"
out=$(ds GetBinary string:cli.k.blob)
[[ $out == *"ff 00 41"*"uint64 $r2"* ]] || die "dbus-send GetBinary: $out"
out=$(ds SetBinary string:cli.k.text array:byte:104,105); r3=$(num "$out")
[ "$r3" -gt "$r2" ] || die "revision $r3 after $r2"
expect_eq "$(bc Get s cli.k.text)" "st \"hi\" $r3" "busctl Get of a value set with SetBinary"
expect_eq "$(bc GetBinary s cli.k.theme)" "ayt 4 100 97 114 107 $r1" "busctl GetBinary of text"
ok "Set/Get/SetBinary/GetBinary, revisions $r1 $r2 $r3"

out=$(bc SetIf sst cli.k.cas v1 0);             r4=$(num "$out")
[ "$r4" -gt "$r3" ] || die "SetIf revision $r4 after $r3"
out=$(gd_fail SetIf cli.k.cas "'v2'" "$r3")
[[ $out == *"$HUB_ERR.Conflict"* ]] || die "gdbus SetIf with a stale revision: $out"
out=$(ds SetIf string:cli.k.cas string:v2 uint64:"$r4"); r5=$(num "$out")
[ "$r5" -gt "$r4" ] || die "SetIf revision $r5 after $r4"
expect_eq "$(bc Get s cli.k.cas)" "st \"v2\" $r5" "value after SetIf"
ok "SetIf: 0 creates, stale revision conflicts, matching revision sets"

expect_eq "$(bc List s cli.k.)" \
        "a(sst) 4 \"cli.k.blob\" \"\" $r2 \"cli.k.cas\" \"v2\" $r5 \"cli.k.text\" \"hi\" $r3 \"cli.k.theme\" \"dark\" $r1" \
        "busctl List(cli.k.)"
expect_eq "$(gd List "'cli.k.t'")" "([('cli.k.text', 'hi', uint64 $r3), ('cli.k.theme', 'dark', $r1)],)" \
        "gdbus List(cli.k.t)"
out=$(ds List string:nothing.)
expect_match "$out" 'array \[[[:space:]]*\]' "dbus-send List(nothing.)"
expect_eq "$(prop Keys)" "4" "Keys"
ok "List sorted by key, binary listed as \"\""

expect_eq "$(bc Delete s cli.k.theme)" "b true" "busctl Delete(existing)"
expect_eq "$(gd Delete cli.k.theme)" "(false,)" "gdbus Delete(deleted)"
out=$(ds Delete string:cli.k.cas);              [[ $out == *"boolean true"* ]] || die "dbus-send Delete: $out"
out=$(ds_fail Get string:cli.k.theme)
[[ $out == *"$HUB_ERR.NotFound"* ]] || die "dbus-send Get after Delete: $out"
expect_eq "$(prop Keys)" "2" "Keys after two deletes"
ok "Delete"

# Watch / Unwatch.
out=$(bc Watch s cli.);                         expect_match "$out" '^t [1-9][0-9]*$' "busctl Watch"
wid1=$(num "$out")
out=$(gd Watch "''");                           wid2=$(num "$out")
[ "$wid1" != "$wid2" ] || die "watch ids not distinct: $wid1 $wid2"
out=$(ds_fail Unwatch uint64:"$wid1")
[[ $out == *"$HUB_ERR.NotFound"* ]] || die "dbus-send Unwatch of a finished client's id: $out"
ok "Watch ids $wid1 $wid2; Unwatch from another process: NotFound"

# GetInfo and the properties.
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$SB_SOURCE_ROOT/meson.build" | head -n1)
[ -n "$version" ] || die "no version in $SB_SOURCE_ROOT/meson.build"
out=$(bc GetInfo)
[[ $out == 'a{sv} '* ]] || die "busctl GetInfo: $out"
[[ $out == *"\"version\" s \"$version\""* ]] || die "busctl GetInfo has no version $version: $out"
[[ $out == *'"messages_published" t '"${#seqs[@]}"* ]] || die "busctl GetInfo messages_published != ${#seqs[@]}: $out"
out=$(gd GetInfo)
[[ $out == *"'version': <'$version'>"* ]] || die "gdbus GetInfo: $out"
out=$(ds GetInfo)
[[ $out == *version*"$version"* ]] || die "dbus-send GetInfo: $out"
expect_eq "$(prop Version)" "\"$version\"" "Version property"
expect_eq "$(prop MessagesPublished)" "${#seqs[@]}" "MessagesPublished"
ok "GetInfo and properties agree with meson.build ($version) and the ${#seqs[@]} publishes"

# Wrong signatures: sd-bus's InvalidArgs; busctl shows the message only.
out=$(bc_fail Publish s onlyone)
[[ $out == *"nvalid arguments"* || $out == *"InvalidArgs"* ]] || die "busctl Publish s onlyone: $out"
out=$(bc_fail Publish su cli.a 5)
[[ $out == *"nvalid arguments"* || $out == *"InvalidArgs"* ]] || die "busctl Publish su: $out"
out=$(ds_fail Publish string:onlyone)
[[ $out == *"org.freedesktop.DBus.Error.InvalidArgs"* ]] || die "dbus-send Publish string: $out"
out=$(ds_fail Publish string:cli.a uint32:5)
[[ $out == *"org.freedesktop.DBus.Error.InvalidArgs"* ]] || die "dbus-send Publish su: $out"
out=$(ds_fail Publish string:'a..b' string:x)
[[ $out == *"$HUB_ERR.InvalidTopic"* ]] || die "dbus-send Publish a..b: $out"
expect_eq "$(prop MessagesPublished)" "${#seqs[@]}" "MessagesPublished after refused calls"
out=$(bc Publish ss cli.a still-here);          add_seq "$out"
ok "wrong signatures get InvalidArgs; the hub still answers"
