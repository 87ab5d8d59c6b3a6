# SPDX-License-Identifier: LGPL-2.1-or-later
#
# sbtest.py: helpers for switchboard's D-Bus integration tests.
#
# Every test runs under tests/with-bus.sh: a private session bus whose
# service directory activates the build-tree switchboardd. This module opens
# connections to that bus (each Conn is a separate D-Bus client with its own
# unique name), calls the hub with explicit signatures, records incoming
# signals through a message filter, and waits for things with a bounded
# timeout while a GLib main context runs (sbfixture.py's waits: nothing
# sleeps; every wait ends as soon as its condition holds, or fails with a
# message saying what did not happen). Signals are recorded as Signal
# tuples; `dest` is None for a broadcast and the receiver's unique name for a
# unicast.

import os
import re
from collections import namedtuple

import dbus
import dbus.bus
import dbus.mainloop.glib

import sbfixture
from sbfixture import (BUS_NAME, ERR, IFACE, PATH, PROPS, TIMEOUT, TestFailure,  # noqa: F401 (re-exported)
                       check, check_eq, fail, iterate, log, write_config)

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)

Signal = namedtuple('Signal', 'member args dest sender path interface')


def wait_until(pred, what, timeout=TIMEOUT, last=None):
    """Run the GLib main loop (signals are recorded meanwhile) until pred() is
    true; fail after @timeout seconds."""
    return sbfixture.wait_until(pred, what, timeout, pump=sbfixture.glib_pump, last=last)


def private_bus():
    """A new, separate connection to the test bus (its own unique name)."""
    return dbus.bus.BusConnection(sbfixture.env_dir('DBUS_SESSION_BUS_ADDRESS'),
                                  mainloop=dbus.mainloop.glib.DBusGMainLoop())


def dbus_error_name(e):
    return e.get_dbus_name() if isinstance(e, dbus.exceptions.DBusException) else None


def plain(v):
    """dbus-python values to plain Python values (recursively)."""
    if isinstance(v, dbus.ByteArray) or isinstance(v, bytes):
        return bytes(v)
    if isinstance(v, (dbus.Boolean,)):
        return bool(v)
    if isinstance(v, (dbus.Byte, dbus.Int16, dbus.Int32, dbus.Int64, dbus.UInt16, dbus.UInt32,
                      dbus.UInt64)):
        return int(v)
    if isinstance(v, (dbus.String, dbus.ObjectPath, dbus.Signature)):
        return str(v)
    if isinstance(v, dbus.Double):
        return float(v)
    if isinstance(v, dict):
        return {plain(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, dbus.Array)):
        if isinstance(v, dbus.Array) and v.signature == 'y':
            return bytes(int(b) for b in v)
        return [plain(x) for x in v]
    if isinstance(v, (tuple, dbus.Struct)):
        return tuple(plain(x) for x in v)
    return v


