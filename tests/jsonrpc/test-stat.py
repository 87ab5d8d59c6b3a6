# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Stat, the operation added through the op table alone (the XML, one core
# handler): a key's revision, size, when it changed and who changed it, the
# same on D-Bus (busctl, python3-dbus) and JSON-RPC (a stdlib socket
# client), whichever transport made the change; errors as for Get.

import os
import time

import sbrpc
import sbtest
from sbfixture import busctl
from sbrpc import Conn, check, check_eq, log

sock = None
bus = None


def setup():
    global sock, bus
    bus = sbtest.Conn('stat-dbus')
    bus.call('GetInfo')         # activates the hub
    sock = Conn(label='stat-socket')


def test_socket_change_seen_on_both():
    t0 = int(time.time() * 1e6)
    rev = sock.call('set', {'key': 'stat.theme', 'value': 'dark'})['revision']
    r = sock.call('stat', {'key': 'stat.theme'})
    check_eq(r['key'], 'stat.theme', 'stat echoes the key')
    check_eq(r['revision'], rev, 'stat revision')
    check_eq(r['size'], 4, 'stat size')
    check(t0 - 5_000_000 <= r['modified'] <= int(time.time() * 1e6) + 5_000_000,
          'modified %d is not about now (%d)' % (r['modified'], t0))
    w = r['writer']
    check_eq(w.get('transport'), 'unix', 'writer transport')
    check_eq(w.get('uid'), os.getuid(), 'writer uid (SO_PEERCRED)')
    check_eq(w.get('pid'), os.getpid(), 'writer pid (SO_PEERCRED)')

    revision, size, modified, writer = bus.call('Stat', 's', 'stat.theme')
    check_eq((revision, size, modified), (rev, 4, r['modified']), 'D-Bus Stat agrees with JSON-RPC stat')
    check_eq(writer.get('transport'), 'unix', 'D-Bus Stat: writer transport')
    check_eq(writer.get('pid'), os.getpid(), 'D-Bus Stat: writer pid')


def test_dbus_change_seen_on_both():
    rev = bus.call('SetBinary', 'say', 'stat.blob', bytearray(b'\x00\xff\x01'))
    r = sock.call('stat', ['stat.blob'])
    check_eq((r['revision'], r['size']), (rev, 3), 'stat of a binary value: no value, its size')
    check('value' not in r and 'value_base64' not in r, 'stat carries no value: %r' % r)
    check_eq(r['writer'].get('transport'), 'dbus', 'writer transport')
    check_eq(r['writer'].get('name'), bus.bus.get_unique_name(), 'writer: the bus unique name')
    out = busctl('call', sbtest.BUS_NAME, sbtest.PATH, sbtest.IFACE, 'Stat', 's', 'stat.blob')
    check(out.startswith('ttta{sv} %d 3 ' % rev), 'busctl Stat: %r' % out)
    log('busctl Stat: %s' % out.strip())


def test_errors_as_for_get():
    sbrpc.check_error(sock.request('stat', {'key': 'stat.none'}).get('error'), -32004, 'NotFound',
                      mentions='stat.none', what='stat of a missing key')
    sbrpc.check_error(sock.request('stat', {'key': ''}).get('error'), -32003, 'InvalidKey', what='stat of ""')
    sbrpc.check_error(sock.request('stat', {}).get('error'), -32602, what='stat without a key')
    bus.expect_error('NotFound', 'Stat', 's', 'stat.none', mentions='stat.none')
    bus.expect_error('InvalidKey', 'Stat', 's', '')


def test_described():
    d = {m['name']: m for m in sock.call('rpc.describe')['methods']}
    check_eq(d['stat']['dbus'], ['Stat'], 'rpc.describe: the D-Bus twin of stat')
    check_eq(d['stat']['params'], ['key'], 'rpc.describe: the params of stat')


if __name__ == '__main__':
    sbrpc.main([setup, test_socket_change_seen_on_both, test_dbus_change_seen_on_both, test_errors_as_for_get,
                test_described])
