/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli-top.c: `switchboard top`, a live view of the hub. Each refresh takes
 * one sample (GetInfo, ListClients, ListTopics, ListQueues, ListServices:
 * operations of the op table, over either backend) and turns two samples
 * into tables with rates: clients with who they are, topics by message
 * rate, queues by depth, served names with their reply latency, and the
 * hub's drops. On a terminal the tables fill the screen (plain ANSI
 * sequences: the alternate screen, cursor home, erase to end of line) and
 * the keys sort them; the terminal is restored on every way out, and a
 * SIGWINCH redraws at the new size. Elsewhere, or with --once, one snapshot
 * is printed as text or JSON, its rates measured over one interval.
 */

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gi18n.h>
#include <systemd/sd-event.h>

#include "clients/cli.h"
#include "proto/json-write.h"

typedef enum SortKey {
        SORT_RATE,
        SORT_TOTAL,
        SORT_DROPS,
        SORT_NAME,
        _SORT_MAX,
} SortKey;

static const char *const sort_names[_SORT_MAX] = { "rate", "total", "drops", "name" };

/* What the hub said at one moment. */
typedef struct Sample {
        int64_t time;                   /* monotonic usec */
        CliResult info, clients, topics, queues, services;
} Sample;

static void sample_clear(Sample *s) {
        cli_result_clear(&s->info);
        cli_result_clear(&s->clients);
        cli_result_clear(&s->topics);
        cli_result_clear(&s->queues);
        cli_result_clear(&s->services);
        s->time = 0;
}

#define MAX_COLUMNS 14

/* One row of a table: its cells, what it sorts by, and the same as a JSON object. */
typedef struct Line {
        char *cells[MAX_COLUMNS];
        double rate, total, drops;
        char *name;
        GString *json;
} Line;

static void line_free(Line *l) {
        for (unsigned i = 0; i < MAX_COLUMNS; i++)
                g_free(l->cells[i]);
        g_free(l->name);
        g_string_free(l->json, TRUE);
        g_free(l);
}

typedef struct Table {
        const char *title;              /* translated */
        const char *json_name;
        unsigned n_columns;
        const char *headers[MAX_COLUMNS];
        unsigned left;                  /* columns aligned left: the first n, the rest right */
        GPtrArray *lines;               /* Line* */
} Table;

typedef struct Top {
        Backend *backend;
        Sample samples[2];
        unsigned cur;                   /* samples[cur] is the latest; the other the one before */
        bool have_prev;
        SortKey sort;
        uint64_t interval;              /* usec */
        bool tty, color, json;
        sd_event *event;
        sd_event_source *timer;
        struct termios saved;
        bool raw;
        int rows, cols;
} Top;

/* ---- samples and rates ------------------------------------------------ */

static int sample_take(Top *t, Sample *s) {
        static const char *const members[] = { "GetInfo", "ListClients", "ListTopics", "ListQueues",
                                               "ListServices" };
        CliResult *into[] = { &s->info, &s->clients, &s->topics, &s->queues, &s->services };
        int r;

        sample_clear(s);
        for (size_t i = 0; i < G_N_ELEMENTS(members); i++) {
                r = backend_call(t->backend, members[i], &(OpArgs) {}, SUBJECT_KEY, NULL, into[i]);
                if (r != 0)
                        return r;
        }
        s->time = g_get_monotonic_time();
        return 0;
}

static Sample *sample_cur(Top *t) {
        return &t->samples[t->cur];
}

static Sample *sample_prev(Top *t) {
        return t->have_prev ? &t->samples[1 - t->cur] : NULL;
}

/* Per second, from @before to @now over the samples' distance; NAN without a sample before. */
static double rate(Top *t, bool have_before, uint64_t before, uint64_t now) {
        Sample *p = sample_prev(t);
        double dt;

        if (!p || !have_before)
                return NAN;
        dt = (double) (sample_cur(t)->time - p->time) / G_USEC_PER_SEC;
        return dt > 0 && now >= before ? (double) (now - before) / dt : 0;
}

