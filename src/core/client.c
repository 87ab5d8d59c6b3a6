/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * client.c: the core's side of a connected client (see client.h): linking
 * it into the hub, and on its way out freeing everything it created in
 * every module. Delivery to its listeners is listener.c's.
 */
#include <errno.h>

#include "core/hub-private.h"
#include "core/listener.h"

/**
 * client_init() - link @c, embedded in a transport's connection, into @hub
 * @name: D-Bus unique name or a transport's label; copied; may be NULL
 * @internal: a hub-side listener (the D-Bus broadcaster): not counted, no limit
 *
 * Return: 0, or -EDQUOT when the hub has max_clients clients already.
 */
int client_init(Client *c, Hub *hub, const ClientSink *sink, uid_t uid, pid_t pid,
                const char *name, bool internal) {
        if (!internal && hub->n_clients >= hub->limits.max_clients)
                return -EDQUOT;

        *c = (Client) {
                .sink = sink,
                .hub = hub,
                .internal = internal,
                .name = g_strdup(name),
        };
        c->info = (ClientInfo) {
                .transport = sink->transport,
                .id = ++hub->next_client_id,
                .uid = uid,
                .pid = pid,
                .name = c->name,
        };
        c->subscriptions = g_hash_table_new(g_int64_hash, g_int64_equal);
        c->watches = g_hash_table_new(g_int64_hash, g_int64_equal);
        c->reserved = g_hash_table_new(g_int64_hash, g_int64_equal);
        c->waits = g_hash_table_new(g_int64_hash, g_int64_equal);
        c->served = g_hash_table_new(g_str_hash, g_str_equal);
        c->calls_out = g_hash_table_new(g_int64_hash, g_int64_equal);
        c->calls_in = g_hash_table_new(g_int64_hash, g_int64_equal);
        c->monitors = g_hash_table_new(g_int64_hash, g_int64_equal);

        c->link.data = c;
        g_queue_push_tail_link(&hub->clients, &c->link);
        if (!internal)
                hub->n_clients++;
        return 0;
}

/**
 * client_deinit() - free everything @c created in the core and unlink it
 *
 * Accepts a zeroed or already deinitialised client.
 */
void client_deinit(Client *c) {
        Hub *h = c->hub;
        GHashTableIter it;
        gpointer v;

        if (!h)
                return;

        /* First: what the client's leaving causes (returned jobs, failed calls) is not for it. */
        g_hash_table_iter_init(&it, c->monitors);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
                g_hash_table_iter_steal(&it);
                monitor_free(h, v);
        }
        queue_client_release(h, c);
        rpc_client_release(h, c);
        g_clear_pointer(&c->served, g_hash_table_destroy);
        g_clear_pointer(&c->calls_out, g_hash_table_destroy);
        g_clear_pointer(&c->calls_in, g_hash_table_destroy);
        g_clear_pointer(&c->reserved, g_hash_table_destroy);
        g_clear_pointer(&c->waits, g_hash_table_destroy);

        g_hash_table_iter_init(&it, c->subscriptions);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
                g_hash_table_iter_steal(&it);
                hub_subscription_free(h, v);
        }
        g_hash_table_iter_init(&it, c->watches);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
                g_hash_table_iter_steal(&it);
                hub_watch_free(h, v);
        }
        g_clear_pointer(&c->subscriptions, g_hash_table_destroy);
        g_clear_pointer(&c->watches, g_hash_table_destroy);
        g_clear_pointer(&c->monitors, g_hash_table_destroy);

        g_queue_unlink(&h->clients, &c->link);
        if (!c->internal)
                h->n_clients--;
        g_clear_pointer(&c->name, g_free);
        g_clear_pointer(&c->address, g_free);
        c->info.name = NULL;
        c->info.address = NULL;
        c->hub = NULL;
}

/**
 * client_set_creds() - record @uid and @pid once the transport learns them
 *
 * D-Bus asks the bus asynchronously, so a client may start without them.
 */
void client_set_creds(Client *c, uid_t uid, pid_t pid) {
        c->info.uid = uid;
        c->info.pid = pid;
}

/**
 * client_set_address() - record the peer address of a TCP client (copied)
 *
 * What identifies a TCP client, since it has no uid the kernel can vouch for.
 */
void client_set_address(Client *c, const char *address) {
        g_free(c->address);
        c->address = g_strdup(address);
        c->info.address = c->address;
}

/**
 * client_info_copy() - make @dst a copy of @src (NULL: unknown) that owns its strings
 *
 * For who wrote a key or published a retained value, which outlives the
 * client; free with client_info_clear().
 */
void client_info_copy(ClientInfo *dst, const ClientInfo *src) {
        *dst = src ? *src : (ClientInfo) { .uid = (uid_t) -1 };
        dst->name = g_strdup(dst->name);
        dst->address = g_strdup(dst->address);
}

/**
 * client_info_clear() - free the strings of a client_info_copy() and unknow it
 */
void client_info_clear(ClientInfo *i) {
        g_free((char *) i->name);
        g_free((char *) i->address);
        *i = (ClientInfo) { .uid = (uid_t) -1 };
}

/**
 * client_flush_gaps() - tell @c about the gaps of all its listeners
 *
 * A transport calls this when its output for @c has drained, so that a
 * subscriber learns what it missed without waiting for the next message.
 */
void client_flush_gaps(Client *c) {
        GHashTableIter it;
        gpointer v;

        g_hash_table_iter_init(&it, c->subscriptions);
        while (g_hash_table_iter_next(&it, NULL, &v))
                if (listener_flush_gap(v) < 0)
                        return;
        g_hash_table_iter_init(&it, c->watches);
        while (g_hash_table_iter_next(&it, NULL, &v))
                if (listener_flush_gap(v) < 0)
                        return;
        g_hash_table_iter_init(&it, c->monitors);
        while (g_hash_table_iter_next(&it, NULL, &v))
                if (listener_flush_gap(v) < 0)
                        return;
}
