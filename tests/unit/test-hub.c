/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-hub.c: the hub's topic side and bookkeeping as FakeClients see it:
 * matching through the tree, sequence numbers, ordering, retained values,
 * gap notices from full sinks, limits, client_deinit(), the counters behind
 * GetInfo, and payload_is_text().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <glib.h>

#include "core/timer.h"
#include "core/topic.h"
#include "fake-client.h"
#include "util/text.h"

static Hub *hub;
static FakeClient *alice, *bob;

static void setup_with(const HubLimits *limits) {
        hub = test_hub_new(limits);
        alice = fake_client_new(hub, 1000);
        bob = fake_client_new(hub, 1001);
}

static void setup(void) {
        setup_with(NULL);
}

static void setup_small(void) {
        HubLimits l;

        hub_limits_default(&l);
        l.max_payload = 16;
        l.max_subscriptions = 2;
        l.max_retained = 2;
        l.max_clients = 3;
        setup_with(&l);
}

static void teardown(void) {
        g_clear_pointer(&alice, fake_client_free);
        g_clear_pointer(&bob, fake_client_free);
        g_clear_pointer(&hub, hub_free);
}

static uint64_t subscribe(FakeClient *f, const char *pattern, bool with_retained) {
        uint64_t id = 0;

        ck_assert_int_eq(hub_subscribe(hub, &f->client, pattern, with_retained, &id), 0);
        ck_assert_uint_gt(id, 0);
        return id;
}

static uint64_t publish(FakeClient *f, const char *topic, const char *payload, bool retain) {
        uint64_t seq = 0;

        ck_assert_int_eq(hub_publish(hub, f ? &f->client : NULL, topic, payload, strlen(payload),
                                     retain, &seq), 0);
        ck_assert_uint_gt(seq, 0);
        return seq;
}

static const FakeEnvelope *last(FakeClient *f) {
        ck_assert_uint_gt(f->delivered->len, 0);
        return fake_client_get(f, f->delivered->len - 1);
}

static unsigned count_for(FakeClient *f, uint64_t sub_id) {
        unsigned n = 0;

        for (guint i = 0; i < f->delivered->len; i++)
                if (fake_client_get(f, i)->sub_id == sub_id)
                        n++;
        return n;
}

/* Matching through the hub */

START_TEST(test_star_matches_one_token)
{
        uint64_t id = subscribe(alice, "sensors.*.temp", false), seq;
        const FakeEnvelope *e;

        seq = publish(bob, "sensors.kitchen.temp", "21", false);
        publish(bob, "sensors.kitchen.top.temp", "9", false);
        publish(bob, "sensors.temp", "9", false);

        ck_assert_uint_eq(alice->delivered->len, 1);
        e = fake_client_get(alice, 0);
        ck_assert_int_eq(e->kind, ENVELOPE_MESSAGE);
        ck_assert_uint_eq(e->sub_id, id);
        ck_assert_str_eq(e->topic, "sensors.kitchen.temp");
        ck_assert(fake_envelope_payload_is(e, "21"));
        ck_assert_uint_eq(e->seq, seq);
        ck_assert(!e->retained);
        ck_assert(e->has_sender);
        ck_assert_uint_eq(e->sender_id, bob->client.info.id);
        ck_assert_uint_eq(e->sender_uid, 1001);
        ck_assert_str_eq(e->sender_transport, "fake");
        ck_assert_str_eq(e->sender_name, bob->client.info.name);
        ck_assert_uint_eq(bob->delivered->len, 0);
}
END_TEST

START_TEST(test_tail_wildcard)
{
        uint64_t tail = subscribe(alice, "a.>", false);
        uint64_t all = subscribe(bob, ">", false);

        publish(NULL, "a", "x", false);
        publish(NULL, "a.b", "x", false);
        publish(NULL, "a.b.c.d", "x", false);
        publish(NULL, "b", "x", false);
        publish(NULL, "ab.c", "x", false);

        /* "a.>" is one or more tokens after "a", never "a" itself. */
        ck_assert_uint_eq(count_for(alice, tail), 2);
        ck_assert_str_eq(fake_client_get(alice, 0)->topic, "a.b");
        ck_assert_str_eq(fake_client_get(alice, 1)->topic, "a.b.c.d");
        /* ">" alone is everything. */
        ck_assert_uint_eq(count_for(bob, all), 5);
        /* A message from the hub itself has no sender. */
        ck_assert(!fake_client_get(bob, 0)->has_sender);
}
END_TEST

START_TEST(test_overlap_once_per_subscription)
{
        uint64_t lit = subscribe(alice, "a.b", false);
        uint64_t lit2 = subscribe(alice, "a.b", false);
        uint64_t star = subscribe(alice, "a.*", false);
        uint64_t tail = subscribe(alice, "a.>", false);
        uint64_t all = subscribe(alice, ">", false);
        uint64_t miss = subscribe(alice, "a.c", false);
        uint64_t bobs = subscribe(bob, "*.b", false);
        uint64_t seq = publish(NULL, "a.b", "x", false);

        ck_assert_uint_eq(alice->delivered->len, 5);
        ck_assert_uint_eq(count_for(alice, lit), 1);
        ck_assert_uint_eq(count_for(alice, lit2), 1);
        ck_assert_uint_eq(count_for(alice, star), 1);
        ck_assert_uint_eq(count_for(alice, tail), 1);
        ck_assert_uint_eq(count_for(alice, all), 1);
        ck_assert_uint_eq(count_for(alice, miss), 0);
        for (guint i = 0; i < alice->delivered->len; i++)
                ck_assert_uint_eq(fake_client_get(alice, i)->seq, seq);
        ck_assert_uint_eq(bob->delivered->len, 1);
        ck_assert_uint_eq(fake_client_get(bob, 0)->sub_id, bobs);
}
END_TEST

START_TEST(test_unsubscribe_and_resubscribe)
{
        uint64_t id = subscribe(alice, "a.*.c", false), again, bobs = subscribe(bob, "x", false);

        ck_assert_int_eq(hub_unsubscribe(hub, &alice->client, 0), -ENOENT);
        ck_assert_int_eq(hub_unsubscribe(hub, &alice->client, 999), -ENOENT);
        ck_assert_int_eq(hub_unsubscribe(hub, &alice->client, bobs), -ENOENT);
        ck_assert_int_eq(hub_unwatch(hub, &alice->client, id), -ENOENT);
        ck_assert_uint_eq(hub_get_n_subscriptions(hub), 2);

        ck_assert_int_eq(hub_unsubscribe(hub, &alice->client, id), 0);
        ck_assert_int_eq(hub_unsubscribe(hub, &alice->client, id), -ENOENT);
        ck_assert_uint_eq(hub_get_n_subscriptions(hub), 1);
        publish(NULL, "a.b.c", "x", false);
        ck_assert_uint_eq(alice->delivered->len, 0);

        /* The pruned branch grows back; the new id is new. */
        again = subscribe(alice, "a.*.c", false);
        ck_assert_uint_ne(again, id);
        publish(NULL, "a.b.c", "x", false);
        ck_assert_uint_eq(alice->delivered->len, 1);
        ck_assert_uint_eq(fake_client_get(alice, 0)->sub_id, again);

        /* Bob's subscription did not notice any of this. */
        publish(NULL, "x", "x", false);
        ck_assert_uint_eq(bob->delivered->len, 1);
}
END_TEST

