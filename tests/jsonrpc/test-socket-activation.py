# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Socket activation without systemd (switchboard.socket's path):
# systemd-socket-activate listens on $XDG_RUNTIME_DIR/switchboard/socket and
# hands the socket to switchboardd (sd_listen_fds, name "jsonrpc"). A socket
# client that connects first is served by the hub on the adopted socket (the
# same inode: the hub neither re-creates nor, on exit, removes it), and that
# hub is the one on the bus: a D-Bus publish reaches the socket subscriber.

import os
import shutil
import signal
import subprocess
import sys
import tempfile

import sbrpc
from sbrpc import Conn, check, check_eq, log

proc = None
log_file = None
inode = None


def stop():
    if proc:
        sbrpc.stop_process(proc, signal.SIGTERM, timeout=20)


def setup():
    global proc, log_file, inode
    tool = shutil.which('systemd-socket-activate')
    if not tool:
        raise sbrpc.Skip('systemd-socket-activate not found')
    os.makedirs(sbrpc.runtime_dir(), mode=0o700, exist_ok=True)
    check(not os.path.exists(sbrpc.socket_path()), 'a socket exists before the test')
    log_file = tempfile.NamedTemporaryFile(prefix='sb-hub-log.', dir=os.environ.get('SB_TMP'), delete=False)
    # systemd-socket-activate passes on only the variables it is told to.
    env = ['-E%s' % v for v in ('DBUS_SESSION_BUS_ADDRESS', 'XDG_RUNTIME_DIR', 'XDG_STATE_HOME', 'XDG_CONFIG_HOME',
                                 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'LC_ALL', 'G_DEBUG')
           if v in os.environ]
    proc = subprocess.Popen([tool, '-l', sbrpc.socket_path(), '--fdname=jsonrpc'] + env +
                            [os.environ['SWITCHBOARDD']], stdout=log_file, stderr=log_file)
    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(1)))

    def alive():
        check(proc.poll() is None, 'systemd-socket-activate exited with %r' % proc.returncode)
    sbrpc.wait_socket(sbrpc.socket_path(), 'systemd-socket-activate to listen on %s' % sbrpc.socket_path(),
                      alive=alive)
    inode = os.stat(sbrpc.socket_path()).st_ino


def test_first_client_is_served():
    c = Conn(label='first client')
    i = c.call('hub.info')
    check_eq(sbrpc.socket_clients(i), 1, 'socket clients')
    check_eq(sbrpc.peer_cred(c.sock)[0], proc.pid, 'pid behind the socket (the activated hub)')
    check_eq(os.stat(sbrpc.socket_path()).st_ino, inode, 'inode of the socket (adopted, not re-created)')
    c.call('subscribe', ['activation.>'])

    # The same hub owns the bus name once it is ready: wait for the name, then publish over D-Bus.
    def owned():
        out = sbrpc.busctl('call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                           'NameHasOwner', 's', 'org.switchboard.Hub1')
        return out.strip() == 'b true'
    sbrpc.wait_until(owned, 'the activated hub to own org.switchboard.Hub1')
    out = sbrpc.busctl('call', 'org.switchboard.Hub1', '/org/switchboard/Hub1', 'org.switchboard.Hub1',
                       'Publish', 'ss', 'activation.dbus', 'via the bus')
    m = c.next_note('message')['params']
    check_eq((m['topic'], m['payload'], m['seq']), ('activation.dbus', 'via the bus', int(out.split()[1])),
             'D-Bus publish at the socket subscriber')
    pid = sbrpc.busctl('call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                       'GetConnectionUnixProcessID', 's', 'org.switchboard.Hub1').split()[1]
    check_eq(int(pid), proc.pid, 'pid of the bus name owner')
    # More clients, also after the first one left.
    c.close()
    for k in range(5):
        d = Conn(label='client %d' % k)
        check('version' in d.call('hub.info'), 'hub.info')
        d.close()


def test_stop_keeps_socket_file():
    stop()
    check_eq(proc.returncode, 0, 'hub exit status after SIGTERM')
    check(os.path.exists(sbrpc.socket_path()), 'the hub removed the socket it was handed')
    log('hub log:\n# ' + '\n# '.join(open(log_file.name, errors='replace').read().strip().splitlines()))


if __name__ == '__main__':
    try:
        sbrpc.main([setup, test_first_client_is_served, test_stop_keeps_socket_file])
    finally:
        stop()
