/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dbus-service.c: the org.switchboard.Hub1 object (see dbus-service.h and
 * introspection/org.switchboard.Hub1.xml, the contract), a generic adapter
 * of the op table: the vtable is generated from the XML, every method call
 * comes to dbus_vtable_method(), which reads the arguments by the method's
 * descriptor, runs the operation and writes its answer by the same
 * descriptor. No operation is named here except where D-Bus differs
 * (ReplyError's error name must be a D-Bus error name).
 *
 * Each bus peer that calls us becomes one core Client (a DbusPeer), found by
 * its unique name and freed when NameOwnerChanged says it left the bus, which
 * releases its subscriptions and watches. Its uid and pid are asked of the
 * bus asynchronously, so no call ever waits for the bus driver.
 *
 * Answers the core holds back: one that acknowledges a change not yet
 * durable waits in a HeldReply for hub_durable_wait(); one that comes later
 * (a reserve that waits, a call) keeps its method call in the peer's
 * answers, until the core hands the peer the ENVELOPE_JOB or _REPLY.
 *
 * Output: a peer's sink sends unicast signals (destination = the peer). One
 * internal client, the broadcaster, subscribes to ">" and watches "" and
 * emits the same signals without a destination, for match rules. Both stop
 * queueing when the connection's write queue holds max_queued messages:
 * the core then counts the drop and sends a Gap signal later.
 *
 * Broadcast Message signals are conflated per topic (broadcast_conflate)
 * in windows of broadcast_interval_ms: within a topic's window, messages
 * replace each other, and the last one goes when the window ends. ALWAYS
 * opens a window with the first message of a quiet topic, which goes at
 * once; an applet sees every value of a topic that changes less often
 * than that, and the current value within one interval of any other,
 * while a publisher at a million messages a second costs the bus a hundred
 * signals. AUTO (the default) is ALWAYS for a topic that no match rule on
 * the bus can receive (most of them, most of the time: a hub that serves
 * socket clients pays next to nothing for the broadcast); for a topic that
 * one can (its arg0 or arg0namespace names it, or it has neither), it sends
 * every message as long as the bus takes them, and opens a topic's window
 * only while the bus is behind (sd-bus holds signals the socket did not
 * take): the listener gets as many signals as the bus can carry, none is
 * built that the bus would have to drop, and each topic's current value
 * goes as soon as the bus catches up (dbus_service_flush()), or when its
 * window ends. Who listens is asked of the bus (the Debug.Stats interface's
 * GetAllMatchRules, see listeners_check()); a bus that does not answer it
 * leaves AUTO as ALWAYS. Replaced messages are counted
 * (hub.info "dbus" → "broadcast_conflated"); their seq numbers are skipped.
 * Unicast signals (Subscribe) and KeyChanged are never conflated.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "dbus/dbus-codec.h"
#include "dbus/dbus-errors.h"
#include "dbus/dbus-service.h"
#include "dbus/dbus-vtable.h"
#include "ops/ops.h"
#include "util/log.h"
#include "util/sd-glue.h"

/* A Reserve may not hold its caller's bus call for minutes. */
#define DBUS_MAX_WAIT_MS 60000

/* Who listens to our broadcasts is asked again this long after a connection came or left (its AddMatch
 * follows its Hello), and in any case after LISTENERS_REFRESH_USEC while broadcasts flow. */
#define LISTENERS_SETTLE_USEC (50 * 1000)
#define LISTENERS_REFRESH_USEC (10 * 1000 * 1000)

typedef struct DbusPeer {
        Client client;                  /* the core sees &peer->client; must be first */
        DbusService *service;
        sd_bus_slot *creds_slot;        /* pending GetConnectionCredentials */
        GQueue waiting;                 /* sd_bus_message*: calls that came before the credentials */
        GHashTable *answers;            /* op_answer_key() -> sd_bus_message* (a deferred call), owned */
} DbusPeer;

typedef struct HeldReply {
        HubWaiter waiter;               /* must be first */
        DbusService *service;
        sd_bus_message *reply;
        GList link;                     /* in DbusService.held */
} HeldReply;

struct DbusService {
        sd_bus *bus;
        Hub *hub;
        DbusConfig config;
        sd_bus_slot *vtable_slot;
        sd_bus_slot *name_owner_slot;
        GHashTable *peers;              /* unique name -> DbusPeer*, owned */
        GQueue held;                    /* HeldReply*, waiting for the disk */
        Client broadcaster;             /* internal: emits broadcast signals */
        bool broadcaster_linked;
        /* Broadcasts wait here for the end of the loop iteration's other work (see broadcaster_deliver()). */
        GArray *pending;                /* PendingSignal */
        GByteArray *arena;              /* their topics (NUL-terminated) and payloads */
        /* Conflation: the topics whose window is open, oldest first (see broadcast_conflate()). */
        GHashTable *windows;            /* topic -> Window*, owned */
        struct Window *last_window;     /* the last one looked up, while it is in windows */
        GQueue window_order;            /* Window*, by due time */
        sd_event_source *window_timer;
        uint64_t interval;              /* µs of a window; 0: no conflation */
        bool conflate_always;           /* DBUS_CONFLATE_ALWAYS; else AUTO (when interval > 0) */
        /* AUTO: the match rules on the bus that can receive our Message signals (see listeners_check()), and
         * the topics they can receive: every one, or those their arg0 / arg0namespace name. */
        sd_bus_slot *listeners_slot;    /* the GetAllMatchRules call on its way */
        bool listen_all;
        GPtrArray *listen_filters;      /* "=TOPIC" (arg0) or ".NAMESPACE" (arg0namespace), owned */
        GQueue listened_windows;        /* Window*: the windows of listened topics (Window.listen_link) */
        uint64_t listeners_asked;       /* CLOCK_MONOTONIC µs when it was sent; 0: never */
        uint64_t peers_changed;         /* when a connection last came to the bus or left it; 0: never */
        DbusStats stats;
        bool info_added;                /* stats registered with hub_add_info() */
};

typedef struct Window {
        char *topic;                    /* key in DbusService.windows */
        bool listened;                  /* a match rule can receive its topic: in listened_windows */
        GList listen_link;
        uint64_t due;                   /* CLOCK_MONOTONIC µs: when the window ends */
        bool held;                      /* a message waits for the end of the window */
        uint64_t seq;                   /* the held message's */
        GByteArray *payload;            /* the held message's */
        GList link;                     /* in DbusService.window_order */
} Window;

static void window_free(void *p) {
        Window *w = p;

        g_free(w->topic);
        g_byte_array_unref(w->payload);
        g_free(w);
}

/* Hold @e in @w, replacing what it held: a copy per message of a busy topic, into the same buffer. */
static void window_hold(Window *w, const Envelope *e) {
        g_byte_array_set_size(w->payload, 0);
        g_byte_array_append(w->payload, e->payload, (guint) e->payload_len);
        w->seq = e->seq;
        w->held = true;
}

typedef struct PendingSignal {
        EnvelopeKind kind;
        uint64_t seq;                   /* seq or revision; GAP: first */
        uint64_t gap_last;
        bool deleted;
        size_t topic, payload, payload_len;     /* offsets into DbusService.arena */
} PendingSignal;

static const char *dbus_peer_unique_name(DbusPeer *p) {
        return p->client.name;
}

static void message_unref(gpointer m) {
        sd_bus_message_unref(m);
}

static void dbus_peer_free(DbusPeer *p) {
        if (!p)
                return;
        sd_bus_slot_unref(p->creds_slot);
        g_queue_clear_full(&p->waiting, message_unref);
        client_deinit(&p->client);      /* ends its waits: nobody is left to answer */
        g_clear_pointer(&p->answers, g_hash_table_destroy);
        g_free(p);
}

/* Signals, unicast (destination set) or broadcast (destination NULL). */

/* Their arguments, as params of an Envelope for the codec; [1]: the binary twin's. */
#define ENV_ARG(field, type, dbus) { #field, OP_TYPE_##type, dbus, offsetof(Envelope, field) }
#define ENV_PAYLOAD(binary) ENV_ARG(payload, BYTES, (binary) ? 'y' : 's')
#define ENV_NOTICE(binary) { ENV_ARG(topic, STRING, 's'), ENV_PAYLOAD(binary), ENV_ARG(seq, U64, 't'), \
                             ENV_ARG(deleted, BOOL, 'b') }
