/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.c: see config.h. The file is read line by line here rather than by
 * GKeyFile, which keeps "256   # bytes" as the value and knows no line
 * numbers. Errors are logged once here, naming the file, the line, the key,
 * the value and what was expected, and returned as -EINVAL; unknown groups
 * and keys are warnings that name the closest known one; a missing default
 * file is no error.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "util/inet.h"
#include "shm/ring.h"
#include "util/log.h"

#define FIELD_MAX(size) ((size) == sizeof(uint32_t) ? (uint64_t) UINT32_MAX : UINT64_MAX)
#define KEY(g, n, t, field, m, l, desc) \
        { g, n, t, offsetof(Config, field), sizeof(((Config *) NULL)->field), \
          MIN((uint64_t) (m), FIELD_MAX(sizeof(((Config *) NULL)->field))), l, desc }

const ConfigKey config_keys[] = {
        KEY("limits", "max-topic-length", CONFIG_SIZE, limits.max_topic_length, UINT64_MAX, true,
            "bytes in a topic or pattern"),
        KEY("limits", "max-topic-tokens", CONFIG_COUNT, limits.max_topic_tokens, UINT64_MAX, true,
            "tokens in a topic or pattern"),
        KEY("limits", "max-payload", CONFIG_SIZE, limits.max_payload, UINT64_MAX, true,
            "bytes in a message payload"),
        KEY("limits", "max-key-length", CONFIG_SIZE, limits.max_key_length, UINT64_MAX, true,
            "bytes in a store key"),
        KEY("limits", "max-value", CONFIG_SIZE, limits.max_value, UINT64_MAX, true, "bytes in a store value"),
        KEY("limits", "max-subscriptions", CONFIG_COUNT, limits.max_subscriptions, UINT64_MAX, true,
            "subscriptions per client"),
        KEY("limits", "max-watches", CONFIG_COUNT, limits.max_watches, UINT64_MAX, true, "watches per client"),
        KEY("limits", "max-retained", CONFIG_COUNT, limits.max_retained, UINT64_MAX, true,
            "topics holding a retained value"),
        KEY("limits", "max-keys", CONFIG_COUNT, limits.max_keys, UINT64_MAX, true, "keys in the store"),
        KEY("limits", "max-clients", CONFIG_COUNT, limits.max_clients, UINT64_MAX, true, "connected clients"),
        KEY("limits", "max-queues", CONFIG_COUNT, limits.max_queues, UINT64_MAX, true,
            "queues holding jobs or waiting consumers"),
        KEY("limits", "max-jobs", CONFIG_COUNT, limits.max_jobs, UINT64_MAX, true, "jobs in one queue"),
        KEY("limits", "max-reservations", CONFIG_COUNT, limits.max_reservations, UINT64_MAX, true,
            "jobs one client holds reserved at once"),
        KEY("limits", "max-attempts", CONFIG_COUNT, limits.max_attempts, UINT64_MAX, true,
            "reservations of a job before it is dead-lettered"),
        KEY("dbus", "broadcast", CONFIG_BOOL, dbus.broadcast, 0, false,
            "emit broadcast Message and KeyChanged signals"),
        KEY("dbus", "broadcast-patterns", CONFIG_PATTERNS, dbus.broadcast_patterns, 0, false,
            "which topics are broadcast"),
        KEY("dbus", "max-queued", CONFIG_COUNT, dbus.max_queued, UINT64_MAX, true,
            "messages waiting for the bus before output is dropped"),
        KEY("dbus", "broadcast-conflate", CONFIG_CONFLATE, dbus.broadcast_conflate, 0, false,
            "when a topic's broadcast Messages are conflated: auto (always, but with a listener only while the bus "
            "is behind), always, never"),
        KEY("dbus", "broadcast-interval", CONFIG_MSEC, dbus.broadcast_interval_ms, 60000, false,
            "the window in which a topic's broadcast Messages are conflated"),
        KEY("jsonrpc", "max-frame", CONFIG_SIZE, jsonrpc.max_frame, UINT32_MAX, true,
            "bytes in one frame or FIFO line"),
        KEY("jsonrpc", "max-output", CONFIG_SIZE, jsonrpc.max_output, UINT32_MAX, true,
            "bytes queued towards one client"),
        KEY("jsonrpc", "slow-consumer", CONFIG_SLOW_CONSUMER, jsonrpc.disconnect_slow, 0, true,
            "what happens to a client over max-output"),
        KEY("jsonrpc", "fifo", CONFIG_BOOL, jsonrpc.fifo, 0, false, "create the FIFO"),
        KEY("tcp", "listen", CONFIG_ADDRESS, jsonrpc.tcp.listen, 0, false,
            "address and port of the TCP listener; empty: no TCP"),
        KEY("tcp", "allow-remote", CONFIG_BOOL, jsonrpc.tcp.allow_remote, 0, false,
            "allow a listen address other than loopback"),
        KEY("tcp", "token-file", CONFIG_STRING, jsonrpc.tcp.token_file, 0, false,
            "the file holding the token TCP clients must present"),
        KEY("tcp", "max-unauthenticated", CONFIG_COUNT, jsonrpc.tcp.max_unauthenticated, 100000, true,
            "TCP connections waiting to authenticate at once"),
        KEY("tcp", "auth-timeout", CONFIG_MSEC, jsonrpc.tcp.auth_timeout_ms, 600000, true,
            "time a TCP connection has to authenticate"),
        KEY("tcp", "max-auth-bytes", CONFIG_SIZE, jsonrpc.tcp.max_auth_bytes, 65536, true,
            "bytes a TCP connection may send before it authenticates"),
        KEY("journal", "sync", CONFIG_SYNC, journal.sync, 0, false, "when the journal is flushed to disk"),
        KEY("journal", "interval-ms", CONFIG_MSEC, journal.interval_ms, 3600000, false,
            "time between flushes with sync=interval"),
        KEY("journal", "compact-bytes", CONFIG_SIZE, journal.compact_bytes, UINT64_MAX, false,
            "journal size that triggers a snapshot"),
        KEY("shm", "min-size", CONFIG_SIZE, shm.min_size, RING_MAX_SIZE, true, "the smallest ring (a power of two)"),
        KEY("shm", "max-size", CONFIG_SIZE, shm.max_size, RING_MAX_SIZE, true, "the largest ring (a power of two)"),
        KEY("shm", "default-size", CONFIG_SIZE, shm.default_size, RING_MAX_SIZE, true,
            "a ring's size when the request gives none"),
        KEY("shm", "max-rings", CONFIG_COUNT, shm.max_rings, 65536, true, "rings of one connection"),
        KEY("shm", "max-total", CONFIG_SIZE, shm.max_total, UINT64_MAX, true, "bytes of all rings together"),
        KEY("shm", "busy-poll", CONFIG_BOOL, shm.busy_poll, 0, true,
            "the hub polls a publish ring that ran dry for 20 ms before it sleeps"),
        KEY("log", "level", CONFIG_LOG_LEVEL, log_level, 0, true, "the least important messages logged"),
        {}
};

