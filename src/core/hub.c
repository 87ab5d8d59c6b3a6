/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub.c: the core's operations (see hub.h). Every transport calls these;
 * nothing here knows which one. Each operation validates its input against
 * the limits before it allocates or changes anything, so a refused request
 * leaves the hub as it was. Delivery is synchronous and in call order, so
 * every subscriber sees each publisher's messages in publish order.
 */
#include <errno.h>
#include <string.h>

#include "core/hub-private.h"

#define KIB 1024u
#define MIB (1024u * KIB)

/**
 * hub_limits_default() - the limits a hub has when nothing is configured
 */
void hub_limits_default(HubLimits *ret) {
        *ret = (HubLimits) {
                .max_topic_length = 256,
                .max_topic_tokens = 32,
                .max_payload = 1 * MIB,
                .max_key_length = 256,
                .max_value = 1 * MIB,
                .max_subscriptions = 1024,
                .max_watches = 1024,
                .max_retained = 100000,
                .max_keys = 100000,
                .max_clients = 1024,
                .max_queues = 10000,
                .max_jobs = 1000000,
                .max_reservations = 1024,
                .max_attempts = 5,
                .max_delay = 30ull * 24 * 3600 * G_USEC_PER_SEC,
                .default_visibility = 30 * G_USEC_PER_SEC,
                .max_served = 256,
                .max_calls = 1024,
                .max_call_timeout = 300 * G_USEC_PER_SEC,
        };
}

static uint64_t clock_realtime(void *userdata) {
        return (uint64_t) g_get_real_time();
}

/* One topic's counters. */
typedef struct TopicStats {
        char *name;
        uint64_t messages, bytes, delivered, last_seq;
} TopicStats;

static void topic_stats_free(void *p) {
        TopicStats *t = p;

        g_free(t->name);
        g_free(t);
}

/**
 * hub_new() - a hub with @limits (copied), started at @start_time_usec
 *
 * Return: the hub; free with hub_free() after every client is deinitialised.
 */
typedef struct HubInfoSource {
        HubInfoFunc fn;
        void *userdata;
} HubInfoSource;

Hub *hub_new(const HubLimits *limits, uint64_t start_time_usec) {
        Hub *h = g_new0(Hub, 1);

        h->limits = *limits;
        h->start_time = start_time_usec;
        g_queue_init(&h->clients);
        h->topics = topic_tree_new();
        h->retained = retained_table_new();
        h->store = store_new();
        h->timers = timer_set_new();
        h->info = g_array_new(FALSE, FALSE, sizeof(HubInfoSource));
        g_queue_init(&h->monitors);
        h->topic_stats = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, topic_stats_free);
        queue_init(h);
        rpc_init(h);
        /* Wall-clock time: delays and due times survive a restart in the journal. */
        h->now = clock_realtime;
        return h;
}

Hub *hub_free(Hub *h) {
        if (!h)
                return NULL;
        /* Clients are embedded in transports' connections: they must be gone. */
        g_assert(g_queue_is_empty(&h->clients));
        topic_tree_free(h->topics);
        retained_table_free(h->retained);
        store_free(h->store);
        queue_deinit(h);
        rpc_deinit(h);
        timer_set_free(h->timers);
        g_array_unref(h->info);
        g_hash_table_destroy(h->topic_stats);
        g_free(h);
        return NULL;
}

void hub_add_info(Hub *h, HubInfoFunc fn, void *userdata) {
        HubInfoSource src = { fn, userdata };

        g_array_append_val(h->info, src);
}

void hub_remove_info(Hub *h, HubInfoFunc fn, void *userdata) {
        for (guint i = 0; i < h->info->len; i++) {
                const HubInfoSource *src = &g_array_index(h->info, HubInfoSource, i);

                if (src->fn == fn && src->userdata == userdata) {
                        g_array_remove_index(h->info, i);
                        return;
                }
        }
}

/**
 * hub_info_extend() - add every face's counters to @dict (a{sv})
 */
void hub_info_extend(Hub *h, GVariantBuilder *dict) {
        for (guint i = 0; i < h->info->len; i++) {
                const HubInfoSource *src = &g_array_index(h->info, HubInfoSource, i);

                src->fn(dict, src->userdata);
        }
}

/**
 * hub_set_limits() - change @h's limits (copied) from now on, for a reload
 *
 * What is in place stays: a client over a lowered limit keeps what it has
 * and is refused more.
 */
