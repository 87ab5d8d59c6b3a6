/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * json.c: see json.h. Grammar (RFC 8259, nothing more):
 *
 *   value  = object / array / string / number / "true" / "false" / "null"
 *   number = [ "-" ] ( "0" / [1-9] *DIGIT ) [ "." 1*DIGIT ] [ ( "e" / "E" ) [ "+" / "-" ] 1*DIGIT ]
 *   string = '"' *( unescaped / "\" ( '"' / "\" / "/" / "b" / "f" / "n" / "r" / "t" / "u" 4HEXDIG ) ) '"'
 *
 * with unescaped = any UTF-8 character but '"', '\' and U+0000..U+001F.
 * A \u escape of a surrogate must be a high one followed by a low one.
 */
#include <errno.h>
#include <string.h>

#include "proto/json.h"
#include "proto/json-write.h"
#include "proto/swar.h"
#include "proto/utf8.h"

#define JSON_FIRST_TOKENS 32
#define JSON_KEEP_TOKENS 4096
/* Enough for a request's topic, key and a short payload; longer ones go to spill. */
#define JSON_ARENA_SIZE 1024

JsonParser *json_parser_new(void) {
        JsonParser *p = g_new0(JsonParser, 1);

        p->max_tokens = JSON_FIRST_TOKENS;
        p->tokens = g_new(JsonToken, p->max_tokens);
        return p;
}

JsonParser *json_parser_free(JsonParser *p) {
        if (!p)
                return NULL;
        g_free(p->tokens);
        g_free(p->arena);
        if (p->spill)
                g_ptr_array_unref(p->spill);
        g_free(p);
        return NULL;
}

/* Room for @n bytes that stay valid until the next parse. */
static char *arena_alloc(JsonParser *p, size_t n) {
        char *r;

        /* Made at the first string asked for: an idle connection's parser holds none. */
        if (!p->arena) {
                p->arena_size = JSON_ARENA_SIZE;
                p->arena = g_malloc(p->arena_size);
        }
        if (n <= p->arena_size - p->arena_len) {
                r = p->arena + p->arena_len;
                p->arena_len += n;
                return r;
        }
        if (!p->spill)
                p->spill = g_ptr_array_new_with_free_func(g_free);
        r = g_malloc(n);
        g_ptr_array_add(p->spill, r);
        return r;
}

/* A new token at the end, starting at @start, zeroed otherwise: written in place, not copied. */
static JsonToken *push_token(JsonParser *p, size_t start) {
        if (G_UNLIKELY(p->n_tokens == p->max_tokens)) {
                p->max_tokens *= 2;
                p->tokens = g_renew(JsonToken, p->tokens, p->max_tokens);
        }
        p->tokens[p->n_tokens] = (JsonToken) { .start = (uint32_t) start };
        return &p->tokens[p->n_tokens++];
}

typedef struct Scan {
        JsonParser *p;
        const char *s;
        size_t len, pos;
        unsigned max_depth;
        const char *error;
} Scan;

static inline void skip_ws(Scan *sc) {
        /* Most calls find no whitespace at all (compact JSON): one test for them. */
        if (G_LIKELY(sc->pos < sc->len && (unsigned char) sc->s[sc->pos] > ' '))
                return;
        while (sc->pos < sc->len) {
                char c = sc->s[sc->pos];
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
                        break;
                sc->pos++;
        }
}

static int fail(Scan *sc, const char *why) {
        if (!sc->error)
                sc->error = why;
        return -EINVAL;
}

static int hex4(const char *s, unsigned *ret) {
        unsigned v = 0;

        for (int i = 0; i < 4; i++) {
                int d = g_ascii_xdigit_value(s[i]);
                if (d < 0)
                        return -EINVAL;
                v = v << 4 | (unsigned) d;
        }
        *ret = v;
        return 0;
}

/* Bytes a string holds as they are: neither '"', '\\' nor a control character. */
static const bool plain_byte[256] = { [0x20 ... 0x21] = true, [0x23 ... 0x5b] = true, [0x5d ... 0xff] = true };

/*
 * To the next byte of a string that is not plain (or the end): eight at a
 * time, and in the word that holds one, straight to it: the lowest byte the
 * word tests flag is exact (a false match can only follow a true one).
 * Also ORs the bytes passed into *@high, whose top bit then says whether
 * any was not ASCII.
 */
static void skip_plain(Scan *sc, uint64_t *high) {
        while (sc->len - sc->pos >= 8) {
                uint64_t w, m;

                memcpy(&w, sc->s + sc->pos, 8);
                m = swar_less(w, 0x20) | swar_equal(w, '"') | swar_equal(w, '\\');
                if (m) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                        /* The bytes before the flagged one: every bit below its top bit. */
                        *high |= w & ((m & -m) - 1);
                        sc->pos += swar_first(m);
#else
                        unsigned k = swar_first(m);

                        for (unsigned i = 0; i < k; i++)
                                *high |= (unsigned char) sc->s[sc->pos + i];
                        sc->pos += k;
#endif
                        return;
                }
                *high |= w;
                sc->pos += 8;
        }
        while (sc->pos < sc->len && plain_byte[(unsigned char) sc->s[sc->pos]])
                *high |= (unsigned char) sc->s[sc->pos++];
}

