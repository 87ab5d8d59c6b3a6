# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Framing over the Unix socket (docs/protocol.md, "Framing"): a request split
# byte by byte, many frames in one write, a zero-length frame, a length over
# max-frame (error response, then the hub closes), garbage, and clients that
# hang up in the middle of a frame. After each abuse the hub still serves
# other clients, and hub.info's client count comes back down (a leak of the
# half-read connection would also show under ASan through with-bus.sh).

import json
import os
import socket
import struct
import time

import sbrpc
from sbrpc import Conn, check, check_eq, check_error, log

MAX_FRAME = 1024
conn = None


def setup():
    global conn
    # The limit must be in place before the first call activates the hub.
    sbrpc.write_config('[jsonrpc]\nmax-frame=%d\n' % MAX_FRAME)
    sbrpc.activate()
    conn = Conn(label='watcher')
    check_eq(sbrpc.socket_clients(conn.call('hub.info')), 1, 'socket clients at the start')


def hub_alive(clients=1):
    """The hub answers a client that was connected all along, and counts
    @clients socket clients once the others are gone."""
    i = sbrpc.wait_info(lambda i: sbrpc.socket_clients(i) == clients,
                        '%d socket client(s) connected' % clients, conn=conn)
    return i


def test_split_byte_by_byte():
    c = Conn(label='byte-by-byte')
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    data = sbrpc.frame({'jsonrpc': '2.0', 'id': 'split', 'method': 'publish',
                        'params': {'topic': 'frames.split', 'payload': 'sent one byte per write \u2603'}})
    for i in range(len(data)):
        c.send_raw(data[i:i + 1])
    r = c.recv()
    check_eq(r.get('id'), 'split', 'response to the split request')
    check('seq' in r.get('result', {}), 'split publish: %r' % r)
    # The header split from its body across writes, with the hub answering in between.
    body = json.dumps({'jsonrpc': '2.0', 'id': 'h', 'method': 'hub.info'}).encode()
    c.send_raw(struct.pack('>I', len(body))[:3])
    check('version' in conn.call('hub.info'), 'another client is served while a header is partial')
    c.send_raw(struct.pack('>I', len(body))[3:] + body[:5])
    c.send_raw(body[5:])
    check_eq(c.recv().get('id'), 'h', 'response to the request split after 3 header bytes')
    c.close()


def test_many_frames_in_one_write():
    c = Conn(label='many')
    n = 500
    data = b''.join(sbrpc.frame({'jsonrpc': '2.0', 'id': i, 'method': 'set',
                                 'params': {'key': 'frames.many', 'value': str(i)}}) for i in range(n))
    c.send_raw(data)
    revs = []
    for i in range(n):
        r = c.recv()
        check_eq(r.get('id'), i, 'responses in request order')
        revs.append(r['result']['revision'])
    check_eq(revs, list(range(revs[0], revs[0] + n)), 'revisions of %d sets in one write' % n)
    check_eq(c.call('get', ['frames.many'])['value'], str(n - 1), 'the last set wins')
    # Frames and a partial one in the same write: the rest completes it later.
    tail = sbrpc.frame({'jsonrpc': '2.0', 'id': 'tail', 'method': 'hub.info'})
    c.send_raw(sbrpc.frame({'jsonrpc': '2.0', 'id': 'a', 'method': 'hub.info'}) + tail[:10])
    check_eq(c.recv().get('id'), 'a', 'the whole frame before a partial one')
    c.send_raw(tail[10:])
    check_eq(c.recv().get('id'), 'tail', 'the partial frame once completed')
    c.close()


def test_zero_length_frame():
    c = Conn(label='zero')
    c.send_raw(b'\0\0\0\0')
    r = c.recv()
    check_eq(r.get('id', 'missing'), None, 'id of the response to an empty frame')
    check_error(r.get('error'), -32700, what='zero-length frame')
    # The stream stays usable after it.
    check('version' in c.call('hub.info'), 'hub.info after an empty frame')
    c.send_raw(b'\0\0\0\0' * 3 + sbrpc.frame({'jsonrpc': '2.0', 'id': 'after', 'method': 'hub.info'}))
    for _ in range(3):
        check_error(c.recv().get('error'), -32700, what='zero-length frame')
    check_eq(c.recv().get('id'), 'after', 'the request after three empty frames')
    c.close()


