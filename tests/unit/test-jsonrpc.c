/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-jsonrpc.c: the JSON-RPC 2.0 codec and method table
 * (jsonrpc/jsonrpc-dispatch.h) against docs/protocol.md, through a
 * FakeClient: each method's result shape, params by name and by position,
 * payload vs payload_base64, notifications, batches, id echo, the error
 * codes and data.name of every core error, the FIFO's method subset, the
 * order of a subscribe response and its retained values, parse errors
 * (trailing text, invalid UTF-8, nesting), and rpc.describe against the
 * method table in docs/protocol.md. Every response frame is parsed with
 * json-c in strict mode with UTF-8 validation.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <glib.h>
#include <json-c/json.h>

#include "build-config.h"
#include "fake-client.h"
#include "proto/frame.h"
#include "proto/json-write.h"
#include "proto/json.h"
#include "jsonrpc/jsonrpc-dispatch.h"

/* A request with id 1; PARAMS is JSON text. */
#define REQ(method, params) "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" method "\",\"params\":" params "}"
#define REQ0(method) "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" method "\"}"

static Hub *hub;
static FakeClient *alice;
static GByteArray *out;
static JsonrpcStats stats;
static JsonrpcContext ctx;
static json_object *last;               /* the last response, parsed; owned */
static int last_r;                      /* what jsonrpc_dispatch() returned */

static void setup_with(const HubLimits *limits) {
        hub = test_hub_new(limits);
        alice = fake_client_new(hub, 1000);
        out = g_byte_array_new();
        stats = (JsonrpcStats) { .fifo_lines = 7, .fifo_errors = 2 };
        ctx = (JsonrpcContext) {
                .hub = hub,
                .client = &alice->client,
                .out = out,
        };
        hub_add_info(hub, jsonrpc_stats_info, &stats);
}

static void setup(void) {
        setup_with(NULL);
}

static void setup_small(void) {
        HubLimits l;

        hub_limits_default(&l);
        l.max_payload = 8;
        l.max_value = 8;
        l.max_subscriptions = 1;
        l.max_keys = 1;
        setup_with(&l);
}

static void teardown(void) {
        g_clear_pointer(&last, json_object_put);
        g_clear_pointer(&ctx.error, g_free);
        g_clear_pointer(&alice, fake_client_free);
        g_clear_pointer(&hub, hub_free);
        g_clear_pointer(&out, g_byte_array_unref);
}

/* JSON helpers */

static json_object *parse_strict(const char *text, size_t len) {
        json_tokener *tok = json_tokener_new();
        json_object *o;

        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, text, (int) len);
        ck_assert_msg(json_tokener_get_error(tok) == json_tokener_success &&
                      (size_t) json_tokener_get_parse_end(tok) == len,
                      "invalid JSON from the hub (%s): %.*s",
                      json_tokener_error_desc(json_tokener_get_error(tok)), (int) len, text);
        json_tokener_free(tok);
        return o;
}

static json_object *member(json_object *o, const char *key) {
        json_object *v = NULL;

        ck_assert_msg(json_object_is_type(o, json_type_object), "not an object: %s",
                      json_object_to_json_string(o));
        ck_assert_msg(json_object_object_get_ex(o, key, &v), "no '%s' in %s", key, json_object_to_json_string(o));
        return v;
}

static bool has_member(json_object *o, const char *key) {
        return json_object_object_get_ex(o, key, NULL);
}

static int64_t member_int(json_object *o, const char *key) {
        json_object *v = member(o, key);

        ck_assert_msg(json_object_is_type(v, json_type_int), "'%s' is not an integer in %s", key,
                      json_object_to_json_string(o));
        return json_object_get_int64(v);
}

static const char *member_str(json_object *o, const char *key) {
        json_object *v = member(o, key);

        ck_assert_msg(json_object_is_type(v, json_type_string), "'%s' is not a string in %s", key,
                      json_object_to_json_string(o));
        return json_object_get_string(v);
}

static bool member_bool(json_object *o, const char *key) {
        json_object *v = member(o, key);

        ck_assert(json_object_is_type(v, json_type_boolean));
        return json_object_get_boolean(v);
}

/* Each response object: "jsonrpc":"2.0", an id, exactly one of result and error. */
static void check_response_shape(json_object *r) {
        ck_assert_str_eq(member_str(r, "jsonrpc"), "2.0");
        ck_assert(has_member(r, "id"));
        ck_assert_msg(has_member(r, "result") != has_member(r, "error"), "result xor error: %s",
                      json_object_to_json_string(r));
}

/* Dispatch */

/*
 * Dispatch @len bytes of @text as one frame; return the single response
 * frame, parsed (valid until the next call), or NULL when there is none.
 */
static json_object *call_len(const char *text, size_t len) {
        FrameReader r;
        const char *body;
        size_t blen;

        g_clear_pointer(&last, json_object_put);
        g_byte_array_set_size(out, 0);
        last_r = jsonrpc_dispatch(&ctx, text, len);
        ck_assert(last_r == 0 || last_r == -EINVAL);
        ck_assert((last_r < 0) == (ctx.error != NULL));

        frame_reader_init(&r, G_MAXUINT32);
        frame_reader_feed(&r, out->data, out->len);
        if (frame_reader_next(&r, &body, &blen) == 1) {
                last = parse_strict(body, blen);
                /* One frame in, at most one response frame out. */
                ck_assert_uint_eq(frame_reader_pending(&r), 0);
        }
        ck_assert_uint_eq(frame_reader_pending(&r), 0);
        frame_reader_deinit(&r);

        if (last && json_object_is_type(last, json_type_array))
                for (size_t i = 0; i < json_object_array_length(last); i++)
                        check_response_shape(json_object_array_get_idx(last, i));
        else if (last)
                check_response_shape(last);
        return last;
}

static json_object *call(const char *text) {
        return call_len(text, strlen(text));
}

/* A request that must succeed: its result. */
static json_object *ok(const char *text) {
        json_object *r = call(text);

        ck_assert_msg(r, "no response to %s", text);
        ck_assert_msg(!has_member(r, "error"), "%s failed: %s", text, json_object_to_json_string(r));
        ck_assert_int_eq(last_r, 0);
        return member(r, "result");
}

/* @r is an error response with @code, and data.name for @name (NULL: no data). */
static void assert_error(json_object *r, int code, const char *name) {
        json_object *e, *data;

        ck_assert_ptr_nonnull(r);
        ck_assert_msg(has_member(r, "error"), "expected error %d, got %s", code, json_object_to_json_string(r));
        e = member(r, "error");
        ck_assert_msg(member_int(e, "code") == code, "expected code %d: %s", code, json_object_to_json_string(r));
        ck_assert_uint_gt(strlen(member_str(e, "message")), 0);
        if (name) {
                g_autofree char *full = g_strconcat("org.switchboard.Hub1.Error.", name, NULL);

                data = member(e, "data");
                ck_assert_str_eq(member_str(data, "name"), full);
        } else
                ck_assert_msg(!has_member(e, "data"), "unexpected data: %s", json_object_to_json_string(r));
}

static void assert_call_error(const char *text, int code, const char *name) {
        assert_error(call(text), code, name);
        ck_assert_int_eq(last_r, -EINVAL);
        ck_assert_ptr_nonnull(ctx.error);
}

static uint64_t subscribe(const char *pattern) {
        g_autofree char *req = g_strdup_printf("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"subscribe\","
                                               "\"params\":{\"pattern\":\"%s\"}}", pattern);

        return (uint64_t) member_int(ok(req), "id");
}

/* Results */

