/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shm-control.h: a blocking client of the rings' control plane on a
 * dedicated connection, for tests/shm/shm-tool and bench/bench-shm, which
 * need the raw ring (ShmRing) that libswitchboard keeps to itself. Programs
 * use libswitchboard's sb_ring_*() instead. Notifications that arrive
 * before an answer are skipped: use a connection without subscriptions.
 * Answers are read with the proto layer's JSON reader.
 */
#pragma once

#include "shm/shm-client.h"

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
 * shm_ring_open() - ask the hub for a ring on @sock and map it
 * @publish: true: shm.publish of topic @name (we write); false: shm.subscribe
 *           to pattern @name (we read)
 * @size: data size in bytes (a power of two within the hub's limits), 0: the hub's default
 * @options: further JSON members for the params, e.g. "\"direct\":true", or NULL
 * @ret: as shm_ring_map(); a subscribe ring also gets its reader_fd, and a
 *       zero-copy one ("\"zero_copy\":true" in @options) the publisher's ring
 *       (shm_ring_map_publisher(): read REF records with shm_ring_payload())
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
