/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jsonrpc-dispatch.c: see jsonrpc-dispatch.h. A generic adapter of the op
 * table: a request's method is looked up by its JSON-RPC name, its params
 * are read by the descriptor's json_in (by name, or by position in that
 * order), the operation runs, and its result is written by the
 * descriptor's echo and out params. Requests are read with json.c
 * (strict RFC 8259, UTF-8 checked first); responses and notifications are
 * written by hand into the output buffer, since they sit on the hot path.
 * No operation is named here except rpc.describe, JSON-RPC's own
 * introspection.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "proto/frame.h"
#include "jsonrpc/json-ops.h"
#include "proto/json.h"
#include "jsonrpc/jsonrpc-dispatch.h"
#include "util/text.h"

/* Notifications */

static void json_append_sender_uncached(GString *s, const ClientInfo *info) {
        if (!info || !info->transport) {
                json_append_lit(s, ",\"sender\":{\"transport\":\"hub\"}");
                return;
        }
        json_append_lit(s, ",\"sender\":{\"transport\":");
        json_write_cstr(s, info->transport);
        json_append_lit(s, ",\"client\":");
        json_write_u64(s, info->id);
        if (info->uid != (uid_t) -1) {
                json_append_lit(s, ",\"uid\":");
                json_write_u64(s, info->uid);
        }
        if (info->pid > 0) {
                json_append_lit(s, ",\"pid\":");
                json_write_u64(s, (uint64_t) info->pid);
        }
        if (info->name) {
                json_append_lit(s, ",\"name\":");
                json_write_cstr(s, info->name);
        }
        if (info->address) {
                json_append_lit(s, ",\"address\":");
                json_write_cstr(s, info->address);
        }
        g_string_append_c(s, '}');
}

/*
 * A publisher's messages come in runs: the last sender's encoding is kept,
 * keyed by everything it shows (a client id is never reused, but its
 * credentials can arrive after its first message).
 */
static struct {
        uint64_t id;
        uid_t uid;
        pid_t pid;
        const char *transport, *name, *address;
        size_t len;
        char text[256];
} sender_cache;

static void json_append_sender(GString *s, const ClientInfo *info) {
        size_t before = s->len;

        if (info && info->transport && sender_cache.len > 0 && sender_cache.id == info->id &&
            sender_cache.uid == info->uid && sender_cache.pid == info->pid &&
            sender_cache.transport == info->transport && sender_cache.name == info->name &&
            sender_cache.address == info->address) {
                json_append_len(s, sender_cache.text, sender_cache.len);
                return;
        }
        json_append_sender_uncached(s, info);
        if (info && info->transport && s->len - before <= sizeof sender_cache.text) {
                sender_cache.id = info->id;
                sender_cache.uid = info->uid;
                sender_cache.pid = info->pid;
                sender_cache.transport = info->transport;
                sender_cache.name = info->name;
                sender_cache.address = info->address;
                sender_cache.len = s->len - before;
                memcpy(sender_cache.text, s->str + before, sender_cache.len);
        }
}

static void out_append_gstring(GByteArray *out, GString *s) {
        frame_append(out, s->str, s->len);
}

/* ,"WHAT":"NAME","BYTES":... : what a notification is about, and its bytes. */
static void append_subject(GString *s, const char *what, const char *name, const char *bytes, const Envelope *e) {
        g_string_append_c(s, ',');
        json_write_member(s, what);
        json_write_cstr(s, name);
        g_string_append_c(s, ',');
        json_write_bytes_member(s, bytes, e->payload, e->payload_len, payload_is_text(e->payload, e->payload_len));
}

/* ,"NUMBER":N,"FLAG":true|false */
static void append_number_flag(GString *s, const char *number, uint64_t n, const char *flag, bool b) {
        g_string_append_c(s, ',');
        json_write_member(s, number);
        json_write_u64(s, n);
        g_string_append_c(s, ',');
        json_write_member(s, flag);
        json_write_bool(s, b);
}

/*
 * Everything of a notification after its subscription, watch or call id,
 * appended to @s. Return: how much of it a compact message notification
 * shares (up to its seq), else its length.
 */