static char *format_rate(double r) {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];

        if (isnan(r))
                return g_strdup("-");
        return g_strdup(g_ascii_formatd(buf, sizeof buf, r >= 100 ? "%.0f" : "%.1f", r));
}

static void json_rate(GString *out, const char *name, double r) {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];

        g_string_append_printf(out, ",\"%s\":%s", name,
                               isnan(r) ? "null" : g_ascii_formatd(buf, sizeof buf, "%.3f", r));
}

static char *format_usec(uint64_t usec) {
        if (usec < 1000)
                return g_strdup_printf("%" PRIu64 "µs", usec);
        if (usec < 10 * G_USEC_PER_SEC)
                return g_strdup_printf("%.1fms", (double) usec / 1000);
        return g_strdup_printf("%.1fs", (double) usec / G_USEC_PER_SEC);
}

static char *u64(uint64_t v) {
        return g_strdup_printf("%" PRIu64, v);
}

static Line *line_new(const char *name) {
        Line *l = g_new0(Line, 1);

        l->name = g_strdup(name);
        l->json = g_string_new("{");
        return l;
}

/* ---- the tables ---------------------------------------------------------- */

/* The rows of @a (elements of @size, NULL: none) by the string at @name_offset: a new table. */
static GHashTable *rows_by_name(GArray *a, size_t size, size_t name_offset) {
        GHashTable *t = g_hash_table_new(g_str_hash, g_str_equal);

        for (guint i = 0; a && i < a->len; i++) {
                char *row = a->data + i * size;

                g_hash_table_insert(t, *(char **) (row + name_offset), row);
        }
        return t;
}

static void table_init(Table *tb, const char *title, const char *json_name, unsigned left, unsigned n,
                       const char *const headers[]) {
        *tb = (Table) { .title = title, .json_name = json_name, .n_columns = n, .left = left };
        for (unsigned i = 0; i < n; i++)
                tb->headers[i] = headers[i];
        tb->lines = g_ptr_array_new_with_free_func((GDestroyNotify) line_free);
}

static void clients_table(Top *t, Table *tb) {
        static const char *const headers[] = { "ID", "TRANSPORT", "UID", "PID", "NAME", "SUBS", "WATCH", "RSRV",
                                               "SERVE", "PUB/s", "RECV/s", "PUB", "RECV", "DROP" };
        GArray *rows = sample_cur(t)->clients.out.clients;
        Sample *p = sample_prev(t);
        g_autoptr(GHashTable) before = g_hash_table_new(g_int64_hash, g_int64_equal);

        table_init(tb, _("Clients"), "clients", 5, G_N_ELEMENTS(headers), headers);
        for (guint i = 0; p && p->clients.out.clients && i < p->clients.out.clients->len; i++) {
                ClientRow *c = &g_array_index(p->clients.out.clients, ClientRow, i);

                g_hash_table_insert(before, &c->id, c);
        }
        for (guint i = 0; rows && i < rows->len; i++) {
                const ClientRow *c = &g_array_index(rows, ClientRow, i);
                const ClientRow *b = g_hash_table_lookup(before, &c->id);
                g_autofree char *name = g_strdup_printf("%s %020" PRIu64, c->transport, c->id);
                Line *l = line_new(name);
                double pub = rate(t, b, b ? b->published : 0, c->published);
                double recv = rate(t, b, b ? b->delivered : 0, c->delivered);

                l->cells[0] = u64(c->id);
                l->cells[1] = g_strdup(c->transport);
                l->cells[2] = c->uid == UINT32_MAX ? g_strdup("-") : u64(c->uid);
                l->cells[3] = c->pid == 0 ? g_strdup("-") : u64(c->pid);
                l->cells[4] = g_strdup(c->name[0] ? c->name : "-");
                l->cells[5] = u64(c->subscriptions);
                l->cells[6] = u64(c->watches);
                l->cells[7] = u64(c->reserved);
                l->cells[8] = u64(c->served);
                l->cells[9] = format_rate(pub);
                l->cells[10] = format_rate(recv);
                l->cells[11] = u64(c->published);
                l->cells[12] = u64(c->delivered);
                l->cells[13] = u64(c->dropped);
                l->rate = (isnan(pub) ? 0 : pub) + (isnan(recv) ? 0 : recv);
                l->total = (double) (c->published + c->delivered);
                l->drops = (double) c->dropped;

                json_append_u64(l->json, "id", c->id);
                json_append_member(l->json, "transport", c->transport);
                if (c->uid != UINT32_MAX)
                        json_append_u64(l->json, "uid", c->uid);
                if (c->pid != 0)
                        json_append_u64(l->json, "pid", c->pid);
                if (c->name[0])
                        json_append_member(l->json, "name", c->name);
                json_append_u64(l->json, "subscriptions", c->subscriptions);
                json_append_u64(l->json, "watches", c->watches);
                json_append_u64(l->json, "reserved", c->reserved);
                json_append_u64(l->json, "served", c->served);
                json_append_u64(l->json, "published", c->published);
                json_append_u64(l->json, "delivered", c->delivered);
                json_append_u64(l->json, "dropped", c->dropped);
                json_rate(l->json, "published_rate", pub);
                json_rate(l->json, "delivered_rate", recv);
                g_ptr_array_add(tb->lines, l);
        }
}

