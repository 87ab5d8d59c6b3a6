# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Request/reply errors on both transports: NoServer at once; Timeout after
# the call's timeout (not before, well before twice it); a reply after the
# timeout is NotFound for the server (and counted); the server's own error
# passes through (a D-Bus ReplyError name to D-Bus and JSON callers, a
# JSON reply_error code and name to JSON callers, its name to D-Bus callers
# when it is a D-Bus error name, ServerError otherwise); Serve twice is
# Conflict, bad names InvalidName, Unserve makes the name NoServer again,
# max-served and the longest timeout are enforced; a reply from a client
# the call was not routed to is NotFound; a caller that leaves with calls
# pending makes the server's later reply NotFound, and nothing stays
# pending; the FIFO refuses calls.

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import rpctest      # noqa: E402
import sbrpc        # noqa: E402
from rpctest import Sock, Bus, check, check_eq, log, ERR     # noqa: E402

TIMEOUT_MS = 1000
sock_server = None
dbus_server = None
dbus_caller = None


def sock_error(r, code, name, what):
    check('error' in r, '%s: expected an error, got %r' % (what, r))
    if name is not None and '.' in name:
        # A server's own name, taken as it is (check_error would prefix ours).
        check_eq((r['error'].get('data') or {}).get('name'), name, '%s: error data.name' % what)
        name = None
    sbrpc.check_error(r['error'], code, name, None, what)
    return r['error']


def test_no_server():
    global dbus_caller
    rpctest.activate()
    caller = Sock(label='socket-caller')
    t0 = time.monotonic()
    id = caller.send_call('nobody.here', 'x', timeout_ms=60000)
    e = sock_error(caller.response(id), -32011, 'NoServer', 'socket call with no server')
    dt = time.monotonic() - t0
    check(dt < 1.0, 'NoServer took %.3f s, expected at once' % dt)
    check('nobody.here' in e['message'], 'NoServer message names the service: %r' % e['message'])
    caller.close()

    dbus_caller = Bus('dbus-caller')
    t0 = time.monotonic()
    res = rpctest.wait_async(dbus_caller.call_async('nobody.here', 'x', 60000), 'D-Bus NoServer')
    check_eq(res.get('error', (None,))[0], ERR + 'NoServer', 'D-Bus call with no server')
    check(res['t_end'] - t0 < 1.0, 'D-Bus NoServer took %.3f s' % (res['t_end'] - t0))
    name, msg = rpctest.gdbus_error(rpctest.gdbus_call('nobody.here', 'x', 60000), 'gdbus Call, no server')
    check_eq(name, ERR + 'NoServer', 'gdbus call with no server')
    msg = rpctest.busctl_error(rpctest.busctl_call('nobody.here', 'x', 60000), 'busctl Call, no server')
    check('nobody.here' in msg, 'busctl NoServer message %r' % msg)


def setup_servers():
    global sock_server, dbus_server
    sock_server = Sock(label='socket-server')
    sock_server.serve('err.sock')
    dbus_server = Bus('dbus-server')
    dbus_server.serve('err.dbus')
    i = rpctest.wait_servers('err.sock', 1)
    check_eq(i['services'].get('err.dbus'), 1, 'GetInfo services of err.dbus')


def late_count():
    i = rpctest.get_info()
    return i.get('late_replies', (i.get('jsonrpc') or {}).get('late_replies'))


def check_timing(dt, what):
    lo, hi = TIMEOUT_MS / 1000, 1.5 * TIMEOUT_MS / 1000
    check(dt >= lo, '%s: Timeout after %.3f s, before the timeout of %.1f s' % (what, dt, lo))
    check(dt < hi, '%s: Timeout after %.3f s, expected well before %.1f s' % (what, dt, 2 * lo))
    log('%s: Timeout after %.3f s (timeout %.1f s)' % (what, dt, lo))


