# SPDX-License-Identifier: LGPL-2.1-or-later
#
# rpc.describe against the D-Bus contract (docs/protocol.md, "Methods"):
# every method of org.switchboard.Hub1 in $SB_INTERFACE_XML is the twin of
# some JSON-RPC method (listed in its "dbus" list), and every twin listed
# exists in the XML (Introspect, of org.freedesktop.DBus.Introspectable, is
# allowed for rpc.describe). Each described method exists (it does not answer
# -32601), its positional params are the names it takes by name, and "fifo"
# says truly whether the FIFO takes it.

import os
import xml.etree.ElementTree as ET

import sbrpc
from sbrpc import Conn, check, check_eq, log

IFACE = 'org.switchboard.Hub1'
conn = None
described = None


def setup():
    global conn, described
    sbrpc.activate()
    conn = Conn(label='describe')
    described = conn.call('rpc.describe')
    check(isinstance(described.get('methods'), list) and described['methods'],
          'rpc.describe has no methods: %r' % described)


def xml_methods():
    path = os.environ.get('SB_INTERFACE_XML')
    check(path and os.path.exists(path), 'SB_INTERFACE_XML is not set or missing: run through meson test')
    root = ET.parse(path).getroot()
    ifaces = [i for i in root.findall('interface') if i.get('name') == IFACE]
    check_eq(len(ifaces), 1, 'interfaces named %s in %s' % (IFACE, path))
    names = [m.get('name') for m in ifaces[0].findall('method')]
    check(len(names) >= 10, 'only %d methods in %s' % (len(names), path))
    return names


def test_shape():
    seen = set()
    for m in described['methods']:
        check(isinstance(m.get('name'), str) and m['name'], 'a method without a name: %r' % m)
        check(m['name'] not in seen, 'method %s described twice' % m['name'])
        seen.add(m['name'])
        check(isinstance(m.get('params'), list) and all(isinstance(p, str) for p in m['params']),
              '%s: params must be a list of names: %r' % (m['name'], m))
        check(isinstance(m.get('dbus'), list) and m['dbus'] and all(isinstance(d, str) and d for d in m['dbus']),
              '%s: dbus must be a non-empty list of D-Bus method names: %r' % (m['name'], m))
    check_eq(sorted(described.get('notifications', [])), ['gap', 'key_changed', 'message', 'request', 'traffic'], 'notifications')


def test_every_dbus_method_has_a_twin():
    twins = {d for m in described['methods'] for d in m['dbus']}
    missing = [x for x in xml_methods() if x not in twins]
    check(not missing, 'D-Bus methods without a JSON-RPC twin in rpc.describe: %s' % ', '.join(missing))


def test_every_twin_exists():
    xml = set(xml_methods())
    for m in described['methods']:
        for d in m['dbus']:
            if d == 'Introspect' and m['name'] == 'rpc.describe':
                continue
            check(d in xml, 'rpc.describe says %s has the D-Bus twin %s, which %s lacks'
                  % (m['name'], d, os.environ['SB_INTERFACE_XML']))
    log('%d JSON-RPC methods, %d D-Bus methods' % (len(described['methods']), len(xml)))


def test_described_methods_exist():
    for m in described['methods']:
        r = conn.request(m['name'], {})
        code = (r.get('error') or {}).get('code')
        check(code != -32601, '%s is described but not found: %r' % (m['name'], r))


def test_fifo_flags():
    # The FIFO takes exactly the methods flagged so (docs/protocol.md, "The FIFO").
    fifo = sorted(m['name'] for m in described['methods'] if m.get('fifo'))
    check_eq(fifo, ['delete', 'publish', 'publish_retained', 'set'], 'methods the FIFO takes')


if __name__ == '__main__':
    sbrpc.main([setup, test_shape, test_every_dbus_method_has_a_twin, test_every_twin_exists,
                test_described_methods_exist, test_fifo_flags])
