/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitor.h: monitors, the listeners of queue and call/serve traffic
 * (monitor.c; the operations are hub.h "Monitors"). Queue and rpc code
 * report each event through monitor_emit(), which costs nothing while no
 * client monitors. Called by queue.c, rpc.c and client.c.
 */
#pragma once

#include <stdint.h>

#include <glib.h>

#include "core/client.h"
#include "core/listener.h"

typedef struct Monitor {
        Listener listener;
        GList link;                     /* in Hub.monitors */
} Monitor;

/* What happened, to whom; @error_name NULL when it is no error. */
typedef struct TrafficEvent {
        const char *event;
        const Client *who;              /* NULL: the hub itself (a timer, an admin op) */
        const char *name;               /* queue or served name */
        uint64_t id;                    /* job or call id */
        const void *payload;
        size_t len;
        unsigned attempts;
        const char *error_name;
        const char *error_message;
} TrafficEvent;

void monitor_emit(Hub *h, const TrafficEvent *t);
void monitor_free(Hub *h, Monitor *m);
