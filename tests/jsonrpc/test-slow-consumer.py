# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Slow clients (docs/protocol.md, "Limits and slow clients"), with a small
# [jsonrpc] max-output. Run as `test-slow-consumer.py drop` or `... disconnect`
# (the policy is read once, at start, so each needs its own hub).
#
# drop: a subscriber stops reading while a publisher sends many messages. The
# publisher is never stalled (every publish is answered promptly),
# messages_dropped grows, and when the subscriber reads again it gets what
# was queued, then a gap notice whose first_seq..last_seq are exactly the
# seqs it missed, then later messages. Also: a client that pipelines requests
# without reading replies is throttled (the hub stops reading it) without
# the hub's memory growing with the number of requests, other clients are
# served meanwhile, and every reply arrives once it reads again.
#
# disconnect: the slow subscriber is disconnected instead, counted in
# jsonrpc.slow_disconnects; the publisher is never stalled.

import json
import select
import sys
import time

import sbrpc
from sbrpc import Conn, check, check_eq, log

MAX_OUTPUT = 65536
PAYLOAD = 'p' * 1000
N_PUBLISH = 3000
# A publish answered slower than this is a stall (generous for ASan on a busy 2-vCPU machine).
MAX_LATENCY = 2.0
# Requests a non-reading client may get in before the hub must have stopped reading it.
LIMIT_BYTES = 64 * 1024 * 1024

policy = sys.argv[1] if len(sys.argv) > 1 else 'drop'
pub = None


def setup():
    global pub
    check(policy in ('drop', 'disconnect'), 'usage: test-slow-consumer.py drop|disconnect')
    # No broadcast: messages_dropped then counts the socket's drops only.
    sbrpc.write_config('[jsonrpc]\nmax-output=%d\nslow-consumer=%s\n[dbus]\nbroadcast=false\n'
                       % (MAX_OUTPUT, policy))
    sbrpc.activate()
    pub = Conn(label='publisher')


def hub_rss_kib():
    with open('/proc/%d/status' % sbrpc.hub_pid()) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    fail('no VmRSS')


def fail(msg):
    sbrpc.fail(msg)


def publish_many(n, topic):
    """Publish @n messages one by one; return their seqs and the slowest reply time."""
    seqs, worst = [], 0.0
    for i in range(n):
        t0 = time.monotonic()
        seqs.append(pub.call('publish', {'topic': topic, 'payload': PAYLOAD})['seq'])
        worst = max(worst, time.monotonic() - t0)
    return seqs, worst


def test_drop_and_gap():
    slow = Conn(label='slow subscriber')
    sid = slow.call('subscribe', {'pattern': 'slow.>'})['id']
    dropped0 = sbrpc.info(pub)['messages_dropped']

    t0 = time.monotonic()
    seqs, worst = publish_many(N_PUBLISH, 'slow.data')
    took = time.monotonic() - t0
    log('%d publishes while the subscriber sleeps: %.2f s, slowest reply %.1f ms'
        % (N_PUBLISH, took, worst * 1000))
    check(worst < MAX_LATENCY, 'the publisher stalled: a reply took %.2f s' % worst)
    i = sbrpc.info(pub)
    dropped = i['messages_dropped'] - dropped0
    check(dropped > 0, 'messages_dropped did not grow (%r)' % i['messages_dropped'])
    log('messages_dropped: %d of %d' % (dropped, N_PUBLISH))

    # Resume reading: the queued messages, then the gap notice.
    got = []
    while True:
        m = slow.next_note()
        if m['method'] == 'gap':
            gap = m['params']
            break
        check_eq(m['method'], 'message', 'notification before the gap')
        check_eq(m['params']['subscription'], sid, 'subscription id')
        got.append(m['params']['seq'])
    check(got, 'nothing was delivered before the buffer filled')
    check_eq(got, seqs[:len(got)], 'the messages before the gap: the first ones published, in order')
    missing = seqs[len(got):]
    check_eq(gap, {'id': sid, 'first_seq': missing[0], 'last_seq': missing[-1]}, 'gap notice')
    check_eq(len(missing), dropped, 'messages_dropped equals the missing messages')
    log('delivered %d, then gap %d..%d (%d messages)' % (len(got), gap['first_seq'], gap['last_seq'],
                                                       len(missing)))
    # Later messages arrive whole and in order.
    later, worst = publish_many(50, 'slow.later')
    check_eq([slow.next_note('message')['params']['seq'] for _ in later], later, 'messages after the gap')
    check_eq(sbrpc.info(pub)['messages_dropped'] - dropped0, dropped, 'no drops once reading again')
    slow.close()


