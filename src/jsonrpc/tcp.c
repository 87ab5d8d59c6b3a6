/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tcp.c: the TCP listener ([tcp] listen), for clients that cannot reach the
 * runtime directory (containers, VMs). Off unless configured; a listen
 * address other than loopback needs allow-remote=true. TCP has no peer
 * credentials, so the token in token-file is all it trusts: each connection
 * must present it with hub.auth as its first request (jsonrpc-conn.c), within
 * auth-timeout and max-auth-bytes, and at most max-unauthenticated wait to do
 * so at once; others are answered with an error and closed at once.
 *
 * The token file is read again at each hub.auth, so a rotated token applies
 * to the next connection; connections already authenticated stay. The
 * address actually bound (port 0 picks one) is written to
 * $RUNTIME_DIR/tcp-address and shown in hub.info under "tcp".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jsonrpc/jsonrpc-conn.h"
#include "util/file.h"
#include "util/inet.h"
#include "util/log.h"
#include "util/sd-glue.h"
#include "util/token.h"

struct JsonrpcTcp {
        JsonrpcServer *server;
        int fd;
        sd_event_source *io;
        char *address;                  /* bound, "127.0.0.1:7420" */
        char *address_file;             /* $RUNTIME_DIR/tcp-address */
        char *token_file;
        bool info_added;
        unsigned unauthenticated;       /* connections waiting to authenticate now */
        uint64_t auth_failures;         /* closed: no hub.auth first, a wrong token, a bad or large frame */
        uint64_t auth_timeouts;         /* closed: no hub.auth in time */
        uint64_t refused;               /* closed at once: max-unauthenticated were waiting */
        RefusalLog refusals;
};

static void tcp_info(GVariantBuilder *dict, void *userdata) {
        const JsonrpcTcp *t = userdata;
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "address", g_variant_new_string(t->address));
        g_variant_builder_add(&b, "{sv}", "unauthenticated", g_variant_new_uint32(t->unauthenticated));
        g_variant_builder_add(&b, "{sv}", "auth_failures", g_variant_new_uint64(t->auth_failures));
        g_variant_builder_add(&b, "{sv}", "auth_timeouts", g_variant_new_uint64(t->auth_timeouts));
        g_variant_builder_add(&b, "{sv}", "refused", g_variant_new_uint64(t->refused));
        g_variant_builder_add(dict, "{sv}", "tcp", g_variant_builder_end(&b));
}

/**
 * jsonrpc_tcp_unauthenticated_gone() - one connection stopped waiting to authenticate
 * @timed_out: because auth-timeout passed
 * @failed: because it sent something else than hub.auth with the right token
 */
void jsonrpc_tcp_unauthenticated_gone(JsonrpcTcp *t, bool timed_out, bool failed) {
        g_assert(t->unauthenticated > 0);
        t->unauthenticated--;
        t->auth_timeouts += timed_out;
        t->auth_failures += failed;
}

/**
 * jsonrpc_tcp_token_check() - whether @token is the one in the token file now
 *
 * Read at each call: a rotated token applies at once. A token file that
 * became unreadable or readable by others matches nothing (logged).
 *
 * Return: 1 when it is, 0 when not, -EMFILE or -ENFILE when the file
 * cannot be opened for want of fds (it was not checked).
 */
int jsonrpc_tcp_token_check(JsonrpcTcp *t, const char *token, size_t len) {
        g_autofree char *want = NULL, *problem = NULL;
        int r;

        r = token_file_read(t->token_file, &want, &problem);
        if (r == -EMFILE || r == -ENFILE)
                return r;
        if (r < 0) {
                log_error_errno(r, "Cannot check a TCP client's token: %s.", problem);
                return 0;
        }
        return token_equal(want, strlen(want), token, len);
}