def test_timeout_and_late_reply():
    setup_servers()
    late0 = late_count()
    if late0 is None:
        log('NOTE: neither GetInfo nor hub.info exposes the late-reply counter; not checked')

    # Socket caller, socket server.
    caller = Sock(label='socket-caller')
    t0 = time.monotonic()
    id = caller.send_call('err.sock', 'slow', timeout_ms=TIMEOUT_MS)
    req = sock_server.next_request()
    sock_error(caller.response(id, timeout=5), -32012, 'Timeout', 'socket call to a silent server')
    check_timing(time.monotonic() - t0, 'socket caller')
    rpctest.wait_no_pending()
    sock_error(sock_server.reply(req['id'], 'too late'), -32004, 'NotFound', 'reply after the timeout')

    # D-Bus caller, D-Bus server.
    t0 = time.monotonic()
    res = dbus_caller.call_async('err.dbus', 'slow', TIMEOUT_MS)
    _, call_id, _, _ = dbus_server.next_request()
    rpctest.wait_async(res, 'the D-Bus Timeout')
    check_eq(res.get('error', (None,))[0], ERR + 'Timeout', 'D-Bus call to a silent server')
    check_timing(res['t_end'] - t0, 'D-Bus caller')
    rpctest.wait_no_pending()
    try:
        dbus_server.reply(call_id, 'too late')
        rpctest.fail('a D-Bus Reply after the timeout succeeded')
    except rpctest.dbus.exceptions.DBusException as e:
        check_eq(e.get_dbus_name(), ERR + 'NotFound', 'D-Bus Reply after the timeout')

    # Across: socket caller to the D-Bus server, gdbus to the socket server.
    t0 = time.monotonic()
    id = caller.send_call('err.dbus', 'slow', timeout_ms=TIMEOUT_MS)
    dbus_server.next_request()
    sock_error(caller.response(id, timeout=5), -32012, 'Timeout', 'socket call to a silent D-Bus server')
    check_timing(time.monotonic() - t0, 'socket caller, D-Bus server')
    proc = rpctest.gdbus_call('err.sock', 'slow', TIMEOUT_MS)
    rpctest.served(proc, sock_server.next_request, 'gdbus Call(err.sock)')
    name, _ = rpctest.gdbus_error(proc, 'gdbus call to a silent server')
    check_eq(name, ERR + 'Timeout', 'gdbus call to a silent server')

    if late0 is not None:
        check_eq(late_count(), late0 + 2, 'late replies counted')
    caller.close()


def test_longest_timeout():
    caller = Sock(label='socket-caller')
    id = caller.send_call('err.sock', 'x', timeout_ms=300001)
    sock_error(caller.response(id), -32006, 'LimitExceeded', 'timeout_ms over 300 s')
    res = rpctest.wait_async(dbus_caller.call_async('err.sock', 'x', 300001), 'D-Bus long timeout')
    check_eq(res.get('error', (None,))[0], ERR + 'LimitExceeded', 'D-Bus Call timeout over 300 s')
    # 300 s itself is fine (answered at once here).
    id = caller.send_call('err.sock', 'x', timeout_ms=300000)
    req = sock_server.next_request()
    sock_server.reply(req['id'], 'ok')
    check_eq(caller.response(id).get('result'), {'payload': 'ok'}, 'a call with the longest timeout')
    # Without timeout_ms (the default, 300 s), and with params by position.
    for params in ({'name': 'err.sock', 'payload': 'd'}, ['err.sock', 'd']):
        caller.send({'jsonrpc': '2.0', 'id': 'dflt', 'method': 'call', 'params': params})
        req = sock_server.next_request()
        check_eq(req['payload'], 'd', 'request of a call with params %r' % (params,))
        sock_server.reply(req['id'], 'ok')
        check_eq(caller.response('dflt').get('result'), {'payload': 'ok'}, 'call with params %r' % (params,))
    caller.close()


