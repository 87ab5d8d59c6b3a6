/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli-format.c: what the commands print: one JSON object per line (written
 * with proto/json-write.h, as the hub writes its own), payloads and values as text lines or
 * raw bytes, the lines of subscribe/watch/monitor, and `status` from the
 * GetInfo / hub.info dictionary. Output formats are never translated; the
 * labels of `status` are.
 */

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gi18n.h>

#include "clients/cli.h"
#include "proto/json-write.h"

/**
 * print_line() - @line and a newline on stdout, flushed: a reader sees each line at once
 */
void print_line(const char *line) {
        fputs(line, stdout);
        fputc('\n', stdout);
        fflush(stdout);
}

/**
 * print_bytes() - print a value, payload or reply: text and a newline, else the raw bytes
 *
 * Raw bytes, exactly as stored, so that `switchboard get k > file` saves them.
 *
 * Return: 0, or 1 when stdout fails.
 */
int print_bytes(const OpBytes *bytes) {
        if (bytes->len > 0 && fwrite(bytes->data, 1, bytes->len, stdout) != bytes->len)
                return SB_EXIT_HUB_ERROR;
        if (payload_is_text(bytes->data, bytes->len))
                fputc('\n', stdout);
        fflush(stdout);
        return SB_EXIT_OK;
}

/* ---- subscribe, watch, monitor ---------------------------------------- */

static void append_payload_text(GString *out, const Event *e) {
        g_autofree char *b64 = NULL;

        if (!e->binary) {
                g_string_append(out, e->data);
                return;
        }
        b64 = g_base64_encode(e->data, e->size);
        g_string_append_printf(out, "base64:%s", b64);
}

/* "  [unix uid=1000 pid=42]", "  [dbus uid=1000 pid=7 name=:1.5]" */
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
        g_string_append_len(out, o->str, (gssize) o->len);
}

/* SGR sequences of the monitor's lines on a terminal. */
#define SGR_RESET "\033[0m"
#define SGR_DIM "\033[2m"
#define SGR_MESSAGE "\033[32m"          /* green */
#define SGR_KEY "\033[36m"              /* cyan */
#define SGR_QUEUE "\033[33m"            /* yellow */
#define SGR_RPC "\033[35m"              /* magenta */
#define SGR_BAD "\033[1;31m"            /* bold red: errors, timeouts, dead letters */

/* @text in @sgr when colouring, else plain. */
static void append_painted(GString *out, const FormatStyle *style, const char *sgr, const char *text) {
        if (style->color)
                g_string_append_printf(out, "%s%s" SGR_RESET, sgr, text);
        else
                g_string_append(out, text);
}

static void append_sender_painted(GString *out, const FormatStyle *style, const Sender *sender) {
        g_autoptr(GString) s = g_string_new(NULL);

        append_sender_text(s, sender);
        append_painted(out, style, SGR_DIM, s->str);
}

static void format_message(const Event *e, const FormatStyle *style, GString *out) {
        if (style->monitor && style->json) {
                g_string_append_c(out, '{');
                json_append_member(out, "type", "message");
                json_append_u64(out, "seq", e->number);
                json_append_member(out, "topic", e->name);
                json_append_bytes(out, "payload", e->data, e->size);
                json_append_bool(out, "retained", e->retained);
                append_sender_json(out, e->sender);
                g_string_append_c(out, '}');
        } else if (style->monitor) {
                g_string_append_printf(out, "%" PRIu64 " ", e->number);
                append_painted(out, style, SGR_MESSAGE, e->name);
                g_string_append_c(out, ' ');
                append_payload_text(out, e);
                append_sender_painted(out, style, e->sender);
        } else if (style->json) {
                g_string_append_c(out, '{');
                json_append_member(out, "topic", e->name);
                json_append_bytes(out, "payload", e->data, e->size);
                json_append_u64(out, "seq", e->number);
                g_string_append_c(out, '}');
        } else {
                g_string_append_printf(out, "%s ", e->name);
                append_payload_text(out, e);
        }
}

