# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Many calls in flight: one socket caller pipelines 1,000 calls with
# distinct payloads to a socket server, which reads them all (1,000 pending
# in GetInfo) and answers them out of order (each batch of 100 reversed,
# sent as one JSON-RPC batch); every call id gets exactly its own payload
# back. Then four callers at once, 1,000 calls each, to four servers of one
# name (round-robin: 1,000 each, under max-calls). Then the limit itself:
# 1,024 calls pending per caller and per server; the next is
# LimitExceeded at once, a full server is skipped for one with room.

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import rpctest      # noqa: E402
import sbrpc        # noqa: E402
from rpctest import Sock, check, check_eq, log     # noqa: E402

N = 1000
BATCH = 100
MAX_CALLS = 1024
rng = random.Random(4242)


def payload_for(caller, i):
    # Distinct, of varied length and content.
    return 'c%d-%d-%s-\u00e9%s' % (caller, i, '%08x' % rng.getrandbits(32), 'z' * (i % 37))


def pipeline(caller, name, payloads, first_id):
    """Send every call in one write; return {id: payload}."""
    ids = {}
    data = bytearray()
    for k, p in enumerate(payloads):
        id = first_id + k
        ids[id] = p
        data += sbrpc.frame({'jsonrpc': '2.0', 'id': id, 'method': 'call',
                             'params': {'name': name, 'payload': p, 'timeout_ms': 60000}})
    caller.send_raw(bytes(data))
    return ids


def read_requests(server, n):
    reqs = []
    for _ in range(n):
        reqs.append(server.next_request(timeout=30))
    return reqs


def answer_reversed(server, reqs):
    """Reply 'echo:' + payload, each batch of BATCH reversed, one batch per frame."""
    for b in range(0, len(reqs), BATCH):
        chunk = list(reversed(reqs[b:b + BATCH]))
        server.send([{'jsonrpc': '2.0', 'id': 'a%d' % r['id'], 'method': 'reply',
                      'params': {'id': r['id'], 'payload': 'echo:' + r['payload']}} for r in chunk])
    for b in range(0, len(reqs), BATCH):
        resp = server.recv_response(timeout=30)
        check(isinstance(resp, list) and len(resp) == len(reqs[b:b + BATCH]),
              '%s: a batch response of %d, got %r' % (server.label, len(reqs[b:b + BATCH]), str(resp)[:200]))
        bad = [x for x in resp if 'error' in x or x.get('result', 'missing') is not None]
        check(not bad, '%s: replies refused: %r' % (server.label, bad[:3]))


def collect(caller, ids, what):
    got = {}
    for _ in range(len(ids)):
        r = caller.recv_response(timeout=30)
        check(isinstance(r, dict) and r.get('id') in ids, '%s: a response to an id never sent: %r'
              % (what, str(r)[:200]))
        check(r['id'] not in got, '%s: two responses to id %r' % (what, r['id']))
        check('result' in r, '%s: call %r failed: %r' % (what, r['id'], r.get('error')))
        got[r['id']] = r['result'].get('payload')
    wrong = [(id, ids[id], got[id]) for id in ids if got[id] != 'echo:' + ids[id]]
    check(not wrong, '%s: %d calls got a payload not their own, e.g. %r' % (what, len(wrong), wrong[:3]))
    return got


def test_one_caller_1000_in_flight():
    rpctest.activate()
    server = Sock(label='server', timeout=30)
    server.serve('load.echo')
    rpctest.wait_servers('load.echo', 1)
    caller = Sock(label='caller', timeout=30)
    t0 = time.monotonic()
    ids = pipeline(caller, 'load.echo', [payload_for(0, i) for i in range(N)], 1)
    reqs = read_requests(server, N)
    check_eq(sorted(r['payload'] for r in reqs), sorted(ids.values()), 'the payloads the server received')
    check_eq(len(set(r['id'] for r in reqs)), N, 'distinct call ids at the server')
    check_eq(rpctest.get_info()['pending_calls'], N, 'pending_calls with every call at the server')
    answer_reversed(server, reqs)
    collect(caller, ids, 'one caller')
    dt = time.monotonic() - t0
    log('1 caller, %d calls in flight, answered out of order: %.0f ms (%.0f calls/s)'
        % (N, dt * 1000, N / dt))
    rpctest.wait_no_pending()
    caller.close()
    server.close()
    rpctest.wait_servers('load.echo', 0)


