# SPDX-License-Identifier: LGPL-2.1-or-later
#
# sbfixture.py: the test fixtures every Python harness of switchboard shares
# (tests/integration/sbtest.py, tests/jsonrpc/sbrpc.py, tests/cli/clitest.py,
# tests/rpc/rpctest.py, tests/durability/durtest.py). meson puts this
# directory, and the harnesses' own, on PYTHONPATH (tests/meson.build).
#
# What lives here, once: the hub's names; TestFailure and the checks; the
# private dirs tests/with-bus.sh exports (XDG_RUNTIME_DIR, XDG_STATE_HOME,
# XDG_CONFIG_HOME, SB_TMP) and the paths the hub puts there; starting the hub
# by D-Bus activation and asking the bus driver about its name; bounded waits;
# readers of lines and of frames (a 4-byte big-endian length, then the JSON
# text) from pipes and sockets; stopping child processes; the TAP-ish runner.
#
# Nothing here sleeps to wait for readiness. A wait ends as soon as its
# condition holds, or fails with a message saying what did not happen. Between
# two checks it either blocks on an event that may change the answer (a D-Bus
# message in the GLib main context, a change in a directory, data on a pipe)
# or the check itself waits for something (a reply from the hub).
#
# Standard library only at import time: sbrpc.py's clients must not depend on
# D-Bus bindings. The few helpers that need python3-dbus or GLib import them
# when called.

import ctypes
import json
import os
import select
import signal
import struct
import subprocess
import sys
import time

BUS_NAME = 'org.switchboard.Hub1'
PATH = '/org/switchboard/Hub1'
IFACE = 'org.switchboard.Hub1'
ERR = 'org.switchboard.Hub1.Error.'
PROPS = 'org.freedesktop.DBus.Properties'
DRIVER = ('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus')
TIMEOUT = 10.0
# The longest glib_pump() blocks without an event: checks that ask the hub
# something (rather than look at recorded signals) are repeated this often.
TICK = 0.05

WITH_BUS = 'run through tests/with-bus.sh'


# Failures and checks.

class TestFailure(Exception):
    """A check failed: the runner reports the test as not ok."""


class Skip(Exception):
    """The test cannot run here (exit status 77)."""


class Timeout(Exception):
    """Nothing arrived before a reader's deadline."""


class Closed(Exception):
    """The other end closed the stream."""


def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def check_eq(got, want, what):
    if got != want:
        fail('%s: expected %r, got %r' % (what, want, got))


def log(*args):
    print('#', *args, flush=True)


# The private directories of a test (tests/with-bus.sh) and what the hub keeps there.

def env_dir(var):
    """$@var, which tests/with-bus.sh sets; fails the test when it is not set."""
    d = os.environ.get(var)
    check(d, '%s is not set: %s' % (var, WITH_BUS))
    return d


def runtime_dir():
    return os.path.join(env_dir('XDG_RUNTIME_DIR'), 'switchboard')


def socket_path():
    return os.path.join(runtime_dir(), 'socket')


def fifo_path():
    return os.path.join(runtime_dir(), 'fifo')


def pid_file():
    return os.path.join(runtime_dir(), 'switchboardd.pid')


def state_dir():
    return os.path.join(env_dir('XDG_STATE_HOME'), 'switchboard')


def tmp_dir():
    """A private scratch directory of this test (kept when the test fails)."""
    return os.environ.get('SB_TMP') or env_dir('XDG_RUNTIME_DIR')


def write_config(text):
    """Write $XDG_CONFIG_HOME/switchboard/switchboard.conf; call before the hub starts."""
    d = os.path.join(env_dir('XDG_CONFIG_HOME'), 'switchboard')
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'switchboard.conf'), 'w') as f:
        f.write(text)


def read_pid_file():
    """The pid in the hub's pid file, or None without one."""
    try:
        with open(pid_file()) as f:
            return int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        return None


# Bounded waits.

