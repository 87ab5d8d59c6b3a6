#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The store commands against the activated hub: get, set (--if-revision:
# compare-and-set, exit 4 on conflict), delete (exit 3 when missing), list,
# their --json forms, binary values, and hub errors (exit 1).

import base64
import json
import os
import subprocess
import sys

import dbus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import HUB, HUB_IFACE, HUB_PATH, Hub, check, expect, finish, require_environment, run  # noqa: E402

require_environment()

# The first call activates the hub: a get of a missing key is "not found".
expect(3, 'get', 'cfg.missing', out='', err_contains="switchboard: no such key 'cfg.missing'")
# Said once: not "no such key 'cfg.missing': No key 'cfg.missing'."
r = run('get', 'cfg.missing')
check(r.err == "switchboard: no such key 'cfg.missing'\n", 'the error is said once: %r' % r.err)
hub = Hub()

expect(0, 'set', 'cfg.theme', 'dark', out='')
expect(0, 'get', 'cfg.theme', out='dark\n')
check(str(hub.hub.Get('cfg.theme')[0]) == 'dark', 'a CLI set is seen over D-Bus')

# busctl -> CLI.
subprocess.run(['busctl', '--user', 'call', HUB, HUB_PATH, HUB_IFACE, 'Set', 'ss', 'cfg.lang', 'de de'],
               check=True, stdout=subprocess.DEVNULL)
expect(0, 'get', 'cfg.lang', out='de de\n')

# --json with the revision.
r = expect(0, 'get', '--json', 'cfg.theme')
o = json.loads(r.out or '{}')
rev = int(hub.hub.Get('cfg.theme')[1])
check(o == {'key': 'cfg.theme', 'value': 'dark', 'revision': rev}, 'get --json (%r)' % o)

# Compare-and-set.
expect(4, 'set', '--if-revision', str(rev + 1000), 'cfg.theme', 'light', out='',
       err_contains="switchboard: revision conflict on key 'cfg.theme'\n")
expect(0, 'get', 'cfg.theme', out='dark\n')
expect(0, 'set', '--if-revision', str(rev), 'cfg.theme', 'light', out='')
expect(0, 'get', 'cfg.theme', out='light\n')
new_rev = int(hub.hub.Get('cfg.theme')[1])
check(new_rev > rev, 'SetIf bumped the revision (%d -> %d)' % (rev, new_rev))
expect(4, 'set', '--if-revision=%d' % rev, 'cfg.theme', 'stale', err_contains='revision conflict')
expect(4, 'set', '--if-revision', '0', 'cfg.theme', 'exists', err_contains='revision conflict')
expect(0, 'set', '--if-revision', '0', 'cfg.new', 'created', out='')
expect(0, 'get', 'cfg.new', out='created\n')

# Values with spaces, tabs, UTF-8, an empty value, a leading dash.
expect(0, 'set', 'cfg.text', 'a\tb ü', out='')
expect(0, 'get', 'cfg.text', out='a\tb ü\n')
expect(0, 'set', 'cfg.empty', '', out='')
expect(0, 'get', 'cfg.empty', out='\n')
expect(0, 'set', 'cfg.neg', '--', '-1', out='')
expect(0, 'get', 'cfg.neg', out='-1\n')

# list: sorted KEY<TAB>VALUE lines under a prefix; --json lines.
expect(0, 'list', 'cfg.', out='cfg.empty\t\ncfg.lang\tde de\ncfg.neg\t-1\ncfg.new\tcreated\n'
       'cfg.text\ta\tb ü\ncfg.theme\tlight\n')
expect(0, 'list', 'nothing.here.', out='')
r = expect(0, 'list', '--json', 'cfg.t')
rows = [json.loads(line) for line in r.out.splitlines()]
check([(x['key'], x['value']) for x in rows] == [('cfg.text', 'a\tb ü'), ('cfg.theme', 'light')]
      and all(isinstance(x['revision'], int) and x['revision'] > 0 for x in rows),
      'list --json (%r)' % rows)
r = expect(0, 'list')
check('cfg.theme\tlight' in r.out.splitlines(), 'list without a prefix lists everything')

# Binary values: raw bytes on stdout, value_base64 with --json.
raw = b'\x00\xffbin'
hub.hub.SetBinary('cfg.blob', dbus.Array([dbus.Byte(b) for b in raw], signature='y'))
expect(0, 'get', 'cfg.blob', out=raw, binary=True)
r = expect(0, 'get', '--json', 'cfg.blob')
o = json.loads(r.out or '{}')
check(o.get('key') == 'cfg.blob' and o.get('value_base64') == base64.b64encode(raw).decode()
      and 'value' not in o and isinstance(o.get('revision'), int), 'get --json of bytes (%r)' % o)
# A CLI value that is not UTF-8 is stored as bytes.
p = subprocess.run([os.environ['SWITCHBOARD'], 'set', 'cfg.latin1', b'caf\xe9'], capture_output=True)
check(p.returncode == 0, 'set of a non-UTF-8 value (%r)' % (p,))
check(bytes(hub.hub.GetBinary('cfg.latin1')[0]) == b'caf\xe9', 'non-UTF-8 value stored unchanged')

# delete: 0 when it existed, 3 when not.
expect(0, 'delete', 'cfg.new', out='')
expect(3, 'delete', 'cfg.new', out='', err_contains="switchboard: no such key 'cfg.new'")
expect(3, 'get', 'cfg.new', err_contains="no such key 'cfg.new'")

# Hub errors name the problem: exit 1.
expect(1, 'set', '', 'v', err_contains="switchboard: invalid key '': ")
expect(1, 'get', 'bad\x01key', err_contains="invalid key")
big = 'x' * 300
# The contract says InvalidKey for a key over the limit; either way the
# CLI must exit 1 and name the key.
expect(1, 'set', big, 'v', err_contains="'%s': " % big)

finish()
