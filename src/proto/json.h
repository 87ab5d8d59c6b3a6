/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * json.h: a strict JSON (RFC 8259) reader for requests, built for the hot
 * path: one pass over the text into a flat array of tokens (no tree, no
 * allocation per value), reused from frame to frame. Strings stay in the
 * source until asked for; then they are decoded into an arena that lives
 * until the next parse (one block reused from parse to parse, so a
 * request costs no allocation). Text that parses is valid UTF-8 without NUL
 * bytes: outside strings only ASCII parses, and a string with bytes above
 * ASCII is checked when it ends; nesting deeper than max_depth is an error.
 *
 * Tokens are in document order. A container's members follow it; `skip` is
 * the index just past its last descendant. An object's members are key
 * (a STRING token) and value, in turn.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

typedef enum JsonType {
        JSON_NULL,
        JSON_BOOL,
        JSON_NUMBER,
        JSON_STRING,
        JSON_ARRAY,
        JSON_OBJECT,
} JsonType;

typedef struct JsonToken {
        JsonType type;
        bool boolean;                   /* BOOL: its value */
        bool escaped;                   /* STRING: holds backslash escapes */
        bool integer;                   /* NUMBER: no fraction, no exponent */
        uint32_t start, end;            /* source bytes; for a STRING, inside the quotes */
        uint32_t count;                 /* ARRAY: elements; OBJECT: members */
        uint32_t skip;                  /* index just past this value and its descendants */
} JsonToken;

typedef struct JsonParser {
        const char *src;
        JsonToken *tokens;
        uint32_t n_tokens, max_tokens;
        char *arena;                    /* decoded strings, until the next parse */
        size_t arena_len, arena_size;
        GPtrArray *spill;               /* strings that did not fit the arena; freed at the next parse */
} JsonParser;

JsonParser *json_parser_new(void);
JsonParser *json_parser_free(JsonParser *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(JsonParser, json_parser_free)

int json_parse(JsonParser *p, const char *src, size_t len, unsigned max_depth, const char **ret_error);

static inline const JsonToken *json_token(const JsonParser *p, int i) {
        return &p->tokens[i];
}

/* A key to look for, and its length; JSON_KEY("literal") spells one. */
typedef struct JsonKey {
        const char *name;
        size_t len;
} JsonKey;
#define JSON_KEY(lit) { "" lit, sizeof(lit) - 1 }

int json_object_find_len(const JsonParser *p, int object, const char *key, size_t key_len);
void json_object_find_keys(const JsonParser *p, int object, const JsonKey *keys, size_t n, int *ret_values);

/* The value of @key in the OBJECT at @object, or -1; inline, so that a literal key's length is a constant. */
static inline int json_object_find(const JsonParser *p, int object, const char *key) {
        return json_object_find_len(p, object, key, strlen(key));
}
int json_array_at(const JsonParser *p, int array, unsigned n);
int json_bytes_member(JsonParser *p, int object, const char *name, GByteArray *decoded, const void **ret_data,
                      size_t *ret_len, bool *ret_binary);
int json_string(JsonParser *p, int i, const char **ret, size_t *ret_len);
int json_string_bytes(JsonParser *p, int i, const char **ret, size_t *ret_len);
bool json_string_equals(const JsonParser *p, int i, const char *str, size_t len);
int json_uint64(const JsonParser *p, int i, uint64_t *ret);
int json_int64(const JsonParser *p, int i, int64_t *ret);
void json_append_source(GString *s, const JsonParser *p, int i);
