#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `switchboard top`: with stdout not a terminal (or --once) one snapshot as
# text or JSON, with the clients (and who they are), topics, queues and
# served names the hub reports; on a terminal (a pty here) the full-screen
# view on the alternate screen, sorted by the keys, redrawn at a new size
# on SIGWINCH, and the terminal restored (screen, cursor, termios) on 'q'
# and on SIGTERM. Bad options exit 2.

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import (SWITCHBOARD, TIMEOUT, Hub, Stream, check, expect, finish,  # noqa: E402
                     require_environment, run, subscriber, wait_for)

require_environment()

expect(0, 'set', 'boot', 'activates the hub')
hub = Hub()
uid = os.getuid()

# Something to show: a subscriber, messages, a queue with jobs, a served name.
sub = subscriber(hub, 'top.>')
for i in range(3):
    expect(0, '--socket', 'publish', 'top.temp', str(i))
expect(0, '--socket', 'push', 'top.jobs', 'a')
expect(0, '--socket', 'push', 'top.jobs', 'b')
srv = Stream('serve', 'top.svc', '--', 'cat')
wait_for(lambda: 'top.svc' in hub.hub.GetInfo()['services'], 'top.svc served')
expect(0, '--socket', 'call', 'top.svc', 'hi', out='hi\n')

r = expect(0, 'top', '--once', '--interval', '0.1')
text = r.out
check(text.startswith('switchboard hub '), 'a summary line first (%r)' % text[:80])
sections = re.findall(r'^(Clients|Topics|Queues|Served names) \((\d+)\)$', text, re.M)
check([s[0] for s in sections] == ['Clients', 'Topics', 'Queues', 'Served names'], 'four tables (%r)' % sections)
check(re.search(r'^  \d+\s+unix\s+%d\s+%d\s+-\s+1\s+0\s' % (uid, sub.p.pid), text, re.M) is not None,
      'the subscriber: transport, uid, pid, one subscription')
# Deliveries: the subscriber's and the D-Bus broadcast's.
check(re.search(r'^  top\.temp\s+\S+\s+\S+\s+\S+\s+3\s+3\s+6\s', text, re.M) is not None,
      'top.temp: 3 messages, 3 bytes, 6 deliveries')
check(re.search(r'^  top\.jobs\s+2\s+0\s+0\s+0\s+0$', text, re.M) is not None, 'top.jobs: 2 ready')
check(re.search(r'^  top\.svc\s+\d+\s+0\s+\S+\s+1\s+0\s+0\s', text, re.M) is not None, 'top.svc: 1 call')

r = expect(0, 'top', '--json', '--interval', '0.1', '--sort', 'name')
try:
    snap = json.loads(r.out)
except ValueError:
    snap = {}
clients = {c.get('pid'): c for c in snap.get('clients', [])}
check(clients.get(sub.p.pid, {}).get('uid') == uid and clients[sub.p.pid].get('delivered') == 3
      and clients[sub.p.pid].get('transport') == 'unix', 'JSON: the subscriber with its counters (%r)' % clients)
topic = [t for t in snap.get('topics', []) if t.get('topic') == 'top.temp']
check(len(topic) == 1 and topic[0].get('messages') == 3 and isinstance(topic[0].get('rate'), float),
      'JSON: a topic with its total and its rate (%r)' % topic)
svc = [s for s in snap.get('services', []) if s.get('name') == 'top.svc']
check(len(svc) == 1 and svc[0].get('calls') == 1 and len(svc[0].get('servers', [])) == 1
      and svc[0]['servers'][0] in [c.get('id') for c in snap.get('clients', [])]
      and isinstance(svc[0].get('latency_max_us'), int), 'JSON: a served name, its server, its latency (%r)' % svc)
check(snap.get('sort') == 'name' and snap.get('messages_published', 0) >= 3, 'JSON: the hub counters (%r)'
      % {k: v for k, v in snap.items() if not isinstance(v, list)})

