/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * main.c: switchboardd's entry point. Builds the Config from defaults, the
 * configuration file and the command line (in that order of precedence,
 * lowest first), then runs one Manager until SIGTERM, SIGINT or the bus
 * goes away.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "daemon/config.h"
#include "daemon/last-error.h"
#include "daemon/manager.h"
#include "util/log.h"
#include "util/text.h"

static GPtrArray *arg_limits;           /* "name=value", applied after the file */
static char *arg_config;
static char *arg_log_level;
static char *arg_tcp;
static gboolean arg_no_broadcast;
static gboolean arg_no_conflate;
static gboolean arg_version;
static gboolean arg_check_config;
static gboolean arg_help;

static gboolean on_limit_option(const char *option_name, const char *value, gpointer data,
                                GError **error) {
        /* option_name is "--max-payload" */
        g_ptr_array_add(arg_limits, g_strdup_printf("%s=%s", option_name + 2, value));
        return TRUE;
}

/* GLib's messages start with a capital ("Unknown option --x"); ours do not. */
static void print_option_error(const GError *error) {
        g_autofree char *opt = text_unknown_option(error), *clause = text_clause(error->message);

        if (opt)
                fprintf(stderr, "switchboardd: unknown option '%s'\n", opt);
        else
                fprintf(stderr, "switchboardd: %s\n", clause);
        fprintf(stderr, "Try 'switchboardd --help' for more information.\n");
}

static int parse_argv(int argc, char **argv) {
        g_autoptr(GOptionContext) ctx = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GArray) entries = g_array_new(TRUE, TRUE, sizeof(GOptionEntry));
        g_autofree char *default_path = config_default_path();
        g_autofree char *description = NULL;
        const GOptionEntry fixed[] = {
                { "config", 'c', 0, G_OPTION_ARG_FILENAME, &arg_config,
                  "Read settings from FILE (default: $XDG_CONFIG_HOME/switchboard/switchboard.conf)", "FILE" },
                { "check-config", 0, 0, G_OPTION_ARG_NONE, &arg_check_config,
                  "Read the settings, report what is wrong and exit (0: the hub would start with them)", NULL },
                { "log-level", 0, 0, G_OPTION_ARG_STRING, &arg_log_level,
                  "debug, info, notice, warning or error (default: info)", "LEVEL" },
                { "tcp", 0, 0, G_OPTION_ARG_STRING, &arg_tcp,
                  "Listen for JSON-RPC clients on TCP at ADDR:PORT too ([tcp] listen; 127.0.0.1:0 picks a "
                  "free port); they must present the token", "ADDR:PORT" },
                { "no-broadcast", 0, 0, G_OPTION_ARG_NONE, &arg_no_broadcast,
                  "Do not emit broadcast Message and KeyChanged signals", NULL },
                { "no-conflate", 0, 0, G_OPTION_ARG_NONE, &arg_no_conflate,
                  "Emit a broadcast Message signal for every message, even when the bus falls behind "
                  "(broadcast-conflate=never)", NULL },
                { "version", 0, 0, G_OPTION_ARG_NONE, &arg_version, "Print the version and exit", NULL },
                { "help", 'h', 0, G_OPTION_ARG_NONE, &arg_help, "Show this help and exit", NULL },
        };

        g_array_append_vals(entries, fixed, G_N_ELEMENTS(fixed));
        for (const ConfigKey *k = config_keys; k->name; k++) {
                GOptionEntry e = {
                        .long_name = k->name,
                        .arg = G_OPTION_ARG_CALLBACK,
                        .arg_data = (gpointer) on_limit_option,
                        .description = k->description,
                        .arg_description = k->type == CONFIG_SIZE ? "SIZE" : "N",
                };

                if (g_str_equal(k->group, "limits"))
                        g_array_append_val(entries, e);
        }

        /* An empty parameter string, so that the usage line is "switchboardd [OPTION…]" alone. */
        ctx = g_option_context_new(NULL);
        g_option_context_set_summary(ctx, "switchboardd: the switchboard message hub.");
        description = g_strdup_printf("Settings come from %s, overridden by the options above; a SIZE takes "
                                      "a unit (64k, 16M, 1G).\n"
                                      "switchboardd is normally started by D-Bus activation on the first call to "
                                      "org.switchboard.Hub1. SIGHUP re-reads the settings.", default_path);
        g_option_context_set_description(ctx, description);
        g_option_context_add_main_entries(ctx, (GOptionEntry *) entries->data, NULL);
        /* Our own --help: GLib's prints "[OPTION…]" through the locale's charset, "[OPTION?]" in C. */
        g_option_context_set_help_enabled(ctx, FALSE);
        if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
                print_option_error(error);
                return -EINVAL;
        }
        if (arg_help) {
                g_autofree char *help = g_option_context_get_help(ctx, TRUE, NULL);
                g_auto(GStrv) parts = g_strsplit(help, "[OPTION\u2026]", 2);
                g_autofree char *fixed = g_strjoinv("[OPTION]...", parts);

                fputs(fixed, stdout);
                return 0;
        }
        if (argc > 1) {
                fprintf(stderr, "switchboardd: unexpected argument '%s'\n"
                        "Try 'switchboardd --help' for more information.\n", argv[1]);
                return -EINVAL;
        }
        if (arg_version) {
                printf("switchboardd %s\n", PACKAGE_VERSION);
                return 0;
        }
        return 1;
}

