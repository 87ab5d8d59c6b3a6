/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-store.c: the key-value store through the hub (hub_get/set/set_if/
 * delete/list/watch), key grammar, hub-wide and per-key revisions, the
 * store limits, and watches as a FakeClient sees them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <glib.h>

#include "core/store.h"
#include "fake-client.h"

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
        l.max_keys = 3;
        l.max_value = 8;
        l.max_key_length = 6;
        l.max_watches = 2;
        setup_with(&l);
}

static void teardown(void) {
        g_clear_pointer(&alice, fake_client_free);
        g_clear_pointer(&bob, fake_client_free);
        g_clear_pointer(&hub, hub_free);
}

static uint64_t set(const char *key, const char *value) {
        uint64_t rev = 0;

        ck_assert_int_eq(hub_set(hub, &alice->client, key, value, strlen(value), &rev), 0);
        ck_assert_uint_gt(rev, 0);
        return rev;
}

static void assert_value(const char *key, const char *value, uint64_t revision) {
        StoreEntry e = {};

        ck_assert_int_eq(hub_get(hub, key, &e), 0);
        ck_assert_str_eq(e.key, key);
        ck_assert_uint_eq(e.value_len, strlen(value));
        ck_assert(e.value_len == 0 || memcmp(e.value, value, e.value_len) == 0);
        ck_assert_uint_eq(e.revision, revision);
}

/* Get and set */

START_TEST(test_get_missing)
{
        StoreEntry e = { .key = "untouched" };

        ck_assert_int_eq(hub_get(hub, "nope", &e), -ENOENT);
        ck_assert_str_eq(e.key, "untouched");
        ck_assert_uint_eq(hub_get_n_keys(hub), 0);
}
END_TEST

START_TEST(test_set_get)
{
        static const char bin[] = { 'a', '\0', '\xff', 'b' };
        uint64_t rev;
        StoreEntry e;

        rev = set("greeting", "hello");
        assert_value("greeting", "hello", rev);
        ck_assert_uint_eq(hub_get_n_keys(hub), 1);

        /* Values are bytes: NULs and invalid UTF-8 survive, and so does empty. */
        ck_assert_int_eq(hub_set(hub, NULL, "bin", bin, sizeof bin, &rev), 0);
        ck_assert_int_eq(hub_get(hub, "bin", &e), 0);
        ck_assert_uint_eq(e.value_len, sizeof bin);
        ck_assert(memcmp(e.value, bin, sizeof bin) == 0);
        rev = set("empty", "");
        assert_value("empty", "", rev);

        /* Overwriting keeps one key. */
        rev = set("greeting", "bye");
        assert_value("greeting", "bye", rev);
        ck_assert_uint_eq(hub_get_n_keys(hub), 3);

        /* ret_revision may be NULL. */
        ck_assert_int_eq(hub_set(hub, NULL, "greeting", "x", 1, NULL), 0);
        assert_value("greeting", "x", rev + 1);
}
END_TEST

START_TEST(test_revisions)
{
        uint64_t r1, r2, r3, r4;
        bool existed;

        /* One hub-wide counter from 1; a key's revision is its last change's. */
        r1 = set("a", "1");
        r2 = set("b", "2");
        r3 = set("a", "3");
        ck_assert_uint_eq(r1, 1);
        ck_assert_uint_eq(r2, 2);
        ck_assert_uint_eq(r3, 3);
        assert_value("a", "3", 3);
        assert_value("b", "2", 2);

        /* A delete takes a revision too: the next set shows it. */
        ck_assert_int_eq(hub_delete(hub, &alice->client, "b", &existed), 0);
        ck_assert(existed);
        r4 = set("c", "4");
        ck_assert_uint_eq(r4, 5);

        /* Refused changes take none. */
        ck_assert_int_eq(hub_set(hub, NULL, "", "x", 1, NULL), -EINVAL);
        ck_assert_int_eq(hub_set_if(hub, NULL, "a", "x", 1, 1, NULL), -ESTALE);
        ck_assert_int_eq(hub_delete(hub, NULL, "missing", &existed), 0);
        ck_assert(!existed);
        ck_assert_uint_eq(set("d", "5"), 6);
}
END_TEST

