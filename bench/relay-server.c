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
 * Used only by bench/run-rpc.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench-proto.h"

#define MAX_FRAME (4u * 1024 * 1024)    /* the hub's default max-frame */
#define MAX_OUTPUT (16u * 1024 * 1024)  /* the hub's default max-output */
#define MAX_CONNS 64
#define SERVE_MARK "\"method\":\"serve\""

typedef enum Role {
        ROLE_NEW,               /* no whole frame yet */
        ROLE_RESPONDER,
        ROLE_CALLER,
} Role;

typedef struct Conn {
        int fd;
        Role role;
        Buf in, out;
        uint32_t events;
} Conn;

typedef struct Relay {
        int ep;
        Conn *responder, *caller;
} Relay;

static Conn *conn_peer(const Relay *r, const Conn *c) {
        switch (c->role) {
        case ROLE_RESPONDER:
                return r->caller;
        case ROLE_CALLER:
                return r->responder;
        default:
                return NULL;
        }
}

/* Reads while the peer can take more, writes while there is something to write. */
static void conn_update(Relay *r, Conn *c) {
        Conn *peer = conn_peer(r, c);
        uint32_t events = 0;
        struct epoll_event ev = { .data.ptr = c };

        if (!peer || buf_pending(&peer->out) <= MAX_OUTPUT)
                events |= EPOLLIN;
        if (buf_pending(&c->out) > 0)
                events |= EPOLLOUT;
        if (events == c->events)
                return;
        ev.events = events;
        (void) epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->events = events;
}

static void conn_free(Relay *r, Conn *c) {
        Conn *peer = conn_peer(r, c);

        if (r->responder == c)
                r->responder = NULL;
        if (r->caller == c)
                r->caller = NULL;
        /* The peer may have stopped reading because of us: it drops from now on. */
        if (peer)
                conn_update(r, peer);
        (void) epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        buf_deinit(&c->in);
        buf_deinit(&c->out);
        g_free(c);
}

/*
 * The bytes of the whole frames at the head of @b, so that they can be
 * forwarded as they are, in one piece; a partial frame waits for more.
 * Return: 0, or -EBADMSG for a frame over MAX_FRAME.
 */
static int frames_whole(const Buf *b, size_t *ret_len) {
        const char *p = buf_head(b);
        size_t at = 0, pending = buf_pending(b);

        while (pending - at >= 4) {
                uint32_t be, len;

                memcpy(&be, p + at, 4);
                len = GUINT32_FROM_BE(be);
                if (len > MAX_FRAME)
                        return -EBADMSG;
                if (pending - at < 4 + (size_t) len)
                        break;
                at += 4 + (size_t) len;
        }
        *ret_len = at;
        return 0;
}

/* Gives a new connection its role from its first whole frame. Return: 0, or -1 to close it. */
static int conn_identify(Relay *r, Conn *c) {
        uint32_t be, len;

        if (buf_pending(&c->in) < 4)
                return 0;
        memcpy(&be, buf_head(&c->in), 4);
        len = GUINT32_FROM_BE(be);
        if (len > MAX_FRAME)
                return -1;
        if (buf_pending(&c->in) < 4 + (size_t) len)
                return 0;

        if (memmem(buf_head(&c->in) + 4, len, SERVE_MARK, strlen(SERVE_MARK))) {
                if (r->responder)
                        return -1;
                c->role = ROLE_RESPONDER;
                r->responder = c;
                buf_append(&c->out, buf_head(&c->in), 4 + (size_t) len);
                buf_consume(&c->in, 4 + (size_t) len);
        } else {
                if (r->caller)
                        return -1;
                c->role = ROLE_CALLER;
                r->caller = c;
        }
        /* The new peer may have been holding back input for want of room. */
        if (conn_peer(r, c))
                conn_update(r, conn_peer(r, c));
        return 0;
}

