# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Request/reply across every pair of transports: D-Bus callers (busctl and
# gdbus) to a socket server, a socket caller to a python3-dbus server,
# socket to socket, D-Bus to D-Bus. Payloads (empty, non-ASCII, JSON with
# quotes and backslashes, control characters, 64 KiB) arrive intact both
# ways, and the server sees the caller's transport in `sender`. Bytes that
# are not UTF-8 text, called with payload_base64, reach a D-Bus server as
# RequestBinary with the same bytes; a binary reply reaches a socket caller
# as payload_base64 and a D-Bus caller as NotText.

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import rpctest      # noqa: E402
from rpctest import Sock, Bus, check, check_eq, log, b64, ERR     # noqa: E402

PAYLOADS = ['hello', '', 'h\u00e9llo \u2713 \u4e16\u754c \U0001f389', '{"a": [1, 2, "x\\"y"], "n": null}',
            'line1\nline2\ttab\r', '-starts-with-a-dash', 'x' * 65536]

sock_server = None
dbus_server = None


def setup():
    global sock_server, dbus_server
    rpctest.activate()
    sock_server = Sock(label='socket-server')
    sock_server.serve('matrix.sock')
    dbus_server = Bus('dbus-server')
    dbus_server.serve('matrix.dbus')
    i = rpctest.wait_servers('matrix.sock', 1)
    check_eq(i['services'].get('matrix.dbus'), 1, 'GetInfo services of matrix.dbus')


def short(p):
    return repr(p if len(p) < 40 else p[:20] + '...(%d bytes)' % len(p.encode()))


def serve_one_socket(want_payload, want_transport):
    """The socket server takes the next request and answers 're:' + payload."""
    req = sock_server.next_request()
    check_eq(req['name'], 'matrix.sock', 'request name')
    check_eq(req.get('payload'), want_payload, 'request payload at the socket server')
    check_eq((req.get('sender') or {}).get('transport'), want_transport, 'request sender.transport')
    r = sock_server.reply(req['id'], 're:' + want_payload)
    check('error' not in r, 'reply failed: %r' % r.get('error'))


def dbus_caller_to_socket(tool):
    start = rpctest.busctl_call if tool == 'busctl' else rpctest.gdbus_call
    result = rpctest.busctl_result if tool == 'busctl' else rpctest.gdbus_result
    for p in PAYLOADS:
        proc = start('matrix.sock', p)
        rpctest.served(proc, lambda: serve_one_socket(p, 'dbus'), '%s Call(%s)' % (tool, short(p)))
        got = result(proc, '%s Call(matrix.sock, %s)' % (tool, short(p)))
        check_eq(got, 're:' + p, '%s reply for %s' % (tool, short(p)))
    log('%s -> socket server: %d payloads intact' % (tool, len(PAYLOADS)))


def test_busctl_to_socket():
    setup()
    dbus_caller_to_socket('busctl')


def test_gdbus_to_socket():
    dbus_caller_to_socket('gdbus')


def test_socket_to_socket():
    caller = Sock(label='socket-caller')
    for p in PAYLOADS:
        id = caller.send_call('matrix.sock', p, timeout_ms=5000)
        serve_one_socket(p, 'unix')
        r = caller.response(id)
        check_eq(r.get('result'), {'payload': 're:' + p}, 'socket reply for %s' % short(p))
    caller.close()


def serve_one_dbus(want_payload):
    member, id, name, payload = dbus_server.next_request()
    check_eq(member, 'Request', 'signal for a text payload')
    check_eq(name, 'matrix.dbus', 'Request name')
    check_eq(payload, want_payload, 'Request payload at the D-Bus server')
    dbus_server.reply(id, 're:' + want_payload)


def test_socket_to_dbus():
    caller = Sock(label='socket-caller')
    for p in PAYLOADS:
        id = caller.send_call('matrix.dbus', p, timeout_ms=5000)
        serve_one_dbus(p)
        r = caller.response(id)
        check_eq(r.get('result'), {'payload': 're:' + p}, 'socket reply from D-Bus for %s' % short(p))
    caller.close()


