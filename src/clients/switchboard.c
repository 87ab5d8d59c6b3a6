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
 * (or a called server) returned an error, 2 usage error, 3 not found, 4
 * revision conflict, 5/6/7 call: no server, timeout, server gone, 69
 * (EX_UNAVAILABLE) the bus, the socket or the hub could not be reached.
 * `work` and `serve` run a command per job or request (posix_spawn, own
 * process group, payload on stdin from a memfd) and pass SIGINT/SIGTERM on
 * to it before they exit.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
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
           "  1   the hub returned an error (with call: or the server did)\n"
           "  2   usage error (unknown command or option, missing argument, bad number)\n"
           "  3   not found (no such key, no job ready)\n"
           "  4   conflict (the key's revision did not match --if-revision)\n"
           "  5   call: nobody serves the name\n"
           "  6   call: no reply in time\n"
           "  7   call: the server went away before it replied\n"
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
static char *arg_delay;
static char *arg_timeout;
static char *arg_visibility;
static char *arg_retry_delay;
static char *arg_max;

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
        if (info->has_queues) {
                json_append_u64(out, "queues", info->queues);
                json_append_u64(out, "pending_calls", info->pending_calls);
                g_string_append(out, ",\"services\":{");
                for (guint i = 0; i < info->services->len; i++) {
                        const NamedCount *n = &g_array_index(info->services, NamedCount, i);

                        if (i > 0)
                                g_string_append_c(out, ',');
                        json_append_string(out, n->name);
                        g_string_append_printf(out, ":%" PRIu64, n->value);
                }
                g_string_append_c(out, '}');
        }
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
                _("Messages"), _("Store changes"), _("Limits"), _("Queues"), _("Pending calls"),
                _("Services"),
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

        if (info->has_queues) {
                value = g_strdup_printf("%" PRIu32, info->queues);
                print_field(labels[8], width, value);
                g_clear_pointer(&value, g_free);
                value = g_strdup_printf("%" PRIu32, info->pending_calls);
                print_field(labels[9], width, value);
                g_clear_pointer(&value, g_free);
                print_field(labels[10], width, info->services->len > 0 ? "" : "-");
                for (guint i = 0; i < info->services->len; i++) {
                        const NamedCount *n = &g_array_index(info->services, NamedCount, i);

                        printf("    %-24s %" PRIu64 "\n", n->name, n->value);
                }
        }
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


/* ---- queues ----------------------------------------------------------- */

static const GOptionEntry push_entries[] = {
        { "delay", 0, 0, G_OPTION_ARG_STRING, &arg_delay,
          N_("Make the job ready only after MS milliseconds"), N_("MS") },
        G_OPTION_ENTRY_NULL
};

static int run_push(char **args, int n_args) {
        g_autoptr(Backend) b = NULL;
        uint64_t delay = 0, id;
        int r;

        if (arg_delay) {
                r = parse_u64("--delay", arg_delay, 0, &delay);
                if (r != 0)
                        return r;
        }
        r = connect_hub(&b);
        if (r != 0)
                return r;
        r = b->ops->push(b, args[0], args[1], delay, &id);
        if (r != 0)
                return r;
        printf("%" PRIu64 "\n", id);
        fflush(stdout);
        return SB_EXIT_OK;
}

static const GOptionEntry queues_entries[] = {
        { "json", 'j', 0, G_OPTION_ARG_NONE, &arg_json,
          N_("Print one JSON object per queue"), NULL },
        G_OPTION_ENTRY_NULL
};

static int run_queues(char **args, int n_args) {
        g_autoptr(Backend) b = NULL;
        g_autoptr(GArray) rows = NULL;
        int width = (int) strlen("QUEUE");
        int r;

        r = connect_hub(&b);
        if (r != 0)
                return r;
        r = b->ops->list_queues(b, &rows);
        if (r != 0)
                return r;

        for (guint i = 0; i < rows->len; i++)
                width = MAX(width, (int) strlen(g_array_index(rows, QueueRow, i).name));
        if (!arg_json && rows->len > 0)
                printf("%-*s %8s %8s %8s %8s %8s\n", width, "QUEUE", "READY", "RESERVED", "DELAYED", "DEAD",
                       "WAITING");
        for (guint i = 0; i < rows->len; i++) {
                const QueueRow *q = &g_array_index(rows, QueueRow, i);

                if (arg_json) {
                        g_autoptr(GString) out = g_string_new("{");

                        json_append_member(out, "name", q->name);
                        json_append_u64(out, "ready", q->ready);
                        json_append_u64(out, "reserved", q->reserved);
                        json_append_u64(out, "delayed", q->delayed);
                        json_append_u64(out, "dead", q->dead);
                        json_append_u64(out, "waiting", q->waiting);
                        g_string_append_c(out, '}');
                        puts(out->str);
                } else
                        printf("%-*s %8" PRIu32 " %8" PRIu32 " %8" PRIu32 " %8" PRIu32 " %8" PRIu32 "\n", width,
                               q->name, q->ready, q->reserved, q->delayed, q->dead, q->waiting);
        }
        fflush(stdout);
        return SB_EXIT_OK;
}