def test_frame_at_the_limit():
    c = Conn(label='limit')
    head = '{"jsonrpc":"2.0","id":"max","method":"publish","params":{"topic":"frames.max","payload":"'
    tail = '"}}'
    body = head + 'x' * (MAX_FRAME - len(head) - len(tail)) + tail
    check_eq(len(body), MAX_FRAME, 'test frame size')
    c.send_raw(sbrpc.frame(body))
    r = c.recv()
    check('result' in r, 'a frame of exactly max-frame bytes is served: %r' % r)
    c.close()


def over_limit(length, extra=b'', label='over'):
    before = sbrpc.info(conn)['jsonrpc']['frames_too_large']
    c = Conn(label=label)
    check('version' in c.call('hub.info'), 'hub.info before the oversized frame')
    c.send_raw(struct.pack('>I', length) + extra)
    frames = c.expect_closed(allow_frames=1)
    check_eq(len(frames), 1, 'an error response before the close')
    r = json.loads(frames[0])
    check_eq(r.get('id', 'missing'), None, 'id of the response to an oversized frame')
    check_error(r.get('error'), -32600, 'LimitExceeded', str(MAX_FRAME), what='length %d' % length)
    log('length %d: %s' % (length, r['error']['message']))
    c.close()
    i = hub_alive()
    check_eq(i['jsonrpc']['frames_too_large'], before + 1, 'jsonrpc.frames_too_large')


def test_length_over_max_frame():
    over_limit(MAX_FRAME + 1, b'{"jsonrpc":"2.0"', label='max+1')
    over_limit(0xFFFFFFFF, label='4 GiB')
    # Requests queued behind the oversized header in the same write are not run.
    c = Conn(label='behind')
    c.send_raw(sbrpc.frame({'jsonrpc': '2.0', 'id': 1, 'method': 'set', 'params': ['frames.behind', 'before']}) +
               struct.pack('>I', 1 << 30) +
               sbrpc.frame({'jsonrpc': '2.0', 'id': 2, 'method': 'set', 'params': ['frames.behind', 'after']}))
    frames = c.expect_closed(allow_frames=2)
    check_eq([json.loads(f).get('id', 'missing') for f in frames], [1, None], 'responses before the close')
    c.close()
    check_eq(conn.call('get', ['frames.behind'])['value'], 'before', 'nothing after the oversized frame ran')
    hub_alive()


def test_garbage():
    # An HTTP request: "GET " read as a length is far over max-frame.
    c = Conn(label='http')
    c.send_raw(b'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')
    frames = c.expect_closed(allow_frames=1)
    check_error(json.loads(frames[0]).get('error'), -32600, 'LimitExceeded', what='HTTP request')
    c.close()
    # Short garbage frames are parse errors and the stream goes on.
    c = Conn(label='garbage')
    junk = [b'\xff\xfe\xfd', b'\x00' * 10, b'}{', b'\x1b[31mred', bytes(range(256))]
    c.send_raw(b''.join(sbrpc.frame(j) for j in junk))
    for j in junk:
        r = c.recv()
        check_error(r.get('error'), -32700, what='garbage %r' % j[:10])
    check('version' in c.call('hub.info'), 'hub.info after garbage frames')
    c.close()
    hub_alive()


def hub_cpu_seconds():
    with open('/proc/%d/stat' % sbrpc.hub_pid()) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def check_idle_cpu():
    # Not a wait for readiness: a measurement window. A hub that spins on a
    # hung-up socket (readable for good) burns the whole window.
    before, t0 = hub_cpu_seconds(), time.monotonic()
    time.sleep(0.5)
    used, window = hub_cpu_seconds() - before, time.monotonic() - t0
    log('hub CPU while idle: %.2f s in %.2f s' % (used, window))
    check(used < window / 2, 'the idle hub used %.2f s of CPU in %.2f s: a busy loop?' % (used, window))