/* Compare-and-set */

START_TEST(test_set_if_create)
{
        uint64_t rev = 0, rev2 = 0;

        /* Expected 0: create only when missing. */
        ck_assert_int_eq(hub_set_if(hub, &alice->client, "lock", "alice", 5, 0, &rev), 0);
        assert_value("lock", "alice", rev);
        ck_assert_int_eq(hub_set_if(hub, &bob->client, "lock", "bob", 3, 0, &rev2), -ESTALE);
        ck_assert_uint_eq(rev2, 0);
        assert_value("lock", "alice", rev);
}
END_TEST

START_TEST(test_set_if_match)
{
        uint64_t r1 = set("k", "v1"), r2 = 0;

        ck_assert_int_eq(hub_set_if(hub, &alice->client, "k", "v2", 2, r1, &r2), 0);
        ck_assert_uint_gt(r2, r1);
        assert_value("k", "v2", r2);
}
END_TEST

START_TEST(test_set_if_mismatch)
{
        uint64_t r1 = set("k", "v1"), r2 = set("other", "x"), ret = 0;
        const HubCounters *c = hub_get_counters(hub);
        uint64_t changes = c->store_changes;

        /* Wrong revision, a newer one, and "must not exist": value and revision stay. */
        ck_assert_int_eq(hub_set_if(hub, NULL, "k", "v2", 2, r1 + 1, &ret), -ESTALE);
        ck_assert_int_eq(hub_set_if(hub, NULL, "k", "v2", 2, r2, &ret), -ESTALE);
        ck_assert_int_eq(hub_set_if(hub, NULL, "k", "v2", 2, 0, &ret), -ESTALE);
        /* A missing key has no revision but 0. */
        ck_assert_int_eq(hub_set_if(hub, NULL, "missing", "v", 1, r1, &ret), -ESTALE);
        ck_assert_uint_eq(ret, 0);
        assert_value("k", "v1", r1);
        ck_assert_int_eq(hub_get(hub, "missing", &(StoreEntry) {}), -ENOENT);
        ck_assert_uint_eq(c->store_changes, changes);
        ck_assert_uint_eq(set("next", "x"), r2 + 1);
}
END_TEST

/* Delete */

START_TEST(test_delete)
{
        uint64_t r1 = set("k", "v");
        bool existed = false;

        ck_assert_int_eq(hub_delete(hub, &alice->client, "k", &existed), 0);
        ck_assert(existed);
        ck_assert_int_eq(hub_get(hub, "k", &(StoreEntry) {}), -ENOENT);
        ck_assert_uint_eq(hub_get_n_keys(hub), 0);

        /* Deleting again: no error, not existed, no revision taken. */
        existed = true;
        ck_assert_int_eq(hub_delete(hub, &alice->client, "k", &existed), 0);
        ck_assert(!existed);
        ck_assert_int_eq(hub_delete(hub, NULL, "k", NULL), 0);
        ck_assert_uint_eq(set("k", "again"), r1 + 2);

        /* A deleted key can be created with expected revision 0 again. */
        ck_assert_int_eq(hub_delete(hub, NULL, "k", NULL), 0);
        ck_assert_int_eq(hub_set_if(hub, NULL, "k", "new", 3, 0, NULL), 0);
}
END_TEST

/* List */

static void assert_list(const char *prefix, const char *const *keys) {
        g_autoptr(GArray) a = NULL;
        guint n = keys ? g_strv_length((char **) keys) : 0;

        ck_assert_int_eq(hub_list(hub, prefix, &a), 0);
        ck_assert_msg(a->len == n, "list '%s': %u entries, expected %u", prefix, a->len, n);
        for (guint i = 0; i < n; i++) {
                StoreEntry *e = &g_array_index(a, StoreEntry, i);
                StoreEntry got;

                ck_assert_str_eq(e->key, keys[i]);
                ck_assert_int_eq(hub_get(hub, e->key, &got), 0);
                ck_assert_uint_eq(e->revision, got.revision);
                ck_assert_uint_eq(e->value_len, got.value_len);
                ck_assert(got.value_len == 0 || memcmp(e->value, got.value, got.value_len) == 0);
        }
}

