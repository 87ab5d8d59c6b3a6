#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `switchboard watch`: the unicast KeyChanged signals of its own Watch, as
# text lines ("set KEY VALUE", "deleted KEY") or JSON lines, --count, and
# only the changes under its prefix (not the broadcast copies of others).

import json
import os
import signal
import subprocess
import sys

import dbus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import (HUB, HUB_IFACE, HUB_PATH, Hub, check, expect, finish,  # noqa: E402
                     require_environment, watcher)

require_environment()

expect(0, 'set', 'boot', 'activates the hub')
hub = Hub()

w = watcher(hub, 'cfg.')
expect(0, 'set', 'cfg.a', '1')
subprocess.run(['busctl', '--user', 'call', HUB, HUB_PATH, HUB_IFACE, 'Set', 'ss', 'cfg.b', 'two words'],
               check=True, stdout=subprocess.DEVNULL)
expect(0, 'set', 'other.x', 'not watched')
expect(0, 'delete', 'cfg.a')
hub.hub.SetBinary('cfg.bin', dbus.Array([dbus.Byte(b) for b in b'\xff\x00'], signature='y'))
w.expect_line('set cfg.a 1', 'watch sees a CLI set')
w.expect_line('set cfg.b two words', 'watch sees a busctl Set')
w.expect_line('deleted cfg.a', 'watch sees a delete, and not keys outside its prefix')
w.expect_line('set cfg.bin base64:/wA=', 'watch prints a binary value as base64')
rc = w.stop(signal.SIGINT)
check(rc == 0, 'watch exits 0 on SIGINT (got %r)' % rc)
w.close()

# --json and --count: exits by itself.
j = watcher(hub, '--json', '--count', '2', 'j.')
expect(0, 'set', 'j.k', 'v "q"')
expect(0, 'delete', 'j.k')
expect(0, 'set', 'j.k', 'after count')
rc = j.wait()
check(rc == 0, 'watch --count 2 exits 0 by itself (got %r)' % rc)

lines = [json.loads(x) for x in j.rest().splitlines()]
check(len(lines) == 2, 'watch --count 2 printed two lines (%r)' % lines)
if len(lines) == 2:
    a, b = lines
    check(a.get('key') == 'j.k' and a.get('value') == 'v "q"' and a.get('deleted') is False
          and isinstance(a.get('revision'), int), 'JSON set line (%r)' % a)
    check(b.get('key') == 'j.k' and b.get('deleted') is True and b.get('revision', 0) > a.get('revision', 0),
          'JSON deleted line (%r)' % b)
j.close()

# --format: a template per change, and waybar's JSON with the revision in the tooltip.
f = watcher(hub, '--format', '{key}={value} deleted={deleted}', 'fmt.')
expect(0, 'set', 'fmt.a', 'on')
expect(0, 'delete', 'fmt.a')
f.expect_line('fmt.a=on deleted=false', 'watch --format, a set')
f.expect_line('fmt.a= deleted=true', 'watch --format, a deletion')
f.close()
f = watcher(hub, '--format', 'waybar', 'fmt.')
expect(0, 'set', 'fmt.b', 'dark')
w = f.expect_json('watch --format waybar')
check(w.get('text') == 'dark' and w.get('tooltip', '').startswith('fmt.b (revision '), 'waybar JSON (%r)' % w)
f.close()
expect(2, 'watch', '--format', '{payload} {what}', err_contains="unknown field '{what}'")

# No prefix: every key.
e = watcher(hub)
expect(0, 'set', 'zz.anything', 'x')
e.expect_line('set zz.anything x', 'watch without a prefix sees every key')
e.close()

finish()
