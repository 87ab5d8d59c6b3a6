/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dbus-service.h: the org.switchboard.Hub1 object on the session bus, a
 * thin adapter over the core (hub.h). The daemon creates it once the bus is
 * attached to the event loop and requests the bus name last, when every
 * transport is ready.
 */
#pragma once

#include <stdbool.h>

#include <systemd/sd-bus.h>

#include "core/hub.h"
#include "ops/ops-table.h"

#define SB_BUS_NAME  "org.switchboard.Hub1"
#define SB_PATH      "/org/switchboard/Hub1"
#define SB_INTERFACE OPS_INTERFACE

/* When broadcast Message signals of a topic are conflated (see dbus-service.c). */
typedef enum DbusConflate {
        DBUS_CONFLATE_NEVER,            /* every message is a signal, or a drop when the bus is full */
        DBUS_CONFLATE_AUTO,             /* ALWAYS, but while a match rule can receive them: only while the bus is behind */
        DBUS_CONFLATE_ALWAYS,           /* at most one signal per topic per broadcast_interval_ms */
} DbusConflate;

typedef struct DbusConfig {
        bool broadcast;                 /* emit broadcast Message/KeyChanged signals */
        char **broadcast_patterns;      /* topics broadcast as Message; NULL: every topic (">") */
        unsigned max_queued;            /* messages waiting for the bus before we drop */
        DbusConflate broadcast_conflate;
        uint32_t broadcast_interval_ms;
} DbusConfig;

/* What the broadcast costs and sheds, under "dbus" in hub.info / GetInfo. */
typedef struct DbusStats {
        uint64_t broadcast_signals;     /* broadcast signals sent */
        uint64_t broadcast_conflated;   /* Messages replaced by a later one of their topic (see DbusConflate) */
        uint64_t broadcast_dropped;     /* broadcasts the bus had no room for */
        uint64_t broadcast_listeners;   /* match rules that can receive them, when the bus last said (AUTO) */
} DbusStats;

typedef struct DbusService DbusService;

int dbus_service_new(sd_bus *bus, Hub *hub, const DbusConfig *config, DbusService **ret);
void dbus_service_set_max_queued(DbusService *s, unsigned max_queued);
DbusService *dbus_service_free(DbusService *s);
void dbus_service_flush(DbusService *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DbusService, dbus_service_free)
