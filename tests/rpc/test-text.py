# SPDX-License-Identifier: LGPL-2.1-or-later
#
# One definition of text (issue: hostile text). Unicode noncharacters
# (U+FDD0..U+FDEF, U+xFFFE/U+xFFFF) are valid UTF-8 but sd-bus refuses them
# in a string, so the hub counts them as bytes everywhere: a socket
# publish of one reaches a D-Bus subscriber as MessageBinary with the same
# bytes, a socket subscriber as payload_base64; a key holding one is
# refused (it would poison D-Bus List); a socket server's reply holding one
# reaches a D-Bus caller as NotText, its reply_error message as an escaped
# message, never as a hang.

import base64

import rpctest
import sbtest
from rpctest import Sock, Bus, check, check_eq, log, ERR

NONCHARS = ['\ufdd0', '\ufdef', '\ufffe', '\uffff', '\U0001fffe', '\U0010ffff']


def test_publish_noncharacters():
    sub = sbtest.Conn('text-dbus-subscriber')
    sid = sub.subscribe('text.>', False)
    sock_sub = Sock(label='text-socket-subscriber')
    sock_sub.call('subscribe', {'pattern': 'text.>'})
    pub = Sock(label='text-publisher')
    for i, ch in enumerate(NONCHARS):
        payload = 'a' + ch + 'b'
        pub.call('publish', {'topic': 'text.t%d' % i, 'payload': payload})
        got = sub.wait_signal(lambda s: s.member in ('Message', 'MessageBinary', 'Gap') and s.args[0] != 'warm',
                              'the message with U+%04X' % ord(ch))
        s = got[-1]
        check_eq(s.member, 'MessageBinary', 'U+%04X reaches D-Bus as MessageBinary' % ord(ch))
        check_eq(bytes(s.args[1]), payload.encode('utf-8'), 'U+%04X: the same bytes on D-Bus' % ord(ch))
        n = sock_sub.next_note('message')['params']
        check_eq(base64.b64decode(n.get('payload_base64', '')), payload.encode('utf-8'),
                 'U+%04X: the same bytes to a socket subscriber, as base64' % ord(ch))
    sub.call('Unsubscribe', 't', sid)
    log('%d noncharacters published as bytes' % len(NONCHARS))


def test_noncharacter_keys_refused():
    c = Sock(label='text-keys')
    for ch in NONCHARS:
        r = c.request('set', {'key': 'k' + ch, 'value': 'v'})
        check_eq((r.get('error') or {}).get('code'), -32003, 'a key with U+%04X is InvalidKey' % ord(ch))
    c.call('set', {'key': 'k.plain', 'value': 'v\ufdd0'})        # a value with one is fine: bytes
    bus = sbtest.Conn('text-list')
    entries = bus.call('List', 's', '')
    check(('k.plain', '', entries[0][2]) in [tuple(e) for e in entries] or
          any(e[0] == 'k.plain' and e[1] == '' for e in entries), 'D-Bus List works: %r' % (entries,))
    name, msg = bus.call_error('Get', 's', 'k.plain')
    check_eq(name, ERR + 'NotText', 'D-Bus Get of a value holding a noncharacter')
    check_eq(bytes(bus.call('GetBinary', 's', 'k.plain')[0]), 'v\ufdd0'.encode('utf-8'), 'GetBinary has it')


def test_reply_noncharacters_to_dbus():
    server = Sock(label='text-server')
    server.serve('text.svc')
    caller = Bus('text-caller')
    res = caller.call_async('text.svc', 'x', 5000)
    req = server.next_request()
    server.reply(req['id'], '\uffff')
    rpctest.wait_async(res, 'the answer to a reply holding U+FFFF')
    check_eq(res.get('error', (None,))[0], ERR + 'NotText', 'a reply holding U+FFFF reaches D-Bus as NotText')

    res = caller.call_async('text.svc', 'y', 5000)
    req = server.next_request()
    server.request('reply_error', {'id': req['id'], 'name': 'org.example.Error.Odd', 'message': 'odd \ufdd0'})
    rpctest.wait_async(res, 'the answer to a reply_error holding U+FDD0')
    err = res.get('error') or (None, None)
    check_eq(err[0], 'org.example.Error.Odd', 'reply_error with U+FDD0 in its message: the name passes')
    check('odd' in err[1], 'the message, escaped: %r' % err[1])


if __name__ == '__main__':
    rpctest.main([test_publish_noncharacters, test_noncharacter_keys_refused, test_reply_noncharacters_to_dbus])
