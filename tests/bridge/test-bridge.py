#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-bridge.py: two hubs joined through NATS by two switchboard-bridges,
# every piece real. Two clustered nats-servers (A's bridge on the first, B's
# on the second, so subjects are routed between servers); each hub on its
# own private bus with its own runtime and state dirs. Both bridges export
# and import `demo.>`, so every message could loop; A imports and B exports
# the name `echo.svc`.
#
#   pubsub      a `switchboard publish` on A reaches a `switchboard
#               subscribe`, a socket client and a D-Bus match rule on B, once
#   no-loop     ... and A's own subscriber sees it once, not back from B
#   call        a `switchboard call` on B is served by `switchboard serve` on
#               A across NATS; a name nobody serves on A gives NoServer on B
#   reconnect   nats-servers killed mid-stream and restarted: the bridges
#               reconnect; B's subscriber sees every message or a gap notice
#               for it, and no message twice
#   stall       bridge A stopped: what hub A drops for it is reported on B
#
# With SB_BRIDGE_NETNS=1 (test bridge-two-hubs-netns) each server and its
# bridge run in a network namespace of their own (unshare -n), the two
# joined by a veth pair, so the traffic between the servers really crosses
# an interface; without root it is skipped, saying why.

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from sbfixture import TIMEOUT, Skip, TestFailure, check, check_eq, fail, log, run_tests, wait_until
from bridgetest import (Bridge, Hub, NatsServer, NetNamespace, SocketClient, Subscriber, sanitizer_reports,
                        subscriptions, veth_pair)

state = {}
# bridge-two-hubs-rings: the bridges talk to their hubs through shared-memory rings, which
# need export patterns that overlap no import: A exports demo.> and imports back.>, B the
# other way round. Small rings, so that a stopped bridge makes its hub drop.
RINGS = os.environ.get('SB_BRIDGE_RINGS') == '1'


def bridge_args(nats, name):
    if RINGS:
        exports, imports = ('demo.>', 'back.>') if name == 'hub-a' else ('back.>', 'demo.>')
        return ['--nats-url', nats.url, '--name', name, '--export', exports, '--import', imports,
                '--hub-rings', 'yes', '--ring-size', '64K']
    return ['--nats-url', nats.url, '--name', name, '--export', 'demo.>', '--import', 'demo.>',
            '--hub-rings', 'auto']


