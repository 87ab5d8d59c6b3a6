/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-topic.c: the topic and pattern grammar, topic_pattern_match() and
 * the subscription tree (core/topic.h), without a hub. The tree is driven
 * with bare Subscriptions and compared, on a generated set of every
 * pattern and topic over a small alphabet, with topic_pattern_match() and
 * with a reference matcher written here from the grammar in topic.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <glib.h>

#include "core/topic.h"

static HubLimits limits;

static void setup(void) {
        hub_limits_default(&limits);
}

static void teardown(void) {
}

/* Grammar */

START_TEST(test_valid_topics)
{
        static const char *const topics[] = {
                "a", "Z", "0", "_", "-", "sensors", "sensors.kitchen.temp", "A-z_0.9-x.y_",
                "a.b.c.d.e.f", "x.-._",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(topics); i++) {
                ck_assert_msg(topic_validate(topics[i], &limits) == 0, "topic '%s'", topics[i]);
                /* Every topic is also a pattern matching itself only. */
                ck_assert_msg(topic_pattern_validate(topics[i], &limits) == 0, "'%s'", topics[i]);
        }
}
END_TEST

START_TEST(test_valid_patterns)
{
        static const char *const patterns[] = {
                "*", ">", "a.*", "*.a", "*.*", "a.>", "*.>", "a.*.c.>", "a.b.c", "*.*.*.>",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(patterns); i++)
                ck_assert_msg(topic_pattern_validate(patterns[i], &limits) == 0, "pattern '%s'",
                              patterns[i]);
}
END_TEST

START_TEST(test_invalid_topics)
{
        static const char *const topics[] = {
                "", ".", "..", "a..b", ".a", "a.", "a b", " a", "a ", "a\tb", "a/b", "a:b",
                "a,b", "\xc3\xa4", "a.\xff", "*", ">", "a.*", "a.>", "a*", "#", "a+b",
        };

        ck_assert_int_eq(topic_validate(NULL, &limits), -EINVAL);
        for (size_t i = 0; i < G_N_ELEMENTS(topics); i++)
                ck_assert_msg(topic_validate(topics[i], &limits) == -EINVAL, "topic '%s' got %d",
                              topics[i], topic_validate(topics[i], &limits));
}
END_TEST

START_TEST(test_invalid_patterns)
{
        static const char *const patterns[] = {
                "", ".", "a..b", ".a", "a.", "a b", "a *", "a.* ", "a*", "*a", "**", "a.**",
                ">>", "a>", ">a", "a.b>", ">.a", "a.>.b", ">.>", "*.>.*", ".>", "a.>.",
                "a.\xc3\xa4", "a/b",
        };

        ck_assert_int_eq(topic_pattern_validate(NULL, &limits), -EINVAL);
        for (size_t i = 0; i < G_N_ELEMENTS(patterns); i++)
                ck_assert_msg(topic_pattern_validate(patterns[i], &limits) == -EINVAL,
                              "pattern '%s' got %d", patterns[i],
                              topic_pattern_validate(patterns[i], &limits));
}
END_TEST

/* n tokens "a", "a.a", ...: 2n - 1 bytes */
static char *tokens_topic(unsigned n, const char *last) {
        g_autoptr(GPtrArray) a = g_ptr_array_new();

        for (unsigned i = 0; i + 1 < n; i++)
                g_ptr_array_add(a, (char *) "a");
        g_ptr_array_add(a, (char *) last);
        g_ptr_array_add(a, NULL);
        return g_strjoinv(".", (char **) a->pdata);
}

