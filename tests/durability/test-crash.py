#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-crash.py: producers and workers run against the hub while the test
# kills it with SIGKILL, again and again; nothing acknowledged is lost and
# nothing acked is handed out again.
#
# One producer process pushes SB_CRASH_JOBS jobs (default 2000) to
# crash.q and, after each push, sets one of SB_CRASH_KEYS keys (default
# 200, so each key is set many times). SB_CRASH_WORKERS worker processes
# (default 3) reserve and ack (one of them with AckNext: ack and reserve the
# next in one call). Each process has its own D-Bus connection
# and logs, with a CLOCK_MONOTONIC time, what it tried and what the hub
# acknowledged (a call is acknowledged when it returned). A failed call
# (the hub died under it, or is starting again) is retried; the retry's
# D-Bus call activates the hub again. Meanwhile the test kills the hub at
# SB_CRASH_KILLS (default 5) random points of the producer's progress
# (SB_CRASH_SEED makes them repeatable), each time waiting until it is gone
# and a client has brought a new one up. The journal compacts every 64 KiB,
# so kills also land around compactions. When the producer is done, the
# workers drain the queue; a last SIGKILL and restart follow. Then:
#
#   - every acknowledged push was delivered to a worker at least once,
#     with its payload; acknowledged job ids only grow;
#   - no job is delivered after an acknowledged Ack of it, and no job is
#     acked (acknowledged) twice: duplicates are deliveries whose ack was
#     not acknowledged;
#   - the queue is empty after the drain and after the last restart;
#   - every key holds its last acknowledged value, or the value of a later
#     set that failed in flight (it may have landed before the kill), with
#     a revision at least that of the acknowledged set; revisions only grow.
#
# The counts are printed as a "crash:" line.

import os
import random
import select
import signal
import subprocess
import sys
import time

import durtest as dt
from durtest import check, check_eq, fail, log
import sbtest

QUEUE = 'crash.q'
N_JOBS = int(os.environ.get('SB_CRASH_JOBS', '2000'))
N_KEYS = int(os.environ.get('SB_CRASH_KEYS', '200'))
N_WORKERS = int(os.environ.get('SB_CRASH_WORKERS', '3'))
N_KILLS = int(os.environ.get('SB_CRASH_KILLS', '5'))
RETRY_FOR = 30.0            # seconds a client keeps retrying one call before it gives up
DEADLINE = 150.0            # the whole run, seconds

# Errors a client gets while the hub is dead or coming back; it retries them.
TRANSIENT = {
    'org.freedesktop.DBus.Error.NoReply',
    'org.freedesktop.DBus.Error.ServiceUnknown',
    'org.freedesktop.DBus.Error.NameHasNoOwner',
    'org.freedesktop.DBus.Error.Disconnected',
    'org.freedesktop.DBus.Error.TimedOut',
    'org.freedesktop.DBus.Error.Timeout',
    'org.freedesktop.DBus.Error.UnknownObject',
    'org.freedesktop.DBus.Error.UnknownMethod',
    'org.freedesktop.DBus.Error.Spawn.ChildExited',
    'org.freedesktop.DBus.Error.Spawn.ChildSignaled',
    'org.freedesktop.DBus.Error.Spawn.Failed',
}


# The client processes.

class Client:
    """One D-Bus connection that retries calls across hub restarts."""

    def __init__(self, logpath):
        self.bus = sbtest.private_bus()
        self.log = open(logpath, 'w', buffering=1)
        self.retries = {}

    def write(self, *fields):
        self.log.write('%.6f %s\n' % (time.monotonic(), ' '.join(str(f) for f in fields)))

    def call(self, method, sig, *args, retry=True, timeout=sbtest.TIMEOUT):
        """The reply; or raise the DBusException of a non-transient error; transient
        errors are retried when @retry, else returned as None."""
        give_up = time.monotonic() + RETRY_FOR
        while True:
            try:
                return self.bus.call_blocking(sbtest.BUS_NAME, sbtest.PATH, sbtest.IFACE, method, sig, args,
                                              timeout=timeout, byte_arrays=True)
            except sbtest.dbus.exceptions.DBusException as e:
                name = e.get_dbus_name()
                if name not in TRANSIENT:
                    raise
                self.retries[name] = self.retries.get(name, 0) + 1
                self.write('error', method, name)
                if name == 'org.freedesktop.DBus.Error.Disconnected':
                    self.bus = sbtest.private_bus()
                if not retry:
                    return None
                if time.monotonic() > give_up:
                    raise


def producer(logdir):
    cl = Client(os.path.join(logdir, 'producer.log'))
    for i in range(N_JOBS):
        payload = 'job-%05d' % i
        cl.write('try-push', payload)
        jid = int(cl.call('Push', 'sst', QUEUE, payload, 0))
        cl.write('push', jid, payload)
        key, value = 'crash.k.%03d' % (i % N_KEYS), 'v-%05d' % i
        cl.write('try-set', key, value)
        rev = int(cl.call('Set', 'ss', key, value))
        cl.write('set', key, value, rev)
        print('P', i, flush=True)
    cl.write('retries', repr(cl.retries).replace(' ', ''))
    print('done', flush=True)


