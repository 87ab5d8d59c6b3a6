/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-queue.c: the core's work queues as FakeClients see them, on a fake
 * clock that the tests advance by hand (no sleeps): FIFO order, waiting
 * reserves and their answers (ENVELOPE_JOB), delayed jobs, visibility
 * timeouts and touch, nack, dead-lettering and kick, peek, purge, queue
 * lifetime, consumers that disconnect, and every limit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <glib.h>

#include "fake-client.h"

#define SEC ((uint64_t) G_USEC_PER_SEC)
#define T0 (1700000000ull * SEC)

static Hub *hub;
static FakeClient *alice, *bob, *carol;
static uint64_t now_usec;

static uint64_t fake_now(void *userdata) {
        return *(uint64_t *) userdata;
}

static void setup_with(const HubLimits *limits) {
        now_usec = T0;
        hub = test_hub_new(limits);
        hub_set_clock(hub, fake_now, &now_usec);
        alice = fake_client_new(hub, 1000);
        bob = fake_client_new(hub, 1001);
        carol = fake_client_new(hub, 1002);
}

static void setup(void) {
        setup_with(NULL);
}

static void setup_small(void) {
        HubLimits l;

        hub_limits_default(&l);
        l.max_payload = 16;
        l.max_queues = 2;
        l.max_jobs = 3;
        l.max_reservations = 2;
        l.max_attempts = 2;
        l.max_delay = 60 * SEC;
        l.default_visibility = 10 * SEC;
        setup_with(&l);
}

static void teardown(void) {
        g_clear_pointer(&alice, fake_client_free);
        g_clear_pointer(&bob, fake_client_free);
        g_clear_pointer(&carol, fake_client_free);
        g_clear_pointer(&hub, hub_free);
}

/* Move the fake clock to @t and let the hub do what is due. */
static void run_at(uint64_t t) {
        ck_assert_uint_ge(t, now_usec);
        now_usec = t;
        hub_run_timers(hub);
}

static uint64_t push(const char *queue, const char *payload, uint64_t delay) {
        uint64_t id = 0;

        ck_assert_int_eq(hub_push(hub, &alice->client, queue, payload, strlen(payload), delay, &id), 0);
        ck_assert_uint_gt(id, 0);
        return id;
}

/* Reserve without waiting; the job must be @payload. Return: its id. */
static uint64_t take(FakeClient *f, const char *queue, uint64_t visibility, const char *payload,
                     unsigned attempts) {
        JobInfo job = {};
        uint64_t wait_id = 0;

        ck_assert_int_eq(hub_reserve(hub, &f->client, queue, 0, visibility, &job, &wait_id), 1);
        ck_assert_uint_gt(job.id, 0);
        ck_assert_str_eq(job.queue, queue);
        ck_assert_uint_eq(job.len, strlen(payload));
        ck_assert(job.len == 0 || memcmp(job.payload, payload, job.len) == 0);
        ck_assert_uint_eq(job.attempts, attempts);
        return job.id;
}

static void take_none(FakeClient *f, const char *queue) {
        JobInfo job = {};
        uint64_t wait_id = 0;

        ck_assert_int_eq(hub_reserve(hub, &f->client, queue, 0, 0, &job, &wait_id), -EAGAIN);
}

/* Begin a waiting reserve. Return: the wait id. */
static uint64_t wait_for(FakeClient *f, const char *queue, uint64_t timeout, uint64_t visibility) {
        JobInfo job = {};
        uint64_t wait_id = 0;

        ck_assert_int_eq(hub_reserve(hub, &f->client, queue, timeout, visibility, &job, &wait_id), 0);
        ck_assert_uint_gt(wait_id, 0);
        return wait_id;
}

/* @f's only envelope is the answer to @wait_id: job @job_id (0: timed out). */
static void assert_answer(FakeClient *f, uint64_t wait_id, const char *queue, uint64_t job_id,
                          const char *payload, unsigned attempts) {
        const FakeEnvelope *e;

        ck_assert_uint_eq(f->delivered->len, 1);
        e = fake_client_get(f, 0);
        ck_assert_int_eq(e->kind, ENVELOPE_JOB);
        ck_assert_uint_eq(e->sub_id, wait_id);
        ck_assert_str_eq(e->topic, queue);
        ck_assert_uint_eq(e->seq, job_id);
        ck_assert(fake_envelope_payload_is(e, payload));
        ck_assert_uint_eq(e->attempts, attempts);
}

/* @queue's counts; false when the hub does not list it. */
static bool queue_info(const char *queue, QueueInfo *ret) {
        g_autoptr(GArray) a = hub_list_queues(hub);

        for (guint i = 0; i < a->len; i++) {
                const QueueInfo *q = &g_array_index(a, QueueInfo, i);

                if (strcmp(q->name, queue) == 0) {
                        *ret = *q;
                        return true;
                }
        }
        return false;
}

static void assert_counts(const char *queue, unsigned ready, unsigned reserved, unsigned delayed,
                          unsigned dead, unsigned waiting) {
        QueueInfo q;

        ck_assert_msg(queue_info(queue, &q), "queue %s is not listed", queue);
        ck_assert_uint_eq(q.ready, ready);
        ck_assert_uint_eq(q.reserved, reserved);
        ck_assert_uint_eq(q.delayed, delayed);
        ck_assert_uint_eq(q.dead, dead);
        ck_assert_uint_eq(q.waiting, waiting);
}

static void assert_gone(const char *queue) {
        QueueInfo q;

        ck_assert_msg(!queue_info(queue, &q), "queue %s is still listed", queue);
}

/* Reserve everything ready in @queue with @f and check it comes in the order of @payloads. */
static void drain_in_order(FakeClient *f, const char *queue, const char *const *payloads) {
        for (const char *const *p = payloads; *p; p++) {
                JobInfo job = {};
                uint64_t wait_id;

                ck_assert_int_eq(hub_reserve(hub, &f->client, queue, 0, 0, &job, &wait_id), 1);
                ck_assert_msg(job.len == strlen(*p) && (job.len == 0 || memcmp(job.payload, *p, job.len) == 0),
                              "expected job '%s', got '%.*s'", *p, (int) job.len, (const char *) job.payload);
                ck_assert_int_eq(hub_ack(hub, &f->client, job.id), 0);
        }
        take_none(f, queue);
}