void hub_set_limits(Hub *h, const HubLimits *limits) {
        h->limits = *limits;
}

const HubLimits *hub_get_limits(Hub *h) {
        return &h->limits;
}

uint64_t hub_get_start_time(Hub *h) {
        return h->start_time;
}

const HubCounters *hub_get_counters(Hub *h) {
        return &h->counters;
}

unsigned hub_get_n_clients(Hub *h) {
        return h->n_clients;
}

unsigned hub_get_n_clients_for(Hub *h, const char *transport) {
        unsigned n = 0;

        for (GList *l = h->clients.head; l; l = l->next) {
                Client *c = l->data;
                if (!c->internal && strcmp(c->info.transport, transport) == 0)
                        n++;
        }
        return n;
}

/**
 * hub_get_clients_by_transport() - count clients per transport
 *
 * Return: a new table, transport name -> GUINT_TO_POINTER(count); only
 * transports with clients appear.
 */
GHashTable *hub_get_clients_by_transport(Hub *h) {
        GHashTable *t = g_hash_table_new(g_str_hash, g_str_equal);

        for (GList *l = h->clients.head; l; l = l->next) {
                Client *c = l->data;
                unsigned n;

                if (c->internal)
                        continue;
                n = GPOINTER_TO_UINT(g_hash_table_lookup(t, c->info.transport));
                g_hash_table_insert(t, (gpointer) c->info.transport, GUINT_TO_POINTER(n + 1));
        }
        return t;
}

unsigned hub_get_n_subscriptions(Hub *h) {
        return h->n_subscriptions;
}

unsigned hub_get_n_watches(Hub *h) {
        return h->n_watches;
}

unsigned hub_get_n_retained(Hub *h) {
        return retained_table_size(h->retained);
}

unsigned hub_get_n_keys(Hub *h) {
        return store_size(h->store);
}

/* Topics */

/* Deliver @e to @l, counted as delivered or, refused by a full sink, dropped. */
static void deliver_counted(Listener *l, const Envelope *e) {
        HubCounters *counters = &l->client->hub->counters;

        if (listener_deliver(l, e) >= 0) {
                counters->delivered++;
                l->client->n_delivered++;
        } else {
                counters->dropped++;
                l->client->n_dropped++;
        }
}

/* @topic's counters, new if there is room; NULL beyond TOPIC_STATS_MAX topics. */
static TopicStats *topic_stats_get(Hub *h, const char *topic) {
        TopicStats *t;

        /* Publishers send runs of one topic: a compare instead of hashing it again. */
        if (h->last_stats && strcmp(h->last_stats->name, topic) == 0)
                return h->last_stats;
        t = g_hash_table_lookup(h->topic_stats, topic);
        if (!t && g_hash_table_size(h->topic_stats) < TOPIC_STATS_MAX) {
                t = g_new0(TopicStats, 1);
                t->name = g_strdup(topic);
                g_hash_table_insert(h->topic_stats, t->name, t);
        }
        if (t)
                h->last_stats = t;
        return t;
}

static void deliver_to_subscription(Subscription *s, void *userdata) {
        deliver_counted(&s->listener, userdata);
}

/**
 * hub_publish() - deliver a message to every matching subscription
 * @sender: the publishing client, or NULL for the hub itself
 * @retain: also keep it as @topic's retained value (an empty payload clears it)
 * @ret_seq: the message's hub-wide sequence number; may be NULL
 *
 * Return: 0; -EINVAL or -ENAMETOOLONG for a bad topic, -EMSGSIZE for a
 * payload over the limit, -EDQUOT when retaining would exceed max_retained.
 */
/*
 * Sequence numbers never go back for the life of a state directory, not
 * even across a crash: before handing out a number beyond the lease, the
 * hub journals a new lease SEQ_LEASE numbers ahead, and after a restart it
 * starts above the last lease. One record per SEQ_LEASE publishes. A disk
 * that refuses the lease does not stop publishing (plain messages are not
 * durable); the next publish tries again.
 */
#define SEQ_LEASE (UINT64_C(1) << 16)

static void seq_lease(Hub *h) {
        uint64_t lease = h->seq + SEQ_LEASE;

        if (h->seq < h->seq_lease || !h->journal.append)
                return;
        if (hub_journal(h, &(JournalRecord) { .type = RECORD_COUNTERS, .a = lease }) >= 0)
                h->seq_lease = lease;
}

