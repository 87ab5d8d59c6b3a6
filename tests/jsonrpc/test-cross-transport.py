# SPDX-License-Identifier: LGPL-2.1-or-later
#
# One hub, three transports: what a D-Bus client publishes (busctl, or a
# python3-dbus client) reaches socket subscribers, what a socket client
# publishes reaches D-Bus subscribers, and FIFO lines reach both; store
# changes made on one side are seen by watches on the other. Payload bytes
# cross unchanged: non-UTF-8 published with payload_base64 arrives at a D-Bus
# Subscribe-r as MessageBinary, a D-Bus PublishBinary of non-UTF-8 bytes
# arrives at a socket subscriber as payload_base64. `sender.transport` (and
# the kernel's uid/pid, the bus's unique name) are right in each case, and
# seq numbers agree across transports. A `compact` subscription gets the
# same messages without `sender`, and `retained` only when true, beside a
# plain one on the same publishes.

import base64
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'integration'))

import dbus     # noqa: E402

import sbrpc    # noqa: E402
import sbtest   # noqa: E402
from sbrpc import Conn, check, check_eq, log   # noqa: E402
from sbtest import unicast_to, is_msg, both     # noqa: E402

sock_sub = None     # socket subscriber to 'x.>' and watcher of 'x.'
sock_pub = None     # socket publisher
dbus_sub = None     # python3-dbus Subscribe-r of 'x.>' and Watch-er of 'x.'
dbus_pub = None     # python3-dbus publisher


def setup():
    global sock_sub, sock_pub, dbus_sub, dbus_pub
    dbus_pub = sbtest.Conn('dbus-publisher')
    dbus_pub.call('GetInfo')    # activates the hub
    # The hub asks the bus for a D-Bus client's credentials on its first
    # publish or subscribe; until the answer is in, uid and pid are unknown
    # (absent). The bus answers that before it routes our next call.
    dbus_pub.publish('warm.up', 'hello')
    sock_sub = Conn(label='socket-subscriber')
    sock_pub = Conn(label='socket-publisher')
    check(sock_sub.call('subscribe', {'pattern': 'x.>'})['id'] > 0, 'socket subscribe')
    check(sock_sub.call('watch', {'prefix': 'x.'})['id'] > 0, 'socket watch')
    dbus_sub = sbtest.Conn('dbus-subscriber')
    dbus_sub.subscribe('x.>', False)
    dbus_sub.call('Watch', 's', 'x.')


def check_sender(params, transport, what, pid=None, name=None):
    s = params.get('sender')
    check(isinstance(s, dict), '%s: no sender: %r' % (what, params))
    check_eq(s.get('transport'), transport, '%s: sender.transport' % what)
    if transport != 'hub':
        check(isinstance(s.get('client'), int) and s['client'] > 0, '%s: sender.client %r' % (what, s))
    if pid is not None:
        check_eq(s.get('pid'), pid, '%s: sender.pid' % what)
        check_eq(s.get('uid'), os.getuid(), '%s: sender.uid' % what)
    if name is not None:
        check_eq(s.get('name'), name, '%s: sender.name' % what)
    if transport != 'dbus':
        check('name' not in s, '%s: sender.name is for D-Bus only: %r' % (what, s))
    return s


def socket_message(topic, what):
    m = sock_sub.next_note('message')
    p = m['params']
    check_eq(p.get('topic'), topic, '%s: topic at the socket subscriber' % what)
    return p


def dbus_unicast(member, topic, what):
    got = dbus_sub.wait_signal(both(unicast_to(dbus_sub), is_msg(member, topic)), what)
    check_eq(len(got), 1, '%s: unicast signals before it (%s)' % (what, sbtest.fmt_signals(got)))
    return got[-1]


