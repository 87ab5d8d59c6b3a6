/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shm-client.h: the client's side of a shared-memory ring: asking the hub
 * for one over its Unix socket (JSON-RPC shm.publish / shm.subscribe,
 * docs/shm.md), receiving its memfd and eventfd with SCM_RIGHTS, checking
 * and mapping them. Plain C and libc, no GLib: libswitchboard wraps it.
 *
 * Two ways to use it:
 *  - a dedicated, blocking connection: shm_ring_open() does everything
 *    (request, response, fds, mapping). Notifications that arrive on that
 *    connection before the response are skipped, so use a connection that
 *    has no subscriptions.
 *  - a connection with its own reader (libswitchboard): send the request as
 *    any other, read with shm_recv() instead of recv() so that the fds that
 *    come with the response frame are kept (they arrive with the first byte
 *    of that frame), then shm_ring_map() them.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm/ring.h"

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
} ShmRing;

#define SHM_RING_INIT { .memfd = -1, .wake_fd = -1, .reader_fd = -1 }

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

/**
 * shm_call() - blocking: send one JSON-RPC request frame, read frames until
 * the response (skipping notifications), with the fds sent along with it
 * @ret_body: the response's JSON, NUL-terminated, malloc()ed
 * @fds, @max_fds, @ret_n_fds: as shm_recv(); fds received with skipped
 *                             notifications are closed
 *
 * Return: 0; -EPIPE when the hub closed the connection; -EMSGSIZE for a
 * frame over 16 MiB; or an errno of send/recv.
 */
int shm_call(int sock, const char *request, size_t len, char **ret_body, int *fds, size_t max_fds,
             size_t *ret_n_fds);

/**
 * shm_json_u64() - the number of "key": in the hub's JSON @body (its own
 * output: first occurrence, no nesting rules)
 * Return: 0, or -ENOENT.
 */
int shm_json_u64(const char *body, const char *key, uint64_t *ret);

/**
 * shm_ring_open() - ask the hub for a ring on @sock and map it
 * @publish: true: shm.publish of topic @name (we write); false: shm.subscribe
 *           to pattern @name (we read)
 * @size: data size in bytes (a power of two within the hub's limits), 0: the hub's default
 * @options: further JSON members for the params, e.g. "\"direct\":true", or NULL
 * @ret: as shm_ring_map(); a subscribe ring also gets its reader_fd
 * @ret_error: on -EREMOTEIO, the hub's error object as JSON (malloc()ed); may be NULL
 *
 * Return: 0; -EINVAL when @name holds a character a topic cannot have;
 * -EREMOTEIO when the hub answered with an error; -EPROTO when the
 * response lacked the ring or its fds; or as shm_call() and shm_ring_map().
 */
int shm_ring_open(int sock, bool publish, const char *name, uint32_t size, const char *options,
                  ShmRing *ret, char **ret_error);

/**
 * shm_ring_close() - blocking shm.close of @r on @sock, then shm_ring_unmap()
 * Return: 0, or as shm_call(); the ring is unmapped either way.
 */
int shm_ring_close(int sock, ShmRing *r);