int hub_publish(Hub *h, Client *sender, const char *topic, const void *payload, size_t len,
                bool retain, uint64_t *ret_seq) {
        EnvelopeCache cache = {};
        TopicStats *stats;
        uint64_t delivered;
        Envelope e;
        int r;

        r = topic_validate(topic, &h->limits);
        if (r < 0)
                return r;
        if (len > h->limits.max_payload)
                return -EMSGSIZE;
        if (retain && len > 0 && retained_table_size(h->retained) >= h->limits.max_retained &&
            !retained_lookup(h->retained, topic))
                return -EDQUOT;

        seq_lease(h);
        if (retain) {
                r = hub_journal(h, &(JournalRecord) {
                        .type = RECORD_RETAIN, .name = topic, .data = payload, .len = len, .a = h->seq + 1,
                });
                if (r < 0)
                        return r;
        }

        e = (Envelope) {
                .kind = ENVELOPE_MESSAGE,
                .topic = topic,
                .payload = payload,
                .payload_len = len,
                .seq = ++h->seq,
                .sender = sender ? &sender->info : NULL,
                .cache = &cache,
        };
        h->counters.published++;
        if (sender)
                sender->n_published++;
        if (retain)
                retained_set(h->retained, sender ? &sender->info : NULL, topic, payload, len, e.seq);

        delivered = h->counters.delivered;
        topic_tree_match(h->topics, topic, deliver_to_subscription, &e);
        envelope_cache_clear(&cache);

        stats = topic_stats_get(h, topic);
        if (stats) {
                stats->messages++;
                stats->bytes += len;
                stats->delivered += h->counters.delivered - delivered;
                stats->last_seq = e.seq;
        } else
                h->untracked_published++;

        if (ret_seq)
                *ret_seq = e.seq;
        return 0;
}

static void gap_to_subscription(Subscription *s, void *userdata) {
        const uint64_t *range = userdata;
        Listener *l = &s->listener;

        /* Merged with a gap the subscription has already; told now unless its sink is full. */
        if (l->gap_first == 0)
                l->gap_first = range[0];
        l->gap_last = range[1];
        (void) listener_flush_gap(l);
}

/**
 * hub_report_gap() - tell every subscription matching @topic that @count
 * messages of it were lost before they reached the hub
 *
 * A bridge from another machine (switchboard-bridge) knows when messages it
 * was to publish never arrived. The hub hands out @count fresh sequence
 * numbers (at most HUB_GAP_MAX; 0 counts as 1) and each matching
 * subscription gets a gap notice naming them, exactly as if the hub had
 * dropped them for it.
 * @ret_first, @ret_last: the sequence numbers; may be NULL
 *
 * Return: 0; -EINVAL or -ENAMETOOLONG for a bad topic.
 */
int hub_report_gap(Hub *h, const char *topic, uint32_t count, uint64_t *ret_first, uint64_t *ret_last) {
        uint64_t range[2];
        int r;

        r = topic_validate(topic, &h->limits);
        if (r < 0)
                return r;
        count = CLAMP(count, 1u, HUB_GAP_MAX);
        range[0] = h->seq + 1;
        /* As hub_publish() does, number by number: the lease is journaled before it is passed. */
        for (uint32_t i = 0; i < count; i++) {
                seq_lease(h);
                h->seq++;
        }
        range[1] = h->seq;
        topic_tree_match(h->topics, topic, gap_to_subscription, range);
        if (ret_first)
                *ret_first = range[0];
        if (ret_last)
                *ret_last = range[1];
        return 0;
}

/**
 * hub_topic_validate() - whether @topic is one hub_publish() takes
 *
 * For a face that checks a topic once for many publishes to come (a shared
 * memory ring bound to its topic). Return: 0, -EINVAL or -ENAMETOOLONG.
 */
int hub_topic_validate(Hub *h, const char *topic) {
        return topic_validate(topic, &h->limits);
}

/**
 * hub_account_direct() - count @n messages that @sender published on
 * @topic without the hub delivering them (a direct shared-memory pair)
 * @ret_last_seq: the last of the @n sequence numbers they are given; may be NULL
 *
 * They take @n sequence numbers, so that the hub's numbers stay unique and
 * the topic's counters and last_seq include them; no subscriber sees them.
 * Return: 0.
 */
