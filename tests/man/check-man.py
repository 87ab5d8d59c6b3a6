#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# check-man.py PAGE...: the built man pages render without warnings
# (man --warnings -l) and cannot drift silently from the programs:
# switchboard(1) names every command and option of `switchboard --help` and
# of each `switchboard COMMAND --help`, switchboardd(8) every option of
# `switchboardd --help`, and switchboard.conf(5) every [group] key the
# configuration code reads (src/daemon/config.c) and every limit, and its
# EXAMPLE passes `switchboardd --check-config` without a warning;
# switchboard-bridge(1) every option of `switchboard-bridge --help` and every
# [bridge] key of src/bridge/bridge-config.c. Without
# pages (no scdoc; -Dman=auto) it is skipped.

import os
import re
import subprocess
import sys

pages = {os.path.basename(p): p for p in sys.argv[1:]}
if not pages:
    print('1..0 # SKIP no man pages were built (scdoc is missing; -Dman=enabled insists)')
    sys.exit(77)
problems = []
env = dict(os.environ, LC_ALL='C', MANWIDTH='80')


def render(page, width='80'):
    r = subprocess.run(['man', '--warnings', '-l', pages[page]], capture_output=True, text=True,
                       env=dict(env, MANWIDTH=width))
    if r.returncode != 0 or r.stderr.strip() or 'NAME' not in r.stdout:
        problems.append('%s does not render cleanly (status %d): %s' % (page, r.returncode, r.stderr.strip()))
    return r.stdout


def help_of(*argv):
    return subprocess.run(list(argv) + ['--help'], capture_output=True, text=True, env=env).stdout


def long_options(text):
    return set(re.findall(r'^\s+(?:-\w, )?(--[a-z][a-z-]*)', text, re.M))


def must_name(page, text, words, what):
    for w in sorted(words):
        if not re.search(r'(?<![\w-])%s(?![\w-])' % re.escape(w), text):
            problems.append('%s does not name %s %s' % (page, what, w))


for page in pages:
    render(page)
cli, daemon = os.environ['SWITCHBOARD'], os.environ['SWITCHBOARDD']

if 'switchboard.1' in pages:
    text = render('switchboard.1', '400')
    top = help_of(cli)
    commands = re.findall(r'^  ([a-z][a-z-]+) ', top.split('Commands:')[1].split('Options:')[0], re.M)
    if len(commands) < 10:
        problems.append('found only %r in switchboard --help' % commands)
    must_name('switchboard.1', text, commands, 'the command')
    must_name('switchboard.1', text, long_options(top), 'the option')
    for c in commands:
        must_name('switchboard.1', text, long_options(help_of(cli, c)), 'the %s option' % c)

if 'switchboardd.8' in pages:
    text = render('switchboardd.8', '400')
    must_name('switchboardd.8', text, long_options(help_of(daemon)), 'the option')

if 'switchboard-bridge.1' in pages and os.environ.get('SWITCHBOARD_BRIDGE'):
    text = render('switchboard-bridge.1', '400')
    must_name('switchboard-bridge.1', text, long_options(help_of(os.environ['SWITCHBOARD_BRIDGE'])), 'the option')
    for key in re.findall(r'K\("([a-z-]+)"', open(os.path.join(os.environ['SB_SOURCE_ROOT'], 'src', 'bridge',
                                                               'bridge-config.c')).read()):
        must_name('switchboard-bridge.1', text, {key}, 'the [bridge] key')

if 'switchboard.conf.5' in pages:
    text = render('switchboard.conf.5', '400')
    with open(os.path.join(os.environ['SB_SOURCE_ROOT'], 'src', 'daemon', 'config.c')) as f:
        code = f.read()
    keys = set(re.findall(r'"(limits|dbus|jsonrpc|journal|log)", "([a-z][a-z-]*)"', code))
    keys |= {('limits', o[2:]) for o in long_options(help_of(daemon)) if o.startswith('--max-')}
    if len(keys) < 20:
        problems.append('found only %d keys in config.c' % len(keys))
    for group in sorted({g for g, _ in keys}):
        must_name('switchboard.conf.5', text, {'[%s]' % group}, 'the group')
        section = text.split('[%s]' % group, 1)[-1]
        must_name('switchboard.conf.5', section, {k for g, k in keys if g == group}, 'in [%s] the key' % group)

    with open(os.path.join(os.environ['SB_SOURCE_ROOT'], 'man', 'switchboard.conf.5.scd')) as f:
        example = re.search(r'^# EXAMPLE\n.*?^```\n(.*?)^```$', f.read(), re.M | re.S)
    if not example:
        problems.append('switchboard.conf.5 has no EXAMPLE block')
    else:
        import tempfile
        with tempfile.NamedTemporaryFile('w', suffix='.conf') as conf:
            conf.write(example.group(1))
            conf.flush()
            r = subprocess.run([daemon, '--check-config', '--config', conf.name], capture_output=True, text=True,
                               env=env)
        if r.returncode != 0 or r.stderr.strip():
            problems.append('the EXAMPLE of switchboard.conf.5 is not a clean configuration (%d): %s'
                            % (r.returncode, r.stderr.strip()))

for p in problems:
    print('not ok -', p)
if not problems:
    print('ok - %d man pages render and name every command, option and key' % len(pages))
sys.exit(1 if problems else 0)
