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
 *   -EAGAIN       reserve without waiting: no job is ready
 *   -EHOSTUNREACH call: nobody serves that name
 *   -EEXIST       serve: the client serves that name already
 *   -ENOSPC, -EIO the journal could not record a durable change (nothing changed)
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "core/client.h"
#include "core/journal.h"

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
        unsigned max_queues;            /* queues with jobs or waiting consumers */
        unsigned max_jobs;              /* per queue, every state */
        unsigned max_reservations;      /* jobs reserved by one client at once */
        unsigned max_attempts;          /* reservations before a job is dead-lettered */
        uint64_t max_delay;             /* usec, push and nack delays */
        uint64_t default_visibility;    /* usec, when a reserve gives 0 */
        unsigned max_served;            /* names one client serves */
        unsigned max_calls;             /* calls pending per caller, and per server */
        uint64_t max_call_timeout;      /* usec */
} HubLimits;

void hub_limits_default(HubLimits *ret);

typedef struct HubCounters {
        uint64_t published;             /* messages accepted by hub_publish() */
        uint64_t delivered;             /* envelopes accepted by sinks */
        uint64_t dropped;               /* envelopes refused by full sinks */
        uint64_t store_changes;         /* sets and deletes */
        uint64_t calls;                 /* calls routed to a server */
        uint64_t late_replies;          /* replies to calls that had timed out or whose caller left */
} HubCounters;

typedef struct StoreEntry {
        const char *key;                /* borrowed from the store */
        const void *value;
        size_t value_len;
        uint64_t revision;
        uint64_t modified;              /* usec since the epoch of the last change; 0: unknown */
        const ClientInfo *writer;       /* who made it; NULL: unknown (restarted) or the hub */
} StoreEntry;

Hub *hub_new(const HubLimits *limits, uint64_t start_time_usec);
Hub *hub_free(Hub *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Hub, hub_free)

const HubLimits *hub_get_limits(Hub *h);
void hub_set_limits(Hub *h, const HubLimits *limits);
uint64_t hub_get_start_time(Hub *h);
const HubCounters *hub_get_counters(Hub *h);

/*
 * A face's own counters: @fn adds one member (the face's name -> a
 * dictionary) to the hub.info/GetInfo dictionary, whichever face is asked.
 */
typedef void (*HubInfoFunc)(GVariantBuilder *dict, void *userdata);
void hub_add_info(Hub *h, HubInfoFunc fn, void *userdata);
void hub_remove_info(Hub *h, HubInfoFunc fn, void *userdata);
void hub_info_extend(Hub *h, GVariantBuilder *dict);
unsigned hub_get_n_clients(Hub *h);
unsigned hub_get_n_clients_for(Hub *h, const char *transport);
GHashTable *hub_get_clients_by_transport(Hub *h);      /* new table: transport -> GUINT_TO_POINTER(n) */
unsigned hub_get_n_subscriptions(Hub *h);
unsigned hub_get_n_watches(Hub *h);
unsigned hub_get_n_retained(Hub *h);
unsigned hub_get_n_keys(Hub *h);

/* Topics */
/* The most sequence numbers one hub_report_gap() hands out. */
#define HUB_GAP_MAX 65536u
int hub_report_gap(Hub *h, const char *topic, uint32_t count, uint64_t *ret_first, uint64_t *ret_last);
int hub_publish(Hub *h, Client *sender, const char *topic, const void *payload, size_t len,
                bool retain, uint64_t *ret_seq);
int hub_subscribe(Hub *h, Client *c, const char *pattern, bool with_retained, uint64_t *ret_id);
int hub_topic_validate(Hub *h, const char *topic);
int hub_account_direct(Hub *h, Client *sender, const char *topic, uint64_t n, uint64_t *ret_last_seq);
int hub_replay_retained(Hub *h, Client *c, uint64_t id);
int hub_subscription_set_compact(Hub *h, Client *c, uint64_t id, bool compact);
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

/* Queues */
typedef struct JobInfo {
        uint64_t id;
        const char *queue;              /* borrowed, as payload: valid until the next change */
        const void *payload;
        size_t len;
        unsigned attempts;
} JobInfo;

typedef struct QueueInfo {
        const char *name;
        unsigned ready, reserved, delayed, dead, waiting;
} QueueInfo;

int hub_push(Hub *h, Client *c, const char *queue, const void *payload, size_t len, uint64_t delay_usec,
             uint64_t *ret_id);
int hub_reserve(Hub *h, Client *c, const char *queue, uint64_t timeout_usec, uint64_t visibility_usec,
                JobInfo *ret_job, uint64_t *ret_wait_id);