static size_t envelope_body(GString *s, const Envelope *e) {
        size_t head;

        switch (e->kind) {
        case ENVELOPE_MESSAGE:
                append_subject(s, "topic", e->topic, "payload", e);
                json_append_lit(s, ",\"seq\":");
                json_write_u64(s, e->seq);
                head = s->len;
                json_append_lit(s, ",\"retained\":");
                json_write_bool(s, e->retained);
                json_append_sender(s, e->sender);
                json_append_lit(s, "}}");
                return head;
        case ENVELOPE_KEY_CHANGED:
                append_subject(s, "key", e->topic, "value", e);
                append_number_flag(s, "revision", e->seq, "deleted", e->deleted);
                json_append_sender(s, e->sender);
                break;
        case ENVELOPE_REQUEST:
                append_subject(s, "name", e->topic, "payload", e);
                json_append_sender(s, e->sender);
                break;
        case ENVELOPE_GAP:
                json_append_lit(s, ",\"first_seq\":");
                json_write_u64(s, e->gap_first);
                json_append_lit(s, ",\"last_seq\":");
                json_write_u64(s, e->gap_last);
                break;
        case ENVELOPE_TRAFFIC:
                json_append_lit(s, ",\"event\":");
                json_write_cstr(s, e->event);
                append_subject(s, "name", e->topic, "payload", e);
                json_append_lit(s, ",\"id\":");
                json_write_u64(s, e->object_id);
                json_append_lit(s, ",\"seq\":");
                json_write_u64(s, e->seq);
                if (e->attempts > 0) {
                        json_append_lit(s, ",\"attempts\":");
                        json_write_u64(s, e->attempts);
                }
                if (e->error_name && e->error_name[0]) {
                        json_append_lit(s, ",\"error\":");
                        json_write_cstr(s, e->error_name);
                        json_append_lit(s, ",\"message\":");
                        json_write_cstr(s, e->error_message ?: "");
                }
                json_append_sender(s, e->sender);
                break;
        case ENVELOPE_JOB:
        case ENVELOPE_REPLY:
                /* Answers to waiting reserves and calls are responses: jsonrpc_append_answer(). */
                g_assert_not_reached();
        }
        json_append_lit(s, "}}");
        return s->len;
}

/*
 * Reused text buffers. The hub's loop is single-threaded, dispatch does not
 * nest, and neither do a publish's deliveries (a sink only enqueues), so
 * one buffer per purpose serves every request and every message: a request
 * costs no allocation for its response, nor a message for its encoding.
 * Taken while taken (which does not happen), a new one is lent instead; a
 * burst of big payloads does not keep a buffer big.
 */
#define SCRATCH_KEEP_BYTES (64 * 1024)

typedef struct Scratch {
        GString *s;
        bool busy;
} Scratch;

static GString *scratch_take(Scratch *x) {
        if (x->busy)
                return g_string_sized_new(256);
        if (!x->s)
                x->s = g_string_sized_new(1024);
        x->busy = true;
        g_string_truncate(x->s, 0);
        return x->s;
}

static void scratch_give(Scratch *x, GString *s) {
        if (s != x->s) {
                g_string_free(s, TRUE);
                return;
        }
        x->busy = false;
        if (s->allocated_len > SCRATCH_KEEP_BYTES) {
                g_string_free(s, TRUE);
                x->s = NULL;
        }
}

/* The body a publish's subscribers share (see jsonrpc_append_envelope()), a response, a result, a late answer. */
static Scratch body_scratch, response_scratch, result_scratch, answer_scratch;

static void body_release(void *data) {
        scratch_give(&body_scratch, data);
}

static const char envelope_cache_tag = 0;

/**
 * jsonrpc_append_envelope() - append @e to @out as one notification frame
 *
 * The part after the id is encoded once per publish, without allocating,
 * and shared by every subscriber through the envelope's cache; each
 * subscriber's frame is then one copy into its output buffer.
 */
void jsonrpc_append_envelope(GByteArray *out, const Envelope *e) {
        /* Each notification's text before its subscription, watch or call id, and its length. */
#define PREFIX(method, id) { "{\"jsonrpc\":\"2.0\",\"method\":\"" method "\",\"params\":{\"" id "\":", \
                             sizeof("{\"jsonrpc\":\"2.0\",\"method\":\"" method "\",\"params\":{\"" id "\":") - 1 }
        static const struct {
                const char *text;
                size_t len;
        } prefixes[] = {
                [ENVELOPE_MESSAGE] = PREFIX("message", "subscription"),
                [ENVELOPE_KEY_CHANGED] = PREFIX("key_changed", "watch"),
                [ENVELOPE_GAP] = PREFIX("gap", "id"),
                [ENVELOPE_REQUEST] = PREFIX("request", "id"),
                [ENVELOPE_TRAFFIC] = PREFIX("traffic", "monitor"),
        };
#undef PREFIX
        const char *prefix = prefixes[e->kind].text;
        size_t prefix_len = prefixes[e->kind].len, id_len, head, len, tail_len;
        const char *tail;
        GString *body;
        char id[JSON_U64_MAX];
        uint8_t *p;

        g_assert(prefix);
        if (e->cache && e->cache->owner == &envelope_cache_tag) {
                body = e->cache->data;
                head = e->cache->aux;
        } else {
                body = scratch_take(&body_scratch);
                head = envelope_body(body, e);
                if (e->cache && !e->cache->owner)
                        *e->cache = (EnvelopeCache) {
                                .owner = &envelope_cache_tag,
                                .data = body,
                                .aux = head,
                                .free = body_release,
                        };
        }
        /* Compact: the body up to the message's seq, retained only when true, the closing braces. */
        if (e->compact && e->kind == ENVELOPE_MESSAGE) {
                tail = e->retained ? ",\"retained\":true}}" : "}}";
                len = head;
        } else {
                tail = "";
                len = body->len;
        }
        tail_len = strlen(tail);

        id_len = json_format_u64(id, e->sub_id);
        /* One resize and four copies: prefix, id, the shared body, the compact tail. */
        p = frame_reserve(out, prefix_len + id_len + len + tail_len);
        memcpy(p, prefix, prefix_len);
        memcpy(p + prefix_len, id, id_len);
        memcpy(p + prefix_len + id_len, body->str, len);
        memcpy(p + prefix_len + id_len + len, tail, tail_len);

        if (!e->cache || e->cache->data != body)
                body_release(body);
}
/*
 * The result object: the echoed params, then the results; null when there
 * are neither, and the dictionary itself when that is the only result.
 */
