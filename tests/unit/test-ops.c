/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-ops.c: the op table and the ops layer, through FakeClient and a fake
 * journal: the table is consistent with itself and with the core's error
 * table; the core (not a face) decides which answers wait for the disk;
 * late answers carry a server's own error code; errors name what they are
 * about. Links ops_dep only: no libsystemd, no face.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "core/errors.h"
#include "fake-client.h"
#include "ops/ops.h"

/* A journal whose appends are durable only when the test says so. */
typedef struct FakeJournal {
        unsigned appended;
        bool pending;                   /* what was appended is not durable yet */
        GQueue waiters;                 /* HubWaiter* */
} FakeJournal;

static int fake_append(void *userdata, const JournalRecord *r) {
        FakeJournal *j = userdata;

        j->appended++;
        j->pending = true;
        return 0;
}

static bool fake_pending(void *userdata) {
        return ((FakeJournal *) userdata)->pending;
}

static void fake_wait(void *userdata, HubWaiter *w) {
        FakeJournal *j = userdata;

        w->link.data = w;
        g_queue_push_tail_link(&j->waiters, &w->link);
}

static void fake_cancel(void *userdata, HubWaiter *w) {
        FakeJournal *j = userdata;

        if (w->link.data)
                g_queue_unlink(&j->waiters, &w->link);
        w->link.data = NULL;
}

/* The disk caught up: release every waiter. */
static void fake_sync(FakeJournal *j) {
        j->pending = false;
        while (!g_queue_is_empty(&j->waiters)) {
                HubWaiter *w = j->waiters.head->data;

                fake_cancel(j, w);
                w->durable(w);
        }
}

static Hub *hub;
static FakeClient *alice, *bob;
static FakeJournal journal;

static void setup_limits(const HubLimits *limits) {
        journal = (FakeJournal) {};
        hub = test_hub_new(limits);
        hub_set_journal(hub, &(HubJournal) {
                .append = fake_append,
                .pending = fake_pending,
                .wait = fake_wait,
                .cancel = fake_cancel,
                .userdata = &journal,
        });
        alice = fake_client_new(hub, 1000);
        bob = fake_client_new(hub, 1001);
}

static void setup(void) {
        setup_limits(NULL);
}

static void teardown(void) {
        g_clear_pointer(&alice, fake_client_free);
        g_clear_pointer(&bob, fake_client_free);
        g_clear_pointer(&hub, hub_free);
}

/* Run the D-Bus member @member for @c as a face would; the disk is in sync before. */
static int invoke(const char *member, FakeClient *c, OpArgs *in, OpResult *out, OpCall *call) {
        const OpMethod *m = op_method_by_dbus(member);

        ck_assert_msg(m, "no method %s", member);
        fake_sync(&journal);
        *call = (OpCall) { .hub = hub, .client = c ? &c->client : NULL, .method = m, .can_defer = true };
        if (m->preset)
                m->preset(in);
        return op_invoke(call, in, out);
}

static OpBytes text(const char *s) {
        return (OpBytes) { s, strlen(s) };
}

/* Whether @member's answer waits for the disk, with everything it needs set up first. */
static bool waits(const char *member, OpArgs in) {
        g_auto(OpResult) out = {};
        OpCall call;

        ck_assert_int_ge(invoke(member, alice, &in, &out, &call), 0);
        op_call_clear(&call);
        return call.durable;
}

START_TEST(test_answers_wait_for_what_they_journal)
{
        g_auto(OpResult) out = {};
        OpCall call;
        uint64_t job;

        ck_assert(waits("Set", (OpArgs) { .key = "k", .value = text("v") }));
        ck_assert(waits("SetIf", (OpArgs) { .key = "k", .value = text("w"), .expected_revision = 1 }));
        ck_assert(waits("Delete", (OpArgs) { .key = "k" }));
        ck_assert(waits("PublishRetained", (OpArgs) { .topic = "a.b", .payload = text("x") }));
        ck_assert(!waits("Publish", (OpArgs) { .topic = "a.b", .payload = text("x") }));
        ck_assert(!waits("List", (OpArgs) { .prefix = "" }));
        ck_assert(waits("Push", (OpArgs) { .queue = "q", .payload = text("job") }));

        /* Reserving is not journaled; acking is. Touch only moves a deadline: it never waits. */
        ck_assert_int_ge(invoke("Reserve", alice, &(OpArgs) { .queue = "q" }, &out, &call), 0);
        ck_assert(!call.durable);
        job = out.id;
        ck_assert_uint_ne(job, 0);
        ck_assert(!waits("Touch", (OpArgs) { .id = job }));
        ck_assert(waits("Ack", (OpArgs) { .id = job }));
        ck_assert(!waits("ListQueues", (OpArgs) {}));
}
END_TEST

