/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dbus-service.c: the org.switchboard.Hub1 object (see dbus-service.h and
 * introspection/org.switchboard.Hub1.xml, the contract).
 *
 * Each bus peer that calls us becomes one core Client (a DbusPeer), found by
 * its unique name and freed when NameOwnerChanged says it left the bus, which
 * releases its subscriptions and watches. Its uid and pid are asked of the
 * bus asynchronously, so no call ever waits for the bus driver.
 *
 * Durability: a reply that acknowledges a change the journal has not made
 * durable yet (fsync=always) is held until it has (send_durable()).
 *
 * Queues: a Reserve that has to wait is answered later, asynchronously,
 * when the core hands the peer a job or the wait times out; the hub keeps
 * serving meanwhile.
 *
 * Output: a peer's sink sends unicast signals (destination = the peer). One
 * internal client, the broadcaster, subscribes to ">" and watches "" and
 * emits the same signals without a destination, for match rules. Both stop
 * queueing when the connection's write queue holds max_queued messages:
 * the core then counts the drop and sends a Gap signal later.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "dbus/dbus-errors.h"
#include "dbus/dbus-service.h"
#include "util/log.h"
#include "util/sd-glue.h"
#include "build-config.h"

typedef struct DbusPeer {
        Client client;                  /* the core sees &peer->client; must be first */
        DbusService *service;
        sd_bus_slot *creds_slot;        /* pending GetConnectionCredentials */
        GHashTable *reserves;           /* wait id -> sd_bus_message* (a waiting Reserve call), owned */
        GHashTable *calls;              /* call id -> sd_bus_message* (a pending Call), owned */
} DbusPeer;

typedef struct HeldReply {
        JournalWaiter waiter;           /* must be first */
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
        Journal *journal;               /* may be NULL: nothing is durable */
        GQueue held;                    /* HeldReply*, waiting for the journal */
        Client broadcaster;             /* internal: emits broadcast signals */
        bool broadcaster_linked;
};

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
        client_deinit(&p->client);      /* ends its waits: nobody is left to answer */
        g_clear_pointer(&p->reserves, g_hash_table_destroy);
        g_clear_pointer(&p->calls, g_hash_table_destroy);
        g_free(p);
}

/* Signals, unicast (destination set) or broadcast (destination NULL). */

static int send_envelope(DbusService *s, const char *destination, const Envelope *e) {
        g_autoptr(sd_bus_message) m = NULL;
        bool text;
        const char *member;
        int r;

        if (s->config.max_queued > 0) {
                uint64_t queued = 0;

                if (sd_bus_get_n_queued_write(s->bus, &queued) >= 0 && queued >= s->config.max_queued)
                        return -ENOBUFS;
        }

        text = e->kind == ENVELOPE_GAP || payload_is_text(e->payload, e->payload_len);
        switch (e->kind) {
        case ENVELOPE_REQUEST:
                member = text ? "Request" : "RequestBinary";
                break;
        case ENVELOPE_MESSAGE:
                member = text ? "Message" : "MessageBinary";
                break;
        case ENVELOPE_KEY_CHANGED:
                member = text ? "KeyChanged" : "KeyChangedBinary";
                break;
        case ENVELOPE_GAP:
                member = "Gap";
                break;
        default:
                g_assert_not_reached();
        }

        r = sd_bus_message_new_signal(s->bus, &m, SB_PATH, SB_INTERFACE, member);
        if (r < 0)
                return r;
        if (destination) {
                r = sd_bus_message_set_destination(m, destination);
                if (r < 0)
                        return r;
        }

        if (e->kind == ENVELOPE_GAP)
                r = sd_bus_message_append(m, "ttt", destination ? e->sub_id : UINT64_C(0),
                                          e->gap_first, e->gap_last);
        else if (e->kind == ENVELOPE_REQUEST) {
                r = sd_bus_message_append(m, "ts", e->sub_id, e->topic);
                if (r >= 0 && text) {
                        g_autofree char *str = g_strndup(e->payload, e->payload_len);
                        r = sd_bus_message_append(m, "s", str);
                } else if (r >= 0)
                        r = sd_bus_message_append_array(m, 'y', e->payload, e->payload_len);
        } else {
                r = sd_bus_message_append(m, "s", e->topic);
                if (r >= 0 && text) {
                        /* Text has no NUL: a length-limited copy is only needed when not terminated. */
                        g_autofree char *str = g_strndup(e->payload, e->payload_len);
                        r = sd_bus_message_append(m, "s", str);
                } else if (r >= 0)
                        r = sd_bus_message_append_array(m, 'y', e->payload, e->payload_len);
                if (r >= 0)
                        r = sd_bus_message_append(m, "t", e->seq);
                if (r >= 0 && e->kind == ENVELOPE_KEY_CHANGED)
                        r = sd_bus_message_append(m, "b", e->deleted);
        }
        if (r < 0)
                return r;

        r = sd_bus_send(s->bus, m, NULL);
        return r < 0 ? -ENOBUFS : 0;
}

static int reply_job(sd_bus_message *call, uint64_t id, const void *payload, size_t len, unsigned attempts);