static void append_result(GString *s, const OpMethod *m, const OpArgs *in, const OpResult *out) {
        if (m->n_out == 0 && m->n_echo == 0) {
                json_append_lit(s, "null");
                return;
        }
        if (m->n_out == 1 && m->n_echo == 0 && m->out[0].type == OP_TYPE_DICT) {
                json_write_variant(s, *(GVariant *const *) ((const char *) out + m->out[0].offset));
                return;
        }
        g_string_append_c(s, '{');
        json_write_members(s, m->out, m->n_out, out,
                           json_write_members(s, m->echo, m->n_echo, in, true));
        g_string_append_c(s, '}');
}

/* Responses */

typedef struct Request {
        JsonrpcContext *ctx;
        JsonParser *jp;
        int params;                     /* token of the object or array, or -1 */
        int id;                         /* token of the request's id, -1 for a notification */
        OpCall call;
        GPtrArray *owned;               /* decoded base64 params; NULL until one is */
} Request;

/* An error the face finds itself (bad params): JSON-RPC's own codes, no name. */
static int request_error(Request *q, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static int request_error(Request *q, int code, const char *fmt, ...) {
        va_list ap;

        op_call_clear(&q->call);
        va_start(ap, fmt);
        q->call.error.message = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        q->call.error.code = code;
        return -EINVAL;
}

/* The id exactly as the request wrote it (valid JSON already), or null. */
static void append_id(GString *s, JsonParser *jp, int id) {
        if (id < 0)
                json_append_lit(s, "null");
        else
                json_append_source(s, jp, id);
}

static void append_error_object(GString *s, int code, const char *name, const char *message) {
        json_append_lit(s, "\"error\":{\"code\":");
        g_string_append_printf(s, "%d", code);
        json_append_lit(s, ",\"message\":");
        json_write_cstr(s, message);
        if (name) {
                json_append_lit(s, ",\"data\":{\"name\":");
                json_write_cstr(s, name);
                g_string_append_c(s, '}');
        }
        g_string_append_c(s, '}');
}

static void append_op_error(GString *s, const OpError *e) {
        char buf[256];

        append_error_object(s, e->code, e->name || e->foreign_name ? op_error_name(e, buf, sizeof buf) : NULL,
                            e->message ?: "");
}

static void append_error_for(GString *s, const char *id_json, int code, const char *name, const char *message) {
        json_append_lit(s, "{\"jsonrpc\":\"2.0\",\"id\":");
        g_string_append(s, id_json);
        g_string_append_c(s, ',');
        append_error_object(s, code, name, message);
        g_string_append_c(s, '}');
}

static void append_plain_error(GString *s, int code, const char *name, const char *message) {
        append_error_for(s, "null", code, name, message);
}

/**
 * jsonrpc_append_error() - append a response frame with id null and an error
 * @name: short error name for data.name ("LimitExceeded") or NULL
 *
 * For errors found before a request could be read (an oversized frame).
 */
void jsonrpc_append_error(GByteArray *out, int code, const char *name, const char *message) {
        jsonrpc_append_error_for(out, "null", code, name, message);
}

/**
 * jsonrpc_append_error_for() - jsonrpc_append_error() for the request whose id is @id_json (JSON text)
 */
void jsonrpc_append_error_for(GByteArray *out, const char *id_json, int code, const char *name,
                              const char *message) {
        g_autoptr(GString) s = g_string_new(NULL);
        g_autofree char *full = name ? g_strconcat(OPS_ERROR_PREFIX, name, NULL) : NULL;

        append_error_for(s, id_json, code, full, message);
        out_append_gstring(out, s);
}

/**
 * jsonrpc_auth_read() - read a TCP connection's first frame, which must be hub.auth
 * @ret_token, @ret_token_len: the token given, valid until @jp parses again
 * @ret_id_json: the request's id as JSON text ("null" when it has none), for the answer
 * @ret_why: on failure, what was wrong, for the client and the log
 *
 * hub.auth takes one param, "token", by name ({"token": "..."}) or by
 * position (["..."]). It is not in the op table: it exists only on TCP,
 * before anything else, so the generic dispatcher never sees it.
 *
 * Return: 0; -EACCES when the frame is a request for another method (or a
 * batch), -EINVAL when it is not a valid hub.auth request.
 */
int jsonrpc_auth_read(JsonParser *jp, const char *body, size_t len, const char **ret_token,
                      size_t *ret_token_len, char **ret_id_json, char **ret_why) {
        g_autoptr(GString) id_json = g_string_new("null");
        const char *why = NULL, *name, *token;
        int id, method, params, t;
        size_t n;

        /* json_parse() checks UTF-8 itself. */
        if (len == 0 || json_parse(jp, body, len, JSONRPC_MAX_DEPTH, &why) < 0) {
                *ret_why = g_strdup_printf("Parse error: %s.", why ?: "empty frame");
                return -EINVAL;
        }
        if (json_token(jp, 0)->type != JSON_OBJECT) {
                *ret_why = g_strdup("Authentication required: the first request on a TCP connection must be "
                                    "hub.auth alone, not a batch or another value.");
                return -EACCES;
        }
        id = json_object_find(jp, 0, "id");
        if (id >= 0 && (json_token(jp, id)->type == JSON_STRING || json_token(jp, id)->type == JSON_NUMBER)) {
                g_string_truncate(id_json, 0);
                json_append_source(id_json, jp, id);
        }
        *ret_id_json = g_strdup(id_json->str);
        method = json_object_find(jp, 0, "method");
        if (method < 0 || json_string(jp, method, &name, &n) < 0 || n != strlen("hub.auth") ||
            memcmp(name, "hub.auth", n) != 0) {
                *ret_why = g_strdup("Authentication required: the first request on a TCP connection must be "
                                    "hub.auth with the token, {\"token\": \"...\"}; closing the connection.");
                return -EACCES;
        }
        params = json_object_find(jp, 0, "params");
        t = params < 0 ? -1 :
            json_token(jp, params)->type == JSON_OBJECT ? json_object_find(jp, params, "token") :
            json_token(jp, params)->type == JSON_ARRAY ? json_array_at(jp, params, 0) : -1;
        if (t < 0 || json_string(jp, t, &token, &n) < 0) {
                *ret_why = g_strdup("Invalid params: hub.auth needs 'token', a string; closing the connection.");
                return -EINVAL;
        }
        *ret_token = token;
        *ret_token_len = n;
        return 0;
}

/* Params: by name (object) or by position (array, in the method's json_in order). */

static bool base64_valid(const char *s, size_t len) {
        size_t pad = 0;

        if (len % 4 != 0)
                return false;
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '=') {
                        pad++;
                        continue;
                }
                if (pad > 0 || !(g_ascii_isalnum(s[i]) || s[i] == '+' || s[i] == '/'))
                        return false;
        }
        return pad <= 2;
}

