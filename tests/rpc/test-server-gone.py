# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A server that dies while it holds a request: the server (socket or
# python3-dbus, in its own process) reports the request, the test kills it
# with SIGKILL, and the caller (socket, python3-dbus, gdbus) gets
# ServerGone at once, long before the call's 30 s timeout. The name is no
# longer served and no call stays pending.

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import rpctest      # noqa: E402
import sbrpc        # noqa: E402
from rpctest import Sock, Bus, Peer, check, check_eq, log, ERR     # noqa: E402

CALL_TIMEOUT_MS = 30000
AT_ONCE = 2.0       # seconds: far below the call's timeout, far above the hub's reaction


def gone(server_transport, caller_kind):
    name = 'gone.%s.%s' % (server_transport, caller_kind)
    peer = Peer(server_transport, name, 'hold', label='%s-server' % server_transport)
    rpctest.wait_servers(name, 1)
    what = '%s caller, %s server killed' % (caller_kind, server_transport)

    if caller_kind == 'socket':
        caller = Sock(label='socket-caller')
        id = caller.send_call(name, 'hold me', timeout_ms=CALL_TIMEOUT_MS)
    elif caller_kind == 'dbus':
        caller = Bus('dbus-caller')
        res = caller.call_async(name, 'hold me', CALL_TIMEOUT_MS, dbus_timeout=CALL_TIMEOUT_MS / 1000 + 10)
    else:
        proc = rpctest.gdbus_call(name, 'hold me', CALL_TIMEOUT_MS)
    check_eq(peer.request()[1], 'hold me', '%s: the request reached the server' % what)
    check_eq(rpctest.get_info()['pending_calls'], 1, '%s: pending_calls before the kill' % what)

    t0 = time.monotonic()
    peer.kill()
    if caller_kind == 'socket':
        r = caller.response(id, timeout=AT_ONCE * 5)
        dt = time.monotonic() - t0
        check('error' in r, '%s: expected ServerGone, got %r' % (what, r))
        sbrpc.check_error(r['error'], -32013, 'ServerGone', None, what)
        caller.close()
    elif caller_kind == 'dbus':
        rpctest.wait_async(res, '%s: the error' % what, timeout=AT_ONCE * 5)
        dt = res['t_end'] - t0
        check_eq(res.get('error', (None,))[0], ERR + 'ServerGone', what)
        caller.close()
    else:
        err = rpctest.gdbus_error(proc, what)
        dt = time.monotonic() - t0
        check_eq(err[0], ERR + 'ServerGone', what)
    check(dt < AT_ONCE, '%s: ServerGone after %.3f s, expected at once' % (what, dt))
    log('%s: ServerGone %.1f ms after the kill' % (what, dt * 1000))
    i = rpctest.wait_servers(name, 0)
    check_eq(i['pending_calls'], 0, '%s: pending_calls after ServerGone' % what)


def test_socket_server_socket_caller():
    rpctest.activate()
    gone('socket', 'socket')


def test_socket_server_dbus_caller():
    gone('socket', 'dbus')


def test_socket_server_gdbus_caller():
    gone('socket', 'gdbus')


def test_dbus_server_socket_caller():
    gone('dbus', 'socket')


def test_dbus_server_dbus_caller():
    gone('dbus', 'dbus')


def test_dbus_server_gdbus_caller():
    gone('dbus', 'gdbus')


def test_survivor_takes_over():
    """Two servers; the one holding the call dies; the call fails (it is not
    retried), and the next call goes to the survivor."""
    name = 'gone.two'
    a = Peer('socket', name, 'hold', label='holder')
    rpctest.wait_servers(name, 1)
    b = Peer('dbus', name, 'tag', label='survivor')
    rpctest.wait_servers(name, 2)
    caller = Sock(label='socket-caller')
    id = caller.send_call(name, 'first', timeout_ms=CALL_TIMEOUT_MS)
    check_eq(a.request()[1], 'first', 'the first call went to the first server')
    a.kill()
    r = caller.response(id, timeout=AT_ONCE * 5)
    sbrpc.check_error(r.get('error'), -32013, 'ServerGone', None, 'the held call')
    rpctest.wait_servers(name, 1)
    check_eq(caller.call_result(name, 'second', timeout_ms=5000), {'payload': 'survivor:second'},
             'the next call')
    b.close()
    caller.close()
    rpctest.wait_servers(name, 0)


rpctest.main([test_socket_server_socket_caller, test_socket_server_dbus_caller, test_socket_server_gdbus_caller,
              test_dbus_server_socket_caller, test_dbus_server_dbus_caller, test_dbus_server_gdbus_caller,
              test_survivor_takes_over])
