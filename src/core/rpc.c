/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rpc.c: request/reply between clients (hub.h "Request/reply").
 *
 * A client serves names (topic grammar); a Service is the set of clients
 * serving one name, taken round-robin. A call becomes a PendingCall, linked
 * to its caller, its server and a timer: it ends exactly once, with the
 * server's reply or error, a timeout, or the server leaving ("ServerGone");
 * each end reaches the caller as one ENVELOPE_REPLY. A caller that leaves
 * takes its calls with it; a reply that arrives after its call ended is
 * dropped and counted (late_replies). Nothing here is durable: calls are
 * between live clients.
 */
#include <errno.h>
#include <string.h>

#include "core/hub-private.h"
#include "core/rpc.h"
#include "core/topic.h"

struct Service {
        char *name;
        GQueue servers;                 /* ServeEntry*, next to pick first */
        uint64_t calls, errors, timeouts;
        uint64_t answered, latency_sum, latency_max;    /* usec, of calls answered by a server */
};

typedef struct ServeEntry {
        Service *service;
        Client *client;
        GList link;                     /* in Service.servers */
} ServeEntry;

struct PendingCall {
        uint64_t id;
        char *name;                     /* the name called: its Service may be gone by the end */
        uint64_t started;               /* on the hub's clock */
        Client *caller;
        Client *server;
        Timer timer;                    /* in Hub.timers until the call ends */
};

static void service_free(Service *s) {
        g_free(s->name);
        g_free(s);
}

void rpc_init(Hub *h) {
        h->services = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) service_free);
        h->calls = g_hash_table_new(g_int64_hash, g_int64_equal);
}

void rpc_deinit(Hub *h) {
        /* Every client, and with it every call and served name, is gone. */
        g_assert(g_hash_table_size(h->calls) == 0);
        g_clear_pointer(&h->calls, g_hash_table_destroy);
        g_clear_pointer(&h->services, g_hash_table_destroy);
}

static void serve_entry_free(Hub *h, ServeEntry *e) {
        Service *s = e->service;

        g_queue_unlink(&s->servers, &e->link);
        g_hash_table_remove(e->client->served, s->name);
        g_free(e);
        if (g_queue_is_empty(&s->servers))
                g_hash_table_remove(h->services, s->name);      /* frees s */
}

/**
 * hub_serve() - @c answers calls to @name from now on
 *
 * Return: 0; -EINVAL/-ENAMETOOLONG for a bad name (topic grammar, no
 * wildcards), -EEXIST when @c serves it already, -EDQUOT over max_served.
 */
int hub_serve(Hub *h, Client *c, const char *name) {
        Service *s;
        ServeEntry *e;
        int r;

        r = topic_validate(name, &h->limits);
        if (r < 0)
                return r;
        if (g_hash_table_contains(c->served, name))
                return -EEXIST;
        if (g_hash_table_size(c->served) >= h->limits.max_served && !c->internal)
                return -EDQUOT;

        s = g_hash_table_lookup(h->services, name);
        if (!s) {
                s = g_new0(Service, 1);
                s->name = g_strdup(name);
                g_queue_init(&s->servers);
                g_hash_table_insert(h->services, s->name, s);
        }
        e = g_new0(ServeEntry, 1);
        e->service = s;
        e->client = c;
        e->link.data = e;
        g_queue_push_tail_link(&s->servers, &e->link);
        g_hash_table_insert(c->served, s->name, e);
        return 0;
}

/**
 * hub_unserve() - @c stops serving @name; calls it has already accepted
 * still expect its reply
 *
 * Return: 0, or -ENOENT when @c does not serve @name.
 */
int hub_unserve(Hub *h, Client *c, const char *name) {
        ServeEntry *e = g_hash_table_lookup(c->served, name);

        if (!e)
                return -ENOENT;
        serve_entry_free(h, e);
        return 0;
}

static void call_free(Hub *h, PendingCall *call) {
        timer_disarm(&call->timer);
        g_hash_table_remove(h->calls, &call->id);
        if (call->caller)
                g_hash_table_remove(call->caller->calls_out, &call->id);
        if (call->server)
                g_hash_table_remove(call->server->calls_in, &call->id);
        g_free(call->name);
        g_free(call);
}