static int scan_string(Scan *sc, JsonToken *t) {
        uint64_t high = 0;

        t->type = JSON_STRING;
        sc->pos++;                      /* the opening quote */
        t->start = (uint32_t) sc->pos;
        while (sc->pos < sc->len) {
                skip_plain(sc, &high);
                if (sc->pos >= sc->len)
                        break;
                unsigned char c = (unsigned char) sc->s[sc->pos];

                if (c == '"') {
                        t->end = (uint32_t) sc->pos++;
                        /* Outside strings only ASCII parses: UTF-8 needs checking only here. */
                        if ((high & SWAR_HIGHS) && !utf8_is_valid(sc->s + t->start, t->end - t->start))
                                return fail(sc, "a string that is not valid UTF-8");
                        return 0;
                }
                if (c < 0x20)
                        return fail(sc, "a control character in a string");

                t->escaped = true;      /* what skip_plain() stops at is '"', a control or '\\' */
                if (sc->pos + 1 >= sc->len)
                        break;
                c = (unsigned char) sc->s[sc->pos + 1];
                if (c == 'u') {
                        unsigned u, lo;

                        if (sc->pos + 6 > sc->len || hex4(sc->s + sc->pos + 2, &u) < 0)
                                return fail(sc, "a bad \\u escape");
                        sc->pos += 6;
                        if (u >= 0xdc00 && u <= 0xdfff)
                                return fail(sc, "a lone low surrogate escape");
                        if (u >= 0xd800 && u <= 0xdbff) {
                                if (sc->pos + 6 > sc->len || sc->s[sc->pos] != '\\' || sc->s[sc->pos + 1] != 'u' ||
                                    hex4(sc->s + sc->pos + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                                        return fail(sc, "a high surrogate escape without its low one");
                                sc->pos += 6;
                        }
                        continue;
                }
                if (!strchr("\"\\/bfnrt", c) || c == '\0')
                        return fail(sc, "a bad escape in a string");
                sc->pos += 2;
        }
        return fail(sc, "an unterminated string");
}

static int scan_number(Scan *sc, JsonToken *t) {
        const char *s = sc->s;
        size_t i = sc->pos;

        t->type = JSON_NUMBER;
        t->integer = true;
        t->start = (uint32_t) i;
        if (i < sc->len && s[i] == '-')
                i++;
        if (i < sc->len && s[i] == '0')
                i++;
        else if (i < sc->len && s[i] >= '1' && s[i] <= '9')
                while (i < sc->len && g_ascii_isdigit(s[i]))
                        i++;
        else
                return fail(sc, "a bad number");
        if (i < sc->len && s[i] == '.') {
                t->integer = false;
                if (++i >= sc->len || !g_ascii_isdigit(s[i]))
                        return fail(sc, "a bad number");
                while (i < sc->len && g_ascii_isdigit(s[i]))
                        i++;
        }
        if (i < sc->len && (s[i] == 'e' || s[i] == 'E')) {
                t->integer = false;
                if (++i < sc->len && (s[i] == '+' || s[i] == '-'))
                        i++;
                if (i >= sc->len || !g_ascii_isdigit(s[i]))
                        return fail(sc, "a bad number");
                while (i < sc->len && g_ascii_isdigit(s[i]))
                        i++;
        }
        sc->pos = i;
        t->end = (uint32_t) i;
        return 0;
}

static int scan_literal(Scan *sc, JsonToken *t, const char *word, JsonType type, bool value) {
        size_t n = strlen(word);

        if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, word, n) != 0)
                return fail(sc, "an unexpected character");
        t->type = type;
        t->boolean = value;
        t->start = (uint32_t) sc->pos;
        sc->pos += n;
        t->end = (uint32_t) sc->pos;
        return 0;
}

static int scan_value(Scan *sc, unsigned depth);

/*
 * A string value, the most common token (every key, most values): scanned
 * here, without scan_value()'s dispatch, and inline in the container loop
 * (a call per key and value cost more than the scan of a short one).
 * @sc->pos is at its opening quote.
 */
