#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-ordering.py: 1000 publishes from one client reach a subscriber in
# publish order, with strictly increasing sequence numbers, and no gaps.
#
# The publisher pipelines its calls (a window of outstanding async calls),
# so the hub sees them back to back. The unicast stream of a Subscribe must
# hold every message, each with the seq Publish returned for it. The
# broadcast stream seen through a match rule may be conflated per topic (the
# default, [dbus] broadcast-conflate=auto, when the bus falls behind): per topic, an in-order subsequence
# that ends with the topic's last message, and hub.info counts every
# message it left out.

import sbtest
from sbtest import Conn, check, check_eq, fail, log

N = 1000
WINDOW = 100


def test_order():
    pub = Conn('publisher')
    pub.call('GetInfo')                         # activate
    sub = Conn('subscriber')
    sid = sub.subscribe('order.>', False)
    listener = Conn('listener')
    listener.add_match("type='signal',interface='org.switchboard.Hub1',arg0namespace='order'")
    published_before = pub.prop('MessagesPublished')

    replies = {}
    errors = []
    state = {'next': 0, 'outstanding': 0}

    def send_more():
        while state['next'] < N and state['outstanding'] < WINDOW:
            i = state['next']
            state['next'] += 1
            state['outstanding'] += 1

            def ok(seq, i=i):
                replies[i] = seq
                state['outstanding'] -= 1
                send_more()

            def err(e, i=i):
                errors.append((i, e))
                state['outstanding'] -= 1
                send_more()
            pub.call_async('Publish', 'ss', ('order.stream.%d' % (i % 7), str(i)), ok, err)

    send_more()
    sbtest.wait_until(lambda: len(replies) + len(errors) == N or errors,
                      'replies to %d pipelined Publish calls (got %d)' % (N, len(replies)),
                      timeout=60)
    if errors:
        i, e = errors[0]
        fail('Publish #%d failed: %s: %s' % (i, e.get_dbus_name(), e.get_dbus_message()))

    seqs = [replies[i] for i in range(N)]
    check(all(b > a for a, b in zip(seqs, seqs[1:])),
          'Publish replies: seq not strictly increasing in call order')

    def check_stream(conn, what, pred):
        sbtest.wait_until(lambda: len([s for s in conn.signals if pred(s)]) >= N
                          or any(s.member == 'Gap' for s in conn.signals),
                          '%d %s Message signals (have %d)'
                          % (N, what, len([s for s in conn.signals if pred(s)])), timeout=60)
        gaps = [s for s in conn.signals if s.member == 'Gap']
        if gaps:
            fail('%s: the hub reported a gap %r (MessagesDropped=%r)'
                 % (what, tuple(gaps[0].args), pub.prop('MessagesDropped')))
        got = [s for s in conn.signals if pred(s)]
        check(all(s.member == 'Message' for s in got), '%s: not all Message' % what)
        payloads = [int(s.args[1]) for s in got]
        if payloads != list(range(N)):
            bad = next(k for k, (a, b) in enumerate(zip(payloads, range(N))) if a != b)
            fail('%s: out of order at position %d: %r' % (what, bad, payloads[bad:bad + 5]))
        got_seqs = [s.args[2] for s in got]
        check(all(b > a for a, b in zip(got_seqs, got_seqs[1:])),
              '%s: seq not strictly increasing' % what)
        check_eq(got_seqs, seqs, '%s: seq equals the value Publish returned' % what)
        check(all(s.args[0] == 'order.stream.%d' % (i % 7) for i, s in enumerate(got)),
              '%s: topics' % what)
        log('%s: %d messages in order, seq %d..%d' % (what, N, got_seqs[0], got_seqs[-1]))

    check_stream(sub, 'unicast', lambda s: s.dest == sub.name and s.member.startswith('Message'))

    def broadcast():
        return [s for s in listener.signals if s.dest is None and s.member.startswith('Message')]
    last = {}
    for i in range(N):
        last['order.stream.%d' % (i % 7)] = (i, seqs[i])
    def latest():
        return {s.args[0]: (int(s.args[1]), s.args[2]) for s in broadcast()}
    sbtest.wait_until(lambda: latest() == last, 'the last message of each of the 7 topics as a broadcast signal',
                      timeout=60)
    got = broadcast()
    check(not [s for s in listener.signals if s.member == 'Gap'], 'broadcast: no gap')
    for topic in last:
        mine = [(int(s.args[1]), s.args[2]) for s in got if s.args[0] == topic]
        check(all(b > a for a, b in zip(mine, mine[1:])), 'broadcast %s: in order: %r' % (topic, mine[:5]))
        check(all(seqs[p] == q for p, q in mine), 'broadcast %s: seq equals what Publish returned' % topic)
    conflated = pub.call('GetInfo')['dbus']['broadcast_conflated']
    check_eq(len(got) + conflated, N, 'broadcast signals + conflated (%d + %d)' % (len(got), conflated))
    log('broadcast: %d signals, %d conflated, each topic ends with its last message' % (len(got), conflated))
    check_eq(pub.prop('MessagesPublished'), published_before + N, 'MessagesPublished')
    check_eq(pub.prop('MessagesDropped'), 0, 'MessagesDropped')
    sub.unsubscribe(sid)


def test_sequential_order():
    # Sequential calls from a second client: seq continues the hub-wide counter.
    pub = Conn('sequential')
    sub = Conn('subscriber2')
    sub.subscribe('order.seq', False)
    seqs = [pub.publish('order.seq', str(i)) for i in range(100)]
    check(all(b == a + 1 for a, b in zip(seqs, seqs[1:])),
          'sequential publishes on an otherwise idle hub: seq should step by one: %r' % seqs[:5])
    msgs = lambda: [s for s in sub.signals if s.member == 'Message']
    sbtest.wait_until(lambda: len(msgs()) >= 100, '100 unicast messages')
    check_eq([(s.args[1], s.args[2]) for s in msgs()],
             [(str(i), seqs[i]) for i in range(100)], 'sequential stream')


if __name__ == '__main__':
    sbtest.main([test_order, test_sequential_order])
