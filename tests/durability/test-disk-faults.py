#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-disk-faults.py: when the journal cannot write, changes are refused
# with StorageFailed and not applied; reads and plain Publish go on; when
# the disk recovers, the same calls succeed; after a SIGKILL exactly the
# acknowledged changes are there.
#
# SWITCHBOARD_JOURNAL_FAULT_FILE names a file: while it holds ENOSPC or EIO,
# every journal write fails with that errno. The bus was started before the
# test, so the variable reaches activated hubs through the bus's
# UpdateActivationEnvironment, before the first call activates the hub.
# Each refused call is checked for its error and for an unchanged state
# (Get, List, ListQueues, the retained value, the reserved job still held);
# a subscriber checks that refused retained publishes deliver nothing and
# that plain Publish still delivers.

import os
import signal

import durtest as dt
from durtest import Conn, check, check_eq, log
import sbtest

STORAGE_FAILED = sbtest.ERR + 'StorageFailed'

c = None
sub = None
fault = None
acked = {}          # what the hub acknowledged: key -> value, retained, jobs
jobs = {}           # job id -> payload, pushed and not acked


def set_fault(what):
    if what is None:
        os.unlink(fault)
    else:
        with open(fault, 'w') as f:
            f.write(what + '\n')


def retained_now():
    """The retained value of fault.topic, as a new subscriber gets it."""
    s = Conn('retained-probe')
    s.subscribe('fault.topic', True)
    marker = c.publish('probe.marker', 'x')     # outside fault.>: the subscriber never sees it
    got = s.wait_signal(lambda m: m.member == 'Message' and m.dest == s.name, 'the retained fault.topic')
    s.close()
    return got[-1].args[1], marker


def state():
    return {
        'store': dt.store_now(c),
        'queues': dt.queues_now(c),
        'peek': c.call('Peek', 's', 'fault.q'),
        'retained': retained_now()[0],
    }


def setup():
    global c, sub, fault
    c = Conn('faults')
    check(not sbtest.bus_has_owner(c), 'the hub is already running before the test')
    fault = os.path.join(dt.tmp_dir(), 'journal-fault')
    dt.set_activation_env(c, SWITCHBOARD_JOURNAL_FAULT_FILE=fault)
    dt.start(c)
    c.call('Set', 'ss', 'fault.key', 'v0')
    c.publish_retained('fault.topic', 'r0')
    for p in ('job-0', 'job-1'):
        jobs[c.call('Push', 'sst', 'fault.q', p, 0)] = p
    acked.update(key='v0', retained='r0')
    sub = Conn('subscriber')
    sub.subscribe('fault.>', False)


