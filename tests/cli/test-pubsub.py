#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `switchboard publish` and `switchboard subscribe` against the activated
# hub, crossing over to busctl, gdbus and python3-dbus: text and JSON lines,
# binary payloads, several patterns, --count, --retained, clear-retained,
# signals ending the stream, and that a subscriber prints only the unicast
# copies meant for it (never the broadcast ones).

import base64
import json
import os
import re
import signal
import subprocess
import sys

import dbus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import (HUB, HUB_IFACE, HUB_PATH, Hub, check, expect, finish,  # noqa: E402
                     require_environment, run, subscriber)

require_environment()

# The first call activates the hub: a CLI publish with nothing running.
expect(0, 'publish', 'boot.first', 'hello', out='')
hub = Hub()

# CLI -> CLI, and the output format "TOPIC PAYLOAD".
s = subscriber(hub, 'sensors.>')
expect(0, 'publish', 'sensors.kitchen.temp', '21.5', out='')
s.expect_line('sensors.kitchen.temp 21.5', 'CLI publish reaches CLI subscriber')

# busctl and gdbus -> CLI.
subprocess.run(['busctl', '--user', 'call', HUB, HUB_PATH, HUB_IFACE, 'Publish', 'ss',
                'sensors.hall.temp', '19 degrees'], check=True, stdout=subprocess.DEVNULL)
s.expect_line('sensors.hall.temp 19 degrees', 'busctl Publish reaches CLI subscriber')
subprocess.run(['gdbus', 'call', '--session', '--dest', HUB, '--object-path', HUB_PATH,
                '--method', HUB_IFACE + '.Publish', 'sensors.cellar.hum', '80%'],
               check=True, stdout=subprocess.DEVNULL)
s.expect_line('sensors.cellar.hum 80%', 'gdbus Publish reaches CLI subscriber')

# A topic outside the pattern is not printed: the next line is the next match.
expect(0, 'publish', 'other.topic', 'nope')
expect(0, 'publish', 'sensors.a', 'after-other')
s.expect_line('sensors.a after-other', 'non-matching topic is skipped')

# Payloads with spaces, UTF-8 and a leading dash (after --).
expect(0, 'publish', 'sensors.b', 'a b  c ü €')
s.expect_line('sensors.b a b  c ü €', 'payload with spaces and UTF-8')
expect(0, 'publish', 'sensors.c', '--', '-5')
s.expect_line('sensors.c -5', 'payload with a leading dash after --')

