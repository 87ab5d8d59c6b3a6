# SPDX-License-Identifier: LGPL-2.1-or-later
#
# durtest.py: helpers for switchboard's durability tests (tests/durability).
#
# Builds on tests/integration/sbtest.py and tests/lib/sbfixture.py (paths,
# the bus driver, waits, line readers). What it adds: the hub's pid as the
# bus knows it; stopping the hub (SIGKILL or SIGTERM) and waiting, bounded,
# until it is really gone (the process has exited, so its lock is free, and
# the bus no longer names it as the owner); starting it again through D-Bus
# activation; running switchboardd directly with its log captured (activated
# services log to the bus's stderr, which a test cannot read), waiting for a
# given log line; and a reader for the journal and snapshot files (the
# format in src/journal/journal.c), so that tests can cut or damage a file at
# an exact record and compute what must survive. Nothing here sleeps: every
# wait ends as soon as its condition holds, or fails with a message saying
# what did not happen.

import os
import re
import signal
import struct
import subprocess
import time

import sbfixture
from sbfixture import (BUS_NAME, TIMEOUT, pid_file, process_gone, read_pid_file,  # noqa: F401 (re-exported)
                       state_dir, tmp_dir, write_config)
from sbtest import Conn, TestFailure, check, check_eq, fail, log, wait_until  # noqa: F401 (re-exported)


def state_path(name):
    return os.path.join(state_dir(), name)


def listdir_state():
    try:
        return sorted(os.listdir(state_dir()))
    except FileNotFoundError:
        return []


def corrupt_files(prefix):
    return [n for n in listdir_state() if n.startswith(prefix + '.corrupt-')]


# The bus driver.

def driver(conn, method, sig='', *args, timeout=TIMEOUT):
    return sbfixture.driver(conn.bus, method, sig, *args, timeout=timeout)


def set_activation_env(conn, **env):
    """Environment for hubs the bus activates from now on (the bus was started before the test)."""
    driver(conn, 'UpdateActivationEnvironment', 'a{ss}', env)


def quiet_criticals(conn):
    """test_env sets G_DEBUG=fatal-criticals, and the hub logs errors at GLib's CRITICAL
    level: a hub that reports a damaged file would abort instead of recovering. Tests
    that make the hub log errors on purpose clear G_DEBUG for hubs the bus starts."""
    set_activation_env(conn, G_DEBUG='')


def owner_pid(conn):
    """The pid of the process owning the hub's name, or None."""
    return sbfixture.owner_pid(conn.bus)


def start(conn, timeout=TIMEOUT):
    """Activate the hub (if it is not running) and return its pid once its pid file says so."""
    with sbfixture.FileWatch(pid_file()) as watch:
        sbfixture.start_hub(conn.bus, timeout)
        pid = owner_pid(conn)
        check(pid, 'the hub was activated but its name has no owner')
        # The hub writes its pid file right after it owns the name.
        sbfixture.wait_until(lambda: read_pid_file() == pid, 'the pid file %s to hold %d' % (pid_file(), pid),
                             timeout, pump=watch.pump, last=lambda: 'it holds %r' % read_pid_file())
    return pid


def stop(conn, sig=signal.SIGKILL, timeout=TIMEOUT):
    """Send @sig to the running hub; wait until the process has exited (so its lock
    is free) and the bus no longer names it as the owner (clients may already
    have activated the next hub)."""
    pid = owner_pid(conn)
    check(pid, 'stop: the hub is not running')
    os.kill(pid, sig)
    sbfixture.wait_owner(conn.bus, lambda owner: owner != pid and process_gone(pid),
                         'hub pid %d to exit after signal %d' % (pid, sig), timeout)
    return pid


def restart(conn, sig=signal.SIGKILL):
    """Stop the hub with @sig and activate a new one; return (old pid, new pid)."""
    old = stop(conn, sig)
    new = start(conn)
    check(new != old, 'the hub came back with the same pid %d' % old)
    return old, new


# A hub run directly by the test, with its log captured.

