/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shm-client.c: a client's side of the control plane of shared-memory
 * rings (shm-client.h): the request, the fds with SCM_RIGHTS, checking the
 * memfd's seals and mapping it. libc only.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/shm-client.h"

#define SHM_MAX_FDS     4
#define SHM_MAX_FRAME   (16u << 20)

int shm_ring_map(int memfd, int wake_fd, bool producer, ShmRing *ret) {
        int seals = fcntl(memfd, F_GET_SEALS);
        struct stat st;
        void *mem;
        int k;

        if (seals < 0)
                return -errno;
        if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
                return -EPERM;
        if (fstat(memfd, &st) < 0)
                return -errno;
        if (st.st_size < (off_t) (RING_HEADER_SIZE + RING_MIN_SIZE) ||
            st.st_size > (off_t) ring_map_size(RING_MAX_SIZE))
                return -EPROTO;

        mem = mmap(NULL, (size_t) st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
        if (mem == MAP_FAILED)
                return -errno;
        k = ring_attach(&ret->ring, mem, (size_t) st.st_size, producer, wake_fd);
        if (k < 0) {
                munmap(mem, (size_t) st.st_size);
                return k;
        }
        ret->mem = mem;
        ret->map_size = (size_t) st.st_size;
        ret->memfd = memfd;
        ret->wake_fd = wake_fd;
        ret->id = ret->ring.shared->id;
        ret->producer = producer;
        ret->reader_fd = -1;
        return 0;
}

bool shm_ring_sleep(ShmRing *r) {
        if (r->producer || r->reader_fd < 0)
                return false;
        return ring_sleep_eventfd(&r->ring, 0);
}

void shm_ring_unmap(ShmRing *r) {
        if (r->mem)
                munmap(r->mem, r->map_size);
        if (r->memfd >= 0)
                close(r->memfd);
        if (r->wake_fd >= 0)
                close(r->wake_fd);
        if (r->reader_fd >= 0)
                close(r->reader_fd);
        *r = (ShmRing) SHM_RING_INIT;
}

ssize_t shm_recv(int sock, void *buf, size_t len, int *fds, size_t max_fds, size_t *ret_n_fds) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * SHM_MAX_FDS)];
        } control;
        struct iovec iov = { .iov_base = buf, .iov_len = len };
        struct msghdr msg = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof control,
        };
        size_t n_fds = 0;
        ssize_t n;

        do
                n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;

        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                size_t count;
                int *in;

                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                in = (int *) CMSG_DATA(c);
                for (size_t i = 0; i < count; i++) {
                        int fd;

                        memcpy(&fd, &in[i], sizeof fd);
                        if (n_fds < max_fds)
                                fds[n_fds++] = fd;
                        else
                                close(fd);
                }
        }
        if (ret_n_fds)
                *ret_n_fds = n_fds;
        return n;
}

