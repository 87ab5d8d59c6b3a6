#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Exit 69 when the bus or the hub cannot be reached, with a message that
# says what to do: no bus at all, and a bus that cannot activate the hub.

import os
import re
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import Hub, check, expect, finish, require_environment, subscriber, watcher  # noqa: E402

require_environment()

NOBUS = {'DBUS_SESSION_BUS_ADDRESS': 'unix:path=/nonexistent/switchboard-test-bus'}
expect(69, 'get', 'k', env=NOBUS, out='', err_contains=['cannot connect to the session bus', 'DBUS_SESSION_BUS_ADDRESS'])
expect(69, 'subscribe', 'a.>', env=NOBUS, err_contains='cannot connect to the session bus')
expect(69, '--address=unix:path=/nonexistent/bus', 'status', err_contains='/nonexistent/bus')
expect(69, 'publish', '--address', 'unix:path=/nonexistent/bus', 't', 'p', err_contains='/nonexistent/bus')

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
    finally:
        bus.terminate()
        bus.wait()

# The hub goes away under a running subscriber and watcher: both exit 69.
hub = Hub()
sub = subscriber(hub, 'gone.>')
wat = watcher(hub, 'gone.')
pidfile = os.path.join(os.environ['XDG_RUNTIME_DIR'], 'switchboard', 'switchboardd.pid')
if check(os.path.exists(pidfile), 'the hub writes %s' % pidfile):
    with open(pidfile) as f:
        os.kill(int(f.read().strip()), signal.SIGTERM)
    rc = sub.wait()
    check(rc == 69, 'subscribe exits 69 when the hub stops (got %r)' % rc)
    check('the hub stopped' in (sub.stderr_line() or ''), 'subscribe says the hub stopped')
    rc = wat.wait()
    check(rc == 69, 'watch exits 69 when the hub stops (got %r)' % rc)
sub.close()
wat.close()

finish()
