#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-xml-valid.sh: the contract file is valid against the D-Bus
# introspection DTD. The DTD comes from the XML catalogue that libdbus-1-dev
# installs; --nonet makes a missing catalogue an error rather than a
# download. The interface name in the file must be the one the hub serves.

set -u
: "${SB_INTERFACE_XML:?run through meson test}"
command -v xmllint >/dev/null || { echo "xmllint not found (libxml2-utils): skipping"; exit 77; }

out=$(xmllint --noout --valid --nonet "$SB_INTERFACE_XML" 2>&1) || {
        echo "FAIL: $SB_INTERFACE_XML is not valid against the introspection DTD:"
        echo "$out"
        exit 1
}
[ -z "$out" ] || { echo "FAIL: xmllint warnings: $out"; exit 1; }
echo "ok 1 - $SB_INTERFACE_XML is valid"

n=$(xmllint --nonet --xpath 'count(/node/interface[@name="org.switchboard.Hub1"])' "$SB_INTERFACE_XML")
[ "$n" = 1 ] || { echo "FAIL: expected one interface org.switchboard.Hub1, found $n"; exit 1; }
echo "ok 2 - it defines interface org.switchboard.Hub1"