class Conn:
    """One D-Bus client: calls the hub and records the signals it receives."""

    def __init__(self, label='client', bus=None):
        self.label = label
        self.bus = bus if bus is not None else private_bus()
        self.name = self.bus.get_unique_name()
        self.signals = []
        self.bus.add_message_filter(self._filter)

    def _filter(self, bus, msg):
        if msg.get_type() == 4 and msg.get_interface() in (IFACE, PROPS):   # signal
            self.signals.append(Signal(msg.get_member(),
                                       plain(msg.get_args_list(byte_arrays=True)),
                                       msg.get_destination(), msg.get_sender(),
                                       msg.get_path(), msg.get_interface()))
        return dbus.connection.HANDLER_RESULT_NOT_YET_HANDLED

    def close(self):
        self.bus.close()

    def add_match(self, rule):
        """A blocking AddMatch: when it returns, the bus routes matching signals to us."""
        self.bus.add_match_string(rule)

    def call(self, method, sig='', *args, iface=IFACE, timeout=TIMEOUT):
        r = self.bus.call_blocking(BUS_NAME, PATH, iface, method, sig, args,
                                   timeout=timeout, byte_arrays=True)
        return plain(r)

    def call_error(self, method, sig='', *args, iface=IFACE):
        """Call and expect a D-Bus error; return (name, message)."""
        try:
            r = self.call(method, sig, *args, iface=iface)
        except dbus.exceptions.DBusException as e:
            return e.get_dbus_name(), e.get_dbus_message() or ''
        fail('%s%r succeeded with %r, expected an error' % (method, args, r))

    def expect_error(self, name, method, sig='', *args, iface=IFACE, mentions=None):
        """Expect the error @name; its message must be a sentence a person can act on."""
        if not name.startswith('org.'):
            name = ERR + name
        got, msg = self.call_error(method, sig, *args, iface=iface)
        shown = ', '.join(repr(a)[:40] for a in args)
        check(got == name, '%s(%s): expected error %s, got %s: %s' % (method, shown, name, got, msg))
        check(msg and len(msg.strip()) >= 10 and msg.strip() not in
              ('Invalid argument', 'File name too long', 'No such file or directory'),
              '%s(%s) -> %s: the message %r does not tell a person what is wrong'
              % (method, shown, name, msg))
        if mentions is not None:
            check(mentions in msg, '%s(%s) -> %s: the message %r does not mention %r'
                  % (method, shown, name, msg, mentions))
        log('%s(%s) -> %s: %s' % (method, shown, name, msg))
        return msg

    def call_async(self, method, sig, args, on_reply, on_error):
        self.bus.call_async(BUS_NAME, PATH, IFACE, method, sig, args,
                            lambda *r: on_reply(plain(r[0]) if len(r) == 1 else plain(r)),
                            on_error, timeout=TIMEOUT * 3, byte_arrays=True)

    # Convenience wrappers for the contract's methods.
    def publish(self, topic, payload):
        return self.call('Publish', 'ss', topic, payload)

    def publish_retained(self, topic, payload):
        return self.call('PublishRetained', 'ss', topic, payload)

    def publish_binary(self, topic, payload, retain=False):
        return self.call('PublishBinary', 'sayb', topic, dbus.ByteArray(payload), retain)

    def subscribe(self, pattern, with_retained=False):
        return self.call('Subscribe', 'sb', pattern, with_retained)

    def unsubscribe(self, sub_id):
        return self.call('Unsubscribe', 't', sub_id)

    def prop(self, name):
        return plain(self.bus.call_blocking(BUS_NAME, PATH, PROPS, 'Get', 'ss', (IFACE, name),
                                            timeout=TIMEOUT))

    def props(self):
        return plain(self.bus.call_blocking(BUS_NAME, PATH, PROPS, 'GetAll', 's', (IFACE,),
                                            timeout=TIMEOUT))

    # Signal bookkeeping.
    def take(self, pred=None):
        """Remove and return the recorded signals for which pred() holds."""
        iterate()
        keep, out = [], []
        for s in self.signals:
            (out if pred is None or pred(s) else keep).append(s)
        self.signals = keep
        return out

    def wait_signal(self, pred, what, timeout=TIMEOUT):
        """Wait until a recorded signal satisfies pred; return the signals up to it
        (inclusive) that belong to the same stream, and remove them."""
        def find():
            for i, s in enumerate(self.signals):
                if pred(s):
                    return i + 1
            return None
        n = wait_until(find, '%s on %s (%s); received so far: %s'
                       % (what, self.label, self.name, fmt_signals(self.signals)), timeout)
        got, self.signals = self.signals[:n], self.signals[n:]
        return got


def fmt_signals(sigs, limit=12):
    parts = ['%s%r%s' % (s.member, tuple(s.args), ' ->%s' % s.dest if s.dest else '')
             for s in sigs[:limit]]
    if len(sigs) > limit:
        parts.append('... (%d more)' % (len(sigs) - limit))
    return '[' + ', '.join(parts) + ']' if parts else '[]'


def unicast_to(conn):
    return lambda s: s.dest == conn.name and s.interface == IFACE


def broadcast(s):
    return s.dest is None and s.interface == IFACE


def is_msg(member, topic=None, payload=None):
    def pred(s):
        if s.member != member or s.interface != IFACE:
            return False
        if topic is not None and s.args[0] != topic:
            return False
        if payload is not None and s.args[1] != payload:
            return False
        return True
    return pred


def both(*preds):
    return lambda s: all(p(s) for p in preds)


def bus_has_owner(conn):
    return sbfixture.name_has_owner(conn.bus)


def wait_prop(conn, name, pred, what, timeout=TIMEOUT):
    """Read a property (a call and its reply per check) until pred(value) holds."""
    last = [None]

    def probe():
        last[0] = conn.prop(name)
        return pred(last[0])
    sbfixture.wait_until(probe, what, timeout, pump=iterate,
                         last=lambda: 'last value of %s: %r' % (name, last[0]))
    return last[0]


def project_version():
    root = os.environ.get('SB_SOURCE_ROOT')
    check(root, 'SB_SOURCE_ROOT is not set: run through meson test')
    with open(os.path.join(root, 'meson.build')) as f:
        text = f.read()
    m = re.search(r"project\s*\((.*?)\)", text, re.S)
    check(m, 'no project() in meson.build')
    v = re.search(r"version\s*:\s*'([^']*)'", m.group(1))
    check(v, 'no version in project() of meson.build')
    return v.group(1)


def main(tests):
    """Run test functions in order; print TAP-ish lines; exit 1 on the first failure."""
    sbfixture.run_tests(tests)