void config_init_default(Config *ret) {
        *ret = (Config) {
                .dbus = {
                        .broadcast = true,
                        .max_queued = 65536,
                        .broadcast_conflate = DBUS_CONFLATE_AUTO,
                        .broadcast_interval_ms = 10,
                },
                .jsonrpc = {
                        .max_frame = 4 * 1024 * 1024,
                        /* Four of the largest messages; hundreds of stuck clients hold a GiB, not five. */
                        .max_output = 4 * 1024 * 1024,
                        .fifo = true,
                        .tcp = {
                                .max_unauthenticated = 64,
                                .auth_timeout_ms = 5000,
                                .max_auth_bytes = 4096,
                        },
                },
                .journal = {
                        .sync = JOURNAL_SYNC_ALWAYS,
                        .interval_ms = 1000,
                        .compact_bytes = 64 * 1024 * 1024,
                },
                .log_level = G_LOG_LEVEL_INFO,
        };
        hub_limits_default(&ret->limits);
        shm_config_default(&ret->shm);
}

/**
 * config_deinit() - free what config_load_file() and config_set() allocated in @c
 */
void config_deinit(Config *c) {
        g_clear_pointer(&c->dbus.broadcast_patterns, g_strfreev);
        g_clear_pointer(&c->jsonrpc.tcp.listen, g_free);
        g_clear_pointer(&c->jsonrpc.tcp.token_file, g_free);
}