static const OpParam notice_args[2][4] = { ENV_NOTICE(0), ENV_NOTICE(1) };
static const OpParam request_args[2][3] = {
        { ENV_ARG(sub_id, U64, 't'), ENV_ARG(topic, STRING, 's'), ENV_PAYLOAD(0) },
        { ENV_ARG(sub_id, U64, 't'), ENV_ARG(topic, STRING, 's'), ENV_PAYLOAD(1) },
};
static const OpParam traffic_args[7] = {
        ENV_ARG(sub_id, U64, 't'), ENV_ARG(event, STRING, 's'), ENV_ARG(topic, STRING, 's'),
        ENV_ARG(object_id, U64, 't'), ENV_ARG(seq, U64, 't'), ENV_PAYLOAD(1), ENV_ARG(error_name, STRING, 's'),
};
static const OpParam gap_args[3] = { ENV_ARG(sub_id, U64, 't'), ENV_ARG(gap_first, U64, 't'),
                                     ENV_ARG(gap_last, U64, 't') };

static const struct {
        const char *member[2];          /* text, binary */
        const OpParam *args[2];
        unsigned n_args;
} signals[] = {
        [ENVELOPE_MESSAGE] = { { "Message", "MessageBinary" }, { notice_args[0], notice_args[1] }, 3 },
        [ENVELOPE_KEY_CHANGED] = { { "KeyChanged", "KeyChangedBinary" }, { notice_args[0], notice_args[1] }, 4 },
        [ENVELOPE_REQUEST] = { { "Request", "RequestBinary" }, { request_args[0], request_args[1] }, 3 },
        [ENVELOPE_GAP] = { { "Gap", "Gap" }, { gap_args, gap_args }, 3 },
        [ENVELOPE_TRAFFIC] = { { "Traffic", "Traffic" }, { traffic_args, traffic_args }, 7 },
};

/* The payload's kind is decided already: the codec need not look again. */
static bool decided_text(const void *data, size_t len) {
        return true;
}

/*
 * Whether the bus connection has room for @more signals besides those
 * queued and the broadcasts waiting for dbus_service_flush().
 */
static bool bus_has_room(DbusService *s, unsigned more) {
        uint64_t queued = 0;

        return s->config.max_queued == 0 || sd_bus_get_n_queued_write(s->bus, &queued) < 0 ||
               queued + (s->pending ? s->pending->len : 0) + more <= s->config.max_queued;
}

/*
 * The bus is behind: sd-bus holds signals that its socket did not take. That
 * socket's buffer is megabytes (sd-bus asks for 8 MiB), so dbus-daemon has
 * thousands of signals to route before we conflate: it never waits for us.
 */
static bool bus_behind(DbusService *s) {
        uint64_t queued = 0;

        return sd_bus_get_n_queued_write(s->bus, &queued) >= 0 && queued > 0;
}