/* The most JSON-RPC params a method has (reply_error: 4), with room to spare. */
#define MAX_JSON_PARAMS 8

/*
 * The token of each of @m's params, or -1: from an object by name, all in
 * one pass (bytes by "NAME" in @ret_text and by "NAME_base64" in @ret_b64),
 * or from an array by position.
 */
static void find_params(Request *q, const OpMethod *m, int ret_text[MAX_JSON_PARAMS],
                        int ret_b64[MAX_JSON_PARAMS]) {
        /* The keys of the last method's params: a client sends runs of one method. */
        static const OpMethod *keyed;
        static JsonKey keys[2 * MAX_JSON_PARAMS];
        static size_t n_keys;
        int found[2 * MAX_JSON_PARAMS];
        size_t n = 0;

        g_assert(m->n_json_in <= MAX_JSON_PARAMS);
        for (unsigned i = 0; i < m->n_json_in; i++)
                ret_text[i] = ret_b64[i] = -1;
        if (q->params < 0)
                return;
        if (json_token(q->jp, q->params)->type != JSON_OBJECT) {
                for (unsigned i = 0; i < m->n_json_in; i++)
                        ret_text[i] = json_array_at(q->jp, q->params, i);
                return;
        }
        if (keyed != m) {
                n_keys = 0;
                for (unsigned i = 0; i < m->n_json_in; i++) {
                        const OpParam *p = &m->json_in[i];

                        keys[n_keys++] = (JsonKey) { p->name, strlen(p->name) };
                        if (p->type == OP_TYPE_BYTES)
                                keys[n_keys++] = (JsonKey) { p->b64_name, strlen(p->b64_name) };
                }
                keyed = m;
        }
        json_object_find_keys(q->jp, q->params, keys, n_keys, found);
        for (unsigned i = 0; i < m->n_json_in; i++) {
                ret_text[i] = found[n++];
                if (m->json_in[i].type == OP_TYPE_BYTES)
                        ret_b64[i] = found[n++];
        }
}