/* Count how @call ended in its service's counters, and tell the monitors. */
static void call_account(Hub *h, PendingCall *call, const void *payload, size_t len, const char *error_name,
                         bool from_hub, const char *error_message) {
        Service *s = g_hash_table_lookup(h->services, call->name);
        /* The hub ends a call itself only when time runs out or the server is gone. */
        bool timeout = from_hub && g_strcmp0(error_name, "Timeout") == 0;
        bool gone = from_hub && g_strcmp0(error_name, "ServerGone") == 0;
        TrafficEvent t = {
                .event = !error_name ? "reply" : timeout ? "timeout" : gone ? "server_gone" : "error",
                .who = timeout || gone ? NULL : call->server,
                .name = call->name,
                .id = call->id,
                .payload = payload,
                .len = len,
                .error_name = error_name,
                .error_message = error_message,
        };

        if (s) {
                uint64_t now = hub_now(h), latency = now > call->started ? now - call->started : 0;

                s->errors += error_name && !timeout;
                s->timeouts += timeout;
                if (!timeout && !gone) {
                        s->answered++;
                        s->latency_sum += latency;
                        s->latency_max = MAX(s->latency_max, latency);
                }
        }
        monitor_emit(h, &t);
}

/* End @call, telling its caller: a reply (@error_name NULL) or an error. */
static void call_finish(Hub *h, PendingCall *call, const void *payload, size_t len, const char *error_name,
                        bool from_hub, int error_code, const char *error_message) {
        Client *caller = call->caller;
        Envelope e = {
                .kind = ENVELOPE_REPLY,
                .sub_id = call->id,
                .payload = payload,
                .payload_len = len,
                .error_name = error_name,
                .error_code = error_code,
                .error_from_hub = from_hub,
                .error_message = error_message,
                .sender = call->server ? &call->server->info : NULL,
        };

        if (caller && caller->sink->deliver(caller, &e) >= 0)
                h->counters.delivered++;
        call_account(h, call, payload, len, error_name, from_hub, error_message);
        call_free(h, call);
}

/* The call's timer: the server did not reply in time. */
static void call_timer_fired(void *context, void *object, uint64_t now) {
        call_finish(context, object, NULL, 0, "Timeout", true, 0, "The server did not reply in time.");
}

/*
 * Round-robin: the first server of @s that has room for one more call; it
 * goes to the back. NULL when every server has max_calls pending.
 */
static Client *service_pick_server(Hub *h, Service *s) {
        for (GList *l = s->servers.head; l; l = l->next) {
                ServeEntry *e = l->data;

                if (g_hash_table_size(e->client->calls_in) < h->limits.max_calls || e->client->internal) {
                        g_queue_unlink(&s->servers, &e->link);
                        g_queue_push_tail_link(&s->servers, &e->link);
                        return e->client;
                }
        }
        return NULL;
}

/* A call from @caller to @server, linked to both and timed out after @timeout_usec. */
static PendingCall *call_new(Hub *h, Client *caller, Client *server, const char *name, uint64_t timeout_usec) {
        PendingCall *call = g_new0(PendingCall, 1);

        call->id = ++h->next_call_id;
        call->name = g_strdup(name);
        call->started = hub_now(h);
        call->caller = caller;
        call->server = server;
        g_hash_table_insert(h->calls, &call->id, call);
        g_hash_table_insert(caller->calls_out, &call->id, call);
        g_hash_table_insert(server->calls_in, &call->id, call);
        timer_arm(h->timers, &call->timer, hub_now(h) + timeout_usec, call_timer_fired, call);
        return call;
}

/* What a call must be before it is routed; @timeout_usec 0 becomes the longest. */
static int call_check(Hub *h, Client *c, const char *name, size_t len, uint64_t *timeout_usec) {
        int r = topic_validate(name, &h->limits);

        if (r < 0)
                return r;
        if (len > h->limits.max_payload)
                return -EMSGSIZE;
        if (*timeout_usec > h->limits.max_call_timeout)
                return -ERANGE;
        if (*timeout_usec == 0)
                *timeout_usec = h->limits.max_call_timeout;
        if (g_hash_table_size(c->calls_out) >= h->limits.max_calls && !c->internal)
                return -EDQUOT;
        return 0;
}

