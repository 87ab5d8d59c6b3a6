/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-echo-server: the ceiling for the hub's JSON-RPC socket. One thread,
 * one epoll set, a Unix stream socket, the hub's framing (a 4-byte
 * big-endian length, then that many bytes) and nothing else: every whole
 * frame that arrives is sent straight back, no JSON, no hub. It batches like
 * the hub does (read up to 64 KiB, answer every whole frame in it with one
 * send()) and, like the hub, stops reading from a client whose unsent
 * output is over a bound, so memory stays bounded whatever a client does.
 *
 *   bench-echo-server SOCKET_PATH
 *
 * Prints "ready" on stdout once it listens; exits on SIGTERM or SIGINT.
 * Used only by bench/run-socket.
 */
#include <errno.h>
#include <signal.h>
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
#define MAX_CLIENTS 1024

typedef struct Conn {
        int fd;
        Buf in, out;
        uint32_t events;
} Conn;

static void conn_free(int ep, Conn *c) {
        (void) epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        buf_deinit(&c->in);
        buf_deinit(&c->out);
        g_free(c);
}

static void conn_update(int ep, Conn *c) {
        uint32_t events = buf_pending(&c->out) > MAX_OUTPUT ? 0 : EPOLLIN;
        struct epoll_event ev = { .data.ptr = c };

        if (buf_pending(&c->out) > 0)
                events |= EPOLLOUT;
        if (events == c->events)
                return;
        ev.events = events;
        (void) epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->events = events;
}

/* Return: 0 to keep the connection, -1 to close it. */
static int conn_io(int ep, Conn *c, uint32_t revents) {
        if (revents & EPOLLIN) {
                ssize_t n = buf_read_fd(&c->in, c->fd);

                if (n == 0 || (n < 0 && n != -EAGAIN))
                        return -1;
                /* Echo every whole frame; a partial one waits for more. */
                while (buf_pending(&c->in) >= 4) {
                        uint32_t be, len;

                        memcpy(&be, buf_head(&c->in), 4);
                        len = GUINT32_FROM_BE(be);
                        if (len > MAX_FRAME)
                                return -1;
                        if (buf_pending(&c->in) < 4 + (size_t) len)
                                break;
                        buf_append(&c->out, buf_head(&c->in), 4 + (size_t) len);
                        buf_consume(&c->in, 4 + (size_t) len);
                }
        } else if (revents & (EPOLLHUP | EPOLLERR) && !(revents & EPOLLOUT))
                return -1;

        if (buf_write_fd(&c->out, c->fd) < 0)
                return -1;
        conn_update(ep, c);
        return 0;
}

int main(int argc, char *argv[]) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct epoll_event ev;
        sigset_t mask;
        int ep, lfd, sfd, n_clients = 0;

        if (argc != 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "Usage: bench-echo-server SOCKET_PATH\n");
                return EXIT_FAILURE;
        }
        strcpy(sa.sun_path, argv[1]);

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (sfd < 0 || lfd < 0 || ep < 0) {
                perror("bench-echo-server");
                return EXIT_FAILURE;
        }
        (void) unlink(sa.sun_path);
        if (bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(lfd, 128) < 0) {
                fprintf(stderr, "bench-echo-server: %s: %m\n", sa.sun_path);
                return EXIT_FAILURE;
        }
        ev = (struct epoll_event) { .events = EPOLLIN, .data.ptr = &lfd };
        (void) epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
        ev = (struct epoll_event) { .events = EPOLLIN, .data.ptr = &sfd };
        (void) epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);

        printf("ready\n");
        fflush(stdout);

        for (;;) {
                struct epoll_event events[64];
                int n = epoll_wait(ep, events, G_N_ELEMENTS(events), -1);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        perror("bench-echo-server: epoll_wait");
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
                                if (n_clients >= MAX_CLIENTS) {
                                        close(fd);
                                        continue;
                                }
                                c = g_new0(Conn, 1);
                                c->fd = fd;
                                c->events = EPOLLIN;
                                ev = (struct epoll_event) { .events = EPOLLIN, .data.ptr = c };
                                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
                                        close(fd);
                                        g_free(c);
                                        continue;
                                }
                                n_clients++;
                                continue;
                        }
                        if (conn_io(ep, events[i].data.ptr, events[i].events) < 0) {
                                conn_free(ep, events[i].data.ptr);
                                n_clients--;
                        }
                }
        }
}
