/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bridge.c: switchboard-bridge's work. One libswitchboard client of the
 * hub (single-threaded: used only from the sd-event loop) and one libnats
 * connection whose socket is on the same loop (bridge-natsio.c). Messages
 * of import patterns and requests to imported names wait in synchronous
 * subscriptions that the loop empties after each read. What libnats hands
 * its own threads (replies to calls out, connection events) never touches
 * the hub client: it goes on a queue, and an eventfd wakes the loop.
 *
 *   hub → NATS (export)   a subscription per export pattern; each message
 *                         is published as export-prefix + topic with the
 *                         headers below, unless the bridge published it
 *                         itself (it came from NATS: sender.client is ours).
 *   NATS → hub (import)   a NATS subscription per import pattern; each
 *                         message is published into the hub as the topic
 *                         (import-prefix stripped), unless its
 *                         Switchboard-Origin is this bridge.
 *   calls out             each export-services name is served on the hub;
 *                         a call becomes a NATS request to service-prefix +
 *                         name whose reply subject names the hub's call id.
 *   calls in              a NATS queue subscription (group
 *                         "switchboard-bridge") per import-services name; a
 *                         request becomes a hub call, its answer the reply.
 *
 * Headers of an exported message: Switchboard-Origin (the bridge's name),
 * Switchboard-Seq (the hub's sequence number), Switchboard-Topic-Seq (1, 2,
 * ... per topic from this bridge: an importer that sees a number jump knows
 * how many messages it never got, and drops a number it has seen), and
 * Switchboard-Sender ("unix client=7 uid=1000 pid=42"). Loss is never
 * silent: it is counted, logged and published into the hub as a notice on
 * switchboard.bridge.gap.TOPIC; connection changes go to
 * switchboard.bridge.status (docs/bridge.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <glib.h>
#include <nats/nats.h>
#include <switchboard/sd-event.h>
#include <switchboard/switchboard.h>

#include "bridge/bridge.h"
#include "bridge/bridge-natsio.h"
#include "proto/json-write.h"
#include "proto/json.h"
#include "proto/utf8.h"
#include "util/log.h"
#include "util/sd-glue.h"

#define HDR_ORIGIN "Switchboard-Origin"
#define HDR_SEQ "Switchboard-Seq"
#define HDR_TOPIC_SEQ "Switchboard-Topic-Seq"
#define HDR_SENDER "Switchboard-Sender"
#define HDR_ERROR "Switchboard-Error"
#define STATUS_TOPIC "switchboard.bridge.status"
#define GAP_TOPIC_PREFIX "switchboard.bridge.gap."
/* On NATS (after the export or import prefix): what an exporting bridge's hub
 * dropped before the bridge saw it, topics unknown; and where an importing
 * bridge's hub gets that notice. */
#define GAP_SUBJECT "switchboard.bridge.gap"
#define GAP_UNKNOWN_TOPIC GAP_TOPIC_PREFIX "_unknown"
#define QUEUE_GROUP "switchboard-bridge"
#define ERROR_NO_SERVER "org.switchboard.Hub1.Error.NoServer"

/* What a libnats thread hands the loop. */
typedef enum InboundKind {
        INBOUND_MESSAGE,        /* an import subscription's message */
        INBOUND_REQUEST,        /* a request to an import-services name */
        INBOUND_REPLY,          /* a NATS responder's answer to a hub call */
        INBOUND_GAP,            /* another bridge's hub dropped messages before they reached NATS */
        INBOUND_DISCONNECTED,
        INBOUND_RECONNECTED,
        INBOUND_CLOSED,
} InboundKind;

typedef struct SyncSub {
        natsSubscription *sub;          /* in Bridge.subs */
        InboundKind kind;
} SyncSub;

/* An export pattern's subscribe ring, read on the loop: when the loop has emptied it
 * (sb_ring_arm()), the hub writes the ring's eventfd on its next record. */
typedef struct ExportRing {
        Bridge *b;
        sb_ring *ring;
        sd_event_source *io;            /* on sb_ring_event_fd() */
} ExportRing;

typedef struct Inbound {
        InboundKind kind;
        natsMsg *msg;           /* owned; NULL for connection events */
        int64_t when;           /* g_get_monotonic_time() */
} Inbound;

struct Bridge {
        BridgeConfig *config;
        sd_event *event;
        BridgeCounters counters;

        sb_client *hub;
        uint64_t self_id;               /* our client id on the hub */
        uint64_t last_exported_seq;     /* two export patterns match one message: send it once */
        sb_sd_event *hub_glue;          /* the hub's socket on our loop */

        natsConnection *nc;
        NatsIo *natsio;                 /* its socket on our loop */
        GPtrArray *subs;                /* natsSubscription* */
        GArray *sync_subs;              /* SyncSub: emptied by the loop */
        char *reply_prefix;             /* "_INBOX.<nuid>": replies to calls out */

        GAsyncQueue *inbound;           /* Inbound*, from libnats threads */
        atomic_int_fast64_t n_inbound;  /* how many wait in it (for a moment -1: popped before counted) */
        atomic_uint_fast64_t overflow;  /* replies dropped because max-pending were waiting */
        int efd;
        sd_event_source *efd_io;

        /* Shared-memory rings ([bridge] hub-rings): export patterns' subscribe rings, each
         * read on the loop, and one publish ring for everything imported. NULL/empty: the
         * socket. */
        GPtrArray *export_rings;        /* ExportRing* */
        sb_ring *import_ring;
        GString *topic_buf;             /* a ring message's topic, NUL-terminated */

        GPtrArray *retired;             /* natsMsg* done with, destroyed in batches (msg_retire()) */
        size_t retired_bytes;
        sd_event_source *retired_timer;

        GHashTable *export_seq;         /* topic → uint64_t* last Switchboard-Topic-Seq sent */
        GHashTable *import_seq;         /* "origin\nsubject" → uint64_t* last seen */
        int64_t disconnected_at;        /* monotonic µs, 0 while connected */
};

static void inbound_free(Inbound *in) {
        natsMsg_Destroy(in->msg);
        g_free(in);
}

const BridgeCounters *bridge_counters(const Bridge *b) {
        return &b->counters;
}

/*
 * natsMsg_Destroy() hands a message to libnats' garbage-collector thread and
 * wakes that thread whenever it sleeps: with one message in flight, a futex
 * wake-up and another thread on a CPU per message, before the message had
 * even left. The messages the loop is done with wait here instead and go in
 * batches: at RETIRED_MAX messages or RETIRED_BYTES, or RETIRED_DELAY after
 * the first.
 */
#define RETIRED_MAX 256
#define RETIRED_BYTES ((size_t) 1024 * 1024)
#define RETIRED_DELAY_USEC ((uint64_t) 100 * 1000)

static void retired_free(Bridge *b) {
        for (guint i = 0; i < b->retired->len; i++)
                natsMsg_Destroy(b->retired->pdata[i]);
        g_ptr_array_set_size(b->retired, 0);
        b->retired_bytes = 0;
}

static int on_retired_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        retired_free(userdata);
        return 0;
}

static void msg_retire(Bridge *b, natsMsg *m) {
        if (!m)
                return;
        g_ptr_array_add(b->retired, m);
        b->retired_bytes += (size_t) natsMsg_GetDataLength(m);
        if (b->retired->len >= RETIRED_MAX || b->retired_bytes >= RETIRED_BYTES)
                retired_free(b);
        else if (b->retired->len == 1) {
                (void) sd_event_source_set_time_relative(b->retired_timer, RETIRED_DELAY_USEC);
                (void) sd_event_source_set_enabled(b->retired_timer, SD_EVENT_ONESHOT);
        }
}

/* ---- libnats threads: hand over to the loop ---------------------------- */

static void inbound_push(Bridge *b, InboundKind kind, natsMsg *msg) {
        Inbound *in;
        uint64_t one = 1;

        if (msg && atomic_load(&b->n_inbound) >= (int64_t) b->config->max_pending) {
                /* The hub side is behind; the topic sequence tells the loop which topics lost what. */
                natsMsg_Destroy(msg);
                atomic_fetch_add(&b->overflow, 1);
                return;
        }
        in = g_new0(Inbound, 1);
        in->kind = kind;
        in->msg = msg;
        in->when = g_get_monotonic_time();
        /* One wake-up per batch, not per message: pushed first, counted second, so a
         * count found at 0 means the loop may have seen the queue empty and stopped,
         * and any other count means it has yet to pop again (on_inbound()). */
        g_async_queue_push(b->inbound, in);
        if (atomic_fetch_add(&b->n_inbound, 1) == 0)
                (void) !write(b->efd, &one, sizeof(one));
}

/* natsio wants the loop: the eventfd is readable until on_inbound() reads it. */
static void natsio_wake(void *userdata) {
        Bridge *b = userdata;
        uint64_t one = 1;

        (void) !write(b->efd, &one, sizeof(one));
}

static void on_nats_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *userdata) {
        inbound_push(userdata, INBOUND_REPLY, msg);
}

