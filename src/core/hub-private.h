/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-private.h: the Hub struct, shared by the core's own modules (hub.c,
 * client.c). Transports use hub.h only.
 */
#pragma once

#include "core/hub.h"
#include "core/store.h"
#include "core/topic.h"

typedef struct Retained {
        char *topic;
        GBytes *payload;
        uint64_t seq;
        ClientInfo sender;      /* strings owned: transport is static, name is copied */
} Retained;

struct Hub {
        HubLimits limits;
        uint64_t start_time;
        uint64_t seq;                   /* last sequence number handed out */
        uint64_t next_client_id;
        uint64_t next_listener_id;
        HubCounters counters;
        GQueue clients;                 /* Client*, not owned */
        unsigned n_clients;             /* not internal */
        unsigned n_subscriptions;       /* of clients that are not internal */
        unsigned n_watches;             /* of clients that are not internal */
        TopicNode *topics;
        GHashTable *retained;           /* topic -> Retained*, owned */
        Store *store;
};

void hub_subscription_free(Hub *h, Subscription *s);
void hub_watch_free(Hub *h, Watch *w);