def wait_until(pred, what, timeout=TIMEOUT, pump=None, last=None):
    """Call pred() until it returns something true, and return that.

    After @timeout seconds fail with 'timed out ... waiting for @what', adding
    what last() says (the last value seen) when given. Between two calls,
    pump(seconds_left) blocks until something may have changed (glib_pump,
    FileWatch.pump); without a pump, pred() must itself wait for something,
    such as a reply from the hub, and is called again at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        r = pred()
        if r:
            return r
        left = deadline - time.monotonic()
        if left <= 0:
            fail('timed out after %.0f s waiting for %s%s'
                 % (timeout, what, '' if last is None else ' (%s)' % last()))
        if pump is not None:
            pump(left)


def iterate(_left=None):
    """Dispatch what the default GLib main context has pending, without blocking.
    As a pump: for checks that wait for a reply themselves."""
    from gi.repository import GLib
    ctx = GLib.MainContext.default()
    while ctx.pending():
        ctx.iteration(False)


def glib_pump(left):
    """Block in the default GLib main context until it dispatches something (a
    D-Bus message to a connection attached to it) or min(@left, TICK) passes."""
    from gi.repository import GLib
    fired = []

    def expire():
        fired.append(True)
        return False
    source = GLib.timeout_add(max(1, int(min(left, TICK) * 1000)), expire)
    GLib.MainContext.default().iteration(True)
    if not fired:
        GLib.source_remove(source)


_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE = 0x2, 0x4, 0x8
_IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x80, 0x100, 0x200


class FileWatch:
    """inotify on the directory of @path (and on its parent, for while that
    directory does not exist yet): pump() returns once an entry there was
    created, written, moved in or removed. Use it as a context manager, and
    create it before the first check, so that no change falls in between."""

    _MASK = _IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE

    def __init__(self, path):
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.dir = os.path.dirname(os.path.abspath(path))
        self.fd = self._libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if self.fd < 0:
            e = ctypes.get_errno()
            raise OSError(e, 'inotify_init1: ' + os.strerror(e))
        self._dir_watched = False
        self._watch(os.path.dirname(self.dir))
        self._watch_dir()

    def _watch(self, d):
        return self._libc.inotify_add_watch(self.fd, os.fsencode(d), self._MASK) >= 0

    def _watch_dir(self):
        if not self._dir_watched:
            self._dir_watched = self._watch(self.dir)

    def pump(self, left):
        if select.select([self.fd], [], [], max(0.0, left))[0]:
            try:
                while os.read(self.fd, 65536):
                    pass
            except BlockingIOError:
                pass
        self._watch_dir()

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def unix_listening(path):
    """Whether a Unix socket listens on @path, from /proc/net/unix: without
    connecting (a connection would start a socket-activated service)."""
    with open('/proc/net/unix') as f:
        next(f)
        for line in f:
            # Num RefCount Protocol Flags Type St Inode Path; __SO_ACCEPTCON in Flags
            fields = line.split()
            if len(fields) >= 8 and fields[7] == path and int(fields[3], 16) & 0x10000:
                return True
    return False


def wait_socket(path, what, timeout=TIMEOUT, alive=None):
    """Wait until a Unix socket listens on @path; alive(), when given, runs
    before each look and fails the test if the process that is to listen died.
    Until the file exists an inotify watch wakes the wait; from bind() to
    listen(), a moment, the check repeats at once."""
    def listening():
        if alive is not None:
            alive()
        return unix_listening(path)
    with FileWatch(path) as w:
        return wait_until(listening, what, timeout,
                          pump=lambda left: None if os.path.exists(path) else w.pump(left))


# Readers with deadlines, for pipes and sockets.

def read_some(fd, deadline):
    """What @fd has once it is readable (b'' at the end of the stream); raises
    Timeout when nothing arrives before @deadline (a monotonic time)."""
    p = select.poll()           # not select(): tests hold more than FD_SETSIZE sockets
    p.register(fd, select.POLLIN)
    if not p.poll(max(0.0, deadline - time.monotonic()) * 1000):
        raise Timeout()
    try:
        return os.read(fd, 1 << 20)
    except ConnectionResetError:
        return b''


class StreamReader:
    """Bytes from @fd gathered in self.buf; self.eof once the other end closed."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = bytearray()
        self.eof = False

    def fill(self, deadline):
        """Read what arrives before @deadline (raises Timeout); False at the end of the stream."""
        data = read_some(self.fd, deadline)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True


class LineReader(StreamReader):
    """Lines (UTF-8, invalid bytes kept as surrogates) from a pipe."""

    def take(self):
        """The next complete line without its newline, or None."""
        i = self.buf.find(b'\n')
        if i < 0:
            return None
        line = bytes(self.buf[:i])
        del self.buf[:i + 1]
        return line.decode('utf-8', 'surrogateescape')

    def readline(self, timeout=TIMEOUT):
        """The next line, or None when none comes within @timeout seconds or the stream ended."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.take()
            if line is not None or self.eof:
                return line
            try:
                self.fill(deadline)
            except Timeout:
                return None


def frame(body):
    """One frame: @body (bytes, str, or an object to encode as JSON) after its
    4-byte big-endian length."""
    if not isinstance(body, (bytes, bytearray)):
        if not isinstance(body, str):
            body = json.dumps(body, separators=(',', ':'))
        body = body.encode()
    return struct.pack('>I', len(body)) + body


class FrameReader(StreamReader):
    """Frames (a 4-byte big-endian length, then the body) from a socket or pipe."""

    def take(self):
        """The next complete frame's body (bytes), or None."""
        if len(self.buf) < 4:
            return None
        n = struct.unpack('>I', bytes(self.buf[:4]))[0]
        if len(self.buf) < 4 + n:
            return None
        body = bytes(self.buf[4:4 + n])
        del self.buf[:4 + n]
        return body

    def read_frame(self, deadline):
        """The next frame's body; raises Closed at the end of the stream and
        Timeout at @deadline (a monotonic time)."""
        while True:
            body = self.take()
            if body is not None:
                return body
            if not self.fill(deadline):
                raise Closed()


