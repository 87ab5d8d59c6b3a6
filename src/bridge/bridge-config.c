/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bridge-config.c: switchboard-bridge's settings. The [bridge] group of
 * $XDG_CONFIG_HOME/switchboard/switchboard.conf (the hub skips that group)
 * is read with GKeyFile; as in the hub's parser, " # comment" ends a
 * value. Lists are separated by commas or blanks. Flags override the file.
 * Unknown keys are warned about with the line that has them, bad values
 * are errors (-EINVAL). Called by main.c once, before anything connects.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/bridge-config.h"
#include "build-config.h"
#include "util/log.h"
#include "util/units.h"

void bridge_config_free(BridgeConfig *c) {
        if (!c)
                return;
        g_free(c->config_path);
        g_free(c->socket);
        g_free(c->name);
        g_strfreev(c->urls);
        g_free(c->token);
        g_free(c->user);
        g_free(c->password);
        g_free(c->creds);
        g_free(c->nkey);
        g_free(c->nkey_seed);
        g_free(c->tls_ca);
        g_strfreev(c->export_patterns);
        g_free(c->export_prefix);
        g_strfreev(c->import_patterns);
        g_free(c->import_prefix);
        g_strfreev(c->export_services);
        g_strfreev(c->import_services);
        g_free(c->service_prefix);
        g_free(c);
}

/* A value without a trailing " # comment" and blanks, as the hub reads its file. */
static char *value_strip(const char *raw) {
        GString *s = g_string_new(NULL);

        for (const char *p = raw; *p; p++) {
                if (*p == '#' && (p == raw || p[-1] == ' ' || p[-1] == '\t'))
                        break;
                g_string_append_c(s, *p);
        }
        return g_strstrip(g_string_free(s, FALSE));
}

/* Items separated by commas or blanks, empty ones left out. */
static char **list_split(const char *text) {
        g_auto(GStrv) parts = g_strsplit_set(text, ", \t", -1);
        g_autoptr(GStrvBuilder) b = g_strv_builder_new();

        for (char **p = parts; *p; p++)
                if (**p)
                        g_strv_builder_add(b, *p);
        return g_strv_builder_end(b);
}

/**
 * bridge_subject_valid() - whether @subject is a topic the hub accepts and a
 * NATS subject at once: dot-separated non-empty tokens of [A-Za-z0-9_-]
 */
bool bridge_subject_valid(const char *subject) {
        size_t token = 0;

        if (!subject || !*subject)
                return false;
        for (const char *p = subject; *p; p++) {
                if (*p == '.') {
                        if (token == 0)
                                return false;
                        token = 0;
                } else if (g_ascii_isalnum(*p) || *p == '_' || *p == '-')
                        token++;
                else
                        return false;
        }
        return token > 0;
}

/* A pattern: tokens as above, '*' for one token, '>' as the last. */
static bool pattern_valid(const char *pattern) {
        g_auto(GStrv) tokens = g_strsplit(pattern, ".", -1);

        for (char **t = tokens; *t; t++) {
                if (g_str_equal(*t, "*") || (g_str_equal(*t, ">") && !t[1]))
                        continue;
                if (!bridge_subject_valid(*t))
                        return false;
        }
        return *pattern != '\0';
}

/**
 * bridge_patterns_overlap() - whether some topic matches both patterns ('*'
 * one token, '>' one or more last tokens)
 */
bool bridge_patterns_overlap(const char *a, const char *b) {
        g_auto(GStrv) ta = g_strsplit(a, ".", -1);
        g_auto(GStrv) tb = g_strsplit(b, ".", -1);
        size_t i;

        for (i = 0; ta[i] && tb[i]; i++) {
                if (g_str_equal(ta[i], ">") || g_str_equal(tb[i], ">"))
                        return true;
                if (!g_str_equal(ta[i], "*") && !g_str_equal(tb[i], "*") && !g_str_equal(ta[i], tb[i]))
                        return false;
        }
        return !ta[i] && !tb[i];
}

