/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli-tcp.c: the CLI over the hub's TCP listener (--tcp=HOST:PORT), for a
 * container or VM that cannot reach the runtime directory, and the `token`
 * command. A TCP connection is the socket protocol after one hub.auth
 * request: tcp_connect_hub() has libswitchboard send it and hands the
 * connection on as if it were the Unix socket, so every backend and
 * command works unchanged. The token comes from $SWITCHBOARD_TOKEN, else
 * --token-file, else $XDG_CONFIG_HOME/switchboard/token.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gi18n.h>

#include <switchboard/switchboard.h>

#include "clients/backend.h"
#include "clients/cli.h"
#include "util/token.h"

#define AUTH_TIMEOUT_MS 10000

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
/**
 * tcp_connect_hub() - connect to the hub's TCP listener at config->tcp_address and authenticate
 * @ret_fd: a non-blocking, close-on-exec socket, ready for requests
 *
 * libswitchboard connects and sends hub.auth; the authenticated socket then
 * serves the CLI as the Unix socket does.
 *
 * Return: 0, or 69 (message printed).
 */
int tcp_connect_hub(const BackendConfig *config, int *ret_fd) {
        g_autofree char *token = NULL;
        sb_client *c;
        int fd, r;

        r = token_get(config->token_file, &token);
        if (r != 0)
                return r;
        fd = sb_open_tcp(config->tcp_address);
        if (fd == -EINVAL) {
                fprintf(stderr, _("switchboard: invalid --tcp '%s': expected HOST:PORT, such as 127.0.0.1:7420 or "
                                  "[::1]:7420\n"), config->tcp_address);
                return SB_EXIT_UNREACHABLE;
        }
        if (fd < 0) {
                fprintf(stderr, _("switchboard: cannot connect to the hub at %s: %s\n"), config->tcp_address,
                        g_strerror(-fd));
                return SB_EXIT_UNREACHABLE;
        }
        r = sb_connect_fd(fd, &c);
        if (r >= 0) {
                sb_set_timeout(c, AUTH_TIMEOUT_MS);
                r = sb_authenticate(c, token);
        }
        if (r < 0) {
                if (r == -EACCES || sb_error_code(c) != 0)
                        fprintf(stderr, _("switchboard: the hub at %s refused the connection: %s\n"),
                                config->tcp_address, sb_error_message(c));
                else
                        fprintf(stderr, _("switchboard: no answer to hub.auth from %s: %s\n"), config->tcp_address,
                                sb_error_message(c));
                sb_close(c);
                return SB_EXIT_UNREACHABLE;
        }
        /* Only hub.auth's answer was read: the socket goes on as the backends' own. */
        fd = fcntl(sb_get_fd(c), F_DUPFD_CLOEXEC, 3);
        r = fd < 0 ? -errno : 0;
        sb_close(c);
        if (r < 0) {
                fprintf(stderr, _("switchboard: cannot keep the connection to %s: %s\n"), config->tcp_address,
                        g_strerror(-r));
                return SB_EXIT_UNREACHABLE;
        }
        *ret_fd = fd;
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
