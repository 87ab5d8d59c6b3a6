/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * utf8.c: the one definition of text, for the hub and its clients alike
 * (see utf8.h). No switchboard knowledge, no GLib.
 */
#include <stdint.h>
#include <string.h>

#include "proto/utf8.h"

#define TEXT_HIGH_BITS UINT64_C(0x8080808080808080)
#define TEXT_LOW_BYTES UINT64_C(0x0101010101010101)

/* Whether any of the eight bytes of @w is zero (the classic has-zero-byte test). */
static inline bool word_has_zero(uint64_t w) {
        return ((w - TEXT_LOW_BYTES) & ~w & TEXT_HIGH_BITS) != 0;
}

/*
 * One pass over @p: whether it is valid UTF-8 (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF) without NUL bytes, and through
 * @ret_nonchar whether it holds a Unicode noncharacter (U+FDD0..U+FDEF and
 * the last two code points of every plane: valid UTF-8, but sd-bus refuses
 * them in a string). ASCII, by far the most common, goes eight bytes at a
 * time.
 */
static bool scan_utf8(const unsigned char *p, size_t len, bool *ret_nonchar) {
        size_t i = 0;

        *ret_nonchar = false;
        while (i < len) {
                if (len - i >= 8) {
                        uint64_t w;

                        memcpy(&w, p + i, 8);
                        if (!(w & TEXT_HIGH_BITS)) {
                                if (word_has_zero(w))
                                        return false;
                                i += 8;
                                continue;
                        }
                }
                unsigned char c = p[i];
                uint32_t ch;
                unsigned n;

                if (c < 0x80) {
                        if (c == 0)
                                return false;
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        n = 1, ch = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        n = 2, ch = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        n = 3, ch = c & 0x07;
                else
                        return false;
                if (len - i <= n)
                        return false;
                for (unsigned k = 1; k <= n; k++) {
                        if ((p[i + k] & 0xc0) != 0x80)
                                return false;
                        ch = ch << 6 | (p[i + k] & 0x3f);
                }
                /* Overlong forms, surrogates, and beyond the last plane. */
                if ((n == 2 && ch < 0x800) || (n == 3 && ch < 0x10000) || ch > 0x10ffff ||
                    (ch >= 0xd800 && ch <= 0xdfff))
                        return false;
                if ((ch >= 0xfdd0 && ch <= 0xfdef) || (ch & 0xfffe) == 0xfffe)
                        *ret_nonchar = true;
                i += n + 1;
        }
        return true;
}

/**
 * utf8_is_valid() - whether @len bytes at @p are valid UTF-8 without NUL
 * bytes (what a JSON text must be; noncharacters are allowed there)
 */
bool utf8_is_valid(const void *p, size_t len) {
        bool nonchar;

        return scan_utf8(p, len, &nonchar);
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
        bool nonchar;

        if (len == 0)
                return true;
        return scan_utf8(payload, len, &nonchar) && !nonchar;
}

