#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# SIGHUP reloads the configuration (docs/configuration.md, "Reloading"):
# a live key (max-payload, log level) applies at once, as the CLI sees it;
# a changed restart-only key ([journal] sync) is logged as waiting for a
# restart; a configuration that does not load keeps the settings in force
# and the hub running. The hub runs as this test's child so that its log
# can be read: each step waits for the hub's own line saying it reloaded.

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sbfixture  # noqa: E402
from clitest import check, expect, finish, require_environment, run  # noqa: E402

require_environment()
sbfixture.write_config('[limits]\nmax-payload=64k   # bytes\n')
env = dict(os.environ, G_MESSAGES_DEBUG='switchboard')
hub = subprocess.Popen([os.environ['SWITCHBOARDD']], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
log = sbfixture.LineReader(hub.stdout.fileno())


def wait_line(pattern):
    """The hub's next log line matching @pattern (earlier lines are skipped)."""
    deadline = time.monotonic() + sbfixture.TIMEOUT
    while time.monotonic() < deadline:
        line = log.readline(deadline - time.monotonic())
        if line is None:
            break
        print('#   [hub] ' + line, flush=True)
        if re.search(pattern, line):
            return line
    check(False, 'a hub log line matching %r' % pattern)
    return ''


def reload(text, done):
    sbfixture.write_config(text)
    hub.send_signal(signal.SIGHUP)
    return wait_line(done)


try:
    wait_line(r'serving as org\.switchboard\.Hub1')
    expect(1, 'publish', 'a.b', 'x' * 65537, err_contains='65536')

    reload('[limits]\nmax-payload=128k\n[journal]\nsync=never\n[log]\nlevel=debug\n', r'Reloaded the configuration')
    expect(0, 'publish', 'a.b', 'x' * 65537)
    r = run('status', '--json')
    check('"max-payload":131072' in r.out.replace(' ', ''), 'status shows the new limit: %s' % r.out[:200])

    line = reload('[journal]\nsync=interval\n[limits]\nmax-payload=128k\n', r'needs a restart|Reloaded')
    check('sync=interval needs a restart' in line, 'a restart-only key is said to wait: %r' % line)
    wait_line(r'Reloaded the configuration: 1 setting\(s\) changed, 1 waiting')      # the log level

    line = reload('[limits]\nmax-payload=1k   # smaller\nmax-clients=lots\n', r'max-clients|keeping')
    check(':3:' in line and 'max-clients=lots' in line, 'the bad line is named: %r' % line)
    wait_line(r'did not load.*keeping the settings in force')
    check(hub.poll() is None, 'the hub keeps running after a bad reload')
    expect(0, 'publish', 'a.b', 'x' * 65537)          # max-payload is still 128k
finally:
    sbfixture.stop_process(hub)
    hub.stdout.close()
finish()