/* Push and reserve */

START_TEST(test_fifo)
{
        uint64_t a = push("jobs", "a", 0), b = push("jobs", "b", 0), c = push("jobs", "c", 0);

        ck_assert_uint_lt(a, b);
        ck_assert_uint_lt(b, c);
        assert_counts("jobs", 3, 0, 0, 0, 0);
        ck_assert_uint_eq(take(bob, "jobs", 0, "a", 1), a);
        ck_assert_uint_eq(take(bob, "jobs", 0, "b", 1), b);
        ck_assert_uint_eq(take(bob, "jobs", 0, "c", 1), c);
        take_none(bob, "jobs");
        assert_counts("jobs", 0, 3, 0, 0, 0);
        ck_assert_uint_eq(bob->delivered->len, 0);
}
END_TEST

START_TEST(test_distinct_consumers)
{
        uint64_t ids[3];

        push("jobs", "a", 0);
        push("jobs", "b", 0);
        push("jobs", "c", 0);
        ids[0] = take(alice, "jobs", 0, "a", 1);
        ids[1] = take(bob, "jobs", 0, "b", 1);
        ids[2] = take(carol, "jobs", 0, "c", 1);
        ck_assert_uint_ne(ids[0], ids[1]);
        ck_assert_uint_ne(ids[1], ids[2]);
        take_none(alice, "jobs");
        assert_counts("jobs", 0, 3, 0, 0, 0);

        /* Each holds its own: nobody can ack another's job. */
        ck_assert_int_eq(hub_ack(hub, &alice->client, ids[1]), -ENOENT);
        ck_assert_int_eq(hub_ack(hub, &bob->client, ids[1]), 0);
        ck_assert_int_eq(hub_ack(hub, &carol->client, ids[2]), 0);
        ck_assert_int_eq(hub_ack(hub, &alice->client, ids[0]), 0);
        assert_gone("jobs");
}
END_TEST

START_TEST(test_reserve_empty_eagain)
{
        take_none(alice, "jobs");
        /* Not waiting creates nothing. */
        ck_assert_uint_eq(hub_get_n_queues(hub), 0);

        push("jobs", "a", 0);
        take(alice, "jobs", 0, "a", 1);
        take_none(bob, "jobs");                 /* only a reserved job left */
        push("jobs", "later", 5 * SEC);
        take_none(bob, "jobs");                 /* and a delayed one */
        ck_assert_uint_eq(hub_next_deadline(hub), T0 + 5 * SEC);
}
END_TEST

START_TEST(test_wait_answered_by_push)
{
        uint64_t wa = wait_for(alice, "jobs", 10 * SEC, 0);
        uint64_t wb = wait_for(bob, "jobs", 10 * SEC, 0);
        uint64_t x, y;

        ck_assert_uint_ne(wa, wb);
        assert_counts("jobs", 0, 0, 0, 0, 2);
        ck_assert_uint_eq(hub_next_deadline(hub), T0 + 10 * SEC);

        /* First come, first served. */
        now_usec += SEC;
        x = push("jobs", "x", 0);
        assert_answer(alice, wa, "jobs", x, "x", 1);
        ck_assert_uint_eq(bob->delivered->len, 0);
        assert_counts("jobs", 0, 1, 0, 0, 1);

        y = push("jobs", "y", 0);
        assert_answer(bob, wb, "jobs", y, "y", 1);
        ck_assert_uint_eq(alice->delivered->len, 1);
        assert_counts("jobs", 0, 2, 0, 0, 0);

        /* The answers are real reservations, with the default visibility from their push. */
        ck_assert_uint_eq(hub_next_deadline(hub), T0 + SEC + hub_get_limits(hub)->default_visibility);
        ck_assert_int_eq(hub_ack(hub, &bob->client, x), -ENOENT);
        ck_assert_int_eq(hub_ack(hub, &alice->client, x), 0);
        ck_assert_int_eq(hub_ack(hub, &bob->client, y), 0);
        /* Answered waits are over: nothing times out later, nothing to cancel. */
        ck_assert_uint_eq(hub_next_deadline(hub), UINT64_MAX);
        ck_assert_int_eq(hub_reserve_cancel(hub, &alice->client, wa), -ENOENT);
        assert_gone("jobs");
        run_at(T0 + 20 * SEC);
        ck_assert_uint_eq(alice->delivered->len, 1);
        ck_assert_uint_eq(bob->delivered->len, 1);
}
END_TEST

START_TEST(test_wait_visibility)
{
        uint64_t w = wait_for(alice, "jobs", UINT64_MAX, 7 * SEC), id;

        /* No timeout: no timer. */
        ck_assert_uint_eq(hub_next_deadline(hub), UINT64_MAX);
        run_at(T0 + 3600 * SEC);
        ck_assert_uint_eq(alice->delivered->len, 0);

        id = push("jobs", "x", 0);
        assert_answer(alice, w, "jobs", id, "x", 1);
        ck_assert_uint_eq(hub_next_deadline(hub), now_usec + 7 * SEC);
}
END_TEST

START_TEST(test_wait_times_out)
{
        uint64_t w = wait_for(alice, "jobs", 5 * SEC, 0);

        ck_assert_uint_eq(hub_next_deadline(hub), T0 + 5 * SEC);
        run_at(T0 + 5 * SEC - 1);
        ck_assert_uint_eq(alice->delivered->len, 0);
        assert_counts("jobs", 0, 0, 0, 0, 1);

        run_at(T0 + 5 * SEC);
        assert_answer(alice, w, "jobs", 0, "", 0);
        assert_gone("jobs");
        ck_assert_uint_eq(hub_next_deadline(hub), UINT64_MAX);
        ck_assert_int_eq(hub_reserve_cancel(hub, &alice->client, w), -ENOENT);

        /* A job pushed now is nobody's. */
        push("jobs", "x", 0);
        ck_assert_uint_eq(alice->delivered->len, 1);
        assert_counts("jobs", 1, 0, 0, 0, 0);
}
END_TEST

