# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Shared-memory rings end to end, under with-bus.sh: shm-tool (a C client of
# src/shm/ speaking raw JSON-RPC frames) beside socket clients (sbrpc) and a
# D-Bus match rule (python3-dbus).
#
# - a shm publisher's messages reach a socket subscriber (in order, with the
#   hub's seq numbers and sender.transport "shm") and a D-Bus Message match
#   rule of the same topic;
# - a socket publisher's messages reach a shm subscriber with the seqs the
#   publishes returned, also when the reader sleeps in epoll on its reader
#   eventfd; and a shm publisher's reach a shm subscriber, with gaps where
#   a small ring was full;
# - a slow shm reader gets GAP records that, with what it read, account for
#   every message; the publisher is never blocked;
# - a corrupt ring (head out of range, a record header out of range, a
#   subscriber's tail out of range, seen when the ring looks full) is dropped, the hub stays up and other
#   clients go on; the memfd cannot be resized (sealed);
# - shm.close frees a ring, and a client's disconnect frees the rest;
# - a ring that never runs dry does not starve the socket: requests are
#   answered and socket subscribers get the ring's messages meanwhile;
# - a direct pair (shm.subscribe direct:true): the reader gets the
#   publisher's records in order, other subscribers of the topic get none
#   of them and no gap notice, and the pair ends when either side closes
#   (the hub drains the publisher's ring again from where the reader
#   stopped; a reader whose publisher left sees the ring closed).
# - a zero-copy subscriber (shm.subscribe zero_copy:true) gets every record
#   of the publisher's ring as a REF with increasing hub seqs, the same
#   messages and seqs a socket subscriber and a D-Bus match rule see, and
#   socket publishes of the topic as MESSAGE records; it cannot map the
#   publisher's ring writable; a reader that keeps its records holds the
#   publisher back (no gap) while the hub serves everyone else, until it
#   releases them or leaves; the publisher leaving mid-stream leaves the
#   records it has read valid; a reader that corrupts its tail loses its
#   ring, the publisher and the hub go on; a publisher that corrupts its
#   head loses its ring, the reader's ring and the hub go on.

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'integration'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'jsonrpc'))

import sbfixture    # noqa: E402
import sbrpc        # noqa: E402
import sbtest       # noqa: E402
from sbrpc import Conn, check, check_eq, wait_info   # noqa: E402

TOOL = os.environ.get('SB_SHM_TOOL')
dbus_watch = None