START_TEST(test_list_sorted)
{
        /* Inserted out of order. */
        set("b", "1");
        set("ab", "2");
        set("a.z", "3");
        set("a", "4");
        set("a.b", "5");
        set("aa", "6");
        set("B", "7");
        set("c", "8");

        assert_list("", (const char *[]) { "B", "a", "a.b", "a.z", "aa", "ab", "b", "c", NULL });
        assert_list("a", (const char *[]) { "a", "a.b", "a.z", "aa", "ab", NULL });
        assert_list("a.", (const char *[]) { "a.b", "a.z", NULL });
        assert_list("ab", (const char *[]) { "ab", NULL });
        assert_list("b", (const char *[]) { "b", NULL });
        assert_list("c", (const char *[]) { "c", NULL });
        assert_list("ac", NULL);
        assert_list("d", NULL);
        assert_list("0", NULL);
        assert_list("a.b.c", NULL);
}
END_TEST

START_TEST(test_list_empty_store)
{
        assert_list("", NULL);
        assert_list("a", NULL);
}
END_TEST

START_TEST(test_list_bad_prefix)
{
        g_autofree char *too_long = g_strnfill(257, 'k');
        GArray *a = NULL;

        ck_assert_int_eq(hub_list(hub, "a\n", &a), -EINVAL);
        ck_assert_int_eq(hub_list(hub, too_long, &a), -ENAMETOOLONG);
        ck_assert_int_eq(hub_list(hub, NULL, &a), -EINVAL);
        ck_assert_ptr_null(a);
}
END_TEST

/* Key grammar */

START_TEST(test_key_grammar)
{
        static const char *const bad[] = {
                "", "a\nb", "\t", "a\x01", "\x1f", "a\x7f", "\xff", "a\xc3", "\xc0\xaf",
                "\xed\xa0\x80", "a\xc2\x85", "\xc2\x80", "k\xc2\x9f",   /* C1: U+0080..U+009F */
                "k\xef\xb7\x90", "\xef\xbf\xbf", "k\xf0\x9f\xbf\xbe",   /* noncharacters: D-Bus refuses */
        };
        static const char *const good[] = {
                "a", "a b", " ", "a.b/c:d", "schl\xc3\xbcssel", "*", ">", "..", "\xe2\x82\xac",
                "\xc2\xa0", "\xe2\x80\xa8",                        /* U+00A0, U+2028: not Cc */
        };
        HubLimits l;
        g_autofree char *at = NULL, *over = NULL, *utf8_at = NULL, *utf8_over = NULL;
        GString *s;
        uint64_t rev;

        hub_limits_default(&l);
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                ck_assert_msg(store_key_validate(bad[i], &l) == -EINVAL, "key %zu", i);
                ck_assert_int_eq(hub_set(hub, NULL, bad[i], "v", 1, NULL), -EINVAL);
                ck_assert_int_eq(hub_get(hub, bad[i], &(StoreEntry) {}), -EINVAL);
                ck_assert_int_eq(hub_delete(hub, NULL, bad[i], NULL), -EINVAL);
                ck_assert_int_eq(hub_set_if(hub, NULL, bad[i], "v", 1, 0, NULL), -EINVAL);
        }
        ck_assert_int_eq(store_key_validate(NULL, &l), -EINVAL);
        for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
                ck_assert_msg(store_key_validate(good[i], &l) == 0, "key '%s'", good[i]);
                ck_assert_int_eq(hub_set(hub, NULL, good[i], "v", 1, &rev), 0);
                assert_value(good[i], "v", rev);
        }
        ck_assert_uint_eq(hub_get_n_keys(hub), G_N_ELEMENTS(good));

        /* Length in bytes: exactly at the limit is accepted. */
        at = g_strnfill(l.max_key_length, 'k');
        over = g_strnfill(l.max_key_length + 1, 'k');
        ck_assert_int_eq(hub_set(hub, NULL, at, "v", 1, NULL), 0);
        ck_assert_int_eq(hub_set(hub, NULL, over, "v", 1, NULL), -ENAMETOOLONG);
        ck_assert_int_eq(hub_get(hub, over, &(StoreEntry) {}), -ENAMETOOLONG);
        ck_assert_int_eq(hub_delete(hub, NULL, over, NULL), -ENAMETOOLONG);
        s = g_string_new(NULL);
        for (size_t i = 0; i < l.max_key_length / 2; i++)
                g_string_append(s, "\xc3\xbc");        /* 2 bytes each */
        utf8_at = g_strdup(s->str);
        g_string_append(s, "\xc3\xbc");
        utf8_over = g_string_free(s, FALSE);
        ck_assert_int_eq(hub_set(hub, NULL, utf8_at, "v", 1, NULL), 0);
        ck_assert_int_eq(hub_set(hub, NULL, utf8_over, "v", 1, NULL), -ENAMETOOLONG);

        /* A prefix may be empty, a key may not. */
        ck_assert_int_eq(store_prefix_validate("", &l), 0);
        ck_assert_int_eq(store_key_validate("", &l), -EINVAL);
}
END_TEST

