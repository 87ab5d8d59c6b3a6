#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-signals.py: the hub's signals as real D-Bus clients see them.
#
# A passive listener adds the applet's match rule (arg0namespace='sensors')
# and must see a broadcast Message for every publish under "sensors" and
# nothing else; explicit subscribers get unicast signals (destination = their
# unique name) for matching topics only; retained values are replayed first
# and can be cleared; the payload's bytes decide Message vs MessageBinary;
# store changes reach everyone as broadcast KeyChanged and watchers as
# unicast. Negative checks ("X was not sent") use a sentinel published after
# X: the hub sends in order, so once the sentinel is in, X would be too.

import sbtest
from sbtest import Conn, check, check_eq, broadcast, unicast_to, is_msg, fmt_signals, both

MATCH_SENSORS = ("type='signal',interface='org.switchboard.Hub1',member='Message',"
                 "arg0namespace='sensors'")
MATCH_SENSORS_BIN = ("type='signal',interface='org.switchboard.Hub1',member='MessageBinary',"
                     "arg0namespace='sensors'")
MATCH_KEYS = "type='signal',interface='org.switchboard.Hub1',member='KeyChanged'"
MATCH_KEYS_BIN = "type='signal',interface='org.switchboard.Hub1',member='KeyChangedBinary'"

pub = None          # the publisher; adds no match rules, subscribes to nothing
applet = None       # a passive listener with match rules only


def setup():
    global pub, applet
    pub = Conn('publisher')
    # Activate the hub before anyone listens, so every check below is about
    # a running hub.
    pub.call('GetInfo')
    applet = Conn('applet')
    for rule in (MATCH_SENSORS, MATCH_SENSORS_BIN, MATCH_KEYS, MATCH_KEYS_BIN):
        applet.add_match(rule)


def drain_applet():
    """Every broadcast published so far has reached the applet: discard them (behind a sentinel)."""
    seq = pub.publish('sensors.drain', 'sentinel')
    applet.wait_signal(lambda s: broadcast(s) and s.member == 'Message' and tuple(s.args[::2]) ==
                       ('sensors.drain', seq), 'the drain sentinel')
    applet.take()


def test_broadcast_follows_match_rule():
    seq1 = pub.publish('sensors.kitchen.temp', '21.5')
    seq_other = pub.publish('other.x', 'not for sensors')
    seq_ns = pub.publish('sensorsfoo.x', 'namespace is per token')
    seq2 = pub.publish('sensors', 'the namespace itself')
    check(seq1 < seq_other < seq_ns < seq2, 'seq not increasing: %r'
          % ([seq1, seq_other, seq_ns, seq2],))
    got = applet.wait_signal(is_msg('Message', 'sensors', 'the namespace itself'),
                             "broadcast Message for 'sensors'")
    check(all(broadcast(s) for s in got), 'applet got a non-broadcast signal: %s'
          % fmt_signals(got))
    check_eq([tuple(s.args) for s in got],
             [('sensors.kitchen.temp', '21.5', seq1), ('sensors', 'the namespace itself', seq2)],
             "broadcast Messages seen through arg0namespace='sensors'")
    check_eq(got[0].path, sbtest.PATH, 'signal path')
    check_eq(applet.take(), [], 'further signals')


