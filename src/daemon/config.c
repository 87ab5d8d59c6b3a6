/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.c: see config.h. Errors are logged once here, with the file and
 * key, and returned as -EINVAL; a missing default file is no error.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "util/log.h"

#define LIMIT(n, field, desc) \
        { n, offsetof(HubLimits, field), sizeof(((HubLimits *) NULL)->field), desc }

const ConfigLimit config_limits[] = {
        LIMIT("max-topic-length", max_topic_length, "bytes in a topic or pattern"),
        LIMIT("max-topic-tokens", max_topic_tokens, "tokens in a topic or pattern"),
        LIMIT("max-payload", max_payload, "bytes in a message payload"),
        LIMIT("max-key-length", max_key_length, "bytes in a store key"),
        LIMIT("max-value", max_value, "bytes in a store value"),
        LIMIT("max-subscriptions", max_subscriptions, "subscriptions per client"),
        LIMIT("max-watches", max_watches, "watches per client"),
        LIMIT("max-retained", max_retained, "topics holding a retained value"),
        LIMIT("max-keys", max_keys, "keys in the store"),
        LIMIT("max-clients", max_clients, "connected clients"),
        LIMIT("max-queues", max_queues, "queues holding jobs or waiting consumers"),
        LIMIT("max-jobs", max_jobs, "jobs in one queue"),
        LIMIT("max-reservations", max_reservations, "jobs one client holds reserved at once"),
        LIMIT("max-attempts", max_attempts, "reservations of a job before it is dead-lettered"),
        {}
};

void config_init_default(Config *ret) {
        *ret = (Config) {
                .dbus = {
                        .broadcast = true,
                        .max_queued = 65536,
                },
                .jsonrpc = {
                        .max_frame = 4 * 1024 * 1024,
                        .max_output = 16 * 1024 * 1024,
                        .fifo = true,
                },
                .journal = {
                        .sync = JOURNAL_SYNC_ALWAYS,
                        .interval_ms = 1000,
                        .compact_bytes = 64 * 1024 * 1024,
                },
                .log_level = G_LOG_LEVEL_INFO,
        };
        hub_limits_default(&ret->limits);
}

/**
 * config_deinit() - free what config_load_file() allocated in @c
 */
void config_deinit(Config *c) {
        g_clear_pointer(&c->dbus.broadcast_patterns, g_strfreev);
}