START_TEST(test_publish_result)
{
        json_object *res;
        int64_t seq;

        subscribe("a.>");
        res = ok(REQ("publish", "{\"topic\":\"a.b\",\"payload\":\"hi\"}"));
        ck_assert_int_eq(json_object_object_length(res), 1);
        seq = member_int(res, "seq");
        ck_assert_int_gt(seq, 0);

        ck_assert_uint_eq(alice->delivered->len, 1);
        ck_assert_str_eq(fake_client_get(alice, 0)->topic, "a.b");
        ck_assert(fake_envelope_payload_is(fake_client_get(alice, 0), "hi"));
        ck_assert_uint_eq(fake_client_get(alice, 0)->seq, (uint64_t) seq);
        ck_assert(!fake_client_get(alice, 0)->retained);
        /* The sender is the client that dispatched. */
        ck_assert(fake_client_get(alice, 0)->has_sender);
        ck_assert_uint_eq(fake_client_get(alice, 0)->sender_id, alice->client.info.id);

        /* seq grows */
        res = ok("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"publish\",\"params\":{\"topic\":\"a.b\",\"payload\":\"\"}}");
        ck_assert_int_gt(member_int(res, "seq"), seq);
}
END_TEST

START_TEST(test_publish_retained_and_clear)
{
        json_object *res;

        res = ok(REQ("publish_retained", "{\"topic\":\"r.a\",\"payload\":\"1\"}"));
        ck_assert_int_gt(member_int(res, "seq"), 0);
        ok(REQ("publish", "{\"topic\":\"r.b\",\"payload\":\"2\",\"retain\":true}"));
        ok(REQ("publish", "{\"topic\":\"r.c\",\"payload\":\"3\",\"retain\":false}"));
        ck_assert_uint_eq(hub_get_n_retained(hub), 2);

        res = ok(REQ("clear_retained", "{\"pattern\":\"r.>\"}"));
        ck_assert_int_eq(json_object_object_length(res), 1);
        ck_assert_int_eq(member_int(res, "count"), 2);
        ck_assert_uint_eq(hub_get_n_retained(hub), 0);
}
END_TEST

START_TEST(test_subscribe_unsubscribe_result)
{
        json_object *res;
        uint64_t id = subscribe("x.*");
        g_autofree char *req = NULL;

        ck_assert_uint_gt(id, 0);
        ck_assert_uint_eq(hub_get_n_subscriptions(hub), 1);
        req = g_strdup_printf(REQ("unsubscribe", "{\"id\":%" G_GUINT64_FORMAT "}"), id);
        res = ok(req);
        ck_assert(json_object_is_type(res, json_type_null));
        ck_assert_uint_eq(hub_get_n_subscriptions(hub), 0);
        assert_call_error(req, -32004, "NotFound");
}
END_TEST

START_TEST(test_store_results)
{
        json_object *res, *entries, *e;

        res = ok(REQ("set", "{\"key\":\"theme\",\"value\":\"dark\"}"));
        ck_assert_int_eq(json_object_object_length(res), 1);
        ck_assert_int_eq(member_int(res, "revision"), 1);

        res = ok(REQ("get", "{\"key\":\"theme\"}"));
        ck_assert_int_eq(json_object_object_length(res), 3);
        ck_assert_str_eq(member_str(res, "key"), "theme");
        ck_assert_str_eq(member_str(res, "value"), "dark");
        ck_assert_int_eq(member_int(res, "revision"), 1);

        res = ok(REQ("set_if", "{\"key\":\"theme\",\"value\":\"light\",\"expected_revision\":1}"));
        ck_assert_int_eq(member_int(res, "revision"), 2);
        /* Revisions are hub-wide: a new key gets the next one. */
        res = ok(REQ("set_if", "{\"key\":\"new\",\"value\":\"v\",\"expected_revision\":0}"));
        ck_assert_int_eq(member_int(res, "revision"), 3);

        res = ok(REQ("list", "{}"));
        entries = member(res, "entries");
        ck_assert(json_object_is_type(entries, json_type_array));
        ck_assert_uint_eq(json_object_array_length(entries), 2);
        for (size_t i = 0; i < 2; i++) {
                e = json_object_array_get_idx(entries, i);
                ck_assert_int_eq(json_object_object_length(e), 3);
                member_str(e, "key");
                member_str(e, "value");
                member_int(e, "revision");
        }
        res = ok(REQ("list", "{\"prefix\":\"th\"}"));
        entries = member(res, "entries");
        ck_assert_uint_eq(json_object_array_length(entries), 1);
        ck_assert_str_eq(member_str(json_object_array_get_idx(entries, 0), "value"), "light");

        res = ok(REQ("delete", "{\"key\":\"theme\"}"));
        ck_assert_int_eq(json_object_object_length(res), 1);
        ck_assert(member_bool(res, "existed"));
        res = ok(REQ("delete", "{\"key\":\"theme\"}"));
        ck_assert(!member_bool(res, "existed"));
}
END_TEST

START_TEST(test_watch_unwatch_result)
{
        json_object *res;
        int64_t id;
        g_autofree char *req = NULL;

        res = ok(REQ("watch", "{\"prefix\":\"k\"}"));
        id = member_int(res, "id");
        ck_assert_int_gt(id, 0);
        ck_assert_uint_eq(hub_get_n_watches(hub), 1);

        ok(REQ("set", "{\"key\":\"k1\",\"value\":\"v\"}"));
        ck_assert_uint_eq(fake_client_count(alice, ENVELOPE_KEY_CHANGED), 1);

        req = g_strdup_printf(REQ("unwatch", "[%" G_GINT64_FORMAT "]"), id);
        res = ok(req);
        ck_assert(json_object_is_type(res, json_type_null));
        ck_assert_uint_eq(hub_get_n_watches(hub), 0);
        assert_call_error(req, -32004, "NotFound");

        /* prefix defaults to "": everything */
        ok(REQ0("watch"));
        ok(REQ("set", "{\"key\":\"zzz\",\"value\":\"v\"}"));
        ck_assert_uint_eq(fake_client_count(alice, ENVELOPE_KEY_CHANGED), 2);
}
END_TEST

START_TEST(test_hub_info_result)
{
        static const char *const keys[] = {
                "version", "start_time", "clients", "subscriptions", "watches", "topics", "keys",
                "messages_published", "messages_delivered", "messages_dropped", "store_changes",
        };
        json_object *res, *limits, *j, *by;

        subscribe(">");
        res = ok(REQ0("hub.info"));
        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
                ck_assert(has_member(res, keys[i]));
        ck_assert_str_eq(member_str(res, "version"), PACKAGE_VERSION);
        ck_assert_int_eq(member_int(res, "start_time"), 1700000000000000LL);
        ck_assert_int_eq(member_int(res, "clients"), 1);
        ck_assert_int_eq(member_int(res, "subscriptions"), 1);
        by = member(res, "clients_by_transport");
        ck_assert_int_eq(member_int(by, "fake"), 1);
        limits = member(res, "limits");
        ck_assert_int_eq(member_int(limits, "max-topic-length"), (int64_t) hub_get_limits(hub)->max_topic_length);
        ck_assert_int_eq(member_int(limits, "max-payload"), (int64_t) hub_get_limits(hub)->max_payload);
        ck_assert_int_eq(member_int(limits, "max-clients"), (int64_t) hub_get_limits(hub)->max_clients);
        j = member(res, "jsonrpc");
        ck_assert_int_eq(member_int(j, "fifo_lines"), 7);
        ck_assert_int_eq(member_int(j, "fifo_errors"), 2);
        member_int(j, "frames_too_large");
        member_int(j, "slow_disconnects");

        /* Without the face's stats there is no "jsonrpc" member. */
        hub_remove_info(hub, jsonrpc_stats_info, &stats);
        res = ok(REQ("hub.info", "{}"));
        ck_assert(!has_member(res, "jsonrpc"));
}
END_TEST

