/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ops.c: libswitchboard's typed operations, each one request of
 * docs/protocol.md built on client.c: params written by hand into the
 * client's reused request buffer, the result's members read back.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lib-private.h"
#include "proto/utf8.h"

/* @s as a param must be UTF-8 text: JSON carries nothing else. */
int check_text(sb_client *c, const char *s, const char *what) {
        return s && utf8_is_valid(s, strlen(s)) ? 0 : client_fail(c, -EINVAL, what);
}

/* Send c->request and wait for its answer. */
int call_answer(sb_client *c, uint64_t id, int wait_ms, Answer **ret) {
        int r;

        request_end(c);
        r = client_enqueue(c);
        if (r < 0)
                return r;
        return client_call(c, id, wait_ms, ret);
}

/* Send c->request; its answer carries @name (a number) or nothing. */
static int call_u64(sb_client *c, uint64_t id, const char *name, uint64_t *ret) {
        Answer *a;
        uint64_t n;
        int r;

        r = call_answer(c, id, 0, &a);
        if (r < 0 || !name)
                return r;
        r = answer_u64(a, name, &n);
        if (r < 0)
                return client_fail(c, r, "the hub's answer lacks a member");
        if (ret)
                *ret = n;
        return 0;
}

/* One request with one name param and one id or name answer. */
static int simple(sb_client *c, const char *method, const char *param, const char *value, uint64_t *ret_id) {
        uint64_t id;
        int r;

        r = check_text(c, value, "a name must be UTF-8 text");
        if (r < 0)
                return r;
        request_begin(c, method, true, &id);
        json_append_member(c->request, param, value);
        return call_u64(c, id, ret_id ? "id" : NULL, ret_id);
}

/* One request with one number param and a null answer. */
static int by_id(sb_client *c, const char *method, const char *param, uint64_t value) {
        uint64_t id;

        request_begin(c, method, true, &id);
        json_append_u64(c->request, param, value);
        return call_u64(c, id, NULL, NULL);
}

SB_EXPORT int sb_publish(sb_client *c, const char *topic, const void *data, size_t size, unsigned flags,
                         uint64_t *ret_seq) {
        bool reply = !(flags & SB_NO_REPLY);
        uint64_t id = 0;
        int r;

        r = check_text(c, topic, "a topic must be UTF-8 text");
        if (r < 0)
                return r;
        request_begin(c, "publish", reply, &id);
        json_append_member(c->request, "topic", topic);
        json_append_bytes(c->request, "payload", data, size);
        if (flags & SB_RETAIN)
                json_append_bool(c->request, "retain", true);
        if (!reply) {
                request_end(c);
                return client_enqueue(c);
        }
        return call_u64(c, id, "seq", ret_seq);
}

SB_EXPORT int sb_subscribe(sb_client *c, const char *pattern, unsigned flags, sb_event_fn fn, void *userdata,
                           uint64_t *ret_id) {
        uint64_t id, sub = 0;
        int r;

        r = check_text(c, pattern, "a pattern must be UTF-8 text");
        if (r < 0)
                return r;
        request_begin(c, "subscribe", true, &id);
        json_append_member(c->request, "pattern", pattern);
        if (flags & SB_WITH_RETAINED)
                json_append_bool(c->request, "with_retained", true);
        if (flags & SB_COMPACT)
                json_append_bool(c->request, "compact", true);
        r = call_u64(c, id, "id", &sub);
        if (r < 0)
                return r;
        /* Its first messages come after the answer: they are dispatched by a later sb_process(). */
        listener_add(c, sub, fn, userdata);
        if (ret_id)
                *ret_id = sub;
        return 0;
}

SB_EXPORT int sb_unsubscribe(sb_client *c, uint64_t id) {
        int r = by_id(c, "unsubscribe", "id", id);

        if (r >= 0)
                g_hash_table_remove(c->listeners, &id);
        return r;
}

SB_EXPORT int sb_get(sb_client *c, const char *key, void **ret_data, size_t *ret_size, uint64_t *ret_revision) {
        Answer *a;
        uint64_t id, revision;
        int r;

        r = check_text(c, key, "a key must be UTF-8 text");
        if (r < 0)
                return r;
        request_begin(c, "get", true, &id);
        json_append_member(c->request, "key", key);
        r = call_answer(c, id, 0, &a);
        if (r < 0)
                return r;
        if (answer_u64(a, "revision", &revision) < 0)
                return client_fail(c, -EBADMSG, "the hub's answer lacks the revision");
        r = answer_bytes(c, a, "value", ret_data, ret_size);
        if (r < 0)
                return client_fail(c, r, "the hub's answer lacks the value");
        if (ret_revision)
                *ret_revision = revision;
        return 0;
}

static int set(sb_client *c, const char *method, const char *key, const void *data, size_t size, bool cas,
               uint64_t expected, uint64_t *ret_revision) {
        uint64_t id;
        int r;

        r = check_text(c, key, "a key must be UTF-8 text");
        if (r < 0)
                return r;
        request_begin(c, method, true, &id);
        json_append_member(c->request, "key", key);
        json_append_bytes(c->request, "value", data, size);
        if (cas)
                json_append_u64(c->request, "expected_revision", expected);
        return call_u64(c, id, "revision", ret_revision);
}