def test_dbus_server_error_passes_through():
    name = 'com.example.Weather.Error.NoStation'
    caller = Sock(label='socket-caller')
    # To a D-Bus caller: the same name and message.
    res = dbus_caller.call_async('err.dbus', 'where', 5000)
    _, call_id, _, _ = dbus_server.next_request()
    # An invalid error name is refused, and the call still waits for a proper answer.
    try:
        dbus_server.reply_error(call_id, 'not a name', 'x')
        rpctest.fail('ReplyError with an invalid error name succeeded')
    except rpctest.dbus.exceptions.DBusException as e:
        check_eq(e.get_dbus_name(), 'org.freedesktop.DBus.Error.InvalidArgs', 'ReplyError with a bad name')
    dbus_server.reply_error(call_id, name, 'No station near you.')
    rpctest.wait_async(res, 'the D-Bus caller gets the server error')
    check_eq(res.get('error'), (name, 'No station near you.'), 'D-Bus caller: the server error')
    # gdbus too.
    proc = rpctest.gdbus_call('err.dbus', 'where')
    rpctest.served(proc, lambda: dbus_server.reply_error(dbus_server.next_request()[1], name, 'Nope.'),
                   'gdbus Call(err.dbus)')
    check_eq(rpctest.gdbus_error(proc, 'gdbus Call answered with an error', pump=rpctest.sbtest.iterate),
             (name, 'Nope.'), 'gdbus caller: the server error')
    # To a JSON caller: code -32014 (ServerError), data.name the server's name.
    id = caller.send_call('err.dbus', 'where', timeout_ms=5000)
    _, call_id, _, _ = dbus_server.next_request()
    dbus_server.reply_error(call_id, name, 'No station near you.')
    e = sock_error(caller.response(id), -32014, name, 'JSON caller, D-Bus server error')
    check_eq(e['message'], 'No station near you.', 'JSON caller: the server error message')
    caller.close()


def json_error(params, what):
    """A JSON server answers a socket caller and a D-Bus caller with reply_error(@params)."""
    caller = Sock(label='socket-caller')
    id = caller.send_call('err.sock', 'q', timeout_ms=5000)
    req = sock_server.next_request()
    r = sock_server.request('reply_error', dict(params, id=req['id']))
    check('error' not in r, '%s: reply_error failed: %r' % (what, r.get('error')))
    sock_resp = caller.response(id)
    caller.close()
    res = dbus_caller.call_async('err.sock', 'q', 5000)
    req = sock_server.next_request()
    sock_server.request('reply_error', dict(params, id=req['id']))
    rpctest.wait_async(res, '%s: the D-Bus caller gets the error' % what)
    check('error' in res, '%s: the D-Bus caller got %r' % (what, res))
    return sock_resp, res['error']


def test_json_server_error_passes_through():
    name = 'com.example.Weather.Error.NoStation'
    sock_resp, dbus_err = json_error({'code': 4711, 'name': name, 'message': 'No station.'}, 'code and name')
    e = sock_error(sock_resp, 4711, name, 'JSON caller, JSON server error with code and name')
    check_eq(e['message'], 'No station.', 'JSON caller: message')
    check_eq(dbus_err[0], name, 'D-Bus caller: the JSON server\'s error name')
    check('No station.' in dbus_err[1], 'D-Bus caller: message %r' % dbus_err[1])

    sock_resp, dbus_err = json_error({'message': 'The weather station broke.'}, 'message only')
    sock_error(sock_resp, -32014, 'ServerError', 'JSON caller, JSON server error without code or name')
    check_eq(dbus_err, (ERR + 'ServerError', 'The weather station broke.'), 'D-Bus caller, error without a name')

    # A name that is not a D-Bus error name: JSON callers get it, D-Bus callers ServerError.
    sock_resp, dbus_err = json_error({'code': -1, 'name': 'my app.bad name!', 'message': 'A bad thing happened.'}, 'odd name')
    sock_error(sock_resp, -1, 'my app.bad name!', 'JSON caller, a name that is not a D-Bus name')
    check_eq(dbus_err[0], ERR + 'ServerError', 'D-Bus caller, a name that is not a D-Bus name')

    # A code of its own and no name: the code passes through, the name is the hub's ServerError.
    sock_resp, dbus_err = json_error({'code': 4712, 'message': 'The station sleeps.'}, 'code only')
    sock_error(sock_resp, 4712, 'ServerError', 'JSON caller, JSON server error with a code and no name')
    check_eq(dbus_err[0], ERR + 'ServerError', 'D-Bus caller, a code and no name')
    check('(code 4712)' in dbus_err[1], 'D-Bus caller: the code in the message %r' % dbus_err[1])