def worker(logdir, n):
    """Reserve and Ack; odd workers ack with AckNext, which reserves the next job in the same call."""
    cl = Client(os.path.join(logdir, 'worker-%d.log' % n))
    stop = os.path.join(logdir, 'stop')
    got = None
    while not os.path.exists(stop):
        if got is None:
            try:
                got = cl.call('Reserve', 'suu', QUEUE, 200, 30000, retry=False)
            except sbtest.dbus.exceptions.DBusException as e:
                if e.get_dbus_name() == sbtest.ERR + 'NoJob':
                    continue
                raise
            if got is None:
                continue
        jid, payload = int(got[0]), bytes(got[1]).decode()
        cl.write('got', jid, payload, int(got[2]))
        acked, got = False, None
        try:
            if n % 2:
                got = cl.call('AckNext', 'tsuu', jid, QUEUE, 200, 30000, retry=False)
                acked = got is not None
            else:
                acked = cl.call('Ack', 't', jid, retry=False) is not None
        except sbtest.dbus.exceptions.DBusException as e:
            # NoJob: acked, nothing ready. NotFound: a new hub does not know the
            # reservation; the job is ready again.
            if e.get_dbus_name() == sbtest.ERR + 'NoJob':
                acked = True
            elif e.get_dbus_name() != sbtest.ERR + 'NotFound':
                raise
        cl.write('acked' if acked else 'ack-failed', jid)
    cl.write('retries', repr(cl.retries).replace(' ', ''))


# The test.

def read_log(path):
    with open(path) as f:
        return [line.split() for line in f if line.strip()]


def verify(logdir, conn):
    prod = read_log(os.path.join(logdir, 'producer.log'))
    pushes = []                         # (id, payload), acknowledged, in order
    tried_payloads = set()
    sets = {}                           # key -> [(value, rev or None)] in order; None: not acknowledged
    for f in prod:
        if f[1] == 'try-push':
            tried_payloads.add(f[2])
        elif f[1] == 'push':
            pushes.append((int(f[2]), f[3]))
        elif f[1] == 'try-set':
            sets.setdefault(f[2], []).append([f[3], None])
        elif f[1] == 'set':
            check_eq(sets[f[2]][-1][0], f[3], 'the producer log: set after its try-set')
            sets[f[2]][-1][1] = int(f[4])
    check_eq(len(pushes), N_JOBS, 'acknowledged pushes')
    ids = [j for j, _ in pushes]
    check(all(a < b for a, b in zip(ids, ids[1:])), 'acknowledged job ids do not only grow')
    payload_of = dict(pushes)

    deliveries = {}                     # id -> [(time, payload, worker)]
    acks = {}                           # id -> [time]
    for n in range(N_WORKERS):
        for f in read_log(os.path.join(logdir, 'worker-%d.log' % n)):
            t = float(f[0])
            if f[1] == 'got':
                deliveries.setdefault(int(f[2]), []).append((t, f[3], n))
            elif f[1] == 'acked':
                acks.setdefault(int(f[2]), []).append(t)

    for jid, payload in pushes:
        check(jid in deliveries, 'the acknowledged push %d (%s) was never delivered' % (jid, payload))
    for jid, ds in deliveries.items():
        for _, payload, _ in ds:
            if jid in payload_of:
                check_eq(payload, payload_of[jid], 'the payload of job %d' % jid)
            else:
                check(payload in tried_payloads, 'job %d carries %r, which nobody pushed' % (jid, payload))
    duplicates = 0
    for jid, ts in acks.items():
        check_eq(len(ts), 1, 'acknowledged Acks of job %d' % jid)
        later = [d for d in deliveries.get(jid, []) if d[0] > ts[0]]
        check(not later, 'job %d was delivered again after its Ack was acknowledged: %r' % (jid, later))
    for jid, ds in deliveries.items():
        duplicates += len(ds) - 1
    unacked_landed = len([j for j in deliveries if j not in payload_of])

    revs = [rev for key in sets for _, rev in sets[key] if rev is not None]
    landed_sets = 0
    for key, attempts in sets.items():
        last = max(i for i, (_, rev) in enumerate(attempts) if rev is not None)
        value, rev = attempts[last]
        allowed = {value} | {v for v, r in attempts[last + 1:] if r is None}
        got_value, got_rev = conn.call('Get', 's', key)
        check(got_value in allowed, '%s holds %r; the last acknowledged set was %r (allowed %r)'
              % (key, got_value, value, sorted(allowed)))
        check(got_rev >= rev, '%s has revision %d, below the acknowledged %d' % (key, got_rev, rev))
        if got_value != value:
            landed_sets += 1
    all_revs = [int(f[4]) for f in prod if f[1] == 'set']
    check(all(a < b for a, b in zip(all_revs, all_revs[1:])), 'acknowledged revisions do not only grow')
    return {
        'pushes acked': len(pushes),
        'jobs delivered': sum(len(d) for d in deliveries.values()),
        'duplicates': duplicates,
        'unacknowledged pushes that landed': unacked_landed,
        'keys checked': len(sets),
        'unacknowledged sets that landed': landed_sets,
        'acks acknowledged': len(acks),
        'revisions': len(revs),
    }


