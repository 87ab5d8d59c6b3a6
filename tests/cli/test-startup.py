#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Start-up failures explain themselves (issue 12), through the real hub and
# CLI: every ini example in docs/ is accepted verbatim; a bad value stops the
# hub and `switchboard status` then prints why, with the config file and
# line, from the last-error file (0600, in the runtime dir, else the state
# dir), which a later good start removes; the FIFO path: a regular file
# written while no hub ran is replayed, a symbolic link is refused, and after
# kill -9 a writer neither blocks nor loses its line. Also the messages of
# issue 12: no "[OPTION?]", no capitalised "Unknown option", no "No medium
# found", and the closest-key suggestion for a misspelt key.

import glob
import os
import re
import signal
import stat
import subprocess
import sys
import tempfile

import dbus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sbfixture  # noqa: E402
from clitest import check, expect, finish, require_environment, run  # noqa: E402

require_environment()
SWITCHBOARDD = os.environ['SWITCHBOARDD']
bus = dbus.SessionBus()
RUNTIME = sbfixture.runtime_dir()
LAST_ERROR = os.path.join(RUNTIME, 'last-error')
CONF = os.path.join(os.environ['XDG_CONFIG_HOME'], 'switchboard', 'switchboard.conf')


def daemon(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([SWITCHBOARDD] + list(args), capture_output=True, text=True, env=e,
                          timeout=sbfixture.TIMEOUT)


def stop_hub(sig=signal.SIGTERM):
    """Stop the running hub (if any) and wait until its name is gone and its process too."""
    pid = sbfixture.owner_pid(bus)
    if pid is None:
        return
    os.kill(pid, sig)
    sbfixture.wait_owner(bus, lambda p: p is None, 'the hub to leave the bus')
    sbfixture.wait_until(lambda: sbfixture.process_gone(pid), 'the hub process %d to end' % pid)


# Every ini block of docs/*.md, verbatim, is a configuration the hub accepts.
blocks = []
for path in sorted(glob.glob(os.path.join(os.environ['SB_SOURCE_ROOT'], 'docs', '*.md'))):
    with open(path) as f:
        blocks += [(os.path.basename(path), b) for b in re.findall(r'```ini\n(.*?)```', f.read(), re.S)]
check(len(blocks) >= 3, 'the docs have ini examples (%d)' % len(blocks))
with tempfile.TemporaryDirectory() as d:
    for i, (doc, text) in enumerate(blocks):
        conf = os.path.join(d, '%d.conf' % i)
        with open(conf, 'w') as f:
            f.write(text)
        r = daemon('--check-config', '--config=' + conf)
        check(r.returncode == 0 and 'unknown' not in r.stderr,
              '%s example %d is accepted verbatim: %s' % (doc, i, (r.stderr or r.stdout).strip()))

# A real start with an example that uses comments and a unit.
sbfixture.write_config('[limits]\nmax-payload=64k      # bytes in a message payload\n'
                       'max-topic-length=256 # bytes\n[journal]\ninterval-ms=2s\n')
r = expect(0, 'status', '--json')
check('"max-payload":65536' in r.out.replace(' ', ''), 'max-payload=64k is 65536 bytes: %s' % r.out[:300])
expect(1, 'publish', 'a.b', 'x' * 65537, err_contains='65536')
stop_hub()

# A misspelt key warns (naming the closest key) and the hub starts anyway.
with tempfile.NamedTemporaryFile('w', suffix='.conf') as f:
    f.write('[limits]\nmax-payloa=5\n[limit]\nmax-keys=3\n')
    f.flush()
    r = daemon('--check-config', '--config=' + f.name)
    check(r.returncode == 0, 'unknown keys do not stop the hub: %r' % r.stderr)
    check("did you mean 'max-payload'?" in r.stderr and ':2:' in r.stderr, 'names the closest key: %r' % r.stderr)
    check('did you mean [limits]?' in r.stderr, 'names the closest group: %r' % r.stderr)

# A bad value stops the hub; status says why, with file and line.
sbfixture.write_config('[limits]\n# a comment\nmax-payload=64q   # bytes\n')
for backend in ('dbus', 'socket'):
    r = run('status', env={'SWITCHBOARD_BACKEND': backend})
    check(r.rc == 69, 'status exits 69 when the hub cannot start (%s): %r' % (backend, r))
    check('%s:3:' % CONF in r.err and 'max-payload=64q' in r.err and 'expected a size' in r.err,
          'status says why, with file and line (%s): %r' % (backend, r.err))
    check('Check that switchboardd is installed' not in r.err, 'not only the generic hint: %r' % r.err)
expect(69, 'get', 'k', err_contains=['the hub failed to start', 'max-payload=64q', LAST_ERROR])
check(os.path.exists(LAST_ERROR) and stat.S_IMODE(os.stat(LAST_ERROR).st_mode) == 0o600,
      'last-error is in the runtime dir, mode 0600')

# Fixed, the hub starts and the last-error goes.
sbfixture.write_config('[limits]\nmax-payload=64k   # bytes\n')
expect(0, 'status')
check(not os.path.exists(LAST_ERROR), 'a good start removes last-error')
stop_hub()

# A runtime dir that cannot be used: the reason goes to the state dir.
with tempfile.TemporaryDirectory() as d:
    open(os.path.join(d, 'switchboard'), 'w').close()     # a file where the dir should be
    state = os.path.join(d, 'state')
    env = {'XDG_RUNTIME_DIR': d, 'XDG_STATE_HOME': state}
    r = daemon(env=env)
    check(r.returncode != 0, 'the hub refuses a runtime dir that is a file')
    saved = os.path.join(state, 'switchboard', 'last-error')
    check(os.path.exists(saved) and 'switchboard' in open(saved).read(), 'last-error in the state dir')
    expect(69, '--socket', 'status', env=env, err_contains=['the hub failed to start', saved])

# The FIFO path. A regular file written while no hub ran is replayed.
fifo = sbfixture.fifo_path()
with open(fifo, 'a') as f:
    f.write('{"jsonrpc":"2.0","method":"set","params":{"key":"spooled","value":"yes"}}\n')
expect(0, 'get', 'spooled', out='yes\n')
check(stat.S_ISFIFO(os.lstat(fifo).st_mode), 'the regular file was replaced by the FIFO')
# After kill -9 a writer does not block and its line is kept for the next start.
pid = sbfixture.owner_pid(bus)
stop_hub(signal.SIGKILL)
sbfixture.wait_until(lambda: not stat.S_ISFIFO(os.lstat(fifo).st_mode) if os.path.lexists(fifo) else True,
                     'the guard to remove the FIFO')
w = subprocess.run(['sh', '-c', 'echo "$1" >> "$2"', 'sh',
                    '{"jsonrpc":"2.0","method":"set","params":{"key":"after-kill","value":"kept"}}', fifo],
                   timeout=sbfixture.TIMEOUT)
check(w.returncode == 0, 'echo >> fifo after kill -9 returns')
expect(0, 'get', 'after-kill', out='kept\n')
stop_hub()
# A symbolic link at the FIFO path is refused, and status says so.
os.symlink('/dev/null', fifo)
expect(69, 'status', err_contains=['symbolic link', fifo])
os.unlink(fifo)
expect(0, 'status')

# Messages.
r = daemon('--help')
check('[OPTION?]' not in r.stdout and '[OPTION]...' in r.stdout, 'switchboardd --help usage line: %r' % r.stdout[:80])
r = daemon('--bogus')
check(r.returncode != 0 and "unknown option '--bogus'" in r.stderr, 'switchboardd: lower-case: %r' % r.stderr)
r = run('status', '--bogus')
check(r.rc == 2 and "switchboard: unknown option '--bogus'" in r.err, 'switchboard: lower-case: %r' % r.err)
r = run('--dbus', 'status', env={'XDG_RUNTIME_DIR': None, 'DBUS_SESSION_BUS_ADDRESS': None})
check(r.rc == 69 and 'No medium' not in r.err and 'XDG_RUNTIME_DIR' in r.err, 'no bus, said plainly: %r' % r.err)

finish()
