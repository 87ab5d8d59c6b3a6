/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * switchboard.c: the `switchboard` command-line client. Each command is one
 * or a few operations of a Backend (cli.h): over the hub's JSON-RPC socket
 * when it accepts a connection, else over D-Bus, whose first call activates
 * the hub; --dbus and --socket choose one. Output, messages and exit
 * statuses are the same either way. `subscribe`, `watch` and `monitor` run
 * an sd-event loop and print the events the backend hands them; `monitor`
 * and `stdio` need the socket (D-Bus signals carry no sender) and start the
 * hub through D-Bus when it is missing. User-facing text goes through
 * gettext; D-Bus names and the machine-readable output formats (text lines,
 * JSON lines) never do.
 *
 * Exit status is part of the interface (docs/cli.md): 0 success, 1 the hub
 * returned an error, 2 usage error, 3 not found, 4 revision conflict, 69
 * (EX_UNAVAILABLE) the bus, the socket or the hub could not be reached.
 */

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gi18n.h>
#include <systemd/sd-event.h>

#include "build-config.h"
#include "clients/cli.h"
#include "util/sd-glue.h"

/* Shown at the end of every --help. */
static const char exit_status_text[] =
        N_("Exit status:\n"
           "  0   success\n"
           "  1   the hub returned an error\n"
           "  2   usage error (unknown command or option, missing argument, bad number)\n"
           "  3   not found (no such key)\n"
           "  4   conflict (the key's revision did not match --if-revision)\n"
           "  69  the session bus or the hub could not be reached");

typedef struct Command Command;
struct Command {
        const char *name;
        const char *params;             /* N_(), after the command name in the usage line */
        const char *summary;            /* N_(), one line, also in the main --help */
        const char *description;        /* N_() or NULL, more lines for the command's --help */
        const GOptionEntry *entries;
        int min_args;
        int max_args;                   /* -1: no limit */
        int (*run)(char **args, int n_args);
};

static const Command *arg_command;
static char *arg_address;
static char *arg_socket_path;
static gboolean arg_force_dbus;
static gboolean arg_force_socket;
static gboolean arg_retain;
static gboolean arg_retained;
static gboolean arg_json;
static char *arg_count;
static char *arg_if_revision;

static G_GNUC_PRINTF(1, 2) int usage_error(const char *format, ...) {
        g_autofree char *msg = NULL;
        va_list ap;

        va_start(ap, format);
        msg = g_strdup_vprintf(format, ap);
        va_end(ap);

        fprintf(stderr, "switchboard: %s\n", msg);
        if (arg_command)
                fprintf(stderr, _("Try 'switchboard %s --help' for more information.\n"),
                        arg_command->name);
        else
                fprintf(stderr, _("Try 'switchboard --help' for more information.\n"));
        return SB_EXIT_USAGE;
}

static int parse_u64(const char *option, const char *s, uint64_t min, uint64_t *ret) {
        g_autoptr(GError) error = NULL;
        guint64 v;

        if (!g_ascii_string_to_unsigned(s, 10, min, G_MAXUINT64, &v, &error))
                return usage_error(_("invalid number '%s' for %s: expected a whole number of at least %" PRIu64),
                                   s, option, min);
        *ret = v;
        return 0;
}

/* --dbus / --socket, else $SWITCHBOARD_BACKEND, else auto. */
static int backend_config(BackendConfig *ret) {
        const char *env = getenv("SWITCHBOARD_BACKEND");
        BackendKind kind = BACKEND_AUTO;

        if (arg_force_dbus && arg_force_socket)
                return usage_error(_("--dbus and --socket cannot be used together"));
        if (arg_force_dbus)
                kind = BACKEND_DBUS;
        else if (arg_force_socket)
                kind = BACKEND_SOCKET;
        else if (env && env[0] && !g_str_equal(env, "auto")) {
                if (g_str_equal(env, "dbus"))
                        kind = BACKEND_DBUS;
                else if (g_str_equal(env, "socket"))
                        kind = BACKEND_SOCKET;
                else
                        return usage_error(_("invalid SWITCHBOARD_BACKEND '%s': use auto, dbus or socket"), env);
        }

        *ret = (BackendConfig) {
                .kind = kind,
                .address = arg_address,
                .socket_path = arg_socket_path,
        };
        return 0;
}

static int connect_hub(Backend **ret) {
        BackendConfig config;
        int r;

        r = backend_config(&config);
        if (r != 0)
                return r;
        return backend_open(&config, ret);
}

/* For monitor and stdio: the socket, with the hub started through D-Bus if need be. */
static int socket_config(BackendConfig *ret) {
        int r;

        r = backend_config(ret);
        if (r != 0)
                return r;
        if (ret->kind == BACKEND_DBUS)
                return usage_error(_("'%s' needs the hub's socket; it cannot use --dbus"), arg_command->name);
        return 0;
}

/* ---- publish ---------------------------------------------------------- */

