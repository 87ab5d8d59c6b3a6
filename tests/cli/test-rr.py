#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `switchboard call` and `switchboard serve` against the real hub and
# across transports: CLI serve answering busctl's D-Bus Call, CLI call
# reaching a python3-dbus server, CLI call and CLI serve (over the backend
# under test and over the other one), the exit statuses for NoServer (5),
# Timeout (6) and ServerGone (7), a failing command's error reaching the
# caller, the caller's environment, --count and SIGTERM, and `status`
# showing the served names. Readiness is GetInfo's `services`, never a guess.

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest  # noqa: E402
from clitest import Hub, check, expect, finish, wait_for  # noqa: E402

clitest.require_environment()
clitest.start_hub()
hub = Hub()
tmp = tempfile.mkdtemp(prefix='sb-rr-', dir=os.environ['XDG_RUNTIME_DIR'])
OTHER = 'dbus' if clitest.BACKEND == 'socket' else 'socket'


def services():
    return {str(k): int(v) for k, v in hub.hub.GetInfo()['services'].items()}


def server(name, *command, count=None, env=None):
    """`switchboard serve NAME -- COMMAND`, once GetInfo lists NAME."""
    before = services().get(name, 0)
    args = ['serve', name] + (['--count', str(count)] if count else []) + ['--'] + list(command)
    s = clitest.Stream(*args, env=env)
    wait_for(lambda: services().get(name, 0) > before, 'serve %s to be ready' % name)
    return s


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


# Nobody serves it yet: 5.
expect(5, 'call', 'svc.echo', 'x', err_contains="nobody serves 'svc.echo'")
expect(1, 'call', 'bad..name', 'x', err_contains="invalid service name 'bad..name'")
expect(2, 'call', 'svc.echo', 'x', '--timeout', 'never', err_contains='--timeout')

# CLI serve; CLI call over this backend and the other; busctl over D-Bus.
envfile = os.path.join(tmp, 'env')
s = server('svc.echo', 'sh', '-c',
           'printf "%s|%s|%s|%s|%s\\n" "$SWITCHBOARD_SERVICE" "$SWITCHBOARD_CALLER_TRANSPORT" '
           '"$SWITCHBOARD_CALLER_UID" "${SWITCHBOARD_CALLER_PID:+pid}" "${SWITCHBOARD_CALL_ID:+id}" >> "$0"; '
           'echo "echo:$(cat)"', envfile)
