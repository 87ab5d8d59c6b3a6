/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ops-handlers.c: the core handler of every operation of the interface
 * XML, one each, shared by every face. A handler calls the core (hub.h),
 * fills the results its descriptor names, and explains a failure with
 * op_fail(). Durations arrive in milliseconds; the core counts usec.
 */
#include <errno.h>
#include <limits.h>

#include "build-config.h"
#include "core/errors.h"
#include "ops/ops.h"

/* Milliseconds to usec, saturating: the core refuses what is too long. */
static uint64_t msec(uint64_t ms) {
        return ms > UINT64_MAX / 1000 ? UINT64_MAX : ms * 1000;
}

/* Topics */

int op_publish(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_publish(call->hub, call->client, in->topic, in->payload.data, in->payload.len, in->retain,
                            &out->seq);

        return r < 0 ? op_fail(call, r, HUB_ARG_TOPIC, in->topic, in->payload.len) : 0;
}

int op_report_gap(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_report_gap(call->hub, in->topic, in->count, &out->first_seq, &out->last_seq);

        return r < 0 ? op_fail(call, r, HUB_ARG_TOPIC, in->topic, 0) : 0;
}

int op_clear_retained(OpCall *call, const OpArgs *in, OpResult *out) {
        unsigned n = 0;
        int r = hub_clear_retained(call->hub, in->pattern, &n);

        out->count = n;
        return r < 0 ? op_fail(call, r, HUB_ARG_PATTERN, in->pattern, 0) : 0;
}

int op_subscribe(OpCall *call, const OpArgs *in, OpResult *out) {
        /* Retained values follow the answer (op_call_done()), so the id is known before they come. */
        int r = hub_subscribe(call->hub, call->client, in->pattern, false, &out->id);

        if (r < 0)
                return op_fail(call, r, HUB_ARG_PATTERN, in->pattern, 0);
        if (in->compact)
                (void) hub_subscription_set_compact(call->hub, call->client, out->id, true);
        if (in->with_retained)
                call->replay_id = out->id;
        return 0;
}

int op_unsubscribe(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_unsubscribe(call->hub, call->client, in->id);

        return r < 0 ? op_fail_id(call, r, HUB_ARG_SUBSCRIPTION, in->id, 0) : 0;
}

/* Store */

int op_get(OpCall *call, const OpArgs *in, OpResult *out) {
        StoreEntry e;
        int r = hub_get(call->hub, in->key, &e);

        if (r < 0)
                return op_fail(call, r, HUB_ARG_KEY, in->key, 0);
        out->value = (OpBytes) { e.value, e.value_len };
        out->revision = e.revision;
        return 0;
}

/* Who a writer was, as the kernel or the bus said: what is known of it. */
static GVariant *writer_dict(const ClientInfo *w) {
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        if (w) {
                g_variant_builder_add(&b, "{sv}", "transport", g_variant_new_string(w->transport));
                g_variant_builder_add(&b, "{sv}", "client", g_variant_new_uint64(w->id));
                if (w->uid != (uid_t) -1)
                        g_variant_builder_add(&b, "{sv}", "uid", g_variant_new_uint32(w->uid));
                if (w->pid > 0)
                        g_variant_builder_add(&b, "{sv}", "pid", g_variant_new_uint32((uint32_t) w->pid));
                if (w->name)
                        g_variant_builder_add(&b, "{sv}", "name", g_variant_new_string(w->name));
                if (w->address)
                        g_variant_builder_add(&b, "{sv}", "address", g_variant_new_string(w->address));
        }
        return g_variant_ref_sink(g_variant_builder_end(&b));
}

int op_stat(OpCall *call, const OpArgs *in, OpResult *out) {
        StoreEntry e;
        int r = hub_get(call->hub, in->key, &e);

        if (r < 0)
                return op_fail(call, r, HUB_ARG_KEY, in->key, 0);
        out->revision = e.revision;
        out->size = e.value_len;
        out->modified = e.modified;
        out->writer = writer_dict(e.writer);
        return 0;
}

int op_set(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_set(call->hub, call->client, in->key, in->value.data, in->value.len, &out->revision);

        return r < 0 ? op_fail(call, r, HUB_ARG_KEY, in->key, in->value.len) : 0;
}

int op_set_if(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_set_if(call->hub, call->client, in->key, in->value.data, in->value.len,
                           in->expected_revision, &out->revision);

        return r < 0 ? op_fail(call, r, HUB_ARG_KEY, in->key, in->value.len) : 0;
}