static int parse_count(const char *value, uint64_t max, uint64_t *ret) {
        char *end;
        guint64 v;

        if (!value || !g_ascii_isdigit(*value))
                return -EINVAL;
        errno = 0;
        v = g_ascii_strtoull(value, &end, 10);
        if (errno != 0 || *end != '\0' || v == 0 || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

/**
 * config_set_limit() - set the limit called @name from the text @value
 *
 * Return: 0; -ENOENT for an unknown name, -EINVAL or -ERANGE for a value that
 * is not a whole number from 1 to the field's maximum.
 */
int config_set_limit(Config *c, const char *name, const char *value) {
        for (const ConfigLimit *l = config_limits; l->name; l++) {
                uint64_t v;
                int r;

                if (strcmp(l->name, name) != 0)
                        continue;
                r = parse_count(value, l->size == sizeof(unsigned) ? UINT_MAX : SIZE_MAX, &v);
                if (r < 0)
                        return r;
                if (l->size == sizeof(unsigned))
                        *(unsigned *) ((char *) &c->limits + l->offset) = (unsigned) v;
                else
                        *(size_t *) ((char *) &c->limits + l->offset) = (size_t) v;
                return 0;
        }
        return -ENOENT;
}

int config_parse_log_level(const char *s, GLogLevelFlags *ret) {
        static const struct {
                const char *name;
                GLogLevelFlags level;
        } levels[] = {
                { "debug", G_LOG_LEVEL_DEBUG },
                { "info", G_LOG_LEVEL_INFO },
                { "notice", G_LOG_LEVEL_MESSAGE },
                { "warning", G_LOG_LEVEL_WARNING },
                { "error", G_LOG_LEVEL_CRITICAL },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(levels); i++)
                if (strcmp(s, levels[i].name) == 0) {
                        *ret = levels[i].level;
                        return 0;
                }
        return -EINVAL;
}

/**
 * config_default_path() - $XDG_CONFIG_HOME/switchboard/switchboard.conf
 */
char *config_default_path(void) {
        return g_build_filename(g_get_user_config_dir(), "switchboard", "switchboard.conf", NULL);
}

/* [group] key as text, stripped; NULL when absent. */
static char *get_text(GKeyFile *kf, const char *group, const char *key) {
        char *value = g_key_file_get_value(kf, group, key, NULL);

        return value ? g_strstrip(value) : NULL;
}

/* [group] key, a boolean, into @field when present. */
static int get_bool(GKeyFile *kf, const char *path, const char *group, const char *key, bool *field) {
        g_autoptr(GError) error = NULL;
        gboolean b;

        if (!g_key_file_has_key(kf, group, key, NULL))
                return 0;
        b = g_key_file_get_boolean(kf, group, key, &error);
        if (error) {
                log_error("%s: [%s] %s: %s", path, group, key, error->message);
                return -EINVAL;
        }
        *field = b;
        return 0;
}

/* [group] key, a whole number from 1 to @max, into @ret; 0 when absent, 1 when read. */
static int get_count(GKeyFile *kf, const char *path, const char *group, const char *key, uint64_t max,
                     uint64_t *ret) {
        g_autofree char *value = get_text(kf, group, key);

        if (!value)
                return 0;
        if (parse_count(value, max, ret) < 0) {
                log_error("%s: [%s] %s=%s is not a whole number from 1 to %" PRIu64 ".", path, group, key, value,
                          max);
                return -EINVAL;
        }
        return 1;
}

static int load_limits(Config *c, GKeyFile *kf, const char *path) {
        g_auto(GStrv) keys = g_key_file_get_keys(kf, "limits", NULL, NULL);

        for (char **k = keys; k && *k; k++) {
                g_autofree char *value = get_text(kf, "limits", *k);
                int r = config_set_limit(c, *k, value);

                if (r == -ENOENT) {
                        log_warning("%s: unknown key '%s' in [limits], ignoring.", path, *k);
                        continue;
                }
                if (r < 0) {
                        log_error("%s: [limits] %s=%s is not a whole number greater than 0.", path, *k, value);
                        return -EINVAL;
                }
        }
        return 0;
}

static int load_dbus(Config *c, GKeyFile *kf, const char *path) {
        uint64_t v;
        int r;

        r = get_bool(kf, path, "dbus", "broadcast", &c->dbus.broadcast);
        if (r < 0)
                return r;
        if (g_key_file_has_key(kf, "dbus", "broadcast-patterns", NULL)) {
                g_strfreev(c->dbus.broadcast_patterns);
                c->dbus.broadcast_patterns = g_key_file_get_string_list(kf, "dbus", "broadcast-patterns", NULL, NULL);
                for (char **p = c->dbus.broadcast_patterns; p && *p; p++)
                        g_strstrip(*p);
        }
        r = get_count(kf, path, "dbus", "max-queued", UINT_MAX, &v);
        if (r > 0)
                c->dbus.max_queued = (unsigned) v;
        return MIN(r, 0);
}

static int load_jsonrpc(Config *c, GKeyFile *kf, const char *path) {
        g_autofree char *slow = get_text(kf, "jsonrpc", "slow-consumer");
        uint64_t v;
        int r;

        if ((r = get_count(kf, path, "jsonrpc", "max-frame", UINT32_MAX, &v)) < 0)
                return r;
        if (r > 0)
                c->jsonrpc.max_frame = (size_t) v;
        if ((r = get_count(kf, path, "jsonrpc", "max-output", UINT32_MAX, &v)) < 0)
                return r;
        if (r > 0)
                c->jsonrpc.max_output = (size_t) v;
        if (slow && strcmp(slow, "drop") != 0 && strcmp(slow, "disconnect") != 0) {
                log_error("%s: [jsonrpc] slow-consumer=%s: use drop or disconnect.", path, slow);
                return -EINVAL;
        }
        if (slow)
                c->jsonrpc.disconnect_slow = strcmp(slow, "disconnect") == 0;
        return get_bool(kf, path, "jsonrpc", "fifo", &c->jsonrpc.fifo);
}

static int load_journal_and_log(Config *c, GKeyFile *kf, const char *path) {
        g_autofree char *sync = get_text(kf, "journal", "sync");
        g_autofree char *level = get_text(kf, "log", "level");
        uint64_t v;
        int r;

        if (sync && journal_sync_parse(sync, &c->journal.sync) < 0) {
                log_error("%s: [journal] sync=%s: use always, interval or never.", path, sync);
                return -EINVAL;
        }
        if ((r = get_count(kf, path, "journal", "interval-ms", 3600000, &v)) < 0)
                return r;
        if (r > 0)
                c->journal.interval_ms = (unsigned) v;
        if ((r = get_count(kf, path, "journal", "compact-bytes", UINT64_MAX, &v)) < 0)
                return r;
        if (r > 0)
                c->journal.compact_bytes = v;
        if (level && config_parse_log_level(level, &c->log_level) < 0) {
                log_error("%s: [log] level=%s: use debug, info, notice, warning or error.", path, level);
                return -EINVAL;
        }
        return 0;
}

/**
 * config_load_file() - apply the settings in @path to @c
 * @must_exist: a missing file is an error (a path given with --config)
 *
 * Return: 0, -ENOENT for a missing file that must exist, -EINVAL for a file
 * that does not parse or holds a bad value (logged with its key).
 */
int config_load_file(Config *c, const char *path, bool must_exist) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) error = NULL;
        int r;

        if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error)) {
                if (g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT) && !must_exist)
                        return 0;
                log_error("Failed to read configuration '%s': %s", path, error->message);
                return g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? -ENOENT : -EINVAL;
        }
        if ((r = load_limits(c, kf, path)) < 0 || (r = load_dbus(c, kf, path)) < 0 ||
            (r = load_jsonrpc(c, kf, path)) < 0 || (r = load_journal_and_log(c, kf, path)) < 0)
                return r;
        return 0;
}