/* A prefix is empty or ends with '.' after valid tokens ("host.laptop."). */
static bool prefix_valid(const char *prefix) {
        g_autofree char *bare = NULL;
        size_t n = strlen(prefix);

        if (n == 0)
                return true;
        if (prefix[n - 1] != '.')
                return false;
        bare = g_strndup(prefix, n - 1);
        return bridge_subject_valid(bare);
}

typedef enum KeyType { KEY_STRING, KEY_LIST, KEY_PATTERNS, KEY_NAMES, KEY_PREFIX, KEY_SIZE, KEY_MS, KEY_BOOL, KEY_AUTO } KeyType;

typedef struct BridgeKey {
        const char *name;
        KeyType type;
        size_t offset;
} BridgeKey;

#define K(n, t, m) { n, t, offsetof(BridgeConfig, m) }
static const BridgeKey bridge_keys[] = {
        K("socket", KEY_STRING, socket),
        K("name", KEY_STRING, name),
        K("nats-url", KEY_LIST, urls),
        K("token", KEY_STRING, token),
        K("user", KEY_STRING, user),
        K("password", KEY_STRING, password),
        K("creds", KEY_STRING, creds),
        K("nkey", KEY_STRING, nkey),
        K("nkey-seed", KEY_STRING, nkey_seed),
        K("tls-ca", KEY_STRING, tls_ca),
        K("export", KEY_PATTERNS, export_patterns),
        K("export-prefix", KEY_PREFIX, export_prefix),
        K("import", KEY_PATTERNS, import_patterns),
        K("import-prefix", KEY_PREFIX, import_prefix),
        K("export-services", KEY_NAMES, export_services),
        K("import-services", KEY_NAMES, import_services),
        K("service-prefix", KEY_PREFIX, service_prefix),
        K("reconnect-buffer", KEY_SIZE, reconnect_buffer),
        K("max-pending", KEY_SIZE, max_pending),
        K("call-timeout", KEY_MS, call_timeout_ms),
        K("discovered-servers", KEY_BOOL, discovered_servers),
        K("send-asap", KEY_BOOL, send_asap),
        K("hub-rings", KEY_AUTO, hub_rings),
        K("ring-size", KEY_SIZE, ring_size),
        {}
};
#undef K

/* Set @k of @c from @text; @where names the source for the error. */
static int key_set(BridgeConfig *c, const BridgeKey *k, const char *text, const char *where) {
        void *field = (char *) c + k->offset;
        g_auto(GStrv) list = NULL;
        uint64_t v;

        switch (k->type) {
        case KEY_STRING:
                /* "token =" is no token: an empty value unsets the key. */
                g_free(*(char **) field);
                *(char **) field = *text ? g_strdup(text) : NULL;
                return 0;
        case KEY_PREFIX:
                if (!prefix_valid(text))
                        return log_error_errno(-EINVAL, "%s: %s=%s: expected tokens of [A-Za-z0-9_-] ending "
                                               "with '.', such as host.laptop.", where, k->name, text);
                g_free(*(char **) field);
                *(char **) field = g_strdup(text);
                return 0;
        case KEY_LIST:
        case KEY_PATTERNS:
        case KEY_NAMES:
                list = list_split(text);
                for (char **p = list; *p; p++) {
                        if (k->type == KEY_PATTERNS && !pattern_valid(*p))
                                return log_error_errno(-EINVAL, "%s: %s: '%s' is not a pattern (tokens of "
                                                       "[A-Za-z0-9_-], '*' for one token, '>' last).",
                                                       where, k->name, *p);
                        if (k->type == KEY_NAMES && !bridge_subject_valid(*p))
                                return log_error_errno(-EINVAL, "%s: %s: '%s' is not a service name (tokens "
                                                       "of [A-Za-z0-9_-]).", where, k->name, *p);
                }
                g_strfreev(*(char ***) field);
                *(char ***) field = g_steal_pointer(&list);
                return 0;
        case KEY_BOOL:
                if (config_parse_bool(text, field) < 0)
                        return log_error_errno(-EINVAL, "%s: %s=%s: expected yes or no.", where, k->name, text);
                return 0;
        case KEY_AUTO: {
                bool b;

                if (g_str_equal(text, "auto"))
                        *(int *) field = -1;
                else if (config_parse_bool(text, &b) >= 0)
                        *(int *) field = b;
                else
                        return log_error_errno(-EINVAL, "%s: %s=%s: expected auto, yes or no.", where, k->name,
                                               text);
                return 0;
        }
        case KEY_SIZE:
        case KEY_MS:
                /* The hub's own syntax for switchboard.conf: 64k, 16MiB; 500ms, 30s. */
                if ((k->type == KEY_SIZE ? config_parse_size(text, UINT64_MAX, &v) :
                                           config_parse_msec(text, UINT64_MAX, &v)) < 0)
                        return log_error_errno(-EINVAL, "%s: %s=%s: expected a positive %s.", where, k->name, text,
                                               k->type == KEY_SIZE ? "size (64k, 16M, 16MiB)" :
                                                                     "duration (500ms, 30s, 1m)");
                *(uint64_t *) field = v;
                return 0;
        }
        g_assert_not_reached();
}

