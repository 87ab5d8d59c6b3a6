# SPDX-License-Identifier: LGPL-2.1-or-later
#
# sbrpc.py: helpers for switchboard's JSON-RPC tests, Python standard library
# only (no D-Bus bindings), so that what they prove is what any client that
# opens the socket gets.
#
# Every test runs under tests/with-bus.sh: a private session bus and private
# XDG dirs. The hub is not running until activate() asks the bus to start it
# (busctl, StartServiceByName); once that returns the hub owns its name, and
# the hub creates its socket before requesting the name, so the socket is
# listening. A Conn is one socket client: it writes frames (a 4-byte
# big-endian length and the JSON text) and reads frames with a bounded
# timeout; notifications that arrive while it waits for a response are kept
# in Conn.notes in arrival order. The fixtures (paths, activation, framing,
# waits, the runner) are tests/lib/sbfixture.py's, which is standard library
# only too. Nothing here sleeps to wait for readiness: every wait ends when
# its condition holds, or fails saying what did not happen.

import json
import socket
import struct
import time

import sbfixture
from sbfixture import (ERR, TIMEOUT, Closed, FileWatch, Skip, TestFailure,  # noqa: F401 (re-exported)
                       Timeout, activate, busctl, check, check_eq, fail, fifo_path, frame, log,
                       runtime_dir, socket_path, stop_process, wait_socket, wait_until, write_config)


def peer_cred(sock):
    """(pid, uid, gid) of the other end of the Unix socket @sock, from the kernel."""
    return struct.unpack('3i', sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize('3i')))


def hub_pid():
    """The hub's pid as the kernel reports it for its socket."""
    c = Conn(label='pid')
    try:
        return peer_cred(c.sock)[0]
    finally:
        c.close()


class Conn(sbfixture.FrameReader):
    """One socket client of the hub; self.buf holds what arrived after the last whole frame."""

    _next_id = 1

    def __init__(self, path=None, label='client', timeout=TIMEOUT):
        self.label = label
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path or socket_path())
        super().__init__(self.sock.fileno())
        self.notes = []

    def close(self):
        self.sock.close()

    def fileno(self):
        return self.sock.fileno()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, obj):
        self.send_raw(frame(obj))

    def _deadline(self, timeout):
        return time.monotonic() + (self.timeout if timeout is None else timeout)

    def recv_frame(self, timeout=None):
        """The next frame's body (bytes); raises Closed at end of stream,
        fails after @timeout seconds."""
        try:
            return self.read_frame(self._deadline(timeout))
        except Timeout:
            fail('%s: no frame from the hub within %.1f s (have %d bytes: %r)'
                 % (self.label, self.timeout if timeout is None else timeout, len(self.buf),
                    bytes(self.buf[:80])))

    def recv(self, timeout=None):
        body = self.recv_frame(timeout)
        try:
            return json.loads(body)
        except ValueError as e:
            fail('%s: the hub sent a frame that is not JSON (%s): %r' % (self.label, e, body[:200]))

    def recv_response(self, timeout=None):
        """The next response (a dict with an id, or a list for a batch);
        notifications before it go to self.notes."""
        while True:
            m = self.recv(timeout)
            if isinstance(m, dict) and 'method' in m and 'id' not in m:
                self.notes.append(m)
                continue
            return m

    def request(self, method, params=None, id=None):
        """Send a request; return the whole response object."""
        if id is None:
            id = Conn._next_id
            Conn._next_id += 1
        req = {'jsonrpc': '2.0', 'id': id, 'method': method}
        if params is not None:
            req['params'] = params
        self.send(req)
        r = self.recv_response()
        check(isinstance(r, dict), '%s: %s: expected a response object, got %r' % (self.label, method, r))
        check_eq(r.get('id'), id, '%s: id of the response to %s' % (self.label, method))
        check_eq(r.get('jsonrpc'), '2.0', '%s: jsonrpc member of the response to %s' % (self.label, method))
        return r

    def call(self, method, params=None):
        """Send a request and return its result; fail on an error response."""
        r = self.request(method, params)
        check('error' not in r, '%s: %s(%r) failed: %r' % (self.label, method, params, r.get('error')))
        check('result' in r, '%s: %s: a response without result: %r' % (self.label, method, r))
        return r['result']

    def call_error(self, method, params=None, code=None, name=None, mentions=None):
        """Send a request that must fail; return its error object."""
        r = self.request(method, params)
        check('error' in r, '%s: %s(%r) succeeded with %r, expected an error'
              % (self.label, method, params, r.get('result')))
        e = r['error']
        check('result' not in r, '%s: a response with both result and error: %r' % (self.label, r))
        check_error(e, code, name, mentions, '%s(%r)' % (method, params))
        return e

    def notify(self, method, params=None):
        req = {'jsonrpc': '2.0', 'method': method}
        if params is not None:
            req['params'] = params
        self.send(req)

    def next_note(self, method=None, timeout=None):
        """The next notification (from self.notes first, then the socket)."""
        while True:
            if self.notes:
                m = self.notes.pop(0)
            else:
                m = self.recv(timeout)
                check(isinstance(m, dict) and 'method' in m and 'id' not in m,
                      '%s: expected a notification, got %r' % (self.label, m))
            if method is None or m['method'] == method:
                return m
            fail('%s: expected a %s notification, got %r' % (self.label, method, m))

    def expect_closed(self, timeout=None, allow_frames=0):
        """The hub closes the connection (after at most @allow_frames frames);
        return the frames that came before the end."""
        got = []
        deadline = self._deadline(timeout)
        try:
            while True:
                got.append(self.read_frame(deadline))
        except Closed:
            pass
        except Timeout:
            fail('%s: the hub did not close the connection within the timeout (frames: %r)'
                 % (self.label, got))
        check(len(got) <= allow_frames, '%s: expected at most %d frames before the close, got %r'
              % (self.label, allow_frames, got))
        check(not self.buf, '%s: a partial frame before the close: %r' % (self.label, bytes(self.buf)))
        return got


def check_error(e, code=None, name=None, mentions=None, what='request'):
    check(isinstance(e, dict) and isinstance(e.get('code'), int) and isinstance(e.get('message'), str),
          '%s: a malformed error object %r' % (what, e))
    if code is not None:
        check_eq(e['code'], code, '%s: error code (%s)' % (what, e.get('message')))
    if name is not None:
        if not name.startswith('org.'):
            name = ERR + name
        check_eq((e.get('data') or {}).get('name'), name, '%s: error data.name (%s)' % (what, e.get('message')))
    if mentions is not None:
        check(mentions in e['message'], '%s: the error message %r does not mention %r'
              % (what, e['message'], mentions))
    check(len(e['message'].strip()) >= 10, '%s: the error message %r says too little' % (what, e['message']))


def info(conn=None):
    """hub.info through @conn, or through a short-lived connection."""
    if conn is not None:
        return conn.call('hub.info')
    c = Conn(label='info')
    try:
        return c.call('hub.info')
    finally:
        c.close()


def wait_info(pred, what, conn=None, timeout=TIMEOUT):
    """Poll hub.info until pred(info) holds; return that info."""
    last = [None]

    def probe():
        last[0] = info(conn)
        return pred(last[0])
    wait_until(probe, what, timeout, last=lambda: 'last hub.info: %s' % json.dumps(last[0]))
    return last[0]


def socket_clients(i):
    return (i.get('clients_by_transport') or {}).get('unix', 0)


def main(tests, needs_bus=True):
    """Run test functions in order; print TAP-ish lines; exit 1 on the first
    failure, 77 when a test raises Skip."""
    sbfixture.run_tests(tests, needs_bus)
