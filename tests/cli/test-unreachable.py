#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Exit 69 when the bus or the hub cannot be reached, with a message that
# says what to do: no bus at all, a bus that cannot activate the hub, a
# socket that is not there (--socket), and the hub stopping under running
# streams of both backends.

import os
import re
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import (FrameReader, Hub, Stream, check, expect, finish, frame,  # noqa: E402
                     require_environment, subscriber, watcher)

require_environment()

NOBUS = {'DBUS_SESSION_BUS_ADDRESS': 'unix:path=/nonexistent/switchboard-test-bus'}
expect(69, 'get', 'k', env=NOBUS, out='', err_contains=['cannot connect to the session bus', 'DBUS_SESSION_BUS_ADDRESS'])
expect(69, 'subscribe', 'a.>', env=NOBUS, err_contains='cannot connect to the session bus')
expect(69, '--address=unix:path=/nonexistent/bus', 'status', err_contains='/nonexistent/bus')
expect(69, 'publish', '--address', 'unix:path=/nonexistent/bus', 't', 'p', err_contains='/nonexistent/bus')

# No hub yet, so no socket: auto falls back to D-Bus (above); forced onto
# the socket, the CLI starts nothing and says so.
SOCKET_HINT = ["cannot connect to the hub's socket", '--socket=PATH']
expect(69, '--socket', 'get', 'k', out='', err_contains=SOCKET_HINT)
expect(69, 'subscribe', '--socket=/nonexistent/socket', 'a.>', err_contains=SOCKET_HINT + ['/nonexistent/socket'])
expect(69, 'status', env={'SWITCHBOARD_BACKEND': 'socket'}, err_contains=SOCKET_HINT)
expect(69, '--socket', 'stdio', err_contains=SOCKET_HINT)
expect(69, '--socket', 'monitor', err_contains=SOCKET_HINT)
# monitor and stdio start the hub through D-Bus: without a bus, they cannot.
expect(69, 'monitor', env=NOBUS, err_contains='cannot connect to the session bus')
expect(69, 'stdio', env=NOBUS, err_contains='cannot connect to the session bus')

# A bus without the hub's service file: activation fails.
with tempfile.TemporaryDirectory() as d:
    conf = os.path.join(d, 'empty.conf')
    os.mkdir(os.path.join(d, 'services'))
    # The test bus's own configuration, with an empty service directory.
    with open(os.environ['SB_SESSION_CONF']) as f:
        text = f.read()
    text = re.sub(r'<servicedir>[^<]*</servicedir>', '<servicedir>%s/services</servicedir>' % d, text)
    with open(conf, 'w') as f:
        f.write(text)
    r, w = os.pipe()
    bus = subprocess.Popen(['dbus-daemon', '--config-file=' + conf, '--nofork', '--print-address=%d' % w],
                           pass_fds=(w,), stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as f:
        address = f.readline().strip()
    try:
        check(address.startswith('unix:'), 'a private bus without the hub: %r' % address)
        hint = ['cannot reach the hub', 'switchboardd']
        expect(69, '--address=' + address, 'get', 'k', err_contains=hint)
        expect(69, '--address=' + address, 'publish', 't', 'p', err_contains=hint)
        expect(69, 'status', env={'DBUS_SESSION_BUS_ADDRESS': address}, err_contains=hint)
        expect(69, '--address=' + address, 'subscribe', 'a.>', err_contains=hint)
        expect(69, '--address=' + address, 'watch', 'a.', err_contains=hint)
        expect(69, '--address=' + address, 'monitor', err_contains=hint)
        expect(69, '--address=' + address, 'stdio', err_contains=hint)
    finally:
        bus.terminate()
        bus.wait()

# The hub goes away under running subscribers, watchers and a monitor, on
# either backend: they exit 69. `switchboard stdio` ends cleanly (0).
hub = Hub()
streams = []
for backend in ('--dbus', '--socket'):
    streams.append(('subscribe ' + backend, subscriber(hub, backend, 'gone.>')))
    streams.append(('watch ' + backend, watcher(hub, backend, 'gone.')))
before_subs, before_watches = hub.prop('Subscriptions'), hub.info('watches')
mon = Stream('monitor')
hub.wait_prop_at_least('Subscriptions', before_subs + 1, 'monitor subscribed')
hub.wait_info_at_least('watches', before_watches + 1, 'monitor watching')
streams.append(('monitor', mon))
pipe = subprocess.Popen([os.environ['SWITCHBOARD'], 'stdio'], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE)
pipe.stdin.write(frame({'jsonrpc': '2.0', 'id': 1, 'method': 'hub.info'}))
pipe.stdin.flush()
check(FrameReader(pipe.stdout.fileno()).response(1) is not None, 'stdio is connected')

pidfile = os.path.join(os.environ['XDG_RUNTIME_DIR'], 'switchboard', 'switchboardd.pid')
if check(os.path.exists(pidfile), 'the hub writes %s' % pidfile):
    with open(pidfile) as f:
        os.kill(int(f.read().strip()), signal.SIGTERM)
    for what, s in streams:
        rc = s.wait()
        check(rc == 69, '%s exits 69 when the hub stops (got %r)' % (what, rc))
        check('the hub stopped' in (s.stderr_line() or ''), '%s says the hub stopped' % what)
    try:
        rc = pipe.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, 'stdio exits 0 when the hub closes (got %r)' % rc)
for _, s in streams:
    s.close()
if pipe.poll() is None:
    pipe.kill()
    pipe.wait()
pipe.stdin.close()
pipe.stdout.close()
pipe.stderr.close()

finish()