class Tool:
    """shm-tool as a child process, its stdout read line by line."""

    def __init__(self, *args):
        self.args = args
        self.p = subprocess.Popen([TOOL] + [str(a) for a in args], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
        self.reader = sbfixture.LineReader(self.p.stdout.fileno())

    def line(self, timeout=sbfixture.TIMEOUT):
        line = self.reader.readline(timeout)
        if line is None:
            sbfixture.fail('shm-tool %s: no line within %s s (status %s)' % (self.args, timeout, self.p.poll()))
        return line

    def tell(self, text):
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def finish(self):
        self.p.stdin.close()
        check_eq(self.p.wait(timeout=sbfixture.TIMEOUT), 0, 'shm-tool %s exit status' % (self.args,))


def end_all(*parts):
    """The tools end and the connections close, in this order; then the hub has no ring left."""
    for p in parts:
        if isinstance(p, Tool):
            p.finish()
        else:
            p.close()
    wait_info(lambda i: i['shm']['rings'] == 0, 'no rings left')


def shm_info(key):
    return (sbrpc.info().get('shm') or {}).get(key)


def setup():
    global dbus_watch
    if not TOOL:
        raise sbfixture.Skip('SB_SHM_TOOL is not set')
    dbus_watch = sbtest.Conn('dbus-watch')
    dbus_watch.call('GetInfo')      # activates the hub
    dbus_watch.add_match("type='signal',interface='org.switchboard.Hub1',member='Message',"
                         "arg0namespace='shm'")
    check_eq(shm_info('rings'), 0, 'rings at start')


def test_shm_to_socket_and_dbus():
    sub = Conn(label='socket-subscriber')
    sub.call('subscribe', {'pattern': 'shm.>'})
    t = Tool('publish', 'shm.a', 100)
    done = t.line()
    check(done.startswith('published 100 '), 'publisher: %r' % done)
    last_seq = int(done.split('last_seq=')[1])
    t.finish()
    prev = 0
    for i in range(1, 101):
        p = sub.next_note('message')['params']
        check_eq((p['topic'], p['payload']), ('shm.a', 'm%d' % i), 'message %d at the socket subscriber' % i)
        check_eq(p['sender']['transport'], 'shm', 'sender.transport')
        check_eq(p['sender']['pid'], t.p.pid, 'sender.pid')
        check(p['seq'] > prev, 'seqs increase')
        prev = p['seq']
    check_eq(prev, last_seq, 'the last seq the ring reports')
    # Broadcast signals are conflated per topic: the last one carries the last message.
    dbus_watch.wait_signal(sbtest.is_msg('Message', 'shm.a', 'm100'), 'Message signal of shm.a')
    sub.close()


def test_socket_to_shm():
    t = Tool('subscribe', 'sock.>', 50)
    check(t.line().startswith('ready'), 'subscriber ready')
    pub = Conn(label='socket-publisher')
    seqs = [pub.call('publish', {'topic': 'sock.t%d' % (i % 3), 'payload': 'p%d' % i})['seq'] for i in range(50)]
    for i in range(50):
        check_eq(t.line(), 'msg %d sock.t%d p%d' % (seqs[i], i % 3, i), 'shm subscriber record %d' % i)
    t.finish()
    pub.close()


def test_socket_to_shm_reader_in_epoll():
    # The reader sleeps in epoll on its reader eventfd, never on the futex.
    t = Tool('subscribe', 'ep.>', 30, 0, '--epoll')
    check(t.line().startswith('ready'), 'subscriber ready')
    pub = Conn(label='socket-publisher')
    for i in range(30):
        seq = pub.call('publish', {'topic': 'ep.t', 'payload': 'e%d' % i})['seq']
        # One at a time: the reader has gone back to sleep before each one.
        check_eq(t.line(), 'msg %d ep.t e%d' % (seq, i), 'epoll reader record %d' % i)
    t.finish()
    pub.close()


def test_shm_to_shm():
    # Ring to ring: the hub writes a batch into the subscriber's ring and
    # publishes its head once, after the batch. A few records: nothing else
    # (a full ring, a gap) would publish it.
    t = Tool('subscribe', 'relay.>', 5, 4096)
    check(t.line().startswith('ready'), 'subscriber ready')
    p = Tool('publish', 'relay.x', 5)
    check(p.line().startswith('published 5 '), 'publisher')
    for i in range(1, 6):
        w = t.line().split()
        check_eq((w[0], w[2], w[3]), ('msg', 'relay.x', 'm%d' % i), 'record %d' % i)
    p.finish()
    t.finish()
    # Many records: the 4 KiB ring fills mid-batch (gaps).
    n = 3000
    t = Tool('subscribe', 'relay.>', n, 4096)
    check(t.line().startswith('ready'), 'subscriber ready')
    p = Tool('publish', 'relay.x', n)
    done = p.line()
    check(done.startswith('published %d ' % n), 'publisher: %r' % done)
    got, covered, prev = 0, 0, 0
    while covered < n:
        w = t.line().split()
        first = int(w[1])
        check(first > prev, 'seqs increase (%d after %d)' % (first, prev))
        if w[0] == 'gap':
            prev = int(w[2])
            covered += prev - first + 1
        else:
            check_eq((w[2], w[3]), ('relay.x', 'm%d' % (covered + 1)), 'record %d' % (covered + 1))
            prev = first
            covered += 1
            got += 1
    check_eq(covered, n, 'messages and gaps account for every message')
    check_eq(prev, int(done.split('last_seq=')[1]), 'the last seq')
    check(got > 0, 'some messages arrived')
    p.finish()
    t.finish()


def test_slow_reader_gets_gap():
    n = 2000
    t = Tool('subscribe', 'slow.>', n, 4096, '--wait-stdin')
    check(t.line().startswith('ready'), 'subscriber ready')
    pub = Conn(label='socket-publisher')
    payload = 'x' * 100
    # Pipelined: the hub never waits for the reader, so every publish is answered.
    for i in range(n):
        pub.send({'jsonrpc': '2.0', 'id': i, 'method': 'publish', 'params': {'topic': 'slow.t', 'payload': payload}})
    seqs = sorted(pub.recv_response()['result']['seq'] for _ in range(n))
    t.tell('go\n')
    got, gaps = [], []
    covered = 0
    while covered < n:
        w = t.line().split()
        if w[0] == 'gap':
            gaps.append((int(w[1]), int(w[2])))
            covered += int(w[2]) - int(w[1]) + 1
        else:
            got.append(int(w[1]))
            covered += 1
    t.finish()
    check(gaps, 'no gap notice for a reader that fell behind')
    missed = set()
    for a, b in gaps:
        missed.update(range(a, b + 1))
    check_eq(sorted(set(got) | missed), seqs, 'messages and gaps account for every seq')
    check(not (set(got) & missed), 'a seq both delivered and in a gap')
    pub.close()


def alive_and_working(what):
    sub = Conn(label='after-' + what)
    sub.call('subscribe', {'pattern': 'after.x'})
    pub = Conn(label='after-pub')
    pub.call('publish', {'topic': 'after.x', 'payload': what})
    check_eq(sub.next_note('message')['params']['payload'], what, 'delivery after %s' % what)
    sub.close()
    pub.close()


def test_corrupt_rings_are_dropped():
    before = shm_info('dropped_rings')
    for mode in ('pub-head', 'pub-record'):
        t = Tool('corrupt', mode)
        check_eq(t.line(), 'dropped', mode)
        t.finish()
        alive_and_working(mode)
    t = Tool('corrupt', 'sub-tail')
    check_eq(t.line(), 'ready', 'sub-tail ready')
    pub = Conn(label='corrupt-pub')
    # The hub reads the reader's tail when the ring looks full: fill its 4 KiB.
    for _ in range(100):
        pub.call('publish', {'topic': 'corrupt.x', 'payload': 'x' * 100})
    check_eq(t.line(), 'dropped', 'sub-tail')
    t.finish()
    pub.close()
    alive_and_working('sub-tail')
    check_eq(shm_info('dropped_rings') - before, 3, 'rings dropped for corruption')


def test_memfd_is_sealed():
    t = Tool('corrupt', 'truncate')
    check_eq(t.line(), 'sealed', 'resizing the memfd')
    t.finish()


def test_close_and_disconnect_free_rings():
    wait_info(lambda i: i['shm']['rings'] == 0, 'no rings left from earlier tests')
    t = Tool('close')
    check_eq(t.line(), 'closed', 'shm.close')
    wait_info(lambda i: i['shm']['rings'] == 1, 'one ring after shm.close')
    t.finish()
    wait_info(lambda i: i['shm']['rings'] == 0 and i['shm']['bytes'] == 0, 'no ring after the disconnect')


def test_socket_served_while_a_ring_streams():
    sub = Conn(label='stream-subscriber')
    sub.call('subscribe', {'pattern': 'stream.x'})
    t = Tool('stream', 'stream.x')
    check_eq(t.line(), 'streaming', 'the ring streams')
    c = Conn(label='during-stream')
    pub = Conn(label='socket-publisher-during-stream')
    for i in range(100):
        c.call('hub.info')
        pub.call('publish', {'topic': 'stream.y', 'payload': str(i)})
    # The ring goes on meanwhile: its messages keep reaching the socket subscriber.
    first = int(sub.next_note('message')['params']['payload'][1:])
    t.tell('stop\n')
    n = int(t.line().split()[1])
    check(n > first, 'the ring went on while the socket was served')
    t.finish()
    c.close()
    pub.close()
    sub.close()


def test_direct_pair_reader_leaves():
    sub = Conn(label='direct-socket-subscriber')
    sub.call('subscribe', {'pattern': 'direct.a'})
    feed = Tool('feed', 'direct.a')
    pub_ring = int(feed.line().split('=')[1])
    published0 = sbrpc.info()['messages_published']
    d = Tool('direct', 'direct.a', 100)
    ready = d.line().split()
    check_eq((ready[0], ready[2], ready[3]), ('ready', 'publisher=%d' % pub_ring, 'kind=3'),
             'the direct reader maps the publisher\'s ring, marked direct')
    check_eq(shm_info('rings'), 2, 'publisher ring and direct ring')
    sbrpc.check_error(Conn(label='second-direct').call_error('shm.subscribe', {'pattern': 'direct.a', 'direct': True}),
                      name='NotFound', what='a second direct reader of a paired ring')
    feed.tell('100\n')
    check_eq(feed.line(), 'wrote 100', 'publisher')
    for i in range(1, 101):
        check_eq(d.line(), 'msg 0 m%d' % i, 'direct record %d (in order; seq 0: not numbered)' % i)
    # The hub counts what the pair moved (every 100 ms and when the pair ends).
    d.tell('close\n')
    check_eq(d.line(), 'closed', 'shm.close of the direct ring')
    wait_info(lambda i: i['messages_published'] - published0 >= 100, 'the 100 direct messages counted as published')
    # Unpaired: the hub reads the publisher's ring again, from where the reader stopped.
    feed.tell('5\n')
    check_eq(feed.line(), 'wrote 5', 'publisher after the pair')
    for i in range(101, 106):
        n = sub.next_note()
        check_eq((n['method'], n['params']['payload']), ('message', 'm%d' % i),
                 'the socket subscriber: no direct message and no gap before m%d' % i)
    end_all(d, feed, sub)


def test_direct_pair_publisher_leaves():
    feed = Tool('feed', 'direct.b')
    feed.line()
    d = Tool('direct', 'direct.b', 3)
    check(d.line().startswith('ready'), 'direct reader ready')
    feed.tell('3\n')
    check_eq(feed.line(), 'wrote 3', 'publisher')
    check_eq([d.line() for _ in range(3)], ['msg 0 m1', 'msg 0 m2', 'msg 0 m3'], 'direct records')
    feed.tell('close\n')
    check_eq(feed.line(), 'closed', 'the publisher closes its ring')
    d.tell('wait-closed\n')
    check_eq(d.line(), 'hub closed it', 'the direct reader sees the pair end')
    wait_info(lambda i: i['shm']['rings'] == 0, 'the direct ring freed with its publisher ring')
    # Nothing to pair with: the publisher's own connection cannot pair either.
    d2 = Tool('direct', 'direct.b', 1)
    refused = d2.line()
    check(refused.startswith('refused') and 'NotFound' in refused, 'direct without a publish ring: %r' % refused)
    d.finish()
    feed.finish()
    d2.finish()


def zc_read(t, n):
    """n records of a zero-copy reader: (kind, seq, topic, payload) each."""
    t.tell('read %d\n' % n)
    out = []
    for _ in range(n):
        kind, seq, topic, payload = t.line().split(' ', 3)
        out.append((kind, int(seq), topic, payload))
    return out


def zc_pair(topic, *size):
    """A publish ring of @topic (shm-tool feed, @size bytes if given) and a zero-copy reader of it, both ready."""
    feed = Tool('feed', topic, *size)
    feed.line()
    zc = Tool('zc', topic)
    check(zc.line().startswith('ready'), 'zero-copy reader ready')
    return feed, zc


def zc_goes_on(zc, topic, payload, label):
    """The zero-copy reader's subscription still gets what a socket client publishes."""
    pub = Conn(label=label)
    seq = pub.call('publish', {'topic': topic, 'payload': payload})['seq']
    check_eq(zc_read(zc, 1), [('msg', seq, topic, payload)], 'the subscription goes on')
    pub.close()


def test_zero_copy_pair():
    sub = Conn(label='zc-socket-subscriber')
    sub.call('subscribe', {'pattern': 'shm.zc1'})
    sbrpc.check_error(Conn(label='zc-early').call_error('shm.subscribe', {'pattern': 'shm.zc1', 'zero_copy': True}),
                      name='NotFound', what='zero_copy without a publish ring')
    feed = Tool('feed', 'shm.zc1')
    pub_ring = int(feed.line().split('=')[1])
    zc = Tool('zc', 'shm.zc1')
    ready = zc.line().split()
    check_eq((ready[0], ready[2], ready[3]), ('ready', 'publisher=%d' % pub_ring, 'ro=1'),
             'the zero-copy reader maps the publisher\'s ring, read-only')
    sbrpc.check_error(Conn(label='zc-second').call_error('shm.subscribe', {'pattern': 'shm.zc1', 'zero_copy': True}),
                      name='NotFound', what='a second zero-copy reader of a paired ring')
    sbrpc.check_error(Conn(label='zc-direct').call_error('shm.subscribe', {'pattern': 'shm.zc1', 'direct': True}),
                      name='NotFound', what='a direct reader of a zero-copy paired ring')
    feed.tell('100\n')
    check_eq(feed.line(), 'wrote 100', 'publisher')
    got = zc_read(zc, 100)
    check_eq([(k, t, p) for k, _, t, p in got], [('ref', 'shm.zc1', 'm%d' % i) for i in range(1, 101)],
             'REF records of every message, in order')
    seqs = [q for _, q, _, _ in got]
    check(all(a < b for a, b in zip(seqs, seqs[1:])), 'hub seqs increase: %r' % seqs[:5])
    for i in range(100):
        p = sub.next_note('message')['params']
        check_eq((p['seq'], p['payload'], p['sender']['transport']), (seqs[i], 'm%d' % (i + 1), 'shm'),
                 'the socket subscriber gets the same message %d' % i)
    dbus_watch.wait_signal(sbtest.is_msg('Message', 'shm.zc1', 'm100'), 'Message signal of shm.zc1')
    # Other transports' messages come as MESSAGE records, in between.
    pub = Conn(label='zc-socket-publisher')
    seq = pub.call('publish', {'topic': 'shm.zc1', 'payload': 'from-socket'})['seq']
    feed.tell('1\n')
    check_eq(feed.line(), 'wrote 1', 'publisher')
    got = zc_read(zc, 2)
    check_eq(got[0], ('msg', seq, 'shm.zc1', 'from-socket'), 'a socket publish as a MESSAGE record')
    check_eq((got[1][0], got[1][3]), ('ref', 'm101'), 'then the ring\'s next record as a REF')
    check(got[1][1] > seq, 'its seq after the socket publish')
    zc.tell('release\n')
    check_eq(zc.line(), 'released', 'release')
    zc.finish()
    feed.finish()
    pub.close()
    sub.close()
    wait_info(lambda i: i['shm']['rings'] == 0, 'no rings left')


def test_zero_copy_reader_holds_publisher():
    sub = Conn(label='zc-hold-subscriber')
    sub.call('subscribe', {'pattern': 'zc.hold'})
    # 4 KiB: records "mN" take 32 bytes, so at most 128 are in the ring at once.
    feed, zc = zc_pair('zc.hold', 4096)
    c = Conn(label='zc-hold-info')
    published0 = c.call('hub.info')['messages_published']
    feed.tell('400\n')
    got = zc_read(zc, 60)
    # The reader keeps every record it read: the hub serves everyone else meanwhile...
    alive_and_working('a reader holding a zero-copy pair')
    # ...but the publisher cannot get more than a ring's worth past the reader (+1: alive_and_working).
    check(c.call('hub.info')['messages_published'] - published0 <= 129, 'the publisher is held back')
    check(feed.reader.readline(0) is None, 'the publisher has not written all 400')
    # Read on, giving the space back after every 60: less than the ring holds.
    while len(got) < 400:
        zc.tell('release\n')
        check_eq(zc.line(), 'released', 'release')
        got += zc_read(zc, min(60, 400 - len(got)))
    check_eq(feed.line(), 'wrote 400', 'the publisher goes on once the reader releases')
    check_eq([p for _, _, _, p in got], ['m%d' % i for i in range(1, 401)], 'every record, no gap')
    seqs = [q for _, q, _, _ in got]
    check(all(a < b for a, b in zip(seqs, seqs[1:])), 'hub seqs increase')
    for i in range(400):
        check_eq(sub.next_note('message')['params']['seq'], seqs[i], 'socket subscriber message %d' % i)
    # The reader holds the publisher again and leaves: the publisher goes on, others get everything.
    zc.tell('release\n')
    check_eq(zc.line(), 'released', 'release')
    published1 = c.call('hub.info')['messages_published']
    feed.tell('400\n')
    zc_read(zc, 50)
    check(c.call('hub.info')['messages_published'] - published1 <= 128, 'the publisher is held back again')
    zc.tell('close\n')
    check_eq(zc.line(), 'closed', 'the zero-copy reader closes its ring')
    check_eq(feed.line(), 'wrote 400', 'the publisher goes on once the reader is gone')
    for i in range(401, 801):
        check_eq(sub.next_note('message')['params']['payload'], 'm%d' % i, 'socket subscriber after the pair')
    end_all(zc, feed, c, sub)


def test_zero_copy_publisher_leaves():
    feed, zc = zc_pair('zc.pub')
    feed.tell('10\n')
    check_eq(feed.line(), 'wrote 10', 'publisher')
    first = zc_read(zc, 4)
    feed.tell('close\n')
    check_eq(feed.line(), 'closed', 'the publisher closes its ring')
    wait_info(lambda i: i['shm']['rings'] == 1, 'the publisher\'s ring freed, the reader\'s left')
    # What the reader had not read yet is still there, in its own mapping.
    rest = zc_read(zc, 6)
    check_eq([p for _, _, _, p in first + rest], ['m%d' % i for i in range(1, 11)], 'every record after the close')
    zc_goes_on(zc, 'zc.pub', 'later', 'zc-after-publisher')
    end_all(zc, feed)


def test_zero_copy_corrupt_reader():
    before = shm_info('dropped_rings')
    sub = Conn(label='zc-corrupt-subscriber')
    sub.call('subscribe', {'pattern': 'zc.bad'})
    feed, zc = zc_pair('zc.bad', 4096)
    zc.tell('corrupt\n')
    check_eq(zc.line(), 'corrupted', 'the reader wrote a bad tail')
    zc.tell('wait-dropped\n')
    # The hub reads the reader's tail when it drains the publisher: it drops the reader's ring.
    feed.tell('300\n')
    check_eq(zc.line(), 'dropped', 'the corrupt reader\'s ring')
    check_eq(feed.line(), 'wrote 300', 'the publisher is not held by a dropped reader')
    for i in range(1, 301):
        check_eq(sub.next_note('message')['params']['payload'], 'm%d' % i, 'socket subscriber message %d' % i)
    alive_and_working('a corrupt zero-copy reader')
    check_eq(shm_info('dropped_rings') - before, 1, 'rings dropped for corruption')
    end_all(zc, feed, sub)


def test_zero_copy_corrupt_publisher():
    before = shm_info('dropped_rings')
    feed, zc = zc_pair('zc.badpub')
    feed.tell('5\n')
    check_eq(feed.line(), 'wrote 5', 'publisher')
    check_eq([p for _, _, _, p in zc_read(zc, 5)], ['m%d' % i for i in range(1, 6)], 'REF records')
    feed.tell('corrupt\n')
    check_eq(feed.line(), 'dropped', 'the corrupt publisher\'s ring')
    wait_info(lambda i: i['shm']['rings'] == 1, 'the reader\'s ring left')
    check_eq(shm_info('dropped_rings') - before, 1, 'rings dropped for corruption')
    alive_and_working('a corrupt zero-copy publisher')
    # The reader's ring and subscription go on.
    zc_goes_on(zc, 'zc.badpub', 'still', 'zc-after-corrupt')
    end_all(zc, feed)


def test_bad_params():
    c = Conn(label='bad-params')
    sbrpc.check_error(c.call_error('shm.publish', {'topic': 'a..b'}), name='InvalidTopic', what='bad topic')
    sbrpc.check_error(c.call_error('shm.publish', {'topic': 'a', 'size': 5000}), code=-32602, mentions='size',
                      what='size not a power of two')
    sbrpc.check_error(c.call_error('shm.publish', {'topic': 'a', 'size': 1 << 30}), code=-32602,
                      mentions='size', what='size over max-size')
    sbrpc.check_error(c.call_error('shm.subscribe', {}), code=-32602, mentions='pattern', what='no pattern')
    sbrpc.check_error(c.call_error('shm.subscribe', {'pattern': 'a', 'direct': True, 'zero_copy': True}),
                      code=-32602, mentions='zero_copy', what='direct and zero_copy')
    sbrpc.check_error(c.call_error('shm.subscribe', {'pattern': 'a', 'zero_copy': 1}), code=-32602,
                      mentions='zero_copy', what='zero_copy not a boolean')
    sbrpc.check_error(c.call_error('shm.close', {'ring': 999}), name='NotFound', what='unknown ring')
    sbrpc.check_error(c.call_error('shm.nothing', {}), code=-32601, what='unknown shm method')
    c.close()


if __name__ == '__main__':
    sbrpc.main([setup, test_shm_to_socket_and_dbus, test_socket_to_shm, test_socket_to_shm_reader_in_epoll,
                test_shm_to_shm, test_slow_reader_gets_gap,
                test_corrupt_rings_are_dropped, test_memfd_is_sealed, test_close_and_disconnect_free_rings,
                test_socket_served_while_a_ring_streams, test_direct_pair_reader_leaves,
                test_direct_pair_publisher_leaves, test_zero_copy_pair, test_zero_copy_reader_holds_publisher,
                test_zero_copy_publisher_leaves, test_zero_copy_corrupt_reader, test_zero_copy_corrupt_publisher,
                test_bad_params])