static const struct {
        const char *name;
        GLogLevelFlags level;
} log_levels[] = {
        { "debug", G_LOG_LEVEL_DEBUG },
        { "info", G_LOG_LEVEL_INFO },
        { "notice", G_LOG_LEVEL_MESSAGE },
        { "warning", G_LOG_LEVEL_WARNING },
        { "error", G_LOG_LEVEL_CRITICAL },
};

int config_parse_log_level(const char *s, GLogLevelFlags *ret) {
        for (size_t i = 0; i < G_N_ELEMENTS(log_levels); i++)
                if (strcmp(s, log_levels[i].name) == 0) {
                        *ret = log_levels[i].level;
                        return 0;
                }
        return -EINVAL;
}

static const char *const conflate_names[] = {
        [DBUS_CONFLATE_NEVER] = "never",
        [DBUS_CONFLATE_AUTO] = "auto",
        [DBUS_CONFLATE_ALWAYS] = "always",
};

/* auto, always, never; true and false (what the key took before auto) mean always and never. */
static int config_parse_conflate(const char *s, DbusConflate *ret) {
        bool b;

        for (size_t i = 0; i < G_N_ELEMENTS(conflate_names); i++)
                if (strcmp(s, conflate_names[i]) == 0) {
                        *ret = (DbusConflate) i;
                        return 0;
                }
        if (config_parse_bool(s, &b) < 0)
                return -EINVAL;
        *ret = b ? DBUS_CONFLATE_ALWAYS : DBUS_CONFLATE_NEVER;
        return 0;
}

static void number_store(void *field, size_t size, uint64_t v) {
        if (size == sizeof(uint32_t))
                *(uint32_t *) field = (uint32_t) v;
        else
                *(uint64_t *) field = v;
}

static uint64_t number_load(const void *field, size_t size) {
        return size == sizeof(uint32_t) ? *(const uint32_t *) field : *(const uint64_t *) field;
}

/**
 * config_set() - set the key @k of @c from the text @value (already stripped)
 *
 * Return: 0; -EINVAL or -ERANGE for a value config_key_expected() does not describe.
 */
int config_set(Config *c, const ConfigKey *k, const char *value) {
        void *field = (char *) c + k->offset;
        uint64_t v = 0;
        int r;

        switch (k->type) {
        case CONFIG_COUNT:
                r = config_parse_count(value, k->max, &v);
                break;
        case CONFIG_SIZE:
                r = config_parse_size(value, k->max, &v);
                break;
        case CONFIG_MSEC:
                r = config_parse_msec(value, k->max, &v);
                break;
        case CONFIG_BOOL:
                return config_parse_bool(value, field);
        case CONFIG_SLOW_CONSUMER:
                if (!g_str_equal(value, "drop") && !g_str_equal(value, "disconnect"))
                        return -EINVAL;
                *(bool *) field = g_str_equal(value, "disconnect");
                return 0;
        case CONFIG_SYNC:
                return journal_sync_parse(value, field);
        case CONFIG_CONFLATE:
                return config_parse_conflate(value, field);
        case CONFIG_LOG_LEVEL:
                return config_parse_log_level(value, field);
        case CONFIG_ADDRESS: {
                InetAddress a;

                if (*value && inet_address_parse(value, INET_NUMERIC, &a) < 0)
                        return -EINVAL;
        }
                /* fall through */
        case CONFIG_STRING:
                if (strlen(value) > PATH_MAX)
                        return -ERANGE;
                g_free(*(char **) field);
                *(char **) field = *value ? g_strdup(value) : NULL;
                return 0;
        case CONFIG_PATTERNS: {
                g_auto(GStrv) parts = g_strsplit(value, ";", -1);
                g_autoptr(GPtrArray) patterns = g_ptr_array_new();

                for (char **p = parts; *p; p++)
                        if (*g_strstrip(*p))
                                g_ptr_array_add(patterns, g_strdup(*p));
                g_ptr_array_add(patterns, NULL);
                g_strfreev(*(char ***) field);
                *(char ***) field = (char **) g_ptr_array_free(g_steal_pointer(&patterns), FALSE);
                return 0;
        }
        default:
                g_assert_not_reached();
        }
        if (r < 0)
                return r;
        number_store(field, k->size, v);
        return 0;
}