/* Params */

START_TEST(test_positional_params)
{
        json_object *res;

        subscribe(">");
        /* topic, payload, retain */
        ok(REQ("publish", "[\"p.a\",\"one\",true]"));
        ck_assert_uint_eq(hub_get_n_retained(hub), 1);
        /* trailing optional params left out */
        ok(REQ("publish", "[\"p.b\",\"two\"]"));
        ck_assert_uint_eq(hub_get_n_retained(hub), 1);
        ck_assert_uint_eq(alice->delivered->len, 2);
        ck_assert(fake_envelope_payload_is(fake_client_get(alice, 1), "two"));

        ok(REQ("set", "[\"k\",\"v\"]"));
        res = ok(REQ("set_if", "[\"k\",\"w\",1]"));
        ck_assert_int_eq(member_int(res, "revision"), 2);
        res = ok(REQ("get", "[\"k\"]"));
        ck_assert_str_eq(member_str(res, "value"), "w");
        res = ok(REQ("list", "[\"k\"]"));
        ck_assert_uint_eq(json_object_array_length(member(res, "entries")), 1);
        res = ok(REQ("delete", "[\"k\"]"));
        ck_assert(member_bool(res, "existed"));
        ok(REQ("clear_retained", "[\"p.>\"]"));
        ck_assert_uint_eq(hub_get_n_retained(hub), 0);
        /* pattern, with_retained */
        ok(REQ("subscribe", "[\"q.*\",false]"));
        ck_assert_uint_eq(hub_get_n_subscriptions(hub), 2);
}
END_TEST

START_TEST(test_named_equals_positional)
{
        json_object *a, *b;

        ok(REQ("set", "{\"key\":\"n\",\"value\":\"same\"}"));
        a = json_object_get(ok(REQ("get", "{\"key\":\"n\"}")));
        b = ok(REQ("get", "[\"n\"]"));
        ck_assert(json_object_equal(a, b));
        json_object_put(a);
}
END_TEST

START_TEST(test_param_errors)
{
        /* missing */
        assert_call_error(REQ0("get"), -32602, NULL);
        assert_call_error(REQ("get", "[]"), -32602, NULL);
        ck_assert_ptr_nonnull(strstr(ctx.error, "key"));        /* names the param */
        assert_call_error(REQ("unsubscribe", "{}"), -32602, NULL);
        /* wrong types */
        assert_call_error(REQ("get", "{\"key\":1}"), -32602, NULL);
        assert_call_error(REQ("publish", "[\"a\",\"x\",\"yes\"]"),
                          -32602, NULL);
        assert_call_error(REQ("unsubscribe", "[-1]"), -32602, NULL);
        assert_call_error(REQ("unsubscribe", "[1.5]"), -32602, NULL);
        assert_call_error(REQ("unsubscribe", "[\"1\"]"), -32602, NULL);
        assert_call_error(REQ("set_if", "[\"k\",\"v\"]"), -32602, NULL);
        /* NUL inside a name-like string */
        assert_call_error(REQ("get", "[\"a\\u0000b\"]"), -32602, NULL);
        /* params neither object nor array */
        assert_call_error(REQ("get", "\"k\""), -32600, NULL);
        /* A huge id is a NotFound, not a crash or a wrap to a small id. */
        assert_call_error(REQ("unwatch", "[18446744073709551615]"),
                          -32004, "NotFound");
}
END_TEST

/* Payloads */

START_TEST(test_payload_base64)
{
        static const guint8 bin[] = { 0x00, 0xff, 0x10 };

        subscribe("b.*");
        ok(REQ("publish", "{\"topic\":\"b.x\",\"payload_base64\":\"AP8Q\"}"));
        ck_assert_uint_eq(alice->delivered->len, 1);
        ck_assert_uint_eq(g_bytes_get_size(fake_client_get(alice, 0)->payload), 3);
        ck_assert_mem_eq(g_bytes_get_data(fake_client_get(alice, 0)->payload, NULL), bin, 3);

        /* Empty base64 is an empty payload. */
        ok(REQ("publish", "{\"topic\":\"b.x\",\"payload_base64\":\"\"}"));
        ck_assert(fake_envelope_payload_is(fake_client_get(alice, 1), ""));
}
END_TEST

START_TEST(test_payload_both_neither_invalid)
{
        /* both */
        assert_call_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"publish\",\"params\":"
                          "{\"topic\":\"a\",\"payload\":\"x\",\"payload_base64\":\"eA==\"}}", -32602, NULL);
        ck_assert_ptr_nonnull(strstr(ctx.error, "payload_base64"));
        /* neither */
        assert_call_error(REQ("publish", "{\"topic\":\"a\"}"),
                          -32602, NULL);
        assert_call_error(REQ("set", "{\"key\":\"a\"}"),
                          -32602, NULL);
        /* invalid base64: bad length, bad characters, padding in the middle, too much padding, not a string */
        assert_call_error(REQ("publish", "{\"topic\":\"a\",\"payload_base64\":\"eA=\"}"),
                          -32602, NULL);
        assert_call_error(REQ("publish", "{\"topic\":\"a\",\"payload_base64\":\"e!==\"}"),
                          -32602, NULL);
        assert_call_error(REQ("publish", "{\"topic\":\"a\",\"payload_base64\":\"e=A=\"}"),
                          -32602, NULL);
        assert_call_error(REQ("publish", "{\"topic\":\"a\",\"payload_base64\":\"e===\"}"),
                          -32602, NULL);
        assert_call_error(REQ("set", "{\"key\":\"a\",\"value_base64\":12}"),
                          -32602, NULL);
        ck_assert_uint_eq(hub_get_counters(hub)->published, 0);
        ck_assert_uint_eq(hub_get_n_keys(hub), 0);
}
END_TEST

START_TEST(test_value_binary_round_trip)
{
        json_object *res;

        ok(REQ("set", "{\"key\":\"bin\",\"value_base64\":\"3q2+7w==\"}"));
        res = ok(REQ("get", "{\"key\":\"bin\"}"));
        ck_assert(!has_member(res, "value"));
        ck_assert_str_eq(member_str(res, "value_base64"), "3q2+7w==");

        /* Bytes that are text come back as text, however they were sent. */
        ok(REQ("set", "{\"key\":\"txt\",\"value_base64\":\"aGk=\"}"));
        res = ok(REQ("get", "{\"key\":\"txt\"}"));
        ck_assert_str_eq(member_str(res, "value"), "hi");
        ck_assert(!has_member(res, "value_base64"));

        /* Text with escapes and non-ASCII survives as the same string. */
        ok(REQ("set", "{\"key\":\"esc\",\"value\":\"\\\"q\\\\\\n\\u00e4\\u2603\\u0001\"}"));
        res = ok(REQ("get", "{\"key\":\"esc\"}"));
        ck_assert_str_eq(member_str(res, "value"), "\"q\\\n\xc3\xa4\xe2\x98\x83\x01");
}
END_TEST

/* Notifications and batches */