/* A payload or reply as get prints a value: text and a newline, raw bytes,
 * or with --json an object naming @what. */
static int print_payload(GBytes *payload, bool text, GString *json) {
        size_t size;
        const void *data = payload_data(payload, text, &size);

        if (json) {
                if (text)
                        json_append_member(json, "payload", data);
                else
                        json_append_base64(json, "payload_base64", data, size);
                g_string_append_c(json, '}');
                print_line(json->str);
                return SB_EXIT_OK;
        }
        if (text) {
                print_line(data);
                return SB_EXIT_OK;
        }
        if (size > 0 && fwrite(data, 1, size, stdout) != size)
                return SB_EXIT_HUB_ERROR;
        fflush(stdout);
        return SB_EXIT_OK;
}

static int run_peek(char **args, int n_args) {
        g_autoptr(Backend) b = NULL;
        g_autoptr(GString) json = NULL;
        g_auto(Job) job = {};
        int r;

        r = connect_hub(&b);
        if (r != 0)
                return r;
        r = b->ops->peek(b, args[0], &job);
        if (r != 0)
                return r;
        if (arg_json) {
                json = g_string_new("{");
                json_append_u64(json, "id", job.id);
                json_append_member(json, "queue", args[0]);
                json_append_u64(json, "attempts", job.attempts);
        }
        return print_payload(job.payload, job.text, json);
}

static const GOptionEntry kick_entries[] = {
        { "max", 0, 0, G_OPTION_ARG_STRING, &arg_max,
          N_("Revive at most N jobs (default: all)"), N_("N") },
        G_OPTION_ENTRY_NULL
};

static int run_kick_or_purge(char **args, bool kick) {
        g_autoptr(Backend) b = NULL;
        uint64_t max = 0, count;
        int r;

        if (kick && arg_max) {
                r = parse_u64("--max", arg_max, 1, &max);
                if (r != 0)
                        return r;
                if (max > UINT32_MAX)
                        return usage_error(_("invalid number '%s' for %s: at most %" PRIu32), arg_max, "--max",
                                           UINT32_MAX);
        }
        r = connect_hub(&b);
        if (r != 0)
                return r;
        r = kick ? b->ops->kick(b, args[0], (uint32_t) max, &count) : b->ops->purge(b, args[0], &count);
        if (r != 0)
                return r;
        printf("%" PRIu64 "\n", count);
        fflush(stdout);
        return SB_EXIT_OK;
}

static int run_kick(char **args, int n_args) {
        return run_kick_or_purge(args, true);
}

static int run_purge(char **args, int n_args) {
        return run_kick_or_purge(args, false);
}

/* ---- work and serve: running a command per job or request ------------- */

/* COMMAND must be something we can run: checked before we take any job. */
static int check_command(const char *command) {
        g_autofree char *path = NULL;

        if (strchr(command, '/'))
                path = access(command, X_OK) >= 0 ? g_strdup(command) : NULL;
        else
                path = g_find_program_in_path(command);
        if (!path)
                return usage_error(_("cannot run '%s': no such executable"), command);
        return 0;
}

/* A memfd holding @data, at offset 0: the command's standard input. */
static int payload_fd(const void *data, size_t size, int *ret_fd) {
        g_auto(Fd) fd = -1;
        size_t done = 0;

        fd = memfd_create("switchboard-payload", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        while (done < size) {
                ssize_t n = write(fd, (const char *) data + done, size - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                done += (size_t) n;
        }
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        *ret_fd = g_steal_fd(&fd);
        return 0;
}

/* Start @argv in a process group of its own (so that a signal we pass on
 * reaches its children too), with default signal handling, @stdin_fd as its
 * standard input and, unless -1, @stdout_fd / @stderr_fd as its output. */
static int spawn_command(char **argv, char **envp, int stdin_fd, int stdout_fd, int stderr_fd, pid_t *ret_pid) {
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        sigset_t none, defaults;
        int r;

        sigemptyset(&none);
        sigemptyset(&defaults);
        sigaddset(&defaults, SIGINT);
        sigaddset(&defaults, SIGTERM);
        sigaddset(&defaults, SIGCHLD);
        sigaddset(&defaults, SIGPIPE);

        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
        posix_spawn_file_actions_adddup2(&actions, stdin_fd, STDIN_FILENO);
        if (stdout_fd >= 0)
                posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
        if (stderr_fd >= 0)
                posix_spawn_file_actions_adddup2(&actions, stderr_fd, STDERR_FILENO);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &defaults);
        posix_spawnattr_setpgroup(&attr, 0);

        r = posix_spawnp(ret_pid, argv[0], &actions, &attr, argv, envp);

        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&actions);
        return -r;
}

