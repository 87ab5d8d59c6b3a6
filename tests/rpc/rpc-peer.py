#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# rpc-peer.py TRANSPORT NAME MODE LABEL: a request/reply server in its own
# process, for tests that must kill a server or run several at once.
# TRANSPORT is `socket` (the JSON-RPC socket, standard library only) or
# `dbus` (python3-dbus). It serves NAME, prints `serving`, then for each
# request prints `request ID PAYLOAD` (PAYLOAD as JSON: the text, or
# {"base64": ...}) and answers according to MODE:
#   tag   reply "LABEL:<payload>"
#   echo  reply the payload unchanged
#   hold  never reply (the test kills the process or lets the call time out)
# Every line is flushed at once: the test reads them as events.

import base64
import json
import sys

transport, name, mode, label = sys.argv[1:5]


def say(*words):
    sys.stdout.write(' '.join(words) + '\n')
    sys.stdout.flush()


def answer(payload):
    if mode == 'tag':
        return '%s:%s' % (label, payload)
    return payload


def run_socket():
    import sbrpc

    c = sbrpc.Conn(label=label, timeout=3600)
    c.call('serve', {'name': name})
    say('serving')
    while True:
        try:
            m = c.recv(timeout=3600)
        except sbrpc.Closed:
            return
        if m.get('method') != 'request':
            continue        # responses to our replies
        p = m['params']
        if 'payload' in p:
            say('request', str(p['id']), json.dumps(p['payload']))
            if mode != 'hold':
                c.send({'jsonrpc': '2.0', 'id': 'r%d' % p['id'], 'method': 'reply',
                        'params': {'id': p['id'], 'payload': answer(p['payload'])}})
        else:
            say('request', str(p['id']), json.dumps({'base64': p['payload_base64']}))
            if mode != 'hold':
                data = base64.b64decode(p['payload_base64'])
                if mode == 'tag':
                    data = label.encode() + b':' + data
                c.send({'jsonrpc': '2.0', 'id': 'r%d' % p['id'], 'method': 'reply',
                        'params': {'id': p['id'], 'payload_base64': base64.b64encode(data).decode()}})


def run_dbus():
    import dbus
    import dbus.mainloop.glib
    from gi.repository import GLib

    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    me = bus.get_unique_name()
    hub = ('org.switchboard.Hub1', '/org/switchboard/Hub1', 'org.switchboard.Hub1')
    loop = GLib.MainLoop()

    def on_error(e):
        sys.stderr.write('Reply failed: %s\n' % e)
        sys.stderr.flush()

    def on_message(bus, msg):
        if msg.get_type() != 4 or msg.get_interface() != hub[2] or msg.get_destination() != me:
            return dbus.connection.HANDLER_RESULT_NOT_YET_HANDLED
        if msg.get_member() not in ('Request', 'RequestBinary'):
            return dbus.connection.HANDLER_RESULT_NOT_YET_HANDLED
        id, _, payload = msg.get_args_list(byte_arrays=True)
        if msg.get_member() == 'Request':
            say('request', str(int(id)), json.dumps(str(payload)))
        else:
            say('request', str(int(id)), json.dumps({'base64': base64.b64encode(bytes(payload)).decode()}))
        if mode != 'hold':
            bus.call_async(*hub, 'Reply', 'ts', (id, answer(str(payload))), lambda *a: None, on_error)
        return dbus.connection.HANDLER_RESULT_HANDLED

    bus.add_message_filter(on_message)
    bus.call_blocking(*hub, 'Serve', 's', (name,))
    say('serving')
    loop.run()


if transport == 'socket':
    run_socket()
else:
    run_dbus()