START_TEST(test_notification_no_response)
{
        subscribe(">");
        ck_assert_ptr_null(call("{\"jsonrpc\":\"2.0\",\"method\":\"publish\",\"params\":[\"n.a\",\"x\"]}"));
        ck_assert_uint_eq(out->len, 0);
        ck_assert_int_eq(last_r, 0);
        ck_assert_uint_eq(alice->delivered->len, 1);    /* it did run */

        /* Errors in a notification get no response either; dispatch still says so. */
        ck_assert_ptr_null(call("{\"jsonrpc\":\"2.0\",\"method\":\"publish\",\"params\":[\"n..a\",\"x\"]}"));
        ck_assert_int_eq(last_r, -EINVAL);
        ck_assert_ptr_nonnull(ctx.error);
        ck_assert_ptr_null(call("{\"jsonrpc\":\"2.0\",\"method\":\"no.such\"}"));
        ck_assert_int_eq(last_r, -EINVAL);
        ck_assert_ptr_null(call("{\"jsonrpc\":\"2.0\",\"method\":\"get\",\"params\":{}}"));
        ck_assert_int_eq(last_r, -EINVAL);
}
END_TEST

START_TEST(test_invalid_request_shape)
{
        json_object *r;

        /* A request whose shape is invalid is answered, with id null when it has none. */
        r = call("{\"jsonrpc\":\"1.0\",\"method\":\"hub.info\"}");
        assert_error(r, -32600, NULL);
        ck_assert(json_object_is_type(member(r, "id"), json_type_null));
        assert_call_error("{\"jsonrpc\":\"2.0\",\"id\":1}", -32600, NULL);
        assert_call_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", -32600, NULL);
        assert_call_error("{\"id\":1,\"method\":\"hub.info\"}", -32600, NULL);
        assert_call_error("\"hub.info\"", -32600, NULL);
        assert_call_error("42", -32600, NULL);
        r = call("{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"hub.info\"}");
        assert_error(r, -32600, NULL);
        ck_assert(json_object_is_type(member(r, "id"), json_type_null));
        assert_call_error("{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"hub.info\"}", -32600, NULL);
        assert_call_error("{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"hub.info\"}", -32600, NULL);
        assert_call_error(REQ0("no.such"), -32601, NULL);
}
END_TEST

START_TEST(test_batch)
{
        json_object *r, *e;

        r = call("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"set\",\"params\":[\"a\",\"1\"]},"
                 "{\"jsonrpc\":\"2.0\",\"method\":\"set\",\"params\":[\"b\",\"2\"]},"
                 "{\"jsonrpc\":\"2.0\",\"id\":\"g\",\"method\":\"get\",\"params\":[\"b\"]},"
                 "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"no.such\"},"
                 "7]");
        ck_assert_ptr_nonnull(r);
        ck_assert(json_object_is_type(r, json_type_array));
        /* the notification gets no entry; the others in order */
        ck_assert_uint_eq(json_object_array_length(r), 4);
        e = json_object_array_get_idx(r, 0);
        ck_assert_int_eq(member_int(e, "id"), 1);
        ck_assert_int_eq(member_int(member(e, "result"), "revision"), 1);
        e = json_object_array_get_idx(r, 1);
        ck_assert_str_eq(member_str(e, "id"), "g");
        ck_assert_str_eq(member_str(member(e, "result"), "value"), "2");
        e = json_object_array_get_idx(r, 2);
        assert_error(e, -32601, NULL);
        ck_assert_int_eq(member_int(e, "id"), 3);
        e = json_object_array_get_idx(r, 3);
        assert_error(e, -32600, NULL);
        ck_assert(json_object_is_type(member(e, "id"), json_type_null));
        ck_assert_int_eq(last_r, -EINVAL);
}
END_TEST

START_TEST(test_batch_empty)
{
        json_object *r = call("[]");

        /* One error object, not an array. */
        ck_assert_ptr_nonnull(r);
        ck_assert(json_object_is_type(r, json_type_object));
        assert_error(r, -32600, NULL);
        ck_assert(json_object_is_type(member(r, "id"), json_type_null));
        ck_assert_int_eq(last_r, -EINVAL);

        r = call(" [ ] ");
        assert_error(r, -32600, NULL);
}
END_TEST

START_TEST(test_batch_all_notifications)
{
        ck_assert_ptr_null(call("[{\"jsonrpc\":\"2.0\",\"method\":\"set\",\"params\":[\"a\",\"1\"]},"
                                "{\"jsonrpc\":\"2.0\",\"method\":\"set\",\"params\":[\"b\",\"2\"]}]"));
        ck_assert_uint_eq(out->len, 0);
        ck_assert_int_eq(last_r, 0);
        ck_assert_uint_eq(hub_get_n_keys(hub), 2);
}
END_TEST

START_TEST(test_batch_single)
{
        json_object *r = call("[{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"hub.info\"}]");

        ck_assert(json_object_is_type(r, json_type_array));
        ck_assert_uint_eq(json_object_array_length(r), 1);
        ck_assert_int_eq(member_int(json_object_array_get_idx(r, 0), "id"), 9);
}
END_TEST

/* ids */

START_TEST(test_id_echo)
{
        json_object *r;

        r = call("{\"jsonrpc\":\"2.0\",\"id\":\"abc \\\"q\\\" \\u00e4\",\"method\":\"hub.info\"}");
        ck_assert_str_eq(member_str(r, "id"), "abc \"q\" \xc3\xa4");
        r = call("{\"jsonrpc\":\"2.0\",\"id\":\"\",\"method\":\"hub.info\"}");
        ck_assert_str_eq(member_str(r, "id"), "");
        r = call("{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"hub.info\"}");
        ck_assert_int_eq(member_int(r, "id"), 42);
        r = call("{\"jsonrpc\":\"2.0\",\"id\":-7,\"method\":\"hub.info\"}");
        ck_assert_int_eq(member_int(r, "id"), -7);
        r = call("{\"jsonrpc\":\"2.0\",\"id\":9007199254740993,\"method\":\"hub.info\"}");
        ck_assert_int_eq(member_int(r, "id"), 9007199254740993LL);
        r = call("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"hub.info\"}");
        ck_assert(json_object_is_type(member(r, "id"), json_type_double));
        ck_assert(json_object_get_double(member(r, "id")) == 1.5);
        r = call("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"hub.info\"}");
        ck_assert(json_object_is_type(member(r, "id"), json_type_null));
        ck_assert(has_member(r, "result"));
        /* and in errors */
        r = call("{\"jsonrpc\":\"2.0\",\"id\":\"e\",\"method\":\"no.such\"}");
        ck_assert_str_eq(member_str(r, "id"), "e");
        r = call("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"get\",\"params\":[\"missing\"]}");
        ck_assert_int_eq(member_int(r, "id"), 5);
}
END_TEST

/* Core errors: code and data.name */

START_TEST(test_core_errors)
{
        g_autofree char *long_topic = g_strnfill(300, 'a');
        g_autofree char *req = NULL;

        assert_call_error(REQ("publish", "[\"a..b\",\"x\"]"),
                          -32001, "InvalidTopic");
        ck_assert_ptr_nonnull(strstr(ctx.error, "a..b"));
        assert_call_error(REQ("publish", "[\"a.*\",\"x\"]"),
                          -32001, "InvalidTopic");
        assert_call_error(REQ("subscribe", "[\"a.>.b\"]"),
                          -32002, "InvalidPattern");
        assert_call_error(REQ("clear_retained", "[\"**\"]"),
                          -32002, "InvalidPattern");
        assert_call_error(REQ("set", "[\"\",\"x\"]"),
                          -32003, "InvalidKey");
        assert_call_error(REQ("get", "[\"a\\nb\"]"),
                          -32003, "InvalidKey");
        assert_call_error(REQ("watch", "[\"a\\u0001\"]"),
                          -32003, "InvalidKey");
        assert_call_error(REQ("get", "[\"missing\"]"),
                          -32004, "NotFound");
        assert_call_error(REQ("unsubscribe", "[99]"),
                          -32004, "NotFound");
        ok(REQ("set", "[\"k\",\"v\"]"));
        assert_call_error(REQ("set_if", "[\"k\",\"w\",7]"),
                          -32005, "Conflict");
        assert_call_error(REQ("set_if", "[\"new\",\"w\",1]"),
                          -32005, "Conflict");
        assert_call_error(REQ("set_if", "[\"k\",\"w\",0]"),
                          -32005, "Conflict");
        req = g_strdup_printf(REQ("publish", "[\"%s\",\"x\"]"),
                              long_topic);
        assert_call_error(req, -32006, "LimitExceeded");
}
END_TEST

