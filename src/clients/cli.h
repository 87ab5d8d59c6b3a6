/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli.h: what the pieces of the `switchboard` CLI share. The commands
 * (switchboard.c) talk to the hub through a Backend: one small table of
 * operations with two implementations, D-Bus (backend-dbus.c, which also
 * activates the hub) and the JSON-RPC socket (backend-socket.c). Both report
 * errors through cli_report_hub_error(), so that messages and exit statuses
 * are the same whichever transport carried the call. `switchboard stdio`
 * (cli-stdio.c) copies bytes between its stdin/stdout and the socket.
 *
 * Every operation returns an exit status: 0 on success, otherwise the
 * status to exit with, after the message has been printed.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sysexits.h>

#include <glib.h>
#include <systemd/sd-event.h>

#define HUB_NAME "org.switchboard.Hub1"
#define HUB_PATH "/org/switchboard/Hub1"
#define HUB_INTERFACE "org.switchboard.Hub1"
#define HUB_ERROR_PREFIX "org.switchboard.Hub1.Error."

enum {
        SB_EXIT_OK = 0,
        SB_EXIT_HUB_ERROR = 1,
        SB_EXIT_USAGE = 2,
        SB_EXIT_NOT_FOUND = 3,
        SB_EXIT_CONFLICT = 4,
        SB_EXIT_NO_SERVER = 5,          /* call: nobody serves the name */
        SB_EXIT_TIMEOUT = 6,            /* call: no reply in time */
        SB_EXIT_SERVER_GONE = 7,        /* call: the server left before it replied */
        SB_EXIT_UNREACHABLE = EX_UNAVAILABLE,
};

/* Results of a backend operation that are not exit statuses: nothing was
 * printed, the command decides. */
enum {
        CLI_NO_JOB = 1000,              /* reserve: no job in time */
        CLI_INTERRUPTED,                /* a wait ended because the cancel fd became readable */
        CLI_NOT_TEXT,                   /* reply: D-Bus replies carry text only */
};

/* What a hub error is about, for its message: "no such key", "no such job", ... */
typedef enum SubjectKind {
        SUBJECT_KEY,                    /* also topics and patterns */
        SUBJECT_QUEUE,
        SUBJECT_JOB,
        SUBJECT_SERVICE,                /* a name served or called */
        SUBJECT_CALL,                   /* a call id (reply) */
} SubjectKind;

typedef enum BackendKind {
        BACKEND_AUTO,                   /* the socket if it accepts, else D-Bus */
        BACKEND_DBUS,
        BACKEND_SOCKET,
} BackendKind;

typedef struct BackendConfig {
        BackendKind kind;
        const char *address;            /* D-Bus address, or NULL for the session bus */
        const char *socket_path;        /* or NULL: $SWITCHBOARD_SOCKET, then the default */
} BackendConfig;

/* status: what GetInfo / hub.info report. */
typedef struct NamedCount {
        char *name;
        uint64_t value;
} NamedCount;

typedef struct Info {
        char *version;
        uint64_t start_time;
        uint32_t clients, subscriptions, topics, keys;
        uint64_t published, delivered, dropped, store_changes;
        GArray *by_transport;           /* NamedCount, sorted */
        GArray *limits;                 /* NamedCount, sorted */
        GArray *jsonrpc;                /* NamedCount, sorted; NULL when the hub sent none */
        bool has_queues;                /* the hub reported queues, pending_calls and services */
        uint32_t queues, pending_calls;
        GArray *services;               /* NamedCount: served name -> number of servers, sorted */
} Info;

void info_init(Info *info);
void info_clear(Info *info);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Info, info_clear)
GArray *named_counts_new(void);
void named_counts_add(GArray *a, const char *name, uint64_t value);
void named_counts_sort(GArray *a);

/* list: one entry; a value that is not text is "" (as D-Bus List reports it). */
typedef struct ListEntry {
        char *key;
        char *value;
        uint64_t revision;
} ListEntry;

void list_entry_free(ListEntry *e);

/* reserve, peek: one job. */
typedef struct Job {
        uint64_t id;
        GBytes *payload;                /* text: with its NUL (as get's value); see payload_data() */
        bool text;
        uint32_t attempts;
} Job;

void job_clear(Job *j);
const void *payload_data(GBytes *payload, bool text, size_t *ret_size);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Job, job_clear)

/* list_queues: one row of ListQueues / list_queues. */
typedef struct QueueRow {
        char *name;
        uint32_t ready, reserved, delayed, dead, waiting;
} QueueRow;

