/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * backend.h: how the commands talk to the hub. A Backend has one generic
 * request: an operation of the op table (named by its D-Bus member, which
 * also says how its bytes travel on D-Bus), its OpArgs, and an OpResult
 * back. Two implementations marshal it by the descriptors: D-Bus
 * (backend-dbus.c, which also activates the hub) and the JSON-RPC socket
 * (backend-socket.c). What remains per backend is the stream of events a
 * subscription, watch or served name delivers. `switchboard stdio`
 * (cli-stdio.c) copies bytes between its stdin/stdout and the socket.
 */
#pragma once

#include <systemd/sd-event.h>

#include "clients/cli-common.h"

typedef enum BackendKind {
        BACKEND_AUTO,                   /* the socket if it accepts, else D-Bus */
        BACKEND_DBUS,
        BACKEND_SOCKET,
} BackendKind;

typedef struct BackendConfig {
        BackendKind kind;
        const char *address;            /* D-Bus address, or NULL for the session bus */
        const char *socket_path;        /* or NULL: $SWITCHBOARD_SOCKET, then the default */
        const char *tcp_address;        /* --tcp: the hub's TCP listener instead of the socket, or NULL */
        const char *token_file;         /* for TCP, when $SWITCHBOARD_TOKEN is not set; NULL: the default */
} BackendConfig;

/* What the kernel or the bus said about a publisher (socket only). */
typedef struct Sender {
        const char *transport;
        bool has_client, has_uid, has_pid;
        uint64_t client;
        uint64_t uid, pid;
        const char *name;               /* D-Bus unique name or NULL */
} Sender;

typedef enum EventKind {
        EVENT_MESSAGE,
        EVENT_KEY_CHANGED,
        EVENT_GAP,
        EVENT_REQUEST,                  /* a call to a name we serve: id, name, data */
        EVENT_TRAFFIC,                  /* queue or call traffic (monitor): id, name, data, number,
                                         * event, attempts, error, message */
} EventKind;

typedef struct Event {
        EventKind kind;
        uint64_t id;                    /* subscription or watch id (0 when unknown); call id */
        const char *name;               /* topic, key or served name */
        const void *data;               /* payload or value; NUL-terminated when text */
        size_t size;
        bool binary;
        uint64_t number;                /* seq or revision */
        bool retained, deleted;
        uint64_t first, last;           /* gap */
        const char *event;              /* traffic: "push", "call", ... */
        uint64_t object;                /* traffic: the job or call id */
        uint64_t attempts;              /* traffic: 0 when not said */
        const char *error, *message;    /* traffic: an error name and message, or NULL */
        const Sender *sender;           /* NULL when the transport does not say */
} Event;

typedef void (*EventHandler)(const Event *e, void *userdata);

typedef struct Backend Backend;

typedef struct BackendOps {
        /* @m with @in; wait at most @timeout_ms (0: CALL_TIMEOUT_MS), or until @cancel_fd
         * (-1: none) is readable. Return: 0 and @ret's out, CLI_HUB_ERROR and @ret's error,
         * CLI_INTERRUPTED, CLI_NOT_TEXT, or an exit status (message printed). */
        int (*request)(Backend *b, const OpMethod *m, const OpArgs *in, unsigned timeout_ms, int cancel_fd,
                       CliResult *ret);
        /* Before subscribe/watch/serve: deliver events to @handler from @event's loop. */
        int (*stream_prepare)(Backend *b, sd_event *event, EventHandler handler, void *userdata);
        void (*free)(Backend *b);
} BackendOps;

struct Backend {
        const BackendOps *ops;
};

void backend_free(Backend *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Backend, backend_free)

int backend_open(const BackendConfig *config, Backend **ret);
int backend_open_socket(const BackendConfig *config, Backend **ret);
int backend_request(Backend *b, const char *member, const OpArgs *in, unsigned timeout_ms, int cancel_fd,
                    CliResult *ret);
int backend_call(Backend *b, const char *member, const OpArgs *in, SubjectKind kind, const char *subject,
                 CliResult *ret);
int backend_stream_prepare(Backend *b, sd_event *event, EventHandler handler, void *userdata);

/* backend-dbus.c */
int dbus_backend_open(const char *address, Backend **ret);
int dbus_start_hub(const char *address);

/* backend-socket.c */
char *socket_default_path(void);
int socket_try_connect(const char *path, int *ret_fd);
int tcp_connect_hub(const BackendConfig *config, int *ret_fd);
int socket_connect_hub(const BackendConfig *config, int *ret_fd);
Backend *socket_backend_new(int fd);

/* cli-stdio.c */
int cli_stdio(const BackendConfig *config);
