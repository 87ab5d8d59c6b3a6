/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-relay-server: the floor for request/reply through any broker on
 * this machine. The hub forwards a call in four socket hops (caller → hub
 * → server → hub → caller); this does the same four hops and nothing else.
 * One thread, one epoll set, a Unix stream socket, the hub's framing (a
 * 4-byte big-endian length, then that many bytes), no JSON, no names, no
 * ids: one responder and one caller, and every whole frame from either is
 * forwarded unchanged to the other. It batches like bench-echo-server (read
 * up to 64 KiB, forward every whole frame in it with one send()) and stops
 * reading from a connection while its peer's unsent output is over a bound,
 * so memory stays bounded whatever either end does.
 *
 *   bench-relay-server [--busy] SOCKET_PATH
 *
 * A connection's first whole frame says what it is:
 *
 *   {"jsonrpc":"2.0","id":1,"method":"serve",...}   the responder; the relay
 *                                                    sends this frame back as
 *                                                    its acknowledgement
 *   anything else                                    the caller; the frame is
 *                                                    forwarded like the rest
 *
 * (`bench-rpc serve --proto echo` is such a responder: it echoes every
 * frame; `bench-rpc call --proto echo` is such a caller.) A second
 * responder, or a second caller while one is connected, is closed. Frames
 * for an end that is not connected are dropped; a new caller may receive
 * answers to calls a previous caller left in flight.
 *
 * --busy: never sleep in epoll_wait() (timeout 0, in a loop), to see what a
 * polling broker would gain; it keeps one CPU busy.
 *
 * Prints "ready" on stdout once it listens; exits on SIGTERM or SIGINT.
 * The loop, the connections and their buffers are bench-server.c's; a
 * connection's role is where the Relay points to it. Used only by
 * bench/run-rpc.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-server.h"

#define MAX_CONNS 64
#define SERVE_MARK "\"method\":\"serve\""

/* The two ends; a connection that is neither has not sent a whole frame yet. */
typedef struct Relay {
        Conn *responder, *caller;
} Relay;

static Conn *conn_peer(const Relay *r, const Conn *c) {
        if (c == r->responder)
                return r->caller;
        if (c == r->caller)
                return r->responder;
        return NULL;
}

/* Reads while the peer can take more, writes while there is something to write. */
static void relay_watch(Server *s, Conn *c) {
        Conn *peer = conn_peer(s->userdata, c);

        conn_watch(s, c, !peer || buf_pending(&peer->out) <= SERVER_MAX_OUTPUT);
}

static void relay_close(Server *s, Conn *c) {
        Relay *relay = s->userdata;
        Conn *peer = conn_peer(relay, c);

        if (relay->responder == c)
                relay->responder = NULL;
        if (relay->caller == c)
                relay->caller = NULL;
        /* The peer may have stopped reading because of us: it drops from now on. */
        if (peer)
                relay_watch(s, peer);
}

/*
 * The bytes of the whole frames at the head of @b, so that they can be
 * forwarded as they are, in one piece; a partial frame waits for more.
 * Return: 0, or -EBADMSG for a frame over BENCH_MAX_MESSAGE.
 */
static int frames_whole(const Buf *b, size_t *ret_len) {
        size_t at = 0, len;
        int r;

        while ((r = frame_next(buf_head(b) + at, buf_pending(b) - at, &len)) > 0)
                at += 4 + len;
        if (r < 0)
                return r;
        *ret_len = at;
        return 0;
}

/* Gives a new connection its role from its first whole frame. Return: 0, or -1 to close it. */
static int relay_identify(Server *s, Conn *c) {
        Relay *relay = s->userdata;
        size_t len;
        int r;

        r = frame_next(buf_head(&c->in), buf_pending(&c->in), &len);
        if (r <= 0)
                return r < 0 ? -1 : 0;

        if (memmem(buf_head(&c->in) + 4, len, SERVE_MARK, strlen(SERVE_MARK))) {
                if (relay->responder)
                        return -1;
                relay->responder = c;
                buf_append(&c->out, buf_head(&c->in), 4 + len);
                buf_consume(&c->in, 4 + len);
        } else {
                if (relay->caller)
                        return -1;
                relay->caller = c;
        }
        /* The new peer may have been holding back input for want of room. */
        if (conn_peer(relay, c))
                relay_watch(s, conn_peer(relay, c));
        return 0;
}

static bool relay_known(const Relay *r, const Conn *c) {
        return c == r->responder || c == r->caller;
}

/* Return: 0 to keep the connection, -1 to close it. */
static int relay_io(Server *s, Conn *c, uint32_t revents) {
        Relay *relay = s->userdata;
        Conn *peer;
        size_t len;
        int r;

        r = conn_read(c, revents);
        if (r < 0)
                return -1;
        if (r > 0) {
                if (!relay_known(relay, c) && relay_identify(s, c) < 0)
                        return -1;
                if (relay_known(relay, c)) {
                        if (frames_whole(&c->in, &len) < 0)
                                return -1;
                        peer = conn_peer(relay, c);
                        if (len > 0 && peer) {
                                buf_append(&peer->out, buf_head(&c->in), len);
                                /* A failure shows up as the peer's own HUP or ERR. */
                                (void) buf_write_fd(&peer->out, peer->fd);
                        }
                        buf_consume(&c->in, len);
                }
        }

        if (buf_write_fd(&c->out, c->fd) < 0)
                return -1;
        relay_watch(s, c);
        peer = conn_peer(relay, c);
        if (peer)
                relay_watch(s, peer);
        return 0;
}

int main(int argc, char *argv[]) {
        Relay relay = {};
        Server s = {
                .name = "bench-relay-server",
                .max_conns = MAX_CONNS,
                .timeout = -1,
                .conn_io = relay_io,
                .conn_close = relay_close,
                .userdata = &relay,
        };
        const char *path;

        if (argc == 3 && g_str_equal(argv[1], "--busy")) {
                s.timeout = 0;
                path = argv[2];
        } else if (argc == 2 && argv[1][0] != '-')
                path = argv[1];
        else
                path = NULL;
        if (!path || strlen(path) > SERVER_PATH_MAX) {
                fprintf(stderr, "Usage: bench-relay-server [--busy] SOCKET_PATH\n");
                return EXIT_FAILURE;
        }
        return server_run(&s, path) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