/* The end of a Call this peer made: the server's reply, or an error. */
static int reply_call(DbusPeer *p, const Envelope *e) {
        g_autoptr(sd_bus_message) call = NULL;
        g_autofree char *reply = NULL, *name = NULL;
        g_autofree uint64_t *key = NULL;
        uint64_t id = e->sub_id;

        if (!g_hash_table_steal_extended(p->calls, &id, (gpointer *) &key, (gpointer *) &call))
                return -ENOENT;

        if (e->error_name) {
                /* The hub's own errors get our prefix; a server's D-Bus error name passes through. */
                if (e->error_from_hub)
                        name = g_strconcat(SB_ERROR_PREFIX, e->error_name, NULL);
                else if (dbus_error_name_valid(e->error_name))
                        name = g_strdup(e->error_name);
                else
                        name = g_strdup(SB_ERROR_PREFIX "ServerError");
                if (e->error_code != 0)
                        return sd_bus_reply_method_errorf(call, name, "%s (code %d)", e->error_message,
                                                          e->error_code);
                return sd_bus_reply_method_errorf(call, name, "%s", e->error_message);
        }
        if (!payload_is_text(e->payload, e->payload_len))
                return sd_bus_reply_method_errorf(call, SB_ERROR_NOT_TEXT,
                                                  "The reply is %zu bytes that are not UTF-8 text; call over "
                                                  "JSON-RPC to receive it.", e->payload_len);
        reply = g_strndup(e->payload, e->payload_len);
        return sd_bus_reply_method_return(call, "s", reply);
}

static int peer_deliver(Client *c, const Envelope *e) {
        DbusPeer *p = (DbusPeer *) c;
        g_autoptr(sd_bus_message) call = NULL;
        g_autofree uint64_t *key = NULL;
        uint64_t wait_id = e->sub_id;

        if (e->kind == ENVELOPE_REPLY)
                return reply_call(p, e);
        if (e->kind != ENVELOPE_JOB)
                return send_envelope(p->service, dbus_peer_unique_name(p), e);

        /* The answer to a Reserve call that waited. */
        if (!g_hash_table_steal_extended(p->reserves, &wait_id, (gpointer *) &key, (gpointer *) &call))
                return -ENOENT;
        if (e->seq == 0)
                return sd_bus_reply_method_errorf(call, SB_ERROR_NO_JOB,
                                                  "No job became ready in queue '%s' in time.", e->topic);
        return reply_job(call, e->seq, e->payload, e->payload_len, e->attempts);
}

static int broadcaster_deliver(Client *c, const Envelope *e) {
        DbusService *s = (DbusService *) ((char *) c - offsetof(DbusService, broadcaster));
        return send_envelope(s, NULL, e);
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

static int on_peer_creds(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        DbusPeer *p = userdata;
        uint32_t uid = (uint32_t) -1, pid = 0;
        int r;

        p->creds_slot = sd_bus_slot_unref(p->creds_slot);
        if (sd_bus_message_is_method_error(reply, NULL)) {
                log_debug("client %" PRIu64 " (dbus %s): no credentials: %s", p->client.info.id,
                          dbus_peer_unique_name(p), sd_bus_message_get_error(reply)->message);
                return 0;
        }

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return 0;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *key;

                if (sd_bus_message_read(reply, "s", &key) < 0)
                        return 0;
                if (strcmp(key, "UnixUserID") == 0)
                        r = sd_bus_message_read(reply, "v", "u", &uid);
                else if (strcmp(key, "ProcessID") == 0)
                        r = sd_bus_message_read(reply, "v", "u", &pid);
                else
                        r = sd_bus_message_skip(reply, "v");
                if (r < 0 || sd_bus_message_exit_container(reply) < 0)
                        return 0;
        }

        client_set_creds(&p->client, (uid_t) uid, (pid_t) pid);
        log_debug("client %" PRIu64 " (dbus %s): uid %u, pid %u", p->client.info.id,
                  dbus_peer_unique_name(p), uid, pid);
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
                p->reserves = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, message_unref);
                p->calls = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, message_unref);
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
        if (*new_owner || name[0] != ':')
                return 0;
        if (g_hash_table_remove(s->peers, name)) {
                log_debug("client (dbus %s): left the bus", name);
                emit_clients_changed(s);
        }
        return 0;
}

/* Replies that acknowledge a durable change wait for the journal. */

static void held_reply_free(HeldReply *h) {
        journal_waiter_cancel(h->service->journal, &h->waiter);
        g_queue_unlink(&h->service->held, &h->link);
        sd_bus_message_unref(h->reply);
        g_free(h);
}

static void on_durable(JournalWaiter *w) {
        HeldReply *h = (HeldReply *) w;
        int r;

        r = sd_bus_send(NULL, h->reply, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to send a held reply, ignoring: %m");
        held_reply_free(h);
}

static int send_durable(DbusService *s, sd_bus_message *reply) {
        HeldReply *h;

        if (!journal_pending(s->journal))
                return sd_bus_send(NULL, reply, NULL);

        h = g_new0(HeldReply, 1);
        h->waiter.durable = on_durable;
        h->service = s;
        h->reply = sd_bus_message_ref(reply);
        h->link.data = h;
        g_queue_push_tail_link(&s->held, &h->link);
        journal_wait(s->journal, &h->waiter);
        return 1;
}

/* sd_bus_reply_method_return(), held until durable: for calls that change durable state. */
static int reply_durable(DbusService *s, sd_bus_message *m, const char *types, ...) {
        g_autoptr(sd_bus_message) reply = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        if (types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(reply, types, ap);
                va_end(ap);
                if (r < 0)
                        return r;
        }
        return send_durable(s, reply);
}

/* Methods: read arguments, call the core, map errors, reply. */

static int publish(sd_bus_message *m, DbusService *s, const char *topic, const void *payload,
                   size_t len, bool retain, sd_bus_error *error) {
        Client *c = NULL;
        uint64_t seq;
        int r;

        r = peer_for(s, m, error, &c);
        if (r < 0)
                return r;
        r = hub_publish(s->hub, c, topic, payload, len, retain, &seq);
        if (r < 0)
                return dbus_error_from_errno(error, r, hub_get_limits(s->hub), HUB_ARG_TOPIC, topic, len);
        return retain ? reply_durable(s, m, "t", seq) : sd_bus_reply_method_return(m, "t", seq);
}

static int method_publish(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *topic, *payload;
        int r;

        r = sd_bus_message_read(m, "ss", &topic, &payload);
        if (r < 0)
                return r;
        return publish(m, userdata, topic, payload, strlen(payload), false, error);
}

static int method_publish_retained(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *topic, *payload;
        int r;

        r = sd_bus_message_read(m, "ss", &topic, &payload);
        if (r < 0)
                return r;
        return publish(m, userdata, topic, payload, strlen(payload), true, error);
}

static int method_publish_binary(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *topic;
        const void *payload;
        size_t len;
        int retain, r;

        r = sd_bus_message_read(m, "s", &topic);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(m, 'y', &payload, &len);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "b", &retain);
        if (r < 0)
                return r;
        return publish(m, userdata, topic, payload, len, retain, error);
}