static void topics_table(Top *t, Table *tb) {
        static const char *const headers[] = { "TOPIC", "MSG/s", "BYTES/s", "DELIV/s", "MSGS", "BYTES", "DELIV",
                                               "LAST SEQ" };
        GArray *rows = sample_cur(t)->topics.out.topics;
        Sample *p = sample_prev(t);
        g_autoptr(GHashTable) before = rows_by_name(p ? p->topics.out.topics : NULL, sizeof(TopicRow),
                                                    offsetof(TopicRow, topic));

        table_init(tb, _("Topics"), "topics", 1, G_N_ELEMENTS(headers), headers);
        for (guint i = 0; rows && i < rows->len; i++) {
                const TopicRow *r = &g_array_index(rows, TopicRow, i);
                const TopicRow *b = g_hash_table_lookup(before, r->topic);
                Line *l = line_new(r->topic);
                double msgs = rate(t, p != NULL, b ? b->messages : 0, r->messages);
                double bytes = rate(t, p != NULL, b ? b->bytes : 0, r->bytes);
                double deliv = rate(t, p != NULL, b ? b->delivered : 0, r->delivered);

                l->cells[0] = g_strdup(r->topic);
                l->cells[1] = format_rate(msgs);
                l->cells[2] = format_rate(bytes);
                l->cells[3] = format_rate(deliv);
                l->cells[4] = u64(r->messages);
                l->cells[5] = u64(r->bytes);
                l->cells[6] = u64(r->delivered);
                l->cells[7] = u64(r->last_seq);
                l->rate = isnan(msgs) ? 0 : msgs;
                l->total = (double) r->messages;
                l->drops = l->total;

                json_append_member(l->json, "topic", r->topic);
                json_append_u64(l->json, "messages", r->messages);
                json_append_u64(l->json, "bytes", r->bytes);
                json_append_u64(l->json, "delivered", r->delivered);
                json_append_u64(l->json, "last_seq", r->last_seq);
                json_rate(l->json, "rate", msgs);
                json_rate(l->json, "bytes_rate", bytes);
                json_rate(l->json, "delivered_rate", deliv);
                g_ptr_array_add(tb->lines, l);
        }
}

static void queues_table(Top *t, Table *tb) {
        static const char *const headers[] = { "QUEUE", "READY", "RESERVED", "DELAYED", "DEAD", "WAITING" };
        GArray *rows = sample_cur(t)->queues.out.queues;

        table_init(tb, _("Queues"), "queues", 1, G_N_ELEMENTS(headers), headers);
        for (guint i = 0; rows && i < rows->len; i++) {
                const QueueInfo *q = &g_array_index(rows, QueueInfo, i);
                Line *l = line_new(q->name);

                l->cells[0] = g_strdup(q->name);
                l->cells[1] = u64(q->ready);
                l->cells[2] = u64(q->reserved);
                l->cells[3] = u64(q->delayed);
                l->cells[4] = u64(q->dead);
                l->cells[5] = u64(q->waiting);
                /* Queues have depths, not rates: "rate" sorts by what waits. */
                l->rate = l->total = (double) q->ready + q->reserved + q->delayed;
                l->drops = (double) q->dead;

                json_append_member(l->json, "name", q->name);
                json_append_u64(l->json, "ready", q->ready);
                json_append_u64(l->json, "reserved", q->reserved);
                json_append_u64(l->json, "delayed", q->delayed);
                json_append_u64(l->json, "dead", q->dead);
                json_append_u64(l->json, "waiting", q->waiting);
                g_ptr_array_add(tb->lines, l);
        }
}

