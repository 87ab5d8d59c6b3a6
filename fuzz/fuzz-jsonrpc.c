/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-jsonrpc.c: libFuzzer target for the JSON-RPC dispatcher
 * (jsonrpc/jsonrpc-dispatch.h). Each input is one frame's body. A fresh hub
 * with the default limits gets a fake client subscribed to ">" and
 * watching "" (so every publish and set produces notifications); the body
 * is dispatched once as a socket client would (responses to ctx.out) and
 * once as the FIFO does (ctx.fifo, no output). Checked: jsonrpc_dispatch()
 * fails exactly when it says why (ctx.error); it writes at most one
 * response frame, and that frame is strict, valid-UTF-8 JSON whose every
 * response object has "jsonrpc":"2.0", an id, and exactly one of result
 * and error (an error with an integer code and a string message); a
 * request's id comes back unchanged, and a batch gets no more responses
 * than it has entries; every
 * notification the fake client received, encoded with
 * jsonrpc_append_envelope(), is valid JSON-RPC too.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <glib.h>

#include "fuzz-util.h"
#include "fake-client.h"
#include "proto/frame.h"
#include "jsonrpc/jsonrpc-dispatch.h"

static json_object *parse_strict(const char *text, size_t len) {
        json_tokener *tok = json_tokener_new_ex(64);
        json_object *o;

        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, text, (int) len);
        if (json_tokener_get_error(tok) != json_tokener_success ||
            (size_t) json_tokener_get_parse_end(tok) != len) {
                fprintf(stderr, "hub wrote invalid JSON (%s): %.*s\n",
                        json_tokener_error_desc(json_tokener_get_error(tok)), (int) MIN(len, 2000), text);
                abort();
        }
        json_tokener_free(tok);
        return o;
}

static const char *get_string(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static void check_response(json_object *r) {
        json_object *id, *result, *error, *v;
        const char *version = get_string(r, "jsonrpc");

        fuzz_assert(json_object_is_type(r, json_type_object));
        fuzz_assert(version && strcmp(version, "2.0") == 0);
        fuzz_assert(json_object_object_get_ex(r, "id", &id));
        fuzz_assert(!id || json_object_is_type(id, json_type_string) || json_object_is_type(id, json_type_int) ||
                    json_object_is_type(id, json_type_double));
        fuzz_assert(json_object_object_get_ex(r, "result", &result) !=
                    json_object_object_get_ex(r, "error", &error));
        if (json_object_object_get_ex(r, "error", &error)) {
                fuzz_assert(json_object_is_type(error, json_type_object));
                fuzz_assert(json_object_object_get_ex(error, "code", &v) && json_object_is_type(v, json_type_int));
                fuzz_assert(get_string(error, "message"));
                if (json_object_object_get_ex(error, "data", &v)) {
                        const char *name = get_string(v, "name");

                        fuzz_assert(name && g_str_has_prefix(name, "org.switchboard.Hub1.Error."));
                }
        }
}

/* The request as the hub would read it, or NULL when it is not valid JSON to the hub. */
static json_object *parse_request(const uint8_t *data, size_t size) {
        json_tokener *tok;
        json_object *o;

        if (size == 0 || size > INT32_MAX || !g_utf8_validate_len((const char *) data, size, NULL))
                return NULL;
        tok = json_tokener_new_ex(16);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, (const char *) data, (int) size);
        if (json_tokener_get_error(tok) != json_tokener_success ||
            (size_t) json_tokener_get_parse_end(tok) != size)
                g_clear_pointer(&o, json_object_put);
        json_tokener_free(tok);
        return o;
}

static bool valid_id(json_object *id) {
        return json_object_is_type(id, json_type_string) || json_object_is_type(id, json_type_int) ||
               json_object_is_type(id, json_type_double);
}

static bool is_parse_error(json_object *o) {
        json_object *error, *code;

        return json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "error", &error) &&
               json_object_object_get_ex(error, "code", &code) && json_object_get_int(code) == -32700;
}

