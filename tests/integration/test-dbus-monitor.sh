#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-dbus-monitor.sh: the applet's match rule, as a user would try it.
#
# dbus-monitor with the documented rule (arg0namespace='sensors') runs as a
# coprocess. Its readiness is proven, not assumed: probe messages are
# published until one shows up in its output. Then a publish to other.x
# (outside the namespace) and one to sensors.kitchen.temp follow; the
# monitor must print the second and never the first. Every read is bounded.

. "$(dirname "$0")/lib.sh"

RULE="type='signal',interface='org.switchboard.Hub1',member='Message',arg0namespace='sensors'"

bc GetInfo >/dev/null           # activate the hub before monitoring

coproc MON { exec dbus-monitor --session "$RULE" 2>&1; }
mon_pid=$MON_PID
trap 'kill "$mon_pid" 2>/dev/null' EXIT
exec {mon_fd}<&"${MON[0]}"

lines=()
# read_until REGEX MS: read monitor lines until one matches, at most MS ms.
read_until() {
        local deadline=$(( $(now_ms) + $2 )) left line
        while :; do
                left=$(( deadline - $(now_ms) ))
                [ "$left" -gt 0 ] || return 1
                if IFS= read -r -t "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))" line <&"$mon_fd"; then
                        lines+=("$line")
                        [[ $line =~ $1 ]] && return 0
                else
                        # A timeout, or EOF when dbus-monitor died.
                        kill -0 "$mon_pid" 2>/dev/null || die "dbus-monitor exited: ${lines[*]}"
                        return 1
                fi
        done
}

ready=
for i in $(seq 1 50); do
        bc Publish ss sensors.probe "probe-$i" >/dev/null
        if read_until '^ *string "probe-[0-9]+"$' 200; then
                ready=$i
                break
        fi
done
[ -n "$ready" ] || die "dbus-monitor showed none of 50 probe messages within 10 s: ${lines[*]}"
ok "dbus-monitor is ready (saw a probe after $ready publishes)"

lines=()
seq_other=$(num "$(bc Publish ss other.x not-for-sensors)")
seq=$(num "$(bc Publish ss sensors.kitchen.temp 21.5)")
read_until '^ *string "21.5"$' 10000 || die "no Message for sensors.kitchen.temp in 10 s; monitor printed: ${lines[*]}"
read_until "^ *uint64 $seq\$" 10000 || die "no seq $seq after the payload; monitor printed: ${lines[*]}"
all=$(printf '%s\n' "${lines[@]}")
[[ $all == *'string "sensors.kitchen.temp"'* ]] || die "the topic is missing: $all"
[[ $all == *"member=Message"* ]] || die "no member=Message header: $all"
[[ $all == *"other.x"* || $all == *"not-for-sensors"* ]] && die "other.x passed the arg0namespace='sensors' rule: $all"
ok "broadcast Message(sensors.kitchen.temp, 21.5, $seq) seen; other.x (seq $seq_other) not"

# A binary payload does not match member='Message'; the next text one does.
lines=()
bc PublishBinary sayb sensors.bin 2 255 0 false >/dev/null
seq=$(num "$(bc Publish ss sensors.after-binary done)")
read_until '^ *string "done"$' 10000 || die "no Message for sensors.after-binary: ${lines[*]}"
all=$(printf '%s\n' "${lines[@]}")
[[ $all == *"sensors.bin"* ]] && die "member='Message' matched a MessageBinary: $all"
ok "MessageBinary does not match member='Message'"