/**
 * config_key_expected() - what a good value of @k looks like, for messages
 */
char *config_key_expected(const ConfigKey *k) {
        switch (k->type) {
        case CONFIG_COUNT:
                return g_strdup_printf("a whole number from 1 to %" PRIu64, k->max);
        case CONFIG_SIZE:
                return g_strdup_printf("a size from 1 to %" PRIu64 " bytes, such as 65536, 64k or 16MiB "
                                       "(k, M and G are powers of 1024)", k->max);
        case CONFIG_MSEC:
                return g_strdup_printf("a duration from 1 ms to %" PRIu64 " ms, such as 500ms, 2s or 1m "
                                       "(a plain number is milliseconds)", k->max);
        case CONFIG_BOOL:
                return g_strdup("true or false");
        case CONFIG_SLOW_CONSUMER:
                return g_strdup("drop or disconnect");
        case CONFIG_SYNC:
                return g_strdup("always, interval or never");
        case CONFIG_CONFLATE:
                return g_strdup("auto, always or never");
        case CONFIG_LOG_LEVEL:
                return g_strdup("debug, info, notice, warning or error");
        case CONFIG_PATTERNS:
                return g_strdup("topic patterns separated by ';'");
        case CONFIG_STRING:
                return g_strdup("a path (empty for the default)");
        case CONFIG_ADDRESS:
                return g_strdup("an address and a port such as 127.0.0.1:7420 or [::1]:7420 (port 0: any free "
                                "port), or nothing for no listener");
        default:
                g_assert_not_reached();
        }
}

/**
 * config_key_format() - the value of @k in @c as the file would spell it
 */
char *config_key_format(const Config *c, const ConfigKey *k) {
        const void *field = (const char *) c + k->offset;

        switch (k->type) {
        case CONFIG_COUNT:
        case CONFIG_SIZE:
                return g_strdup_printf("%" PRIu64, number_load(field, k->size));
        case CONFIG_MSEC:
                return g_strdup_printf("%" PRIu64 "ms", number_load(field, k->size));
        case CONFIG_BOOL:
                return g_strdup(*(const bool *) field ? "true" : "false");
        case CONFIG_SLOW_CONSUMER:
                return g_strdup(*(const bool *) field ? "disconnect" : "drop");
        case CONFIG_SYNC: {
                static const char *const names[] = {
                        [JOURNAL_SYNC_ALWAYS] = "always",
                        [JOURNAL_SYNC_INTERVAL] = "interval",
                        [JOURNAL_SYNC_NEVER] = "never",
                };

                return g_strdup(names[*(const JournalSync *) field]);
        }
        case CONFIG_CONFLATE:
                return g_strdup(conflate_names[*(const DbusConflate *) field]);
        case CONFIG_LOG_LEVEL:
                for (size_t i = 0; i < G_N_ELEMENTS(log_levels); i++)
                        if (log_levels[i].level == *(const GLogLevelFlags *) field)
                                return g_strdup(log_levels[i].name);
                return g_strdup("?");
        case CONFIG_STRING:
        case CONFIG_ADDRESS:
                return g_strdup(*(char *const *) field ?: "");
        case CONFIG_PATTERNS: {
                char *const *p = *(char *const *const *) field;

                return p ? g_strjoinv(";", (char **) p) : g_strdup(">");
        }
        default:
                g_assert_not_reached();
        }
}

/**
 * config_key_equal() - whether @a and @b have the same value for @k
 */
bool config_key_equal(const Config *a, const Config *b, const ConfigKey *k) {
        g_autofree char *x = config_key_format(a, k), *y = config_key_format(b, k);

        return g_str_equal(x, y);
}

/**
 * config_key_find() - the key @name of [@group], or NULL
 */
const ConfigKey *config_key_find(const char *group, const char *name) {
        for (const ConfigKey *k = config_keys; k->name; k++)
                if (g_str_equal(k->group, group) && g_str_equal(k->name, name))
                        return k;
        return NULL;
}

/**
 * config_default_path() - $XDG_CONFIG_HOME/switchboard/switchboard.conf
 */
char *config_default_path(void) {
        return g_build_filename(g_get_user_config_dir(), "switchboard", "switchboard.conf", NULL);
}