def test_four_callers_four_servers():
    K = 4
    servers = [Sock(label='server%d' % k, timeout=30) for k in range(K)]
    for k, s in enumerate(servers):
        s.serve('load.many')
    rpctest.wait_servers('load.many', K)
    callers = [Sock(label='caller%d' % k, timeout=30) for k in range(K)]
    t0 = time.monotonic()
    # Interleave the callers' writes: calls from all four are in flight together.
    want = [{} for _ in range(K)]
    for b in range(0, N, BATCH):
        for k, c in enumerate(callers):
            want[k].update(pipeline(c, 'load.many', [payload_for(k + 1, i) for i in range(b, b + BATCH)],
                                    (k + 1) * 100000 + b))
    reqs = [read_requests(s, N) for s in servers]      # round-robin: N each
    check_eq(rpctest.get_info()['pending_calls'], K * N, 'pending_calls with every call at a server')
    for s, r in zip(servers, reqs):
        check_eq(len(set(x['sender']['client'] for x in r)), K, '%s: requests from every caller' % s.label)
        answer_reversed(s, r)
    for k, c in enumerate(callers):
        collect(c, want[k], c.label)
    dt = time.monotonic() - t0
    log('%d callers x %d calls to %d servers: %.0f ms (%.0f calls/s)' % (K, N, K, dt * 1000, K * N / dt))
    rpctest.wait_no_pending()
    for c in callers + servers:
        c.close()
    rpctest.wait_servers('load.many', 0)


def test_max_calls():
    server = Sock(label='full-server', timeout=30)
    server.serve('load.hold')
    rpctest.wait_servers('load.hold', 1)
    caller = Sock(label='busy-caller', timeout=30)
    ids = pipeline(caller, 'load.hold', ['h%d' % i for i in range(MAX_CALLS + 1)], 1)
    # The call over the limit is refused at once, while the others wait.
    r = caller.recv_response(timeout=10)
    check_eq(r.get('id'), MAX_CALLS + 1, 'the first response: the call over the limit')
    check_eq((r.get('error') or {}).get('code'), -32006, 'a caller\'s %dth pending call' % (MAX_CALLS + 1))
    sbrpc.check_error(r['error'], -32006, 'LimitExceeded', None, 'call over max-calls')
    reqs = read_requests(server, MAX_CALLS)
    check_eq(rpctest.get_info()['pending_calls'], MAX_CALLS, 'pending_calls at the limit')
    # The server holds MAX_CALLS: another caller's call finds no server with room.
    other = Sock(label='other-caller')
    id = other.send_call('load.hold', 'one more', timeout_ms=5000)
    r = other.response(id)
    sbrpc.check_error(r.get('error'), -32006, 'LimitExceeded', None, 'call to a full server')
    # A second server with room takes it: the full one is skipped.
    spare = Sock(label='spare-server')
    spare.serve('load.hold')
    rpctest.wait_servers('load.hold', 2)
    id = other.send_call('load.hold', 'one more', timeout_ms=5000)
    req = spare.next_request()
    check_eq(req['payload'], 'one more', 'the spare server got the call')
    spare.reply(req['id'], 'echo:one more')
    check_eq(other.response(id).get('result'), {'payload': 'echo:one more'}, 'the call through the spare')
    # The full server answers everything; the caller gets all of it.
    del ids[MAX_CALLS + 1]
    answer_reversed(server, reqs)
    collect(caller, ids, 'busy caller')
    rpctest.wait_no_pending()
    for c in (caller, other, server, spare):
        c.close()


rpctest.main([test_one_caller_1000_in_flight, test_four_callers_four_servers, test_max_calls])
