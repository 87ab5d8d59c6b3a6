/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jsonrpc-server.c: the listening Unix socket (see jsonrpc-server.h).
 *
 * The socket is $RUNTIME_DIR/socket, mode 0600 in a 0700 directory, or the
 * one systemd passed (switchboard.socket). Every accepted peer's uid is
 * checked with SO_PEERCRED: only the user running the hub gets in, others
 * are refused and logged. A stale socket file left by a hub that died is
 * replaced; a live one (another hub answering) is an error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "jsonrpc/jsonrpc-conn.h"
#include "util/log.h"
#include "util/sd-glue.h"

/**
 * refusal_log_due() - count one refusal; whether to log now (l->count says how many)
 *
 * A refusal is logged at most every ten seconds, with how many there were:
 * a flood must not flood the log. The caller logs, then zeroes l->count.
 */
bool refusal_log_due(RefusalLog *l) {
        uint64_t now = g_get_monotonic_time();

        l->count++;
        if (l->logged != 0 && now < l->logged + 10 * G_USEC_PER_SEC)
                return false;
        l->logged = now;
        return true;
}

static void log_refusal(JsonrpcServer *s, int r) {
        if (!refusal_log_due(&s->fd_refusals))
                return;
        log_warning_errno(r, "Out of file descriptors (%m): refused %" PRIu64 " connection(s) with an error; "
                          "raise the fd limit (LimitNOFILE=) or close clients.", s->fd_refusals.count);
        s->fd_refusals.count = 0;
}

/* Both listeners, the Unix socket's and TCP's, on or off. */
static void listening_set(JsonrpcServer *s, int enabled) {
        (void) sd_event_source_set_enabled(s->listen_io, enabled);
        if (s->tcp)
                jsonrpc_tcp_set_listening(s->tcp, enabled);
}

static int on_listen_resume(sd_event_source *source, uint64_t usec, void *userdata) {
        listening_set(userdata, SD_EVENT_ON);
        return 0;
}

/**
 * jsonrpc_server_refuse() - accept() on @listen_fd (the Unix socket's or
 * TCP's) failed with @r, -EMFILE or -ENFILE: give back the reserve fd,
 * accept the client waiting, tell it why with an error frame and close
 * it, then take the reserve again
 *
 * A client past the limit gets an answer instead of a hang, and the
 * listener, which stays readable, is never spun on. When even that fails
 * (the whole system is out of fds), both listeners stop for a tenth of a
 * second.
 */
void jsonrpc_server_refuse(JsonrpcServer *s, int listen_fd, int r) {
        g_autoptr(GByteArray) out = g_byte_array_new();
        g_auto(Fd) cfd = -1;
        bool accepted;

        fd_close(s->reserve_fd);
        s->reserve_fd = -1;
        cfd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd >= 0) {
                jsonrpc_append_error(out, JSONRPC_INVALID_REQUEST, "LimitExceeded",
                                     "The hub has no file descriptors left for another connection; try again "
                                     "once other clients have closed theirs.");
                (void) send(cfd, out->data, out->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        accepted = cfd >= 0;
        fd_close(g_steal_fd(&cfd));     /* first: the reserve needs this fd back */
        s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        log_refusal(s, r);
        if (!accepted || s->reserve_fd < 0) {
                listening_set(s, SD_EVENT_OFF);
                (void) sd_event_source_set_time_relative(s->listen_resume, 100 * 1000);
                (void) sd_event_source_set_enabled(s->listen_resume, SD_EVENT_ONESHOT);
        }
}

static int on_accept(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        JsonrpcServer *s = userdata;

        /* Take what is waiting, but bounded, so that one burst cannot starve the loop. */
        for (int i = 0; i < 64; i++) {
                g_auto(Fd) cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                struct ucred cred;
                socklen_t len = sizeof cred;

                if (cfd < 0 && (errno == EMFILE || errno == ENFILE)) {
                        jsonrpc_server_refuse(s, fd, -errno);
                        continue;
                }
                if (cfd < 0) {
                        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                                log_warning_errno(-errno, "Failed to accept a connection, ignoring: %m");
                        return 0;
                }
                if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                        log_warning_errno(-errno, "Failed to read a peer's credentials, refusing it: %m");
                        continue;
                }
                if (cred.uid != getuid()) {
                        log_warning("Refused a connection from uid %u (pid %u): only uid %u may use this hub.",
                                    (unsigned) cred.uid, (unsigned) cred.pid, (unsigned) getuid());
                        continue;
                }
                (void) jsonrpc_conn_new(s, g_steal_fd(&cfd), cred.uid, cred.pid);
        }
        return 0;
}

static int socket_adopt(JsonrpcServer *s) {
        int n = sd_listen_fds(true);

        for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++)
                if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0) {
                        /* on_accept() drains the backlog: a blocking socket (systemd-socket-activate
                         * passes one) would hang the hub in accept4() once it is empty. */
                        int flags = fcntl(fd, F_GETFL);

                        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                                return log_error_errno(-errno, "Failed to make the passed socket (fd %d) "
                                                       "non-blocking: %m", fd);
                        s->listen_fd = fd;
                        s->listen_fd_adopted = true;
                        log_info("Listening on the socket passed by the service manager (fd %d).", fd);
                        return 1;
                }
        return 0;
}