/* "exit status 3", "killed by signal 15": untranslated, it travels to callers. */
static char *describe_status(int code, int status) {
        if (code == CLD_EXITED)
                return g_strdup_printf("exit status %d", status);
        return g_strdup_printf("killed by signal %d (%s)", status, strsignal(status));
}

static void block_signals(void) {
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGCHLD);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);
}

static int signal_fd(int a, int b) {
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, a);
        if (b)
                sigaddset(&mask, b);
        return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* The signal read from @fd, or 0 when none is pending. */
static int read_signal(int fd) {
        struct signalfd_siginfo si;

        if (read(fd, &si, sizeof si) != (ssize_t) sizeof si)
                return 0;
        return (int) si.ssi_signo;
}

static const GOptionEntry work_entries[] = {
        { "timeout", 't', 0, G_OPTION_ARG_STRING, &arg_timeout,
          N_("Exit when no job has come for MS milliseconds (default: wait forever)"), N_("MS") },
        { "visibility", 0, 0, G_OPTION_ARG_STRING, &arg_visibility,
          N_("Hold each job for MS milliseconds, renewed while the command runs (default: 30000)"), N_("MS") },
        { "count", 'n', 0, G_OPTION_ARG_STRING, &arg_count,
          N_("Exit after N jobs"), N_("N") },
        { "retry-delay", 0, 0, G_OPTION_ARG_STRING, &arg_retry_delay,
          N_("Make a failed job ready again only after MS milliseconds (default: 0)"), N_("MS") },
        G_OPTION_ENTRY_NULL
};

typedef struct Worker {
        Backend *backend;
        const char *queue;
        char **argv;
        uint32_t visibility_ms;
        uint64_t retry_delay_ms;
        int stop_fd;                    /* signalfd: SIGINT, SIGTERM */
        int child_fd;                   /* signalfd: SIGCHLD */
        bool stopping;
} Worker;

/* Run the command for @job and wait for it, renewing the reservation
 * every half visibility. A stop signal is passed on to the command's
 * process group (a second one kills it). Return: 0 with its wait status
 * in @ret_code / @ret_status, or an exit status (message printed). */
static int worker_run(Worker *w, const Job *job, int *ret_code, int *ret_status) {
        g_auto(GStrv) envp = g_get_environ();
        g_auto(Fd) in = -1;
        char value[32];
        const void *data;
        size_t size;
        pid_t pid;
        uint64_t half = MAX(w->visibility_ms / 2, 1u);
        int64_t next_touch;
        int r;

        g_snprintf(value, sizeof value, "%" PRIu64, job->id);
        envp = g_environ_setenv(envp, "SWITCHBOARD_JOB_ID", value, TRUE);
        g_snprintf(value, sizeof value, "%" PRIu32, job->attempts);
        envp = g_environ_setenv(envp, "SWITCHBOARD_JOB_ATTEMPTS", value, TRUE);
        envp = g_environ_setenv(envp, "SWITCHBOARD_QUEUE", w->queue, TRUE);

        data = payload_data(job->payload, job->text, &size);
        r = payload_fd(data, size, &in);
        if (r >= 0)
                r = spawn_command(w->argv, envp, in, -1, -1, &pid);
        if (r < 0) {
                fprintf(stderr, _("switchboard: cannot run '%s': %s\n"), w->argv[0], g_strerror(-r));
                return SB_EXIT_HUB_ERROR;
        }

        next_touch = g_get_monotonic_time() + (int64_t) half * 1000;
        for (;;) {
                struct pollfd p[2] = {
                        { .fd = w->stop_fd, .events = POLLIN },
                        { .fd = w->child_fd, .events = POLLIN },
                };
                int64_t left = (next_touch - g_get_monotonic_time()) / 1000;
                siginfo_t si = {};
                int sig;

                /* SIGCHLD may have come before we looked: ask first. */
                if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG) >= 0 && si.si_pid == pid) {
                        *ret_code = si.si_code;
                        *ret_status = si.si_status;
                        return 0;
                }
                if (left <= 0) {
                        /* A failed touch is reported; the command goes on and the ack tells. */
                        (void) w->backend->ops->touch(w->backend, job->id);
                        next_touch += (int64_t) half * 1000;
                        continue;
                }
                if (poll(p, 2, (int) MIN(left, (int64_t) INT_MAX)) < 0 && errno != EINTR) {
                        fprintf(stderr, _("switchboard: the event loop failed: %s\n"), g_strerror(errno));
                        (void) kill(-pid, SIGKILL);
                        return SB_EXIT_HUB_ERROR;
                }
                while (read_signal(w->child_fd) > 0)
                        ;
                while ((sig = read_signal(w->stop_fd)) > 0) {
                        (void) kill(-pid, w->stopping ? SIGKILL : sig);
                        w->stopping = true;
                }
        }
}

