/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-topic.c: libFuzzer target for the topic grammar and the
 * subscription tree (core/topic.h). The input is strings, one per line
 * (up to 64; a NUL ends a string early). For each string it checks that
 * the validators agree with each other and with the limits: a valid topic
 * is a valid pattern that matches itself, a valid pattern without
 * wildcards is a valid topic, validity under small limits implies validity
 * under larger ones, and an overlong string is -ENAMETOOLONG. Then every
 * valid pattern is linked into a tree as a bare Subscription, and for every
 * pair of valid pattern and valid topic the tree, topic_pattern_match() and
 * a reference matcher written here from the grammar must agree (each
 * matching subscription reported exactly once) - also after half of the
 * subscriptions left again.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "fuzz-util.h"
#include "core/topic.h"

#define MAX_STRINGS 64

/* The grammar of topic.h, token by token, with no cleverness. */
static bool ref_match(char **p, guint np, guint i, char **t, guint nt, guint j) {
        if (i == np)
                return j == nt;
        if (strcmp(p[i], ">") == 0)
                return j < nt;          /* one or more tokens left; ">" is last */
        if (j == nt)
                return false;
        if (strcmp(p[i], "*") != 0 && strcmp(p[i], t[j]) != 0)
                return false;
        return ref_match(p, np, i + 1, t, nt, j + 1);
}

static bool reference(const char *pattern, const char *topic) {
        g_auto(GStrv) p = g_strsplit(pattern, ".", -1), t = g_strsplit(topic, ".", -1);

        return ref_match(p, g_strv_length(p), 0, t, g_strv_length(t), 0);
}

static void check_validators(const char *s, const HubLimits *small, const HubLimits *large) {
        int tv = topic_validate(s, large), pv = topic_pattern_validate(s, large);
        int tvs = topic_validate(s, small), pvs = topic_pattern_validate(s, small);
        bool wild = strchr(s, '*') || strchr(s, '>');

        fuzz_assert(tv == 0 || tv == -EINVAL || tv == -ENAMETOOLONG);
        fuzz_assert(pv == 0 || pv == -EINVAL || pv == -ENAMETOOLONG);
        fuzz_assert(tvs == 0 || tvs == -EINVAL || tvs == -ENAMETOOLONG);
        fuzz_assert(pvs == 0 || pvs == -EINVAL || pvs == -ENAMETOOLONG);

        if (strlen(s) > small->max_topic_length)
                fuzz_assert(tvs == -ENAMETOOLONG && pvs == -ENAMETOOLONG);
        if (strlen(s) > large->max_topic_length)
                fuzz_assert(tv == -ENAMETOOLONG && pv == -ENAMETOOLONG);

        /* Tighter limits never accept more; the grammar does not depend on them. */
        if (tvs == 0)
                fuzz_assert(tv == 0);
        if (pvs == 0)
                fuzz_assert(pv == 0);
        if (tv == -EINVAL)
                fuzz_assert(tvs == -EINVAL || tvs == -ENAMETOOLONG);

        if (tv == 0) {
                fuzz_assert(!wild);
                fuzz_assert(pv == 0);
                fuzz_assert(topic_pattern_match(s, s));
                fuzz_assert(topic_pattern_match(">", s));
                fuzz_assert(reference(s, s));
        }
        if (pv == 0 && !wild)
                fuzz_assert(tv == 0);
        if (tvs == 0)
                fuzz_assert(pvs == 0);
}

static void count_call(Subscription *s, void *userdata) {
        GHashTable *counts = userdata;

        g_hash_table_insert(counts, s, GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(counts, s)) + 1));
}

static void check_tree(TopicNode *tree, GPtrArray *subs, GPtrArray *topics) {
        for (guint j = 0; j < topics->len; j++) {
                const char *topic = topics->pdata[j];
                g_autoptr(GHashTable) counts = g_hash_table_new(NULL, NULL);
                guint n_expected = 0;

                topic_tree_match(tree, topic, count_call, counts);
                for (guint i = 0; i < subs->len; i++) {
                        Subscription *s = subs->pdata[i];
                        bool m = topic_pattern_match(s->pattern, topic);
                        guint calls = GPOINTER_TO_UINT(g_hash_table_lookup(counts, s));

                        fuzz_assert(m == reference(s->pattern, topic));
                        if (!s->node) {
                                fuzz_assert(calls == 0);        /* removed */
                                continue;
                        }
                        if (calls != (m ? 1u : 0u)) {
                                fprintf(stderr, "tree reported '%s' %u times for topic '%s'; "
                                        "topic_pattern_match() says %s\n", s->pattern, calls, topic,
                                        m ? "match" : "no match");
                                abort();
                        }
                        n_expected += m;
                }
                /* Nothing that is not in the tree any more. */
                fuzz_assert(g_hash_table_size(counts) == n_expected);
        }
}

static void subscription_free(Subscription *s) {
        topic_tree_remove(s);
        g_free(s->pattern);
        g_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GPtrArray) strings = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) topics = g_ptr_array_new();       /* borrowed from strings */
        g_autoptr(GPtrArray) subs = g_ptr_array_new_with_free_func((GDestroyNotify) subscription_free);
        HubLimits small, large;
        TopicNode *tree;
        const char *p = (const char *) data, *end = p + size;

        hub_limits_default(&small);
        small.max_topic_length = 24;
        small.max_topic_tokens = 4;
        /* Beyond topic_tree_match()'s stack buffers (512 bytes, 64 tokens). */
        hub_limits_default(&large);
        large.max_topic_length = 4096;
        large.max_topic_tokens = 1024;

        while (p < end && strings->len < MAX_STRINGS) {
                const char *nl = memchr(p, '\n', end - p) ?: end;

                g_ptr_array_add(strings, g_strndup(p, nl - p));   /* stops at a NUL */
                p = nl + 1;
        }

        tree = topic_tree_new();
        for (guint i = 0; i < strings->len; i++) {
                const char *s = strings->pdata[i];

                check_validators(s, &small, &large);
                if (topic_validate(s, &large) == 0)
                        g_ptr_array_add(topics, (char *) s);
                if (topic_pattern_validate(s, &large) == 0) {
                        Subscription *sub = g_new0(Subscription, 1);

                        sub->pattern = g_strdup(s);
                        topic_tree_add(tree, sub);
                        fuzz_assert(sub->node);
                        g_ptr_array_add(subs, sub);
                }
        }

        check_tree(tree, subs, topics);

        /* Half of them leave; the pruned tree must still answer right. */
        for (guint i = 0; i < subs->len; i += 2)
                topic_tree_remove(subs->pdata[i]);
        check_tree(tree, subs, topics);

        /* The rest leave; freeing asserts that every node is empty. */
        g_ptr_array_set_size(subs, 0);
        tree = topic_tree_free(tree);
        return 0;
}