static void check_output(GByteArray *out, json_object *req) {
        FrameReader r;
        const char *body;
        size_t len;
        unsigned n = 0;
        int k;

        frame_reader_init(&r, G_MAXUINT32);
        frame_reader_feed(&r, out->data, out->len);
        while ((k = frame_reader_next(&r, &body, &len)) > 0) {
                json_object *o = parse_strict(body, len), *req_id, *resp_id;

                n++;
                if (json_object_is_type(o, json_type_array)) {
                        fuzz_assert(json_object_array_length(o) > 0);
                        for (size_t i = 0; i < json_object_array_length(o); i++)
                                check_response(json_object_array_get_idx(o, i));
                        /* Only a batch is answered with an array, at most one entry per request. */
                        fuzz_assert(json_object_is_type(req, json_type_array));
                        fuzz_assert(json_object_array_length(o) <= json_object_array_length(req));
                } else
                        check_response(o);

                /*
                 * A single request with a usable id gets exactly that id back, unless the hub's
                 * parser, stricter than json-c's (RFC 8259: no raw control characters in
                 * strings, no "2."), refused the text as a whole.
                 */
                if (json_object_is_type(req, json_type_object) && !is_parse_error(o) &&
                    json_object_object_get_ex(req, "id", &req_id) && valid_id(req_id)) {
                        fuzz_assert(json_object_object_get_ex(o, "id", &resp_id));
                        if (!json_object_equal(req_id, resp_id)) {
                                fprintf(stderr, "id %s came back as %s\n", json_object_to_json_string(req_id),
                                        json_object_to_json_string(resp_id));
                                abort();
                        }
                }
                json_object_put(o);
        }
        fuzz_assert(k == 0);
        fuzz_assert(frame_reader_pending(&r) == 0);
        fuzz_assert(n <= 1);    /* one frame in, at most one response frame out */
        frame_reader_deinit(&r);
}

static void check_notifications(FakeClient *f) {
        static const char *const methods[] = { "message", "key_changed", "gap" };

        for (guint i = 0; i < f->delivered->len; i++) {
                const FakeEnvelope *fe = fake_client_get(f, i);
                g_autoptr(GByteArray) out = g_byte_array_new();
                ClientInfo sender = {
                        .transport = fe->sender_transport,
                        .id = fe->sender_id,
                        .uid = fe->sender_uid,
                        .name = fe->sender_name,
                };
                gsize plen;
                Envelope e = {
                        .kind = fe->kind,
                        .sub_id = fe->sub_id,
                        .topic = fe->topic,
                        .payload = g_bytes_get_data(fe->payload, &plen),
                        .seq = fe->seq,
                        .retained = fe->retained,
                        .deleted = fe->deleted,
                        .gap_first = fe->gap_first,
                        .gap_last = fe->gap_last,
                        .sender = fe->has_sender ? &sender : NULL,
                };
                FrameReader r;
                const char *body;
                size_t len;
                json_object *o, *params;
                const char *method;

                e.payload_len = plen;
                jsonrpc_append_envelope(out, &e);
                frame_reader_init(&r, G_MAXUINT32);
                frame_reader_feed(&r, out->data, out->len);
                fuzz_assert(frame_reader_next(&r, &body, &len) == 1);
                fuzz_assert(frame_reader_pending(&r) == 0);

                o = parse_strict(body, len);
                method = get_string(o, "method");
                fuzz_assert(g_strcmp0(get_string(o, "jsonrpc"), "2.0") == 0);
                fuzz_assert(method);
                if ((size_t) fe->kind < G_N_ELEMENTS(methods)) {
                        /* The kinds of docs/protocol.md are notifications: no id. */
                        fuzz_assert(strcmp(method, methods[fe->kind]) == 0);
                        fuzz_assert(!json_object_object_get_ex(o, "id", NULL));
                }
                fuzz_assert(json_object_object_get_ex(o, "params", &params) &&
                            json_object_is_type(params, json_type_object));
                json_object_put(o);
                frame_reader_deinit(&r);
        }
}

static void dispatch(Hub *hub, FakeClient *f, const uint8_t *data, size_t size, bool fifo) {
        json_object *req = parse_request(data, size);
        g_autoptr(GByteArray) out = fifo ? NULL : g_byte_array_new();
        JsonrpcStats stats = {};
        JsonrpcContext ctx = {
                .hub = hub,
                .client = &f->client,
                .out = out,
                .fifo = fifo,
        };
        int r;

        /* hub.info shows the face's counters, as when a server runs. */
        hub_add_info(hub, jsonrpc_stats_info, &stats);
        r = jsonrpc_dispatch(&ctx, (const char *) data, size);
        hub_remove_info(hub, jsonrpc_stats_info, &stats);
        fuzz_assert(r == 0 || r == -EINVAL);
        fuzz_assert((r < 0) == (ctx.error != NULL));
        if (!req)
                fuzz_assert(r == -EINVAL);      /* what we cannot parse, the hub cannot either */
        if (out)
                check_output(out, req);
        json_object_put(req);
        g_free(ctx.error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(Hub) hub = test_hub_new(NULL);
        g_autoptr(FakeClient) f = fake_client_new(hub, 1000);
        uint64_t id;

        fuzz_assert(hub_subscribe(hub, &f->client, ">", false, &id) == 0);
        fuzz_assert(hub_watch(hub, &f->client, "", &id) == 0);

        dispatch(hub, f, data, size, false);
        dispatch(hub, f, data, size, true);
        check_notifications(f);

        /* The client's subscriptions and watches go with it, before the hub. */
        g_clear_pointer(&f, fake_client_free);
        return 0;
}
