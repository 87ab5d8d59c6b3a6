#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-restart.py: what the hub acknowledged survives a restart, by SIGKILL
# and by a clean SIGTERM, with the hub started again by D-Bus activation.
#
# Before the first call it writes a switchboard.conf with max-attempts=2 (a job
# nacked twice is dead-lettered). It then builds a state with keys
# (one overwritten, one deleted), retained values (one cleared), and queues
# holding ready, delayed, dead, reserved-but-unacked and acked jobs, and
# checks after each restart: the keys with their revisions, the retained
# values (replayed to a new subscriber), ListQueues counts, reserved jobs
# ready again, acked jobs never handed out again, a delayed job ready no
# earlier than its due time, and job ids and revisions that keep growing.

import signal
import time

import durtest as dt
from durtest import Conn, check, check_eq, log
import sbtest

DELAY_MS = 3000

c = None
state = {}


def setup():
    global c
    probe = Conn('probe')
    check(not sbtest.bus_has_owner(probe), 'the hub is already running before the test')
    dt.write_config('[limits]\nmax-attempts=2\n')
    c = Conn('restart')
    state['pid'] = dt.start(c)
    log('hub pid', state['pid'])


def build_state():
    s = state
    s['rev_a1'] = c.call('Set', 'ss', 'cfg.a', 'one')
    s['rev_b'] = c.call('Set', 'ss', 'cfg.b', 'two')
    s['rev_a2'] = c.call('Set', 'ss', 'cfg.a', 'three')
    c.call('Set', 'ss', 'cfg.gone', 'x')
    check_eq(c.call('Delete', 's', 'cfg.gone'), True, 'Delete cfg.gone')
    check(s['rev_a2'] > s['rev_b'] > s['rev_a1'], 'revisions grow: %r' % s)
    c.call('SetBinary', 'say', 'cfg.bin', sbtest.dbus.ByteArray(b'\x00\xff\x01'))
    s['keys'] = dt.store_now(c)
    s['max_rev'] = max(rev for _, rev in s['keys'].values())

    c.publish_retained('status.kitchen', 'warm')
    c.publish_retained('status.hall', 'cold')
    c.publish_retained('status.hall', 'freezing')
    c.publish_retained('status.attic', 'dusty')
    check_eq(c.call('ClearRetained', 's', 'status.attic'), 1, 'ClearRetained status.attic')

    # q.work: a (reserved, acked), b (reserved, not acked), c (ready).
    ids = {}
    for name in ('a', 'b', 'c'):
        ids[name] = c.call('Push', 'sst', 'q.work', 'job-' + name, 0)
    got = c.call('Reserve', 'suu', 'q.work', 0, 60000)
    check_eq(got[0], ids['a'], 'first reserved job')
    c.call('Ack', 't', ids['a'])
    got = c.call('Reserve', 'suu', 'q.work', 0, 60000)
    check_eq(got[0], ids['b'], 'second reserved job')
    # q.dead: reserved and nacked twice: with max-attempts=2 it is dead.
    ids['dead'] = c.call('Push', 'sst', 'q.dead', 'job-dead', 0)
    for _ in range(2):
        got = c.call('Reserve', 'suu', 'q.dead', 0, 60000)
        check_eq(got[0], ids['dead'], 'the job of q.dead')
        c.call('Nack', 'tt', ids['dead'], 0)
    s['ids'] = ids
    s['max_id'] = max(ids.values())
    s['queues'] = dt.queues_now(c)
    check_eq(s['queues'].get('q.work'), (1, 1, 0, 0, 0), 'q.work (ready, reserved, delayed, dead, waiting)')
    check_eq(s['queues'].get('q.dead'), (0, 0, 0, 1, 0), 'q.dead before the restart')


def push_delayed():
    state['delayed_pushed_at'] = time.time()
    state['ids']['delayed'] = c.call('Push', 'sst', 'q.later', 'job-later', DELAY_MS)
    state['max_id'] = max(state['max_id'], state['ids']['delayed'])
    check_eq(dt.queues_now(c).get('q.later'), (0, 0, 1, 0, 0), 'q.later before the restart')


