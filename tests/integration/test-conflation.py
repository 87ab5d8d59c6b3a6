#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-conflation.py: broadcast Message signals as shipped
# ([dbus] broadcast-conflate=auto), fed over the JSON-RPC socket.
#
# The hub asks the real dbus-daemon for its match rules (Debug.Stats
# GetAllMatchRules) and counts those that can receive its Message signals.
# With nobody listening, a burst costs the bus one signal per topic per
# interval. Once a listener's match rule is known and while the bus keeps
# up, the listener gets every message of the topics its rule names (others
# stay conflated). With dbus-daemon stopped (SIGSTOP),
# the hub still answers every socket publish at once; once the bus socket is
# full it holds only each topic's latest message, and when the bus runs again
# the listener gets that latest value, in order, with no Gap, and hub.info
# counts every message left out.

import os
import signal
import socket
import time

import dbus

import sbrpc
import sbtest
from sbtest import Conn, check, check_eq, log

MATCH = "type='signal',interface='org.switchboard.Hub1',member='Message',arg0namespace='flood'"
N = 4000
PAYLOAD = 'x' * 8192
WINDOW = 256

pub = None
listener = None


def setup():
    global pub
    pub = Conn('dbus-client')
    pub.call('GetInfo')                         # activate


def info():
    return pub.call('GetInfo')['dbus']


def messages(topic):
    return [s for s in listener.signals if s.member == 'Message' and s.args[0] == topic]


def conflated():
    return info()['broadcast_conflated']


def burst(sock, topic, n):
    """@n publishes on @topic, sent at once; their seqs."""
    for i in range(n):
        sock.send({'jsonrpc': '2.0', 'id': i, 'method': 'publish', 'params': {'topic': topic, 'payload': str(i)}})
    return [sock.recv_response()['result']['seq'] for _ in range(n)]


def test_nobody_listening():
    sock = sbrpc.Conn(label='publisher')
    before = info()
    burst(sock, 'quiet.x', 200)
    sbtest.wait_until(lambda: info()['broadcast_signals'] + info()['broadcast_conflated'] -
                      before['broadcast_signals'] - before['broadcast_conflated'] == 200,
                      'the burst sent or conflated')
    after = info()
    check_eq(after['broadcast_listeners'], 0, 'match rules that can receive Message signals')
    sent = after['broadcast_signals'] - before['broadcast_signals']
    check(sent < 20, 'a burst of 200 with nobody listening: %d signals (one per topic per 10 ms)' % sent)
    log('nobody listening: %d signals for 200 messages' % sent)
    sock.close()


def test_every_message_while_the_bus_keeps_up():
    global listener
    listener = Conn('listener')
    listener.add_match(MATCH)
    sock = sbrpc.Conn(label='publisher')
    # A broadcast after a connection came asks the bus again (at most once per 50 ms).
    def known():
        sock.call('publish', {'topic': 'flood.prime', 'payload': 'x'})
        return info()['broadcast_listeners'] >= 1
    sbtest.wait_until(known, "the hub knows the listener's match rule")
    check_eq(info()['broadcast_listeners'], 1, 'match rules that can receive Message signals')
    before = conflated()
    seqs = [sock.call('publish', {'topic': 'flood.calm', 'payload': str(i)})['seq'] for i in range(50)]
    sbtest.wait_until(lambda: len(messages('flood.calm')) == 50, '50 Message signals for flood.calm')
    check_eq([(int(s.args[1]), s.args[2]) for s in messages('flood.calm')], list(zip(range(50), seqs)),
             'every message, in order, with its seq')
    check_eq(conflated() - before, 0, 'broadcast_conflated')
    # The listener's rule names the namespace flood: another topic is still conflated.
    before = info()
    burst(sock, 'other.burst', 200)
    sbtest.wait_until(lambda: info()['broadcast_signals'] + info()['broadcast_conflated'] -
                      before['broadcast_signals'] - before['broadcast_conflated'] == 200,
                      'the burst on other.burst sent or conflated')
    sent = info()['broadcast_signals'] - before['broadcast_signals']
    check(sent < 20, 'a burst of 200 on a topic no rule names: %d signals' % sent)
    sock.close()


def bus_pid():
    driver = pub.bus.get_object('org.freedesktop.DBus', '/org/freedesktop/DBus')
    return int(dbus.Interface(driver, 'org.freedesktop.DBus').GetConnectionUnixProcessID('org.freedesktop.DBus'))


def publish_pipelined(sock, n):
    """@n publishes on flood.storm with WINDOW in flight; their seqs, in order."""
    seqs = []
    sent = 0
    while len(seqs) < n:
        while sent < n and sent - len(seqs) < WINDOW:
            sock.send({'jsonrpc': '2.0', 'id': sent, 'method': 'publish',
                       'params': {'topic': 'flood.storm', 'payload': '%d %s' % (sent, PAYLOAD)}})
            sent += 1
        r = sock.recv_response(timeout=30)
        check(r.get('id') == len(seqs) and 'result' in r, 'publish #%d: %r' % (len(seqs), r))
        seqs.append(r['result']['seq'])
    return seqs


def test_latest_value_when_the_bus_is_stopped():
    before = conflated()
    sock = sbrpc.Conn(label='publisher', timeout=30)
    pid = bus_pid()
    check(pid > 1 and pid != os.getpid(), 'the bus pid %d' % pid)
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        seqs = publish_pipelined(sock, N)
        log('%d publishes of 8 KiB answered in %.2f s with the bus stopped' % (N, time.monotonic() - t0))
    finally:
        os.kill(pid, signal.SIGCONT)
    def last_seen():
        last = listener.signals[-1] if listener.signals else None
        return last is not None and last.args[0] == 'flood.storm' and last.args[1].startswith('%d ' % (N - 1))
    sbtest.wait_until(last_seen, 'the last message of flood.storm as a broadcast signal', timeout=60)
    got = messages('flood.storm')
    check(not [s for s in listener.signals if s.member == 'Gap'], 'no Gap on the broadcast stream')
    indexes = [int(s.args[1].split()[0]) for s in got]
    check(all(b > a for a, b in zip(indexes, indexes[1:])), 'in order: %r' % indexes[:10])
    check(all(s.args[2] == seqs[i] for i, s in zip(indexes, got)), 'each signal has its publish seq')
    left_out = conflated() - before
    check(left_out > 0, 'the hub conflated while the bus was stopped (got all %d)' % len(got))
    check_eq(len(got) + left_out, N, 'signals + conflated')
    check_eq(pub.prop('MessagesDropped'), 0, 'MessagesDropped')
    log('bus stopped: %d signals, %d conflated, the last one is the latest value' % (len(got), left_out))
    sock.close()


if __name__ == '__main__':
    socket.setdefaulttimeout(30)
    sbtest.main([setup, test_nobody_listening, test_every_message_while_the_bus_keeps_up,
                 test_latest_value_when_the_bus_is_stopped])