static int send_envelope(DbusService *s, const char *destination, const Envelope *e, bool check_queue) {
        g_autoptr(sd_bus_message) m = NULL;
        bool binary = e->kind != ENVELOPE_GAP && !payload_is_text(e->payload, e->payload_len);
        int r;

        if (check_queue && !bus_has_room(s, 1))
                return -ENOBUFS;

        g_assert(e->kind < G_N_ELEMENTS(signals) && signals[e->kind].n_args > 0);
        r = sd_bus_message_new_signal(s->bus, &m, SB_PATH, SB_INTERFACE, signals[e->kind].member[binary]);
        if (r >= 0 && destination)
                r = sd_bus_message_set_destination(m, destination);
        /* A broadcast Gap has subscription 0: dbus_service_flush() leaves sub_id unset. */
        if (r >= 0)
                r = dbus_codec_append(m, signals[e->kind].args[binary], signals[e->kind].n_args, e, decided_text,
                                      NULL);
        if (r < 0)
                return r;

        r = sd_bus_send(s->bus, m, NULL);
        return r < 0 ? -ENOBUFS : 0;
}

/* @b's param is an 's' result, but the bytes are not text: the NotText error. */
static int set_not_text(sd_bus_error *error, const OpParam *p, const OpResult *out) {
        const OpBytes *b = (const OpBytes *) ((const char *) out + p->offset);

        return sd_bus_error_setf(error, SB_ERROR_PREFIX "NotText", "The %s is %zu bytes that are not UTF-8 text; %s.",
                                 p->name, b->len, p->not_text ?: "use the binary twin");
}

static int set_op_error(sd_bus_error *error, const OpError *e) {
        g_autofree char *escaped = NULL;
        const char *message = e->message ?: "";
        char buf[256];
        const char *name = op_error_name(e, buf, sizeof buf);

        /* A server's error name passes through when it is a D-Bus error name, its message when it is text. */
        if (!dbus_error_name_valid(name))
                name = SB_ERROR_PREFIX "ServerError";
        if (!payload_is_text(message, strlen(message)))
                message = escaped = g_strescape(message, NULL);
        if (e->code_from_server)
                return sd_bus_error_setf(error, name, "%s (code %d)", message, e->code);
        return sd_bus_error_set(error, name, message);
}

/* Replies that acknowledge a durable change wait for the disk. */

static void held_reply_free(HeldReply *h) {
        hub_durable_cancel(h->service->hub, &h->waiter);
        g_queue_unlink(&h->service->held, &h->link);
        sd_bus_message_unref(h->reply);
        g_free(h);
}

