/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager.h: wiring of one daemon process: the sd-event loop, the core hub,
 * the session bus and the transports in front of the hub. main.c builds
 * the Config and runs one Manager.
 */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "core/hub.h"
#include "daemon/config.h"
#include "dbus/dbus-service.h"
#include "journal/journal.h"
#include "jsonrpc/jsonrpc-server.h"
#include "shm/shm-hub.h"

/* Builds the settings again, for a reload (SIGHUP): 0 or a negative errno (logged). */
typedef int (*ConfigLoader)(Config *ret);

typedef struct Manager {
        Config config;
        ConfigLoader reload;            /* NULL: SIGHUP is not handled */
        sd_event *event;
        sd_bus *bus;
        Hub *hub;
        DbusService *dbus;
        JsonrpcServer *jsonrpc;
        ShmHub *shm;
        Journal *journal;
        sd_event_source *hub_timer;     /* wakes the hub at hub_next_deadline() */
        sd_event_source *hub_timer_post;
        uint64_t hub_timer_due;         /* what hub_timer is set to; UINT64_MAX: off */
        char *state_dir;                /* $XDG_STATE_HOME/switchboard */
        char *runtime_dir;              /* $XDG_RUNTIME_DIR/switchboard, 0700 */
} Manager;

int runtime_dir_prepare(char **ret_dir);

int manager_new(const Config *config, ConfigLoader reload, Manager **ret);
Manager *manager_free(Manager *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Manager, manager_free)

int manager_start(Manager *m);
int manager_run(Manager *m);