class DirectHub:
    """switchboardd as the test's own child: its stderr (the log) is read line by line."""

    def __init__(self, args=(), env=None, state_home=None, label='hub', wrapper=(), pass_fds=()):
        e = dict(os.environ)
        e.pop('G_DEBUG', None)          # see quiet_criticals()
        # GLib's default writer drops INFO lines unless asked for them: the
        # hub's "Loaded", "Compacted" and "serving as" lines are at INFO.
        e['G_MESSAGES_DEBUG'] = 'switchboard'
        if state_home:
            e['XDG_STATE_HOME'] = state_home
        e.update(env or {})
        self.label = label
        self.lines = []
        self.proc = subprocess.Popen([*wrapper, os.environ['SWITCHBOARDD'], *args], env=e,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, pass_fds=pass_fds)
        self._out = sbfixture.LineReader(self.proc.stdout.fileno())
        self.pid = self.proc.pid
        self.returncode = None

    def _read(self, timeout):
        """Read what is there within @timeout seconds; False at end of output."""
        try:
            more = self._out.fill(time.monotonic() + max(0.0, timeout))
        except sbfixture.Timeout:
            return True
        while (text := self._out.take()) is not None:
            self.lines.append(text)
            print('#   [%s] %s' % (self.label, text), flush=True)
        return more

    def log_text(self):
        return '\n'.join(self.lines)

    def wait_line(self, pattern, timeout=TIMEOUT):
        """Wait until a log line matches @pattern (a regex); return it."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if rx.search(line):
                    return line
            seen = len(self.lines)
            left = deadline - time.monotonic()
            if left <= 0:
                fail('%s: no log line matching %r within %.0f s; log so far:\n%s'
                     % (self.label, pattern, timeout, self.log_text()))
            if not self._read(left):
                self.proc.wait(timeout=TIMEOUT)
                self.returncode = self.proc.returncode
                for line in self.lines[seen:]:
                    if rx.search(line):
                        return line
                fail('%s exited (status %r) without a log line matching %r; log:\n%s'
                     % (self.label, self.returncode, pattern, self.log_text()))

    def wait_ready(self, timeout=TIMEOUT):
        """The hub logs this once it owns the bus name (manager_start)."""
        return self.wait_line(r'serving as org\.switchboard\.Hub1', timeout)

    def wait_exit(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                fail('%s (pid %d) did not exit within %.0f s; log:\n%s'
                     % (self.label, self.pid, timeout, self.log_text()))
            if not self._read(left):
                break
        try:
            self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            fail('%s (pid %d) closed its output but did not exit' % (self.label, self.pid))
        self.returncode = self.proc.returncode
        self.proc.stdout.close()
        return self.returncode

    def kill(self, sig=signal.SIGTERM, timeout=TIMEOUT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(timeout)


def wait_no_owner(conn, timeout=TIMEOUT):
    sbfixture.wait_owner(conn.bus, lambda owner: owner is None, 'the hub name to lose its owner', timeout)


# The on-disk formats (src/journal/journal.c): integers little-endian,
#   file   = magic(8) generation(u64) *record
#   record = body_len(u32) crc32c(u32) body
#   body   = type(u8) flag(u8) name_len(u16) data_len(u32) a(u64) b(u64) c(u64) name data

JOURNAL_MAGIC = b'SBJRNL1\n'
SNAPSHOT_MAGIC = b'SBSNAP1\n'
HEADER = 16
BODY_FIXED = 32
RECORD_TYPES = {1: 'SET', 2: 'DELETE', 3: 'RETAIN', 4: 'PUSH', 5: 'ACK', 6: 'RETURN', 7: 'KICK', 8: 'COUNTERS'}


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82f63b78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc ^ 0xffffffff


class Record:
    def __init__(self, offset, size, body):
        self.offset, self.size = offset, size
        (t, flag, name_len, data_len, self.a, self.b, self.c) = struct.unpack_from('<BBHIQQQ', body, 0)
        self.type = RECORD_TYPES.get(t, t)
        self.flag = bool(flag)
        self.name = body[BODY_FIXED:BODY_FIXED + name_len].decode('utf-8', 'replace')
        self.data = bytes(body[BODY_FIXED + name_len:BODY_FIXED + name_len + data_len])

    def __repr__(self):
        return '%s(%r, %r, a=%d) @%d' % (self.type, self.name, self.data[:20], self.a, self.offset)


def read_records(path, magic=None):
    """(generation, [Record], good_bytes) of a journal or snapshot; fails the test on a bad file."""
    with open(path, 'rb') as f:
        data = f.read()
    check(len(data) >= HEADER, '%s: %d bytes, shorter than a header' % (path, len(data)))
    if magic:
        check_eq(data[:8], magic, '%s: magic' % path)
    gen = struct.unpack_from('<Q', data, 8)[0]
    recs, off = [], HEADER
    while off + 8 <= len(data):
        body_len, crc = struct.unpack_from('<II', data, off)
        body = data[off + 8:off + 8 + body_len]
        if body_len < BODY_FIXED or len(body) < body_len or crc32c(body) != crc:
            break
        recs.append(Record(off, 8 + body_len, body))
        off += 8 + body_len
    return gen, recs, off


def journal_intact(path):
    """Whether the journal at @path holds only whole records, then the zeros the hub
    writes ahead (so that a sync writes data only): (good bytes, intact)."""
    with open(path, 'rb') as f:
        data = f.read()
    _, _, good = read_records(path)
    return good, not data[good:].strip(b'\0')


def apply_store(records, keys=None):
    """The store a list of records leaves: {key: (value bytes, revision)}."""
    keys = dict(keys or {})
    for r in records:
        if r.type == 'SET':
            keys[r.name] = (r.data, r.a)
        elif r.type == 'DELETE':
            keys.pop(r.name, None)
    return keys


def store_now(conn):
    """The live store as {key: (value bytes, revision)} (text values through List)."""
    return {k: (v.encode(), rev) for k, v, rev in conn.call('List', 's', '')}


def queues_now(conn):
    return {q[0]: tuple(q[1:]) for q in conn.call('ListQueues')}