static void on_durable(HubWaiter *w) {
        HeldReply *h = (HeldReply *) w;
        int r;

        r = sd_bus_send(NULL, h->reply, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to send a held reply, ignoring: %m");
        held_reply_free(h);
}

static int send_durable(DbusService *s, sd_bus_message *reply) {
        HeldReply *h = g_new0(HeldReply, 1);

        h->waiter.durable = on_durable;
        h->service = s;
        h->reply = sd_bus_message_ref(reply);
        h->link.data = h;
        g_queue_push_tail_link(&s->held, &h->link);
        hub_durable_wait(s->hub, &h->waiter);
        return 1;
}

/* Answer @call's method call @m: its results, or its error. */
static int send_answer(DbusService *s, sd_bus_message *m, OpCall *call, int r, const OpResult *out) {
        g_autoptr(sd_bus_message) reply = NULL;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        const OpParam *not_text = NULL;

        if (r < 0 && call->error.code == 0)
                return sd_bus_reply_method_errno(m, r, NULL);
        if (r < 0) {
                set_op_error(&error, &call->error);
                return sd_bus_reply_method_error(m, &error);
        }
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = dbus_codec_append(reply, call->method->out, call->method->n_out, out, payload_is_text, &not_text);
        if (r == -EMEDIUMTYPE) {
                set_not_text(&error, not_text, out);
                return sd_bus_reply_method_error(m, &error);
        }
        if (r < 0) {
                /* Never leave a caller waiting: an answer sd-bus cannot build is an error answer. */
                log_warning_errno(r, "client (dbus %s): cannot build the answer to %s, answering with an "
                                  "error: %m", sd_bus_message_get_sender(m) ?: "?", call->method->dbus);
                return sd_bus_reply_method_errno(m, r, NULL);
        }
        return call->durable ? send_durable(s, reply) : sd_bus_send(NULL, reply, NULL);
}

/* The late answer @e to a call this peer made and we kept. */
static int peer_answer(DbusPeer *p, const Envelope *e) {
        g_autoptr(sd_bus_message) m = NULL;
        g_autofree uint64_t *key = NULL;
        uint64_t k = op_answer_key(e->kind, e->sub_id);
        OpCall call = { .hub = p->service->hub, .client = &p->client };
        OpArgs in = {};
        OpResult out = {};
        int r;

        if (!g_hash_table_steal_extended(p->answers, &k, (gpointer *) &key, (gpointer *) &m))
                return -ENOENT;
        call.method = op_method_by_dbus(sd_bus_message_get_member(m));
        /* What the request changed (AckNext's ack) may not be on disk yet: the answer waits for it, as
         * the JSON-RPC face's output does. */
        call.durable = call.method->flags & OP_DURABLE;
        r = op_answer(e, &call, &in, &out);
        r = send_answer(p->service, m, &call, r, &out);
        op_call_clear(&call);
        return r;
}

static int peer_deliver(Client *c, const Envelope *e) {
        DbusPeer *p = (DbusPeer *) c;

        if (e->kind == ENVELOPE_JOB || e->kind == ENVELOPE_REPLY)
                return peer_answer(p, e);
        return send_envelope(p->service, dbus_peer_unique_name(p), e, true);
}

static void pending_add(DbusService *s, const PendingSignal *signal, const char *topic,
                        const void *payload) {
        PendingSignal p = *signal;

        p.topic = s->arena->len;
        if (topic)
                g_byte_array_append(s->arena, (const guint8 *) topic, (guint) strlen(topic));
        g_byte_array_append(s->arena, (const guint8 *) "", 1);
        p.payload = s->arena->len;
        g_byte_array_append(s->arena, payload, (guint) p.payload_len);
        g_array_append_val(s->pending, p);
}

/* The signal of what @w holds, added to the pending ones. */
static void window_pending_add(DbusService *s, Window *w) {
        PendingSignal p = { .kind = ENVELOPE_MESSAGE, .seq = w->seq, .payload_len = w->payload->len };

        pending_add(s, &p, w->topic, w->payload->data);
}

static int window_arm(DbusService *s) {
        Window *first = g_queue_peek_head(&s->window_order);

        if (!first)
                return sd_event_source_set_enabled(s->window_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_time(s->window_timer, first->due);
        return sd_event_source_set_enabled(s->window_timer, SD_EVENT_ONESHOT);
}

static void window_open(DbusService *s, Window *w, uint64_t now) {
        w->due = now + s->interval;
        w->held = false;
        g_queue_push_tail_link(&s->window_order, &w->link);
        if (s->window_order.length == 1)
                (void) window_arm(s);
}

/* Reads one key='value' of the match rule at *@p (quotes as the D-Bus specification has them); false at its end. */
static bool rule_next(const char **p, GString *key, GString *value) {
        const char *c = *p;
        bool quoted = false;

        g_string_truncate(key, 0);
        g_string_truncate(value, 0);
        while (*c == ',' || *c == ' ')
                c++;
        if (!*c)
                return false;
        while (*c && *c != '=')
                g_string_append_c(key, *c++);
        if (*c == '=')
                c++;
        for (; *c && (quoted || *c != ','); c++) {
                if (*c == '\'')
                        quoted = !quoted;
                else if (!quoted && c[0] == '\\' && c[1] == '\'')
                        g_string_append_c(value, *++c);
                else
                        g_string_append_c(value, *c);
        }
        *p = c;
        return true;
}

static bool path_in_namespace(const char *path, const char *ns) {
        size_t n = strlen(ns);

        return g_str_equal(ns, "/") || (strncmp(path, ns, n) == 0 && (path[n] == '/' || path[n] == '\0'));
}

/*
 * Whether the match rule @rule can match a broadcast Message signal of ours
 * (@own: our unique name). @topics: the topics it can receive, "=TOPIC" for
 * an arg0, ".NAMESPACE" for an arg0namespace, "" for any (other argN keys
 * are about the payload or seq: any topic may come).
 */
static bool rule_may_match(const char *rule, const char *own, GString *topics) {
        g_autoptr(GString) key = g_string_new(NULL), value = g_string_new(NULL);
        const char *p = rule;

        g_string_truncate(topics, 0);
        while (rule_next(&p, key, value)) {
                const char *k = key->str, *v = value->str;
                bool ok = true;

                if (g_str_equal(k, "type"))
                        ok = g_str_equal(v, "signal");
                else if (g_str_equal(k, "sender"))
                        ok = g_str_equal(v, SB_BUS_NAME) || (own && g_str_equal(v, own));
                else if (g_str_equal(k, "interface"))
                        ok = g_str_equal(v, SB_INTERFACE);
                else if (g_str_equal(k, "member"))
                        ok = g_str_equal(v, "Message") || g_str_equal(v, "MessageBinary");
                else if (g_str_equal(k, "path"))
                        ok = g_str_equal(v, SB_PATH);
                else if (g_str_equal(k, "path_namespace"))
                        ok = path_in_namespace(SB_PATH, v);
                else if (g_str_equal(k, "destination"))
                        ok = false;             /* a broadcast has none */
                else if (g_str_equal(k, "arg0") || g_str_equal(k, "arg0namespace")) {
                        g_string_assign(topics, k[4] ? "." : "=");
                        g_string_append(topics, v);
                }
                if (!ok)
                        return false;
        }
        return true;
}

/* @topic is @ns or below it, as D-Bus matches arg0namespace: by whole dot-separated words. */
static bool topic_in_namespace(const char *topic, const char *ns) {
        size_t n = strlen(ns);

        return strncmp(topic, ns, n) == 0 && (topic[n] == '.' || topic[n] == '\0');
}

/* Whether a match rule can receive @topic's Message signals (AUTO): none while nobody listens. */
static bool topic_listened(DbusService *s, const char *topic) {
        if (s->listen_all)
                return true;
        for (guint i = 0; s->listen_filters && i < s->listen_filters->len; i++) {
                const char *f = g_ptr_array_index(s->listen_filters, i);

                if (f[0] == '=' ? strcmp(topic, f + 1) == 0 : topic_in_namespace(topic, f + 1))
                        return true;
        }
        return false;
}

static void window_set_listened(DbusService *s, Window *w, bool listened) {
        if (w->listened == listened)
                return;
        w->listened = listened;
        if (listened)
                g_queue_push_tail_link(&s->listened_windows, &w->listen_link);
        else
                g_queue_unlink(&s->listened_windows, &w->listen_link);
}

/* A new answer from the bus: which topics are listened, for new and open windows. */
static void listeners_set(DbusService *s, uint64_t n, bool all, GPtrArray *filters) {
        s->stats.broadcast_listeners = n;
        s->listen_all = all;
        g_clear_pointer(&s->listen_filters, g_ptr_array_unref);
        s->listen_filters = filters;
        for (GList *l = s->window_order.head; l; l = l->next) {
                Window *w = l->data;

                window_set_listened(s, w, topic_listened(s, w->topic));
        }
}

/* The bus's answer to GetAllMatchRules (a{sas}: connection -> its rules): count the rules that can receive
 * our Message signals. A bus that does not answer it has no listener as far as AUTO goes. */
static int on_match_rules(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        DbusService *s = userdata;
        g_autoptr(GPtrArray) filters = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GString) topics = g_string_new(NULL);
        const char *own = NULL, *conn, *rule;
        uint64_t n = 0;
        bool all = false;
        int r;

        s->listeners_slot = sd_bus_slot_unref(s->listeners_slot);
        if (sd_bus_message_is_method_error(reply, NULL)) {
                log_debug("No match rules from the bus (%s): broadcasts stay conflated",
                          sd_bus_message_get_error(reply)->message);
                listeners_set(s, 0, false, NULL);
                return 0;
        }
        (void) sd_bus_get_unique_name(s->bus, &own);
        r = sd_bus_message_enter_container(reply, 'a', "{sas}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sas")) > 0) {
                bool ours;

                r = sd_bus_message_read(reply, "s", &conn);
                if (r < 0)
                        break;
                ours = own && g_str_equal(conn, own);
                r = sd_bus_message_enter_container(reply, 'a', "s");
                while (r >= 0 && (r = sd_bus_message_read(reply, "s", &rule)) > 0) {
                        if (ours || !rule_may_match(rule, own, topics))
                                continue;
                        n++;
                        if (topics->len == 0)
                                all = true;
                        else
                                g_ptr_array_add(filters, g_strdup(topics->str));
                }
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r < 0) {
                log_debug_errno(r, "Bad match rules from the bus, ignoring: %m");
                listeners_set(s, 0, false, NULL);
                return 0;
        }
        listeners_set(s, n, all, g_steal_pointer(&filters));
        return 0;
}

