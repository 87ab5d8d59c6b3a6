#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# examples/applet/switchboard-applet.py under Xvfb, on the private bus of
# tests/with-bus.sh: it shows the retained sensors.> values published before
# it started (from the CLI and from the socket), then live ones from both; its
# button sets ui.theme in the hub; and a screenshot of it is saved (the one in
# docs/applet.png comes from here: set SB_APPLET_SCREENSHOT=docs/applet.png).
# The applet's --test mode prints what it shows and takes commands on stdin.
# Skipped without Xvfb, ImageMagick's import or GTK 4 for Python (scripts/deps.sh
# installs them for tests).

import json
import os
import shutil
import socket
import subprocess
import time

import sbfixture
from sbfixture import LineReader, Skip, check, check_eq, fail, log

APPLET = os.path.join(os.environ.get('SB_SOURCE_ROOT', '.'), 'examples', 'applet', 'switchboard-applet.py')
PNG = b'\x89PNG\r\n\x1a\n'


def cli(*args):
    r = subprocess.run([os.environ['SWITCHBOARD']] + list(args), capture_output=True, text=True,
                       timeout=sbfixture.TIMEOUT * 2)
    check(r.returncode == 0, 'switchboard %s: %d: %s' % (' '.join(args), r.returncode, r.stderr.strip()))
    return r.stdout


def socket_call(method, **params):
    """One JSON-RPC request on the hub's socket; its result."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(sbfixture.socket_path())
        s.sendall(sbfixture.frame({'jsonrpc': '2.0', 'id': 1, 'method': method, 'params': params}))
        reply = json.loads(sbfixture.FrameReader(s.fileno()).read_frame(time.monotonic() + sbfixture.TIMEOUT))
    check('result' in reply, '%s: %r' % (method, reply))
    return reply['result']


def start_xvfb():
    """An Xvfb of our own; returns (process, DISPLAY). -displayfd says when it accepts clients."""
    r, w = os.pipe()
    xvfb = subprocess.Popen(['Xvfb', '-displayfd', str(w), '-screen', '0', '800x600x24', '-nolisten', 'tcp'],
                            pass_fds=[w], stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as f:
        number = f.readline().strip()
    check(number.isdigit(), 'Xvfb did not say its display (status %r)' % xvfb.poll())
    return xvfb, ':' + number


class Applet:
    def __init__(self, display):
        env = dict(os.environ, DISPLAY=display, GDK_BACKEND='x11', GSK_RENDERER='cairo', GTK_A11Y='none',
                   PYTHONUNBUFFERED='1')
        self.proc = subprocess.Popen(['/usr/bin/python3', APPLET, '--test'], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env)
        self.out = LineReader(self.proc.stdout.fileno())
        self.shown = {}

    def command(self, line):
        self.proc.stdin.write((line + '\n').encode())
        self.proc.stdin.flush()

    def wait_line(self, want, what):
        """Read lines (recording 'TOPIC VALUE' as shown) until @want is one."""
        while True:
            line = self.out.readline()
            if line is None:
                fail('%s: the applet printed no %r (status %r; it showed %r)'
                     % (what, want, self.proc.poll(), self.shown))
            log('applet: ' + line)
            topic, _, value = line.partition(' ')
            self.shown[topic] = value
            if line == want:
                return

    def stop(self):
        """Close its standard input, which ends it; its exit status."""
        self.proc.stdin.close()
        try:
            return self.proc.wait(sbfixture.TIMEOUT)
        except subprocess.TimeoutExpired:
            fail('the applet did not exit when its standard input closed')


def test_applet():
    missing = [p for p in ('Xvfb', 'import') if not shutil.which(p)]
    if missing:
        raise Skip('%s not installed (scripts/deps.sh test installs xvfb and imagemagick)' % ' and '.join(missing))
    r = subprocess.run(['/usr/bin/python3', '-c', 'import gi; gi.require_version("Gtk", "4.0")'],
                       capture_output=True)
    if r.returncode != 0:
        raise Skip('GTK 4 for Python is not installed (python3-gi, gir1.2-gtk-4.0)')

    # Before the applet: retained values from the CLI (which starts the hub) and from the socket.
    cli('publish', '--retain', 'sensors.kitchen.temp', '21.5')
    socket_call('publish_retained', topic='sensors.hall.humidity', payload='40 %')
    cli('set', 'ui.theme', 'dark')

    xvfb, display = start_xvfb()
    applet = Applet(display)
    try:
        applet.wait_line('loaded', 'the retained values')
        for topic, value in (('sensors.kitchen.temp', '21.5'), ('sensors.hall.humidity', '40 %'),
                             ('ui.theme', 'dark')):
            check_eq(applet.shown.get(topic), value, 'what the applet shows for %s at start' % topic)

        # Live, from both; a new topic gets a row of its own.
        cli('publish', 'sensors.kitchen.temp', '22')
        applet.wait_line('sensors.kitchen.temp 22', 'a live value from the CLI')
        socket_call('publish', topic='sensors.garage.temp', payload='5.5')
        applet.wait_line('sensors.garage.temp 5.5', 'a live value from the socket')
        cli('publish', 'other.temp', '99')
        socket_call('publish', topic='sensors.hall.humidity', payload='41 %')
        applet.wait_line('sensors.hall.humidity 41 %', 'the next live value')
        check('other.temp' not in applet.shown, 'a topic outside sensors is not shown')

        # The button sets the key in the hub.
        applet.command('click')
        applet.wait_line('ui.theme light', 'the theme after a click')
        check_eq(cli('get', 'ui.theme').strip(), 'light', 'ui.theme in the hub after a click')

        path = os.path.join(os.environ['SB_BUILD_ROOT'], 'tests', 'applet', 'applet.png')
        os.makedirs(os.path.dirname(path), exist_ok=True)
        applet.command('paint')
        applet.wait_line('painted', 'the window drawn')
        # The screen, less its empty border: the window (no window manager places it).
        r = subprocess.run(['import', '-window', 'root', '-trim', '+repage', path], env=dict(os.environ, DISPLAY=display),
                           capture_output=True, text=True, timeout=sbfixture.TIMEOUT * 2)
        check(r.returncode == 0, 'import failed (%d): %s' % (r.returncode, r.stderr.strip()))
        with open(path, 'rb') as f:
            check(f.read(8) == PNG, '%s is a PNG' % path)
        log('screenshot: ' + path)
        if os.environ.get('SB_APPLET_SCREENSHOT'):
            shutil.copy(path, os.environ['SB_APPLET_SCREENSHOT'])

        check_eq(applet.stop(), 0, 'the applet\'s exit status once its stdin closed')
    finally:
        sbfixture.stop_process(applet.proc)
        sbfixture.stop_process(xvfb)


sbfixture.run_tests([test_applet])