static size_t edit_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        g_autofree size_t *row = g_new(size_t, lb + 1);

        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t diag = row[0];

                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t up = row[j];
                        size_t cost = g_ascii_tolower(a[i - 1]) == g_ascii_tolower(b[j - 1]) ? 0 : 1;

                        row[j] = MIN(MIN(up + 1, row[j - 1] + 1), diag + cost);
                        diag = up;
                }
        }
        return row[lb];
}

/**
 * config_closest() - the candidate most like @word, or NULL when none is close
 * @candidates: NULL-terminated
 *
 * Close means at most a third of the longer word's letters differ (at least
 * two may), or one word contains the other ("payload" for "max-payload").
 *
 * Return: a copy of the candidate, or NULL.
 */
char *config_closest(const char *word, const char *const *candidates) {
        const char *best = NULL;
        size_t best_d = SIZE_MAX;

        for (const char *const *c = candidates; *c; c++) {
                size_t d = edit_distance(word, *c);
                size_t allowed = MAX((size_t) 2, MAX(strlen(word), strlen(*c)) / 3);

                if (d > allowed && !(*word && (strstr(*c, word) || strstr(word, *c))))
                        continue;
                if (d < best_d) {
                        best = *c;
                        best_d = d;
                }
        }
        return g_strdup(best);
}

/**
 * config_value_strip() - the value of a "key = value  # comment" line, from after its '='
 *
 * A '#' at the start or after a space or tab starts a comment; '\#' is a
 * literal '#' anywhere, and a '#' inside a word ("a#b") is literal too.
 * Other backslashes are kept as they are (paths). Surrounding whitespace
 * goes.
 */
char *config_value_strip(const char *raw) {
        GString *s = g_string_new(NULL);

        for (const char *p = raw; *p; p++) {
                if (p[0] == '\\' && p[1] == '#') {
                        g_string_append_c(s, '#');
                        p++;
                        continue;
                }
                if (*p == '#' && (p == raw || p[-1] == ' ' || p[-1] == '\t'))
                        break;
                g_string_append_c(s, *p);
        }
        return g_strstrip(g_string_free(s, FALSE));
}

static char *closest_group(const char *group) {
        g_autoptr(GPtrArray) names = g_ptr_array_new();

        for (const ConfigKey *k = config_keys; k->name; k++)
                if (!g_ptr_array_find_with_equal_func(names, k->group, g_str_equal, NULL))
                        g_ptr_array_add(names, (gpointer) k->group);
        g_ptr_array_add(names, NULL);
        return config_closest(group, (const char *const *) names->pdata);
}

/* "; did you mean 'max-payload'?" (or "[limits] max-payload" in another group) for an unknown key, or "". */
static char *closest_key(const char *group, const char *name) {
        g_autoptr(GPtrArray) same = g_ptr_array_new(), other = g_ptr_array_new();
        g_autofree char *best = NULL;

        for (const ConfigKey *k = config_keys; k->name; k++) {
                if (g_str_equal(k->name, name))
                        /* The right key in the wrong group. */
                        return g_strdup_printf("; did you mean [%s] %s?", k->group, k->name);
                g_ptr_array_add(g_str_equal(k->group, group) ? same : other, (gpointer) k->name);
        }
        g_ptr_array_add(same, NULL);
        g_ptr_array_add(other, NULL);
        best = config_closest(name, (const char *const *) same->pdata);
        if (best)
                return g_strdup_printf("; did you mean '%s'?", best);
        best = config_closest(name, (const char *const *) other->pdata);
        for (const ConfigKey *k = config_keys; best && k->name; k++)
                if (g_str_equal(k->name, best))
                        return g_strdup_printf("; did you mean [%s] %s?", k->group, k->name);
        return g_strdup("");
}

/* Groups of switchboard.conf that other programs read (switchboard-bridge's [bridge]):
 * the hub skips them without a word. */
static bool group_foreign(const char *group) {
        return g_str_equal(group, "bridge");
}

static bool group_known(const char *group) {
        for (const ConfigKey *k = config_keys; k->name; k++)
                if (g_str_equal(k->group, group))
                        return true;
        return false;
}

