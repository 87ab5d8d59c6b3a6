/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.h: structured logging on top of g_log_structured(). Under systemd the
 * default writer goes to the journal, elsewhere to stderr. The *_errno
 * helpers set errno from a negative error so that "%m" works, log once and
 * return the error, so a caller can write "return log_error_errno(r, ...)".
 * The text of the last error line is kept (log_last_error()): the daemon
 * leaves it where the CLI finds it when the hub fails to start.
 */
#pragma once

#include <errno.h>

#include <glib.h>

#define LOG_DOMAIN "switchboard"

void log_set_max_level(GLogLevelFlags level);
gboolean log_level_enabled(GLogLevelFlags level);
const char *log_last_error(void);
void log_forget_last_error(void);
void log_full(GLogLevelFlags level, const char *file, int line, const char *func,
              const char *format, ...) G_GNUC_PRINTF(5, 6);

#define log_full_errno(level, error, ...)                                         \
        ({                                                                        \
                int _e = (error);                                                 \
                errno = _e < 0 ? -_e : _e;                                        \
                log_full(level, __FILE__, __LINE__, G_STRFUNC, __VA_ARGS__);      \
                _e < 0 ? _e : -_e;                                                \
        })

#define log_debug(...)   log_full(G_LOG_LEVEL_DEBUG, __FILE__, __LINE__, G_STRFUNC, __VA_ARGS__)
#define log_info(...)    log_full(G_LOG_LEVEL_INFO, __FILE__, __LINE__, G_STRFUNC, __VA_ARGS__)
#define log_notice(...)  log_full(G_LOG_LEVEL_MESSAGE, __FILE__, __LINE__, G_STRFUNC, __VA_ARGS__)
#define log_warning(...) log_full(G_LOG_LEVEL_WARNING, __FILE__, __LINE__, G_STRFUNC, __VA_ARGS__)
/* G_LOG_LEVEL_ERROR aborts; "error" here is CRITICAL, which does not. */
#define log_error(...)   log_full(G_LOG_LEVEL_CRITICAL, __FILE__, __LINE__, G_STRFUNC, __VA_ARGS__)

#define log_debug_errno(e, ...)   log_full_errno(G_LOG_LEVEL_DEBUG, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(G_LOG_LEVEL_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(G_LOG_LEVEL_CRITICAL, e, __VA_ARGS__)