static void services_table(Top *t, Table *tb) {
        static const char *const headers[] = { "NAME", "SERVERS", "PENDING", "CALLS/s", "CALLS", "ERRORS",
                                               "TIMEOUTS", "AVG", "MAX" };
        GArray *rows = sample_cur(t)->services.out.services;
        Sample *p = sample_prev(t);
        g_autoptr(GHashTable) before = rows_by_name(p ? p->services.out.services : NULL, sizeof(ServiceRow),
                                                    offsetof(ServiceRow, name));

        table_init(tb, _("Served names"), "services", 2, G_N_ELEMENTS(headers), headers);
        for (guint i = 0; rows && i < rows->len; i++) {
                const ServiceRow *r = &g_array_index(rows, ServiceRow, i);
                const ServiceRow *b = g_hash_table_lookup(before, r->name);
                g_auto(GStrv) ids = g_strsplit(r->servers, " ", -1);
                Line *l = line_new(r->name);
                double calls = rate(t, p != NULL, b ? b->calls : 0, r->calls);

                l->cells[0] = g_strdup(r->name);
                l->cells[1] = g_strdup(r->servers[0] ? r->servers : "-");
                l->cells[2] = u64(r->pending);
                l->cells[3] = format_rate(calls);
                l->cells[4] = u64(r->calls);
                l->cells[5] = u64(r->errors);
                l->cells[6] = u64(r->timeouts);
                l->cells[7] = format_usec(r->latency_avg);
                l->cells[8] = format_usec(r->latency_max);
                l->rate = isnan(calls) ? 0 : calls;
                l->total = (double) r->calls;
                l->drops = (double) (r->errors + r->timeouts);

                json_append_member(l->json, "name", r->name);
                g_string_append(l->json, ",\"servers\":[");
                for (size_t k = 0; ids[k] && ids[k][0]; k++)
                        g_string_append_printf(l->json, "%s%s", k ? "," : "", ids[k]);
                g_string_append_c(l->json, ']');
                json_append_u64(l->json, "pending", r->pending);
                json_append_u64(l->json, "calls", r->calls);
                json_append_u64(l->json, "errors", r->errors);
                json_append_u64(l->json, "timeouts", r->timeouts);
                json_append_u64(l->json, "latency_avg_us", r->latency_avg);
                json_append_u64(l->json, "latency_max_us", r->latency_max);
                json_rate(l->json, "rate", calls);
                g_ptr_array_add(tb->lines, l);
        }
}

static SortKey sort_key;

static int line_cmp(gconstpointer a, gconstpointer b) {
        const Line *x = *(Line *const *) a, *y = *(Line *const *) b;
        double dx, dy;

        switch (sort_key) {
        case SORT_RATE:
                dx = x->rate, dy = y->rate;
                break;
        case SORT_TOTAL:
                dx = x->total, dy = y->total;
                break;
        case SORT_DROPS:
                dx = x->drops, dy = y->drops;
                break;
        default:
                return strcmp(x->name, y->name);
        }
        /* Largest first; ties by name, so the order does not flicker. */
        if (dx != dy)
                return dx > dy ? -1 : 1;
        return strcmp(x->name, y->name);
}

static void tables_build(Top *t, Table tables[4]) {
        clients_table(t, &tables[0]);
        topics_table(t, &tables[1]);
        queues_table(t, &tables[2]);
        services_table(t, &tables[3]);
        sort_key = t->sort;
        for (unsigned i = 0; i < 4; i++)
                g_ptr_array_sort(tables[i].lines, line_cmp);
}

