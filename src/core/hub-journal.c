/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-journal.c: the one way into the journal for every module of the core
 * (hub.c, queue.c, retained values through hub.c). It sits below them all,
 * so that journaling a change does not make a module depend on hub.c; and
 * what it counts tells the ops layer which answers wait for the disk.
 */
#include "core/hub-private.h"

/**
 * hub_journal() - hand @r to the journal, if one is installed
 *
 * Return: 0, or the journal's -ENOSPC / -EIO: the caller then changes nothing.
 */
int hub_journal(Hub *h, const JournalRecord *r) {
        int r2;

        if (!h->journal.append)
                return 0;
        r2 = h->journal.append(h->journal.userdata, r);
        if (r2 >= 0)
                h->journaled++;
        return r2;
}

/**
 * hub_journal_mark() - how many records the hub has journaled so far
 *
 * Taken before an operation and given to hub_durable_pending() after it.
 */
uint64_t hub_journal_mark(Hub *h) {
        return h->journaled;
}

/**
 * hub_durable_pending() - whether records journaled since @mark are not
 * durable yet: the answer to what made them must wait (hub_durable_wait())
 */
bool hub_durable_pending(Hub *h, uint64_t mark) {
        return h->journaled != mark && h->journal.pending && h->journal.pending(h->journal.userdata);
}

/**
 * hub_durable_wait() - call @w->durable() once everything journaled so far
 * is durable; at once (from here) when nothing is pending
 */
void hub_durable_wait(Hub *h, HubWaiter *w) {
        if (!h->journal.wait || !h->journal.pending(h->journal.userdata)) {
                w->durable(w);
                return;
        }
        h->journal.wait(h->journal.userdata, w);
}

/**
 * hub_durable_cancel() - forget @w, if it waits (for a client that goes)
 */
void hub_durable_cancel(Hub *h, HubWaiter *w) {
        if (h->journal.cancel)
                h->journal.cancel(h->journal.userdata, w);
}
