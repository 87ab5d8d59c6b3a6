# SPDX-License-Identifier: LGPL-2.1-or-later
#
# 1,000 concurrent socket clients (docs/protocol.md, "Limits and slow
# clients"): each subscribes, one publish reaches every one of them, hub.info
# counts them all, and once they hang up the count comes back down. One more
# client than [limits] max-clients is told so (LimitExceeded) and closed.

import json
import resource
import time

import sbrpc
from sbrpc import Conn, check, check_eq, check_error, log

N = 1000
MAX_CLIENTS = 1100
conn = None


def setup():
    global conn
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = N + MAX_CLIENTS + 64
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            raise sbrpc.Skip('RLIMIT_NOFILE hard limit %d is below %d' % (hard, want))
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    sbrpc.write_config('[limits]\nmax-clients=%d\n' % MAX_CLIENTS)
    sbrpc.activate()
    conn = Conn(label='publisher')
    check_eq(sbrpc.info(conn)['limits']['max-clients'], MAX_CLIENTS, 'max-clients in force')


def open_clients(n, label):
    out = []
    for i in range(n):
        out.append(Conn(label='%s %d' % (label, i)))
    return out


def test_thousand_clients():
    t0 = time.monotonic()
    clients = open_clients(N, 'client')
    for i, c in enumerate(clients):
        c.send({'jsonrpc': '2.0', 'id': i, 'method': 'subscribe', 'params': {'pattern': 'many.>'}})
    for i, c in enumerate(clients):
        r = c.recv()
        check(r.get('id') == i and isinstance(r.get('result', {}).get('id'), int), 'subscribe %d: %r' % (i, r))
    log('%d clients connected and subscribed in %.2f s' % (N, time.monotonic() - t0))
    i = sbrpc.info(conn)
    check_eq(sbrpc.socket_clients(i), N + 1, 'socket clients in hub.info')
    check(i['clients'] >= N + 1, 'clients in hub.info: %r' % i['clients'])
    check(i['subscriptions'] >= N, 'subscriptions in hub.info: %r' % i['subscriptions'])

    # What a publish that no socket client wants counts (the D-Bus broadcast, if on).
    base = i['messages_delivered']
    conn.call('publish', {'topic': 'nobody.wants', 'payload': 'x'})
    delivered = sbrpc.info(conn)['messages_delivered']
    per_publish = delivered - base
    t0 = time.monotonic()
    seq = conn.call('publish', {'topic': 'many.all', 'payload': 'to everyone'})['seq']
    for c in clients:
        m = c.next_note('message')['params']
        check_eq((m['topic'], m['payload'], m['seq']), ('many.all', 'to everyone', seq), '%s: message' % c.label)
    log('one publish reached %d subscribers in %.1f ms' % (N, (time.monotonic() - t0) * 1000))
    check_eq(sbrpc.info(conn)['messages_delivered'] - delivered, N + per_publish,
             'messages_delivered for one publish')

    # A burst: every client also gets 20 more, in order.
    seqs = [conn.call('publish', ['many.burst', str(k)])['seq'] for k in range(20)]
    for c in clients:
        got = [c.next_note('message')['params']['seq'] for _ in range(20)]
        check_eq(got, seqs, '%s: burst order' % c.label)

    # Up to max-clients, and one more is refused.
    extra = open_clients(MAX_CLIENTS - N - 1, 'extra')
    sbrpc.wait_info(lambda i: i['clients'] == MAX_CLIENTS, '%d clients' % MAX_CLIENTS, conn=conn)
    over = Conn(label='over the limit')
    frames = over.expect_closed(allow_frames=1)
    check_eq(len(frames), 1, 'an error before the close over max-clients')
    check_error(json.loads(frames[0]).get('error'), None, 'LimitExceeded', str(MAX_CLIENTS), 'client %d'
                % (MAX_CLIENTS + 1))
    over.close()

    t0 = time.monotonic()
    for c in clients + extra:
        c.close()
    sbrpc.wait_info(lambda i: sbrpc.socket_clients(i) == 1 and i['subscriptions'] == 0,
                    'socket clients and subscriptions back down', conn=conn)
    log('%d hang-ups processed in %.2f s' % (len(clients + extra), time.monotonic() - t0))
    # And a new client is served again.
    c = Conn(label='after')
    check('version' in c.call('hub.info'), 'a new client after the crowd left')
    c.close()


if __name__ == '__main__':
    sbrpc.main([setup, test_thousand_clients])
