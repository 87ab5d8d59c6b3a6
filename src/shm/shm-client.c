/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shm-client.c: a client's side of the control plane of shared-memory
 * rings (shm-client.h): the fds with SCM_RIGHTS, checking the memfd's
 * seals and mapping it. libc only.
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


/* The seals and size of a ring's memfd; its size on success. */
static int check_memfd(int memfd, size_t *ret_size) {
        int seals = fcntl(memfd, F_GET_SEALS);
        struct stat st;

        if (seals < 0)
                return -errno;
        if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
                return -EPERM;
        if (fstat(memfd, &st) < 0)
                return -errno;
        if (st.st_size < (off_t) (RING_HEADER_SIZE + RING_MIN_SIZE) ||
            st.st_size > (off_t) ring_map_size(RING_MAX_SIZE))
                return -EPROTO;
        *ret_size = (size_t) st.st_size;
        return 0;
}

/* Check @memfd (check_memfd()) and map all of it shared with @prot. */
static int map_memfd(int memfd, int prot, void **ret_mem, size_t *ret_size) {
        size_t size = 0;        /* set when check_memfd() succeeds; gcc -O2 cannot tell -errno is never 0 */
        void *mem;
        int k;

        k = check_memfd(memfd, &size);
        if (k < 0)
                return k;
        mem = mmap(NULL, size, prot, MAP_SHARED, memfd, 0);
        if (mem == MAP_FAILED)
                return -errno;
        *ret_mem = mem;
        *ret_size = size;
        return 0;
}

int shm_ring_map(int memfd, int wake_fd, bool producer, ShmRing *ret) {
        size_t size = 0;
        void *mem = NULL;
        int k;

        k = map_memfd(memfd, PROT_READ | PROT_WRITE, &mem, &size);
        if (k < 0)
                return k;
        k = ring_attach(&ret->ring, mem, size, producer, wake_fd);
        if (k < 0) {
                munmap(mem, size);
                return k;
        }
        ret->mem = mem;
        ret->map_size = size;
        ret->memfd = memfd;
        ret->wake_fd = wake_fd;
        ret->id = ret->ring.shared->id;
        ret->producer = producer;
        ret->reader_fd = -1;
        ret->ref_data = NULL;
        ret->ref_mem = NULL;
        ret->ref_fd = -1;
        return 0;
}

int shm_ring_map_publisher(ShmRing *r, int memfd) {
        uint32_t data_size = 0;
        size_t size = 0;
        void *mem = NULL;
        int k;

        k = map_memfd(memfd, PROT_READ, &mem, &size);
        if (k < 0)
                return k;
        k = ring_header_check(mem, size, &data_size);
        if (k < 0) {
                munmap(mem, size);
                return k;
        }
        r->ref_mem = mem;
        r->ref_map_size = size;
        r->ref_data = (const uint8_t *) mem + RING_HEADER_SIZE;
        r->ref_size = data_size;
        r->ref_fd = memfd;
        return 0;
}

int shm_ring_payload(const ShmRing *r, const RingMsg *m, const void **ret_payload, size_t *ret_len) {
        if (m->type == RING_RECORD_REF)
                return ring_ref_resolve(m, r->ref_data, r->ref_size, ret_payload, ret_len);
        *ret_payload = m->payload;
        *ret_len = m->payload_len;
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
        if (r->ref_mem)
                munmap(r->ref_mem, r->ref_map_size);
        if (r->ref_fd >= 0)
                close(r->ref_fd);
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