def test_dbus_to_dbus():
    for tool, start, result in (('busctl', rpctest.busctl_call, rpctest.busctl_result),
                                ('gdbus', rpctest.gdbus_call, rpctest.gdbus_result)):
        for p in PAYLOADS:
            proc = start('matrix.dbus', p)
            rpctest.served(proc, lambda: serve_one_dbus(p), '%s Call(%s)' % (tool, short(p)))
            got = result(proc, '%s Call(matrix.dbus, %s)' % (tool, short(p)), pump=rpctest.sbtest.iterate)
            check_eq(got, 're:' + p, '%s reply from D-Bus for %s' % (tool, short(p)))
    # python3-dbus caller too, on its own connection
    caller = Bus('dbus-caller')
    res = caller.call_async('matrix.dbus', 'ping', 5000)
    serve_one_dbus('ping')
    rpctest.wait_async(res, 'the python3-dbus Call reply')
    check_eq(res.get('reply'), 're:ping', 'python3-dbus Call reply')
    caller.close()


def test_binary_to_dbus_server():
    caller = Sock(label='socket-caller')
    for data in (b'\xff\x00\x41\xc3', b'a\x00b', bytes(range(256))):
        id = caller.send_call('matrix.dbus', payload_b64=b64(data), timeout_ms=5000)
        member, call_id, name, payload = dbus_server.next_request()
        check_eq(member, 'RequestBinary', 'signal for %r' % data[:8])
        check_eq(payload, data, 'RequestBinary payload bytes')
        dbus_server.reply(call_id, 'binary ok')
        check_eq(caller.response(id).get('result'), {'payload': 'binary ok'}, 'reply to a binary call')
    # Text bytes sent as base64 are text: a plain Request.
    id = caller.send_call('matrix.dbus', payload_b64=b64('t\u00e9xt'.encode()), timeout_ms=5000)
    member, call_id, name, payload = dbus_server.next_request()
    check_eq((member, payload), ('Request', 't\u00e9xt'), 'base64 of UTF-8 text reaches D-Bus as Request')
    dbus_server.reply(call_id, 'ok')
    caller.response(id)
    caller.close()


def test_binary_reply():
    data = b'\x80\xfe\x00z'
    # To a socket caller: payload_base64, the same bytes.
    caller = Sock(label='socket-caller')
    id = caller.send_call('matrix.sock', 'give bytes', timeout_ms=5000)
    req = sock_server.next_request()
    check('error' not in sock_server.reply(req['id'], payload_b64=b64(data)), 'binary reply accepted')
    check_eq(caller.response(id).get('result'), {'payload_base64': b64(data)}, 'binary reply to a socket caller')
    caller.close()
    # To D-Bus callers: NotText, and the call is over.
    proc = rpctest.gdbus_call('matrix.sock', 'give bytes')
    req = sock_server.next_request()
    check('error' not in sock_server.reply(req['id'], payload_b64=b64(data)), 'binary reply accepted')
    name, msg = rpctest.gdbus_error(proc, 'gdbus Call answered with bytes')
    check_eq(name, ERR + 'NotText', 'error for a binary reply to a D-Bus caller')
    log('NotText: %s' % msg)
    proc = rpctest.busctl_call('matrix.sock', 'give bytes')
    req = sock_server.next_request()
    sock_server.reply(req['id'], payload_b64=b64(data))
    msg = rpctest.busctl_error(proc, 'busctl Call answered with bytes')
    check('UTF-8' in msg, 'busctl NotText message %r' % msg)
    rpctest.wait_no_pending()


rpctest.main([test_busctl_to_socket, test_gdbus_to_socket, test_socket_to_socket, test_socket_to_dbus,
              test_dbus_to_dbus, test_binary_to_dbus_server, test_binary_reply])