static int method_clear_retained(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        const char *pattern;
        unsigned n;
        int r;

        r = sd_bus_message_read(m, "s", &pattern);
        if (r < 0)
                return r;
        r = hub_clear_retained(s->hub, pattern, &n);
        if (r < 0)
                return dbus_error_from_errno(error, r, hub_get_limits(s->hub), HUB_ARG_PATTERN, pattern, 0);
        return reply_durable(s, m, "u", (uint32_t) n);
}

static int method_subscribe(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        const char *pattern;
        Client *c = NULL;
        uint64_t id;
        int with_retained, r;

        r = sd_bus_message_read(m, "sb", &pattern, &with_retained);
        if (r < 0)
                return r;
        r = peer_for(s, m, error, &c);
        if (r < 0)
                return r;

        /*
         * Reply first: the retained values are signals queued after the
         * reply, so the caller knows the id before they arrive.
         */
        r = hub_subscribe(s->hub, c, pattern, false, &id);
        if (r < 0)
                return dbus_error_from_errno(error, r, hub_get_limits(s->hub), HUB_ARG_PATTERN, pattern, 0);
        r = sd_bus_reply_method_return(m, "t", id);
        if (r >= 0 && with_retained)
                (void) hub_replay_retained(s->hub, c, id);
        return r;
}

/*
 * Unsubscribe, Unwatch, Ack, Touch: one of the caller's things by id.
 * @durable: the reply acknowledges a change and waits for the journal.
 */
static int id_call(sd_bus_message *m, DbusService *s, int (*op)(Hub *, Client *, uint64_t), HubArg arg,
                   bool durable, sd_bus_error *error) {
        char what[32];
        Client *c = NULL;
        uint64_t id;
        int r;

        r = sd_bus_message_read(m, "t", &id);
        if (r < 0)
                return r;
        r = peer_for(s, m, error, &c);
        if (r < 0)
                return r;
        r = op(s->hub, c, id);
        if (r < 0) {
                g_snprintf(what, sizeof what, "%" PRIu64, id);
                return dbus_error_from_errno(error, r, hub_get_limits(s->hub), arg, what, 0);
        }
        return durable ? reply_durable(s, m, NULL) : sd_bus_reply_method_return(m, NULL);
}

static int method_unsubscribe(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return id_call(m, userdata, hub_unsubscribe, HUB_ARG_SUBSCRIPTION, false, error);
}

static int get_entry(DbusService *s, const char *key, StoreEntry *ret, sd_bus_error *error) {
        int r;

        r = hub_get(s->hub, key, ret);
        if (r < 0)
                return dbus_error_from_errno(error, r, hub_get_limits(s->hub), HUB_ARG_KEY, key, 0);
        return 0;
}

static int method_get(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        g_autofree char *value = NULL;
        const char *key;
        StoreEntry e;
        int r;

        r = sd_bus_message_read(m, "s", &key);
        if (r < 0)
                return r;
        r = get_entry(s, key, &e, error);
        if (r < 0)
                return r;
        if (!payload_is_text(e.value, e.value_len))
                return sd_bus_error_setf(error, SB_ERROR_NOT_TEXT,
                                         "The value of key '%s' is not UTF-8 text; use GetBinary.", key);
        value = g_strndup(e.value, e.value_len);
        return sd_bus_reply_method_return(m, "st", value, e.revision);
}

static int method_get_binary(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        g_autoptr(sd_bus_message) reply = NULL;
        const char *key;
        StoreEntry e;
        int r;

        r = sd_bus_message_read(m, "s", &key);
        if (r < 0)
                return r;
        r = get_entry(s, key, &e, error);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(reply, 'y', e.value, e.value_len);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "t", e.revision);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int set(sd_bus_message *m, DbusService *s, const char *key, const void *value, size_t len,
               bool check, uint64_t expected, sd_bus_error *error) {
        Client *c = NULL;
        uint64_t rev;
        int r;

        r = peer_for(s, m, error, &c);
        if (r < 0)
                return r;
        if (check)
                r = hub_set_if(s->hub, c, key, value, len, expected, &rev);
        else
                r = hub_set(s->hub, c, key, value, len, &rev);
        if (r < 0)
                return dbus_error_from_errno(error, r, hub_get_limits(s->hub), HUB_ARG_KEY, key, len);
        return reply_durable(s, m, "t", rev);
}

