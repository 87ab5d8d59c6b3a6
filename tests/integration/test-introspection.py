#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-introspection.py: the live object matches the contract,
# introspection/org.switchboard.Hub1.xml ($SB_INTERFACE_XML), by meaning.
#
# Both documents are reduced to one line per fact about interface
# org.switchboard.Hub1: each method with its arguments (name, type,
# direction) in order, each signal with its arguments, each property with
# type, access and EmitsChangedSignal ("true" when absent), and the other
# org.freedesktop.DBus.* annotations. Comments, whitespace, member order,
# the standard org.freedesktop.DBus.* interfaces and sd-bus's own
# annotations (org.freedesktop.systemd1.*) are ignored. A mismatch prints a
# unified diff of the two reductions. The live XML must also be valid
# against the introspection DTD.

import difflib
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import sbtest
from sbtest import Conn, check, fail, log, IFACE, BUS_NAME, PATH


def annotations(el, ignore=()):
    out = []
    for a in el.findall('annotation'):
        name = a.get('name')
        if name in ignore or not name.startswith('org.freedesktop.DBus.'):
            continue            # sd-bus adds org.freedesktop.systemd1.Privileged and the like
        out.append('@%s=%s' % (name, a.get('value')))
    return sorted(out)


def reduce(xml_text, what):
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as e:
        fail('%s is not well-formed XML: %s' % (what, e))
    ifaces = [i for i in root.findall('interface') if i.get('name') == IFACE]
    if len(ifaces) != 1:
        fail('%s has %d <interface name="%s"> elements, expected 1 (interfaces: %s)'
             % (what, len(ifaces), IFACE, [i.get('name') for i in root.findall('interface')]))
    iface = ifaces[0]
    lines = ['interface %s %s' % (IFACE, ' '.join(annotations(iface)))]
    for m in iface.findall('method'):
        args = ['%s %s %s' % (a.get('direction', 'in'), a.get('type'), a.get('name'))
                for a in m.findall('arg')]
        lines.append('method %s(%s) %s' % (m.get('name'), ', '.join(args),
                                           ' '.join(annotations(m))))
    for s in iface.findall('signal'):
        for a in s.findall('arg'):
            if a.get('direction', 'out') != 'out':
                fail('%s: signal %s has an arg with direction=%r'
                     % (what, s.get('name'), a.get('direction')))
        args = ['%s %s' % (a.get('type'), a.get('name')) for a in s.findall('arg')]
        lines.append('signal %s(%s) %s' % (s.get('name'), ', '.join(args),
                                           ' '.join(annotations(s))))
    ecs = 'org.freedesktop.DBus.Property.EmitsChangedSignal'
    for p in iface.findall('property'):
        emits = [a.get('value') for a in p.findall('annotation') if a.get('name') == ecs]
        lines.append('property %s %s %s EmitsChangedSignal=%s %s'
                     % (p.get('name'), p.get('type'), p.get('access'),
                        emits[0] if emits else 'true', ' '.join(annotations(p, (ecs,)))))
    # Member order is not part of the contract; argument order is.
    return sorted(l.rstrip() for l in lines)


def live_xml():
    c = Conn('introspect')
    return str(c.call('Introspect', '', iface='org.freedesktop.DBus.Introspectable'))


def test_live_matches_contract():
    path = os.environ.get('SB_INTERFACE_XML')
    check(path, 'SB_INTERFACE_XML is not set: run through meson test')
    with open(path, encoding='utf-8') as f:
        want = reduce(f.read(), path)
    live = live_xml()
    got = reduce(live, 'the live Introspect output')
    if got != want:
        diff = difflib.unified_diff(want, got, fromfile=path, tofile='live %s %s' % (BUS_NAME, PATH),
                                    lineterm='')
        print('\n'.join(diff))
        fail('the live interface differs from %s (diff above: - contract, + live)' % path)
    log('%d facts agree' % len(want))
    # The standard interfaces are there (busctl and gdbus rely on them).
    root = ET.fromstring(live)
    names = {i.get('name') for i in root.findall('interface')}
    for std in ('org.freedesktop.DBus.Introspectable', 'org.freedesktop.DBus.Properties',
                'org.freedesktop.DBus.Peer'):
        check(std in names, 'the live object lacks %s' % std)


def test_busctl_agrees():
    # What `busctl introspect --xml-interface` prints is what a user sees.
    busctl = shutil.which('busctl')
    if not busctl:
        log('busctl not found, skipping this part')
        return
    r = subprocess.run([busctl, '--user', 'introspect', '--xml-interface', BUS_NAME, PATH],
                       capture_output=True, text=True, timeout=sbtest.TIMEOUT)
    check(r.returncode == 0, 'busctl introspect failed: %s' % r.stderr)
    with open(os.environ['SB_INTERFACE_XML'], encoding='utf-8') as f:
        want = reduce(f.read(), 'contract')
    got = reduce(r.stdout, 'busctl introspect --xml-interface')
    if got != want:
        print('\n'.join(difflib.unified_diff(want, got, 'contract', 'busctl', lineterm='')))
        fail('busctl introspect differs from the contract')


def test_live_is_valid():
    xmllint = shutil.which('xmllint')
    if not xmllint:
        log('xmllint not found, skipping DTD validation of the live XML')
        return
    r = subprocess.run([xmllint, '--noout', '--valid', '--nonet', '-'], input=live_xml(),
                       capture_output=True, text=True, timeout=sbtest.TIMEOUT)
    check(r.returncode == 0, 'the live Introspect output is not valid against the DTD:\n%s'
          % r.stderr)


def test_reduction_catches_changes():
    # The comparison itself must be able to fail: a renamed argument, a
    # changed type, a dropped annotation and a reordered argument list each
    # change the reduction.
    with open(os.environ['SB_INTERFACE_XML'], encoding='utf-8') as f:
        text = f.read()
    base = reduce(text, 'contract')
    mutations = [
        ('<arg name="pattern" type="s" direction="in"/>',
         '<arg name="body" type="s" direction="in"/>'),
        ('<arg name="seq" type="t" direction="out"/>', '<arg name="seq" type="u" direction="out"/>'),
        ('value="const"', 'value="true"'),
        ('<property name="Clients" type="u" access="read">',
         '<property name="Clients" type="u" access="readwrite">'),
    ]
    for old, new in mutations:
        check(old in text, 'mutation anchor %r not in the contract' % old)
        check(reduce(text.replace(old, new, 1), 'mutated') != base,
              'the comparison does not notice %r -> %r' % (old, new))
    swapped = text.replace('<arg name="queue" type="s" direction="in"/>\n      '
                           '<arg name="max" type="u" direction="in">',
                           '<arg name="max" type="u" direction="in">\n      '
                           '<arg name="queue" type="s" direction="in"/>', 1)
    check(swapped != text, 'argument swap anchor not found')
    check(reduce(swapped, 'swapped') != base, 'the comparison ignores argument order')
    # And it ignores what it should: comments and whitespace.
    noise = text.replace('<method name="Publish">', '<!-- x -->\n\n   <method   name="Publish" >', 1)
    check(reduce(noise, 'noise') == base, 'the comparison is sensitive to comments/whitespace')


if __name__ == '__main__':
    sbtest.main([test_reduction_catches_changes, test_live_matches_contract, test_busctl_agrees,
                 test_live_is_valid])
