#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# run-docs.py: the examples in README.md, docs/*.md and examples/*.md run as
# written, so an example that stops working fails CI.
#
#   run-docs.py FILE.md          run FILE's marked blocks (under tests/with-bus.sh)
#   run-docs.py --check --pages PAGE...
#                                every runnable block of every PAGE has a marker
#                                that parses, and PAGE... are all the pages
#                                (no bus needed)
#
# The marker is an HTML comment on the line before a fenced block (invisible
# when the Markdown is rendered):
#
#   <!-- doctest: run -->          run the block; it must exit with status 0
#   <!-- doctest: setup -->        run it, and run it again before each later
#                                  block of the file (variables such as $HUB)
#   <!-- doctest: background ready=HOW -->
#                                  a command that runs until Ctrl-C ("in another
#                                  terminal"): start it, wait until it is ready,
#                                  go on with the next blocks, and stop it (SIGINT
#                                  to its process group) at the end of the file
#   <!-- doctest: skip why="REASON" -->
#                                  not run; REASON says why (for example it needs
#                                  systemd as PID 1); a skip without a reason is an
#                                  error
#   <!-- doctest: config -->       before an ini block: a hub started with it as
#                                  its switchboard.conf (on a bus of its own, by
#                                  activation) serves, and reports each [limits]
#                                  value of the block as the limit in force (a
#                                  size's unit is read as the hub reads it:
#                                  64k is 65536)
#   <!-- doctest: output -->       before a plain block: the expected standard
#                                  output of the block marked before it, line by
#                                  line (blanks at either end of a line ignored;
#                                  "..." in a line matches anything). A background
#                                  block's output is compared once it printed as
#                                  many lines, when it is stopped.
#
# Options of run, setup and background blocks:
#   status=N    the expected exit status (run), default 0
#   pre="SH"    a shell command run first, out of sight (state the block needs
#               that the page set up elsewhere)
#   ready=HOW   (background) subscriptions:+N or watches:+N (the hub's count
#               went up by N), service:NAME (NAME is served), waiting:QUEUE (a
#               worker waits on QUEUE), line (the block printed a line), none
#               (nothing later depends on it: no wait)
#
# Blocks in sh/bash run under `bash -e -o pipefail`, python under
# /usr/bin/python3, c is compiled against gio-2.0 (and libswitchboard and
# libsystemd when it includes <switchboard/...>) and run. They run in the
# source tree's root, with the build's switchboard and switchboardd first on
# PATH, on the private bus and in the private XDG directories of
# tests/with-bus.sh: the first call starts the hub by D-Bus activation, as it
# would on a desktop. Blocks of other kinds (ini, json, plain) are text; an
# sh, bash, python or c block without a marker fails --check.

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import sbfixture
from sbfixture import LineReader, check, fail, log

RUNNABLE = {'sh': 'sh', 'bash': 'sh', 'python': 'python', 'c': 'c'}
KINDS = {'run', 'setup', 'background', 'skip', 'output', 'config'}
OPTIONS = {'status', 'pre', 'ready', 'why'}
MARKER = re.compile(r'^\s*<!--\s*doctest:\s*(.*?)\s*-->\s*$')
FENCE = re.compile(r'^(\s*)```\s*([A-Za-z0-9_+-]*)\s*$')
TIMEOUT = 60


class Block:
    def __init__(self, path, line, lang, text, marker):
        self.path, self.line, self.lang, self.text = path, line, lang, text
        self.kind, self.opts = None, {}
        self.expect = None            # the output block that follows, if any
        if marker is not None:
            words = shlex.split(marker)
            check(words and words[0] in KINDS,
                  '%s: bad doctest marker %r (kinds: %s)' % (self.where(), marker, ', '.join(sorted(KINDS))))
            self.kind = words[0]
            for w in words[1:]:
                k, eq, v = w.partition('=')
                check(eq and k in OPTIONS, '%s: bad doctest option %r' % (self.where(), w))
                self.opts[k] = v
            if self.kind == 'skip':
                check(self.opts.get('why'), '%s: a skipped block must say why (why="...")' % self.where())
            if self.kind == 'background':
                check(self.opts.get('ready'), '%s: a background block needs ready=' % self.where())

    def where(self):
        return '%s:%d' % (self.path, self.line)


