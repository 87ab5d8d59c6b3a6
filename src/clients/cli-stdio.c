/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli-stdio.c: `switchboard stdio`, a connection to the hub through the
 * process's stdin and stdout. A parent (an editor, an agent) spawns it and
 * speaks the socket's protocol (4-byte length + JSON-RPC) on the pipes; this
 * file only copies bytes both ways and knows nothing of frames, so the
 * parent gets exactly the socket's behaviour. The hub is started through
 * D-Bus when its socket is not there.
 *
 * One poll() loop, every fd non-blocking, one bounded buffer per direction
 * (reading stops while it is full, so a slow side slows the other instead
 * of growing memory). Ending: stdin at EOF -> what was read is sent, the
 * socket is half-closed (SHUT_WR), the hub's remaining replies are copied
 * to stdout until the hub closes -> exit 0. The hub closing first -> the
 * rest is copied out -> exit 0. stdout closed by the parent -> exit 0.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gi18n.h>

#include "clients/backend.h"
#include "util/sd-glue.h"

#define PIPE_BUFFER (256 * 1024)

typedef struct Pipe {
        char data[PIPE_BUFFER];
        size_t start, end;              /* bytes [start, end) are waiting to be written */
} Pipe;

static size_t pipe_pending(const Pipe *p) {
        return p->end - p->start;
}

static size_t pipe_space(const Pipe *p) {
        return sizeof p->data - p->end;
}

/* Read into @p. Return: bytes read, 0 at EOF, -EAGAIN, or -errno. */
static ssize_t pipe_fill(Pipe *p, int fd, bool is_socket) {
        ssize_t n;

        if (p->start == p->end)
                p->start = p->end = 0;
        else if (pipe_space(p) == 0) {
                memmove(p->data, p->data + p->start, pipe_pending(p));
                p->end -= p->start;
                p->start = 0;
        }
        do
                n = is_socket ? recv(fd, p->data + p->end, pipe_space(p), MSG_DONTWAIT) :
                                read(fd, p->data + p->end, pipe_space(p));
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        p->end += (size_t) n;
        return n;
}

/* Write from @p. Return: bytes written, -EAGAIN, or -errno. */
static ssize_t pipe_drain(Pipe *p, int fd, bool is_socket) {
        ssize_t n;

        do
                n = is_socket ? send(fd, p->data + p->start, pipe_pending(p), MSG_NOSIGNAL | MSG_DONTWAIT) :
                                write(fd, p->data + p->start, pipe_pending(p));
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        p->start += (size_t) n;
        return n;
}

static int set_nonblock(int fd, int *ret_saved_flags) {
        int flags = fcntl(fd, F_GETFL);

        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;
        *ret_saved_flags = flags;
        return 0;
}

static int shuttle(int sock) {
        g_autofree Pipe *up = g_new0(Pipe, 1);          /* stdin -> hub */
        g_autofree Pipe *down = g_new0(Pipe, 1);        /* hub -> stdout */
        bool in_open = true, sock_rd_open = true, sock_wr_open = true;

        for (;;) {
                struct pollfd fds[3] = {
                        { .fd = STDIN_FILENO },
                        { .fd = sock },
                        { .fd = STDOUT_FILENO },
                };
                ssize_t n;
                int r;

                /* stdin is done and all of it is sent: tell the hub. */
                if (!in_open && sock_wr_open && pipe_pending(up) == 0) {
                        (void) shutdown(sock, SHUT_WR);
                        sock_wr_open = false;
                }
                /* The hub is done and all of it is out. */
                if (!sock_rd_open && pipe_pending(down) == 0)
                        return SB_EXIT_OK;

                if (in_open && sock_wr_open && pipe_space(up) > 0)
                        fds[0].events |= POLLIN;
                else
                        fds[0].fd = -1;
                if (sock_rd_open && (pipe_space(down) > 0 || down->start > 0))
                        fds[1].events |= POLLIN;
                if (sock_wr_open && pipe_pending(up) > 0)
                        fds[1].events |= POLLOUT;
                /* Always watched: POLLERR tells us the parent closed its end. */
                if (pipe_pending(down) > 0)
                        fds[2].events |= POLLOUT;

                r = poll(fds, G_N_ELEMENTS(fds), -1);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, _("switchboard: poll() failed: %s\n"), g_strerror(errno));
                        return SB_EXIT_HUB_ERROR;
                }

                if (fds[0].revents) {
                        n = pipe_fill(up, STDIN_FILENO, false);
                        if (n == 0 || (n < 0 && n != -EAGAIN))
                                in_open = false;
                }
                if (fds[1].revents & POLLOUT || (sock_wr_open && pipe_pending(up) > 0 && fds[1].revents)) {
                        n = pipe_drain(up, sock, true);
                        if (n < 0 && n != -EAGAIN) {
                                /* The hub is gone: nothing more can go up. */
                                sock_wr_open = false;
                                in_open = false;
                                up->start = up->end = 0;
                        }
                }
                if (fds[1].revents & (POLLIN | POLLHUP | POLLERR) && sock_rd_open) {
                        n = pipe_fill(down, sock, true);
                        if (n == 0 || (n < 0 && n != -EAGAIN))
                                sock_rd_open = false;
                }
                if (pipe_pending(down) > 0 && fds[2].revents) {
                        n = pipe_drain(down, STDOUT_FILENO, false);
                        if (n < 0 && n != -EAGAIN)
                                return SB_EXIT_OK;      /* the parent stopped reading */
                } else if (fds[2].revents & (POLLERR | POLLHUP | POLLNVAL))
                        return SB_EXIT_OK;
        }
}

/**
 * cli_stdio() - run `switchboard stdio`
 *
 * Return: 0 when either side closed, 69 when the hub cannot be reached.
 */
int cli_stdio(const BackendConfig *config) {
        g_auto(Fd) sock = -1;
        int in_flags = -1, out_flags = -1, r;

        r = socket_connect_hub(config, &sock);
        if (r != 0)
                return r;

        /* A write to a closed stdout must be an error (EPIPE), not a signal. */
        (void) signal(SIGPIPE, SIG_IGN);

        if (set_nonblock(STDIN_FILENO, &in_flags) < 0 || set_nonblock(STDOUT_FILENO, &out_flags) < 0) {
                fprintf(stderr, _("switchboard: cannot use standard input and output: %s\n"), g_strerror(errno));
                r = SB_EXIT_HUB_ERROR;
        } else
                r = shuttle(sock);

        /* The file descriptions may be shared with the parent (a terminal): restore them. */
        if (in_flags >= 0)
                (void) fcntl(STDIN_FILENO, F_SETFL, in_flags);
        if (out_flags >= 0)
                (void) fcntl(STDOUT_FILENO, F_SETFL, out_flags);
        return r;
}