def until_delivered(hub, topic, sub, what, timeout=TIMEOUT * 2):
    """Publish numbered probes on @topic of @hub until @sub has one: NATS
    interest travels between servers asynchronously, and a bridge reconnects
    in the background, so the first probes may fall on no subscriber. Each
    try waits up to half a second for its own probe."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state['probes'] = state.get('probes', 0) + 1
        probe = 'probe-%d' % state['probes']
        publish(hub, topic, probe)
        try:
            return sub.read_until(lambda m: m.get('payload') == probe, what, timeout=0.5)
        except TestFailure:
            pass
    fail('timed out waiting for %s' % what)


def publish(hub, topic, payload):
    """`switchboard publish`; what goes to demo.stream is remembered in order."""
    hub.cli('publish', topic, payload)
    if topic == 'demo.stream':
        state.setdefault('stream_sent', []).append(payload)


def test_setup():
    for prog in ('dbus-daemon', 'busctl'):
        if not subprocess.run(['sh', '-c', 'command -v ' + prog], capture_output=True).returncode == 0:
            raise Skip(prog + ' not found')
    tmp = tempfile.mkdtemp(prefix='sb-bridge.')
    state['tmp'] = tmp
    pa = pb = []
    if os.environ.get('SB_BRIDGE_NETNS') == '1':
        # Each NATS server and its bridge in a network namespace of their own, joined
        # by a veth pair: the route between the servers crosses a real interface. The
        # hubs stay outside (a bridge reaches its hub by the socket's path).
        ns_a = NetNamespace()
        state['netns'] = [ns_a]
        ns_b = NetNamespace()
        state['netns'].append(ns_b)
        veth_pair(ns_a, '10.77.0.1', ns_b, '10.77.0.2')
        pa, pb = ns_a.prefix, ns_b.prefix
        n1 = NatsServer(tmp, 'n1', host='10.77.0.1', prefix=pa)
        state['nats'] = [n1]
        n2 = NatsServer(tmp, 'n2', routes=[('10.77.0.1', n1.cluster_port)], host='10.77.0.2', prefix=pb)
    else:
        n1 = NatsServer(tmp, 'n1')
        state['nats'] = [n1]
        n2 = NatsServer(tmp, 'n2', routes=[('127.0.0.1', n1.cluster_port)])
    state['nats'].append(n2)
    state['prefixes'] = [pa, pb]
    for n in (n1, n2):
        n.wait_log('Route connection created', 'the NATS route between n1 and n2 (%s)' % n.name)
    if pa:
        check('10.77.0.2:' in n1._log_text(), 'the route did not come from across the veth pair')
        log('route n2 → n1 over the veth pair (10.77.0.2 → 10.77.0.1)')
    # A small output buffer on A, so that a stopped bridge makes the hub drop.
    a, b = Hub(tmp, 'a', config='[jsonrpc]\nmax-output=64K\n'), Hub(tmp, 'b')
    state['hubs'] = [a, b]
    state['bridges'] = [Bridge(a, *bridge_args(n1, 'hub-a'), '--import-service', 'echo.svc',
                               '--import-service', 'nobody.svc', prefix=pa),
                        # Only n2, so that while n2 is down B's bridge really is away.
                        Bridge(b, *bridge_args(n2, 'hub-b'), '--no-discovered-servers',
                               '--export-service', 'echo.svc',
                               '--export-service', 'nobody.svc', prefix=pb)]


def test_pubsub_reaches_every_transport_once():
    import dbus
    from dbus.mainloop.glib import DBusGMainLoop
    from gi.repository import GLib
    a, b = state['hubs']

    before = subscriptions(b)
    sub_b = Subscriber(b, 'demo.>')
    wait_until(lambda: subscriptions(b) > before, "B's subscriber to subscribe", pump=lambda left: None)
    sub_a = Subscriber(a, 'demo.>')
    state['subs'] = [sub_a, sub_b]
    until_delivered(a, 'demo.warm', sub_b, 'the route A → NATS → B to carry a probe')

    sock = SocketClient(b)
    sock.call('subscribe', {'pattern': 'demo.>'})
    DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(b.env['DBUS_SESSION_BUS_ADDRESS'])
    signals = []
    bus.add_match_string("type='signal',interface='org.switchboard.Hub1',member='Message',"
                         "arg0namespace='demo'")
    bus.add_message_filter(lambda conn, msg: signals.append(msg.get_args_list())
                           if msg.get_member() == 'Message' else None)

    a.cli('publish', 'demo.kitchen.temp', '21.5')
    m = sub_b.read_until(lambda m: m['topic'] == 'demo.kitchen.temp', 'the message on B (CLI)')
    check_eq(m['payload'], '21.5', 'payload on B')
    n = sock.notification()
    while n.get('params', {}).get('topic') != 'demo.kitchen.temp':
        n = sock.notification()
    check_eq(n['params']['payload'], '21.5', 'payload to the socket client on B')
    log('sender on B:', n['params']['sender'])
    ctx = GLib.MainContext.default()
    wait_until(lambda: any(s[0] == 'demo.kitchen.temp' for s in signals), 'the Message signal on B',
               pump=lambda left: ctx.iteration(True) if ctx.pending() else ctx.iteration(False) or
               time.sleep(0.01))
    check_eq([str(s[1]) for s in signals if s[0] == 'demo.kitchen.temp'], ['21.5'], 'Message signals on B')
    sock.close()

    for br in state['bridges']:
        used = 'Using shared-memory rings' in br.output()
        check_eq(used, RINGS, 'bridge of %s uses rings' % br.hub.name)
    if RINGS:
        # The other way: B's export ring, A's import ring.
        sub_back = Subscriber(a, 'back.>')
        try:
            until_delivered(b, 'back.ping', sub_back, 'the route B → NATS → A (rings)')
        finally:
            sub_back.stop()
        a.cli('publish', 'demo.marker2', 'from-a')
        sub_b.read_until(lambda m: m['topic'] == 'demo.marker2', 'A\'s second marker on B')
        sub_a.read_until(lambda m: m['topic'] == 'demo.marker2', 'A\'s second marker on A')
        for name, sub in (('A', sub_a), ('B', sub_b)):
            seen = [m['topic'] for m in sub.got]
            check_eq(seen.count('demo.kitchen.temp'), 1, 'copies on %s (%r)' % (name, seen))
        return
    # No loop: B publishes a marker after; the bridges keep order, so a copy of
    # demo.kitchen.temp coming back to A would arrive before it.
    b.cli('publish', 'demo.marker', 'from-b')
    sub_a.read_until(lambda m: m['topic'] == 'demo.marker', 'B\'s marker on A')
    sub_b.read_until(lambda m: m['topic'] == 'demo.marker', 'B\'s marker on B')
    a.cli('publish', 'demo.marker2', 'from-a')
    sub_b.read_until(lambda m: m['topic'] == 'demo.marker2', 'A\'s second marker on B')
    for name, sub in (('A', sub_a), ('B', sub_b)):
        seen = [m['topic'] for m in sub.got if not m['topic'] == 'demo.warm']
        for t in ('demo.kitchen.temp', 'demo.marker'):
            check_eq(seen.count(t), 1, 'copies of %s on %s (%r)' % (t, name, seen))


def test_call_across_nats():
    a, b = state['hubs']
    server = a.spawn(os.environ['SWITCHBOARD'], 'serve', 'echo.svc', '--', 'sh', '-c', 'printf "echo:"; cat',
                     stderr=subprocess.DEVNULL)
    state['server'] = server
    wait_until(lambda: 'echo.svc' in a.cli('status').stdout, 'the server of echo.svc on A',
               pump=lambda left: None)
    # The NATS queue subscription of A's bridge reaches n2 through the route.
    r = wait_until(lambda: (lambda r: r if r.returncode != 5 else None)(
                   b.cli('call', 'echo.svc', 'hello', '--timeout', '5000', check_rc=False)),
                   'echo.svc to be served across NATS', pump=lambda left: time.sleep(0.05))
    check_eq((r.returncode, r.stdout.strip()), (0, 'echo:hello'), 'the call on B served on A')
    r = b.cli('call', 'nobody.svc', 'x', '--timeout', '5000', check_rc=False)
    check(r.returncode != 0 and 'NoServer' in r.stderr + r.stdout or 'nobody serves' in r.stderr,
          'a name nobody serves on A: %d %s' % (r.returncode, r.stderr))
    log('nobody.svc:', r.stderr.strip())


def stream(n1_or_n2, count):
    """Publish `count` numbered messages on demo.stream from A while @n1_or_n2 is
    killed after a third and restarted after two thirds; then probes on the
    same topic until B has one, so that any loss is seen by the numbering."""
    a, b = state['hubs']
    sub_a, sub_b = state['subs']
    nats = state['nats'][n1_or_n2]
    base = state.setdefault('stream_base', 0)
    state['stream_base'] = base + count
    for i in range(base + 1, base + count + 1):
        publish(a, 'demo.stream', 'm%d' % i)
        if i == base + count // 3:
            nats.kill()
            log('killed', nats.name)
        if i == base + 2 * count // 3:
            nats.start()
            log('restarted', nats.name)
    until_delivered(a, 'demo.stream', sub_b, 'a message after the restart on B', timeout=TIMEOUT * 3)


def test_reconnect_every_message_or_a_gap():
    a, b = state['hubs']
    sub_a, sub_b = state['subs']
    before = subscriptions(b)
    gaps = Subscriber(b, 'switchboard.bridge.gap.>')
    state['gaps'] = gaps
    wait_until(lambda: subscriptions(b) > before, "B's gap subscriber", pump=lambda left: None)
    stream(1, 60)     # B's server: what NATS had for B while it was away is lost
    stream(0, 60)     # A's server: A's bridge buffers and sends after reconnecting
    # demo.stream's topic seq n is message mN plus probes: map the payloads back.
    got = [m['payload'] for m in sub_b.got if m['topic'] == 'demo.stream']
    dups = {p for p in got if got.count(p) > 1}
    check(not dups, 'messages seen twice on B: %r' % sorted(dups))
    import json
    lost = set()
    while True:
        g = gaps.read(0.2)
        if g is None:
            break
        note = json.loads(g['payload'])
        log('gap notice:', note)
        lost |= set(range(note['first'], note['last'] + 1))
    # Topic seq k on demo.stream is the k-th thing A published there (probes included).
    sent = state['stream_sent']
    missing = [(k, p) for k, p in enumerate(sent, 1) if p not in got and k not in lost]
    check(not missing, 'messages neither delivered nor in a gap notice: %r' % missing[:10])
    # B's bridge knows n2 only: what A published while n2 was down never reached it.
    check(lost, 'no gap notice although B was away from NATS')
    # The subscriber of demo.> itself was told too (report_gap: the hub's own gap notice).
    missed = []
    while True:
        line = sub_b.errors.readline(0.2)
        if line is None:
            break
        missed += [line] if 'missed messages' in line else []
    log('B\'s subscriber:', missed)
    check(missed, "B's subscriber of demo.> was not told of the gap")
    log('delivered %d of %d on demo.stream, %d in gap notices' % (len(set(got)), len(sent), len(lost)))
    for br in state['bridges']:
        out = br.output()
        check('Reconnected to NATS' in out or 'Disconnected' not in out,
              'bridge of %s did not reconnect: %s' % (br.hub.name, out[-2000:]))


def test_a_stalled_bridge_is_reported_on_the_other_hub():
    """Bridge A stops reading (SIGSTOP); hub A drops what does not fit its
    output buffer and tells the bridge with a gap; the bridge passes the gap
    on over NATS, and B's bridge publishes it into hub B."""
    import json
    a, b = state['hubs']
    sub_a, sub_b = state['subs']
    gaps = state['gaps']
    bridge_a = state['bridges'][0]
    bridge_a.proc.send_signal(signal.SIGSTOP)
    try:
        big = 'x' * 4000
        # 400 KB towards a bridge that does not read: far over the 64 KiB buffer.
        c = SocketClient(a)
        for i in range(100):
            c.call('publish', {'topic': 'demo.flood', 'payload': '%d %s' % (i, big)})
        c.close()
    finally:
        bridge_a.proc.send_signal(signal.SIGCONT)
    note = None
    while note is None:
        g = gaps.read(TIMEOUT)
        check(g is not None, 'no gap notice on B for what hub A dropped for its bridge')
        if g['topic'] == 'switchboard.bridge.gap._unknown':
            note = json.loads(g['payload'])
    log('gap notice:', note)
    check(note['lost'] > 0 and note['bridge'] == 'hub-a', 'the notice: %r' % note)
    # What was not dropped still arrives, in order.
    until_delivered(a, 'demo.flood', sub_b, 'demo.flood after the stall')