START_TEST(test_nothing_waits_when_the_disk_keeps_up)
{
        g_auto(OpResult) out = {};
        OpCall call;

        /* sync=never or interval: the journal says nothing is pending. */
        hub_set_journal(hub, &(HubJournal) { .append = fake_append, .userdata = &journal });
        ck_assert_int_ge(invoke("Set", alice, &(OpArgs) { .key = "k", .value = text("v") }, &out, &call), 0);
        ck_assert(!call.durable);
        ck_assert_uint_eq(journal.appended, 1);
}
END_TEST

static HubWaiter released_waiter;
static unsigned n_released;

static void on_released(HubWaiter *w) {
        ck_assert_ptr_eq(w, &released_waiter);
        n_released++;
}

START_TEST(test_durable_wait_releases_once_synced)
{
        g_auto(OpResult) out = {};
        OpCall call;

        ck_assert_int_ge(invoke("Set", alice, &(OpArgs) { .key = "k", .value = text("v") }, &out, &call), 0);
        ck_assert(call.durable);
        released_waiter = (HubWaiter) { .durable = on_released };
        n_released = 0;
        hub_durable_wait(hub, &released_waiter);
        ck_assert_uint_eq(n_released, 0);
        fake_sync(&journal);
        ck_assert_uint_eq(n_released, 1);
        /* Nothing pending: released at once. */
        hub_durable_wait(hub, &released_waiter);
        ck_assert_uint_eq(n_released, 2);
}
END_TEST

/* bob serves "svc"; alice calls it; the call id bob got. */
static uint64_t call_svc(const char *payload) {
        g_auto(OpResult) out = {};
        OpCall call;

        int r = invoke("Serve", bob, &(OpArgs) { .name = "svc" }, &out, &call);

        op_call_clear(&call);
        ck_assert(r >= 0 || r == -EEXIST);         /* serves it already */
        ck_assert_int_ge(invoke("Call", alice, &(OpArgs) { .name = "svc", .payload = text(payload) }, &out,
                                &call), 0);
        ck_assert_uint_ne(call.deferred, 0);
        ck_assert_uint_ge(fake_client_count(bob, ENVELOPE_REQUEST), 1);
        return fake_client_get(bob, bob->delivered->len - 1)->sub_id;
}

/* The answer alice's sink got, as op_answer() makes it for any face. */
static int alice_answer(OpCall *call, OpResult *out) {
        const FakeEnvelope *f = fake_client_get(alice, alice->delivered->len - 1);
        Envelope e = {
                .kind = f->kind,
                .sub_id = f->sub_id,
                .payload = g_bytes_get_data(f->payload, NULL),
                .payload_len = g_bytes_get_size(f->payload),
                .error_name = f->error_name,
                .error_code = f->error_code,
                .error_from_hub = f->error_from_hub,
                .error_message = f->error_message,
        };
        OpArgs in = {};

        ck_assert_int_eq(f->kind, ENVELOPE_REPLY);
        *call = (OpCall) { .hub = hub, .method = op_method_by_dbus("Call") };
        return op_answer(&e, call, &in, out);
}

START_TEST(test_late_answer_carries_the_server_code)
{
        g_auto(OpResult) out = {};
        OpCall answer;
        Envelope e = {
                .kind = ENVELOPE_REPLY,
                .sub_id = 7,
                .error_name = "ServerError",
                .error_from_hub = true,
                .error_code = 42,
                .error_message = "nope",
        };
        OpArgs in = {};

        /* What hub_reply_error() makes of a code without a name. */
        answer = (OpCall) { .hub = hub, .method = op_method_by_dbus("Call") };
        ck_assert_int_lt(op_answer(&e, &answer, &in, &out), 0);
        ck_assert_int_eq(answer.error.code, 42);
        ck_assert(answer.error.code_from_server);
        ck_assert_str_eq(answer.error.name, "ServerError");
        op_call_clear(&answer);

        /* A foreign name without a code: the name passes, the code is ServerError's. */
        e.error_name = "org.example.Error.Busy";
        e.error_from_hub = false;
        e.error_code = 0;
        answer = (OpCall) { .hub = hub, .method = op_method_by_dbus("Call") };
        ck_assert_int_lt(op_answer(&e, &answer, &in, &out), 0);
        ck_assert_int_eq(answer.error.code, hub_error_find("ServerError")->code);
        ck_assert_str_eq(answer.error.foreign_name, "org.example.Error.Busy");
        ck_assert(!answer.error.code_from_server);
        op_call_clear(&answer);
}
END_TEST

