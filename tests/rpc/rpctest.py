# SPDX-License-Identifier: LGPL-2.1-or-later
#
# rpctest.py: helpers for the request/reply tests. Callers and servers are
# real clients of the hub: socket clients written with the Python standard
# library (tests/jsonrpc/sbrpc.py), python3-dbus connections
# (tests/integration/sbtest.py), busctl and gdbus. A server that a test must
# be able to kill runs as a separate process (rpc-peer.py) that reports each
# request on its stdout. A test learns that a server is in place from the
# hub itself: `services` in GetInfo shows the name with the expected number
# of servers. Every wait is bounded and fails with what did not happen
# (tests/lib/sbfixture.py's waits, readers and runner).

import base64
import json
import os
import signal
import subprocess
import time

import dbus                             # noqa: F401 (tests use rpctest.dbus)
from gi.repository import GLib

import sbfixture
import sbrpc
import sbtest
from sbfixture import (ERR, TIMEOUT, TestFailure, activate, check, check_eq, fail,  # noqa: F401 (re-exported)
                       log)

HERE = os.path.dirname(os.path.abspath(__file__))
HUB = [sbfixture.BUS_NAME, sbfixture.PATH, sbfixture.IFACE]

_info_conn = None


def get_info():
    """GetInfo over D-Bus (it lists `services` and `pending_calls`)."""
    global _info_conn
    if _info_conn is None:
        _info_conn = sbtest.Conn('info')
    return _info_conn.call('GetInfo')


def wait_info(pred, what, timeout=TIMEOUT):
    """Call GetInfo (signals to Bus clients are dispatched in between) until pred(info) holds."""
    last = [None]

    def probe():
        last[0] = get_info()
        return pred(last[0])
    sbfixture.wait_until(probe, what, timeout, pump=sbfixture.iterate,
                         last=lambda: 'last GetInfo: services=%r pending_calls=%r'
                         % (last[0].get('services'), last[0].get('pending_calls')))
    return last[0]


def wait_servers(name, n, timeout=TIMEOUT):
    """Wait until GetInfo's `services` shows @n servers of @name (0: not served)."""
    return wait_info(lambda i: i.get('services', {}).get(name, 0) == n,
                     '%d server(s) of %r in GetInfo services' % (n, name), timeout)


def wait_no_pending(timeout=TIMEOUT):
    return wait_info(lambda i: i.get('pending_calls') == 0, 'pending_calls == 0', timeout)


# Socket clients

class Sock(sbrpc.Conn):
    """A socket client that can call, serve and answer."""

    def send_call(self, name, payload=None, payload_b64=None, timeout_ms=None, id=None):
        if id is None:
            id = sbrpc.Conn._next_id
            sbrpc.Conn._next_id += 1
        p = {'name': name}
        if payload_b64 is not None:
            p['payload_base64'] = payload_b64
        else:
            p['payload'] = payload
        if timeout_ms is not None:
            p['timeout_ms'] = timeout_ms
        self.send({'jsonrpc': '2.0', 'id': id, 'method': 'call', 'params': p})
        return id

    def response(self, id, timeout=None):
        """The response with @id; other responses are an error, notifications go to notes."""
        r = self.recv_response(timeout)
        check(isinstance(r, dict) and r.get('id') == id, '%s: expected the response to %r, got %r'
              % (self.label, id, r))
        return r

    def call_result(self, name, payload, timeout_ms=None, timeout=None):
        id = self.send_call(name, payload, timeout_ms=timeout_ms)
        r = self.response(id, timeout)
        check('result' in r, '%s: call %s(%r) failed: %r' % (self.label, name, payload, r.get('error')))
        return r['result']

    def serve(self, name):
        check_eq(self.call('serve', {'name': name}), None, '%s: serve %s' % (self.label, name))

    def next_request(self, timeout=None):
        n = self.next_note('request', timeout)
        return n['params']

    def reply(self, id, payload=None, payload_b64=None):
        p = {'id': id}
        if payload_b64 is not None:
            p['payload_base64'] = payload_b64
        else:
            p['payload'] = payload
        return self.request('reply', p)


# D-Bus clients (python3-dbus)

class Bus(sbtest.Conn):
    """A python3-dbus client that can serve: Request/RequestBinary signals
    addressed to it are recorded by sbtest.Conn's message filter."""

    def serve(self, name):
        self.call('Serve', 's', name)

    def next_request(self, timeout=TIMEOUT):
        """(member, id, name, payload) of the next request signal addressed to us."""
        got = self.wait_signal(lambda s: s.member in ('Request', 'RequestBinary') and s.dest == self.name,
                               'a Request signal', timeout)
        s = got[-1]
        return (s.member,) + tuple(s.args)

    def reply(self, id, payload):
        self.call('Reply', 'ts', id, payload)

    def reply_error(self, id, name, message):
        self.call('ReplyError', 'tss', id, name, message)

    def call_async(self, name, payload, timeout_ms, dbus_timeout=TIMEOUT * 3):
        """Start a Call; returns a dict that gets 'reply' or 'error' (name, message) and 't_end'."""
        res = {}

        def ok(r):
            res['reply'] = str(r)
            res['t_end'] = time.monotonic()

        def err(e):
            res['error'] = (e.get_dbus_name(), e.get_dbus_message())
            res['t_end'] = time.monotonic()
        self.bus.call_async(HUB[0], HUB[1], HUB[2], 'Call', 'ssu', (name, payload, timeout_ms), ok, err,
                            timeout=dbus_timeout)
        return res


def wait_async(res, what, timeout=TIMEOUT):
    sbtest.wait_until(lambda: 't_end' in res, what, timeout)
    return res


# Command-line D-Bus callers

