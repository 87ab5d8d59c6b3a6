#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-lock.py: one hub per state directory.
#
# Hub A is activated on the test bus. A second switchboardd on the same
# XDG_STATE_HOME must refuse to start, naming A's pid, with a non-zero exit
# status (not a crash), and leave A alone: once on the same bus, once on a
# second private bus with its own XDG_RUNTIME_DIR (so only the state
# directory is shared). After A is killed with SIGKILL, its lock file still
# holds A's pid, but the lock is gone with A: a new hub starts on the same
# directory with A's state.

import os
import signal
import subprocess
import tempfile

import durtest as dt
from durtest import Conn, DirectHub, check, check_eq, log
import sbtest

c = None
a_pid = None


def setup():
    global c, a_pid
    c = Conn('lock')
    check(not sbtest.bus_has_owner(c), 'the hub is already running before the test')
    a_pid = dt.start(c)
    c.call('Set', 'ss', 'lock.key', 'held by A')
    with open(dt.state_path('lock')) as f:
        check_eq(f.read().strip(), str(a_pid), 'the lock file names hub A')
    log('hub A is pid', a_pid)


def refused(hub, what):
    rc = hub.wait_exit()
    check(rc is not None and rc > 0, '%s: exit status %r, expected a refusal (> 0, no signal)' % (what, rc))
    line = hub.wait_line(r'Another hub \(pid %d\) uses the state directory' % a_pid)
    check(dt.state_dir() in line, '%s: the message does not name the directory %s: %s'
          % (what, dt.state_dir(), line))
    # A is untouched: same owner, same lock, same state, still serving.
    check_eq(dt.owner_pid(c), a_pid, '%s: the owner of the hub name' % what)
    with open(dt.state_path('lock')) as f:
        check_eq(f.read().strip(), str(a_pid), '%s: the lock file' % what)
    check_eq(c.call('Get', 's', 'lock.key')[0], 'held by A', '%s: A\'s key' % what)
    check(os.path.exists(os.path.join(os.environ['XDG_RUNTIME_DIR'], 'switchboard', 'socket')),
          '%s: A\'s JSON-RPC socket is gone' % what)
    log('%s: refused with status %d: %s' % (what, rc, line))


def test_same_bus():
    refused(DirectHub(label='second-same-bus'), 'a second hub on the same bus')


def test_second_bus():
    bus = subprocess.Popen(['dbus-daemon', '--config-file=' + os.environ['SB_SESSION_CONF'], '--nofork',
                            '--print-address=1'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        address = bus.stdout.readline().decode().strip()
        check(address.startswith('unix:'), 'the second bus printed no address: %r' % address)
        runtime = tempfile.mkdtemp(prefix='runtime2.', dir=dt.tmp_dir())
        hub = DirectHub(env={'DBUS_SESSION_BUS_ADDRESS': address, 'XDG_RUNTIME_DIR': runtime},
                        label='second-other-bus')
        refused(hub, 'a second hub on another bus')
        check(not os.path.exists(os.path.join(runtime, 'switchboard', 'socket')),
              'the refused hub left a socket behind')
    finally:
        bus.terminate()
        bus.wait(timeout=sbtest.TIMEOUT)


def test_after_sigkill():
    dt.stop(c, signal.SIGKILL)
    with open(dt.state_path('lock')) as f:
        check_eq(f.read().strip(), str(a_pid), 'the lock file after SIGKILL (stale)')
    hub = DirectHub(label='after-kill')
    hub.wait_ready()
    check_eq(c.call('Get', 's', 'lock.key')[0], 'held by A', 'A\'s key in the new hub')
    with open(dt.state_path('lock')) as f:
        check_eq(f.read().strip(), str(hub.pid), 'the lock file names the new hub')
    check_eq(hub.kill(signal.SIGTERM), 0, 'exit status of the new hub after SIGTERM')
    log('a new hub (pid %d) took over the stale lock of pid %d' % (hub.pid, a_pid))


if __name__ == '__main__':
    sbtest.main([setup, test_same_bus, test_second_bus, test_after_sigkill])