int op_delete(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_delete(call->hub, call->client, in->key, &out->existed);

        return r < 0 ? op_fail(call, r, HUB_ARG_KEY, in->key, 0) : 0;
}

int op_list(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_list(call->hub, in->prefix, &out->entries);

        return r < 0 ? op_fail(call, r, HUB_ARG_PREFIX, in->prefix, 0) : 0;
}

int op_watch(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_watch(call->hub, call->client, in->prefix, &out->id);

        return r < 0 ? op_fail(call, r, HUB_ARG_PREFIX, in->prefix, 0) : 0;
}

int op_unwatch(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_unwatch(call->hub, call->client, in->id);

        return r < 0 ? op_fail_id(call, r, HUB_ARG_WATCH, in->id, 0) : 0;
}

/* Queues */

static void job_result(const JobInfo *job, OpResult *out) {
        out->id = job->id;
        out->payload = (OpBytes) { job->payload, job->len };
        out->attempts = job->attempts;
}

int op_push(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_push(call->hub, call->client, in->queue, in->payload.data, in->payload.len,
                         msec(in->delay_ms), &out->id);

        return r < 0 ? op_fail(call, r, HUB_ARG_QUEUE, in->queue, in->payload.len) : 0;
}

/*
 * Reserve the next job of @queue for @call, now into @out or later
 * (call->deferred); first ack the job *@ack, when not NULL.
 */
static int reserve_job(OpCall *call, const uint64_t *ack, const char *queue, uint32_t timeout_ms,
                       uint32_t visibility_ms, OpResult *out) {
        uint64_t wait_id;
        JobInfo job;
        int r;

        /* Where nothing can answer later, a reserve does not wait. */
        if (!call->can_defer)
                timeout_ms = 0;
        if (call->max_wait_ms > 0 && timeout_ms > call->max_wait_ms)
                return op_fail_name(call, "LimitExceeded", "Reserve waits at most %u ms here; call again to wait "
                                    "longer.", call->max_wait_ms);
        if (ack)
                r = hub_ack_next(call->hub, call->client, *ack, queue, msec(timeout_ms), msec(visibility_ms), &job,
                                 &wait_id);
        else
                r = hub_reserve(call->hub, call->client, queue, msec(timeout_ms), msec(visibility_ms), &job,
                                &wait_id);
        if (r == -ENOENT && ack)
                return op_fail_id(call, r, HUB_ARG_JOB, *ack, 0);
        if (r < 0)
                return op_fail(call, r, HUB_ARG_QUEUE, queue, 0);
        if (r == 0) {
                call->deferred = op_answer_key(ENVELOPE_JOB, wait_id);
                return 0;
        }
        job_result(&job, out);
        return 0;
}

int op_reserve(OpCall *call, const OpArgs *in, OpResult *out) {
        return reserve_job(call, NULL, in->queue, in->timeout_ms, in->visibility_ms, out);
}

int op_ack_next(OpCall *call, const OpArgs *in, OpResult *out) {
        return reserve_job(call, &in->ack, in->queue, in->timeout_ms, in->visibility_ms, out);
}

int op_ack(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_ack(call->hub, call->client, in->id);

        return r < 0 ? op_fail_id(call, r, HUB_ARG_JOB, in->id, 0) : 0;
}

int op_nack(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_nack(call->hub, call->client, in->id, msec(in->delay_ms));

        /* -ERANGE is about the delay, which queues limit. */
        return r < 0 ? op_fail_id(call, r, r == -ERANGE ? HUB_ARG_QUEUE : HUB_ARG_JOB, in->id, 0) : 0;
}

int op_touch(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_touch(call->hub, call->client, in->id);

        return r < 0 ? op_fail_id(call, r, HUB_ARG_JOB, in->id, 0) : 0;
}

int op_kick(OpCall *call, const OpArgs *in, OpResult *out) {
        unsigned n = 0;
        int r = hub_kick(call->hub, in->queue, in->max, &n);

        out->count = n;
        return r < 0 ? op_fail(call, r, HUB_ARG_QUEUE, in->queue, 0) : 0;
}

int op_peek(OpCall *call, const OpArgs *in, OpResult *out) {
        JobInfo job;
        int r = hub_peek(call->hub, in->queue, &job);

        if (r < 0)
                return op_fail(call, r, HUB_ARG_QUEUE, in->queue, 0);
        job_result(&job, out);
        return 0;
}