static int send_all(int sock, const void *buf, size_t len) {
        const char *p = buf;

        while (len > 0) {
                ssize_t n = send(sock, p, len, MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Read exactly @len bytes; fds that come along are added to @fds. */
static int recv_exact(int sock, void *buf, size_t len, int *fds, size_t max_fds, size_t *n_fds) {
        char *p = buf;

        while (len > 0) {
                size_t got = 0;
                ssize_t n = shm_recv(sock, p, len, fds + *n_fds, max_fds - *n_fds, &got);

                if (n < 0)
                        return (int) n;
                if (n == 0)
                        return -EPIPE;
                *n_fds += got;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

static void close_fds(int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                close(fds[i]);
}

int shm_call(int sock, const char *request, size_t len, char **ret_body, int *fds, size_t max_fds,
             size_t *ret_n_fds) {
        unsigned char hdr[4] = { len >> 24, len >> 16, len >> 8, len };
        int k;

        if (len > SHM_MAX_FRAME)
                return -EMSGSIZE;
        k = send_all(sock, hdr, sizeof hdr);
        if (k >= 0)
                k = send_all(sock, request, len);
        if (k < 0)
                return k;

        for (;;) {
                size_t n_fds = 0;
                uint32_t flen;
                char *body;

                k = recv_exact(sock, hdr, sizeof hdr, fds, max_fds, &n_fds);
                if (k < 0) {
                        close_fds(fds, n_fds);
                        return k;
                }
                flen = (uint32_t) hdr[0] << 24 | (uint32_t) hdr[1] << 16 | (uint32_t) hdr[2] << 8 | hdr[3];
                if (flen > SHM_MAX_FRAME) {
                        close_fds(fds, n_fds);
                        return -EMSGSIZE;
                }
                body = malloc(flen + 1);
                if (!body) {
                        close_fds(fds, n_fds);
                        return -ENOMEM;
                }
                k = recv_exact(sock, body, flen, fds, max_fds, &n_fds);
                if (k < 0) {
                        free(body);
                        close_fds(fds, n_fds);
                        return k;
                }
                body[flen] = '\0';
                /* The hub writes "method" first in a notification, "id" second in a response. */
                if (strncmp(body, "{\"jsonrpc\":\"2.0\",\"method\"", 25) == 0) {
                        free(body);
                        close_fds(fds, n_fds);
                        continue;
                }
                *ret_body = body;
                if (ret_n_fds)
                        *ret_n_fds = n_fds;
                else
                        close_fds(fds, n_fds);
                return 0;
        }
}

int shm_json_u64(const char *body, const char *key, uint64_t *ret) {
        char quoted[64];
        const char *p;
        char *end;
        unsigned long long v;

        if (snprintf(quoted, sizeof quoted, "\"%s\":", key) >= (int) sizeof quoted)
                return -ENOENT;
        p = strstr(body, quoted);
        if (!p)
                return -ENOENT;
        p += strlen(quoted);
        if (*p < '0' || *p > '9')
                return -ENOENT;
        errno = 0;
        v = strtoull(p, &end, 10);
        if (errno != 0 || end == p)
                return -ENOENT;
        *ret = v;
        return 0;
}

static bool name_plain(const char *s) {
        for (; *s; s++)
                if (*s == '"' || *s == '\\' || (unsigned char) *s < 0x20)
                        return false;
        return true;
}

/* JSON members from the caller: quotes are theirs; control characters would break the frame. */
static bool options_plain(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20)
                        return false;
        return true;
}

int shm_ring_open(int sock, bool publish, const char *name, uint32_t size, const char *options,
                  ShmRing *ret, char **ret_error) {
        char *request = NULL, *body = NULL;
        int fds[SHM_MAX_FDS];
        size_t n_fds = 0;
        uint64_t id;
        int k, len;

        if (!name_plain(name) || (options && !options_plain(options)))
                return -EINVAL;
        len = asprintf(&request, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":{\"%s\":\"%s\","
                       "\"size\":%" PRIu32 "%s%s}}", publish ? "shm.publish" : "shm.subscribe",
                       publish ? "topic" : "pattern", name, size, options ? "," : "", options ?: "");
        if (len < 0)
                return -ENOMEM;
        k = shm_call(sock, request, (size_t) len, &body, fds, SHM_MAX_FDS, &n_fds);
        free(request);
        if (k < 0)
                return k;

        if (strstr(body, "\"error\":")) {
                close_fds(fds, n_fds);
                if (ret_error)
                        *ret_error = body;
                else
                        free(body);
                return -EREMOTEIO;
        }
        if (shm_json_u64(body, "ring", &id) < 0 || n_fds < 1) {
                close_fds(fds, n_fds);
                free(body);
                return -EPROTO;
        }
        free(body);
        k = shm_ring_map(fds[0], n_fds > 1 ? fds[1] : -1, publish, ret);
        if (k < 0) {
                close_fds(fds, n_fds);
                return k;
        }
        /* A subscribe ring's third fd: the reader's eventfd. */
        if (!publish && n_fds > 2) {
                ret->reader_fd = fds[2];
                close_fds(fds + 3, n_fds - 3);
        } else
                close_fds(fds + 2, n_fds > 2 ? n_fds - 2 : 0);
        ret->id = id;
        return 0;
}

int shm_ring_close(int sock, ShmRing *r) {
        char request[128], *body = NULL;
        int fds[SHM_MAX_FDS];
        size_t n_fds = 0;
        int len, k;

        len = snprintf(request, sizeof request,
                       "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"shm.close\",\"params\":{\"ring\":%" PRIu64 "}}",
                       r->id);
        k = shm_call(sock, request, (size_t) len, &body, fds, SHM_MAX_FDS, &n_fds);
        if (k >= 0)
                close_fds(fds, n_fds);
        free(body);
        shm_ring_unmap(r);
        return k;
}