START_TEST(test_length_limit)
{
        g_autofree char *at = g_strnfill(limits.max_topic_length, 'x');
        g_autofree char *over = g_strnfill(limits.max_topic_length + 1, 'x');
        g_autofree char *pat_at = g_strdup(at);
        g_autofree char *pat_over = g_strdup(over);

        ck_assert_uint_eq(limits.max_topic_length, 256);
        ck_assert_int_eq(topic_validate(at, &limits), 0);
        ck_assert_int_eq(topic_validate(over, &limits), -ENAMETOOLONG);

        /* Same for patterns, with the wildcard counted in bytes. */
        pat_at[limits.max_topic_length - 2] = '.';
        pat_at[limits.max_topic_length - 1] = '>';
        pat_over[limits.max_topic_length - 1] = '.';
        pat_over[limits.max_topic_length] = '>';
        ck_assert_int_eq(topic_pattern_validate(pat_at, &limits), 0);
        ck_assert_int_eq(topic_pattern_validate(pat_over, &limits), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_token_limit)
{
        g_autofree char *at = tokens_topic(limits.max_topic_tokens, "a");
        g_autofree char *over = tokens_topic(limits.max_topic_tokens + 1, "a");
        g_autofree char *pat_at = tokens_topic(limits.max_topic_tokens, ">");
        g_autofree char *pat_over = tokens_topic(limits.max_topic_tokens + 1, ">");

        ck_assert_uint_eq(limits.max_topic_tokens, 32);
        ck_assert_int_eq(topic_validate(at, &limits), 0);
        ck_assert_int_eq(topic_validate(over, &limits), -ENAMETOOLONG);
        ck_assert_int_eq(topic_pattern_validate(pat_at, &limits), 0);
        ck_assert_int_eq(topic_pattern_validate(pat_over, &limits), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_small_limits)
{
        HubLimits small = limits;

        small.max_topic_length = 7;
        small.max_topic_tokens = 3;
        ck_assert_int_eq(topic_validate("abc.def", &small), 0);         /* 7 bytes */
        ck_assert_int_eq(topic_validate("abc.defg", &small), -ENAMETOOLONG);
        ck_assert_int_eq(topic_validate("a.b.c", &small), 0);           /* 3 tokens */
        ck_assert_int_eq(topic_validate("a.b.c.d", &small), -ENAMETOOLONG);
        ck_assert_int_eq(topic_pattern_validate("a.*.>", &small), 0);
        ck_assert_int_eq(topic_pattern_validate("a.*.*.>", &small), -ENAMETOOLONG);
        /* A grammar error is reported as such even when it is also short enough. */
        ck_assert_int_eq(topic_validate("a..b", &small), -EINVAL);
}
END_TEST

/* A reference matcher written from the grammar, token by token. */
static bool ref_match_tokens(char **p, char **t) {
        if (!*p)
                return !*t;
        if (strcmp(*p, ">") == 0)
                return *t != NULL;      /* one or more */
        if (!*t)
                return false;
        if (strcmp(*p, "*") != 0 && strcmp(*p, *t) != 0)
                return false;
        return ref_match_tokens(p + 1, t + 1);
}

static bool ref_match(const char *pattern, const char *topic) {
        g_auto(GStrv) p = g_strsplit(pattern, ".", -1);
        g_auto(GStrv) t = g_strsplit(topic, ".", -1);

        return ref_match_tokens(p, t);
}

START_TEST(test_pattern_match)
{
        static const struct {
                const char *pattern, *topic;
                bool match;
        } cases[] = {
                { "a", "a", true },
                { "a", "b", false },
                { "a", "ab", false },
                { "ab", "a", false },
                { "a", "a.b", false },
                { "a.b", "a", false },
                { "*", "a", true },
                { "*", "a.b", false },
                { "a.*", "a", false },
                { "a.*", "a.b", true },
                { "a.*", "a.b.c", false },
                { "a.*.c", "a.b.c", true },
                { "a.*.c", "a.b.d", false },
                { "*.b", "a.b", true },
                { ">", "a", true },
                { ">", "a.b.c", true },
                { "a.>", "a", false },
                { "a.>", "a.b", true },
                { "a.>", "a.b.c", true },
                { "a.>", "ab.c", false },
                { "a.>", "b.a", false },
                { "*.>", "a", false },
                { "*.>", "a.b", true },
                { "sensors.*.temp", "sensors.kitchen.temp", true },
                { "sensors.*.temp", "sensors.kitchen.top.temp", false },
                { "sensors.>", "sensors", false },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                ck_assert_msg(topic_pattern_match(cases[i].pattern, cases[i].topic) ==
                              cases[i].match, "'%s' vs '%s'", cases[i].pattern, cases[i].topic);
                /* And the table agrees with the reference matcher. */
                ck_assert(ref_match(cases[i].pattern, cases[i].topic) == cases[i].match);
        }
}
END_TEST

/* Tree */

static TopicNode *tree;
static GPtrArray *subs;         /* Subscription*, owned here */

static void tree_setup(void) {
        setup();
        tree = topic_tree_new();
        subs = g_ptr_array_new();
}

static void tree_teardown(void) {
        for (guint i = 0; i < subs->len; i++) {
                Subscription *s = subs->pdata[i];

                topic_tree_remove(s);
                g_free(s->pattern);
                g_free(s);
        }
        g_ptr_array_unref(subs);
        tree = topic_tree_free(tree);
}

static Subscription *sub_add(const char *pattern) {
        Subscription *s = g_new0(Subscription, 1);

        ck_assert_int_eq(topic_pattern_validate(pattern, &limits), 0);
        s->listener.id = subs->len + 1;
        s->pattern = g_strdup(pattern);
        topic_tree_add(tree, s);
        g_ptr_array_add(subs, s);
        return s;
}

static void sub_remove(Subscription *s) {
        ck_assert(g_ptr_array_remove(subs, s));
        topic_tree_remove(s);
        g_free(s->pattern);
        g_free(s);
}

static void collect(Subscription *s, void *userdata) {
        g_ptr_array_add(userdata, s);
}

static GPtrArray *matches(const char *topic) {
        GPtrArray *a = g_ptr_array_new();

        topic_tree_match(tree, topic, collect, a);
        return a;
}

static unsigned times_matched(GPtrArray *a, Subscription *s) {
        unsigned n = 0;

        for (guint i = 0; i < a->len; i++)
                if (a->pdata[i] == s)
                        n++;
        return n;
}

START_TEST(test_tree_star_is_one_token)
{
        Subscription *s = sub_add("sensors.*.temp");
        g_autoptr(GPtrArray) m1 = matches("sensors.kitchen.temp");
        g_autoptr(GPtrArray) m2 = matches("sensors.kitchen.top.temp");
        g_autoptr(GPtrArray) m3 = matches("sensors.temp");

        ck_assert_uint_eq(m1->len, 1);
        ck_assert_ptr_eq(m1->pdata[0], s);
        ck_assert_uint_eq(m2->len, 0);
        ck_assert_uint_eq(m3->len, 0);
}
END_TEST

START_TEST(test_tree_tail_wildcard)
{
        Subscription *tail = sub_add("a.>");
        Subscription *all = sub_add(">");
        g_autoptr(GPtrArray) m_a = matches("a");
        g_autoptr(GPtrArray) m_ab = matches("a.b");
        g_autoptr(GPtrArray) m_abcd = matches("a.b.c.d");
        g_autoptr(GPtrArray) m_b = matches("b.a");

        /* "a.>" needs at least one token after "a"; ">" takes everything. */
        ck_assert_uint_eq(m_a->len, 1);
        ck_assert_ptr_eq(m_a->pdata[0], all);
        ck_assert_uint_eq(m_ab->len, 2);
        ck_assert_uint_eq(times_matched(m_ab, tail), 1);
        ck_assert_uint_eq(times_matched(m_ab, all), 1);
        ck_assert_uint_eq(m_abcd->len, 2);
        ck_assert_uint_eq(times_matched(m_abcd, tail), 1);
        ck_assert_uint_eq(m_b->len, 1);
        ck_assert_ptr_eq(m_b->pdata[0], all);
}
END_TEST

START_TEST(test_tree_overlap_once_each)
{
        Subscription *lit = sub_add("a.b.c");
        Subscription *lit2 = sub_add("a.b.c");
        Subscription *star = sub_add("a.*.c");
        Subscription *stars = sub_add("*.*.*");
        Subscription *tail = sub_add("a.>");
        Subscription *startail = sub_add("*.b.>");
        Subscription *other = sub_add("a.b.d");
        g_autoptr(GPtrArray) m = matches("a.b.c");

        ck_assert_uint_eq(m->len, 6);
        ck_assert_uint_eq(times_matched(m, lit), 1);
        ck_assert_uint_eq(times_matched(m, lit2), 1);
        ck_assert_uint_eq(times_matched(m, star), 1);
        ck_assert_uint_eq(times_matched(m, stars), 1);
        ck_assert_uint_eq(times_matched(m, tail), 1);
        ck_assert_uint_eq(times_matched(m, startail), 1);
        ck_assert_uint_eq(times_matched(m, other), 0);
}
END_TEST

START_TEST(test_tree_remove_prunes)
{
        Subscription *deep = sub_add("a.b.c.d");
        Subscription *mid = sub_add("a.b");
        Subscription *star = sub_add("a.*.c");
        g_autoptr(GPtrArray) m1 = NULL, m2 = NULL, m3 = NULL, m4 = NULL;

        /* Removing the deepest leaves its ancestors' subscriptions alone. */
        sub_remove(deep);
        m1 = matches("a.b.c.d");
        ck_assert_uint_eq(m1->len, 0);
        m2 = matches("a.b");
        ck_assert_uint_eq(m2->len, 1);
        ck_assert_ptr_eq(m2->pdata[0], mid);

        /* Removing "a.*.c" prunes the "*" branch, "a.b" still matches. */
        sub_remove(star);
        m3 = matches("a.b.c");
        ck_assert_uint_eq(m3->len, 0);

        /* The same patterns can be added again after pruning, and match. */
        sub_remove(mid);
        deep = sub_add("a.b.c.d");
        star = sub_add("a.*.c");
        mid = sub_add("a.b");
        m4 = matches("a.b.c");
        ck_assert_uint_eq(m4->len, 1);
        ck_assert_ptr_eq(m4->pdata[0], star);
        g_clear_pointer(&m1, g_ptr_array_unref);
        m1 = matches("a.b.c.d");
        ck_assert_uint_eq(m1->len, 1);
        ck_assert_ptr_eq(m1->pdata[0], deep);
}
END_TEST

static bool same_matches(GPtrArray *a, GPtrArray *b) {
        return a->len == b->len && memcmp(a->pdata, b->pdata, a->len * sizeof(void *)) == 0;
}

/*
 * The root remembers the last topic's matches: a repeated topic gets the same subscriptions in the
 * same order, and sees every subscription linked or unlinked since, however many match.
 */
START_TEST(test_tree_repeat_topic)
{
        Subscription *all = sub_add(">");
        Subscription *tail = sub_add("a.>");
        Subscription *lit, *extra[20];
        g_autoptr(GPtrArray) m1 = matches("a.b"), m2 = matches("a.b"), m3 = NULL, m4 = NULL, m5 = NULL;

        ck_assert_uint_eq(m1->len, 2);
        ck_assert(same_matches(m1, m2));

        lit = sub_add("a.b");
        m3 = matches("a.b");
        ck_assert_uint_eq(m3->len, 3);
        ck_assert_uint_eq(times_matched(m3, lit), 1);

        sub_remove(tail);
        m4 = matches("a.b");
        ck_assert_uint_eq(m4->len, 2);
        ck_assert_uint_eq(times_matched(m4, tail), 0);
        ck_assert_uint_eq(times_matched(m4, all), 1);

        /* More matches than are remembered: every one, every time. */
        for (size_t i = 0; i < G_N_ELEMENTS(extra); i++)
                extra[i] = sub_add("*.b");
        for (unsigned rep = 0; rep < 2; rep++) {
                g_clear_pointer(&m5, g_ptr_array_unref);
                m5 = matches("a.b");
                ck_assert_uint_eq(m5->len, 2 + G_N_ELEMENTS(extra));
                for (size_t i = 0; i < G_N_ELEMENTS(extra); i++)
                        ck_assert_uint_eq(times_matched(m5, extra[i]), 1);
        }
}
END_TEST

/* A match started from inside another's callback (no sink does this) still finds everything. */
static void collect_and_nest(Subscription *s, void *userdata) {
        GPtrArray *a = userdata;

        if (a->len == 0) {
                g_autoptr(GPtrArray) inner = matches("c.d");

                ck_assert_uint_eq(inner->len, 1);
        }
        g_ptr_array_add(a, s);
}

START_TEST(test_tree_nested_match)
{
        g_autoptr(GPtrArray) a = g_ptr_array_new(), b = g_ptr_array_new(), c = NULL;

        sub_add(">");
        sub_add("a.b");
        topic_tree_match(tree, "a.b", collect_and_nest, a);
        ck_assert_uint_eq(a->len, 2);
        topic_tree_match(tree, "a.b", collect_and_nest, b);
        ck_assert(same_matches(a, b));
        c = matches("a.b");
        ck_assert(same_matches(a, c));
}
END_TEST

START_TEST(test_tree_remove_unlinked)
{
        Subscription s = { .pattern = (char *) "a.b" };

        /* Never linked: nothing happens. */
        topic_tree_remove(&s);
        ck_assert_ptr_null(s.node);
}
END_TEST

START_TEST(test_tree_long_topic)
{
        HubLimits big = limits;
        g_autofree char *topic = NULL;
        g_autofree char *pattern = NULL;
        g_autoptr(GPtrArray) m = NULL;
        GString *t = g_string_new(NULL), *p = g_string_new(NULL);
        Subscription *s, *tail;

        /* More tokens and bytes than topic_tree_match() keeps on its stack. */
        big.max_topic_length = 4096;
        big.max_topic_tokens = 1000;
        for (unsigned i = 0; i < 200; i++) {
                g_string_append_printf(t, "%stok%u", i ? "." : "", i);
                g_string_append_printf(p, "%s%s", i ? "." : "", i % 2 ? "*" : "");
                if (i % 2 == 0)
                        g_string_append_printf(p, "tok%u", i);
        }
        topic = g_string_free(t, FALSE);
        pattern = g_string_free(p, FALSE);
        ck_assert_int_eq(topic_validate(topic, &big), 0);
        ck_assert_int_eq(topic_pattern_validate(pattern, &big), 0);

        s = g_new0(Subscription, 1);
        s->pattern = g_strdup(pattern);
        topic_tree_add(tree, s);
        g_ptr_array_add(subs, s);
        tail = sub_add("tok0.tok1.>");

        m = matches(topic);
        ck_assert_uint_eq(m->len, 2);
        ck_assert_uint_eq(times_matched(m, s), 1);
        ck_assert_uint_eq(times_matched(m, tail), 1);
        ck_assert(topic_pattern_match(pattern, topic));
}
END_TEST

/*
 * Property: for every pattern over {a, b, *} (with or without a trailing
 * ">") and every topic over {a, b} of up to four tokens, the tree, the
 * string matcher and the reference matcher agree.
 */
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

START_TEST(test_tree_agrees_with_match)
{
        static const char *const ptokens[] = { "a", "b", "*" };
        static const char *const ttokens[] = { "a", "b" };
        g_autoptr(GPtrArray) patterns = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) topics = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) bases = g_ptr_array_new_with_free_func(g_free);
        unsigned n_pairs = 0, n_matches = 0;

        gen(patterns, ptokens, 3, 4, "", 0);
        gen(bases, ptokens, 3, 3, "", 0);
        g_ptr_array_add(patterns, g_strdup(">"));
        for (guint i = 0; i < bases->len; i++)
                g_ptr_array_add(patterns, g_strconcat(bases->pdata[i], ".>", NULL));
        gen(topics, ttokens, 2, 4, "", 0);
        ck_assert_uint_eq(patterns->len, 3 + 9 + 27 + 81 + 1 + 3 + 9 + 27);
        ck_assert_uint_eq(topics->len, 2 + 4 + 8 + 16);

        /* Each pattern twice, so that duplicates are kept apart too. */
        for (unsigned rep = 0; rep < 2; rep++)
                for (guint i = 0; i < patterns->len; i++)
                        sub_add(patterns->pdata[i]);

        for (guint t = 0; t < topics->len; t++) {
                const char *topic = topics->pdata[t];
                g_autoptr(GPtrArray) m = matches(topic);
                unsigned expected = 0;

                ck_assert_int_eq(topic_validate(topic, &limits), 0);
                for (guint i = 0; i < subs->len; i++) {
                        Subscription *s = subs->pdata[i];
                        bool want = topic_pattern_match(s->pattern, topic);

                        ck_assert_msg(want == ref_match(s->pattern, topic),
                                      "topic_pattern_match('%s', '%s') = %d", s->pattern, topic,
                                      want);
                        ck_assert_msg(times_matched(m, s) == (want ? 1u : 0u),
                                      "tree: '%s' vs '%s' matched %u times", s->pattern, topic,
                                      times_matched(m, s));
                        expected += want;
                        n_pairs++;
                }
                ck_assert_uint_eq(m->len, expected);
                n_matches += expected;
        }
        ck_assert_uint_eq(n_pairs, 2 * 160 * 30);
        ck_assert_uint_gt(n_matches, 0);

        /* Removing every other subscription keeps the rest matching. */
        for (guint i = subs->len; i-- > 0;)
                if (i % 2)
                        sub_remove(subs->pdata[i]);
        for (guint t = 0; t < topics->len; t++) {
                g_autoptr(GPtrArray) m = matches(topics->pdata[t]);

                for (guint i = 0; i < subs->len; i++) {
                        Subscription *s = subs->pdata[i];

                        ck_assert_uint_eq(times_matched(m, s),
                                          topic_pattern_match(s->pattern, topics->pdata[t]));
                }
        }
}
END_TEST

