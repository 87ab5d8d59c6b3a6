/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * topic.c: topic grammar and the subscription tree (see topic.h). The tree
 * is hub.c's; the grammar also checks queue and service names (queue.c,
 * rpc.c) and matches retained values (retained.c). Invariant: every
 * Subscription in the tree has a validated pattern, and every node other
 * than the root holds at least one subscription or one child.
 *
 * Publishers send runs of one topic, so the root remembers the last topic
 * matched and the subscriptions it matched, in the walk's order: the next
 * match of that topic calls them without walking. Linking or unlinking any
 * subscription forgets it (topic_tree_match()'s callers never do either
 * while it runs).
 */
#include <errno.h>
#include <string.h>

#include "core/topic.h"

/* The subscriptions of the last topic matched (see above); topics and matches beyond the arrays are not kept. */
#define MATCH_CACHE_TOPIC 128
#define MATCH_CACHE_SUBS 16

typedef struct MatchCache {
        bool valid;
        bool walking;           /* a match is under way: a nested one neither uses nor fills the cache */
        char topic[MATCH_CACHE_TOPIC];
        unsigned n_subs;
        Subscription *subs[MATCH_CACHE_SUBS];
} MatchCache;

struct TopicNode {
        TopicNode *parent;
        char *token;            /* key in parent->children; "*" for parent->star */
        GHashTable *children;   /* token -> TopicNode*, owned; NULL while empty */
        TopicNode *star;        /* child for "*", owned */
        GQueue subs;            /* Subscription* whose pattern ends here */
        GQueue tail;            /* Subscription* whose pattern ends here with ".>" */
        MatchCache *cache;      /* the root's; NULL in every other node */
};

static bool token_char(char ch) {
        return g_ascii_isalnum(ch) || ch == '_' || ch == '-';
}

/*
 * One walk for topics and patterns: wildcards are allowed only in
 * patterns, "*" as a whole token and ">" as the whole last token.
 */
static int validate(const char *s, const HubLimits *limits, bool pattern) {
        size_t len, tokens = 1;
        const char *tok;

        if (!s || !*s)
                return -EINVAL;
        len = strlen(s);
        if (len > limits->max_topic_length)
                return -ENAMETOOLONG;

        tok = s;
        for (const char *p = s;; p++) {
                if (*p != '.' && *p != '\0') {
                        if (!token_char(*p) && !(pattern && (*p == '*' || *p == '>')))
                                return -EINVAL;
                        continue;
                }

                size_t n = p - tok;
                if (n == 0)
                        return -EINVAL;         /* empty token: "a..b", ".a", "a." */
                if (pattern) {
                        bool star = memchr(tok, '*', n), gt = memchr(tok, '>', n);
                        if ((star || gt) && n != 1)
                                return -EINVAL; /* "a*", "**", ">>" */
                        if (gt && *p != '\0')
                                return -EINVAL; /* ">" not last */
                }
                if (*p == '\0')
                        break;
                tokens++;
                tok = p + 1;
        }

        if (tokens > limits->max_topic_tokens)
                return -ENAMETOOLONG;
        return 0;
}

/**
 * topic_validate() - check @topic against the grammar and @limits
 *
 * Return: 0; -EINVAL when it breaks the grammar (wildcards included),
 * -ENAMETOOLONG when it has too many bytes or tokens.
 */
int topic_validate(const char *topic, const HubLimits *limits) {
        return validate(topic, limits, false);
}

/**
 * topic_pattern_validate() - check @pattern against the grammar and @limits
 *
 * Return: 0, -EINVAL or -ENAMETOOLONG as topic_validate().
 */
int topic_pattern_validate(const char *pattern, const HubLimits *limits) {
        return validate(pattern, limits, true);
}

/**
 * topic_pattern_match() - whether the valid @pattern matches the valid @topic
 *
 * Used where no tree is at hand (retained values, clearing by pattern).
 */
bool topic_pattern_match(const char *pattern, const char *topic) {
        const char *p = pattern, *t = topic;

        for (;;) {
                const char *pe = strchrnul(p, '.'), *te = strchrnul(t, '.');

                if (pe - p == 1 && *p == '>')
                        return true;    /* t has at least this one token left */
                if (!(pe - p == 1 && *p == '*') &&
                    (pe - p != te - t || memcmp(p, t, pe - p) != 0))
                        return false;

                if (*pe == '\0' || *te == '\0')
                        return *pe == '\0' && *te == '\0';
                p = pe + 1;
                t = te + 1;
        }
}

static TopicNode *node_new(TopicNode *parent, const char *token) {
        TopicNode *n = g_new0(TopicNode, 1);

        n->parent = parent;
        n->token = g_strdup(token);
        g_queue_init(&n->subs);
        g_queue_init(&n->tail);
        return n;
}

static void node_free(TopicNode *n) {
        if (!n)
                return;
        /* Subscriptions are owned by their clients, which unlink them first. */
        g_assert(g_queue_is_empty(&n->subs) && g_queue_is_empty(&n->tail));
        g_clear_pointer(&n->children, g_hash_table_destroy);
        node_free(n->star);
        g_free(n->cache);
        g_free(n->token);
        g_free(n);
}

TopicNode *topic_tree_new(void) {
        TopicNode *root = node_new(NULL, "");

        root->cache = g_new0(MatchCache, 1);
        return root;
}

/* The tree of @n changes: its root forgets the last match. */
static void cache_forget(TopicNode *n) {
        while (n->parent)
                n = n->parent;
        n->cache->valid = false;
}