START_TEST(test_core_limit_errors)
{
        /* setup_small: max_payload 8, max_value 8, max_subscriptions 1, max_keys 1 */
        assert_call_error(REQ("publish", "[\"a\",\"123456789\"]"),
                          -32006, "LimitExceeded");
        ok(REQ("publish", "[\"a\",\"12345678\"]"));
        assert_call_error(REQ("set", "[\"k\",\"123456789\"]"),
                          -32006, "LimitExceeded");
        ok(REQ("set", "[\"k\",\"1\"]"));
        assert_call_error(REQ("set", "[\"k2\",\"1\"]"),
                          -32006, "LimitExceeded");
        subscribe("a");
        assert_call_error(REQ("subscribe", "[\"b\"]"),
                          -32006, "LimitExceeded");
        /* The size limit applies to the decoded bytes of base64 too: 9 bytes. */
        assert_call_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"publish\",\"params\":"
                          "{\"topic\":\"a\",\"payload_base64\":\"AAAAAAAAAAAA\"}}", -32006, "LimitExceeded");
}
END_TEST

START_TEST(test_append_error)
{
        json_object *o;
        FrameReader r;
        const char *body;
        size_t len;

        jsonrpc_append_error(out, JSONRPC_INVALID_REQUEST, "LimitExceeded", "Frame of 5 GB \"too\" large.");
        frame_reader_init(&r, G_MAXUINT32);
        frame_reader_feed(&r, out->data, out->len);
        ck_assert_int_eq(frame_reader_next(&r, &body, &len), 1);
        o = parse_strict(body, len);
        check_response_shape(o);
        ck_assert(json_object_is_type(member(o, "id"), json_type_null));
        assert_error(o, -32600, "LimitExceeded");
        ck_assert_str_eq(member_str(member(o, "error"), "message"), "Frame of 5 GB \"too\" large.");
        json_object_put(o);
        frame_reader_deinit(&r);
}
END_TEST

/* FIFO */

START_TEST(test_fifo_refuses_other_methods)
{
        static const char *const refused[] = {
                "clear_retained", "subscribe", "unsubscribe", "get", "set_if", "list", "watch", "unwatch",
                "hub.info", "rpc.describe",
        };

        ctx.fifo = true;
        for (size_t i = 0; i < G_N_ELEMENTS(refused); i++) {
                g_autofree char *req = g_strdup_printf("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\","
                                                       "\"params\":[\"x\"]}", refused[i]);

                assert_call_error(req, -32601, NULL);
                ck_assert_ptr_nonnull(strstr(ctx.error, "FIFO"));
        }
        ck_assert_uint_eq(hub_get_n_subscriptions(hub), 0);
        ck_assert_uint_eq(hub_get_n_watches(hub), 0);
}
END_TEST

START_TEST(test_fifo_allowed_methods)
{
        subscribe(">");
        ctx.fifo = true;
        ctx.out = NULL;         /* as fifo.c does: nothing is answered */
        ck_assert_ptr_null(call("{\"jsonrpc\":\"2.0\",\"method\":\"publish\",\"params\":{\"topic\":\"f.a\",\"payload\":\"x\"}}"));
        ck_assert_int_eq(last_r, 0);
        ck_assert_ptr_null(call("{\"jsonrpc\":\"2.0\",\"method\":\"publish_retained\",\"params\":[\"f.b\",\"y\"]}"));
        ck_assert_int_eq(last_r, 0);
        ck_assert_ptr_null(call("{\"jsonrpc\":\"2.0\",\"method\":\"set\",\"params\":[\"k\",\"v\"]}"));
        ck_assert_int_eq(last_r, 0);
        ck_assert_ptr_null(call("{\"jsonrpc\":\"2.0\",\"method\":\"delete\",\"params\":[\"k\"]}"));
        ck_assert_int_eq(last_r, 0);
        ck_assert_uint_eq(fake_client_count(alice, ENVELOPE_MESSAGE), 2);
        ck_assert_uint_eq(hub_get_n_retained(hub), 1);

        /* Refusals say why, for the log, and write nothing anywhere. */
        ck_assert_ptr_null(call("{\"jsonrpc\":\"2.0\",\"method\":\"subscribe\",\"params\":[\">\"]}"));
        ck_assert_int_eq(last_r, -EINVAL);
        ck_assert_ptr_nonnull(strstr(ctx.error, "subscribe"));
        ck_assert_ptr_null(call("{\"jsonrpc\":\"2.0\",\"method\":\"publish\",\"params\":[\"f..b\",\"y\"]}"));
        ck_assert_int_eq(last_r, -EINVAL);
        ck_assert_ptr_nonnull(strstr(ctx.error, "f..b"));
        ck_assert_ptr_null(call("{\"jsonrpc\":\"2.0\",\"method\":"));
        ck_assert_int_eq(last_r, -EINVAL);
        ck_assert_ptr_null(call("[]"));
        ck_assert_int_eq(last_r, -EINVAL);
        ck_assert_uint_eq(out->len, 0);
}
END_TEST

/* subscribe with_retained: the response first, then the retained values. */

typedef struct OrderClient {
        Client client;                  /* must be first */
        GByteArray *watched;            /* ctx.out */
        unsigned n_delivered;
        unsigned n_before_response;     /* deliveries while ctx.out was still empty */
        bool retained_only;
} OrderClient;

static int order_deliver(Client *c, const Envelope *e) {
        OrderClient *o = (OrderClient *) c;

        o->n_delivered++;
        if (o->watched->len == 0)
                o->n_before_response++;
        if (!e->retained)
                o->retained_only = false;
        return 0;
}

static const ClientSink order_sink = {
        .transport = "order",
        .deliver = order_deliver,
};

START_TEST(test_subscribe_with_retained_order)
{
        OrderClient oc = { .retained_only = true };
        json_object *r;
        int64_t id;

        ok(REQ("publish_retained", "[\"w.a\",\"1\"]"));
        ok(REQ("publish_retained", "[\"w.b\",\"2\"]"));
        ok(REQ("publish_retained", "[\"x.c\",\"3\"]"));

        ck_assert_int_eq(client_init(&oc.client, hub, &order_sink, 1000, 1, NULL, false), 0);
        oc.watched = out;
        ctx.client = &oc.client;
        r = call("{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"subscribe\",\"params\":{\"pattern\":\"w.*\",\"with_retained\":true}}");
        ck_assert_ptr_nonnull(r);
        id = member_int(member(r, "result"), "id");
        ck_assert_int_gt(id, 0);
        ck_assert_uint_eq(oc.n_delivered, 2);
        ck_assert_uint_eq(oc.n_before_response, 0);
        ck_assert(oc.retained_only);
        client_deinit(&oc.client);
        ctx.client = &alice->client;

        /* Through the fake client too: both happen, the response in ctx->out. */
        r = call("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"subscribe\",\"params\":[\">\",true]}");
        ck_assert_int_gt(member_int(member(r, "result"), "id"), 0);
        ck_assert_uint_eq(alice->delivered->len, 3);
        for (unsigned i = 0; i < 3; i++) {
                ck_assert(fake_client_get(alice, i)->retained);
                ck_assert_uint_eq(fake_client_get(alice, i)->sub_id, (uint64_t) member_int(member(r, "result"), "id"));
        }

        /* Without with_retained, nothing is replayed. */
        fake_client_clear(alice);
        ok("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"subscribe\",\"params\":[\"w.*\"]}");
        ck_assert_uint_eq(alice->delivered->len, 0);
}
END_TEST

