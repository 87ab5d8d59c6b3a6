#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-properties.py: the hub's D-Bus properties and GetInfo.
#
# Version is the project version from meson.build; StartTime lies between
# the moment this test started (before it activated the hub) and now, and
# never changes; the counters move by exactly what this test did (it is the
# only client on its private bus); Clients emits PropertiesChanged when a
# client appears and when it leaves; the read-only properties refuse Set;
# GetInfo agrees with the properties and has the documented keys and types.

import time

import dbus

import sbtest
from sbtest import Conn, check, check_eq, fail, log, PROPS, IFACE, BUS_NAME, PATH

T0 = int(time.time() * 1e6)
conn = None

TYPES = {'Version': dbus.String, 'StartTime': dbus.UInt64, 'Clients': dbus.UInt32,
         'Subscriptions': dbus.UInt32, 'Topics': dbus.UInt32, 'Keys': dbus.UInt32, 'Queues': dbus.UInt32, 'Services': dbus.Dictionary,
         'MessagesPublished': dbus.UInt64, 'MessagesDropped': dbus.UInt64}

INFO_TYPES = {'version': dbus.String, 'start_time': dbus.UInt64, 'clients': dbus.UInt32,
              'clients_by_transport': dbus.Dictionary, 'subscriptions': dbus.UInt32,
              'topics': dbus.UInt32, 'keys': dbus.UInt32, 'queues': dbus.UInt32, 'messages_published': dbus.UInt64,
              'messages_delivered': dbus.UInt64, 'messages_dropped': dbus.UInt64,
              'store_changes': dbus.UInt64, 'limits': dbus.Dictionary}


def raw_getall():
    return conn.bus.call_blocking(BUS_NAME, PATH, PROPS, 'GetAll', 's', (IFACE,))


def raw_info():
    return conn.bus.call_blocking(BUS_NAME, PATH, IFACE, 'GetInfo', '', ())


def test_types():
    global conn
    conn = Conn('props')
    props = raw_getall()
    check_eq(sorted(props.keys()), sorted(TYPES.keys()), 'GetAll property names')
    for k, t in TYPES.items():
        check(isinstance(props[k], t), 'property %s has D-Bus type %s, expected %s'
              % (k, type(props[k]).__name__, t.__name__))
    info = raw_info()
    missing = set(INFO_TYPES) - set(info.keys())
    check(not missing, 'GetInfo lacks keys %s' % sorted(missing))
    for k, t in INFO_TYPES.items():
        check(isinstance(info[k], t), 'GetInfo %s has type %s, expected %s'
              % (k, type(info[k]).__name__, t.__name__))
    check_eq(info['clients_by_transport'].signature, 'su', 'clients_by_transport signature')
    check_eq(info['limits'].signature, 'st', 'limits signature')
    check(len(info['limits']) > 0, 'GetInfo limits is empty')


def test_version_and_start_time():
    want = sbtest.project_version()
    check_eq(conn.prop('Version'), want, 'Version (meson.build project version)')
    st = conn.prop('StartTime')
    now = int(time.time() * 1e6)
    check(T0 - 1000000 <= st <= now, 'StartTime %d not between test start %d and now %d'
          % (st, T0, now))
    info = sbtest.plain(raw_info())
    check_eq(info['version'], want, 'GetInfo version')
    check_eq(info['start_time'], st, 'GetInfo start_time')
    conn.publish('props.tick', 'x')
    check_eq(conn.prop('StartTime'), st, 'StartTime is constant')
    check_eq(conn.prop('Version'), want, 'Version is constant')
    log('Version %s, StartTime %d (%.3f s after test start)' % (want, st, (st - T0) / 1e6))


def test_read_only():
    for name, sig, val in (('Version', 's', 'x'), ('Clients', 'u', 7),
                           ('MessagesPublished', 't', 0)):
        v = {'s': dbus.String, 'u': dbus.UInt32, 't': dbus.UInt64}[sig](val)
        try:
            conn.bus.call_blocking(BUS_NAME, PATH, PROPS, 'Set', 'ssv', (IFACE, name, v))
        except dbus.exceptions.DBusException as e:
            check_eq(e.get_dbus_name(), 'org.freedesktop.DBus.Error.PropertyReadOnly',
                     'Set(%s)' % name)
            continue
        fail('Set(%s) succeeded on a read-only property' % name)