int hub_account_direct(Hub *h, Client *sender, const char *topic, uint64_t n, uint64_t *ret_last_seq) {
        TopicStats *stats;

        /* As hub_publish() does, number by number: the lease is journaled before it is passed. */
        for (uint64_t i = 0; i < n; i++) {
                seq_lease(h);
                h->seq++;
        }
        h->counters.published += n;
        if (sender)
                sender->n_published += n;
        stats = topic_stats_get(h, topic);
        if (stats) {
                stats->messages += n;
                stats->last_seq = h->seq;
        } else
                h->untracked_published += n;
        if (ret_last_seq)
                *ret_last_seq = h->seq;
        return 0;
}

static gint client_row_cmp(gconstpointer a, gconstpointer b) {
        const ClientRow *x = a, *y = b;

        return x->id < y->id ? -1 : x->id > y->id;
}

/**
 * hub_list_clients() - every client (internal listeners left out) with
 * who it is and its counters
 *
 * Return: a new GArray of ClientRow, by id; its strings borrowed until the
 * next change.
 */
GArray *hub_list_clients(Hub *h) {
        GArray *a = g_array_sized_new(FALSE, TRUE, sizeof(ClientRow), h->n_clients);

        for (GList *l = h->clients.head; l; l = l->next) {
                Client *c = l->data;
                ClientRow row;

                if (c->internal)
                        continue;
                row = (ClientRow) {
                        .id = c->info.id,
                        .transport = c->info.transport,
                        .uid = c->info.uid == (uid_t) -1 ? UINT32_MAX : (uint32_t) c->info.uid,
                        .pid = c->info.pid > 0 ? (uint32_t) c->info.pid : 0,
                        .name = c->info.name ?: c->info.address ?: "",
                        .subscriptions = g_hash_table_size(c->subscriptions),
                        .watches = g_hash_table_size(c->watches),
                        .reserved = g_hash_table_size(c->reserved),
                        .served = g_hash_table_size(c->served),
                        .published = c->n_published,
                        .delivered = c->n_delivered,
                        .dropped = c->n_dropped,
                };
                g_array_append_val(a, row);
        }
        g_array_sort(a, client_row_cmp);
        return a;
}

static gint topic_row_cmp(gconstpointer a, gconstpointer b) {
        return strcmp(((const TopicRow *) a)->topic, ((const TopicRow *) b)->topic);
}

/**
 * hub_list_topics() - every topic published on since the start (up to
 * TOPIC_STATS_MAX of them) with its messages, bytes and deliveries
 *
 * Return: a new GArray of TopicRow, by name; borrowed as hub_list_clients().
 */
GArray *hub_list_topics(Hub *h) {
        GArray *a = g_array_sized_new(FALSE, TRUE, sizeof(TopicRow), g_hash_table_size(h->topic_stats));
        GHashTableIter it;
        gpointer v;

        g_hash_table_iter_init(&it, h->topic_stats);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
                const TopicStats *t = v;
                TopicRow row = {
                        .topic = t->name, .messages = t->messages, .bytes = t->bytes,
                        .delivered = t->delivered, .last_seq = t->last_seq,
                };

                g_array_append_val(a, row);
        }
        g_array_sort(a, topic_row_cmp);
        return a;
}

uint64_t hub_get_untracked_published(Hub *h) {
        return h->untracked_published;
}

static void deliver_retained(void *userdata, const Envelope *e) {
        Subscription *s = userdata;

        deliver_counted(&s->listener, e);
}

static void replay_retained(Hub *h, Subscription *s) {
        retained_deliver(h->retained, s->pattern, deliver_retained, s);
}

/**
 * hub_subscription_free() - unlink @s from the tree and free it
 *
 * The caller has removed it from its client's table already.
 */
void hub_subscription_free(Hub *h, Subscription *s) {
        if (!s)
                return;
        topic_tree_remove(s);
        if (!s->listener.client->internal)
                h->n_subscriptions--;
        g_free(s->pattern);
        g_free(s);
}

/**
 * hub_subscribe() - subscribe @c to @pattern
 * @with_retained: first deliver the retained values of matching topics
 * @ret_id: the subscription id, unique in the hub; may be NULL
 *
 * Return: 0; -EINVAL or -ENAMETOOLONG for a bad pattern, -EDQUOT when @c
 * has max_subscriptions already.
 */