static void gen(GPtrArray *out, const char *const *alphabet, size_t n_alpha, unsigned max_len,
                const char *prefix, unsigned len) {
        if (len > 0)
                g_ptr_array_add(out, g_strdup(prefix));
        if (len == max_len)
                return;
        for (size_t i = 0; i < n_alpha; i++) {
                g_autofree char *next = len ? g_strconcat(prefix, ".", alphabet[i], NULL) :
                                              g_strdup(alphabet[i]);
                gen(out, alphabet, n_alpha, max_len, next, len + 1);
        }
}

START_TEST(test_hub_agrees_with_pattern_match)
{
        static const char *const ptokens[] = { "a", "b", "*" };
        static const char *const ttokens[] = { "a", "b" };
        g_autoptr(GPtrArray) patterns = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) bases = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) topics = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GHashTable) by_id = g_hash_table_new(g_int64_hash, g_int64_equal);
        g_autofree uint64_t *ids = NULL;

        gen(patterns, ptokens, 3, 3, "", 0);
        gen(bases, ptokens, 3, 2, "", 0);
        g_ptr_array_add(patterns, g_strdup(">"));
        for (guint i = 0; i < bases->len; i++)
                g_ptr_array_add(patterns, g_strconcat(bases->pdata[i], ".>", NULL));
        gen(topics, ttokens, 2, 4, "", 0);

        ids = g_new(uint64_t, patterns->len);
        for (guint i = 0; i < patterns->len; i++) {
                ids[i] = subscribe(alice, patterns->pdata[i], false);
                g_hash_table_insert(by_id, &ids[i], patterns->pdata[i]);
        }

        for (guint t = 0; t < topics->len; t++) {
                const char *topic = topics->pdata[t];
                g_autoptr(GHashTable) got = g_hash_table_new(g_int64_hash, g_int64_equal);
                unsigned expected = 0;

                fake_client_clear(alice);
                publish(bob, topic, "p", false);
                for (guint i = 0; i < alice->delivered->len; i++) {
                        const FakeEnvelope *e = fake_client_get(alice, i);

                        ck_assert_str_eq(e->topic, topic);
                        ck_assert_msg(g_hash_table_add(got, (gpointer) &e->sub_id),
                                      "'%s' delivered twice to one subscription", topic);
                }
                for (guint i = 0; i < patterns->len; i++) {
                        bool want = topic_pattern_match(patterns->pdata[i], topic);

                        ck_assert_msg(want == g_hash_table_contains(got, &ids[i]),
                                      "pattern '%s' topic '%s': expected %d",
                                      (char *) patterns->pdata[i], topic, want);
                        expected += want;
                }
                ck_assert_uint_eq(alice->delivered->len, expected);
        }
}
END_TEST

/* Publish */

START_TEST(test_publish_bad_topic)
{
        g_autofree char *long_topic = g_strnfill(257, 'a');
        const HubCounters *c = hub_get_counters(hub);
        uint64_t seq = 42;

        subscribe(alice, ">", false);
        ck_assert_int_eq(hub_publish(hub, NULL, "", "x", 1, false, &seq), -EINVAL);
        ck_assert_int_eq(hub_publish(hub, NULL, "a..b", "x", 1, false, &seq), -EINVAL);
        ck_assert_int_eq(hub_publish(hub, NULL, "a.*", "x", 1, false, &seq), -EINVAL);
        ck_assert_int_eq(hub_publish(hub, NULL, ">", "x", 1, true, &seq), -EINVAL);
        ck_assert_int_eq(hub_publish(hub, NULL, long_topic, "x", 1, false, &seq), -ENAMETOOLONG);
        ck_assert_int_eq(hub_subscribe(hub, &alice->client, "a.>.b", false, &seq), -EINVAL);
        ck_assert_int_eq(hub_subscribe(hub, &alice->client, long_topic, false, &seq),
                         -ENAMETOOLONG);
        ck_assert_uint_eq(seq, 42);

        ck_assert_uint_eq(alice->delivered->len, 0);
        ck_assert_uint_eq(c->published, 0);
        ck_assert_uint_eq(hub_get_n_retained(hub), 0);
        ck_assert_uint_eq(hub_get_n_subscriptions(hub), 1);
        /* Refused publishes took no sequence number. */
        ck_assert_uint_eq(publish(NULL, "ok", "x", false), 1);
}
END_TEST

START_TEST(test_publish_max_payload)
{
        static const char bin[16] = { 0, 1, 2, 0xff };
        uint64_t seq = 0;

        subscribe(alice, ">", false);
        ck_assert_int_eq(hub_publish(hub, NULL, "t", bin, 16, false, &seq), 0);
        ck_assert_int_eq(hub_publish(hub, NULL, "t", bin, 17, false, NULL), -EMSGSIZE);
        ck_assert_int_eq(hub_publish(hub, NULL, "t", bin, 17, true, NULL), -EMSGSIZE);
        ck_assert_uint_eq(alice->delivered->len, 1);
        ck_assert_uint_eq(g_bytes_get_size(fake_client_get(alice, 0)->payload), 16);
        ck_assert(memcmp(g_bytes_get_data(fake_client_get(alice, 0)->payload, NULL), bin, 16) == 0);
        ck_assert_uint_eq(hub_get_n_retained(hub), 0);
        ck_assert_uint_eq(hub_get_counters(hub)->published, 1);
        ck_assert_uint_eq(publish(NULL, "t", "", false), seq + 1);
}
END_TEST

/* Sequence numbers and order */

START_TEST(test_seq_strictly_increasing)
{
        g_autoptr(FakeClient) carol = fake_client_new(hub, 1002);
        FakeClient *pubs[] = { alice, bob, carol, NULL };
        uint64_t prev = 0;

        subscribe(carol, ">", false);
        for (unsigned i = 0; i < 60; i++) {
                g_autofree char *topic = g_strdup_printf("t%u.x", i % 7);
                uint64_t seq = publish(pubs[i % 4], topic, "p", i % 5 == 0);

                /* Hub-wide, from 1, one per publish. */
                ck_assert_uint_eq(seq, prev + 1);
                prev = seq;
        }
        ck_assert_uint_eq(carol->delivered->len, 60);
        for (guint i = 0; i < carol->delivered->len; i++)
                ck_assert_uint_eq(fake_client_get(carol, i)->seq, i + 1);
}
END_TEST