static void on_nats_disconnected(natsConnection *nc, void *userdata) {
        inbound_push(userdata, INBOUND_DISCONNECTED, NULL);
}

static void on_nats_reconnected(natsConnection *nc, void *userdata) {
        inbound_push(userdata, INBOUND_RECONNECTED, NULL);
}

static void on_nats_closed(natsConnection *nc, void *userdata) {
        inbound_push(userdata, INBOUND_CLOSED, NULL);
}

static void on_nats_error(natsConnection *nc, natsSubscription *sub, natsStatus s, void *userdata) {
        /* Slow consumer: libnats dropped messages of @sub; the topic sequence finds them too. */
        log_warning("NATS: %s", natsStatus_GetText(s));
}

/* ---- notices into the hub --------------------------------------------- */

static void status_append_counters(Bridge *b, GString *s) {
        const BridgeCounters *c = &b->counters;

        g_string_append_printf(s, ",\"exported\":%" PRIu64 ",\"export_failed\":%" PRIu64
                               ",\"imported\":%" PRIu64 ",\"import_lost\":%" PRIu64
                               ",\"import_overflow\":%" PRIu64 ",\"duplicates\":%" PRIu64
                               ",\"loops\":%" PRIu64,
                               c->exported, c->export_failed, c->imported, c->import_lost,
                               c->import_overflow, c->duplicates, c->loops);
}

/* Publish a switchboard.bridge.status notice: {"bridge", "event", ...counters}. */
static int status_publish(Bridge *b, const char *event, const char *extra_json, uint64_t *ret_seq) {
        g_autoptr(GString) s = g_string_new("{\"bridge\":");

        json_write_cstr(s, b->config->name);
        g_string_append(s, ",\"event\":");
        json_write_cstr(s, event);
        if (extra_json)
                g_string_append_printf(s, ",%s", extra_json);
        status_append_counters(b, s);
        g_string_append_c(s, '}');
        return sb_publish(b->hub, STATUS_TOPIC, s->str, s->len, ret_seq ? 0 : SB_NO_REPLY, ret_seq);
}

static void on_report_gap(sb_client *c, int error, const char *result, size_t size, void *userdata) {
        if (error < 0)
                log_warning_errno(error, "The hub refused report_gap: %s", sb_error_message(c));
}

/* Tell the hub's subscribers that @n messages of @topic from @origin never arrived:
 * report_gap gives each subscription of the topic a gap notice, before the next
 * message (one connection keeps the order), and a notice on GAP_TOPIC_PREFIX.TOPIC
 * says from where and why. */
