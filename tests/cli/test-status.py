#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `switchboard status` (GetInfo, readable for a person, and --json) and
# `switchboard --version`, checked against the hub's own properties.

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import Hub, check, expect, finish, require_environment, subscriber  # noqa: E402

require_environment()

r = expect(0, '--version')
check(re.fullmatch(r'switchboard \d+\.\d+\.\d+\S*\n', r.out) is not None, '--version prints a version (%r)' % r.out)

# status activates the hub by itself.
r = expect(0, 'status')
hub = Hub()
version = str(hub.props.Get('org.switchboard.Hub1', 'Version'))
start = int(hub.props.Get('org.switchboard.Hub1', 'StartTime'))
check(r.out.startswith('switchboard hub %s\n' % version), 'status names the hub version (%r)' % r.out)
day = time.strftime('%Y-%m-%d', time.localtime(start / 1e6))
check(day in r.out, 'status shows the start date %s as a local date' % day)
for label in ('Started:', 'Clients:', 'Subscriptions:', 'Retained topics:', 'Keys:', 'Messages:',
              'Store changes:', 'Limits:'):
    check(label in r.out, 'status has a %r line' % label)

expect(0, 'set', 'k1', 'v')
expect(0, 'set', 'k2', 'v')
expect(0, 'publish', '--retain', 't.r', 'x')
s = subscriber(hub, 'watch.me.>')
r = expect(0, 'status')
fields = {}
for line in r.out.splitlines():
    m = re.match(r'\s+([A-Za-z ]+):\s+(.*)$', line)
    if m:
        fields[m.group(1)] = m.group(2)
check(fields.get('Keys') == str(hub.prop('Keys')), 'status Keys matches the property (%r)' % fields)
check(fields.get('Subscriptions') == str(hub.prop('Subscriptions')),
      'status Subscriptions matches the property (%r)' % fields)
check(fields.get('Retained topics') == str(hub.prop('Topics')), 'status Retained topics (%r)' % fields)
check(re.match(r'\d+ \(.*dbus \d+.*\)', fields.get('Clients', '')) is not None,
      'status Clients shows the count per transport (%r)' % fields.get('Clients'))
check(re.match(r'\d+ published, \d+ delivered, \d+ dropped', fields.get('Messages', '')) is not None,
      'status Messages shows the counters (%r)' % fields.get('Messages'))
check('max-payload' in r.out, 'status lists the limits')

r = expect(0, 'status', '--json')
o = json.loads(r.out or '{}')
check(o.get('version') == version and o.get('start_time') == start, 'status --json version and start time')
check(o.get('keys') == hub.prop('Keys') and o.get('subscriptions') == hub.prop('Subscriptions'),
      'status --json counts (%r)' % o)
check(o.get('messages_published', 0) >= 1 and isinstance(o.get('limits'), dict)
      and o['limits'].get('max-payload', 0) > 0 and isinstance(o.get('clients_by_transport'), dict),
      'status --json counters, limits and transports (%r)' % o)
s.close()

finish()
