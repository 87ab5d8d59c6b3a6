/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * text.c: messages in the programs' own voice (see text.h). No
 * switchboard knowledge.
 */
#include <stdint.h>
#include <string.h>

#include "util/text.h"

/**
 * text_clause() - @sentence as a clause: first letter lower-case (unless it starts an
 * acronym), no final period
 */
char *text_clause(const char *sentence) {
        char *s = g_strdup(sentence);
        size_t n = strlen(s);

        if (g_ascii_isupper(s[0]) && g_ascii_islower(s[1]))
                s[0] = g_ascii_tolower(s[0]);
        if (n > 0 && s[n - 1] == '.')
                s[n - 1] = '\0';
        return s;
}

/**
 * text_unknown_option() - the option a GOption "unknown option" error is about, or NULL
 *
 * GLib says "Unknown option --x" (translated): the option is the word that starts with '-'.
 */
char *text_unknown_option(const GError *error) {
        const char *opt;

        if (!g_error_matches(error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION))
                return NULL;
        opt = strstr(error->message, " -");
        return opt ? g_strdup(opt + 1) : NULL;
}