SB_EXPORT int sb_set(sb_client *c, const char *key, const void *data, size_t size, uint64_t *ret_revision) {
        return set(c, "set", key, data, size, false, 0, ret_revision);
}

SB_EXPORT int sb_set_if(sb_client *c, const char *key, const void *data, size_t size, uint64_t expected_revision,
                        uint64_t *ret_revision) {
        return set(c, "set_if", key, data, size, true, expected_revision, ret_revision);
}

SB_EXPORT int sb_delete(sb_client *c, const char *key) {
        Answer *a;
        uint64_t id;
        int r, existed;

        r = check_text(c, key, "a key must be UTF-8 text");
        if (r < 0)
                return r;
        request_begin(c, "delete", true, &id);
        json_append_member(c->request, "key", key);
        r = call_answer(c, id, 0, &a);
        if (r < 0)
                return r;
        existed = answer_member(a, "existed");
        return existed >= 0 && json_token(a->jp, existed)->type == JSON_BOOL && json_token(a->jp, existed)->boolean;
}

SB_EXPORT int sb_watch(sb_client *c, const char *prefix, sb_event_fn fn, void *userdata, uint64_t *ret_id) {
        uint64_t w = 0;
        int r = simple(c, "watch", "prefix", prefix ?: "", &w);

        if (r < 0)
                return r;
        listener_add(c, w, fn, userdata);
        if (ret_id)
                *ret_id = w;
        return 0;
}

SB_EXPORT int sb_unwatch(sb_client *c, uint64_t id) {
        int r = by_id(c, "unwatch", "id", id);

        if (r >= 0)
                g_hash_table_remove(c->listeners, &id);
        return r;
}

SB_EXPORT int sb_push(sb_client *c, const char *queue, const void *data, size_t size, uint64_t delay_ms,
                      uint64_t *ret_id) {
        uint64_t id;
        int r;

        r = check_text(c, queue, "a queue name must be UTF-8 text");
        if (r < 0)
                return r;
        request_begin(c, "push", true, &id);
        json_append_member(c->request, "queue", queue);
        json_append_bytes(c->request, "payload", data, size);
        if (delay_ms)
                json_append_u64(c->request, "delay_ms", delay_ms);
        return call_u64(c, id, "id", ret_id);
}

/* reserve, or ack_next when @ack is not NULL: the job into @ret. */
static int reserve(sb_client *c, const uint64_t *ack, const char *queue, uint64_t timeout_ms, uint64_t visibility_ms,
                   sb_job *ret) {
        g_autofree char *name = NULL;
        void *data = NULL;
        Answer *a;
        uint64_t id, job, attempts = 0;
        size_t size;
        int r;

        r = check_text(c, queue, "a queue name must be UTF-8 text");
        if (r < 0)
                return r;
        request_begin(c, ack ? "ack_next" : "reserve", true, &id);
        if (ack)
                json_append_u64(c->request, "ack", *ack);
        json_append_member(c->request, "queue", queue);
        if (timeout_ms)
                json_append_u64(c->request, "timeout_ms", timeout_ms);
        if (visibility_ms)
                json_append_u64(c->request, "visibility_ms", visibility_ms);
        r = call_answer(c, id, (int) MIN(timeout_ms, (uint64_t) G_MAXINT / 2), &a);
        if (r < 0)
                return r;
        if (answer_u64(a, "id", &job) < 0 || answer_text(a, "queue", &name) < 0)
                return client_fail(c, -EBADMSG, "the hub's answer lacks the job");
        (void) answer_u64(a, "attempts", &attempts);
        r = answer_bytes(c, a, "payload", ret ? &data : NULL, &size);
        if (r < 0)
                return client_fail(c, r, "the hub's answer lacks the payload");
        if (ret)
                *ret = (sb_job) {
                        .id = job,
                        .queue = g_steal_pointer(&name),
                        .data = data,
                        .size = size,
                        .attempts = (uint32_t) MIN(attempts, (uint64_t) UINT32_MAX),
                };
        return 0;
}

SB_EXPORT int sb_reserve(sb_client *c, const char *queue, uint64_t timeout_ms, uint64_t visibility_ms, sb_job *ret) {
        return reserve(c, NULL, queue, timeout_ms, visibility_ms, ret);
}

SB_EXPORT int sb_ack_next(sb_client *c, uint64_t job, const char *queue, uint64_t timeout_ms, uint64_t visibility_ms,
                          sb_job *ret) {
        return reserve(c, &job, queue, timeout_ms, visibility_ms, ret);
}

SB_EXPORT void sb_job_clear(sb_job *job) {
        if (!job)
                return;
        free(job->queue);
        free(job->data);
        *job = (sb_job) {};
}

SB_EXPORT int sb_ack(sb_client *c, uint64_t job) {
        return by_id(c, "ack", "id", job);
}