static void format_key_changed(const Event *e, const FormatStyle *style, GString *out) {
        g_autofree char *what = NULL;

        if (style->json) {
                g_string_append_c(out, '{');
                if (style->monitor)
                        json_append_member(out, "type", "key_changed");
                json_append_member(out, "key", e->name);
                if (!e->deleted)
                        json_append_bytes(out, "value", e->data, e->size);
                json_append_u64(out, "revision", e->number);
                json_append_bool(out, "deleted", e->deleted);
                if (style->monitor)
                        append_sender_json(out, e->sender);
                g_string_append_c(out, '}');
                return;
        }
        if (style->monitor)
                g_string_append_printf(out, "rev %" PRIu64 " ", e->number);
        what = g_strdup_printf(e->deleted ? "deleted %s" : "set %s", e->name);
        append_painted(out, style, style->monitor ? SGR_KEY : "", what);
        if (!e->deleted) {
                g_string_append_c(out, ' ');
                append_payload_text(out, e);
        }
        if (style->monitor)
                append_sender_painted(out, style, e->sender);
}

/* Whether traffic event @event is about a call (else about a queue). */
static bool event_is_call(const char *event) {
        static const char *const calls[] = { "call", "reply", "error", "timeout", "server_gone", "no_server" };

        for (size_t i = 0; i < G_N_ELEMENTS(calls); i++)
                if (g_str_equal(event, calls[i]))
                        return true;
        return false;
}

/* Events that mean something went wrong. */
static bool event_is_bad(const Event *e) {
        return (e->error && e->error[0]) || g_str_equal(e->event, "dead") || g_str_equal(e->event, "expired");
}

/*
 * "queue push jobs #17 PAYLOAD  [unix uid=1000 pid=42]",
 * "rpc timeout weather.now #4 Timeout: The server did not reply in time.  [hub]"
 */
static void format_traffic(const Event *e, const FormatStyle *style, GString *out) {
        bool call = event_is_call(e->event);
        g_autofree char *what = NULL;

        if (style->json) {
                g_string_append_c(out, '{');
                json_append_member(out, "type", "traffic");
                json_append_member(out, "event", e->event);
                json_append_member(out, "name", e->name);
                json_append_u64(out, "id", e->object);
                json_append_u64(out, "seq", e->number);
                if (e->size > 0)
                        json_append_bytes(out, "payload", e->data, e->size);
                if (e->attempts > 0)
                        json_append_u64(out, "attempts", e->attempts);
                if (e->error && e->error[0]) {
                        json_append_member(out, "error", e->error);
                        json_append_member(out, "message", e->message ?: "");
                }
                append_sender_json(out, e->sender);
                g_string_append_c(out, '}');
                return;
        }
        what = g_strdup_printf("%s %s %s", call ? "rpc" : "queue", e->event, e->name);
        append_painted(out, style, event_is_bad(e) ? SGR_BAD : call ? SGR_RPC : SGR_QUEUE, what);
        g_string_append_printf(out, " #%" PRIu64, e->object);
        if (e->attempts > 0)
                g_string_append_printf(out, " attempts=%" PRIu64, e->attempts);
        if (e->error && e->error[0])
                g_string_append_printf(out, " %s: %s", e->error, e->message ?: "");
        else if (e->size > 0) {
                g_string_append_c(out, ' ');
                append_payload_text(out, e);
        }
        append_sender_painted(out, style, e->sender);
}

/**
 * format_event() - the line of a message, key change or (monitor) traffic event
 */
void format_event(const Event *e, const FormatStyle *style, GString *out) {
        if (style->template)
                cli_template_expand(style->template, e, out);
        else if (e->kind == EVENT_MESSAGE)
                format_message(e, style, out);
        else if (e->kind == EVENT_TRAFFIC)
                format_traffic(e, style, out);
        else
                format_key_changed(e, style, out);
}

/**
 * parse_color() - whether to colour standard output: --color=@mode (NULL:
 * auto), where auto means a terminal and no NO_COLOR in the environment
 *
 * Return: 0 and @ret, or 2 (message printed).
 */
int parse_color(const char *mode, bool *ret) {
        const char *no_color = g_getenv("NO_COLOR");

        if (!mode || g_str_equal(mode, "auto"))
                *ret = isatty(STDOUT_FILENO) && !(no_color && no_color[0]);
        else if (g_str_equal(mode, "always"))
                *ret = true;
        else if (g_str_equal(mode, "never"))
                *ret = false;
        else
                return usage_error(_("invalid value '%s' for --color: use auto, always or never"), mode);
        return 0;
}

/* ---- status ----------------------------------------------------------- */

typedef struct Count {
        char *name;
        uint64_t value;
} Count;

static void count_clear(void *p) {
        g_free(((Count *) p)->name);
}

static int count_compare(const void *a, const void *b) {
        return strcmp(((const Count *) a)->name, ((const Count *) b)->name);
}

