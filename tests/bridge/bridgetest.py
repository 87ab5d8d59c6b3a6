# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bridgetest.py: the pieces of the bridge tests, all real programs: NATS
# servers (nats-server, clustered on loopback ports), hubs (each on a private
# dbus-daemon with its own XDG_RUNTIME_DIR, XDG_STATE_HOME, XDG_CONFIG_HOME,
# started by D-Bus activation), switchboard-bridge processes (ready when
# they send READY=1 to a NOTIFY_SOCKET of the test), CLI processes and raw
# socket clients. Nothing sleeps for readiness: each wait ends when its
# condition holds (a port accepts, a route shows in /routez, a datagram or a
# frame arrives) or fails with what did not happen.

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import time

from sbfixture import (FileWatch, FrameReader, LineReader, Skip, TIMEOUT, check, fail, frame, stop_process,
                       wait_until)

NATS_SERVER = shutil.which('nats-server') or '/usr/sbin/nats-server'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def need(path, what):
    if not path or not os.path.exists(path):
        raise Skip('%s not found (%s)' % (what, path))


class NatsServer:
    """One nats-server on @host; @routes: (host, cluster port) of the others;
    @prefix: what to run it under (nsenter into a network namespace). Ready,
    and routed, as its log says: the test need not reach its ports itself."""

    def __init__(self, tmp, name, routes=(), host='127.0.0.1', prefix=()):
        need(NATS_SERVER, 'nats-server (Debian package nats-server)')
        self.tmp, self.name, self.host, self.prefix = tmp, name, host, list(prefix)
        self.port, self.cluster_port, self.http_port = free_port(), free_port(), free_port()
        self.routes = list(routes)
        self.proc = None
        self.log_path = os.path.join(tmp, 'nats-%s.log' % name)
        self.start()

    @property
    def url(self):
        return 'nats://%s:%d' % (self.host, self.port)

    def _log_text(self):
        try:
            with open(self.log_path, errors='replace') as f:
                f.seek(self.log_start)
                return f.read()
        except FileNotFoundError:
            return ''

    def wait_log(self, needle, what, count=1):
        """Wait until this run of the server logged @needle @count times."""
        def seen():
            check(self.proc.poll() is None, 'nats-server %s exited (%s): %s'
                  % (self.name, self.proc.returncode, self._log_text()[-500:]))
            return self._log_text().count(needle) >= count
        with FileWatch(self.log_path) as w:
            wait_until(seen, what, pump=w.pump)

    def start(self):
        args = self.prefix + [NATS_SERVER, '-a', self.host, '-p', str(self.port), '-m', str(self.http_port),
                              '-n', self.name, '--cluster_name', 'sbtest',
                              '--cluster', 'nats://%s:%d' % (self.host, self.cluster_port)]
        if self.routes:
            args += ['--routes', ','.join('nats://%s:%d' % r for r in self.routes)]
        self.log_start = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        self.proc = subprocess.Popen(args + ['-l', self.log_path], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        # The last line of its start-up: clients and routes are both listened for.
        self.wait_log('Listening for route connections', 'nats-server %s to start' % self.name)

    def kill(self):
        stop_process(self.proc, signal.SIGKILL)

    def stop(self):
        if self.proc:
            stop_process(self.proc)


class Hub:
    """A hub on a private session bus, with its own XDG dirs."""

    def __init__(self, tmp, name, prefix=(), config=None):
        self.name = name
        self.dir = os.path.join(tmp, name)
        self.prefix = list(prefix)
        for d in ('runtime', 'state', 'config'):
            os.makedirs(os.path.join(self.dir, d), mode=0o700)
        if config:
            os.makedirs(os.path.join(self.dir, 'config', 'switchboard'))
            with open(os.path.join(self.dir, 'config', 'switchboard', 'switchboard.conf'), 'w') as f:
                f.write(config)
        self.env = dict(os.environ,
                        XDG_RUNTIME_DIR=os.path.join(self.dir, 'runtime'),
                        XDG_STATE_HOME=os.path.join(self.dir, 'state'),
                        XDG_CONFIG_HOME=os.path.join(self.dir, 'config'),
                        ASAN_OPTIONS='log_path=%s/asan:detect_leaks=1' % tmp,
                        UBSAN_OPTIONS='log_path=%s/asan:print_stacktrace=1:halt_on_error=1' % tmp)
        self.env.pop('DBUS_SESSION_BUS_ADDRESS', None)
        self.env.pop('SWITCHBOARD_SOCKET', None)
        self.bus = subprocess.Popen(self.prefix + ['dbus-daemon', '--config-file=' + os.environ['SB_SESSION_CONF'],
                                                   '--nofork', '--print-address=1'],
                                    stdout=subprocess.PIPE, env=self.env)
        line = LineReader(self.bus.stdout.fileno()).readline()
        check(line, 'the dbus-daemon of hub %s printed no address' % name)
        self.env['DBUS_SESSION_BUS_ADDRESS'] = line.strip()
        self.socket = os.path.join(self.env['XDG_RUNTIME_DIR'], 'switchboard', 'socket')
        self.run('busctl', '--user', 'call', 'org.freedesktop.DBus', '/org/freedesktop/DBus',
                 'org.freedesktop.DBus', 'StartServiceByName', 'su', 'org.switchboard.Hub1', '0')
        check(os.path.exists(self.socket), 'hub %s is up but has no socket' % name)

    def run(self, *argv, check_rc=True, input=None):
        r = subprocess.run(self.prefix + list(argv), env=self.env, capture_output=True, text=True,
                           input=input, timeout=TIMEOUT * 3)
        if check_rc and r.returncode != 0:
            fail('%s on hub %s failed (%d): %s' % (' '.join(argv), self.name, r.returncode, r.stderr.strip()))
        return r

    def cli(self, *args, **kw):
        return self.run(os.environ['SWITCHBOARD'], *args, **kw)

    def spawn(self, *argv, **kw):
        return subprocess.Popen(self.prefix + list(argv), env=dict(self.env, **kw.pop('env', {})),
                                stdout=kw.pop('stdout', subprocess.PIPE), stderr=kw.pop('stderr', None), **kw)

    def stop(self):
        stop_process(self.bus)
        pidfile = os.path.join(self.env['XDG_RUNTIME_DIR'], 'switchboard', 'switchboardd.pid')
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return
        subprocess.run(['timeout', '20', 'tail', '-s', '0.05', '--pid=%d' % pid, '-f', '/dev/null'])


class Bridge:
    """A switchboard-bridge of @hub, run under @prefix (nsenter into a network
    namespace); ready once it sent READY=1."""

    def __init__(self, hub, *args, prefix=()):
        self.hub = hub
        path = os.path.join(hub.dir, 'notify')
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(path)
        self.log_path = os.path.join(hub.dir, 'bridge.log')
        self.log = open(self.log_path, 'a')
        # Sanitizer reports of bridges apart from the hub's and the CLI's (asan.*).
        asan = 'log_path=%s/bridge-asan:detect_leaks=1' % os.path.dirname(hub.dir)
        self.proc = hub.spawn(*prefix, os.environ['SWITCHBOARD_BRIDGE'], *args, stderr=self.log,
                              env={'NOTIFY_SOCKET': path, 'ASAN_OPTIONS': asan,
                                   'UBSAN_OPTIONS': asan + ':print_stacktrace=1:halt_on_error=1'})
        deadline = time.monotonic() + TIMEOUT
        while True:
            r, _, _ = select.select([self.notify], [], [], 0.1)
            if r and b'READY=1' in self.notify.recv(4096):
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                fail('switchboard-bridge of hub %s did not start (%s): %s'
                     % (hub.name, self.proc.poll(), self.output()))

    def output(self):
        with open(self.log_path, errors='replace') as f:
            return f.read()

    def stop(self):
        rc = stop_process(self.proc)
        self.notify.close()
        self.log.close()
        return rc


class SocketClient:
    """A raw JSON-RPC client on @hub's socket (the protocol, no library)."""

    def __init__(self, hub):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(hub.socket)
        self.reader = FrameReader(self.sock.fileno())
        self.next_id = 1
        self.notes = []

    def call(self, method, params):
        i = self.next_id
        self.next_id += 1
        self.sock.sendall(frame({'jsonrpc': '2.0', 'id': i, 'method': method, 'params': params}))
        deadline = time.monotonic() + TIMEOUT
        while True:
            m = json.loads(self.reader.read_frame(deadline))
            if m.get('id') == i:
                check('error' not in m, '%s failed: %r' % (method, m.get('error')))
                return m['result']
            self.notes.append(m)

    def notification(self, timeout=TIMEOUT):
        if self.notes:
            return self.notes.pop(0)
        return json.loads(self.reader.read_frame(time.monotonic() + timeout))

    def close(self):
        self.sock.close()


class Subscriber:
    """`switchboard subscribe --json PATTERN...` on @hub, its lines as objects."""

    def __init__(self, hub, *patterns):
        self.proc = hub.spawn(os.environ['SWITCHBOARD'], 'subscribe', '--json', *patterns,
                              stderr=subprocess.PIPE)
        self.lines = LineReader(self.proc.stdout.fileno())
        self.errors = LineReader(self.proc.stderr.fileno())
        self.got = []

    def read(self, timeout=TIMEOUT):
        line = self.lines.readline(timeout)
        if line is None:
            return None
        m = json.loads(line)
        self.got.append(m)
        return m

    def read_until(self, pred, what, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        for m in self.got:
            if pred(m):
                return m
        while True:
            m = self.read(max(0.0, deadline - time.monotonic()))
            if m is None:
                fail('timed out waiting for %s (got %d messages)' % (what, len(self.got)))
            if pred(m):
                return m

    def stop(self):
        stop_process(self.proc)


def subscriptions(hub):
    """The hub's subscription count (hub.info), to know a subscriber is ready."""
    return json.loads(hub.cli('status', '--json').stdout).get('subscriptions', 0)


class NetNamespace:
    """A network namespace held by a `unshare -n` process, with loopback up;
    prefix is how to run a command in it. Needs root; Skip otherwise."""

    def __init__(self):
        if os.geteuid() != 0:
            raise Skip('network namespaces need root (unshare -n)')
        for prog in ('unshare', 'nsenter', 'ip'):
            if not shutil.which(prog):
                raise Skip('%s not found' % prog)
        self.proc = subprocess.Popen(['unshare', '-n', 'sleep', 'infinity'])
        self.prefix = ['nsenter', '-t', str(self.proc.pid), '-n', '--']

        def entered():
            # unshare has made the namespace once /proc/PID/ns/net differs from ours.
            check(self.proc.poll() is None, 'unshare -n failed (%s)' % self.proc.returncode)
            return os.readlink('/proc/%d/ns/net' % self.proc.pid) != os.readlink('/proc/self/ns/net')
        wait_until(entered, 'unshare -n to make a namespace', pump=lambda left: self.proc.poll())
        self.ip('link', 'set', 'lo', 'up')

    def ip(self, *args):
        r = subprocess.run(self.prefix + ['ip'] + list(args), capture_output=True, text=True)
        if r.returncode != 0:
            raise Skip('ip %s failed in a network namespace: %s' % (' '.join(args), r.stderr.strip()))

    def stop(self):
        stop_process(self.proc, signal.SIGKILL)


def veth_pair(ns_a, addr_a, ns_b, addr_b):
    """A veth pair between two namespaces, addresses in 10.77.0.0/24."""
    link = 'sbv%d' % os.getpid()
    ns_a.ip('link', 'add', link + 'a', 'type', 'veth', 'peer', 'name', link + 'b', 'netns', str(ns_b.proc.pid))
    ns_a.ip('addr', 'add', addr_a + '/24', 'dev', link + 'a')
    ns_a.ip('link', 'set', link + 'a', 'up')
    ns_b.ip('addr', 'add', addr_b + '/24', 'dev', link + 'b')
    ns_b.ip('link', 'set', link + 'b', 'up')


def sanitizer_reports(tmp):
    """The text of every sanitizer report processes of this test wrote."""
    out = []
    for name in sorted(os.listdir(tmp)):
        if name.startswith(('asan.', 'bridge-asan.')):
            with open(os.path.join(tmp, name), errors='replace') as f:
                out.append('%s:\n%s' % (name, f.read()))
    return out
