/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * journal.h: what the core tells durable storage, and how storage gives it
 * back. The core does no I/O: before it applies a change that must survive
 * a crash (a store change, a retained value, a queue operation), it hands
 * one JournalRecord to the HubJournal the daemon installed; if that fails
 * (-ENOSPC, -EIO), the operation fails and nothing changes in memory. On
 * start, the daemon feeds the records it read back through hub_replay().
 * The core also owns when an answer may go out: an operation that appended
 * a record is answered only once the journal says it is durable
 * (hub_durable_wait()), so that faces never look at the journal.
 *
 * Record fields by type (name, data/len, a, b, c, flag):
 *   SET      key, value, revision
 *   DELETE   key, -, revision
 *   RETAIN   topic, payload (empty: cleared), seq
 *   PUSH     queue, payload, job id, due (0: ready now), attempts, dead
 *   ACK      -, -, job id                      (acked or purged: gone)
 *   RETURN   -, -, job id, due (0: front of the queue now; else ready at due, at the back),
 *            attempts, dead        (nack: due = now or later; expiry, consumer gone: 0)
 *   KICK     -, -, job id                      (dead -> ready)
 *   COUNTERS -, -, last seq, last revision, last job id    (snapshots; and alone, a seq
 *            lease: numbers up to it may have been handed out)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

typedef enum RecordType {
        RECORD_SET = 1,
        RECORD_DELETE = 2,
        RECORD_RETAIN = 3,
        RECORD_PUSH = 4,
        RECORD_ACK = 5,
        RECORD_RETURN = 6,
        RECORD_KICK = 7,
        RECORD_COUNTERS = 8,
        _RECORD_MAX,
} RecordType;

typedef struct JournalRecord {
        RecordType type;
        const char *name;               /* key, topic or queue; NULL when unused */
        const void *data;               /* value or payload */
        size_t len;
        uint64_t a, b, c;
        bool flag;
} JournalRecord;

/*
 * Someone waiting for what was appended to be durable (the answer to an
 * operation that changed durable state). Embedded in a face's own struct.
 */
typedef struct HubWaiter {
        void (*durable)(struct HubWaiter *w);   /* called once, from the event loop */
        GList link;                             /* in the journal's waiters while waiting */
} HubWaiter;

typedef struct HubJournal {
        /* 0 when the record is written (durable by the time any reply is released), or -errno. */
        int (*append)(void *userdata, const JournalRecord *r);
        /* Whether something appended is not durable yet under the sync policy. */
        bool (*pending)(void *userdata);
        /* Call w->durable() once what is pending now is durable. */
        void (*wait)(void *userdata, HubWaiter *w);
        /* Forget @w if it still waits. */
        void (*cancel)(void *userdata, HubWaiter *w);
        void *userdata;
} HubJournal;
