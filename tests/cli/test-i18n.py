#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The CLI speaks German with LANGUAGE=de (LC_ALL=C.UTF-8; gettext ignores
# LANGUAGE in the C locale), using the catalogue built into build/po through
# SWITCHBOARD_LOCALEDIR. D-Bus names and output formats stay untranslated.
# Run once per backend (argument "dbus" or "socket"): the hub's errors read
# the same either way.

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import BACKEND, check, expect, finish, require_environment  # noqa: E402

require_environment()

localedir = os.environ.get('SWITCHBOARD_LOCALEDIR', '')
check(os.path.isfile(os.path.join(localedir, 'de', 'LC_MESSAGES', 'switchboard.mo')),
      'the German catalogue is built in %s' % localedir)

DE = {'LC_ALL': 'C.UTF-8', 'LANGUAGE': 'de'}
EN = {'LC_ALL': 'C.UTF-8', 'LANGUAGE': None}

r = expect(0, '--help', env=DE)
for s in ('Aufruf: switchboard', 'Befehle:', 'Eine Nachricht zu einem Thema veröffentlichen',
          'Exit-Status:', 'der Hub hat einen Fehler gemeldet'):
    check(s in r.out, 'German --help contains %r' % s)
check('Commands:' not in r.out, 'German --help has no English heading')
check('Project-Id-Version' not in r.out, 'German --help does not print the PO header')
r = expect(0, 'status', '--help', env=DE)
check('Den Zustand des Hubs anzeigen' in r.out and 'Project-Id-Version' not in r.out, 'German status --help')
r = expect(0, '--help', env=EN)
check('Commands:' in r.out and 'Befehle:' not in r.out, 'without LANGUAGE=de the help is English')

r = expect(0, 'subscribe', '--help', env=DE)
check('Zuerst die gespeicherten Werte passender Themen ausgeben' in r.out and '--retained' in r.out,
      'German subscribe --help translates option descriptions, not option names')
r = expect(0, 'set', '--help', env=DE)
check('SCHLÜSSEL WERT' in r.out, 'German parameter names in the usage line')

# German error messages: usage error and a hub error.
expect(2, 'frobnicate', env=DE, err_contains=['switchboard: unbekannter Befehl »frobnicate«',
                                              '»switchboard --help« zeigt weitere Informationen.'])
expect(2, 'get', env=DE, err_contains='fehlendes Argument: SCHLÜSSEL')
expect(1, 'publish', 'a..b', 'x', env=DE, err_contains='switchboard: ungültiges Thema »a..b«: ')
expect(3, 'get', 'fehlt', env=DE, err_contains='Schlüssel »fehlt« existiert nicht')
if BACKEND == 'socket':
    expect(69, 'get', 'k', env=dict(DE, SWITCHBOARD_SOCKET='/nonexistent/socket'),
           err_contains=['keine Verbindung zum Socket des Hubs /nonexistent/socket', '--socket=PFAD'])
else:
    expect(69, 'get', 'k', env=dict(DE, DBUS_SESSION_BUS_ADDRESS='unix:path=/nonexistent/bus'),
           err_contains='keine Verbindung zum Sitzungsbus')

# The messages of the socket backend, monitor and stdio.
r = expect(0, '--help', env=DE)
for s in ('Den gesamten Verkehr mit seinen Absendern ausgeben',
          'Standardeingabe und -ausgabe mit dem Hub verbinden', 'Nur über D-Bus mit dem Hub sprechen'):
    check(s in r.out, 'German --help contains %r' % s)
r = expect(0, 'monitor', '--help', env=DE)
check('Jede Nachricht und Schlüsseländerung als JSON-Objekt' in r.out and '[MUSTER]' in r.out,
      'German monitor --help')
expect(2, '--dbus', '--socket', 'status', env=DE, err_contains='--dbus und --socket schließen einander aus')
expect(2, 'stdio', '--dbus', env=DE, err_contains='»stdio« braucht den Socket des Hubs')
expect(69, '--socket=/nonexistent/socket', 'stdio', env=DE, err_contains='keine Verbindung zum Socket des Hubs')

# Queues and request/reply.
expect(5, 'call', 'niemand.da', 'x', env=DE, err_contains='switchboard: niemand bedient »niemand.da«\n')  # once, no English echo
expect(3, 'peek', 'leer', env=DE, err_contains='kein Auftrag bereit in der Warteschlange »leer«')
r = expect(0, 'work', '--help', env=DE)
check('WARTESCHLANGE BEFEHL [ARGUMENT…]' in r.out and '5   call: niemand bedient den Namen' in r.out,
      'German work --help and exit statuses')

# Output formats are not translated.
expect(0, 'set', 'i18n.k', 'wert', env=DE, out='')
expect(0, 'list', 'i18n.', env=DE, out='i18n.k\twert\n')

finish()