START_TEST(test_per_publisher_order)
{
        g_autoptr(FakeClient) sub1 = fake_client_new(hub, 2000);
        g_autoptr(FakeClient) sub2 = fake_client_new(hub, 2001);
        uint64_t ids[3];
        unsigned sent[2] = { 0, 0 }, sent_room1[2] = { 0, 0 };

        ids[0] = subscribe(sub1, "chat.>", false);
        ids[1] = subscribe(sub2, "chat.*", false);
        ids[2] = subscribe(sub2, "chat.room1", false);
        for (unsigned i = 0; i < 40; i++) {
                unsigned who = (i * 7) % 3 ? 0 : 1;
                bool room1 = i % 2;
                g_autofree char *payload = g_strdup_printf("%u", sent[who]++);

                sent_room1[who] += room1;
                publish(who ? bob : alice, room1 ? "chat.room1" : "chat.room2", payload, false);
        }

        /* Per subscription and per publisher: payloads count up, seqs increase. */
        for (unsigned k = 0; k < G_N_ELEMENTS(ids); k++) {
                FakeClient *sub = k == 0 ? sub1 : sub2;
                int prev[2] = { -1, -1 };
                unsigned got[2] = { 0, 0 };
                uint64_t prev_seq = 0;

                for (guint i = 0; i < sub->delivered->len; i++) {
                        const FakeEnvelope *e = fake_client_get(sub, i);
                        unsigned who = e->sender_id == alice->client.info.id ? 0 : 1;
                        g_autofree char *text = NULL;
                        int n;

                        if (e->sub_id != ids[k])
                                continue;
                        text = g_strndup(g_bytes_get_data(e->payload, NULL),
                                         g_bytes_get_size(e->payload));
                        n = atoi(text);
                        ck_assert_msg(n > prev[who], "subscription %u: %d after %d", k, n,
                                      prev[who]);
                        prev[who] = n;
                        got[who]++;
                        ck_assert_uint_gt(e->seq, prev_seq);
                        prev_seq = e->seq;
                }
                for (unsigned who = 0; who < 2; who++)
                        ck_assert_uint_eq(got[who], k == 2 ? sent_room1[who] : sent[who]);
        }
        ck_assert_uint_gt(sent[0], 0);
        ck_assert_uint_gt(sent[1], 0);
}
END_TEST

/* Retained values */

START_TEST(test_retained_replay_in_publish_order)
{
        uint64_t s1, s2, s3, s4, id;
        const FakeEnvelope *e;

        s1 = publish(bob, "a.one", "1", true);
        s2 = publish(bob, "a.two", "2", true);
        s3 = publish(bob, "b.one", "3", true);
        publish(bob, "a.three", "not retained", false);
        s4 = publish(alice, "a.one", "1bis", true);      /* overwrites, moves to the end */
        ck_assert_uint_lt(s1, s2);
        ck_assert_uint_lt(s3, s4);
        ck_assert_uint_eq(hub_get_n_retained(hub), 3);

        id = subscribe(alice, "a.*", true);
        ck_assert_uint_eq(alice->delivered->len, 2);
        e = fake_client_get(alice, 0);
        ck_assert_int_eq(e->kind, ENVELOPE_MESSAGE);
        ck_assert_uint_eq(e->sub_id, id);
        ck_assert_str_eq(e->topic, "a.two");
        ck_assert(fake_envelope_payload_is(e, "2"));
        ck_assert_uint_eq(e->seq, s2);
        ck_assert(e->retained);
        ck_assert_uint_eq(e->sender_id, bob->client.info.id);
        e = fake_client_get(alice, 1);
        ck_assert_str_eq(e->topic, "a.one");
        ck_assert(fake_envelope_payload_is(e, "1bis"));
        ck_assert_uint_eq(e->seq, s4);
        ck_assert(e->retained);
        ck_assert_uint_eq(e->sender_id, alice->client.info.id);

        /* Live messages after the replay are not marked retained, even retained ones. */
        publish(bob, "a.two", "live", true);
        ck_assert(!last(alice)->retained);
        ck_assert(fake_envelope_payload_is(last(alice), "live"));
}
END_TEST

START_TEST(test_retained_many_in_order)
{
        uint64_t prev = 0;

        /* Enough topics that hash order would show. */
        for (unsigned i = 0; i < 50; i++) {
                g_autofree char *topic = g_strdup_printf("t.%u", (i * 37) % 50);

                publish(bob, topic, "v", true);
        }
        subscribe(alice, ">", true);
        ck_assert_uint_eq(alice->delivered->len, 50);
        for (guint i = 0; i < alice->delivered->len; i++) {
                ck_assert_uint_gt(fake_client_get(alice, i)->seq, prev);
                prev = fake_client_get(alice, i)->seq;
        }
}
END_TEST

START_TEST(test_retained_not_replayed_without_asking)
{
        publish(bob, "a.one", "1", true);
        subscribe(alice, "a.*", false);
        subscribe(alice, ">", false);
        ck_assert_uint_eq(alice->delivered->len, 0);

        /* Nor to a pattern that does not match. */
        subscribe(alice, "b.>", true);
        subscribe(alice, "a", true);
        ck_assert_uint_eq(alice->delivered->len, 0);
}
END_TEST

START_TEST(test_retained_sender_outlives_client)
{
        g_autoptr(FakeClient) carol = fake_client_new(hub, 1002);
        uint64_t carol_id = carol->client.info.id;
        g_autofree char *carol_name = g_strdup(carol->client.info.name);

        publish(carol, "status", "up", true);
        g_clear_pointer(&carol, fake_client_free);

        subscribe(alice, "status", true);
        ck_assert_uint_eq(alice->delivered->len, 1);
        ck_assert_uint_eq(fake_client_get(alice, 0)->sender_id, carol_id);
        ck_assert_uint_eq(fake_client_get(alice, 0)->sender_uid, 1002);
        ck_assert_str_eq(fake_client_get(alice, 0)->sender_name, carol_name);
        ck_assert_str_eq(fake_client_get(alice, 0)->sender_transport, "fake");
}
END_TEST

