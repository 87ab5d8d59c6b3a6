#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# install.sh: `meson install` into a scratch DESTDIR puts the daemon, the CLI,
# the D-Bus activation file (Exec= pointing at the installed daemon,
# SystemdService=), the systemd user units (Type=dbus, BusName=), the
# interface XML, the docs, the man pages and shell completion where the
# session bus, systemd, man and the shells look for them; and a build for
# --prefix=$HOME/.local puts the units where systemd looks for that prefix.
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

# Documentation= names the installed docs, which are there.
check grep -qx "Documentation=file://$prefix/share/doc/switchboard/README.md man:switchboardd(8)" "$unit"
check grep -qx "Documentation=file://$prefix/share/doc/switchboard/README.md man:switchboardd(8)" "$socket_unit"
check test -f "$dest$prefix/share/doc/switchboard/README.md"
for doc in "$SB_SOURCE_ROOT"/docs/*.md; do
        check cmp -s "$doc" "$dest$prefix/share/doc/switchboard/docs/${doc##*/}"
done
# Completion where bash-completion and zsh look.
bashdir=$(pkg-config --variable=completionsdir --define-variable=datadir="$prefix/share" bash-completion 2>/dev/null ||
          echo "$prefix/share/bash-completion/completions")
check test -f "$dest$bashdir/switchboard"
check test -f "$dest$prefix/share/zsh/site-functions/_switchboard"
# The man pages, when this build made them (scdoc installed).
if [ -f "$SB_BUILD_ROOT/man/switchboard.1" ]; then
        for page in man1/switchboard.1 man8/switchboardd.8 man5/switchboard.conf.5 man7/switchboard-protocol.7; do
                check test -f "$dest$prefix/share/man/$page"
        done
fi

# systemd's user manager searches the directory the units went to.
unitdir=$(dirname "${unit#"$dest"}")
if paths=$(systemd-analyze --user unit-paths 2>/dev/null); then
        check grep -qxF "$unitdir" <<<"$paths"
fi

# With --prefix=$HOME/.local the units go to ~/.local/share/systemd/user,
# where systemd looks (not ~/.local/lib/systemd/user, where it does not).
# Configuring is enough: meson knows every install path then.
home="$dest/home"
mkdir -p "$home"
if meson setup "$dest/build-home" "$SB_SOURCE_ROOT" --prefix="$home/.local" -Dtests=false -Dman=disabled \
        >"$dest/setup.log" 2>&1; then
        installed=$(meson introspect "$dest/build-home" --installed)
        check grep -qF "\"$home/.local/share/systemd/user/switchboard.service\"" <<<"$installed"
        check grep -qF "\"$home/.local/share/systemd/user/switchboard.socket\"" <<<"$installed"
        check grep -qF "\"$home/.local/share/dbus-1/services/org.switchboard.Hub1.service\"" <<<"$installed"
        check grep -qF "\"$home/.local/share/bash-completion/completions/switchboard\"" <<<"$installed"
        if paths=$(env -u XDG_DATA_HOME -u XDG_CONFIG_HOME HOME="$home" systemd-analyze --user unit-paths 2>/dev/null); then
                check grep -qxF "$home/.local/share/systemd/user" <<<"$paths"
        fi
else
        cat "$dest/setup.log"
        echo "FAIL: meson setup --prefix=$home/.local"
        fail=1
fi
exit $fail
