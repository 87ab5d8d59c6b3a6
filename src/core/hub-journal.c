/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-journal.c: the one way into the journal for every module of the core
 * (hub.c, queue.c, retained values through hub.c). It sits below them all,
 * so that journaling a change does not make a module depend on hub.c.
 */
#include "core/hub-private.h"

/**
 * hub_journal() - hand @r to the journal, if one is installed
 *
 * Return: 0, or the journal's -ENOSPC / -EIO: the caller then changes nothing.
 */
int hub_journal(Hub *h, const JournalRecord *r) {
        if (!h->journal.append)
                return 0;
        return h->journal.append(h->journal.userdata, r);
}
