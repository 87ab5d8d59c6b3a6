/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * json-write.h: JSON text appended to a GString, by hand and without
 * printf. The hub writes its responses and notifications with it, the
 * client library its requests; GLib only (jsonrpc/json-ops.h writes
 * OpArgs/OpResult members by the op table's params on top of it).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

/* g_string_append_len() without a call when there is room: GLib 2.74 has no inline form of it. */
static inline void json_append_len(GString *s, const char *p, size_t n) {
        if (n == 0)
                return;
        if (G_LIKELY(s->len + n < s->allocated_len)) {
                memcpy(s->str + s->len, p, n);
                s->len += n;
                s->str[s->len] = '\0';
        } else
                g_string_append_len(s, p, (gssize) n);
}

/* Append a string literal. */
#define json_append_lit(s, lit) json_append_len((s), "" lit, sizeof(lit) - 1)

/* The digits of the largest uint64_t. */
#define JSON_U64_MAX 20

size_t json_format_u64(char buf[static JSON_U64_MAX], uint64_t v);
void json_write_u64(GString *s, uint64_t v);

/* Append "@name": (a name that needs no escaping); inline, so that a literal name's length is a constant. */
static inline void json_write_member(GString *s, const char *name) {
        json_append_lit(s, "\"");
        json_append_len(s, name, strlen(name));
        json_append_lit(s, "\":");
}

/* Append true or false. */
static inline void json_write_bool(GString *s, bool b) {
        if (b)
                json_append_lit(s, "true");
        else
                json_append_lit(s, "false");
}

void json_write_string(GString *s, const char *str, size_t len);
void json_write_cstr(GString *s, const char *str);
void json_write_bytes_member(GString *s, const char *name, const void *data, size_t len, bool text);

/* Members of an object being built at the end of the string: ',' unless the first. */
void json_append_name(GString *s, const char *name);
void json_append_member(GString *s, const char *name, const char *value);
void json_append_u64(GString *s, const char *name, uint64_t value);
void json_append_bool(GString *s, const char *name, bool value);
void json_append_bytes(GString *s, const char *name, const void *data, size_t size);
