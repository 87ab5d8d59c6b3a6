#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-errors.py: every D-Bus error name the hub returns, with a message a
# person can act on, and nothing changed by a refused call.
#
# Before anything activates the hub, this test writes
# $XDG_CONFIG_HOME/switchboard/switchboard.conf with small limits
# (max-payload=16, max-value=16, max-subscriptions=2); the checks at the
# edges of those limits prove that the activated hub honoured the file.
# After every error the retained value, the stored keys and the counters
# are compared with a snapshot, and the hub must still answer.

import dbus

import sbtest
from sbtest import Conn, check, check_eq, log

CONFIG = '[limits]\nmax-payload=16\nmax-value=16\nmax-subscriptions=2\n'
INVALID_ARGS = 'org.freedesktop.DBus.Error.InvalidArgs'

c = None
other = None


def snapshot():
    """Everything a refused call must leave alone."""
    p = c.props()
    return {
        'retained': c.prop('Topics'),
        'keys': c.prop('Keys'),
        'published': p['MessagesPublished'],
        'subscriptions': p['Subscriptions'],
        'key.text': c.call('Get', 's', 'key.text'),
        'key.bin': c.call('GetBinary', 's', 'key.bin'),
        'list': c.call('List', 's', ''),
    }


def expect(name, method, sig, *args, mentions=None):
    """The call fails with @name, and the hub's state is what it was."""
    before = snapshot()
    msg = c.expect_error(name, method, sig, *args, mentions=mentions)
    after = snapshot()
    for k in before:
        check_eq(after[k], before[k], 'after the refused %s(%r...): %s'
                 % (method, args[0] if args else '', k))
    return msg


def setup():
    global c, other
    # The config must exist before the first call activates the hub.
    check(not sbtest.bus_has_owner(Conn('probe')), 'the hub is already running before the test')
    sbtest.write_config(CONFIG)
    c = Conn('errors')
    c.call('Set', 'ss', 'key.text', 'original')
    c.call('SetBinary', 'say', 'key.bin', dbus.ByteArray(b'\xff\x00'))
    c.publish_retained('retained.topic', 'kept')
    other = Conn('other')


def test_limits_from_config():
    info = c.call('GetInfo')
    log('limits reported by GetInfo: %r' % info.get('limits'))
    lim = info.get('limits', {})
    for key, want in (('max-payload', 16), ('max-value', 16), ('max-subscriptions', 2),
                      ('max-topic-length', 256), ('max-key-length', 256)):
        check(key in lim, 'GetInfo limits has no %r: %r' % (key, lim))
        check_eq(lim[key], want, 'GetInfo limits %s (switchboard.conf or default)' % key)


def test_invalid_topics():
    for topic in ('a..b', '.a', 'a.', 'a.*', '*', 'a.>', '>', 'a b', 'a/b', 'ä.b', ''):
        msg = expect('InvalidTopic', 'Publish', 'ss', topic, 'x')
        if topic:
            check(topic in msg, 'the message %r does not name the topic %r' % (msg, topic))
        expect('InvalidTopic', 'PublishRetained', 'ss', topic, 'x')
        expect('InvalidTopic', 'PublishBinary', 'sayb', topic, dbus.ByteArray(b'x'), True)
    # Over the default limits of 256 bytes and 32 tokens.
    expect('LimitExceeded', 'Publish', 'ss', 'a' * 257, 'x')
    expect('LimitExceeded', 'Publish', 'ss', '.'.join(['t'] * 33), 'x')
    # At the limits: accepted.
    c.publish('a' * 256, 'x')
    c.publish('.'.join(['t'] * 32), 'x')


def test_invalid_patterns():
    for pattern in ('a.>.b', '**', 'a.**', 'a*', '>>', 'a..b', '', 'a b', '.a', '>.a'):
        msg = expect('InvalidPattern', 'Subscribe', 'sb', pattern, False)
        if pattern:
            check(pattern in msg, 'the message %r does not name the pattern %r' % (msg, pattern))
        expect('InvalidPattern', 'ClearRetained', 's', pattern)
    expect('LimitExceeded', 'Subscribe', 'sb', 'a.' * 128 + '>', False)