expect(0, 'call', 'svc.echo', 'hello', out='echo:hello\n')
expect(0, '--' + OTHER, 'call', 'svc.echo', 'other', out='echo:other\n')
r = subprocess.run(['busctl', '--user', 'call', clitest.HUB, clitest.HUB_PATH, clitest.HUB_IFACE, 'Call', 'ssu',
                    'svc.echo', 'from busctl', '5000'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   timeout=clitest.TIMEOUT)
check(r.returncode == 0 and r.stdout.decode() == 's "echo:from busctl"\n',
      'busctl Call reaches CLI serve (%r, %r)' % (r.stdout, r.stderr))
expect(0, 'call', 'svc.echo', '', out='echo:\n')
lines = (read(envfile) or '').splitlines()
check(len(lines) == 4 and all(l.startswith('svc.echo|') and l.endswith('|id') for l in lines),
      'SWITCHBOARD_SERVICE and SWITCHBOARD_CALL_ID are set (%r)' % lines)
uid = str(os.getuid())
if clitest.BACKEND == 'socket':
    # Over the socket the request says who called, as the kernel or the bus told the hub.
    check(lines[:1] == ['svc.echo|unix|%s|pid|id' % uid], 'caller over the socket: unix, uid, pid (%r)' % lines)
    check(len(lines) > 2 and lines[1].startswith('svc.echo|dbus|') and lines[2].startswith('svc.echo|dbus|'),
          'callers over D-Bus are named dbus (%r)' % lines)
else:
    # D-Bus Request signals carry no sender.
    check(all(l == 'svc.echo||||id' for l in lines), 'no caller variables over D-Bus (%r)' % lines)

# status shows the served name with its number of servers.
r = expect(0, 'status')
check('Services:' in r.out and any(l.split() == ['svc.echo', '1'] for l in r.out.splitlines()),
      'status lists svc.echo with 1 server (%r)' % r.out)
check(any(l.split()[:1] == ['Queues:'] for l in r.out.splitlines()), 'status has a Queues line')
r = expect(0, 'status', '--json')
o = json.loads(r.out or '{}')
check(o.get('services') == {'svc.echo': 1} and isinstance(o.get('queues'), int)
      and isinstance(o.get('pending_calls'), int), 'status --json services, queues, pending_calls (%r)' % o)
s.close()
wait_for(lambda: 'svc.echo' not in services(), 'svc.echo to go with its server')
expect(5, 'call', 'svc.echo', 'x')

# A failing command: the caller gets CommandFailed with the status and stderr's last line.
s = server('svc.fail', 'sh', '-c', 'echo first >&2; echo "no luck with $(cat)" >&2; exit 4')
r = expect(1, 'call', 'svc.fail', 'this',
           err_contains=["'svc.fail' answered with an error (org.switchboard.Hub1.Error.CommandFailed)",
                         'exit status 4: no luck with this'])
p = subprocess.run(['busctl', '--user', 'call', clitest.HUB, clitest.HUB_PATH, clitest.HUB_IFACE, 'Call', 'ssu',
                    'svc.fail', 'x', '5000'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   timeout=clitest.TIMEOUT)
check(p.returncode != 0 and b'exit status 4: no luck with x' in p.stderr,
      'busctl sees the command failure (%r)' % p.stderr)
s.close()

# --count: serve ends after N calls; multi-line output keeps all but the last newline.
s = server('svc.count', 'printf', 'a\\nb\\n\\n', count=2)
expect(0, 'call', 'svc.count', 'x', out='a\nb\n\n')
expect(0, '--' + OTHER, 'call', 'svc.count', 'x', out='a\nb\n\n')
check(s.wait() == 0, 'serve --count 2 exits 0 after two calls')
s.close()

# Timeout (6): the command takes longer than the caller waits.
s = server('svc.slow', 'sleep', '30')
t0 = time.monotonic()
expect(6, 'call', 'svc.slow', 'x', '--timeout', '300', err_contains="no reply from 'svc.slow' in time")
check(time.monotonic() - t0 < 5, 'the call timed out after 300 ms')
# SIGTERM while the command runs: passed on, serve exits 0 and leaves.
check(s.stop(signal.SIGTERM) == 0, 'serve exits 0 on SIGTERM during a request')
wait_for(lambda: 'svc.slow' not in services(), 'svc.slow to go')
s.close()

# ServerGone (7): the server goes away while the call is pending.
s = server('svc.gone', 'sh', '-c', 'kill -KILL $PPID; sleep 5')
expect(7, 'call', 'svc.gone', 'x', err_contains="the server of 'svc.gone' went away")
s.close()

# A python3-dbus server answers CLI calls; it leaving mid-call is ServerGone too.
PY_SERVER = r'''
import os, sys
import dbus, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.SessionBus()
hub = dbus.Interface(bus.get_object('org.switchboard.Hub1', '/org/switchboard/Hub1'), 'org.switchboard.Hub1')
def on_request(id, name, payload):
    if payload == 'die':
        os._exit(0)
    if payload == 'error':
        hub.ReplyError(id, 'org.example.Error.Nope', 'python says no')
    else:
        hub.Reply(id, 'py:' + payload)
bus.add_signal_receiver(on_request, signal_name='Request', dbus_interface='org.switchboard.Hub1')
hub.Serve('svc.py')
GLib.MainLoop().run()
'''
before = services().get('svc.py', 0)
py = subprocess.Popen(['/usr/bin/python3', '-c', PY_SERVER])
wait_for(lambda: services().get('svc.py', 0) > before, 'the python server to serve')
expect(0, 'call', 'svc.py', 'hi', out='py:hi\n')
expect(1, 'call', 'svc.py', 'error',
       err_contains=["'svc.py' answered with an error (org.example.Error.Nope)", 'python says no'])
expect(7, 'call', 'svc.py', 'die')
py.wait(timeout=clitest.TIMEOUT)

finish()