START_TEST(test_wait_timeouts_in_order)
{
        uint64_t wb = wait_for(bob, "jobs", 2 * SEC, 0);
        uint64_t wa = wait_for(alice, "other", 1 * SEC, 0);

        ck_assert_uint_eq(hub_next_deadline(hub), T0 + SEC);
        run_at(T0 + SEC);
        assert_answer(alice, wa, "other", 0, "", 0);
        ck_assert_uint_eq(bob->delivered->len, 0);
        ck_assert_uint_eq(hub_next_deadline(hub), T0 + 2 * SEC);
        /* Late: everything due by now runs at once. */
        run_at(T0 + 100 * SEC);
        assert_answer(bob, wb, "jobs", 0, "", 0);
        ck_assert_uint_eq(hub_get_n_queues(hub), 0);
}
END_TEST

START_TEST(test_reserve_cancel)
{
        uint64_t wa = wait_for(alice, "jobs", 5 * SEC, 0);
        uint64_t wb = wait_for(bob, "jobs", 5 * SEC, 0);
        uint64_t id;

        /* Only the waiting client can cancel. */
        ck_assert_int_eq(hub_reserve_cancel(hub, &bob->client, wa), -ENOENT);
        ck_assert_int_eq(hub_reserve_cancel(hub, &alice->client, wa), 0);
        ck_assert_int_eq(hub_reserve_cancel(hub, &alice->client, wa), -ENOENT);
        assert_counts("jobs", 0, 0, 0, 0, 1);

        /* Bob, next in line, gets the job; alice nothing. */
        id = push("jobs", "x", 0);
        assert_answer(bob, wb, "jobs", id, "x", 1);
        ck_assert_uint_eq(alice->delivered->len, 0);

        /* A cancelled wait's timer is gone too; its queue goes when it is empty. */
        ck_assert_int_eq(hub_ack(hub, &bob->client, id), 0);
        wa = wait_for(alice, "jobs", 5 * SEC, 0);
        ck_assert_int_eq(hub_reserve_cancel(hub, &alice->client, wa), 0);
        assert_gone("jobs");
        ck_assert_uint_eq(hub_next_deadline(hub), UINT64_MAX);
        run_at(T0 + 10 * SEC);
        ck_assert_uint_eq(alice->delivered->len, 0);
}
END_TEST

START_TEST(test_wait_ids_unique)
{
        uint64_t sub = 0, w1, w2;

        ck_assert_int_eq(hub_subscribe(hub, &alice->client, "a.b", false, &sub), 0);
        w1 = wait_for(alice, "jobs", 5 * SEC, 0);
        w2 = wait_for(alice, "jobs", 5 * SEC, 0);
        ck_assert_uint_ne(w1, sub);
        ck_assert_uint_ne(w1, w2);
        ck_assert_uint_ne(w2, sub);
}
END_TEST

/* Delayed jobs */

START_TEST(test_delayed_push)
{
        uint64_t later = push("jobs", "later", 10 * SEC);

        push("jobs", "now", 0);
        assert_counts("jobs", 1, 0, 1, 0, 0);
        ck_assert_uint_eq(hub_next_deadline(hub), T0 + 10 * SEC);

        take(bob, "jobs", 60 * SEC, "now", 1);
        take_none(bob, "jobs");
        run_at(T0 + 10 * SEC - 1);
        take_none(bob, "jobs");
        assert_counts("jobs", 0, 1, 1, 0, 0);

        run_at(T0 + 10 * SEC);
        assert_counts("jobs", 1, 1, 0, 0, 0);
        ck_assert_uint_eq(take(bob, "jobs", 0, "later", 1), later);
}
END_TEST

START_TEST(test_delayed_goes_to_tail)
{
        push("jobs", "late", 5 * SEC);
        push("jobs", "a", 0);
        run_at(T0 + 5 * SEC);
        push("jobs", "b", 0);
        drain_in_order(bob, "jobs", (const char *[]) { "a", "late", "b", NULL });
}
END_TEST

START_TEST(test_delayed_to_waiter)
{
        uint64_t id = push("jobs", "x", 5 * SEC), w;

        w = wait_for(bob, "jobs", 60 * SEC, 0);
        assert_counts("jobs", 0, 0, 1, 0, 1);
        ck_assert_uint_eq(hub_next_deadline(hub), T0 + 5 * SEC);
        run_at(T0 + 5 * SEC);
        assert_answer(bob, w, "jobs", id, "x", 1);
        assert_counts("jobs", 0, 1, 0, 0, 0);
        /* Its reservation runs from when it was handed out. */
        ck_assert_uint_eq(hub_next_deadline(hub), T0 + 5 * SEC + hub_get_limits(hub)->default_visibility);
}
END_TEST

/* Visibility */

START_TEST(test_expiry_returns_to_front)
{
        uint64_t a = push("jobs", "a", 0);

        push("jobs", "b", 0);
        ck_assert_uint_eq(take(alice, "jobs", 10 * SEC, "a", 1), a);
        ck_assert_uint_eq(hub_next_deadline(hub), T0 + 10 * SEC);
        push("jobs", "c", 0);

        run_at(T0 + 10 * SEC - 1);
        assert_counts("jobs", 2, 1, 0, 0, 0);
        run_at(T0 + 10 * SEC);
        assert_counts("jobs", 3, 0, 0, 0, 0);

        /* Alice lost it: every operation on it fails for her. */
        ck_assert_int_eq(hub_ack(hub, &alice->client, a), -ENOENT);
        ck_assert_int_eq(hub_nack(hub, &alice->client, a, 0), -ENOENT);
        ck_assert_int_eq(hub_touch(hub, &alice->client, a), -ENOENT);

        /* Back at the front, attempts counted. */
        ck_assert_uint_eq(take(bob, "jobs", 0, "a", 2), a);
        ck_assert_int_eq(hub_ack(hub, &alice->client, a), -ENOENT);
        ck_assert_int_eq(hub_ack(hub, &bob->client, a), 0);
        drain_in_order(bob, "jobs", (const char *[]) { "b", "c", NULL });
}
END_TEST