def test_invalid_keys():
    for key in ('', 'a\tb', 'new\nline', '\x7f'):
        expect_invalid_key(key)
    expect('InvalidKey', 'List', 's', 'a\tb')
    expect('InvalidKey', 'Watch', 's', 'a\nb')


def expect_invalid_key(key):
    for method, sig, args in (('Get', 's', ()), ('GetBinary', 's', ()),
                              ('Set', 'ss', ('v',)), ('SetBinary', 'say', (dbus.ByteArray(b'v'),)),
                              ('SetIf', 'sst', ('v', 0)), ('Delete', 's', ())):
        expect('InvalidKey', method, sig, key, *args)


def test_key_too_long():
    # Like every configurable size, an over-long key is LimitExceeded.
    c.call('Set', 'ss', 'k' * 256, 'at the limit')
    check_eq(c.call('Delete', 's', 'k' * 256), True, 'Delete(key of 256 bytes)')
    for method, sig, args in (('Get', 's', ()), ('Set', 'ss', ('v',)), ('Delete', 's', ())):
        msg = expect('LimitExceeded', method, sig, 'k' * 257, *args)
        check('256' in msg, 'the message %r does not state the limit (256 bytes)' % msg)


def test_payload_and_value_limits():
    # max-payload=16 and max-value=16 from switchboard.conf.
    c.publish('limits.ok', 'p' * 16)
    c.publish_binary('limits.ok', b'\xff' * 16, False)
    msg = expect('LimitExceeded', 'Publish', 'ss', 'limits.big', 'p' * 17)
    check('16' in msg, 'the message %r does not state the limit (16 bytes)' % msg)
    expect('LimitExceeded', 'PublishRetained', 'ss', 'retained.topic', 'p' * 17)
    expect('LimitExceeded', 'PublishBinary', 'sayb', 'retained.topic',
           dbus.ByteArray(b'\xff' * 17), True)
    c.call('Set', 'ss', 'limits.v', 'v' * 16)
    c.call('SetBinary', 'say', 'limits.v', dbus.ByteArray(b'\x00' * 16))
    msg = expect('LimitExceeded', 'Set', 'ss', 'key.text', 'v' * 17)
    check('16' in msg, 'the message %r does not state the limit (16 bytes)' % msg)
    expect('LimitExceeded', 'SetBinary', 'say', 'key.text', dbus.ByteArray(b'\x00' * 17))
    rev = c.call('Get', 's', 'key.text')[1]
    expect('LimitExceeded', 'SetIf', 'sst', 'key.text', 'v' * 17, rev)
    check_eq(c.call('Delete', 's', 'limits.v'), True, 'Delete(limits.v)')
    # The retained value survived the refused retained publishes.
    s = Conn('retained-check')
    s.subscribe('retained.topic', True)
    got = s.wait_signal(lambda x: x.args[0] == 'retained.topic', 'retained value')
    check_eq(got[-1].args[1], 'kept', 'retained value after refused publishes')
    s.close()


def test_subscription_limit():
    a = c.subscribe('lim.a', False)
    b = c.subscribe('lim.b', False)
    msg = expect('LimitExceeded', 'Subscribe', 'sb', 'lim.c', False)
    check('2' in msg, 'the message %r does not state the limit (2)' % msg)
    # The limit is per client: another client still may subscribe.
    o = other.subscribe('lim.o', False)
    # Freeing one makes room again.
    c.unsubscribe(a)
    a2 = c.subscribe('lim.c', False)
    c.unsubscribe(a2)
    c.unsubscribe(b)
    other.unsubscribe(o)


