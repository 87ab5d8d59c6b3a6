#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# switchboard_client.py: a small client for the switchboard hub's JSON-RPC
# socket, standard library only. Copy it into your project, or import it.
#
# The protocol (docs/protocol.md): each frame is a 4-byte big-endian length
# and that many bytes of JSON-RPC 2.0. Requests get responses; subscriptions
# and watches send notifications ("message", "key_changed", "gap") on the
# same connection, which call() keeps aside for next_notification().
#
#   from switchboard_client import SwitchboardClient
#   with SwitchboardClient() as hub:
#       hub.subscribe('sensors.>')
#       hub.publish('sensors.kitchen.temp', '21.5')
#       print(hub.next_notification())
#
# Run it to see a short demo against the running hub:
#   python3 switchboard_client.py [SOCKET]

import base64
import json
import os
import select
import socket
import struct
import sys
import time


def default_socket_path():
    """$SWITCHBOARD_SOCKET, or $XDG_RUNTIME_DIR/switchboard/socket."""
    if os.environ.get('SWITCHBOARD_SOCKET'):
        return os.environ['SWITCHBOARD_SOCKET']
    runtime = os.environ.get('XDG_RUNTIME_DIR') or '/run/user/%d' % os.getuid()
    return os.path.join(runtime, 'switchboard', 'socket')


class SwitchboardError(Exception):
    """An error response: code, message and the D-Bus error name (data.name), if any."""

    def __init__(self, error):
        self.code = error.get('code')
        self.message = error.get('message', '')
        self.name = (error.get('data') or {}).get('name')
        super().__init__('%s (%s%s)' % (self.message, self.code, ', ' + self.name if self.name else ''))


class SwitchboardClient:
    """One connection to the hub. Not thread-safe: use one per thread."""

    def __init__(self, path=None, timeout=10.0):
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path or default_socket_path())
        self._buf = bytearray()
        self._next_id = 1
        self._notes = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    # Framing
    def _send(self, obj):
        body = json.dumps(obj, separators=(',', ':')).encode()
        self.sock.sendall(struct.pack('>I', len(body)) + body)

    def _recv(self, timeout):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if len(self._buf) >= 4:
                n = struct.unpack('>I', self._buf[:4])[0]
                if len(self._buf) >= 4 + n:
                    body = bytes(self._buf[4:4 + n])
                    del self._buf[:4 + n]
                    return json.loads(body)
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([self.sock], [], [], wait)[0]:
                raise TimeoutError('no answer from the hub within %s s' % timeout)
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError('the hub closed the connection')
            self._buf += data

    # JSON-RPC
    def call(self, method, params=None):
        """Send a request and wait for its response; return the result or raise SwitchboardError."""
        req_id = self._next_id
        self._next_id += 1
        req = {'jsonrpc': '2.0', 'id': req_id, 'method': method}
        if params is not None:
            req['params'] = params
        self._send(req)
        while True:
            msg = self._recv(self.timeout)
            if isinstance(msg, dict) and 'method' in msg and 'id' not in msg:
                self._notes.append(msg)         # a notification: keep it for later
                continue
            if msg.get('id') != req_id:
                raise ConnectionError('unexpected response %r' % msg)
            if 'error' in msg:
                raise SwitchboardError(msg['error'])
            return msg['result']

    def notify(self, method, params=None):
        """Send a notification: no response, not even an error."""
        req = {'jsonrpc': '2.0', 'method': method}
        if params is not None:
            req['params'] = params
        self._send(req)

    def next_notification(self, timeout=None):
        """The next notification as (method, params); waits up to @timeout s (default: the client's)."""
        if not self._notes:
            msg = self._recv(self.timeout if timeout is None else timeout)
            self._notes.append(msg)
        msg = self._notes.pop(0)
        return msg['method'], msg['params']

    # The hub's methods
    @staticmethod
    def _bytes_param(name, data):
        if isinstance(data, str):
            return {name: data}
        return {name + '_base64': base64.b64encode(data).decode()}

    @staticmethod
    def payload_of(params, name='payload'):
        """The payload (or value) of a notification: str for text, bytes otherwise."""
        if name in params:
            return params[name]
        return base64.b64decode(params[name + '_base64'])

    def publish(self, topic, payload, retain=False):
        """Publish text (str) or bytes; return the hub-wide sequence number."""
        params = {'topic': topic, 'retain': retain}
        params.update(self._bytes_param('payload', payload))
        return self.call('publish', params)['seq']

    def subscribe(self, pattern, with_retained=False):
        return self.call('subscribe', {'pattern': pattern, 'with_retained': with_retained})['id']

    def unsubscribe(self, sub_id):
        self.call('unsubscribe', {'id': sub_id})

    def set(self, key, value):
        params = {'key': key}
        params.update(self._bytes_param('value', value))
        return self.call('set', params)['revision']

    def get(self, key):
        """(value, revision); raises SwitchboardError (NotFound) for a missing key."""
        r = self.call('get', {'key': key})
        return self.payload_of(r, 'value'), r['revision']

    def delete(self, key):
        return self.call('delete', {'key': key})['existed']

    def watch(self, prefix=''):
        return self.call('watch', {'prefix': prefix})['id']

    def info(self):
        return self.call('hub.info')


def demo(path=None):
    with SwitchboardClient(path) as hub:
        info = hub.info()
        print('connected to hub %s (%d clients)' % (info['version'], info['clients']))
        sub = hub.subscribe('demo.>')
        print('subscribed to demo.> as %d' % sub)
        seq = hub.publish('demo.greeting', 'hello from python')
        print('published demo.greeting seq %d' % seq)
        method, p = hub.next_notification()
        print('%s %s: %s (seq %d, from %s)' % (method, p['topic'], hub.payload_of(p), p['seq'],
                                             p['sender']['transport']))
        seq = hub.publish('demo.binary', b'\x00\xff\x10')
        method, p = hub.next_notification()
        print('%s %s: %s bytes (seq %d)' % (method, p['topic'], hub.payload_of(p).hex(), p['seq']))
        hub.watch('demo.')
        rev = hub.set('demo.counter', 'python')
        print('set demo.counter revision %d' % rev)
        method, p = hub.next_notification()
        print('%s %s = %s (revision %d)' % (method, p['key'], hub.payload_of(p, 'value'), p['revision']))
        value, rev = hub.get('demo.counter')
        print('get demo.counter = %s (revision %d)' % (value, rev))
        try:
            hub.publish('demo..bad', 'x')
        except SwitchboardError as e:
            print('error %d %s' % (e.code, e.name))


if __name__ == '__main__':
    demo(sys.argv[1] if len(sys.argv) > 1 else None)