/* A socket server's reply_error with a code of its own and no name reaches the caller with that code. */
START_TEST(test_reply_error_end_to_end)
{
        g_auto(OpResult) out = {};
        OpCall call, answer;
        uint64_t id = call_svc("hi");

        ck_assert_int_ge(invoke("ReplyError", bob, &(OpArgs) { .id = id, .code = 42, .message = "nope" }, &out,
                                &call), 0);
        ck_assert_int_lt(alice_answer(&answer, &out), 0);
        ck_assert_int_eq(answer.error.code, 42);
        ck_assert_str_eq(answer.error.message, "nope");
        op_call_clear(&answer);

        /* And a reply. */
        id = call_svc("again");
        ck_assert_int_ge(invoke("Reply", bob, &(OpArgs) { .id = id, .payload = text("sunny") }, &out, &call), 0);
        ck_assert_int_ge(alice_answer(&answer, &out), 0);
        ck_assert_uint_eq(out.payload.len, 5);
        ck_assert_int_eq(memcmp(out.payload.data, "sunny", 5), 0);
}
END_TEST

START_TEST(test_reply_over_the_limit_names_the_reply)
{
        HubLimits l;
        g_auto(OpResult) out = {};
        OpCall call;
        uint64_t id;

        teardown();
        hub_limits_default(&l);
        l.max_payload = 8;
        setup_limits(&l);
        id = call_svc("hi");
        ck_assert_int_lt(invoke("Reply", bob, &(OpArgs) { .id = id, .payload = text("far too long a reply") },
                                &out, &call), 0);
        ck_assert_str_eq(call.error.name, "LimitExceeded");
        ck_assert_msg(strstr(call.error.message, "Reply of 20 bytes to call") != NULL, "%s", call.error.message);
        ck_assert_ptr_null(strstr(call.error.message, "topic"));
        op_call_clear(&call);
}
END_TEST

START_TEST(test_reserve_waits_only_where_it_can)
{
        g_auto(OpResult) out = {};
        OpCall call;

        /* A face that cannot answer later (the FIFO): no wait, NoJob at once. */
        call = (OpCall) { .hub = hub, .client = &alice->client, .method = op_method_by_dbus("Reserve") };
        ck_assert_int_lt(op_invoke(&call, &(OpArgs) { .queue = "q", .timeout_ms = 1000 }, &out), 0);
        ck_assert_str_eq(call.error.name, "NoJob");
        op_call_clear(&call);

        /* A face's own longest wait. */
        call = (OpCall) { .hub = hub, .client = &alice->client, .method = op_method_by_dbus("Reserve"),
                          .can_defer = true, .max_wait_ms = 500 };
        ck_assert_int_lt(op_invoke(&call, &(OpArgs) { .queue = "q", .timeout_ms = 1000 }, &out), 0);
        ck_assert_str_eq(call.error.name, "LimitExceeded");
        op_call_clear(&call);

        /* Where it can: deferred under its own key. */
        ck_assert_int_ge(invoke("Reserve", alice, &(OpArgs) { .queue = "q", .timeout_ms = 1000 }, &out, &call), 0);
        ck_assert_uint_ne(call.deferred, 0);
        ck_assert_uint_eq(call.deferred & 1, 0);
}
END_TEST

static uint64_t fake_clock_usec = 1234567;

static uint64_t fake_now(void *userdata) {
        return fake_clock_usec;
}