static int run_work(char **args, int n_args) {
        g_autoptr(Backend) b = NULL;
        g_auto(Fd) stop_fd = -1;
        g_auto(Fd) child_fd = -1;
        uint64_t timeout = 0, visibility = 30000, retry_delay = 0, count = 0, done = 0;
        Worker w = { .queue = args[0], .argv = args + 1 };
        int r;

        if ((arg_timeout && (r = parse_u64("--timeout", arg_timeout, 0, &timeout)) != 0) ||
            (arg_visibility && (r = parse_u64("--visibility", arg_visibility, 1, &visibility)) != 0) ||
            (arg_retry_delay && (r = parse_u64("--retry-delay", arg_retry_delay, 0, &retry_delay)) != 0) ||
            (r = parse_count(&count)) != 0)
                return r;
        if (visibility > UINT32_MAX)
                return usage_error(_("invalid number '%s' for %s: at most %" PRIu32), arg_visibility,
                                   "--visibility", UINT32_MAX);
        r = check_command(w.argv[0]);
        if (r != 0)
                return r;

        /* Signals arrive through signalfds: a stop ends a wait for a job at
         * once (the hub returns a job it may have reserved for us when we
         * disconnect) and is passed on to a running command. */
        block_signals();
        stop_fd = signal_fd(SIGINT, SIGTERM);
        child_fd = signal_fd(SIGCHLD, 0);
        if (stop_fd < 0 || child_fd < 0) {
                fprintf(stderr, _("switchboard: cannot set up the event loop: %s\n"), g_strerror(errno));
                return SB_EXIT_UNREACHABLE;
        }

        r = connect_hub(&b);
        if (r != 0)
                return r;
        w.backend = b;
        w.visibility_ms = (uint32_t) visibility;
        w.retry_delay_ms = retry_delay;
        w.stop_fd = stop_fd;
        w.child_fd = child_fd;

        while (!w.stopping && (count == 0 || done < count)) {
                int64_t idle_until = arg_timeout ? g_get_monotonic_time() + (int64_t) timeout * 1000 : INT64_MAX;
                g_autofree char *what = NULL;
                g_auto(Job) job = {};
                int code, status, n;

                /* Wait for a job, RESERVE_MAX_WAIT_MS per call. */
                for (;;) {
                        int64_t left = idle_until == INT64_MAX ? RESERVE_MAX_WAIT_MS :
                                       (idle_until - g_get_monotonic_time()) / 1000;

                        if (left <= 0 && arg_timeout && timeout > 0)
                                return SB_EXIT_OK;
                        r = b->ops->reserve(b, w.queue, (uint32_t) CLAMP(left, 0, (int64_t) RESERVE_MAX_WAIT_MS),
                                            w.visibility_ms, stop_fd, &job);
                        if (r == CLI_INTERRUPTED)
                                return SB_EXIT_OK;
                        if (r == CLI_NO_JOB && arg_timeout && timeout == 0)
                                return SB_EXIT_OK;
                        if (r != CLI_NO_JOB)
                                break;
                }
                if (r != 0)
                        return r;

                r = worker_run(&w, &job, &code, &status);
                if (r == 0 && code == CLD_EXITED && status == 0)
                        r = b->ops->ack(b, job.id);
                else {
                        if (r == 0) {
                                what = describe_status(code, status);
                                fprintf(stderr, _("switchboard: job %" PRIu64 " failed (%s); it goes back to "
                                                  "queue '%s'\n"), job.id, what, w.queue);
                        }
                        /* Stopping: give it back at once, for another worker. */
                        n = b->ops->nack(b, job.id, w.stopping ? 0 : w.retry_delay_ms);
                        r = r ?: n;
                }
                /* The reservation ran out meanwhile: the job went back already; go on. */
                if (r != 0 && r != SB_EXIT_NOT_FOUND)
                        return r;
                done++;
        }
        return SB_EXIT_OK;
}