START_TEST(test_subscribe_with_retained_in_batch)
{
        OrderClient oc = { .retained_only = true };
        json_object *r;

        ok(REQ("publish_retained", "[\"w.a\",\"1\"]"));
        ck_assert_int_eq(client_init(&oc.client, hub, &order_sink, 1000, 1, NULL, false), 0);
        oc.watched = out;
        ctx.client = &oc.client;
        /* The whole batch's response goes out before any replay. */
        r = call("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"subscribe\",\"params\":[\"w.*\",true]},"
                 "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"subscribe\",\"params\":[\">\",true]}]");
        ck_assert_uint_eq(json_object_array_length(r), 2);
        ck_assert_uint_eq(oc.n_delivered, 2);
        ck_assert_uint_eq(oc.n_before_response, 0);
        client_deinit(&oc.client);
        ctx.client = &alice->client;
}
END_TEST

/* Parse errors */

START_TEST(test_parse_errors)
{
        static const struct {
                const char *text;
                size_t len;
        } bad[] = {
                { "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"hub.info\"} x", 0 },     /* trailing garbage */
                { "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"hub.info\"}{}", 0 },     /* two values */
                { REQ("set", "[\"k\",\"\xc3\x28\"]"), 0 },
                { REQ("set", "[\"k\",\"\xff\"]"), 0 },
                { REQ("set", "[\"k\",\"\xed\xa0\x80\"]"), 0 },
                { "{\"jsonrpc\":\"2.0\",", 0 },                                     /* incomplete */
                { "{'jsonrpc':'2.0'}", 0 },                                          /* not strict JSON */
                { "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"hub.info\",}", 0 },    /* trailing comma */
                { "nul", 0 },
                { "{\"a\":1}\0", 8 },                                                /* a NUL after it */
                { "", 0 },                                                           /* empty frame */
        };

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                size_t len = bad[i].len ?: strlen(bad[i].text);
                json_object *r = call_len(bad[i].text, len);

                ck_assert_msg(r, "no response to bad input %zu", i);
                assert_error(r, -32700, NULL);
                ck_assert(json_object_is_type(member(r, "id"), json_type_null));
                ck_assert_int_eq(last_r, -EINVAL);
                ck_assert_ptr_nonnull(ctx.error);
        }
        ck_assert_uint_eq(hub_get_n_keys(hub), 0);
}
END_TEST

/*
 * The writer and the reader agree, and json-c reads the writer's output the same way: strings
 * with a character to escape (or a multi-byte one) at every offset of a run longer than the
 * reader's eight-byte steps, and a long one that does not fit the reader's arena.
 */
START_TEST(test_string_round_trip)
{
        static const char *const specials[] = { "\"", "\\", "\n", "\x01", "\x1f", "\x7f", "/", "\xc3\xa9",
                                                "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
        g_autoptr(JsonParser) jp = json_parser_new();

        for (size_t k = 0; k < G_N_ELEMENTS(specials); k++)
                for (size_t at = 0; at <= 24; at++) {
                        g_autoptr(GString) text = g_string_new(NULL), doc = g_string_new("[");
                        const char *got, *why = NULL;
                        size_t got_len;
                        json_object *o;

                        for (size_t i = 0; i < 24; i++) {
                                if (i == at)
                                        g_string_append(text, specials[k]);
                                g_string_append_c(text, (char) ('a' + i));
                        }
                        if (at == 24)
                                g_string_append(text, specials[k]);
                        /* Twice in one document: the second is decoded after the first in the arena. */
                        json_write_string(doc, text->str, text->len);
                        g_string_append_c(doc, ',');
                        json_write_string(doc, text->str, text->len);
                        g_string_append_c(doc, ']');

                        ck_assert_msg(json_parse(jp, doc->str, doc->len, 8, &why) == 0, "%s: %s", doc->str, why);
                        for (unsigned e = 0; e < 2; e++) {
                                ck_assert_int_eq(json_string(jp, json_array_at(jp, 0, e), &got, &got_len), 0);
                                ck_assert_uint_eq(got_len, text->len);
                                ck_assert(memcmp(got, text->str, got_len) == 0);
                                ck_assert_int_eq(got[got_len], '\0');
                                /* The same bytes in place (no escapes) or decoded, unterminated. */
                                ck_assert_int_eq(json_string_bytes(jp, json_array_at(jp, 0, e), &got, &got_len), 0);
                                ck_assert_uint_eq(got_len, text->len);
                                ck_assert(memcmp(got, text->str, got_len) == 0);
                        }
                        o = json_tokener_parse(doc->str);
                        ck_assert_msg(o, "json-c cannot read %s", doc->str);
                        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(o, 0)), text->str);
                        json_object_put(o);
                }

        g_autoptr(GString) big = g_string_new("[\"");
        for (unsigned i = 0; i < 3000; i++)
                g_string_append(big, "ab\\u00e9");
        g_string_append(big, "\"]");
        ck_assert_int_eq(json_parse(jp, big->str, big->len, 8, NULL), 0);
        const char *got;
        size_t got_len;
        ck_assert_int_eq(json_string(jp, 1, &got, &got_len), 0);
        ck_assert_uint_eq(got_len, 3000 * 4);
        ck_assert(memcmp(got + got_len - 4, "ab\xc3\xa9", 4) == 0);
}
END_TEST

/* Numbers as printf writes them: every value to 100000, around each power of ten, the largest. */
START_TEST(test_format_u64)
{
        char buf[JSON_U64_MAX + 1], want[32];
        uint64_t p = 1;

        for (uint64_t v = 0; v <= 100000; v++) {
                buf[json_format_u64(buf, v)] = '\0';
                g_snprintf(want, sizeof want, "%" G_GUINT64_FORMAT, v);
                if (strcmp(buf, want) != 0)
                        ck_abort_msg("%s for %s", buf, want);
        }
        for (int i = 0; i < 20; i++, p *= 10)
                for (uint64_t v = p - 1; v <= p + 1; v++) {
                        buf[json_format_u64(buf, v)] = '\0';
                        g_snprintf(want, sizeof want, "%" G_GUINT64_FORMAT, v);
                        ck_assert_str_eq(buf, want);
                }
        buf[json_format_u64(buf, UINT64_MAX)] = '\0';
        ck_assert_str_eq(buf, "18446744073709551615");
}
END_TEST

START_TEST(test_parse_whitespace_ok)
{
        /* Whitespace around the value is fine; a bare number is a complete value. */
        ok(" \n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"hub.info\"}\n ");
        assert_call_error("42", -32600, NULL);
}
END_TEST

static char *nested(unsigned depth) {
        GString *s = g_string_new("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"set\",\"params\":{\"key\":\"k\",\"value\":\"v\",\"x\":");

        /* the request object and params are 2 levels already */
        for (unsigned i = 2; i < depth; i++)
                g_string_append_c(s, '[');
        for (unsigned i = 2; i < depth; i++)
                g_string_append_c(s, ']');
        g_string_append(s, "}}");
        return g_string_free(s, FALSE);
}

