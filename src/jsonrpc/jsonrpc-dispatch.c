/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jsonrpc-dispatch.c: see jsonrpc-dispatch.h. Requests are read with
 * json.c (strict RFC 8259, UTF-8 checked first); replies and notifications are written by hand into
 * the output buffer, since they have few fixed shapes and sit on the hot
 * path. Each method is one row of `methods`: its params in positional
 * order, its D-Bus twins (rpc.describe and a test keep the two transports
 * in step) and a handler that reads params, calls the core and writes the
 * result. Errors become error objects here, once, with words from
 * core/errors.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "build-config.h"
#include "core/errors.h"
#include "jsonrpc/frame.h"
#include "jsonrpc/json.h"
#include "jsonrpc/jsonrpc-dispatch.h"




/* JSON text writing */

static void json_append_string(GString *s, const char *str, size_t len) {
        static const char hex[] = "0123456789abcdef";

        g_string_append_c(s, '"');
        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char) str[i];

                if (ch == '"' || ch == '\\') {
                        g_string_append_c(s, '\\');
                        g_string_append_c(s, (char) ch);
                } else if (ch < 0x20) {
                        g_string_append(s, "\\u00");
                        g_string_append_c(s, hex[ch >> 4]);
                        g_string_append_c(s, hex[ch & 0xf]);
                } else
                        g_string_append_c(s, (char) ch);
        }
        g_string_append_c(s, '"');
}

static void json_append_cstr(GString *s, const char *str) {
        json_append_string(s, str, strlen(str));
}

/* "name":"text" or "name_base64":"..." as the bytes decide (docs/protocol.md). */
static void json_append_bytes_member(GString *s, const char *name, const void *data, size_t len) {
        if (payload_is_text(data, len)) {
                g_string_append_printf(s, "\"%s\":", name);
                json_append_string(s, data, len);
        } else {
                g_autofree char *b64 = g_base64_encode(data, len);
                g_string_append_printf(s, "\"%s_base64\":\"%s\"", name, b64);
        }
}

static void json_append_sender(GString *s, const ClientInfo *info) {
        if (!info || !info->transport) {
                g_string_append(s, ",\"sender\":{\"transport\":\"hub\"}");
                return;
        }
        g_string_append(s, ",\"sender\":{\"transport\":");
        json_append_cstr(s, info->transport);
        g_string_append_printf(s, ",\"client\":%" PRIu64, info->id);
        if (info->uid != (uid_t) -1)
                g_string_append_printf(s, ",\"uid\":%u", (unsigned) info->uid);
        if (info->pid > 0)
                g_string_append_printf(s, ",\"pid\":%u", (unsigned) info->pid);
        if (info->name) {
                g_string_append(s, ",\"name\":");
                json_append_cstr(s, info->name);
        }
        g_string_append_c(s, '}');
}

static void out_append_gstring(GByteArray *out, GString *s) {
        frame_append(out, s->str, s->len);
}

/**
 * jsonrpc_append_envelope() - append @e to @out as one notification frame
 */
/* Everything of a notification after its subscription, watch or call id. */
static GString *envelope_body(const Envelope *e) {
        GString *s = g_string_sized_new(128 + e->payload_len);

        switch (e->kind) {
        case ENVELOPE_MESSAGE:
                g_string_append(s, ",\"topic\":");
                json_append_cstr(s, e->topic);
                g_string_append_c(s, ',');
                json_append_bytes_member(s, "payload", e->payload, e->payload_len);
                g_string_append_printf(s, ",\"seq\":%" PRIu64 ",\"retained\":%s", e->seq,
                                       e->retained ? "true" : "false");
                json_append_sender(s, e->sender);
                break;
        case ENVELOPE_KEY_CHANGED:
                g_string_append(s, ",\"key\":");
                json_append_cstr(s, e->topic);
                g_string_append_c(s, ',');
                json_append_bytes_member(s, "value", e->payload, e->payload_len);
                g_string_append_printf(s, ",\"revision\":%" PRIu64 ",\"deleted\":%s", e->seq,
                                       e->deleted ? "true" : "false");
                json_append_sender(s, e->sender);
                break;
        case ENVELOPE_REQUEST:
                g_string_append(s, ",\"name\":");
                json_append_cstr(s, e->topic);
                g_string_append_c(s, ',');
                json_append_bytes_member(s, "payload", e->payload, e->payload_len);
                json_append_sender(s, e->sender);
                break;
        case ENVELOPE_GAP:
                g_string_append_printf(s, ",\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64,
                                       e->gap_first, e->gap_last);
                break;
        case ENVELOPE_JOB:
        case ENVELOPE_REPLY:
                /* Answers to waiting reserves and calls are responses: jsonrpc_append_answer(). */
                g_assert_not_reached();
        }
        g_string_append(s, "}}");
        return s;
}

static void gstring_free(void *s) {
        g_string_free(s, TRUE);
}

static const char envelope_cache_tag = 0;

/**
 * jsonrpc_append_envelope() - append @e to @out as one notification frame
 *
 * The part after the id is encoded once per publish and shared by every
 * subscriber through the envelope's cache.
 */
