# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Only the hub's own user gets in (docs/protocol.md, "Where"). As root, the
# test creates a throwaway system user (removed at the end) and proves two
# walls: (a) the runtime directory (0700) keeps that user from reaching the
# socket and the FIFO at all; (b) with the directories made traversable and
# the socket world-writable for the test, the user connects, but the hub's
# SO_PEERCRED check refuses it: the connection is closed without a reply and
# the hub logs the refusal. The hub is started directly (not by activation)
# so that the test can read its log. Skips (77) when not root.

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile

import sbrpc
from sbrpc import Conn, check, check_eq, log

hub = None
hub_log = None
user = None
restore = []        # (path, mode) to put back


# What the foreign user runs: connect, send a request, report what happened.
CHILD = r'''
import errno, socket, struct, sys
path, fifo = sys.argv[1], sys.argv[2]
try:
    open(fifo, 'w').close()
    print('fifo:opened')
except PermissionError:
    print('fifo:EACCES')
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
try:
    s.connect(path)
except PermissionError:
    print('socket:EACCES')
    sys.exit(0)
body = b'{"jsonrpc":"2.0","id":1,"method":"hub.info"}'
try:
    s.sendall(struct.pack('>I', len(body)) + body)
    data = s.recv(65536)
except (ConnectionResetError, BrokenPipeError):
    data = b''
except socket.timeout:
    print('socket:TIMEOUT')
    sys.exit(0)
print('socket:CLOSED' if not data else 'socket:REPLY:' + data[4:200].decode(errors='replace'))
'''


def cleanup():
    for path, mode in reversed(restore):
        try:
            os.chmod(path, mode)
        except OSError:
            pass
    restore.clear()
    if user:
        subprocess.run(['userdel', user], capture_output=True)
    if hub:
        sbrpc.stop_process(hub, signal.SIGTERM, timeout=20)


def on_signal(signum, frame):
    cleanup()
    sys.exit(1)


def as_user(pw):
    r = subprocess.run(['setpriv', '--reuid=%d' % pw.pw_uid, '--regid=%d' % pw.pw_gid, '--clear-groups',
                        sys.executable, '-I', '-c', CHILD, sbrpc.socket_path(), sbrpc.fifo_path()],
                       capture_output=True, text=True, timeout=30)
    check_eq(r.returncode, 0, 'the foreign client failed: %s' % r.stderr.strip())
    return r.stdout.split()


def setup():
    global hub, hub_log, user
    if os.getuid() != 0:
        raise sbrpc.Skip('needs root to create a throwaway user')
    for tool in ('useradd', 'userdel', 'setpriv'):
        if not shutil.which(tool):
            raise sbrpc.Skip('%s not found' % tool)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    hub_log = tempfile.NamedTemporaryFile(prefix='sb-hub-log.', dir=os.environ.get('SB_TMP'), delete=False)
    hub = subprocess.Popen([os.environ['SWITCHBOARDD']], stdout=hub_log, stderr=hub_log)

    def alive():
        check(hub.poll() is None, 'the hub exited with %r' % hub.returncode)
    sbrpc.wait_socket(sbrpc.socket_path(), 'the hub to listen on %s' % sbrpc.socket_path(), alive=alive)
    global owner
    owner = Conn(label='owner')
    owner.call('hub.info')

    name = 'sbtest-%d' % os.getpid()
    r = subprocess.run(['useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name],
                       capture_output=True, text=True)
    check_eq(r.returncode, 0, 'useradd %s: %s' % (name, r.stderr.strip()))
    user = name
    log('throwaway user %s (uid %d)' % (name, pwd.getpwnam(name).pw_uid))


def test_directory_keeps_them_out():
    d = sbrpc.runtime_dir()
    check_eq(os.stat(d).st_mode & 0o777, 0o700, 'mode of %s' % d)
    check_eq(os.stat(sbrpc.socket_path()).st_mode & 0o777, 0o600, 'mode of the socket')
    out = as_user(pwd.getpwnam(user))
    check_eq(out, ['fifo:EACCES', 'socket:EACCES'], 'what the foreign user got')


def test_peercred_refuses():
    pw = pwd.getpwnam(user)
    before = sbrpc.info(owner)
    # Open the way for the test only: every directory up to the socket traversable, the socket
    # world-writable. The FIFO stays 0600.
    path = sbrpc.runtime_dir()
    while True:
        st = os.stat(path)
        restore.append((path, st.st_mode & 0o7777))
        os.chmod(path, (st.st_mode & 0o7777) | 0o001)
        if path in ('/', '/tmp') or not path.startswith(os.environ['SB_TMP']):
            break
        path = os.path.dirname(path)
    restore.append((sbrpc.socket_path(), 0o600))
    os.chmod(sbrpc.socket_path(), 0o666)
    try:
        out = as_user(pw)
    finally:
        cleanup_modes()
    check_eq(out, ['fifo:EACCES', 'socket:CLOSED'], 'what the foreign user got')

    want = 'Refused a connection from uid %d' % pw.pw_uid

    def logged():
        with open(hub_log.name, errors='replace') as f:
            return want in f.read()
    with sbrpc.FileWatch(hub_log.name) as watch:
        sbrpc.wait_until(logged, 'the hub to log "%s"' % want, pump=watch.pump)
    after = sbrpc.info(owner)
    check_eq(after['clients'], before['clients'], 'clients after the refusal')
    check('seq' in owner.call('publish', ['foreign.after', 'still here']), 'the owner is served')


def cleanup_modes():
    for path, mode in reversed(restore):
        os.chmod(path, mode)
    restore.clear()


def teardown():
    cleanup()
    check_eq(hub.returncode, 0, 'hub exit status')
    with open(hub_log.name, errors='replace') as f:
        text = f.read()
    log('hub log:\n# ' + '\n# '.join(text.strip().splitlines()))


if __name__ == '__main__':
    try:
        sbrpc.main([setup, test_directory_keeps_them_out, test_peercred_refuses, teardown])
    finally:
        cleanup()
