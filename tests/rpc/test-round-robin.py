# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Round-robin: three servers of one name on mixed transports (socket,
# python3-dbus, socket), each in its own process and each tagging its
# replies. 30 calls from a socket caller, one after the other, go to the
# servers in the order they began serving, 10 each; 30 more from a D-Bus
# caller continue the same rotation. Each server saw exactly the requests
# whose replies carry its tag. When the middle server is killed, the
# other two alternate.

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import rpctest      # noqa: E402
from rpctest import Sock, Bus, Peer, check, check_eq, log     # noqa: E402

NAME = 'rr.svc'
peers = []


def test_three_servers():
    rpctest.activate()
    for i, transport in enumerate(('socket', 'dbus', 'socket')):
        peers.append(Peer(transport, NAME, 'tag', label='s%d-%s' % (i, transport)))
        # Each joins the rotation before the next starts: the order is known.
        rpctest.wait_servers(NAME, i + 1)


def take_requests(peer, n):
    return [peer.request() for _ in range(n)]


def check_rotation(tags, offset, what):
    labels = [p.label for p in peers]
    want = [labels[(offset + i) % 3] for i in range(len(tags))]
    check_eq(tags, want, '%s: the servers that answered, in order' % what)
    for lab in labels:
        check_eq(tags.count(lab), len(tags) // 3, '%s: calls answered by %s' % (what, lab))


def test_socket_caller_30_calls():
    caller = Sock(label='socket-caller')
    tags = []
    for i in range(30):
        payload = 'sock-%d' % i
        r = caller.call_result(NAME, payload, timeout_ms=5000)
        tag, _, echoed = r['payload'].partition(':')
        check_eq(echoed, payload, 'call %d: the payload came back' % i)
        tags.append(tag)
    check_rotation(tags, 0, 'socket caller')
    for p in peers:
        got = [payload for _, payload in take_requests(p, 10)]
        want = ['sock-%d' % i for i in range(30) if tags[i] == p.label]
        check_eq(got, want, 'requests seen by %s' % p.label)
    log('30 socket calls: %s' % ' '.join(t[:2] for t in tags))
    caller.close()


def test_dbus_caller_continues_rotation():
    caller = Bus('dbus-caller')
    tags = []
    for i in range(30):
        payload = 'dbus-%d' % i
        res = rpctest.wait_async(caller.call_async(NAME, payload, 5000), 'D-Bus call %d' % i)
        check('reply' in res, 'D-Bus call %d failed: %r' % (i, res.get('error')))
        tag, _, echoed = res['reply'].partition(':')
        check_eq(echoed, payload, 'D-Bus call %d: the payload came back' % i)
        tags.append(tag)
    # The first 30 calls went round 10 times: the rotation starts over at s0.
    check_rotation(tags, 0, 'D-Bus caller')
    for p in peers:
        take_requests(p, 10)
    caller.close()


def test_server_killed_leaves_rotation():
    peers[1].kill()
    rpctest.wait_servers(NAME, 2)
    caller = Sock(label='socket-caller-2')
    tags = [caller.call_result(NAME, 'k%d' % i, timeout_ms=5000)['payload'].partition(':')[0] for i in range(10)]
    check_eq(sorted(set(tags)), sorted([peers[0].label, peers[2].label]), 'servers left in the rotation')
    check(all(tags[i] != tags[i + 1] for i in range(9)), 'two servers alternate: %r' % tags)
    check_eq(tags.count(peers[0].label), 5, 'calls to %s' % peers[0].label)
    caller.close()
    for p in (peers[0], peers[2]):
        p.close()
    rpctest.wait_servers(NAME, 0)
    rpctest.wait_no_pending()


rpctest.main([test_three_servers, test_socket_caller_30_calls, test_dbus_caller_continues_rotation,
              test_server_killed_leaves_rotation])
