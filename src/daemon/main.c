/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * main.c: switchboardd's entry point. Builds the Config from defaults, the
 * configuration file and the command line (in that order of precedence,
 * lowest first), then runs one Manager until SIGTERM, SIGINT or the bus
 * goes away.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "daemon/config.h"
#include "daemon/manager.h"
#include "util/log.h"

static GPtrArray *arg_limits;           /* "name=value", applied after the file */
static char *arg_config;
static char *arg_log_level;
static gboolean arg_no_broadcast;
static gboolean arg_version;

static gboolean on_limit_option(const char *option_name, const char *value, gpointer data,
                                GError **error) {
        /* option_name is "--max-payload" */
        g_ptr_array_add(arg_limits, g_strdup_printf("%s=%s", option_name + 2, value));
        return TRUE;
}

static int parse_argv(int argc, char **argv, Config *config) {
        g_autoptr(GOptionContext) ctx = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GArray) entries = g_array_new(TRUE, TRUE, sizeof(GOptionEntry));
        g_autofree char *default_path = config_default_path();
        g_autofree char *description = NULL;
        const GOptionEntry fixed[] = {
                { "config", 'c', 0, G_OPTION_ARG_FILENAME, &arg_config,
                  "Read settings from FILE (default: $XDG_CONFIG_HOME/switchboard/switchboard.conf)", "FILE" },
                { "log-level", 0, 0, G_OPTION_ARG_STRING, &arg_log_level,
                  "debug, info, notice, warning or error (default: info)", "LEVEL" },
                { "no-broadcast", 0, 0, G_OPTION_ARG_NONE, &arg_no_broadcast,
                  "Do not emit broadcast Message and KeyChanged signals", NULL },
                { "version", 0, 0, G_OPTION_ARG_NONE, &arg_version, "Print the version and exit", NULL },
        };
        GLogLevelFlags level;
        int r;

        g_array_append_vals(entries, fixed, G_N_ELEMENTS(fixed));
        for (const ConfigLimit *l = config_limits; l->name; l++) {
                GOptionEntry e = {
                        .long_name = l->name,
                        .arg = G_OPTION_ARG_CALLBACK,
                        .arg_data = (gpointer) on_limit_option,
                        .description = l->description,
                        .arg_description = "N",
                };
                g_array_append_val(entries, e);
        }

        ctx = g_option_context_new("- the switchboard message hub");
        description = g_strdup_printf("Settings come from %s, overridden by the options above.\n"
                                      "switchboardd is normally started by D-Bus activation on the first call to "
                                      "org.switchboard.Hub1.", default_path);
        g_option_context_set_description(ctx, description);
        g_option_context_add_main_entries(ctx, (GOptionEntry *) entries->data, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
                fprintf(stderr, "switchboardd: %s\nTry 'switchboardd --help'.\n", error->message);
                return -EINVAL;
        }
        if (argc > 1) {
                fprintf(stderr, "switchboardd: unexpected argument '%s'\n", argv[1]);
                return -EINVAL;
        }
        if (arg_version) {
                printf("switchboardd %s\n", PACKAGE_VERSION);
                return 0;
        }

        r = config_load_file(config, arg_config ?: default_path, arg_config != NULL);
        if (r < 0)
                return r;

        for (guint i = 0; i < arg_limits->len; i++) {
                g_auto(GStrv) kv = g_strsplit(arg_limits->pdata[i], "=", 2);

                r = config_set_limit(config, kv[0], kv[1]);
                if (r < 0) {
                        fprintf(stderr, "switchboardd: --%s=%s: not a whole number greater than 0\n",
                                kv[0], kv[1]);
                        return -EINVAL;
                }
        }
        if (arg_no_broadcast)
                config->dbus.broadcast = false;
        if (arg_log_level) {
                if (config_parse_log_level(arg_log_level, &level) < 0) {
                        fprintf(stderr, "switchboardd: --log-level=%s: use debug, info, notice, warning "
                                "or error\n", arg_log_level);
                        return -EINVAL;
                }
                config->log_level = level;
        }
        return 1;
}

int main(int argc, char **argv) {
        g_autoptr(Manager) m = NULL;
        Config config;
        int r;

        arg_limits = g_ptr_array_new_with_free_func(g_free);
        config_init_default(&config);

        r = parse_argv(argc, argv, &config);
        if (r <= 0)
                goto finish;

        log_set_max_level(config.log_level);
        /*
         * GLib's default writer drops info and debug lines unless told: we filter by our own
         * level already (log.c), so let everything of our domain through.
         */
        if (!g_getenv("G_MESSAGES_DEBUG"))
                g_setenv("G_MESSAGES_DEBUG", LOG_DOMAIN, TRUE);

        r = manager_new(&config, &m);
        if (r < 0)
                goto finish;
        r = manager_start(m);
        if (r < 0)
                goto finish;
        r = manager_run(m);

finish:
        g_clear_pointer(&m, manager_free);          /* borrows from config */
        config_deinit(&config);
        g_clear_pointer(&arg_limits, g_ptr_array_unref);
        g_clear_pointer(&arg_config, g_free);
        g_clear_pointer(&arg_log_level, g_free);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
