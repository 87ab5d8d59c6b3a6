# SPDX-License-Identifier: LGPL-2.1-or-later
#
# clitest.py: helpers for the `switchboard` CLI tests. Each test script runs
# under tests/with-bus.sh (a private session bus that activates the
# build-tree hub); these helpers run the CLI, talk to the hub directly with
# python3-dbus, wait (bounded) for readiness through the hub's properties,
# and read a streaming CLI's output line by line with a timeout.

import json
import os
import select
import signal
import subprocess
import sys
import time

import dbus

SWITCHBOARD = os.environ.get('SWITCHBOARD', '')
# The backend under test: a test script's first argument ("dbus" or
# "socket"), passed to the CLI as SWITCHBOARD_BACKEND; none means auto.
BACKEND = sys.argv[1] if len(sys.argv) > 1 else ''
if BACKEND:
    os.environ['SWITCHBOARD_BACKEND'] = BACKEND
HUB = 'org.switchboard.Hub1'
HUB_PATH = '/org/switchboard/Hub1'
HUB_IFACE = 'org.switchboard.Hub1'
TIMEOUT = 10.0

_failures = []


def fail(msg):
    print('FAIL: ' + msg, flush=True)
    _failures.append(msg)


def check(cond, msg):
    if cond:
        print('ok: ' + msg, flush=True)
    else:
        fail(msg)
    return cond


def finish():
    """Exit 0 if every check passed, 1 otherwise."""
    if _failures:
        print('%d check(s) failed' % len(_failures), flush=True)
        sys.exit(1)
    print('all checks passed', flush=True)
    sys.exit(0)


def require_environment():
    if not SWITCHBOARD or not os.path.exists(SWITCHBOARD):
        print('SWITCHBOARD is not set or missing: run through meson test')
        sys.exit(1)
    if 'DBUS_SESSION_BUS_ADDRESS' not in os.environ:
        print('no session bus: run under tests/with-bus.sh')
        sys.exit(1)
    print('backend: %s' % (BACKEND or 'auto'), flush=True)
    if BACKEND == 'socket':
        # A CLI forced onto the socket starts nothing: start the hub first
        # (once it owns its name, its socket is listening).
        start_hub()