/* Limits */

START_TEST(test_max_keys)
{
        uint64_t rev = 0;

        set("k1", "1");
        set("k2", "2");
        set("k3", "3");
        ck_assert_int_eq(hub_set(hub, NULL, "k4", "4", 1, &rev), -EDQUOT);
        ck_assert_int_eq(hub_set_if(hub, NULL, "k4", "4", 1, 0, &rev), -EDQUOT);
        ck_assert_uint_eq(rev, 0);
        ck_assert_int_eq(hub_get(hub, "k4", &(StoreEntry) {}), -ENOENT);
        ck_assert_uint_eq(hub_get_n_keys(hub), 3);

        /* Overwriting at the limit is fine; deleting makes room. */
        rev = set("k1", "one");
        ck_assert_uint_eq(rev, 4);
        ck_assert_int_eq(hub_delete(hub, NULL, "k2", NULL), 0);
        ck_assert_uint_eq(set("k4", "4"), 6);
}
END_TEST

START_TEST(test_max_value)
{
        uint64_t rev = 0;

        ck_assert_int_eq(hub_set(hub, NULL, "k", "12345678", 8, &rev), 0);
        ck_assert_int_eq(hub_set(hub, NULL, "k", "123456789", 9, NULL), -EMSGSIZE);
        ck_assert_int_eq(hub_set_if(hub, NULL, "k", "123456789", 9, rev, NULL), -EMSGSIZE);
        assert_value("k", "12345678", rev);
        ck_assert_int_eq(hub_set(hub, NULL, "n", "123456789", 9, NULL), -EMSGSIZE);
        ck_assert_uint_eq(hub_get_n_keys(hub), 1);
}
END_TEST

START_TEST(test_max_key_length)
{
        ck_assert_int_eq(hub_set(hub, NULL, "abcdef", "v", 1, NULL), 0);
        ck_assert_int_eq(hub_set(hub, NULL, "abcdefg", "v", 1, NULL), -ENAMETOOLONG);
        ck_assert_int_eq(hub_watch(hub, &alice->client, "abcdefg", NULL), -ENAMETOOLONG);
}
END_TEST

/* Watches */

