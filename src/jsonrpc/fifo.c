/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fifo.c: the write-only FIFO at $RUNTIME_DIR/fifo for shell one-liners.
 *
 *   echo '{"jsonrpc":"2.0","method":"publish","params":{"topic":"a.b","payload":"x"}}' > fifo
 *
 * One JSON-RPC notification per line (publish, publish_retained, set,
 * delete). The hub holds a write end open itself, so the FIFO never reads
 * end-of-file while writers come and go. A bad line, an overlong line or a
 * refused change is logged and counted, never fatal. Everything written
 * here comes from the FIFO's one core client, whose uid is the hub's own:
 * the FIFO is 0600 in a 0700 directory, so only that user can write.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonrpc/jsonrpc-conn.h"
#include "util/log.h"
#include "util/sd-glue.h"

struct JsonrpcFifo {
        Client client;                  /* must be first */
        JsonrpcServer *server;
        char *path;
        int fd;
        int keep_fd;                    /* our own write end */
        sd_event_source *io;
        GByteArray *line;
        bool discarding;                /* inside an overlong line: skip to its newline */
};

static void fifo_line(JsonrpcFifo *f, const char *line, size_t len) {
        JsonrpcServer *s = f->server;
        JsonrpcContext ctx = {
                .hub = s->hub,
                .client = &f->client,
                .fifo = true,
        };

        while (len > 0 && g_ascii_isspace(line[len - 1]))
                len--;
        if (len == 0)
                return;

        s->stats.fifo_lines++;
        if (jsonrpc_dispatch(&ctx, line, len) < 0) {
                s->stats.fifo_errors++;
                log_notice("FIFO: line %" PRIu64 " refused, ignoring: %s", s->stats.fifo_lines, ctx.error);
        }
        g_free(ctx.error);
}

static void fifo_overlong(JsonrpcFifo *f) {
        JsonrpcServer *s = f->server;

        s->stats.fifo_lines++;
        s->stats.fifo_errors++;
        log_notice("FIFO: line %" PRIu64 " is longer than %zu bytes, ignoring it.", s->stats.fifo_lines,
                   s->config.max_frame);
}

static int on_fifo_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        JsonrpcFifo *f = userdata;
        char buf[64 * 1024];
        ssize_t n;

        n = read(fd, buf, sizeof buf);
        if (n <= 0) {
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                        log_warning_errno(-errno, "FIFO: read failed, ignoring: %m");
                return 0;
        }

        for (const char *p = buf, *end = buf + n; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t chunk = (size_t) ((nl ?: end) - p);

                if (!f->discarding) {
                        if (f->line->len + chunk > f->server->config.max_frame) {
                                fifo_overlong(f);
                                g_byte_array_set_size(f->line, 0);
                                f->discarding = true;
                        } else
                                g_byte_array_append(f->line, (const guint8 *) p, (guint) chunk);
                }
                if (!nl)
                        break;
                if (!f->discarding)
                        fifo_line(f, (const char *) f->line->data, f->line->len);
                g_byte_array_set_size(f->line, 0);
                f->discarding = false;
                p = nl + 1;
        }
        return 0;
}

static int fifo_deliver(Client *c, const Envelope *e) {
        return -ENOBUFS;        /* the FIFO has no way back; it never subscribes */
}

static const ClientSink fifo_sink = {
        .transport = "fifo",
        .deliver = fifo_deliver,
};

JsonrpcFifo *jsonrpc_fifo_free(JsonrpcFifo *f) {
        if (!f)
                return NULL;
        client_deinit(&f->client);
        f->io = sd_event_source_disable_unref(f->io);
        fd_close(f->fd);
        fd_close(f->keep_fd);
        if (f->path)
                (void) unlink(f->path);
        g_free(f->path);
        g_clear_pointer(&f->line, g_byte_array_unref);
        g_free(f);
        return NULL;
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(JsonrpcFifo, jsonrpc_fifo_free)

/**
 * jsonrpc_fifo_new() - create the FIFO at @path (0600) and read it
 *
 * Return: 0, or a negative errno (logged); -EEXIST when @path is something
 * other than a FIFO.
 */
int jsonrpc_fifo_new(JsonrpcServer *s, const char *path, JsonrpcFifo **ret) {
        g_autoptr(JsonrpcFifo) f = NULL;
        struct stat st;
        int r;

        f = g_new0(JsonrpcFifo, 1);
        f->server = s;
        f->fd = f->keep_fd = -1;
        f->line = g_byte_array_new();

        if (mkfifo(path, 0600) < 0 && errno != EEXIST)
                return log_error_errno(-errno, "Failed to create the FIFO '%s': %m", path);
        if (lstat(path, &st) < 0)
                return log_error_errno(-errno, "Failed to check '%s': %m", path);
        if (!S_ISFIFO(st.st_mode) || st.st_uid != getuid())
                return log_error_errno(-EEXIST, "'%s' exists and is not our FIFO, refusing to use it.", path);
        f->path = g_strdup(path);
        if (chmod(path, 0600) < 0)
                return log_error_errno(-errno, "Failed to restrict '%s' to its owner: %m", path);

        f->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (f->fd < 0)
                return log_error_errno(-errno, "Failed to open the FIFO '%s': %m", path);
        f->keep_fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (f->keep_fd < 0)
                return log_error_errno(-errno, "Failed to hold the FIFO '%s' open: %m", path);

        /* Internal: always there, so not counted among connected clients. */
        r = client_init(&f->client, s->hub, &fifo_sink, getuid(), 0, NULL, true);
        if (r < 0)
                return log_error_errno(r, "Failed to register the FIFO as a client: %m");
        r = sd_event_add_io(s->event, &f->io, f->fd, EPOLLIN, on_fifo_io, f);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the FIFO: %m");

        *ret = g_steal_pointer(&f);
        return 0;
}