static const GOptionEntry publish_entries[] = {
        { "retain", 'r', 0, G_OPTION_ARG_NONE, &arg_retain,
          N_("Keep the message as the topic's retained value"), NULL },
        G_OPTION_ENTRY_NULL
};

static int run_publish(char **args, int n_args) {
        g_autoptr(Backend) b = NULL;
        int r;

        r = connect_hub(&b);
        if (r != 0)
                return r;
        return b->ops->publish(b, args[0], args[1], arg_retain);
}

/* ---- subscribe, watch, monitor: the event stream ---------------------- */

typedef struct Stream {
        sd_event *event;
        Backend *backend;
        bool monitor;                   /* print senders (monitor) */
        bool done;
        uint64_t count;                 /* stop after this many lines; 0: never */
        uint64_t printed;
        char *last_name;                /* to print a message matched by two patterns once */
        uint64_t last_number;
        EventKind last_kind;
        GArray *ids;                    /* uint64_t: our subscription or watch ids */
} Stream;

static gboolean stream_is_duplicate(Stream *s, const Event *e) {
        if (s->last_name && e->kind == s->last_kind && e->number == s->last_number &&
            g_str_equal(e->name, s->last_name))
                return TRUE;
        g_free(s->last_name);
        s->last_name = g_strdup(e->name);
        s->last_number = e->number;
        s->last_kind = e->kind;
        return FALSE;
}

static gboolean stream_owns_id(Stream *s, uint64_t id) {
        for (guint i = 0; i < s->ids->len; i++)
                if (g_array_index(s->ids, uint64_t, i) == id)
                        return TRUE;
        return FALSE;
}

static void append_payload_text(GString *out, const Event *e) {
        if (e->binary) {
                g_autofree char *b64 = g_base64_encode(e->data, e->size);

                g_string_append_printf(out, "base64:%s", b64);
        } else
                g_string_append(out, e->data);
}

static void append_payload_json(GString *out, const char *name, const Event *e) {
        if (e->binary) {
                g_autofree char *b64_name = g_strconcat(name, "_base64", NULL);

                json_append_base64(out, b64_name, e->data, e->size);
        } else
                json_append_member(out, name, e->data);
}

/* "  [unix uid=1000 pid=42]", "  [dbus uid=1000 pid=7 name=:1.5]", "  [hub]" */
static void append_sender_text(GString *out, const Sender *sender) {
        if (!sender) {
                g_string_append(out, "  [?]");
                return;
        }
        g_string_append_printf(out, "  [%s", sender->transport);
        if (sender->has_uid)
                g_string_append_printf(out, " uid=%" PRIu64, sender->uid);
        if (sender->has_pid)
                g_string_append_printf(out, " pid=%" PRIu64, sender->pid);
        if (sender->name)
                g_string_append_printf(out, " name=%s", sender->name);
        g_string_append_c(out, ']');
}

static void append_sender_json(GString *out, const Sender *sender) {
        g_autoptr(GString) o = g_string_new("{");

        if (sender) {
                json_append_member(o, "transport", sender->transport);
                if (sender->has_client)
                        json_append_u64(o, "client", sender->client);
                if (sender->has_uid)
                        json_append_u64(o, "uid", sender->uid);
                if (sender->has_pid)
                        json_append_u64(o, "pid", sender->pid);
                if (sender->name)
                        json_append_member(o, "name", sender->name);
        }
        g_string_append_c(o, '}');
        g_string_append(out, ",\"sender\":");
        g_string_append_len(out, o->str, o->len);
}

static void format_message(Stream *s, const Event *e, GString *out) {
        if (s->monitor && arg_json) {
                g_string_append_c(out, '{');
                json_append_member(out, "type", "message");
                json_append_u64(out, "seq", e->number);
                json_append_member(out, "topic", e->name);
                append_payload_json(out, "payload", e);
                json_append_bool(out, "retained", e->retained);
                append_sender_json(out, e->sender);
                g_string_append_c(out, '}');
        } else if (s->monitor) {
                g_string_append_printf(out, "%" PRIu64 " %s ", e->number, e->name);
                append_payload_text(out, e);
                append_sender_text(out, e->sender);
        } else if (arg_json) {
                g_string_append_c(out, '{');
                json_append_member(out, "topic", e->name);
                append_payload_json(out, "payload", e);
                json_append_u64(out, "seq", e->number);
                g_string_append_c(out, '}');
        } else {
                g_string_append_printf(out, "%s ", e->name);
                append_payload_text(out, e);
        }
}

static void format_key_changed(Stream *s, const Event *e, GString *out) {
        if (arg_json) {
                g_string_append_c(out, '{');
                if (s->monitor)
                        json_append_member(out, "type", "key_changed");
                json_append_member(out, "key", e->name);
                if (!e->deleted)
                        append_payload_json(out, "value", e);
                json_append_u64(out, "revision", e->number);
                json_append_bool(out, "deleted", e->deleted);
                if (s->monitor)
                        append_sender_json(out, e->sender);
                g_string_append_c(out, '}');
                return;
        }
        if (s->monitor)
                g_string_append_printf(out, "rev %" PRIu64 " ", e->number);
        if (e->deleted)
                g_string_append_printf(out, "deleted %s", e->name);
        else {
                g_string_append_printf(out, "set %s ", e->name);
                append_payload_text(out, e);
        }
        if (s->monitor)
                append_sender_text(out, e->sender);
}