int op_purge(OpCall *call, const OpArgs *in, OpResult *out) {
        unsigned n = 0;
        int r = hub_purge(call->hub, in->queue, &n);

        out->count = n;
        return r < 0 ? op_fail(call, r, HUB_ARG_QUEUE, in->queue, 0) : 0;
}

int op_list_queues(OpCall *call, const OpArgs *in, OpResult *out) {
        out->queues = hub_list_queues(call->hub);
        return 0;
}

/* Request/reply */

int op_call(OpCall *call, const OpArgs *in, OpResult *out) {
        uint64_t id;
        int r;

        if (!call->can_defer)
                return op_fail_name(call, "LimitExceeded", "A call cannot be answered here: use a connection "
                                    "that reads its answers.");
        r = hub_call(call->hub, call->client, in->name, in->payload.data, in->payload.len, msec(in->timeout_ms),
                     &id);
        if (r < 0)
                return op_fail(call, r, HUB_ARG_SERVICE, in->name, in->payload.len);
        /* A server that could not take it has answered already; otherwise the answer comes later. */
        if (!hub_call_pending(call->hub, id))
                return op_fail_name(call, "ServerGone", "The server could not take the request.");
        call->deferred = op_answer_key(ENVELOPE_REPLY, id);
        return 0;
}

int op_serve(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_serve(call->hub, call->client, in->name);

        return r < 0 ? op_fail(call, r, HUB_ARG_SERVICE, in->name, 0) : 0;
}

int op_unserve(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_unserve(call->hub, call->client, in->name);

        return r < 0 ? op_fail(call, r, HUB_ARG_SERVICE, in->name, 0) : 0;
}

int op_reply(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_reply(call->hub, call->client, in->id, in->payload.data, in->payload.len);

        return r < 0 ? op_fail_id(call, r, HUB_ARG_CALL, in->id, in->payload.len) : 0;
}

int op_reply_error(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_reply_error(call->hub, call->client, in->id, in->name, in->code, in->message);

        return r < 0 ? op_fail_id(call, r, HUB_ARG_CALL, in->id, 0) : 0;
}

/* Monitors and what `top` shows */

int op_monitor(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_monitor(call->hub, call->client, &out->id);

        return r < 0 ? op_fail(call, r, HUB_ARG_MONITOR, "", 0) : 0;
}

int op_unmonitor(OpCall *call, const OpArgs *in, OpResult *out) {
        int r = hub_unmonitor(call->hub, call->client, in->id);

        return r < 0 ? op_fail_id(call, r, HUB_ARG_MONITOR, in->id, 0) : 0;
}

int op_list_clients(OpCall *call, const OpArgs *in, OpResult *out) {
        out->clients = hub_list_clients(call->hub);
        return 0;
}

int op_list_topics(OpCall *call, const OpArgs *in, OpResult *out) {
        out->topics = hub_list_topics(call->hub);
        return 0;
}

int op_list_services(OpCall *call, const OpArgs *in, OpResult *out) {
        out->services = hub_list_service_rows(call->hub);
        return 0;
}

/* Hub */

static GVariant *named_counts(GArray *a, size_t name_offset, size_t count_offset, size_t size) {
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a{su}"));
        for (guint i = 0; a && i < a->len; i++) {
                const char *row = a->data + i * size;

                g_variant_builder_add(&b, "{su}", *(const char *const *) (row + name_offset),
                                      *(const unsigned *) (row + count_offset));
        }
        return g_variant_builder_end(&b);
}

static GVariant *clients_by_transport(Hub *h) {
        g_autoptr(GHashTable) by = hub_get_clients_by_transport(h);
        GVariantBuilder b;
        GHashTableIter it;
        gpointer k, v;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a{su}"));
        g_hash_table_iter_init(&it, by);
        while (g_hash_table_iter_next(&it, &k, &v))
                g_variant_builder_add(&b, "{su}", (const char *) k, GPOINTER_TO_UINT(v));
        return g_variant_builder_end(&b);
}