def busctl_call(name, payload, timeout_ms=5000):
    """Start `busctl --user --json=short call ... Call ssu`; returns the Popen."""
    return subprocess.Popen(['busctl', '--user', '--json=short', '--timeout=%d' % (timeout_ms // 1000 + 10),
                             '--', 'call'] + HUB + ['Call', 'ssu', name, payload, str(timeout_ms)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def gdbus_call(name, payload, timeout_ms=5000):
    """Start `gdbus call ... Call`; returns the Popen."""
    return subprocess.Popen(['gdbus', 'call', '--session', '--timeout', str(timeout_ms // 1000 + 10),
                             '--dest', HUB[0], '--object-path', HUB[1], '--method', HUB[2] + '.Call',
                             GLib.Variant('s', name).print_(False), GLib.Variant('s', payload).print_(False),
                             'uint32 %d' % timeout_ms],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def served(proc, serve_one, what):
    """Run serve_one() (the server's side of the call @proc makes); when it
    fails, say what the calling command said."""
    try:
        serve_one()
    except TestFailure as e:
        if proc.poll() is not None:
            fail('%s: %s; the caller exited with %d: %s' % (what, e, proc.returncode,
                                                         proc.stderr.read().decode('utf-8', 'replace')))
        fail('%s: %s' % (what, e))


def finish(proc, what, timeout=TIMEOUT * 2, pump=None):
    """Wait for a command started above; run @pump() (e.g. a main loop
    iteration) while waiting. Returns (rc, stdout, stderr) as text."""
    deadline = time.monotonic() + timeout
    while True:
        # communicate() keeps reading the pipes (a big reply must not block
        # the command) and may be called again after a timeout.
        try:
            out, err = proc.communicate(timeout=0.005 if pump else max(0.0, deadline - time.monotonic()))
            break
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            fail('%s did not finish within %.0f s' % (what, timeout))
        if pump:
            pump()
    return proc.returncode, out.decode('utf-8', 'replace'), err.decode('utf-8', 'replace')


def busctl_result(proc, what, pump=None):
    rc, out, err = finish(proc, what, pump=pump)
    check(rc == 0, '%s: busctl failed (%d): %s' % (what, rc, err.strip()))
    try:
        j = json.loads(out)
    except ValueError:
        fail('%s: busctl printed no JSON: %r' % (what, out))
    check_eq(j.get('type'), 's', '%s: busctl reply type' % what)
    return j['data'][0]


def gdbus_result(proc, what, pump=None):
    rc, out, err = finish(proc, what, pump=pump)
    check(rc == 0, '%s: gdbus failed (%d): %s' % (what, rc, err.strip()))
    v = GLib.Variant.parse(None, out.strip(), None, None)
    check_eq(v.get_type_string(), '(s)', '%s: gdbus reply type' % what)
    return v.unpack()[0]


def gdbus_error(proc, what, pump=None):
    """(error name, message) from a gdbus call that must fail."""
    rc, out, err = finish(proc, what, pump=pump)
    check(rc != 0, '%s: gdbus succeeded with %r, expected an error' % (what, out.strip()))
    # "Error: GDBus.Error:org.example.Error.Name: message"
    marker = 'GDBus.Error:'
    i = err.find(marker)
    check(i >= 0, '%s: no D-Bus error name in gdbus output %r' % (what, err))
    rest = err[i + len(marker):].strip()
    name, _, msg = rest.partition(': ')
    return name, msg


def busctl_error(proc, what, pump=None):
    """busctl's message for a call that must fail (busctl does not print the name)."""
    rc, out, err = finish(proc, what, pump=pump)
    check(rc != 0, '%s: busctl succeeded with %r, expected an error' % (what, out.strip()))
    return err.strip()


# Servers in their own process

class Peer:
    """rpc-peer.py in a child process: serves @name on @transport and
    answers in @mode; its stdout reports 'serving', 'request ID PAYLOAD-JSON'."""

    def __init__(self, transport, name, mode='tag', label=None):
        self.label = label or '%s-%s' % (transport, mode)
        self.proc = subprocess.Popen(['/usr/bin/python3', os.path.join(HERE, 'rpc-peer.py'), transport, name,
                                      mode, self.label], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out = sbfixture.LineReader(self.proc.stdout.fileno())
        self.expect('serving')

    def line(self, timeout=TIMEOUT):
        line = self.out.readline(timeout)
        if line is None and self.out.eof:
            fail('%s: the server process exited (%r): %s' % (self.label, self.proc.poll(), self.stderr()))
        check(line is not None, '%s: no line from the server process within %.0f s (stderr: %r)'
              % (self.label, timeout, self.stderr()))
        return line

    def expect(self, word, timeout=TIMEOUT):
        line = self.line(timeout)
        check(line.split(' ', 1)[0] == word, '%s: expected %r from the server process, got %r'
              % (self.label, word, line))
        return line

    def request(self, timeout=TIMEOUT):
        """(id, payload) of the next request the server process received."""
        _, id, payload = self.expect('request', timeout).split(' ', 2)
        return int(id), json.loads(payload)

    def stderr(self):
        if self.proc.poll() is None:
            return '(still running)'
        return self.proc.stderr.read().decode('utf-8', 'replace')[-2000:]

    def _stop(self, sig):
        sbfixture.stop_process(self.proc, sig)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def kill(self):
        self._stop(signal.SIGKILL)

    def close(self):
        """Ask it to leave (SIGTERM), wait for it."""
        self._stop(signal.SIGTERM)


def b64(data):
    return base64.b64encode(data).decode()


def main(tests):
    """Run test functions in order; exit 1 on the first failure."""
    sbfixture.run_tests(tests)