# Binary payloads: python PublishBinary -> "TOPIC base64:...".
raw = b'\xff\x00\x01binary'
hub.hub.PublishBinary('sensors.bin', dbus.Array([dbus.Byte(b) for b in raw], signature='y'), False)
s.expect_line('sensors.bin base64:' + base64.b64encode(raw).decode(), 'binary payload as base64')
# A CLI payload that is not UTF-8 goes out as bytes, unchanged.
r = subprocess.run([os.environ['SWITCHBOARD'], 'publish', 'sensors.latin1', b'caf\xe9'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
check(r.returncode == 0, 'publish of a non-UTF-8 payload: exit 0 (%r)' % (r,))
s.expect_line('sensors.latin1 base64:' + base64.b64encode(b'caf\xe9').decode(), 'non-UTF-8 CLI payload as bytes')

# Only unicast: the broadcast copies of other topics must not show up, and
# each message is printed exactly once (no broadcast duplicate).
b = subscriber(hub, 'b.>')
expect(0, 'publish', 'sensors.once', '1')
expect(0, 'publish', 'b.x', 'for-b')
expect(0, 'publish', 'sensors.once', '2')
s.expect_line('sensors.once 1', 'first of two')
s.expect_line('sensors.once 2', 'second of two, no duplicate and no foreign broadcast in between')
b.expect_line('b.x for-b', 'second subscriber gets its own topic')
expect(0, 'publish', 'b.y', 'next')
b.expect_line('b.y next', 'second subscriber did not see sensors.* broadcasts')
b.close()

# CLI publish -> a python3-dbus subscriber, unicast Message signal.
got = []
loop = GLib.MainLoop()
pybus = dbus.SessionBus(private=True, mainloop=DBusGMainLoop())
pyhub = dbus.Interface(pybus.get_object(HUB, HUB_PATH), HUB_IFACE)


def on_message(topic, payload, seq, **kw):
    if kw.get('destination') == pybus.get_unique_name():
        got.append((str(topic), str(payload), int(seq)))
        loop.quit()


pybus.add_signal_receiver(on_message, 'Message', HUB_IFACE, None, HUB_PATH, destination_keyword='destination')
pyhub.Subscribe('py.>', False)
expect(0, 'publish', 'py.in', 'from the CLI')
GLib.timeout_add(10000, loop.quit)
loop.run()
check(len(got) == 1 and got[0][:2] == ('py.in', 'from the CLI') and got[0][2] > 0,
      'CLI publish reaches a python3-dbus subscriber (%r)' % got)
pybus.close()

# Ctrl-C ends the stream with status 0.
rc = s.stop(signal.SIGINT)
check(rc == 0, 'subscribe exits 0 on SIGINT (got %r)' % rc)
s.close()

# --json, with proper escaping, and payload_base64 for bytes.
j = subscriber(hub, '--json', 'j.*')
tricky = 'he said "hi"\\ \t tab\nnewline ü \x01'
expect(0, 'publish', 'j.text', tricky)
o = j.expect_json('json text line')
check(o.get('topic') == 'j.text' and o.get('payload') == tricky and isinstance(o.get('seq'), int)
      and o['seq'] > 0, 'JSON message round-trips topic, payload and seq (%r)' % o)
seq1 = o.get('seq', 0)
hub.hub.PublishBinary('j.bin', dbus.Array([dbus.Byte(x) for x in b'\x00\x01'], signature='y'), False)
o = j.expect_json('json binary line')
check(o.get('topic') == 'j.bin' and o.get('payload_base64') == 'AAE=' and 'payload' not in o
      and o.get('seq', 0) > seq1, 'JSON binary message uses payload_base64 (%r)' % o)
rc = j.stop(signal.SIGTERM)
check(rc == 0, 'subscribe exits 0 on SIGTERM (got %r)' % rc)
j.close()

# Several patterns, --count: exits by itself after N messages.
c = subscriber(hub, '--count', '3', 'm.a', 'm.*.z', patterns=2)
expect(0, 'publish', 'm.a', '1')
expect(0, 'publish', 'm.q', 'not matched')
expect(0, 'publish', 'm.b.z', '2')
expect(0, 'publish', 'm.a', '3')
expect(0, 'publish', 'm.a', '4')
rc = c.wait()
check(rc == 0, 'subscribe --count 3 exits 0 by itself (got %r)' % rc)
check(c.rest() == 'm.a 1\nm.b.z 2\nm.a 3\n', 'subscribe --count 3 printed exactly three lines')
c.close()

# A message matching two of the patterns is printed once.
d = subscriber(hub, 'dup.>', 'dup.*', patterns=2)
expect(0, 'publish', 'dup.x', 'one')
expect(0, 'publish', 'dup.y', 'two')
d.expect_line('dup.x one', 'overlapping patterns: first')
d.expect_line('dup.y two', 'overlapping patterns: printed once each')
d.close()

# Retained values: publish --retain, subscribe --retained, clear-retained.
expect(0, 'publish', '--retain', 'state.door', 'open', out='')
expect(0, 'publish', '-r', 'state.window', 'closed', out='')
topics = hub.prop('Topics')
check(topics >= 2, 'Topics property counts retained topics (%d)' % topics)
r = run('subscribe', '--retained', '--count', '2', 'state.>')
check(r.rc == 0 and sorted(r.out.splitlines()) == ['state.door open', 'state.window closed'],
      'subscribe --retained prints the retained values first (%r)' % r)
r = run('subscribe', '--retained', '--json', '--count', '1', 'state.door')
check(r.rc == 0 and r.out.startswith('{') and '"payload":"open"' in r.out,
      'subscribe --retained --json (%r)' % r)
expect(0, 'clear-retained', 'state.door', out='1\n')
expect(0, 'clear-retained', 'state.>', out='1\n')
expect(0, 'clear-retained', 'state.>', out='0\n')
rs = subscriber(hub, '--retained', 'state.>')
expect(0, 'publish', 'state.live', 'now')
rs.expect_line('state.live now', 'after clear-retained, no retained value comes first')
rs.close()

# --format: a template per message (status bars), and waybar's JSON; braces doubled.
f = subscriber(hub, '--format', '{topic}: {payload} (#{seq}) {{ok}}', 'bar.>')
expect(0, 'publish', 'bar.temp', '21.5')
line = f.readline()
check(re.fullmatch(r'bar\.temp: 21\.5 \(#\d+\) \{ok\}', line or '') is not None, '--format template (%r)' % line)
f.close()
f = subscriber(hub, '--format', 'waybar', '--count', '2', 'bar.>')
expect(0, 'publish', 'bar.temp', '22 "C"')
expect(0, 'publish', 'bar.temp', b'\xff'.decode('utf-8', 'surrogateescape'))
rc = f.wait()
lines = f.rest().splitlines()
check(rc == 0 and len(lines) == 2, 'subscribe --format waybar --count 2 (%r, %r)' % (rc, lines))
if len(lines) == 2:
    w = json.loads(lines[0])
    check(w.get('text') == '22 "C"' and re.fullmatch(r'bar\.temp \(seq \d+\)', w.get('tooltip', '')) is not None,
          "waybar's text and tooltip (%r)" % w)
    check(json.loads(lines[1]).get('text') == 'base64:/w==', 'bytes that are not text as base64 (%r)' % lines[1])
f.close()
f = subscriber(hub, '--format', 'waybar:{payload} °C', '--count', '1', 'bar.>')
expect(0, 'publish', 'bar.temp', '23')
f.wait()
check(json.loads(f.rest() or '{}').get('text') == '23 °C', 'waybar:TEMPLATE (%r)' % f.rest())
f.close()
expect(2, 'subscribe', '--format', '{topic} {nope}', 'bar.>', err_contains="unknown field '{nope}' in --format")
expect(2, 'subscribe', '--format', '{topic', 'bar.>', err_contains="a '{' without '}'")
expect(2, 'subscribe', '--format', 'a}b', 'bar.>', err_contains="a '}' without '{'")
expect(2, 'subscribe', '--format', '{topic}', '--json', 'bar.>',
       err_contains='--format and --json cannot be used together')

# Hub errors: exit 1 and a message naming the problem.
expect(1, 'publish', 'a..b', 'x', err_contains="switchboard: invalid topic 'a..b': ")
expect(1, 'publish', 'a.*', 'x', err_contains="invalid topic 'a.*'")
expect(1, 'subscribe', 'a..b', err_contains="switchboard: invalid pattern 'a..b': ")
expect(1, 'subscribe', 'ok.>', 'x.>.y', err_contains="invalid pattern 'x.>.y'")
expect(1, 'clear-retained', '..', err_contains="invalid pattern '..'")

finish()