static int param_bytes(Request *q, const OpParam *p, int v, int b64, OpBytes *ret) {
        const char *text;
        size_t len;
        gsize n;

        if (v >= 0) {
                /* Bytes have a length (D-Bus 'ay' is not terminated either): no copy of the text. */
                if (json_string_bytes(q->jp, v, &text, &len) < 0)
                        return request_error(q, JSONRPC_INVALID_PARAMS, "Param '%s' must be a string.", p->name);
                *ret = (OpBytes) { text, len };
                return 0;
        }
        if (json_string(q->jp, b64, &text, &len) < 0 || !base64_valid(text, len))
                return request_error(q, JSONRPC_INVALID_PARAMS, "Param '%s_base64' must be base64 text.", p->name);
        if (!q->owned)
                q->owned = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(q->owned, g_base64_decode(text, &n));
        *ret = (OpBytes) { g_ptr_array_index(q->owned, q->owned->len - 1), n };
        return 0;
}

static int param_number(Request *q, const OpParam *p, int v, void *field) {
        uint64_t u;
        int64_t i;

        switch (p->type) {
        case OP_TYPE_U64:
                if (json_uint64(q->jp, v, field) < 0)
                        return request_error(q, JSONRPC_INVALID_PARAMS, "Param '%s' must be a whole number from 0 "
                                             "to 18446744073709551615.", p->name);
                return 0;
        case OP_TYPE_U32:
                if (json_uint64(q->jp, v, &u) < 0 || u > UINT32_MAX)
                        return request_error(q, JSONRPC_INVALID_PARAMS, "Param '%s' must be a whole number from 0 "
                                             "to 4294967295.", p->name);
                *(uint32_t *) field = (uint32_t) u;
                return 0;
        default:
                if (json_int64(q->jp, v, &i) < 0 || i < INT32_MIN || i > INT32_MAX)
                        return request_error(q, JSONRPC_INVALID_PARAMS, "Param '%s' must be a 32-bit integer.",
                                             p->name);
                *(int32_t *) field = (int32_t) i;
                return 0;
        }
}

/* An absent param: its default from the XML (text of its type), or an error when required. */
static int param_default(Request *q, const OpParam *p, void *field) {
        const char *d = p->json_default;

        if (!d)
                return request_error(q, JSONRPC_INVALID_PARAMS, p->type == OP_TYPE_BYTES ?
                                     "Give exactly one of '%s' and '%s_base64'." : "Missing param '%s'.",
                                     p->name, p->name);
        switch (p->type) {
        case OP_TYPE_STRING:
                *(const char **) field = strcmp(d, "null") == 0 ? NULL : d;
                break;
        case OP_TYPE_BOOL:
                *(bool *) field = strcmp(d, "true") == 0;
                break;
        case OP_TYPE_U32:
                *(uint32_t *) field = (uint32_t) g_ascii_strtoull(d, NULL, 10);
                break;
        case OP_TYPE_U64:
                *(uint64_t *) field = g_ascii_strtoull(d, NULL, 10);
                break;
        case OP_TYPE_I32:
                *(int32_t *) field = (int32_t) g_ascii_strtoll(d, NULL, 10);
                break;
        default:
                g_assert_not_reached();
        }
        return 0;
}

/* Param @p from its token @v, or for bytes "NAME" @v or "NAME_base64" @b64: at most one. */
static int read_param(Request *q, const OpParam *p, int v, int b64, OpArgs *in) {
        void *field = (char *) in + p->offset;
        const char *s;
        size_t len;

        if (v >= 0 && b64 >= 0)
                return request_error(q, JSONRPC_INVALID_PARAMS, "Give exactly one of '%s' and '%s'.", p->name,
                                     p->b64_name);
        if ((v < 0 || json_token(q->jp, v)->type == JSON_NULL) && b64 < 0)
                return param_default(q, p, field);

        switch (p->type) {
        case OP_TYPE_BYTES:
                return param_bytes(q, p, v, b64, field);
        case OP_TYPE_STRING:
                if (json_string(q->jp, v, &s, &len) < 0)
                        return request_error(q, JSONRPC_INVALID_PARAMS, "Param '%s' must be a string.", p->name);
                if (memchr(s, '\0', len))
                        return request_error(q, JSONRPC_INVALID_PARAMS, "Param '%s' must not contain NUL.", p->name);
                *(const char **) field = s;
                return 0;
        case OP_TYPE_BOOL:
                if (json_token(q->jp, v)->type != JSON_BOOL)
                        return request_error(q, JSONRPC_INVALID_PARAMS, "Param '%s' must be true or false.", p->name);
                *(bool *) field = json_token(q->jp, v)->boolean;
                return 0;
        default:
                return param_number(q, p, v, field);
        }
}

static int read_params(Request *q, const OpMethod *m, OpArgs *in) {
        int text[MAX_JSON_PARAMS], b64[MAX_JSON_PARAMS];

        find_params(q, m, text, b64);
        for (unsigned i = 0; i < m->n_json_in; i++) {
                int r = read_param(q, &m->json_in[i], text[i], b64[i], in);
                if (r < 0)
                        return r;
        }
        return 0;
}