/**
 * hub_call() - route a call of @name with @payload to one of its servers
 * @timeout_usec: after this the caller gets "Timeout" (0: max_call_timeout)
 * @ret_call_id: the call's id; its end arrives as an ENVELOPE_REPLY to @c
 *
 * Return: 0; -EHOSTUNREACH when nobody serves @name (no envelope follows);
 * -EINVAL/-ENAMETOOLONG for a bad name, -EMSGSIZE over max_payload, -ERANGE
 * for a timeout over max_call_timeout, -EDQUOT when @c or the chosen server
 * has max_calls pending.
 */
int hub_call(Hub *h, Client *c, const char *name, const void *payload, size_t len, uint64_t timeout_usec,
             uint64_t *ret_call_id) {
        PendingCall *call;
        Service *s;
        Client *server;
        int r = call_check(h, c, name, len, &timeout_usec);

        if (r < 0)
                return r;

        s = g_hash_table_lookup(h->services, name);
        if (!s) {
                monitor_emit(h, &(TrafficEvent) { .event = "no_server", .who = c, .name = name, .payload = payload,
                                                  .len = len, .error_name = "NoServer",
                                                  .error_message = "Nobody serves the name." });
                return -EHOSTUNREACH;
        }

        server = service_pick_server(h, s);
        if (!server)
                return -EDQUOT;

        call = call_new(h, c, server, name, timeout_usec);
        h->counters.calls++;
        s->calls++;
        monitor_emit(h, &(TrafficEvent) { .event = "call", .who = c, .name = name, .id = call->id,
                                          .payload = payload, .len = len });

        if (ret_call_id)
                *ret_call_id = call->id;

        /* To the server: the call's id and name, what the caller sent, and who the caller is. */
        Envelope req = { .kind = ENVELOPE_REQUEST, .sub_id = call->id, .topic = name, .sender = &c->info,
                         .payload = payload, .payload_len = len };
        if (server->sink->deliver(server, &req) < 0) {
                /* The server cannot take it: it is as good as gone for this call. */
                call->server = NULL;
                g_hash_table_remove(server->calls_in, &call->id);
                call_finish(h, call, NULL, 0, "ServerGone", true, 0, "The server could not take the request.");
        }
        return 0;
}

static PendingCall *call_of_server(Hub *h, Client *c, uint64_t call_id) {
        PendingCall *call = g_hash_table_lookup(c->calls_in, &call_id);

        if (!call)
                h->counters.late_replies++;
        return call;
}

/**
 * hub_reply() - @c, the server of call @call_id, answers it with @payload
 *
 * Return: 0; -ENOENT when the call is not pending at @c (timed out, caller
 * gone, never routed to @c: the reply is dropped and counted);
 * -EMSGSIZE over max_payload.
 */
int hub_reply(Hub *h, Client *c, uint64_t call_id, const void *payload, size_t len) {
        PendingCall *call;

        if (len > h->limits.max_payload)
                return -EMSGSIZE;
        call = call_of_server(h, c, call_id);
        if (!call)
                return -ENOENT;
        call_finish(h, call, payload, len, NULL, false, 0, NULL);
        return 0;
}

/**
 * hub_reply_error() - @c, the server of call @call_id, answers with an error
 * @error_name: the server's error name, passed through (NULL: "ServerError")
 * @error_code: the server's JSON-RPC code, or 0
 * @message: for a person; may be NULL
 *
 * Return: as hub_reply().
 */
int hub_reply_error(Hub *h, Client *c, uint64_t call_id, const char *error_name, int error_code,
                    const char *message) {
        PendingCall *call = call_of_server(h, c, call_id);

        if (!call)
                return -ENOENT;
        call_finish(h, call, NULL, 0, error_name ?: "ServerError", error_name == NULL, error_code, message ?: "");
        return 0;
}

/**
 * rpc_client_release() - @c is going: it serves nothing any more, calls
 * routed to it fail at once with "ServerGone", its own calls are forgotten
 * (a reply to them is late)
 */
