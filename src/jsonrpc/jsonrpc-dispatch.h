/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jsonrpc-dispatch.h: JSON-RPC 2.0 over the core, independent of how bytes
 * travel. A connection (socket) or the FIFO hands one frame or line at a
 * time to jsonrpc_dispatch(); responses are appended to ctx->out as
 * frames, after which any retained values a subscribe asked for follow as
 * notifications. Notifications to a client are encoded by
 * jsonrpc_append_envelope(). docs/protocol.md is the contract.
 */
#pragma once

#include <stdbool.h>

#include <glib.h>

#include "core/hub.h"
#include "ops/ops.h"

typedef struct JsonrpcStats {
        uint64_t fifo_lines;            /* lines read from the FIFO */
        uint64_t fifo_errors;           /* of those, refused */
        uint64_t frames_too_large;      /* connections closed for an oversized frame */
        uint64_t slow_disconnects;      /* connections closed as slow consumers */
} JsonrpcStats;

struct JsonParser;

/* File descriptors that go with one response frame (SCM_RIGHTS), owned until sent. */
#define JSONRPC_MAX_FDS 4
typedef struct JsonrpcFds {
        int fds[JSONRPC_MAX_FDS];
        unsigned n;
} JsonrpcFds;

void jsonrpc_fds_close(JsonrpcFds *f);

/*
 * Methods beyond the op table that only a socket connection can carry,
 * because their response passes file descriptors: shm.* (src/shm/). The
 * op table describes arguments that every face can marshal; an fd cannot
 * travel over D-Bus here, the FIFO or TCP, so these stay out of it.
 * call() runs @method (which starts with @prefix) for call->client with the
 * params token @params of @jp (-1: none): it appends the result JSON to
 * @result and may add fds to @fds (taken over), or returns a negative
 * errno with call->error set.
 */
typedef struct JsonrpcExtension {
        const char *prefix;
        int (*call)(void *userdata, OpCall *call, const char *method, struct JsonParser *jp, int params,
                    GString *result, JsonrpcFds *fds);
        void (*client_gone)(void *userdata, Client *client);     /* before the client is freed */
        void *userdata;
} JsonrpcExtension;

typedef struct JsonrpcContext {
        Hub *hub;
        Client *client;
        GByteArray *out;                /* response frames; NULL: answer nothing (FIFO) */
        bool fifo;                      /* only the methods a FIFO may carry */
        char *error;                    /* FIFO: why the last line was refused; owned */
        /*
         * Requests answered later (a reserve that waits, a call): op_answer_key() ->
         * JsonrpcDeferred*, from jsonrpc_deferred_new(). Owned by the connection,
         * which answers with jsonrpc_append_answer() when the core hands it the
         * ENVELOPE_JOB or ENVELOPE_REPLY. NULL: such requests cannot wait.
         */
        GHashTable *deferred;
        struct JsonParser *parser;      /* reused from frame to frame when set */
        bool hold;                      /* set: a response waits for hub_durable_wait() */
        const JsonrpcExtension *ext;    /* socket-only methods, or NULL */
        JsonrpcFds fds;                 /* to send with the frame that starts at fds_offset in out */
        size_t fds_offset;
} JsonrpcContext;

typedef struct JsonrpcDeferred {
        char *id_json;                  /* the request's id, as JSON text */
        const OpMethod *method;
} JsonrpcDeferred;

int jsonrpc_dispatch(JsonrpcContext *ctx, const char *body, size_t len);
void jsonrpc_stats_info(GVariantBuilder *dict, void *userdata);
void jsonrpc_append_envelope(GByteArray *out, const Envelope *e);
void jsonrpc_append_error(GByteArray *out, int code, const char *name, const char *message);
void jsonrpc_append_error_for(GByteArray *out, const char *id_json, int code, const char *name,
                              const char *message);
int jsonrpc_auth_read(struct JsonParser *jp, const char *body, size_t len, const char **ret_token,
                      size_t *ret_token_len, char **ret_id_json, char **ret_why);
void jsonrpc_append_answer(GByteArray *out, Hub *hub, const JsonrpcDeferred *d, const Envelope *e);
GHashTable *jsonrpc_deferred_new(void);

#define JSONRPC_MAX_DEPTH        16              /* nesting of a request */

#define JSONRPC_PARSE_ERROR      (-32700)
#define JSONRPC_INVALID_REQUEST  (-32600)
#define JSONRPC_METHOD_NOT_FOUND (-32601)
#define JSONRPC_INVALID_PARAMS   (-32602)
#define JSONRPC_INTERNAL_ERROR   (-32603)