# Processes.

def process_gone(pid):
    """Exited (zombies count: their files, and so the hub's lock, are closed)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            state = f.read().rsplit(')', 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ('Z', 'X')


def stop_process(proc, sig=signal.SIGTERM, timeout=TIMEOUT):
    """Send @sig to the child @proc (a Popen) unless it has exited, wait for it
    at most @timeout seconds, then SIGKILL it; return its exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


# The bus.

def busctl(*args, check_rc=True):
    """`busctl --user ARGS` (standard library only); its stdout."""
    r = subprocess.run(['busctl', '--user'] + list(args), capture_output=True, text=True,
                       timeout=TIMEOUT * 2)
    if check_rc and r.returncode != 0:
        fail('busctl %s failed (%d): %s' % (' '.join(args), r.returncode, r.stderr.strip()))
    return r.stdout


def activate():
    """Start the hub by D-Bus activation (busctl, StartServiceByName). The hub
    requests its name last, once every transport listens: when this returns,
    the socket listens."""
    busctl('call', *DRIVER, 'StartServiceByName', 'su', BUS_NAME, '0')
    check(os.path.exists(socket_path()),
          'the hub owns its bus name but %s does not exist' % socket_path())


def driver(bus, method, sig='', *args, timeout=TIMEOUT):
    """Call @method of the bus driver over the python3-dbus connection @bus."""
    return bus.call_blocking(*DRIVER, method, sig, args, timeout=timeout)


def start_hub(bus, timeout=TIMEOUT):
    """Activate the hub through @bus unless it runs; returns once it owns its name."""
    driver(bus, 'StartServiceByName', 'su', BUS_NAME, 0, timeout=timeout)


def name_has_owner(bus):
    return bool(driver(bus, 'NameHasOwner', 's', BUS_NAME))


def owner_pid(bus):
    """The pid of the process owning the hub's name, or None."""
    import dbus
    try:
        return int(driver(bus, 'GetConnectionUnixProcessID', 's', BUS_NAME))
    except dbus.exceptions.DBusException as e:
        if e.get_dbus_name() == 'org.freedesktop.DBus.Error.NameHasNoOwner':
            return None
        raise


def wait_owner(bus, pred, what, timeout=TIMEOUT):
    """Wait until pred(pid of the hub's name owner, or None) holds. A match on
    NameOwnerChanged wakes the wait when @bus is attached to the GLib main
    context; a check that depends on more than the name still runs each TICK."""
    rule = ("type='signal',sender='%s',interface='%s',member='NameOwnerChanged',arg0='%s'"
            % (DRIVER[0], DRIVER[2], BUS_NAME))
    bus.add_match_string(rule)
    try:
        return wait_until(lambda: pred(owner_pid(bus)), what, timeout, pump=glib_pump)
    finally:
        bus.remove_match_string(rule)


# The runner.

def _dbus_error(e):
    """'name: message' when @e is a python3-dbus error (without importing dbus)."""
    exceptions = sys.modules.get('dbus.exceptions')
    if exceptions is not None and isinstance(e, exceptions.DBusException):
        return '%s: %s' % (e.get_dbus_name(), e.get_dbus_message())
    return None


def run_tests(tests, needs_bus=True):
    """Run test functions in order and print TAP-ish lines; exit 1 at the first
    failure (or unexpected D-Bus error), 77 when a test raises Skip or there is
    no bus that @needs_bus, 0 when all passed."""
    if needs_bus and not os.environ.get('DBUS_SESSION_BUS_ADDRESS'):
        print('DBUS_SESSION_BUS_ADDRESS is not set: ' + WITH_BUS)
        sys.exit(77)
    for i, t in enumerate(tests, 1):
        name = t.__name__
        try:
            t()
        except Skip as e:
            print('ok %d - %s # SKIP %s' % (i, name, e), flush=True)
            sys.exit(77)
        except TestFailure as e:
            print('not ok %d - %s: %s' % (i, name, e), flush=True)
            sys.exit(1)
        except Exception as e:
            err = _dbus_error(e)
            if err is None:
                raise
            print('not ok %d - %s: unexpected D-Bus error %s' % (i, name, err), flush=True)
            sys.exit(1)
        print('ok %d - %s' % (i, name), flush=True)
    sys.exit(0)
