#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# install.sh: `meson install` into a scratch DESTDIR puts the daemon, the CLI,
# the D-Bus activation file (Exec= pointing at the installed daemon,
# SystemdService=), the systemd user unit (Type=dbus, BusName=) and the
# interface XML where the session bus and systemd look for them.
set -eu
: "${SB_BUILD_ROOT:?run through meson test}"
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

meson install -C "$SB_BUILD_ROOT" --destdir "$dest" --no-rebuild >/dev/null
prefix=$(meson introspect "$SB_BUILD_ROOT" --buildoptions |
         /usr/bin/python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')

fail=0
check() { if "$@"; then echo "ok: ${*: -1}"; else echo "FAIL: $*"; fail=1; fi; }
service=$(find "$dest" -name org.switchboard.Hub1.service -path '*dbus-1/services*')
unit=$(find "$dest" -name switchboard.service -path '*systemd/user*')

check test -x "$dest$prefix/bin/switchboardd"
check test -x "$dest$prefix/bin/switchboard"
check test -f "$dest$prefix/share/dbus-1/interfaces/org.switchboard.Hub1.xml"
check test -n "$service"
check test -n "$unit"
check grep -qx "Exec=$prefix/bin/switchboardd" "$service"
check grep -qx "Name=org.switchboard.Hub1" "$service"
check grep -qx "SystemdService=switchboard.service" "$service"
check grep -qx "Type=dbus" "$unit"
check grep -qx "BusName=org.switchboard.Hub1" "$unit"
check grep -qx "ExecStart=$prefix/bin/switchboardd" "$unit"
socket_unit=$(find "$dest" -name switchboard.socket -path "*systemd/user*")
check grep -qx "ListenStream=%t/switchboard/socket" "$socket_unit"
check grep -qx "SocketMode=0600" "$socket_unit"
# The installed daemon answers --version without a bus.
check "$dest$prefix/bin/switchboardd" --version
exit $fail
