/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-echo-server: the ceiling for the hub's JSON-RPC socket. One thread,
 * one epoll set, a Unix stream socket, the hub's framing (a 4-byte
 * big-endian length, then that many bytes) and nothing else: every whole
 * frame that arrives is sent straight back, no JSON, no hub. It batches like
 * the hub does (read up to 64 KiB, answer every whole frame in it with one
 * send()) and, like the hub, stops reading from a client whose unsent
 * output is over a bound, so memory stays bounded whatever a client does.
 * The loop, the connections and their buffers are bench-server.c's.
 *
 *   bench-echo-server SOCKET_PATH
 *
 * Prints "ready" on stdout once it listens; exits on SIGTERM or SIGINT.
 * Used only by bench/run-socket and bench/run-rpc.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-server.h"

#define MAX_CLIENTS 1024

static int echo_io(Server *s, Conn *c, uint32_t revents) {
        size_t len;
        int r;

        r = conn_read(c, revents);
        if (r < 0)
                return -1;
        /* Echo every whole frame; a partial one waits for more. */
        while (r > 0 && (r = frame_next(buf_head(&c->in), buf_pending(&c->in), &len)) > 0) {
                buf_append(&c->out, buf_head(&c->in), 4 + len);
                buf_consume(&c->in, 4 + len);
        }
        if (r < 0 || buf_write_fd(&c->out, c->fd) < 0)
                return -1;
        conn_watch(s, c, buf_pending(&c->out) <= SERVER_MAX_OUTPUT);
        return 0;
}

int main(int argc, char *argv[]) {
        Server s = {
                .name = "bench-echo-server",
                .max_conns = MAX_CLIENTS,
                .timeout = -1,
                .conn_io = echo_io,
        };

        if (argc != 2 || strlen(argv[1]) > SERVER_PATH_MAX) {
                fprintf(stderr, "Usage: bench-echo-server SOCKET_PATH\n");
                return EXIT_FAILURE;
        }
        return server_run(&s, argv[1]) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