def parse(path):
    """The fenced blocks of @path, with their markers; output blocks attached
    to the block before them."""
    with open(path) as f:
        lines = f.read().split('\n')
    blocks = []
    i = 0
    prev = ''
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            if lines[i].strip():
                prev = lines[i]
            i += 1
            continue
        indent, lang = len(m.group(1)), m.group(2)
        start = i + 1
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() != '```':
            body.append(lines[i][indent:] if lines[i][:indent].strip() == '' else lines[i])
            i += 1
        i += 1
        mm = MARKER.match(prev)
        b = Block(os.path.relpath(path, root()), start, lang, '\n'.join(body) + '\n',
                  mm.group(1) if mm else None)
        prev = ''
        if b.kind == 'output':
            runnable = [x for x in blocks if x.kind in ('run', 'setup', 'background')]
            check(runnable, '%s: an output block with nothing before it' % b.where())
            runnable[-1].expect = b
            continue
        blocks.append(b)
    return blocks


def root():
    return os.environ.get('SB_SOURCE_ROOT') or os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))


def pages():
    """README.md, docs/*.md and every .md under examples/, relative to the root."""
    found = ['README.md'] + ['docs/' + f for f in os.listdir(os.path.join(root(), 'docs')) if f.endswith('.md')]
    for d, _, files in os.walk(os.path.join(root(), 'examples')):
        found += [os.path.relpath(os.path.join(d, f), root()) for f in files if f.endswith('.md')]
    return sorted(found)


def check_markers(paths):
    problems = ['%s is not in tests/docs/meson.build\'s doc_pages' % p for p in pages() if p not in paths]
    paths = [os.path.join(root(), p) for p in paths]
    n = {k: 0 for k in KINDS}
    for p in paths:
        try:
            for b in parse(p):
                if b.kind:
                    n[b.kind] += 1
                if b.lang in RUNNABLE and b.kind is None:
                    problems.append('%s: a %s block without a doctest marker' % (b.where(), b.lang))
                if b.kind == 'config' and b.lang != 'ini':
                    problems.append('%s: a config block must be ini' % b.where())
                elif b.kind not in (None, 'skip', 'config') and b.lang not in RUNNABLE:
                    problems.append('%s: a %r block cannot run' % (b.where(), b.lang))
        except sbfixture.TestFailure as e:
            problems.append(str(e))
    for p in problems:
        print('not ok:', p)
    print('# blocks: %s' % ', '.join('%s %d' % kv for kv in sorted(n.items())))
    return 1 if problems else 0


# Running.

def environment():
    env = dict(os.environ)
    build = os.environ['SB_BUILD_ROOT']
    env['PATH'] = os.pathsep.join([os.path.join(build, 'src', 'clients'), os.path.join(build, 'src', 'daemon'),
                                   env.get('PATH', '/usr/bin:/bin')])
    env['PYTHONUNBUFFERED'] = '1'
    return env


def libswitchboard_flags():
    """What `pkg-config --cflags --libs switchboard libsystemd` gives once installed, for the
    build tree's libswitchboard (and the sanitizers' run-time when the build has them)."""
    build = os.environ['SB_BUILD_ROOT']
    lib = os.path.join(build, 'src', 'lib')
    flags = ['-I' + os.path.join(root(), 'include'), '-L' + lib, '-Wl,-rpath,' + lib, '-lswitchboard']
    flags += subprocess.run(['pkg-config', '--cflags', '--libs', 'libsystemd'], capture_output=True, text=True,
                            check=True).stdout.split()
    options = json.loads(subprocess.run(['meson', 'introspect', build, '--buildoptions'], capture_output=True,
                                        text=True, check=True).stdout)
    sanitize = [o['value'] for o in options if o['name'] == 'b_sanitize'][0]
    if sanitize != 'none':
        flags.insert(0, '-fsanitize=' + sanitize)
    return flags


def script_for(b, setups, n):
    """The command that runs block @b (written to files in the test's scratch dir)."""
    tmp = sbfixture.tmp_dir()
    base = os.path.join(tmp, 'block%d' % n)
    pre = ''.join(s.text for s in setups)
    if b.opts.get('pre'):
        pre += b.opts['pre'] + '\n'
    lang = RUNNABLE[b.lang]
    if lang == 'sh':
        with open(base + '.sh', 'w') as f:
            f.write('set -e -o pipefail\n' + pre + b.text)
        return ['bash', base + '.sh']
    if pre:
        with open(base + '-pre.sh', 'w') as f:
            f.write('set -e -o pipefail\n' + pre)
        r = subprocess.run(['bash', base + '-pre.sh'], cwd=root(), env=environment(), timeout=TIMEOUT)
        check(r.returncode == 0, '%s: its pre= or setup failed (%d)' % (b.where(), r.returncode))
    if lang == 'python':
        with open(base + '.py', 'w') as f:
            f.write(b.text)
        return ['/usr/bin/python3', base + '.py']
    with open(base + '.c', 'w') as f:
        f.write(b.text)
    flags = subprocess.run(['pkg-config', '--cflags', '--libs', 'gio-2.0'], capture_output=True, text=True,
                           check=True).stdout.split()
    if '<switchboard/' in b.text:
        flags += libswitchboard_flags()
    r = subprocess.run(['cc', '-Wall', '-Werror', '-o', base, base + '.c'] + flags, capture_output=True,
                       text=True)
    check(r.returncode == 0, '%s: the C example does not compile:\n%s' % (b.where(), r.stderr))
    return [base]


