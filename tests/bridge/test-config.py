#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-config.py: switchboard-bridge's settings. The [bridge] group of
# switchboard.conf as the bridge reads it (lists, comments, prefixes,
# booleans, sizes, flags over the file, secrets masked), what it refuses,
# and that the hub's own --check-config passes the same file without a word.

import os
import subprocess
import tempfile

from sbfixture import check, check_eq, run_tests

GOOD = '''[limits]
max-clients=64
[bridge]
nats-url = nats://10.0.0.2:4222, nats://10.0.0.3:4222   # two servers
name = laptop
export = sensors.> alerts.*
export-prefix = host.laptop.
import = host.desktop.>
import-prefix = host.desktop.
export-services = weather.now
import-services = backup.status,disk.free
token = s3cret
reconnect-buffer = 16M
discovered-servers = no
'''


def run(prog, *args):
    return subprocess.run([os.environ[prog]] + list(args), capture_output=True, text=True)


def expect(printed, want):
    """--check-config printed @want's keys with these values."""
    got = dict(line.split(' = ', 1) for line in printed.splitlines() if ' = ' in line)
    for key, value in want.items():
        check_eq(got.get(key), value, key)


TMP = tempfile.TemporaryDirectory(prefix='sb-bridge-config.')


def conf(text):
    """A configuration file holding @text (removed with the test's directory)."""
    fd, path = tempfile.mkstemp(suffix='.conf', dir=TMP.name)
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    return path


def test_file_is_read():
    path = conf(GOOD)
    r = run('SWITCHBOARD_BRIDGE', '--config', path, '--check-config')
    check_eq((r.returncode, r.stderr), (0, ''), 'switchboard-bridge --check-config')
    expect(r.stdout, {'nats-url': 'nats://10.0.0.2:4222, nats://10.0.0.3:4222',      # comment cut
                      'export': 'sensors.>, alerts.*', 'import-services': 'backup.status, disk.free',
                      'export-prefix': 'host.laptop.', 'token': '(set)', 'reconnect-buffer': str(16 << 20),
                      'discovered-servers': 'no', 'send-asap': 'yes', 'hub-rings': 'auto',
                      'ring-size': str(4 << 20)})


def test_flags_override_the_file():
    path = conf(GOOD)
    r = run('SWITCHBOARD_BRIDGE', '--config', path, '--check-config', '--export', 'a.>', '--export', 'b.c',
            '--name', 'other', '--no-send-asap', '--token=', '--hub-rings', 'no', '--ring-size', '64K')
    check_eq(r.returncode, 0, 'status: ' + r.stderr)
    expect(r.stdout, {'export': 'a.>, b.c', 'name': 'other', 'send-asap': 'no', 'token': '',
                      'hub-rings': 'no', 'ring-size': str(64 << 10),
                      'import': 'host.desktop.>'})


def test_bad_values_are_refused():
    for text, word in (('export = a..b', 'export'), ('export-prefix = host', 'export-prefix'),
                       ('import-services = a.*', 'import-services'), ('max-pending = 0', 'max-pending'),
                       ('discovered-servers = maybe', 'discovered-servers'), ('nkey = UABC', 'nkey-seed'),
                       ('hub-rings = maybe', 'hub-rings'), ('ring-size = 3000', 'ring-size')):
        r = run('SWITCHBOARD_BRIDGE', '--config', conf('[bridge]\n' + text + '\n'), '--check-config')
        check(r.returncode == 2 and word in r.stderr, '%r: status %d, %r' % (text, r.returncode, r.stderr))
    r = run('SWITCHBOARD_BRIDGE', '--config', conf('[bridge]\nexprot = a\n'), '--check-config')
    check(r.returncode == 0 and "unknown key 'exprot'" in r.stderr, 'an unknown key is a warning: %r' % r.stderr)


def test_the_hub_skips_the_group_quietly():
    r = run('SWITCHBOARDD', '--check-config', '--config', conf(GOOD))
    check_eq((r.returncode, r.stderr.strip()), (0, ''), 'switchboardd --check-config of a file with [bridge]')


if __name__ == '__main__':
    run_tests([test_file_is_read, test_flags_override_the_file, test_bad_values_are_refused,
               test_the_hub_skips_the_group_quietly], needs_bus=False)