void jsonrpc_append_envelope(GByteArray *out, const Envelope *e) {
        static const char *const prefixes[] = {
                [ENVELOPE_MESSAGE] = "{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":{\"subscription\":",
                [ENVELOPE_KEY_CHANGED] = "{\"jsonrpc\":\"2.0\",\"method\":\"key_changed\",\"params\":{\"watch\":",
                [ENVELOPE_GAP] = "{\"jsonrpc\":\"2.0\",\"method\":\"gap\",\"params\":{\"id\":",
                [ENVELOPE_REQUEST] = "{\"jsonrpc\":\"2.0\",\"method\":\"request\",\"params\":{\"id\":",
        };
        g_autoptr(GString) own = NULL;
        const GString *body;
        const char *prefix = prefixes[e->kind];
        char id[24];
        size_t prefix_len = strlen(prefix), id_len, len;

        g_assert(prefix);
        if (e->cache && (!e->cache->owner || e->cache->owner == &envelope_cache_tag)) {
                if (!e->cache->owner)
                        *e->cache = (EnvelopeCache) {
                                .owner = &envelope_cache_tag,
                                .data = envelope_body(e),
                                .free = gstring_free,
                        };
                body = e->cache->data;
        } else
                body = own = envelope_body(e);

        id_len = (size_t) g_snprintf(id, sizeof id, "%" PRIu64, e->sub_id);
        len = prefix_len + id_len + body->len;
        frame_append_header(out, len);
        g_byte_array_append(out, (const guint8 *) prefix, (guint) prefix_len);
        g_byte_array_append(out, (const guint8 *) id, (guint) id_len);
        g_byte_array_append(out, (const guint8 *) body->str, (guint) body->len);
}

/* Responses */

typedef struct Call Call;

typedef struct Method {
        const char *name;
        const char *const *params;      /* in positional order */
        const char *dbus;               /* twins, space-separated */
        bool fifo;                      /* may arrive through the FIFO */
        int (*handler)(Call *c);
} Method;

struct Call {
        JsonrpcContext *ctx;
        JsonParser *jp;
        int params;                     /* token of the object or array, or -1 */
        const Method *method;
        GString *result;                /* JSON text of the result */
        int code;                       /* error, when not 0 */
        const char *error_name;         /* short name ("InvalidTopic") or NULL */
        char *message;
        uint64_t replay_sub_id;         /* subscribe with_retained: replay after the reply */
        int id;                         /* token of the request's id, -1 for a notification */
        bool has_id;                    /* not a notification */
        bool deferred;                  /* answered later (ctx->deferred) */
};

static int call_error(Call *c, int code, const char *name, const char *fmt, ...) G_GNUC_PRINTF(4, 5);
static int call_error(Call *c, int code, const char *name, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        g_free(c->message);
        c->message = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        c->code = code;
        c->error_name = name;
        return -EINVAL;
}

static int error_code_of(const char *name) {
        static const struct {
                const char *name;
                int code;
        } codes[] = {
                { "InvalidTopic", -32001 },
                { "InvalidPattern", -32002 },
                { "InvalidKey", -32003 },
                { "NotFound", -32004 },
                { "Conflict", -32005 },
                { "LimitExceeded", -32006 },
                { "InvalidQueue", -32007 },
                { "NoJob", -32008 },
                { "StorageFailed", -32009 },
                { "InvalidName", -32010 },
                { "NoServer", -32011 },
                { "Timeout", -32012 },
                { "ServerGone", -32013 },
                { "ServerError", -32014 },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(codes); i++)
                if (strcmp(codes[i].name, name) == 0)
                        return codes[i].code;
        return 0;
}

static int call_core_error(Call *c, int r, HubArg arg, const char *what, size_t size) {
        const char *name;
        char *message;

        if (hub_error_explain(r, hub_get_limits(c->ctx->hub), arg, what, size, &name, &message) < 0)
                return call_error(c, JSONRPC_INTERNAL_ERROR, NULL, "Internal error: %s", g_strerror(-r));

        c->code = error_code_of(name);
        g_assert(c->code != 0);
        g_free(c->message);
        c->message = message;
        c->error_name = name;
        return r;
}

/* The id exactly as the request wrote it (valid JSON already), or null. */
static void append_id(GString *s, JsonParser *jp, int id) {
        if (id < 0)
                g_string_append(s, "null");
        else
                json_append_source(s, jp, id);
}

static void append_error_object(GString *s, int code, const char *name, const char *message) {
        g_string_append_printf(s, "\"error\":{\"code\":%d,\"message\":", code);
        json_append_cstr(s, message);
        if (name) {
                g_string_append(s, ",\"data\":{\"name\":\"" SB_ERROR_PREFIX);
                g_string_append(s, name);
                g_string_append(s, "\"}");
        }
        g_string_append_c(s, '}');
}

static void append_response(GString *s, int id, Call *c) {
        g_string_append(s, "{\"jsonrpc\":\"2.0\",\"id\":");
        append_id(s, c->jp, id);
        g_string_append_c(s, ',');
        if (c->code != 0)
                append_error_object(s, c->code, c->error_name, c->message);
        else {
                g_string_append(s, "\"result\":");
                g_string_append_len(s, c->result->str, c->result->len);
        }
        g_string_append_c(s, '}');
}

static void append_plain_error(GString *s, int code, const char *name, const char *message) {
        g_string_append(s, "{\"jsonrpc\":\"2.0\",\"id\":null,");
        append_error_object(s, code, name, message);
        g_string_append_c(s, '}');
}

/**
 * jsonrpc_append_error() - append a response frame with id null and an error
 * @name: short error name for data.name ("LimitExceeded") or NULL
 *
 * For errors found before a request could be read (an oversized frame).
 */
void jsonrpc_append_error(GByteArray *out, int code, const char *name, const char *message) {
        g_autoptr(GString) s = g_string_new(NULL);

        append_plain_error(s, code, name, message);
        out_append_gstring(out, s);
}

/* Params: by name (object) or by position (array, in the method's order). */

static int param(Call *c, const char *name) {
        const char *const *names = c->method->params;

        if (c->params < 0)
                return -1;
        if (json_token(c->jp, c->params)->type == JSON_OBJECT)
                return json_object_find(c->jp, c->params, name);
        for (unsigned i = 0; names[i]; i++)
                if (strcmp(names[i], name) == 0)
                        return json_array_at(c->jp, c->params, i);
        return -1;
}

static bool param_is_null(Call *c, int v) {
        return v < 0 || json_token(c->jp, v)->type == JSON_NULL;
}

static int param_string(Call *c, const char *name, bool required, const char *def, const char **ret,
                        size_t *ret_len) {
        int v = param(c, name);
        size_t len;

        if (param_is_null(c, v)) {
                if (required)
                        return call_error(c, JSONRPC_INVALID_PARAMS, NULL, "Missing param '%s'.", name);
                *ret = def;
                if (ret_len)
                        *ret_len = def ? strlen(def) : 0;
                return 0;
        }
        if (json_string(c->jp, v, ret, &len) < 0)
                return call_error(c, JSONRPC_INVALID_PARAMS, NULL, "Param '%s' must be a string.", name);
        if (ret_len)
                *ret_len = len;
        else if (memchr(*ret, '\0', len))
                return call_error(c, JSONRPC_INVALID_PARAMS, NULL, "Param '%s' must not contain NUL.", name);
        return 0;
}

static int param_bool(Call *c, const char *name, bool *ret) {
        int v = param(c, name);

        if (param_is_null(c, v)) {
                *ret = false;
                return 0;
        }
        if (json_token(c->jp, v)->type != JSON_BOOL)
                return call_error(c, JSONRPC_INVALID_PARAMS, NULL, "Param '%s' must be true or false.", name);
        *ret = json_token(c->jp, v)->boolean;
        return 0;
}

static int param_u64(Call *c, const char *name, uint64_t *ret) {
        int v = param(c, name);

        if (v < 0)
                return call_error(c, JSONRPC_INVALID_PARAMS, NULL, "Missing param '%s'.", name);
        if (json_uint64(c->jp, v, ret) < 0)
                return call_error(c, JSONRPC_INVALID_PARAMS, NULL,
                                  "Param '%s' must be a whole number from 0 to 18446744073709551615.", name);
        return 0;
}

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

/*
 * The bytes of "NAME" (text) or "NAME_base64": exactly one must be given.
 * @ret_owned holds decoded base64, freed by the caller.
 */
static int param_bytes(Call *c, const char *name, const void **ret, size_t *ret_len, guchar **ret_owned) {
        g_autofree char *b64_name = g_strconcat(name, "_base64", NULL);
        int text = param(c, name), b64 = -1;
        const char *b64_text;
        size_t b64_len;
        gsize n;

        if (c->params >= 0 && json_token(c->jp, c->params)->type == JSON_OBJECT)
                b64 = json_object_find(c->jp, c->params, b64_name);
        if ((text >= 0) == (b64 >= 0))
                return call_error(c, JSONRPC_INVALID_PARAMS, NULL, "Give exactly one of '%s' and '%s'.",
                                  name, b64_name);
        if (text >= 0)
                return param_string(c, name, true, NULL, (const char **) ret, ret_len);

        if (json_string(c->jp, b64, &b64_text, &b64_len) < 0 || !base64_valid(b64_text, b64_len))
                return call_error(c, JSONRPC_INVALID_PARAMS, NULL, "Param '%s' must be base64 text.", b64_name);
        *ret_owned = g_base64_decode(b64_text, &n);
        *ret = *ret_owned;
        *ret_len = n;
        return 0;
}

/* Methods */

static int do_publish(Call *c, bool retain_always) {
        g_autofree guchar *owned = NULL;
        const char *topic;
        const void *payload;
        size_t len;
        bool retain = retain_always;
        uint64_t seq;
        int r;

        if ((r = param_string(c, "topic", true, NULL, &topic, NULL)) < 0 ||
            (r = param_bytes(c, "payload", &payload, &len, &owned)) < 0 ||
            (!retain_always && (r = param_bool(c, "retain", &retain)) < 0))
                return r;
        r = hub_publish(c->ctx->hub, c->ctx->client, topic, payload, len, retain, &seq);
        if (r < 0)
                return call_core_error(c, r, HUB_ARG_TOPIC, topic, len);
        g_string_append_printf(c->result, "{\"seq\":%" PRIu64 "}", seq);
        return 0;
}

static int m_publish(Call *c) {
        return do_publish(c, false);
}

static int m_publish_retained(Call *c) {
        return do_publish(c, true);
}

static int m_clear_retained(Call *c) {
        const char *pattern;
        unsigned n;
        int r;

        if ((r = param_string(c, "pattern", true, NULL, &pattern, NULL)) < 0)
                return r;
        r = hub_clear_retained(c->ctx->hub, pattern, &n);
        if (r < 0)
                return call_core_error(c, r, HUB_ARG_PATTERN, pattern, 0);
        g_string_append_printf(c->result, "{\"count\":%u}", n);
        return 0;
}

static int m_subscribe(Call *c) {
        const char *pattern;
        bool with_retained = false;
        uint64_t id;
        int r;

        if ((r = param_string(c, "pattern", true, NULL, &pattern, NULL)) < 0 ||
            (r = param_bool(c, "with_retained", &with_retained)) < 0)
                return r;
        r = hub_subscribe(c->ctx->hub, c->ctx->client, pattern, false, &id);
        if (r < 0)
                return call_core_error(c, r, HUB_ARG_PATTERN, pattern, 0);
        if (with_retained)
                c->replay_sub_id = id;
        g_string_append_printf(c->result, "{\"id\":%" PRIu64 "}", id);
        return 0;
}

static int unlisten(Call *c, int (*func)(Hub *, Client *, uint64_t), HubArg arg) {
        char what[32];
        uint64_t id;
        int r;

        if ((r = param_u64(c, "id", &id)) < 0)
                return r;
        r = func(c->ctx->hub, c->ctx->client, id);
        if (r < 0) {
                g_snprintf(what, sizeof what, "%" PRIu64, id);
                return call_core_error(c, r, arg, what, 0);
        }
        g_string_append(c->result, "null");
        return 0;
}

static int m_unsubscribe(Call *c) {
        return unlisten(c, hub_unsubscribe, HUB_ARG_SUBSCRIPTION);
}

static void append_entry(GString *s, const StoreEntry *e) {
        g_string_append(s, "{\"key\":");
        json_append_cstr(s, e->key);
        g_string_append_c(s, ',');
        json_append_bytes_member(s, "value", e->value, e->value_len);
        g_string_append_printf(s, ",\"revision\":%" PRIu64 "}", e->revision);
}

static int m_get(Call *c) {
        const char *key;
        StoreEntry e;
        int r;

        if ((r = param_string(c, "key", true, NULL, &key, NULL)) < 0)
                return r;
        r = hub_get(c->ctx->hub, key, &e);
        if (r < 0)
                return call_core_error(c, r, HUB_ARG_KEY, key, 0);
        append_entry(c->result, &e);
        return 0;
}

static int do_set(Call *c, bool check) {
        g_autofree guchar *owned = NULL;
        const char *key;
        const void *value;
        size_t len;
        uint64_t expected = 0, rev;
        int r;

        if ((r = param_string(c, "key", true, NULL, &key, NULL)) < 0 ||
            (r = param_bytes(c, "value", &value, &len, &owned)) < 0 ||
            (check && (r = param_u64(c, "expected_revision", &expected)) < 0))
                return r;
        if (check)
                r = hub_set_if(c->ctx->hub, c->ctx->client, key, value, len, expected, &rev);
        else
                r = hub_set(c->ctx->hub, c->ctx->client, key, value, len, &rev);
        if (r < 0)
                return call_core_error(c, r, HUB_ARG_KEY, key, len);
        g_string_append_printf(c->result, "{\"revision\":%" PRIu64 "}", rev);
        return 0;
}

static int m_set(Call *c) {
        return do_set(c, false);
}

static int m_set_if(Call *c) {
        return do_set(c, true);
}

static int m_delete(Call *c) {
        const char *key;
        bool existed;
        int r;

        if ((r = param_string(c, "key", true, NULL, &key, NULL)) < 0)
                return r;
        r = hub_delete(c->ctx->hub, c->ctx->client, key, &existed);
        if (r < 0)
                return call_core_error(c, r, HUB_ARG_KEY, key, 0);
        g_string_append_printf(c->result, "{\"existed\":%s}", existed ? "true" : "false");
        return 0;
}

static int m_list(Call *c) {
        g_autoptr(GArray) entries = NULL;
        const char *prefix;
        int r;

        if ((r = param_string(c, "prefix", false, "", &prefix, NULL)) < 0)
                return r;
        r = hub_list(c->ctx->hub, prefix, &entries);
        if (r < 0)
                return call_core_error(c, r, HUB_ARG_PREFIX, prefix, 0);
        g_string_append(c->result, "{\"entries\":[");
        for (guint i = 0; i < entries->len; i++) {
                if (i > 0)
                        g_string_append_c(c->result, ',');
                append_entry(c->result, &g_array_index(entries, StoreEntry, i));
        }
        g_string_append(c->result, "]}");
        return 0;
}

static int m_watch(Call *c) {
        const char *prefix;
        uint64_t id;
        int r;

        if ((r = param_string(c, "prefix", false, "", &prefix, NULL)) < 0)
                return r;
        r = hub_watch(c->ctx->hub, c->ctx->client, prefix, &id);
        if (r < 0)
                return call_core_error(c, r, HUB_ARG_PREFIX, prefix, 0);
        g_string_append_printf(c->result, "{\"id\":%" PRIu64 "}", id);
        return 0;
}

static int m_unwatch(Call *c) {
        return unlisten(c, hub_unwatch, HUB_ARG_WATCH);
}

static int m_hub_info(Call *c) {
        Hub *h = c->ctx->hub;
        g_autoptr(GHashTable) by_transport = hub_get_clients_by_transport(h);
        const HubCounters *n = hub_get_counters(h);
        const HubLimits *l = hub_get_limits(h);
        const JsonrpcStats *st = c->ctx->stats;
        GString *s = c->result;
        GHashTableIter it;
        gpointer k, v;
        bool first = true;

        g_string_append_printf(s, "{\"version\":\"%s\",\"start_time\":%" PRIu64 ",\"clients\":%u,"
                               "\"subscriptions\":%u,\"watches\":%u,\"topics\":%u,\"keys\":%u,\"queues\":%u,"
                               "\"pending_calls\":%u,\"calls\":%" PRIu64 ",\"late_replies\":%" PRIu64 ","
                               "\"messages_published\":%" PRIu64 ",\"messages_delivered\":%" PRIu64 ","
                               "\"messages_dropped\":%" PRIu64 ",\"store_changes\":%" PRIu64 ","
                               "\"clients_by_transport\":{",
                               PACKAGE_VERSION, hub_get_start_time(h), hub_get_n_clients(h),
                               hub_get_n_subscriptions(h), hub_get_n_watches(h), hub_get_n_retained(h),
                               hub_get_n_keys(h), hub_get_n_queues(h), hub_get_n_pending_calls(h), n->calls,
                               n->late_replies, n->published, n->delivered, n->dropped, n->store_changes);
        g_hash_table_iter_init(&it, by_transport);
        while (g_hash_table_iter_next(&it, &k, &v)) {
                g_string_append_printf(s, "%s\"%s\":%u", first ? "" : ",", (const char *) k,
                                       GPOINTER_TO_UINT(v));
                first = false;
        }
        g_string_append_printf(s, "},\"limits\":{\"max-topic-length\":%zu,\"max-topic-tokens\":%u,"
                               "\"max-payload\":%zu,\"max-key-length\":%zu,\"max-value\":%zu,"
                               "\"max-subscriptions\":%u,\"max-watches\":%u,\"max-retained\":%u,"
                               "\"max-keys\":%u,\"max-clients\":%u}",
                               l->max_topic_length, l->max_topic_tokens, l->max_payload, l->max_key_length,
                               l->max_value, l->max_subscriptions, l->max_watches, l->max_retained,
                               l->max_keys, l->max_clients);
        {
                g_autoptr(GArray) services = hub_list_services(h);

                g_string_append(s, ",\"services\":{");
                for (guint i = 0; i < services->len; i++) {
                        const ServiceInfo *si = &g_array_index(services, ServiceInfo, i);

                        if (i > 0)
                                g_string_append_c(s, ',');
                        json_append_cstr(s, si->name);
                        g_string_append_printf(s, ":%u", si->servers);
                }
                g_string_append_c(s, '}');
        }
        if (st)
                g_string_append_printf(s, ",\"jsonrpc\":{\"fifo_lines\":%" PRIu64 ",\"fifo_errors\":%" PRIu64
                                       ",\"frames_too_large\":%" PRIu64 ",\"slow_disconnects\":%" PRIu64 "}",
                                       st->fifo_lines, st->fifo_errors, st->frames_too_large,
                                       st->slow_disconnects);
        g_string_append_c(s, '}');
        return 0;
}

/* Queues; durations in milliseconds, as on D-Bus. */

#define MSEC(ms) ((uint64_t) (ms) * 1000)

static int param_u64_opt(Call *c, const char *name, uint64_t def, uint64_t *ret) {
        if (param_is_null(c, param(c, name))) {
                *ret = def;
                return 0;
        }
        return param_u64(c, name, ret);
}

static char *id_json(Call *c) {
        g_autoptr(GString) s = g_string_new(NULL);

        append_id(s, c->jp, c->id);
        return g_string_free(g_steal_pointer(&s), FALSE);
}

/* The request is answered later, by jsonrpc_append_answer() with @key's envelope. */
static int defer(Call *c, uint64_t key) {
        g_hash_table_insert(c->ctx->deferred, g_memdup2(&key, sizeof key), id_json(c));
        c->deferred = true;
        return 0;
}

static void append_job(GString *s, uint64_t id, const char *queue, const void *payload, size_t len,
                       unsigned attempts) {
        g_string_append_printf(s, "{\"id\":%" PRIu64 ",\"queue\":", id);
        json_append_cstr(s, queue);
        g_string_append_c(s, ',');
        json_append_bytes_member(s, "payload", payload, len);
        g_string_append_printf(s, ",\"attempts\":%u}", attempts);
}

static int m_push(Call *c) {
        g_autofree guchar *owned = NULL;
        const char *queue;
        const void *payload;
        size_t len;
        uint64_t delay_ms, id;
        int r;

        if ((r = param_string(c, "queue", true, NULL, &queue, NULL)) < 0 ||
            (r = param_bytes(c, "payload", &payload, &len, &owned)) < 0 ||
            (r = param_u64_opt(c, "delay_ms", 0, &delay_ms)) < 0)
                return r;
        r = hub_push(c->ctx->hub, c->ctx->client, queue, payload, len, MSEC(MIN(delay_ms, UINT64_MAX / 1000)),
                     &id);
        if (r < 0)
                return call_core_error(c, r, HUB_ARG_QUEUE, queue, len);
        g_string_append_printf(c->result, "{\"id\":%" PRIu64 "}", id);
        return 0;
}

static int m_reserve(Call *c) {
        const char *queue;
        uint64_t timeout_ms, visibility_ms, wait_id;
        JobInfo job;
        int r;

        if ((r = param_string(c, "queue", true, NULL, &queue, NULL)) < 0 ||
            (r = param_u64_opt(c, "timeout_ms", 0, &timeout_ms)) < 0 ||
            (r = param_u64_opt(c, "visibility_ms", 0, &visibility_ms)) < 0)
                return r;
        if (!c->has_id || json_token(c->jp, c->id)->type == JSON_NULL)
                return call_error(c, JSONRPC_INVALID_REQUEST, NULL, "reserve needs an id: its answer is the job.");
        if (timeout_ms > UINT32_MAX || visibility_ms > UINT32_MAX)
                return call_error(c, JSONRPC_INVALID_PARAMS, NULL, "timeout_ms and visibility_ms are at most %u.",
                                  UINT32_MAX);
        /* Where nothing can answer later (FIFO, unit tests), reserve does not wait. */
        if (!c->ctx->deferred)
                timeout_ms = 0;

        r = hub_reserve(c->ctx->hub, c->ctx->client, queue, MSEC(timeout_ms), MSEC(visibility_ms), &job, &wait_id);
        if (r < 0)
                return call_core_error(c, r, HUB_ARG_QUEUE, queue, 0);
        if (r == 0)
                return defer(c, wait_id);
        append_job(c->result, job.id, job.queue, job.payload, job.len, job.attempts);
        return 0;
}

static int job_op(Call *c, int (*op)(Hub *, Client *, uint64_t)) {
        char what[32];
        uint64_t id;
        int r;

        if ((r = param_u64(c, "id", &id)) < 0)
                return r;
        r = op(c->ctx->hub, c->ctx->client, id);
        if (r < 0) {
                g_snprintf(what, sizeof what, "%" PRIu64, id);
                return call_core_error(c, r, HUB_ARG_JOB, what, 0);
        }
        g_string_append(c->result, "null");
        return 0;
}

static int m_ack(Call *c) {
        return job_op(c, hub_ack);
}

static int m_touch(Call *c) {
        return job_op(c, hub_touch);
}

static int m_nack(Call *c) {
        char what[32];
        uint64_t id, delay_ms;
        int r;

        if ((r = param_u64(c, "id", &id)) < 0 || (r = param_u64_opt(c, "delay_ms", 0, &delay_ms)) < 0)
                return r;
        r = hub_nack(c->ctx->hub, c->ctx->client, id, MSEC(MIN(delay_ms, UINT64_MAX / 1000)));
        if (r < 0) {
                g_snprintf(what, sizeof what, "%" PRIu64, id);
                return call_core_error(c, r, r == -ERANGE ? HUB_ARG_QUEUE : HUB_ARG_JOB, what, 0);
        }
        g_string_append(c->result, "null");
        return 0;
}

static int queue_count_op(Call *c, bool kick) {
        const char *queue;
        uint64_t max = 0;
        unsigned n;
        int r;

        if ((r = param_string(c, "queue", true, NULL, &queue, NULL)) < 0 ||
            (kick && (r = param_u64_opt(c, "max", 0, &max)) < 0))
                return r;
        r = kick ? hub_kick(c->ctx->hub, queue, (unsigned) MIN(max, UINT_MAX), &n) :
                   hub_purge(c->ctx->hub, queue, &n);
        if (r < 0)
                return call_core_error(c, r, HUB_ARG_QUEUE, queue, 0);
        g_string_append_printf(c->result, "{\"count\":%u}", n);
        return 0;
}

static int m_kick(Call *c) {
        return queue_count_op(c, true);
}

static int m_purge(Call *c) {
        return queue_count_op(c, false);
}

static int m_peek(Call *c) {
        const char *queue;
        JobInfo job;
        int r;

        if ((r = param_string(c, "queue", true, NULL, &queue, NULL)) < 0)
                return r;
        r = hub_peek(c->ctx->hub, queue, &job);
        if (r < 0)
                return call_core_error(c, r, HUB_ARG_QUEUE, queue, 0);
        append_job(c->result, job.id, job.queue, job.payload, job.len, job.attempts);
        return 0;
}

static int m_list_queues(Call *c) {
        g_autoptr(GArray) queues = hub_list_queues(c->ctx->hub);

        g_string_append(c->result, "{\"queues\":[");
        for (guint i = 0; i < queues->len; i++) {
                const QueueInfo *q = &g_array_index(queues, QueueInfo, i);

                g_string_append(c->result, i ? ",{\"name\":" : "{\"name\":");
                json_append_cstr(c->result, q->name);
                g_string_append_printf(c->result, ",\"ready\":%u,\"reserved\":%u,\"delayed\":%u,\"dead\":%u,"
                                       "\"waiting\":%u}", q->ready, q->reserved, q->delayed, q->dead, q->waiting);
        }
        g_string_append(c->result, "]}");
        return 0;
}

/* Request/reply */

static int m_call(Call *c) {
        g_autofree guchar *owned = NULL;
        const char *name;
        const void *payload;
        size_t len;
        uint64_t timeout_ms, id;
        int r;

        if ((r = param_string(c, "name", true, NULL, &name, NULL)) < 0 ||
            (r = param_bytes(c, "payload", &payload, &len, &owned)) < 0 ||
            (r = param_u64_opt(c, "timeout_ms", 0, &timeout_ms)) < 0)
                return r;
        if (!c->has_id || json_token(c->jp, c->id)->type == JSON_NULL)
                return call_error(c, JSONRPC_INVALID_REQUEST, NULL, "call needs an id: its answer is the reply.");
        if (!c->ctx->deferred)
                return call_error(c, JSONRPC_INVALID_REQUEST, NULL, "call is not available here.");

        r = hub_call(c->ctx->hub, c->ctx->client, name, payload, len, MSEC(MIN(timeout_ms, UINT64_MAX / 1000)),
                     &id);
        if (r < 0)
                return call_core_error(c, r, HUB_ARG_SERVICE, name, len);
        /* A server that could not take it answered already (ServerGone); otherwise wait. */
        if (hub_call_pending(c->ctx->hub, id))
                return defer(c, id);
        return call_error(c, -32013, "ServerGone", "The server could not take the request.");
}

static int serve_op(Call *c, bool serve) {
        const char *name;
        int r;

        if ((r = param_string(c, "name", true, NULL, &name, NULL)) < 0)
                return r;
        r = serve ? hub_serve(c->ctx->hub, c->ctx->client, name) : hub_unserve(c->ctx->hub, c->ctx->client, name);
        if (r < 0)
                return call_core_error(c, r, HUB_ARG_SERVICE, name, 0);
        g_string_append(c->result, "null");
        return 0;
}

static int m_serve(Call *c) {
        return serve_op(c, true);
}

static int m_unserve(Call *c) {
        return serve_op(c, false);
}

static int m_reply(Call *c) {
        g_autofree guchar *owned = NULL;
        const void *payload;
        size_t len;
        char what[32];
        uint64_t id;
        int r;

        if ((r = param_u64(c, "id", &id)) < 0 || (r = param_bytes(c, "payload", &payload, &len, &owned)) < 0)
                return r;
        r = hub_reply(c->ctx->hub, c->ctx->client, id, payload, len);
        if (r < 0) {
                g_snprintf(what, sizeof what, "%" PRIu64, id);
                return call_core_error(c, r, HUB_ARG_CALL, what, len);
        }
        g_string_append(c->result, "null");
        return 0;
}

static int m_reply_error(Call *c) {
        int code_tok = param(c, "code");
        const char *message, *name;
        char what[32];
        uint64_t id;
        int64_t code = 0;
        int r;

        if ((r = param_u64(c, "id", &id)) < 0 || (r = param_string(c, "message", true, NULL, &message, NULL)) < 0 ||
            (r = param_string(c, "name", false, NULL, &name, NULL)) < 0)
                return r;
        if (code_tok >= 0) {
                if (json_int64(c->jp, code_tok, &code) < 0 || code < INT32_MIN || code > INT32_MAX || code == 0)
                        return call_error(c, JSONRPC_INVALID_PARAMS, NULL,
                                          "Param 'code' must be a non-zero 32-bit integer.");
        }
        r = hub_reply_error(c->ctx->hub, c->ctx->client, id, name, (int) code, message);
        if (r < 0) {
                g_snprintf(what, sizeof what, "%" PRIu64, id);
                return call_core_error(c, r, HUB_ARG_CALL, what, 0);
        }
        g_string_append(c->result, "null");
        return 0;
}

static int m_rpc_describe(Call *c);

#define PARAMS(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define NO_PARAMS   ((const char *const[]) { NULL })

static const Method methods[] = {
        { "publish", PARAMS("topic", "payload", "retain"), "Publish PublishBinary", true, m_publish },
        { "publish_retained", PARAMS("topic", "payload"), "PublishRetained", true, m_publish_retained },
        { "clear_retained", PARAMS("pattern"), "ClearRetained", false, m_clear_retained },
        { "subscribe", PARAMS("pattern", "with_retained"), "Subscribe", false, m_subscribe },
        { "unsubscribe", PARAMS("id"), "Unsubscribe", false, m_unsubscribe },
        { "get", PARAMS("key"), "Get GetBinary", false, m_get },
        { "set", PARAMS("key", "value"), "Set SetBinary", true, m_set },
        { "set_if", PARAMS("key", "value", "expected_revision"), "SetIf", false, m_set_if },
        { "delete", PARAMS("key"), "Delete", true, m_delete },
        { "list", PARAMS("prefix"), "List", false, m_list },
        { "watch", PARAMS("prefix"), "Watch", false, m_watch },
        { "unwatch", PARAMS("id"), "Unwatch", false, m_unwatch },
        { "push", PARAMS("queue", "payload", "delay_ms"), "Push PushBinary", false, m_push },
        { "reserve", PARAMS("queue", "timeout_ms", "visibility_ms"), "Reserve", false, m_reserve },
        { "ack", PARAMS("id"), "Ack", false, m_ack },
        { "nack", PARAMS("id", "delay_ms"), "Nack", false, m_nack },
        { "touch", PARAMS("id"), "Touch", false, m_touch },
        { "kick", PARAMS("queue", "max"), "Kick", false, m_kick },
        { "peek", PARAMS("queue"), "Peek", false, m_peek },
        { "purge", PARAMS("queue"), "Purge", false, m_purge },
        { "list_queues", NO_PARAMS, "ListQueues", false, m_list_queues },
        { "call", PARAMS("name", "payload", "timeout_ms"), "Call", false, m_call },
        { "serve", PARAMS("name"), "Serve", false, m_serve },
        { "unserve", PARAMS("name"), "Unserve", false, m_unserve },
        { "reply", PARAMS("id", "payload"), "Reply", false, m_reply },
        { "reply_error", PARAMS("id", "code", "message", "name"), "ReplyError", false, m_reply_error },
        { "hub.info", NO_PARAMS, "GetInfo", false, m_hub_info },
        { "rpc.describe", NO_PARAMS, "Introspect", false, m_rpc_describe },
};

static int m_rpc_describe(Call *c) {
        GString *s = c->result;

        g_string_append(s, "{\"methods\":[");
        for (size_t i = 0; i < G_N_ELEMENTS(methods); i++) {
                const Method *m = &methods[i];
                g_auto(GStrv) twins = g_strsplit(m->dbus, " ", -1);

                g_string_append_printf(s, "%s{\"name\":\"%s\",\"params\":[", i ? "," : "", m->name);
                for (size_t j = 0; m->params[j]; j++)
                        g_string_append_printf(s, "%s\"%s\"", j ? "," : "", m->params[j]);
                g_string_append(s, "],\"dbus\":[");
                for (size_t j = 0; twins[j]; j++)
                        g_string_append_printf(s, "%s\"%s\"", j ? "," : "", twins[j]);
                g_string_append_printf(s, "],\"fifo\":%s}", m->fifo ? "true" : "false");
        }
        g_string_append(s, "],\"notifications\":[\"message\",\"key_changed\",\"gap\"]}");
        return 0;
}

static const Method *method_find(const char *name) {
        for (size_t i = 0; i < G_N_ELEMENTS(methods); i++)
                if (strcmp(methods[i].name, name) == 0)
                        return &methods[i];
        return NULL;
}

/*
 * One request object: validate its shape, run its method, append its
 * response to @batch (NULL: the request is not in a batch) or to ctx->out.
 * Return: whether a response was written (notifications get none).
 */
static bool handle_request(JsonrpcContext *ctx, JsonParser *jp, int req, GString *resp, GArray *replays) {
        g_autoptr(GString) result = g_string_new(NULL);
        Call call = { .ctx = ctx, .jp = jp, .result = result, .params = -1, .id = -1 };
        int version, method, params;
        JsonType id_type;
        const char *name, *v;
        size_t n;

        if (json_token(jp, req)->type != JSON_OBJECT) {
                append_plain_error(resp, JSONRPC_INVALID_REQUEST, NULL, "Invalid request: expected a JSON object.");
                g_free(ctx->error);
                ctx->error = g_strdup("not a JSON object");
                return true;
        }

        call.id = json_object_find(jp, req, "id");
        call.has_id = call.id >= 0;
        id_type = call.has_id ? json_token(jp, call.id)->type : JSON_NULL;
        if (id_type != JSON_NULL && id_type != JSON_STRING && id_type != JSON_NUMBER) {
                append_plain_error(resp, JSONRPC_INVALID_REQUEST, NULL,
                                   "Invalid request: 'id' must be a string, a number or null.");
                g_free(ctx->error);
                ctx->error = g_strdup("'id' is not a string, a number or null");
                return true;
        }

        version = json_object_find(jp, req, "jsonrpc");
        method = json_object_find(jp, req, "method");
        params = json_object_find(jp, req, "params");
        if (version < 0 || json_string(jp, version, &v, &n) < 0 || n != 3 || memcmp(v, "2.0", 3) != 0)
                call_error(&call, JSONRPC_INVALID_REQUEST, NULL, "Invalid request: 'jsonrpc' must be \"2.0\".");
        else if (method < 0 || json_string(jp, method, &name, &n) < 0 || memchr(name, '\0', n))
                call_error(&call, JSONRPC_INVALID_REQUEST, NULL, "Invalid request: 'method' must be a string.");
        else if (params >= 0 && json_token(jp, params)->type != JSON_OBJECT &&
                 json_token(jp, params)->type != JSON_ARRAY)
                call_error(&call, JSONRPC_INVALID_REQUEST, NULL,
                           "Invalid request: 'params' must be an object or an array.");
        else {
                call.method = method_find(name);
                call.params = params;
                if (!call.method || (ctx->fifo && !call.method->fifo))
                        call_error(&call, JSONRPC_METHOD_NOT_FOUND, NULL,
                                   ctx->fifo && call.method ?
                                   "Method '%s' cannot be used through the FIFO: it takes publish, "
                                   "publish_retained, set and delete." :
                                   "Method '%s' not found; rpc.describe lists the methods.", name);
                else
                        (void) call.method->handler(&call);
        }

        if (call.code != 0) {
                g_free(ctx->error);
                ctx->error = g_strdup(call.message);
        }
        if (call.replay_sub_id != 0)
                g_array_append_val(replays, call.replay_sub_id);

        /* A request whose shape is invalid is answered even without an id (id null). */
        if ((!call.has_id && call.code != JSONRPC_INVALID_REQUEST) || call.deferred) {
                g_free(call.message);
                return false;
        }
        append_response(resp, call.id, &call);
        g_free(call.message);
        return true;
}

/**
 * jsonrpc_dispatch() - run one frame's request, notification or batch
 *
 * Responses go to ctx->out (when not NULL) as one frame; then the retained
 * values that subscribes asked for are delivered through the client's sink.
 *
 * Return: 0 when everything in the frame succeeded, -EINVAL when it held
 * any error (ctx->error says which, for the FIFO's log).
 */
int jsonrpc_dispatch(JsonrpcContext *ctx, const char *body, size_t len) {
        g_autoptr(JsonParser) own = ctx->parser ? NULL : json_parser_new();
        JsonParser *jp = ctx->parser ?: own;
        g_autoptr(GString) resp = g_string_new(NULL);
        g_autoptr(GArray) replays = g_array_new(FALSE, FALSE, sizeof(uint64_t));
        const char *why = NULL;
        bool answered = false;

        g_clear_pointer(&ctx->error, g_free);
        if (len == 0)
                why = "empty frame";
        else if (!g_utf8_validate_len(body, len, NULL))
                why = "not valid UTF-8";
        else
                (void) json_parse(jp, body, len, JSONRPC_MAX_DEPTH, &why);
        if (why) {
                ctx->error = g_strdup_printf("Parse error: %s.", why);
                if (ctx->out) {
                        append_plain_error(resp, JSONRPC_PARSE_ERROR, NULL, ctx->error);
                        out_append_gstring(ctx->out, resp);
                }
                return -EINVAL;
        }

        if (json_token(jp, 0)->type == JSON_ARRAY) {
                uint32_t n = json_token(jp, 0)->count;

                if (n == 0) {
                        ctx->error = g_strdup("Invalid request: an empty batch.");
                        append_plain_error(resp, JSONRPC_INVALID_REQUEST, NULL, ctx->error);
                        answered = true;
                } else {
                        int el = 1;

                        g_string_append_c(resp, '[');
                        for (uint32_t i = 0; i < n; i++) {
                                size_t before = resp->len;

                                if (answered)
                                        g_string_append_c(resp, ',');
                                if (handle_request(ctx, jp, el, resp, replays))
                                        answered = true;
                                else
                                        g_string_truncate(resp, before);
                                el = (int) json_token(jp, el)->skip;
                        }
                        g_string_append_c(resp, ']');
                }
        } else
                answered = handle_request(ctx, jp, 0, resp, replays);

        /* A batch of notifications only gets no response at all. */
        if (answered && ctx->out)
                out_append_gstring(ctx->out, resp);

        for (guint i = 0; i < replays->len; i++)
                (void) hub_replay_retained(ctx->hub, ctx->client, g_array_index(replays, uint64_t, i));

        return ctx->error ? -EINVAL : 0;
}

/**
 * jsonrpc_append_answer() - append the late response to the request whose
 * id is @id_json, from @e: an ENVELOPE_JOB (a reserve that waited) or an
 * ENVELOPE_REPLY (a call)
 */
void jsonrpc_append_answer(GByteArray *out, const char *id_json, const Envelope *e) {
        g_autoptr(GString) s = g_string_sized_new(128 + e->payload_len);

        g_string_append_printf(s, "{\"jsonrpc\":\"2.0\",\"id\":%s,", id_json);
        if (e->kind == ENVELOPE_JOB && e->seq == 0) {
                g_autofree char *msg = g_strdup_printf("No job became ready in queue '%s' in time.", e->topic);
                append_error_object(s, -32008, "NoJob", msg);
        } else if (e->kind == ENVELOPE_JOB) {
                g_string_append(s, "\"result\":");
                append_job(s, e->seq, e->topic, e->payload, e->payload_len, e->attempts);
        } else if (e->error_name) {
                /* The hub's own errors by code and prefixed name; a server's code and name pass through. */
                g_autofree char *hub_name = e->error_from_hub ? g_strconcat(SB_ERROR_PREFIX, e->error_name, NULL) : NULL;

                g_string_append_printf(s, "\"error\":{\"code\":%d,\"message\":",
                                       e->error_from_hub ? error_code_of(e->error_name) : e->error_code ?: -32014);
                json_append_cstr(s, e->error_message ?: "");
                g_string_append(s, ",\"data\":{\"name\":");
                json_append_cstr(s, hub_name ?: e->error_name);
                g_string_append(s, "}}");
        } else {
                g_string_append(s, "\"result\":{");
                json_append_bytes_member(s, "payload", e->payload, e->payload_len);
                g_string_append_c(s, '}');
        }
        g_string_append_c(s, '}');
        out_append_gstring(out, s);
}