def compare(b, out):
    want = [l.strip() for l in b.expect.text.strip('\n').split('\n')]
    got = [l.strip() for l in out.strip('\n').split('\n')] if out.strip() else []
    ok = len(want) == len(got)
    for w, g in zip(want, got):
        pattern = '.*'.join(re.escape(part) for part in w.split('...'))
        ok = ok and re.fullmatch(pattern, g) is not None
    check(ok, '%s: the output is not what %s says:\n--- expected\n%s\n--- got\n%s'
          % (b.where(), b.expect.where(), '\n'.join(want), '\n'.join(got)))


class Hub:
    """The hub's counters over its socket, for ready= (a new connection per
    look: each look waits for the hub's reply)."""

    @staticmethod
    def info():
        import socket
        path = sbfixture.socket_path()
        if not os.path.exists(path):
            return None
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            s.connect(path)
            s.sendall(sbfixture.frame({'jsonrpc': '2.0', 'id': 1, 'method': 'hub.info'}))
            r = sbfixture.FrameReader(s.fileno())
            return json.loads(r.read_frame(time.monotonic() + sbfixture.TIMEOUT))['result']
        except (OSError, sbfixture.Closed):
            return None
        finally:
            s.close()


class Background:
    def __init__(self, b, argv):
        self.b = b
        how = b.opts['ready']
        before = Hub.info() or {}
        self.proc = subprocess.Popen(argv, cwd=root(), env=environment(), stdout=subprocess.PIPE,
                                     start_new_session=True)
        self.out = LineReader(self.proc.stdout.fileno())
        self.lines = []
        kind, _, arg = how.partition(':')

        def alive():
            if self.proc.poll() is not None:
                fail('%s: the background block exited with status %d before it was ready'
                     % (b.where(), self.proc.returncode))

        if kind in ('subscriptions', 'watches'):
            want = before.get(kind, 0) + int(arg)

            def ready():
                alive()
                return (Hub.info() or {}).get(kind, 0) >= want
        elif kind == 'service':
            def ready():
                alive()
                return arg in (Hub.info() or {}).get('services', {})
        elif kind == 'waiting':
            def ready():
                alive()
                info = Hub.info()
                if not info:
                    return False
                r = subprocess.run(['switchboard', '--socket', 'queues', '--json'], capture_output=True,
                                   text=True, env=environment())
                return any(json.loads(l).get('name') == arg and json.loads(l).get('waiting', 0) > 0
                           for l in r.stdout.splitlines())
        elif kind == 'none':
            def ready():
                return True
        elif kind == 'line':
            def ready():
                line = self.out.readline(sbfixture.TIMEOUT)
                if line is None:
                    alive()
                    fail('%s: no line from the background block' % b.where())
                self.lines.append(line)
                return True
        else:
            fail('%s: unknown ready=%s' % (b.where(), how))
        if kind not in ('line', 'none'):
            # Until the hub's socket exists an inotify watch wakes the wait;
            # after that each look waits for the hub's reply.
            with sbfixture.FileWatch(sbfixture.socket_path()) as w:
                sbfixture.wait_until(ready, '%s to be ready (%s)' % (b.where(), how), TIMEOUT,
                                     pump=lambda left: None if os.path.exists(sbfixture.socket_path())
                                     else w.pump(min(left, 0.5)))
        else:
            ready()
        log('%s: running in the background (%s)' % (b.where(), how))

    def stop(self):
        b = self.b
        if b.expect is not None:
            want = len(b.expect.text.strip('\n').split('\n'))
            while len(self.lines) < want:
                line = self.out.readline(sbfixture.TIMEOUT)
                if line is None:
                    break
                self.lines.append(line)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        else:
            check(self.proc.returncode == 0, '%s: the background block exited with status %d'
                  % (b.where(), self.proc.returncode))
        try:
            self.proc.wait(sbfixture.TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            fail('%s: did not stop on SIGINT' % b.where())
        # What the block started with & ignores SIGINT (bash does that to
        # background jobs of a script): end it too.
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        while True:
            line = self.out.readline(1)
            if line is None:
                break
            self.lines.append(line)
        log('%s: stopped; it printed:' % b.where())
        for line in self.lines:
            print('# | ' + line, flush=True)
        if b.expect is not None:
            compare(b, '\n'.join(self.lines))


def run_config(b, n):
    """Start a hub with @b as its configuration, on a bus and in XDG directories
    of its own, and compare the limits it reports with the block's."""
    import configparser
    base = os.path.join(sbfixture.tmp_dir(), 'config%d' % n)
    env = environment()
    for var, sub in (('XDG_CONFIG_HOME', 'config'), ('XDG_STATE_HOME', 'state'), ('XDG_RUNTIME_DIR', 'runtime')):
        env[var] = os.path.join(base, sub)
        os.makedirs(env[var], mode=0o700)
    os.makedirs(os.path.join(env['XDG_CONFIG_HOME'], 'switchboard'))
    with open(os.path.join(env['XDG_CONFIG_HOME'], 'switchboard', 'switchboard.conf'), 'w') as f:
        f.write(b.text)
    env.pop('DBUS_SESSION_BUS_ADDRESS', None)
    r = subprocess.run(['dbus-run-session', '--config-file=' + os.environ['SB_SESSION_CONF'], '--',
                        'switchboard', 'status', '--json'], env=env, stdout=subprocess.PIPE, text=True,
                       timeout=TIMEOUT)
    check(r.returncode == 0, '%s: a hub with this configuration does not serve (switchboard status: %d)'
          % (b.where(), r.returncode))
    # The activated hub's log lines share the bus's standard output: the status is the last line.
    limits = json.loads(r.stdout.strip().split('\n')[-1])['limits']
    ini = configparser.ConfigParser(inline_comment_prefixes=('#',), interpolation=None)
    ini.read_string(b.text)
    if ini.has_section('limits'):
        for key, value in ini.items('limits'):
            check(limits.get(key) == size_value(value), '%s: [limits] %s=%s, but the hub reports %r'
                  % (b.where(), key, value, limits.get(key)))


def size_value(text):
    """The number a limit's value stands for, as switchboard.conf(5) defines
    sizes: an optional unit k, M or G (any case, with or without i and B), each
    a power of 1024; None when it is not one."""
    m = re.fullmatch(r'(\d+)\s*(?:([kmg])i?)?b?', text.strip(), re.I)
    if not m:
        return None
    return int(m.group(1)) * 1024 ** ' kmg'.index((m.group(2) or ' ').lower())


def run_file(path):
    blocks = parse(path)
    setups = []
    background = []
    ran = 0
    try:
        for n, b in enumerate(blocks):
            if b.kind in (None, 'skip'):
                if b.kind == 'skip':
                    log('%s: skipped: %s' % (b.where(), b.opts['why']))
                continue
            if b.kind == 'config':
                log('%s: a hub with this configuration' % b.where())
                run_config(b, n)
                ran += 1
                continue
            argv = script_for(b, setups, n)
            if b.kind == 'background':
                background.append(Background(b, argv))
            else:
                log('%s: running' % b.where())
                r = subprocess.run(argv, cwd=root(), env=environment(), stdout=subprocess.PIPE,
                                   timeout=TIMEOUT, stdin=subprocess.DEVNULL)
                out = r.stdout.decode('utf-8', 'replace')
                if out:
                    print('# | ' + out.rstrip('\n').replace('\n', '\n# | '), flush=True)
                want = int(b.opts.get('status', 0))
                check(r.returncode == want, '%s: exit status %d, expected %d' % (b.where(), r.returncode, want))
                if b.expect is not None:
                    compare(b, out)
            if b.kind == 'setup':
                setups.append(b)
            ran += 1
    except BaseException:
        # The first failure is the one to report: stop the rest without
        # comparing what they printed.
        for bg in reversed(background):
            bg.b.expect = None
            try:
                bg.stop()
            except sbfixture.TestFailure as e:
                log('also: %s' % e)
        raise
    errors = []
    for bg in reversed(background):
        try:
            bg.stop()
        except sbfixture.TestFailure as e:
            errors.append(str(e))
    if errors:
        fail('\n'.join(errors))
    return ran


def main():
    args = sys.argv[1:]
    if args[:2] == ['--check', '--pages']:
        sys.exit(check_markers(args[2:]))
    check(len(args) == 1, 'usage: run-docs.py PAGE.md | --check --pages PAGE...')
    path = os.path.join(root(), args[0])

    def test_examples_run():
        log('%s: %d blocks ran' % (args[0], run_file(path)))
    test_examples_run.__name__ = 'examples of ' + args[0]
    sbfixture.run_tests([test_examples_run])


if __name__ == '__main__':
    main()