/* Tell a connection over max-unauthenticated why, and close it. */
static void refuse(JsonrpcTcp *t, int fd, const char *address) {
        g_autoptr(GByteArray) out = g_byte_array_new();
        g_autofree char *msg = g_strdup_printf("Too many TCP connections waiting to authenticate (at most %u); "
                                               "try again later.",
                                               t->server->config.tcp.max_unauthenticated);

        jsonrpc_append_error(out, JSONRPC_INVALID_REQUEST, "LimitExceeded", msg);
        (void) send(fd, out->data, out->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        t->refused++;
        if (refusal_log_due(&t->refusals)) {
                log_warning("Refused %" PRIu64 " TCP connection(s) (the last from %s): %u are waiting to "
                            "authenticate, [tcp] max-unauthenticated.", t->refusals.count, address,
                            t->server->config.tcp.max_unauthenticated);
                t->refusals.count = 0;
        }
}

static int on_accept(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        JsonrpcTcp *t = userdata;

        /* Take what is waiting, but bounded, so that one burst cannot starve the loop. */
        for (int i = 0; i < 64; i++) {
                struct sockaddr_storage ss;
                socklen_t len = sizeof ss;
                g_auto(Fd) cfd = accept4(fd, (struct sockaddr *) &ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
                g_autofree char *address = NULL;
                int one = 1;

                if (cfd < 0 && (errno == EMFILE || errno == ENFILE)) {
                        /* Out of fds: answered with an error, as on the Unix socket, never spun on. */
                        jsonrpc_server_refuse(t->server, fd, -errno);
                        continue;
                }
                if (cfd < 0) {
                        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                                log_warning_errno(-errno, "Failed to accept a TCP connection, ignoring: %m");
                        return 0;
                }
                address = inet_address_format((struct sockaddr *) &ss, len);
                if (t->unauthenticated >= t->server->config.tcp.max_unauthenticated) {
                        refuse(t, cfd, address);
                        continue;
                }
                (void) setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                if (jsonrpc_conn_new_tcp(t->server, g_steal_fd(&cfd), address) >= 0)
                        t->unauthenticated++;
        }
        return 0;
}

/**
 * jsonrpc_tcp_set_listening() - accept TCP connections (SD_EVENT_ON) or
 * not (SD_EVENT_OFF), while the system is out of fds
 */
void jsonrpc_tcp_set_listening(JsonrpcTcp *t, int enabled) {
        (void) sd_event_source_set_enabled(t->io, enabled);
}

/* The token file must exist as its owner's secret; created (32 random bytes) when missing. */
static int token_file_prepare(const char *path) {
        g_autofree char *token = NULL, *problem = NULL;
        int r;

        r = token_file_read(path, &token, &problem);
        if (r == -ENOENT) {
                g_clear_pointer(&problem, g_free);
                r = token_generate(&token);
                if (r >= 0)
                        r = token_file_write(path, token);
                if (r < 0)
                        return log_error_errno(r, "Failed to create the TCP token file '%s': %m", path);
                log_info("Created the TCP token file '%s' (mode 0600).", path);
                g_clear_pointer(&token, g_free);
                r = token_file_read(path, &token, &problem);
        }
        if (r < 0)
                return log_error_errno(r, "Refusing to listen on TCP: %s.", problem);
        return 0;
}

static int listen_socket(JsonrpcTcp *t, const char *listen_address, bool allow_remote) {
        InetAddress a;
        struct sockaddr_storage bound;
        socklen_t len = sizeof bound;
        g_auto(Fd) fd = -1;
        int one = 1, r;

        r = inet_address_parse(listen_address, INET_NUMERIC, &a);
        if (r < 0)
                return log_error_errno(r, "[tcp] listen=%s: expected a numeric address and a port, such as "
                                       "127.0.0.1:7420 or [::1]:7420.", listen_address);
        if (!inet_address_is_loopback(&a) && !allow_remote)
                return log_error_errno(-EPERM, "Refusing to listen on TCP at %s: it is not a loopback address, so "
                                       "other machines could connect and try tokens. Set [tcp] "
                                       "allow-remote=true to allow it, or listen on 127.0.0.1 or [::1].",
                                       listen_address);

        fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(-errno, "Failed to create a TCP socket: %m");
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (struct sockaddr *) &a.ss, a.len) < 0)
                return log_error_errno(-errno, "Failed to listen on TCP at %s: %m", listen_address);
        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(-errno, "Failed to listen on TCP at %s: %m", listen_address);
        if (getsockname(fd, (struct sockaddr *) &bound, &len) < 0)
                return log_error_errno(-errno, "Failed to read the TCP address bound: %m");
        t->address = inet_address_format((struct sockaddr *) &bound, len);
        if (!inet_address_is_loopback(&a))
                log_warning("Listening on TCP at %s, which is not loopback ([tcp] allow-remote=true): anyone who "
                            "can reach it may try tokens.", t->address);
        t->fd = g_steal_fd(&fd);
        return 0;
}

/**
 * jsonrpc_tcp_new() - listen on s->config.tcp.listen
 * @runtime_dir: where tcp-address is written
 *
 * Return: 0, or a negative errno (logged with what to fix): -EPERM for a
 * non-loopback address without allow-remote or a token file others may
 * read or another uid owns, -EINVAL for a bad token file or address.
 */
int jsonrpc_tcp_new(JsonrpcServer *s, const char *runtime_dir, JsonrpcTcp **ret) {
        const JsonrpcTcpConfig *config = &s->config.tcp;
        g_autoptr(GString) line = NULL;
        JsonrpcTcp *t;
        int r;

        t = g_new0(JsonrpcTcp, 1);
        t->server = s;
        t->fd = -1;
        t->token_file = config->token_file ? g_strdup(config->token_file) :
                        g_build_filename(g_get_user_config_dir(), "switchboard", "token", NULL);

        r = token_file_prepare(t->token_file);
        if (r >= 0)
                r = listen_socket(t, config->listen, config->allow_remote);
        if (r >= 0) {
                r = sd_event_add_io(s->event, &t->io, t->fd, EPOLLIN, on_accept, t);
                if (r >= 0)
                        r = sd_event_source_set_priority(t->io, SD_EVENT_PRIORITY_NORMAL + 2);
                if (r < 0)
                        log_error_errno(r, "Failed to watch the TCP socket: %m");
        }
        if (r < 0) {
                jsonrpc_tcp_free(t);
                return r;
        }

        hub_add_info(s->hub, tcp_info, t);
        t->info_added = true;
        t->address_file = g_build_filename(runtime_dir, "tcp-address", NULL);
        line = g_string_new(t->address);
        g_string_append_c(line, '\n');
        r = file_write_atomic(t->address_file, line->str, 0600);
        if (r < 0)
                log_warning_errno(r, "Failed to write '%s', ignoring: %m", t->address_file);
        log_info("Listening on TCP at %s; clients authenticate with the token in '%s'.", t->address,
                 t->token_file);
        *ret = t;
        return 0;
}

JsonrpcTcp *jsonrpc_tcp_free(JsonrpcTcp *t) {
        if (!t)
                return NULL;
        if (t->info_added)
                hub_remove_info(t->server->hub, tcp_info, t);
        t->io = sd_event_source_disable_unref(t->io);
        fd_close(t->fd);
        if (t->address_file)
                (void) unlink(t->address_file);
        g_free(t->address_file);
        g_free(t->address);
        g_free(t->token_file);
        g_free(t);
        return NULL;
}
