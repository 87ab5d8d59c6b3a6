/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shm-hub.h: the hub's side of shared-memory rings (docs/shm.md). The
 * control plane is three socket-only JSON-RPC methods, served through the
 * JSON-RPC face's extension hook because their responses carry fds:
 *
 *   shm.publish   {"topic", "size"}    -> {"ring", "size", "map_size", "kind"} + memfd, eventfd
 *   shm.subscribe {"pattern", "size", "with_retained", "direct", "zero_copy"}
 *                                      -> {"ring", "size", "map_size", "kind", "subscription"}
 *                                         + memfd (, eventfd, reader eventfd)
 *                 zero_copy: also {"zero_copy", "publisher_ring", "publisher_map_size"}
 *                                         + the publisher ring's memfd, read-only
 *   shm.close     {"ring"}             -> null
 *
 * Each ring is a core client of its own (transport "shm", the requesting
 * connection's uid and pid). A publish ring is drained in the loop: every
 * record becomes hub_publish(). A subscribe ring is a sink: the hub writes
 * what fits and records a gap otherwise. Everything read from shared
 * memory is validated (ring.c); a ring whose peer corrupted it is dropped
 * with a log line. Rings are freed with shm.close or when their
 * connection goes.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "core/hub.h"
#include "jsonrpc/jsonrpc-dispatch.h"

#define SHM_BUSY_POLL_USEC (20 * 1000)

typedef struct ShmConfig {
        uint64_t min_size;              /* data size bounds of one ring, bytes (powers of two) */
        uint64_t max_size;
        uint64_t default_size;          /* when a request gives none */
        unsigned max_rings;             /* per connection */
        uint64_t max_total;             /* bytes of every ring's mapping together (the hub is per user) */
        bool busy_poll;                 /* publish rings: poll a dry ring SHM_BUSY_POLL_USEC before sleeping */
        uint64_t direct_account_usec;   /* direct rings: how often the hub counts their messages */
} ShmConfig;

void shm_config_default(ShmConfig *ret);

typedef struct ShmHub ShmHub;

int shm_hub_new(sd_event *event, Hub *hub, const ShmConfig *config, ShmHub **ret);
ShmHub *shm_hub_free(ShmHub *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ShmHub, shm_hub_free)

void shm_hub_set_config(ShmHub *s, const ShmConfig *config);

/* The socket-only methods, for jsonrpc_server_set_extension(); owned by @s. */
const JsonrpcExtension *shm_hub_extension(ShmHub *s);
