/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli-tcp.c: the CLI over the hub's TCP listener (--tcp=HOST:PORT), for a
 * container or VM that cannot reach the runtime directory, and the `token`
 * command. A TCP connection is the socket protocol after one hub.auth
 * request: tcp_connect_hub() sends it, waits for its answer and hands the
 * connection on as if it were the Unix socket, so every backend and
 * command works unchanged. The token comes from $SWITCHBOARD_TOKEN, else
 * --token-file, else $XDG_CONFIG_HOME/switchboard/token.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gi18n.h>

#include "clients/backend.h"
#include "clients/cli.h"
#include "proto/frame.h"
#include "proto/json.h"
#include "proto/json-write.h"
#include "util/inet.h"
#include "util/sd-glue.h"
#include "util/token.h"

#define AUTH_TIMEOUT_MS 10000
#define AUTH_REPLY_MAX  4096

/* --token-file, else $XDG_CONFIG_HOME/switchboard/token. */
static char *token_path(const char *token_file) {
        return token_file ? g_strdup(token_file) :
                            g_build_filename(g_get_user_config_dir(), "switchboard", "token", NULL);
}

/* The token to present: $SWITCHBOARD_TOKEN, else the token file. Return: 0, or 69 (message printed). */
static int token_get(const char *token_file, char **ret) {
        const char *env = g_getenv("SWITCHBOARD_TOKEN");
        g_autofree char *path = token_path(token_file), *problem = NULL;

        if (env && env[0]) {
                *ret = g_strdup(env);
                return 0;
        }
        if (token_file_read(path, ret, &problem) < 0) {
                fprintf(stderr, _("switchboard: no token for the hub's TCP listener: %s (set SWITCHBOARD_TOKEN, "
                                  "or copy the hub's token file and pass --token-file=FILE)\n"), problem);
                return SB_EXIT_UNREACHABLE;
        }
        return 0;
}

/* Read exactly @len bytes before the deadline. */
static int read_full(int fd, void *buf, size_t len, gint64 deadline) {
        size_t got = 0;

        while (got < len) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                gint64 left = (deadline - g_get_monotonic_time()) / 1000;
                ssize_t n;

                if (left <= 0 || poll(&p, 1, (int) left) == 0)
                        return -ETIMEDOUT;
                n = read(fd, (char *) buf + got, len - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -ECONNRESET;
                got += (size_t) n;
        }
        return 0;
}

/* Send hub.auth and read its answer. Return: 0, or 69 (message printed). */
static int authenticate(int fd, const char *where, const char *token) {
        g_autoptr(GString) req = g_string_new("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"hub.auth\",\"params\":{\"token\":");
        g_autoptr(GByteArray) out = g_byte_array_new();
        g_autoptr(JsonParser) jp = json_parser_new();
        gint64 deadline = g_get_monotonic_time() + AUTH_TIMEOUT_MS * 1000;
        uint8_t header[FRAME_HEADER_SIZE];
        g_autofree char *body = NULL;
        const char *why = NULL, *message;
        size_t len, mlen;
        int r, error;

        json_write_cstr(req, token);
        g_string_append(req, "}}");
        frame_append(out, req->str, req->len);
        if (send(fd, out->data, out->len, MSG_NOSIGNAL) != (ssize_t) out->len) {
                fprintf(stderr, _("switchboard: cannot send to the hub at %s: %s\n"), where, g_strerror(errno));
                return SB_EXIT_UNREACHABLE;
        }
        r = read_full(fd, header, sizeof header, deadline);
        len = (size_t) header[0] << 24 | (size_t) header[1] << 16 | (size_t) header[2] << 8 | header[3];
        if (r >= 0 && (len == 0 || len > AUTH_REPLY_MAX))
                r = -EBADMSG;
        if (r >= 0) {
                body = g_malloc(len);
                r = read_full(fd, body, len, deadline);
        }
        if (r >= 0 && json_parse(jp, body, len, 8, &why) < 0)
                r = -EBADMSG;
        if (r < 0) {
                fprintf(stderr, _("switchboard: no answer to hub.auth from %s: %s\n"), where, g_strerror(-r));
                return SB_EXIT_UNREACHABLE;
        }
        error = json_token(jp, 0)->type == JSON_OBJECT ? json_object_find(jp, 0, "error") : -1;
        if (error >= 0) {
                int m = json_object_find(jp, error, "message");

                if (m < 0 || json_string(jp, m, &message, &mlen) < 0)
                        message = "?";
                fprintf(stderr, _("switchboard: the hub at %s refused the connection: %s\n"), where, message);
                return SB_EXIT_UNREACHABLE;
        }
        return 0;
}

/**
 * tcp_connect_hub() - connect to the hub's TCP listener at config->tcp_address and authenticate
 * @ret_fd: a non-blocking, close-on-exec socket, ready for requests
 *
 * Return: 0, or 69 (message printed).
 */
int tcp_connect_hub(const BackendConfig *config, int *ret_fd) {
        g_autofree char *token = NULL;
        g_auto(Fd) fd = -1;
        InetAddress a;
        int one = 1, r;

        r = inet_address_parse(config->tcp_address, INET_NAMES, &a);
        if (r < 0) {
                fprintf(stderr, _("switchboard: invalid --tcp '%s': expected HOST:PORT, such as 127.0.0.1:7420 or "
                                  "[::1]:7420\n"), config->tcp_address);
                return SB_EXIT_UNREACHABLE;
        }
        r = token_get(config->token_file, &token);
        if (r != 0)
                return r;
        fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &a.ss, a.len) < 0) {
                fprintf(stderr, _("switchboard: cannot connect to the hub at %s: %s\n"), config->tcp_address,
                        g_strerror(errno));
                return SB_EXIT_UNREACHABLE;
        }
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        r = authenticate(fd, config->tcp_address, token);
        if (r != 0)
                return r;
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
                return SB_EXIT_UNREACHABLE;
        *ret_fd = g_steal_fd(&fd);
        return 0;
}

/**
 * run_token() - `switchboard token show|rotate`: print the token, or replace it with a new one
 *
 * The hub reads the file at each hub.auth: after rotate, new TCP connections
 * need the new token; connections already authenticated stay.
 */
int run_token(char **args, int n_args) {
        g_autofree char *path = token_path(arg.token_file), *token = NULL, *problem = NULL;
        int r;

        if (g_str_equal(args[0], "show")) {
                if (token_file_read(path, &token, &problem) < 0) {
                        fprintf(stderr, _("switchboard: %s\n"), problem);
                        return SB_EXIT_NOT_FOUND;
                }
                printf("%s\n", token);
                return SB_EXIT_OK;
        }
        if (!g_str_equal(args[0], "rotate"))
                return usage_error(_("unknown token command '%s': use show or rotate"), args[0]);
        r = token_generate(&token);
        if (r >= 0)
                r = token_file_write(path, token);
        if (r < 0) {
                fprintf(stderr, _("switchboard: cannot write the token file %s: %s\n"), path, g_strerror(-r));
                return SB_EXIT_HUB_ERROR;
        }
        fprintf(stderr, _("switchboard: wrote a new token to %s; new TCP connections need it, connections "
                          "already authenticated stay\n"), path);
        return SB_EXIT_OK;
}
