/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bridge-natsio.c: libnats on the bridge's sd-event loop. With an external
 * event loop libnats starts no reader or flusher thread of its own: it
 * asks, through four callbacks, for the socket to be watched for reading
 * or writing, and the loop calls natsConnection_ProcessReadEvent() and
 * natsConnection_ProcessWriteEvent(). Publishes made in one loop iteration
 * are thus written together: no write per message and no flusher pause of
 * a millisecond.
 *
 * When libnats asks for the socket to be watched for writing, the loop does
 * not wait for EPOLLOUT (a socket with room in its buffer is writable at
 * once, so that would only cost two epoll_ctl() and one more turn): a defer
 * source writes right after the callback that published (the same loop
 * turn), and only what the kernel did not take waits for EPOLLOUT.
 *
 * The callbacks come from the loop's own thread (connecting, publishing,
 * reading) and from libnats' threads (reconnecting, its ping timer); sd-event
 * is single-threaded, so they only record what is wanted under a lock, and
 * a callback off the loop thread wakes the loop (the bridge's eventfd),
 * which applies it in natsio_apply(). A new socket gets a new io source
 * (a generation count tells, as the descriptor's number may be reused).
 */
#include <errno.h>
#include <pthread.h>
#include <sys/epoll.h>

#include <glib.h>

#include "bridge/bridge-natsio.h"
#include "util/log.h"

struct NatsIo {
        sd_event *event;
        pthread_t loop_thread;
        void (*wake)(void *userdata);
        void (*read_done)(void *userdata);
        void *wake_userdata;

        GMutex lock;                    /* guards the wanted state below */
        natsConnection *nc;
        int fd;                         /* -1 while detached */
        unsigned generation;            /* attach and detach count */
        bool want_read, want_write;
        bool blocked;                   /* a write left data behind: wait for EPOLLOUT */
        bool changed;

        /* The loop thread's own. */
        sd_event_source *src;
        unsigned src_generation;
        sd_event_source *flush;         /* defer: writes what libnats buffered */
};

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        NatsIo *io = userdata;
        natsConnection *nc;

        g_mutex_lock(&io->lock);
        nc = io->nc;
        g_mutex_unlock(&io->lock);
        if (!nc)
                return 0;
        /* Either may detach (the connection broke): natsio_apply() then drops this source. */
        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                natsConnection_ProcessReadEvent(nc);
                io->read_done(io->wake_userdata);
        }
        if (revents & EPOLLOUT)
                natsConnection_ProcessWriteEvent(nc);
        natsio_apply(io);
        return 0;
}

/* libnats asked to write (on the loop, or a thread woke us): write now, without EPOLLOUT. */
static int on_flush(sd_event_source *s, void *userdata) {
        NatsIo *io = userdata;
        natsConnection *nc;

        /* Only while libnats wants to write: with nothing buffered, its write of 0 bytes
         * would look like a closed connection. */
        g_mutex_lock(&io->lock);
        nc = io->fd >= 0 && io->want_write ? io->nc : NULL;
        g_mutex_unlock(&io->lock);
        if (nc)
                natsConnection_ProcessWriteEvent(nc);
        /* All written: libnats withdrew its wish (want_write). Else the kernel's buffer is full. */
        g_mutex_lock(&io->lock);
        if (io->want_write && io->fd >= 0) {
                io->blocked = true;
                io->changed = true;
        }
        g_mutex_unlock(&io->lock);
        natsio_apply(io);
        return 0;
}

/**
 * natsio_apply() - make the io source what libnats last asked for; on the
 * loop thread only
 */
void natsio_apply(NatsIo *io) {
        uint32_t events;
        unsigned generation;
        bool flush;
        int fd, r;

        g_mutex_lock(&io->lock);
        if (!io->changed) {
                g_mutex_unlock(&io->lock);
                return;
        }
        io->changed = false;
        fd = io->fd;
        generation = io->generation;
        events = (io->want_read ? EPOLLIN : 0) | (io->want_write && io->blocked ? EPOLLOUT : 0);
        flush = io->want_write && !io->blocked;
        g_mutex_unlock(&io->lock);

        if (flush && fd >= 0)
                (void) sd_event_source_set_enabled(io->flush, SD_EVENT_ONESHOT);

        if (io->src && io->src_generation != generation)
                io->src = sd_event_source_disable_unref(io->src);
        if (fd < 0)
                return;
        if (!io->src) {
                r = sd_event_add_io(io->event, &io->src, fd, events, on_io, io);
                if (r < 0) {
                        log_error_errno(r, "Failed to watch the NATS socket: %m");
                        return;
                }
                io->src_generation = generation;
        } else
                (void) sd_event_source_set_io_events(io->src, events);
        (void) sd_event_source_set_enabled(io->src, events ? SD_EVENT_ON : SD_EVENT_OFF);
}

