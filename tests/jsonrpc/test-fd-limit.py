# SPDX-License-Identifier: LGPL-2.1-or-later
#
# fd exhaustion (issue: hardening). With the hub's fd limit lowered under it
# (prlimit), clients past the limit get a JSON-RPC error frame and a close
# instead of a hang; the hub does not spin on its listener meanwhile (its
# CPU time over a 0.5 s window stays small: a measurement window, not a
# wait for readiness); and once clients leave, new ones are served again.

import os
import socket
import subprocess
import time

import sbrpc
from sbfixture import activate
from sbrpc import Conn, check, check_eq, log

LIMIT = 48


def cpu_seconds(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def try_client(i):
    """A new connection's answer to hub.info: ('served', conn) or ('refused', error)."""
    c = Conn(label='client-%d' % i)
    try:
        c.send({'jsonrpc': '2.0', 'id': i, 'method': 'hub.info'})
    except (BrokenPipeError, ConnectionResetError):
        pass                # refused and closed before we wrote: the refusal is there to read
    r = c.recv_response()
    if 'result' in r:
        check_eq(r.get('id'), i, 'client-%d: the id of its answer' % i)
        return 'served', c
    check_eq(r.get('id'), None, 'client-%d: a refusal answers no request' % i)
    c.expect_closed()
    c.close()
    return 'refused', r.get('error')


def test_fd_limit():
    activate()
    pid = sbrpc.hub_pid()
    subprocess.run(['prlimit', '--pid', str(pid), '--nofile=%d:%d' % (LIMIT, LIMIT)], check=True)
    served, refused = [], []
    for i in range(LIMIT + 20):
        kind, x = try_client(i)
        (served if kind == 'served' else refused).append(x)
    check(0 < len(served) < LIMIT, '%d clients served under a limit of %d fds' % (len(served), LIMIT))
    check(len(refused) >= 20, 'only %d clients refused past the limit' % len(refused))
    for e in refused:
        sbrpc.check_error(e, -32600, 'LimitExceeded', mentions='file descriptors', what='a client past the fd limit')
    log('%d clients served, %d refused with an error' % (len(served), len(refused)))

    # Refused clients leave no backlog behind: the hub is idle, not spinning on its listener.
    extra = [socket.socket(socket.AF_UNIX) for _ in range(5)]
    for s in extra:
        s.connect(sbrpc.socket_path())
    before = cpu_seconds(pid)
    time.sleep(0.5)         # a CPU measurement window
    spent = cpu_seconds(pid) - before
    check(spent < 0.2, 'the hub used %.2f s of CPU in 0.5 s while out of fds' % spent)
    for s in extra:
        s.close()

    # Clients leave: new ones are served again.
    for c in served:
        c.close()
    sbrpc.wait_info(lambda i: sbrpc.socket_clients(i) <= 1, 'the served clients gone')
    kind, c = try_client(999)
    check_eq(kind, 'served', 'a new client once fds are free')
    c.close()


if __name__ == '__main__':
    sbrpc.main([test_fd_limit])
