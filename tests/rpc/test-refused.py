# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A server that cannot take a request: a socket server that stopped reading
# while a flood of messages filled its output buffer (`[jsonrpc]
# max-output`, small here). A call routed to it ends at once with
# ServerGone ("could not take the request") instead of waiting for its
# timeout (the payload is big enough that the request cannot fit while
# anything is queued: the hub estimates its frame at up to 6 bytes a byte): for a socket caller and for a D-Bus caller alike. Once the
# server reads its buffer down, calls reach it again.

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import rpctest      # noqa: E402
import sbrpc        # noqa: E402
from rpctest import Sock, Bus, check, check_eq, log, ERR     # noqa: E402

MAX_OUTPUT = 65536
BIG_CALL = 'y' * (MAX_OUTPUT // 4)
server = None


def test_fill_the_server():
    global server
    sbrpc.write_config('[jsonrpc]\nmax-output=%d\n' % MAX_OUTPUT)
    rpctest.activate()
    server = Sock(label='stuck-server', timeout=30)
    server.serve('stuck.svc')
    server.call('subscribe', {'pattern': 'flood.>'})
    rpctest.wait_servers('stuck.svc', 1)
    pub = Sock(label='publisher')
    dropped0 = sbrpc.info(pub)['messages_dropped']
    big = 'x' * 60000
    for i in range(400):
        pub.call('publish', {'topic': 'flood.x', 'payload': big})
        if i % 10 == 9 and sbrpc.info(pub)['messages_dropped'] > dropped0:
            break
    check(sbrpc.info(pub)['messages_dropped'] > dropped0, 'the server\'s output buffer never filled')
    log('output buffer full after %d publishes of 60 kB' % (i + 1))
    pub.close()


def test_socket_caller_gets_server_gone():
    caller = Sock(label='socket-caller')
    t0 = time.monotonic()
    id = caller.send_call('stuck.svc', BIG_CALL, timeout_ms=60000)
    r = caller.response(id, timeout=10)
    sbrpc.check_error(r.get('error'), -32013, 'ServerGone', None, 'socket call to a server that cannot take it')
    check(time.monotonic() - t0 < 2, 'ServerGone took %.3f s' % (time.monotonic() - t0))
    caller.close()
    check_eq(rpctest.get_info()['pending_calls'], 0, 'pending_calls')


def test_dbus_caller_gets_server_gone():
    caller = Bus('dbus-caller')
    t0 = time.monotonic()
    res = caller.call_async('stuck.svc', BIG_CALL, 60000, dbus_timeout=5)
    rpctest.wait_async(res, 'the D-Bus caller\'s answer', timeout=10)
    dt = res['t_end'] - t0
    check_eq(res.get('error', (None,))[0], ERR + 'ServerGone',
             'D-Bus call to a server that cannot take it (after %.3f s)' % dt)
    check(dt < 2, 'ServerGone took %.3f s' % dt)
    caller.close()


def test_server_recovers():
    # Drain: read every queued message (and the gap notice).
    while True:
        m = server.recv(timeout=5)
        if m.get('method') == 'gap':
            break
    caller = Sock(label='socket-caller')
    id = caller.send_call('stuck.svc', 'again', timeout_ms=10000)
    while True:
        m = server.recv(timeout=10)
        if m.get('method') == 'request':
            break
    server.reply(m['params']['id'], 'back')
    check_eq(caller.response(id).get('result'), {'payload': 'back'}, 'a call once the server reads again')
    caller.close()


rpctest.main([test_fill_the_server, test_socket_caller_gets_server_gone, test_dbus_caller_gets_server_gone,
              test_server_recovers])
