#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `switchboard monitor`: with no hub running it starts one through D-Bus and
# then uses the socket; it prints every message and key change with its
# sequence number and sender, whichever transport carried it: D-Bus
# (busctl), the socket (the CLI) and the FIFO (echo > fifo); --json gives
# one object per line with the sender object; --count ends it; a PATTERN
# narrows the messages (key changes are all shown).

import json
import os
import re
import subprocess
import sys

import dbus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import (HUB, HUB_IFACE, HUB_PATH, TIMEOUT, Hub, Stream, check, expect, fail,  # noqa: E402
                     fifo_path, finish, hub_running, require_environment, wait_for)

require_environment()


def wait_for_hub():
    """Bounded: NameHasOwner does not activate the hub, so it cannot hide a monitor that did not."""
    return wait_for(hub_running, 'the hub to own its name')


def ready(hub, subs, watches, what):
    hub.wait_prop_at_least('Subscriptions', subs, what + ' subscribed')
    hub.wait_info_at_least('watches', watches, what + ' watching')


def busctl(*args):
    subprocess.run(['busctl', '--user', 'call', HUB, HUB_PATH, HUB_IFACE] + list(args),
                   check=True, stdout=subprocess.DEVNULL)


def fifo_publish(topic, payload):
    line = json.dumps({'jsonrpc': '2.0', 'method': 'publish', 'params': {'topic': topic, 'payload': payload}})
    subprocess.run(['sh', '-c', 'echo "$1" > "$2"', 'sh', line, fifo_path()], check=True, timeout=TIMEOUT)


check(not hub_running(), 'no hub before monitor')
m = Stream('monitor')
check(wait_for_hub(), 'monitor started the hub through D-Bus')
hub = Hub()             # one subscription of its own, no watch
ready(hub, 2, 1, 'monitor')

uid = os.getuid()
busctl('Publish', 'ss', 'mon.dbus', 'over dbus')
line = m.readline()
check(re.fullmatch(r'(\d+) mon\.dbus over dbus  \[dbus( uid=%d)?( pid=\d+)? name=:1\.\d+\]' % uid, line or '')
      is not None, 'a D-Bus publish, with transport and unique name (%r)' % line)
seq1 = int(line.split()[0]) if line and line[0].isdigit() else 0

expect(0, '--socket', 'publish', 'mon.sock', 'over the socket')
line = m.readline()
check(re.fullmatch(r'(\d+) mon\.sock over the socket  \[unix uid=%d pid=\d+\]' % uid, line or '') is not None,
      'a socket publish, with uid and pid (%r)' % line)
seq2 = int(line.split()[0]) if line and line[0].isdigit() else 0
check(seq2 > seq1, 'sequence numbers go up (%d, %d)' % (seq1, seq2))

fifo_publish('mon.fifo', 'over the fifo')
line = m.readline()
check(re.fullmatch(r'\d+ mon\.fifo over the fifo  \[fifo( uid=\d+)?( pid=\d+)?\]', line or '') is not None,
      'a FIFO publish, with transport fifo (%r)' % line)

expect(0, '--dbus', 'set', 'mon.key', 'v1')
line = m.readline()
check(re.fullmatch(r'rev \d+ set mon\.key v1  \[dbus( uid=\d+)?( pid=\d+)? name=:1\.\d+\]', line or '') is not None,
      'a key change over D-Bus (%r)' % line)
expect(0, '--socket', 'delete', 'mon.key')
line = m.readline()
check(re.fullmatch(r'rev \d+ deleted mon\.key  \[unix uid=%d pid=\d+\]' % uid, line or '') is not None,
      'a deletion over the socket (%r)' % line)
hub.hub.PublishBinary('mon.bin', dbus.Array([dbus.Byte(0xff), dbus.Byte(0)], signature='y'), False)
line = m.readline()
check(re.fullmatch(r'\d+ mon\.bin base64:/wA=  \[dbus.*\]', line or '') is not None, 'a binary payload (%r)' % line)
rc = m.stop()
check(rc == 0, 'monitor exits 0 on SIGTERM (got %r)' % rc)
m.close()

# --json, a pattern, --count.
before_subs, before_watches = hub.prop('Subscriptions'), hub.info('watches')
j = Stream('monitor', '--json', '--count', '3', 'mon.j.>')
ready(hub, before_subs + 1, before_watches + 1, 'monitor --json')
busctl('Publish', 'ss', 'mon.other', 'not matched')
busctl('Publish', 'ss', 'mon.j.a', 'x')
fifo_publish('mon.j.b', 'y')
expect(0, '--socket', 'set', 'mon.j.k', 'z')
rc = j.wait()
check(rc == 0, 'monitor --count 3 exits 0 by itself (got %r)' % rc)
try:
    lines = [json.loads(x) for x in j.rest().splitlines()]
except ValueError as e:
    fail('monitor --json printed something that is not JSON: %s' % e)
    lines = []
check(len(lines) == 3, 'three JSON lines (%r)' % lines)
if len(lines) == 3:
    a, b, c = lines
    check(a.get('type') == 'message' and a.get('topic') == 'mon.j.a' and a.get('payload') == 'x'
          and isinstance(a.get('seq'), int) and a.get('retained') is False
          and a.get('sender', {}).get('transport') == 'dbus' and a['sender'].get('name', '').startswith(':'),
          'JSON message over D-Bus, pattern applied (%r)' % a)
    check(b.get('type') == 'message' and b.get('topic') == 'mon.j.b' and b.get('sender', {}).get('transport') == 'fifo',
          'JSON message over the FIFO (%r)' % b)
    check(c.get('type') == 'key_changed' and c.get('key') == 'mon.j.k' and c.get('value') == 'z'
          and c.get('deleted') is False and isinstance(c.get('revision'), int)
          and c.get('sender', {}).get('transport') == 'unix' and c['sender'].get('uid') == uid
          and isinstance(c['sender'].get('pid'), int), 'JSON key change over the socket (%r)' % c)
j.close()

finish()