def start_hub():
    bus = dbus.SessionBus()
    bus.call_blocking('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                      'StartServiceByName', 'su', (HUB, 0))


def hub_running():
    bus = dbus.SessionBus()
    return bool(bus.call_blocking('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                                  'NameHasOwner', 's', (HUB,)))


def socket_path():
    return os.path.join(os.environ['XDG_RUNTIME_DIR'], 'switchboard', 'socket')


def fifo_path():
    return os.path.join(os.environ['XDG_RUNTIME_DIR'], 'switchboard', 'fifo')


class Result:
    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.out, self.err = args, rc, out, err

    def __repr__(self):
        return 'switchboard %r: exit %d, stdout %r, stderr %r' % (self.args, self.rc, self.out, self.err)


def run(*args, env=None, timeout=TIMEOUT, binary=False):
    """Run the CLI to completion; return a Result (text decoded as UTF-8)."""
    e = dict(os.environ)
    if env:
        for k, v in env.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
    p = subprocess.run([SWITCHBOARD] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, timeout=timeout)
    out = p.stdout if binary else p.stdout.decode('utf-8', 'surrogateescape')
    return Result(list(args), p.returncode, out, p.stderr.decode('utf-8', 'surrogateescape'))


def expect(rc, *args, env=None, out=None, err_contains=None, binary=False):
    """Run the CLI and check its exit status (and optionally output)."""
    r = run(*args, env=env, binary=binary)
    ok = r.rc == rc
    if out is not None and r.out != out:
        ok = False
    if err_contains is not None:
        for s in ([err_contains] if isinstance(err_contains, str) else err_contains):
            if s not in r.err:
                ok = False
    check(ok, 'switchboard %s -> exit %d%s (%r)' % (
        ' '.join(repr(a) for a in args), rc, '' if out is None else ', stdout %r' % out, r))
    return r


class Hub:
    """A python3-dbus client of the hub, for setting up and cross-checking."""

    def __init__(self):
        self.bus = dbus.SessionBus()
        self.obj = self.bus.get_object(HUB, HUB_PATH)
        self.hub = dbus.Interface(self.obj, HUB_IFACE)
        self.props = dbus.Interface(self.obj, 'org.freedesktop.DBus.Properties')
        # Become a client of the hub now, so that later "Clients" deltas
        # only count the CLI processes the test starts.
        self.own_sub = self.hub.Subscribe('cli-test-helper.idle', False)

    def prop(self, name):
        return int(self.props.Get(HUB_IFACE, name))

    def info(self, name):
        """One entry of GetInfo (e.g. "watches", which has no property)."""
        return int(self.hub.GetInfo()[name])

    def wait_info_at_least(self, name, value, what):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.info(name) >= value:
                return True
            time.sleep(0.005)
        fail('timed out waiting for %s (%s >= %d, is %d)' % (what, name, value, self.info(name)))
        return False

    def wait_prop_at_least(self, name, value, what):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.prop(name) >= value:
                return True
            time.sleep(0.005)
        fail('timed out waiting for %s (%s >= %d, is %d)' % (what, name, value, self.prop(name)))
        return False

    def wait_prop_at_most(self, name, value, what):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.prop(name) <= value:
                return True
            time.sleep(0.005)
        fail('timed out waiting for %s (%s <= %d, is %d)' % (what, name, value, self.prop(name)))
        return False


class Stream:
    """A streaming CLI process (subscribe, watch) read line by line."""

    def __init__(self, *args, env=None):
        e = dict(os.environ)
        if env:
            e.update(env)
        self.args = list(args)
        self.p = subprocess.Popen([SWITCHBOARD] + self.args, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        self.buf = b''
        self.errbuf = b''

    def readline(self, timeout=TIMEOUT):
        """The next line without its newline, or None on timeout or EOF."""
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while b'\n' not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b'\n', 1)
        return line.decode('utf-8', 'surrogateescape')

    def expect_line(self, want, what):
        line = self.readline()
        check(line == want, '%s: got %r, want %r' % (what, line, want))
        return line

    def expect_json(self, what):
        line = self.readline()
        try:
            return json.loads(line)
        except (TypeError, ValueError) as e:
            fail('%s: not a JSON line: %r (%s)' % (what, line, e))
            return {}

    def stderr_line(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        fd = self.p.stderr.fileno()
        while b'\n' not in self.errbuf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.errbuf += chunk
        line, self.errbuf = self.errbuf.split(b'\n', 1)
        return line.decode('utf-8', 'surrogateescape')

    def wait(self, timeout=TIMEOUT):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def rest(self):
        """Everything left on stdout after the process ended."""
        out = self.buf + self.p.stdout.read()
        self.buf = b''
        return out.decode('utf-8', 'surrogateescape')

    def stop(self, sig=signal.SIGTERM):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        rc = self.wait()
        if rc is None:
            self.p.kill()
            rc = self.p.wait()
        return rc

    def close(self):
        self.stop()
        self.p.stdout.close()
        self.p.stderr.close()


def subscriber(hub, *args, patterns=1, env=None):
    """Start `switchboard subscribe ARGS` and wait until its `patterns`
    Subscribe calls are done (the Subscriptions property went up)."""
    before = hub.prop('Subscriptions')
    s = Stream('subscribe', *args, env=env)
    hub.wait_prop_at_least('Subscriptions', before + patterns, 'subscribe %r to be ready' % (args,))
    return s


def watcher(hub, *args, prefixes=1):
    """Start `switchboard watch ARGS` and wait until its `prefixes` Watch
    calls are done (GetInfo's "watches" went up)."""
    before = hub.info('watches')
    s = Stream('watch', *args)
    hub.wait_info_at_least('watches', before + prefixes, 'watch %r to be ready' % (args,))
    return s


def frame(obj):
    """One request as the socket (and `switchboard stdio`) wants it."""
    body = json.dumps(obj).encode()
    return len(body).to_bytes(4, 'big') + body


class FrameReader:
    """Reads 4-byte-length frames from a file descriptor, with a timeout."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = b''
        self.eof = False

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([self.fd], [], [], left)
        if not ready:
            return False
        chunk = os.read(self.fd, 65536)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def next(self, timeout=TIMEOUT):
        """The next frame, parsed; None on timeout or EOF."""
        deadline = time.monotonic() + timeout
        while len(self.buf) < 4 or len(self.buf) < 4 + int.from_bytes(self.buf[:4], 'big'):
            if not self._fill(deadline):
                return None
        n = int.from_bytes(self.buf[:4], 'big')
        body, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
        return json.loads(body)

    def response(self, req_id, timeout=TIMEOUT, notifications=None):
        """The response with id req_id; notifications read first go to the list."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.next(max(deadline - time.monotonic(), 0))
            if f is None:
                return None
            if 'method' in f and 'id' not in f:
                if notifications is not None:
                    notifications.append(f)
                continue
            if f.get('id') == req_id:
                return f

    def at_eof(self, timeout=TIMEOUT):
        """True once the other side closed, with nothing more to read."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            if not self._fill(deadline) and not self.eof:
                return False
        return not self.buf