G_ALWAYS_INLINE static inline int scan_string_value(Scan *sc) {
        uint32_t index = sc->p->n_tokens;
        int r;

        r = scan_string(sc, push_token(sc->p, sc->pos));
        sc->p->tokens[index].skip = sc->p->n_tokens;
        return r;
}

/* Object or array: members, separated by commas, closed by @close. */
static int scan_container(Scan *sc, unsigned depth, uint32_t index, char close) {
        bool object = close == '}';
        uint32_t count = 0;
        int r;

        if (depth >= sc->max_depth)
                return fail(sc, "nesting too deep");
        sc->pos++;
        skip_ws(sc);
        if (sc->pos < sc->len && sc->s[sc->pos] == close)
                sc->pos++;
        else
                for (;;) {
                        skip_ws(sc);
                        if (object) {
                                if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
                                        return fail(sc, "an object key that is not a string");
                                r = scan_string_value(sc);
                                if (r < 0)
                                        return r;
                                skip_ws(sc);
                                if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
                                        return fail(sc, "a missing ':' in an object");
                                sc->pos++;
                                skip_ws(sc);
                        }
                        if (sc->pos < sc->len && sc->s[sc->pos] == '"')
                                r = scan_string_value(sc);
                        else
                                r = scan_value(sc, depth + 1);
                        if (r < 0)
                                return r;
                        count++;
                        skip_ws(sc);
                        if (sc->pos < sc->len && sc->s[sc->pos] == ',') {
                                sc->pos++;
                                continue;
                        }
                        if (sc->pos < sc->len && sc->s[sc->pos] == close) {
                                sc->pos++;
                                break;
                        }
                        return fail(sc, object ? "a missing ',' or '}' in an object" :
                                                 "a missing ',' or ']' in an array");
                }

        JsonToken *t = &sc->p->tokens[index];
        t->count = count;
        t->end = (uint32_t) sc->pos;
        return 0;
}

static int scan_value(Scan *sc, unsigned depth) {
        uint32_t index;
        JsonToken *t;
        int r;

        skip_ws(sc);
        if (sc->pos >= sc->len)
                return fail(sc, "incomplete JSON");

        index = sc->p->n_tokens;
        switch (sc->s[sc->pos]) {
        case '{':
        case '[':
                t = push_token(sc->p, sc->pos);
                t->type = sc->s[sc->pos] == '{' ? JSON_OBJECT : JSON_ARRAY;
                /* The container's members move the tokens: from here on, by index. */
                r = scan_container(sc, depth, index, t->type == JSON_OBJECT ? '}' : ']');
                break;
        case '"':
                return scan_string_value(sc);
        case 't':
                r = scan_literal(sc, push_token(sc->p, sc->pos), "true", JSON_BOOL, true);
                break;
        case 'f':
                r = scan_literal(sc, push_token(sc->p, sc->pos), "false", JSON_BOOL, false);
                break;
        case 'n':
                r = scan_literal(sc, push_token(sc->p, sc->pos), "null", JSON_NULL, false);
                break;
        default:
                r = scan_number(sc, push_token(sc->p, sc->pos));
        }
        if (r < 0)
                return r;
        sc->p->tokens[index].skip = sc->p->n_tokens;
        return 0;
}

/**
 * json_parse() - tokenize the JSON text @src of @len bytes (valid UTF-8)
 * @ret_error: on failure, a static phrase saying what is wrong
 *
 * Token 0 is the root. Tokens and decoded strings of the previous parse
 * are gone. Return: 0, or -EINVAL for text that is not exactly one JSON
 * value (whitespace around it allowed).
 */
int json_parse(JsonParser *p, const char *src, size_t len, unsigned max_depth, const char **ret_error) {
        Scan sc = { .p = p, .s = src, .len = len, .max_depth = max_depth };
        int r;

        /* A huge frame's tokens are not kept for the rest of the connection's life. */
        if (p->max_tokens > JSON_KEEP_TOKENS) {
                p->max_tokens = JSON_FIRST_TOKENS;
                p->tokens = g_renew(JsonToken, p->tokens, p->max_tokens);
        }
        p->n_tokens = 0;
        p->arena_len = 0;
        if (p->spill)
                g_ptr_array_set_size(p->spill, 0);
        p->src = src;
        if (len > UINT32_MAX)
                r = fail(&sc, "too long");
        else {
                r = scan_value(&sc, 0);
                skip_ws(&sc);
                if (r >= 0 && sc.pos < len)
                        r = fail(&sc, "text after the JSON value");
        }
        if (r < 0 && ret_error)
                *ret_error = sc.error;
        return r;
}

