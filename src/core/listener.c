/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * listener.c: the delivery path that subscriptions and watches share (see
 * listener.h), and the envelope cache of client.h that one publish's
 * deliveries share. A sink that refuses an envelope (-ENOBUFS) opens or
 * widens a gap; the next envelope that listener gets is preceded by one GAP
 * envelope naming the first and last sequence number (or revision) missed.
 * Called by hub.c (delivery) and client.c (flushing gaps).
 */
#include "core/listener.h"

/**
 * envelope_cache_clear() - free what a transport kept in @cache
 */
void envelope_cache_clear(EnvelopeCache *cache) {
        if (cache->owner && cache->free)
                cache->free(cache->data);
        *cache = (EnvelopeCache) {};
}

/**
 * listener_flush_gap() - tell @l's client about its gap, if it has one
 *
 * Return: 0 when there is no gap (any more), -ENOBUFS when the sink is
 * still full.
 */
int listener_flush_gap(Listener *l) {
        Client *c = l->client;
        Envelope gap;
        int r;

        /* Asked before every delivery: the answer is nearly always "no gap", and costs one test. */
        if (G_LIKELY(l->gap_last == 0))
                return 0;
        gap = (Envelope) {
                .kind = ENVELOPE_GAP,
                .sub_id = l->id,
                .gap_first = l->gap_first,
                .gap_last = l->gap_last,
        };
        r = c->sink->deliver(c, &gap);
        if (r < 0)
                return r;
        l->gap_first = l->gap_last = 0;
        return 0;
}

/**
 * listener_deliver() - hand @e to @l's client, keeping track of what it misses
 *
 * Return: 0 when the sink took it; the sink's error (-ENOBUFS) when it did
 * not, and @e's seq has widened the listener's gap. The caller counts both.
 */
int listener_deliver(Listener *l, const Envelope *e) {
        Client *c = l->client;
        Envelope copy = *e;
        int r;

        copy.sub_id = l->id;
        copy.compact = l->compact;
        r = listener_flush_gap(l);
        if (r >= 0)
                r = c->sink->deliver(c, &copy);
        if (r >= 0)
                return 0;

        if (l->gap_first == 0)
                l->gap_first = e->seq;
        l->gap_last = e->seq;
        return r;
}
