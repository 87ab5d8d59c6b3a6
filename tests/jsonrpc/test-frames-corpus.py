# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The frame corpus in tests/data/frames (raw bytes as a client writes them,
# 4-byte headers included): every file in good/ gets proper responses (no
# error), every file in bad/ gets error responses, or the hub closes the
# connection when the framing itself cannot be trusted; never a crash. After
# each file the hub, still the same process, answers hub.info on a
# connection that stayed open all along. The same files seed the fuzz
# targets.

import json
import os
import socket
import struct

import sbrpc
from sbrpc import Conn, check, check_eq, log

conn = None
pid = None


def corpus(kind):
    d = os.path.join(os.environ['SB_SOURCE_ROOT'], 'tests', 'data', 'frames', kind)
    files = sorted(f for f in os.listdir(d) if f.endswith('.bin'))
    check(len(files) >= 10, 'the %s corpus in %s has only %d files' % (kind, d, len(files)))
    for f in files:
        with open(os.path.join(d, f), 'rb') as fh:
            yield f, fh.read()


def frames_of(data):
    """Split @data into frame bodies; the rest (a partial frame) is returned apart."""
    out = []
    while len(data) >= 4:
        n = struct.unpack('>I', data[:4])[0]
        if len(data) < 4 + n:
            break
        out.append(data[4:4 + n])
        data = data[4 + n:]
    return out, data


def setup():
    global conn, pid
    sbrpc.activate()
    conn = Conn(label='watcher')
    pid = sbrpc.hub_pid()


def still_serving(name):
    check_eq(sbrpc.hub_pid(), pid, 'hub pid after %s' % name)
    i = sbrpc.wait_info(lambda i: sbrpc.socket_clients(i) == 1, 'the corpus client of %s to be gone' % name,
                        conn=conn)
    check('version' in i, 'hub.info after %s' % name)


def is_error_response(m):
    if isinstance(m, list):
        return len(m) > 0 and all(is_error_response(x) for x in m)
    return isinstance(m, dict) and 'error' in m and 'result' not in m and 'id' in m and \
        isinstance(m['error'].get('code'), int) and isinstance(m['error'].get('message'), str)


def is_good_response(m):
    if isinstance(m, list):
        return len(m) > 0 and all(is_good_response(x) for x in m)
    return isinstance(m, dict) and m.get('jsonrpc') == '2.0' and 'result' in m and 'error' not in m


def test_good():
    for name, data in corpus('good'):
        bodies, rest = frames_of(data)
        check(bodies and not rest, 'good/%s: not a whole number of frames' % name)
        c = Conn(label='good/' + name)
        c.send_raw(data)
        c.send({'jsonrpc': '2.0', 'id': 'corpus-probe', 'method': 'hub.info'})
        got = []
        while True:
            m = c.recv()
            if isinstance(m, dict) and m.get('id') == 'corpus-probe':
                break
            got.append(m)
        responses = [m for m in got if not (isinstance(m, dict) and 'method' in m)]
        check(responses, 'good/%s: no response' % name)
        for m in responses:
            check(is_good_response(m), 'good/%s: not a proper response: %s' % (name, json.dumps(m)[:300]))
        check(len(responses) <= len(bodies), 'good/%s: %d responses to %d frames' % (name, len(responses),
                                                                                 len(bodies)))
        log('good/%s: %d response(s)' % (name, len(responses)))
        c.close()
        still_serving('good/' + name)


def test_bad():
    for name, data in corpus('bad'):
        bodies, rest = frames_of(data)
        c = Conn(label='bad/' + name)
        c.send_raw(data)
        # Whatever the file leaves unfinished, the hub sees the end of it.
        try:
            c.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        got = [json.loads(f) for f in c.expect_closed(allow_frames=len(bodies) + 1)]
        for m in got:
            check(is_error_response(m), 'bad/%s: not an error response: %s' % (name, json.dumps(m)[:300]))
        if bodies and not rest:
            # The framing was fine: each frame must have been answered with an error.
            check(len(got) >= 1, 'bad/%s: whole frames but no error response' % name)
        what = got[0]['error']['code'] if got and isinstance(got[0], dict) else \
            [x['error']['code'] for x in got[0]] if got else 'closed'
        log('bad/%s: %s' % (name, what))
        c.close()
        still_serving('bad/' + name)


if __name__ == '__main__':
    sbrpc.main([setup, test_good, test_bad])
