#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage errors exit 2 with a clear message and never touch the bus (the bus
# address here points nowhere, which would give 69); --help works for the
# CLI and every command and documents the exit codes.

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import check, expect, finish, require_environment, run  # noqa: E402

require_environment()
NOBUS = {'DBUS_SESSION_BUS_ADDRESS': 'unix:path=/nonexistent/switchboard-test-bus'}
COMMANDS = ['publish', 'subscribe', 'get', 'set', 'delete', 'list', 'watch', 'clear-retained', 'status',
            'monitor', 'stdio', 'push', 'work', 'queues', 'peek', 'kick', 'purge', 'call', 'serve']


def usage(args, msg):
    r = expect(2, *args, env=NOBUS, out='', err_contains=['switchboard: ', msg, '--help'])
    return r


# Top level.
usage([], 'missing command')
usage(['frobnicate'], "unknown command 'frobnicate'")
usage(['--frob'], "unknown option '--frob'")
usage(['--address'], "option '--address' needs a value")
usage(['help', 'nope'], "unknown command 'nope'")

# Missing and extra arguments.
usage(['publish'], 'missing argument')
usage(['publish', 'topic'], 'missing argument')
usage(['publish', 'a', 'b', 'c'], "too many arguments: 'c'")
usage(['subscribe'], 'missing argument')
usage(['get'], 'missing argument')
usage(['get', 'a', 'b'], "too many arguments: 'b'")
usage(['set', 'k'], 'missing argument')
usage(['set', 'k', 'v', 'w'], "too many arguments: 'w'")
usage(['delete'], 'missing argument')
usage(['delete', 'a', 'b'], 'too many arguments')
usage(['list', 'a', 'b'], 'too many arguments')
usage(['clear-retained'], 'missing argument')
usage(['clear-retained', 'a', 'b'], 'too many arguments')
usage(['status', 'x'], "too many arguments: 'x'")
usage(['monitor', 'a.>', 'b'], "too many arguments: 'b'")
usage(['stdio', 'x'], "too many arguments: 'x'")

# Backend choice: --dbus and --socket exclude each other; monitor and stdio need the socket.
usage(['--dbus', '--socket', 'status'], '--dbus and --socket cannot be used together')
usage(['status', '--dbus', '--socket=/x'], '--dbus and --socket cannot be used together')
usage(['monitor', '--dbus'], "'monitor' needs the hub's socket")
usage(['--dbus', 'stdio'], "'stdio' needs the hub's socket")
r = expect(2, 'status', env=dict(NOBUS, SWITCHBOARD_BACKEND='carrier-pigeon'), out='',
           err_contains="invalid SWITCHBOARD_BACKEND 'carrier-pigeon'")

# Unknown options and bad numbers.
usage(['publish', '--frob', 't', 'p'], '--frob')
usage(['get', '--retain', 'k'], '--retain')
usage(['subscribe', '--count', 'x', 'a'], "invalid number 'x' for --count")
usage(['subscribe', '--count', '0', 'a'], "invalid number '0' for --count")
usage(['subscribe', '--count=-1', 'a'], "invalid number '-1' for --count")
usage(['subscribe', '--count', '99999999999999999999999', 'a'], 'invalid number')
usage(['watch', '--count', '1.5', 'a'], "invalid number '1.5' for --count")
usage(['set', '--if-revision', 'abc', 'k', 'v'], "invalid number 'abc' for --if-revision")
usage(['set', '--if-revision', '-3', 'k', 'v'], 'invalid number')
usage(['subscribe', '--count'], '--count')

# --help: the CLI and every command, exit 0, on stdout, exit codes listed.
r = expect(0, '--help', env=NOBUS)
for c in COMMANDS:
    check(('\n  %s ' % c) in r.out, 'switchboard --help lists %s' % c)
for code in ('0 ', '1 ', '2 ', '3 ', '4 ', '5 ', '6 ', '7 ', '69 '):
    check(('\n  ' + code) in r.out, 'switchboard --help documents exit status %s' % code.strip())
check(expect(0, '-h', env=NOBUS).out == r.out, '-h is --help')
check(expect(0, 'help', env=NOBUS).out == r.out, 'help is --help')
for c in COMMANDS:
    h = expect(0, c, '--help', env=NOBUS)
    check(('switchboard %s [OPTION' % c) in h.out and 'Exit status:' in h.out and '--address' in h.out,
          '%s --help shows its usage, options and exit codes' % c)
    check(expect(0, 'help', c, env=NOBUS).out == h.out, 'help %s is %s --help' % (c, c))
h = run('subscribe', '--help')
for opt in ('--retained', '--json', '--count'):
    check(opt in h.out, 'subscribe --help documents %s' % opt)
check('--retain' in run('publish', '--help').out, 'publish --help documents --retain')
check('--if-revision' in run('set', '--help').out, 'set --help documents --if-revision')
check('--json' in run('get', '--help').out and '--json' in run('list', '--help').out, 'get/list --json')
for c in COMMANDS:
    h = run(c, '--help').out
    check('--dbus' in h and '--socket' in h, '%s --help documents --dbus and --socket' % c)
h = run('--help').out
check('--dbus' in h and '--socket[=PATH]' in h, 'switchboard --help documents --dbus and --socket[=PATH]')
for opt in ('--json', '--count'):
    check(opt in run('monitor', '--help').out, 'monitor --help documents %s' % opt)
for c, opts in (('push', ('--delay',)), ('work', ('--timeout', '--visibility', '--count', '--retry-delay')),
                ('queues', ('--json',)), ('peek', ('--json',)), ('kick', ('--max',)),
                ('call', ('--timeout',)), ('serve', ('--count',))):
    h = run(c, '--help').out
    for opt in opts:
        check(opt in h, '%s --help documents %s' % (c, opt))
# work and serve need a COMMAND; usage errors come before any connection.
usage(['work', 'q'], 'missing argument')
usage(['serve', 'svc'], 'missing argument')
usage(['work', 'q', '--count', '0', '--', 'true'], '--count')
usage(['work', 'q', '--visibility', 'x', '--', 'true'], '--visibility')
usage(['call', 'svc', 'x', '--timeout', '300001'], '--timeout')
usage(['kick', 'q', '--max', '-1'], '--max')

finish()