/* ---- request/reply ---------------------------------------------------- */

static const GOptionEntry call_entries[] = {
        { "timeout", 't', 0, G_OPTION_ARG_STRING, &arg_timeout,
          N_("Wait at most MS milliseconds for the reply (default: the hub's maximum, 300000)"), N_("MS") },
        G_OPTION_ENTRY_NULL
};

static int run_call(char **args, int n_args) {
        g_autoptr(Backend) b = NULL;
        g_autoptr(GBytes) reply = NULL;
        uint64_t timeout = 0;
        bool text;
        int r;

        if (arg_timeout) {
                r = parse_u64("--timeout", arg_timeout, 1, &timeout);
                if (r != 0)
                        return r;
                if (timeout > CALL_MAX_TIMEOUT_MS)
                        return usage_error(_("invalid number '%s' for %s: at most %" PRIu32), arg_timeout,
                                           "--timeout", CALL_MAX_TIMEOUT_MS);
        }
        r = connect_hub(&b);
        if (r != 0)
                return r;
        r = b->ops->call(b, args[0], args[1], (uint32_t) timeout, &reply, &text);
        if (r != 0)
                return r;
        return print_payload(reply, text, NULL);
}

#define SERVE_MAX_WAITING 256                   /* requests queued while the command runs */
#define SERVE_MAX_OUTPUT (8u * 1024 * 1024)     /* bytes of a command's standard output */
#define SERVE_ERROR_TAIL 4096                   /* bytes of its standard error kept for the message */
#define SERVE_ERROR_NAME HUB_ERROR_PREFIX "CommandFailed"

typedef struct Request {
        uint64_t id;
        GBytes *payload;
        char *transport;
        bool has_uid, has_pid;
        uint64_t uid, pid;
} Request;

static void request_free(Request *q) {
        if (!q)
                return;
        g_bytes_unref(q->payload);
        g_free(q->transport);
        g_free(q);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Request, request_free)

typedef struct Server {
        sd_event *event;
        Backend *backend;
        const char *name;
        char **argv;
        uint64_t count, handled;
        bool stopping;
        GQueue waiting;                 /* Request*, at most SERVE_MAX_WAITING */
        /* the request being handled */
        Request *current;
        pid_t pid;
        sd_event_source *out_source, *err_source;
        int out_fd, err_fd;
        GByteArray *out;
        bool out_too_large;
        GString *err_tail;
        int exit_code;                  /* of the loop, once ending */
} Server;

static void server_next(Server *s);

static void server_end(Server *s, int exit_code) {
        s->exit_code = exit_code;
        (void) sd_event_exit(s->event, exit_code);
}

/* Read what the command wrote so far. Return: false at EOF or error. */
static bool server_read(Server *s, int fd) {
        char buf[65536];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return errno == EAGAIN;
                if (n == 0)
                        return false;
                if (fd == s->out_fd) {
                        if (s->out->len + (size_t) n > SERVE_MAX_OUTPUT)
                                s->out_too_large = true;
                        else
                                g_byte_array_append(s->out, (const guint8 *) buf, (guint) n);
                } else {
                        /* Shown as it comes, and the tail kept for the error message. */
                        (void) fwrite(buf, 1, (size_t) n, stderr);
                        g_string_append_len(s->err_tail, buf, n);
                        if (s->err_tail->len > SERVE_ERROR_TAIL)
                                g_string_erase(s->err_tail, 0, (gssize) (s->err_tail->len - SERVE_ERROR_TAIL));
                }
        }
}

static int on_command_output(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Server *s = userdata;

        if (!server_read(s, fd))
                (void) sd_event_source_set_enabled(source, SD_EVENT_OFF);
        return 0;
}

/* The last non-empty line of what the command wrote to standard error. */
static char *last_error_line(GString *tail) {
        g_auto(GStrv) lines = g_strsplit(tail->str, "\n", -1);

        for (int i = (int) g_strv_length(lines) - 1; i >= 0; i--) {
                g_strstrip(lines[i]);
                if (lines[i][0] && g_utf8_validate(lines[i], -1, NULL))
                        return g_strdup(lines[i]);
        }
        return NULL;
}