def test_dbus_to_socket():
    seq = dbus_pub.publish('x.from.dbus', 'hello from D-Bus')
    p = socket_message('x.from.dbus', 'python3-dbus Publish')
    check_eq((p['payload'], p['seq'], p['retained']), ('hello from D-Bus', seq, False), 'message')
    check_sender(p, 'dbus', 'python3-dbus Publish', pid=os.getpid(), name=dbus_pub.name)
    dbus_unicast('Message', 'x.from.dbus', 'unicast Message to the D-Bus subscriber')

    # A short-lived client's one call carries its kernel-verified uid and pid too: the hub
    # answers a new peer's first call only once the bus has told it who the peer is.
    proc = subprocess.Popen(['busctl', '--user', 'call', 'org.switchboard.Hub1', '/org/switchboard/Hub1',
                             'org.switchboard.Hub1', 'Publish', 'ss', 'x.from.busctl', 'hello from busctl'],
                            stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=30)
    check(out.startswith('t '), 'busctl Publish printed %r' % out)
    p = socket_message('x.from.busctl', 'busctl Publish')
    check_eq((p['payload'], p['seq']), ('hello from busctl', int(out.split()[1])), 'message from busctl')
    s = check_sender(p, 'dbus', 'busctl Publish', pid=proc.pid)
    check(s.get('name', '').startswith(':'), 'busctl sender name %r' % s)
    check(s.get('name') != dbus_pub.name, 'busctl and python3-dbus have one name')
    dbus_unicast('Message', 'x.from.busctl', 'busctl message at the D-Bus subscriber')


def test_socket_to_dbus():
    seq = sock_pub.call('publish', {'topic': 'x.from.socket', 'payload': 'hello from the socket'})['seq']
    sig = dbus_unicast('Message', 'x.from.socket', 'socket publish at the D-Bus subscriber')
    check_eq(tuple(sig.args), ('x.from.socket', 'hello from the socket', seq), 'Message args')
    p = socket_message('x.from.socket', 'socket publish')
    check_sender(p, 'unix', 'socket publish', pid=os.getpid())
    # The socket client's id is the one the hub gave this connection; another
    # connection of the same process is another client.
    other = sock_sub.call('publish', ['x.self', 'me'])['seq']
    p2 = socket_message('x.self', 'own publish')
    check_eq(p2['seq'], other, 'own publish seq')
    check(p2['sender']['client'] != p['sender']['client'], 'two connections share a client id: %r %r'
          % (p['sender'], p2['sender']))
    dbus_unicast('Message', 'x.self', 'own publish at the D-Bus subscriber')


def test_fifo_to_both():
    subprocess.run(['sh', '-c', 'echo \'{"jsonrpc":"2.0","method":"publish","params":'
                    '{"topic":"x.from.fifo","payload":"hello from the FIFO"}}\' > "$1"', 'sh',
                    sbrpc.fifo_path()], check=True, timeout=10)
    p = socket_message('x.from.fifo', 'FIFO publish')
    check_eq(p['payload'], 'hello from the FIFO', 'FIFO payload')
    check_sender(p, 'fifo', 'FIFO publish')
    sig = dbus_unicast('Message', 'x.from.fifo', 'FIFO publish at the D-Bus subscriber')
    check_eq(tuple(sig.args), ('x.from.fifo', 'hello from the FIFO', p['seq']), 'Message args')


def test_binary_socket_to_dbus():
    data = bytes([0xff, 0xfe, 0x00, 0x80, 0x41, 0xc3, 0x28]) + bytes(range(256))
    seq = sock_pub.call('publish', {'topic': 'x.bin.socket',
                                    'payload_base64': base64.b64encode(data).decode()})['seq']
    sig = dbus_unicast('MessageBinary', 'x.bin.socket', 'MessageBinary at the D-Bus subscriber')
    check_eq(tuple(sig.args), ('x.bin.socket', data, seq), 'MessageBinary args')
    p = socket_message('x.bin.socket', 'binary publish')
    check('payload' not in p, 'non-UTF-8 bytes arrived as text: %r' % p)
    check_eq(base64.b64decode(p['payload_base64']), data, 'bytes at the socket subscriber')
    # Text sent as base64 is text: it arrives as Message and as payload.
    sock_pub.call('publish', {'topic': 'x.text.b64', 'payload_base64': base64.b64encode('t\u00e9xt'.encode()).decode()})
    sig = dbus_unicast('Message', 'x.text.b64', 'text published as base64')
    check_eq(sig.args[1], 't\u00e9xt', 'payload')
    check_eq(socket_message('x.text.b64', 'text as base64').get('payload'), 't\u00e9xt', 'payload as text')


