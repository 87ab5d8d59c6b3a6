/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store.c: see store.h. Keys live in a GTree so that listing by prefix is a
 * lower-bound search and an in-order walk. Watches are a list scanned per
 * change: their number is bounded per client, and the scan is a prefix
 * compare each.
 */
#include <errno.h>
#include <string.h>

#include "core/store.h"

typedef struct StoreItem {
        char *key;
        GBytes *value;
        uint64_t revision;
        uint64_t modified;      /* usec on the hub's clock; 0: unknown (replayed) */
        ClientInfo writer;      /* transport NULL: unknown; strings owned (client_info_copy()) */
} StoreItem;

struct Store {
        GTree *items;           /* key -> StoreItem*, owned */
        uint64_t revision;      /* last revision handed out */
        GQueue watches;         /* Watch*, owned by their clients */
};

static void item_set_writer(StoreItem *i, const ClientInfo *writer, uint64_t modified) {
        client_info_clear(&i->writer);
        client_info_copy(&i->writer, writer);
        i->modified = modified;
}

static void store_item_free(StoreItem *i) {
        item_set_writer(i, NULL, 0);
        g_free(i->key);
        g_bytes_unref(i->value);
        g_free(i);
}

static int prefix_validate(const char *s, const HubLimits *limits, bool allow_empty) {
        if (!s)
                return -EINVAL;
        if (!*s)
                return allow_empty ? 0 : -EINVAL;
        if (strlen(s) > limits->max_key_length)
                return -ENAMETOOLONG;
        /* Text as every face carries it (payload_is_text()): a key D-Bus cannot list would poison List. */
        if (!payload_is_text(s, strlen(s)))
                return -EINVAL;
        /* Control characters are Unicode's Cc: C0, DEL and C1 (U+0080..U+009F). */
        for (const char *p = s; *p; p = g_utf8_next_char(p))
                if (g_unichar_iscntrl(g_utf8_get_char(p)))
                        return -EINVAL;
        return 0;
}

/**
 * store_key_validate() - check @key against the key grammar and @limits
 *
 * Return: 0; -EINVAL (empty, not UTF-8, control characters) or -ENAMETOOLONG.
 */
int store_key_validate(const char *key, const HubLimits *limits) {
        return prefix_validate(key, limits, false);
}

/**
 * store_prefix_validate() - like store_key_validate(), but "" (everything) is valid
 */
int store_prefix_validate(const char *prefix, const HubLimits *limits) {
        return prefix_validate(prefix, limits, true);
}

static int key_cmp(gconstpointer a, gconstpointer b, gpointer userdata) {
        return strcmp(a, b);
}

Store *store_new(void) {
        Store *s = g_new0(Store, 1);

        s->items = g_tree_new_full(key_cmp, NULL, NULL, (GDestroyNotify) store_item_free);
        g_queue_init(&s->watches);
        return s;
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        /* Watches belong to clients; the hub frees clients before the store. */
        g_assert(g_queue_is_empty(&s->watches));
        g_tree_destroy(s->items);
        g_free(s);
        return NULL;
}

unsigned store_size(Store *s) {
        return g_tree_nnodes(s->items);
}

uint64_t store_revision(Store *s) {
        return s->revision;
}

static void entry_from_item(const StoreItem *i, StoreEntry *ret) {
        gsize len;

        ret->key = i->key;
        ret->value = g_bytes_get_data(i->value, &len);
        ret->value_len = len;
        ret->revision = i->revision;
        ret->modified = i->modified;
        ret->writer = i->writer.transport ? &i->writer : NULL;
}

/**
 * store_get() - look @key up
 * @ret_entry: on success, borrowed pointers valid until the next change
 *
 * Return: 0 or -ENOENT.
 */
int store_get(Store *s, const char *key, StoreEntry *ret_entry) {
        StoreItem *i = g_tree_lookup(s->items, key);

        if (!i)
                return -ENOENT;
        entry_from_item(i, ret_entry);
        return 0;
}