def test_dbus_reply_over_the_limit():
    # The message names the reply and its call, not a topic (max-payload is 1 MiB by default).
    caller = Sock(label='socket-caller-big')
    id = caller.send_call('err.dbus', 'big please', timeout_ms=5000)
    _, call_id, _, _ = dbus_server.next_request()
    big = 'x' * (1024 * 1024 + 1)
    try:
        dbus_server.reply(call_id, big)
        rpctest.fail('a D-Bus Reply over max-payload succeeded')
    except rpctest.dbus.exceptions.DBusException as e:
        check_eq(e.get_dbus_name(), ERR + 'LimitExceeded', 'D-Bus Reply over max-payload')
        msg = e.get_dbus_message()
        check('Reply of 1048577 bytes to call %d' % call_id in msg, 'the message names the reply: %r' % msg)
        check('topic' not in msg, 'the message speaks of a topic: %r' % msg)
    dbus_server.reply(call_id, 'small')
    check_eq(caller.response(id).get('result'), {'payload': 'small'}, 'the reply that fits')
    caller.close()


def test_reply_from_another_client():
    other = Sock(label='other-server')
    other.serve('err.other')
    caller = Sock(label='socket-caller')
    id = caller.send_call('err.sock', 'mine', timeout_ms=5000)
    req = sock_server.next_request()
    sock_error(other.reply(req['id'], 'stolen'), -32004, 'NotFound', 'reply to a call routed elsewhere')
    try:
        dbus_server.reply(req['id'], 'stolen')
        rpctest.fail('a D-Bus Reply to a call routed elsewhere succeeded')
    except rpctest.dbus.exceptions.DBusException as e:
        check_eq(e.get_dbus_name(), ERR + 'NotFound', 'D-Bus Reply to a call routed elsewhere')
    sock_server.reply(req['id'], 'real')
    check_eq(caller.response(id).get('result'), {'payload': 'real'}, 'the real server\'s reply')
    other.close()
    caller.close()


def test_serve_unserve_and_names():
    s = Sock(label='serve-client')
    s.serve('un.svc')
    r = s.request('serve', {'name': 'un.svc'})
    sock_error(r, -32005, 'Conflict', 'serve twice')
    try:
        dbus_server.serve('err.dbus')
        rpctest.fail('Serve twice succeeded on D-Bus')
    except rpctest.dbus.exceptions.DBusException as e:
        check_eq(e.get_dbus_name(), ERR + 'Conflict', 'D-Bus Serve twice')
    # Another client serving the same name is no conflict.
    dbus_server.serve('un.svc')
    rpctest.wait_servers('un.svc', 2)
    dbus_server.call('Unserve', 's', 'un.svc')
    rpctest.wait_servers('un.svc', 1)
    check_eq(s.call('unserve', {'name': 'un.svc'}), None, 'unserve')
    rpctest.wait_servers('un.svc', 0)
    caller = Sock(label='socket-caller')
    id = caller.send_call('un.svc', 'x', timeout_ms=5000)
    sock_error(caller.response(id), -32011, 'NoServer', 'call after unserve')
    res = rpctest.wait_async(dbus_caller.call_async('un.svc', 'x', 5000), 'D-Bus call after Unserve')
    check_eq(res.get('error', (None,))[0], ERR + 'NoServer', 'D-Bus call after Unserve')
    sock_error(s.request('unserve', {'name': 'un.svc'}), -32004, 'NotFound', 'unserve of a name not served')
    for bad in ('a..b', 'a.*', 'x.>', '>', '', '.a', 'a.', 'sp ace', 'caf\u00e9'):
        sock_error(s.request('serve', {'name': bad}), -32010, 'InvalidName', 'serve %r' % bad)
        id = caller.send_call(bad, 'x')
        sock_error(caller.response(id), -32010, 'InvalidName', 'call %r' % bad)
        try:
            dbus_server.serve(bad)
            rpctest.fail('Serve(%r) succeeded on D-Bus' % bad)
        except rpctest.dbus.exceptions.DBusException as e:
            check_eq(e.get_dbus_name(), ERR + 'InvalidName', 'D-Bus Serve(%r)' % bad)
        res = rpctest.wait_async(dbus_caller.call_async(bad, 'x', 1000), 'D-Bus Call(%r)' % bad)
        check_eq(res.get('error', (None,))[0], ERR + 'InvalidName', 'D-Bus Call(%r)' % bad)
    sock_error(s.request('serve', {'name': 'a' * 257}), -32006, 'LimitExceeded', 'serve of a 257-byte name')
    caller.close()
    s.close()