/*
 * AUTO: ask the bus who can receive our broadcasts, unless the last answer
 * still holds: asked after the last connection came or left had had
 * LISTENERS_SETTLE_USEC to add its match rules, and less than
 * LISTENERS_REFRESH_USEC ago. One question at a time, at most one per
 * LISTENERS_SETTLE_USEC however many connections come and go. Called for
 * each broadcast Message, so nobody is asked while nothing is broadcast.
 */
static void listeners_check(DbusService *s) {
        uint64_t now, settled = s->peers_changed + LISTENERS_SETTLE_USEC;
        int r;

        if (s->listeners_slot)
                return;
        (void) sd_event_now(sd_bus_get_event(s->bus), CLOCK_MONOTONIC, &now);
        if (s->listeners_asked != 0 &&
            (now < s->listeners_asked + LISTENERS_SETTLE_USEC ||
             (s->listeners_asked >= settled && now < s->listeners_asked + LISTENERS_REFRESH_USEC)))
                return;
        s->listeners_asked = now;
        r = sd_bus_call_method_async(s->bus, &s->listeners_slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus.Debug.Stats", "GetAllMatchRules", on_match_rules, s,
                                     NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to ask the bus for its match rules, ignoring: %m");
}

/* AUTO sends @topic's messages at once: a rule can receive them and the bus keeps up. */
static bool broadcast_direct(DbusService *s, const char *topic) {
        return !s->conflate_always && topic_listened(s, topic) && !bus_behind(s);
}

/* @w's topic is quiet (or the bus caught up): its next message goes at once. */
static void window_forget(DbusService *s, Window *w) {
        g_queue_unlink(&s->window_order, &w->link);
        window_set_listened(s, w, false);
        if (s->last_window == w)
                s->last_window = NULL;
        g_hash_table_remove(s->windows, w->topic);
}

/* What @w holds goes now, if the bus has room for it. */
static void window_send(DbusService *s, Window *w) {
        if (bus_has_room(s, 1))
                window_pending_add(s, w);
        else
                s->stats.broadcast_dropped++;
}

/*
 * Ended windows: a held message goes out now and opens the next window
 * (AUTO: unless it sends at once by now); a topic with nothing held is quiet
 * again and forgotten.
 */
static int on_window_end(sd_event_source *source, uint64_t usec, void *userdata) {
        DbusService *s = userdata;
        uint64_t now;
        Window *w;

        (void) sd_event_now(sd_bus_get_event(s->bus), CLOCK_MONOTONIC, &now);
        while ((w = g_queue_peek_head(&s->window_order)) && w->due <= now) {
                if (w->held) {
                        window_send(s, w);
                        if (!w->listened || bus_behind(s)) {
                                g_queue_unlink(&s->window_order, &w->link);
                                window_open(s, w, now);
                                continue;
                        }
                }
                window_forget(s, w);
        }
        return window_arm(s);
}

/* AUTO, once the bus keeps up: what listened topics hold goes, and they are direct again. */
static void windows_release(DbusService *s) {
        Window *w;

        if (g_queue_is_empty(&s->listened_windows) || bus_behind(s))
                return;
        while ((w = g_queue_peek_head(&s->listened_windows))) {
                if (w->held)
                        window_send(s, w);
                window_forget(s, w);
        }
        (void) window_arm(s);
}

/*
 * A Message for a topic whose window is open is held (replacing what was
 * held): true. Else AUTO sends it at once if it can (broadcast_direct()):
 * false. Else the topic's window opens, and the message goes now (ALWAYS, or
 * AUTO with no listener): false; or is held (AUTO with the bus behind): true.
 */
static bool broadcast_conflate(DbusService *s, const Envelope *e) {
        uint64_t now;
        Window *w;

        if (s->interval == 0 || e->kind != ENVELOPE_MESSAGE || e->retained)
                return false;
        if (!s->conflate_always)
                listeners_check(s);
        /* A publisher's runs of one topic: a compare instead of hashing it again. */
        w = s->last_window && strcmp(s->last_window->topic, e->topic) == 0 ? s->last_window :
            g_hash_table_lookup(s->windows, e->topic);
        if (w) {
                s->last_window = w;
                if (w->held)
                        s->stats.broadcast_conflated++;
                window_hold(w, e);
                return true;
        }
        if (broadcast_direct(s, e->topic))
                return false;
        (void) sd_event_now(sd_bus_get_event(s->bus), CLOCK_MONOTONIC, &now);
        w = g_new0(Window, 1);
        w->topic = g_strdup(e->topic);
        w->payload = g_byte_array_new();
        w->link.data = w;
        w->listen_link.data = w;
        g_hash_table_insert(s->windows, w->topic, w);
        s->last_window = w;
        window_open(s, w, now);
        if (s->conflate_always || !topic_listened(s, e->topic))
                return false;
        window_set_listened(s, w, true);
        window_hold(w, e);
        return true;
}

/*
 * Broadcast signals are off the publisher's critical path: deliver() only
 * copies the message into the pending list (or holds it, conflated);
 * dbus_service_flush() builds and sends the signals once the loop
 * iteration's other work (a socket publisher's reply, socket subscribers'
 * deliveries) is done. Whether the bus can take it is decided here,
 * counting what waits already, so that a bus that cannot keep up costs one
 * check per message, not a signal built and dropped: the core counts the
 * drop and sends a Gap later.
 */
static int broadcaster_deliver(Client *c, const Envelope *e) {
        DbusService *s = (DbusService *) ((char *) c - offsetof(DbusService, broadcaster));
        PendingSignal p = {
                .kind = e->kind,
                .seq = e->kind == ENVELOPE_GAP ? e->gap_first : e->seq,
                .gap_last = e->gap_last,
                .deleted = e->deleted,
                .payload_len = e->payload_len,
        };

        if (broadcast_conflate(s, e))
                return 0;
        if (!bus_has_room(s, 1)) {
                s->stats.broadcast_dropped++;
                return -ENOBUFS;
        }
        pending_add(s, &p, e->topic, e->payload);
        return 0;
}

/**
 * dbus_service_flush() - build and send the broadcast signals waiting
 *
 * The daemon calls this after every loop iteration's work (its post
 * source), so that broadcasts never delay a publisher's reply.
 */
void dbus_service_flush(DbusService *s) {
        if (!s->pending)
                return;
        windows_release(s);
        for (guint i = 0; i < s->pending->len; i++) {
                const PendingSignal *p = &g_array_index(s->pending, PendingSignal, i);
                Envelope e = {
                        .kind = p->kind,
                        .topic = (const char *) s->arena->data + p->topic,
                        .payload = s->arena->data + p->payload,
                        .payload_len = p->payload_len,
                        .seq = p->seq,
                        .gap_first = p->seq,
                        .gap_last = p->gap_last,
                        .deleted = p->deleted,
                };
                int r = send_envelope(s, NULL, &e, false);

                if (r < 0)
                        log_debug_errno(r, "Failed to send a broadcast signal, ignoring: %m");
                else
                        s->stats.broadcast_signals++;
        }
        g_array_set_size(s->pending, 0);
        /* A burst's arena is given back, not kept for good. */
        if (s->arena->len > 1024 * 1024) {
                g_byte_array_unref(s->arena);
                s->arena = g_byte_array_new();
        } else
                g_byte_array_set_size(s->arena, 0);
}

static const ClientSink peer_sink = {
        .transport = "dbus",
        .deliver = peer_deliver,
};

static const ClientSink broadcaster_sink = {
        .transport = "dbus",
        .deliver = broadcaster_deliver,
};

/* Peers */

static void emit_clients_changed(DbusService *s) {
        int r;

        r = sd_bus_emit_properties_changed(s->bus, SB_PATH, SB_INTERFACE, "Clients", NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to emit PropertiesChanged for Clients: %m");
}

static void creds_parse(sd_bus_message *reply, uint32_t *uid, uint32_t *pid) {
        int r;

        if (sd_bus_message_enter_container(reply, 'a', "{sv}") < 0)
                return;
        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                const char *key;

                if (sd_bus_message_read(reply, "s", &key) < 0)
                        return;
                if (strcmp(key, "UnixUserID") == 0)
                        r = sd_bus_message_read(reply, "v", "u", uid);
                else if (strcmp(key, "ProcessID") == 0)
                        r = sd_bus_message_read(reply, "v", "u", pid);
                else
                        r = sd_bus_message_skip(reply, "v");
                if (r < 0 || sd_bus_message_exit_container(reply) < 0)
                        return;
        }
}

static void run_call(DbusService *s, sd_bus_message *m, Client *client);

/*
 * The bus told us who the peer is: from now on every message of its
 * carries its uid and pid, the calls that waited for this one first.
 */
static int on_peer_creds(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        DbusPeer *p = userdata;
        uint32_t uid = (uint32_t) -1, pid = 0;

        p->creds_slot = sd_bus_slot_unref(p->creds_slot);
        if (sd_bus_message_is_method_error(reply, NULL))
                log_debug("client %" PRIu64 " (dbus %s): no credentials: %s", p->client.info.id,
                          dbus_peer_unique_name(p), sd_bus_message_get_error(reply)->message);
        else
                creds_parse(reply, &uid, &pid);
        client_set_creds(&p->client, (uid_t) uid, (pid_t) pid);
        log_debug("client %" PRIu64 " (dbus %s): uid %d, pid %u", p->client.info.id,
                  dbus_peer_unique_name(p), (int) uid, pid);

        while (!g_queue_is_empty(&p->waiting)) {
                g_autoptr(sd_bus_message) m = g_queue_pop_head(&p->waiting);
                run_call(p->service, m, &p->client);
        }
        return 0;
}

/*
 * The core Client behind the sender of @m, created on its first call. A
 * peer that left the bus already is harmless: NameOwnerChanged for it
 * arrives after this call and frees it.
 */
static int peer_for(DbusService *s, sd_bus_message *m, sd_bus_error *error, Client **ret) {
        const char *sender = sd_bus_message_get_sender(m);
        DbusPeer *p;
        int r;

        if (!sender)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "Caller has no bus name.");

        p = g_hash_table_lookup(s->peers, sender);
        if (!p) {
                p = g_new0(DbusPeer, 1);
                p->service = s;
                p->answers = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, message_unref);
                r = client_init(&p->client, s->hub, &peer_sink, (uid_t) -1, 0, sender, false);
                if (r < 0) {
                        dbus_peer_free(p);      /* copes with a client that was never linked */
                        return dbus_error_from_errno(error, r, hub_get_limits(s->hub),
                                                     HUB_ARG_CLIENT, sender, 0);
                }
                g_hash_table_insert(s->peers, p->client.name, p);

                r = sd_bus_call_method_async(s->bus, &p->creds_slot, "org.freedesktop.DBus",
                                             "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                             "GetConnectionCredentials", on_peer_creds, p, "s", sender);
                if (r < 0)
                        log_debug_errno(r, "Failed to ask for the credentials of %s, ignoring: %m", sender);
                log_debug("client %" PRIu64 " (dbus %s): new", p->client.info.id, sender);
                emit_clients_changed(s);
        }

        *ret = &p->client;
        return 0;
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        DbusService *s = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
                return 0;
        if (name[0] == ':')
                (void) sd_event_now(sd_bus_get_event(s->bus), CLOCK_MONOTONIC, &s->peers_changed);
        if (*new_owner || name[0] != ':')
                return 0;
        if (g_hash_table_remove(s->peers, name)) {
                log_debug("client (dbus %s): left the bus", name);
                emit_clients_changed(s);
        }
        return 0;
}