static GVariant *limits(Hub *h) {
        const HubLimits *l = hub_get_limits(h);
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a{st}"));
        g_variant_builder_add(&b, "{st}", "max-topic-length", (uint64_t) l->max_topic_length);
        g_variant_builder_add(&b, "{st}", "max-topic-tokens", (uint64_t) l->max_topic_tokens);
        g_variant_builder_add(&b, "{st}", "max-payload", (uint64_t) l->max_payload);
        g_variant_builder_add(&b, "{st}", "max-key-length", (uint64_t) l->max_key_length);
        g_variant_builder_add(&b, "{st}", "max-value", (uint64_t) l->max_value);
        g_variant_builder_add(&b, "{st}", "max-subscriptions", (uint64_t) l->max_subscriptions);
        g_variant_builder_add(&b, "{st}", "max-watches", (uint64_t) l->max_watches);
        g_variant_builder_add(&b, "{st}", "max-retained", (uint64_t) l->max_retained);
        g_variant_builder_add(&b, "{st}", "max-keys", (uint64_t) l->max_keys);
        g_variant_builder_add(&b, "{st}", "max-clients", (uint64_t) l->max_clients);
        g_variant_builder_add(&b, "{st}", "max-queues", (uint64_t) l->max_queues);
        g_variant_builder_add(&b, "{st}", "max-jobs", (uint64_t) l->max_jobs);
        g_variant_builder_add(&b, "{st}", "max-reservations", (uint64_t) l->max_reservations);
        g_variant_builder_add(&b, "{st}", "max-attempts", (uint64_t) l->max_attempts);
        return g_variant_builder_end(&b);
}

/**
 * op_info_dict() - the hub's facts as a{sv}: hub.info, GetInfo and the
 * D-Bus properties (each property is one entry, named by its Info key)
 * @caller: who asks (hub.info, GetInfo): "client_id" says its own client id,
 *          the one the hub puts in its messages' sender; NULL for properties
 */
GVariant *op_info_dict(Hub *h, const Client *caller) {
        const HubCounters *n = hub_get_counters(h);
        g_autoptr(GArray) services = hub_list_services(h);
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "version", g_variant_new_string(PACKAGE_VERSION));
        g_variant_builder_add(&b, "{sv}", "start_time", g_variant_new_uint64(hub_get_start_time(h)));
        g_variant_builder_add(&b, "{sv}", "clients", g_variant_new_uint32(hub_get_n_clients(h)));
        g_variant_builder_add(&b, "{sv}", "subscriptions", g_variant_new_uint32(hub_get_n_subscriptions(h)));
        g_variant_builder_add(&b, "{sv}", "watches", g_variant_new_uint32(hub_get_n_watches(h)));
        g_variant_builder_add(&b, "{sv}", "topics", g_variant_new_uint32(hub_get_n_retained(h)));
        g_variant_builder_add(&b, "{sv}", "keys", g_variant_new_uint32(hub_get_n_keys(h)));
        g_variant_builder_add(&b, "{sv}", "queues", g_variant_new_uint32(hub_get_n_queues(h)));
        g_variant_builder_add(&b, "{sv}", "pending_calls", g_variant_new_uint32(hub_get_n_pending_calls(h)));
        g_variant_builder_add(&b, "{sv}", "calls", g_variant_new_uint64(n->calls));
        g_variant_builder_add(&b, "{sv}", "late_replies", g_variant_new_uint64(n->late_replies));
        g_variant_builder_add(&b, "{sv}", "monitors", g_variant_new_uint32(hub_get_n_monitors(h)));
        g_variant_builder_add(&b, "{sv}", "messages_untracked",
                              g_variant_new_uint64(hub_get_untracked_published(h)));
        g_variant_builder_add(&b, "{sv}", "messages_published", g_variant_new_uint64(n->published));
        g_variant_builder_add(&b, "{sv}", "messages_delivered", g_variant_new_uint64(n->delivered));
        g_variant_builder_add(&b, "{sv}", "messages_dropped", g_variant_new_uint64(n->dropped));
        g_variant_builder_add(&b, "{sv}", "store_changes", g_variant_new_uint64(n->store_changes));
        g_variant_builder_add(&b, "{sv}", "clients_by_transport", clients_by_transport(h));
        g_variant_builder_add(&b, "{sv}", "services",
                              named_counts(services, offsetof(ServiceInfo, name), offsetof(ServiceInfo, servers),
                                           sizeof(ServiceInfo)));
        g_variant_builder_add(&b, "{sv}", "limits", limits(h));
        if (caller)
                g_variant_builder_add(&b, "{sv}", "client_id", g_variant_new_uint64(caller->info.id));
        hub_info_extend(h, &b);
        return g_variant_ref_sink(g_variant_builder_end(&b));
}

int op_info(OpCall *call, const OpArgs *in, OpResult *out) {
        out->info = op_info_dict(call->hub, call->client);
        return 0;
}