/**
 * natsio_flush() - write what libnats buffered now (a callback that published
 * ends), rather than from the defer source after it; on the loop thread only
 */
void natsio_flush(NatsIo *io) {
        (void) sd_event_source_set_enabled(io->flush, SD_EVENT_OFF);
        (void) on_flush(io->flush, io);
}

/* Record a change; apply it now on the loop thread, else wake the loop. */
static natsStatus changed(NatsIo *io) {
        if (pthread_equal(pthread_self(), io->loop_thread))
                natsio_apply(io);
        else
                io->wake(io->wake_userdata);
        return NATS_OK;
}

static natsStatus on_attach(void **userdata, void *loop, natsConnection *nc, natsSock sock) {
        NatsIo *io = loop;

        g_mutex_lock(&io->lock);
        io->nc = nc;
        io->fd = sock;
        io->generation++;
        io->want_read = true;
        io->want_write = false;
        io->blocked = false;
        io->changed = true;
        g_mutex_unlock(&io->lock);
        *userdata = io;
        return changed(io);
}

/* libnats wants (@add) or no longer wants the socket watched for what @flag says. */
static natsStatus want(NatsIo *io, bool *flag, bool add) {
        g_mutex_lock(&io->lock);
        *flag = add;
        io->changed = true;
        g_mutex_unlock(&io->lock);
        return changed(io);
}

static natsStatus on_read(void *userdata, bool add) {
        NatsIo *io = userdata;
        return want(io, &io->want_read, add);
}

static natsStatus on_write(void *userdata, bool add) {
        NatsIo *io = userdata;

        if (!add) {
                g_mutex_lock(&io->lock);
                io->blocked = false;
                g_mutex_unlock(&io->lock);
        }
        return want(io, &io->want_write, add);
}

static natsStatus on_detach(void *userdata) {
        NatsIo *io = userdata;

        g_mutex_lock(&io->lock);
        io->fd = -1;
        io->generation++;
        io->changed = true;
        g_mutex_unlock(&io->lock);
        return changed(io);
}

/**
 * natsio_new() - an adapter for connections made on this thread, whose
 * loop is @event
 *
 * Return: the adapter, or NULL when @event refuses a source (logged).
 */
NatsIo *natsio_new(sd_event *event, void (*wake)(void *userdata), void (*read_done)(void *userdata),
                   void *userdata) {
        NatsIo *io = g_new0(NatsIo, 1);
        int r;

        io->event = sd_event_ref(event);
        io->loop_thread = pthread_self();
        io->wake = wake;
        io->read_done = read_done;
        io->wake_userdata = userdata;
        io->fd = -1;
        g_mutex_init(&io->lock);
        r = sd_event_add_defer(event, &io->flush, on_flush, io);
        if (r < 0) {
                log_error_errno(r, "Failed to add a defer source: %m");
                return natsio_free(io);
        }
        (void) sd_event_source_set_enabled(io->flush, SD_EVENT_OFF);
        return io;
}

/* Free @io once its connection is destroyed and libnats' threads have ended. */
NatsIo *natsio_free(NatsIo *io) {
        if (!io)
                return NULL;
        sd_event_source_disable_unref(io->src);
        sd_event_source_disable_unref(io->flush);
        sd_event_unref(io->event);
        g_mutex_clear(&io->lock);
        g_free(io);
        return NULL;
}

/* Put connections made with @o on @io's loop. */
natsStatus natsio_set_options(NatsIo *io, natsOptions *o) {
        return natsOptions_SetEventLoop(o, io, on_attach, on_read, on_write, on_detach);
}