START_TEST(test_stat_names_the_writer)
{
        g_auto(OpResult) out = {};
        OpCall call;
        uint32_t uid = 0;
        const char *transport = NULL;

        hub_set_clock(hub, fake_now, NULL);
        ck_assert_int_ge(invoke("Set", alice, &(OpArgs) { .key = "k", .value = text("four") }, &out, &call), 0);
        ck_assert_int_ge(invoke("Stat", NULL, &(OpArgs) { .key = "k" }, &out, &call), 0);
        ck_assert_uint_eq(out.revision, 1);
        ck_assert_uint_eq(out.size, 4);
        ck_assert_uint_eq(out.modified, 1234567);
        ck_assert(g_variant_lookup(out.writer, "transport", "&s", &transport));
        ck_assert_str_eq(transport, "fake");
        ck_assert(g_variant_lookup(out.writer, "uid", "u", &uid));
        ck_assert_uint_eq(uid, 1000);
        op_result_clear(&out);

        /* What the journal brings back has no writer. */
        ck_assert_int_ge(hub_replay(hub, &(JournalRecord) { .type = RECORD_SET, .name = "k", .data = "x", .len = 1,
                                                           .a = 9 }), 0);
        ck_assert_int_ge(invoke("Stat", NULL, &(OpArgs) { .key = "k" }, &out, &call), 0);
        ck_assert_uint_eq(out.modified, 0);
        ck_assert_uint_eq(g_variant_n_children(out.writer), 0);
        ck_assert_int_lt(invoke("Stat", NULL, &(OpArgs) { .key = "none" }, &out, &call), 0);
        ck_assert_str_eq(call.error.name, "NotFound");
        op_call_clear(&call);
}
END_TEST

/* The traffic events @f got, as "event name id" lines. */
static char *traffic_of(FakeClient *f) {
        GString *s = g_string_new(NULL);

        for (unsigned i = 0; i < f->delivered->len; i++) {
                const FakeEnvelope *e = fake_client_get(f, i);

                if (e->kind == ENVELOPE_TRAFFIC)
                        g_string_append_printf(s, "%s%s %s %" G_GUINT64_FORMAT, s->len ? ", " : "", e->event,
                                               e->topic, e->object_id);
        }
        return g_string_free(s, FALSE);
}

START_TEST(test_monitor_sees_queue_and_call_traffic)
{
        g_autoptr(FakeClient) carol = fake_client_new(hub, 1002);
        g_auto(OpResult) out = {};
        g_autofree char *seen = NULL;
        const FakeEnvelope *e;
        uint64_t monitor, job, id;
        OpCall call;

        ck_assert_int_ge(invoke("Monitor", carol, &(OpArgs) {}, &out, &call), 0);
        monitor = out.id;
        ck_assert_uint_ne(monitor, 0);

        ck_assert_int_ge(invoke("Push", alice, &(OpArgs) { .queue = "q", .payload = text("job") }, &out, &call), 0);
        job = out.id;
        ck_assert_int_ge(invoke("Reserve", bob, &(OpArgs) { .queue = "q" }, &out, &call), 0);
        ck_assert_int_ge(invoke("Nack", bob, &(OpArgs) { .id = job }, &out, &call), 0);
        ck_assert_int_ge(invoke("Reserve", bob, &(OpArgs) { .queue = "q" }, &out, &call), 0);
        ck_assert_int_ge(invoke("Ack", bob, &(OpArgs) { .id = job }, &out, &call), 0);
        id = call_svc("hi");
        ck_assert_int_ge(invoke("Reply", bob, &(OpArgs) { .id = id, .payload = text("ho") }, &out, &call), 0);
        ck_assert_int_lt(invoke("Call", alice, &(OpArgs) { .name = "none", .payload = text("x") }, &out, &call), 0);
        op_call_clear(&call);

        seen = traffic_of(carol);
        ck_assert_str_eq(seen, "push q 1, reserve q 1, nack q 1, reserve q 1, ack q 1, call svc 1, reply svc 1, "
                               "no_server none 0");

        /* Each with its sender and the monitor's id; the push and the call with their payload. */
        e = fake_client_get(carol, 0);
        ck_assert_uint_eq(e->sub_id, monitor);
        ck_assert(e->has_sender);
        ck_assert_uint_eq(e->sender_uid, 1000);
        ck_assert(fake_envelope_payload_is(e, "job"));
        e = fake_client_get(carol, 3);
        ck_assert_uint_eq(e->sender_uid, 1001);
        ck_assert_uint_eq(e->attempts, 2);
        ck_assert(fake_envelope_payload_is(fake_client_get(carol, 5), "hi"));
        ck_assert_str_eq(fake_client_get(carol, 7)->error_name, "NoServer");

        /* Unmonitor: nothing more; another client's id is not ours to end. */
        ck_assert_int_lt(invoke("Unmonitor", alice, &(OpArgs) { .id = monitor }, &out, &call), 0);
        ck_assert_str_eq(call.error.name, "NotFound");
        op_call_clear(&call);
        ck_assert_int_ge(invoke("Unmonitor", carol, &(OpArgs) { .id = monitor }, &out, &call), 0);
        ck_assert_int_ge(invoke("Push", alice, &(OpArgs) { .queue = "q", .payload = text("more") }, &out, &call), 0);
        ck_assert_uint_eq(fake_client_count(carol, ENVELOPE_TRAFFIC), 8);
}
END_TEST

