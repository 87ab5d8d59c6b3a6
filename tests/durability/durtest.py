# SPDX-License-Identifier: LGPL-2.1-or-later
#
# durtest.py: helpers for switchboard's durability tests (tests/durability).
#
# Builds on tests/integration/sbtest.py. What it adds: the hub's state
# directory and pid file; the hub's pid as the bus knows it; stopping the hub
# (SIGKILL or SIGTERM) and waiting, bounded, until it is really gone (the
# name has no owner and the process has exited, so its lock is free);
# starting it again through D-Bus activation; running switchboardd directly
# with its log captured (activated services log to the bus's stderr, which a
# test cannot read), waiting for a given log line; and a reader for the
# journal and snapshot files (the format in src/journal/journal.c), so that
# tests can cut or damage a file at an exact record and compute what must
# survive. Nothing here sleeps: every wait ends as soon as its condition
# holds, or fails with a message saying what did not happen.

import os
import re
import select
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get('SB_SOURCE_ROOT', '.'), 'tests', 'integration'))

import sbtest  # noqa: E402
from sbtest import BUS_NAME, Conn, TestFailure, check, check_eq, fail, log, wait_until  # noqa: E402,F401

DBUS = ('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus')


def state_dir():
    base = os.environ.get('XDG_STATE_HOME')
    check(base, 'XDG_STATE_HOME is not set: run through tests/with-bus.sh')
    return os.path.join(base, 'switchboard')


def state_path(name):
    return os.path.join(state_dir(), name)


def pid_file():
    return os.path.join(os.environ['XDG_RUNTIME_DIR'], 'switchboard', 'switchboardd.pid')


def tmp_dir():
    """A private scratch directory of this test (kept when the test fails)."""
    return os.environ.get('SB_TMP') or os.environ['XDG_RUNTIME_DIR']


def listdir_state():
    try:
        return sorted(os.listdir(state_dir()))
    except FileNotFoundError:
        return []


def corrupt_files(prefix):
    return [n for n in listdir_state() if n.startswith(prefix + '.corrupt-')]


# The bus driver.

def driver(conn, method, sig='', *args, timeout=sbtest.TIMEOUT):
    return conn.bus.call_blocking(*DBUS, method, sig, args, timeout=timeout)


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
    try:
        return int(driver(conn, 'GetConnectionUnixProcessID', 's', BUS_NAME))
    except sbtest.dbus.exceptions.DBusException as e:
        if e.get_dbus_name() == 'org.freedesktop.DBus.Error.NameHasNoOwner':
            return None
        raise


def process_gone(pid):
    """Exited (zombies count: their files, and so the lock, are closed)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            state = f.read().rsplit(')', 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ('Z', 'X')


def read_pid_file():
    try:
        with open(pid_file()) as f:
            return int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        return None


def start(conn, timeout=sbtest.TIMEOUT):
    """Activate the hub (if it is not running) and return its pid once its pid file says so."""
    driver(conn, 'StartServiceByName', 'su', BUS_NAME, 0, timeout=timeout)
    pid = owner_pid(conn)
    check(pid, 'the hub was activated but its name has no owner')
    # The hub writes its pid file right after it owns the name.
    wait_until(lambda: read_pid_file() == pid, 'the pid file %s to hold %d (holds %r)'
               % (pid_file(), pid, read_pid_file()), timeout)
    return pid


def stop(conn, sig=signal.SIGKILL, timeout=sbtest.TIMEOUT):
    """Send @sig to the running hub; wait until its name is free and the process has exited."""
    pid = owner_pid(conn)
    check(pid, 'stop: the hub is not running')
    os.kill(pid, sig)
    wait_until(lambda: not sbtest.bus_has_owner(conn) and process_gone(pid),
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
        self._buf = b''
        self.proc = subprocess.Popen([*wrapper, os.environ['SWITCHBOARDD'], *args], env=e,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, pass_fds=pass_fds)
        self.pid = self.proc.pid
        self.returncode = None

    def _read(self, timeout):
        """Read what is there within @timeout seconds; False at end of output."""
        fd = self.proc.stdout.fileno()
        r, _, _ = select.select([fd], [], [], max(0.0, timeout))
        if not r:
            return True
        data = os.read(fd, 65536)
        if not data:
            return False
        self._buf += data
        while b'\n' in self._buf:
            line, self._buf = self._buf.split(b'\n', 1)
            text = line.decode('utf-8', 'replace')
            self.lines.append(text)
            print('#   [%s] %s' % (self.label, text), flush=True)
        return True

    def log_text(self):
        return '\n'.join(self.lines)

    def wait_line(self, pattern, timeout=sbtest.TIMEOUT):
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
                self.proc.wait(timeout=sbtest.TIMEOUT)
                self.returncode = self.proc.returncode
                for line in self.lines[seen:]:
                    if rx.search(line):
                        return line
                fail('%s exited (status %r) without a log line matching %r; log:\n%s'
                     % (self.label, self.returncode, pattern, self.log_text()))

    def wait_ready(self, timeout=sbtest.TIMEOUT):
        """The hub logs this once it owns the bus name (manager_start)."""
        return self.wait_line(r'serving as org\.switchboard\.Hub1', timeout)

    def wait_exit(self, timeout=sbtest.TIMEOUT):
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

    def kill(self, sig=signal.SIGTERM, timeout=sbtest.TIMEOUT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(timeout)


def wait_no_owner(conn, timeout=sbtest.TIMEOUT):
    wait_until(lambda: not sbtest.bus_has_owner(conn), 'the hub name to lose its owner', timeout)


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


def write_config(text):
    sbtest.write_config(text)
