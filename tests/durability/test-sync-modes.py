#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-sync-modes.py: [journal] sync=always, interval and never each start,
# serve and keep what they acknowledged across a SIGKILL (the page cache
# survives a killed process; only a power cut tells the modes apart).
#
# When strace is installed, each hub runs under it (tracing only fdatasync),
# and the test reads strace's output to see the policy at work:
#   always    an fdatasync of the journal before each acknowledged change
#   interval  (interval-ms=50) fdatasyncs keep coming while changes do, not
#             only the first one: the test waits for several
#   never     no fdatasync of the journal while the hub serves
# Waits are for strace lines, bounded; nothing sleeps.

import os
import re
import select
import shutil
import signal
import tempfile
import time

import durtest as dt
from durtest import Conn, check, check_eq, fail, log
import sbtest

STRACE = shutil.which('strace')
c = None


class TracedHub:
    """switchboardd (under strace when available) with its own state and config."""

    def __init__(self, mode, home):
        self.mode = mode
        self.home = home
        self.config = os.path.join(home, 'switchboard.conf')
        with open(self.config, 'w') as f:
            f.write('[journal]\nsync=%s\ninterval-ms=50\n' % mode)
        self.trace_r = None
        args = ['--config', self.config]
        env = {}
        if STRACE:
            self.trace_r, trace_w = os.pipe()
            os.set_inheritable(trace_w, True)
            # strace writes one line per fdatasync to fd 3 of its own; the hub's log stays on stderr.
            env['SB_STRACE_FD'] = str(trace_w)
            self.hub = dt.DirectHub(args, state_home=home, label='%s-hub' % mode,
                                    wrapper=[STRACE, '-f', '-qq', '-e', 'trace=fdatasync',
                                             '-o', '/dev/fd/%d' % trace_w], pass_fds=(trace_w,))
            os.close(trace_w)
        else:
            self.hub = dt.DirectHub(args, state_home=home, label='%s-hub' % mode)
        self.hub.wait_ready()
        self.journal_fd = None
        self._buf = b''
        self.syncs = 0

    def read_trace(self, timeout):
        """Count the journal's fdatasyncs that strace reported within @timeout s."""
        r, _, _ = select.select([self.trace_r], [], [], max(0.0, timeout))
        if not r:
            return
        data = os.read(self.trace_r, 65536)
        self._buf += data
        *lines, self._buf = self._buf.split(b'\n')
        for line in lines:
            m = re.search(rb'fdatasync\((\d+)\)\s+= 0', line)
            if m and int(m.group(1)) == self.journal_fd:
                self.syncs += 1

    def drain_trace(self):
        while select.select([self.trace_r], [], [], 0)[0]:
            self._buf += os.read(self.trace_r, 65536)
        self._buf = self._buf.rsplit(b'\n', 1)[-1]

    def wait_syncs(self, n, what, timeout=sbtest.TIMEOUT):
        deadline = time.monotonic() + timeout
        while self.syncs < n:
            left = deadline - time.monotonic()
            if left <= 0:
                fail('%s: %d fdatasyncs of the journal within %.0f s, expected %d (%s)'
                     % (self.mode, self.syncs, timeout, n, what))
            self.read_trace(left)

    def find_journal_fd(self):
        """The hub's fd of its journal (for telling journal syncs from snapshot syncs)."""
        pid = hub_pid_under(self.hub.pid)
        target = os.path.join(self.home, 'switchboard', 'journal')
        for fd in os.listdir('/proc/%d/fd' % pid):
            try:
                if os.readlink('/proc/%d/fd/%s' % (pid, fd)) == target:
                    self.journal_fd = int(fd)
            except FileNotFoundError:
                pass
        check(self.journal_fd is not None, '%s: the hub has no fd open on %s' % (self.mode, target))

    def stop(self, sig):
        pid = hub_pid_under(self.hub.pid)
        os.kill(pid, sig)
        self.hub.wait_exit()
        dt.wait_no_owner(c)
        if self.trace_r is not None:
            os.close(self.trace_r)


def hub_pid_under(pid):
    """The switchboardd process: @pid itself, or strace's child."""
    if not STRACE:
        return pid
    with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
        kids = [int(k) for k in f.read().split()]
    check(len(kids) == 1, 'strace (pid %d) has children %r' % (pid, kids))
    return kids[0]


def setup():
    global c
    c = Conn('sync-modes')
    check(not sbtest.bus_has_owner(c), 'the hub is already running before the test')
    if not STRACE:
        log('strace is not installed: the fdatasync policy itself is not observed')


def run_mode(mode):
    home = tempfile.mkdtemp(prefix='state-%s.' % mode, dir=dt.tmp_dir())
    hub = TracedHub(mode, home)
    revs = {}
    for i in range(5):
        revs['sync.%d' % i] = c.call('Set', 'ss', 'sync.%d' % i, '%s-%d' % (mode, i))
    jid = c.call('Push', 'sst', 'sync.q', mode, 0)
    got = c.call('Reserve', 'suu', 'sync.q', 0, 30000)
    check_eq(got[0], jid, '%s: the reserved job' % mode)
    c.call('Ack', 't', jid)
    keep = c.call('Push', 'sst', 'sync.q', mode + '-kept', 0)

    if STRACE:
        hub.drain_trace()               # syncs so far (start-up, a reused fd number) do not count
        hub.find_journal_fd()
        if mode == 'always':
            before = hub.syncs
            c.call('Set', 'ss', 'sync.probe', 'x')
            # The reply is held until the fdatasync: strace has reported it by now or very soon.
            hub.wait_syncs(before + 1, 'an fdatasync for the acknowledged Set', timeout=2)
            log('always: the acknowledged Set was preceded by an fdatasync of the journal')
        elif mode == 'interval':
            # Keep changing; the timer must sync again and again, not once.
            start = hub.syncs
            for i in range(4):
                c.call('Set', 'ss', 'sync.probe', str(i))
                hub.wait_syncs(start + i + 1, 'interval-ms=50: an fdatasync after change %d' % i, timeout=3)
            log('interval: %d fdatasyncs of the journal, one per interval with changes' % hub.syncs)
        else:
            c.call('Set', 'ss', 'sync.probe', 'x')
            c.call('GetInfo')           # a round trip after the change
            hub.read_trace(0.2)
            check_eq(hub.syncs, 0, 'never: fdatasyncs of the journal while serving')
            log('never: no fdatasync of the journal while serving')
        c.call('Delete', 's', 'sync.probe')

    want = dt.store_now(c)
    hub.stop(signal.SIGKILL)
    hub2 = dt.DirectHub(['--config', hub.config], state_home=home, label='%s-hub#2' % mode)
    hub2.wait_ready()
    check_eq(dt.store_now(c), want, '%s: the store after SIGKILL' % mode)
    check_eq({k: rev for k, (_, rev) in dt.store_now(c).items()}, revs, '%s: revisions' % mode)
    got = c.call('Reserve', 'suu', 'sync.q', 0, 30000)
    check_eq((got[0], bytes(got[1])), (keep, (mode + '-kept').encode()), '%s: the job after SIGKILL' % mode)
    c.call('Ack', 't', keep)
    check_eq(hub2.kill(signal.SIGTERM), 0, '%s: exit status after SIGTERM' % mode)
    dt.wait_no_owner(c)
    log('sync=%s: serves, and keeps what it acknowledged across SIGKILL' % mode)


def test_always():
    run_mode('always')


def test_interval():
    run_mode('interval')


def test_never():
    run_mode('never')


if __name__ == '__main__':
    sbtest.main([setup, test_always, test_interval, test_never])