/* Run the call @m for @client (NULL: an anonymous operation) and answer it, whatever happens. */
static void run_call(DbusService *s, sd_bus_message *m, Client *client) {
        const OpMethod *method = op_method_by_dbus(sd_bus_message_get_member(m));
        OpCall call = { .hub = s->hub, .client = client, .method = method, .can_defer = true,
                        .max_wait_ms = DBUS_MAX_WAIT_MS };
        g_auto(OpResult) out = {};
        OpArgs in = {};
        int r;

        r = dbus_codec_read(m, method->in, method->n_in, &in);
        if (r < 0) {
                (void) sd_bus_reply_method_errno(m, r, NULL);
                return;
        }
        if (method->preset)
                method->preset(&in);
        /* D-Bus differs: a server's error name must be a D-Bus error name to reach D-Bus callers. */
        if (strcmp(method->op, "reply_error") == 0 && !dbus_error_name_valid(in.name)) {
                (void) sd_bus_reply_method_errorf(m, SD_BUS_ERROR_INVALID_ARGS, "'%s' is not a D-Bus error name "
                                                  "(like org.example.Error.Failed).", in.name);
                return;
        }

        r = op_invoke(&call, &in, &out);
        if (r >= 0 && call.deferred != 0) {
                /* peer_answer() answers when the core hands over the job or the reply. */
                g_hash_table_insert(((DbusPeer *) client)->answers, g_memdup2(&call.deferred, sizeof(uint64_t)),
                                    sd_bus_message_ref(m));
                return;
        }
        (void) send_answer(s, m, &call, r, &out);
        op_call_done(&call);
        op_call_clear(&call);
}

