#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-cleanup.py: what a client creates goes away with it.
#
# A separate process (this script with --child) connects, Subscribes twice,
# Watches, proves its subscription works, and prints "ready". The parent then
# either closes the child's stdin (the child exits normally) or kills it with
# SIGKILL, and waits (bounded, by polling the properties) until the hub's
# Subscriptions and Clients are back where they were. Afterwards publishing
# and setting keys still work and nobody gets the dead client's signals.

import os
import signal
import subprocess
import sys

import sbtest
from sbtest import Conn, check, check_eq, fail, log


def child():
    c = Conn('child')
    c.subscribe('cleanup.>', True)
    c.subscribe('cleanup.*', False)
    c.call('Watch', 's', 'cleanup.')
    # Prove the subscription is live before reporting ready.
    c.publish('cleanup.self', 'hello')
    c.wait_signal(lambda s: s.args[0] == 'cleanup.self' and s.dest == c.name, 'own message')
    print('ready %s' % c.name, flush=True)
    sys.stdin.read()            # until the parent closes stdin (or kills us)
    sys.exit(0)


def run_child():
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), '--child'],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    # The child prints exactly one line; readline returns at EOF too, so a
    # crashing child cannot hang us. The child's own waits are bounded.
    line = p.stdout.readline().strip()
    if not line.startswith('ready '):
        p.kill()
        p.wait()
        fail('child did not get ready (said %r, exit %r)' % (line, p.poll()))
    return p, line.split()[1]


def scenario(how):
    obs = Conn('observer-' + how)
    obs.call('Watch', 's', 'observer.')        # the observer is a client too
    subs0 = obs.prop('Subscriptions')
    clients0 = obs.prop('Clients')
    p, name = run_child()
    subs1 = obs.prop('Subscriptions')
    clients1 = obs.prop('Clients')
    check_eq(subs1, subs0 + 2, 'Subscriptions with the child connected')
    check_eq(clients1, clients0 + 1, 'Clients with the child connected')
    log('child %s connected: Subscriptions %d, Clients %d' % (name, subs1, clients1))

    if how == 'exit':
        p.stdin.close()
    else:
        p.send_signal(signal.SIGKILL)
    rc = p.wait(timeout=sbtest.TIMEOUT)
    if how == 'exit':
        check_eq(rc, 0, 'child exit status')
    else:
        check_eq(rc, -signal.SIGKILL, 'child exit status')

    sbtest.wait_prop(obs, 'Subscriptions', lambda v: v == subs0,
                     'Subscriptions back to %d after the child %s' % (subs0, how))
    sbtest.wait_prop(obs, 'Clients', lambda v: v == clients0,
                     'Clients back to %d after the child %s' % (clients0, how))
    check(not obs.bus.name_has_owner(name), 'the child still owns %s' % name)
    # The hub still works, and nothing is addressed to the dead name (the bus
    # would refuse it; the hub must not get stuck or error out on it).
    obs.subscribe('cleanup.>', False)
    seq = obs.publish('cleanup.after', 'still alive')
    rev = obs.call('Set', 'ss', 'cleanup.key', 'v')
    got = obs.wait_signal(lambda s: s.args[0] == 'cleanup.after', 'own message after cleanup')
    check_eq(tuple(got[-1].args), ('cleanup.after', 'still alive', seq), 'message after cleanup')
    check(rev > 0, 'Set after cleanup returned %r' % rev)
    obs.close()
    sbtest.wait_prop(Conn('probe'), 'Subscriptions', lambda v: v == subs0,
                     'Subscriptions back to %d after the observer closed' % subs0)


def test_child_exits():
    scenario('exit')


def test_child_killed():
    scenario('killed')


def test_many_children():
    obs = Conn('observer-many')
    obs.call('GetInfo')
    subs0 = obs.prop('Subscriptions')
    kids = [run_child() for _ in range(5)]
    check_eq(obs.prop('Subscriptions'), subs0 + 10, 'Subscriptions with five children')
    for i, (p, _) in enumerate(kids):
        if i % 2:
            p.kill()
        else:
            p.stdin.close()
    for p, _ in kids:
        p.wait(timeout=sbtest.TIMEOUT)
    sbtest.wait_prop(obs, 'Subscriptions', lambda v: v == subs0,
                     'Subscriptions back to %d after five children left' % subs0)


if __name__ == '__main__':
    if sys.argv[1:] == ['--child']:
        try:
            child()
        except sbtest.TestFailure as e:
            print('child failed: %s' % e, flush=True)
            sys.exit(1)
    sbtest.main([test_child_exits, test_child_killed, test_many_children])