/* Return: 0 to keep the connection, -1 to close it. */
static int conn_io(Relay *r, Conn *c, uint32_t revents) {
        Conn *peer;

        if (revents & EPOLLIN) {
                ssize_t n = buf_read_fd(&c->in, c->fd);
                size_t len;

                if (n == 0 || (n < 0 && n != -EAGAIN))
                        return -1;
                if (c->role == ROLE_NEW && conn_identify(r, c) < 0)
                        return -1;
                if (c->role != ROLE_NEW) {
                        if (frames_whole(&c->in, &len) < 0)
                                return -1;
                        peer = conn_peer(r, c);
                        if (len > 0 && peer) {
                                buf_append(&peer->out, buf_head(&c->in), len);
                                /* A failure shows up as the peer's own HUP or ERR. */
                                (void) buf_write_fd(&peer->out, peer->fd);
                        }
                        buf_consume(&c->in, len);
                }
        } else if (revents & (EPOLLHUP | EPOLLERR) && !(revents & EPOLLOUT))
                return -1;

        if (buf_write_fd(&c->out, c->fd) < 0)
                return -1;
        conn_update(r, c);
        peer = conn_peer(r, c);
        if (peer)
                conn_update(r, peer);
        return 0;
}

int main(int argc, char *argv[]) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct epoll_event ev;
        Relay relay = {};
        sigset_t mask;
        int lfd, sfd, n_conns = 0, timeout = -1;
        const char *path;

        if (argc == 3 && g_str_equal(argv[1], "--busy")) {
                timeout = 0;
                path = argv[2];
        } else if (argc == 2 && argv[1][0] != '-')
                path = argv[1];
        else
                path = NULL;
        if (!path || strlen(path) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "Usage: bench-relay-server [--busy] SOCKET_PATH\n");
                return EXIT_FAILURE;
        }
        strcpy(sa.sun_path, path);

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        relay.ep = epoll_create1(EPOLL_CLOEXEC);
        if (sfd < 0 || lfd < 0 || relay.ep < 0) {
                perror("bench-relay-server");
                return EXIT_FAILURE;
        }
        (void) unlink(sa.sun_path);
        if (bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(lfd, 128) < 0) {
                fprintf(stderr, "bench-relay-server: %s: %m\n", sa.sun_path);
                return EXIT_FAILURE;
        }
        ev = (struct epoll_event) { .events = EPOLLIN, .data.ptr = &lfd };
        (void) epoll_ctl(relay.ep, EPOLL_CTL_ADD, lfd, &ev);
        ev = (struct epoll_event) { .events = EPOLLIN, .data.ptr = &sfd };
        (void) epoll_ctl(relay.ep, EPOLL_CTL_ADD, sfd, &ev);

        printf("ready\n");
        fflush(stdout);

        for (;;) {
                struct epoll_event events[64];
                int n = epoll_wait(relay.ep, events, G_N_ELEMENTS(events), timeout);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        perror("bench-relay-server: epoll_wait");
                        return EXIT_FAILURE;
                }
                for (int i = 0; i < n; i++) {
                        if (events[i].data.ptr == &sfd) {
                                (void) unlink(sa.sun_path);
                                return EXIT_SUCCESS;
                        }
                        if (events[i].data.ptr == &lfd) {
                                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                                Conn *c;

                                if (fd < 0)
                                        continue;
                                if (n_conns >= MAX_CONNS) {
                                        close(fd);
                                        continue;
                                }
                                c = g_new0(Conn, 1);
                                c->fd = fd;
                                c->events = EPOLLIN;
                                ev = (struct epoll_event) { .events = EPOLLIN, .data.ptr = c };
                                if (epoll_ctl(relay.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
                                        close(fd);
                                        g_free(c);
                                        continue;
                                }
                                n_conns++;
                                continue;
                        }
                        if (conn_io(&relay, events[i].data.ptr, events[i].events) < 0) {
                                conn_free(&relay, events[i].data.ptr);
                                n_conns--;
                        }
                }
        }
}
