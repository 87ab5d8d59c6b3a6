/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-private.h: the Hub struct, which aggregates the state of the core's
 * modules (each module's own structs live in its header), and the two hub
 * services those modules share: the clock and the journal. Included by the
 * core's .c files only; no header of the core includes it. Transports use
 * hub.h only.
 */
#pragma once

#include "core/hub.h"
#include "core/monitor.h"
#include "core/queue.h"
#include "core/retained.h"
#include "core/rpc.h"
#include "core/store.h"
#include "core/timer.h"
#include "core/topic.h"

struct Hub {
        HubLimits limits;
        uint64_t start_time;
        uint64_t seq;                   /* last sequence number handed out */
        uint64_t seq_lease;             /* journaled: no number up to it is handed out after a restart */
        uint64_t next_client_id;
        uint64_t next_listener_id;
        HubCounters counters;
        GQueue clients;                 /* Client*, not owned */
        unsigned n_clients;             /* not internal */
        unsigned n_subscriptions;       /* of clients that are not internal */
        unsigned n_watches;             /* of clients that are not internal */
        TopicNode *topics;
        RetainedTable *retained;
        Store *store;
        /* queue.c */
        GHashTable *queues;             /* name -> Queue*, owned */
        GHashTable *jobs;               /* id -> Job*, owned (through their queues) */
        uint64_t next_job_id;           /* last job id handed out */
        TimerSet *timers;               /* jobs', waits' and calls' deadlines */
        uint64_t (*now)(void *userdata);
        void *now_userdata;
        HubJournal journal;             /* append == NULL: nothing is durable */
        uint64_t journaled;             /* records appended, for hub_durable_pending() */
        /* rpc.c */
        GHashTable *services;           /* name -> Service*, owned */
        GHashTable *calls;              /* id -> PendingCall*, owned */
        uint64_t next_call_id;
        GArray *info;                   /* HubInfoSource: the faces' counters */
        /* monitor.c */
        GQueue monitors;                /* Monitor*, owned through their clients */
        uint64_t traffic_seq;           /* last traffic event number handed out */
        /* per-topic counters, for hub_list_topics() */
        GHashTable *topic_stats;        /* name -> TopicStats*, owned; at most TOPIC_STATS_MAX */
        struct TopicStats *last_stats;  /* the last one looked up (entries are never removed) */
        uint64_t untracked_published;   /* messages of topics beyond TOPIC_STATS_MAX */
};

static inline uint64_t hub_now(Hub *h) {
        return h->now(h->now_userdata);
}

int hub_journal(Hub *h, const JournalRecord *r);

void hub_subscription_free(Hub *h, Subscription *s);
void hub_watch_free(Hub *h, Watch *w);
