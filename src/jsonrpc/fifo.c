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
 *
 * What is at the path when the hub starts: a FIFO of ours (left by a hub
 * that was killed) is used again, which also wakes a writer blocked on it;
 * a regular file of ours (a shell's `echo >> fifo` while no hub ran) is
 * read as lines, replayed like FIFO lines and replaced by the FIFO;
 * anything else (a symbolic link, another owner, a directory) is refused.
 *
 * So that no writer ever blocks for good, a guard process (forked here,
 * holding only a pipe from the hub and a read end of the FIFO) waits for
 * the hub to end, however it ends: then it removes the FIFO (when it is
 * still ours) and appends whatever writers had put in it to a regular file
 * at the same path, which the next start replays. While it holds its read
 * end, opening the FIFO never blocks; once the FIFO is gone, a shell
 * creates a regular file instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
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
        int guard_fd;                   /* the guard's pipe: it acts when this closes */
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

/* Split @n bytes at @buf into lines; a line's start may be in f->line from before. */
static void fifo_feed(JsonrpcFifo *f, const char *buf, size_t n) {
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
        fifo_feed(f, buf, (size_t) n);
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
        if (f->path)
                (void) unlink(f->path);
        fd_close(f->fd);
        fd_close(f->keep_fd);
        fd_close(f->guard_fd);          /* the guard finds the FIFO gone and leaves */
        g_free(f->path);
        g_clear_pointer(&f->line, g_byte_array_unref);
        g_free(f);
        return NULL;
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(JsonrpcFifo, jsonrpc_fifo_free)

/* The guard (see the top of this file), in the child: only async-signal-safe calls. */
static G_GNUC_NORETURN void guard_run(const char *path, int pipe_fd, int fifo_fd, dev_t dev, ino_t ino) {
        struct stat st;
        sigset_t mask;
        char buf[4096], c;
        int spool = -1;
        ssize_t n;

        /* Keep the pipe, the FIFO and stdio (the log, sanitizer reports); the hub's other fds
         * (its lock on the state directory, its sockets) must not outlive it here. */
        if (dup2(pipe_fd, 3) < 0 || dup2(fifo_fd, 4) < 0)
                _exit(EXIT_FAILURE);
        (void) close_range(5, ~0U, 0);
        (void) prctl(PR_SET_NAME, "sb-fifo-guard");
        /* The hub blocks SIGTERM and SIGINT for its signalfd: the guard stops on them as usual. */
        (void) sigemptyset(&mask);
        (void) sigprocmask(SIG_SETMASK, &mask, NULL);

        while ((n = read(3, &c, 1)) < 0 && errno == EINTR)
                ;
        /* The hub has ended. Our read end keeps a writer's open() from blocking meanwhile. */
        if (lstat(path, &st) >= 0 && S_ISFIFO(st.st_mode) && st.st_dev == dev && st.st_ino == ino)
                (void) unlink(path);
        (void) fcntl(4, F_SETFL, O_RDONLY | O_NONBLOCK);
        while ((n = read(4, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
                if (n <= 0)
                        continue;
                if (spool < 0)
                        spool = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (spool < 0 || write(spool, buf, (size_t) n) != n)
                        break;
        }
        _exit(EXIT_SUCCESS);
}

/* Fork the guard of the FIFO at @path, read through @fifo_fd; f->guard_fd keeps it waiting. */
static int guard_start(JsonrpcFifo *f, const char *path, int fifo_fd) {
        g_auto(Fd) r_end = -1;
        int fds[2];
        struct stat st;
        pid_t pid;

        if (fstat(fifo_fd, &st) < 0 || pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        r_end = fds[0];
        f->guard_fd = fds[1];
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                guard_run(path, r_end, fifo_fd, st.st_dev, st.st_ino);
        return 0;
}

/*
 * A regular file of ours at the FIFO's path: lines a shell wrote while no
 * hub ran (or the guard saved). Take them, so that they can be replayed once
 * the FIFO reads; @ret_text is NULL for an empty file.
 */
static int spool_take(const char *path, size_t max, GBytes **ret_text) {
        g_autoptr(GError) error = NULL;
        g_autofree char *text = NULL;
        size_t len = 0;
        struct stat st;

        if (lstat(path, &st) < 0)
                return -errno;
        if (st.st_size > 0 && (size_t) st.st_size <= max &&
            !g_file_get_contents(path, &text, &len, &error))
                log_warning("FIFO: failed to read '%s', discarding it: %s", path, error->message);
        else if ((size_t) st.st_size > max)
                log_warning("FIFO: '%s' is a regular file of %" PRIu64 " bytes (more than %zu), discarding it.",
                            path, (uint64_t) st.st_size, max);
        if (unlink(path) < 0)
                return log_error_errno(-errno, "Failed to remove '%s': %m", path);
        *ret_text = text && len > 0 ? g_bytes_new_take(g_steal_pointer(&text), len) : NULL;
        return 0;
}

/*
 * What is at @path now may stand in the FIFO's way: check it is ours (see
 * the top of this file). A FIFO of ours stays; a regular file of ours is
 * taken into @ret_spool and removed.
 */
static int fifo_path_claim(const char *path, size_t max, GBytes **ret_spool) {
        struct stat st;

        *ret_spool = NULL;
        if (lstat(path, &st) < 0) {
                if (errno == ENOENT)
                        return 0;
                return log_error_errno(-errno, "Failed to check '%s': %m", path);
        }
        if (S_ISLNK(st.st_mode))
                return log_error_errno(-EEXIST, "'%s' is a symbolic link, not the hub's FIFO; refusing to use "
                                       "it: remove it, then start the hub again.", path);
        if (st.st_uid != getuid())
                return log_error_errno(-EEXIST, "'%s' belongs to uid %u, not to uid %u; refusing to use it as "
                                       "the FIFO: remove it, then start the hub again.", path,
                                       (unsigned) st.st_uid, (unsigned) getuid());
        if (S_ISFIFO(st.st_mode)) {
                log_debug("FIFO: '%s' is left from a hub that did not stop cleanly; using it again.", path);
                return 0;
        }
        if (S_ISREG(st.st_mode))
                return spool_take(path, max, ret_spool);
        return log_error_errno(-EEXIST, "'%s' exists and is neither a FIFO nor a regular file; refusing to use it "
                               "as the FIFO: remove it, then start the hub again.", path);
}

/**
 * jsonrpc_fifo_new() - create the FIFO at @path (0600), read it, and guard it
 *
 * Return: 0, or a negative errno (logged); -EEXIST when @path is something
 * that is not ours to replace.
 */
int jsonrpc_fifo_new(JsonrpcServer *s, const char *path, JsonrpcFifo **ret) {
        g_autoptr(JsonrpcFifo) f = NULL;
        g_autoptr(GBytes) spool = NULL;
        struct stat st;
        int r;

        f = g_new0(JsonrpcFifo, 1);
        f->server = s;
        f->fd = f->keep_fd = f->guard_fd = -1;
        f->line = g_byte_array_new();

        /* A spool larger than this many lines of max-frame is not a shell's. */
        r = fifo_path_claim(path, 64 * s->config.max_frame, &spool);
        if (r < 0)
                return r;
        if (mkfifo(path, 0600) < 0 && errno != EEXIST)
                return log_error_errno(-errno, "Failed to create the FIFO '%s': %m", path);
        if (lstat(path, &st) < 0)
                return log_error_errno(-errno, "Failed to check '%s': %m", path);
        if (!S_ISFIFO(st.st_mode) || st.st_uid != getuid())
                return log_error_errno(-EEXIST, "'%s' changed while the hub was creating its FIFO there, refusing "
                                       "to use it.", path);
        f->path = g_strdup(path);
        if (chmod(path, 0600) < 0)
                return log_error_errno(-errno, "Failed to restrict '%s' to its owner: %m", path);

        f->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (f->fd < 0)
                return log_error_errno(-errno, "Failed to open the FIFO '%s': %m", path);
        f->keep_fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (f->keep_fd < 0)
                return log_error_errno(-errno, "Failed to hold the FIFO '%s' open: %m", path);
        r = guard_start(f, path, f->fd);
        if (r < 0)
                return log_error_errno(r, "Failed to start the FIFO's guard process: %m");

        /* Internal: always there, so not counted among connected clients. */
        r = client_init(&f->client, s->hub, &fifo_sink, getuid(), 0, NULL, true);
        if (r < 0)
                return log_error_errno(r, "Failed to register the FIFO as a client: %m");
        r = sd_event_add_io(s->event, &f->io, f->fd, EPOLLIN, on_fifo_io, f);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the FIFO: %m");

        if (spool) {
                uint64_t lines = s->stats.fifo_lines, errors = s->stats.fifo_errors;
                gsize len;
                const char *text = g_bytes_get_data(spool, &len);

                fifo_feed(f, text, len);
                fifo_feed(f, "\n", 1);         /* a last line without its newline */
                log_notice("FIFO: '%s' was a regular file (written while no hub ran); replayed its %" PRIu64
                           " line(s), %" PRIu64 " refused, and put the FIFO in its place.", path,
                           s->stats.fifo_lines - lines, s->stats.fifo_errors - errors);
        }

        *ret = g_steal_pointer(&f);
        return 0;
}
