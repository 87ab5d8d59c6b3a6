#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# weather.sh: a server command for `switchboard serve` (README's tour):
#
#   switchboard serve weather.now -- examples/weather.sh
#   switchboard call weather.now '{}'
#
# The call's payload arrives on standard input, the caller's transport, uid
# and pid in $SWITCHBOARD_CALLER_*; what this prints, when it exits with
# status 0, is the reply (one trailing newline dropped). Any other status
# makes the call fail with CommandFailed. A real one would ask a weather
# service; this stand-in always answers the same.
set -eu
cat >/dev/null
echo '{"temp": 21.5}'
