/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * queue.h: the work queues' own structs and what the rest of the core asks
 * of them (queue.c; the operations are hub.h "Queues"). Every job is in
 * Hub.jobs and owned through its queue; a queue exists while it holds jobs
 * or waiting consumers. Called by hub.c (life cycle, journal replay and
 * snapshot) and client.c (a client leaving).
 */
#pragma once

#include <stdint.h>

#include <glib.h>

#include "core/client.h"
#include "core/journal.h"
#include "core/timer.h"

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

void queue_init(Hub *h);
void queue_deinit(Hub *h);
void queue_client_release(Hub *h, Client *c);
int queue_replay(Hub *h, const JournalRecord *r);
void queue_snapshot(Hub *h, void (*emit)(void *userdata, const JournalRecord *r), void *userdata);