def test_counters():
    p0 = conn.props()
    i0 = sbtest.plain(raw_info())

    sid = conn.subscribe('props.>', False)
    check_eq(conn.prop('Subscriptions'), p0['Subscriptions'] + 1, 'Subscriptions after Subscribe')
    conn.publish('props.a', '1')
    conn.publish_binary('props.b', b'\xff', False)
    conn.publish_retained('props.r1', 'r')
    conn.publish_retained('props.r1', 'r again')         # same topic: still one
    conn.publish_binary('props.r2', b'\x00', True)
    check_eq(conn.prop('MessagesPublished'), p0['MessagesPublished'] + 5, 'MessagesPublished')
    check_eq(conn.prop('Topics'), p0['Topics'] + 2, 'Topics (retained) after two retained topics')
    conn.call('Set', 'ss', 'k1', 'v')
    conn.call('Set', 'ss', 'k1', 'v2')
    conn.call('SetBinary', 'say', 'k2', dbus.ByteArray(b'\x01'))
    check_eq(conn.prop('Keys'), p0['Keys'] + 2, 'Keys after two keys')
    conn.call('Delete', 's', 'k1')
    check_eq(conn.prop('Keys'), p0['Keys'] + 1, 'Keys after Delete')
    check_eq(conn.call('ClearRetained', 's', 'props.r1'), 1, 'ClearRetained(props.r1)')
    check_eq(conn.prop('Topics'), p0['Topics'] + 1, 'Topics after ClearRetained')
    conn.unsubscribe(sid)
    check_eq(conn.prop('Subscriptions'), p0['Subscriptions'], 'Subscriptions after Unsubscribe')
    check_eq(conn.prop('MessagesDropped'), 0, 'MessagesDropped on an idle hub')

    i1 = sbtest.plain(raw_info())
    p1 = conn.props()
    for key, prop in (('clients', 'Clients'), ('subscriptions', 'Subscriptions'),
                      ('topics', 'Topics'), ('keys', 'Keys'), ('queues', 'Queues'),
                      ('messages_published', 'MessagesPublished'),
                      ('messages_dropped', 'MessagesDropped')):
        check_eq(i1[key], p1[prop], 'GetInfo %s vs property %s' % (key, prop))
    check_eq(i1['store_changes'], i0['store_changes'] + 4, 'GetInfo store_changes')
    # All five messages matched our subscription 'props.>': delivered counts at least those.
    check(i1['messages_delivered'] >= i0['messages_delivered'] + 5,
          'messages_delivered %d did not grow by the 5 unicast deliveries (was %d)'
          % (i1['messages_delivered'], i0['messages_delivered']))
    check(i1['clients_by_transport'].get('dbus', 0) >= 1,
          'clients_by_transport has no dbus client: %r' % i1['clients_by_transport'])
    check_eq(sum(i1['clients_by_transport'].values()), i1['clients'],
             'clients_by_transport adds up to clients')


def test_clients_changed():
    watcher = Conn('watcher')
    watcher.add_match("type='signal',interface='org.freedesktop.DBus.Properties',"
                      "member='PropertiesChanged',path='/org/switchboard/Hub1'")
    watcher.call('Watch', 's', 'nothing.')     # make sure the watcher is a client itself
    base = watcher.prop('Clients')
    watcher.take()

    def clients_signal():
        """The value of Clients from the next PropertiesChanged that mentions it."""
        for i, s in enumerate(watcher.signals):
            if s.member != 'PropertiesChanged' or s.args[0] != IFACE:
                continue
            changed, invalidated = s.args[1], s.args[2]
            if 'Clients' in changed:
                del watcher.signals[:i + 1]
                return ('value', changed['Clients'])
            if 'Clients' in invalidated:
                del watcher.signals[:i + 1]
                return ('invalidated', None)
        return None

    newcomer = Conn('newcomer')
    newcomer.subscribe('x.>', False)
    how, v = sbtest.wait_until(clients_signal, 'PropertiesChanged for Clients after a new client')
    if how == 'invalidated':
        v = watcher.prop('Clients')
    check_eq(v, base + 1, 'Clients after a client appeared')
    log('PropertiesChanged Clients=%d (%s)' % (v, how))

    newcomer.close()
    how, v = sbtest.wait_until(clients_signal, 'PropertiesChanged for Clients after a client left')
    if how == 'invalidated':
        v = watcher.prop('Clients')
    check_eq(v, base, 'Clients after the client left')
    # Counters that do not emit must not appear in PropertiesChanged.
    for s in watcher.take(lambda s: s.member == 'PropertiesChanged'):
        bad = set(s.args[1]) | set(s.args[2])
        bad &= {'Subscriptions', 'Topics', 'Keys', 'MessagesPublished', 'MessagesDropped',
                'Version', 'StartTime'}
        check(not bad, 'PropertiesChanged for properties documented as not emitting: %s' % bad)


if __name__ == '__main__':
    sbtest.main([test_types, test_version_and_start_time, test_read_only, test_counters,
                 test_clients_changed])
