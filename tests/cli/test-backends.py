#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The CLI's two backends: which one it picks (auto: the socket when it
# accepts, else D-Bus, which activates the hub; --dbus, --socket,
# SWITCHBOARD_BACKEND, SWITCHBOARD_SOCKET, --address), and that the same
# commands give the same output, error messages and exit statuses over
# either: one script of commands runs once with --dbus and once with
# --socket, each in its own key/topic namespace, and the results are
# compared after the namespace (and the hub-wide numbers) are normalised.

import json
import os
import re
import socket
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import (Hub, check, expect, finish, hub_running, require_environment,  # noqa: E402
                     run, socket_path)

require_environment()


def uses_socket(r):
    """status --json over the socket counts the CLI itself as a unix client; over D-Bus (an
    anonymous GetInfo) it does not, and no other client is connected in this test."""
    try:
        return json.loads(r.out).get('clients_by_transport', {}).get('unix', 0) >= 1
    except ValueError:
        return None


# Auto with no hub: no socket yet, so D-Bus, which activates the hub.
check(not hub_running(), 'no hub before the first call')
check(not os.path.exists(socket_path()), 'no socket before the first call')
r = expect(0, 'status', '--json')
check(uses_socket(r) is False, 'auto without a socket talks D-Bus (%r)' % r.out)
check(hub_running() and os.path.exists(socket_path()), 'the D-Bus call started the hub, which listens')

# Auto with the hub running: the socket.
r = expect(0, 'status', '--json')
check(uses_socket(r) is True, 'auto uses the socket once it is there')
o = json.loads(r.out or '{}')
check(o.get('clients_by_transport', {}).get('unix', 0) >= 1, 'the CLI is a unix client (%r)' % o)
check(isinstance(o.get('jsonrpc', {}).get('fifo_errors'), int), 'status --json shows the jsonrpc counters')
r = expect(0, 'status')
check('JSON-RPC:' in r.out and re.search(r'\n    fifo_lines +\d+\n', r.out) is not None,
      'status shows the JSON-RPC counters over the socket (%r)' % r.out)
r = expect(0, '--dbus', 'status')
check('JSON-RPC:' in r.out and 'D-Bus:' in r.out and re.search(r'\n    broadcast_signals +\d+\n', r.out),
      'status over D-Bus shows every face\'s counters too (%r)' % r.out)

# Forcing one, and the ways to say so.
check(uses_socket(expect(0, '--dbus', 'status', '--json')) is False, '--dbus before the command')
check(uses_socket(expect(0, 'status', '--json', '--dbus')) is False, '--dbus among the options')
check(uses_socket(expect(0, 'status', '--json', env={'SWITCHBOARD_BACKEND': 'dbus'})) is False,
      'SWITCHBOARD_BACKEND=dbus')
check(uses_socket(expect(0, 'status', '--json', env={'SWITCHBOARD_BACKEND': 'socket'})) is True,
      'SWITCHBOARD_BACKEND=socket')
check(uses_socket(expect(0, '--socket', 'status', '--json', env={'SWITCHBOARD_BACKEND': 'dbus'})) is True,
      '--socket beats SWITCHBOARD_BACKEND')
check(uses_socket(expect(0, 'status', '--json', '--socket=' + socket_path())) is True, '--socket=PATH')
check(uses_socket(expect(0, '--address=' + os.environ['DBUS_SESSION_BUS_ADDRESS'], 'status', '--json')) is False,
      '--address means D-Bus')

# Auto falls back to D-Bus when the socket is missing or refuses.
r = expect(0, 'status', '--json', env={'SWITCHBOARD_SOCKET': '/nonexistent/switchboard/socket'})
check(uses_socket(r) is False, 'a missing socket (SWITCHBOARD_SOCKET) falls back to D-Bus')
with tempfile.TemporaryDirectory() as d:
    dead = os.path.join(d, 'socket')
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(dead)           # bound, never listening: connect() gets ECONNREFUSED
    r = expect(0, 'status', '--json', env={'SWITCHBOARD_SOCKET': dead})
    check(uses_socket(r) is False, 'a refusing socket falls back to D-Bus')
    expect(69, '--socket=' + dead, 'get', 'k', err_contains=["cannot connect to the hub's socket " + dead])
    s.close()