def retries(logdir):
    total = {}
    for name in ['producer.log'] + ['worker-%d.log' % n for n in range(N_WORKERS)]:
        for f in read_log(os.path.join(logdir, name)):
            if f[1] == 'error':
                total[f[3].rsplit('.', 1)[1]] = total.get(f[3].rsplit('.', 1)[1], 0) + 1
    return total


def test_crash():
    seed = int(os.environ.get('SB_CRASH_SEED', str(random.randrange(1 << 30))))
    rnd = random.Random(seed)
    kill_at = sorted(rnd.sample(range(N_JOBS // 10, N_JOBS * 9 // 10), N_KILLS))
    log('seed %d: %d jobs, %d keys, %d workers, kills after pushes %r'
        % (seed, N_JOBS, N_KEYS, N_WORKERS, kill_at))
    start = time.monotonic()
    conn = sbtest.Conn('crash')
    check(not sbtest.bus_has_owner(conn), 'the hub is already running before the test')
    dt.write_config('[journal]\nsync=always\ncompact-bytes=65536\n[limits]\nmax-attempts=1000\n')
    dt.quiet_criticals(conn)            # a torn record after a kill is logged as an error
    log("hub pid", dt.start(conn))

    logdir = os.path.join(dt.tmp_dir(), 'crash')
    os.makedirs(logdir)
    me = os.path.abspath(__file__)
    procs = {'producer': subprocess.Popen([sys.executable, me, 'producer', logdir], stdout=subprocess.PIPE)}
    for n in range(N_WORKERS):
        procs['worker-%d' % n] = subprocess.Popen([sys.executable, me, 'worker', logdir, str(n)])
    kills = 0
    try:
        out = procs['producer'].stdout
        progress, done, buf = -1, False, b''
        while not done:
            left = start + DEADLINE - time.monotonic()
            check(left > 0, 'the producer is at %d of %d after %.0f s' % (progress + 1, N_JOBS, DEADLINE))
            r, _, _ = select.select([out], [], [], left)
            if not r:
                continue
            data = os.read(out.fileno(), 4096)
            if not data:
                fail('the producer exited (status %r) at %d of %d' % (procs['producer'].wait(), progress + 1, N_JOBS))
            buf += data
            *lines, buf = buf.split(b'\n')
            for line in lines:
                if line == b'done':
                    done = True
                elif line.startswith(b'P '):
                    progress = int(line.split()[1])
            while kill_at and progress >= kill_at[0]:
                kill_at.pop(0)
                old = dt.stop(conn, signal.SIGKILL)
                kills += 1
                # The clients' next calls activate a new hub: wait for it.
                sbtest.wait_until(lambda: dt.owner_pid(conn) not in (None, old),
                                  'a client to bring the hub back after kill %d' % kills, 30)
                log('kill %d at push %d: pid %d -> %d' % (kills, progress, old, dt.owner_pid(conn)))
        check_eq(procs['producer'].wait(timeout=sbtest.TIMEOUT), 0, 'the producer\'s exit status')

        # Drain: the workers empty the queue.
        def drained():
            q = dt.queues_now(conn).get(QUEUE)
            return q is None or q[:4] == (0, 0, 0, 0)     # only waiting workers left
        sbtest.wait_until(drained, 'the workers to drain %s (now %r)' % (QUEUE, dt.queues_now(conn).get(QUEUE)),
                          max(10, start + DEADLINE - time.monotonic()))
        open(os.path.join(logdir, 'stop'), 'w').close()
        for n in range(N_WORKERS):
            check_eq(procs['worker-%d' % n].wait(timeout=sbtest.TIMEOUT), 0, 'worker %d exit status' % n)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()

    # A last SIGKILL: what was acked stays gone, the keys stay.
    dt.restart(conn, signal.SIGKILL)
    check(QUEUE not in dt.queues_now(conn), 'after the last restart %s holds %r' % (QUEUE, dt.queues_now(conn)))
    check_eq(conn.call_error('Reserve', 'suu', QUEUE, 0, 1000)[0], sbtest.ERR + 'NoJob',
             'Reserve after the last restart')
    counts = verify(logdir, conn)
    counts['kills'] = kills
    counts['seconds'] = round(time.monotonic() - start, 1)
    print('crash: pushes acked %(pushes acked)d, jobs delivered %(jobs delivered)d, duplicates %(duplicates)d, '
          'kills %(kills)d, keys checked %(keys checked)d; unacknowledged pushes that landed '
          '%(unacknowledged pushes that landed)d, unacknowledged sets that landed '
          '%(unacknowledged sets that landed)d; %(seconds).1f s' % counts, flush=True)
    log('client retries by error:', retries(logdir))
    check_eq(kills, N_KILLS, 'kills')


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == 'producer':
        producer(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == 'worker':
        worker(sys.argv[2], int(sys.argv[3]))
    else:
        sbtest.main([test_crash])