int hub_reserve_cancel(Hub *h, Client *c, uint64_t wait_id);
int hub_ack(Hub *h, Client *c, uint64_t job_id);
int hub_ack_next(Hub *h, Client *c, uint64_t job_id, const char *queue, uint64_t timeout_usec,
                 uint64_t visibility_usec, JobInfo *ret_job, uint64_t *ret_wait_id);
int hub_nack(Hub *h, Client *c, uint64_t job_id, uint64_t delay_usec);
int hub_touch(Hub *h, Client *c, uint64_t job_id);
int hub_kick(Hub *h, const char *queue, unsigned max, unsigned *ret_count);
int hub_peek(Hub *h, const char *queue, JobInfo *ret_job);
int hub_purge(Hub *h, const char *queue, unsigned *ret_count);
GArray *hub_list_queues(Hub *h);                        /* of QueueInfo, sorted by name */
unsigned hub_get_n_queues(Hub *h);

/* Request/reply */
typedef struct ServiceInfo {
        const char *name;               /* borrowed until the next change */
        unsigned servers;
} ServiceInfo;

int hub_serve(Hub *h, Client *c, const char *name);
int hub_unserve(Hub *h, Client *c, const char *name);
int hub_call(Hub *h, Client *c, const char *name, const void *payload, size_t len, uint64_t timeout_usec,
             uint64_t *ret_call_id);
int hub_reply(Hub *h, Client *c, uint64_t call_id, const void *payload, size_t len);
int hub_reply_error(Hub *h, Client *c, uint64_t call_id, const char *error_name, int error_code,
                    const char *message);
GArray *hub_list_services(Hub *h);                      /* of ServiceInfo, sorted by name */
unsigned hub_get_n_pending_calls(Hub *h);
bool hub_call_pending(Hub *h, uint64_t call_id);

/* Monitors: queue and call/serve traffic as ENVELOPE_TRAFFIC (monitor.c) */
int hub_monitor(Hub *h, Client *c, uint64_t *ret_id);
int hub_unmonitor(Hub *h, Client *c, uint64_t id);
unsigned hub_get_n_monitors(Hub *h);

/* What `switchboard top` shows: clients, topics and served names with their counters. */
typedef struct ClientRow {
        uint64_t id;
        const char *transport;          /* borrowed, as name: valid until the next change */
        uint32_t uid;                   /* UINT32_MAX: not (yet) known */
        uint32_t pid;                   /* 0: not (yet) known */
        const char *name;               /* D-Bus unique name, or "" */
        uint32_t subscriptions, watches, reserved, served;
        uint64_t published, delivered, dropped;
} ClientRow;

typedef struct TopicRow {
        const char *topic;              /* borrowed until the next publish */
        uint64_t messages, bytes, delivered, last_seq;
} TopicRow;

typedef struct ServiceRow {
        const char *name;               /* borrowed until the next change */
        const char *servers;            /* owned by the array: client ids, space-separated */
        uint32_t pending;
        uint64_t calls, errors, timeouts;
        uint64_t latency_avg, latency_max;      /* usec, of the calls answered (reply or error) */
} ServiceRow;

/* Topics with their own counters; messages of further topics are counted apart. */
#define TOPIC_STATS_MAX 4096u

GArray *hub_list_clients(Hub *h);                       /* of ClientRow, by id; internal ones left out */
GArray *hub_list_topics(Hub *h);                        /* of TopicRow, by name */
GArray *hub_list_service_rows(Hub *h);                  /* of ServiceRow, by name */
uint64_t hub_get_untracked_published(Hub *h);

/* Time: the hub reads its clock; the daemon wakes it at hub_next_deadline(). */
void hub_set_clock(Hub *h, uint64_t (*now)(void *userdata), void *userdata);
uint64_t hub_next_deadline(Hub *h);                     /* UINT64_MAX: nothing due */
void hub_run_timers(Hub *h);

/* Durability (journal.h) */
void hub_set_journal(Hub *h, const HubJournal *journal);
uint64_t hub_journal_mark(Hub *h);
bool hub_durable_pending(Hub *h, uint64_t mark);
void hub_durable_wait(Hub *h, HubWaiter *w);
void hub_durable_cancel(Hub *h, HubWaiter *w);
int hub_replay(Hub *h, const JournalRecord *r);
void hub_snapshot(Hub *h, void (*emit)(void *userdata, const JournalRecord *r), void *userdata);

/* The one definition of text (util/text.h), shared by every face. */
#include "util/text.h"