/*
 * Every method of the vtable (dbus-vtable.c, generated). A new peer's calls
 * wait until the bus has told us its credentials, so that even the one call
 * of a short-lived client carries its uid and pid.
 */
int dbus_vtable_method(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        const OpMethod *method = op_method_by_dbus(sd_bus_message_get_member(m));
        Client *client = NULL;
        int r;

        g_assert(method);
        if (method->flags & OP_ANONYMOUS) {
                const char *sender = sd_bus_message_get_sender(m);
                DbusPeer *p = sender ? g_hash_table_lookup(s->peers, sender) : NULL;

                /* Even a call that needs no client waits behind its peer's earlier calls: a Get sees the Set before it. */
                if (p && p->creds_slot) {
                        g_queue_push_tail(&p->waiting, sd_bus_message_ref(m));
                        return 1;
                }
        } else {
                DbusPeer *p;

                r = peer_for(s, m, error, &client);
                if (r < 0)
                        return r;
                p = (DbusPeer *) client;
                if (p->creds_slot) {
                        g_queue_push_tail(&p->waiting, sd_bus_message_ref(m));
                        return 1;
                }
        }
        run_call(s, m, client);
        return 1;
}

/* Every property: its entry of the hub's facts (the Info annotation). */
int dbus_vtable_property(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        g_autoptr(GVariant) info = op_info_dict(s->hub, NULL);

        for (const DbusPropertyInfo *p = dbus_properties; p->property; p++)
                if (strcmp(p->property, property) == 0) {
                        g_autoptr(GVariant) v = g_variant_lookup_value(info, p->info, NULL);

                        g_assert(v);
                        return dbus_codec_append_variant(reply, v);
                }
        return -ENOENT;
}