START_TEST(test_watch_prefix)
{
        uint64_t id = 0, r1, r2, r3;
        const FakeEnvelope *e;

        ck_assert_int_eq(hub_watch(hub, &alice->client, "cfg.", &id), 0);
        ck_assert_uint_gt(id, 0);

        r1 = set("cfg.color", "blue");
        set("cfgx", "no");
        set("other.cfg.x", "no");
        set("cfg", "no");
        ck_assert_int_eq(hub_set(hub, &bob->client, "cfg.size", "\x01\x00", 2, &r2), 0);
        ck_assert_int_eq(hub_delete(hub, &bob->client, "cfg.color", NULL), 0);
        r3 = r2 + 1;

        ck_assert_uint_eq(alice->delivered->len, 3);
        e = fake_client_get(alice, 0);
        ck_assert_int_eq(e->kind, ENVELOPE_KEY_CHANGED);
        ck_assert_uint_eq(e->sub_id, id);
        ck_assert_str_eq(e->topic, "cfg.color");
        ck_assert(fake_envelope_payload_is(e, "blue"));
        ck_assert_uint_eq(e->seq, r1);
        ck_assert(!e->deleted);
        ck_assert(e->has_sender);
        ck_assert_uint_eq(e->sender_id, alice->client.info.id);
        ck_assert_str_eq(e->sender_transport, "fake");

        e = fake_client_get(alice, 1);
        ck_assert_str_eq(e->topic, "cfg.size");
        ck_assert_uint_eq(g_bytes_get_size(e->payload), 2);
        ck_assert_uint_eq(e->seq, r2);
        ck_assert_uint_eq(e->sender_id, bob->client.info.id);
        ck_assert_uint_eq(e->sender_uid, 1001);

        e = fake_client_get(alice, 2);
        ck_assert_str_eq(e->topic, "cfg.color");
        ck_assert(e->deleted);
        ck_assert_uint_eq(g_bytes_get_size(e->payload), 0);
        ck_assert_uint_eq(e->seq, r3);

        /* Bob watches nothing and gets nothing. */
        ck_assert_uint_eq(bob->delivered->len, 0);
}
END_TEST

START_TEST(test_watch_all_and_overlap)
{
        uint64_t all = 0, some = 0, other = 0;

        ck_assert_int_eq(hub_watch(hub, &alice->client, "", &all), 0);
        ck_assert_int_eq(hub_watch(hub, &alice->client, "a", &some), 0);
        ck_assert_int_eq(hub_watch(hub, &bob->client, "a", &other), 0);
        ck_assert_uint_ne(all, some);
        ck_assert_uint_ne(some, other);

        set("a", "1");
        set("b", "2");
        set("ab", "3");

        /* One envelope per matching watch. */
        ck_assert_uint_eq(alice->delivered->len, 5);
        ck_assert_uint_eq(bob->delivered->len, 2);
        for (guint i = 0; i < bob->delivered->len; i++)
                ck_assert_uint_eq(fake_client_get(bob, i)->sub_id, other);
}
END_TEST

START_TEST(test_watch_no_change_no_notice)
{
        ck_assert_int_eq(hub_watch(hub, &alice->client, "", NULL), 0);

        ck_assert_int_eq(hub_delete(hub, NULL, "missing", NULL), 0);
        set("k", "v");
        ck_assert_int_eq(hub_set_if(hub, NULL, "k", "w", 1, 999, NULL), -ESTALE);
        ck_assert_int_eq(hub_set(hub, NULL, "k", "123456789", 0x7fffffff, NULL), -EMSGSIZE);

        ck_assert_uint_eq(alice->delivered->len, 1);
}
END_TEST

START_TEST(test_unwatch)
{
        uint64_t id = 0, bobs = 0;

        ck_assert_int_eq(hub_watch(hub, &alice->client, "", &id), 0);
        ck_assert_int_eq(hub_watch(hub, &bob->client, "", &bobs), 0);
        set("k", "1");

        /* Unknown ids and another client's id are -ENOENT and change nothing. */
        ck_assert_int_eq(hub_unwatch(hub, &alice->client, 0), -ENOENT);
        ck_assert_int_eq(hub_unwatch(hub, &alice->client, 12345), -ENOENT);
        ck_assert_int_eq(hub_unwatch(hub, &alice->client, bobs), -ENOENT);
        ck_assert_int_eq(hub_unsubscribe(hub, &alice->client, id), -ENOENT);

        ck_assert_uint_eq(hub_get_n_watches(hub), 2);
        ck_assert_int_eq(hub_unwatch(hub, &alice->client, id), 0);
        ck_assert_int_eq(hub_unwatch(hub, &alice->client, id), -ENOENT);
        ck_assert_uint_eq(hub_get_n_watches(hub), 1);
        set("k", "2");

        ck_assert_uint_eq(alice->delivered->len, 1);
        ck_assert_uint_eq(bob->delivered->len, 2);
}
END_TEST