START_TEST(test_retained_empty_clears)
{
        uint64_t seq;

        publish(bob, "a", "1", true);
        publish(bob, "b", "2", true);
        subscribe(alice, ">", false);

        /* The empty retained publish is still a message, and clears "a". */
        seq = publish(bob, "a", "", true);
        ck_assert_uint_eq(alice->delivered->len, 1);
        ck_assert_uint_eq(g_bytes_get_size(fake_client_get(alice, 0)->payload), 0);
        ck_assert_uint_eq(fake_client_get(alice, 0)->seq, seq);
        ck_assert_uint_eq(hub_get_n_retained(hub), 1);

        /* An empty non-retained publish does not clear. */
        publish(bob, "b", "", false);
        ck_assert_uint_eq(hub_get_n_retained(hub), 1);
        /* Clearing a topic with nothing retained is fine. */
        publish(bob, "c", "", true);
        ck_assert_uint_eq(hub_get_n_retained(hub), 1);

        fake_client_clear(alice);
        subscribe(alice, ">", true);
        ck_assert_uint_eq(alice->delivered->len, 1);
        ck_assert_str_eq(fake_client_get(alice, 0)->topic, "b");
        ck_assert(fake_envelope_payload_is(fake_client_get(alice, 0), "2"));
}
END_TEST

START_TEST(test_clear_retained)
{
        unsigned count = 99;

        publish(NULL, "a.one", "1", true);
        publish(NULL, "a.two", "1", true);
        publish(NULL, "a.two.x", "1", true);
        publish(NULL, "b.one", "1", true);
        publish(NULL, "a", "1", true);

        ck_assert_int_eq(hub_clear_retained(hub, "a.>.x", &count), -EINVAL);
        ck_assert_int_eq(hub_clear_retained(hub, "", &count), -EINVAL);
        ck_assert_uint_eq(count, 99);

        ck_assert_int_eq(hub_clear_retained(hub, "a.*", &count), 0);
        ck_assert_uint_eq(count, 2);
        ck_assert_uint_eq(hub_get_n_retained(hub), 3);
        ck_assert_int_eq(hub_clear_retained(hub, "a.*", &count), 0);
        ck_assert_uint_eq(count, 0);
        ck_assert_int_eq(hub_clear_retained(hub, "nothing.here", &count), 0);
        ck_assert_uint_eq(count, 0);
        ck_assert_int_eq(hub_clear_retained(hub, ">", &count), 0);
        ck_assert_uint_eq(count, 3);
        ck_assert_uint_eq(hub_get_n_retained(hub), 0);
        ck_assert_int_eq(hub_clear_retained(hub, ">", NULL), 0);

        subscribe(alice, ">", true);
        ck_assert_uint_eq(alice->delivered->len, 0);
}
END_TEST

START_TEST(test_max_retained)
{
        uint64_t seq = 0, s2;

        subscribe(alice, ">", false);
        publish(NULL, "r1", "1", true);
        s2 = publish(NULL, "r2", "2", true);
        ck_assert_int_eq(hub_publish(hub, NULL, "r3", "3", 1, true, &seq), -EDQUOT);
        ck_assert_uint_eq(seq, 0);
        ck_assert_uint_eq(alice->delivered->len, 2);
        ck_assert_uint_eq(hub_get_counters(hub)->published, 2);
        ck_assert_uint_eq(hub_get_n_retained(hub), 2);

        /* Overwriting, clearing and plain publishing stay possible at the limit. */
        ck_assert_uint_eq(publish(NULL, "r1", "1bis", true), s2 + 1);
        publish(NULL, "r3", "3", false);
        publish(NULL, "r3", "", true);
        ck_assert_uint_eq(hub_get_n_retained(hub), 2);
        publish(NULL, "r2", "", true);
        ck_assert_uint_eq(hub_get_n_retained(hub), 1);
        publish(NULL, "r3", "3", true);
        ck_assert_uint_eq(hub_get_n_retained(hub), 2);
}
END_TEST

/* Gaps */

/* @e is subscription @id's gap notice of @first..@last. */
static void check_gap(const FakeEnvelope *e, uint64_t id, uint64_t first, uint64_t last) {
        ck_assert_int_eq(e->kind, ENVELOPE_GAP);
        ck_assert_uint_eq(e->sub_id, id);
        ck_assert_uint_eq(e->gap_first, first);
        ck_assert_uint_eq(e->gap_last, last);
}

START_TEST(test_gap_before_next_message)
{
        uint64_t id = subscribe(alice, "t.>", false), s1, s3, s4;
        const HubCounters *c = hub_get_counters(hub);
        const FakeEnvelope *e;

        alice->full = true;
        s1 = publish(bob, "t.a", "1", false);
        publish(bob, "other", "x", false);              /* not alice's */
        publish(bob, "t.b", "2", false);
        s3 = publish(bob, "t.c", "3", false);
        ck_assert_uint_eq(alice->delivered->len, 0);
        ck_assert_uint_eq(c->dropped, 3);
        ck_assert_uint_eq(c->delivered, 0);

        alice->full = false;
        s4 = publish(bob, "t.d", "4", false);
        ck_assert_uint_eq(alice->delivered->len, 2);
        check_gap(fake_client_get(alice, 0), id, s1, s3);
        e = fake_client_get(alice, 1);
        ck_assert_int_eq(e->kind, ENVELOPE_MESSAGE);
        ck_assert_uint_eq(e->seq, s4);
        ck_assert_uint_eq(c->dropped, 3);
        ck_assert_uint_eq(c->delivered, 1);

        /* The gap is reported once. */
        publish(bob, "t.e", "5", false);
        ck_assert_uint_eq(alice->delivered->len, 3);
        ck_assert_uint_eq(fake_client_count(alice, ENVELOPE_GAP), 1);
}
END_TEST

