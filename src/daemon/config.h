/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.h: the daemon's settings. Every setting has a default; the file
 * $XDG_CONFIG_HOME/switchboard/switchboard.conf (GKeyFile) overrides the
 * defaults, and command-line flags override the file.
 *
 *   [limits]                    [dbus]
 *   max-topic-length=256        broadcast=true
 *                               broadcast-patterns=>     (patterns, ';'-separated)
 *   max-topic-tokens=32         max-queued=65536
 *   max-payload=1048576
 *   max-key-length=256          [log]
 *   max-value=1048576           level=info      (debug, info, notice, warning, error)
 *   max-subscriptions=1024
 *   max-watches=1024
 *   max-retained=100000
 *   max-keys=100000
 *   max-clients=1024            [jsonrpc]
 *                               max-frame=4194304
 *                               max-output=16777216
 *                               slow-consumer=drop   (or disconnect)
 *                               fifo=true
 *   max-queues=10000
 *   max-jobs=1000000            [journal]
 *   max-reservations=1024       sync=always   (interval, never)
 *   max-attempts=5              interval-ms=1000
 *                               compact-bytes=67108864
 */
#pragma once

#include <stdbool.h>

#include <glib.h>

#include "core/hub.h"
#include "dbus/dbus-service.h"
#include "journal/journal.h"
#include "jsonrpc/jsonrpc-server.h"

typedef struct Config {
        HubLimits limits;
        DbusConfig dbus;
        JsonrpcConfig jsonrpc;
        JournalConfig journal;
        GLogLevelFlags log_level;
} Config;

/* One table drives the file keys, the flags and their documentation. */
typedef struct ConfigLimit {
        const char *name;               /* key in [limits], and --NAME */
        size_t offset;                  /* in HubLimits */
        size_t size;                    /* sizeof the field */
        const char *description;
} ConfigLimit;

extern const ConfigLimit config_limits[];

void config_init_default(Config *ret);
void config_deinit(Config *c);
int config_load_file(Config *c, const char *path, bool must_exist);
int config_set_limit(Config *c, const char *name, const char *value);
int config_parse_log_level(const char *s, GLogLevelFlags *ret);
char *config_default_path(void);