def test_not_found():
    expect('NotFound', 'Get', 's', 'no.such.key', mentions='no.such.key')
    expect('NotFound', 'GetBinary', 's', 'no.such.key')
    expect('NotFound', 'Unsubscribe', 't', 987654321)
    expect('NotFound', 'Unsubscribe', 't', 0)
    expect('NotFound', 'Unwatch', 't', 987654321)
    # Another client's subscription and watch: NotFound, and they keep working.
    oid = other.subscribe('foreign.topic', False)
    wid = other.call('Watch', 's', 'foreign.')
    expect('NotFound', 'Unsubscribe', 't', oid)
    expect('NotFound', 'Unwatch', 't', wid)
    seq = c.publish('foreign.topic', 'still subscribed')
    got = other.wait_signal(lambda s: s.args[0] == 'foreign.topic' and s.dest == other.name,
                            "the other client's message")
    check_eq(got[-1].args[2], seq, "seq of the other client's message")
    rev = c.call('Set', 'ss', 'foreign.k', 'v')
    got = other.wait_signal(lambda s: s.args[0] == 'foreign.k', "the other client's KeyChanged")
    check_eq(got[-1].args[2], rev, 'revision in KeyChanged')
    other.unsubscribe(oid)
    other.call('Unwatch', 't', wid)
    # Twice: the second is NotFound.
    expect('NotFound', 'Unsubscribe', 't', oid)
    expect('NotFound', 'Unwatch', 't', wid)
    c.call('Delete', 's', 'foreign.k')


def test_conflict():
    value, rev = c.call('Get', 's', 'key.text')
    check_eq(value, 'original', 'key.text')
    expect('Conflict', 'SetIf', 'sst', 'key.text', 'changed', rev + 1000)
    expect('Conflict', 'SetIf', 'sst', 'key.text', 'changed', 0)       # 0: must not exist
    check_eq(c.call('Get', 's', 'key.text'), ('original', rev), 'key.text after Conflict')
    r1 = c.call('SetIf', 'sst', 'cas.new', 'v1', 0)
    check(r1 > rev, 'SetIf(new) revision %r' % r1)
    expect('Conflict', 'SetIf', 'sst', 'cas.new', 'v2', r1 - 1)
    r2 = c.call('SetIf', 'sst', 'cas.new', 'v2', r1)
    check(r2 > r1, 'SetIf(match) revision %r' % r2)
    check_eq(c.call('Get', 's', 'cas.new'), ('v2', r2), 'cas.new')
    c.call('Delete', 's', 'cas.new')
    expect('Conflict', 'SetIf', 'sst', 'cas.new', 'v3', r2)            # deleted: no revision


def test_not_text():
    msg = expect('NotText', 'Get', 's', 'key.bin')
    check('GetBinary' in msg, 'the message %r does not point to GetBinary' % msg)
    check_eq(c.call('GetBinary', 's', 'key.bin')[0], b'\xff\x00', 'GetBinary(key.bin)')


def test_wrong_signature():
    for method, sig, args in (('Publish', 's', ('onlyone',)),
                              ('Publish', 'su', ('a.b', 5)),
                              ('Publish', 'sss', ('a.b', 'c', 'd')),
                              ('PublishBinary', 'ssb', ('a.b', 'text', False)),
                              ('Subscribe', 's', ('a.>',)),
                              ('Unsubscribe', 'u', (1,)),
                              ('SetIf', 'ssu', ('k', 'v', 0)),
                              ('Get', '', ()),
                              ('GetInfo', 's', ('x',))):
        expect(INVALID_ARGS, method, sig, *args)
    name, msg = c.call_error('NoSuchMethod', '')
    check_eq(name, 'org.freedesktop.DBus.Error.UnknownMethod', 'unknown method')


def test_still_answers():
    info = c.call('GetInfo')
    check_eq(info['version'], sbtest.project_version(), 'GetInfo version at the end')
    check_eq(c.call('Get', 's', 'key.text')[0], 'original', 'key.text at the end')
    check(sbtest.bus_has_owner(c), 'the hub is gone')


if __name__ == '__main__':
    sbtest.main([setup, test_limits_from_config, test_invalid_topics, test_invalid_patterns,
                 test_invalid_keys, test_payload_and_value_limits, test_subscription_limit,
                 test_not_found, test_conflict, test_not_text, test_wrong_signature,
                 test_key_too_long, test_still_answers])