static int socket_create(JsonrpcServer *s, const char *path) {
        union {
                struct sockaddr sa;
                struct sockaddr_un un;
        } addr = { .un.sun_family = AF_UNIX };
        g_auto(Fd) fd = -1;

        if (strlen(path) >= sizeof addr.un.sun_path)
                return log_error_errno(-ENAMETOOLONG, "Socket path '%s' is too long.", path);
        strcpy(addr.un.sun_path, path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(-errno, "Failed to create a socket: %m");

        if (bind(fd, &addr.sa, sizeof addr.un) < 0) {
                g_auto(Fd) probe = -1;

                if (errno != EADDRINUSE)
                        return log_error_errno(-errno, "Failed to bind '%s': %m", path);
                /* Someone answering means another hub; nobody answering means a stale file. */
                probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (probe >= 0 && connect(probe, &addr.sa, sizeof addr.un) >= 0)
                        return log_error_errno(-EADDRINUSE, "Another hub listens on '%s' already.", path);
                if (unlink(path) < 0 || bind(fd, &addr.sa, sizeof addr.un) < 0)
                        return log_error_errno(-errno, "Failed to bind '%s': %m", path);
        }
        if (chmod(path, 0600) < 0)
                return log_error_errno(-errno, "Failed to restrict '%s' to its owner: %m", path);
        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(-errno, "Failed to listen on '%s': %m", path);

        s->listen_fd = g_steal_fd(&fd);
        s->socket_path = g_strdup(path);
        return 0;
}

/**
 * jsonrpc_server_new() - listen for JSON-RPC clients
 * @runtime_dir: the hub's private runtime directory (socket, fifo)
 *
 * Return: 0, or a negative errno (logged) when the socket or FIFO cannot
 * be set up.
 */
int jsonrpc_server_new(sd_event *event, Hub *hub, const JsonrpcConfig *config,
                       const char *runtime_dir, JsonrpcServer **ret) {
        g_autoptr(JsonrpcServer) s = NULL;
        g_autofree char *socket_path = g_build_filename(runtime_dir, "socket", NULL);
        int r;

        s = g_new0(JsonrpcServer, 1);
        s->event = sd_event_ref(event);
        s->hub = hub;
        s->config = *config;
        s->listen_fd = s->reserve_fd = -1;
        g_queue_init(&s->conns);
        g_queue_init(&s->dirty);
        hub_add_info(hub, jsonrpc_stats_info, &s->stats);
        s->info_added = true;

        /* TCP first: once the Unix socket listens, tcp-address is there too. */
        if (config->tcp.listen) {
                r = jsonrpc_tcp_new(s, runtime_dir, &s->tcp);
                if (r < 0)
                        return r;
        }

        r = socket_adopt(s);
        if (r == 0)
                r = socket_create(s, socket_path);
        if (r < 0)
                return r;

        /* One fd kept in reserve, to answer a client when all others are in use (jsonrpc_server_refuse()). */
        s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (s->reserve_fd < 0)
                return log_error_errno(-errno, "Failed to open /dev/null: %m");
        r = sd_event_add_io(event, &s->listen_io, s->listen_fd, EPOLLIN, on_accept, s);
        /* New clients after the ones being served and closed: a busy listener cannot starve them. */
        if (r >= 0)
                r = sd_event_source_set_priority(s->listen_io, SD_EVENT_PRIORITY_NORMAL + 2);
        if (r >= 0)
                r = sd_event_add_time_relative(event, &s->listen_resume, CLOCK_MONOTONIC, 0, 0, on_listen_resume, s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->listen_resume, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the socket: %m");

        if (config->fifo) {
                g_autofree char *fifo_path = g_build_filename(runtime_dir, "fifo", NULL);

                r = jsonrpc_fifo_new(s, fifo_path, &s->fifo);
                if (r < 0)
                        return r;
        }

        *ret = g_steal_pointer(&s);
        return 0;
}

/**
 * jsonrpc_server_set_config() - apply @config's bounds from now on, for a reload
 *
 * max_output and the slow-consumer policy apply to every client at once,
 * max_frame to the FIFO and to clients that connect from now on; whether
 * there is a FIFO cannot change, nor where TCP listens. The [tcp] limits
 * apply to connections accepted from now on.
 */
void jsonrpc_server_set_config(JsonrpcServer *s, const JsonrpcConfig *config) {
        bool fifo = s->config.fifo;
        JsonrpcTcpConfig tcp = s->config.tcp;

        s->config = *config;
        s->config.fifo = fifo;
        s->config.tcp.max_unauthenticated = config->tcp.max_unauthenticated;
        s->config.tcp.auth_timeout_ms = config->tcp.auth_timeout_ms;
        s->config.tcp.max_auth_bytes = config->tcp.max_auth_bytes;
        s->config.tcp.listen = tcp.listen;
        s->config.tcp.allow_remote = tcp.allow_remote;
        s->config.tcp.token_file = tcp.token_file;
}

JsonrpcServer *jsonrpc_server_free(JsonrpcServer *s) {
        if (!s)
                return NULL;
        while (!g_queue_is_empty(&s->conns))
                jsonrpc_conn_free(s->conns.head->data);
        g_clear_pointer(&s->fifo, jsonrpc_fifo_free);
        g_clear_pointer(&s->tcp, jsonrpc_tcp_free);
        if (s->info_added)
                hub_remove_info(s->hub, jsonrpc_stats_info, &s->stats);
        s->listen_io = sd_event_source_disable_unref(s->listen_io);
        s->listen_resume = sd_event_source_disable_unref(s->listen_resume);
        fd_close(s->reserve_fd);
        if (s->socket_path)
                (void) unlink(s->socket_path);
        if (!s->listen_fd_adopted)
                fd_close(s->listen_fd);
        g_free(s->socket_path);
        sd_event_unref(s->event);
        g_free(s);
        return NULL;
}