START_TEST(test_expiry_to_waiter)
{
        uint64_t a = push("jobs", "a", 0), w;

        take(alice, "jobs", 10 * SEC, "a", 1);
        w = wait_for(bob, "jobs", 60 * SEC, 0);
        run_at(T0 + 10 * SEC);
        assert_answer(bob, w, "jobs", a, "a", 2);
        ck_assert_int_eq(hub_ack(hub, &alice->client, a), -ENOENT);
        ck_assert_int_eq(hub_ack(hub, &bob->client, a), 0);
}
END_TEST

START_TEST(test_default_visibility)
{
        push("jobs", "a", 0);
        take(alice, "jobs", 0, "a", 1);
        ck_assert_uint_eq(hub_next_deadline(hub), T0 + hub_get_limits(hub)->default_visibility);
}
END_TEST

START_TEST(test_touch_extends)
{
        uint64_t a = push("jobs", "a", 0);

        take(alice, "jobs", 10 * SEC, "a", 1);
        run_at(T0 + 8 * SEC);
        ck_assert_int_eq(hub_touch(hub, &bob->client, a), -ENOENT);
        ck_assert_int_eq(hub_touch(hub, &alice->client, a), 0);
        ck_assert_uint_eq(hub_next_deadline(hub), T0 + 18 * SEC);

        run_at(T0 + 18 * SEC - 1);
        assert_counts("jobs", 0, 1, 0, 0, 0);
        ck_assert_int_eq(hub_touch(hub, &alice->client, a), 0);       /* again, from now */
        ck_assert_uint_eq(hub_next_deadline(hub), T0 + 28 * SEC - 1);
        run_at(T0 + 28 * SEC - 1);
        assert_counts("jobs", 1, 0, 0, 0, 0);
        ck_assert_int_eq(hub_touch(hub, &alice->client, a), -ENOENT);
}
END_TEST

START_TEST(test_other_clients_jobs)
{
        uint64_t a = push("jobs", "a", 0);

        take(alice, "jobs", 0, "a", 1);
        ck_assert_int_eq(hub_ack(hub, &bob->client, a), -ENOENT);
        ck_assert_int_eq(hub_nack(hub, &bob->client, a, 0), -ENOENT);
        ck_assert_int_eq(hub_touch(hub, &bob->client, a), -ENOENT);
        assert_counts("jobs", 0, 1, 0, 0, 0);

        ck_assert_int_eq(hub_ack(hub, &alice->client, a + 100), -ENOENT);
        ck_assert_int_eq(hub_ack(hub, &alice->client, 0), -ENOENT);
        ck_assert_int_eq(hub_ack(hub, &alice->client, a), 0);
        ck_assert_int_eq(hub_ack(hub, &alice->client, a), -ENOENT);
        assert_gone("jobs");
}
END_TEST

START_TEST(test_ready_jobs_cannot_be_acked)
{
        uint64_t a = push("jobs", "a", 0);

        ck_assert_int_eq(hub_ack(hub, &alice->client, a), -ENOENT);
        ck_assert_int_eq(hub_nack(hub, &alice->client, a, 0), -ENOENT);
        ck_assert_int_eq(hub_touch(hub, &alice->client, a), -ENOENT);
        assert_counts("jobs", 1, 0, 0, 0, 0);
}
END_TEST

/* AckNext: the ack, then a reserve, in one */

START_TEST(test_ack_next)
{
        uint64_t a = push("jobs", "a", 0), b = push("jobs", "b", 0), wait_id = 0;
        JobInfo job = {};

        take(alice, "jobs", 0, "a", 1);
        /* Another's job, or a bad queue name: nothing acked, nothing reserved. */
        ck_assert_int_eq(hub_ack_next(hub, &bob->client, a, "jobs", 0, 0, &job, &wait_id), -ENOENT);
        ck_assert_int_eq(hub_ack_next(hub, &alice->client, a, "jobs..x", 0, 0, &job, &wait_id), -EINVAL);
        assert_counts("jobs", 1, 1, 0, 0, 0);

        ck_assert_int_eq(hub_ack_next(hub, &alice->client, a, "jobs", 0, 0, &job, &wait_id), 1);
        ck_assert_uint_eq(job.id, b);
        ck_assert_uint_eq(job.len, 1);
        ck_assert(memcmp(job.payload, "b", 1) == 0);
        assert_counts("jobs", 0, 1, 0, 0, 0);
        ck_assert_int_eq(hub_ack(hub, &alice->client, a), -ENOENT);

        /* None ready: the ack stands all the same. */
        ck_assert_int_eq(hub_ack_next(hub, &alice->client, b, "jobs", 0, 0, &job, &wait_id), -EAGAIN);
        assert_gone("jobs");
        ck_assert_int_eq(hub_ack(hub, &alice->client, b), -ENOENT);
}
END_TEST

START_TEST(test_ack_next_waits)
{
        uint64_t a = push("jobs", "a", 0), wait_id = 0, c;
        JobInfo job = {};

        take(alice, "jobs", 0, "a", 1);
        ck_assert_int_eq(hub_ack_next(hub, &alice->client, a, "jobs", 5 * SEC, 0, &job, &wait_id), 0);
        ck_assert_uint_gt(wait_id, 0);
        assert_counts("jobs", 0, 0, 0, 0, 1);
        c = push("jobs", "c", 0);
        assert_answer(alice, wait_id, "jobs", c, "c", 1);
}
END_TEST

/* Nack, dead letters, kick */

START_TEST(test_nack_delay)
{
        uint64_t a = push("jobs", "a", 0);

        push("jobs", "b", 0);
        push("jobs", "c", 0);
        take(alice, "jobs", 0, "a", 1);
        now_usec += SEC;
        ck_assert_int_eq(hub_nack(hub, &alice->client, a, 5 * SEC), 0);
        ck_assert_int_eq(hub_ack(hub, &alice->client, a), -ENOENT);
        assert_counts("jobs", 2, 0, 1, 0, 0);
        ck_assert_uint_eq(hub_next_deadline(hub), T0 + 6 * SEC);

        run_at(T0 + 6 * SEC - 1);
        assert_counts("jobs", 2, 0, 1, 0, 0);
        run_at(T0 + 6 * SEC);
        assert_counts("jobs", 3, 0, 0, 0, 0);

        /* At the tail, with its attempt counted. */
        take(bob, "jobs", 0, "b", 1);
        take(carol, "jobs", 0, "c", 1);
        ck_assert_uint_eq(take(alice, "jobs", 0, "a", 2), a);
}
END_TEST