static void on_event(const Event *e, void *userdata) {
        Stream *s = userdata;
        g_autoptr(GString) out = NULL;

        if (s->done)
                return;

        if (e->kind == EVENT_GAP) {
                if (stream_owns_id(s, e->id))
                        fprintf(stderr, _("switchboard: missed messages %" PRIu64 "..%" PRIu64 "\n"),
                                e->first, e->last);
                return;
        }
        if (stream_is_duplicate(s, e))
                return;

        out = g_string_new(NULL);
        if (e->kind == EVENT_MESSAGE)
                format_message(s, e, out);
        else
                format_key_changed(s, e, out);
        print_line(out->str);

        s->printed++;
        if (s->count > 0 && s->printed >= s->count) {
                s->done = true;
                (void) sd_event_exit(s->event, SB_EXIT_OK);
        }
}

static int on_exit_signal(sd_event_source *source, const struct signalfd_siginfo *si, void *userdata) {
        Stream *s = userdata;

        s->done = true;
        (void) sd_event_exit(s->event, SB_EXIT_OK);
        return 0;
}

/* Set up the loop and hand @b (taken) the stream. Nothing is printed before
 * stream_run(), so the caller's subscribe/watch calls have all completed
 * before the first line appears. */
static int stream_init(Stream *s, Backend *b) {
        sigset_t mask;
        int r;

        s->backend = b;
        s->ids = g_array_new(FALSE, FALSE, sizeof(uint64_t));

        /* Ctrl-C and SIGTERM end the stream cleanly (exit 0), through the loop. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&s->event);
        if (r >= 0)
                r = sd_event_add_signal(s->event, NULL, SIGINT, on_exit_signal, s);
        if (r >= 0)
                r = sd_event_add_signal(s->event, NULL, SIGTERM, on_exit_signal, s);
        if (r < 0) {
                fprintf(stderr, _("switchboard: cannot set up the event loop: %s\n"), g_strerror(-r));
                return SB_EXIT_UNREACHABLE;
        }

        setvbuf(stdout, NULL, _IOLBF, 0);
        return b->ops->stream_prepare(b, s->event, on_event, s);
}

static int stream_run(Stream *s) {
        int r;

        r = sd_event_loop(s->event);
        if (r < 0) {
                fprintf(stderr, _("switchboard: the event loop failed: %s\n"), g_strerror(-r));
                return SB_EXIT_HUB_ERROR;
        }
        return r;
}

static void stream_close(Stream *s) {
        g_clear_pointer(&s->backend, backend_free);
        if (s->event)
                s->event = sd_event_unref(s->event);
        g_clear_pointer(&s->last_name, g_free);
        g_clear_pointer(&s->ids, g_array_unref);
}

static int parse_count(uint64_t *ret) {
        *ret = 0;
        if (!arg_count)
                return 0;
        return parse_u64("--count", arg_count, 1, ret);
}

static const GOptionEntry subscribe_entries[] = {
        { "retained", 0, 0, G_OPTION_ARG_NONE, &arg_retained,
          N_("First print the retained values of matching topics"), NULL },
        { "json", 'j', 0, G_OPTION_ARG_NONE, &arg_json,
          N_("Print one JSON object per message"), NULL },
        { "count", 'n', 0, G_OPTION_ARG_STRING, &arg_count,
          N_("Exit after N messages"), N_("N") },
        G_OPTION_ENTRY_NULL
};

static int run_subscribe(char **args, int n_args) {
        Backend *b = NULL;
        Stream s = {};
        int r;

        r = parse_count(&s.count);
        if (r != 0)
                return r;
        r = connect_hub(&b);
        if (r != 0)
                return r;

        r = stream_init(&s, b);
        for (int i = 0; r == 0 && i < n_args; i++) {
                uint64_t id;

                r = b->ops->subscribe(b, args[i], arg_retained, &id);
                if (r == 0)
                        g_array_append_val(s.ids, id);
        }
        if (r == 0)
                r = stream_run(&s);

        stream_close(&s);
        return r;
}

static const GOptionEntry watch_entries[] = {
        { "json", 'j', 0, G_OPTION_ARG_NONE, &arg_json,
          N_("Print one JSON object per change"), NULL },
        { "count", 'n', 0, G_OPTION_ARG_STRING, &arg_count,
          N_("Exit after N changes"), N_("N") },
        G_OPTION_ENTRY_NULL
};

static int run_watch(char **args, int n_args) {
        static char *all[] = { (char *) "", NULL };
        Backend *b = NULL;
        Stream s = {};
        int r;

        r = parse_count(&s.count);
        if (r != 0)
                return r;
        if (n_args == 0) {
                args = all;
                n_args = 1;
        }
        r = connect_hub(&b);
        if (r != 0)
                return r;

        r = stream_init(&s, b);
        for (int i = 0; r == 0 && i < n_args; i++) {
                uint64_t id;

                r = b->ops->watch(b, args[i], &id);
                if (r == 0)
                        g_array_append_val(s.ids, id);
        }
        if (r == 0)
                r = stream_run(&s);

        stream_close(&s);
        return r;
}

static const GOptionEntry monitor_entries[] = {
        { "json", 'j', 0, G_OPTION_ARG_NONE, &arg_json,
          N_("Print one JSON object per message or change, with its sender"), NULL },
        { "count", 'n', 0, G_OPTION_ARG_STRING, &arg_count,
          N_("Exit after N messages and changes"), N_("N") },
        G_OPTION_ENTRY_NULL
};

static int run_monitor(char **args, int n_args) {
        const char *pattern = n_args > 0 ? args[0] : ">";
        BackendConfig config;
        Backend *b = NULL;
        Stream s = { .monitor = true };
        uint64_t id;
        int fd = -1, r;

        r = parse_count(&s.count);
        if (r != 0)
                return r;
        r = socket_config(&config);
        if (r != 0)
                return r;
        r = socket_connect_hub(&config, &fd);
        if (r != 0)
                return r;
        {
                g_autofree char *path = config.socket_path ? g_strdup(config.socket_path) : socket_default_path();

                (void) socket_backend_new(fd, path, &b);
        }

        r = stream_init(&s, b);
        if (r == 0)
                r = b->ops->subscribe(b, pattern, false, &id);
        if (r == 0) {
                g_array_append_val(s.ids, id);
                r = b->ops->watch(b, "", &id);
        }
        if (r == 0) {
                g_array_append_val(s.ids, id);
                r = stream_run(&s);
        }

        stream_close(&s);
        return r;
}

static int run_stdio(char **args, int n_args) {
        BackendConfig config;
        int r;

        r = socket_config(&config);
        if (r != 0)
                return r;
        return cli_stdio(&config);
}

/* ---- the store -------------------------------------------------------- */

static const GOptionEntry json_entries[] = {
        { "json", 'j', 0, G_OPTION_ARG_NONE, &arg_json,
          N_("Print JSON instead of plain text"), NULL },
        G_OPTION_ENTRY_NULL
};

static int run_get(char **args, int n_args) {
        g_autoptr(Backend) b = NULL;
        g_autoptr(GBytes) value = NULL;
        g_autoptr(GString) out = NULL;
        const char *key = args[0];
        const void *data;
        size_t size;
        uint64_t revision;
        bool text;
        int r;

        r = connect_hub(&b);
        if (r != 0)
                return r;
        r = b->ops->get(b, key, &value, &text, &revision);
        if (r != 0)
                return r;
        data = g_bytes_get_data(value, &size);

        if (!arg_json && text) {
                print_line(data);
                return SB_EXIT_OK;
        }
        if (!arg_json) {
                /* Raw bytes, exactly as stored: `switchboard get k > file`. */
                if (size > 0 && fwrite(data, 1, size, stdout) != size)
                        return SB_EXIT_HUB_ERROR;
                fflush(stdout);
                return SB_EXIT_OK;
        }

        out = g_string_new("{");
        json_append_member(out, "key", key);
        if (text)
                json_append_member(out, "value", data);
        else
                json_append_base64(out, "value_base64", data, size);
        json_append_u64(out, "revision", revision);
        g_string_append_c(out, '}');
        print_line(out->str);
        return SB_EXIT_OK;
}

static const GOptionEntry set_entries[] = {
        { "if-revision", 0, 0, G_OPTION_ARG_STRING, &arg_if_revision,
          N_("Only set the key if its revision is N (0: only if the key does not exist yet)"), N_("N") },
        G_OPTION_ENTRY_NULL
};

static int run_set(char **args, int n_args) {
        g_autoptr(Backend) b = NULL;
        const char *key = args[0], *value = args[1];
        uint64_t expected = 0;
        int r;

        if (arg_if_revision) {
                r = parse_u64("--if-revision", arg_if_revision, 0, &expected);
                if (r != 0)
                        return r;
                if (!g_utf8_validate(value, -1, NULL))
                        return usage_error(_("--if-revision needs a value that is valid UTF-8 text"));
        }

        r = connect_hub(&b);
        if (r != 0)
                return r;
        return b->ops->set(b, key, value, arg_if_revision != NULL, expected);
}

static int run_delete(char **args, int n_args) {
        g_autoptr(Backend) b = NULL;
        const char *key = args[0];
        bool existed;
        int r;

        r = connect_hub(&b);
        if (r != 0)
                return r;
        r = b->ops->delete(b, key, &existed);
        if (r != 0)
                return r;
        if (!existed) {
                fprintf(stderr, "switchboard: ");
                fprintf(stderr, _("no such key '%s'"), key);
                fputc('\n', stderr);
                return SB_EXIT_NOT_FOUND;
        }
        return SB_EXIT_OK;
}

static int run_list(char **args, int n_args) {
        g_autoptr(Backend) b = NULL;
        g_autoptr(GPtrArray) entries = NULL;
        const char *prefix = n_args > 0 ? args[0] : "";
        int r;

        r = connect_hub(&b);
        if (r != 0)
                return r;
        r = b->ops->list(b, prefix, &entries);
        if (r != 0)
                return r;

        for (guint i = 0; i < entries->len; i++) {
                const ListEntry *e = entries->pdata[i];

                if (arg_json) {
                        g_autoptr(GString) out = g_string_new("{");

                        json_append_member(out, "key", e->key);
                        json_append_member(out, "value", e->value);
                        json_append_u64(out, "revision", e->revision);
                        g_string_append_c(out, '}');
                        fputs(out->str, stdout);
                } else
                        printf("%s\t%s", e->key, e->value);
                fputc('\n', stdout);
        }
        fflush(stdout);
        return SB_EXIT_OK;
}

/* ---- topics and the hub ----------------------------------------------- */

static int run_clear_retained(char **args, int n_args) {
        g_autoptr(Backend) b = NULL;
        uint64_t count;
        int r;

        r = connect_hub(&b);
        if (r != 0)
                return r;
        r = b->ops->clear_retained(b, args[0], &count);
        if (r != 0)
                return r;
        printf("%" PRIu64 "\n", count);
        fflush(stdout);
        return SB_EXIT_OK;
}

static void print_field(const char *label, int width, const char *value) {
        int len = (int) g_utf8_strlen(label, -1);

        if (value[0])
                printf("  %s:%*s %s\n", label, MAX(width - len, 0), "", value);
        else
                printf("  %s:\n", label);
}

static char *format_uptime(uint64_t seconds) {
        if (seconds < 60)
                return g_strdup_printf(_("%" PRIu64 " s"), seconds);
        if (seconds < 3600)
                return g_strdup_printf(_("%" PRIu64 " min %" PRIu64 " s"), seconds / 60, seconds % 60);
        if (seconds < 86400)
                return g_strdup_printf(_("%" PRIu64 " h %" PRIu64 " min"), seconds / 3600,
                                       seconds / 60 % 60);
        return g_strdup_printf(_("%" PRIu64 " d %" PRIu64 " h"), seconds / 86400, seconds / 3600 % 24);
}

static char *format_named_counts(GArray *a) {
        g_autoptr(GString) s = g_string_new(NULL);

        for (guint i = 0; i < a->len; i++) {
                const NamedCount *n = &g_array_index(a, NamedCount, i);

                g_string_append_printf(s, "%s%s %" PRIu64, i > 0 ? ", " : "", n->name, n->value);
        }
        return g_string_free(g_steal_pointer(&s), FALSE);
}

static void print_info_json(const Info *info) {
        g_autoptr(GString) out = g_string_new("{");

        json_append_member(out, "version", info->version ?: "");
        json_append_u64(out, "start_time", info->start_time);
        json_append_u64(out, "clients", info->clients);
        g_string_append(out, ",\"clients_by_transport\":{");
        for (guint i = 0; i < info->by_transport->len; i++) {
                const NamedCount *n = &g_array_index(info->by_transport, NamedCount, i);

                if (i > 0)
                        g_string_append_c(out, ',');
                json_append_string(out, n->name);
                g_string_append_printf(out, ":%" PRIu64, n->value);
        }
        g_string_append_c(out, '}');
        json_append_u64(out, "subscriptions", info->subscriptions);
        json_append_u64(out, "topics", info->topics);
        json_append_u64(out, "keys", info->keys);
        json_append_u64(out, "messages_published", info->published);
        json_append_u64(out, "messages_delivered", info->delivered);
        json_append_u64(out, "messages_dropped", info->dropped);
        json_append_u64(out, "store_changes", info->store_changes);
        g_string_append(out, ",\"limits\":{");
        for (guint i = 0; i < info->limits->len; i++) {
                const NamedCount *n = &g_array_index(info->limits, NamedCount, i);

                if (i > 0)
                        g_string_append_c(out, ',');
                json_append_string(out, n->name);
                g_string_append_printf(out, ":%" PRIu64, n->value);
        }
        g_string_append_c(out, '}');
        if (info->jsonrpc) {
                g_string_append(out, ",\"jsonrpc\":{");
                for (guint i = 0; i < info->jsonrpc->len; i++) {
                        const NamedCount *n = &g_array_index(info->jsonrpc, NamedCount, i);

                        if (i > 0)
                                g_string_append_c(out, ',');
                        json_append_string(out, n->name);
                        g_string_append_printf(out, ":%" PRIu64, n->value);
                }
                g_string_append_c(out, '}');
        }
        g_string_append_c(out, '}');
        print_line(out->str);
}

static void print_info(const Info *info) {
        const char *labels[] = {
                _("Started"), _("Clients"), _("Subscriptions"), _("Retained topics"), _("Keys"),
                _("Messages"), _("Store changes"), _("Limits"),
        };
        g_autoptr(GDateTime) started = NULL;
        g_autofree char *when = NULL, *uptime = NULL, *value = NULL, *by = NULL;
        int width = 0;
        int64_t now = g_get_real_time();

        for (size_t i = 0; i < G_N_ELEMENTS(labels); i++)
                width = MAX(width, (int) g_utf8_strlen(labels[i], -1));

        printf(_("switchboard hub %s\n"), info->version ?: "?");

        started = g_date_time_new_from_unix_local((gint64) (info->start_time / G_USEC_PER_SEC));
        when = started ? g_date_time_format(started, "%Y-%m-%d %H:%M:%S %Z") : g_strdup("?");
        uptime = format_uptime(now > (int64_t) info->start_time ?
                               (uint64_t) (now - (int64_t) info->start_time) / G_USEC_PER_SEC : 0);
        value = g_strdup_printf(_("%s (up %s)"), when, uptime);
        print_field(labels[0], width, value);
        g_clear_pointer(&value, g_free);

        by = format_named_counts(info->by_transport);
        value = info->by_transport->len > 0 ?
                g_strdup_printf("%" PRIu32 " (%s)", info->clients, by) :
                g_strdup_printf("%" PRIu32, info->clients);
        print_field(labels[1], width, value);
        g_clear_pointer(&value, g_free);

        value = g_strdup_printf("%" PRIu32, info->subscriptions);
        print_field(labels[2], width, value);
        g_clear_pointer(&value, g_free);
        value = g_strdup_printf("%" PRIu32, info->topics);
        print_field(labels[3], width, value);
        g_clear_pointer(&value, g_free);
        value = g_strdup_printf("%" PRIu32, info->keys);
        print_field(labels[4], width, value);
        g_clear_pointer(&value, g_free);

        value = g_strdup_printf(_("%" PRIu64 " published, %" PRIu64 " delivered, %" PRIu64 " dropped"),
                                info->published, info->delivered, info->dropped);
        print_field(labels[5], width, value);
        g_clear_pointer(&value, g_free);
        value = g_strdup_printf("%" PRIu64, info->store_changes);
        print_field(labels[6], width, value);
        g_clear_pointer(&value, g_free);

        print_field(labels[7], width, info->limits->len > 0 ? "" : "-");
        for (guint i = 0; i < info->limits->len; i++) {
                const NamedCount *n = &g_array_index(info->limits, NamedCount, i);

                printf("    %-24s %" PRIu64 "\n", n->name, n->value);
        }
        /* Only the socket's hub.info has these. */
        if (info->jsonrpc) {
                print_field(_("JSON-RPC"), width, info->jsonrpc->len > 0 ? "" : "-");
                for (guint i = 0; i < info->jsonrpc->len; i++) {
                        const NamedCount *n = &g_array_index(info->jsonrpc, NamedCount, i);

                        printf("    %-24s %" PRIu64 "\n", n->name, n->value);
                }
        }
        fflush(stdout);
}


static int run_status(char **args, int n_args) {
        g_autoptr(Backend) b = NULL;
        g_auto(Info) info = {};
        int r;

        info_init(&info);
        r = connect_hub(&b);
        if (r != 0)
                return r;
        r = b->ops->info(b, &info);
        if (r != 0)
                return r;

        if (arg_json)
                print_info_json(&info);
        else
                print_info(&info);
        return SB_EXIT_OK;
}


/* ---- command line ----------------------------------------------------- */

/* --socket or --socket=PATH ("--socket=" is --socket: see run_command()) */
static gboolean parse_socket_option(const char *name, const char *value, gpointer data, GError **error) {
        arg_force_socket = TRUE;
        if (value && value[0]) {
                g_free(arg_socket_path);
                arg_socket_path = g_strdup(value);
        }
        return TRUE;
}

static const GOptionEntry common_entries[] = {
        { "address", 0, 0, G_OPTION_ARG_STRING, &arg_address,
          N_("Connect to the D-Bus bus at ADDRESS instead of the session bus"), N_("ADDRESS") },
        { "dbus", 0, 0, G_OPTION_ARG_NONE, &arg_force_dbus,
          N_("Talk to the hub over D-Bus only"), NULL },
        { "socket", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, (void *) parse_socket_option,
          N_("Talk to the hub over its socket only (at PATH)"), N_("PATH") },
        G_OPTION_ENTRY_NULL
};

static const Command commands[] = {
        { "publish", N_("TOPIC PAYLOAD"), N_("Publish a message on a topic"),
          N_("Publish PAYLOAD on TOPIC and print nothing. A PAYLOAD that is not valid UTF-8\n"
             "is sent as bytes (PublishBinary). Use '--' before a PAYLOAD that starts with '-'."),
          publish_entries, 2, 2, run_publish },
        { "subscribe", N_("PATTERN…"), N_("Print the messages of matching topics"),
          N_("Print each message of a topic matching any PATTERN as one line 'TOPIC PAYLOAD'\n"
             "(a payload that is not text as 'TOPIC base64:DATA'), until interrupted.\n"
             "In a PATTERN, '*' matches one token and '>' one or more trailing tokens.\n"
             "Missed messages are reported on standard error."),
          subscribe_entries, 1, -1, run_subscribe },
        { "get", N_("KEY"), N_("Print the value of a key"),
          N_("Print the value of KEY and a newline. A value that is not text is written as\n"
             "raw bytes, or as value_base64 with --json."),
          json_entries, 1, 1, run_get },
        { "set", N_("KEY VALUE"), N_("Set a key"),
          N_("Set KEY to VALUE and print nothing. With --if-revision, only if the key's revision\n"
             "is still N; otherwise exit with status 4."),
          set_entries, 2, 2, run_set },
        { "delete", N_("KEY"), N_("Delete a key"),
          N_("Delete KEY. Exit with status 3 if there was no such key."),
          NULL, 1, 1, run_delete },
        { "list", N_("[PREFIX]"), N_("List keys and values"),
          N_("Print the keys starting with PREFIX (all keys without one), sorted, as\n"
             "'KEY<TAB>VALUE' lines."),
          json_entries, 0, 1, run_list },
        { "watch", N_("[PREFIX…]"), N_("Print the changes of keys"),
          N_("Print each change of a key starting with PREFIX (all keys without one) as one\n"
             "line, 'set KEY VALUE' or 'deleted KEY', until interrupted."),
          watch_entries, 0, -1, run_watch },
        { "clear-retained", N_("PATTERN"), N_("Drop retained messages"),
          N_("Drop the retained values of the topics matching PATTERN and print how many\n"
             "were dropped."),
          NULL, 1, 1, run_clear_retained },
        { "status", "", N_("Show the hub's state"),
          N_("Show the hub's version, start time, clients per transport, subscriptions,\n"
             "retained topics, keys, message counters and limits."),
          json_entries, 0, 0, run_status },
        { "monitor", N_("[PATTERN]"), N_("Print all traffic with its senders"),
          N_("Print every message of a topic matching PATTERN ('>' without one: all topics) and\n"
             "every key change, with sequence number and sender, as one line\n"
             "'SEQ TOPIC PAYLOAD  [TRANSPORT uid=UID pid=PID name=NAME]' or\n"
             "'rev REVISION set KEY VALUE  [...]', until interrupted. Needs the hub's socket;\n"
             "starts the hub through D-Bus if need be."),
          monitor_entries, 0, 1, run_monitor },
        { "stdio", "", N_("Connect standard input and output to the hub"),
          N_("Copy bytes between standard input/output and the hub's socket: a parent process\n"
             "speaks the socket's protocol (4-byte length + JSON-RPC 2.0) on the pipes. Starts\n"
             "the hub through D-Bus if need be; ends when either side closes."),
          NULL, 0, 0, run_stdio },
};

/* The translated parameter string; "" stays "" (gettext("") is the PO header). */
static const char *command_params(const Command *cmd) {
        return cmd->params[0] ? _(cmd->params) : "";
}

static void print_main_help(FILE *f) {
        g_autofree char *about = NULL;
        int width = 0;

        fputs(_("Usage: switchboard [--address=ADDRESS] COMMAND [ARGUMENTS…]\n"), f);
        fputc('\n', f);
        about = g_strdup_printf(_("Talk to the switchboard hub over its socket, or over D-Bus (%s)\n"
                                  "when the socket is not there; the first D-Bus call starts the hub.\n"),
                                HUB_NAME);
        fputs(about, f);
        fputc('\n', f);
        fputs(_("Commands:\n"), f);

        for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
                g_autofree char *usage = g_strdup_printf("%s %s", commands[i].name,
                                                         command_params(&commands[i]));

                width = MAX(width, (int) g_utf8_strlen(usage, -1));
        }
        for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
                g_autofree char *usage = g_strdup_printf("%s %s", commands[i].name,
                                                         command_params(&commands[i]));

                fprintf(f, "  %s%*s  %s\n", usage, width - (int) g_utf8_strlen(usage, -1), "",
                        _(commands[i].summary));
        }

        fputc('\n', f);
        fputs(_("Options:\n"
                "  -h, --help           Show this help\n"
                "  --version            Show the version\n"
                "  --address=ADDRESS    Connect to the D-Bus bus at ADDRESS instead of the session bus\n"), f);
        fputs(_("  --dbus               Talk to the hub over D-Bus only\n"
                "  --socket[=PATH]      Talk to the hub over its socket only (default\n"
                "                       $XDG_RUNTIME_DIR/switchboard/socket, or $SWITCHBOARD_SOCKET)\n"), f);
        fputc('\n', f);
        fputs(_("Run 'switchboard COMMAND --help' for the options of a command.\n"), f);
        fputc('\n', f);
        fprintf(f, "%s\n", _(exit_status_text));
}