def test_unicast_subscription_star():
    sub = Conn('subscriber-star')
    sid = sub.subscribe('sensors.*.temp', False)
    check(sid > 0, 'Subscribe returned id %r' % sid)
    topics = ['sensors.kitchen.temp', 'sensors.kitchen.humidity', 'sensors.a.b.temp',
              'sensors.temp', 'other.kitchen.temp', 'sensors.hall.temp']
    seqs = {t: pub.publish(t, 'v-' + t) for t in topics}
    got = sub.wait_signal(is_msg('Message', 'sensors.hall.temp'), 'unicast sensors.hall.temp')
    for s in got:
        check_eq(s.dest, sub.name, 'destination of %s%r' % (s.member, tuple(s.args)))
    check_eq([tuple(s.args) for s in got],
             [('sensors.kitchen.temp', 'v-sensors.kitchen.temp', seqs['sensors.kitchen.temp']),
              ('sensors.hall.temp', 'v-sensors.hall.temp', seqs['sensors.hall.temp'])],
             "unicast Messages for 'sensors.*.temp'")
    # The applet, which did not subscribe, got broadcasts only.
    # Broadcasts go out after the loop iteration's other work: wait for the last one.
    seen = applet.wait_signal(both(broadcast, is_msg('Message', 'sensors.hall.temp')),
                              'the broadcast of sensors.hall.temp')
    check(all(broadcast(s) for s in seen), 'applet got unicast: %s' % fmt_signals(seen))
    check_eq(sorted(s.args[0] for s in seen),
             sorted(t for t in topics if t.startswith('sensors.')), 'applet broadcasts')
    # After Unsubscribe: nothing more. A second subscription is the sentinel.
    sub.unsubscribe(sid)
    sid2 = sub.subscribe('sentinel.one', False)
    check(sid2 != sid, 'subscription ids reused: %r' % sid)
    pub.publish('sensors.kitchen.temp', 'after unsubscribe')
    pub.publish('sentinel.one', 'x')
    got = sub.wait_signal(is_msg('Message', 'sentinel.one'), 'sentinel after Unsubscribe')
    check_eq([s.args[0] for s in got], ['sentinel.one'], 'signals after Unsubscribe')
    drain_applet()
    sub.close()


def test_unicast_tail_wildcard():
    sub = Conn('subscriber-tail')
    sid = sub.subscribe('sensors.>', False)
    check(sid > 0, 'Subscribe returned id %r' % sid)
    topics = ['sensors', 'sensors.a', 'other.a', 'sensors.a.b.c', 'sensorsx.a', 'sensors.z']
    seqs = [pub.publish(t, 'p') for t in topics]
    got = sub.wait_signal(is_msg('Message', 'sensors.z'), "unicast 'sensors.z'")
    check(all(s.dest == sub.name for s in got), 'not unicast: %s' % fmt_signals(got))
    check_eq([(s.args[0], s.args[2]) for s in got],
             [('sensors.a', seqs[1]), ('sensors.a.b.c', seqs[3]), ('sensors.z', seqs[5])],
             "'sensors.>' (one or more trailing tokens)")
    # A second, overlapping subscription of the same client: one signal per
    # matching subscription.
    sid2 = sub.subscribe('sensors.*', False)
    seq = pub.publish('sensors.q', 'twice')
    pub.publish('sensors.sentinel.deep', 'end')      # matches sensors.> only
    got = sub.wait_signal(is_msg('Message', 'sensors.sentinel.deep'), 'sentinel')
    check_eq([(s.args[0], s.args[2]) for s in got],
             [('sensors.q', seq), ('sensors.q', seq), ('sensors.sentinel.deep', got[-1].args[2])],
             'one copy per matching subscription')
    sub.unsubscribe(sid)
    sub.unsubscribe(sid2)
    drain_applet()
    sub.close()