START_TEST(test_nack_now_goes_to_tail)
{
        uint64_t a = push("jobs", "a", 0), w;

        push("jobs", "b", 0);
        take(alice, "jobs", 0, "a", 1);
        ck_assert_int_eq(hub_nack(hub, &alice->client, a, 0), 0);
        assert_counts("jobs", 2, 0, 0, 0, 0);
        take(bob, "jobs", 0, "b", 1);

        /* A nacked job goes straight to a waiting consumer. */
        ck_assert_uint_eq(take(alice, "jobs", 0, "a", 2), a);
        w = wait_for(carol, "jobs", 60 * SEC, 0);
        ck_assert_int_eq(hub_nack(hub, &alice->client, a, 0), 0);
        assert_answer(carol, w, "jobs", a, "a", 3);
}
END_TEST

START_TEST(test_dead_letter_and_kick)
{
        uint64_t a = push("jobs", "a", 0), b = push("jobs", "b", 0);
        QueueInfo q;
        unsigned n = 99;
        JobInfo job;

        /* max_attempts is 2: the second nack dead-letters. */
        ck_assert_uint_eq(take(alice, "jobs", 0, "a", 1), a);
        ck_assert_int_eq(hub_nack(hub, &alice->client, a, 0), 0);
        take(alice, "jobs", 0, "b", 1);
        ck_assert_int_eq(hub_nack(hub, &alice->client, b, 0), 0);
        ck_assert_uint_eq(take(alice, "jobs", 0, "a", 2), a);
        ck_assert_int_eq(hub_nack(hub, &alice->client, a, 0), 0);
        assert_counts("jobs", 1, 0, 0, 1, 0);

        /* So does an expiry, and a nack with a delay. */
        ck_assert_uint_eq(take(alice, "jobs", 10 * SEC, "b", 2), b);
        run_at(T0 + 10 * SEC);
        assert_counts("jobs", 0, 0, 0, 2, 0);
        take_none(alice, "jobs");
        ck_assert_int_eq(hub_peek(hub, "jobs", &job), -ENOENT);
        ck_assert(queue_info("jobs", &q));      /* dead jobs keep their queue */

        /* Kick the first dead job only: it comes back with its attempts reset. */
        ck_assert_int_eq(hub_kick(hub, "jobs", 1, &n), 0);
        ck_assert_uint_eq(n, 1);
        assert_counts("jobs", 1, 0, 0, 1, 0);
        ck_assert_uint_eq(take(bob, "jobs", 0, "a", 1), a);

        ck_assert_int_eq(hub_kick(hub, "jobs", 0, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_int_eq(hub_kick(hub, "jobs", 0, &n), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_uint_eq(take(bob, "jobs", 0, "b", 1), b);

        /* Nack with a delay at the last attempt: dead at once, not delayed. */
        ck_assert_int_eq(hub_nack(hub, &bob->client, b, 0), 0);
        ck_assert_uint_eq(take(bob, "jobs", 0, "b", 2), b);
        ck_assert_int_eq(hub_nack(hub, &bob->client, b, 30 * SEC), 0);
        assert_counts("jobs", 0, 1, 0, 1, 0);
}
END_TEST

START_TEST(test_kick_to_waiter)
{
        uint64_t a = push("jobs", "a", 0), w;
        unsigned n = 0;

        take(alice, "jobs", 0, "a", 1);
        ck_assert_int_eq(hub_nack(hub, &alice->client, a, 0), 0);
        take(alice, "jobs", 0, "a", 2);
        ck_assert_int_eq(hub_nack(hub, &alice->client, a, 0), 0);
        w = wait_for(bob, "jobs", 60 * SEC, 0);
        assert_counts("jobs", 0, 0, 0, 1, 1);
        ck_assert_int_eq(hub_kick(hub, "jobs", 0, &n), 0);
        ck_assert_uint_eq(n, 1);
        assert_answer(bob, w, "jobs", a, "a", 1);
}
END_TEST

START_TEST(test_kick_missing_and_bad)
{
        unsigned n = 99;

        ck_assert_int_eq(hub_kick(hub, "nothing.here", 0, &n), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_int_eq(hub_kick(hub, "a..b", 0, &n), -EINVAL);
        ck_assert_int_eq(hub_purge(hub, "nothing.here", &n), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_uint_eq(hub_get_n_queues(hub), 0);
}
END_TEST

START_TEST(test_peek)
{
        uint64_t a = push("jobs", "a", 0);
        JobInfo job = {};

        push("jobs", "b", 0);
        ck_assert_int_eq(hub_peek(hub, "jobs", &job), 0);
        ck_assert_uint_eq(job.id, a);
        ck_assert_str_eq(job.queue, "jobs");
        ck_assert_uint_eq(job.len, 1);
        ck_assert(memcmp(job.payload, "a", 1) == 0);
        ck_assert_uint_eq(job.attempts, 0);
        ck_assert_int_eq(hub_peek(hub, "jobs", &job), 0);
        ck_assert_uint_eq(job.id, a);
        assert_counts("jobs", 2, 0, 0, 0, 0);

        /* Peeking reserved nothing: a is still first, for anyone. */
        ck_assert_uint_eq(take(bob, "jobs", 0, "a", 1), a);
        ck_assert_int_eq(hub_peek(hub, "jobs", &job), 0);
        ck_assert(memcmp(job.payload, "b", 1) == 0);
        take(bob, "jobs", 0, "b", 1);
        ck_assert_int_eq(hub_peek(hub, "jobs", &job), -ENOENT);
        ck_assert_int_eq(hub_peek(hub, "nothing", &job), -ENOENT);
        ck_assert_int_eq(hub_peek(hub, "bad name", &job), -EINVAL);
}
END_TEST

START_TEST(test_purge)
{
        uint64_t dead, r;
        unsigned n = 0;

        dead = push("jobs", "dead", 0);
        for (unsigned i = 1; i <= hub_get_limits(hub)->max_attempts; i++) {
                ck_assert_uint_eq(take(alice, "jobs", 0, "dead", i), dead);
                ck_assert_int_eq(hub_nack(hub, &alice->client, dead, 0), 0);
        }
        push("jobs", "reserved", 0);
        push("jobs", "ready", 0);
        push("jobs", "delayed", 30 * SEC);
        push("other", "kept", 0);
        r = take(bob, "jobs", 0, "reserved", 1);
        assert_counts("jobs", 1, 1, 1, 1, 0);

        ck_assert_int_eq(hub_purge(hub, "jobs", &n), 0);
        ck_assert_uint_eq(n, 3);
        assert_counts("jobs", 0, 1, 0, 0, 0);
        assert_counts("other", 1, 0, 0, 0, 0);
        /* Only the reservation's timer is left. */
        ck_assert_uint_eq(hub_next_deadline(hub), T0 + hub_get_limits(hub)->default_visibility);
        take_none(carol, "jobs");
        ck_assert_int_eq(hub_kick(hub, "jobs", 0, &n), 0);
        ck_assert_uint_eq(n, 0);

        /* The reserved job survives and can still be acked; then the queue goes. */
        ck_assert_int_eq(hub_ack(hub, &bob->client, r), 0);
        assert_gone("jobs");
        ck_assert_int_eq(hub_purge(hub, "other", NULL), 0);
        ck_assert_uint_eq(hub_get_n_queues(hub), 0);
        ck_assert_int_eq(hub_purge(hub, "bad..name", &n), -EINVAL);
}
END_TEST

START_TEST(test_purge_keeps_waiters)
{
        uint64_t w = wait_for(bob, "jobs", 60 * SEC, 0), id;

        ck_assert_int_eq(hub_purge(hub, "jobs", NULL), 0);
        assert_counts("jobs", 0, 0, 0, 0, 1);
        id = push("jobs", "x", 0);
        assert_answer(bob, w, "jobs", id, "x", 1);
}
END_TEST

START_TEST(test_queue_lifecycle)
{
        g_autoptr(GArray) a = NULL;
        uint64_t x, w;

        ck_assert_uint_eq(hub_get_n_queues(hub), 0);
        push("zeta", "z", 0);
        x = push("alpha", "x", 0);
        w = wait_for(bob, "mid.queue", 60 * SEC, 0);
        ck_assert_uint_eq(hub_get_n_queues(hub), 3);

        a = hub_list_queues(hub);
        ck_assert_uint_eq(a->len, 3);
        ck_assert_str_eq(g_array_index(a, QueueInfo, 0).name, "alpha");
        ck_assert_str_eq(g_array_index(a, QueueInfo, 1).name, "mid.queue");
        ck_assert_str_eq(g_array_index(a, QueueInfo, 2).name, "zeta");
        ck_assert_uint_eq(g_array_index(a, QueueInfo, 1).waiting, 1);

        /* Reserved jobs keep a queue; acking the last drops it. */
        ck_assert_uint_eq(take(alice, "alpha", 0, "x", 1), x);
        assert_counts("alpha", 0, 1, 0, 0, 0);
        ck_assert_int_eq(hub_ack(hub, &alice->client, x), 0);
        assert_gone("alpha");

        /* A waiter keeps one; cancelling it drops it. */
        ck_assert_int_eq(hub_reserve_cancel(hub, &bob->client, w), 0);
        assert_gone("mid.queue");
        ck_assert_uint_eq(hub_get_n_queues(hub), 1);

        /* Delayed jobs keep one. */
        x = push("later", "l", 5 * SEC);
        assert_counts("later", 0, 0, 1, 0, 0);
        run_at(T0 + 5 * SEC);
        ck_assert_uint_eq(take(alice, "later", 0, "l", 1), x);
        ck_assert_int_eq(hub_ack(hub, &alice->client, x), 0);
        assert_gone("later");
        ck_assert_uint_eq(hub_get_n_queues(hub), 1);
}
END_TEST

/* Consumers that go away */

START_TEST(test_disconnect_returns_reservations)
{
        uint64_t a = push("jobs", "a", 0), b = push("jobs", "b", 0);
        uint64_t w;

        push("jobs", "c", 0);
        ck_assert_uint_eq(take(carol, "jobs", 60 * SEC, "a", 1), a);
        ck_assert_uint_eq(take(carol, "jobs", 60 * SEC, "b", 1), b);
        w = wait_for(carol, "other", 60 * SEC, 0);
        (void) w;
        assert_counts("jobs", 1, 2, 0, 0, 0);
        assert_counts("other", 0, 0, 0, 0, 1);

        g_clear_pointer(&carol, fake_client_free);

        /* Back at the front in their order, attempts counted; the wait is gone. */
        assert_counts("jobs", 3, 0, 0, 0, 0);
        assert_gone("other");
        ck_assert_uint_eq(hub_next_deadline(hub), UINT64_MAX);
        ck_assert_uint_eq(take(bob, "jobs", 0, "a", 2), a);
        ck_assert_uint_eq(take(bob, "jobs", 0, "b", 2), b);
        take(bob, "jobs", 0, "c", 1);

        /* The vanished wait answers nobody. */
        push("other", "o", 0);
        run_at(T0 + 120 * SEC);
        ck_assert_uint_eq(alice->delivered->len, 0);
        assert_counts("other", 1, 0, 0, 0, 0);
}
END_TEST

START_TEST(test_disconnect_hands_to_waiter)
{
        uint64_t a = push("jobs", "a", 0), w;

        take(carol, "jobs", 0, "a", 1);
        w = wait_for(bob, "jobs", 60 * SEC, 0);
        g_clear_pointer(&carol, fake_client_free);
        assert_answer(bob, w, "jobs", a, "a", 2);
        assert_counts("jobs", 0, 1, 0, 0, 0);
}
END_TEST

START_TEST(test_disconnect_dead_letters_at_max)
{
        uint64_t a = push("jobs", "a", 0);

        take(carol, "jobs", 0, "a", 1);
        ck_assert_int_eq(hub_nack(hub, &carol->client, a, 0), 0);
        take(carol, "jobs", 0, "a", 2);
        g_clear_pointer(&carol, fake_client_free);
        assert_counts("jobs", 0, 0, 0, 1, 0);
}
END_TEST

START_TEST(test_refused_answer_keeps_job)
{
        uint64_t a, w;

        w = wait_for(alice, "jobs", 60 * SEC, 0);
        (void) w;
        alice->full = true;
        a = push("jobs", "a", 0);
        /* The job must not be lost, nor left reserved by a client that never heard of it. */
        ck_assert_uint_eq(alice->delivered->len, 0);
        assert_counts("jobs", 1, 0, 0, 0, 0);
        ck_assert_int_eq(hub_ack(hub, &alice->client, a), -ENOENT);
        ck_assert_uint_eq(take(bob, "jobs", 0, "a", 1), a);
}
END_TEST

/* Limits */

START_TEST(test_max_queues)
{
        JobInfo job;
        uint64_t id, w;

        id = push("q1", "a", 0);
        push("q2", "b", 0);
        ck_assert_int_eq(hub_push(hub, &alice->client, "q3", "c", 1, 0, NULL), -EDQUOT);
        /* A waiter would create a queue too. */
        ck_assert_int_eq(hub_reserve(hub, &bob->client, "q3", SEC, 0, &job, &w), -EDQUOT);
        /* Without waiting it creates nothing, so it is no quota matter. */
        ck_assert_int_eq(hub_reserve(hub, &bob->client, "q3", 0, 0, &job, &w), -EAGAIN);
        /* Existing queues take more. */
        push("q1", "a2", 0);
        ck_assert_uint_eq(hub_get_n_queues(hub), 2);

        ck_assert_uint_eq(take(bob, "q1", 0, "a", 1), id);
        ck_assert_int_eq(hub_ack(hub, &bob->client, id), 0);
        ck_assert_int_eq(hub_ack(hub, &bob->client, take(bob, "q1", 0, "a2", 1)), 0);
        assert_gone("q1");
        push("q3", "c", 0);
}
END_TEST

START_TEST(test_max_jobs)
{
        uint64_t id;

        /* Every state counts. */
        push("jobs", "delayed", 5 * SEC);
        id = push("jobs", "reserved", 0);
        take(bob, "jobs", 0, "reserved", 1);
        push("jobs", "ready", 0);
        ck_assert_int_eq(hub_push(hub, &alice->client, "jobs", "x", 1, 0, NULL), -EDQUOT);
        assert_counts("jobs", 1, 1, 1, 0, 0);
        push("other", "fine", 0);

        ck_assert_int_eq(hub_ack(hub, &bob->client, id), 0);
        push("jobs", "x", 0);
}
END_TEST

START_TEST(test_max_reservations)
{
        JobInfo job;
        uint64_t w, a;

        for (int i = 0; i < 3; i++)
                push("jobs", "j", 0);
        a = take(alice, "jobs", 0, "j", 1);
        take(alice, "jobs", 0, "j", 1);
        ck_assert_int_eq(hub_reserve(hub, &alice->client, "jobs", 0, 0, &job, &w), -EDQUOT);
        ck_assert_int_eq(hub_reserve(hub, &alice->client, "jobs", SEC, 0, &job, &w), -EDQUOT);
        ck_assert_int_eq(hub_reserve(hub, &alice->client, "other", SEC, 0, &job, &w), -EDQUOT);
        assert_counts("jobs", 1, 2, 0, 0, 0);
        /* Per client. */
        take(bob, "jobs", 0, "j", 1);

        ck_assert_int_eq(hub_ack(hub, &alice->client, a), 0);
        push("jobs", "k", 0);
        take(alice, "jobs", 0, "k", 1);
}
END_TEST

START_TEST(test_max_waits)
{
        JobInfo job;
        uint64_t w;

        wait_for(bob, "q1", 10 * SEC, 0);
        wait_for(bob, "q1", 10 * SEC, 0);
        ck_assert_int_eq(hub_reserve(hub, &bob->client, "q1", 10 * SEC, 0, &job, &w), -EDQUOT);
        assert_counts("q1", 0, 0, 0, 0, 2);
        /* Other clients wait too. */
        wait_for(carol, "q1", 10 * SEC, 0);
        run_at(T0 + 10 * SEC);
        ck_assert_uint_eq(bob->delivered->len, 2);
        wait_for(bob, "q1", 10 * SEC, 0);
}
END_TEST

START_TEST(test_waits_and_reservations_together)
{
        JobInfo job;
        uint64_t w;

        /* One held, one waiting: when the wait is answered alice holds two, her limit. */
        push("jobs", "a", 0);
        take(alice, "jobs", 0, "a", 1);
        wait_for(alice, "jobs", 10 * SEC, 0);
        ck_assert_int_eq(hub_reserve(hub, &alice->client, "jobs", 10 * SEC, 0, &job, &w), -EDQUOT);
        push("jobs", "b", 0);
        push("jobs", "c", 0);
        ck_assert_uint_eq(alice->delivered->len, 1);
        assert_counts("jobs", 1, 2, 0, 0, 0);
        ck_assert_int_eq(hub_reserve(hub, &alice->client, "jobs", 0, 0, &job, &w), -EDQUOT);
}
END_TEST

START_TEST(test_max_delay)
{
        uint64_t a;

        push("jobs", "ok", 60 * SEC);
        ck_assert_int_eq(hub_push(hub, &alice->client, "jobs", "x", 1, 60 * SEC + 1, NULL), -ERANGE);
        ck_assert_int_eq(hub_push(hub, &alice->client, "jobs", "x", 1, UINT64_MAX, NULL), -ERANGE);
        assert_counts("jobs", 0, 0, 1, 0, 0);

        a = push("jobs", "a", 0);
        take(bob, "jobs", 0, "a", 1);
        ck_assert_int_eq(hub_nack(hub, &bob->client, a, 60 * SEC + 1), -ERANGE);
        assert_counts("jobs", 0, 1, 1, 0, 0);   /* still bob's */
        ck_assert_int_eq(hub_nack(hub, &bob->client, a, 60 * SEC), 0);
        assert_counts("jobs", 0, 0, 2, 0, 0);
}
END_TEST

START_TEST(test_max_payload)
{
        char big[17];

        memset(big, 'x', sizeof(big));
        ck_assert_int_eq(hub_push(hub, &alice->client, "jobs", big, 16, 0, NULL), 0);
        ck_assert_int_eq(hub_push(hub, &alice->client, "jobs", big, 17, 0, NULL), -EMSGSIZE);
        assert_counts("jobs", 1, 0, 0, 0, 0);
        /* Empty payloads are fine. */
        ck_assert_int_eq(hub_push(hub, &alice->client, "jobs", "", 0, 0, NULL), 0);
        take(bob, "jobs", 0, "xxxxxxxxxxxxxxxx", 1);
        take(bob, "jobs", 0, "", 1);
}
END_TEST

START_TEST(test_bad_queue_names)
{
        static const char *const bad[] = { "", "a..b", ".a", "a.", "a b", "a.*", "a.>", "*", ">", "ä", NULL };
        g_autofree char *long_name = g_strnfill(hub_get_limits(hub)->max_topic_length + 1, 'q');
        JobInfo job;
        uint64_t w;

        for (const char *const *n = bad; *n; n++) {
                ck_assert_int_eq(hub_push(hub, &alice->client, *n, "x", 1, 0, NULL), -EINVAL);
                ck_assert_int_eq(hub_reserve(hub, &alice->client, *n, 0, 0, &job, &w), -EINVAL);
                ck_assert_int_eq(hub_reserve(hub, &alice->client, *n, SEC, 0, &job, &w), -EINVAL);
                ck_assert_int_eq(hub_peek(hub, *n, &job), -EINVAL);
                ck_assert_int_eq(hub_kick(hub, *n, 0, NULL), -EINVAL);
                ck_assert_int_eq(hub_purge(hub, *n, NULL), -EINVAL);
        }
        ck_assert_int_eq(hub_push(hub, &alice->client, long_name, "x", 1, 0, NULL), -ENAMETOOLONG);
        ck_assert_int_eq(hub_reserve(hub, &alice->client, long_name, SEC, 0, &job, &w), -ENAMETOOLONG);
        ck_assert_uint_eq(hub_get_n_queues(hub), 0);
}
END_TEST

START_TEST(test_huge_timeouts)
{
        uint64_t w, a;

        /* Far-future times must not wrap around into the past. */
        run_at(T0 + SEC);
        w = wait_for(alice, "jobs", UINT64_MAX - 1, 0);
        hub_run_timers(hub);
        ck_assert_uint_eq(alice->delivered->len, 0);
        assert_counts("jobs", 0, 0, 0, 0, 1);
        ck_assert_int_eq(hub_reserve_cancel(hub, &alice->client, w), 0);

        a = push("jobs", "a", 0);
        take(bob, "jobs", UINT64_MAX - 1, "a", 1);
        hub_run_timers(hub);
        assert_counts("jobs", 0, 1, 0, 0, 0);
        ck_assert_int_eq(hub_touch(hub, &bob->client, a), 0);
        hub_run_timers(hub);
        assert_counts("jobs", 0, 1, 0, 0, 0);
        ck_assert_uint_ge(hub_next_deadline(hub), now_usec);
}
END_TEST

static Suite *queue_suite(void) {
        Suite *s = suite_create("queue");
        TCase *tc;

        tc = tcase_create("reserve");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_fifo);
        tcase_add_test(tc, test_distinct_consumers);
        tcase_add_test(tc, test_reserve_empty_eagain);
        tcase_add_test(tc, test_ack_next);
        tcase_add_test(tc, test_ack_next_waits);
        tcase_add_test(tc, test_wait_answered_by_push);
        tcase_add_test(tc, test_wait_visibility);
        tcase_add_test(tc, test_wait_times_out);
        tcase_add_test(tc, test_wait_timeouts_in_order);
        tcase_add_test(tc, test_reserve_cancel);
        tcase_add_test(tc, test_wait_ids_unique);
        suite_add_tcase(s, tc);

        tc = tcase_create("delayed");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_delayed_push);
        tcase_add_test(tc, test_delayed_goes_to_tail);
        tcase_add_test(tc, test_delayed_to_waiter);
        suite_add_tcase(s, tc);

        tc = tcase_create("visibility");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_expiry_returns_to_front);
        tcase_add_test(tc, test_expiry_to_waiter);
        tcase_add_test(tc, test_default_visibility);
        tcase_add_test(tc, test_touch_extends);
        tcase_add_test(tc, test_other_clients_jobs);
        tcase_add_test(tc, test_ready_jobs_cannot_be_acked);
        tcase_add_test(tc, test_huge_timeouts);
        suite_add_tcase(s, tc);

        tc = tcase_create("nack");
        tcase_add_checked_fixture(tc, setup_small, teardown);
        tcase_add_test(tc, test_nack_delay);
        tcase_add_test(tc, test_dead_letter_and_kick);
        tcase_add_test(tc, test_kick_to_waiter);
        tcase_add_test(tc, test_disconnect_dead_letters_at_max);
        suite_add_tcase(s, tc);

        tc = tcase_create("admin");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_nack_now_goes_to_tail);
        tcase_add_test(tc, test_kick_missing_and_bad);
        tcase_add_test(tc, test_peek);
        tcase_add_test(tc, test_purge);
        tcase_add_test(tc, test_purge_keeps_waiters);
        tcase_add_test(tc, test_queue_lifecycle);
        suite_add_tcase(s, tc);

        tc = tcase_create("disconnect");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_disconnect_returns_reservations);
        tcase_add_test(tc, test_disconnect_hands_to_waiter);
        tcase_add_test(tc, test_refused_answer_keeps_job);
        suite_add_tcase(s, tc);

        tc = tcase_create("limits");
        tcase_add_checked_fixture(tc, setup_small, teardown);
        tcase_add_test(tc, test_max_queues);
        tcase_add_test(tc, test_max_jobs);
        tcase_add_test(tc, test_max_reservations);
        tcase_add_test(tc, test_max_waits);
        tcase_add_test(tc, test_waits_and_reservations_together);
        tcase_add_test(tc, test_max_delay);
        tcase_add_test(tc, test_max_payload);
        tcase_add_test(tc, test_bad_queue_names);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(queue_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