static void tables_clear(Table tables[4]) {
        for (unsigned i = 0; i < 4; i++)
                g_clear_pointer(&tables[i].lines, g_ptr_array_unref);
}

/* ---- text --------------------------------------------------------------- */

/* The header lines: the hub, its totals and rates, its drops. */
static void summary_lines(Top *t, GPtrArray *out) {
        GVariant *info = sample_cur(t)->info.out.info;
        Sample *p = sample_prev(t);
        GVariant *before = p ? p->info.out.info : NULL;
        g_autoptr(GVariant) dbus = g_variant_lookup_value(info, "dbus", NULL);
        g_autoptr(GVariant) jsonrpc = g_variant_lookup_value(info, "jsonrpc", NULL);
        g_autoptr(GHashTable) transports = g_hash_table_new(g_str_hash, g_str_equal);
        GArray *clients = sample_cur(t)->clients.out.clients;
        g_autoptr(GString) by = g_string_new(NULL);
        g_autofree char *pub = NULL, *deliv = NULL, *drop = NULL;
        const char *version = "?";
        GHashTableIter it;
        gpointer k, v;

        (void) g_variant_lookup(info, "version", "&s", &version);
        pub = format_rate(rate(t, before != NULL, before ? info_u64(before, "messages_published") : 0,
                               info_u64(info, "messages_published")));
        deliv = format_rate(rate(t, before != NULL, before ? info_u64(before, "messages_delivered") : 0,
                                 info_u64(info, "messages_delivered")));
        drop = format_rate(rate(t, before != NULL, before ? info_u64(before, "messages_dropped") : 0,
                                info_u64(info, "messages_dropped")));

        for (guint i = 0; clients && i < clients->len; i++) {
                const char *tr = g_array_index(clients, ClientRow, i).transport;

                g_hash_table_insert(transports, (gpointer) tr,
                                    GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(transports, tr)) + 1));
        }
        g_hash_table_iter_init(&it, transports);
        while (g_hash_table_iter_next(&it, &k, &v))
                g_string_append_printf(by, "%s%s %u", by->len ? ", " : "", (const char *) k, GPOINTER_TO_UINT(v));

        g_ptr_array_add(out, g_strdup_printf(_("switchboard hub %s: %u clients (%s), sort: %s"), version,
                                             clients ? clients->len : 0, by->len ? by->str : "-",
                                             sort_names[t->sort]));
        g_ptr_array_add(out, g_strdup_printf(_("Messages: %" PRIu64 " published (%s/s), %" PRIu64 " delivered "
                                               "(%s/s), %" PRIu64 " dropped (%s/s)"),
                                             info_u64(info, "messages_published"), pub,
                                             info_u64(info, "messages_delivered"), deliv,
                                             info_u64(info, "messages_dropped"), drop));
        g_ptr_array_add(out, g_strdup_printf(_("Drops: %" PRIu64 " messages and events (each announced by a gap "
                                               "notice), %" PRIu64 " D-Bus broadcasts, %" PRIu64 " slow clients "
                                               "disconnected, %" PRIu64 " late replies"),
                                             info_u64(info, "messages_dropped"),
                                             dbus ? info_u64(dbus, "broadcast_dropped") : 0,
                                             jsonrpc ? info_u64(jsonrpc, "slow_disconnects") : 0,
                                             info_u64(info, "late_replies")));
}