GArray *queue_rows_new(void);

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
        const Sender *sender;           /* NULL when the transport does not say */
} Event;

typedef void (*EventHandler)(const Event *e, void *userdata);

typedef struct Backend Backend;

typedef struct BackendOps {
        int (*publish)(Backend *b, const char *topic, const char *payload, bool retain);
        int (*clear_retained)(Backend *b, const char *pattern, uint64_t *ret_count);
        int (*get)(Backend *b, const char *key, GBytes **ret_value, bool *ret_text, uint64_t *ret_revision);
        int (*set)(Backend *b, const char *key, const char *value, bool if_revision, uint64_t expected);
        int (*delete)(Backend *b, const char *key, bool *ret_existed);
        int (*list)(Backend *b, const char *prefix, GPtrArray **ret_entries);
        int (*info)(Backend *b, Info *info);
        /* Before subscribe/watch: deliver events to @handler from @event's loop. */
        int (*stream_prepare)(Backend *b, sd_event *event, EventHandler handler, void *userdata);
        int (*subscribe)(Backend *b, const char *pattern, bool with_retained, uint64_t *ret_id);
        int (*watch)(Backend *b, const char *prefix, uint64_t *ret_id);
        /* Queues. reserve waits at most @timeout_ms (<= RESERVE_MAX_WAIT_MS): CLI_NO_JOB when
         * none came, CLI_INTERRUPTED as soon as @cancel_fd (or -1) is readable. */
        int (*push)(Backend *b, const char *queue, const char *payload, uint64_t delay_ms, uint64_t *ret_id);
        int (*reserve)(Backend *b, const char *queue, uint32_t timeout_ms, uint32_t visibility_ms,
                       int cancel_fd, Job *ret_job);
        int (*ack)(Backend *b, uint64_t id);
        int (*nack)(Backend *b, uint64_t id, uint64_t delay_ms);
        int (*touch)(Backend *b, uint64_t id);
        int (*kick)(Backend *b, const char *queue, uint32_t max, uint64_t *ret_count);
        int (*peek)(Backend *b, const char *queue, Job *ret_job);
        int (*purge)(Backend *b, const char *queue, uint64_t *ret_count);
        int (*list_queues)(Backend *b, GArray **ret_rows);
        /* Request/reply. call: @timeout_ms 0 is the hub's maximum; the reply as in Job. */
        int (*call)(Backend *b, const char *name, const char *payload, uint32_t timeout_ms,
                    GBytes **ret_reply, bool *ret_text);
        int (*serve)(Backend *b, const char *name);
        int (*reply)(Backend *b, uint64_t id, const void *data, size_t size);
        int (*reply_error)(Backend *b, uint64_t id, const char *name, const char *message);
        void (*free)(Backend *b);
} BackendOps;

struct Backend {
        const BackendOps *ops;
};

static inline void backend_free(Backend *b) {
        if (b)
                b->ops->free(b);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Backend, backend_free)

int backend_open(const BackendConfig *config, Backend **ret);

/* backend-dbus.c */
int dbus_backend_open(const char *address, Backend **ret);
int dbus_start_hub(const char *address);

/* backend-socket.c */
char *socket_default_path(void);
int socket_try_connect(const char *path, int *ret_fd);
int socket_connect_hub(const BackendConfig *config, int *ret_fd);
int socket_backend_new(int fd, const char *path, Backend **ret);

/* cli-stdio.c */
int cli_stdio(const BackendConfig *config);

/* Reserve waits at most this long per call (the D-Bus limit; the socket uses it too). */
#define RESERVE_MAX_WAIT_MS 60000u
/* The hub's longest call timeout, used for timeout_ms 0. */
#define CALL_MAX_TIMEOUT_MS 300000u
/* How much longer than the hub's own timeout a client waits for an answer. */
#define ANSWER_SLACK_MS 10000u

/* cli-common.c */
int cli_report_hub_error(const char *name, const char *message, const char *subject);
int cli_report_hub_error_on(const char *name, const char *message, SubjectKind kind, const char *subject);
int cli_report_call_error(const char *name, const char *message, const char *service);
void cli_print_unreachable_hint(void);
void json_append_string(GString *out, const char *s);
void json_append_member(GString *out, const char *name, const char *value);
void json_append_u64(GString *out, const char *name, uint64_t value);
void json_append_bool(GString *out, const char *name, gboolean value);
void json_append_base64(GString *out, const char *name, const void *data, size_t size);
void print_line(const char *line);
