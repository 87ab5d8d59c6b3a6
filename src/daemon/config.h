/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.h: the daemon's settings. Every setting has a default; the file
 * $XDG_CONFIG_HOME/switchboard/switchboard.conf overrides the defaults, and
 * command-line flags override the file. One table, config_keys[], names
 * every key with its group, its type, whether a reload (SIGHUP) applies it,
 * and what a good value looks like; the file parser, the flags, the reload
 * and the messages all read it.
 *
 * The file's grammar (docs/configuration.md):
 *
 *   # a comment line (also ';')
 *   [group]
 *   key = value        # a comment after whitespace ends the value
 *   path = /a/b\#c     # '\#' is a literal '#'; a '#' inside a word is literal
 *
 * Values by type: counts (256), sizes in bytes with an optional unit that
 * is a power of 1,024 (65536, 64k, 16MiB, 1G), durations with an optional
 * unit (500ms, 2s, 1m, 1h; a plain number is the key's own unit), booleans
 * (true/false, yes/no, on/off, 1/0) and words (sync=interval).
 */
#pragma once

#include "util/units.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "core/hub.h"
#include "dbus/dbus-service.h"
#include "journal/journal.h"
#include "jsonrpc/jsonrpc-server.h"
#include "shm/shm-hub.h"

typedef struct Config {
        HubLimits limits;
        DbusConfig dbus;
        JsonrpcConfig jsonrpc;
        JournalConfig journal;
        ShmConfig shm;
        GLogLevelFlags log_level;
} Config;

typedef enum ConfigType {
        CONFIG_COUNT,           /* a whole number from 1 to max */
        CONFIG_SIZE,            /* bytes, with an optional k/M/G unit */
        CONFIG_MSEC,            /* milliseconds, with an optional ms/s/m/h unit */
        CONFIG_BOOL,
        CONFIG_PATTERNS,        /* ';'-separated topic patterns, a NULL-terminated strv */
        CONFIG_SYNC,            /* always, interval, never */
        CONFIG_SLOW_CONSUMER,   /* drop, disconnect: a bool, true for disconnect */
        CONFIG_CONFLATE,        /* auto, always, never: a DbusConflate */
        CONFIG_LOG_LEVEL,       /* debug, info, notice, warning, error */
        CONFIG_STRING,          /* any text (a path); "" is the key's default */
        CONFIG_ADDRESS,         /* host:port with a numeric host ("127.0.0.1:7420", "[::1]:0"), or "" */
} ConfigType;

typedef struct ConfigKey {
        const char *group;              /* [group] in the file */
        const char *name;               /* the key; keys of [limits] are also --NAME */
        ConfigType type;
        size_t offset;                  /* of the field in Config */
        size_t size;                    /* of the field, for numbers */
        uint64_t max;                   /* numbers: the largest value */
        bool live;                      /* a reload applies it; else it needs a restart */
        const char *description;
} ConfigKey;

extern const ConfigKey config_keys[];   /* ends with a zeroed entry */

void config_init_default(Config *ret);
void config_deinit(Config *c);
int config_load_file(Config *c, const char *path, bool must_exist);
int config_load_text(Config *c, const char *path, const char *text);
const ConfigKey *config_key_find(const char *group, const char *name);
int config_set(Config *c, const ConfigKey *k, const char *value);
char *config_key_expected(const ConfigKey *k);
char *config_key_format(const Config *c, const ConfigKey *k);
bool config_key_equal(const Config *a, const Config *b, const ConfigKey *k);
int config_parse_log_level(const char *s, GLogLevelFlags *ret);
char *config_default_path(void);

/* The parsers behind the types, exposed for the unit tests. */
char *config_closest(const char *word, const char *const *candidates);
char *config_value_strip(const char *raw);