static void gap_publish(Bridge *b, const char *topic, const char *origin, uint64_t first, uint64_t last,
                        const char *reason) {
        g_autoptr(GString) s = g_string_new("{\"bridge\":");
        g_autofree char *gap_topic = g_strconcat(GAP_TOPIC_PREFIX, topic, NULL);
        int r;

        json_write_cstr(s, b->config->name);
        g_string_append(s, ",\"topic\":");
        json_write_cstr(s, topic);
        g_string_append(s, ",\"origin\":");
        json_write_cstr(s, origin ? origin : "");
        g_string_append_printf(s, ",\"first\":%" PRIu64 ",\"last\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"reason\":",
                               first, last, last - first + 1);
        json_write_cstr(s, reason);
        g_string_append_c(s, '}');
        log_warning("Lost %" PRIu64 " message(s) of '%s' from %s (topic seq %" PRIu64 "..%" PRIu64 "): %s.",
                    last - first + 1, topic, origin ? origin : "?", first, last, reason);
        r = sb_publish(b->hub, gap_topic, s->str, s->len, SB_NO_REPLY, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to publish the gap notice of '%s': %m", topic);

        g_string_assign(s, "{\"topic\":");
        json_write_cstr(s, topic);
        g_string_append_printf(s, ",\"count\":%" PRIu64 "}", MIN(last - first + 1, (uint64_t) 65536));
        if (b->import_ring) {
                /* Messages go through the ring, report_gap through the socket: the hub must
                 * have taken every message before the gap first, and have numbered the gap
                 * before the next message goes into the ring. */
                sb_ring_flush(b->import_ring);
                r = sb_ring_wait_drained(b->import_ring, 5000);
                if (r < 0)
                        log_warning_errno(r, "The hub did not take the imported messages in time: %m");
                r = sb_request(b->hub, "report_gap", s->str, NULL);
                if (r < 0)
                        log_warning_errno(r, "The hub refused report_gap: %s", sb_error_message(b->hub));
                return;
        }
        r = sb_request_async(b->hub, "report_gap", s->str, on_report_gap, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to report the gap of '%s' to the hub: %m", topic);
}

/* ---- hub → NATS ------------------------------------------------------- */

static void header_set_u64(natsMsg *m, const char *key, uint64_t v) {
        char buf[JSON_U64_MAX + 1];

        buf[json_format_u64(buf, v)] = '\0';
        (void) natsMsgHeader_Set(m, key, buf);
}

static void header_set_sender(natsMsg *m, const sb_sender *s) {
        g_autoptr(GString) v = NULL;

        if (!s)
                return;
        v = g_string_new(s->transport ? s->transport : "unknown");
        if (s->client)
                g_string_append_printf(v, " client=%" PRIu64, s->client);
        if (s->uid >= 0)
                g_string_append_printf(v, " uid=%" PRIi64, s->uid);
        if (s->pid >= 0)
                g_string_append_printf(v, " pid=%" PRIi64, s->pid);
        if (s->name)
                g_string_append_printf(v, " name=%s", s->name);
        if (s->address)
                g_string_append_printf(v, " address=%s", s->address);
        (void) natsMsgHeader_Set(m, HDR_SENDER, v->str);
}

static uint64_t *seq_slot(GHashTable *table, const char *key) {
        uint64_t *slot = g_hash_table_lookup(table, key);

        if (!slot) {
                slot = g_new0(uint64_t, 1);
                g_hash_table_insert(table, g_strdup(key), slot);
        }
        return slot;
}

/* Publish hub message @seq of @topic to NATS; @sender NULL when not known (rings). */
static void export_publish(Bridge *b, const char *topic, const void *data, size_t size, uint64_t seq,
                           const sb_sender *sender) {
        g_autofree char *subject = g_strconcat(b->config->export_prefix, topic, NULL);
        uint64_t *topic_seq;
        natsMsg *m = NULL;
        natsStatus s;

        /* Numbered even when libnats refuses it: the importer then sees the gap. */
        topic_seq = seq_slot(b->export_seq, topic);
        (*topic_seq)++;
        s = natsMsg_Create(&m, subject, NULL, data, (int) size);
        if (s == NATS_OK) {
                (void) natsMsgHeader_Set(m, HDR_ORIGIN, b->config->name);
                header_set_u64(m, HDR_SEQ, seq);
                header_set_u64(m, HDR_TOPIC_SEQ, *topic_seq);
                header_set_sender(m, sender);
                s = natsConnection_PublishMsg(b->nc, m);
        }
        msg_retire(b, m);
        if (s != NATS_OK) {
                if (b->counters.export_failed++ == 0 || b->config->verbose)
                        log_warning("Failed to publish '%s' (seq %" PRIu64 ") to NATS: %s; counting "
                                    "such losses in export_failed.", subject, seq, natsStatus_GetText(s));
                return;
        }
        b->counters.exported++;
        if (b->config->verbose)
                log_info("hub → NATS: %s (seq %" PRIu64 ", topic seq %" PRIu64 ")", subject, seq, *topic_seq);
}

static void export_message(Bridge *b, const sb_event *e) {
        if (e->seq == b->last_exported_seq)
                return;                 /* the same message through a second export pattern */
        b->last_exported_seq = e->seq;
        if (e->sender && e->sender->client == b->self_id) {
                b->counters.loops++;    /* we published it: it came from NATS */
                return;
        }
        export_publish(b, e->topic, e->data, e->size, e->seq, e->sender);
}

/* {"bridge", "first_seq", "last_seq", "lost", "reason"} on export-prefix + GAP_SUBJECT. */
static void export_gap(Bridge *b, uint64_t first_seq, uint64_t last_seq) {
        g_autofree char *subject = g_strconcat(b->config->export_prefix, GAP_SUBJECT, NULL);
        g_autoptr(GString) s = g_string_new("{\"bridge\":");
        natsMsg *m = NULL;
        natsStatus st;

        json_write_cstr(s, b->config->name);
        g_string_append_printf(s, ",\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64 ",\"lost\":%" PRIu64
                               ",\"reason\":\"the exporting hub dropped them for its bridge (it fell behind); "
                               "topics unknown\"}", first_seq, last_seq, last_seq - first_seq + 1);
        st = natsMsg_Create(&m, subject, NULL, s->str, (int) s->len);
        if (st == NATS_OK) {
                (void) natsMsgHeader_Set(m, HDR_ORIGIN, b->config->name);
                st = natsConnection_PublishMsg(b->nc, m);
        }
        natsMsg_Destroy(m);
        if (st != NATS_OK)
                log_warning("Failed to publish the gap notice to NATS: %s", natsStatus_GetText(st));
}

/* The hub dropped messages for us (our output buffer or ring was full): they have no
 * topic numbers, so importers cannot see the jump; tell them on NATS. */
static void hub_gap(Bridge *b, uint64_t first_seq, uint64_t last_seq, const char *what, uint64_t id) {
        b->counters.hub_gaps += last_seq - first_seq + 1;
        log_warning("The hub dropped messages %" PRIu64 "..%" PRIu64 " for export %s %" PRIu64
                    " (the bridge fell behind); they did not reach NATS.", first_seq, last_seq, what, id);
        export_gap(b, first_seq, last_seq);
}

static void on_hub_message(sb_client *c, const sb_event *e, void *userdata) {
        Bridge *b = userdata;

        switch (e->kind) {
        case SB_EVENT_MESSAGE:
                if (!e->retained)
                        export_message(b, e);
                break;
        case SB_EVENT_GAP:
                hub_gap(b, e->first_seq, e->last_seq, "subscription", e->id);
                break;
        default:
                break;
        }
}

/* A call to an export-services name: a NATS request whose reply subject carries the call id. */
static void on_hub_request(sb_client *c, const sb_event *e, void *userdata) {
        Bridge *b = userdata;
        g_autofree char *subject = NULL, *reply = NULL;
        natsMsg *m = NULL;
        natsStatus s;

        if (e->kind != SB_EVENT_REQUEST)
                return;
        if (e->sender && e->sender->client == b->self_id) {
                /* A NATS request we passed to the hub came back to us: never send it out again. */
                b->counters.loops++;
                (void) sb_reply_error(c, e->call, ERROR_NO_SERVER,
                                      "switchboard-bridge does not send a call that came from NATS back to NATS.");
                return;
        }
        subject = g_strconcat(b->config->service_prefix, e->topic, NULL);
        reply = g_strdup_printf("%s.%" PRIu64, b->reply_prefix, e->call);
        s = natsMsg_Create(&m, subject, reply, e->data, (int) e->size);
        if (s == NATS_OK) {
                (void) natsMsgHeader_Set(m, HDR_ORIGIN, b->config->name);
                header_set_sender(m, e->sender);
                s = natsConnection_PublishMsg(b->nc, m);
        }
        natsMsg_Destroy(m);
        if (s != NATS_OK) {
                g_autofree char *msg = g_strdup_printf("NATS refused the request: %s.", natsStatus_GetText(s));
                (void) sb_reply_error(c, e->call, ERROR_NO_SERVER, msg);
                return;
        }
        b->counters.calls_out++;
}

/* A NATS responder answered a call out: hand the answer to the hub. */
static void reply_to_hub(Bridge *b, natsMsg *m) {
        const char *subject = natsMsg_GetSubject(m), *dot = strrchr(subject, '.'), *error = NULL;
        uint64_t call;
        char *end;

        if (!dot)
                return;
        errno = 0;
        call = strtoull(dot + 1, &end, 10);
        if (errno != 0 || *end)
                return;
        if (natsMsg_IsNoResponders(m)) {
                (void) sb_reply_error(b->hub, call, ERROR_NO_SERVER, "Nobody answers the name on NATS.");
                return;
        }
        if (natsMsgHeader_Get(m, HDR_ERROR, &error) == NATS_OK && error) {
                g_autofree char *text = g_strndup(natsMsg_GetData(m), (gsize) natsMsg_GetDataLength(m));
                (void) sb_reply_error(b->hub, call, error, text);
                return;
        }
        (void) sb_reply(b->hub, call, natsMsg_GetData(m), (size_t) natsMsg_GetDataLength(m));
}

/* ---- NATS → hub ------------------------------------------------------- */

static const char *header_get(natsMsg *m, const char *key) {
        const char *v = NULL;

        return natsMsgHeader_Get(m, key, &v) == NATS_OK ? v : NULL;
}

/*
 * Whether @m (from @origin on @subject) is new: 1 to deliver, 0 for a number
 * seen before. Reports the numbers skipped over as a gap of @topic.
 */
static int import_sequence(Bridge *b, natsMsg *m, const char *origin, const char *topic) {
        const char *v = header_get(m, HDR_TOPIC_SEQ);
        g_autofree char *key = NULL;
        uint64_t n, *last;
        char *end;

        if (!origin || !v)
                return 1;               /* a plain NATS publisher: nothing to check */
        errno = 0;
        n = strtoull(v, &end, 10);
        if (errno != 0 || *end || n == 0)
                return 1;
        key = g_strconcat(origin, "\n", natsMsg_GetSubject(m), NULL);
        last = seq_slot(b->import_seq, key);
        if (*last != 0 && n <= *last) {
                b->counters.duplicates++;
                return 0;
        }
        if (*last != 0 && n > *last + 1) {
                b->counters.import_lost += n - *last - 1;
                gap_publish(b, topic, origin, *last + 1, n - 1,
                            b->counters.disconnects ? "not received (NATS connection lost meanwhile)"
                                                    : "not received");
        }
        *last = n;
        return 1;
}

/* Into the import ring; when it is full, hand over what is there and wait for room
 * (NATS meanwhile keeps messages, up to max-pending: what it then drops the topic
 * numbers report). Flushed once per loop turn (on_nats_read()). */
static int import_ring_put(Bridge *b, const char *topic, const void *data, size_t size) {
        int r;

        r = sb_ring_put_topic(b->import_ring, topic, data, size);
        for (int tries = 0; r == -ENOBUFS && tries < 10; tries++) {
                sb_ring_flush(b->import_ring);
                r = sb_ring_wait_writable(b->import_ring, strlen(topic) + size, 100);
                if (r >= 0 || r == -ETIMEDOUT)
                        r = sb_ring_put_topic(b->import_ring, topic, data, size);
        }
        return r;
}

static void import_message(Bridge *b, natsMsg *m) {
        const char *subject = natsMsg_GetSubject(m), *topic = subject;
        const char *origin = header_get(m, HDR_ORIGIN);
        size_t plen = strlen(b->config->import_prefix);
        int r;

        if (origin && g_str_equal(origin, b->config->name)) {
                b->counters.loops++;
                return;
        }
        if (plen > 0 && g_str_has_prefix(subject, b->config->import_prefix) && subject[plen])
                topic = subject + plen;
        if (!bridge_subject_valid(topic)) {
                if (b->counters.import_invalid++ == 0 || b->config->verbose)
                        log_warning("NATS subject '%s' is not a hub topic (tokens of [A-Za-z0-9_-]); dropping "
                                    "such messages, counted in import_invalid.", subject);
                return;
        }
        if (import_sequence(b, m, origin, topic) == 0)
                return;
        if (b->import_ring)
                r = import_ring_put(b, topic, natsMsg_GetData(m), (size_t) natsMsg_GetDataLength(m));
        else
                r = sb_publish(b->hub, topic, natsMsg_GetData(m), (size_t) natsMsg_GetDataLength(m), SB_NO_REPLY,
                               NULL);
        if (r < 0) {
                log_warning_errno(r, "Failed to publish '%s' into the hub: %m", topic);
                return;
        }
        b->counters.imported++;
        if (b->config->verbose)
                log_info("NATS → hub: %s (from %s)", topic, origin ? origin : "a NATS client");
}

/* Another bridge's gap notice: into the hub on GAP_UNKNOWN_TOPIC, as it came. */
static void import_gap(Bridge *b, natsMsg *m) {
        const char *origin = header_get(m, HDR_ORIGIN);
        int r;

        if (origin && g_str_equal(origin, b->config->name))
                return;
        log_warning("%s reports messages its hub dropped before they reached NATS: %.*s", origin ? origin : "?",
                    natsMsg_GetDataLength(m), natsMsg_GetData(m));
        r = sb_publish(b->hub, GAP_UNKNOWN_TOPIC, natsMsg_GetData(m), (size_t) natsMsg_GetDataLength(m),
                       SB_NO_REPLY, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to publish the gap notice into the hub: %m");
}

/* A NATS request to an import-services name: a hub call, answered when the hub answers. */
typedef struct CallIn {
        Bridge *b;
        char *reply;            /* the requester's reply subject */
} CallIn;

static void call_in_free(CallIn *ci) {
        g_free(ci->reply);
        g_free(ci);
}

static void nats_respond(Bridge *b, const char *reply, const char *error, const void *data, size_t len) {
        natsMsg *m = NULL;
        natsStatus s;

        s = natsMsg_Create(&m, reply, NULL, data, (int) len);
        if (s == NATS_OK) {
                (void) natsMsgHeader_Set(m, HDR_ORIGIN, b->config->name);
                if (error)
                        (void) natsMsgHeader_Set(m, HDR_ERROR, error);
                s = natsConnection_PublishMsg(b->nc, m);
        }
        natsMsg_Destroy(m);
        if (s != NATS_OK)
                log_warning("Failed to answer a NATS request on '%s': %s", reply, natsStatus_GetText(s));
}

static void on_call_answer(sb_client *c, int error, const void *data, size_t size, void *userdata) {
        CallIn *ci = userdata;

        if (error < 0) {
                const char *name = sb_error_name(c);
                const char *msg = sb_error_message(c);

                nats_respond(ci->b, ci->reply, name ? name : "org.switchboard.Hub1.Error.Failed", msg, strlen(msg));
        } else
                nats_respond(ci->b, ci->reply, NULL, data, size);
        call_in_free(ci);
}

static void call_hub(Bridge *b, natsMsg *m) {
        const char *subject = natsMsg_GetSubject(m), *reply = natsMsg_GetReply(m);
        const char *origin = header_get(m, HDR_ORIGIN);
        const char *name = subject + strlen(b->config->service_prefix);
        const char *data = natsMsg_GetData(m);
        size_t len = (size_t) natsMsg_GetDataLength(m);
        CallIn *ci;
        int r;

        if (!reply)
                return;                 /* a publish, not a request: nobody would see an answer */
        if (origin && g_str_equal(origin, b->config->name)) {
                b->counters.loops++;
                return;
        }
        ci = g_new0(CallIn, 1);
        ci->b = b;
        ci->reply = g_strdup(reply);
        r = sb_call_async(b->hub, name, data, len, b->config->call_timeout_ms, on_call_answer, ci);
        if (r < 0) {
                log_warning_errno(r, "Failed to call '%s' on the hub: %m", name);
                call_in_free(ci);
                return;
        }
        b->counters.calls_in++;
}

/* ---- the loop --------------------------------------------------------- */

static void connection_event(Bridge *b, Inbound *in) {
        g_autoptr(GString) extra_s = NULL;
        g_autofree char *extra = NULL;
        char url[256] = "";

        switch (in->kind) {
        case INBOUND_DISCONNECTED:
                if (b->disconnected_at == 0)
                        b->disconnected_at = in->when;
                b->counters.disconnects++;
                log_warning("Disconnected from NATS; reconnecting (publishes are buffered, up to %" PRIu64
                            " bytes).", b->config->reconnect_buffer);
                (void) status_publish(b, "disconnected", NULL, NULL);
                break;
        case INBOUND_RECONNECTED:
                (void) natsConnection_GetConnectedUrl(b->nc, url, sizeof(url));
                extra_s = g_string_new(NULL);
                g_string_append_printf(extra_s, "\"down_ms\":%" PRIi64 ",\"url\":",
                                       b->disconnected_at ? (in->when - b->disconnected_at) / 1000 : 0);
                json_write_cstr(extra_s, url);
                extra = g_string_free(g_steal_pointer(&extra_s), FALSE);
                log_notice("Reconnected to NATS at %s after %" PRIi64 " ms.", url,
                           b->disconnected_at ? (in->when - b->disconnected_at) / 1000 : 0);
                b->disconnected_at = 0;
                (void) status_publish(b, "reconnected", extra, NULL);
                break;
        case INBOUND_CLOSED:
                log_error("The NATS connection is closed for good.");
                (void) sd_event_exit(b->event, EXIT_FAILURE);
                break;
        default:
                g_assert_not_reached();
        }
}

static void inbound_handle(Bridge *b, InboundKind kind, natsMsg *m) {
        switch (kind) {
        case INBOUND_MESSAGE:
                import_message(b, m);
                break;
        case INBOUND_REQUEST:
                call_hub(b, m);
                break;
        case INBOUND_REPLY:
                reply_to_hub(b, m);
                break;
        case INBOUND_GAP:
                import_gap(b, m);
                break;
        default:
                g_assert_not_reached();
        }
}

static void on_hub_closed(sb_client *c, int error, void *userdata);

/* libnats has parsed what it read (on our loop): take the synchronous subscriptions' messages. */
static void on_nats_read(void *userdata) {
        Bridge *b = userdata;
        natsMsg *m = NULL;

        for (guint i = 0; i < b->sync_subs->len; i++) {
                SyncSub *ss = &g_array_index(b->sync_subs, SyncSub, i);
                int n = 0;

                /* As many as wait, and no more: NextMsg() on an empty subscription
                 * records an error in libnats (its text formatted, a stack noted), which
                 * cost more than a message when they come one at a time. */
                if (natsSubscription_GetPending(ss->sub, &n, NULL) != NATS_OK)
                        continue;
                while (n-- > 0 && natsSubscription_NextMsg(&m, ss->sub, 0) == NATS_OK) {
                        inbound_handle(b, ss->kind, m);
                        msg_retire(b, m);
                }
        }
        if (b->import_ring)
                sb_ring_flush(b->import_ring);
        else if (sb_get_events(b->hub) & POLLOUT) {
                /* Imports through the socket: write them now, not a loop turn later when the
                 * glue sees EPOLLOUT (sb_process() never blocks; it also reads and dispatches
                 * what the hub sent meanwhile, as the glue would next). */
                int r = sb_process(b->hub);

                if (r < 0)
                        on_hub_closed(b->hub, r, b);
        }
}

static int on_inbound(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Bridge *b = userdata;
        uint64_t n, overflow;
        Inbound *in;

        (void) !read(b->efd, &n, sizeof(n));
        natsio_apply(b->natsio);
        while ((in = g_async_queue_try_pop(b->inbound))) {
                atomic_fetch_sub(&b->n_inbound, 1);
                if (in->msg)
                        inbound_handle(b, in->kind, in->msg);
                else
                        connection_event(b, in);
                inbound_free(in);
        }
        if (b->import_ring)
                sb_ring_flush(b->import_ring);
        overflow = atomic_exchange(&b->overflow, 0);
        if (overflow > 0) {
                b->counters.import_overflow += overflow;
                log_warning("Dropped %" PRIu64 " NATS message(s): %" PRIu64 " were waiting for the hub "
                            "(max-pending).", overflow, b->config->max_pending);
        }
        /* Pipelined publishes are written by the hub's io source once the socket is
         * writable (sb_sd_event's hook asks for EPOLLOUT). */
        return 0;
}

/* ---- export rings ------------------------------------------------------ */

/* Messages one ring gives per loop turn, at most: then NATS gets the socket. */
#define RING_BATCH 4096

static void export_ring_free(ExportRing *er) {
        if (!er)
                return;
        sd_event_source_disable_unref(er->io);
        (void) sb_ring_close(er->ring);
        g_free(er);
}

/* Come back to @er in a later loop turn, after the other sources (NATS' socket). */
static void export_ring_again(ExportRing *er) {
        uint64_t one = 1;

        (void) !write(sb_ring_event_fd(er->ring), &one, sizeof(one));
}

/* Read up to RING_BATCH messages; return whether the ring is empty now. */
static int export_ring_drain(Bridge *b, ExportRing *er) {
        sb_ring_msg m;
        unsigned n = 0;
        int r;

        while (n < RING_BATCH && (r = sb_ring_read(er->ring, &m)) == 0) {
                n++;
                if (m.gap) {
                        hub_gap(b, m.first_seq, m.last_seq, "ring", sb_ring_id(er->ring));
                        continue;
                }
                if (m.retained)
                        continue;
                g_string_truncate(b->topic_buf, 0);
                g_string_append_len(b->topic_buf, m.topic, (gssize) m.topic_len);
                if (!bridge_subject_valid(b->topic_buf->str))
                        continue;       /* the hub's topics are; a corrupt ring's need not be */
                export_publish(b, b->topic_buf->str, m.data, m.size, m.seq, NULL);
        }
        sb_ring_release(er->ring);
        if (n == RING_BATCH)
                return 0;
        return r == -EAGAIN ? 1 : r;
}

/* The hub wrote records into a ring we had emptied (or export_ring_again() was called):
 * read a batch; then sleep on the ring again, or come back for the rest next turn. */
static int on_export_ring(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ExportRing *er = userdata;
        Bridge *b = er->b;
        uint64_t n;
        int r;

        (void) !read(fd, &n, sizeof(n));
        r = export_ring_drain(b, er);
        if (r > 0)
                r = sb_ring_arm(er->ring);     /* 0: a record came meanwhile */
        if (r < 0) {
                log_error_errno(r, "The hub's export ring %" PRIu64 " broke: %m", sb_ring_id(er->ring));
                return sd_event_exit(b->event, EXIT_FAILURE);
        }
        if (r == 0)
                export_ring_again(er);
        natsio_flush(b->natsio);        /* the batch leaves now, in one write */
        return 0;
}

static void on_hub_closed(sb_client *c, int error, void *userdata) {
        Bridge *b = userdata;

        log_error_errno(error, "The hub closed the connection: %m");
        (void) sd_event_exit(b->event, EXIT_FAILURE);
}

/* ---- setting up ------------------------------------------------------- */

/*
 * Our client id, the one the hub gives subscribers as a message's sender:
 * hub.info says it (client_id). Then the "started" status notice.
 */
static int learn_self_id(Bridge *b) {
        g_autoptr(JsonParser) jp = json_parser_new();
        g_autoptr(GString) extra_s = NULL;
        g_autofree char *info = NULL, *extra = NULL;
        g_autofree char *urls = g_strjoinv(",", b->config->urls);
        uint64_t seq = 0;
        int r, id;

        r = sb_info(b->hub, &info);
        if (r < 0)
                return log_error_errno(r, "Failed to ask the hub for hub.info: %s", sb_error_message(b->hub));
        id = json_parse(jp, info, strlen(info), 16, NULL) >= 0 && json_token(jp, 0)->type == JSON_OBJECT ?
             json_object_find(jp, 0, "client_id") : -1;
        if (id < 0 || json_uint64(jp, id, &b->self_id) < 0)
                return log_error_errno(-EPROTO, "The hub's hub.info does not say the bridge's client_id.");

        extra_s = g_string_new(NULL);
        g_string_append_printf(extra_s, "\"pid\":%d,\"nats\":", (int) getpid());
        json_write_cstr(extra_s, urls);
        extra = g_string_free(g_steal_pointer(&extra_s), FALSE);
        r = status_publish(b, "started", extra, &seq);
        if (r < 0)
                return log_error_errno(r, "Failed to publish on %s: %s", STATUS_TOPIC, sb_error_message(b->hub));
        return 0;
}

static int nats_setup_options(Bridge *b, natsOptions **ret) {
        BridgeConfig *c = b->config;
        natsOptions *o = NULL;
        natsStatus s;

        s = natsOptions_Create(&o);
        if (s == NATS_OK)
                s = natsOptions_SetServers(o, (const char **) c->urls, (int) g_strv_length(c->urls));
        if (s == NATS_OK)
                s = natsOptions_SetNoRandomize(o, true);
        if (s == NATS_OK) {
                g_autofree char *name = g_strdup_printf("switchboard-bridge %s", c->name);
                s = natsOptions_SetName(o, name);
        }
        if (s == NATS_OK)
                s = natsOptions_SetNoEcho(o, true);     /* our own publishes never come back to us */
        /* On our loop (bridge-natsio.c): what one iteration publishes leaves in one write;
         * "as soon as possible" then asks for the socket at once rather than after
         * libnats' flusher pause (1 ms). */
        if (s == NATS_OK)
                s = natsio_set_options(b->natsio, o);
        if (s == NATS_OK)
                s = natsOptions_SetSendAsap(o, c->send_asap);
        if (s == NATS_OK)
                s = natsOptions_SetAllowReconnect(o, true);
        if (s == NATS_OK)
                s = natsOptions_SetMaxReconnect(o, -1);
        if (s == NATS_OK)
                s = natsOptions_SetReconnectWait(o, 250);
        if (s == NATS_OK)
                s = natsOptions_SetReconnectBufSize(o, (int) MIN(c->reconnect_buffer, (uint64_t) INT32_MAX));
        if (s == NATS_OK)
                s = natsOptions_SetRetryOnFailedConnect(o, true, NULL, NULL);
        if (s == NATS_OK)
                s = natsOptions_SetIgnoreDiscoveredServers(o, !c->discovered_servers);
        if (s == NATS_OK)
                s = natsOptions_SetDisconnectedCB(o, on_nats_disconnected, b);
        if (s == NATS_OK)
                s = natsOptions_SetReconnectedCB(o, on_nats_reconnected, b);
        if (s == NATS_OK)
                s = natsOptions_SetClosedCB(o, on_nats_closed, b);
        if (s == NATS_OK)
                s = natsOptions_SetErrorHandler(o, on_nats_error, b);
        if (s == NATS_OK && c->token)
                s = natsOptions_SetToken(o, c->token);
        if (s == NATS_OK && (c->user || c->password))
                s = natsOptions_SetUserInfo(o, c->user, c->password);
        if (s == NATS_OK && c->creds)
                s = natsOptions_SetUserCredentialsFromFiles(o, c->creds, NULL);
        if (s == NATS_OK && c->nkey)
                s = natsOptions_SetNKeyFromSeed(o, c->nkey, c->nkey_seed);
        if (s == NATS_OK && c->tls_ca) {
                s = natsOptions_SetSecure(o, true);
                if (s == NATS_OK)
                        s = natsOptions_LoadCATrustedCertificates(o, c->tls_ca);
        }
        if (s != NATS_OK) {
                natsOptions_Destroy(o);
                return log_error_errno(-EINVAL, "Bad NATS settings: %s (%s)", natsStatus_GetText(s),
                                       nats_GetLastError(NULL));
        }
        *ret = o;
        return 0;
}

/*
 * Subscribe to @subject (in queue @group, or NULL). Replies to calls out come to
 * a callback on libnats' thread (a "no responders" status reaches only a callback);
 * everything else to a synchronous subscription that the loop empties right
 * after libnats read (on_nats_read()): no thread in between. At most
 * max-pending messages wait in one; beyond, libnats drops them (a slow
 * consumer) and the topic numbers show the loss.
 */
static int nats_subscribe(Bridge *b, const char *subject, const char *group, InboundKind kind) {
        natsSubscription *sub = NULL;
        natsStatus s;

        if (kind == INBOUND_REPLY)
                s = natsConnection_Subscribe(&sub, b->nc, subject, on_nats_reply, b);
        else if (group)
                s = natsConnection_QueueSubscribeSync(&sub, b->nc, subject, group);
        else
                s = natsConnection_SubscribeSync(&sub, b->nc, subject);
        if (s != NATS_OK)
                return log_error_errno(-EIO, "Failed to subscribe to NATS subject '%s': %s", subject,
                                       natsStatus_GetText(s));
        (void) natsSubscription_SetPendingLimits(sub, (int) MIN(b->config->max_pending, (uint64_t) INT32_MAX), -1);
        g_ptr_array_add(b->subs, sub);
        if (kind != INBOUND_REPLY)
                g_array_append_val(b->sync_subs, ((SyncSub) { .sub = sub, .kind = kind }));
        return 0;
}

static int nats_setup(Bridge *b) {
        BridgeConfig *c = b->config;
        natsOptions *o = NULL;
        natsInbox *inbox = NULL;
        natsStatus s;
        int r;

        r = nats_setup_options(b, &o);
        if (r < 0)
                return r;
        s = natsConnection_Connect(&b->nc, o);
        natsOptions_Destroy(o);
        if (s == NATS_NOT_YET_CONNECTED)
                log_warning("No NATS server answers yet at %s; retrying in the background.", c->urls[0]);
        else if (s != NATS_OK)
                return log_error_errno(-EIO, "Failed to connect to NATS at %s: %s", c->urls[0],
                                       natsStatus_GetText(s));

        if (natsInbox_Create(&inbox) != NATS_OK)
                return log_error_errno(-ENOMEM, "Failed to make a NATS inbox.");
        b->reply_prefix = g_strdup(inbox);
        natsInbox_Destroy(inbox);

        for (char **p = c->import_patterns; p && *p; p++) {
                g_autofree char *subject = g_strconcat(c->import_prefix, *p, NULL);
                r = nats_subscribe(b, subject, NULL, INBOUND_MESSAGE);
                if (r < 0)
                        return r;
        }
        if (c->import_patterns && c->import_patterns[0]) {
                g_autofree char *subject = g_strconcat(c->import_prefix, GAP_SUBJECT, NULL);
                r = nats_subscribe(b, subject, NULL, INBOUND_GAP);
                if (r < 0)
                        return r;
        }
        for (char **p = c->import_services; p && *p; p++) {
                g_autofree char *subject = g_strconcat(c->service_prefix, *p, NULL);
                r = nats_subscribe(b, subject, QUEUE_GROUP, INBOUND_REQUEST);
                if (r < 0)
                        return r;
        }
        if (c->export_services && c->export_services[0]) {
                g_autofree char *subject = g_strconcat(b->reply_prefix, ".*", NULL);
                r = nats_subscribe(b, subject, NULL, INBOUND_REPLY);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Topics the bridge publishes into its hub itself. */
#define OWN_TOPICS "switchboard.bridge.>"

/*
 * Why the rings cannot be used with these patterns, or NULL. A ring message
 * names no sender, so the bridge could not tell what it imported itself
 * (a loop) nor, across two rings, a message two export patterns match
 * (a duplicate): rings need export patterns that overlap neither each other
 * nor an import pattern nor the bridge's own topics.
 */
static char *rings_unsuitable(const BridgeConfig *c) {
        for (char **e = c->export_patterns; e && *e; e++) {
                if (bridge_patterns_overlap(*e, OWN_TOPICS))
                        return g_strdup_printf("export '%s' overlaps the bridge's own %s", *e, OWN_TOPICS);
                for (char **f = e + 1; *f; f++)
                        if (bridge_patterns_overlap(*e, *f))
                                return g_strdup_printf("exports '%s' and '%s' overlap", *e, *f);
                for (char **i = c->import_patterns; i && *i; i++)
                        if (bridge_patterns_overlap(*e, *i))
                                return g_strdup_printf("export '%s' and import '%s' overlap", *e, *i);
        }
        return NULL;
}

/* Export patterns through subscribe rings, imports through one publish ring: no JSON
 * per message on either side. Return: 1 with rings, 0 without (auto), or -errno. */
static int rings_setup(Bridge *b) {
        BridgeConfig *c = b->config;
        g_autofree char *why = NULL;
        bool exports = c->export_patterns && c->export_patterns[0];
        bool imports = c->import_patterns && c->import_patterns[0];
        int r;

        if (c->hub_rings == 0 || (!exports && !imports))
                return 0;
        why = rings_unsuitable(c);
        if (why) {
                if (c->hub_rings > 0)
                        return log_error_errno(-EINVAL, "hub-rings=yes, but %s (see docs/bridge.md).", why);
                log_info("Not using shared-memory rings with the hub: %s.", why);
                return 0;
        }
        if (imports) {
                r = sb_ring_publish(b->hub, "switchboard.bridge.import", c->ring_size, &b->import_ring);
                if (r < 0)
                        goto fail;
        }
        for (char **p = c->export_patterns; p && *p; p++) {
                ExportRing *er = g_new0(ExportRing, 1);

                er->b = b;
                g_ptr_array_add(b->export_rings, er);
                r = sb_ring_subscribe(b->hub, *p, c->ring_size, 0, &er->ring);
                if (r < 0)
                        goto fail;
                if (sb_ring_event_fd(er->ring) < 0) {
                        /* A hub that cannot wake a reader in an event loop. */
                        r = -EOPNOTSUPP;
                        goto fail;
                }
        }
        return 1;
fail:
        if (c->hub_rings > 0 || r != -EOPNOTSUPP)
                return log_error_errno(r, "Failed to set up shared-memory rings with the hub: %s",
                                       sb_error_message(b->hub));
        log_info("The hub offers no shared-memory rings; using its socket.");
        g_ptr_array_set_size(b->export_rings, 0);
        (void) sb_ring_close(g_steal_pointer(&b->import_ring));
        return 0;
}

/* Watch each export ring's eventfd; the first turn reads what is there and arms the ring. */
static int rings_start(Bridge *b) {
        for (guint i = 0; i < b->export_rings->len; i++) {
                ExportRing *er = b->export_rings->pdata[i];
                int r;

                r = sd_event_add_io(b->event, &er->io, sb_ring_event_fd(er->ring), EPOLLIN, on_export_ring, er);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch an export ring's eventfd: %m");
                export_ring_again(er);
        }
        return 0;
}

static int hub_setup(Bridge *b) {
        BridgeConfig *c = b->config;
        int r;

        r = sb_connect(c->socket, &b->hub);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the hub%s%s: %m", c->socket ? " at " : "",
                                       c->socket ? c->socket : "");
        r = learn_self_id(b);
        if (r < 0)
                return r;
        r = rings_setup(b);
        if (r < 0)
                return r;
        if (r > 0) {
                r = rings_start(b);
                if (r < 0)
                        return r;
                log_notice("Using shared-memory rings with the hub: %u export, %s import.", b->export_rings->len,
                         b->import_ring ? "one" : "no");
        }
        for (char **p = c->export_patterns; p && *p && b->export_rings->len == 0; p++) {
                r = sb_subscribe(b->hub, *p, 0, on_hub_message, b, NULL);
                if (r < 0)
                        return log_error_errno(r, "Failed to subscribe to '%s' on the hub: %s", *p,
                                               sb_error_message(b->hub));
        }
        for (char **p = c->export_services; p && *p; p++) {
                r = sb_serve(b->hub, *p, on_hub_request, b);
                if (r < 0)
                        return log_error_errno(r, "Failed to serve '%s' on the hub: %s", *p,
                                               sb_error_message(b->hub));
        }
        r = sb_sd_event_attach(b->hub, b->event, &b->hub_glue);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the hub's socket: %m");
        sb_sd_event_on_closed(b->hub_glue, on_hub_closed, b);
        return 0;
}

/**
 * bridge_new() - connect to the hub and to NATS as @config says, on @event
 * @config: owned by the caller; must outlive the bridge
 *
 * The hub must be running (its socket listening); NATS need not be yet:
 * libnats keeps trying, and the bridge publishes a status notice when it
 * connects. Return: 0, or a negative errno (logged).
 */
int bridge_new(BridgeConfig *config, sd_event *event, Bridge **ret) {
        g_autoptr(Bridge) b = g_new0(Bridge, 1);
        int r;

        b->config = config;
        b->event = sd_event_ref(event);
        b->subs = g_ptr_array_new();
        b->sync_subs = g_array_new(FALSE, FALSE, sizeof(SyncSub));
        b->inbound = g_async_queue_new_full((GDestroyNotify) inbound_free);
        b->export_seq = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        b->import_seq = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        b->export_rings = g_ptr_array_new_with_free_func((GDestroyNotify) export_ring_free);
        b->topic_buf = g_string_new(NULL);
        b->retired = g_ptr_array_new();
        b->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (b->efd < 0)
                return log_error_errno(-errno, "Failed to make an eventfd: %m");
        r = sd_event_add_io(event, &b->efd_io, b->efd, EPOLLIN, on_inbound, b);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the eventfd: %m");
        r = sd_event_add_time_relative(event, &b->retired_timer, CLOCK_MONOTONIC, RETIRED_DELAY_USEC,
                                       RETIRED_DELAY_USEC / 4, on_retired_timer, b);
        if (r < 0)
                return log_error_errno(r, "Failed to add a timer: %m");
        (void) sd_event_source_set_enabled(b->retired_timer, SD_EVENT_OFF);
        b->natsio = natsio_new(event, natsio_wake, on_nats_read, b);
        if (!b->natsio)
                return -ENOMEM;

        r = hub_setup(b);
        if (r < 0)
                return r;
        r = nats_setup(b);
        if (r < 0)
                return r;
        log_notice("Bridging the hub (client %" PRIu64 ") and NATS (%s) as '%s'.", b->self_id, config->urls[0],
                   config->name);
        *ret = g_steal_pointer(&b);
        return 0;
}

/**
 * bridge_free() - close both connections and log the counters
 *
 * NATS goes first, and ends libnats (nats_CloseAndWait()): its threads
 * call the callbacks with the bridge as their argument, the closed
 * callback even after natsConnection_Close() returned, so the bridge is
 * freed only once every libnats thread has ended.
 */
Bridge *bridge_free(Bridge *b) {
        if (!b)
                return NULL;
        if (b->retired)
                retired_free(b);
        sd_event_source_disable_unref(b->retired_timer);
        if (b->nc)
                natsConnection_Close(b->nc);
        for (guint i = 0; i < b->subs->len; i++)
                natsSubscription_Destroy(b->subs->pdata[i]);
        g_ptr_array_unref(b->subs);
        g_array_unref(b->sync_subs);
        natsConnection_Destroy(b->nc);
        (void) nats_CloseAndWait(5000);
        natsio_free(b->natsio);
        log_info("Exported %" PRIu64 " (%" PRIu64 " refused by NATS), imported %" PRIu64 " (%" PRIu64
                 " lost, %" PRIu64 " dropped over max-pending, %" PRIu64 " duplicates), %" PRIu64 " loops stopped.",
                 b->counters.exported, b->counters.export_failed, b->counters.imported, b->counters.import_lost,
                 b->counters.import_overflow, b->counters.duplicates, b->counters.loops);
        /* The rings' io sources go before the rings are unmapped (sb_close() would). */
        if (b->export_rings)
                g_ptr_array_unref(b->export_rings);
        if (b->import_ring)
                sb_ring_flush(b->import_ring);
        (void) sb_ring_close(b->import_ring);
        if (b->topic_buf)
                g_string_free(b->topic_buf, TRUE);
        sb_sd_event_detach(b->hub_glue);
        sb_close(b->hub);
        sd_event_source_disable_unref(b->efd_io);
        fd_close(b->efd);
        g_async_queue_unref(b->inbound);
        if (b->retired)
                g_ptr_array_unref(b->retired);
        g_hash_table_unref(b->export_seq);
        g_hash_table_unref(b->import_seq);
        g_free(b->reply_prefix);
        sd_event_unref(b->event);
        g_free(b);
        return NULL;
}