TopicNode *topic_tree_free(TopicNode *root) {
        node_free(root);
        return NULL;
}

static TopicNode *node_child(TopicNode *n, const char *token, bool create) {
        TopicNode *c;

        if (strcmp(token, "*") == 0) {
                if (!n->star && create)
                        n->star = node_new(n, token);
                return n->star;
        }

        c = n->children ? g_hash_table_lookup(n->children, token) : NULL;
        if (!c && create) {
                if (!n->children)
                        n->children = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                                            (GDestroyNotify) node_free);
                c = node_new(n, token);
                g_hash_table_insert(n->children, c->token, c);
        }
        return c;
}

/**
 * topic_tree_add() - link @s, whose pattern is valid, into the tree at @root
 *
 * Cannot fail; undone by topic_tree_remove().
 */
void topic_tree_add(TopicNode *root, Subscription *s) {
        g_auto(GStrv) tokens = g_strsplit(s->pattern, ".", -1);
        guint n = g_strv_length(tokens);
        TopicNode *node = root;

        s->tail_wildcard = strcmp(tokens[n - 1], ">") == 0;
        for (guint i = 0; i < n - (s->tail_wildcard ? 1 : 0); i++)
                node = node_child(node, tokens[i], true);

        s->node = node;
        s->tree_link.data = s;
        g_queue_push_tail_link(s->tail_wildcard ? &node->tail : &node->subs, &s->tree_link);
        root->cache->valid = false;
}

static bool node_empty(TopicNode *n) {
        return g_queue_is_empty(&n->subs) && g_queue_is_empty(&n->tail) && !n->star &&
               (!n->children || g_hash_table_size(n->children) == 0);
}

/**
 * topic_tree_remove() - unlink @s and prune the nodes it leaves empty
 *
 * Accepts a subscription that was never linked.
 */
void topic_tree_remove(Subscription *s) {
        TopicNode *n = s->node;

        if (!n)
                return;
        cache_forget(n);
        g_queue_unlink(s->tail_wildcard ? &n->tail : &n->subs, &s->tree_link);
        s->node = NULL;

        while (n->parent && node_empty(n)) {
                TopicNode *parent = n->parent;

                if (parent->star == n) {
                        parent->star = NULL;
                        node_free(n);
                } else
                        g_hash_table_remove(parent->children, n->token);
                n = parent;
        }
}

/* A walk: what to call for each match, and the root's cache to fill on the way. */
typedef struct Walk {
        TopicMatchFunc func;
        void *userdata;
        MatchCache *cache;      /* NULL: none to fill */
        bool overflow;          /* more matches than the cache holds */
} Walk;

static void queue_call(GQueue *q, Walk *w) {
        for (GList *l = q->head; l; l = l->next) {
                if (w->cache && w->cache->n_subs < MATCH_CACHE_SUBS)
                        w->cache->subs[w->cache->n_subs++] = l->data;
                else
                        w->overflow = true;
                w->func(l->data, w->userdata);
        }
}

static void match(TopicNode *n, char **tokens, guint i, guint n_tokens, Walk *w) {
        TopicNode *c;

        if (i == n_tokens) {
                queue_call(&n->subs, w);
                return;
        }

        /* "x.>" sits on the node for "x" and needs one or more tokens left: there are. */
        queue_call(&n->tail, w);

        if (n->children && (c = g_hash_table_lookup(n->children, tokens[i])))
                match(c, tokens, i + 1, n_tokens, w);
        if (n->star)
                match(n->star, tokens, i + 1, n_tokens, w);
}

/**
 * topic_tree_match() - call @func for every subscription matching the valid @topic
 *
 * @func must not add or remove subscriptions.
 */
void topic_tree_match(TopicNode *root, const char *topic, TopicMatchFunc func, void *userdata) {
        MatchCache *cache = root->cache->walking ? NULL : root->cache;
        Walk w = { .func = func, .userdata = userdata, .cache = cache };
        char buf[512], *copy;
        char *tokens_buf[64], **tokens;
        size_t len;
        guint n_tokens = 1, i = 0;
        g_autofree char *heap_copy = NULL;
        g_autofree char **heap_tokens = NULL;

        if (cache && cache->valid && strcmp(cache->topic, topic) == 0) {
                cache->walking = true;
                for (unsigned k = 0; k < cache->n_subs; k++)
                        func(cache->subs[k], userdata);
                cache->walking = false;
                return;
        }
        len = strlen(topic);

        /* Split in place into a writable copy: the stack serves typical topics. */
        if (len < sizeof buf)
                copy = memcpy(buf, topic, len + 1);
        else
                copy = heap_copy = g_strdup(topic);

        for (const char *p = topic; *p; p++)
                if (*p == '.')
                        n_tokens++;
        tokens = n_tokens <= G_N_ELEMENTS(tokens_buf) ? tokens_buf :
                 (heap_tokens = g_new(char *, n_tokens));

        tokens[i++] = copy;
        for (char *p = copy; *p; p++)
                if (*p == '.') {
                        *p = '\0';
                        tokens[i++] = p + 1;
                }

        if (!cache) {
                match(root, tokens, 0, n_tokens, &w);
                return;
        }
        /* Filled on the way, kept if it all fitted. */
        cache->valid = false;
        cache->n_subs = 0;
        cache->walking = true;
        match(root, tokens, 0, n_tokens, &w);
        cache->walking = false;
        if (!w.overflow && len < sizeof cache->topic) {
                memcpy(cache->topic, topic, len + 1);
                cache->valid = true;
        }
}