/* hub.info / GetInfo: what the broadcast costs and sheds, under "dbus". */
static void stats_info(GVariantBuilder *dict, void *userdata) {
        DbusService *s = userdata;
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a{st}"));
        g_variant_builder_add(&b, "{st}", "broadcast_signals", s->stats.broadcast_signals);
        g_variant_builder_add(&b, "{st}", "broadcast_conflated", s->stats.broadcast_conflated);
        g_variant_builder_add(&b, "{st}", "broadcast_dropped", s->stats.broadcast_dropped);
        g_variant_builder_add(&b, "{st}", "broadcast_listeners", s->stats.broadcast_listeners);
        g_variant_builder_add(&b, "{st}", "broadcast_interval_us", s->interval);
        g_variant_builder_add(dict, "{sv}", "dbus", g_variant_builder_end(&b));
}

/**
 * dbus_service_set_max_queued() - drop broadcasts past @max_queued queued messages from now on (reload)
 */
void dbus_service_set_max_queued(DbusService *s, unsigned max_queued) {
        s->config.max_queued = max_queued;
}

/**
 * dbus_service_new() - put the hub's object on @bus, which is attached to
 * the event loop already; does not request the bus name
 *
 * Return: 0 or a negative errno from sd-bus.
 */
int dbus_service_new(sd_bus *bus, Hub *hub, const DbusConfig *config, DbusService **ret) {
        g_autoptr(DbusService) s = NULL;
        int r;

        s = g_new0(DbusService, 1);
        s->bus = sd_bus_ref(bus);
        s->hub = hub;
        s->config = *config;
        s->interval = config->broadcast_conflate != DBUS_CONFLATE_NEVER ?
                      (uint64_t) config->broadcast_interval_ms * 1000 : 0;
        s->conflate_always = config->broadcast_conflate == DBUS_CONFLATE_ALWAYS;
        g_queue_init(&s->held);
        s->peers = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) dbus_peer_free);

        r = sd_bus_add_object_vtable(bus, &s->vtable_slot, SB_PATH, SB_INTERFACE, dbus_vtable, s);
        if (r < 0)
                return log_error_errno(r, "Failed to add the object %s: %m", SB_PATH);

        r = sd_bus_match_signal_async(bus, &s->name_owner_slot, "org.freedesktop.DBus",
                                      "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                      "NameOwnerChanged", on_name_owner_changed, NULL, s);
        if (r < 0)
                return log_error_errno(r, "Failed to watch for clients leaving the bus: %m");

        if (config->broadcast) {
                s->pending = g_array_new(FALSE, FALSE, sizeof(PendingSignal));
                s->arena = g_byte_array_new();
                s->windows = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, window_free);
                g_queue_init(&s->window_order);
                g_queue_init(&s->listened_windows);
                r = sd_event_add_time(sd_bus_get_event(bus), &s->window_timer, CLOCK_MONOTONIC, 0,
                                      MIN(s->interval / 10 + 1, 1000), on_window_end, s);
                if (r >= 0)
                        r = sd_event_source_set_enabled(s->window_timer, SD_EVENT_OFF);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up the broadcast timer: %m");
                r = client_init(&s->broadcaster, hub, &broadcaster_sink, getuid(), getpid(), NULL, true);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up the broadcaster: %m");
                s->broadcaster_linked = true;
                /* High-rate topics can be left out: each broadcast costs the hub and the bus. */
                for (char **p = config->broadcast_patterns ?: (char *[]) { (char *) ">", NULL }; *p; p++) {
                        r = hub_subscribe(hub, &s->broadcaster, *p, false, NULL);
                        if (r < 0)
                                return log_error_errno(r, "Invalid broadcast pattern '%s': %m", *p);
                }
                r = hub_watch(hub, &s->broadcaster, "", NULL);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up the broadcaster: %m");
        }

        hub_add_info(hub, stats_info, s);
        s->info_added = true;
        *ret = g_steal_pointer(&s);
        return 0;
}

DbusService *dbus_service_free(DbusService *s) {
        if (!s)
                return NULL;
        while (!g_queue_is_empty(&s->held))
                held_reply_free(s->held.head->data);
        g_clear_pointer(&s->peers, g_hash_table_destroy);
        /* What was published before we stopped still goes out, the values held back included. */
        for (GList *l = s->window_order.head; l; l = l->next) {
                Window *w = l->data;

                if (w->held)
                        window_pending_add(s, w);
                w->held = false;
        }
        dbus_service_flush(s);
        if (s->broadcaster_linked)
                client_deinit(&s->broadcaster);
        g_clear_pointer(&s->pending, g_array_unref);
        g_clear_pointer(&s->arena, g_byte_array_unref);
        s->window_timer = sd_event_source_disable_unref(s->window_timer);
        s->listeners_slot = sd_bus_slot_unref(s->listeners_slot);
        g_clear_pointer(&s->listen_filters, g_ptr_array_unref);
        g_clear_pointer(&s->windows, g_hash_table_destroy);
        if (s->info_added)
                hub_remove_info(s->hub, stats_info, s);
        sd_bus_slot_unref(s->name_owner_slot);
        sd_bus_slot_unref(s->vtable_slot);
        sd_bus_unref(s->bus);
        g_free(s);
        return NULL;
}
