#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# switchboard-applet.py: a small GTK 4 window that shows the values of the
# topics under sensors. live and toggles the key ui.theme with a button.
# Only PyGObject (python3-gi, gir1.2-gtk-4.0) and the hub's D-Bus interface:
# copy it and change the topic, the key and the widgets.
#
#   - Live values: the hub's broadcast Message signals, through a signal
#     subscription with arg0namespace='sensors'. A passive listener costs the
#     hub nothing. Broadcasts are conflated per topic (the latest value of a
#     busy topic within 10 ms, see docs/dbus.md), which is what a display wants.
#   - Values published before the applet started: Subscribe with retained
#     values, then Unsubscribe. The retained values come as signals addressed
#     to us, between the two replies.
#   - The key: Get at start, the KeyChanged broadcast after, Set on a click.
#     The window follows it: dark or light.
#
# Run it: python3 examples/applet/switchboard-applet.py
# (--test is for tests/applet/test-applet.py: see the end of this file.)

import os
import sys

import gi

gi.require_version('Gtk', '4.0')
from gi.repository import Gio, GLib, Gtk  # noqa: E402

NAME, PATH, IFACE = 'org.switchboard.Hub1', '/org/switchboard/Hub1', 'org.switchboard.Hub1'


class Applet(Gtk.Application):
    def __init__(self, test=False):
        super().__init__(application_id='org.switchboard.ExampleApplet',
                         flags=Gio.ApplicationFlags.NON_UNIQUE)
        self.test = test
        self.rows = {}          # topic: [seq, value label]
        self.theme = None

    def do_activate(self):
        self.window = Gtk.ApplicationWindow(application=self, title='switchboard', default_width=320)
        self.window.set_titlebar(Gtk.HeaderBar())
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=12, margin_top=12, margin_bottom=12,
                      margin_start=12, margin_end=12)
        self.grid = Gtk.Grid(column_spacing=24, row_spacing=6)
        self.button = Gtk.Button(label='Theme: (not set)')
        self.button.connect('clicked', self.on_click)
        box.append(self.grid)
        box.append(self.button)
        self.window.set_child(box)
        self.window.present()

        self.bus = Gio.bus_get_sync(Gio.BusType.SESSION)
        # The match rules go to the bus before our first call to the hub, on the same
        # connection: no value published after the Subscribe below can be missed.
        self.bus.signal_subscribe(NAME, IFACE, 'Message', PATH, 'sensors',
                                  Gio.DBusSignalFlags.MATCH_ARG0_NAMESPACE, self.on_message)
        self.bus.signal_subscribe(NAME, IFACE, 'KeyChanged', PATH, 'ui.theme',
                                  Gio.DBusSignalFlags.NONE, self.on_key_changed)
        # The first call starts the hub if it is not running (D-Bus activation).
        self.call('Subscribe', GLib.Variant('(sb)', ('sensors.>', True)), self.on_subscribed)
        self.call('Get', GLib.Variant('(s)', ('ui.theme',)), self.on_theme)
        if self.test:
            test_hooks(self)

    def call(self, method, args, done=None):
        self.bus.call(NAME, PATH, IFACE, method, args, None, Gio.DBusCallFlags.NONE, -1, None,
                      self.on_reply, (method, done))

    def on_reply(self, bus, result, data):
        method, done = data
        try:
            reply = bus.call_finish(result).unpack()
        except GLib.Error as e:
            reply = e
            if not Gio.DBusError.get_remote_error(e):       # not the hub's answer: no bus, no hub
                print('%s failed: %s' % (method, e.message), file=sys.stderr)
        if done:
            done(reply)

    def on_subscribed(self, reply):
        # The hub sent the retained values (addressed to us) right after this reply: they all
        # come before the reply to Unsubscribe. Live values come from the broadcasts.
        if not isinstance(reply, GLib.Error):
            self.call('Unsubscribe', GLib.Variant('(t)', reply), self.on_unsubscribed)

    def on_unsubscribed(self, reply):
        self.emit_test('loaded')

    def on_message(self, bus, sender, path, iface, signal, params):
        topic, value, seq = params.unpack()
        if topic not in self.rows:
            name, label = Gtk.Label(label=topic, xalign=0), Gtk.Label(xalign=1)
            name.add_css_class('dim-label')
            self.grid.attach(name, 0, len(self.rows), 1, 1)
            self.grid.attach(label, 1, len(self.rows), 1, 1)
            self.rows[topic] = [0, label]
        row = self.rows[topic]
        # While we are subscribed a message comes twice (addressed to us, and broadcast); a conflated
        # broadcast may come after a newer retained value. The hub's seq says which is newest.
        if seq > row[0]:
            row[0] = seq
            row[1].set_markup('<b>%s</b>' % GLib.markup_escape_text(value))
            self.emit_test(topic, value)

    def on_key_changed(self, bus, sender, path, iface, signal, params):
        key, value, revision, deleted = params.unpack()
        self.show_theme(None if deleted else value)

    def on_theme(self, reply):
        if not isinstance(reply, GLib.Error):
            self.show_theme(reply[0])

    def show_theme(self, theme):
        self.theme = theme
        Gtk.Settings.get_default().props.gtk_application_prefer_dark_theme = theme == 'dark'
        self.button.set_label('Theme: %s' % (theme or '(not set)'))
        self.emit_test('ui.theme', theme)

    def on_click(self, button):
        self.call('Set', GLib.Variant('(ss)', ('ui.theme', 'light' if self.theme == 'dark' else 'dark')))

    def emit_test(self, *words):
        if self.test:
            print(*words, flush=True)


# Test hooks, not needed in a copy: with --test the applet prints what it shows
# ("TOPIC VALUE", "ui.theme VALUE", "loaded" once the retained values are in) and
# reads commands on its standard input: "click" clicks the button; "paint" prints
# "painted" once the window is drawn and the X server has it (then take a screenshot).

def test_hooks(applet):
    def painted(clock):
        clock.disconnect_by_func(painted)
        applet.window.get_display().sync()
        print('painted', flush=True)

    def on_command(channel, condition):
        data = os.read(sys.stdin.fileno(), 4096).decode()
        for command in data.split():
            if command == 'click':
                applet.button.emit('clicked')
            elif command == 'paint':
                applet.window.get_frame_clock().connect('after-paint', painted)
                applet.window.queue_draw()
        if not data:
            applet.quit()
        return bool(data)
    GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()), GLib.PRIORITY_DEFAULT,
                      GLib.IOCondition.IN | GLib.IOCondition.HUP, on_command)


if __name__ == '__main__':
    test = '--test' in sys.argv[1:]
    sys.exit(Applet(test).run([sys.argv[0]]))