START_TEST(test_watch_bad_prefix)
{
        uint64_t id = 77;

        ck_assert_int_eq(hub_watch(hub, &alice->client, "a\x01", &id), -EINVAL);
        ck_assert_int_eq(hub_watch(hub, &alice->client, "\xff", &id), -EINVAL);
        ck_assert_uint_eq(id, 77);
}
END_TEST

START_TEST(test_max_watches)
{
        uint64_t id1, id2, id3 = 0;

        ck_assert_int_eq(hub_watch(hub, &alice->client, "a", &id1), 0);
        ck_assert_int_eq(hub_watch(hub, &alice->client, "a", &id2), 0);
        ck_assert_int_eq(hub_watch(hub, &alice->client, "b", &id3), -EDQUOT);
        ck_assert_uint_eq(id3, 0);

        /* Per client: bob has his own allowance; unwatching makes room. */
        ck_assert_int_eq(hub_watch(hub, &bob->client, "b", NULL), 0);
        ck_assert_int_eq(hub_unwatch(hub, &alice->client, id1), 0);
        ck_assert_int_eq(hub_watch(hub, &alice->client, "b", &id3), 0);
        set("b", "x");
        ck_assert_uint_eq(alice->delivered->len, 1);
        ck_assert_uint_eq(fake_client_get(alice, 0)->sub_id, id3);
}
END_TEST

START_TEST(test_watch_internal_unlimited)
{
        g_autoptr(FakeClient) internal = NULL;

        ck_assert_int_eq(fake_client_new_full(hub, 0, true, &internal), 0);
        for (unsigned i = 0; i < 5; i++)
                ck_assert_int_eq(hub_watch(hub, &internal->client, "", NULL), 0);
        set("k", "v");
        ck_assert_uint_eq(internal->delivered->len, 5);
        /* Not counted, and nothing goes negative when it leaves. */
        ck_assert_uint_eq(hub_get_n_watches(hub), 0);
        g_clear_pointer(&internal, fake_client_free);
        ck_assert_uint_eq(hub_get_n_watches(hub), 0);
}
END_TEST

static Suite *store_suite(void) {
        Suite *s = suite_create("store");
        TCase *tc;

        tc = tcase_create("get-set");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_get_missing);
        tcase_add_test(tc, test_set_get);
        suite_add_tcase(s, tc);

        tc = tcase_create("revisions");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_revisions);
        suite_add_tcase(s, tc);

        tc = tcase_create("set-if");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_set_if_create);
        tcase_add_test(tc, test_set_if_match);
        tcase_add_test(tc, test_set_if_mismatch);
        suite_add_tcase(s, tc);

        tc = tcase_create("delete");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_delete);
        suite_add_tcase(s, tc);

        tc = tcase_create("list");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_list_sorted);
        tcase_add_test(tc, test_list_empty_store);
        tcase_add_test(tc, test_list_bad_prefix);
        suite_add_tcase(s, tc);

        tc = tcase_create("key-grammar");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_key_grammar);
        suite_add_tcase(s, tc);

        tc = tcase_create("limits");
        tcase_add_checked_fixture(tc, setup_small, teardown);
        tcase_add_test(tc, test_max_keys);
        tcase_add_test(tc, test_max_value);
        tcase_add_test(tc, test_max_key_length);
        tcase_add_test(tc, test_max_watches);
        tcase_add_test(tc, test_watch_internal_unlimited);
        suite_add_tcase(s, tc);

        tc = tcase_create("watch");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_watch_prefix);
        tcase_add_test(tc, test_watch_all_and_overlap);
        tcase_add_test(tc, test_watch_no_change_no_notice);
        tcase_add_test(tc, test_unwatch);
        tcase_add_test(tc, test_watch_bad_prefix);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(store_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