def test_binary_dbus_to_socket():
    data = b'\x00\xff binary \xc0\xaf\xed\xa0\x80'
    seq = dbus_pub.publish_binary('x.bin.dbus', data)
    p = socket_message('x.bin.dbus', 'PublishBinary')
    check('payload' not in p, 'non-UTF-8 bytes arrived as text: %r' % p)
    check_eq(base64.b64decode(p['payload_base64']), data, 'bytes at the socket subscriber')
    check_eq(p['seq'], seq, 'seq')
    check_sender(p, 'dbus', 'PublishBinary', pid=os.getpid(), name=dbus_pub.name)
    sig = dbus_unicast('MessageBinary', 'x.bin.dbus', 'MessageBinary at the D-Bus subscriber')
    check_eq(sig.args[1], data, 'MessageBinary bytes')
    dbus_pub.publish_binary('x.bin.text', 'plain text'.encode())
    check_eq(socket_message('x.bin.text', 'PublishBinary of text').get('payload'), 'plain text',
             'PublishBinary of text arrives as payload')
    dbus_unicast('Message', 'x.bin.text', 'PublishBinary of text at the D-Bus subscriber')


def key_changed(what):
    m = sock_sub.next_note('key_changed')
    return m['params']


def dbus_key_changed(member, key, what):
    got = dbus_sub.wait_signal(lambda s: s.member == member and s.dest == dbus_sub.name and s.args[0] == key, what)
    check_eq(len([s for s in got if s.dest == dbus_sub.name]), 1, '%s: unicast signals (%s)'
             % (what, sbtest.fmt_signals(got)))
    return got[-1]


def test_store_socket_to_dbus():
    rev = sock_pub.call('set', {'key': 'x.theme', 'value': 'dark'})['revision']
    sig = dbus_key_changed('KeyChanged', 'x.theme', 'KeyChanged for a socket set')
    check_eq(tuple(sig.args), ('x.theme', 'dark', rev, False), 'KeyChanged args')
    p = key_changed('socket set')
    check_eq((p['key'], p['value'], p['revision'], p['deleted']), ('x.theme', 'dark', rev, False), 'key_changed')
    check_sender(p, 'unix', 'socket set', pid=os.getpid())
    # Binary value, then a delete.
    rev2 = sock_pub.call('set', {'key': 'x.theme', 'value_base64': base64.b64encode(b'\xff\x00').decode()})['revision']
    sig = dbus_key_changed('KeyChangedBinary', 'x.theme', 'KeyChangedBinary for a binary socket set')
    check_eq(tuple(sig.args), ('x.theme', b'\xff\x00', rev2, False), 'KeyChangedBinary args')
    p = key_changed('binary set')
    check_eq(base64.b64decode(p['value_base64']), b'\xff\x00', 'value_base64 of key_changed')
    check_eq(sock_pub.call('delete', ['x.theme']), {'existed': True}, 'delete')
    sig = dbus_key_changed('KeyChanged', 'x.theme', 'KeyChanged for a socket delete')
    check_eq(sig.args[3], True, 'deleted flag at D-Bus')
    p = key_changed('delete')
    check_eq((p['key'], p['deleted']), ('x.theme', True), 'key_changed for a delete')


def test_store_dbus_to_socket():
    rev = dbus_pub.call('Set', 'ss', 'x.lang', 'de')
    p = key_changed('D-Bus Set')
    check_eq((p['key'], p['value'], p['revision'], p['deleted']), ('x.lang', 'de', rev, False), 'key_changed')
    check_sender(p, 'dbus', 'D-Bus Set', pid=os.getpid(), name=dbus_pub.name)
    dbus_key_changed('KeyChanged', 'x.lang', 'KeyChanged to the D-Bus watcher')
    check_eq(sock_pub.call('get', ['x.lang']), {'key': 'x.lang', 'value': 'de', 'revision': rev}, 'get via socket')
    rev2 = dbus_pub.call('SetBinary', 'say', 'x.lang', dbus.ByteArray(b'\x80'))
    p = key_changed('D-Bus SetBinary')
    check_eq((base64.b64decode(p['value_base64']), p['revision']), (b'\x80', rev2), 'binary key_changed')
    dbus_key_changed('KeyChangedBinary', 'x.lang', 'KeyChangedBinary to the D-Bus watcher')
    # The FIFO sets too.
    subprocess.run(['sh', '-c', 'echo \'{"jsonrpc":"2.0","method":"set","params":["x.fifo","v"]}\' > "$1"',
                    'sh', sbrpc.fifo_path()], check=True, timeout=10)
    p = key_changed('FIFO set')
    check_eq((p['key'], p['value']), ('x.fifo', 'v'), 'key_changed from the FIFO')
    check_sender(p, 'fifo', 'FIFO set')
    dbus_key_changed('KeyChanged', 'x.fifo', 'KeyChanged for a FIFO set')


