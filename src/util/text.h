/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * text.h: what counts as text (proto/utf8.h has the one definition), and
 * the one voice of messages: GLib's and the hub's sentences ("Unknown
 * option --x", "Too many clients.") become clauses like the programs' own
 * ("unknown option '--x'", "too many clients").
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

#include "proto/utf8.h"


char *text_clause(const char *sentence);
char *text_unknown_option(const GError *error);
