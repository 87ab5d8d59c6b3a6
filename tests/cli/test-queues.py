#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `switchboard push`, `work`, `queues`, `peek`, `kick` and `purge` against
# the real hub, with max-attempts=2 in switchboard.conf: a worker's command
# gets the payload and the job's environment, exit 0 acks, anything else
# nacks until the job is dead-lettered, kick revives it, --count and
# --timeout end the worker, the job is touched while a long command runs,
# and SIGTERM during a job gives it back (or lets it finish) and exits 0.
# Readiness is read from ListQueues, never guessed.

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest  # noqa: E402
from clitest import Hub, check, expect, finish, run, wait_for  # noqa: E402

# Before the hub starts (the socket variant starts it in require_environment()).
confdir = os.path.join(os.environ['XDG_CONFIG_HOME'], 'switchboard')
os.makedirs(confdir, exist_ok=True)
with open(os.path.join(confdir, 'switchboard.conf'), 'w') as f:
    f.write('[limits]\nmax-attempts=2\n')

clitest.require_environment()
clitest.start_hub()
hub = Hub()
tmp = tempfile.mkdtemp(prefix='sb-queues-', dir=os.environ['XDG_RUNTIME_DIR'])


def counts(queue):
    """ListQueues' row for @queue as a dict (all zero when it is not listed)."""
    for row in hub.hub.ListQueues():
        if str(row[0]) == queue:
            return dict(zip(('ready', 'reserved', 'delayed', 'dead', 'waiting'), (int(x) for x in row[1:])))
    return dict(ready=0, reserved=0, delayed=0, dead=0, waiting=0)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


# push prints the job's id; queues, peek show it.
r = expect(0, 'push', 'q.basic', 'hello world')
first_id = r.out.strip()
check(first_id.isdigit(), 'push prints a job id (%r)' % r.out)
r = expect(0, 'push', 'q.basic', 'later', '--delay', '600000')
check(r.out.strip().isdigit() and int(r.out) > int(first_id), 'ids increase (%r)' % r.out)
check(counts('q.basic') == dict(ready=1, reserved=0, delayed=1, dead=0, waiting=0),
      'ListQueues after two pushes (%r)' % counts('q.basic'))

r = expect(0, 'queues')
lines = r.out.splitlines()
check(lines[:1] and lines[0].split() == ['QUEUE', 'READY', 'RESERVED', 'DELAYED', 'DEAD', 'WAITING'],
      'queues prints a header (%r)' % r.out)
check(['q.basic', '1', '0', '1', '0', '0'] in [line.split() for line in lines[1:]],
      'queues prints q.basic 1 0 1 0 0 (%r)' % r.out)
r = expect(0, 'queues', '--json')
rows = [json.loads(line) for line in r.out.splitlines()]
check({'name': 'q.basic', 'ready': 1, 'reserved': 0, 'delayed': 1, 'dead': 0, 'waiting': 0} in rows,
      'queues --json (%r)' % rows)

expect(0, 'peek', 'q.basic', out='hello world\n')
r = expect(0, 'peek', '--json', 'q.basic')
check(json.loads(r.out or '{}') == {'id': int(first_id), 'queue': 'q.basic', 'attempts': 0,
                                    'payload': 'hello world'}, 'peek --json (%r)' % r.out)
expect(3, 'peek', 'q.empty', err_contains="no job ready in queue 'q.empty'")
expect(1, 'push', 'bad..queue', 'x', err_contains="invalid queue name 'bad..queue'")
expect(2, 'push', 'q.basic', 'x', '--delay', 'soon', err_contains='--delay')

# work: the payload on stdin, the job in the environment, exit 0 acks.
out = os.path.join(tmp, 'ok')
r = expect(0, 'work', 'q.basic', '--count', '1', '--',
           'sh', '-c', 'cat > "$0.payload"; echo "$SWITCHBOARD_JOB_ID $SWITCHBOARD_JOB_ATTEMPTS $SWITCHBOARD_QUEUE" > "$0"',
           out)
check(read(out + '.payload') == 'hello world', 'the command got the payload on stdin (%r)' % read(out + '.payload'))
check(read(out) == '%s 1 q.basic\n' % first_id, 'the command got the job environment (%r)' % read(out))
check(counts('q.basic') == dict(ready=0, reserved=0, delayed=1, dead=0, waiting=0),
      'the job was acked (%r)' % counts('q.basic'))
expect(0, 'purge', 'q.basic', out='1\n')
check(counts('q.basic')['delayed'] == 0, 'purge deleted the delayed job')

# A failing command: nacked, retried, dead-lettered after max-attempts (2).
expect(0, 'push', 'q.fail', 'boom')
log = os.path.join(tmp, 'attempts')
r = expect(0, 'work', 'q.fail', '--count', '2', '--', 'sh', '-c', 'echo "$SWITCHBOARD_JOB_ATTEMPTS" >> "$0"; exit 3',
           log)
check(read(log) == '1\n2\n', 'the failed job came back once (attempts %r)' % read(log))
check('exit status 3' in r.err, 'work says why the job failed (%r)' % r.err)
check(counts('q.fail') == dict(ready=0, reserved=0, delayed=0, dead=1, waiting=0),
      'dead-lettered after max-attempts (%r)' % counts('q.fail'))
expect(3, 'peek', 'q.fail')
expect(0, 'kick', 'q.fail', out='1\n')
check(counts('q.fail') == dict(ready=1, reserved=0, delayed=0, dead=0, waiting=0),
      'kick revived it (%r)' % counts('q.fail'))