static int method_set(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *key, *value;
        int r;

        r = sd_bus_message_read(m, "ss", &key, &value);
        if (r < 0)
                return r;
        return set(m, userdata, key, value, strlen(value), false, 0, error);
}

static int method_set_binary(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *key;
        const void *value;
        size_t len;
        int r;

        r = sd_bus_message_read(m, "s", &key);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(m, 'y', &value, &len);
        if (r < 0)
                return r;
        return set(m, userdata, key, value, len, false, 0, error);
}

static int method_set_if(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *key, *value;
        uint64_t expected;
        int r;

        r = sd_bus_message_read(m, "sst", &key, &value, &expected);
        if (r < 0)
                return r;
        return set(m, userdata, key, value, strlen(value), true, expected, error);
}

static int method_delete(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        const char *key;
        Client *c = NULL;
        bool existed;
        int r;

        r = sd_bus_message_read(m, "s", &key);
        if (r < 0)
                return r;
        r = peer_for(s, m, error, &c);
        if (r < 0)
                return r;
        r = hub_delete(s->hub, c, key, &existed);
        if (r < 0)
                return dbus_error_from_errno(error, r, hub_get_limits(s->hub), HUB_ARG_KEY, key, 0);
        return reply_durable(s, m, "b", existed);
}

static int method_list(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GArray) entries = NULL;
        const char *prefix;
        int r;

        r = sd_bus_message_read(m, "s", &prefix);
        if (r < 0)
                return r;
        r = hub_list(s->hub, prefix, &entries);
        if (r < 0)
                return dbus_error_from_errno(error, r, hub_get_limits(s->hub), HUB_ARG_PREFIX, prefix, 0);

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(sst)");
        if (r < 0)
                return r;
        for (guint i = 0; i < entries->len; i++) {
                const StoreEntry *e = &g_array_index(entries, StoreEntry, i);
                g_autofree char *value = NULL;

                /* A value that is not text is listed as "": GetBinary has it (see the XML). */
                if (payload_is_text(e->value, e->value_len))
                        value = g_strndup(e->value, e->value_len);
                r = sd_bus_message_append(reply, "(sst)", e->key, value ?: "", e->revision);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_watch(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        const char *prefix;
        Client *c = NULL;
        uint64_t id;
        int r;

        r = sd_bus_message_read(m, "s", &prefix);
        if (r < 0)
                return r;
        r = peer_for(s, m, error, &c);
        if (r < 0)
                return r;
        r = hub_watch(s->hub, c, prefix, &id);
        if (r < 0)
                return dbus_error_from_errno(error, r, hub_get_limits(s->hub), HUB_ARG_PREFIX, prefix, 0);
        return sd_bus_reply_method_return(m, "t", id);
}

static int method_unwatch(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return id_call(m, userdata, hub_unwatch, HUB_ARG_WATCH, false, error);
}

/* Queues. Durations on D-Bus are milliseconds; the core counts microseconds. */

#define MSEC(ms) ((uint64_t) (ms) * 1000)
#define RESERVE_MAX_WAIT_MS 60000       /* a caller must not hold the bus for minutes */

static int reply_job(sd_bus_message *call, uint64_t id, const void *payload, size_t len, unsigned attempts) {
        g_autoptr(sd_bus_message) reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "t", id);
        if (r >= 0)
                r = sd_bus_message_append_array(reply, 'y', payload, len);
        if (r >= 0)
                r = sd_bus_message_append(reply, "u", (uint32_t) attempts);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int push(sd_bus_message *m, DbusService *s, const char *queue, const void *payload, size_t len,
                uint64_t delay_ms, sd_bus_error *error) {
        Client *c = NULL;
        uint64_t id;
        int r;

        r = peer_for(s, m, error, &c);
        if (r < 0)
                return r;
        r = hub_push(s->hub, c, queue, payload, len, MSEC(delay_ms), &id);
        if (r < 0)
                return dbus_error_from_errno(error, r, hub_get_limits(s->hub), HUB_ARG_QUEUE, queue, len);
        return reply_durable(s, m, "t", id);
}

static int method_push(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *queue, *payload;
        uint64_t delay_ms;
        int r;

        r = sd_bus_message_read(m, "sst", &queue, &payload, &delay_ms);
        if (r < 0)
                return r;
        return push(m, userdata, queue, payload, strlen(payload), delay_ms, error);
}

static int method_push_binary(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *queue;
        const void *payload;
        size_t len;
        uint64_t delay_ms;
        int r;

        r = sd_bus_message_read(m, "s", &queue);
        if (r >= 0)
                r = sd_bus_message_read_array(m, 'y', &payload, &len);
        if (r >= 0)
                r = sd_bus_message_read(m, "t", &delay_ms);
        if (r < 0)
                return r;
        return push(m, userdata, queue, payload, len, delay_ms, error);
}

static int method_reserve(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        const char *queue;
        uint32_t timeout_ms, visibility_ms;
        JobInfo job;
        uint64_t wait_id;
        Client *c = NULL;
        int r;

        r = sd_bus_message_read(m, "suu", &queue, &timeout_ms, &visibility_ms);
        if (r < 0)
                return r;
        if (timeout_ms > RESERVE_MAX_WAIT_MS)
                return sd_bus_error_setf(error, SB_ERROR_LIMIT_EXCEEDED,
                                         "Reserve waits at most %u ms on D-Bus; call again to wait longer.",
                                         RESERVE_MAX_WAIT_MS);
        r = peer_for(s, m, error, &c);
        if (r < 0)
                return r;

        r = hub_reserve(s->hub, c, queue, MSEC(timeout_ms), MSEC(visibility_ms), &job, &wait_id);
        if (r < 0)
                return dbus_error_from_errno(error, r, hub_get_limits(s->hub), HUB_ARG_QUEUE, queue, 0);
        if (r > 0)
                return reply_job(m, job.id, job.payload, job.len, job.attempts);

        /* Waiting: peer_deliver() answers when the core hands over a job or gives up. */
        g_hash_table_insert(((DbusPeer *) c)->reserves, g_memdup2(&wait_id, sizeof wait_id),
                            sd_bus_message_ref(m));
        return 1;
}

static int method_ack(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return id_call(m, userdata, hub_ack, HUB_ARG_JOB, true, error);
}

static int method_touch(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return id_call(m, userdata, hub_touch, HUB_ARG_JOB, true, error);
}

static int method_nack(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        char what[32];
        uint64_t id, delay_ms;
        Client *c = NULL;
        int r;

        r = sd_bus_message_read(m, "tt", &id, &delay_ms);
        if (r < 0)
                return r;
        r = peer_for(s, m, error, &c);
        if (r < 0)
                return r;
        r = hub_nack(s->hub, c, id, MSEC(delay_ms));
        if (r < 0) {
                g_snprintf(what, sizeof what, "%" PRIu64, id);
                return dbus_error_from_errno(error, r, hub_get_limits(s->hub), HUB_ARG_JOB, what, 0);
        }
        return reply_durable(s, m, NULL);
}

static int method_kick(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        const char *queue;
        uint32_t max;
        unsigned n;
        int r;

        r = sd_bus_message_read(m, "su", &queue, &max);
        if (r < 0)
                return r;
        r = hub_kick(s->hub, queue, max, &n);
        if (r < 0)
                return dbus_error_from_errno(error, r, hub_get_limits(s->hub), HUB_ARG_QUEUE, queue, 0);
        return reply_durable(s, m, "u", (uint32_t) n);
}

static int method_purge(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        const char *queue;
        unsigned n;
        int r;

        r = sd_bus_message_read(m, "s", &queue);
        if (r < 0)
                return r;
        r = hub_purge(s->hub, queue, &n);
        if (r < 0)
                return dbus_error_from_errno(error, r, hub_get_limits(s->hub), HUB_ARG_QUEUE, queue, 0);
        return reply_durable(s, m, "u", (uint32_t) n);
}

static int method_peek(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        const char *queue;
        JobInfo job;
        int r;

        r = sd_bus_message_read(m, "s", &queue);
        if (r < 0)
                return r;
        r = hub_peek(s->hub, queue, &job);
        if (r < 0)
                return dbus_error_from_errno(error, r, hub_get_limits(s->hub), HUB_ARG_QUEUE, queue, 0);
        return reply_job(m, job.id, job.payload, job.len, job.attempts);
}

static int method_list_queues(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GArray) queues = hub_list_queues(s->hub);
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(suuuuu)");
        for (guint i = 0; r >= 0 && i < queues->len; i++) {
                const QueueInfo *q = &g_array_index(queues, QueueInfo, i);

                r = sd_bus_message_append(reply, "(suuuuu)", q->name, q->ready, q->reserved, q->delayed,
                                          q->dead, q->waiting);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* Request/reply */

static int method_call(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        const char *name, *payload;
        uint32_t timeout_ms;
        uint64_t id;
        Client *c = NULL;
        int r;

        r = sd_bus_message_read(m, "ssu", &name, &payload, &timeout_ms);
        if (r < 0)
                return r;
        r = peer_for(s, m, error, &c);
        if (r < 0)
                return r;

        r = hub_call(s->hub, c, name, payload, strlen(payload), MSEC(timeout_ms), &id);
        if (r < 0)
                return dbus_error_from_errno(error, r, hub_get_limits(s->hub), HUB_ARG_SERVICE, name,
                                             strlen(payload));

        /* Answered by reply_call() when the call ends, unless it ended already. */
        if (!hub_call_pending(s->hub, id))
                return sd_bus_error_set(error, SB_ERROR_PREFIX "ServerGone", "The server could not take the request.");
        g_hash_table_insert(((DbusPeer *) c)->calls, g_memdup2(&id, sizeof id), sd_bus_message_ref(m));
        return 1;
}

static int serve_call(sd_bus_message *m, DbusService *s, bool serve, sd_bus_error *error) {
        const char *name;
        Client *c = NULL;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = peer_for(s, m, error, &c);
        if (r < 0)
                return r;
        r = serve ? hub_serve(s->hub, c, name) : hub_unserve(s->hub, c, name);
        if (r < 0)
                return dbus_error_from_errno(error, r, hub_get_limits(s->hub), HUB_ARG_SERVICE, name, 0);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_serve(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return serve_call(m, userdata, true, error);
}

static int method_unserve(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return serve_call(m, userdata, false, error);
}

static int method_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        const char *payload, *name = NULL, *message = NULL;
        char what[32];
        uint64_t id;
        bool is_error = sd_bus_message_is_method_call(m, NULL, "ReplyError");
        Client *c = NULL;
        int r;

        r = is_error ? sd_bus_message_read(m, "tss", &id, &name, &message) : sd_bus_message_read(m, "ts", &id, &payload);
        if (r < 0)
                return r;
        r = peer_for(s, m, error, &c);
        if (r < 0)
                return r;
        if (is_error && !dbus_error_name_valid(name))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "'%s' is not a D-Bus error name (like org.example.Error.Failed).", name);

        r = is_error ? hub_reply_error(s->hub, c, id, name, 0, message) :
                       hub_reply(s->hub, c, id, payload, strlen(payload));
        if (r < 0) {
                g_snprintf(what, sizeof what, "%" PRIu64, id);
                return dbus_error_from_errno(error, r, hub_get_limits(s->hub), HUB_ARG_CALL, what, 0);
        }
        return sd_bus_reply_method_return(m, NULL);
}

static int append_entry(sd_bus_message *m, const char *key, const char *type, ...) {
        va_list ap;
        int r;

        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", key);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'v', type);
        if (r < 0)
                return r;
        va_start(ap, type);
        r = sd_bus_message_appendv(m, type, ap);
        va_end(ap);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int append_services_of(sd_bus_message *m, Hub *hub) {
        g_autoptr(GArray) services = hub_list_services(hub);
        int r;

        r = sd_bus_message_open_container(m, 'a', "{su}");
        for (guint i = 0; r >= 0 && i < services->len; i++) {
                const ServiceInfo *si = &g_array_index(services, ServiceInfo, i);
                r = sd_bus_message_append(m, "{su}", si->name, si->servers);
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int method_get_info(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GHashTable) by_transport = hub_get_clients_by_transport(s->hub);
        const HubCounters *n = hub_get_counters(s->hub);
        const HubLimits *l = hub_get_limits(s->hub);
        GHashTableIter it;
        gpointer k, v;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;

        if ((r = append_entry(reply, "version", "s", PACKAGE_VERSION)) < 0 ||
            (r = append_entry(reply, "start_time", "t", hub_get_start_time(s->hub))) < 0 ||
            (r = append_entry(reply, "clients", "u", hub_get_n_clients(s->hub))) < 0 ||
            (r = append_entry(reply, "subscriptions", "u", hub_get_n_subscriptions(s->hub))) < 0 ||
            (r = append_entry(reply, "watches", "u", hub_get_n_watches(s->hub))) < 0 ||
            (r = append_entry(reply, "topics", "u", hub_get_n_retained(s->hub))) < 0 ||
            (r = append_entry(reply, "keys", "u", hub_get_n_keys(s->hub))) < 0 ||
            (r = append_entry(reply, "queues", "u", hub_get_n_queues(s->hub))) < 0 ||
            (r = append_entry(reply, "pending_calls", "u", hub_get_n_pending_calls(s->hub))) < 0 ||
            (r = append_entry(reply, "calls", "t", n->calls)) < 0 ||
            (r = append_entry(reply, "late_replies", "t", n->late_replies)) < 0 ||
            (r = append_entry(reply, "messages_published", "t", n->published)) < 0 ||
            (r = append_entry(reply, "messages_delivered", "t", n->delivered)) < 0 ||
            (r = append_entry(reply, "messages_dropped", "t", n->dropped)) < 0 ||
            (r = append_entry(reply, "store_changes", "t", n->store_changes)) < 0)
                return r;

        /* clients_by_transport: a{su} */
        if ((r = sd_bus_message_open_container(reply, 'e', "sv")) < 0 ||
            (r = sd_bus_message_append(reply, "s", "clients_by_transport")) < 0 ||
            (r = sd_bus_message_open_container(reply, 'v', "a{su}")) < 0 ||
            (r = sd_bus_message_open_container(reply, 'a', "{su}")) < 0)
                return r;
        g_hash_table_iter_init(&it, by_transport);
        while (g_hash_table_iter_next(&it, &k, &v))
                if ((r = sd_bus_message_append(reply, "{su}", k, GPOINTER_TO_UINT(v))) < 0)
                        return r;
        if ((r = sd_bus_message_close_container(reply)) < 0 ||
            (r = sd_bus_message_close_container(reply)) < 0 ||
            (r = sd_bus_message_close_container(reply)) < 0)
                return r;

        /* services: a{su} */
        if ((r = sd_bus_message_open_container(reply, 'e', "sv")) < 0 ||
            (r = sd_bus_message_append(reply, "s", "services")) < 0 ||
            (r = sd_bus_message_open_container(reply, 'v', "a{su}")) < 0 ||
            (r = append_services_of(reply, s->hub)) < 0 ||
            (r = sd_bus_message_close_container(reply)) < 0 ||
            (r = sd_bus_message_close_container(reply)) < 0)
                return r;

        /* limits: a{st} */
        if ((r = sd_bus_message_open_container(reply, 'e', "sv")) < 0 ||
            (r = sd_bus_message_append(reply, "s", "limits")) < 0 ||
            (r = sd_bus_message_open_container(reply, 'v', "a{st}")) < 0 ||
            (r = sd_bus_message_append(reply, "a{st}", 10,
                                       "max-topic-length", (uint64_t) l->max_topic_length,
                                       "max-topic-tokens", (uint64_t) l->max_topic_tokens,
                                       "max-payload", (uint64_t) l->max_payload,
                                       "max-key-length", (uint64_t) l->max_key_length,
                                       "max-value", (uint64_t) l->max_value,
                                       "max-subscriptions", (uint64_t) l->max_subscriptions,
                                       "max-watches", (uint64_t) l->max_watches,
                                       "max-retained", (uint64_t) l->max_retained,
                                       "max-keys", (uint64_t) l->max_keys,
                                       "max-clients", (uint64_t) l->max_clients)) < 0 ||
            (r = sd_bus_message_close_container(reply)) < 0 ||
            (r = sd_bus_message_close_container(reply)) < 0)
                return r;

        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* Properties */


static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        DbusService *s = userdata;
        const HubCounters *n = hub_get_counters(s->hub);

        if (strcmp(property, "Version") == 0)
                return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
        if (strcmp(property, "StartTime") == 0)
                return sd_bus_message_append(reply, "t", hub_get_start_time(s->hub));
        if (strcmp(property, "Clients") == 0)
                return sd_bus_message_append(reply, "u", hub_get_n_clients(s->hub));
        if (strcmp(property, "Subscriptions") == 0)
                return sd_bus_message_append(reply, "u", hub_get_n_subscriptions(s->hub));
        if (strcmp(property, "Topics") == 0)
                return sd_bus_message_append(reply, "u", hub_get_n_retained(s->hub));
        if (strcmp(property, "Keys") == 0)
                return sd_bus_message_append(reply, "u", hub_get_n_keys(s->hub));
        if (strcmp(property, "Services") == 0)
                return append_services_of(reply, s->hub);
        if (strcmp(property, "Queues") == 0)
                return sd_bus_message_append(reply, "u", hub_get_n_queues(s->hub));
        if (strcmp(property, "MessagesPublished") == 0)
                return sd_bus_message_append(reply, "t", n->published);
        if (strcmp(property, "MessagesDropped") == 0)
                return sd_bus_message_append(reply, "t", n->dropped);
        return -ENOENT;
}

static const sd_bus_vtable hub_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Publish",
                                SD_BUS_ARGS("s", topic, "s", payload), SD_BUS_RESULT("t", seq),
                                method_publish, 0),
        SD_BUS_METHOD_WITH_ARGS("PublishRetained",
                                SD_BUS_ARGS("s", topic, "s", payload), SD_BUS_RESULT("t", seq),
                                method_publish_retained, 0),
        SD_BUS_METHOD_WITH_ARGS("PublishBinary",
                                SD_BUS_ARGS("s", topic, "ay", payload, "b", retain), SD_BUS_RESULT("t", seq),
                                method_publish_binary, 0),
        SD_BUS_METHOD_WITH_ARGS("ClearRetained",
                                SD_BUS_ARGS("s", pattern), SD_BUS_RESULT("u", count),
                                method_clear_retained, 0),
        SD_BUS_METHOD_WITH_ARGS("Subscribe",
                                SD_BUS_ARGS("s", pattern, "b", with_retained), SD_BUS_RESULT("t", id),
                                method_subscribe, 0),
        SD_BUS_METHOD_WITH_ARGS("Unsubscribe", SD_BUS_ARGS("t", id), SD_BUS_NO_RESULT,
                                method_unsubscribe, 0),
        SD_BUS_METHOD_WITH_ARGS("Get",
                                SD_BUS_ARGS("s", key), SD_BUS_RESULT("s", value, "t", revision),
                                method_get, 0),
        SD_BUS_METHOD_WITH_ARGS("GetBinary",
                                SD_BUS_ARGS("s", key), SD_BUS_RESULT("ay", value, "t", revision),
                                method_get_binary, 0),
        SD_BUS_METHOD_WITH_ARGS("Set",
                                SD_BUS_ARGS("s", key, "s", value), SD_BUS_RESULT("t", revision),
                                method_set, 0),
        SD_BUS_METHOD_WITH_ARGS("SetBinary",
                                SD_BUS_ARGS("s", key, "ay", value), SD_BUS_RESULT("t", revision),
                                method_set_binary, 0),
        SD_BUS_METHOD_WITH_ARGS("SetIf",
                                SD_BUS_ARGS("s", key, "s", value, "t", expected_revision),
                                SD_BUS_RESULT("t", revision),
                                method_set_if, 0),
        SD_BUS_METHOD_WITH_ARGS("Delete",
                                SD_BUS_ARGS("s", key), SD_BUS_RESULT("b", existed),
                                method_delete, 0),
        SD_BUS_METHOD_WITH_ARGS("List",
                                SD_BUS_ARGS("s", prefix), SD_BUS_RESULT("a(sst)", entries),
                                method_list, 0),
        SD_BUS_METHOD_WITH_ARGS("Watch",
                                SD_BUS_ARGS("s", prefix), SD_BUS_RESULT("t", id),
                                method_watch, 0),
        SD_BUS_METHOD_WITH_ARGS("Unwatch", SD_BUS_ARGS("t", id), SD_BUS_NO_RESULT,
                                method_unwatch, 0),
        SD_BUS_METHOD_WITH_ARGS("Push",
                                SD_BUS_ARGS("s", queue, "s", payload, "t", delay_ms), SD_BUS_RESULT("t", id),
                                method_push, 0),
        SD_BUS_METHOD_WITH_ARGS("PushBinary",
                                SD_BUS_ARGS("s", queue, "ay", payload, "t", delay_ms), SD_BUS_RESULT("t", id),
                                method_push_binary, 0),
        SD_BUS_METHOD_WITH_ARGS("Reserve",
                                SD_BUS_ARGS("s", queue, "u", timeout_ms, "u", visibility_ms),
                                SD_BUS_RESULT("t", id, "ay", payload, "u", attempts),
                                method_reserve, 0),
        SD_BUS_METHOD_WITH_ARGS("Ack", SD_BUS_ARGS("t", id), SD_BUS_NO_RESULT, method_ack, 0),
        SD_BUS_METHOD_WITH_ARGS("Nack", SD_BUS_ARGS("t", id, "t", delay_ms), SD_BUS_NO_RESULT, method_nack, 0),
        SD_BUS_METHOD_WITH_ARGS("Touch", SD_BUS_ARGS("t", id), SD_BUS_NO_RESULT, method_touch, 0),
        SD_BUS_METHOD_WITH_ARGS("Kick",
                                SD_BUS_ARGS("s", queue, "u", max), SD_BUS_RESULT("u", count),
                                method_kick, 0),
        SD_BUS_METHOD_WITH_ARGS("Peek",
                                SD_BUS_ARGS("s", queue), SD_BUS_RESULT("t", id, "ay", payload, "u", attempts),
                                method_peek, 0),
        SD_BUS_METHOD_WITH_ARGS("Purge", SD_BUS_ARGS("s", queue), SD_BUS_RESULT("u", count), method_purge, 0),
        SD_BUS_METHOD_WITH_ARGS("ListQueues", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(suuuuu)", queues),
                                method_list_queues, 0),
        SD_BUS_METHOD_WITH_ARGS("Call",
                                SD_BUS_ARGS("s", name, "s", payload, "u", timeout_ms), SD_BUS_RESULT("s", reply),
                                method_call, 0),
        SD_BUS_METHOD_WITH_ARGS("Serve", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT, method_serve, 0),
        SD_BUS_METHOD_WITH_ARGS("Unserve", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT, method_unserve, 0),
        SD_BUS_METHOD_WITH_ARGS("Reply", SD_BUS_ARGS("t", id, "s", payload), SD_BUS_NO_RESULT, method_reply, 0),
        SD_BUS_METHOD_WITH_ARGS("ReplyError", SD_BUS_ARGS("t", id, "s", error, "s", message), SD_BUS_NO_RESULT,
                                method_reply, 0),
        SD_BUS_METHOD_WITH_ARGS("GetInfo", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", info),
                                method_get_info, 0),

        SD_BUS_SIGNAL_WITH_ARGS("Message", SD_BUS_ARGS("s", topic, "s", payload, "t", seq), 0),
        SD_BUS_SIGNAL_WITH_ARGS("MessageBinary", SD_BUS_ARGS("s", topic, "ay", payload, "t", seq), 0),
        SD_BUS_SIGNAL_WITH_ARGS("KeyChanged",
                                SD_BUS_ARGS("s", key, "s", value, "t", revision, "b", deleted), 0),
        SD_BUS_SIGNAL_WITH_ARGS("KeyChangedBinary",
                                SD_BUS_ARGS("s", key, "ay", value, "t", revision, "b", deleted), 0),
        SD_BUS_SIGNAL_WITH_ARGS("Request", SD_BUS_ARGS("t", id, "s", name, "s", payload), 0),
        SD_BUS_SIGNAL_WITH_ARGS("RequestBinary", SD_BUS_ARGS("t", id, "s", name, "ay", payload), 0),
        SD_BUS_SIGNAL_WITH_ARGS("Gap",
                                SD_BUS_ARGS("t", subscription, "t", first_seq, "t", last_seq), 0),

        SD_BUS_PROPERTY("Version", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("StartTime", "t", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Clients", "u", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Subscriptions", "u", property_get, 0, 0),
        SD_BUS_PROPERTY("Topics", "u", property_get, 0, 0),
        SD_BUS_PROPERTY("Keys", "u", property_get, 0, 0),
        SD_BUS_PROPERTY("Queues", "u", property_get, 0, 0),
        SD_BUS_PROPERTY("Services", "a{su}", property_get, 0, 0),
        SD_BUS_PROPERTY("MessagesPublished", "t", property_get, 0, 0),
        SD_BUS_PROPERTY("MessagesDropped", "t", property_get, 0, 0),
        SD_BUS_VTABLE_END
};

/**
 * dbus_service_new() - put the hub's object on @bus, which is attached to
 * the event loop already; does not request the bus name
 *
 * Return: 0 or a negative errno from sd-bus.
 */
int dbus_service_new(sd_bus *bus, Hub *hub, Journal *journal, const DbusConfig *config, DbusService **ret) {
        g_autoptr(DbusService) s = NULL;
        int r;

        s = g_new0(DbusService, 1);
        s->bus = sd_bus_ref(bus);
        s->hub = hub;
        s->config = *config;
        s->journal = journal;
        g_queue_init(&s->held);
        s->peers = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) dbus_peer_free);

        r = sd_bus_add_object_vtable(bus, &s->vtable_slot, SB_PATH, SB_INTERFACE, hub_vtable, s);
        if (r < 0)
                return log_error_errno(r, "Failed to add the object %s: %m", SB_PATH);

        r = sd_bus_match_signal_async(bus, &s->name_owner_slot, "org.freedesktop.DBus",
                                      "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                      "NameOwnerChanged", on_name_owner_changed, NULL, s);
        if (r < 0)
                return log_error_errno(r, "Failed to watch for clients leaving the bus: %m");

        if (config->broadcast) {
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

        *ret = g_steal_pointer(&s);
        return 0;
}

DbusService *dbus_service_free(DbusService *s) {
        if (!s)
                return NULL;
        while (!g_queue_is_empty(&s->held))
                held_reply_free(s->held.head->data);
        g_clear_pointer(&s->peers, g_hash_table_destroy);
        if (s->broadcaster_linked)
                client_deinit(&s->broadcaster);
        sd_bus_slot_unref(s->name_owner_slot);
        sd_bus_slot_unref(s->vtable_slot);
        sd_bus_unref(s->bus);
        g_free(s);
        return NULL;
}