/**
 * store_put() - set @key, valid and within limits, to a copy of @value
 * @writer: who changed it (copied), or NULL for the hub itself
 * @modified: when, on the hub's clock
 *
 * Return: the revision of this change.
 */
static StoreItem *item_put(Store *s, const char *key, const void *value, size_t len) {
        StoreItem *i = g_tree_lookup(s->items, key);

        if (!i) {
                i = g_new0(StoreItem, 1);
                i->key = g_strdup(key);
                g_tree_insert(s->items, i->key, i);
        } else
                g_bytes_unref(i->value);

        i->value = g_bytes_new(value, len);
        return i;
}

uint64_t store_put(Store *s, const char *key, const void *value, size_t len, const ClientInfo *writer,
                   uint64_t modified) {
        StoreItem *i = item_put(s, key, value, len);

        item_set_writer(i, writer, modified);
        i->revision = ++s->revision;
        return i->revision;
}

/**
 * store_remove() - delete @key
 *
 * Return: the revision of this change, or 0 when there was no such key
 * (nothing changes then, not even the revision).
 */
uint64_t store_remove(Store *s, const char *key) {
        if (!g_tree_remove(s->items, key))
                return 0;
        return ++s->revision;
}

/**
 * store_restore() - put @key back as the journal recorded it, at @revision
 *
 * For replaying the journal: the store's revision becomes at least @revision.
 */
void store_restore(Store *s, const char *key, const void *value, size_t len, uint64_t revision) {
        StoreItem *i = item_put(s, key, value, len);

        /* Who wrote it and when is not journaled: unknown until the next change. */
        item_set_writer(i, NULL, 0);
        i->revision = revision;
        s->revision = MAX(s->revision, revision);
}

/**
 * store_forget() - replay a deletion of @key at @revision
 */
void store_forget(Store *s, const char *key, uint64_t revision) {
        g_tree_remove(s->items, key);
        s->revision = MAX(s->revision, revision);
}

static gboolean foreach_item(gpointer key, gpointer value, gpointer userdata) {
        gpointer *args = userdata;
        StoreEntry e;

        entry_from_item(value, &e);
        ((void (*)(const StoreEntry *, void *)) args[0])(&e, args[1]);
        return FALSE;
}

/**
 * store_foreach() - call @func for every entry, in key order
 */
void store_foreach(Store *s, void (*func)(const StoreEntry *e, void *userdata), void *userdata) {
        gpointer args[2] = { (gpointer) func, userdata };

        g_tree_foreach(s->items, foreach_item, args);
}

/**
 * store_list() - every entry whose key starts with @prefix, sorted by key
 *
 * Return: a new GArray of StoreEntry, borrowed as with store_get().
 */
GArray *store_list(Store *s, const char *prefix) {
        GArray *a = g_array_new(FALSE, FALSE, sizeof(StoreEntry));
        size_t plen = strlen(prefix);

        for (GTreeNode *n = g_tree_lower_bound(s->items, prefix); n; n = g_tree_node_next(n)) {
                const StoreItem *i = g_tree_node_value(n);
                StoreEntry e;

                if (strncmp(i->key, prefix, plen) != 0)
                        break;          /* sorted: past the last key with this prefix */
                entry_from_item(i, &e);
                g_array_append_val(a, e);
        }
        return a;
}

void store_watch_link(Store *s, Watch *w) {
        w->store_link.data = w;
        g_queue_push_tail_link(&s->watches, &w->store_link);
}

void store_watch_unlink(Store *s, Watch *w) {
        if (w->store_link.data)
                g_queue_unlink(&s->watches, &w->store_link);
        w->store_link.data = NULL;
}

void store_watch_foreach(Store *s, const char *key, void (*func)(Watch *w, void *userdata),
                         void *userdata) {
        for (GList *l = s->watches.head; l; l = l->next) {
                Watch *w = l->data;

                if (g_str_has_prefix(key, w->prefix))
                        func(w, userdata);
        }
}