static void server_finish(Server *s, int code, int status) {
        g_autoptr(Request) q = g_steal_pointer(&s->current);
        g_autofree char *how = NULL, *line = NULL, *message = NULL;
        size_t size;
        int r;

        /* Whatever the command wrote before it exited is in the pipes now. */
        (void) server_read(s, s->out_fd);
        (void) server_read(s, s->err_fd);
        s->out_source = sd_event_source_disable_unref(s->out_source);
        s->err_source = sd_event_source_disable_unref(s->err_source);
        fd_close(s->out_fd);
        fd_close(s->err_fd);
        s->out_fd = s->err_fd = -1;

        if (code == CLD_EXITED && status == 0 && !s->out_too_large) {
                /* Like $(...) in a shell: one trailing newline is not part of the reply. */
                size = s->out->len;
                if (size > 0 && s->out->data[size - 1] == '\n')
                        size--;
                r = s->backend->ops->reply(s->backend, q->id, s->out->data, size);
                if (r == CLI_NOT_TEXT)
                        r = s->backend->ops->reply_error(s->backend, q->id, SERVE_ERROR_NAME,
                                                         "The command's output is not UTF-8 text; D-Bus "
                                                         "replies carry text only.");
        } else {
                if (s->out_too_large)
                        message = g_strdup_printf("The command's output exceeds %u bytes.", SERVE_MAX_OUTPUT);
                else {
                        how = describe_status(code, status);
                        line = last_error_line(s->err_tail);
                        message = line ? g_strdup_printf("%s: %s", how, line) : g_strdup(how);
                }
                r = s->backend->ops->reply_error(s->backend, q->id, SERVE_ERROR_NAME, message);
        }
        /* The caller gave up or left meanwhile (NotFound): not our failure. */
        if (r != 0 && r != SB_EXIT_NOT_FOUND) {
                server_end(s, r);
                return;
        }

        s->handled++;
        if (s->stopping || (s->count > 0 && s->handled >= s->count)) {
                server_end(s, SB_EXIT_OK);
                return;
        }
        server_next(s);
}

/* SIGCHLD (through the loop's signalfd): is it our command that ended? */
static int on_sigchld(sd_event_source *source, const struct signalfd_siginfo *ssi, void *userdata) {
        Server *s = userdata;
        siginfo_t si = {};

        if (!s->current)
                return 0;
        if (waitid(P_PID, (id_t) s->pid, &si, WEXITED | WNOHANG) < 0 || si.si_pid != s->pid)
                return 0;
        server_finish(s, si.si_code, si.si_status);
        return 0;
}

static int server_start(Server *s, Request *q) {
        g_auto(GStrv) envp = g_get_environ();
        g_auto(Fd) in = -1;
        int out[2] = { -1, -1 }, err[2] = { -1, -1 };
        char value[32];
        const void *data;
        size_t size;
        int r;

        g_snprintf(value, sizeof value, "%" PRIu64, q->id);
        envp = g_environ_setenv(envp, "SWITCHBOARD_CALL_ID", value, TRUE);
        envp = g_environ_setenv(envp, "SWITCHBOARD_SERVICE", s->name, TRUE);
        if (q->transport)
                envp = g_environ_setenv(envp, "SWITCHBOARD_CALLER_TRANSPORT", q->transport, TRUE);
        if (q->has_uid) {
                g_snprintf(value, sizeof value, "%" PRIu64, q->uid);
                envp = g_environ_setenv(envp, "SWITCHBOARD_CALLER_UID", value, TRUE);
        }
        if (q->has_pid) {
                g_snprintf(value, sizeof value, "%" PRIu64, q->pid);
                envp = g_environ_setenv(envp, "SWITCHBOARD_CALLER_PID", value, TRUE);
        }

        data = g_bytes_get_data(q->payload, &size);
        r = payload_fd(data, size, &in);
        if (r >= 0 && (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0))
                r = -errno;
        if (r >= 0)
                r = spawn_command(s->argv, envp, in, out[1], err[1], &s->pid);
        fd_close(out[1]);
        fd_close(err[1]);
        if (r < 0) {
                fd_close(out[0]);
                fd_close(err[0]);
                return r;
        }

        s->out_fd = out[0];
        s->err_fd = err[0];
        (void) fcntl(s->out_fd, F_SETFL, O_NONBLOCK);
        (void) fcntl(s->err_fd, F_SETFL, O_NONBLOCK);
        g_byte_array_set_size(s->out, 0);
        s->out_too_large = false;
        g_string_truncate(s->err_tail, 0);
        r = sd_event_add_io(s->event, &s->out_source, s->out_fd, EPOLLIN, on_command_output, s);
        if (r >= 0)
                r = sd_event_add_io(s->event, &s->err_source, s->err_fd, EPOLLIN, on_command_output, s);
        if (r < 0) {
                (void) kill(-s->pid, SIGKILL);
                return r;
        }
        return 0;
}