START_TEST(test_report_gap)
{
        uint64_t id = subscribe(alice, "t.>", false), s1, first = 0, last = 0;

        subscribe(bob, "other", false);
        s1 = publish(bob, "t.a", "1", false);
        ck_assert_int_eq(hub_report_gap(hub, "t.a", 3, &first, &last), 0);
        ck_assert_uint_eq(first, s1 + 1);
        ck_assert_uint_eq(last, s1 + 3);
        ck_assert_uint_eq(alice->delivered->len, 2);
        check_gap(fake_client_get(alice, 1), id, first, last);
        ck_assert_uint_eq(bob->delivered->len, 0);         /* not bob's topic */

        /* The numbers are used up; 0 counts as 1; a full sink gets the gap later. */
        ck_assert_uint_gt(publish(bob, "t.b", "2", false), last);
        alice->full = true;
        ck_assert_int_eq(hub_report_gap(hub, "t.c", 0, &first, &last), 0);
        ck_assert_uint_eq(first, last);
        alice->full = false;
        publish(bob, "t.d", "3", false);
        check_gap(fake_client_get(alice, 3), id, first, last);

        ck_assert_int_eq(hub_report_gap(hub, "t..x", 1, NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_gap_flush)
{
        uint64_t id = subscribe(alice, ">", false), s1, s2;

        alice->full = true;
        s1 = publish(bob, "a", "1", false);
        s2 = publish(bob, "b", "2", false);

        /* Still full: flushing delivers nothing and loses nothing. */
        client_flush_gaps(&alice->client);
        ck_assert_uint_eq(alice->delivered->len, 0);

        alice->full = false;
        client_flush_gaps(&alice->client);
        ck_assert_uint_eq(alice->delivered->len, 1);
        ck_assert_int_eq(fake_client_get(alice, 0)->kind, ENVELOPE_GAP);
        ck_assert_uint_eq(fake_client_get(alice, 0)->sub_id, id);
        ck_assert_uint_eq(fake_client_get(alice, 0)->gap_first, s1);
        ck_assert_uint_eq(fake_client_get(alice, 0)->gap_last, s2);

        /* Nothing more to say, now or with the next message. */
        client_flush_gaps(&alice->client);
        ck_assert_uint_eq(alice->delivered->len, 1);
        publish(bob, "c", "3", false);
        ck_assert_uint_eq(alice->delivered->len, 2);
        ck_assert_int_eq(fake_client_get(alice, 1)->kind, ENVELOPE_MESSAGE);
}
END_TEST

START_TEST(test_gap_per_subscription)
{
        uint64_t a = subscribe(alice, "a", false), b = subscribe(alice, "b", false), sa, sb;
        g_autoptr(GHashTable) seen = g_hash_table_new(g_int64_hash, g_int64_equal);

        alice->full = true;
        sa = publish(bob, "a", "1", false);
        sb = publish(bob, "b", "2", false);
        alice->full = false;
        client_flush_gaps(&alice->client);

        ck_assert_uint_eq(alice->delivered->len, 2);
        for (guint i = 0; i < 2; i++) {
                const FakeEnvelope *e = fake_client_get(alice, i);

                ck_assert_int_eq(e->kind, ENVELOPE_GAP);
                ck_assert(e->sub_id == a || e->sub_id == b);
                ck_assert_uint_eq(e->gap_first, e->sub_id == a ? sa : sb);
                ck_assert_uint_eq(e->gap_last, e->sub_id == a ? sa : sb);
                ck_assert(g_hash_table_add(seen, (gpointer) &e->sub_id));
        }
}
END_TEST

START_TEST(test_gap_then_refused_again)
{
        uint64_t s1, s2, s3;

        subscribe(alice, ">", false);
        alice->full = true;
        s1 = publish(bob, "a", "1", false);
        alice->full = false;

        /* Room for the gap notice only: the message opens a new gap. */
        alice->budget = 1;
        s2 = publish(bob, "a", "2", false);
        ck_assert_uint_eq(alice->delivered->len, 1);
        ck_assert_int_eq(fake_client_get(alice, 0)->kind, ENVELOPE_GAP);
        ck_assert_uint_eq(fake_client_get(alice, 0)->gap_first, s1);
        ck_assert_uint_eq(fake_client_get(alice, 0)->gap_last, s1);

        alice->budget = -1;
        s3 = publish(bob, "a", "3", false);
        ck_assert_uint_eq(alice->delivered->len, 3);
        ck_assert_int_eq(fake_client_get(alice, 1)->kind, ENVELOPE_GAP);
        ck_assert_uint_eq(fake_client_get(alice, 1)->gap_first, s2);
        ck_assert_uint_eq(fake_client_get(alice, 1)->gap_last, s2);
        ck_assert_uint_eq(fake_client_get(alice, 2)->seq, s3);
        ck_assert_uint_eq(hub_get_counters(hub)->dropped, 2);
}
END_TEST

START_TEST(test_gap_watch)
{
        uint64_t id = 0, r1, r2, r3;

        ck_assert_int_eq(hub_watch(hub, &alice->client, "k", &id), 0);
        alice->full = true;
        ck_assert_int_eq(hub_set(hub, NULL, "k1", "v", 1, &r1), 0);
        ck_assert_int_eq(hub_set(hub, NULL, "k2", "v", 1, &r2), 0);
        alice->full = false;
        ck_assert_int_eq(hub_set(hub, NULL, "k3", "v", 1, &r3), 0);

        ck_assert_uint_eq(alice->delivered->len, 2);
        ck_assert_int_eq(fake_client_get(alice, 0)->kind, ENVELOPE_GAP);
        ck_assert_uint_eq(fake_client_get(alice, 0)->sub_id, id);
        ck_assert_uint_eq(fake_client_get(alice, 0)->gap_first, r1);
        ck_assert_uint_eq(fake_client_get(alice, 0)->gap_last, r2);
        ck_assert_int_eq(fake_client_get(alice, 1)->kind, ENVELOPE_KEY_CHANGED);
        ck_assert_uint_eq(fake_client_get(alice, 1)->seq, r3);

        /* And through client_flush_gaps(). */
        alice->full = true;
        ck_assert_int_eq(hub_delete(hub, NULL, "k1", NULL), 0);
        alice->full = false;
        client_flush_gaps(&alice->client);
        ck_assert_uint_eq(alice->delivered->len, 3);
        ck_assert_int_eq(fake_client_get(alice, 2)->kind, ENVELOPE_GAP);
        ck_assert_uint_eq(fake_client_get(alice, 2)->gap_first, r3 + 1);
}
END_TEST

START_TEST(test_full_sink_isolated)
{
        /* One full subscriber does not hold back another. */
        subscribe(alice, ">", false);
        subscribe(bob, ">", false);
        alice->full = true;
        publish(NULL, "a", "1", false);
        publish(NULL, "a", "2", false);
        ck_assert_uint_eq(bob->delivered->len, 2);
        ck_assert_uint_eq(alice->delivered->len, 0);
        ck_assert_uint_eq(alice->n_refused, 2);
        ck_assert_uint_eq(hub_get_counters(hub)->delivered, 2);
        ck_assert_uint_eq(hub_get_counters(hub)->dropped, 2);
}
END_TEST

/* Limits */

START_TEST(test_max_subscriptions)
{
        uint64_t id1 = subscribe(alice, "a", false), id = 0;

        subscribe(alice, "b", false);
        ck_assert_int_eq(hub_subscribe(hub, &alice->client, "c", true, &id), -EDQUOT);
        ck_assert_uint_eq(id, 0);
        ck_assert_uint_eq(hub_get_n_subscriptions(hub), 2);

        /* Per client. */
        subscribe(bob, "c", false);
        subscribe(bob, "d", false);
        ck_assert_uint_eq(hub_get_n_subscriptions(hub), 4);

        ck_assert_int_eq(hub_unsubscribe(hub, &alice->client, id1), 0);
        subscribe(alice, "c", false);
        publish(NULL, "c", "x", false);
        ck_assert_uint_eq(alice->delivered->len, 1);
}
END_TEST

START_TEST(test_max_clients)
{
        FakeClient *carol = NULL, *dave = NULL, *sys = NULL;

        ck_assert_uint_eq(hub_get_n_clients(hub), 2);
        ck_assert_int_eq(fake_client_new_full(hub, 1002, false, &carol), 0);
        ck_assert_int_eq(fake_client_new_full(hub, 1003, false, &dave), -EDQUOT);
        ck_assert_ptr_null(dave);
        ck_assert_uint_eq(hub_get_n_clients(hub), 3);

        /* Internal clients are not counted and not refused, nor limited. */
        ck_assert_int_eq(fake_client_new_full(hub, 0, true, &sys), 0);
        ck_assert_uint_eq(hub_get_n_clients(hub), 3);
        ck_assert_uint_eq(hub_get_n_clients_for(hub, "fake"), 3);
        for (unsigned i = 0; i < 5; i++)
                ck_assert_int_eq(hub_subscribe(hub, &sys->client, ">", false, NULL), 0);
        ck_assert_uint_eq(hub_get_n_subscriptions(hub), 0);
        publish(alice, "x", "1", false);
        ck_assert_uint_eq(sys->delivered->len, 5);

        /* Leaving makes room. */
        g_clear_pointer(&carol, fake_client_free);
        ck_assert_uint_eq(hub_get_n_clients(hub), 2);
        ck_assert_int_eq(fake_client_new_full(hub, 1003, false, &dave), 0);
        ck_assert_uint_eq(hub_get_n_clients(hub), 3);

        /* An internal client's subscriptions do not go negative when it leaves. */
        g_clear_pointer(&sys, fake_client_free);
        ck_assert_uint_eq(hub_get_n_subscriptions(hub), 0);
        ck_assert_uint_eq(hub_get_n_clients(hub), 3);
        g_clear_pointer(&dave, fake_client_free);
}
END_TEST

START_TEST(test_client_ids_unique)
{
        g_autoptr(FakeClient) carol = fake_client_new(hub, 1002);

        ck_assert_uint_gt(alice->client.info.id, 0);
        ck_assert_uint_ne(alice->client.info.id, bob->client.info.id);
        ck_assert_uint_ne(bob->client.info.id, carol->client.info.id);
        ck_assert_uint_ne(alice->client.info.id, carol->client.info.id);
        ck_assert_str_eq(carol->client.info.transport, "fake");
        ck_assert_uint_eq(carol->client.info.uid, 1002);

        client_set_creds(&carol->client, 1234, 99);
        publish(carol, "x", "1", false);
        subscribe(alice, "x", true);
        publish(carol, "x", "2", false);
        ck_assert_uint_eq(last(alice)->sender_uid, 1234);
}
END_TEST

/* client_deinit */

START_TEST(test_deinit_frees_everything)
{
        g_autoptr(FakeClient) carol = fake_client_new(hub, 1002);
        const HubCounters *c = hub_get_counters(hub);
        uint64_t delivered;

        subscribe(carol, ">", false);
        subscribe(carol, "a.*", true);
        subscribe(carol, "a.b", false);
        ck_assert_int_eq(hub_watch(hub, &carol->client, "", NULL), 0);
        ck_assert_int_eq(hub_watch(hub, &carol->client, "k", NULL), 0);
        subscribe(alice, "a.b", false);
        ck_assert_int_eq(hub_watch(hub, &alice->client, "zzz", NULL), 0);
        ck_assert_uint_eq(hub_get_n_subscriptions(hub), 4);
        ck_assert_uint_eq(hub_get_n_watches(hub), 3);
        ck_assert_uint_eq(hub_get_n_clients(hub), 3);

        publish(bob, "a.b", "1", false);
        ck_assert_int_eq(hub_set(hub, NULL, "k", "v", 1, NULL), 0);
        ck_assert_uint_eq(carol->delivered->len, 5);

        /* A full sink with an open gap leaves without a trace either. */
        carol->full = true;
        publish(bob, "a.b", "2", false);
        carol->full = false;

        client_deinit(&carol->client);
        ck_assert_uint_eq(hub_get_n_subscriptions(hub), 1);
        ck_assert_uint_eq(hub_get_n_watches(hub), 1);
        ck_assert_uint_eq(hub_get_n_clients(hub), 2);
        ck_assert_uint_eq(hub_get_n_clients_for(hub, "fake"), 2);

        delivered = c->delivered;
        publish(bob, "a.b", "3", false);
        ck_assert_int_eq(hub_set(hub, NULL, "k", "w", 1, NULL), 0);
        ck_assert_int_eq(hub_delete(hub, NULL, "k", NULL), 0);
        ck_assert_uint_eq(carol->delivered->len, 5);
        ck_assert_uint_eq(alice->delivered->len, 3);
        ck_assert_uint_eq(c->delivered, delivered + 1);

        /* A second deinit, through fake_client_free(), is harmless. */
        client_deinit(&carol->client);
}
END_TEST

/* Counters and info */

START_TEST(test_counters)
{
        const HubCounters *c = hub_get_counters(hub);

        ck_assert_uint_eq(c->published, 0);
        ck_assert_uint_eq(c->delivered, 0);
        ck_assert_uint_eq(c->dropped, 0);
        ck_assert_uint_eq(c->store_changes, 0);

        /* Published counts accepted messages, subscribers or not. */
        publish(NULL, "nobody.listens", "x", false);
        ck_assert_uint_eq(c->published, 1);
        ck_assert_uint_eq(c->delivered, 0);

        subscribe(alice, ">", false);
        subscribe(alice, "a", false);
        subscribe(bob, "a", false);
        publish(NULL, "a", "x", true);
        ck_assert_uint_eq(c->published, 2);
        ck_assert_uint_eq(c->delivered, 3);

        /* A retained replay counts as delivered, not as published. */
        subscribe(bob, "a", true);
        ck_assert_uint_eq(c->published, 2);
        ck_assert_uint_eq(c->delivered, 4);

        bob->full = true;
        publish(NULL, "a", "x", false);
        ck_assert_uint_eq(c->delivered, 6);
        ck_assert_uint_eq(c->dropped, 2);
        bob->full = false;
        /* Gap notices are neither delivered messages nor drops. */
        client_flush_gaps(&bob->client);
        ck_assert_uint_eq(fake_client_count(bob, ENVELOPE_GAP), 2);
        ck_assert_uint_eq(c->delivered, 6);
        ck_assert_uint_eq(c->dropped, 2);

        /* Store changes: sets and deletes that happened. */
        ck_assert_int_eq(hub_set(hub, NULL, "k", "v", 1, NULL), 0);
        ck_assert_int_eq(hub_set_if(hub, NULL, "k", "v", 1, 0, NULL), -ESTALE);
        ck_assert_int_eq(hub_delete(hub, NULL, "k", NULL), 0);
        ck_assert_int_eq(hub_delete(hub, NULL, "k", NULL), 0);
        ck_assert_int_eq(hub_set(hub, NULL, "", "v", 1, NULL), -EINVAL);
        ck_assert_uint_eq(c->store_changes, 2);
        ck_assert_uint_eq(c->published, 3);
}
END_TEST

static const ClientSink other_sink = {
        .transport = "other",
        .deliver = NULL,        /* never delivered to in this test */
};

START_TEST(test_clients_by_transport)
{
        g_autoptr(GHashTable) t = NULL, t2 = NULL;
        g_autoptr(FakeClient) sys = NULL;
        Client other = {};

        ck_assert_int_eq(fake_client_new_full(hub, 0, true, &sys), 0);
        ck_assert_int_eq(client_init(&other, hub, &other_sink, 1000, 1, "o", false), 0);

        t = hub_get_clients_by_transport(hub);
        ck_assert_uint_eq(g_hash_table_size(t), 2);
        ck_assert_uint_eq(GPOINTER_TO_UINT(g_hash_table_lookup(t, "fake")), 2);
        ck_assert_uint_eq(GPOINTER_TO_UINT(g_hash_table_lookup(t, "other")), 1);
        ck_assert_uint_eq(hub_get_n_clients(hub), 3);
        ck_assert_uint_eq(hub_get_n_clients_for(hub, "other"), 1);
        ck_assert_uint_eq(hub_get_n_clients_for(hub, "dbus"), 0);

        client_deinit(&other);
        t2 = hub_get_clients_by_transport(hub);
        ck_assert_uint_eq(g_hash_table_size(t2), 1);
        ck_assert(!g_hash_table_contains(t2, "other"));
        ck_assert_uint_eq(hub_get_n_clients(hub), 2);
}
END_TEST

START_TEST(test_info)
{
        const HubLimits *l = hub_get_limits(hub);
        HubLimits d;

        hub_limits_default(&d);
        ck_assert_uint_eq(hub_get_start_time(hub), 1700000000000000ULL);
        ck_assert_uint_eq(l->max_topic_length, 256);
        ck_assert_uint_eq(l->max_topic_tokens, 32);
        ck_assert_uint_eq(l->max_payload, 1024 * 1024);
        ck_assert_uint_eq(l->max_key_length, 256);
        ck_assert_uint_eq(l->max_value, 1024 * 1024);
        ck_assert_uint_eq(l->max_subscriptions, 1024);
        ck_assert_uint_eq(l->max_watches, 1024);
        ck_assert_uint_eq(l->max_retained, d.max_retained);
        ck_assert_uint_eq(l->max_keys, d.max_keys);
        ck_assert_uint_eq(l->max_clients, d.max_clients);

        ck_assert_uint_eq(hub_get_n_keys(hub), 0);
        ck_assert_uint_eq(hub_get_n_retained(hub), 0);
        ck_assert_int_eq(hub_set(hub, NULL, "k", "v", 1, NULL), 0);
        publish(NULL, "t", "v", true);
        ck_assert_uint_eq(hub_get_n_keys(hub), 1);
        ck_assert_uint_eq(hub_get_n_retained(hub), 1);
}
END_TEST

/* payload_is_text */

START_TEST(test_payload_is_text)
{
        ck_assert(payload_is_text("hello", 5));
        ck_assert(payload_is_text("", 0));
        ck_assert(payload_is_text(NULL, 0));
        ck_assert(payload_is_text("gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x98\x80", 16));
        ck_assert(payload_is_text("tab\tnew\nline", 12));
        ck_assert(!payload_is_text("a\0b", 3));
        ck_assert(!payload_is_text("\0", 1));
        ck_assert(!payload_is_text("abc\0", 4));
        ck_assert(!payload_is_text("\xff", 1));
        ck_assert(!payload_is_text("a\xc3", 2));                /* truncated sequence */
        ck_assert(!payload_is_text("\xc0\xaf", 2));             /* overlong */
        ck_assert(!payload_is_text("\xed\xa0\x80", 3));         /* surrogate */
        ck_assert(!payload_is_text("\xf4\x90\x80\x80", 4));     /* beyond U+10FFFF */
        /* Noncharacters: valid UTF-8 that D-Bus strings refuse, so bytes for every face. */
        ck_assert(!payload_is_text("a\xef\xb7\x90", 4));        /* U+FDD0 */
        ck_assert(!payload_is_text("\xef\xb7\xaf", 3));         /* U+FDEF */
        ck_assert(!payload_is_text("\xef\xbf\xbe", 3));         /* U+FFFE */
        ck_assert(!payload_is_text("\xef\xbf\xbf", 3));         /* U+FFFF */
        ck_assert(!payload_is_text("\xf0\x9f\xbf\xbe", 4));     /* U+1FFFE */
        ck_assert(!payload_is_text("\xf4\x8f\xbf\xbf", 4));     /* U+10FFFF */
        ck_assert(payload_is_text("\xef\xb7\x8f\xef\xb7\xb0", 6));  /* U+FDCF, U+FDF0: fine */
        ck_assert(payload_is_text("\xef\xbf\xbd", 3));          /* U+FFFD */
        /* Only len bytes count: the bad byte after them is not looked at. */
        ck_assert(payload_is_text("ok\xff", 2));
}
END_TEST

/*
 * utf8_is_valid() agrees with GLib's validator: every 1- and 2-byte input, random longer ones.
 * (Checked only on failure: each ck_assert costs a write to check's pipe.)
 */
START_TEST(test_utf8_is_valid_agrees_with_glib)
{
        unsigned char b[40];
        GRand *rand = g_rand_new_with_seed(42);

        for (unsigned v = 0; v < 0x10000; v++) {
                b[0] = (unsigned char) (v >> 8), b[1] = (unsigned char) v;
                for (size_t len = 1; len <= 2; len++)
                        if (utf8_is_valid(b, len) != g_utf8_validate_len((char *) b, len, NULL))
                                ck_abort_msg("disagree on %02x %02x, length %zu", b[0], b[1], len);
        }
        /* Every lead byte with the boundary values of continuation bytes, lengths 2 to 4. */
        static const unsigned char edge[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff };
        for (unsigned lead = 0x80; lead < 0x100; lead++)
                for (unsigned x = 0; x < G_N_ELEMENTS(edge) * G_N_ELEMENTS(edge) * G_N_ELEMENTS(edge); x++) {
                        b[0] = (unsigned char) lead;
                        b[1] = edge[x % G_N_ELEMENTS(edge)];
                        b[2] = edge[x / G_N_ELEMENTS(edge) % G_N_ELEMENTS(edge)];
                        b[3] = edge[x / G_N_ELEMENTS(edge) / G_N_ELEMENTS(edge)];
                        for (size_t len = 2; len <= 4; len++)
                                if (utf8_is_valid(b, len) != g_utf8_validate_len((char *) b, len, NULL))
                                        ck_abort_msg("disagree on %02x %02x %02x %02x, length %zu",
                                                     b[0], b[1], b[2], b[3], len);
                }
        for (unsigned n = 0; n < 400000; n++) {
                size_t len = (size_t) g_rand_int_range(rand, 1, sizeof b + 1);

                /* Mostly ASCII with a few lead and continuation bytes, so runs of eight come up. */
                for (size_t i = 0; i < len; i++) {
                        guint32 r = g_rand_int(rand);
                        b[i] = r % 4 ? (unsigned char) (0x20 + r % 0x5f) : (unsigned char) (r >> 8);
                }
                if (utf8_is_valid(b, len) != g_utf8_validate_len((char *) b, len, NULL))
                        ck_abort_msg("disagree at iteration %u", n);
        }
        /* A NUL or a bad byte at every position of a long ASCII run. */
        for (size_t at = 0; at < sizeof b; at++) {
                memset(b, 'a', sizeof b);
                b[at] = 0;
                ck_assert(!utf8_is_valid(b, sizeof b));
                b[at] = 0xff;
                ck_assert(!utf8_is_valid(b, sizeof b));
        }
        g_rand_free(rand);
}
END_TEST

/* Timers: in due order whatever order they were armed in, ties first armed first */

typedef struct Fired {
        GString *log;
        TimerSet *set;
        Timer *late;                    /* armed by the callback of "c", due at once */
} Fired;

static void on_fire(void *context, void *object, uint64_t now) {
        Fired *f = context;
        const char *name = object;

        g_string_append(f->log, name);
        if (g_str_equal(name, "c") && f->late)
                timer_arm(f->set, f->late, now, on_fire, (void *) "L");
}

START_TEST(test_timers_in_due_order)
{
        static const struct {
                const char *name;
                uint64_t due;
        } arm[] = {
                /* In order (the lane), then earlier ones (the sorted set), then in order again. */
                { "a", 5 }, { "b", 10 }, { "c", 10 }, { "d", 3 }, { "e", 7 }, { "f", 20 }, { "g", 1 },
                { "h", 10 }, { "i", 30 }, { "x", 4 }, { "y", 25 },
        };
        Timer t[G_N_ELEMENTS(arm)] = {}, late = {};
        Fired f = { .log = g_string_new(NULL), .set = timer_set_new(), .late = &late };

        for (size_t i = 0; i < G_N_ELEMENTS(arm); i++)
                timer_arm(f.set, &t[i], arm[i].due, on_fire, (void *) arm[i].name);
        ck_assert_uint_eq(timer_set_next_deadline(f.set), 1);
        /* Disarmed, from the lane and from the sorted set alike. */
        timer_disarm(&t[9]);            /* x */
        timer_disarm(&t[5]);            /* f */
        timer_disarm(&t[5]);
        ck_assert(!timer_is_armed(&t[9]) && !timer_is_armed(&t[5]) && timer_is_armed(&t[0]));

        timer_set_run(f.set, 10, &f);
        ck_assert_str_eq(f.log->str, "gdaebchL");      /* L: armed for now by c, after h (armed before it) */
        ck_assert_uint_eq(timer_set_next_deadline(f.set), 25);
        ck_assert(!timer_is_armed(&t[0]) && timer_is_armed(&t[8]));

        timer_set_run(f.set, 100, &f);
        ck_assert_str_eq(f.log->str, "gdaebchLyi");
        ck_assert_uint_eq(timer_set_next_deadline(f.set), UINT64_MAX);
        timer_set_free(f.set);
        g_string_free(f.log, TRUE);
}
END_TEST

static Suite *hub_suite(void) {
        Suite *s = suite_create("hub");
        TCase *tc;

        tc = tcase_create("match");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_star_matches_one_token);
        tcase_add_test(tc, test_tail_wildcard);
        tcase_add_test(tc, test_overlap_once_per_subscription);
        tcase_add_test(tc, test_hub_agrees_with_pattern_match);
        suite_add_tcase(s, tc);

        tc = tcase_create("unsubscribe");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_unsubscribe_and_resubscribe);
        suite_add_tcase(s, tc);

        tc = tcase_create("publish");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_publish_bad_topic);
        suite_add_tcase(s, tc);

        tc = tcase_create("sequence");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_seq_strictly_increasing);
        tcase_add_test(tc, test_per_publisher_order);
        suite_add_tcase(s, tc);

        tc = tcase_create("retained");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_retained_replay_in_publish_order);
        tcase_add_test(tc, test_retained_many_in_order);
        tcase_add_test(tc, test_retained_not_replayed_without_asking);
        tcase_add_test(tc, test_retained_sender_outlives_client);
        tcase_add_test(tc, test_retained_empty_clears);
        tcase_add_test(tc, test_clear_retained);
        suite_add_tcase(s, tc);

        tc = tcase_create("gap");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_gap_before_next_message);
        tcase_add_test(tc, test_gap_flush);
        tcase_add_test(tc, test_report_gap);
        tcase_add_test(tc, test_gap_per_subscription);
        tcase_add_test(tc, test_gap_then_refused_again);
        tcase_add_test(tc, test_gap_watch);
        tcase_add_test(tc, test_full_sink_isolated);
        suite_add_tcase(s, tc);

        tc = tcase_create("limits");
        tcase_add_checked_fixture(tc, setup_small, teardown);
        tcase_add_test(tc, test_publish_max_payload);
        tcase_add_test(tc, test_max_retained);
        tcase_add_test(tc, test_max_subscriptions);
        tcase_add_test(tc, test_max_clients);
        suite_add_tcase(s, tc);

        tc = tcase_create("clients");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_client_ids_unique);
        tcase_add_test(tc, test_deinit_frees_everything);
        suite_add_tcase(s, tc);

        tc = tcase_create("info");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_counters);
        tcase_add_test(tc, test_clients_by_transport);
        tcase_add_test(tc, test_info);
        suite_add_tcase(s, tc);

        tc = tcase_create("timer");
        tcase_add_test(tc, test_timers_in_due_order);
        suite_add_tcase(s, tc);

        tc = tcase_create("text");
        tcase_add_test(tc, test_payload_is_text);
        tcase_add_test(tc, test_utf8_is_valid_agrees_with_glib);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(hub_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