/**
 * json_string_equals() - whether the token at @i is a STRING whose decoded
 * bytes are the @len bytes at @str
 *
 * One without escapes, nearly every one, is compared in the source, not decoded.
 */
bool json_string_equals(const JsonParser *p, int i, const char *str, size_t len) {
        const JsonToken *t = json_token(p, i);
        const char *s;
        size_t n;

        if (t->type != JSON_STRING)
                return false;
        if (!t->escaped)
                return t->end - t->start == len && memcmp(p->src + t->start, str, len) == 0;
        return json_string((JsonParser *) p, i, &s, &n) >= 0 && n == len && memcmp(s, str, n) == 0;
}

/**
 * json_object_find_len() - the value of the key @key, @key_len bytes, in the
 * OBJECT at @object (json_object_find() gives the length of a C string)
 *
 * Return: its token index (the last one, if the key repeats), or -1.
 */
int json_object_find_len(const JsonParser *p, int object, const char *key, size_t key_len) {
        int found;

        json_object_find_keys(p, object, &(JsonKey) { key, key_len }, 1, &found);
        return found;
}

/**
 * json_object_find_keys() - json_object_find() of @n keys at once, in one
 * pass over the members of the OBJECT at @object
 * @ret_values: for each key, its value's token index (the last one, if the
 * key repeats), or -1
 */
void json_object_find_keys(const JsonParser *p, int object, const JsonKey *keys, size_t n, int *ret_values) {
        const JsonToken *o = json_token(p, object);
        int i = object + 1;

        g_assert(o->type == JSON_OBJECT);
        for (size_t k = 0; k < n; k++)
                ret_values[k] = -1;
        for (uint32_t m = 0; m < o->count; m++) {
                /* A member's key (a STRING): in the source unless it has escapes; then to each key by length. */
                const JsonToken *t = json_token(p, i);
                const char *s = p->src + t->start;
                size_t len = t->end - t->start;

                if (t->escaped)
                        (void) json_string((JsonParser *) p, i, &s, &len);
                for (size_t k = 0; k < n; k++)
                        if (keys[k].len == len &&
                            (len == 0 || (s[0] == keys[k].name[0] && memcmp(s, keys[k].name, len) == 0)))
                                ret_values[k] = i + 1;
                i = (int) json_token(p, i + 1)->skip;
        }
}

/**
 * json_bytes_member() - member @name of the OBJECT at @object as the hub
 * writes bytes (docs/protocol.md): "@name" for text, "@name_base64" for
 * anything else, decoded into @decoded
 * @ret_data: the text (until the next parse) or @decoded's data; NUL-terminated either way
 * @ret_binary: whether it came as base64
 *
 * Return: 0, or -ENOENT when neither is a string member of @object.
 */
int json_bytes_member(JsonParser *p, int object, const char *name, GByteArray *decoded, const void **ret_data,
                      size_t *ret_len, bool *ret_binary) {
        g_autofree char *b64_name = NULL;
        gint state = 0;
        guint save = 0;
        const char *s;
        size_t len;
        int i;

        if (json_token(p, object)->type != JSON_OBJECT)
                return -ENOENT;
        i = json_object_find(p, object, name);
        if (i >= 0 && json_string(p, i, &s, &len) >= 0) {
                *ret_data = s;
                *ret_len = len;
                *ret_binary = false;
                return 0;
        }
        b64_name = g_strconcat(name, "_base64", NULL);
        i = json_object_find(p, object, b64_name);
        if (i < 0 || json_string(p, i, &s, &len) < 0)
                return -ENOENT;
        g_byte_array_set_size(decoded, (guint) (len / 4 * 3 + 4));
        len = g_base64_decode_step(s, len, decoded->data, &state, &save);
        g_byte_array_set_size(decoded, (guint) len + 1);
        decoded->data[len] = '\0';
        *ret_data = decoded->data;
        *ret_len = len;
        *ret_binary = true;
        return 0;
}

/**
 * json_array_at() - the @n-th element of the ARRAY at @array, or -1
 */
int json_array_at(const JsonParser *p, int array, unsigned n) {
        const JsonToken *a = json_token(p, array);
        int i = array + 1;

        g_assert(a->type == JSON_ARRAY);
        if (n >= a->count)
                return -1;
        while (n-- > 0)
                i = (int) json_token(p, i)->skip;
        return i;
}