static char *id_json(Request *q) {
        g_autoptr(GString) s = g_string_new(NULL);

        append_id(s, q->jp, q->id);
        return g_string_free(g_steal_pointer(&s), FALSE);
}

static void deferred_free(void *p) {
        JsonrpcDeferred *d = p;

        g_free(d->id_json);
        g_free(d);
}

/**
 * jsonrpc_deferred_new() - the table a connection keeps its deferred
 * requests in: op_answer_key() -> JsonrpcDeferred*
 */
GHashTable *jsonrpc_deferred_new(void) {
        return g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, deferred_free);
}

/**
 * jsonrpc_stats_info() - add what this face counts (@userdata, a
 * JsonrpcStats) to hub.info under "jsonrpc" (a HubInfoFunc)
 */
void jsonrpc_stats_info(GVariantBuilder *dict, void *userdata) {
        const JsonrpcStats *st = userdata;
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a{st}"));
        g_variant_builder_add(&b, "{st}", "fifo_lines", st->fifo_lines);
        g_variant_builder_add(&b, "{st}", "fifo_errors", st->fifo_errors);
        g_variant_builder_add(&b, "{st}", "frames_too_large", st->frames_too_large);
        g_variant_builder_add(&b, "{st}", "slow_disconnects", st->slow_disconnects);
        g_variant_builder_add(dict, "{sv}", "jsonrpc", g_variant_builder_end(&b));
}

/* Run @m for @q; its result (when it has one now) into @result. */
static int run_method(Request *q, const OpMethod *m, GString *result) {
        JsonrpcContext *ctx = q->ctx;
        g_auto(OpResult) out = {};
        OpArgs in = {};
        int r;

        if (m->flags & OP_DEFERRED && (q->id < 0 || json_token(q->jp, q->id)->type == JSON_NULL))
                return request_error(q, JSONRPC_INVALID_REQUEST, "%s needs an id: its answer may come later.",
                                     m->jsonrpc);
        r = read_params(q, m, &in);
        if (r < 0)
                return r;
        if (m->preset)
                m->preset(&in);
        q->call = (OpCall) {
                .hub = ctx->hub,
                .client = ctx->client,
                .method = m,
                .can_defer = ctx->deferred != NULL,
        };
        r = op_invoke(&q->call, &in, &out);
        if (r < 0) {
                if (q->call.error.code == 0)
                        return request_error(q, JSONRPC_INTERNAL_ERROR, "Internal error: %s", g_strerror(-r));
                return r;
        }
        if (q->call.durable)
                ctx->hold = true;
        if (q->call.deferred) {
                JsonrpcDeferred *d = g_new0(JsonrpcDeferred, 1);

                d->id_json = id_json(q);
                d->method = m;
                g_hash_table_insert(ctx->deferred, g_memdup2(&q->call.deferred, sizeof(uint64_t)), d);
                return 0;
        }
        /* A notification (no id) gets no response: its result is not written at all. */
        if (q->id >= 0)
                append_result(result, m, &in, &out);
        return 0;
}

/* "a, b and c": the JSON-RPC methods the FIFO carries, from the table. */
static char *fifo_methods(void) {
        g_autoptr(GString) s = g_string_new(NULL);
        const char *last = NULL;

        for (unsigned i = 0; i < op_n_methods; i++) {
                const OpMethod *m = &op_methods[i];

                if (!(m->flags & OP_FIFO) || !(m->flags & OP_JSONRPC_PRIMARY))
                        continue;
                if (last)
                        g_string_append_printf(s, "%s%s", s->len ? ", " : "", last);
                last = m->jsonrpc;
        }
        g_string_append_printf(s, " and %s", last);
        return g_string_free(g_steal_pointer(&s), FALSE);
}

/* A socket-only method of the extension (shm.*): its fds go with the frame of this response. */
static int run_extension(Request *q, const char *name, GString *result) {
        JsonrpcContext *ctx = q->ctx;
        JsonrpcFds fds = {};
        int r;

        q->call = (OpCall) { .hub = ctx->hub, .client = ctx->client };
        r = ctx->ext->call(ctx->ext->userdata, &q->call, name, q->jp, q->params, result, &fds);
        if (r < 0) {
                jsonrpc_fds_close(&fds);
                if (q->call.error.code == 0)
                        return request_error(q, JSONRPC_INTERNAL_ERROR, "Internal error: %s", g_strerror(-r));
                return r;
        }
        /* No id, no response to carry them: the client can still shm.close what it made. */
        if (q->id < 0 || fds.n + ctx->fds.n > JSONRPC_MAX_FDS) {
                jsonrpc_fds_close(&fds);
                return 0;
        }
        for (unsigned i = 0; i < fds.n; i++)
                ctx->fds.fds[ctx->fds.n++] = fds.fds[i];
        return 0;
}

/**
 * jsonrpc_fds_close() - close what @f holds and empty it
 */
