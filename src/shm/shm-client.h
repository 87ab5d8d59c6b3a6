/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shm-client.h: the client's side of a shared-memory ring: asking the hub
 * for one over its Unix socket (JSON-RPC shm.publish / shm.subscribe,
 * docs/shm.md), receiving its memfd and eventfd with SCM_RIGHTS, checking
 * and mapping them. Plain C and libc, no GLib: libswitchboard wraps it.
 *
 * A client sends shm.publish or shm.subscribe as any other request, reads
 * with shm_recv() instead of recv() so that the fds that come with the
 * answer are kept (they arrive with the first byte of its frame), then
 * shm_ring_map()s them. (shm-control.h: the same in one blocking call, for
 * the test tool and the benchmark, which need the raw ring.)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm/ring.h"

/* The most fds one answer carries (memfd, the hub's eventfd, the reader's eventfd), and then some. */
#define SHM_MAX_FDS 4

/* A mapped ring on the client's side. */
typedef struct ShmRing {
        Ring ring;                      /* ring_write()/ring_read() etc. on &ring */
        void *mem;                      /* the mapping */
        size_t map_size;
        int memfd;                      /* owned */
        int wake_fd;                    /* owned: the eventfd that wakes the hub; -1: none */
        uint64_t id;                    /* the hub's ring id (shm.close) */
        bool producer;
        int reader_fd;                  /* owned: subscribe rings: the eventfd the hub writes while we
                                         * sleep in an epoll loop (shm_ring_sleep()); -1: none */
        /* Zero-copy subscribe rings: the publisher's ring, mapped read-only (shm_ring_map_publisher()). */
        const uint8_t *ref_data;        /* its data area; NULL: none */
        uint64_t ref_size;              /* its data size, as checked when it was mapped */
        void *ref_mem;
        size_t ref_map_size;
        int ref_fd;                     /* owned */
} ShmRing;

#define SHM_RING_INIT { .memfd = -1, .wake_fd = -1, .reader_fd = -1, .ref_fd = -1 }

/**
 * shm_ring_map() - check and map a ring's memfd received from the hub
 * @memfd: taken over on success only
 * @wake_fd: the ring's eventfd (the second fd of the response), taken over
 *           on success only; -1 when none came
 * @producer: true for a shm.publish ring (we write), false for shm.subscribe
 * @ret: zeroed or SHM_RING_INIT; set up on success
 *
 * Checks that the memfd is sealed against shrinking and growing (so the
 * mapping can never turn into SIGBUS) and that its size and header are a
 * ring's.
 *
 * Return: 0; -EPERM when the seals are missing; -EPROTO when the size or
 * header are not a ring's; -EBADMSG for inconsistent indices; or an errno
 * of fstat/fcntl/mmap.
 */
int shm_ring_map(int memfd, int wake_fd, bool producer, ShmRing *ret);

/**
 * shm_ring_sleep() - a reader in an epoll loop: about to wait for @r->reader_fd
 *
 * For a subscribe ring read from an event loop: watch @r->reader_fd for
 * EPOLLIN. When the ring is empty, call this: on true, go back to the
 * loop, and the hub writes reader_fd when it writes the next record; on
 * false a record came meanwhile: read on. After reader_fd is readable,
 * read it (8 bytes, to clear it) and read the ring.
 *
 * Return: true when it may sleep; false when there is work after all, or
 * when @r has no reader_fd (then wait with ring_wait_readable()).
 */
bool shm_ring_sleep(ShmRing *r);

/**
 * shm_ring_map_publisher() - a zero-copy subscribe ring: map the publisher's
 * ring that came with it (the fourth fd), read-only
 * @memfd: taken over on success only
 *
 * Checks the seals, the size and the header as shm_ring_map() does, and
 * keeps its own copy of the data size: what the publisher writes into the
 * header later changes nothing.
 *
 * Return: 0; -EPERM, -EPROTO, or an errno of fstat/fcntl/mmap.
 */
int shm_ring_map_publisher(ShmRing *r, int memfd);

/**
 * shm_ring_payload() - the payload of @m, a record read from @r: in the
 * record (MESSAGE), or where a REF points in the publisher's ring
 * @ret_payload, @ret_len: written on success only; valid until ring_release()
 *
 * Return: 0; -EBADMSG for a REF without a publisher's mapping or pointing
 * outside it.
 */
int shm_ring_payload(const ShmRing *r, const RingMsg *m, const void **ret_payload, size_t *ret_len);

/* Unmap and close; accepts a ring that was never mapped (SHM_RING_INIT). */
void shm_ring_unmap(ShmRing *r);

/**
 * shm_recv() - recv() that also collects the fds sent with SCM_RIGHTS
 * @fds, @max_fds: where to store received fds (O_CLOEXEC); fds beyond
 *                 @max_fds are closed
 * @ret_n_fds: how many were stored
 *
 * Return: bytes read (0: the hub closed the connection) or a negative errno.
 */
ssize_t shm_recv(int sock, void *buf, size_t len, int *fds, size_t max_fds, size_t *ret_n_fds);
