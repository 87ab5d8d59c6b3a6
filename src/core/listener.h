/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * listener.h: what subscriptions and watches share. A Listener belongs to
 * one client (linked in its table) and remembers the range of sequence
 * numbers (or revisions) its client's sink refused, so the client is told
 * about the gap, first and last, as soon as its sink takes output again.
 * Only the core includes this.
 */
#pragma once

#include <stdint.h>

#include "core/client.h"

typedef struct Listener {
        uint64_t id;
        Client *client;
        uint64_t gap_first, gap_last;   /* 0, 0: nothing missed */
        bool compact;                   /* its envelopes say so (Envelope.compact) */
} Listener;

int listener_deliver(Listener *l, const Envelope *e);
int listener_flush_gap(Listener *l);
