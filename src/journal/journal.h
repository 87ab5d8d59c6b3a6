/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * journal.h: the hub's durable state on disk, under $XDG_STATE_HOME/switchboard/:
 *
 *   lock          flock()ed by the one hub that uses this directory
 *   snapshot      every durable record of the state at one point (atomic rename)
 *   snapshot.prev the snapshot before it, kept in case the newer one is damaged
 *   journal       records appended since that snapshot
 *
 * The daemon opens the journal before any transport: it loads the snapshot
 * and the journal into the hub, cuts a torn or corrupt tail, and installs
 * itself as the hub's HubJournal. With fsync=always, a change a client made
 * is acknowledged only once it is on disk: the core (src/ops/) holds the
 * answer in a HubWaiter until the next fdatasync(), which all changes of
 * one loop iteration share (group commit). Transports never include this.
 */
#pragma once

#include <stdbool.h>

#include <glib.h>
#include <systemd/sd-event.h>

#include "core/hub.h"

typedef enum JournalSync {
        JOURNAL_SYNC_ALWAYS,            /* acknowledge after fdatasync, shared per loop iteration */
        JOURNAL_SYNC_INTERVAL,          /* fdatasync every interval_ms */
        JOURNAL_SYNC_NEVER,             /* leave it to the kernel */
} JournalSync;

typedef struct JournalConfig {
        JournalSync sync;
        unsigned interval_ms;
        uint64_t compact_bytes;         /* write a snapshot when the journal grows past this */
} JournalConfig;

typedef struct Journal Journal;

/* What waits for the next fdatasync(): the core's HubWaiter (core/journal.h). */
typedef HubWaiter JournalWaiter;

int journal_open(sd_event *event, Hub *hub, const char *dir, const JournalConfig *config, Journal **ret);
Journal *journal_free(Journal *j);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Journal, journal_free)

void journal_stop(Journal *j);
bool journal_pending(Journal *j);
uint64_t journal_records(Journal *j);
void journal_wait(Journal *j, JournalWaiter *w);
void journal_waiter_cancel(Journal *j, JournalWaiter *w);
int journal_compact(Journal *j);

int journal_sync_parse(const char *s, JournalSync *ret);
