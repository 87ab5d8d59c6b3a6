/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sd-event.h: an sb_client on an sd-event loop (libsystemd) in one call.
 * Header-only, so libswitchboard itself does not link libsystemd:
 *
 *   sb_sd_event *glue;
 *   r = sb_sd_event_attach(client, event, &glue);
 *   ... sd_event_loop(event) ...
 *   sb_sd_event_detach(glue);                 before sb_close(client)
 *
 * An io source watches the socket (for writability too while pipelined
 * output waits) and calls sb_process(); a defer source dispatches events a
 * blocking call read meanwhile. When the connection is lost, both are
 * disabled and the loop exits with the error (-ECONNRESET), unless
 * sb_sd_event_on_closed() set a function to call instead.
 */
#pragma once

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <systemd/sd-event.h>

#include <switchboard/switchboard.h>

typedef struct sb_sd_event {
        sb_client *client;
        sd_event_source *io, *defer;
        void (*on_closed)(sb_client *c, int error, void *userdata);
        void *userdata;
} sb_sd_event;

static inline void sb_sd_event_hook_(sb_client *c, int events, void *userdata) {
        sb_sd_event *g = (sb_sd_event *) userdata;

        (void) c;
        (void) sd_event_source_set_io_events(g->io, EPOLLIN | ((events & POLLOUT) ? EPOLLOUT : 0));
        if (events & SB_PENDING)
                (void) sd_event_source_set_enabled(g->defer, SD_EVENT_ONESHOT);
}

static inline int sb_sd_event_process_(sb_sd_event *g, sd_event_source *s) {
        int r = sb_process(g->client);

        if (r >= 0)
                return 0;
        (void) sd_event_source_set_enabled(g->io, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(g->defer, SD_EVENT_OFF);
        if (g->on_closed) {
                g->on_closed(g->client, r, g->userdata);
                return 0;
        }
        return sd_event_exit(sd_event_source_get_event(s), r);
}

static inline int sb_sd_event_io_(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        (void) fd;
        (void) revents;
        return sb_sd_event_process_((sb_sd_event *) userdata, s);
}

static inline int sb_sd_event_defer_(sd_event_source *s, void *userdata) {
        return sb_sd_event_process_((sb_sd_event *) userdata, s);
}

/* Undo sb_sd_event_attach(); NULL is fine. */
static inline void sb_sd_event_detach(sb_sd_event *g) {
        if (!g)
                return;
        sb_set_io_hook(g->client, NULL, NULL);
        sd_event_source_disable_unref(g->io);
        sd_event_source_disable_unref(g->defer);
        free(g);
}

/**
 * sb_sd_event_attach() - dispatch @c's events from @event
 * Return: 0 and the glue in @ret (sb_sd_event_detach() it), or -errno.
 */
static inline int sb_sd_event_attach(sb_client *c, sd_event *event, sb_sd_event **ret) {
        sb_sd_event *g = (sb_sd_event *) calloc(1, sizeof *g);
        int r;

        if (!g)
                return -ENOMEM;
        g->client = c;
        r = sd_event_add_io(event, &g->io, sb_get_fd(c), EPOLLIN, sb_sd_event_io_, g);
        if (r >= 0)
                r = sd_event_add_defer(event, &g->defer, sb_sd_event_defer_, g);
        if (r < 0) {
                sd_event_source_disable_unref(g->io);
                free(g);
                return r;
        }
        (void) sd_event_source_set_enabled(g->defer, SD_EVENT_OFF);
        sb_set_io_hook(c, sb_sd_event_hook_, g);
        sb_sd_event_hook_(c, sb_get_events(c), g);
        *ret = g;
        return 0;
}

/* Call @fn instead of exiting the loop when the connection is lost. */
static inline void sb_sd_event_on_closed(sb_sd_event *g, void (*fn)(sb_client *c, int error, void *userdata),
                                         void *userdata) {
        g->on_closed = fn;
        g->userdata = userdata;
}
