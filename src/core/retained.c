/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * retained.c: see retained.h. Values are found by topic in a hash table;
 * matching a pattern scans it, which only subscribing with retained values
 * and clearing by pattern do.
 */
#include <errno.h>

#include "core/retained.h"
#include "core/topic.h"

struct RetainedTable {
        GHashTable *by_topic;           /* topic -> Retained*, owned */
};

static void retained_free(Retained *r) {
        g_free(r->topic);
        g_bytes_unref(r->payload);
        client_info_clear(&r->sender);
        g_free(r);
}

/**
 * retained_table_new() - an empty table; free with retained_table_free()
 */
RetainedTable *retained_table_new(void) {
        RetainedTable *t = g_new0(RetainedTable, 1);

        t->by_topic = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) retained_free);
        return t;
}

/**
 * retained_table_free() - free @t with every value in it; accepts NULL
 *
 * Return: NULL.
 */
RetainedTable *retained_table_free(RetainedTable *t) {
        if (!t)
                return NULL;
        g_hash_table_destroy(t->by_topic);
        g_free(t);
        return NULL;
}

unsigned retained_table_size(RetainedTable *t) {
        return g_hash_table_size(t->by_topic);
}

/**
 * retained_lookup() - @topic's retained value
 *
 * Return: the value, owned by @t until @topic's next change, or NULL.
 */
Retained *retained_lookup(RetainedTable *t, const char *topic) {
        return g_hash_table_lookup(t->by_topic, topic);
}

/**
 * retained_set() - make a copy of @payload @topic's retained value, or
 * clear it when @len is 0
 * @sender: who published it (copied), or NULL for the hub itself
 * @seq: the message's sequence number
 */
void retained_set(RetainedTable *t, const ClientInfo *sender, const char *topic, const void *payload,
                  size_t len, uint64_t seq) {
        Retained *r;

        /* As in MQTT, retaining an empty payload clears the topic's retained value. */
        if (len == 0) {
                g_hash_table_remove(t->by_topic, topic);
                return;
        }

        r = g_hash_table_lookup(t->by_topic, topic);
        if (!r) {
                r = g_new0(Retained, 1);
                r->topic = g_strdup(topic);
                g_hash_table_insert(t->by_topic, r->topic, r);
        } else {
                g_bytes_unref(r->payload);
                client_info_clear(&r->sender);
        }
        r->payload = g_bytes_new(payload, len);
        r->seq = seq;
        client_info_copy(&r->sender, sender);
}

/**
 * retained_clear() - drop the values of topics matching the valid @pattern
 * @seq: the hub's last sequence number, for the records
 * @journal: called with each value's clearing RETAIN record before it goes;
 *           when it fails, that value and the rest stay
 * @ret_count: how many were dropped, written on failure too
 *
 * Return: 0, or what @journal returned.
 */
int retained_clear(RetainedTable *t, const char *pattern, uint64_t seq,
                   int (*journal)(void *userdata, const JournalRecord *r), void *userdata,
                   unsigned *ret_count) {
        GHashTableIter it;
        gpointer v;
        unsigned n = 0;
        int r = 0;

        g_hash_table_iter_init(&it, t->by_topic);
        while (g_hash_table_iter_next(&it, NULL, &v))
                if (topic_pattern_match(pattern, ((Retained *) v)->topic)) {
                        r = journal(userdata, &(JournalRecord) {
                                .type = RECORD_RETAIN, .name = ((Retained *) v)->topic, .a = seq,
                        });
                        if (r < 0)
                                break;
                        g_hash_table_iter_remove(&it);
                        n++;
                }

        *ret_count = n;
        return r < 0 ? r : 0;
}

static gint retained_cmp_seq(gconstpointer a, gconstpointer b) {
        const Retained *x = *(Retained **) a, *y = *(Retained **) b;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/**
 * retained_deliver() - call @deliver with one retained MESSAGE envelope per
 * topic matching the valid @pattern, in publish order
 *
 * @deliver must not change @t.
 */
void retained_deliver(RetainedTable *t, const char *pattern,
                      void (*deliver)(void *userdata, const Envelope *e), void *userdata) {
        g_autoptr(GPtrArray) matches = g_ptr_array_new();
        GHashTableIter it;
        gpointer v;

        g_hash_table_iter_init(&it, t->by_topic);
        while (g_hash_table_iter_next(&it, NULL, &v))
                if (topic_pattern_match(pattern, ((Retained *) v)->topic))
                        g_ptr_array_add(matches, v);

        /* In publish order, as a live subscriber would have seen them. */
        g_ptr_array_sort(matches, retained_cmp_seq);
        for (guint i = 0; i < matches->len; i++) {
                Retained *r = matches->pdata[i];
                gsize len;
                Envelope e = {
                        .kind = ENVELOPE_MESSAGE,
                        .topic = r->topic,
                        .seq = r->seq,
                        .retained = true,
                        .sender = &r->sender,
                };

                e.payload = g_bytes_get_data(r->payload, &len);
                e.payload_len = len;
                deliver(userdata, &e);
        }
}

/**
 * retained_replay() - apply a RETAIN record read back from the journal
 *
 * The value's sender is the hub itself: senders are not journaled.
 *
 * Return: 0, or -EINVAL when the record's topic breaks the grammar.
 */
int retained_replay(RetainedTable *t, const JournalRecord *r, const HubLimits *limits) {
        g_assert(r->type == RECORD_RETAIN);

        if (!r->name || topic_validate(r->name, limits) < 0)
                return -EINVAL;
        retained_set(t, NULL, r->name, r->data, r->len, r->a);
        return 0;
}

/**
 * retained_snapshot() - emit one RETAIN record per retained value
 */
void retained_snapshot(RetainedTable *t, void (*emit)(void *userdata, const JournalRecord *r),
                       void *userdata) {
        GHashTableIter it;
        gpointer v;

        g_hash_table_iter_init(&it, t->by_topic);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
                Retained *r = v;
                gsize len;
                const void *data = g_bytes_get_data(r->payload, &len);

                emit(userdata, &(JournalRecord) {
                        .type = RECORD_RETAIN, .name = r->topic, .data = data, .len = len, .a = r->seq,
                });
        }
}
