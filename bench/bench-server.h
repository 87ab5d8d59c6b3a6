/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-server.h: the skeleton of the benchmarks' own servers,
 * bench-echo-server and bench-relay-server. One thread, one epoll set, a
 * Unix stream socket, SIGTERM and SIGINT through a signalfd, at most
 * max_conns connections (more are closed as they are accepted), each a Conn
 * with an input and an output buffer. A program says what a connection's
 * events do (conn_io: read with conn_read(), write with buf_write_fd(), then
 * conn_watch()) and, if it keeps connections anywhere, what their closing
 * undoes (conn_close). Memory stays bounded because a program stops
 * watching a connection for input while too much output waits.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "bench-proto.h"

/* Unsent output over which a server stops reading (a connection, or its relay peer). */
#define SERVER_MAX_OUTPUT (16u * 1024 * 1024)
/* The longest SOCKET_PATH. */
#define SERVER_PATH_MAX (sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1)

typedef struct Conn {
        int fd;
        Buf in, out;
        uint32_t events;        /* what epoll watches it for */
} Conn;

typedef struct Server Server;
struct Server {
        /* Set by the program before server_run(). */
        const char *name;       /* for messages: "bench-echo-server" */
        unsigned max_conns;
        int timeout;            /* epoll_wait()'s: -1, or 0 to poll without sleeping */
        int (*conn_io)(Server *s, Conn *c, uint32_t revents);  /* 0, or -1 to close @c */
        void (*conn_close)(Server *s, Conn *c);                /* optional; @c is freed next */
        void *userdata;

        /* server_run()'s own. */
        int ep, lfd, sfd;
        unsigned n_conns;
};

/*
 * Reads what arrived on @c when @revents has EPOLLIN (up to 64 KiB).
 * Return: 1 when it did (or the read would have blocked), 0 when there was
 * nothing to read, -1 when @c is to be closed (EOF, an error, or a hang-up
 * with nothing left to write).
 */
int conn_read(Conn *c, uint32_t revents);

/* Watches @c for input when @read, and for output while it has some to send. */
void conn_watch(Server *s, Conn *c, bool read);

/*
 * server_run() - listen on @path (replacing what is there), print "ready" on
 * stdout and serve until SIGTERM or SIGINT, then remove @path.
 *
 * Return: 0 after a signal; -errno after printing why it could not listen or
 * wait. @path must be at most SERVER_PATH_MAX bytes.
 */
int server_run(Server *s, const char *path);
