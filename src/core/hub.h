/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub.h: the core's front door. Every operation of every transport is one
 * call here. The hub does no I/O and never blocks: output goes to clients
 * through their sinks (client.h). Errors are negative errnos:
 *
 *   -EINVAL       bad topic, pattern or key (see topic.h, store.h)
 *   -ENAMETOOLONG topic, pattern or key over its length limit
 *   -EMSGSIZE     payload or value over its size limit
 *   -EDQUOT       a count limit (subscriptions, watches, keys, retained, clients)
 *   -ENOENT       no such key, subscription or watch
 *   -ESTALE       compare-and-set: the revision did not match
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "core/client.h"

typedef struct HubLimits {
        size_t max_topic_length;        /* bytes, topics and patterns */
        unsigned max_topic_tokens;
        size_t max_payload;             /* bytes */
        size_t max_key_length;          /* bytes */
        size_t max_value;               /* bytes */
        unsigned max_subscriptions;     /* per client */
        unsigned max_watches;           /* per client */
        unsigned max_retained;          /* topics with a retained value, hub-wide */
        unsigned max_keys;              /* hub-wide */
        unsigned max_clients;           /* hub-wide, internal listeners excluded */
} HubLimits;

void hub_limits_default(HubLimits *ret);

typedef struct HubCounters {
        uint64_t published;             /* messages accepted by hub_publish() */
        uint64_t delivered;             /* envelopes accepted by sinks */
        uint64_t dropped;               /* envelopes refused by full sinks */
        uint64_t store_changes;         /* sets and deletes */
} HubCounters;

typedef struct StoreEntry {
        const char *key;                /* borrowed from the store */
        const void *value;
        size_t value_len;
        uint64_t revision;
} StoreEntry;

Hub *hub_new(const HubLimits *limits, uint64_t start_time_usec);
Hub *hub_free(Hub *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Hub, hub_free)

const HubLimits *hub_get_limits(Hub *h);
uint64_t hub_get_start_time(Hub *h);
const HubCounters *hub_get_counters(Hub *h);
unsigned hub_get_n_clients(Hub *h);
unsigned hub_get_n_clients_for(Hub *h, const char *transport);
GHashTable *hub_get_clients_by_transport(Hub *h);      /* new table: transport -> GUINT_TO_POINTER(n) */
unsigned hub_get_n_subscriptions(Hub *h);
unsigned hub_get_n_watches(Hub *h);
unsigned hub_get_n_retained(Hub *h);
unsigned hub_get_n_keys(Hub *h);

/* Topics */
int hub_publish(Hub *h, Client *sender, const char *topic, const void *payload, size_t len,
                bool retain, uint64_t *ret_seq);
int hub_subscribe(Hub *h, Client *c, const char *pattern, bool with_retained, uint64_t *ret_id);
int hub_replay_retained(Hub *h, Client *c, uint64_t id);
int hub_unsubscribe(Hub *h, Client *c, uint64_t id);
int hub_clear_retained(Hub *h, const char *pattern, unsigned *ret_count);

/* Store */
int hub_get(Hub *h, const char *key, StoreEntry *ret_entry);
int hub_set(Hub *h, Client *c, const char *key, const void *value, size_t len,
            uint64_t *ret_revision);
int hub_set_if(Hub *h, Client *c, const char *key, const void *value, size_t len,
               uint64_t expected_revision, uint64_t *ret_revision);
int hub_delete(Hub *h, Client *c, const char *key, bool *ret_existed);
int hub_list(Hub *h, const char *prefix, GArray **ret_entries);        /* of StoreEntry */
int hub_watch(Hub *h, Client *c, const char *prefix, uint64_t *ret_id);
int hub_unwatch(Hub *h, Client *c, uint64_t id);

/* Utility shared by every transport that carries payloads as text. */
bool payload_is_text(const void *payload, size_t len);
