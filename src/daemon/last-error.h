/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * last-error.h: the reason the hub could not start, left in a file where
 * `switchboard status` (and every CLI command that cannot reach the hub)
 * finds it: RUNTIME_DIR/last-error ($XDG_RUNTIME_DIR/switchboard) when that
 * directory is usable, else $XDG_STATE_HOME/switchboard/last-error. One
 * line of text, mode 0600, replaced atomically; removed from both places
 * once a hub has started.
 */
#pragma once

#define LAST_ERROR_FILE "last-error"

void last_error_leave(const char *runtime_dir, const char *text);
void last_error_clear(const char *runtime_dir);