int hub_subscribe(Hub *h, Client *c, const char *pattern, bool with_retained, uint64_t *ret_id) {
        Subscription *s;
        int r;

        r = topic_pattern_validate(pattern, &h->limits);
        if (r < 0)
                return r;
        if (!c->internal && g_hash_table_size(c->subscriptions) >= h->limits.max_subscriptions)
                return -EDQUOT;

        s = g_new0(Subscription, 1);
        s->listener.id = ++h->next_listener_id;
        s->listener.client = c;
        s->pattern = g_strdup(pattern);
        topic_tree_add(h->topics, s);
        g_hash_table_insert(c->subscriptions, &s->listener.id, s);
        if (!c->internal)
                h->n_subscriptions++;

        if (with_retained)
                replay_retained(h, s);

        if (ret_id)
                *ret_id = s->listener.id;
        return 0;
}

/**
 * hub_replay_retained() - deliver the retained values matching @c's
 * subscription @id to it, as hub_subscribe() does with @with_retained
 *
 * For transports that answer the subscribe request before the replay.
 *
 * Return: 0, or -ENOENT when @c has no subscription @id.
 */
int hub_replay_retained(Hub *h, Client *c, uint64_t id) {
        Subscription *s = g_hash_table_lookup(c->subscriptions, &id);

        if (!s)
                return -ENOENT;
        replay_retained(h, s);
        return 0;
}

/**
 * hub_subscription_set_compact() - mark @c's subscription @id's messages
 * compact (Envelope.compact): the transport leaves out what the subscriber
 * said it does not need
 *
 * Return: 0, or -ENOENT when @c has no subscription @id.
 */
int hub_subscription_set_compact(Hub *h, Client *c, uint64_t id, bool compact) {
        Subscription *s = g_hash_table_lookup(c->subscriptions, &id);

        if (!s)
                return -ENOENT;
        s->listener.compact = compact;
        return 0;
}

/**
 * hub_unsubscribe() - end @c's subscription @id
 *
 * Return: 0, or -ENOENT when @c has no subscription @id (another client's
 * id included).
 */
int hub_unsubscribe(Hub *h, Client *c, uint64_t id) {
        Subscription *s = g_hash_table_lookup(c->subscriptions, &id);

        if (!s)
                return -ENOENT;
        g_hash_table_remove(c->subscriptions, &id);
        hub_subscription_free(h, s);
        return 0;
}

static int journal_record(void *userdata, const JournalRecord *r) {
        return hub_journal(userdata, r);
}

/**
 * hub_clear_retained() - drop the retained values of topics matching @pattern
 * @ret_count: how many were dropped; may be NULL
 *
 * Return: 0, or -EINVAL / -ENAMETOOLONG for a bad pattern.
 */
int hub_clear_retained(Hub *h, const char *pattern, unsigned *ret_count) {
        unsigned n;
        int r;

        r = topic_pattern_validate(pattern, &h->limits);
        if (r < 0)
                return r;

        r = retained_clear(h->retained, pattern, h->seq, journal_record, h, &n);
        if (ret_count)
                *ret_count = n;
        return r;
}

/* Store */

/**
 * hub_get() - look @key up
 * @ret_entry: borrowed pointers, valid until the next store change
 *
 * Return: 0; -EINVAL or -ENAMETOOLONG for a bad key, -ENOENT when missing.
 */
int hub_get(Hub *h, const char *key, StoreEntry *ret_entry) {
        int r;

        r = store_key_validate(key, &h->limits);
        if (r < 0)
                return r;
        return store_get(h->store, key, ret_entry);
}


static void deliver_to_watch(Watch *w, void *userdata) {
        deliver_counted(&w->listener, userdata);
}

static void notify_key(Hub *h, Client *c, const char *key, const void *value, size_t len,
                       uint64_t revision, bool deleted) {
        EnvelopeCache cache = {};
        /* The key in topic, its value as the payload, its revision as the seq. */
        Envelope e = { .kind = ENVELOPE_KEY_CHANGED, .topic = key, .seq = revision, .deleted = deleted,
                       .payload = value, .payload_len = len, .sender = c ? &c->info : NULL, .cache = &cache };

        h->counters.store_changes++;
        store_watch_foreach(h->store, key, deliver_to_watch, &e);
        envelope_cache_clear(&cache);
}

