/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-server.c: see bench-server.h. A connection is freed only by the
 * loop, after its conn_io returned -1, never inside conn_io itself.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench-server.h"

int conn_read(Conn *c, uint32_t revents) {
        if (revents & EPOLLIN) {
                ssize_t n = buf_read_fd(&c->in, c->fd);

                if (n == 0 || (n < 0 && n != -EAGAIN))
                        return -1;
                return 1;
        }
        /* A hang-up with output pending is seen by the write. */
        if (revents & (EPOLLHUP | EPOLLERR) && !(revents & EPOLLOUT))
                return -1;
        return 0;
}

void conn_watch(Server *s, Conn *c, bool read) {
        uint32_t events = read ? EPOLLIN : 0;
        struct epoll_event ev = { .data.ptr = c };

        if (buf_pending(&c->out) > 0)
                events |= EPOLLOUT;
        if (events == c->events)
                return;
        ev.events = events;
        (void) epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->events = events;
}

static void server_accept(Server *s) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        struct epoll_event ev;
        Conn *c;

        if (fd < 0)
                return;
        if (s->n_conns >= s->max_conns) {
                close(fd);
                return;
        }
        c = g_new0(Conn, 1);
        c->fd = fd;
        c->events = EPOLLIN;
        ev = (struct epoll_event) { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
                close(fd);
                g_free(c);
                return;
        }
        s->n_conns++;
}

static void server_close(Server *s, Conn *c) {
        if (s->conn_close)
                s->conn_close(s, c);
        (void) epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        buf_deinit(&c->in);
        buf_deinit(&c->out);
        g_free(c);
        s->n_conns--;
}

int server_run(Server *s, const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct epoll_event ev;
        sigset_t mask;
        int r;

        g_assert(strlen(path) <= SERVER_PATH_MAX);
        strcpy(sa.sun_path, path);

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        s->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        s->ep = epoll_create1(EPOLL_CLOEXEC);
        if (s->sfd < 0 || s->lfd < 0 || s->ep < 0) {
                r = -errno;
                perror(s->name);
                return r;
        }
        (void) unlink(sa.sun_path);
        if (bind(s->lfd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(s->lfd, 128) < 0) {
                r = -errno;
                fprintf(stderr, "%s: %s: %m\n", s->name, sa.sun_path);
                return r;
        }
        ev = (struct epoll_event) { .events = EPOLLIN, .data.ptr = &s->lfd };
        (void) epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &ev);
        ev = (struct epoll_event) { .events = EPOLLIN, .data.ptr = &s->sfd };
        (void) epoll_ctl(s->ep, EPOLL_CTL_ADD, s->sfd, &ev);

        printf("ready\n");
        fflush(stdout);

        for (;;) {
                struct epoll_event events[64];
                int n = epoll_wait(s->ep, events, G_N_ELEMENTS(events), s->timeout);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        fprintf(stderr, "%s: epoll_wait: %m\n", s->name);
                        return r;
                }
                for (int i = 0; i < n; i++) {
                        if (events[i].data.ptr == &s->sfd) {
                                (void) unlink(sa.sun_path);
                                return 0;
                        }
                        if (events[i].data.ptr == &s->lfd)
                                server_accept(s);
                        else if (s->conn_io(s, events[i].data.ptr, events[i].events) < 0)
                                server_close(s, events[i].data.ptr);
                }
        }
}