def check_state(after):
    s = state
    check_eq(dt.store_now(c), s['keys'], 'the store after %s' % after)
    check_eq(bytes(c.call('GetBinary', 's', 'cfg.bin')[0]), b'\x00\xff\x01', 'cfg.bin after %s' % after)
    err = c.call_error('Get', 's', 'cfg.gone')[0]
    check_eq(err, sbtest.ERR + 'NotFound', 'the deleted key after %s' % after)

    sub = Conn('retained-reader')
    sub.subscribe('status.>', True)
    got = sub.wait_signal(lambda m: m.member == 'Message' and m.args[0] == 'status.kitchen'
                          and m.dest == sub.name, 'retained status.kitchen')
    got += sub.wait_signal(lambda m: m.member == 'Message' and m.args[0] == 'status.hall'
                           and m.dest == sub.name, 'retained status.hall')
    retained = {m.args[0]: m.args[1] for m in got if m.member == 'Message' and m.dest == sub.name}
    check_eq(retained, {'status.kitchen': 'warm', 'status.hall': 'freezing'},
             'retained values replayed after %s' % after)
    # status.attic was cleared: ask for it alone, behind a marker published now.
    sub2 = Conn('cleared-reader')
    sub2.subscribe('status.attic', True)
    c.publish('status.attic', 'marker')
    got = sub2.wait_signal(lambda m: m.member == 'Message' and m.dest == sub2.name, 'the marker')
    check_eq([m.args[1] for m in got if m.member == 'Message' and m.dest == sub2.name], ['marker'],
             'the cleared retained value stays cleared after %s' % after)
    sub.close()
    sub2.close()
    log('store, retained values: as acknowledged after', after)


def test_sigkill():
    build_state()
    push_delayed()
    # Plain messages are not durable, but their numbers are: never handed out again.
    state['max_seq'] = max(c.publish('plain.before', 'x') for _ in range(3))
    old, new = dt.restart(c, signal.SIGKILL)
    log('SIGKILL: pid %d -> %d' % (old, new))
    check_state('SIGKILL')

    q = dt.queues_now(c)
    # The reserved job b is ready again, before c (it was first in line).
    check_eq(q.get('q.work'), (2, 0, 0, 0, 0), 'q.work after SIGKILL (b came back)')
    check_eq(q.get('q.dead'), (0, 0, 0, 1, 0), 'q.dead after SIGKILL')
    check_eq(q.get('q.later'), (0, 0, 1, 0, 0), 'q.later after SIGKILL (still delayed)')
    peek = c.call('Peek', 's', 'q.work')
    check(peek[0] in (state['ids']['b'], state['ids']['c']), 'Peek q.work: %r' % (peek,))

    # The delayed job keeps its due time: ready no earlier than pushed + delay.
    got = c.call('Reserve', 'suu', 'q.later', DELAY_MS + 5000, 60000, timeout=DELAY_MS / 1000 + 10)
    at = time.time()
    check_eq(got[0], state['ids']['delayed'], 'the delayed job')
    waited = at - state['delayed_pushed_at']
    check(waited >= DELAY_MS / 1000 - 0.05, 'the delayed job came %.3f s after its push, before its %d ms delay'
          % (waited, DELAY_MS))
    check(waited < DELAY_MS / 1000 + 3, 'the delayed job came %.3f s after its push (delay %d ms)'
          % (waited, DELAY_MS))
    log('the delayed job came back %.3f s after its push (delay %.1f s), across a SIGKILL'
        % (waited, DELAY_MS / 1000))
    c.call('Ack', 't', got[0])

    # New ids and revisions are beyond every one handed out before.
    rev = c.call('Set', 'ss', 'cfg.after', 'kill')
    check(rev > state['max_rev'], 'revision after SIGKILL %d <= %d before' % (rev, state['max_rev']))
    jid = c.call('Push', 'sst', 'q.work', 'job-d', 0)
    check(jid > state['max_id'], 'job id after SIGKILL %d <= %d before' % (jid, state['max_id']))
    state['ids']['d'] = jid
    state['max_id'] = jid
    state['keys'] = dt.store_now(c)
    state['max_rev'] = rev
    seq = c.publish('plain.after', 'x')
    check(seq > state['max_seq'], 'seq after SIGKILL %d <= %d before' % (seq, state['max_seq']))
    state['max_seq'] = seq
    log('after SIGKILL: revision %d, job id %d, seq %d' % (rev, jid, seq))


