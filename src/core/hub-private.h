/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-private.h: the Hub struct, shared by the core's own modules (hub.c,
 * client.c). Transports use hub.h only.
 */
#pragma once

#include "core/hub.h"
#include "core/retained.h"
#include "core/store.h"
#include "core/timer.h"
#include "core/topic.h"

typedef struct Queue Queue;

typedef enum JobState {
        JOB_READY,
        JOB_DELAYED,
        JOB_RESERVED,
        JOB_DEAD,
} JobState;

typedef struct Job {
        uint64_t id;
        Queue *queue;
        GBytes *payload;
        unsigned attempts;              /* times reserved */
        JobState state;
        uint64_t visibility;            /* RESERVED: how long a reservation (or touch) lasts */
        Client *consumer;               /* RESERVED */
        GList link;                     /* in Queue.ready or Queue.dead */
        Timer timer;                    /* in Hub.timers while DELAYED or RESERVED */
} Job;

typedef struct ReserveWait {
        uint64_t id;
        Queue *queue;
        Client *client;
        uint64_t visibility;
        GList link;                     /* in Queue.waiters */
        Timer timer;                    /* in Hub.timers, when it has a timeout */
} ReserveWait;

struct Queue {
        char *name;
        GQueue ready;                   /* Job*, in the order they are handed out */
        GQueue dead;                    /* Job*, dead-lettered */
        unsigned n_jobs, n_delayed, n_reserved;
        GQueue waiters;                 /* ReserveWait*, first come, first served */
};

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
        RetainedTable *retained;
        Store *store;
        GHashTable *queues;             /* name -> Queue*, owned */
        GHashTable *jobs;               /* id -> Job*, owned (through their queues) */
        uint64_t next_job_id;           /* last job id handed out */
        TimerSet *timers;               /* jobs', waits' and calls' deadlines */
        uint64_t (*now)(void *userdata);
        void *now_userdata;
        HubJournal journal;             /* append == NULL: nothing is durable */
        GHashTable *services;           /* name -> Service*, owned */
        GHashTable *calls;              /* id -> PendingCall*, owned */
        uint64_t next_call_id;
};

typedef struct Service Service;
typedef struct PendingCall PendingCall;

void rpc_client_release(Hub *h, Client *c);
void rpc_init(Hub *h);
void rpc_deinit(Hub *h);

static inline uint64_t hub_now(Hub *h) {
        return h->now(h->now_userdata);
}

int hub_journal(Hub *h, const JournalRecord *r);
void queue_client_release(Hub *h, Client *c);
void queue_free_all(Hub *h);
void queue_free(Queue *q);
int queue_replay(Hub *h, const JournalRecord *r);
void queue_snapshot(Hub *h, void (*emit)(void *userdata, const JournalRecord *r), void *userdata);

void hub_subscription_free(Hub *h, Subscription *s);
void hub_watch_free(Hub *h, Watch *w);