def test_hang_up_mid_frame():
    before = sbrpc.socket_clients(sbrpc.info(conn))
    cuts = [
        b'\x00\x00',                                              # inside the header
        struct.pack('>I', 200) + b'{"jsonrpc":"2.0","id":1,',    # inside the body
        struct.pack('>I', MAX_FRAME),                             # a header alone
    ]
    for cut in cuts:
        c = Conn(label='hang-up')
        c.send_raw(cut)
        c.close()
    # Many at once, some with a pending response never read.
    conns = []
    for i in range(50):
        c = Conn(label='hang-up %d' % i)
        c.send_raw(sbrpc.frame({'jsonrpc': '2.0', 'id': i, 'method': 'hub.info'}) + b'\x00\x00\x01')
        conns.append(c)
    i = sbrpc.wait_info(lambda i: sbrpc.socket_clients(i) == before + 50, '50 more socket clients', conn=conn)
    for c in conns:
        c.close()
    hub_alive(before)
    # A reset (SO_LINGER 0) instead of an orderly close.
    c = Conn(label='reset')
    c.send_raw(struct.pack('>I', 100) + b'{')
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    c.close()
    hub_alive(before)
    check_idle_cpu()
    other = Conn(label='after the hang-ups')
    check_eq(other.call('set', ['frames.after', 'ok'])['revision'] > 0, True, 'a new client is served')
    other.close()
    hub_alive(before)


def test_half_close_gets_pending_replies():
    # A client that writes its requests and shuts down its sending side still gets the replies.
    c = Conn(label='half-close')
    c.send_raw(b''.join(sbrpc.frame({'jsonrpc': '2.0', 'id': i, 'method': 'hub.info'}) for i in range(3)))
    c.sock.shutdown(socket.SHUT_WR)
    frames = c.expect_closed(allow_frames=3)
    check_eq([json.loads(f)['id'] for f in frames], [0, 1, 2], 'replies before the close')
    c.close()
    hub_alive()
    # As `printf ... | socat - UNIX-CONNECT:...` does, with a reply (~1 MB) larger than the
    # socket buffers: it must arrive whole before the close.
    value = 'v' * 900
    conn.send_raw(b''.join(sbrpc.frame({'jsonrpc': '2.0', 'id': k, 'method': 'set',
                                        'params': ['frames.big.%04d' % k, value]}) for k in range(1200)))
    for k in range(1200):
        check_eq(conn.recv().get('id'), k, 'set reply')
    c = Conn(label='half-close, big reply')
    c.send({'jsonrpc': '2.0', 'id': 'big', 'method': 'list', 'params': ['frames.big.']})
    c.sock.shutdown(socket.SHUT_WR)
    frames = c.expect_closed(allow_frames=1)
    check_eq(len(frames), 1, 'the big reply before the close')
    r = json.loads(frames[0])
    check_eq(len(r['result']['entries']), 1200, 'entries in the big reply (%d bytes)' % len(frames[0]))
    c.close()
    hub_alive()
    # A reply that waits for the disk (sync=always, the default) when the client half-closes: the
    # connection may not ask to write while nothing can be written (it spun at 100% CPU, starving
    # the journal's sync, so the reply never came).
    for method, params in (('set', ['frames.held', 'v']), ('push', ['frames.q', 'job'])):
        c = Conn(label='half-close, held %s' % method)
        c.send({'jsonrpc': '2.0', 'id': 'held', 'method': method, 'params': params})
        c.sock.shutdown(socket.SHUT_WR)
        frames = c.expect_closed(allow_frames=1)
        check_eq([json.loads(f).get('id') for f in frames], ['held'], 'the %s reply that waited for the disk' % method)
        c.close()
    hub_alive()


if __name__ == '__main__':
    sbrpc.main([
        setup,
        test_split_byte_by_byte,
        test_many_frames_in_one_write,
        test_zero_length_frame,
        test_frame_at_the_limit,
        test_length_over_max_frame,
        test_garbage,
        test_hang_up_mid_frame,
        test_half_close_gets_pending_replies,
    ])