/* A number of any width (in a variant or not); false when @v is none. */
static bool variant_u64(GVariant *v, uint64_t *ret) {
        g_autoptr(GVariant) inner = v && g_variant_is_of_type(v, G_VARIANT_TYPE_VARIANT) ?
                                    g_variant_get_variant(v) : NULL;

        if (inner)
                v = inner;
        if (!v)
                return false;
        if (g_variant_is_of_type(v, G_VARIANT_TYPE_UINT32))
                *ret = g_variant_get_uint32(v);
        else if (g_variant_is_of_type(v, G_VARIANT_TYPE_UINT64))
                *ret = g_variant_get_uint64(v);
        else
                return false;
        return true;
}

/**
 * info_u64() - the number @key of the a{sv} (or a{s*}) @info; 0 when it has none
 */
uint64_t info_u64(GVariant *info, const char *key) {
        g_autoptr(GVariant) v = g_variant_lookup_value(info, key, NULL);
        uint64_t n = 0;

        (void) variant_u64(v, &n);
        return n;
}

/* Entry @key of @info, a dictionary of numbers, sorted by name; NULL when there is none. */
static GArray *info_counts(GVariant *info, const char *key) {
        g_autoptr(GVariant) dict = g_variant_lookup_value(info, key, NULL);
        GArray *counts;

        if (!dict || !g_variant_is_of_type(dict, G_VARIANT_TYPE("a{s*}")))
                return NULL;
        counts = g_array_new(FALSE, TRUE, sizeof(Count));
        g_array_set_clear_func(counts, count_clear);
        for (gsize i = 0; i < g_variant_n_children(dict); i++) {
                g_autoptr(GVariant) entry = g_variant_get_child_value(dict, i);
                g_autoptr(GVariant) name = g_variant_get_child_value(entry, 0);
                g_autoptr(GVariant) value = g_variant_get_child_value(entry, 1);
                Count c = {};

                if (!variant_u64(value, &c.value))
                        continue;
                c.name = g_variant_dup_string(name, NULL);
                g_array_append_val(counts, c);
        }
        g_array_sort(counts, count_compare);
        return counts;
}

static void append_counts_json(GString *out, const char *name, GArray *counts) {
        json_append_name(out, name);
        g_string_append_c(out, '{');
        for (guint i = 0; counts && i < counts->len; i++) {
                const Count *c = &g_array_index(counts, Count, i);

                if (i > 0)
                        g_string_append_c(out, ',');
                json_write_cstr(out, c->name);
                g_string_append_printf(out, ":%" PRIu64, c->value);
        }
        g_string_append_c(out, '}');
}

/* The faces' own counters in hub.info (hub_add_info()), when the hub has them running. */
static const struct {
        const char *key, *label;
} face_counters[] = {
        { "jsonrpc", N_("JSON-RPC") },
        { "dbus", N_("D-Bus") },
};

static void print_status_json(GVariant *info) {
        static const char *const numbers[] = {
                "subscriptions", "topics", "keys", "messages_published", "messages_delivered",
                "messages_dropped", "store_changes",
        };
        g_autoptr(GString) out = g_string_new("{");
        g_autoptr(GVariant) queues = g_variant_lookup_value(info, "queues", NULL);
        g_autoptr(GArray) by_transport = info_counts(info, "clients_by_transport");
        g_autoptr(GArray) services = info_counts(info, "services");
        g_autoptr(GArray) limits = info_counts(info, "limits");
        const char *version = NULL;

        (void) g_variant_lookup(info, "version", "&s", &version);
        json_append_member(out, "version", version ?: "");
        json_append_u64(out, "start_time", info_u64(info, "start_time"));
        json_append_u64(out, "clients", info_u64(info, "clients"));
        append_counts_json(out, "clients_by_transport", by_transport);
        for (size_t i = 0; i < G_N_ELEMENTS(numbers); i++)
                json_append_u64(out, numbers[i], info_u64(info, numbers[i]));
        if (queues) {
                json_append_u64(out, "queues", info_u64(info, "queues"));
                json_append_u64(out, "pending_calls", info_u64(info, "pending_calls"));
                append_counts_json(out, "services", services);
        }
        append_counts_json(out, "limits", limits);
        for (size_t i = 0; i < G_N_ELEMENTS(face_counters); i++) {
                g_autoptr(GArray) counts = info_counts(info, face_counters[i].key);

                if (counts)
                        append_counts_json(out, face_counters[i].key, counts);
        }
        g_string_append_c(out, '}');
        print_line(out->str);
}