START_TEST(test_monitor_sees_dead_letters_and_timeouts)
{
        HubLimits l;
        g_autoptr(FakeClient) carol = NULL;
        g_auto(OpResult) out = {};
        g_autofree char *seen = NULL;
        OpCall call;
        uint64_t job;

        teardown();
        hub_limits_default(&l);
        l.max_attempts = 1;
        setup_limits(&l);
        carol = fake_client_new(hub, 1002);
        hub_set_clock(hub, fake_now, NULL);
        ck_assert_int_ge(invoke("Monitor", carol, &(OpArgs) {}, &out, &call), 0);
        ck_assert_int_ge(invoke("Push", alice, &(OpArgs) { .queue = "q", .payload = text("job") }, &out, &call), 0);
        job = out.id;
        ck_assert_int_ge(invoke("Reserve", bob, &(OpArgs) { .queue = "q" }, &out, &call), 0);
        ck_assert_int_ge(invoke("Nack", bob, &(OpArgs) { .id = job }, &out, &call), 0);
        (void) call_svc("hi");
        fake_clock_usec += 400 * G_USEC_PER_SEC;
        hub_run_timers(hub);

        seen = traffic_of(carol);
        ck_assert_str_eq(seen, "push q 1, reserve q 1, nack q 1, dead q 1, call svc 1, timeout svc 1");
}
END_TEST

START_TEST(test_top_lists_clients_topics_and_services)
{
        g_auto(OpResult) out = {};
        const ClientRow *c;
        const TopicRow *t;
        const ServiceRow *s;
        OpCall call;
        uint64_t id;

        hub_set_clock(hub, fake_now, NULL);
        ck_assert_int_ge(invoke("Subscribe", bob, &(OpArgs) { .pattern = "a.>" }, &out, &call), 0);
        ck_assert_int_ge(invoke("Publish", alice, &(OpArgs) { .topic = "a.b", .payload = text("12345") }, &out,
                                &call), 0);
        ck_assert_int_ge(invoke("Publish", alice, &(OpArgs) { .topic = "a.b", .payload = text("1") }, &out,
                                &call), 0);
        ck_assert_int_ge(invoke("Publish", alice, &(OpArgs) { .topic = "c", .payload = text("") }, &out, &call), 0);

        ck_assert_int_ge(invoke("ListClients", NULL, &(OpArgs) {}, &out, &call), 0);
        ck_assert_uint_eq(out.clients->len, 2);
        c = &g_array_index(out.clients, ClientRow, 0);
        ck_assert_str_eq(c->transport, "fake");
        ck_assert_uint_eq(c->uid, 1000);
        ck_assert_uint_eq(c->pid, 4242);
        ck_assert_uint_eq(c->published, 3);
        c = &g_array_index(out.clients, ClientRow, 1);
        ck_assert_uint_eq(c->subscriptions, 1);
        ck_assert_uint_eq(c->delivered, 2);
        ck_assert_uint_eq(c->dropped, 0);
        op_result_clear(&out);

        ck_assert_int_ge(invoke("ListTopics", NULL, &(OpArgs) {}, &out, &call), 0);
        ck_assert_uint_eq(out.topics->len, 2);
        t = &g_array_index(out.topics, TopicRow, 0);
        ck_assert_str_eq(t->topic, "a.b");
        ck_assert_uint_eq(t->messages, 2);
        ck_assert_uint_eq(t->bytes, 6);
        ck_assert_uint_eq(t->delivered, 2);
        ck_assert_uint_eq(t->last_seq, 2);
        ck_assert_uint_eq(g_array_index(out.topics, TopicRow, 1).delivered, 0);
        op_result_clear(&out);

        /* A reply 2 s after the call: the latency is the server's. */
        id = call_svc("hi");
        fake_clock_usec += 2 * G_USEC_PER_SEC;
        ck_assert_int_ge(invoke("Reply", bob, &(OpArgs) { .id = id, .payload = text("ho") }, &out, &call), 0);
        (void) call_svc("again");
        ck_assert_int_ge(invoke("ListServices", NULL, &(OpArgs) {}, &out, &call), 0);
        ck_assert_uint_eq(out.services->len, 1);
        s = &g_array_index(out.services, ServiceRow, 0);
        ck_assert_str_eq(s->name, "svc");
        ck_assert_str_eq(s->servers, "2");
        ck_assert_uint_eq(s->calls, 2);
        ck_assert_uint_eq(s->pending, 1);
        ck_assert_uint_eq(s->latency_avg, 2 * G_USEC_PER_SEC);
        ck_assert_uint_eq(s->latency_max, 2 * G_USEC_PER_SEC);
}
END_TEST