/* @tb as lines of text under its title, at most @max_lines of them (0: all). */
static void table_lines(const Table *tb, unsigned max_lines, GPtrArray *out) {
        int width[MAX_COLUMNS];
        g_autoptr(GString) s = g_string_new(NULL);
        unsigned n = tb->lines->len;

        if (max_lines > 0 && n > max_lines)
                n = max_lines;
        for (unsigned c = 0; c < tb->n_columns; c++) {
                width[c] = (int) g_utf8_strlen(tb->headers[c], -1);
                for (unsigned i = 0; i < n; i++) {
                        const Line *l = tb->lines->pdata[i];

                        width[c] = MAX(width[c], (int) g_utf8_strlen(l->cells[c], -1));
                }
        }
        g_ptr_array_add(out, g_strdup_printf("%s (%u)", tb->title, tb->lines->len));
        for (int i = -1; i < (int) n; i++) {
                g_string_truncate(s, 0);
                for (unsigned c = 0; c < tb->n_columns; c++) {
                        const char *cell = i < 0 ? tb->headers[c] : ((const Line *) tb->lines->pdata[i])->cells[c];
                        int pad = width[c] - (int) g_utf8_strlen(cell, -1);

                        if (c > 0)
                                g_string_append(s, "  ");
                        if (c >= tb->left)
                                g_string_append_printf(s, "%*s", pad, "");
                        g_string_append(s, cell);
                        if (c < tb->left && c + 1 < tb->n_columns)
                                g_string_append_printf(s, "%*s", pad, "");
                }
                g_ptr_array_add(out, g_strdup_printf("  %s", s->str));
        }
        if (n < tb->lines->len)
                g_ptr_array_add(out, g_strdup_printf(_("  … %u more"), tb->lines->len - n));
}

static void print_json(Top *t, Table tables[4]) {
        GVariant *info = sample_cur(t)->info.out.info;
        Sample *p = sample_prev(t);
        GVariant *before = p ? p->info.out.info : NULL;
        static const char *const counters[] = { "messages_published", "messages_delivered", "messages_dropped",
                                                "late_replies" };
        g_autoptr(GString) out = g_string_new("{");
        const char *version = "";

        (void) g_variant_lookup(info, "version", "&s", &version);
        json_append_member(out, "version", version);
        json_rate(out, "interval", (double) t->interval / G_USEC_PER_SEC);
        json_append_member(out, "sort", sort_names[t->sort]);
        for (size_t i = 0; i < G_N_ELEMENTS(counters); i++) {
                g_autofree char *name = g_strconcat(counters[i], "_rate", NULL);

                json_append_u64(out, counters[i], info_u64(info, counters[i]));
                json_rate(out, name, rate(t, before != NULL, before ? info_u64(before, counters[i]) : 0,
                                          info_u64(info, counters[i])));
        }
        for (unsigned i = 0; i < 4; i++) {
                g_string_append_printf(out, ",\"%s\":[", tables[i].json_name);
                for (guint k = 0; k < tables[i].lines->len; k++) {
                        const Line *l = tables[i].lines->pdata[k];

                        g_string_append_printf(out, "%s%s}", k ? "," : "", l->json->str);
                }
                g_string_append_c(out, ']');
        }
        g_string_append_c(out, '}');
        print_line(out->str);
}

static void print_text(Top *t, Table tables[4]) {
        g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);

        summary_lines(t, lines);
        for (unsigned i = 0; i < 4; i++) {
                g_ptr_array_add(lines, g_strdup(""));
                table_lines(&tables[i], 0, lines);
        }
        for (guint i = 0; i < lines->len; i++)
                puts(lines->pdata[i]);
        fflush(stdout);
}

/* ---- the terminal ------------------------------------------------------- */

#define CSI "\033["

static void term_size(Top *t) {
        struct winsize ws;

        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) >= 0 && ws.ws_row > 0 && ws.ws_col > 0) {
                t->rows = ws.ws_row;
                t->cols = ws.ws_col;
        } else {
                t->rows = 24;
                t->cols = 80;
        }
}

static void term_enter(Top *t) {
        struct termios raw;

        if (tcgetattr(STDIN_FILENO, &t->saved) >= 0) {
                raw = t->saved;
                /* Keys one at a time and not echoed; Ctrl-C still a signal. */
                raw.c_lflag &= ~(tcflag_t) (ICANON | ECHO);
                raw.c_cc[VMIN] = 1;
                raw.c_cc[VTIME] = 0;
                t->raw = tcsetattr(STDIN_FILENO, TCSANOW, &raw) >= 0;
        }
        /* The alternate screen, cursor hidden. */
        fputs(CSI "?1049h" CSI "?25l" CSI "H" CSI "2J", stdout);
        fflush(stdout);
}