static int set_checked(Hub *h, Client *c, const char *key, const void *value, size_t len,
                       bool check, uint64_t expected_revision, uint64_t *ret_revision) {
        StoreEntry cur;
        bool exists;
        uint64_t rev;
        int r;

        r = store_key_validate(key, &h->limits);
        if (r < 0)
                return r;
        if (len > h->limits.max_value)
                return -EMSGSIZE;

        exists = store_get(h->store, key, &cur) >= 0;
        if (check && (exists ? cur.revision : 0) != expected_revision)
                return -ESTALE;
        if (!exists && store_size(h->store) >= h->limits.max_keys)
                return -EDQUOT;
        r = hub_journal(h, &(JournalRecord) {
                .type = RECORD_SET, .name = key, .data = value, .len = len, .a = store_revision(h->store) + 1,
        });
        if (r < 0)
                return r;

        rev = store_put(h->store, key, value, len, c ? &c->info : NULL, hub_now(h));
        notify_key(h, c, key, value, len, rev, false);
        if (ret_revision)
                *ret_revision = rev;
        return 0;
}

/**
 * hub_set() - set @key to a copy of @value
 * @c: the client making the change, or NULL for the hub itself
 * @ret_revision: the revision of this change; may be NULL
 *
 * Return: 0; -EINVAL or -ENAMETOOLONG for a bad key, -EMSGSIZE for a value
 * over the limit, -EDQUOT for a new key beyond max_keys.
 */
int hub_set(Hub *h, Client *c, const char *key, const void *value, size_t len,
            uint64_t *ret_revision) {
        return set_checked(h, c, key, value, len, false, 0, ret_revision);
}

/**
 * hub_set_if() - compare-and-set: hub_set() only if @key's revision is
 * @expected_revision, where 0 means "@key does not exist"
 *
 * Return: as hub_set(), and -ESTALE when the revision does not match
 * (nothing changes then).
 */
int hub_set_if(Hub *h, Client *c, const char *key, const void *value, size_t len,
               uint64_t expected_revision, uint64_t *ret_revision) {
        return set_checked(h, c, key, value, len, true, expected_revision, ret_revision);
}

/**
 * hub_delete() - delete @key
 * @ret_existed: whether it existed (deleting a missing key is no error); may be NULL
 *
 * Return: 0, or -EINVAL / -ENAMETOOLONG for a bad key.
 */
int hub_delete(Hub *h, Client *c, const char *key, bool *ret_existed) {
        uint64_t rev;
        int r;

        r = store_key_validate(key, &h->limits);
        if (r < 0)
                return r;
        if (store_get(h->store, key, &(StoreEntry) {}) >= 0) {
                r = hub_journal(h, &(JournalRecord) {
                        .type = RECORD_DELETE, .name = key, .a = store_revision(h->store) + 1,
                });
                if (r < 0)
                        return r;
        }

        rev = store_remove(h->store, key);
        if (rev > 0)
                notify_key(h, c, key, NULL, 0, rev, true);
        if (ret_existed)
                *ret_existed = rev > 0;
        return 0;
}

/**
 * hub_list() - entries under @prefix ("" for all), sorted by key
 * @ret_entries: a new GArray of StoreEntry, borrowed as with hub_get()
 *
 * Return: 0, or -EINVAL / -ENAMETOOLONG for a bad prefix.
 */
int hub_list(Hub *h, const char *prefix, GArray **ret_entries) {
        int r;

        r = store_prefix_validate(prefix, &h->limits);
        if (r < 0)
                return r;
        *ret_entries = store_list(h->store, prefix);
        return 0;
}

/**
 * hub_watch_free() - unlink @w from the store and free it
 *
 * The caller has removed it from its client's table already.
 */
void hub_watch_free(Hub *h, Watch *w) {
        if (!w)
                return;
        store_watch_unlink(h->store, w);
        if (!w->listener.client->internal)
                h->n_watches--;
        g_free(w->prefix);
        g_free(w);
}

/**
 * hub_watch() - deliver every change of a key under @prefix to @c
 * @ret_id: the watch id, unique in the hub among subscriptions and watches
 *
 * Return: 0; -EINVAL or -ENAMETOOLONG for a bad prefix, -EDQUOT when @c has
 * max_watches already.
 */