/* One "key = value" line of [@group] (NULL: before any group; "": unknown group). */
static int load_line(Config *c, const char *path, unsigned lineno, const char *group, char *line) {
        char *eq = strchr(line, '=');
        g_autofree char *value = NULL, *hint = NULL, *expected = NULL;
        const ConfigKey *k;
        const char *name;

        if (!eq)
                return log_error_errno(-EINVAL, "%s:%u: '%s' is not a key=value line, a [group] or a # comment.",
                                       path, lineno, line);
        *eq = '\0';
        name = g_strstrip(line);
        value = config_value_strip(eq + 1);
        if (!group)
                return log_error_errno(-EINVAL, "%s:%u: %s=%s comes before any [group]; put it under the "
                                       "group it belongs to, such as [limits].", path, lineno, name, value);
        if (!*group)
                return 0;       /* warned about at the group */

        k = config_key_find(group, name);
        if (!k) {
                hint = closest_key(group, name);
                log_warning("%s:%u: unknown key '%s' in [%s], ignoring it%s", path, lineno, name, group,
                            *hint ? hint : ".");
                return 0;
        }
        if (config_set(c, k, value) >= 0)
                return 0;
        expected = config_key_expected(k);
        return log_error_errno(-EINVAL, "%s:%u: [%s] %s=%s: expected %s.", path, lineno, group, name, value,
                               expected);
}

/**
 * config_load_file() - apply the settings in @path to @c
 * @must_exist: a missing file is an error (a path given with --config)
 *
 * Return: 0, -ENOENT for a missing file that must exist, -EINVAL for a file
 * that does not parse or holds a bad value (logged with its line and key).
 */
int config_load_file(Config *c, const char *path, bool must_exist) {
        g_autoptr(GError) error = NULL;
        g_autofree char *text = NULL;

        /* access() first, for an errno to name: GLib's message quotes the path in the locale's charset. */
        if (access(path, R_OK) < 0) {
                int e = errno;

                if (e == ENOENT && !must_exist)
                        return 0;
                return log_error_errno(e == ENOENT ? -ENOENT : -EINVAL, "Failed to read the configuration '%s': %s",
                                       path, g_strerror(e));
        }
        if (!g_file_get_contents(path, &text, NULL, &error))
                return log_error_errno(-EINVAL, "Failed to read the configuration '%s': %s", path, error->message);
        return config_load_text(c, path, text);
}

/**
 * config_load_text() - apply the settings in @text, the contents of @path, to @c
 * @path: only named in messages
 *
 * What config_load_file() does once it has read the file (a NUL in @text
 * ends it); the fuzz target calls it on a buffer.
 *
 * Return: 0, or -EINVAL for text that does not parse or holds a bad value (logged).
 */
int config_load_text(Config *c, const char *path, const char *text) {
        g_autofree char *group = NULL;
        g_auto(GStrv) lines = NULL;
        bool in_group = false;

        lines = g_strsplit(text, "\n", -1);
        for (unsigned i = 0; lines[i]; i++) {
                char *line = g_strstrip(lines[i]);
                size_t len = strlen(line);
                int r;

                if (len == 0 || line[0] == '#' || line[0] == ';')
                        continue;
                if (line[0] == '[') {
                        g_autofree char *rest = NULL;
                        char *close = strchr(line, ']');

                        rest = close ? config_value_strip(close + 1) : NULL;
                        if (!close || close == line + 1 || *rest)
                                return log_error_errno(-EINVAL, "%s:%u: '%s' is not a group header such as "
                                                       "[limits].", path, i + 1, line);
                        g_free(group);
                        group = g_strndup(line + 1, (size_t) (close - line - 1));
                        in_group = true;
                        if (group_foreign(group))
                                group[0] = '\0';
                        else if (!group_known(group)) {
                                g_autofree char *best = closest_group(group);

                                if (best)
                                        log_warning("%s:%u: unknown group [%s], ignoring it and its keys; did "
                                                    "you mean [%s]?", path, i + 1, group, best);
                                else
                                        log_warning("%s:%u: unknown group [%s], ignoring it and its keys.",
                                                    path, i + 1, group);
                                group[0] = '\0';
                        }
                        continue;
                }
                r = load_line(c, path, i + 1, in_group ? group : NULL, line);
                if (r < 0)
                        return r;
        }
        return 0;
}
