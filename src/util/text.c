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
