#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `switchboard stdio`: a parent process (this script) spawns it and speaks
# the socket's protocol on the child's stdin/stdout. The child starts the
# hub when none runs; requests split across writes and several in one write
# get their replies; a subscription made through the pipes sees a message
# published over D-Bus (busctl), with its sender; closing stdin makes the
# child send what it has, half-close, copy the hub's last replies out and
# exit 0.

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import (HUB, HUB_IFACE, HUB_PATH, SWITCHBOARD, FrameReader, check, finish,  # noqa: E402
                     frame, hub_running, require_environment, socket_path)

require_environment()


def request(i, method, params=None):
    r = {'jsonrpc': '2.0', 'id': i, 'method': method}
    if params is not None:
        r['params'] = params
    return frame(r)


class Child:
    def __init__(self, *args):
        self.p = subprocess.Popen([SWITCHBOARD, 'stdio'] + list(args), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        self.reader = FrameReader(self.p.stdout.fileno())

    def send(self, data):
        self.p.stdin.write(data)

    def wait(self, timeout=10):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            if not f.closed:
                f.close()


# No hub yet: the child starts it through D-Bus, then connects.
check(not hub_running() and not os.path.exists(socket_path()), 'no hub before `switchboard stdio`')
c = Child()
c.send(request(1, 'hub.info'))
r = c.reader.response(1)
check(r is not None and isinstance(r.get('result', {}).get('version'), str),
      'stdio started the hub and hub.info answers (%r)' % r)
check(hub_running(), 'the hub runs now')

# A request split across writes, and two requests in one write.
data = request(2, 'set', {'key': 'stdio.k', 'value': 'v1'})
for i in range(0, len(data), 3):
    c.send(data[i:i + 3])     # one write() each (bufsize=0)
r = c.reader.response(2)
check(r is not None and r.get('result', {}).get('revision', 0) >= 1, 'a request in 3-byte pieces (%r)' % r)
c.send(request(3, 'get', {'key': 'stdio.k'}) + request(4, 'get', {'key': 'stdio.missing'}))
r3, r4 = c.reader.response(3), c.reader.response(4)
check(r3 is not None and r3.get('result', {}).get('value') == 'v1', 'first of two requests in one write (%r)' % r3)
check(r4 is not None and r4.get('error', {}).get('data', {}).get('name') == 'org.switchboard.Hub1.Error.NotFound',
      'second of two requests in one write: NotFound (%r)' % r4)

# Subscribe through the pipes; publish over D-Bus; the notification comes out.
c.send(request(5, 'subscribe', {'pattern': 'stdio.>'}))
r = c.reader.response(5)
sub_id = (r or {}).get('result', {}).get('id')
check(isinstance(sub_id, int), 'subscribe through stdio (%r)' % r)
subprocess.run(['busctl', '--user', 'call', HUB, HUB_PATH, HUB_IFACE, 'Publish', 'ss', 'stdio.news', 'from busctl'],
               check=True, stdout=subprocess.DEVNULL)
n = c.reader.next()
params = (n or {}).get('params', {})
check(n is not None and n.get('method') == 'message' and params.get('topic') == 'stdio.news'
      and params.get('payload') == 'from busctl' and params.get('subscription') == sub_id,
      'the busctl message arrives through stdio (%r)' % n)
check(params.get('sender', {}).get('transport') == 'dbus' and params['sender'].get('name', '').startswith(':'),
      'with its D-Bus sender (%r)' % params.get('sender'))

# A large reply (more than one pipe buffer) arrives whole.
big = 'x' * 300000
c.send(request(6, 'set', {'key': 'stdio.big', 'value': big[:200000]}))
check(c.reader.response(6) is not None, 'set a 200 kB value')
c.send(request(7, 'get', {'key': 'stdio.big'}))
r = c.reader.response(7)
check(r is not None and r.get('result', {}).get('value') == big[:200000], 'a 200 kB reply comes out whole')

# Requests, then EOF at once: the replies still come out, then EOF, exit 0.
c.send(request(8, 'publish', {'topic': 'stdio.last', 'payload': 'bye'}) + request(9, 'hub.info'))
c.p.stdin.close()
notes = []
r8 = c.reader.response(8, notifications=notes)
r9 = c.reader.response(9, notifications=notes)
check(r8 is not None and 'seq' in r8.get('result', {}), 'the reply to a request sent just before EOF (%r)' % r8)
check(r9 is not None and 'result' in r9, 'and the next one (%r)' % r9)
check(any(x.get('params', {}).get('topic') == 'stdio.last' for x in notes) or
      (c.reader.next(2) or {}).get('params', {}).get('topic') == 'stdio.last',
      'the own message published just before EOF comes out too')
check(c.reader.at_eof(), 'stdout reaches EOF after the hub closed')
rc = c.wait()
check(rc == 0, 'stdio exits 0 after stdin EOF (got %r, stderr %r)' % (rc, c.p.stderr.read()))
c.close()

# A parent that closes stdin at once: exit 0, nothing on stdout.
c = Child()
c.p.stdin.close()
check(c.reader.at_eof(), 'stdin closed at once: stdout EOF')
check(c.wait() == 0, 'stdin closed at once: exit 0')
c.close()

# The parent stops reading (closes the child's stdout): the child ends, 0.
c = Child()
c.p.stdout.close()
c.send(request(1, 'hub.info'))
rc = c.wait()
check(rc == 0, 'stdout closed by the parent: exit 0 (got %r)' % rc)
c.close()

finish()