static const BridgeKey *key_find(const char *name) {
        for (const BridgeKey *k = bridge_keys; k->name; k++)
                if (g_str_equal(k->name, name))
                        return k;
        return NULL;
}

/**
 * bridge_config_load_text() - apply the [bridge] group of @text (the file
 * @path's contents) to @c
 *
 * Return: 0 (also without a [bridge] group), -EINVAL for a file GKeyFile
 * cannot read or a bad value (logged with the file's name).
 */
int bridge_config_load_text(BridgeConfig *c, const char *path, const char *text, size_t len) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) keys = NULL;

        if (!g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, &error))
                return log_error_errno(-EINVAL, "%s: %s", path, error->message);
        if (!g_key_file_has_group(kf, "bridge"))
                return 0;
        keys = g_key_file_get_keys(kf, "bridge", NULL, NULL);
        for (char **name = keys; name && *name; name++) {
                const BridgeKey *k = key_find(*name);
                g_autofree char *raw = g_key_file_get_value(kf, "bridge", *name, NULL);
                g_autofree char *value = value_strip(raw ? raw : "");
                g_autofree char *where = g_strdup_printf("%s: [bridge]", path);
                int r;

                if (!k) {
                        log_warning("%s: unknown key '%s' in [bridge], ignoring it.", path, *name);
                        continue;
                }
                r = key_set(c, k, value, where);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int load_file(BridgeConfig *c, const char *path, bool must_exist) {
        g_autoptr(GError) error = NULL;
        g_autofree char *text = NULL;
        gsize len;

        if (!g_file_get_contents(path, &text, &len, &error)) {
                if (!must_exist && g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
                        return 0;
                return log_error_errno(-EINVAL, "Failed to read %s: %s", path, error->message);
        }
        c->config_path = g_strdup(path);
        return bridge_config_load_text(c, path, text, len);
}

/**
 * bridge_config_print() - the settings in force as a [bridge] group, secrets
 * masked: what --check-config prints
 */
void bridge_config_print(const BridgeConfig *c, FILE *f) {
        fprintf(f, "[bridge]\n");
        for (const BridgeKey *k = bridge_keys; k->name; k++) {
                const void *field = (const char *) c + k->offset;
                g_autofree char *text = NULL;

                switch (k->type) {
                case KEY_STRING:
                case KEY_PREFIX:
                        text = g_strdup(*(char *const *) field ? *(char *const *) field : "");
                        if (*text && (g_str_equal(k->name, "token") || g_str_equal(k->name, "password")))
                                g_free(g_steal_pointer(&text)), text = g_strdup("(set)");
                        break;
                case KEY_LIST:
                case KEY_PATTERNS:
                case KEY_NAMES:
                        text = *(char **const *) field ? g_strjoinv(", ", *(char **const *) field) : g_strdup("");
                        break;
                case KEY_SIZE:
                case KEY_MS:
                        text = g_strdup_printf("%" G_GUINT64_FORMAT, *(const uint64_t *) field);
                        break;
                case KEY_BOOL:
                        text = g_strdup(*(const bool *) field ? "yes" : "no");
                        break;
                case KEY_AUTO:
                        text = g_strdup(*(const int *) field < 0 ? "auto" : *(const int *) field ? "yes" : "no");
                        break;
                }
                fprintf(f, "%s = %s\n", k->name, text);
        }
}

/* The flags' values by key, until the file is read: flags override it. A
 * list flag given twice (--export a --export b,c) adds up to one list. */
static GHashTable *flag_values;

static const char *flag_key(const char *option) {
        static const char *const plural[][2] = {
                { "export-service", "export-services" }, { "import-service", "import-services" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(plural); i++)
                if (g_str_equal(option, plural[i][0]))
                        return plural[i][1];
        return option;
}

static gboolean on_flag(const char *option, const char *value, gpointer data, GError **error) {
        const char *key = flag_key(option + 2);        /* "--export" */

        if (g_str_has_prefix(key, "no-")) {             /* --no-discovered-servers, --no-send-asap */
                key = key + 3;
                value = "no";
        }
        const BridgeKey *k = key_find(key);
        GString *v = g_hash_table_lookup(flag_values, key);

        if (v && (k->type == KEY_LIST || k->type == KEY_PATTERNS || k->type == KEY_NAMES))
                g_string_append_printf(v, ",%s", value);
        else
                g_hash_table_replace(flag_values, (gpointer) k->name, g_string_new(value));
        return TRUE;
}

static void flag_value_free(gpointer v) {
        g_string_free(v, TRUE);
}

static const char description[] =
        "Mirrors hub topics and request/reply names to NATS and back. Settings come from the\n"
        "[bridge] group of $XDG_CONFIG_HOME/switchboard/switchboard.conf; each flag overrides\n"
        "its key (same name; --export-service and --import-service set export-services and\n"
        "import-services). See switchboard-bridge(1) and docs/bridge.md.\n";

/**
 * bridge_config_parse() - the settings from @argv and the configuration file
 * @ret_exit: set when the program is to exit with status 0 (--version)
 *
 * Return: 0, or -EINVAL for a bad flag or value (logged).
 */
int bridge_config_parse(int argc, char **argv, BridgeConfig **ret, bool *ret_exit) {
        g_autoptr(BridgeConfig) c = g_new0(BridgeConfig, 1);
        g_autoptr(GOptionContext) ctx = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GHashTable) flags = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, flag_value_free);
        g_autofree char *config = NULL;
        gboolean version = FALSE, verbose = FALSE, check_config = FALSE;
#define FLAG(name, short, arg, help) \
        { name, short, 0, G_OPTION_ARG_CALLBACK, (gpointer) on_flag, help, arg }
        const GOptionEntry entries[] = {
                { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config, "Read this file instead of switchboard.conf", "FILE" },
                FLAG("socket", 0, "PATH", "The hub's socket"),
                FLAG("name", 0, "NAME", "This bridge's origin id on NATS"),
                FLAG("nats-url", 's', "URL", "A NATS server (repeat or comma-separate)"),
                FLAG("token", 0, "TOKEN", "NATS token"),
                FLAG("user", 0, "USER", "NATS user"),
                FLAG("password", 0, "PASSWORD", "NATS password"),
                FLAG("creds", 0, "FILE", "NATS credentials file (JWT and NKey seed)"),
                FLAG("nkey", 0, "KEY", "NATS public NKey (with --nkey-seed)"),
                FLAG("nkey-seed", 0, "FILE", "File holding the NKey's seed"),
                FLAG("tls-ca", 0, "FILE", "CA certificates (PEM): use TLS"),
                FLAG("export", 'e', "PATTERN", "Publish hub topics matching PATTERN to NATS"),
                FLAG("export-prefix", 0, "PREFIX", "Prepend PREFIX to exported subjects"),
                FLAG("import", 'i', "PATTERN", "Publish NATS subjects matching PATTERN into the hub"),
                FLAG("import-prefix", 0, "PREFIX", "Strip PREFIX from imported subjects"),
                FLAG("export-service", 0, "NAME", "Serve NAME on the hub, answered over NATS"),
                FLAG("import-service", 0, "NAME", "Answer NATS requests to NAME from the hub"),
                FLAG("service-prefix", 0, "PREFIX", "NATS subject prefix of service names"),
                FLAG("reconnect-buffer", 0, "SIZE", "Bytes kept while NATS is away (8M)"),
                FLAG("max-pending", 0, "N", "NATS messages waiting for the hub, at most (65536)"),
                FLAG("call-timeout", 0, "MS", "Timeout of hub calls for NATS requests (30000)"),
                FLAG("hub-rings", 0, "auto|yes|no", "Shared-memory rings with the hub (auto)"),
                FLAG("ring-size", 0, "SIZE", "Data size of each ring, a power of two (4M)"),
                { "no-discovered-servers", 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer) on_flag,
          "Only the servers of --nats-url, not others of their cluster", NULL },
        { "no-send-asap", 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer) on_flag,
          "Let libnats wait about 1 ms for more publishes before it writes", NULL },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log each message", NULL },
                { "check-config", 0, 0, G_OPTION_ARG_NONE, &check_config, "Print the settings in force and exit (2: bad)", NULL },
        { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
                {}
        };
#undef FLAG
        GHashTableIter iter;
        gpointer key, value;
        int r;

        flag_values = flags;
        ctx = g_option_context_new(NULL);
        g_option_context_set_summary(ctx, "switchboard-bridge: the hub's topics and names on NATS.");
        g_option_context_set_description(ctx, description);
        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
                flag_values = NULL;
                return log_error_errno(-EINVAL, "%s (see --help)", error->message);
        }
        flag_values = NULL;
        if (argc > 1)
                return log_error_errno(-EINVAL, "Unexpected argument '%s' (see --help)", argv[1]);
        *ret_exit = false;
        if (version) {
                printf("switchboard-bridge %s\n", PACKAGE_VERSION);
                *ret_exit = true;
                return 0;
        }

        c->reconnect_buffer = 8 * 1024 * 1024;
        c->max_pending = 65536;
        c->call_timeout_ms = 30000;
        c->discovered_servers = true;
        c->send_asap = true;
        c->hub_rings = -1;
        c->ring_size = 4 * 1024 * 1024;
        if (config)
                r = load_file(c, config, true);
        else {
                g_autofree char *path = g_build_filename(g_get_user_config_dir(), "switchboard",
                                                         "switchboard.conf", NULL);
                r = load_file(c, path, false);
        }
        if (r < 0)
                return r;

        g_hash_table_iter_init(&iter, flags);
        while (g_hash_table_iter_next(&iter, &key, &value)) {
                r = key_set(c, key_find(key), ((GString *) value)->str, "flag");
                if (r < 0)
                        return r;
        }
        c->verbose = verbose;

        if (!c->urls || !c->urls[0]) {
                g_strfreev(c->urls);
                c->urls = g_new0(char *, 2);
                c->urls[0] = g_strdup("nats://127.0.0.1:4222");
        }
        if (!c->name)
                c->name = g_strdup_printf("%s-%08x", g_get_host_name(), g_random_int());
        if (!bridge_subject_valid(c->name))
                for (char *p = c->name; *p; p++)
                        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_')
                                *p = '_';
        if (!c->export_prefix)
                c->export_prefix = g_strdup("");
        if (!c->import_prefix)
                c->import_prefix = g_strdup("");
        if (!c->service_prefix)
                c->service_prefix = g_strdup("");
        if (c->ring_size & (c->ring_size - 1))
                return log_error_errno(-EINVAL, "ring-size=%" PRIu64 ": expected a power of two.", c->ring_size);
        if (c->nkey && !c->nkey_seed)
                return log_error_errno(-EINVAL, "nkey needs nkey-seed, the file of its seed.");
        if (g_strv_length(c->export_patterns ? c->export_patterns : (char *[]) { NULL }) +
                    g_strv_length(c->import_patterns ? c->import_patterns : (char *[]) { NULL }) +
                    g_strv_length(c->export_services ? c->export_services : (char *[]) { NULL }) +
                    g_strv_length(c->import_services ? c->import_services : (char *[]) { NULL }) == 0)
                log_warning("Nothing to bridge: no export, import, export-services or import-services.");
        if (check_config) {
                bridge_config_print(c, stdout);
                *ret_exit = true;
        }
        *ret = g_steal_pointer(&c);
        return 0;
}