expect(2, 'top', '--interval', '0', err_contains="invalid number '0' for --interval")
expect(2, 'top', '--interval', 'soon', err_contains="invalid number 'soon' for --interval")
expect(2, 'top', '--sort', 'size', err_contains="invalid value 'size' for --sort")
expect(2, 'top', 'extra', err_contains="too many arguments")


# ---- on a terminal ----------------------------------------------------------

class Tty:
    """switchboard top on a pty of ROWS x COLS; what it draws is read from the master side."""

    def __init__(self, rows=30, cols=120, env=None):
        self.master, slave = pty.openpty()
        self.slave = slave
        self.resize(rows, cols)
        self.before = termios.tcgetattr(slave)
        e = dict(os.environ)
        e.pop('NO_COLOR', None)
        e.update(env or {})
        self.p = subprocess.Popen([SWITCHBOARD, 'top', '--interval', '0.2'], stdin=slave, stdout=slave,
                                  stderr=subprocess.PIPE, env=e, start_new_session=True)
        self.buf = b''

    def resize(self, rows, cols):
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))

    def read_until(self, pattern, timeout=TIMEOUT):
        """Read until @pattern (bytes regex) is in what came since the last match; the match, or None."""
        deadline = time.monotonic() + timeout
        start = len(self.buf)
        while True:
            m = re.search(pattern, self.buf[start:], re.S)
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    return None
                if not data:
                    return None
                self.buf += data

    def send(self, keys):
        os.write(self.master, keys)

    def wait(self):
        try:
            rc = self.p.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.read_until(rb'\x1b\[\?1049l', timeout=2)
        return rc

    def termios_restored(self):
        return termios.tcgetattr(self.slave)[3] == self.before[3]

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.p.stderr.close()
        os.close(self.master)
        os.close(self.slave)


t = Tty()
check(t.read_until(rb'\x1b\[\?1049h') is not None, 'top enters the alternate screen')
m = t.read_until(rb'sort: rate.*Clients \(\d+\).*top\.temp.*top\.jobs.*top\.svc.*q quit')
check(m is not None, 'top draws the hub, its tables and the keys (%r)' % t.buf[-300:])
check(b'\x1b[?25l' in t.buf, 'top hides the cursor')
check(not t.termios_restored(), 'top puts the terminal in no-echo, key-at-a-time mode')
t.send(b'n')
check(t.read_until(rb'sort: name') is not None, "'n' sorts by name")
# A live rate: messages published while it watches.
for i in range(5):
    expect(0, '--socket', 'publish', 'top.live', str(i))
check(t.read_until(rb'top\.live +[1-9][0-9.]* ') is not None, 'a topic with a message rate above 0')
t.resize(40, 70)
os.kill(t.p.pid, signal.SIGWINCH)
m = t.read_until(rb'\x1b\[40;1H')
check(m is not None, 'after SIGWINCH the key line moves to the new last row (40)')
t.send(b'q')
rc = t.wait()
check(rc == 0, "'q' quits with status 0 (got %r)" % rc)
check(t.buf.rstrip().endswith(b'\x1b[?25h\x1b[?1049l'), 'the cursor and the main screen are back (%r)' % t.buf[-40:])
check(t.termios_restored(), 'the terminal modes are restored after q')
t.close()

for sig in (signal.SIGTERM, signal.SIGINT):
    t = Tty(env={'NO_COLOR': '1'})
    check(t.read_until(rb'q quit') is not None, 'top draws (for %s)' % sig.name)
    os.kill(t.p.pid, sig)
    rc = t.wait()
    check(rc == 0, '%s ends top with status 0 (got %r)' % (sig.name, rc))
    check(b'\x1b[?1049l' in t.buf and t.termios_restored(), '%s restores the terminal' % sig.name)
    check(b'\x1b[36m' not in t.buf, 'NO_COLOR: no colour (the column headers are plain)')
    t.close()

srv.close()
sub.close()
finish()