static int run_command(const Command *cmd, int argc, char **argv) {
        g_autoptr(GOptionContext) context = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *prgname = NULL, *summary = NULL;
        g_auto(GStrv) args = NULL;
        int n_args;

        arg_command = cmd;

        /* The usage line reads "switchboard publish [OPTION…] TOPIC PAYLOAD". */
        prgname = g_strdup_printf("switchboard %s", cmd->name);
        g_set_prgname(prgname);
        summary = cmd->description ?
                g_strdup_printf("%s.\n\n%s", _(cmd->summary), _(cmd->description)) :
                g_strdup_printf("%s.", _(cmd->summary));
        context = g_option_context_new(cmd->params[0] ? cmd->params : NULL);
        g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
        g_option_context_set_summary(context, summary);
        g_option_context_set_description(context, exit_status_text);
        if (cmd->entries)
                g_option_context_add_main_entries(context, cmd->entries, GETTEXT_PACKAGE);
        g_option_context_add_main_entries(context, common_entries, GETTEXT_PACKAGE);

        /* GOptionContext edits a copy of argv: "switchboard" plus the command's arguments. */
        args = g_new0(char *, argc + 1);
        args[0] = g_strdup("switchboard");
        for (int i = 1; i < argc; i++)
                args[i] = g_strdup(argv[i]);
        /* GOption would take the argument after a bare --socket as its optional
         * PATH ("subscribe --socket a.b"): spell it --socket= instead. */
        for (int i = 1; i < argc && !g_str_equal(args[i], "--"); i++)
                if (g_str_equal(args[i], "--socket")) {
                        g_free(args[i]);
                        args[i] = g_strdup("--socket=");
                }
        if (!g_option_context_parse_strv(context, &args, &error))
                return usage_error("%s", error->message);

        /* GOptionContext leaves the "--" that ends the options: drop the first one. */
        for (char **a = args + 1; *a; a++)
                if (g_str_equal(*a, "--")) {
                        g_free(*a);
                        memmove(a, a + 1, (g_strv_length(a + 1) + 1) * sizeof(char *));
                        break;
                }

        n_args = (int) g_strv_length(args) - 1;
        if (n_args < cmd->min_args)
                return usage_error(_("missing argument: %s"), command_params(cmd));
        if (cmd->max_args >= 0 && n_args > cmd->max_args)
                return usage_error(_("too many arguments: '%s' is not expected"), args[cmd->max_args + 1]);

        return cmd->run(args + 1, n_args);
}

