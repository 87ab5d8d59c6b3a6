/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * text.c: the one definition of text, for the hub and its clients alike
 * (see text.h). No switchboard knowledge.
 */
#include <string.h>

#include "util/text.h"

/*
 * Unicode's noncharacters: U+FDD0..U+FDEF and the last two code points of
 * every plane. Valid UTF-8, but sd-bus refuses them in a string, so text
 * that holds one cannot travel as D-Bus 's'. In UTF-8 each starts with the
 * byte 0xEF (plane 0) or 0xF0..0xF4 (planes 1..16).
 */
static bool has_noncharacter(const unsigned char *p, size_t len) {
        for (size_t i = 0; i < len; i++) {
                gunichar ch;

                if (p[i] < 0xef)
                        continue;
                ch = g_utf8_get_char((const char *) p + i);
                if ((ch >= 0xfdd0 && ch <= 0xfdef) || (ch & 0xfffe) == 0xfffe)
                        return true;
        }
        return false;
}

/**
 * payload_is_text() - whether @payload is text every face carries as a
 * string: valid UTF-8 without NUL bytes and without Unicode noncharacters
 *
 * The one definition of text: text travels as a string where a transport
 * has strings (D-Bus 's', JSON), anything else as bytes (D-Bus 'ay', JSON
 * base64). The hub itself never re-encodes.
 */
bool payload_is_text(const void *payload, size_t len) {
        if (len == 0)
                return true;
        if (memchr(payload, '\0', len))
                return false;
        return g_utf8_validate(payload, len, NULL) && !has_noncharacter(payload, len);
}

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