expect(0, 'kick', 'q.fail', '--max', '5', out='0\n')
expect(0, 'work', 'q.fail', '--count', '1', '--', 'true')
check(counts('q.fail')['ready'] == 0, 'the revived job was done')

# --retry-delay: a failed job waits before it is ready again.
expect(0, 'push', 'q.retry', 'x')
expect(0, 'work', 'q.retry', '--count', '1', '--retry-delay', '600000', '--', 'false')
check(counts('q.retry') == dict(ready=0, reserved=0, delayed=1, dead=0, waiting=0),
      '--retry-delay delays the failed job (%r)' % counts('q.retry'))
expect(0, 'purge', 'q.retry', out='1\n')

# --count N takes N jobs and leaves the rest; --timeout ends an idle worker.
for i in range(3):
    expect(0, 'push', 'q.count', 'job%d' % i)
seen = os.path.join(tmp, 'seen')
expect(0, 'work', 'q.count', '--count', '2', '--', 'sh', '-c', 'cat >> "$0"; echo >> "$0"', seen)
check(read(seen) == 'job0\njob1\n', 'work --count 2 took the first two, in order (%r)' % read(seen))
check(counts('q.count')['ready'] == 1, 'one job is left')
# Each job but the last is acked with AckNext, which reserves the next: the
# last one is acked alone, so the job left was never reserved.
r = expect(0, 'peek', '--json', 'q.count')
check(json.loads(r.out or '{}').get('attempts') == 0, 'the job left was never reserved (%r)' % r.out)
t0 = time.monotonic()
expect(0, 'work', 'q.count', '--timeout', '300', '--', 'sh', '-c', 'cat >> "$0"; echo >> "$0"', seen)
check(read(seen) == 'job0\njob1\njob2\n', 'work --timeout took the rest (%r)' % read(seen))
check(time.monotonic() - t0 < 5, 'work --timeout 300 ended once idle')
check(counts('q.count')['ready'] == 0 and counts('q.count')['reserved'] == 0, 'q.count is empty')
expect(2, 'work', 'q.count', '--', '/nonexistent/command', err_contains="cannot run '/nonexistent/command'")
expect(2, 'work', 'q.count', err_contains='missing argument')

# A command that runs longer than the visibility keeps its job (touch).
expect(0, 'push', 'q.long', 'slow')
r = expect(0, 'work', 'q.long', '--count', '1', '--visibility', '300', '--', 'sleep', '1')
check(r.err == '', 'the ack after a long job succeeded (%r)' % r.err)
check(counts('q.long') == dict(ready=0, reserved=0, delayed=0, dead=0, waiting=0),
      'the long job was acked, not redelivered (%r)' % counts('q.long'))

# SIGTERM during a job: passed on to the command; a failed job goes back at once.
expect(0, 'push', 'q.term', 'long')
started = os.path.join(tmp, 'started')
w = clitest.Stream('work', 'q.term', '--', 'sh', '-c', 'echo $$ > "$0"; sleep 30', started)
wait_for(lambda: counts('q.term')['reserved'] == 1 and read(started), 'the long job to start')
t0 = time.monotonic()
rc = w.stop(signal.SIGTERM)
check(rc == 0, 'work exits 0 on SIGTERM (%r)' % rc)
check(time.monotonic() - t0 < 5, 'work did not wait for the 30 s job')
check(counts('q.term') == dict(ready=1, reserved=0, delayed=0, dead=0, waiting=0),
      'the interrupted job is ready again (%r)' % counts('q.term'))
pid = int((read(started) or '0').strip() or 0)
check(pid > 0 and not os.path.exists('/proc/%d' % pid), 'the command got the signal too')
w.close()

# ... and a command that finishes cleanly on SIGTERM gets its job acked.
os.unlink(started)
w = clitest.Stream('work', 'q.term', '--', 'sh', '-c', 'trap "exit 0" TERM; echo $$ > "$0"; sleep 30 & wait', started)
wait_for(lambda: counts('q.term')['reserved'] == 1 and read(started), 'the job to start again')
check(w.stop(signal.SIGTERM) == 0, 'work exits 0 on SIGTERM')
check(counts('q.term') == dict(ready=0, reserved=0, delayed=0, dead=0, waiting=0),
      'the job that finished on SIGTERM was acked (%r)' % counts('q.term'))
w.close()

# SIGINT while waiting for a job: exit 0 at once, nothing left reserved or waiting.
w = clitest.Stream('work', 'q.idle', '--', 'true')
wait_for(lambda: counts('q.idle')['waiting'] == 1, 'the worker to wait')
check(w.stop(signal.SIGINT) == 0, 'work exits 0 on SIGINT while waiting')
wait_for(lambda: counts('q.idle')['waiting'] == 0, 'the wait to end with the worker')
w.close()

# A job pushed while the worker waits reaches it (the wait is answered later).
w = clitest.Stream('work', 'q.idle', '--count', '1', '--', 'sh', '-c', 'cat > "$0"', os.path.join(tmp, 'late'))
wait_for(lambda: counts('q.idle')['waiting'] == 1, 'the worker to wait')
expect(0, 'push', 'q.idle', 'late job')
check(w.wait() == 0, 'work --count 1 ends after the late job')
check(read(os.path.join(tmp, 'late')) == 'late job', 'the late job was done')
w.close()

finish()
