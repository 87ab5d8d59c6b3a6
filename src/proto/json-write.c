/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * json-write.c: see json-write.h. Responses and notifications sit on the
 * hub's hot path: nothing here allocates except base64 for bytes that are
 * not text, and numbers are written without printf. Strings must be valid
 * UTF-8 already; only '"', '\\' and control characters are escaped.
 */
#include <string.h>

#include "proto/json-write.h"
#include "proto/swar.h"
#include "proto/utf8.h"

/**
 * json_format_u64() - write the decimal digits of @v at the start of @buf
 * (not NUL-terminated)
 *
 * Return: how many.
 */
size_t json_format_u64(char buf[static JSON_U64_MAX], uint64_t v) {
        /* Two digits per division. */
        static const char pairs[] =
                "0001020304050607080910111213141516171819"
                "2021222324252627282930313233343536373839"
                "4041424344454647484950515253545556575859"
                "6061626364656667686970717273747576777879"
                "8081828384858687888990919293949596979899";
        static const uint64_t tens[JSON_U64_MAX - 1] = {
                UINT64_C(10), UINT64_C(100), UINT64_C(1000), UINT64_C(10000), UINT64_C(100000),
                UINT64_C(1000000), UINT64_C(10000000), UINT64_C(100000000), UINT64_C(1000000000),
                UINT64_C(10000000000), UINT64_C(100000000000), UINT64_C(1000000000000),
                UINT64_C(10000000000000), UINT64_C(100000000000000), UINT64_C(1000000000000000),
                UINT64_C(10000000000000000), UINT64_C(100000000000000000), UINT64_C(1000000000000000000),
                UINT64_C(10000000000000000000),
        };
        size_t n = 1;
        char *p;

        /* The digits are written in place, last first: count them first. */
        while (n < JSON_U64_MAX && v >= tens[n - 1])
                n++;
        p = buf + n;
        while (v >= 100) {
                unsigned d = (unsigned) (v % 100) * 2;

                v /= 100;
                *--p = pairs[d + 1];
                *--p = pairs[d];
        }
        if (v >= 10) {
                *--p = pairs[v * 2 + 1];
                *--p = pairs[v * 2];
        } else
                *--p = (char) ('0' + v);
        return n;
}

/**
 * json_write_u64() - append @v as a JSON number
 */
void json_write_u64(GString *s, uint64_t v) {
        char buf[JSON_U64_MAX];

        json_append_len(s, buf, json_format_u64(buf, v));
}

/**
 * json_write_string() - append @len bytes of UTF-8 text @str as a JSON string
 * @str: may be NULL when @len is 0 (a deleted key's value)
 */
void json_write_string(GString *s, const char *str, size_t len) {
        static const char hex[] = "0123456789abcdef";
        static const char short_escapes[0x20] = { ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't' };
        static const bool escaped[256] = { [0 ... 0x1f] = true, ['"'] = true, ['\\'] = true, [0x7f] = true };
        size_t run = 0, i = 0;

        /* NULL + 0 is undefined behaviour in C, whatever it does in practice. */
        str = str ?: "";

        g_string_append_c(s, '"');
        while (i < len) {
                unsigned char ch;

                /* To the next byte to escape: eight at a time, then to the flagged one. */
                while (len - i >= 8) {
                        uint64_t w, m;

                        memcpy(&w, str + i, 8);
                        m = swar_less(w, 0x20) | swar_equal(w, '"') | swar_equal(w, '\\') | swar_equal(w, 0x7f);
                        if (m) {
                                i += swar_first(m);
                                break;
                        }
                        i += 8;
                }
                while (i < len && !escaped[(unsigned char) str[i]])
                        i++;
                if (i == len)
                        break;
                ch = (unsigned char) str[i++];
                /* The plain run before it in one copy. */
                json_append_len(s, str + run, i - 1 - run);
                run = i;
                if (ch == '"' || ch == '\\' || (ch < 0x20 && short_escapes[ch])) {
                        g_string_append_c(s, '\\');
                        g_string_append_c(s, ch < 0x20 ? short_escapes[ch] : (char) ch);
                } else {
                        json_append_lit(s, "\\u00");
                        g_string_append_c(s, hex[ch >> 4]);
                        g_string_append_c(s, hex[ch & 0xf]);
                }
        }
        json_append_len(s, str + run, len - run);
        g_string_append_c(s, '"');
}

/**
 * json_write_cstr() - json_write_string() of a NUL-terminated @str (NULL: "")
 */
void json_write_cstr(GString *s, const char *str) {
        str = str ?: "";
        json_write_string(s, str, strlen(str));
}

/**
 * json_write_bytes_member() - append "@name":"text" when @text, else
 * "@name_base64":"..." (docs/protocol.md)
 */
void json_write_bytes_member(GString *s, const char *name, const void *data, size_t len, bool text) {
        g_autofree char *b64 = NULL;

        g_string_append_c(s, '"');
        json_append_len(s, name, strlen(name));
        if (text) {
                json_append_lit(s, "\":");
                json_write_string(s, data, len);
                return;
        }
        b64 = g_base64_encode(data, len);
        json_append_lit(s, "_base64\":\"");
        g_string_append(s, b64);
        g_string_append_c(s, '"');
}

/* A ',' before the next member of the object being built, unless it just opened. */
static void member_separator(GString *s) {
        if (s->len > 0 && s->str[s->len - 1] != '{')
                json_append_lit(s, ",");
}

/**
 * json_append_name() - append "@name": as the next member of the object
 * being built at the end of @s: after a ',' unless the object just opened
 */
void json_append_name(GString *s, const char *name) {
        member_separator(s);
        json_write_member(s, name);
}

/**
 * json_append_member() - append "@name":"@value" to the object being built
 * at the end of @s, after a ',' unless it is its first member
 */
void json_append_member(GString *s, const char *name, const char *value) {
        json_append_name(s, name);
        json_write_cstr(s, value);
}

/**
 * json_append_u64() - append "@name":@value to the object being built
 */
void json_append_u64(GString *s, const char *name, uint64_t value) {
        json_append_name(s, name);
        json_write_u64(s, value);
}

/**
 * json_append_bool() - append "@name":true or false to the object being built
 */
void json_append_bool(GString *s, const char *name, bool value) {
        json_append_name(s, name);
        json_write_bool(s, value);
}

/**
 * json_append_bytes() - append "@name":"text", or "@name_base64":"..." for
 * bytes that are not text (payload_is_text()), to the object being built
 */
void json_append_bytes(GString *s, const char *name, const void *data, size_t size) {
        member_separator(s);
        json_write_bytes_member(s, name, size ? data : "", size, payload_is_text(data, size));
}
