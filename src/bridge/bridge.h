/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bridge.h: one switchboard-bridge: a libswitchboard client of the hub and
 * a libnats connection, joined on one sd-event loop (see bridge.c).
 */
#pragma once

#include <stdint.h>

#include <systemd/sd-event.h>

#include "bridge/bridge-config.h"

typedef struct Bridge Bridge;

/* What the bridge counted; logged at exit, published in its status notices. */
typedef struct BridgeCounters {
        uint64_t exported;              /* hub messages published to NATS */
        uint64_t export_failed;         /* ... that libnats refused (reconnect buffer full) */
        uint64_t imported;              /* NATS messages published into the hub */
        uint64_t import_lost;           /* messages the topic sequence says never arrived */
        uint64_t import_overflow;       /* NATS messages dropped: max-pending reached */
        uint64_t import_invalid;        /* subjects that are not hub topics */
        uint64_t duplicates;            /* NATS messages seen before, dropped */
        uint64_t loops;                 /* messages not sent back where they came from */
        uint64_t calls_out;             /* hub calls sent to NATS responders */
        uint64_t calls_in;              /* NATS requests sent to hub servers */
        uint64_t hub_gaps;              /* messages the hub says the bridge missed */
        uint64_t disconnects;
} BridgeCounters;

/* Call nats_Open() first; bridge_free() ends libnats. */
int bridge_new(BridgeConfig *config, sd_event *event, Bridge **ret);
Bridge *bridge_free(Bridge *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Bridge, bridge_free)
const BridgeCounters *bridge_counters(const Bridge *b);