static void term_leave(Top *t) {
        fputs(CSI "0m" CSI "?25h" CSI "?1049l", stdout);
        fflush(stdout);
        if (t->raw)
                (void) tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
        t->raw = false;
}

/* Cut @s to @cols characters on the screen. */
static void put_cut(GString *out, const char *s, int cols) {
        long n = g_utf8_strlen(s, -1);

        if (n <= cols)
                g_string_append(out, s);
        else
                g_string_append_len(out, s, g_utf8_offset_to_pointer(s, cols) - s);
}

static void draw(Top *t, Table tables[4]) {
        g_autoptr(GPtrArray) head = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GString) out = g_string_new(CSI "H");
        int body = MAX(t->rows - 4, 4), per_table = 0, row = 0;

        summary_lines(t, head);
        /* Share the screen: four tables, each a title, a header and its rows. */
        per_table = MAX((body - 4 * 3) / 4, 1);
        for (unsigned i = 0; i < 4; i++) {
                g_ptr_array_add(lines, g_strdup(""));
                table_lines(&tables[i], (unsigned) per_table, lines);
        }

        for (guint i = 0; i < head->len && row < t->rows - 1; i++, row++) {
                g_string_append(out, i == 0 ? CSI "7m" : "");
                put_cut(out, head->pdata[i], t->cols);
                g_string_append(out, i == 0 ? CSI "0m" CSI "K\r\n" : CSI "K\r\n");
        }
        for (guint i = 0; i < lines->len && row < t->rows - 1; i++, row++) {
                const char *l = lines->pdata[i];
                bool title = l[0] && l[0] != ' ';

                if (title)
                        g_string_append(out, CSI "1m");
                else if (t->color && g_str_has_prefix(l, "  ") && i + 1 < lines->len && l[2] >= 'A' && l[2] <= 'Z')
                        g_string_append(out, CSI "36m");       /* column headers in cyan */
                put_cut(out, l, t->cols);
                g_string_append(out, title || t->color ? CSI "0m" CSI "K\r\n" : CSI "K\r\n");
        }
        g_string_append(out, CSI "J");
        /* The last line: what the keys do. */
        g_string_append_printf(out, CSI "%d;1H" CSI "7m", t->rows);
        put_cut(out, _("q quit  r rate  t total  d drops  n name  s next sort"), t->cols);
        g_string_append(out, CSI "0m" CSI "K");
        fwrite(out->str, 1, out->len, stdout);
        fflush(stdout);
}

/* ---- the loop ----------------------------------------------------------- */

static void show(Top *t) {
        Table tables[4];

        tables_build(t, tables);
        if (t->tty)
                draw(t, tables);
        else if (t->json)
                print_json(t, tables);
        else
                print_text(t, tables);
        tables_clear(tables);
}

static int refresh(Top *t) {
        unsigned next = t->samples[t->cur].time ? 1 - t->cur : t->cur;
        int r;

        t->have_prev = next != t->cur;
        r = sample_take(t, &t->samples[next]);
        if (r != 0)
                return r;
        t->cur = next;
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Top *t = userdata;
        int r;

        r = refresh(t);
        if (r != 0)
                return sd_event_exit(t->event, r);
        show(t);
        (void) sd_event_source_set_time(s, usec + t->interval);
        return 0;
}

static int on_key(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Top *t = userdata;
        char keys[32];
        ssize_t n = read(fd, keys, sizeof keys);

        if (n <= 0)
                return sd_event_exit(t->event, SB_EXIT_OK);
        for (ssize_t i = 0; i < n; i++)
                switch (keys[i]) {
                case 'q':
                case 'Q':
                        return sd_event_exit(t->event, SB_EXIT_OK);
                case 'r':
                        t->sort = SORT_RATE;
                        break;
                case 't':
                        t->sort = SORT_TOTAL;
                        break;
                case 'd':
                        t->sort = SORT_DROPS;
                        break;
                case 'n':
                        t->sort = SORT_NAME;
                        break;
                case 's':
                        t->sort = (t->sort + 1) % _SORT_MAX;
                        break;
                default:
                        break;
                }
        show(t);
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Top *t = userdata;

        if (si->ssi_signo == SIGWINCH) {
                term_size(t);
                fputs(CSI "2J", stdout);
                show(t);
                return 0;
        }
        return sd_event_exit(t->event, SB_EXIT_OK);
}