def test_sigterm():
    # Reserve b again and leave it unacked; push another delayed job.
    got = c.call('Reserve', 'suu', 'q.work', 0, 60000)
    check_eq(got[0], state['ids']['b'], 'the job that came back first')
    check_eq(got[2], 1, 'attempts of b: reservations are not journaled, so it starts again')
    push_delayed()
    before = dt.queues_now(c)
    check_eq(before.get('q.work'), (2, 1, 0, 0, 0), 'q.work before SIGTERM')

    old, new = dt.restart(c, signal.SIGTERM)
    log('SIGTERM: pid %d -> %d' % (old, new))
    check_state('SIGTERM')
    q = dt.queues_now(c)
    check_eq(q.get('q.work'), (3, 0, 0, 0, 0), 'q.work after SIGTERM')
    check_eq(q.get('q.dead'), (0, 0, 0, 1, 0), 'q.dead after SIGTERM')
    check_eq(q.get('q.later'), (0, 0, 1, 0, 0), 'q.later after SIGTERM')

    # Drain q.work: exactly b, c, d; a (acked before the first restart) never comes back.
    seen = []
    while True:
        err = None
        try:
            got = c.call('Reserve', 'suu', 'q.work', 0, 60000)
        except sbtest.dbus.exceptions.DBusException as e:
            err = e.get_dbus_name()
        if err:
            check_eq(err, sbtest.ERR + 'NoJob', 'Reserve on a drained queue')
            break
        seen.append((got[0], bytes(got[1]).decode()))
        c.call('Ack', 't', got[0])
        check(len(seen) <= 10, 'q.work does not drain: %r' % seen)
    ids = state['ids']
    check_eq(sorted(seen), sorted([(ids['b'], 'job-b'), (ids['c'], 'job-c'), (ids['d'], 'job-d')]),
             'jobs of q.work after two restarts')

    # The dead job is still dead, and Kick brings it back with its payload.
    check_eq(c.call('Kick', 'su', 'q.dead', 0), 1, 'Kick q.dead')
    got = c.call('Reserve', 'suu', 'q.dead', 0, 60000)
    check_eq((got[0], bytes(got[1])), (ids['dead'], b'job-dead'), 'the kicked job')
    c.call('Ack', 't', got[0])

    rev = c.call('Set', 'ss', 'cfg.after', 'term')
    check(rev > state['max_rev'], 'revision after SIGTERM %d <= %d before' % (rev, state['max_rev']))
    jid = c.call('Push', 'sst', 'q.work', 'job-e', 0)
    check(jid > state['max_id'], 'job id after SIGTERM %d <= %d before' % (jid, state['max_id']))
    seq = c.publish('plain.after', 'x')
    check(seq > state['max_seq'], 'seq after SIGTERM %d <= %d before' % (seq, state['max_seq']))
    log('after SIGTERM: revision %d, job id %d, seq %d' % (rev, jid, seq))


def test_acked_stay_gone():
    # One more SIGKILL after the drain: nothing acked comes back.
    want = dt.queues_now(c)
    keys = dt.store_now(c)
    dt.restart(c, signal.SIGKILL)
    check_eq(dt.store_now(c), keys, 'the store after the last SIGKILL')
    q = dt.queues_now(c)
    check_eq({k: v for k, v in q.items() if k != 'q.later'},
             {k: v for k, v in want.items() if k != 'q.later'}, 'queues after the last SIGKILL')
    check_eq(q.get('q.work'), (1, 0, 0, 0, 0), 'q.work holds only job-e')
    check('q.dead' not in q, 'q.dead is drained and stays so: %r' % q)


if __name__ == '__main__':
    sbtest.main([setup, test_sigkill, test_sigterm, test_acked_stay_gone])
