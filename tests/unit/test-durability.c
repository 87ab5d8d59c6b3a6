/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-durability.c: the core's side of the journal (journal.h). A fake
 * HubJournal records a deep copy of every JournalRecord and can be told to
 * refuse with -ENOSPC. Checked: each durable operation hands over exactly
 * the documented record before it changes anything; a refusing journal
 * makes the operation fail and leaves memory as it was; non-durable
 * operations hand over nothing; hub_snapshot() and the raw record stream
 * both rebuild an equal hub through hub_replay(); invalid records are
 * refused without effect. The clock is fake and advanced by hand.
 *
 * To compare hubs this test looks inside them (hub-private.h): a dump of
 * every key, retained value and job in a canonical text form.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <glib.h>

#include "core/hub-private.h"
#include "core/store.h"
#include "fake-client.h"

#define SEC ((uint64_t) G_USEC_PER_SEC)
#define T0 (1700000000ull * SEC)

/* Fake journal */

typedef struct FakeJournal {
        GPtrArray *records;             /* JournalRecord*, deep copies, in append order */
        int fail;                       /* < 0: refuse every record with this */
        int budget;                     /* >= 0: accept this many more, then refuse with -ENOSPC */
        unsigned n_refused;
        /* Seq leases (a COUNTERS record alone) are kept apart, so the other tests see only changes. */
        unsigned n_leases;
        uint64_t lease;
} FakeJournal;

static void record_free(JournalRecord *r) {
        g_free((char *) r->name);
        g_free((void *) r->data);
        g_free(r);
}

static JournalRecord *record_copy(const JournalRecord *r) {
        JournalRecord *copy = g_new(JournalRecord, 1);

        *copy = *r;
        copy->name = g_strdup(r->name);
        copy->data = r->len > 0 ? g_memdup2(r->data, r->len) : NULL;
        return copy;
}

static int fake_append(void *userdata, const JournalRecord *r) {
        FakeJournal *j = userdata;

        if (j->fail < 0 || j->budget == 0) {
                j->n_refused++;
                return j->fail < 0 ? j->fail : -ENOSPC;
        }
        if (j->budget > 0)
                j->budget--;
        if (r->type == RECORD_COUNTERS) {
                j->n_leases++;
                j->lease = r->a;
                return 0;
        }
        g_ptr_array_add(j->records, record_copy(r));
        return 0;
}

static void collect(void *userdata, const JournalRecord *r) {
        g_ptr_array_add(userdata, record_copy(r));
}

/* Fixture */

static Hub *hub;
static FakeClient *alice, *bob, *carol;
static FakeJournal journal;
static uint64_t now_usec;

static uint64_t fake_now(void *userdata) {
        return *(uint64_t *) userdata;
}

static Hub *new_hub(void) {
        HubLimits l;
        Hub *h;

        hub_limits_default(&l);
        l.max_attempts = 2;
        l.default_visibility = 10 * SEC;
        h = test_hub_new(&l);
        hub_set_clock(h, fake_now, &now_usec);
        return h;
}

static void setup(void) {
        now_usec = T0;
        journal = (FakeJournal) {
                .records = g_ptr_array_new_with_free_func((GDestroyNotify) record_free),
                .budget = -1,
        };
        hub = new_hub();
        hub_set_journal(hub, &(HubJournal) { .append = fake_append, .userdata = &journal });
        alice = fake_client_new(hub, 1000);
        bob = fake_client_new(hub, 1001);
        carol = fake_client_new(hub, 1002);
}

static void teardown(void) {
        g_clear_pointer(&alice, fake_client_free);
        g_clear_pointer(&bob, fake_client_free);
        g_clear_pointer(&carol, fake_client_free);
        g_clear_pointer(&hub, hub_free);
        g_clear_pointer(&journal.records, g_ptr_array_unref);
}

static void run_at(uint64_t t) {
        ck_assert_uint_ge(t, now_usec);
        now_usec = t;
        hub_run_timers(hub);
}

static unsigned n_records(void) {
        return journal.records->len;
}

static const JournalRecord *record(unsigned i) {
        ck_assert_uint_lt(i, journal.records->len);
        return journal.records->pdata[i];
}

static bool data_is(const JournalRecord *r, const char *text) {
        return r->len == strlen(text) && (r->len == 0 || memcmp(r->data, text, r->len) == 0);
}

/* Record @i is exactly this (name and data NULL/"" when unused). */
static void assert_record(unsigned i, RecordType type, const char *name, const char *data, uint64_t a,
                          uint64_t b, uint64_t c, bool flag) {
        const JournalRecord *r = record(i);

        ck_assert_int_eq(r->type, type);
        if (name)
                ck_assert_str_eq(r->name, name);
        else
                ck_assert_ptr_null(r->name);
        ck_assert_msg(data_is(r, data ? data : ""), "record %u: data '%.*s', expected '%s'", i, (int) r->len,
                      r->len ? (const char *) r->data : "", data ? data : "");
        ck_assert_uint_eq(r->a, a);
        ck_assert_uint_eq(r->b, b);
        ck_assert_uint_eq(r->c, c);
        ck_assert_int_eq(r->flag, flag);
}

/* Hub helpers */

static uint64_t set(const char *key, const char *value) {
        uint64_t rev = 0;

        ck_assert_int_eq(hub_set(hub, &alice->client, key, value, strlen(value), &rev), 0);
        return rev;
}

static uint64_t publish(const char *topic, const char *payload, bool retain) {
        uint64_t seq = 0;

        ck_assert_int_eq(hub_publish(hub, &alice->client, topic, payload, strlen(payload), retain, &seq), 0);
        return seq;
}

static uint64_t push(const char *queue, const char *payload, uint64_t delay) {
        uint64_t id = 0;

        ck_assert_int_eq(hub_push(hub, &alice->client, queue, payload, strlen(payload), delay, &id), 0);
        return id;
}

static uint64_t take(FakeClient *f, const char *queue, uint64_t visibility) {
        JobInfo job = {};
        uint64_t wait_id;

        ck_assert_int_eq(hub_reserve(hub, &f->client, queue, 0, visibility, &job, &wait_id), 1);
        return job.id;
}

