# SPDX-License-Identifier: LGPL-2.1-or-later
#
# clitest.py: helpers for the `switchboard` CLI tests. Each test script runs
# under tests/with-bus.sh (a private session bus that activates the
# build-tree hub); these helpers run the CLI, talk to the hub directly with
# python3-dbus, wait (bounded) for readiness through the hub's properties,
# and read a streaming CLI's output line by line with a timeout. The
# fixtures (names, paths, waits, readers) are tests/lib/sbfixture.py's; the
# checks here are soft: a failed check is printed and counted, and the
# script goes on until finish().

import json
import os
import signal
import subprocess
import sys
import time

import dbus

import sbfixture
from sbfixture import TIMEOUT, fifo_path, socket_path  # noqa: F401 (re-exported)

SWITCHBOARD = os.environ.get('SWITCHBOARD', '')
# The backend under test: a test script's first argument ("dbus" or
# "socket"), passed to the CLI as SWITCHBOARD_BACKEND; none means auto.
BACKEND = sys.argv[1] if len(sys.argv) > 1 else ''
if BACKEND:
    os.environ['SWITCHBOARD_BACKEND'] = BACKEND
HUB = sbfixture.BUS_NAME
HUB_PATH = sbfixture.PATH
HUB_IFACE = sbfixture.IFACE

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
    """Activate the hub; when this returns it owns its name (and its socket listens)."""
    sbfixture.start_hub(dbus.SessionBus())


def hub_running():
    return sbfixture.name_has_owner(dbus.SessionBus())


def wait_for(cond, what, timeout=TIMEOUT):
    """Check cond() (each check asks the hub or the file system) until it holds;
    on timeout record a failure and return False."""
    try:
        return bool(sbfixture.wait_until(cond, what, timeout))
    except sbfixture.TestFailure as e:
        fail(str(e))
        return False


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

    def _wait(self, get, name, op, value, what):
        last = [None]

        def probe():
            last[0] = get(name)
            return last[0] >= value if op == '>=' else last[0] <= value
        try:
            return sbfixture.wait_until(probe, what,
                                        last=lambda: '%s %s %d, is %r' % (name, op, value, last[0]))
        except sbfixture.TestFailure as e:
            fail(str(e))
            return False

    def wait_info_at_least(self, name, value, what):
        return self._wait(self.info, name, '>=', value, what)

    def wait_prop_at_least(self, name, value, what):
        return self._wait(self.prop, name, '>=', value, what)

    def wait_prop_at_most(self, name, value, what):
        return self._wait(self.prop, name, '<=', value, what)


class Stream:
    """A streaming CLI process (subscribe, watch) read line by line."""

    def __init__(self, *args, env=None):
        e = dict(os.environ)
        if env:
            e.update(env)
        self.args = list(args)
        self.p = subprocess.Popen([SWITCHBOARD] + self.args, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        self.out = sbfixture.LineReader(self.p.stdout.fileno())
        self.err = sbfixture.LineReader(self.p.stderr.fileno())

    def readline(self, timeout=TIMEOUT):
        """The next line without its newline, or None on timeout or EOF."""
        return self.out.readline(timeout)

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
        return self.err.readline(timeout)

    def wait(self, timeout=TIMEOUT):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def rest(self):
        """Everything left on stdout after the process ended."""
        out = bytes(self.out.buf) + self.p.stdout.read()
        self.out.buf.clear()
        return out.decode('utf-8', 'surrogateescape')

    def stop(self, sig=signal.SIGTERM):
        return sbfixture.stop_process(self.p, sig)

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


frame = sbfixture.frame


class FrameReader(sbfixture.FrameReader):
    """Reads 4-byte-length frames from a file descriptor, with a timeout."""

    def next(self, timeout=TIMEOUT):
        """The next frame, parsed; None on timeout or EOF."""
        try:
            return json.loads(self.read_frame(time.monotonic() + timeout))
        except (sbfixture.Timeout, sbfixture.Closed):
            return None

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
        try:
            while not self.eof:
                self.fill(deadline)
        except sbfixture.Timeout:
            return False
        return not self.buf