/**
 * json_string() - the decoded bytes of the STRING at @i, NUL-terminated
 * (a \u0000 escape makes an embedded NUL: check @ret_len)
 *
 * Valid until the next json_parse(). Return: 0, or -EINVAL when @i is not
 * a string.
 */
int json_string(JsonParser *p, int i, const char **ret, size_t *ret_len) {
        const JsonToken *t = json_token(p, i);
        const char *s = p->src + t->start, *end = p->src + t->end;
        char *out, *o;

        if (t->type != JSON_STRING)
                return -EINVAL;
        /* Decoding never makes a string longer: an escape is at least as long as what it stands for. */
        o = out = arena_alloc(p, (size_t) (end - s) + 1);
        while (s < end) {
                const char *bs = t->escaped ? memchr(s, '\\', (size_t) (end - s)) : NULL;
                unsigned u = 0, lo = 0;

                if (!bs) {
                        memcpy(o, s, (size_t) (end - s));
                        o += end - s;
                        break;
                }
                memcpy(o, s, (size_t) (bs - s));
                o += bs - s;
                switch (bs[1]) {
                case 'b': *o++ = '\b'; break;
                case 'f': *o++ = '\f'; break;
                case 'n': *o++ = '\n'; break;
                case 'r': *o++ = '\r'; break;
                case 't': *o++ = '\t'; break;
                case 'u':
                        (void) hex4(bs + 2, &u);        /* checked by the scan */
                        if (u >= 0xd800 && u <= 0xdbff) {
                                (void) hex4(bs + 8, &lo);
                                u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                                bs += 6;
                        }
                        if (u == 0)
                                *o++ = '\0';
                        else
                                o += g_unichar_to_utf8(u, o);
                        s = bs + 6;
                        continue;
                default: *o++ = bs[1];     /* " \ / */
                }
                s = bs + 2;
        }
        *o = '\0';
        *ret = out;
        *ret_len = (size_t) (o - out);
        return 0;
}

/**
 * json_string_bytes() - the decoded bytes of the STRING at @i, as
 * json_string() but not necessarily NUL-terminated: a string without
 * escapes is not copied, its bytes are the source's
 *
 * For payloads, which are bytes with a length: a long one costs no copy
 * (nor, past the arena, an allocation). Valid until the next json_parse()
 * and no longer than the source. Return: 0, or -EINVAL when @i is not a string.
 */
int json_string_bytes(JsonParser *p, int i, const char **ret, size_t *ret_len) {
        const JsonToken *t = json_token(p, i);

        if (t->type != JSON_STRING)
                return -EINVAL;
        if (t->escaped)
                return json_string(p, i, ret, ret_len);
        *ret = p->src + t->start;
        *ret_len = t->end - t->start;
        return 0;
}

/**
 * json_uint64() - the NUMBER at @i as a whole number from 0 to UINT64_MAX
 *
 * Return: 0; -EINVAL when it is not a number without fraction or exponent,
 * -ERANGE when it is negative or too large.
 */
int json_uint64(const JsonParser *p, int i, uint64_t *ret) {
        const JsonToken *t = json_token(p, i);
        const char *s = p->src + t->start, *end = p->src + t->end;
        uint64_t v = 0;

        if (t->type != JSON_NUMBER || !t->integer)
                return -EINVAL;
        if (*s == '-')
                return end - s == 2 && s[1] == '0' ? (*ret = 0, 0) : -ERANGE;
        for (; s < end; s++) {
                unsigned d = (unsigned) (*s - '0');

                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

/**
 * json_int64() - the NUMBER at @i as a whole number in int64_t
 *
 * Return: as json_uint64(), -ERANGE outside INT64_MIN..INT64_MAX.
 */
int json_int64(const JsonParser *p, int i, int64_t *ret) {
        const JsonToken *t = json_token(p, i);
        const char *s = p->src + t->start, *end = p->src + t->end;
        bool negative = *s == '-';
        uint64_t v = 0;

        if (t->type != JSON_NUMBER || !t->integer)
                return -EINVAL;
        for (s += negative; s < end; s++) {
                unsigned d = (unsigned) (*s - '0');

                if (v > ((uint64_t) INT64_MAX + negative - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = negative ? (int64_t) (0 - v) : (int64_t) v;
        return 0;
}

/**
 * json_append_source() - append the value at @i to @s exactly as it was
 * written (a string with its quotes and escapes): for echoing ids
 */
void json_append_source(GString *s, const JsonParser *p, int i) {
        const JsonToken *t = json_token(p, i);

        if (t->type == JSON_STRING)
                json_append_len(s, p->src + t->start - 1, t->end - t->start + 2);
        else
                json_append_len(s, p->src + t->start, t->end - t->start);
}
