/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli-commands-pubsub.c: publish, clear-retained, and the commands that
 * print an event stream: subscribe, watch and monitor. These run an
 * sd-event loop and print the events the backend hands them, as plain
 * lines, JSON or a --format template; `monitor` needs the socket (D-Bus
 * signals carry no sender), starts the hub through D-Bus when it is
 * missing, and adds a monitor (queue and call traffic) to a subscription
 * and a watch, in colour on a terminal.
 */

#include <inttypes.h>
#include <string.h>
#include <signal.h>
#include <sys/signalfd.h>

#include <glib.h>
#include <glib/gi18n.h>
#include <systemd/sd-event.h>

#include "clients/cli.h"

/**
 * run_publish() - `publish TOPIC PAYLOAD [--retain]`: bytes that are not text go as PublishBinary
 */
int run_publish(char **args, int n_args) {
        g_auto(CliResult) res = {};
        OpArgs in = { .topic = args[0], .payload = { args[1], strlen(args[1]) }, .retain = arg.retain };

        return cli_call(arg.retain ? "PublishRetained" : "Publish", &in, SUBJECT_KEY, args[0], &res);
}

/**
 * run_clear_retained() - `clear-retained PATTERN`: print how many were dropped
 */
int run_clear_retained(char **args, int n_args) {
        g_auto(CliResult) res = {};
        int r;

        r = cli_call("ClearRetained", &(OpArgs) { .pattern = args[0] }, SUBJECT_KEY, args[0], &res);
        if (r != 0)
                return r;
        printf("%" PRIu32 "\n", res.out.count);
        fflush(stdout);
        return SB_EXIT_OK;
}

/* ---- the event stream ------------------------------------------------- */

typedef struct Stream {
        sd_event *event;
        Backend *backend;
        FormatStyle style;
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
        format_event(e, &s->style, out);
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
        return backend_stream_prepare(b, s->event, on_event, s);
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

static char *all_keys[] = { (char *) "", NULL };

/* Subscribe to or watch ("Subscribe", "Watch") each of @names, keeping the ids. */
static int stream_listen(Stream *s, const char *member, char **names, int n_names) {
        for (int i = 0; i < n_names; i++) {
                g_auto(CliResult) res = {};
                OpArgs in = { .pattern = names[i], .prefix = names[i], .with_retained = arg.retained };
                int r;

                r = backend_call(s->backend, member, &in, SUBJECT_KEY, names[i], &res);
                if (r != 0)
                        return r;
                g_array_append_val(s->ids, res.out.id);
        }
        return 0;
}

/* Print the events of @member on each of @names and, for monitor, of every key and all traffic. */
static int stream_command(bool monitor, const char *member, char **names, int n_names) {
        g_autoptr(CliTemplate) template = NULL;
        BackendConfig config;
        Backend *b = NULL;
        Stream s = { .style = { .monitor = monitor, .json = arg.json } };
        int r;

        r = parse_count(&s.count);
        if (r == 0 && arg.format && arg.json)
                r = usage_error(_("--format and --json cannot be used together"));
        if (r == 0 && arg.format)
                r = cli_template_parse(arg.format, g_str_equal(member, "Watch"), &template);
        if (r == 0 && monitor)
                r = parse_color(arg.color, &s.style.color);
        s.style.template = template;
        /* monitor needs the socket: D-Bus signals carry no sender. */
        if (r == 0 && monitor) {
                r = socket_config(&config);
                if (r == 0)
                        r = backend_open_socket(&config, &b);
        } else if (r == 0)
                r = connect_hub(&b);
        if (r != 0)
                return r;

        r = stream_init(&s, b);
        if (r == 0)
                r = stream_listen(&s, member, names, n_names);
        if (r == 0 && monitor)
                r = stream_listen(&s, "Watch", all_keys, 1);
        if (r == 0 && monitor)
                r = stream_listen(&s, "Monitor", all_keys, 1);      /* no argument: the name is unused */
        if (r == 0)
                r = stream_run(&s);
        stream_close(&s);
        return r;
}

/**
 * run_subscribe() - `subscribe PATTERN…`: print the messages of matching topics
 */
int run_subscribe(char **args, int n_args) {
        return stream_command(false, "Subscribe", args, n_args);
}

/**
 * run_watch() - `watch [PREFIX…]`: print the changes of keys (all keys without a PREFIX)
 */
int run_watch(char **args, int n_args) {
        return n_args > 0 ? stream_command(false, "Watch", args, n_args) : stream_command(false, "Watch", all_keys, 1);
}

/**
 * run_monitor() - `monitor [PATTERN]`: print all traffic with its senders, over the socket
 */
int run_monitor(char **args, int n_args) {
        static char *every[] = { (char *) ">", NULL };

        return stream_command(true, "Subscribe", n_args > 0 ? args : every, 1);
}