START_TEST(test_deep_nesting)
{
        g_autofree char *ok16 = nested(16), *bad17 = nested(17), *bad1000 = nested(1000);
        g_autofree char *arrays = NULL;

        ok(ok16);
        assert_call_error(bad17, -32700, NULL);
        assert_call_error(bad1000, -32700, NULL);
        arrays = g_strnfill(100000, '[');
        assert_call_error(arrays, -32700, NULL);
}
END_TEST

/* rpc.describe */

static GPtrArray *documented_methods(void) {
        const char *root = g_getenv("SB_SOURCE_ROOT");
        g_autofree char *path = NULL, *text = NULL;
        g_auto(GStrv) lines = NULL;
        GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
        bool in_methods = false;

        ck_assert_msg(root, "SB_SOURCE_ROOT is not set: run through meson test");
        path = g_build_filename(root, "docs", "protocol.md", NULL);
        ck_assert_msg(g_file_get_contents(path, &text, NULL, NULL), "cannot read %s", path);
        lines = g_strsplit(text, "\n", -1);
        for (size_t i = 0; lines[i]; i++) {
                const char *l = lines[i];

                if (g_str_has_prefix(l, "## "))
                        in_methods = strcmp(l, "## Methods") == 0;
                else if (in_methods && g_str_has_prefix(l, "| `")) {
                        const char *end = strchr(l + 3, '`');

                        ck_assert_ptr_nonnull(end);
                        g_ptr_array_add(names, g_strndup(l + 3, end - (l + 3)));
                }
        }
        ck_assert_uint_gt(names->len, 10);
        return names;
}

START_TEST(test_describe_lists_every_method)
{
        g_autoptr(GPtrArray) documented = documented_methods();
        g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
        json_object *res, *methods, *notifications;

        res = ok(REQ0("rpc.describe"));
        methods = member(res, "methods");
        ck_assert(json_object_is_type(methods, json_type_array));
        for (size_t i = 0; i < json_object_array_length(methods); i++) {
                json_object *m = json_object_array_get_idx(methods, i), *params, *dbus;
                const char *name = member_str(m, "name");

                ck_assert_msg(!g_hash_table_contains(seen, name), "'%s' listed twice", name);
                g_hash_table_add(seen, (char *) name);
                params = member(m, "params");
                dbus = member(m, "dbus");
                ck_assert(json_object_is_type(params, json_type_array));
                ck_assert(json_object_is_type(dbus, json_type_array));
                ck_assert_msg(json_object_array_length(dbus) > 0, "'%s' has no D-Bus twin", name);
                member_bool(m, "fifo");
                ck_assert_msg(g_ptr_array_find_with_equal_func(documented, name, g_str_equal, NULL),
                              "'%s' is in rpc.describe but not in docs/protocol.md", name);
        }
        for (guint i = 0; i < documented->len; i++)
                ck_assert_msg(g_hash_table_contains(seen, documented->pdata[i]),
                              "'%s' is in docs/protocol.md but not in rpc.describe",
                              (const char *) documented->pdata[i]);

        /* Every notification the hub sends, "request" included (docs/protocol.md shows it). */
        notifications = member(res, "notifications");
        ck_assert_uint_eq(json_object_array_length(notifications), 5);
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(notifications, 2)), "request");
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(notifications, 4)), "traffic");
}
END_TEST

START_TEST(test_describe_methods_exist)
{
        /* Everything rpc.describe lists is a method (not -32601), and its "fifo" flag is what the FIFO does. */
        json_object *methods = json_object_get(member(ok(REQ0("rpc.describe")),
                                                      "methods"));

        for (size_t i = 0; i < json_object_array_length(methods); i++) {
                json_object *m = json_object_array_get_idx(methods, i), *r;
                const char *name = member_str(m, "name");
                bool fifo = member_bool(m, "fifo");
                g_autofree char *req = g_strdup_printf("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":{}}",
                                                       name);

                ctx.fifo = false;
                r = call(req);
                if (has_member(r, "error"))
                        ck_assert_msg(member_int(member(r, "error"), "code") != -32601, "'%s' not found", name);
                ctx.fifo = true;
                r = call(req);
                if (has_member(r, "error") && member_int(member(r, "error"), "code") == -32601)
                        ck_assert_msg(!fifo, "'%s' says fifo but the FIFO refuses it", name);
                else
                        ck_assert_msg(fifo, "'%s' says not fifo but the FIFO takes it", name);
        }
        json_object_put(methods);
}
END_TEST

/* Notifications to a client */

START_TEST(test_append_envelope)
{
        ClientInfo sender = { .transport = "unix", .id = 3, .uid = 1000, .pid = 42, .name = NULL };
        Envelope e = {
                .kind = ENVELOPE_MESSAGE,
                .sub_id = 5,
                .topic = "a.b",
                .payload = "\xff\x00",
                .payload_len = 2,
                .seq = 9,
                .sender = &sender,
        };
        json_object *o, *p, *s;
        FrameReader r;
        const char *body;
        size_t len;

        jsonrpc_append_envelope(out, &e);
        e = (Envelope) { .kind = ENVELOPE_KEY_CHANGED, .sub_id = 6, .topic = "k\n\"", .payload = "v",
                         .payload_len = 1, .seq = 2 };
        jsonrpc_append_envelope(out, &e);
        e = (Envelope) { .kind = ENVELOPE_GAP, .sub_id = 5, .gap_first = 10, .gap_last = 12 };
        jsonrpc_append_envelope(out, &e);
        e = (Envelope) { .kind = ENVELOPE_TRAFFIC, .sub_id = 7, .event = "timeout", .topic = "svc", .object_id = 4,
                         .seq = 3, .error_name = "Timeout", .error_message = "late" };
        jsonrpc_append_envelope(out, &e);
        e = (Envelope) { .kind = ENVELOPE_TRAFFIC, .sub_id = 7, .event = "push", .topic = "q", .object_id = 8,
                         .seq = 4, .payload = "job", .payload_len = 3, .error_name = "", .sender = &sender };
        jsonrpc_append_envelope(out, &e);

        frame_reader_init(&r, G_MAXUINT32);
        frame_reader_feed(&r, out->data, out->len);

        ck_assert_int_eq(frame_reader_next(&r, &body, &len), 1);
        o = parse_strict(body, len);
        ck_assert_str_eq(member_str(o, "jsonrpc"), "2.0");
        ck_assert(!has_member(o, "id"));
        ck_assert_str_eq(member_str(o, "method"), "message");
        p = member(o, "params");
        ck_assert_int_eq(member_int(p, "subscription"), 5);
        ck_assert_str_eq(member_str(p, "topic"), "a.b");
        ck_assert_str_eq(member_str(p, "payload_base64"), "/wA=");
        ck_assert(!has_member(p, "payload"));
        ck_assert_int_eq(member_int(p, "seq"), 9);
        ck_assert(!member_bool(p, "retained"));
        s = member(p, "sender");
        ck_assert_str_eq(member_str(s, "transport"), "unix");
        ck_assert_int_eq(member_int(s, "client"), 3);
        ck_assert_int_eq(member_int(s, "uid"), 1000);
        ck_assert_int_eq(member_int(s, "pid"), 42);
        ck_assert(!has_member(s, "name"));
        json_object_put(o);

        ck_assert_int_eq(frame_reader_next(&r, &body, &len), 1);
        o = parse_strict(body, len);
        ck_assert_str_eq(member_str(o, "method"), "key_changed");
        p = member(o, "params");
        ck_assert_int_eq(member_int(p, "watch"), 6);
        ck_assert_str_eq(member_str(p, "key"), "k\n\"");
        ck_assert_str_eq(member_str(p, "value"), "v");
        ck_assert_int_eq(member_int(p, "revision"), 2);
        ck_assert(!member_bool(p, "deleted"));
        ck_assert_str_eq(member_str(member(p, "sender"), "transport"), "hub");
        json_object_put(o);

        ck_assert_int_eq(frame_reader_next(&r, &body, &len), 1);
        o = parse_strict(body, len);
        ck_assert_str_eq(member_str(o, "method"), "gap");
        p = member(o, "params");
        ck_assert_int_eq(member_int(p, "id"), 5);
        ck_assert_int_eq(member_int(p, "first_seq"), 10);
        ck_assert_int_eq(member_int(p, "last_seq"), 12);
        json_object_put(o);

        ck_assert_int_eq(frame_reader_next(&r, &body, &len), 1);
        o = parse_strict(body, len);
        ck_assert_str_eq(member_str(o, "method"), "traffic");
        p = member(o, "params");
        ck_assert_int_eq(member_int(p, "monitor"), 7);
        ck_assert_str_eq(member_str(p, "event"), "timeout");
        ck_assert_str_eq(member_str(p, "name"), "svc");
        ck_assert_int_eq(member_int(p, "id"), 4);
        ck_assert_int_eq(member_int(p, "seq"), 3);
        ck_assert_str_eq(member_str(p, "error"), "Timeout");
        ck_assert_str_eq(member_str(p, "message"), "late");
        ck_assert_str_eq(member_str(member(p, "sender"), "transport"), "hub");
        json_object_put(o);

        ck_assert_int_eq(frame_reader_next(&r, &body, &len), 1);
        o = parse_strict(body, len);
        p = member(o, "params");
        ck_assert_str_eq(member_str(p, "event"), "push");
        ck_assert_str_eq(member_str(p, "payload"), "job");
        ck_assert(!has_member(p, "error"));
        ck_assert(!has_member(p, "attempts"));
        ck_assert_int_eq(member_int(member(p, "sender"), "uid"), 1000);
        json_object_put(o);

        ck_assert_int_eq(frame_reader_next(&r, &body, &len), 0);
        frame_reader_deinit(&r);
}
END_TEST