/* Start the next waiting request, if the command is not busy. */
static void server_next(Server *s) {
        Request *q;

        while (!s->current && !s->stopping && (q = g_queue_pop_head(&s->waiting))) {
                g_autofree char *message = NULL;
                int r;

                s->current = q;
                r = server_start(s, q);
                if (r >= 0)
                        return;

                message = g_strdup_printf("Cannot run '%s': %s.", s->argv[0], g_strerror(-r));
                fprintf(stderr, "switchboard: %s\n", message);
                s->current = NULL;
                r = s->backend->ops->reply_error(s->backend, q->id, SERVE_ERROR_NAME, message);
                request_free(q);
                if (r != 0 && r != SB_EXIT_NOT_FOUND) {
                        server_end(s, r);
                        return;
                }
        }
}

static void on_request(const Event *e, void *userdata) {
        Server *s = userdata;
        Request *q;

        if (e->kind != EVENT_REQUEST || s->stopping)
                return;
        if (g_queue_get_length(&s->waiting) >= SERVE_MAX_WAITING) {
                g_autofree char *message = g_strdup_printf("The server has %d requests waiting already.",
                                                           SERVE_MAX_WAITING);
                int r = s->backend->ops->reply_error(s->backend, e->id, HUB_ERROR_PREFIX "LimitExceeded",
                                                     message);

                if (r != 0 && r != SB_EXIT_NOT_FOUND)
                        server_end(s, r);
                return;
        }

        q = g_new0(Request, 1);
        q->id = e->id;
        q->payload = g_bytes_new(e->data, e->size);
        if (e->sender) {
                q->transport = g_strdup(e->sender->transport);
                q->has_uid = e->sender->has_uid;
                q->uid = e->sender->uid;
                q->has_pid = e->sender->has_pid;
                q->pid = e->sender->pid;
        }
        g_queue_push_tail(&s->waiting, q);
        server_next(s);
}

static int on_server_signal(sd_event_source *source, const struct signalfd_siginfo *si, void *userdata) {
        Server *s = userdata;

        /* Finish the request at hand (the command gets the signal), then exit;
         * waiting callers get ServerGone when we leave. */
        if (s->current) {
                (void) kill(-s->pid, s->stopping ? SIGKILL : (int) si->ssi_signo);
                s->stopping = true;
                return 0;
        }
        s->stopping = true;
        server_end(s, SB_EXIT_OK);
        return 0;
}

static const GOptionEntry serve_entries[] = {
        { "count", 'n', 0, G_OPTION_ARG_STRING, &arg_count,
          N_("Exit after N requests"), N_("N") },
        G_OPTION_ENTRY_NULL
};

