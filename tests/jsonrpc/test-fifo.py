# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The FIFO (docs/protocol.md, "The FIFO"): lines from many writers, each a
# separate `echo > fifo` process, are all delivered; one writer's lines in
# order, also when a line is split across writes; bad lines (bad JSON, an
# unknown method, a method the FIFO does not take, an invalid topic, a line
# over max-frame) are counted in hub.info's jsonrpc.fifo_errors and never
# stop the FIFO, which keeps working as writers come and go.

import json
import os
import subprocess

import sbrpc
from sbrpc import Conn, check, check_eq, log

MAX_FRAME = 1024
sub = None


def setup():
    global sub
    sbrpc.write_config('[jsonrpc]\nmax-frame=%d\n' % MAX_FRAME)
    sbrpc.activate()
    st = os.stat(sbrpc.fifo_path())
    check(oct(st.st_mode & 0o777) == oct(0o600), 'FIFO mode %o' % (st.st_mode & 0o777))
    sub = Conn(label='fifo-subscriber')
    sub.call('subscribe', {'pattern': 'fifo.>'})
    sub.call('watch', {'prefix': 'fifo.'})


def line(method, params):
    return json.dumps({'jsonrpc': '2.0', 'method': method, 'params': params})


def echo(text):
    """One writer process: `echo TEXT > fifo`."""
    subprocess.run(['sh', '-c', 'echo "$1" > "$2"', 'sh', text, sbrpc.fifo_path()], check=True, timeout=10)


def fifo_stats():
    return sbrpc.info(sub)['jsonrpc']


def messages(n, what):
    return [sub.next_note('message')['params'] for _ in range(n)]


def test_many_writers():
    n = 40
    procs = [subprocess.Popen(['sh', '-c', 'echo "$1" > "$2"', 'sh',
                               line('publish', {'topic': 'fifo.writers.%d' % i, 'payload': 'w%d' % i}),
                               sbrpc.fifo_path()]) for i in range(n)]
    for p in procs:
        check_eq(p.wait(timeout=10), 0, 'writer exit status')
    got = messages(n, 'writers')
    check_eq(sorted(p['payload'] for p in got), sorted('w%d' % i for i in range(n)), 'payloads from %d writers' % n)
    for p in got:
        check_eq(p['sender']['transport'], 'fifo', 'sender.transport')
        check_eq(p['topic'], 'fifo.writers.' + p['payload'][1:], 'topic of %r' % p)


def test_one_writer_in_order_and_split():
    with open(sbrpc.fifo_path(), 'w') as f:
        for i in range(100):
            f.write(line('publish', ['fifo.order', str(i)]) + '\n')
        f.flush()
        # One line in three writes, then two lines in one write, CRLF and blank lines between.
        text = line('publish', ['fifo.order', 'split']) + '\r\n'
        f.write(text[:7])
        f.flush()
        f.write(text[7:30])
        f.flush()
        f.write(text[30:] + '\n   \n' + line('set', {'key': 'fifo.k', 'value': 'v'}) + '\n' +
                line('publish_retained', {'topic': 'fifo.order', 'payload': 'last'}) + '\n')
    notes = [sub.next_note() for _ in range(103)]
    check_eq([n['method'] for n in notes], ['message'] * 101 + ['key_changed', 'message'],
             'notifications in the order of the lines')
    check_eq([n['params']['payload'] for n in notes if n['method'] == 'message'],
             [str(i) for i in range(100)] + ['split', 'last'], 'order of one writer')
    k = notes[101]['params']
    check_eq((k['key'], k['value'], k['sender']['transport']), ('fifo.k', 'v', 'fifo'), 'key_changed from the FIFO')
    check_eq(sub.call('get', ['fifo.k'])['value'], 'v', 'FIFO set stored')


def test_bad_lines_counted():
    before = fifo_stats()
    bad = [
        '{"jsonrpc":"2.0","method":"publish","params":{"topic":"fifo.x"',     # bad JSON
        'this is not json',
        line('no.such.method', {}),                                            # unknown method
        line('subscribe', {'pattern': 'fifo.>'}),                              # not on the FIFO
        line('hub.info', {}),
        line('publish', {'topic': 'fifo..bad', 'payload': 'x'}),               # invalid topic
        line('publish', {'topic': 'fifo.x'}),                                  # invalid params
        line('publish', {'topic': 'fifo.long', 'payload': 'x' * (2 * MAX_FRAME)}),   # over max-frame
    ]
    for b in bad:
        echo(b)
    # A line of exactly max-frame bytes is fine; it is also the sentinel.
    head = line('publish', {'topic': 'fifo.sentinel', 'payload': ''})[:-3]
    exact = head + 'y' * (MAX_FRAME - len(head) - 3) + '"}}'
    check_eq(len(exact), MAX_FRAME, 'sentinel length')
    echo(exact)
    m = sub.next_note('message')['params']
    check_eq(m['topic'], 'fifo.sentinel', 'the first message after the bad lines (none of them published)')
    after = sbrpc.wait_info(lambda i: i['jsonrpc']['fifo_lines'] >= before['fifo_lines'] + len(bad) + 1,
                            'the FIFO lines to be counted', conn=sub)['jsonrpc']
    check_eq(after['fifo_errors'] - before['fifo_errors'], len(bad), 'jsonrpc.fifo_errors for %d bad lines'
             % len(bad))
    check_eq(after['fifo_lines'] - before['fifo_lines'], len(bad) + 1, 'jsonrpc.fifo_lines')
    log('fifo stats: %r' % after)


def test_overlong_line_then_good_in_one_write():
    before = fifo_stats()
    with open(sbrpc.fifo_path(), 'w') as f:
        # Over max-frame, in pieces, then a good line in the same write as its end.
        f.write('{"jsonrpc":"2.0","method":"publish","params":["fifo.huge","' + 'z' * 600)
        f.flush()
        f.write('z' * 3000)
        f.flush()
        f.write('"]}\n' + line('publish', ['fifo.after.huge', 'ok']) + '\n')
    m = sub.next_note('message')['params']
    check_eq((m['topic'], m['payload']), ('fifo.after.huge', 'ok'), 'the line after an overlong one')
    after = fifo_stats()
    check_eq(after['fifo_errors'] - before['fifo_errors'], 1, 'fifo_errors for one overlong line')


def test_writers_come_and_go():
    # Open and close without writing, write a partial line and go away, many times over.
    for i in range(20):
        with open(sbrpc.fifo_path(), 'w'):
            pass
    with open(sbrpc.fifo_path(), 'w') as f:
        f.write('{"jsonrpc":"2.0","method":"publish",')
    # The partial line above is completed by the next writer's text; the
    # result does not parse and is counted; the line after it works.
    before = fifo_stats()
    echo('garbage')
    echo(line('publish', ['fifo.still', 'here']))
    m = sub.next_note('message')['params']
    check_eq((m['topic'], m['payload']), ('fifo.still', 'here'), 'the FIFO still works')
    after = fifo_stats()
    check_eq(after['fifo_errors'] - before['fifo_errors'], 1, 'fifo_errors for the joined partial line')
    check('version' in sbrpc.info(), 'hub.info')


if __name__ == '__main__':
    sbrpc.main([
        setup,
        test_many_writers,
        test_one_writer_in_order_and_split,
        test_bad_lines_counted,
        test_overlong_line_then_good_in_one_write,
        test_writers_come_and_go,
    ])