def test_retained_replay_and_clear():
    a_seq = pub.publish_retained('sensors.retained.a', 'A1')
    a_seq = pub.publish_retained('sensors.retained.a', 'A2')        # replaces A1
    b_bytes = b'\xff\xfe\x00binary'
    b_seq = pub.publish_binary('sensors.retained.b', b_bytes, True)
    o_seq = pub.publish_retained('other.retained', 'O')
    check(a_seq < b_seq < o_seq, 'seq not increasing')
    topics_before = pub.prop('Topics')

    sub = Conn('subscriber-retained')
    sub.subscribe('sensors.retained.*', True)
    live = pub.publish('sensors.retained.c', 'live')
    got = sub.wait_signal(is_msg('Message', 'sensors.retained.c'), 'live message after replay')
    check(all(s.dest == sub.name for s in got), 'not unicast: %s' % fmt_signals(got))
    replay = got[:-1]
    check_eq(sorted((s.member, s.args[0], s.args[1], s.args[2]) for s in replay),
             [('Message', 'sensors.retained.a', 'A2', a_seq),
              ('MessageBinary', 'sensors.retained.b', b_bytes, b_seq)],
             'retained replay (before the live message, last value per topic, original seq)')
    check_eq(tuple(got[-1].args), ('sensors.retained.c', 'live', live), 'live message')

    # A subscriber without with_retained gets no replay.
    sub2 = Conn('subscriber-no-retained')
    sub2.subscribe('sensors.retained.*', False)
    pub.publish('sensors.retained.d', 'live2')
    got = sub2.wait_signal(is_msg('Message', 'sensors.retained.d'), 'live2')
    check_eq([s.args[0] for s in got], ['sensors.retained.d'], 'with_retained=false: no replay')

    # ClearRetained counts what it removed.
    check_eq(pub.call('ClearRetained', 's', 'nothing.matches.>'), 0, 'ClearRetained(no match)')
    n = pub.call('ClearRetained', 's', 'sensors.retained.*')
    check_eq(n, 2, "ClearRetained('sensors.retained.*')")
    check_eq(pub.prop('Topics'), topics_before - 2, 'Topics after ClearRetained')
    check_eq(pub.call('ClearRetained', 's', 'sensors.retained.*'), 0, 'second ClearRetained')

    sub3 = Conn('subscriber-after-clear')
    sub3.subscribe('sensors.retained.*', True)
    pub.publish('sensors.retained.z', 'sentinel')
    got = sub3.wait_signal(is_msg('Message', 'sensors.retained.z'), 'sentinel')
    check_eq([s.args[0] for s in got], ['sensors.retained.z'],
             'no retained replay after ClearRetained')
    # other.retained survived.
    sub4 = Conn('subscriber-other')
    sub4.subscribe('other.>', True)
    got = sub4.wait_signal(is_msg('Message', 'other.retained'), 'retained other.retained')
    check_eq(tuple(got[-1].args), ('other.retained', 'O', o_seq), 'untouched retained value')
    check_eq(pub.call('ClearRetained', 's', '>'), 1, "ClearRetained('>')")
    for c in (sub, sub2, sub3, sub4):
        c.close()
    drain_applet()


def test_binary_vs_text():
    cases = [
        (b'\xff\x00\x80abc', 'MessageBinary'),          # not UTF-8
        (b'a\x00b', 'MessageBinary'),                   # UTF-8 but with NUL
        (b'\xc3\x28', 'MessageBinary'),                 # invalid sequence
        (b'hello \xc3\xa9 \xe2\x82\xac', 'Message'),    # valid UTF-8
        (b'', 'Message'),                               # empty text
    ]
    sub = Conn('subscriber-binary')
    sub.subscribe('sensors.bin.>', False)
    for i, (payload, member) in enumerate(cases):
        topic = 'sensors.bin.t%d' % i
        seq = pub.publish_binary(topic, payload, False)
        want = payload if member == 'MessageBinary' else payload.decode('utf-8')
        for who, pred in ((applet, broadcast), (sub, unicast_to(sub))):
            got = who.wait_signal(lambda s: s.args[0] == topic, '%s for %s' % (member, topic))
            check_eq(len(got), 1, 'signals on %s up to %s: %s' % (who.label, topic,
                                                                     fmt_signals(got)))
            s = got[0]
            check(pred(s), '%s: wrong destination %r' % (who.label, s.dest))
            check_eq(s.member, member, 'signal for payload %r' % payload)
            check_eq(s.args[1], want, 'payload bytes of %s' % topic)
            check(type(s.args[1]) is type(want), 'payload type %r' % type(s.args[1]))
            check_eq(s.args[2], seq, 'seq')
    sub.close()