void rpc_client_release(Hub *h, Client *c) {
        GHashTableIter it;
        gpointer v;

        while (g_hash_table_size(c->served) > 0) {
                g_hash_table_iter_init(&it, c->served);
                g_hash_table_iter_next(&it, NULL, &v);
                serve_entry_free(h, v);
        }
        while (g_hash_table_size(c->calls_in) > 0) {
                PendingCall *call;

                g_hash_table_iter_init(&it, c->calls_in);
                g_hash_table_iter_next(&it, NULL, &v);
                call = v;
                g_hash_table_iter_remove(&it);
                call->server = NULL;
                call_finish(h, call, NULL, 0, "ServerGone", true, 0, "The server left before it replied.");
        }
        while (g_hash_table_size(c->calls_out) > 0) {
                g_hash_table_iter_init(&it, c->calls_out);
                g_hash_table_iter_next(&it, NULL, &v);
                ((PendingCall *) v)->caller = NULL;
                g_hash_table_iter_remove(&it);
                call_free(h, v);
        }
}

static gint service_info_cmp(gconstpointer a, gconstpointer b) {
        return strcmp(((const ServiceInfo *) a)->name, ((const ServiceInfo *) b)->name);
}

/**
 * hub_list_services() - every served name with its number of servers
 *
 * Return: a new GArray of ServiceInfo, sorted by name.
 */
GArray *hub_list_services(Hub *h) {
        GArray *a = g_array_new(FALSE, FALSE, sizeof(ServiceInfo));
        GHashTableIter it;
        gpointer v;

        g_hash_table_iter_init(&it, h->services);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
                ServiceInfo info = {
                        .name = ((Service *) v)->name,
                        .servers = g_queue_get_length(&((Service *) v)->servers),
                };
                g_array_append_val(a, info);
        }
        g_array_sort(a, service_info_cmp);
        return a;
}

static gint service_row_cmp(gconstpointer a, gconstpointer b) {
        return strcmp(((const ServiceRow *) a)->name, ((const ServiceRow *) b)->name);
}

static void service_row_clear(void *p) {
        g_free((char *) ((ServiceRow *) p)->servers);
}

/**
 * hub_list_service_rows() - every served name with its servers (client
 * ids), pending calls, calls, errors, timeouts and reply latency
 *
 * Return: a new GArray of ServiceRow, by name; names borrowed until the
 * next change, the server lists owned by the array.
 */
GArray *hub_list_service_rows(Hub *h) {
        g_autoptr(GHashTable) pending = g_hash_table_new(g_str_hash, g_str_equal);
        GArray *a = g_array_new(FALSE, TRUE, sizeof(ServiceRow));
        GHashTableIter it;
        gpointer v;

        g_array_set_clear_func(a, service_row_clear);
        g_hash_table_iter_init(&it, h->calls);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
                const char *name = ((PendingCall *) v)->name;

                g_hash_table_insert(pending, (gpointer) name,
                                    GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(pending, name)) + 1));
        }
        g_hash_table_iter_init(&it, h->services);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
                const Service *s = v;
                GString *servers = g_string_new(NULL);
                ServiceRow row = {
                        .name = s->name, .calls = s->calls, .errors = s->errors, .timeouts = s->timeouts,
                        .latency_avg = s->answered > 0 ? s->latency_sum / s->answered : 0,
                        .latency_max = s->latency_max,
                        .pending = GPOINTER_TO_UINT(g_hash_table_lookup(pending, s->name)),
                };

                for (GList *l = s->servers.head; l; l = l->next) {
                        Client *c = ((ServeEntry *) l->data)->client;

                        g_string_append_printf(servers, "%s%" G_GUINT64_FORMAT, servers->len ? " " : "", c->info.id);
                }
                row.servers = g_string_free(servers, FALSE);
                g_array_append_val(a, row);
        }
        g_array_sort(a, service_row_cmp);
        return a;
}

unsigned hub_get_n_pending_calls(Hub *h) {
        return g_hash_table_size(h->calls);
}

bool hub_call_pending(Hub *h, uint64_t call_id) {
        return g_hash_table_contains(h->calls, &call_id);
}