void jsonrpc_fds_close(JsonrpcFds *f) {
        for (unsigned i = 0; i < f->n; i++)
                (void) close(f->fds[i]);
        f->n = 0;
}

/* Look @name up and run it; rpc.describe is JSON-RPC's own introspection, from the table too. */
static int run_request(Request *q, const char *name, GString *result) {
        const OpMethod *m = op_method_by_jsonrpc(name);
        bool describe = !m && strcmp(name, "rpc.describe") == 0;

        if (!m && q->ctx->ext && g_str_has_prefix(name, q->ctx->ext->prefix))
                return run_extension(q, name, result);

        if (!m && !describe)
                return request_error(q, JSONRPC_METHOD_NOT_FOUND, "Method '%s' not found; rpc.describe lists the "
                                     "methods.", name);
        if (q->ctx->fifo && (describe || !(m->flags & OP_FIFO))) {
                g_autofree char *taken = fifo_methods();

                return request_error(q, JSONRPC_METHOD_NOT_FOUND, "Method '%s' cannot be used through the FIFO: it "
                                     "takes %s.", name, taken);
        }
        if (describe) {
                g_string_append(result, op_describe_json);
                return 0;
        }
        return run_method(q, m, result);
}

/* A request's members, found in one pass: request_keys[REQUEST_ID] is "id", and so on. */
enum { REQUEST_ID, REQUEST_JSONRPC, REQUEST_METHOD, REQUEST_PARAMS, N_REQUEST_KEYS };
static const JsonKey request_keys[N_REQUEST_KEYS] = {
        [REQUEST_ID] = JSON_KEY("id"),
        [REQUEST_JSONRPC] = JSON_KEY("jsonrpc"),
        [REQUEST_METHOD] = JSON_KEY("method"),
        [REQUEST_PARAMS] = JSON_KEY("params"),
};

/* The request's shape (@members from request_keys): a string method, jsonrpc "2.0", params an object or array. */
static int request_shape(Request *q, const int members[N_REQUEST_KEYS], const char **ret_name) {
        int version = members[REQUEST_JSONRPC];
        int method = members[REQUEST_METHOD];
        size_t n;

        q->params = members[REQUEST_PARAMS];
        if (version < 0 || !json_string_equals(q->jp, version, "2.0", 3))
                return request_error(q, JSONRPC_INVALID_REQUEST, "Invalid request: 'jsonrpc' must be \"2.0\".");
        if (method < 0 || json_string(q->jp, method, ret_name, &n) < 0 || memchr(*ret_name, '\0', n))
                return request_error(q, JSONRPC_INVALID_REQUEST, "Invalid request: 'method' must be a string.");
        if (q->params >= 0 && json_token(q->jp, q->params)->type != JSON_OBJECT &&
            json_token(q->jp, q->params)->type != JSON_ARRAY)
                return request_error(q, JSONRPC_INVALID_REQUEST,
                                     "Invalid request: 'params' must be an object or an array.");
        return 0;
}

static void context_error(JsonrpcContext *ctx, const char *message) {
        g_free(ctx->error);
        ctx->error = g_strdup(message);
}

/*
 * One request object: validate its shape, run its method, append its
 * response to @resp. Return: whether a response was written
 * (notifications and deferred requests get none now).
 */
static bool handle_request(JsonrpcContext *ctx, JsonParser *jp, int req, GString *resp, GArray **replays) {
        GString *result;
        Request q = { .ctx = ctx, .jp = jp, .params = -1, .id = -1 };
        int members[N_REQUEST_KEYS];
        JsonType id_type;
        const char *name;
        bool answered;

        if (json_token(jp, req)->type != JSON_OBJECT) {
                append_plain_error(resp, JSONRPC_INVALID_REQUEST, NULL, "Invalid request: expected a JSON object.");
                context_error(ctx, "not a JSON object");
                return true;
        }
        json_object_find_keys(jp, req, request_keys, N_REQUEST_KEYS, members);
        q.id = members[REQUEST_ID];
        id_type = q.id >= 0 ? json_token(jp, q.id)->type : JSON_NULL;
        if (id_type != JSON_NULL && id_type != JSON_STRING && id_type != JSON_NUMBER) {
                append_plain_error(resp, JSONRPC_INVALID_REQUEST, NULL,
                                   "Invalid request: 'id' must be a string, a number or null.");
                context_error(ctx, "'id' is not a string, a number or null");
                return true;
        }

        result = scratch_take(&result_scratch);
        if (request_shape(&q, members, &name) >= 0)
                (void) run_request(&q, name, result);
        if (q.call.error.code != 0)
                context_error(ctx, q.call.error.message);
        if (q.call.replay_id != 0) {
                if (!*replays)
                        *replays = g_array_new(FALSE, FALSE, sizeof(uint64_t));
                g_array_append_val(*replays, q.call.replay_id);
        }

        /* A request whose shape is invalid is answered even without an id (id null). */
        answered = (q.id >= 0 || q.call.error.code == JSONRPC_INVALID_REQUEST) && !q.call.deferred;
        if (answered) {
                json_append_lit(resp, "{\"jsonrpc\":\"2.0\",\"id\":");
                append_id(resp, jp, q.id);
                g_string_append_c(resp, ',');
                if (q.call.error.code != 0)
                        append_op_error(resp, &q.call.error);
                else {
                        json_append_lit(resp, "\"result\":");
                        json_append_len(resp, result->str, result->len);
                }
                g_string_append_c(resp, '}');
        }
        scratch_give(&result_scratch, result);
        op_call_clear(&q.call);
        g_clear_pointer(&q.owned, g_ptr_array_unref);
        return answered;
}