SB_EXPORT int sb_nack(sb_client *c, uint64_t job, uint64_t delay_ms) {
        uint64_t id;

        request_begin(c, "nack", true, &id);
        json_append_u64(c->request, "id", job);
        if (delay_ms)
                json_append_u64(c->request, "delay_ms", delay_ms);
        return call_u64(c, id, NULL, NULL);
}

/* Begin a "call" request in c->request; its id in @ret_id. */
static int call_begin(sb_client *c, const char *name, const void *data, size_t size, uint64_t timeout_ms,
                      uint64_t *ret_id) {
        int r;

        r = check_text(c, name, "a name must be UTF-8 text");
        if (r < 0)
                return r;
        request_begin(c, "call", true, ret_id);
        json_append_member(c->request, "name", name);
        json_append_bytes(c->request, "payload", data, size);
        if (timeout_ms)
                json_append_u64(c->request, "timeout_ms", timeout_ms);
        return 0;
}

SB_EXPORT int sb_call(sb_client *c, const char *name, const void *data, size_t size, uint64_t timeout_ms,
                      void **ret_data, size_t *ret_size) {
        Answer *a;
        uint64_t id;
        int r;

        r = call_begin(c, name, data, size, timeout_ms, &id);
        if (r < 0)
                return r;
        r = call_answer(c, id, (int) MIN(timeout_ms ?: 300 * 1000, (uint64_t) G_MAXINT / 2), &a);
        if (r < 0)
                return r;
        r = answer_bytes(c, a, "payload", ret_data, ret_size);
        return r < 0 ? client_fail(c, r, "the hub's answer lacks the payload") : 0;
}

/**
 * sb_call_async() - call the served @name with @data and return at once
 *
 * As sb_call(), but @fn gets the reply from a later sb_process(): @error 0
 * and the reply's bytes, decoded (text or base64 alike; they live until @fn
 * returns), or a negative errno as sb_call() returns them (the hub's error
 * in sb_error_name() during the callback; -ECONNRESET when the hub closed).
 * The request is written by sb_process() or sb_flush(), or at once when the
 * output buffer is full.
 *
 * Return: 0, -EINVAL (not UTF-8), -ENOTCONN, or another -errno of writing.
 */
SB_EXPORT int sb_call_async(sb_client *c, const char *name, const void *data, size_t size, uint64_t timeout_ms,
                            sb_call_fn fn, void *userdata) {
        uint64_t id;
        int r;

        r = call_begin(c, name, data, size, timeout_ms, &id);
        if (r < 0)
                return r;
        request_end(c);
        r = client_enqueue(c);
        if (r < 0)
                return r;
        pending_add(c, id, &(Pending) { .call_fn = fn, .userdata = userdata });
        return 0;
}

SB_EXPORT int sb_serve(sb_client *c, const char *name, sb_event_fn fn, void *userdata) {
        Listener *l;
        int r = simple(c, "serve", "name", name, NULL);

        if (r < 0)
                return r;
        l = g_new(Listener, 1);
        *l = (Listener) { fn, userdata };
        g_hash_table_insert(c->served, g_strdup(name), l);
        return 0;
}

SB_EXPORT int sb_unserve(sb_client *c, const char *name) {
        int r = simple(c, "unserve", "name", name, NULL);

        if (r >= 0)
                g_hash_table_remove(c->served, name);
        return r;
}

SB_EXPORT int sb_reply(sb_client *c, uint64_t call_id, const void *data, size_t size) {
        request_begin(c, "reply", false, NULL);
        json_append_u64(c->request, "id", call_id);
        json_append_bytes(c->request, "payload", data, size);
        request_end(c);
        return client_enqueue(c);
}

SB_EXPORT int sb_reply_error(sb_client *c, uint64_t call_id, const char *name, const char *message) {
        int r;

        r = check_text(c, message ?: "", "a message must be UTF-8 text");
        if (r >= 0 && name)
                r = check_text(c, name, "an error name must be UTF-8 text");
        if (r < 0)
                return r;
        request_begin(c, "reply_error", false, NULL);
        json_append_u64(c->request, "id", call_id);
        json_append_member(c->request, "message", message ?: "");
        if (name)
                json_append_member(c->request, "name", name);
        request_end(c);
        return client_enqueue(c);
}

SB_EXPORT int sb_info(sb_client *c, char **ret_json) {
        return sb_request(c, "hub.info", NULL, ret_json);
}

SB_EXPORT int sb_monitor(sb_client *c, sb_event_fn fn, void *userdata, uint64_t *ret_id) {
        uint64_t id, m = 0;
        int r;

        request_begin(c, "monitor", true, &id);
        r = call_u64(c, id, "id", &m);
        if (r < 0)
                return r;
        listener_add(c, m, fn, userdata);
        if (ret_id)
                *ret_id = m;
        return 0;
}

SB_EXPORT int sb_unmonitor(sb_client *c, uint64_t id) {
        int r = by_id(c, "unmonitor", "id", id);

        if (r >= 0)
                g_hash_table_remove(c->listeners, &id);
        return r;
}
