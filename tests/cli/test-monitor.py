#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `switchboard monitor`: with no hub running it starts one through D-Bus and
# then uses the socket; it prints every message and key change with its
# sequence number and sender, whichever transport carried it: D-Bus
# (busctl), the socket (the CLI) and the FIFO (echo > fifo); --json gives
# one object per line with the sender object; --count ends it; a PATTERN
# narrows the messages (key changes are all shown). Queue and request/reply
# traffic (push, reserve, ack, no_server, call, reply) comes with senders,
# coloured with --color=always, plain on a pipe and with NO_COLOR.

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

# Queue and request/reply traffic, with senders; colour only when asked for, never with NO_COLOR.
hub.wait_info_at_least('monitors', 0, 'hub.info says monitors')
before = hub.info('monitors')
t = Stream('monitor', '--color=always', 'mon.none')
hub.wait_info_at_least('monitors', before + 1, 'monitor --color=always monitoring')
expect(0, '--socket', 'push', 'mon.q', 'job one')
expect(0, '--socket', 'work', 'mon.q', '--count', '1', '--', 'true')
expect(5, '--socket', 'call', 'mon.nobody', 'x')
RESET = '\x1b[0m'
SGR = re.compile(r'\x1b\[[0-9;]*m')
lines = [t.readline() for _ in range(4)]
plain = [SGR.sub('', x or '') for x in lines]
check(re.fullmatch(r'queue push mon\.q #(\d+) job one  \[unix uid=%d pid=\d+\]' % uid, plain[0]) is not None,
      'a push with its job id, payload and sender (%r)' % plain[0])
check(re.fullmatch(r'queue reserve mon\.q #\d+ attempts=1  \[unix uid=%d pid=\d+\]' % uid, plain[1]) is not None,
      'a reserve (%r)' % plain[1])
check(re.fullmatch(r'queue ack mon\.q #\d+ attempts=1  \[unix .*\]', plain[2]) is not None, 'an ack (%r)' % plain[2])
check(re.fullmatch(r'rpc no_server mon\.nobody #0 NoServer: .*  \[unix uid=%d pid=\d+\]' % uid, plain[3])
      is not None, 'a call nobody serves (%r)' % plain[3])
check(all(RESET in (x or '') for x in lines), '--color=always colours every line (%r)' % lines)
check('\x1b[1;31m' in (lines[3] or ''), 'an error in bold red (%r)' % lines[3])
t.stop()
t.close()

# Calls and replies as JSON; NO_COLOR or a pipe: no escape sequences.
before = hub.info('monitors')
t = Stream('monitor', '--json', 'mon.none', env={'NO_COLOR': '1'})
plain_mon = Stream('monitor', 'mon.none')
hub.wait_info_at_least('monitors', before + 2, 'two more monitors')
srv = Stream('serve', 'mon.svc', '--count', '1', '--', 'echo', 'pong')
hub.wait_info_at_least('pending_calls', 0, 'serve started')
wait_for(lambda: 'mon.svc' in hub.hub.GetInfo()['services'], 'mon.svc served')
expect(0, '--socket', 'call', 'mon.svc', 'ping', out='pong\n')
srv.wait()
srv.close()
call, reply = t.expect_json('monitor --json call'), t.expect_json('monitor --json reply')
check(call.get('type') == 'traffic' and call.get('event') == 'call' and call.get('name') == 'mon.svc'
      and call.get('payload') == 'ping' and call.get('sender', {}).get('uid') == uid, 'JSON call (%r)' % call)
check(reply.get('event') == 'reply' and reply.get('id') == call.get('id') and reply.get('payload') == 'pong'
      and reply.get('sender', {}).get('transport') == 'unix' and reply.get('seq', 0) > call.get('seq', 0),
      'JSON reply from the server, same call id (%r)' % reply)
line = plain_mon.readline()
check(line is not None and '\x1b' not in line and line.startswith('rpc call mon.svc #'),
      'no colour on a pipe (%r)' % line)
t.stop()
t.close()
plain_mon.stop()
plain_mon.close()

expect(2, 'monitor', '--color=sometimes', err_contains="invalid value 'sometimes' for --color")

finish()