static void dispatch_batch(JsonrpcContext *ctx, JsonParser *jp, GString *resp, GArray **replays, bool *answered) {
        uint32_t n = json_token(jp, 0)->count;
        int el = 1;

        if (n == 0) {
                context_error(ctx, "Invalid request: an empty batch.");
                append_plain_error(resp, JSONRPC_INVALID_REQUEST, NULL, ctx->error);
                *answered = true;
                return;
        }
        g_string_append_c(resp, '[');
        for (uint32_t i = 0; i < n; i++) {
                size_t before = resp->len;

                if (*answered)
                        g_string_append_c(resp, ',');
                if (handle_request(ctx, jp, el, resp, replays))
                        *answered = true;
                else
                        g_string_truncate(resp, before);
                el = (int) json_token(jp, el)->skip;
        }
        g_string_append_c(resp, ']');
}

/**
 * jsonrpc_dispatch() - run one frame's request, notification or batch
 *
 * Responses go to ctx->out (when not NULL) as one frame; then the retained
 * values that subscribes asked for are delivered through the client's sink.
 * ctx->hold is set when a response acknowledges a change that is not
 * durable yet: the connection holds its output until hub_durable_wait().
 *
 * Return: 0 when everything in the frame succeeded, -EINVAL when it held
 * any error (ctx->error says which, for the FIFO's log).
 */
int jsonrpc_dispatch(JsonrpcContext *ctx, const char *body, size_t len) {
        g_autoptr(JsonParser) own = ctx->parser ? NULL : json_parser_new();
        JsonParser *jp = ctx->parser ?: own;
        g_autoptr(GArray) replays = NULL;       /* subscriptions to replay retained values to */
        GString *resp;
        const char *why = NULL;
        bool answered = false;

        g_clear_pointer(&ctx->error, g_free);
        if (len == 0)
                why = "empty frame";
        else
                /* It checks UTF-8 too, in the strings: nothing else may be beyond ASCII. */
                (void) json_parse(jp, body, len, JSONRPC_MAX_DEPTH, &why);
        resp = scratch_take(&response_scratch);
        if (why) {
                ctx->error = g_strdup_printf("Parse error: %s.", why);
                if (ctx->out) {
                        append_plain_error(resp, JSONRPC_PARSE_ERROR, NULL, ctx->error);
                        out_append_gstring(ctx->out, resp);
                }
                scratch_give(&response_scratch, resp);
                return -EINVAL;
        }

        if (json_token(jp, 0)->type == JSON_ARRAY)
                dispatch_batch(ctx, jp, resp, &replays, &answered);
        else
                answered = handle_request(ctx, jp, 0, resp, &replays);

        /* A batch of notifications only gets no response at all. */
        if (answered && ctx->out) {
                ctx->fds_offset = ctx->out->len;
                out_append_gstring(ctx->out, resp);
        } else
                jsonrpc_fds_close(&ctx->fds);
        scratch_give(&response_scratch, resp);

        for (guint i = 0; replays && i < replays->len; i++)
                (void) hub_replay_retained(ctx->hub, ctx->client, g_array_index(replays, uint64_t, i));

        return ctx->error ? -EINVAL : 0;
}

/**
 * jsonrpc_append_answer() - append the late response to the deferred
 * request @d, from @e: an ENVELOPE_JOB (a reserve that waited) or an
 * ENVELOPE_REPLY (a call)
 */
void jsonrpc_append_answer(GByteArray *out, Hub *hub, const JsonrpcDeferred *d, const Envelope *e) {
        GString *s = scratch_take(&answer_scratch);
        OpCall call = { .hub = hub, .method = d->method };
        OpResult result = {};
        OpArgs in = {};

        json_append_lit(s, "{\"jsonrpc\":\"2.0\",\"id\":");
        g_string_append(s, d->id_json);
        g_string_append_c(s, ',');
        if (op_answer(e, &call, &in, &result) < 0)
                append_op_error(s, &call.error);
        else {
                json_append_lit(s, "\"result\":");
                append_result(s, d->method, &in, &result);
        }
        g_string_append_c(s, '}');
        out_append_gstring(out, s);
        scratch_give(&answer_scratch, s);
        op_call_clear(&call);
}
