/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * glib.h: an sb_client in a GLib main context, as a GSource. Header-only:
 *
 *   GSource *source = sb_glib_source_new(client);
 *   g_source_attach(source, NULL);             the default main context
 *   ... g_main_loop_run(loop) ...
 *   g_source_destroy(source); g_source_unref(source);    before sb_close(client)
 *
 * The source polls the socket (for writability too while pipelined output
 * waits), is ready at once when a blocking call read events meanwhile,
 * and calls sb_process(). When the connection is lost it calls the
 * GSourceFunc given with g_source_set_callback() (if any) and removes
 * itself.
 */
#pragma once

#include <glib.h>
#include <poll.h>

#include <switchboard/switchboard.h>

typedef struct sb_glib_source {
        GSource source;
        sb_client *client;
        gpointer tag;
} sb_glib_source;

static inline gboolean sb_glib_prepare_(GSource *s, gint *timeout) {
        sb_glib_source *g = (sb_glib_source *) s;
        int events = sb_get_events(g->client);

        *timeout = -1;
        g_source_modify_unix_fd(s, g->tag, (GIOCondition) (G_IO_IN | ((events & POLLOUT) ? G_IO_OUT : 0)));
        return (events & SB_PENDING) != 0;
}

static inline gboolean sb_glib_check_(GSource *s) {
        sb_glib_source *g = (sb_glib_source *) s;

        return g_source_query_unix_fd(s, g->tag) != 0 || (sb_get_events(g->client) & SB_PENDING);
}

static inline gboolean sb_glib_dispatch_(GSource *s, GSourceFunc callback, gpointer userdata) {
        sb_glib_source *g = (sb_glib_source *) s;

        if (sb_process(g->client) >= 0)
                return G_SOURCE_CONTINUE;
        if (callback)
                (void) callback(userdata);
        return G_SOURCE_REMOVE;
}

static GSourceFuncs sb_glib_source_funcs_ = {
        sb_glib_prepare_, sb_glib_check_, sb_glib_dispatch_, NULL, NULL, NULL,
};

/* A GSource for @c (g_source_attach() it; unref it before sb_close()). */
static inline GSource *sb_glib_source_new(sb_client *c) {
        GSource *s = g_source_new(&sb_glib_source_funcs_, sizeof(sb_glib_source));
        sb_glib_source *g = (sb_glib_source *) s;

        g->client = c;
        g->tag = g_source_add_unix_fd(s, sb_get_fd(c), G_IO_IN);
        g_source_set_name(s, "switchboard");
        return s;
}
