# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The examples in examples/ run against the hub: `test-examples.py python`
# runs examples/python/switchboard_client.py, `test-examples.py node` runs
# examples/node/switchboard-client.js (skipped without node), `test-examples.py c`
# examples/c/demo.c on libswitchboard (built as sb-example-demo). Their output
# must be what their demo promises, and a socket client watching demo.> must
# see their publish and set, sent from the example's own process.

import os
import re
import shutil
import subprocess
import sys

import sbrpc
from sbrpc import Conn, check, check_eq, log

lang = sys.argv[1] if len(sys.argv) > 1 else 'python'
watcher = None


def command():
    root = os.environ['SB_SOURCE_ROOT']
    if lang == 'python':
        return [sys.executable, os.path.join(root, 'examples', 'python', 'switchboard_client.py')]
    if lang == 'node':
        node = shutil.which('node') or shutil.which('nodejs')
        if not node:
            raise sbrpc.Skip('node not found (Debian package nodejs)')
        return [node, os.path.join(root, 'examples', 'node', 'switchboard-client.js')]
    if lang == 'c':
        return [os.path.join(os.environ['SB_BUILD_ROOT'], 'src', 'lib', 'sb-example-demo')]
    sbrpc.fail('usage: test-examples.py python|node|c')


def setup():
    global watcher
    command()
    sbrpc.activate()
    watcher = Conn(label='watcher')
    watcher.call('subscribe', ['demo.>'])
    watcher.call('watch', ['demo.'])


def test_demo():
    proc = subprocess.Popen(command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=60)
    log('%s demo output:\n# %s' % (lang, '\n# '.join(out.strip().splitlines())))
    check_eq(proc.returncode, 0, 'exit status of the %s demo (stderr: %s)' % (lang, err.strip()))
    want = [
        r'connected to hub \S+ \(\d+ clients\)',
        r'subscribed to demo\.> as \d+',
        r'published demo\.greeting seq (\d+)',
        r'message demo\.greeting: hello from %s \(seq (\d+), from unix\)' % lang,
        r'message demo\.binary: 00ff10 bytes \(seq \d+\)',
        r'set demo\.counter revision (\d+)',
        r'key_changed demo\.counter = %s \(revision (\d+)\)' % lang,
        r'get demo\.counter = %s \(revision (\d+)\)' % lang,
        r'error -32001 org\.switchboard\.Hub1\.Error\.InvalidTopic',
    ]
    lines = out.strip().splitlines()
    check_eq(len(lines), len(want), 'lines of output')
    groups = []
    for line, pattern in zip(lines, want):
        m = re.fullmatch(pattern, line)
        check(m, 'output line %r does not match %r' % (line, pattern))
        groups += m.groups()
    check_eq(groups[0], groups[1], 'published seq and received seq')
    check_eq(groups[2], groups[3], 'set revision and key_changed revision')
    check_eq(groups[2], groups[4], 'set revision and get revision')

    # What the watcher saw, from the example's process.
    notes = [watcher.next_note() for _ in range(3)]
    msgs = [n['params'] for n in notes if n['method'] == 'message']
    keys = [n['params'] for n in notes if n['method'] == 'key_changed']
    check_eq([(m['topic'], m['seq']) for m in msgs], [('demo.greeting', int(groups[0])), ('demo.binary', msgs[1]['seq'])],
             'messages the watcher saw')
    check_eq(msgs[1]['payload_base64'], 'AP8Q', 'binary payload')
    check_eq([(k['key'], k['value'], k['revision']) for k in keys], [('demo.counter', lang, int(groups[2]))],
             'key changes the watcher saw')
    for p in msgs + keys:
        check_eq((p['sender']['transport'], p['sender'].get('pid')), ('unix', proc.pid), 'sender')


if __name__ == '__main__':
    sbrpc.main([setup, test_demo])