static int run_live(Top *t) {
        sigset_t mask;
        int r, code = SB_EXIT_OK;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGWINCH);
        sigaddset(&mask, SIGHUP);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&t->event);
        if (r >= 0)
                r = sd_event_add_signal(t->event, NULL, SIGINT, on_signal, t);
        if (r >= 0)
                r = sd_event_add_signal(t->event, NULL, SIGTERM, on_signal, t);
        if (r >= 0)
                r = sd_event_add_signal(t->event, NULL, SIGHUP, on_signal, t);
        if (r >= 0)
                r = sd_event_add_signal(t->event, NULL, SIGWINCH, on_signal, t);
        if (r >= 0)
                r = sd_event_add_io(t->event, NULL, STDIN_FILENO, EPOLLIN, on_key, t);
        if (r >= 0)
                r = sd_event_add_time_relative(t->event, &t->timer, CLOCK_MONOTONIC, t->interval, 1000, on_timer, t);
        if (r >= 0)
                r = sd_event_source_set_enabled(t->timer, SD_EVENT_ON);
        if (r < 0) {
                fprintf(stderr, _("switchboard: cannot set up the event loop: %s\n"), g_strerror(-r));
                return SB_EXIT_UNREACHABLE;
        }

        term_size(t);
        term_enter(t);
        show(t);
        r = sd_event_loop(t->event);
        term_leave(t);
        if (r < 0) {
                fprintf(stderr, _("switchboard: the event loop failed: %s\n"), g_strerror(-r));
                code = SB_EXIT_HUB_ERROR;
        } else
                code = r;
        if (code != SB_EXIT_OK)
                fprintf(stderr, _("switchboard: top stopped: the hub did not answer (see above)\n"));
        t->timer = sd_event_source_disable_unref(t->timer);
        t->event = sd_event_unref(t->event);
        return code;
}

static int parse_interval(uint64_t *ret) {
        const char *s = arg.interval;
        char *end = NULL;
        double v;

        *ret = G_USEC_PER_SEC;
        if (!s)
                return 0;
        v = g_ascii_strtod(s, &end);
        if (!end || end == s || *end || !isfinite(v) || v < 0.1 || v > 3600)
                return usage_error(_("invalid number '%s' for --interval: expected seconds from 0.1 to 3600"), s);
        *ret = (uint64_t) (v * G_USEC_PER_SEC);
        return 0;
}

static int parse_sort(SortKey *ret) {
        *ret = SORT_RATE;
        if (!arg.sort)
                return 0;
        for (int i = 0; i < _SORT_MAX; i++)
                if (g_str_equal(arg.sort, sort_names[i])) {
                        *ret = i;
                        return 0;
                }
        return usage_error(_("invalid value '%s' for --sort: use rate, total, drops or name"), arg.sort);
}

/**
 * run_top() - `top [--interval S] [--sort KEY] [--once] [--json]`
 */
int run_top(char **args, int n_args) {
        g_autoptr(Backend) b = NULL;
        Top t = {};
        int r;

        r = parse_interval(&t.interval);
        if (r == 0)
                r = parse_sort(&t.sort);
        if (r != 0)
                return r;
        t.json = arg.json;
        t.tty = !arg.once && !arg.json && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
        r = parse_color(NULL, &t.color);
        if (r == 0)
                r = connect_hub(&b);
        if (r != 0)
                return r;
        t.backend = b;

        r = refresh(&t);
        if (r == 0 && t.tty)
                r = run_live(&t);
        else if (r == 0) {
                /* One snapshot, its rates over one interval. */
                g_usleep(t.interval);
                r = refresh(&t);
                if (r == 0)
                        show(&t);
        }
        sample_clear(&t.samples[0]);
        sample_clear(&t.samples[1]);
        return r;
}