static void print_field(const char *label, int width, const char *value) {
        int len = (int) g_utf8_strlen(label, -1);

        if (value[0])
                printf("  %s:%*s %s\n", label, MAX(width - len, 0), "", value);
        else
                printf("  %s:\n", label);
}

/* A label over one "name value" line per count ("-" when there are none). */
static void print_counts(const char *label, int width, GArray *counts) {
        print_field(label, width, counts && counts->len > 0 ? "" : "-");
        for (guint i = 0; counts && i < counts->len; i++) {
                const Count *c = &g_array_index(counts, Count, i);

                printf("    %-24s %" PRIu64 "\n", c->name, c->value);
        }
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

static char *format_clients(GVariant *info) {
        g_autoptr(GArray) by = info_counts(info, "clients_by_transport");
        g_autoptr(GString) s = g_string_new(NULL);

        g_string_printf(s, "%" PRIu64, info_u64(info, "clients"));
        for (guint i = 0; by && i < by->len; i++)
                g_string_append_printf(s, "%s%s %" PRIu64, i > 0 ? ", " : " (", g_array_index(by, Count, i).name,
                                       g_array_index(by, Count, i).value);
        if (by && by->len > 0)
                g_string_append_c(s, ')');
        return g_string_free(g_steal_pointer(&s), FALSE);
}

static char *format_started(GVariant *info) {
        uint64_t start = info_u64(info, "start_time");
        int64_t now = g_get_real_time();
        g_autoptr(GDateTime) started = g_date_time_new_from_unix_local((gint64) (start / G_USEC_PER_SEC));
        g_autofree char *when = started ? g_date_time_format(started, "%Y-%m-%d %H:%M:%S %Z") : g_strdup("?");
        g_autofree char *uptime = format_uptime(now > (int64_t) start ?
                                                (uint64_t) (now - (int64_t) start) / G_USEC_PER_SEC : 0);

        return g_strdup_printf(_("%s (up %s)"), when, uptime);
}

/* "  Label:   N" for the number @key of @info. */
static void print_number(const char *label, int width, GVariant *info, const char *key) {
        g_autofree char *n = g_strdup_printf("%" PRIu64, info_u64(info, key));

        print_field(label, width, n);
}

static void print_status_text(GVariant *info) {
        const char *labels[] = {
                _("Started"), _("Clients"), _("Subscriptions"), _("Retained topics"), _("Keys"),
                _("Messages"), _("Store changes"), _("Limits"), _("Queues"), _("Pending calls"),
                _("Services"),
        };
        g_autoptr(GVariant) queues = g_variant_lookup_value(info, "queues", NULL);
        g_autoptr(GArray) services = info_counts(info, "services");
        g_autoptr(GArray) limits = info_counts(info, "limits");
        g_autofree char *started = format_started(info), *clients = format_clients(info), *messages = NULL;
        const char *version = NULL;
        int width = 0;

        for (size_t i = 0; i < G_N_ELEMENTS(labels); i++)
                width = MAX(width, (int) g_utf8_strlen(labels[i], -1));
        messages = g_strdup_printf(_("%" PRIu64 " published, %" PRIu64 " delivered, %" PRIu64 " dropped"),
                                   info_u64(info, "messages_published"), info_u64(info, "messages_delivered"),
                                   info_u64(info, "messages_dropped"));

        (void) g_variant_lookup(info, "version", "&s", &version);
        printf(_("switchboard hub %s\n"), version ?: "?");
        print_field(labels[0], width, started);
        print_field(labels[1], width, clients);
        print_number(labels[2], width, info, "subscriptions");
        print_number(labels[3], width, info, "topics");
        print_number(labels[4], width, info, "keys");
        print_field(labels[5], width, messages);
        print_number(labels[6], width, info, "store_changes");
        if (queues) {
                print_number(labels[8], width, info, "queues");
                print_number(labels[9], width, info, "pending_calls");
                print_counts(labels[10], width, services);
        }
        print_counts(labels[7], width, limits);
        /* The faces' own counters, when the hub has them running. */
        for (size_t i = 0; i < G_N_ELEMENTS(face_counters); i++) {
                g_autoptr(GArray) counts = info_counts(info, face_counters[i].key);

                if (counts)
                        print_counts(_(face_counters[i].label), width, counts);
        }
        fflush(stdout);
}

/**
 * print_status() - print what GetInfo / hub.info report (an a{sv} @info), as text or JSON
 */
void print_status(GVariant *info, bool json) {
        if (json)
                print_status_json(info);
        else
                print_status_text(info);
}