# ---- the same script over both backends ----------------------------------

hub = Hub()


def script(p):
    """The commands, in namespace p; each result is compared across backends."""
    bad_key = 'bad\x01key'
    long_topic = 't' * 300
    return [
        ('set', p + '.a', '1'),
        ('get', p + '.a'),
        ('get', '--json', p + '.a'),
        ('set', p + '.a', 'two words ü'),
        ('get', p + '.a'),
        ('get', p + '.missing'),
        ('delete', p + '.missing'),
        ('set', '--if-revision', '999999', p + '.a', 'x'),
        ('set', '--if-revision', '0', p + '.a', 'x'),
        ('set', '--if-revision', '0', p + '.new', 'created'),
        ('set', '', 'v'),
        ('get', bad_key),
        ('set', p + '.neg', '--', '-1'),
        ('set', p + '.bin', b'\xff\xfe raw'),
        ('get', p + '.bin'),
        ('get', '--json', p + '.bin'),
        ('list', p + '.'),
        ('list', '--json', p + '.'),
        ('delete', p + '.a'),
        ('get', p + '.a'),
        ('list', p + '.nothing.'),
        ('publish', 'a..b', 'x'),
        ('publish', long_topic, 'x'),
        ('publish', p + '.t', 'hello'),
        ('publish', p + '.bin', b'\xff\x00'[:1] + b'bytes'),
        ('publish', '--retain', p + '.r.one', 'kept'),
        ('publish', '--retain', p + '.r.two', b'\xfe'),
        ('subscribe', '--retained', '--count', '2', p + '.r.>'),
        ('subscribe', '--retained', '--json', '--count', '2', p + '.r.>'),
        ('subscribe', 'bad..pattern'),
        ('subscribe', p + '.ok', 'bad..pattern'),
        ('watch', 'bad\x01prefix'),
        ('clear-retained', p + '.r.>'),
        ('clear-retained', p + '.r.>'),
        ('clear-retained', 'x..y'),
    ]


def normalise(text, p):
    text = text.replace(p, 'P')
    text = re.sub(r'"(seq|revision)":\d+', r'"\1":N', text)
    return text


def run_script(backend, p):
    results = []
    for args in script(p):
        args = [a if isinstance(a, str) else os.fsdecode(a) for a in args]
        r = run(backend, *args, binary=True)
        out = r.out.decode('utf-8', 'surrogateescape')
        results.append((args, r.rc, normalise(out, p), normalise(r.err, p)))
    return results


dres = run_script('--dbus', 'viadbus')
sres = run_script('--socket', 'viasock')
for d, s in zip(dres, sres):
    args = ' '.join(repr(a) for a in d[0][:4])
    check(d[1:] == s[1:], 'same result over D-Bus and the socket for %s: %r vs %r' % (args, d[1:], s[1:]))

# The script covers every exit status the hub can cause, and both kinds of output.
codes = {r[1] for r in dres}
check(codes >= {0, 1, 3, 4}, 'the script exercises exit statuses 0, 1, 3 and 4 (%r)' % sorted(codes))
check(any(r[2] for r in dres) and any(r[3] for r in dres), 'the script compares stdout and stderr')
byargs = {tuple(r[0]): r for r in sres}
check(byargs[('get', 'viasock.bin')][2] == '\udcff\udcfe raw',
      'get of a binary value writes its raw bytes over the socket')
check(byargs[('subscribe', '--retained', '--count', '2', 'viasock.r.>')][2] ==
      'P.r.one kept\nP.r.two base64:/g==\n', 'retained text and binary payloads over the socket')

finish()
