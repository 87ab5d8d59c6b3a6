/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jsonrpc-server.h: the JSON-RPC transports on the event loop: the Unix
 * socket (created, or adopted from systemd socket activation) with its
 * connections, and the FIFO. The daemon creates the server before it
 * requests the bus name, so a hub that owns its name is listening here.
 */
#pragma once

#include <stdbool.h>

#include <systemd/sd-event.h>

#include "core/hub.h"
#include "jsonrpc/jsonrpc-dispatch.h"

/* [tcp]: the TCP listener, off unless listen is set (docs/tcp.md). */
typedef struct JsonrpcTcpConfig {
        char *listen;                   /* "127.0.0.1:7420", "[::1]:0"; NULL or "": no listener */
        bool allow_remote;              /* may bind an address other than loopback */
        char *token_file;               /* NULL or "": $XDG_CONFIG_HOME/switchboard/token */
        uint32_t max_unauthenticated;   /* connections waiting to authenticate, at once */
        uint64_t auth_timeout_ms;       /* time a connection has to authenticate */
        uint64_t max_auth_bytes;        /* bytes in a frame before authentication */
} JsonrpcTcpConfig;

typedef struct JsonrpcConfig {
        size_t max_frame;               /* bytes in one frame or FIFO line */
        size_t max_output;              /* bytes queued towards one client */
        bool disconnect_slow;           /* slow-consumer=disconnect rather than drop */
        bool fifo;                      /* create the FIFO */
        JsonrpcTcpConfig tcp;           /* strings borrowed from the daemon's Config */
} JsonrpcConfig;

typedef struct JsonrpcServer JsonrpcServer;

int jsonrpc_server_new(sd_event *event, Hub *hub, const JsonrpcConfig *config,
                       const char *runtime_dir, JsonrpcServer **ret);
JsonrpcServer *jsonrpc_server_free(JsonrpcServer *s);
void jsonrpc_server_set_config(JsonrpcServer *s, const JsonrpcConfig *config);
/* Socket-only methods (shm.*); @ext must outlive the server. In jsonrpc-conn.c. */
void jsonrpc_server_set_extension(JsonrpcServer *s, const JsonrpcExtension *ext);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(JsonrpcServer, jsonrpc_server_free)
