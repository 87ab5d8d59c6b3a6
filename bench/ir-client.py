#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# ir-client.py MODE N: exactly N operations against the hub at
# $XDG_RUNTIME_DIR/switchboard/socket (or on $DBUS_SESSION_BUS_ADDRESS), for
# bench/run-ir, which counts the hub's instructions around them. MODE:
#   publish  N publish requests, 64 in flight, each response read
#   fanout   N publishes (notifications, 64 ahead) to one subscriber, each delivery read
#   call     N calls, 16 in flight, answered by a second connection that serves the name
#   dbus     N D-Bus Publish calls, one at a time (python3-dbus)
# Standard library only, but for the dbus mode.

import json
import os
import socket
import struct
import sys

path = os.environ['XDG_RUNTIME_DIR'] + '/switchboard/socket'
mode, n = sys.argv[1], int(sys.argv[2])

def conn():
    s = socket.socket(socket.AF_UNIX); s.connect(path); return s

class R:
    def __init__(self, s): self.s, self.buf = s, b''
    def frame(self):
        while True:
            if len(self.buf) >= 4:
                l = struct.unpack('>I', self.buf[:4])[0]
                if len(self.buf) >= 4 + l:
                    f, self.buf = self.buf[4:4 + l], self.buf[4 + l:]
                    return json.loads(f)
            d = self.s.recv(65536)
            if not d: raise SystemExit('closed')
            self.buf += d

def fr(o):
    b = json.dumps(o, separators=(',', ':')).encode(); return struct.pack('>I', len(b)) + b

def pipeline(sock, request, depth, wait_one):
    """Send request(i) for i < n, at most @depth ahead of wait_one(), which consumes one answer."""
    sent = got = 0
    while got < n:
        batch = b''
        while sent < n and sent - got < depth:
            batch += fr(request(sent))
            sent += 1
        if batch:
            sock.sendall(batch)
        wait_one()
        got += 1


def conn_after(method, params):
    """A connection and its reader, once @method's answer has come."""
    s = conn()
    r = R(s)
    s.sendall(fr({'jsonrpc': '2.0', 'id': 1, 'method': method, 'params': params}))
    r.frame()
    return s, r


PUBLISH = {'topic': 'bench.x', 'payload': 'hello world 0123456789'}

if mode == 'publish':
    s = conn()
    r = R(s)
    pipeline(s, lambda i: {'jsonrpc': '2.0', 'id': i, 'method': 'publish', 'params': PUBLISH}, 64, r.frame)
elif mode == 'call':
    srv, rs = conn_after('serve', {'name': 'b.svc'})
    c = conn()
    rc = R(c)

    def serve_then_answer():
        while True:
            m = rs.frame()
            if m.get('method') == 'request':
                srv.sendall(fr({'jsonrpc': '2.0', 'method': 'reply',
                                'params': {'id': m['params']['id'], 'payload': 'pong'}}))
                break
        rc.frame()
    pipeline(c, lambda i: {'jsonrpc': '2.0', 'id': i, 'method': 'call',
                           'params': {'name': 'b.svc', 'payload': 'ping'}}, 16, serve_then_answer)
elif mode == 'fanout':
    sub, rsub = conn_after('subscribe', {'pattern': 'bench.>'})
    s = conn()
    pipeline(s, lambda i: {'jsonrpc': '2.0', 'method': 'publish', 'params': PUBLISH}, 64, rsub.frame)
elif mode == 'dbus':
    import dbus
    import time
    bus = dbus.bus.BusConnection(os.environ['DBUS_SESSION_BUS_ADDRESS'])
    # The hub owns its name last, after its socket listens: wait for the name (bounded).
    for _ in range(600):
        if bus.name_has_owner('org.switchboard.Hub1'):
            break
        time.sleep(0.05)
    for i in range(n):
        bus.call_blocking('org.switchboard.Hub1', '/org/switchboard/Hub1', 'org.switchboard.Hub1', 'Publish', 'ss', ('bench.x', 'hello world 0123456789'))