int main(int argc, char **argv) {
        const char *localedir = getenv("SWITCHBOARD_LOCALEDIR");
        int i;

        setlocale(LC_ALL, "");
        bindtextdomain(GETTEXT_PACKAGE, localedir && localedir[0] ? localedir : LOCALEDIR);
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        textdomain(GETTEXT_PACKAGE);
        g_set_prgname("switchboard");

        /* Global options come before the command. */
        for (i = 1; i < argc && argv[i][0] == '-'; i++) {
                const char *a = argv[i];

                if (g_str_equal(a, "-h") || g_str_equal(a, "--help")) {
                        print_main_help(stdout);
                        return SB_EXIT_OK;
                }
                if (g_str_equal(a, "--version")) {
                        printf("switchboard %s\n", PACKAGE_VERSION);
                        return SB_EXIT_OK;
                }
                if (g_str_has_prefix(a, "--address=")) {
                        g_free(arg_address);
                        arg_address = g_strdup(a + strlen("--address="));
                        continue;
                }
                if (g_str_equal(a, "--address")) {
                        if (i + 1 >= argc)
                                return usage_error(_("option '%s' needs a value"), a);
                        g_free(arg_address);
                        arg_address = g_strdup(argv[++i]);
                        continue;
                }
                if (g_str_equal(a, "--dbus")) {
                        arg_force_dbus = TRUE;
                        continue;
                }
                if (g_str_equal(a, "--socket") || g_str_has_prefix(a, "--socket=")) {
                        (void) parse_socket_option(a, a[8] == '=' ? a + 9 : NULL, NULL, NULL);
                        continue;
                }
                return usage_error(_("unknown option '%s'"), a);
        }

        if (i >= argc)
                return usage_error(_("missing command"));
        if (g_str_equal(argv[i], "help")) {
                if (i + 1 < argc) {
                        char *help_argv[] = { argv[i + 1], (char *) "--help", NULL };

                        for (size_t c = 0; c < G_N_ELEMENTS(commands); c++)
                                if (g_str_equal(argv[i + 1], commands[c].name))
                                        return run_command(&commands[c], 2, help_argv);
                        return usage_error(_("unknown command '%s'"), argv[i + 1]);
                }
                print_main_help(stdout);
                return SB_EXIT_OK;
        }

        for (size_t c = 0; c < G_N_ELEMENTS(commands); c++)
                if (g_str_equal(argv[i], commands[c].name)) {
                        int r = run_command(&commands[c], argc - i, argv + i);

                        g_free(arg_address);
                        g_free(arg_socket_path);
                        g_free(arg_count);
                        g_free(arg_if_revision);
                        return r;
                }

        return usage_error(_("unknown command '%s'"), argv[i]);
}
