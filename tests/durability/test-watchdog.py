#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-watchdog.py: under a service manager's watchdog (WatchdogSec=, which
# sets $WATCHDOG_USEC and $NOTIFY_SOCKET), the hub tells it it is ready and
# then pings WATCHDOG=1 again and again, at about half the interval; without
# $WATCHDOG_USEC it sends READY=1 but no pings. The test plays the service
# manager: a datagram socket of its own as NOTIFY_SOCKET.

import os
import select
import signal
import socket
import tempfile
import time

from durtest import DirectHub, check, check_eq, fail, log
import sbtest

WATCHDOG_USEC = 200_000


def notify_socket():
    d = tempfile.mkdtemp(prefix='sb-notify-')
    path = os.path.join(d, 'notify')
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    return s, path


def messages(s, until, stop=lambda got: False):
    """The datagrams that arrive before @until (monotonic), or until @stop(got) says so."""
    got = []
    while not stop(got):
        left = until - time.monotonic()
        if left <= 0:
            break
        if select.select([s], [], [], left)[0]:
            got.append(s.recv(4096).decode())
    return got


def test_pings():
    s, path = notify_socket()
    hub = DirectHub(env={'NOTIFY_SOCKET': path, 'WATCHDOG_USEC': str(WATCHDOG_USEC)}, label='watchdog')
    hub.wait_ready()
    start = time.monotonic()
    # Five pings within ten intervals: more than the first, and not from start-up alone.
    got = messages(s, start + 10 * WATCHDOG_USEC / 1e6 + sbtest.TIMEOUT / 4,
                   stop=lambda got: sum('WATCHDOG=1' in m for m in got) >= 5)
    pings = sum('WATCHDOG=1' in m for m in got)
    check(any('READY=1' in m for m in got), 'READY=1 sent (%r)' % got)
    check(pings >= 5, 'WATCHDOG=1 pings: %d (%r)' % (pings, got))
    elapsed = time.monotonic() - start
    log('%d pings in %.2f s with WatchdogSec=%.1f s' % (pings, elapsed, WATCHDOG_USEC / 1e6))
    check_eq(hub.kill(signal.SIGTERM), 0, 'exit status after SIGTERM')


def test_no_watchdog_no_pings():
    s, path = notify_socket()
    hub = DirectHub(env={'NOTIFY_SOCKET': path}, label='no-watchdog')
    hub.wait_ready()
    # Ready comes; then, for five would-be intervals, no ping.
    got = messages(s, time.monotonic() + sbtest.TIMEOUT / 4, stop=lambda got: any('READY=1' in m for m in got))
    check(any('READY=1' in m for m in got), 'READY=1 sent without a watchdog (%r)' % got)
    got += messages(s, time.monotonic() + 5 * WATCHDOG_USEC / 1e6)
    if any('WATCHDOG=1' in m for m in got):
        fail('WATCHDOG=1 sent without $WATCHDOG_USEC: %r' % got)
    check_eq(hub.kill(signal.SIGTERM), 0, 'exit status after SIGTERM')


if __name__ == '__main__':
    sbtest.main([test_pings, test_no_watchdog_no_pings])