int hub_watch(Hub *h, Client *c, const char *prefix, uint64_t *ret_id) {
        Watch *w;
        int r;

        r = store_prefix_validate(prefix, &h->limits);
        if (r < 0)
                return r;
        if (!c->internal && g_hash_table_size(c->watches) >= h->limits.max_watches)
                return -EDQUOT;

        w = g_new0(Watch, 1);
        w->listener.id = ++h->next_listener_id;
        w->listener.client = c;
        w->prefix = g_strdup(prefix);
        store_watch_link(h->store, w);
        g_hash_table_insert(c->watches, &w->listener.id, w);
        if (!c->internal)
                h->n_watches++;

        if (ret_id)
                *ret_id = w->listener.id;
        return 0;
}

/**
 * hub_unwatch() - end @c's watch @id
 *
 * Return: 0, or -ENOENT when @c has no watch @id.
 */
int hub_unwatch(Hub *h, Client *c, uint64_t id) {
        Watch *w = g_hash_table_lookup(c->watches, &id);

        if (!w)
                return -ENOENT;
        g_hash_table_remove(c->watches, &id);
        hub_watch_free(h, w);
        return 0;
}

/* Time */

void hub_set_clock(Hub *h, uint64_t (*now)(void *userdata), void *userdata) {
        h->now = now;
        h->now_userdata = userdata;
}

/**
 * hub_next_deadline() - when hub_run_timers() has something to do next
 *
 * Return: usec on the hub's clock, or UINT64_MAX when nothing is due.
 */
uint64_t hub_next_deadline(Hub *h) {
        return timer_set_next_deadline(h->timers);
}

/**
 * hub_run_timers() - apply everything due by now: delayed jobs become
 * ready, reservations expire (the job returns to the front of its queue,
 * or is dead-lettered), waiting reserves and calls time out
 *
 * A return that the journal refuses is retried a second later.
 */
void hub_run_timers(Hub *h) {
        timer_set_run(h->timers, hub_now(h), h);
}

/* Durability */

void hub_set_journal(Hub *h, const HubJournal *journal) {
        h->journal = journal ? *journal : (HubJournal) {};
}

/**
 * hub_replay() - apply one record read back from the journal or a
 * snapshot, without journaling it again and without telling anyone
 *
 * Return: 0, or -EINVAL for a record that is not valid (a name that breaks
 * the grammar, an unknown type); the caller logs it and goes on.
 */
int hub_replay(Hub *h, const JournalRecord *r) {
        switch (r->type) {
        case RECORD_SET:
                if (!r->name || store_key_validate(r->name, &h->limits) < 0)
                        return -EINVAL;
                store_restore(h->store, r->name, r->data, r->len, r->a);
                return 0;
        case RECORD_DELETE:
                if (!r->name || store_key_validate(r->name, &h->limits) < 0)
                        return -EINVAL;
                store_forget(h->store, r->name, r->a);
                return 0;
        case RECORD_RETAIN:
                if (retained_replay(h->retained, r, &h->limits) < 0)
                        return -EINVAL;
                h->seq = MAX(h->seq, r->a);
                return 0;
        case RECORD_COUNTERS:
                h->seq = MAX(h->seq, r->a);
                store_forget(h->store, "", r->b);       /* "" is never a key: only the revision moves */
                h->next_job_id = MAX(h->next_job_id, r->c);
                return 0;
        case RECORD_PUSH:
        case RECORD_ACK:
        case RECORD_RETURN:
        case RECORD_KICK:
                return queue_replay(h, r);
        default:
                return -EINVAL;
        }
}

static void snapshot_entry(const StoreEntry *e, void *userdata) {
        gpointer *args = userdata;

        ((void (*)(void *, const JournalRecord *)) args[0])(args[1], &(JournalRecord) {
                .type = RECORD_SET, .name = e->key, .data = e->value, .len = e->value_len, .a = e->revision,
        });
}

/**
 * hub_snapshot() - describe the whole durable state as records for @emit:
 * counters first, then keys, retained values and jobs; replaying them
 * into an empty hub rebuilds it
 */
void hub_snapshot(Hub *h, void (*emit)(void *userdata, const JournalRecord *r), void *userdata) {
        gpointer args[2] = { (gpointer) emit, userdata };

        emit(userdata, &(JournalRecord) {
                .type = RECORD_COUNTERS, .a = MAX(h->seq, h->seq_lease), .b = store_revision(h->store),
                .c = h->next_job_id,
        });
        store_foreach(h->store, snapshot_entry, args);
        retained_snapshot(h->retained, emit, userdata);
        queue_snapshot(h, emit, userdata);
}