/* Canonical dump */

typedef enum DumpFlags {
        DUMP_SEQ = 1 << 0,              /* include the hub's last seq */
        DUMP_RESERVED_AS_READY = 1 << 1, /* as a replay sees them: first in line, by id */
        DUMP_RAW_ATTEMPTS = 1 << 2,     /* reservations are not journaled: count one less */
} DumpFlags;

static gint job_cmp_id(gconstpointer a, gconstpointer b) {
        const Job *x = *(Job **) a, *y = *(Job **) b;
        return x->id < y->id ? -1 : x->id > y->id;
}

static void dump_job(GString *s, const Job *j, unsigned attempts) {
        gsize len;
        const char *p = g_bytes_get_data(j->payload, &len);

        g_string_append_printf(s, " %" G_GUINT64_FORMAT ":%u:%.*s", j->id, attempts, (int) len, len ? p : "");
        if (j->state == JOB_DELAYED)
                g_string_append_printf(s, "@%" G_GUINT64_FORMAT, timer_due(&j->timer));
}

static GPtrArray *jobs_in_state(Hub *h, Queue *q, JobState state) {
        GPtrArray *a = g_ptr_array_new();
        GHashTableIter it;
        gpointer v;

        g_hash_table_iter_init(&it, h->jobs);
        while (g_hash_table_iter_next(&it, NULL, &v))
                if (((Job *) v)->queue == q && ((Job *) v)->state == state)
                        g_ptr_array_add(a, v);
        g_ptr_array_sort(a, job_cmp_id);
        return a;
}

static void dump_entry(const StoreEntry *e, void *userdata) {
        g_string_append_printf(userdata, "key %s rev %" G_GUINT64_FORMAT " = %.*s\n", e->key, e->revision,
                               (int) e->value_len, e->value_len ? (const char *) e->value : "");
}

static gint str_cmp(gconstpointer a, gconstpointer b) {
        return strcmp(*(char **) a, *(char **) b);
}

static void dump_retained(void *userdata, const Envelope *e) {
        g_ptr_array_add(userdata, g_strdup_printf("retained %s seq %" G_GUINT64_FORMAT " = %.*s\n", e->topic,
                                                  e->seq, (int) e->payload_len, (const char *) e->payload));
}

static char *dump(Hub *h, DumpFlags flags) {
        GString *s = g_string_new(NULL);
        g_autoptr(GPtrArray) retained = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) queues = g_ptr_array_new();
        GHashTableIter it;
        gpointer k, v;

        if (flags & DUMP_SEQ)
                g_string_append_printf(s, "seq %" G_GUINT64_FORMAT "\n", h->seq);
        g_string_append_printf(s, "revision %" G_GUINT64_FORMAT "\njob id %" G_GUINT64_FORMAT "\n",
                               store_revision(h->store), h->next_job_id);
        store_foreach(h->store, dump_entry, s);

        retained_deliver(h->retained, ">", dump_retained, retained);
        g_ptr_array_sort(retained, str_cmp);    /* by topic: a topic ends at the space */
        for (guint i = 0; i < retained->len; i++)
                g_string_append(s, retained->pdata[i]);

        g_hash_table_iter_init(&it, h->queues);
        while (g_hash_table_iter_next(&it, &k, &v))
                if (((Queue *) v)->n_jobs > 0)          /* waiters are not durable */
                        g_ptr_array_add(queues, k);
        g_ptr_array_sort(queues, str_cmp);
        for (guint i = 0; i < queues->len; i++) {
                Queue *q = g_hash_table_lookup(h->queues, queues->pdata[i]);
                g_autoptr(GPtrArray) reserved = jobs_in_state(h, q, JOB_RESERVED);
                g_autoptr(GPtrArray) delayed = jobs_in_state(h, q, JOB_DELAYED);

                g_string_append_printf(s, "queue %s\n ready", q->name);
                if (flags & DUMP_RESERVED_AS_READY)
                        for (guint n = 0; n < reserved->len; n++) {
                                Job *j = reserved->pdata[n];
                                dump_job(s, j, j->attempts - !!(flags & DUMP_RAW_ATTEMPTS));
                        }
                for (GList *l = q->ready.head; l; l = l->next)
                        dump_job(s, l->data, ((Job *) l->data)->attempts);
                g_string_append(s, "\n reserved");
                if (!(flags & DUMP_RESERVED_AS_READY))
                        for (guint n = 0; n < reserved->len; n++)
                                dump_job(s, reserved->pdata[n], ((Job *) reserved->pdata[n])->attempts);
                g_string_append(s, "\n delayed");
                for (guint n = 0; n < delayed->len; n++)
                        dump_job(s, delayed->pdata[n], ((Job *) delayed->pdata[n])->attempts);
                g_string_append(s, "\n dead");
                for (GList *l = q->dead.head; l; l = l->next)
                        dump_job(s, l->data, ((Job *) l->data)->attempts);
                g_string_append_printf(s, "\n count %u\n", q->n_jobs);
        }
        return g_string_free(s, FALSE);
}

/* Store and retained records */

START_TEST(test_store_records)
{
        uint64_t rev;
        bool existed;

        ck_assert_uint_eq(set("a", "1"), 1);
        assert_record(0, RECORD_SET, "a", "1", 1, 0, 0, false);
        ck_assert_int_eq(hub_set_if(hub, &bob->client, "a", "2", 1, 1, &rev), 0);
        ck_assert_uint_eq(rev, 2);
        assert_record(1, RECORD_SET, "a", "2", 2, 0, 0, false);
        ck_assert_int_eq(hub_set_if(hub, &bob->client, "b", "", 0, 0, &rev), 0);
        assert_record(2, RECORD_SET, "b", NULL, 3, 0, 0, false);
        ck_assert_int_eq(hub_delete(hub, &bob->client, "a", &existed), 0);
        ck_assert(existed);
        assert_record(3, RECORD_DELETE, "a", NULL, 4, 0, 0, false);
        ck_assert_uint_eq(n_records(), 4);

        /* Nothing changed, nothing recorded. */
        ck_assert_int_eq(hub_set_if(hub, &bob->client, "b", "x", 1, 1, &rev), -ESTALE);
        ck_assert_int_eq(hub_delete(hub, &bob->client, "a", &existed), 0);
        ck_assert(!existed);
        ck_assert_int_eq(hub_set(hub, &bob->client, "", "x", 1, &rev), -EINVAL);
        ck_assert_uint_eq(n_records(), 4);
}
END_TEST