/* The frames in out, each as text, then out emptied. */
static GPtrArray *frames_taken(void) {
        GPtrArray *frames = g_ptr_array_new_with_free_func(g_free);
        FrameReader r;
        const char *body;
        size_t len;

        frame_reader_init(&r, G_MAXUINT32);
        frame_reader_feed(&r, out->data, out->len);
        while (frame_reader_next(&r, &body, &len) == 1)
                g_ptr_array_add(frames, g_strndup(body, len));
        frame_reader_deinit(&r);
        g_byte_array_set_size(out, 0);
        return frames;
}

START_TEST(test_append_envelope_compact)
{
        ClientInfo sender = { .transport = "unix", .id = 3, .uid = 1000, .pid = 42 };
        EnvelopeCache cache = {};
        Envelope e = { .kind = ENVELOPE_MESSAGE, .topic = "a.b", .payload = "hi", .payload_len = 2, .seq = 9,
                       .sender = &sender, .cache = &cache };
        g_autoptr(GPtrArray) frames = NULL;

        /* One publish's deliveries share the body: plain, compact, plain again. */
        e.sub_id = 5;
        jsonrpc_append_envelope(out, &e);
        e.sub_id = 6;
        e.compact = true;
        jsonrpc_append_envelope(out, &e);
        e.sub_id = 7;
        e.compact = false;
        jsonrpc_append_envelope(out, &e);
        envelope_cache_clear(&cache);
        /* A retained replay, compact, without a cache. */
        e = (Envelope) { .kind = ENVELOPE_MESSAGE, .sub_id = 8, .topic = "a.b", .payload = "\xff", .payload_len = 1,
                         .seq = 4, .retained = true, .sender = &sender, .compact = true };
        jsonrpc_append_envelope(out, &e);

#define PLAIN_FRAME(sub) "{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":{\"subscription\":" sub \
                        ",\"topic\":\"a.b\",\"payload\":\"hi\",\"seq\":9,\"retained\":false," \
                        "\"sender\":{\"transport\":\"unix\",\"client\":3,\"uid\":1000,\"pid\":42}}}"
        frames = frames_taken();
        ck_assert_uint_eq(frames->len, 4);
        ck_assert_str_eq(g_ptr_array_index(frames, 0), PLAIN_FRAME("5"));
        ck_assert_str_eq(g_ptr_array_index(frames, 1),
                         "{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":{\"subscription\":6,\"topic\":\"a.b\","
                         "\"payload\":\"hi\",\"seq\":9}}");
        ck_assert_str_eq(g_ptr_array_index(frames, 2), PLAIN_FRAME("7"));
#undef PLAIN_FRAME
        ck_assert_str_eq(g_ptr_array_index(frames, 3),
                         "{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":{\"subscription\":8,\"topic\":\"a.b\","
                         "\"payload_base64\":\"/w==\",\"seq\":4,\"retained\":true}}");
}
END_TEST

static Suite *jsonrpc_suite(void) {
        Suite *s = suite_create("jsonrpc");
        TCase *tc;

        tc = tcase_create("results");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_publish_result);
        tcase_add_test(tc, test_publish_retained_and_clear);
        tcase_add_test(tc, test_subscribe_unsubscribe_result);
        tcase_add_test(tc, test_store_results);
        tcase_add_test(tc, test_watch_unwatch_result);
        tcase_add_test(tc, test_hub_info_result);
        suite_add_tcase(s, tc);

        tc = tcase_create("params");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_positional_params);
        tcase_add_test(tc, test_named_equals_positional);
        tcase_add_test(tc, test_param_errors);
        suite_add_tcase(s, tc);

        tc = tcase_create("payloads");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_payload_base64);
        tcase_add_test(tc, test_payload_both_neither_invalid);
        tcase_add_test(tc, test_value_binary_round_trip);
        suite_add_tcase(s, tc);

        tc = tcase_create("requests");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_notification_no_response);
        tcase_add_test(tc, test_invalid_request_shape);
        tcase_add_test(tc, test_batch);
        tcase_add_test(tc, test_batch_empty);
        tcase_add_test(tc, test_batch_all_notifications);
        tcase_add_test(tc, test_batch_single);
        tcase_add_test(tc, test_id_echo);
        suite_add_tcase(s, tc);

        tc = tcase_create("errors");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_core_errors);
        tcase_add_test(tc, test_append_error);
        suite_add_tcase(s, tc);

        tc = tcase_create("limits");
        tcase_add_checked_fixture(tc, setup_small, teardown);
        tcase_add_test(tc, test_core_limit_errors);
        suite_add_tcase(s, tc);

        tc = tcase_create("fifo");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_fifo_refuses_other_methods);
        tcase_add_test(tc, test_fifo_allowed_methods);
        suite_add_tcase(s, tc);

        tc = tcase_create("retained");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_subscribe_with_retained_order);
        tcase_add_test(tc, test_subscribe_with_retained_in_batch);
        suite_add_tcase(s, tc);

        tc = tcase_create("parse");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_parse_errors);
        tcase_add_test(tc, test_string_round_trip);
        tcase_add_test(tc, test_format_u64);
        tcase_add_test(tc, test_parse_whitespace_ok);
        tcase_add_test(tc, test_deep_nesting);
        suite_add_tcase(s, tc);

        tc = tcase_create("describe");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_describe_lists_every_method);
        tcase_add_test(tc, test_describe_methods_exist);
        suite_add_tcase(s, tc);

        tc = tcase_create("envelopes");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_append_envelope);
        tcase_add_test(tc, test_append_envelope_compact);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(jsonrpc_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