START_TEST(test_table_is_consistent)
{
        for (unsigned i = 0; i < op_n_methods; i++) {
                const OpMethod *m = &op_methods[i];
                g_auto(GStrv) errors = g_strsplit(m->errors, " ", -1);

                ck_assert_ptr_eq(op_method_by_dbus(m->dbus), m);
                for (char **e = errors; *e; e++)
                        ck_assert_msg(!**e || hub_error_find(*e), "%s may return %s, which is not in the error table",
                                      m->dbus, *e);
                if (m->jsonrpc) {
                        const OpMethod *primary = op_method_by_jsonrpc(m->jsonrpc);

                        ck_assert_ptr_nonnull(primary);
                        ck_assert(primary->flags & OP_JSONRPC_PRIMARY);
                        ck_assert_str_eq(primary->op, m->op);
                        /* Every twin's args are the JSON-RPC method's params. */
                        for (unsigned a = 0; a < m->n_in; a++) {
                                bool found = false;

                                for (unsigned p = 0; p < primary->n_json_in; p++)
                                        found |= strcmp(primary->json_in[p].name, m->in[a].name) == 0;
                                ck_assert_msg(found || m->preset, "%s's %s is no param of %s", m->dbus,
                                              m->in[a].name, m->jsonrpc);
                        }
                }
        }
        ck_assert_ptr_null(op_method_by_dbus("NoSuchMethod"));
        ck_assert_ptr_null(op_method_by_jsonrpc("no_such_method"));
        ck_assert_ptr_nonnull(strstr(op_describe_json, "\"request\""));
}
END_TEST

START_TEST(test_errors_have_unique_codes)
{
        for (unsigned i = 0; i < hub_n_errors; i++)
                for (unsigned j = i + 1; j < hub_n_errors; j++) {
                        ck_assert_int_ne(hub_errors[i].code, hub_errors[j].code);
                        ck_assert_str_ne(hub_errors[i].name, hub_errors[j].name);
                }
}
END_TEST

static Suite *ops_suite(void) {
        Suite *s = suite_create("ops");
        TCase *tc;

        tc = tcase_create("durability");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_answers_wait_for_what_they_journal);
        tcase_add_test(tc, test_nothing_waits_when_the_disk_keeps_up);
        tcase_add_test(tc, test_durable_wait_releases_once_synced);
        suite_add_tcase(s, tc);

        tc = tcase_create("answers");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_late_answer_carries_the_server_code);
        tcase_add_test(tc, test_reply_error_end_to_end);
        tcase_add_test(tc, test_reply_over_the_limit_names_the_reply);
        tcase_add_test(tc, test_reserve_waits_only_where_it_can);
        tcase_add_test(tc, test_stat_names_the_writer);
        suite_add_tcase(s, tc);

        tc = tcase_create("monitor and top");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_monitor_sees_queue_and_call_traffic);
        tcase_add_test(tc, test_monitor_sees_dead_letters_and_timeouts);
        tcase_add_test(tc, test_top_lists_clients_topics_and_services);
        suite_add_tcase(s, tc);

        tc = tcase_create("table");
        tcase_add_test(tc, test_table_is_consistent);
        tcase_add_test(tc, test_errors_have_unique_codes);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(ops_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