/*
 * The settings: defaults, then the file, then the flags. At start and at
 * each reload (SIGHUP), so a flag keeps overriding the file. A bad value is
 * logged, with its file and line when it comes from the file.
 */
static int config_build(Config *ret) {
        g_autofree char *default_path = config_default_path();
        Config config;
        GLogLevelFlags level;
        int r;

        config_init_default(&config);
        r = config_load_file(&config, arg_config ?: default_path, arg_config != NULL);
        if (r < 0)
                goto fail;
        for (guint i = 0; i < arg_limits->len; i++) {
                g_auto(GStrv) kv = g_strsplit(arg_limits->pdata[i], "=", 2);
                const ConfigKey *k = config_key_find("limits", kv[0]);

                if (config_set(&config, k, kv[1]) < 0) {
                        g_autofree char *expected = config_key_expected(k);

                        r = log_error_errno(-EINVAL, "--%s=%s: expected %s.", kv[0], kv[1], expected);
                        goto fail;
                }
        }
        if (arg_tcp && config_set(&config, config_key_find("tcp", "listen"), arg_tcp) < 0) {
                g_autofree char *expected = config_key_expected(config_key_find("tcp", "listen"));

                r = log_error_errno(-EINVAL, "--tcp=%s: expected %s.", arg_tcp, expected);
                goto fail;
        }
        if (arg_no_broadcast)
                config.dbus.broadcast = false;
        if (arg_no_conflate)
                config.dbus.broadcast_conflate = DBUS_CONFLATE_NEVER;
        if (arg_log_level) {
                if (config_parse_log_level(arg_log_level, &level) < 0) {
                        r = log_error_errno(-EINVAL, "--log-level=%s: expected debug, info, notice, warning or "
                                            "error.", arg_log_level);
                        goto fail;
                }
                config.log_level = level;
        }
        *ret = config;
        return 0;
fail:
        config_deinit(&config);
        return r;
}

int main(int argc, char **argv) {
        g_autoptr(Manager) m = NULL;
        Config config = {};
        bool starting = false;
        int r;

        arg_limits = g_ptr_array_new_with_free_func(g_free);
        /*
         * Memory given back: a big buffer (a slow client's output, a burst's arena) comes from
         * its own mapping and goes back to the system when freed. glibc would otherwise raise
         * this threshold after the first such free and serve the next ones from the heap, which
         * it keeps.
         */
        (void) mallopt(M_MMAP_THRESHOLD, 256 * 1024);

        r = parse_argv(argc, argv);
        if (r <= 0)
                goto finish;

        /*
         * GLib's default writer drops info and debug lines unless told: we filter by our own
         * level already (log.c), so let everything of our domain through.
         */
        if (!g_getenv("G_MESSAGES_DEBUG"))
                g_setenv("G_MESSAGES_DEBUG", LOG_DOMAIN, TRUE);

        /* From here on, a failure is the hub failing to start: say why where the CLI looks. */
        starting = !arg_check_config;
        r = config_build(&config);
        if (r < 0)
                goto finish;
        if (arg_check_config) {
                printf("switchboardd: the settings are valid.\n");
                goto finish;
        }
        log_set_max_level(config.log_level);

        r = manager_new(&config, config_build, &m);
        if (r < 0)
                goto finish;
        r = manager_start(m);
        if (r < 0)
                goto finish;
        starting = false;
        r = manager_run(m);

finish:
        if (r < 0 && starting) {
                g_autofree char *why = g_strdup(log_last_error() ?: "switchboardd failed to start.");

                last_error_leave(m ? m->runtime_dir : NULL, why);
        }
        g_clear_pointer(&m, manager_free);          /* borrows from config */
        config_deinit(&config);
        log_forget_last_error();
        g_clear_pointer(&arg_limits, g_ptr_array_unref);
        g_clear_pointer(&arg_config, g_free);
        g_clear_pointer(&arg_log_level, g_free);
        g_clear_pointer(&arg_tcp, g_free);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
