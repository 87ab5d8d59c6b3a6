/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jsonrpc-conn.h: one framed JSON-RPC connection on a non-blocking stream
 * socket, and the parts of the server that connections and the FIFO share.
 * Internal to src/jsonrpc/.
 */
#pragma once

#include <systemd/sd-event.h>

#include "proto/frame.h"
#include "jsonrpc/jsonrpc-server.h"

typedef struct JsonrpcFifo JsonrpcFifo;
typedef struct JsonrpcTcp JsonrpcTcp;

/* Refusals logged at most every ten seconds, with how many there were (refusal_log_due()). */
typedef struct RefusalLog {
        uint64_t count;                 /* since logged */
        uint64_t logged;                /* monotonic usec */
} RefusalLog;

struct JsonrpcServer {
        sd_event *event;
        Hub *hub;
        JsonrpcConfig config;
        JsonrpcStats stats;
        bool info_added;                /* stats registered with hub_add_info() */
        int listen_fd;
        bool listen_fd_adopted;         /* from systemd: not ours to unlink */
        char *socket_path;
        sd_event_source *listen_io;
        sd_event_source *listen_resume;  /* re-enables listen_io after the system ran out of fds */
        int reserve_fd;                 /* /dev/null, given back to answer a client past the fd limit */
        RefusalLog fd_refusals;
        GQueue conns;                   /* JsonrpcConn*, owned */
        GQueue dirty;                   /* JsonrpcConn* with output queued by another's input */
        JsonrpcFifo *fifo;
        JsonrpcTcp *tcp;                /* the TCP listener, or NULL */
        const JsonrpcExtension *ext;    /* socket-only methods (shm.*), or NULL */
};

/* Frames of a connection's output that carry fds: sent with sendmsg() from their first byte. */
typedef struct JsonrpcFdFrame {
        size_t offset;                  /* where the frame starts in JsonrpcConn.out */
        JsonrpcFds fds;
} JsonrpcFdFrame;

typedef struct JsonrpcConn {
        Client client;                  /* the core sees &conn->client; must be first */
        JsonrpcServer *server;
        int fd;
        sd_event_source *io;
        uint32_t io_events;             /* what io asks for (conn_update_events()) */
        bool io_off;                    /* io is disabled */
        sd_event_source *flush_defer;   /* one-shot: write what deliver() queued */
        sd_event_source *close_defer;   /* one-shot: free outside any callback of ours */
        FrameReader reader;
        GByteArray *out;                /* frames not yet written, from out_start on */
        size_t out_start;
        bool paused;                    /* not reading: output over max_output */
        bool closing;                   /* write what is queued, then close */
        bool refused;                   /* a notification was refused: gaps to flush */
        bool held;                      /* output waits for the journal (durable) */
        HubWaiter durable;
        GArray *fd_frames;              /* JsonrpcFdFrame, by offset; NULL: none yet */
        GHashTable *deferred;           /* wait/call id -> request id JSON (see JsonrpcContext) */
        struct JsonParser *parser;
        bool tcp;                       /* accepted by the TCP listener */
        bool authenticated;             /* may use the hub: unix always, tcp after hub.auth */
        bool unauthenticated;           /* tcp, counted as waiting to authenticate */
        char *address;                  /* tcp: the peer ("127.0.0.1:53412") */
        char *who;                      /* for log lines: "client 7 (unix, uid 1000)" */
        sd_event_source *auth_timer;    /* tcp, until authenticated: closes the connection */
        GList link;                     /* in JsonrpcServer.conns */
        GList dirty_link;               /* in JsonrpcServer.dirty */
} JsonrpcConn;

int jsonrpc_conn_new(JsonrpcServer *s, int fd, uid_t uid, pid_t pid);
int jsonrpc_conn_new_tcp(JsonrpcServer *s, int fd, const char *address);
void jsonrpc_conn_free(JsonrpcConn *c);

int jsonrpc_fifo_new(JsonrpcServer *s, const char *path, JsonrpcFifo **ret);
JsonrpcFifo *jsonrpc_fifo_free(JsonrpcFifo *f);

bool refusal_log_due(RefusalLog *l);

int jsonrpc_tcp_new(JsonrpcServer *s, const char *runtime_dir, JsonrpcTcp **ret);
JsonrpcTcp *jsonrpc_tcp_free(JsonrpcTcp *t);
int jsonrpc_tcp_token_check(JsonrpcTcp *t, const char *token, size_t len);
void jsonrpc_tcp_unauthenticated_gone(JsonrpcTcp *t, bool timed_out, bool failed);
void jsonrpc_tcp_set_listening(JsonrpcTcp *t, int enabled);
void jsonrpc_server_refuse(JsonrpcServer *s, int listen_fd, int r);