START_TEST(test_retain_records)
{
        uint64_t seq;
        unsigned n = 0;

        publish("t.plain", "x", false);
        ck_assert_uint_eq(n_records(), 0);

        seq = publish("t.one", "v1", true);
        ck_assert_uint_eq(seq, 2);
        assert_record(0, RECORD_RETAIN, "t.one", "v1", 2, 0, 0, false);
        seq = publish("t.two", "v2", true);
        assert_record(1, RECORD_RETAIN, "t.two", "v2", seq, 0, 0, false);

        /* Clearing with an empty payload is a message too, with its own seq. */
        seq = publish("t.one", "", true);
        assert_record(2, RECORD_RETAIN, "t.one", NULL, seq, 0, 0, false);
        ck_assert_uint_eq(hub_get_n_retained(hub), 1);

        /* hub_clear_retained() takes no seq: the record carries the last one. */
        publish("t.plain", "y", false);
        ck_assert_int_eq(hub_clear_retained(hub, "t.*", &n), 0);
        ck_assert_uint_eq(n, 1);
        assert_record(3, RECORD_RETAIN, "t.two", NULL, hub->seq, 0, 0, false);
        ck_assert_uint_eq(hub->seq, 5);
        ck_assert_uint_eq(n_records(), 4);
        ck_assert_int_eq(hub_clear_retained(hub, ">", &n), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_uint_eq(n_records(), 4);
}
END_TEST

/* Queue records */

START_TEST(test_queue_records)
{
        uint64_t a, b, c;
        unsigned n = 0, i = 0;

        a = push("jobs", "a", 0);
        assert_record(i++, RECORD_PUSH, "jobs", "a", a, 0, 0, false);
        b = push("jobs", "b", 5 * SEC);
        assert_record(i++, RECORD_PUSH, "jobs", "b", b, T0 + 5 * SEC, 0, false);
        c = push("jobs", "", 0);
        assert_record(i++, RECORD_PUSH, "jobs", NULL, c, 0, 0, false);
        ck_assert_uint_eq(n_records(), i);

        /* Ack. */
        ck_assert_uint_eq(take(alice, "jobs", 0), a);
        ck_assert_int_eq(hub_ack(hub, &alice->client, a), 0);
        assert_record(i++, RECORD_ACK, NULL, NULL, a, 0, 0, false);

        /* Nack with a delay: back when due, attempts as they are. */
        ck_assert_uint_eq(take(alice, "jobs", 0), c);
        now_usec += SEC;
        ck_assert_int_eq(hub_nack(hub, &alice->client, c, 3 * SEC), 0);
        assert_record(i++, RECORD_RETURN, NULL, NULL, c, T0 + 4 * SEC, 1, false);

        /* Expiry: due 0, back now (to the front). */
        run_at(T0 + 5 * SEC);           /* b and c become ready: nothing to record */
        ck_assert_uint_eq(n_records(), i);
        ck_assert_uint_eq(take(bob, "jobs", 0), c);
        run_at(T0 + 15 * SEC);
        assert_record(i++, RECORD_RETURN, NULL, NULL, c, 0, 2, true);  /* max_attempts is 2: dead */
        ck_assert_uint_eq(take(bob, "jobs", 0), b);
        run_at(T0 + 25 * SEC);
        assert_record(i++, RECORD_RETURN, NULL, NULL, b, 0, 1, false);

        /* Kick. */
        ck_assert_int_eq(hub_kick(hub, "jobs", 0, &n), 0);
        ck_assert_uint_eq(n, 1);
        assert_record(i++, RECORD_KICK, NULL, NULL, c, 0, 0, false);

        /* A consumer that goes: its job returns, due 0. */
        ck_assert_uint_eq(take(carol, "jobs", 0), b);
        g_clear_pointer(&carol, fake_client_free);
        assert_record(i++, RECORD_RETURN, NULL, NULL, b, 0, 2, true);

        /* Purge: one ACK per job deleted. */
        ck_assert_int_eq(hub_kick(hub, "jobs", 0, &n), 0);
        assert_record(i++, RECORD_KICK, NULL, NULL, b, 0, 0, false);
        ck_assert_int_eq(hub_purge(hub, "jobs", &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(n_records(), i + 2);
        for (unsigned k = i; k < i + 2; k++) {
                ck_assert_int_eq(record(k)->type, RECORD_ACK);
                ck_assert_ptr_null(record(k)->name);
        }
        ck_assert_uint_ne(record(i)->a, record(i + 1)->a);
        ck_assert(record(i)->a == b || record(i)->a == c);
        ck_assert(record(i + 1)->a == b || record(i + 1)->a == c);
        ck_assert_uint_eq(hub_get_n_queues(hub), 0);
}
END_TEST

START_TEST(test_nack_now_record)
{
        uint64_t a = push("jobs", "a", 0);

        ck_assert_uint_eq(take(alice, "jobs", 0), a);
        now_usec += SEC;
        ck_assert_int_eq(hub_nack(hub, &alice->client, a, 0), 0);
        ck_assert_uint_eq(n_records(), 2);
        ck_assert_int_eq(record(1)->type, RECORD_RETURN);
        ck_assert_uint_eq(record(1)->a, a);
        ck_assert_uint_eq(record(1)->c, 1);
        ck_assert(!record(1)->flag);
        /* Ready now, at the tail: a due time that has come (0 would mean "to the front"). */
        ck_assert_uint_gt(record(1)->b, 0);
        ck_assert_uint_le(record(1)->b, now_usec);
}
END_TEST

START_TEST(test_non_durable_records_nothing)
{
        StoreEntry e;
        JobInfo job;
        uint64_t id, w, a;
        unsigned n;

        ck_assert_int_eq(hub_subscribe(hub, &bob->client, ">", true, &id), 0);
        ck_assert_int_eq(hub_unsubscribe(hub, &bob->client, id), 0);
        ck_assert_int_eq(hub_watch(hub, &bob->client, "", &id), 0);
        publish("t.plain", "x", false);
        ck_assert_int_eq(hub_get(hub, "missing", &e), -ENOENT);
        ck_assert_int_eq(hub_clear_retained(hub, ">", &n), 0);
        ck_assert_int_eq(hub_reserve(hub, &bob->client, "jobs", 0, 0, &job, &w), -EAGAIN);
        ck_assert_int_eq(hub_reserve(hub, &bob->client, "jobs", 5 * SEC, 0, &job, &w), 0);
        ck_assert_int_eq(hub_reserve_cancel(hub, &bob->client, w), 0);
        ck_assert_int_eq(hub_reserve(hub, &bob->client, "jobs", 5 * SEC, 0, &job, &w), 0);
        run_at(T0 + 5 * SEC);                   /* the wait times out */
        ck_assert_int_eq(hub_kick(hub, "jobs", 0, &n), 0);
        ck_assert_int_eq(hub_purge(hub, "jobs", &n), 0);
        ck_assert_uint_eq(n_records(), 0);

        a = push("jobs", "a", SEC);
        ck_assert_uint_eq(n_records(), 1);
        run_at(T0 + 6 * SEC);                   /* delayed -> ready */
        ck_assert_int_eq(hub_peek(hub, "jobs", &job), 0);
        ck_assert_uint_eq(take(alice, "jobs", 0), a);
        ck_assert_int_eq(hub_touch(hub, &alice->client, a), 0);
        g_array_unref(hub_list_queues(hub));
        ck_assert_int_eq(hub_reserve(hub, &bob->client, "jobs", 5 * SEC, 0, &job, &w), 0);
        ck_assert_int_eq(hub_ack(hub, &bob->client, a), -ENOENT);
        ck_assert_uint_eq(n_records(), 1);
        /* A waiter answered by a push: only the push. */
        a = push("jobs", "b", 0);
        ck_assert_uint_eq(n_records(), 2);
        ck_assert_uint_eq(fake_client_get(bob, bob->delivered->len - 1)->seq, a);
}
END_TEST

/* A refusing journal changes nothing */

START_TEST(test_failing_store)
{
        StoreEntry e;
        uint64_t rev = 0, wid;
        bool existed = false;

        ck_assert_int_eq(hub_watch(hub, &bob->client, "", &wid), 0);
        set("kept", "v1");
        fake_client_clear(bob);
        journal.fail = -ENOSPC;

        ck_assert_int_eq(hub_set(hub, &alice->client, "new", "x", 1, &rev), -ENOSPC);
        ck_assert_int_eq(hub_get(hub, "new", &e), -ENOENT);
        ck_assert_int_eq(hub_set(hub, &alice->client, "kept", "v2", 2, &rev), -ENOSPC);
        ck_assert_int_eq(hub_set_if(hub, &alice->client, "kept", "v2", 2, 1, &rev), -ENOSPC);
        ck_assert_int_eq(hub_delete(hub, &alice->client, "kept", &existed), -ENOSPC);
        ck_assert_uint_eq(rev, 0);
        ck_assert_int_eq(hub_get(hub, "kept", &e), 0);
        ck_assert_uint_eq(e.revision, 1);
        ck_assert_uint_eq(e.value_len, 2);
        ck_assert(memcmp(e.value, "v1", 2) == 0);
        ck_assert_uint_eq(store_revision(hub->store), 1);
        ck_assert_uint_eq(hub_get_n_keys(hub), 1);
        ck_assert_uint_eq(bob->delivered->len, 0);     /* no watcher heard of it */
        ck_assert_uint_eq(hub_get_counters(hub)->store_changes, 1);
        ck_assert_uint_eq(journal.n_refused, 4);

        /* -EIO passes through the same way. */
        journal.fail = -EIO;
        ck_assert_int_eq(hub_set(hub, &alice->client, "kept", "v3", 2, &rev), -EIO);

        journal.fail = 0;
        ck_assert_uint_eq(set("kept", "v2"), 2);
        ck_assert_int_eq(hub_delete(hub, &alice->client, "kept", &existed), 0);
        ck_assert(existed);
        ck_assert_uint_eq(store_revision(hub->store), 3);
        ck_assert_uint_eq(bob->delivered->len, 2);
        ck_assert_uint_eq(n_records(), 3);
}
END_TEST

START_TEST(test_failing_retain)
{
        uint64_t seq, sid;
        unsigned n = 99;

        seq = publish("t.kept", "v1", true);
        ck_assert_int_eq(hub_subscribe(hub, &bob->client, ">", false, &sid), 0);
        journal.fail = -ENOSPC;

        ck_assert_int_eq(hub_publish(hub, &alice->client, "t.new", "x", 1, true, NULL), -ENOSPC);
        ck_assert_int_eq(hub_publish(hub, &alice->client, "t.kept", "v2", 2, true, NULL), -ENOSPC);
        ck_assert_int_eq(hub_publish(hub, &alice->client, "t.kept", "", 0, true, NULL), -ENOSPC);
        ck_assert_int_eq(hub_clear_retained(hub, ">", &n), -ENOSPC);
        ck_assert_uint_eq(n, 0);
        /* Not retained, not delivered, no seq taken. */
        ck_assert_uint_eq(bob->delivered->len, 0);
        ck_assert_uint_eq(hub->seq, seq);
        ck_assert_uint_eq(hub_get_counters(hub)->published, 1);
        ck_assert_uint_eq(hub_get_n_retained(hub), 1);
        {
                Retained *r = retained_lookup(hub->retained, "t.kept");
                ck_assert_ptr_nonnull(r);
                ck_assert_uint_eq(r->seq, seq);
                ck_assert_uint_eq(g_bytes_get_size(r->payload), 2);
        }

        /* Plain messages need no journal. */
        ck_assert_uint_eq(publish("t.plain", "p", false), seq + 1);
        ck_assert_uint_eq(bob->delivered->len, 1);

        journal.fail = 0;
        ck_assert_uint_eq(publish("t.kept", "v2", true), seq + 2);
        ck_assert_int_eq(hub_clear_retained(hub, ">", &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(hub_get_n_retained(hub), 0);
}
END_TEST

START_TEST(test_failing_queue)
{
        g_autofree char *before = NULL, *after = NULL;
        uint64_t a, dead, id;
        unsigned n = 99;

        a = push("jobs", "a", 0);
        dead = push("jobs", "dead", 0);
        ck_assert_uint_eq(take(alice, "jobs", 0), a);
        for (int i = 0; i < 2; i++) {
                ck_assert_uint_eq(take(bob, "jobs", 0), dead);
                ck_assert_int_eq(hub_nack(hub, &bob->client, dead, 0), 0);
        }
        push("jobs", "ready", 0);
        journal.fail = -ENOSPC;
        before = dump(hub, DUMP_SEQ);

        ck_assert_int_eq(hub_push(hub, &alice->client, "jobs", "x", 1, 0, &id), -ENOSPC);
        ck_assert_int_eq(hub_push(hub, &alice->client, "fresh", "x", 1, 0, &id), -ENOSPC);
        ck_assert_int_eq(hub_push(hub, &alice->client, "jobs", "x", 1, SEC, &id), -ENOSPC);
        ck_assert_int_eq(hub_ack(hub, &alice->client, a), -ENOSPC);
        ck_assert_int_eq(hub_nack(hub, &alice->client, a, 0), -ENOSPC);
        ck_assert_int_eq(hub_nack(hub, &alice->client, a, SEC), -ENOSPC);
        ck_assert_int_eq(hub_kick(hub, "jobs", 0, &n), -ENOSPC);
        ck_assert_uint_eq(n, 0);
        ck_assert_int_eq(hub_purge(hub, "jobs", &n), -ENOSPC);
        ck_assert_uint_eq(n, 0);
        after = dump(hub, DUMP_SEQ);
        ck_assert_str_eq(before, after);
        ck_assert_uint_eq(hub_get_n_queues(hub), 1);
        ck_assert_int_eq(g_hash_table_size(alice->client.reserved), 1);

        /* A refused expiry stays reserved and is tried again a second later. */
        run_at(T0 + 10 * SEC);
        g_free(after);
        after = dump(hub, DUMP_SEQ);
        ck_assert_str_eq(before, after);
        ck_assert_uint_eq(hub_next_deadline(hub), T0 + 11 * SEC);
        ck_assert_int_eq(hub_ack(hub, &alice->client, a), -ENOSPC);
        journal.fail = 0;
        run_at(T0 + 11 * SEC);
        ck_assert_int_eq(hub_ack(hub, &alice->client, a), -ENOENT);
        ck_assert_uint_eq(g_hash_table_size(alice->client.reserved), 0);

        /* Once the journal works, the job ids go on where they were. */
        ck_assert_uint_eq(push("jobs", "x", 0), dead + 2);
        ck_assert_int_eq(hub_kick(hub, "jobs", 0, &n), 0);
        ck_assert_uint_eq(n, 1);
}
END_TEST

START_TEST(test_failing_push_to_waiter)
{
        uint64_t w, id;
        JobInfo job;

        ck_assert_int_eq(hub_reserve(hub, &bob->client, "jobs", 60 * SEC, 0, &job, &w), 0);
        journal.fail = -ENOSPC;
        ck_assert_int_eq(hub_push(hub, &alice->client, "jobs", "x", 1, 0, &id), -ENOSPC);
        ck_assert_uint_eq(bob->delivered->len, 0);
        ck_assert_uint_eq(g_hash_table_size(bob->client.waits), 1);
        journal.fail = 0;
        id = push("jobs", "x", 0);
        ck_assert_uint_eq(id, 1);
        ck_assert_uint_eq(bob->delivered->len, 1);
        ck_assert_uint_eq(fake_client_get(bob, 0)->seq, id);
}
END_TEST

START_TEST(test_failing_disconnect)
{
        uint64_t a = push("jobs", "a", 0);

        push("jobs", "b", 0);
        ck_assert_uint_eq(take(carol, "jobs", 0), a);
        journal.fail = -ENOSPC;
        /* The client is gone either way: its job is ready again (a restart would agree). */
        g_clear_pointer(&carol, fake_client_free);
        ck_assert_uint_eq(n_records(), 2);
        ck_assert_uint_eq(take(bob, "jobs", 0), a);
}
END_TEST

START_TEST(test_partial_purge_and_kick)
{
        unsigned n = 99;
        JobInfo job;

        for (int i = 0; i < 3; i++)
                push("jobs", "j", 0);
        /* Purge stops at the first refused record; what was recorded is done. */
        journal.budget = 1;
        ck_assert_int_eq(hub_purge(hub, "jobs", &n), -ENOSPC);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(n_records(), 4);
        ck_assert_int_eq(record(3)->type, RECORD_ACK);
        ck_assert(!g_hash_table_contains(hub->jobs, &record(3)->a));
        ck_assert_uint_eq(g_hash_table_size(hub->jobs), 2);

        /* Kill both, then kick with a budget of one. */
        journal.budget = -1;
        for (int round = 0; round < 2; round++)
                for (int i = 0; i < 2; i++) {
                        uint64_t id = take(alice, "jobs", 0);
                        ck_assert_int_eq(hub_nack(hub, &alice->client, id, 0), 0);
                }
        ck_assert_uint_eq(g_queue_get_length(&((Queue *) g_hash_table_lookup(hub->queues, "jobs"))->dead), 2);
        journal.budget = 1;
        ck_assert_int_eq(hub_kick(hub, "jobs", 0, &n), -ENOSPC);
        ck_assert_uint_eq(n, 1);
        ck_assert_int_eq(hub_peek(hub, "jobs", &job), 0);
        ck_assert_uint_eq(job.id, record(n_records() - 1)->a);
        ck_assert_int_eq(record(n_records() - 1)->type, RECORD_KICK);
}
END_TEST

/* Snapshot and replay */

/*
 * A hub with something in every durable state. Returns at T0 + 20s with:
 * keys a (rev 3), b, c (empty value); "gone" deleted; retained t.one and
 * t.two, t.cleared and t.empty cleared; queue "work" ready w4 w5 w2 and w1
 * reserved by alice; "later" two delayed jobs; "dlq" dead x y and ready z;
 * "kicked" one kicked job; "purged" gone; bob waiting on "waitq".
 */
static void build_state(void) {
        uint64_t w1, w2, w3, id, wait;
        unsigned n;
        JobInfo job;

        set("a", "1");
        set("b", "2");
        set("a", "3");
        set("gone", "g");
        ck_assert_int_eq(hub_delete(hub, &alice->client, "gone", NULL), 0);
        set("c", "");
        ck_assert_int_eq(hub_delete(hub, &alice->client, "nope", NULL), 0);

        publish("t.one", "x", true);
        publish("t.two", "noise", false);
        publish("t.two", "y", true);
        publish("t.cleared", "z", true);
        ck_assert_int_eq(hub_clear_retained(hub, "t.cleared", &n), 0);
        ck_assert_uint_eq(n, 1);
        publish("t.empty", "w", true);
        publish("t.empty", "", true);
        publish("noise", "n", false);

        w1 = push("work", "w1", 0);
        w2 = push("work", "w2", 0);
        w3 = push("work", "w3", 0);
        push("work", "w4", 0);
        push("work", "w5", 0);
        ck_assert_uint_eq(take(alice, "work", 10 * SEC), w1);
        ck_assert_uint_eq(take(bob, "work", 0), w2);
        ck_assert_uint_eq(take(carol, "work", 0), w3);
        ck_assert_int_eq(hub_nack(hub, &bob->client, w2, 0), 0);        /* to the tail */
        ck_assert_int_eq(hub_ack(hub, &carol->client, w3), 0);

        push("later", "d1", 60 * SEC);
        id = push("later", "n1", 0);
        ck_assert_uint_eq(take(bob, "later", 0), id);
        ck_assert_int_eq(hub_nack(hub, &bob->client, id, 120 * SEC), 0);

        for (const char *const *p = (const char *[]) { "x", "y", NULL }; *p; p++) {
                id = push("dlq", *p, 0);
                for (int i = 0; i < 2; i++) {
                        ck_assert_uint_eq(take(carol, "dlq", 0), id);
                        ck_assert_int_eq(hub_nack(hub, &carol->client, id, 0), 0);
                }
        }
        push("dlq", "z", 0);

        id = push("kicked", "k", 0);
        for (int i = 0; i < 2; i++) {
                ck_assert_uint_eq(take(carol, "kicked", 0), id);
                ck_assert_int_eq(hub_nack(hub, &carol->client, id, 0), 0);
        }
        ck_assert_int_eq(hub_kick(hub, "kicked", 0, &n), 0);
        ck_assert_uint_eq(n, 1);

        push("purged", "p1", 0);
        push("purged", "p2", 5 * SEC);
        ck_assert_int_eq(hub_purge(hub, "purged", &n), 0);
        ck_assert_uint_eq(n, 2);

        ck_assert_int_eq(hub_reserve(hub, &bob->client, "waitq", 600 * SEC, 0, &job, &wait), 0);

        run_at(T0 + 10 * SEC);          /* w1 expires: back to the front */
        ck_assert_uint_eq(take(alice, "work", 60 * SEC), w1);   /* and reserved again */
        run_at(T0 + 20 * SEC);
        ck_assert_uint_eq(hub_get_n_queues(hub), 5);
}

static const char expected_state[] =
        "revision 6\n"
        "job id 13\n"
        "key a rev 3 = 3\n"
        "key b rev 2 = 2\n"
        "key c rev 6 = \n"
        "retained t.one seq 1 = x\n"
        "retained t.two seq 3 = y\n"
        "queue dlq\n"
        " ready 10:0:z\n"
        " reserved\n"
        " delayed\n"
        " dead 8:2:x 9:2:y\n"
        " count 3\n"
        "queue kicked\n"
        " ready 11:0:k\n"
        " reserved\n"
        " delayed\n"
        " dead\n"
        " count 1\n"
        "queue later\n"
        " ready\n"
        " reserved\n"
        " delayed 6:0:d1@1700000060000000 7:1:n1@1700000120000000\n"
        " dead\n"
        " count 2\n"
        "queue work\n"
        " ready 1:2:w1 4:0:w4 5:0:w5 2:1:w2\n"
        " reserved\n"
        " delayed\n"
        " dead\n"
        " count 4\n";

static void replay_all(Hub *h, GPtrArray *records) {
        for (guint i = 0; i < records->len; i++) {
                const JournalRecord *r = records->pdata[i];
                ck_assert_msg(hub_replay(h, r) == 0, "record %u (type %d) refused", i, r->type);
        }
}

START_TEST(test_snapshot_round_trip)
{
        g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func((GDestroyNotify) record_free);
        g_autofree char *want = NULL, *got = NULL, *exact = NULL;
        g_autoptr(Hub) h2 = NULL;
        g_autoptr(FakeClient) probe = NULL;
        uint64_t seq = hub->seq, id, rev;
        unsigned n_before;
        JobInfo job;

        build_state();
        seq = hub->seq;
        want = dump(hub, DUMP_SEQ | DUMP_RESERVED_AS_READY);
        /* The test's own model of the state, so that a dump bug cannot hide one in the hub. */
        exact = dump(hub, DUMP_RESERVED_AS_READY);
        ck_assert_str_eq(exact, expected_state);

        n_before = n_records();
        hub_snapshot(hub, collect, records);
        ck_assert_uint_eq(n_records(), n_before);      /* snapshots are not journaled */
        ck_assert_uint_gt(records->len, 0);
        {
                const JournalRecord *c = records->pdata[0];
                ck_assert_int_eq(c->type, RECORD_COUNTERS);
                /* Above every seq handed out, and above the lease: nothing is numbered twice. */
                ck_assert_uint_gt(c->a, seq);
                ck_assert_uint_eq(c->a, journal.lease);
                ck_assert_uint_eq(c->b, 6);
                ck_assert_uint_eq(c->c, 13);
        }

        h2 = new_hub();
        replay_all(h2, records);
        /* It numbers above the lease, so nothing handed out before is numbered again. */
        ck_assert_uint_eq(h2->seq, journal.lease);
        h2->seq = hub->seq;
        got = dump(h2, DUMP_SEQ);
        ck_assert_str_eq(got, want);

        /* Replay told nobody and journaled nothing; counters go on after the old ones. */
        ck_assert_uint_eq(n_records(), n_before);
        probe = fake_client_new(h2, 1000);
        ck_assert_int_eq(hub_publish(h2, NULL, "t.new", "x", 1, false, &id), 0);
        ck_assert_uint_eq(id, seq + 1);
        ck_assert_int_eq(hub_set(h2, NULL, "new", "x", 1, &rev), 0);
        ck_assert_uint_eq(rev, 7);
        ck_assert_int_eq(hub_push(h2, NULL, "work", "w6", 2, 0, &id), 0);
        ck_assert_uint_eq(id, 14);

        /* Timers are rearmed: the first delayed job is due when it was. */
        ck_assert_uint_eq(hub_next_deadline(h2), T0 + 60 * SEC);
        ck_assert_int_eq(hub_reserve(h2, &probe->client, "work", 0, 0, &job, &id), 1);
        ck_assert_uint_eq(job.id, 1);
        ck_assert_uint_eq(job.attempts, 3);
        g_clear_pointer(&probe, fake_client_free);

        /* A snapshot of the replayed hub replays to the same again. */
        {
                g_autoptr(GPtrArray) again = g_ptr_array_new_with_free_func((GDestroyNotify) record_free);
                g_autoptr(Hub) h3 = new_hub();
                g_autofree char *d2 = NULL, *d3 = NULL;

                hub_snapshot(h2, collect, again);
                replay_all(h3, again);
                d2 = dump(h2, DUMP_SEQ | DUMP_RESERVED_AS_READY);
                d3 = dump(h3, DUMP_SEQ);
                ck_assert_str_eq(d2, d3);
        }
}
END_TEST

START_TEST(test_raw_journal_replay)
{
        g_autofree char *want = NULL, *got = NULL;
        g_autoptr(Hub) h2 = NULL;

        build_state();
        /* Reservations are not journaled: the reserved job is first in line, one attempt fewer. */
        want = dump(hub, DUMP_RESERVED_AS_READY | DUMP_RAW_ATTEMPTS);

        h2 = new_hub();
        replay_all(h2, journal.records);
        got = dump(h2, 0);
        ck_assert_str_eq(got, want);
        /* Plain messages leave no trace, retained ones do. */
        ck_assert_uint_ge(h2->seq, 3);
        ck_assert_uint_le(h2->seq, hub->seq);
}
END_TEST

START_TEST(test_replay_then_snapshot_of_delayed)
{
        g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func((GDestroyNotify) record_free);
        g_autoptr(Hub) h2 = NULL;
        g_autoptr(FakeClient) probe = NULL;
        JobInfo job;
        uint64_t w;

        push("later", "d", 30 * SEC);
        hub_snapshot(hub, collect, records);
        h2 = new_hub();
        replay_all(h2, records);
        probe = fake_client_new(h2, 1000);
        ck_assert_int_eq(hub_reserve(h2, &probe->client, "later", 0, 0, &job, &w), -EAGAIN);
        ck_assert_uint_eq(hub_next_deadline(h2), T0 + 30 * SEC);
        now_usec = T0 + 30 * SEC;
        hub_run_timers(h2);
        ck_assert_int_eq(hub_reserve(h2, &probe->client, "later", 0, 0, &job, &w), 1);

        /* Replayed after its time: ready at once. */
        {
                g_autoptr(Hub) h3 = new_hub();
                g_autoptr(FakeClient) p3 = fake_client_new(h3, 1000);

                now_usec = T0 + 100 * SEC;
                replay_all(h3, records);
                ck_assert_int_eq(hub_reserve(h3, &p3->client, "later", 0, 0, &job, &w), 1);
                g_clear_pointer(&p3, fake_client_free);
        }
        g_clear_pointer(&probe, fake_client_free);
}
END_TEST

START_TEST(test_empty_snapshot)
{
        g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func((GDestroyNotify) record_free);

        hub_snapshot(hub, collect, records);
        ck_assert_uint_eq(records->len, 1);
        ck_assert_int_eq(((JournalRecord *) records->pdata[0])->type, RECORD_COUNTERS);
}
END_TEST

START_TEST(test_replay_invalid)
{
        g_autofree char *before = NULL, *after = NULL;
        static const JournalRecord bad[] = {
                { .type = RECORD_SET, .name = NULL, .data = "v", .len = 1, .a = 50 },
                { .type = RECORD_SET, .name = "", .data = "v", .len = 1, .a = 50 },
                { .type = RECORD_SET, .name = "ctl\001", .data = "v", .len = 1, .a = 50 },
                { .type = RECORD_DELETE, .name = NULL, .a = 50 },
                { .type = RECORD_DELETE, .name = "", .a = 50 },
                { .type = RECORD_DELETE, .name = "ctl\001", .a = 50 },
                { .type = RECORD_RETAIN, .name = NULL, .data = "v", .len = 1, .a = 50 },
                { .type = RECORD_RETAIN, .name = "a..b", .data = "v", .len = 1, .a = 50 },
                { .type = RECORD_RETAIN, .name = "a.*", .data = "v", .len = 1, .a = 50 },
                { .type = RECORD_RETAIN, .name = "a.>", .len = 0, .a = 50 },
                { .type = RECORD_PUSH, .name = NULL, .data = "j", .len = 1, .a = 50 },
                { .type = RECORD_PUSH, .name = "bad queue", .data = "j", .len = 1, .a = 50 },
                { .type = RECORD_PUSH, .name = "q.>", .data = "j", .len = 1, .a = 50 },
                { .type = RECORD_PUSH, .name = "jobs", .data = "dup", .len = 3, .a = 1 },
                { .type = RECORD_PUSH, .name = "jobs", .data = "zero", .len = 4, .a = 0 },
                { .type = 0, .name = "a", .a = 50, .b = 50, .c = 50 },
                { .type = 99, .name = "a", .a = 1, .b = 50, .c = 50 },
                { .type = _RECORD_MAX, .a = 1, .b = 50, .c = 50 },
        };

        set("a", "1");
        publish("t.x", "v", true);
        push("jobs", "j", 0);
        before = dump(hub, DUMP_SEQ);
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autofree char *now = NULL;

                ck_assert_msg(hub_replay(hub, &bad[i]) == -EINVAL, "bad record %zu accepted", i);
                now = dump(hub, DUMP_SEQ);
                ck_assert_msg(strcmp(now, before) == 0, "bad record %zu changed the hub:\n%s", i, now);
        }
        after = dump(hub, DUMP_SEQ);
        ck_assert_str_eq(before, after);
        ck_assert_uint_eq(n_records(), 3);

        /* Records about jobs that are gone are no error (acked or purged before). */
        ck_assert_int_eq(hub_replay(hub, &(JournalRecord) { .type = RECORD_ACK, .a = 77 }), 0);
        ck_assert_int_eq(hub_replay(hub, &(JournalRecord) { .type = RECORD_RETURN, .a = 77 }), 0);
        ck_assert_int_eq(hub_replay(hub, &(JournalRecord) { .type = RECORD_KICK, .a = 77 }), 0);
        g_free(after);
        after = dump(hub, DUMP_SEQ);
        ck_assert_str_eq(before, after);
}
END_TEST

/* Seq numbers never go back, across a crash included: a lease is journaled ahead of them. */
START_TEST(test_seq_lease)
{
        g_autoptr(Hub) h2 = NULL;
        uint64_t first, seq = 0;

        first = publish("t.plain", "x", false);
        ck_assert_uint_eq(journal.n_leases, 1);
        ck_assert_uint_eq(journal.lease, first - 1 + 65536);
        /* One lease serves 65536 numbers; the next is taken when they run out. */
        for (unsigned i = 1; i < 65536; i++)
                seq = publish("t.plain", "x", false);
        ck_assert_uint_eq(seq, journal.lease);
        ck_assert_uint_eq(journal.n_leases, 1);
        ck_assert_uint_eq(publish("t.plain", "x", false), journal.lease - 65536 + 1);
        ck_assert_uint_eq(journal.n_leases, 2);

        /* After a crash, numbering starts above the lease. */
        h2 = new_hub();
        ck_assert_int_eq(hub_replay(h2, &(JournalRecord) { .type = RECORD_COUNTERS, .a = journal.lease }), 0);
        hub_set_journal(h2, &(HubJournal) { .append = fake_append, .userdata = &journal });
        /* A disk that refuses the lease does not stop plain publishing; the next publish tries again. */
        journal.fail = -EIO;
        ck_assert_uint_eq(hub_publish(h2, NULL, "t.after", "x", 1, false, &seq), 0);
        ck_assert_uint_eq(seq, journal.lease + 1);
        ck_assert_uint_eq(journal.n_refused, 1);
        journal.fail = 0;
        ck_assert_uint_eq(hub_publish(h2, NULL, "t.after", "x", 1, false, &seq), 0);
        ck_assert_uint_eq(journal.lease, seq - 1 + 65536);
}
END_TEST

START_TEST(test_replay_is_silent)
{
        g_autoptr(Hub) h2 = new_hub();
        g_autoptr(FakeClient) watcher = fake_client_new(h2, 1000);
        g_autofree char *want = NULL, *got = NULL;
        uint64_t id;

        ck_assert_int_eq(hub_watch(h2, &watcher->client, "", &id), 0);
        ck_assert_int_eq(hub_subscribe(h2, &watcher->client, ">", false, &id), 0);

        set("k", "v");
        publish("t.r", "v", true);
        push("jobs", "j", 0);
        replay_all(h2, journal.records);
        /* Nobody was told. */
        ck_assert_uint_eq(watcher->delivered->len, 0);
        ck_assert_uint_eq(hub_get_counters(h2)->store_changes, 0);
        ck_assert_uint_eq(hub_get_counters(h2)->published, 0);
        g_clear_pointer(&watcher, fake_client_free);

        want = dump(hub, DUMP_SEQ);
        got = dump(h2, DUMP_SEQ);
        ck_assert_str_eq(got, want);
}
END_TEST

static Suite *durability_suite(void) {
        Suite *s = suite_create("durability");
        TCase *tc;

        tc = tcase_create("records");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_store_records);
        tcase_add_test(tc, test_retain_records);
        tcase_add_test(tc, test_queue_records);
        tcase_add_test(tc, test_nack_now_record);
        tcase_add_test(tc, test_non_durable_records_nothing);
        suite_add_tcase(s, tc);

        tc = tcase_create("failing");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_failing_store);
        tcase_add_test(tc, test_failing_retain);
        tcase_add_test(tc, test_failing_queue);
        tcase_add_test(tc, test_failing_push_to_waiter);
        tcase_add_test(tc, test_failing_disconnect);
        tcase_add_test(tc, test_partial_purge_and_kick);
        suite_add_tcase(s, tc);

        tc = tcase_create("replay");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_snapshot_round_trip);
        tcase_add_test(tc, test_raw_journal_replay);
        tcase_add_test(tc, test_replay_then_snapshot_of_delayed);
        tcase_add_test(tc, test_empty_snapshot);
        tcase_add_test(tc, test_replay_invalid);
        tcase_add_test(tc, test_replay_is_silent);
        tcase_add_test(tc, test_seq_lease);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(durability_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