static int run_serve(char **args, int n_args) {
        Backend *b = NULL;
        Server s = { .name = args[0], .argv = args + 1, .out_fd = -1, .err_fd = -1 };
        int r;

        r = parse_count(&s.count);
        if (r != 0)
                return r;
        r = check_command(s.argv[0]);
        if (r != 0)
                return r;
        r = connect_hub(&b);
        if (r != 0)
                return r;

        block_signals();
        s.backend = b;
        s.out = g_byte_array_new();
        s.err_tail = g_string_new(NULL);
        g_queue_init(&s.waiting);
        r = sd_event_new(&s.event);
        if (r >= 0)
                r = sd_event_add_signal(s.event, NULL, SIGINT, on_server_signal, &s);
        if (r >= 0)
                r = sd_event_add_signal(s.event, NULL, SIGTERM, on_server_signal, &s);
        if (r >= 0)
                r = sd_event_add_signal(s.event, NULL, SIGCHLD, on_sigchld, &s);
        if (r < 0) {
                fprintf(stderr, _("switchboard: cannot set up the event loop: %s\n"), g_strerror(-r));
                r = SB_EXIT_UNREACHABLE;
        } else
                r = b->ops->stream_prepare(b, s.event, on_request, &s);
        if (r == 0)
                r = b->ops->serve(b, s.name);
        if (r == 0) {
                r = sd_event_loop(s.event);
                if (r < 0) {
                        fprintf(stderr, _("switchboard: the event loop failed: %s\n"), g_strerror(-r));
                        r = SB_EXIT_HUB_ERROR;
                }
        }

        if (s.current) {
                (void) kill(-s.pid, SIGKILL);
                (void) waitid(P_PID, (id_t) s.pid, &(siginfo_t) {}, WEXITED);
                request_free(s.current);
        }
        s.out_source = sd_event_source_disable_unref(s.out_source);
        s.err_source = sd_event_source_disable_unref(s.err_source);
        fd_close(s.out_fd);
        fd_close(s.err_fd);
        g_queue_clear_full(&s.waiting, (GDestroyNotify) request_free);
        backend_free(b);
        if (s.event)
                sd_event_unref(s.event);
        g_byte_array_unref(s.out);
        g_string_free(s.err_tail, TRUE);
        return r;
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
             "retained topics, keys, queues, pending calls, served names with their number of\n"
             "servers, message counters and limits."),
          json_entries, 0, 0, run_status },
        { "push", N_("QUEUE PAYLOAD"), N_("Add a job to a queue"),
          N_("Add a job with PAYLOAD to QUEUE and print its id. A PAYLOAD that is not valid\n"
             "UTF-8 is sent as bytes."),
          push_entries, 2, 2, run_push },
        { "work", N_("QUEUE COMMAND [ARGUMENT…]"), N_("Run a command for each job of a queue"),
          N_("Take jobs from QUEUE one at a time and run COMMAND for each, with the payload on\n"
             "its standard input and SWITCHBOARD_JOB_ID, SWITCHBOARD_JOB_ATTEMPTS and\n"
             "SWITCHBOARD_QUEUE in its environment. Exit status 0 acks the job; anything else\n"
             "gives it back (nack), until the hub dead-letters it after max-attempts. While\n"
             "COMMAND runs, the job is touched every half visibility. Put '--' before COMMAND.\n"
             "Runs until --count jobs are done, --timeout passes without a job, or SIGINT or\n"
             "SIGTERM, which is passed on to a running COMMAND (its job is then acked or\n"
             "nacked as usual); exit status 0."),
          work_entries, 2, -1, run_work },
        { "queues", "", N_("List the queues"),
          N_("Print one line per queue: name and its numbers of ready, reserved, delayed and\n"
             "dead jobs and of waiting consumers, under a header line."),
          queues_entries, 0, 0, run_queues },
        { "peek", N_("QUEUE"), N_("Print the next job of a queue"),
          N_("Print the payload of the job that would be reserved next, without reserving it.\n"
             "Exit with status 3 when no job is ready."),
          json_entries, 1, 1, run_peek },
        { "kick", N_("QUEUE"), N_("Revive dead-lettered jobs"),
          N_("Make the dead-lettered jobs of QUEUE ready again and print how many."),
          kick_entries, 1, 1, run_kick },
        { "purge", N_("QUEUE"), N_("Delete the jobs of a queue"),
          N_("Delete every job of QUEUE that is not reserved and print how many."),
          NULL, 1, 1, run_purge },
        { "call", N_("NAME PAYLOAD"), N_("Call a served name and print the reply"),
          N_("Send PAYLOAD to a client that serves NAME and print its reply. Exit with status 5\n"
             "when nobody serves NAME, 6 when no reply came in time, 7 when the server went\n"
             "away, 1 when it answered with an error."),
          call_entries, 2, 2, run_call },
        { "serve", N_("NAME COMMAND [ARGUMENT…]"), N_("Answer calls to a name with a command"),
          N_("Serve NAME and run COMMAND for each call, one at a time, with the payload on its\n"
             "standard input and SWITCHBOARD_CALL_ID, SWITCHBOARD_SERVICE and, when known,\n"
             "SWITCHBOARD_CALLER_TRANSPORT, _UID and _PID in its environment. Its standard\n"
             "output (without one trailing newline) is the reply if it exits with status 0;\n"
             "otherwise the caller gets the error org.switchboard.Hub1.Error.CommandFailed with\n"
             "the exit status and the last line of its standard error. Put '--' before\n"
             "COMMAND. Runs until --count calls are answered, or SIGINT or SIGTERM."),
          serve_entries, 2, -1, run_serve },
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
                        g_free(arg_delay);
                        g_free(arg_timeout);
                        g_free(arg_visibility);
                        g_free(arg_retry_delay);
                        g_free(arg_max);
                        return r;
                }

        return usage_error(_("unknown command '%s'"), argv[i]);
}
