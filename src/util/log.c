/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.c: see log.h. One process-wide maximum level; messages above it are
 * not formatted at all, so debug lines cost one comparison on hot paths.
 */
#include <stdarg.h>
#include <stdio.h>

#include "util/log.h"

static GLogLevelFlags max_level = G_LOG_LEVEL_INFO;
static char *last_error;                /* the text of the last error line */

void log_set_max_level(GLogLevelFlags level) {
        max_level = level;
}

gboolean log_level_enabled(GLogLevelFlags level) {
        /* GLib's levels grow more verbose with larger flag values. */
        return level <= max_level;
}

void log_full(GLogLevelFlags level, const char *file, int line, const char *func,
              const char *format, ...) {
        g_autofree char *text = NULL;
        char line_str[16];
        va_list ap;
        int saved_errno = errno;

        if (!log_level_enabled(level))
                return;

        va_start(ap, format);
        errno = saved_errno;            /* for %m */
        text = g_strdup_vprintf(format, ap);
        va_end(ap);

        if (level <= G_LOG_LEVEL_CRITICAL) {
                g_free(last_error);
                last_error = g_strdup(text);
        }
        g_snprintf(line_str, sizeof line_str, "%d", line);
        g_log_structured(LOG_DOMAIN, level,
                         "CODE_FILE", file,
                         "CODE_LINE", line_str,
                         "CODE_FUNC", func,
                         "MESSAGE", "%s", text);
        errno = saved_errno;
}

/**
 * log_last_error() - the text of the last line logged at error level, or NULL
 *
 * Owned by the log; valid until the next error line or log_forget_last_error().
 */
const char *log_last_error(void) {
        return last_error;
}

/**
 * log_forget_last_error() - free what log_last_error() returns
 */
void log_forget_last_error(void) {
        g_clear_pointer(&last_error, g_free);
}