static Suite *topic_suite(void) {
        Suite *s = suite_create("topic");
        TCase *tc;

        tc = tcase_create("valid");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_valid_topics);
        tcase_add_test(tc, test_valid_patterns);
        suite_add_tcase(s, tc);

        tc = tcase_create("invalid");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_invalid_topics);
        tcase_add_test(tc, test_invalid_patterns);
        suite_add_tcase(s, tc);

        tc = tcase_create("limits");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_length_limit);
        tcase_add_test(tc, test_token_limit);
        tcase_add_test(tc, test_small_limits);
        suite_add_tcase(s, tc);

        tc = tcase_create("pattern-match");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_pattern_match);
        suite_add_tcase(s, tc);

        tc = tcase_create("tree-match");
        tcase_add_checked_fixture(tc, tree_setup, tree_teardown);
        tcase_add_test(tc, test_tree_star_is_one_token);
        tcase_add_test(tc, test_tree_tail_wildcard);
        tcase_add_test(tc, test_tree_overlap_once_each);
        tcase_add_test(tc, test_tree_long_topic);
        suite_add_tcase(s, tc);

        tc = tcase_create("tree-remove");
        tcase_add_checked_fixture(tc, tree_setup, tree_teardown);
        tcase_add_test(tc, test_tree_remove_prunes);
        tcase_add_test(tc, test_tree_remove_unlinked);
        tcase_add_test(tc, test_tree_repeat_topic);
        tcase_add_test(tc, test_tree_nested_match);
        suite_add_tcase(s, tc);

        tc = tcase_create("tree-property");
        tcase_add_checked_fixture(tc, tree_setup, tree_teardown);
        tcase_add_test(tc, test_tree_agrees_with_match);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(topic_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