def test_order_across_transports():
    # One D-Bus publisher's messages reach a socket subscriber in publish order, and the other way round.
    n = 200
    seqs = [dbus_pub.publish('x.order.dbus', str(i)) for i in range(n)]
    got = [socket_message('x.order.dbus', 'ordered message %d' % i) for i in range(n)]
    check_eq([(p['payload'], p['seq']) for p in got], [(str(i), s) for i, s in enumerate(seqs)],
             'D-Bus to socket order')
    seqs = [sock_pub.call('publish', ['x.order.sock', str(i)])['seq'] for i in range(n)]
    got = dbus_sub.wait_signal(both(unicast_to(dbus_sub), is_msg('Message', 'x.order.sock', str(n - 1))),
                               'the last ordered message at D-Bus')
    got = [s for s in got if s.dest == dbus_sub.name and s.args[0] == 'x.order.sock']
    check_eq([(s.args[1], s.args[2]) for s in got], [(str(i), s) for i, s in enumerate(seqs)],
             'socket to D-Bus order')
    for i in range(n):
        socket_message('x.order.sock', 'own ordered message')
    log('%d messages each way in order' % n)


def test_compact_subscription():
    compact = Conn(label='compact-subscriber')
    plain = Conn(label='plain-subscriber')
    cid = compact.call('subscribe', {'pattern': 'c.>', 'compact': True})['id']
    pid = plain.call('subscribe', {'pattern': 'c.>'})['id']
    seqs = [dbus_pub.publish('c.dbus', 'from D-Bus'),
            sock_pub.call('publish', {'topic': 'c.sock', 'payload_base64': base64.b64encode(b'\xff\x00').decode()})['seq']]
    want = [{'subscription': cid, 'topic': 'c.dbus', 'payload': 'from D-Bus', 'seq': seqs[0]},
            {'subscription': cid, 'topic': 'c.sock', 'payload_base64': '/wA=', 'seq': seqs[1]}]
    for w in want:
        m = compact.next_note('message')
        check_eq(m['params'], w, 'compact notification')
        p = plain.next_note('message')['params']
        check_eq(p['subscription'], pid, 'plain subscription id')
        check_eq(p['seq'], w['seq'], 'plain seq')
        check(p['retained'] is False and 'sender' in p, 'plain notification keeps retained and sender: %r' % p)
    # A retained value replayed to a compact subscription says so.
    seq = sock_pub.call('publish_retained', {'topic': 'c.kept', 'payload': 'v'})['seq']
    compact.next_note('message')
    plain.next_note('message')
    cid2 = compact.call('subscribe', {'pattern': 'c.kept', 'with_retained': True, 'compact': True})['id']
    check_eq(compact.next_note('message')['params'],
             {'subscription': cid2, 'topic': 'c.kept', 'payload': 'v', 'seq': seq, 'retained': True},
             'a compact retained replay')
    compact.call_error('subscribe', {'pattern': 'c.>', 'compact': 'yes'}, code=-32602)
    compact.close()
    plain.close()


if __name__ == '__main__':
    sbrpc.main([
        setup,
        test_dbus_to_socket,
        test_socket_to_dbus,
        test_fifo_to_both,
        test_binary_socket_to_dbus,
        test_binary_dbus_to_socket,
        test_store_socket_to_dbus,
        test_store_dbus_to_socket,
        test_order_across_transports,
        test_compact_subscription,
    ])