def test_disconnect():
    slow = Conn(label='slow subscriber')
    slow.call('subscribe', {'pattern': 'slow.>'})
    i0 = sbrpc.info(pub)
    check_eq(i0['jsonrpc']['slow_disconnects'], 0, 'slow_disconnects at the start')

    seqs, worst = [], 0.0
    deadline = time.monotonic() + 60
    while True:
        s, w = publish_many(100, 'slow.data')
        seqs += s
        worst = max(worst, w)
        i = sbrpc.info(pub)
        if i['jsonrpc']['slow_disconnects'] >= 1:
            break
        check(time.monotonic() < deadline, 'the slow subscriber was not disconnected after %d messages'
              % len(seqs))
    check_eq(i['jsonrpc']['slow_disconnects'], 1, 'jsonrpc.slow_disconnects')
    check(worst < MAX_LATENCY, 'the publisher stalled: a reply took %.2f s' % worst)
    log('disconnected after %d publishes; slowest reply %.1f ms' % (len(seqs), worst * 1000))
    sbrpc.wait_info(lambda i: sbrpc.socket_clients(i) == 1, 'the slow subscriber to be gone', conn=pub)

    # What reached the socket before the close is whole messages in order,
    # except perhaps a frame cut short by the close.
    got = []
    slow.sock.settimeout(10)
    data = bytearray()
    while True:
        chunk = slow.sock.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    data = bytes(slow.buf) + bytes(data)
    frames, rest = [], data
    while len(rest) >= 4:
        n = int.from_bytes(rest[:4], 'big')
        if len(rest) < 4 + n:
            break
        frames.append(json.loads(rest[4:4 + n]))
        rest = rest[4 + n:]
    got = [f['params']['seq'] for f in frames if f.get('method') == 'message']
    check(got, 'nothing was delivered before the disconnect')
    check_eq(got, seqs[:len(got)], 'messages before the disconnect')
    log('%d messages arrived before the close; %d bytes of a cut frame' % (len(got), len(rest)))
    slow.close()
    # Others go on as before.
    check('seq' in pub.call('publish', ['slow.after', 'x']), 'publish after the disconnect')


def test_pipelined_requests_throttled():
    # Large replies: a list of 200 values of 1000 bytes is about 210 KB per reply.
    for k in range(200):
        pub.call('set', {'key': 'bp.%03d' % k, 'value': PAYLOAD})
    greedy = Conn(label='greedy')
    greedy.sock.setblocking(False)
    req = sbrpc.frame({'jsonrpc': '2.0', 'id': 0, 'method': 'list', 'params': {'prefix': 'bp.'}})
    rss0 = hub_rss_kib()
    sent, stopped = 0, False
    batch = req * 256
    pending = b''
    poller = select.poll()
    poller.register(greedy.sock, select.POLLOUT)
    # Write requests and read nothing. The hub must stop reading them: the
    # socket then stays unwritable (a measurement window, not a wait for
    # readiness). A hub that keeps reading takes them all.
    while sent < LIMIT_BYTES:
        if not pending:
            pending = batch
        try:
            n = greedy.sock.send(pending)
            pending = pending[n:]
            sent += n
        except BlockingIOError:
            if not poller.poll(1000):
                stopped = True
                break
    check(stopped, 'the hub kept reading requests (%d bytes) whose replies are not read' % sent)
    requests = sent // len(req)
    log('the hub stopped reading after %d bytes (%d requests)' % (sent, requests))
    # Others are served promptly meanwhile, and the throttled connection stays throttled.
    worst = 0.0
    for _ in range(50):
        t1 = time.monotonic()
        pub.call('hub.info')
        worst = max(worst, time.monotonic() - t1)
    check(worst < MAX_LATENCY, 'another client waited %.2f s' % worst)
    check(not poller.poll(0), 'the hub took more requests from a client that does not read its replies')
    rss1 = hub_rss_kib()
    log('hub RSS %d KiB -> %d KiB while throttling; other client slowest reply %.1f ms'
        % (rss0, rss1, worst * 1000))
    # The requests it read (at most what the kernel buffers hold, plus one read) must not
    # have been answered in full into memory: one read of 64 KiB holds ~1000 requests,
    # ~210 MB of replies.
    check(rss1 - rss0 < 64 * 1024, 'hub RSS grew by %d KiB for a client that does not read'
          % (rss1 - rss0))
    # Reading again, it gets its replies, whole and in order (the first 100
    # here: all of them would be hundreds of MB).
    greedy.sock.setblocking(True)
    for k in range(100):
        r = greedy.recv(timeout=30)
        check(r.get('id') == 0 and len(r.get('result', {}).get('entries', [])) == 200,
              'reply %d: %r' % (k, str(r)[:200]))
    greedy.close()
    sbrpc.wait_info(lambda i: sbrpc.socket_clients(i) == 1, 'the greedy client to be gone', conn=pub)
    log('hub RSS after the greedy client left: %d KiB' % hub_rss_kib())


def test_pipelined_requests_all_answered():
    # Requests read in one go wait in the hub while their replies are over
    # max-output; as the client reads, the hub must go on with them even
    # though no more bytes arrive from the client.
    c = Conn(label='pipeline')
    n = 40
    c.send_raw(b''.join(sbrpc.frame({'jsonrpc': '2.0', 'id': i, 'method': 'list', 'params': ['bp.']})
                        for i in range(n)))
    for i in range(n):
        r = c.recv()
        check(r.get('id') == i and len(r.get('result', {}).get('entries', [])) == 200,
              'reply %d of %d: %r' % (i, n, str(r)[:200]))
    check('version' in c.call('hub.info'), 'hub.info after the pipelined requests')
    log('%d pipelined replies of %d KB each, in order' % (n, len(json.dumps(r)) // 1000))
    c.close()


if __name__ == '__main__':
    if policy == 'disconnect':
        sbrpc.main([setup, test_disconnect])
    else:
        sbrpc.main([setup, test_drop_and_gap, test_pipelined_requests_throttled,
                    test_pipelined_requests_all_answered])