def refused_round(errno_name, n):
    """One round with the journal failing with @errno_name."""
    held = c.call('Reserve', 'suu', 'fault.q', 0, 60000)       # reads keep working: so does Reserve
    jobs_before = dict(jobs)
    set_fault(errno_name)
    before = state()
    check_eq(before['queues']['fault.q'][:2], (len(jobs) - 1, 1), 'fault.q: ready, reserved')

    calls = [
        ('Set', 'ss', 'fault.key', 'lost-%d' % n),
        ('SetIf', 'sst', 'fault.key', 'lost-%d' % n, before['store']['fault.key'][1]),
        ('SetBinary', 'say', 'fault.new', sbtest.dbus.ByteArray(b'\x00lost')),
        ('Delete', 's', 'fault.key'),
        ('Push', 'sst', 'fault.q', 'lost-%d' % n, 0),
        ('PushBinary', 'sayt', 'fault.q', sbtest.dbus.ByteArray(b'\x00lost'), 0),
        ('Ack', 't', held[0]),
        ('Nack', 'tt', held[0], 0),
        ('PublishRetained', 'ss', 'fault.topic', 'lost-%d' % n),
        ('PublishBinary', 'sayb', 'fault.topic', sbtest.dbus.ByteArray(b'\x00lost'), True),
        ('ClearRetained', 's', 'fault.topic'),
        ('Purge', 's', 'fault.q'),
    ]
    for call in calls:
        msg = c.expect_error(STORAGE_FAILED, *call)
        check('disk' in msg.lower() or 'stor' in msg.lower() or 'journal' in msg.lower(),
              '%s: the StorageFailed message says nothing about storage: %r' % (call[0], msg))
        after = state()
        check_eq(after, before, 'the state after the refused %s (%s)' % (call[0], errno_name))

    # Reads work; plain Publish works and is delivered; nothing refused was delivered.
    check_eq(c.call('Get', 's', 'fault.key')[0], acked['key'], 'Get while the disk fails')
    c.call('Touch', 't', held[0])       # extends a reservation: nothing durable, so it works
    seq = c.publish('fault.plain', 'still-%d' % n)
    got = sub.wait_signal(lambda m: m.member == 'Message' and m.args[0] == 'fault.plain', 'the plain Publish')
    delivered = [m.args[:2] for m in got if m.member in ('Message', 'MessageBinary') and m.dest == sub.name]
    check_eq(delivered, [['fault.plain', 'still-%d' % n]],
             'messages delivered while the disk fails (only the plain Publish, seq %d)' % seq)
    check_eq(jobs, jobs_before, 'jobs')
    log('%s: %d changes refused with StorageFailed, state unchanged, reads and Publish served'
        % (errno_name, len(calls)))

    # The disk recovers: the same calls succeed.
    set_fault(None)
    rev = c.call('Set', 'ss', 'fault.key', 'v%d' % n)
    check(rev > before['store']['fault.key'][1], 'revision after recovery')
    acked['key'] = 'v%d' % n
    c.call('Ack', 't', held[0])
    del jobs[held[0]]
    jid = c.call('Push', 'sst', 'fault.q', 'job-%d' % (n + 1), 0)
    jobs[jid] = 'job-%d' % (n + 1)
    c.publish_retained('fault.topic', 'r%d' % n)
    acked['retained'] = 'r%d' % n
    check_eq(c.call('Get', 's', 'fault.key')[0], 'v%d' % n, 'Get after recovery')
    check_eq(retained_now()[0], 'r%d' % n, 'the retained value after recovery')
    got = sub.wait_signal(lambda m: m.member == 'Message' and m.args[:2] == ['fault.topic', 'r%d' % n],
                          'the retained publish after recovery')
    check_eq(dt.queues_now(c)['fault.q'][:2], (len(jobs), 0), 'fault.q after recovery')
    log('%s cleared: Set, Ack, Push and PublishRetained succeed again' % errno_name)


def test_enospc():
    refused_round('ENOSPC', 1)


def test_eio():
    refused_round('EIO', 2)


def test_garbage_in_fault_file_is_no_fault():
    """Only ENOSPC and EIO inject faults: anything else in the file is ignored."""
    set_fault('nothing')
    c.call('Set', 'ss', 'fault.other', 'ok')
    acked['other'] = 'ok'
    set_fault(None)


def test_sigkill_keeps_acknowledged():
    # A last refused change right before the crash must not appear afterwards.
    set_fault('ENOSPC')
    c.expect_error(STORAGE_FAILED, 'Set', 'ss', 'fault.key', 'lost-at-crash')
    c.expect_error(STORAGE_FAILED, 'Push', 'sst', 'fault.q', 'lost-at-crash', 0)
    dt.stop(c, signal.SIGKILL)
    set_fault(None)
    dt.start(c)
    check_eq(c.call('Get', 's', 'fault.key')[0], acked['key'], 'fault.key after SIGKILL')
    check_eq(c.call('Get', 's', 'fault.other')[0], acked['other'], 'fault.other after SIGKILL')
    check_eq(sorted(k for k, _, _ in c.call('List', 's', '')), ['fault.key', 'fault.other'], 'keys after SIGKILL')
    check_eq(retained_now()[0], acked['retained'], 'the retained value after SIGKILL')
    seen = {}
    while True:
        try:
            got = c.call('Reserve', 'suu', 'fault.q', 0, 60000)
        except sbtest.dbus.exceptions.DBusException as e:
            check_eq(e.get_dbus_name(), sbtest.ERR + 'NoJob', 'Reserve on a drained queue')
            break
        seen[got[0]] = bytes(got[1]).decode()
        c.call('Ack', 't', got[0])
        check(len(seen) <= 10, 'fault.q does not drain: %r' % seen)
    check_eq(seen, jobs, 'the jobs after SIGKILL (exactly the acknowledged pushes not acked)')
    log('after SIGKILL: fault.key=%s, retained=%s, jobs %s' % (acked['key'], acked['retained'], sorted(seen.values())))


if __name__ == '__main__':
    sbtest.main([setup, test_enospc, test_eio, test_garbage_in_fault_file_is_no_fault,
                 test_sigkill_keeps_acknowledged])
