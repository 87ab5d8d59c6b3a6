/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitor.c: monitors (see monitor.h). A monitor is a listener like a
 * subscription, so its client's sink, the drop counters and the gap notices
 * work for traffic as they do for messages: each traffic event gets the
 * next number of the hub's traffic sequence (its own, apart from message
 * sequence numbers), and a monitor that misses events is told their first
 * and last number. Traffic is reported after the change it describes.
 */
#include <errno.h>

#include "core/hub-private.h"
#include "core/monitor.h"

/**
 * monitor_emit() - hand @t to every monitor, as one ENVELOPE_TRAFFIC
 */
void monitor_emit(Hub *h, const TrafficEvent *t) {
        Envelope e;

        if (g_queue_is_empty(&h->monitors))
                return;
        e = (Envelope) {
                .kind = ENVELOPE_TRAFFIC,
                .event = t->event,
                .topic = t->name,
                .object_id = t->id,
                .seq = ++h->traffic_seq,
                .payload = t->payload,
                .payload_len = t->len,
                .attempts = t->attempts,
                .error_name = t->error_name ?: "",
                .error_message = t->error_message ?: "",
                .sender = t->who ? &t->who->info : NULL,
        };
        /* A sink only enqueues: no monitor comes or goes while this runs. */
        for (GList *l = h->monitors.head; l; l = l->next) {
                Monitor *m = l->data;

                if (listener_deliver(&m->listener, &e) >= 0) {
                        h->counters.delivered++;
                        m->listener.client->n_delivered++;
                } else {
                        h->counters.dropped++;
                        m->listener.client->n_dropped++;
                }
        }
}

/**
 * monitor_free() - unlink @m and free it; its client's table dropped it already
 */
void monitor_free(Hub *h, Monitor *m) {
        g_queue_unlink(&h->monitors, &m->link);
        g_free(m);
}

/**
 * hub_monitor() - report queue and call/serve traffic to @c from now on
 * @ret_id: the monitor's id, unique among subscriptions, watches and monitors
 *
 * Return: 0, or -EDQUOT when @c has max_subscriptions monitors already.
 */
int hub_monitor(Hub *h, Client *c, uint64_t *ret_id) {
        Monitor *m;

        if (!c->internal && g_hash_table_size(c->monitors) >= h->limits.max_subscriptions)
                return -EDQUOT;
        m = g_new0(Monitor, 1);
        m->listener.id = ++h->next_listener_id;
        m->listener.client = c;
        m->link.data = m;
        g_queue_push_tail_link(&h->monitors, &m->link);
        g_hash_table_insert(c->monitors, &m->listener.id, m);
        if (ret_id)
                *ret_id = m->listener.id;
        return 0;
}

/**
 * hub_unmonitor() - end @c's monitor @id
 *
 * Return: 0, or -ENOENT when @c has no monitor @id.
 */
int hub_unmonitor(Hub *h, Client *c, uint64_t id) {
        Monitor *m = g_hash_table_lookup(c->monitors, &id);

        if (!m)
                return -ENOENT;
        g_hash_table_remove(c->monitors, &id);
        monitor_free(h, m);
        return 0;
}

unsigned hub_get_n_monitors(Hub *h) {
        return g_queue_get_length(&h->monitors);
}