def teardown():
    for key in ('gaps',):
        if key in state:
            state[key].stop()
    for s in state.get('subs', []):
        s.stop()
    if 'server' in state:
        state['server'].send_signal(signal.SIGTERM)
        state['server'].wait(TIMEOUT)
    for br in state.get('bridges', []):
        br.stop()
    for h in state.get('hubs', []):
        h.stop()
    for n in state.get('nats', []):
        n.stop()
    for ns in state.get('netns', []):
        ns.stop()
    if 'tmp' in state:
        if state.get('passed') and not os.environ.get('SB_KEEP'):
            shutil.rmtree(state['tmp'], ignore_errors=True)
        else:
            print('# test state kept in', state['tmp'], flush=True)


def test_no_sanitizer_reports():
    """Each bridge stopped (SIGTERM) without a sanitizer report: no leak, no
    use after free (libnats' threads call back until they end)."""
    tmp = state['tmp']
    for br in state['bridges']:
        check_eq(br.stop(), 0, 'exit status of the bridge of %s' % br.hub.name)
    state['bridges'] = []
    reports = [r for r in sanitizer_reports(tmp) if r.startswith('bridge-asan')]
    check(not reports, 'sanitizer reports of the bridges:\n' + '\n'.join(reports))
    state['passed'] = True


if __name__ == '__main__':
    import atexit
    atexit.register(teardown)
    run_tests([test_setup, test_pubsub_reaches_every_transport_once, test_call_across_nats,
               test_reconnect_every_message_or_a_gap, test_a_stalled_bridge_is_reported_on_the_other_hub,
               test_no_sanitizer_reports],
              needs_bus=False)
