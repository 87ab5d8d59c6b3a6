# SPDX-License-Identifier: LGPL-2.1-or-later
#
# lib.sh: shell helpers for the integration tests that use the command-line
# D-Bus clients (busctl, gdbus, dbus-send, dbus-monitor). Sourced, not run.
# Each helper fails the test with a message saying what was expected and
# what came back; nothing here sleeps.

set -u
set -o pipefail

HUB_NAME=org.switchboard.Hub1
HUB_PATH=/org/switchboard/Hub1
HUB_IFACE=org.switchboard.Hub1
HUB_ERR=org.switchboard.Hub1.Error

[ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || { echo "DBUS_SESSION_BUS_ADDRESS is not set: run through tests/with-bus.sh"; exit 77; }

n_ok=0
die() {
        echo "FAIL: $*" >&2
        exit 1
}
ok() {
        n_ok=$((n_ok + 1))
        echo "ok $n_ok - $*"
}
expect_eq() {   # expect_eq GOT WANT WHAT
        [ "$1" = "$2" ] || die "$3: expected '$2', got '$1'"
}
expect_match() {        # expect_match GOT REGEX WHAT
        [[ $1 =~ $2 ]] || die "$3: '$1' does not match /$2/"
}

# busctl: one call, output on stdout ("t 5", "b true", ...); dies on failure.
bc() {
        local out
        out=$(busctl --user --timeout=10 call "$HUB_NAME" "$HUB_PATH" "$HUB_IFACE" "$@" 2>&1) ||
                die "busctl call $*: $out"
        printf '%s\n' "$out"
}
# busctl call expected to fail: prints the error text.
bc_fail() {
        local out
        if out=$(busctl --user --timeout=10 call "$HUB_NAME" "$HUB_PATH" "$HUB_IFACE" "$@" 2>&1); then
                die "busctl call $* succeeded ('$out'), expected an error"
        fi
        printf '%s\n' "$out"
}
# gdbus: one call; output like "(uint64 5,)".
gd() {
        local method=$1 out
        shift
        out=$(gdbus call --session --timeout 10 --dest "$HUB_NAME" --object-path "$HUB_PATH" \
                --method "$HUB_IFACE.$method" "$@" 2>&1) || die "gdbus call $method $*: $out"
        printf '%s\n' "$out"
}
gd_fail() {
        local method=$1 out
        shift
        if out=$(gdbus call --session --timeout 10 --dest "$HUB_NAME" --object-path "$HUB_PATH" \
                --method "$HUB_IFACE.$method" "$@" 2>&1); then
                die "gdbus call $method $* succeeded ('$out'), expected an error"
        fi
        printf '%s\n' "$out"
}
# dbus-send: one call with --print-reply=literal.
ds() {
        local method=$1 out
        shift
        out=$(dbus-send --session --reply-timeout=10000 --print-reply=literal --dest="$HUB_NAME" \
                "$HUB_PATH" "$HUB_IFACE.$method" "$@" 2>&1) || die "dbus-send $method $*: $out"
        printf '%s\n' "$out"
}
ds_fail() {
        local method=$1 out
        shift
        if out=$(dbus-send --session --reply-timeout=10000 --print-reply --dest="$HUB_NAME" \
                "$HUB_PATH" "$HUB_IFACE.$method" "$@" 2>&1); then
                die "dbus-send $method $* succeeded ('$out'), expected an error"
        fi
        printf '%s\n' "$out"
}

# The number in busctl's "t 42" / gdbus's "(uint64 42,)" / dbus-send's "uint64 42".
num() {
        local n
        n=$(printf '%s\n' "$1" | sed -E 's/u?int(16|32|64)//g' | grep -oE '[0-9]+' | head -n1)
        [ -n "$n" ] || die "no number in '$1'"
        printf '%s\n' "$n"
}

name_has_owner() {
        busctl --user call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
                NameHasOwner s "$HUB_NAME"
}

prop() {        # prop NAME: the value only, e.g. "3"
        local out
        out=$(busctl --user get-property "$HUB_NAME" "$HUB_PATH" "$HUB_IFACE" "$1" 2>&1) ||
                die "get-property $1: $out"
        printf '%s\n' "${out#* }"
}

now_ms() {
        echo $(( $(date +%s%N) / 1000000 ))
}