def test_max_served():
    s = Sock(label='many-names')
    for i in range(256):
        s.send({'jsonrpc': '2.0', 'id': 'n%d' % i, 'method': 'serve', 'params': {'name': 'many.n%d' % i}})
    for i in range(256):
        r = s.recv_response()
        check_eq((r.get('id'), r.get('result', 'missing')), ('n%d' % i, None), 'serve of name %d' % i)
    sock_error(s.request('serve', {'name': 'many.one-more'}), -32006, 'LimitExceeded', 'the 257th name')
    s.call('unserve', {'name': 'many.n0'})
    s.serve('many.one-more')
    i = rpctest.get_info()
    check_eq(sum(1 for k in i['services'] if k.startswith('many.')), 256, 'names served in GetInfo')
    s.close()
    rpctest.wait_info(lambda i: not any(k.startswith('many.') for k in i['services']),
                      'a leaving client\'s names are no longer served')


def test_caller_leaves():
    # A socket caller leaves with a call pending.
    caller = Sock(label='leaving-caller')
    caller.send_call('err.sock', 'bye', timeout_ms=60000)
    req = sock_server.next_request()
    check_eq(rpctest.get_info()['pending_calls'], 1, 'pending_calls with one call in flight')
    caller.close()
    rpctest.wait_no_pending()
    sock_error(sock_server.reply(req['id'], 'nobody listens'), -32004, 'NotFound',
               'reply after the caller left')
    # A D-Bus caller (busctl) leaves with a call pending.
    proc = rpctest.busctl_call('err.dbus', 'bye', 60000)
    got = []
    rpctest.served(proc, lambda: got.append(dbus_server.next_request()), 'busctl Call(err.dbus)')
    proc.kill()
    proc.communicate()
    rpctest.wait_no_pending()
    try:
        dbus_server.reply(got[0][1], 'nobody listens')
        rpctest.fail('a D-Bus Reply after the caller left succeeded')
    except rpctest.dbus.exceptions.DBusException as e:
        check_eq(e.get_dbus_name(), ERR + 'NotFound', 'D-Bus Reply after the caller left')
    check_eq(rpctest.get_info()['pending_calls'], 0, 'pending_calls after the callers left')


def test_fifo_refuses_calls():
    before = (sbrpc.info().get('jsonrpc') or {}).get('fifo_errors')
    check(before is not None, 'hub.info has jsonrpc.fifo_errors')
    with open(sbrpc.fifo_path(), 'w') as f:
        f.write(json.dumps({'jsonrpc': '2.0', 'method': 'call', 'params': {'name': 'err.sock', 'payload': 'x'}})
                + '\n')
        f.write(json.dumps({'jsonrpc': '2.0', 'method': 'serve', 'params': {'name': 'fifo.svc'}}) + '\n')
    sbrpc.wait_info(lambda i: (i.get('jsonrpc') or {}).get('fifo_errors') == before + 2,
                    'two FIFO lines counted as errors')
    check('fifo.svc' not in rpctest.get_info()['services'], 'the FIFO cannot serve')
    check(sock_server.notes == [], 'the FIFO call reached the server: %r' % sock_server.notes)


rpctest.main([test_no_server, test_timeout_and_late_reply, test_longest_timeout,
              test_dbus_server_error_passes_through, test_json_server_error_passes_through,
              test_dbus_reply_over_the_limit,
              test_reply_from_another_client, test_serve_unserve_and_names, test_max_served, test_caller_leaves,
              test_fifo_refuses_calls])