def test_key_changed():
    watcher = Conn('watcher')
    wid = watcher.call('Watch', 's', 'cfg.')
    check(wid > 0, 'Watch id %r' % wid)
    r1 = pub.call('Set', 'ss', 'cfg.theme', 'dark')
    r_other = pub.call('Set', 'ss', 'zz.other', 'x')
    r2 = pub.call('SetBinary', 'say', 'cfg.blob', sbtest.dbus.ByteArray(b'\x00\xff'))
    r3 = pub.call('SetBinary', 'say', 'cfg.text', sbtest.dbus.ByteArray(b'plain'))
    existed = pub.call('Delete', 's', 'cfg.theme')
    check_eq(existed, True, 'Delete(existing)')
    check(r1 < r_other < r2 < r3, 'revisions not increasing: %r' % ([r1, r_other, r2, r3],))
    r4 = pub.call('Set', 'ss', 'cfg.last', 'end')

    want_all = [('KeyChanged', 'cfg.theme', 'dark', r1, False),
                ('KeyChanged', 'zz.other', 'x', r_other, False),
                ('KeyChangedBinary', 'cfg.blob', b'\x00\xff', r2, False),
                ('KeyChanged', 'cfg.text', 'plain', r3, False),
                ('KeyChanged', 'cfg.theme', None, None, True),
                ('KeyChanged', 'cfg.last', 'end', r4, False)]

    def norm(s):
        k, v, rev, deleted = s.args
        if deleted:
            check_eq(v, '', 'value in KeyChanged for a deleted key')
            return (s.member, k, None, None, deleted), rev
        return (s.member, k, v, rev, deleted), rev

    got = applet.wait_signal(lambda s: s.member == 'KeyChanged' and s.args[0] == 'cfg.last',
                             'broadcast KeyChanged for cfg.last')
    got = [s for s in got if s.member.startswith('KeyChanged')]
    check(all(broadcast(s) for s in got), 'not broadcast: %s' % fmt_signals(got))
    check_eq([norm(s)[0] for s in got], want_all, 'broadcast KeyChanged')
    del_rev = norm(got[4])[1]
    check(r3 < del_rev < r4, 'revision of the delete %r not between %r and %r'
          % (del_rev, r3, r4))

    got = watcher.wait_signal(lambda s: s.args[0] == 'cfg.last', "unicast KeyChanged for 'cfg.'")
    check(all(s.dest == watcher.name for s in got), 'not unicast: %s' % fmt_signals(got))
    check_eq([norm(s)[0] for s in got], [w for w in want_all if w[1].startswith('cfg.')],
             "unicast KeyChanged to Watch('cfg.')")

    # Unwatch: nothing more; a second watch is the sentinel.
    watcher.call('Unwatch', 't', wid)
    watcher.call('Watch', 's', 'sentinel')
    pub.call('Set', 'ss', 'cfg.after', 'unwatched')
    pub.call('Set', 'ss', 'sentinel', 'x')
    got = watcher.wait_signal(lambda s: s.args[0] == 'sentinel', 'KeyChanged for sentinel')
    check_eq([s.args[0] for s in got], ['sentinel'], 'signals after Unwatch')

    # Delete of a missing key: existed=false and no signal.
    check_eq(pub.call('Delete', 's', 'cfg.never'), False, 'Delete(missing)')
    pub.call('Set', 'ss', 'sentinel', 'y')
    got = applet.wait_signal(lambda s: s.args[0] == 'sentinel' and s.args[1] == 'y', 'sentinel')
    check_eq([s.args[0] for s in got if s.member.startswith('Key')],
             ['cfg.after', 'sentinel', 'sentinel'], 'broadcasts (no signal for a missing key)')
    watcher.close()


def test_watch_everything():
    watcher = Conn('watch-all')
    watcher.call('Watch', 's', '')
    rev = pub.call('Set', 'ss', 'any.key', 'v')
    got = watcher.wait_signal(lambda s: s.args[0] == 'any.key', "KeyChanged via Watch('')")
    check_eq([(s.member, tuple(s.args), s.dest) for s in got],
             [('KeyChanged', ('any.key', 'v', rev, False), watcher.name)], "Watch('')")
    watcher.close()
    drain_applet()


if __name__ == '__main__':
    sbtest.main([setup, test_broadcast_follows_match_rule, test_unicast_subscription_star,
                 test_unicast_tail_wildcard, test_retained_replay_and_clear, test_binary_vs_text,
                 test_key_changed, test_watch_everything])
