/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * switchboard.h: libswitchboard, the C client library of the switchboard hub.
 *
 * One sb_client is one connection to the hub's Unix socket, speaking the
 * protocol of docs/protocol.md (4-byte big-endian length + JSON-RPC 2.0).
 * Every operation has a blocking form; events (messages, key changes, gap
 * notices, requests to a name served, traffic) reach callbacks from
 * sb_process(), which an event loop calls when sb_get_fd() is readable
 * (or writable, when sb_get_events() asks for it). <switchboard/sd-event.h>
 * and <switchboard/glib.h> attach a client to sd-event and to a GLib main
 * context in one call.
 *
 * Errors are negative errnos; when the hub answered with an error,
 * sb_error_name() and sb_error_message() say which (the hub's D-Bus error
 * name, e.g. "org.switchboard.Hub1.Error.NoServer", and its sentence).
 * The errno for each hub error is in docs/libswitchboard.md.
 *
 * Memory the library returns (payloads, values, JSON text) is the
 * caller's, to be freed with free(). Pointers in callbacks' arguments live
 * until the callback returns. A client is not thread-safe: use one client
 * per thread, or lock around every call.
 *
 * Build with: cc prog.c $(pkg-config --cflags --libs switchboard)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SB_VERSION_MAJOR 0
#define SB_VERSION_MINOR 1

typedef struct sb_client sb_client;

/* ---- connecting ------------------------------------------------------ */

/**
 * sb_connect() - connect to the hub's socket
 * @path: the socket, or NULL for $SWITCHBOARD_SOCKET, else
 *        $XDG_RUNTIME_DIR/switchboard/socket (sb_default_socket_path())
 *
 * Return: 0 and the client in @ret, -ENOENT or -ECONNREFUSED when no hub
 * listens there (start it with any D-Bus call, or `systemctl --user start
 * switchboard.socket`), -ENAMETOOLONG, or another -errno.
 */
int sb_connect(const char *path, sb_client **ret);

/**
 * sb_connect_fd() - a client on @fd, a connected stream socket the client
 * takes over (closed by sb_close(), also when this fails)
 */
int sb_connect_fd(int fd, sb_client **ret);

/**
 * sb_default_socket_path() - where sb_connect(NULL) connects; free() it.
 * Return: the path, or NULL when neither variable is set and the uid's
 * runtime directory /run/user/UID does not exist.
 */
char *sb_default_socket_path(void);

/**
 * sb_open_socket() - only the socket: a connected, non-blocking,
 * close-on-exec Unix stream socket to @path (NULL as for sb_connect()),
 * for programs that speak the protocol themselves.
 * Return: the fd, or a negative errno.
 */
int sb_open_socket(const char *path);

/**
 * sb_connect_tcp() - connect to the hub's TCP listener (off by default;
 * docs/tcp.md) at @address ("127.0.0.1:7420", "[::1]:7420", "host:7420")
 * and present @token (NULL: $SWITCHBOARD_TOKEN) with hub.auth
 *
 * Return: 0 and the client in @ret; -EACCES when the hub refused the token;
 * -ENOKEY when there is no token to give; -EINVAL for a bad address;
 * -ETIMEDOUT; or the -errno of connect().
 */
int sb_connect_tcp(const char *address, const char *token, sb_client **ret);

/**
 * sb_open_tcp() - only the socket: a TCP connection to @address (non-blocking,
 * close-on-exec, TCP_NODELAY), not yet authenticated
 * Return: the fd, or -EINVAL for a bad address, or the -errno of connect().
 */
int sb_open_tcp(const char *address);

/**
 * sb_authenticate() - present @token (NULL: $SWITCHBOARD_TOKEN) with
 * hub.auth, the first request a TCP connection must make
 * Return: 0; -EACCES (AccessDenied: sb_error_message() says why); -ENOKEY
 * when there is no token to give.
 */
int sb_authenticate(sb_client *c, const char *token);

/* Close the connection; the hub drops the client's subscriptions, watches,
 * served names and reservations. NULL is fine. */
void sb_close(sb_client *c);

/**
 * sb_set_timeout() - how long a blocking call waits for its answer
 * (default 25,000 ms; a call or reserve also waits for its own timeout)
 */
void sb_set_timeout(sb_client *c, int timeout_ms);

/**
 * sb_set_cancel_fd() - while @fd is readable, blocking calls return
 * -ECANCELED (a signalfd or an eventfd of the caller's); -1 for none
 */
void sb_set_cancel_fd(sb_client *c, int fd);

/* ---- errors ----------------------------------------------------------- */

/* The D-Bus error name of the hub's last error answer on this client
 * ("org.switchboard.Hub1.Error.NotFound", or a server's own error name),
 * or NULL when the last failure was local or a JSON-RPC error of its own
 * (sb_error_code() -32602 and the like). */
const char *sb_error_name(const sb_client *c);
/* The sentence that goes with it, or the local reason ("the hub closed the
 * connection"); never NULL. */
const char *sb_error_message(const sb_client *c);
/* The JSON-RPC code of the hub's last error answer, or 0 when the last
 * failure was local (the connection, a timeout, a bad argument). */
int sb_error_code(const sb_client *c);

/* ---- events ----------------------------------------------------------- */

typedef enum sb_event_kind {
        SB_EVENT_MESSAGE = 1,   /* a subscription's message: topic, data, seq, retained */
        SB_EVENT_KEY,           /* a watch's key change: key in topic, value in data, revision in seq */
        SB_EVENT_GAP,           /* id missed first_seq..last_seq (its output buffer was full) */
        SB_EVENT_REQUEST,       /* a call to a name served: call id in call, name in topic */
        SB_EVENT_TRAFFIC,       /* a monitor's queue or call event: see docs/protocol.md */
} sb_event_kind;

/* Who caused an event, as the kernel or the bus said it (never the client's word). */
typedef struct sb_sender {
        const char *transport;  /* "unix", "dbus", "fifo", "stdio", "tcp", "hub", ... */
        uint64_t client;        /* the hub's client id, 0 when not said */
        int64_t uid, pid;       /* -1 when not known */
        const char *name;       /* D-Bus unique name, or NULL */
        const char *address;    /* TCP peer address, or NULL */
} sb_sender;

typedef struct sb_event {
        sb_event_kind kind;
        uint64_t id;            /* the subscription, watch or monitor; 0 for a request */
        const char *topic;      /* topic, key, served name, queue; NULL for a gap */
        const void *data;       /* payload or value (NUL-terminated; may hold NULs when binary) */
        size_t size;
        bool binary;            /* the hub sent it base64: not UTF-8 text */
        uint64_t seq;           /* message seq, key revision, traffic seq */
        bool retained;          /* MESSAGE: a retained value, delivered on subscribe */
        bool deleted;           /* KEY: the key was deleted */
        uint64_t first_seq, last_seq;   /* GAP */
        uint64_t call;          /* REQUEST: answer with sb_reply(call); TRAFFIC: the job or call id */
        const char *event;      /* TRAFFIC: "push", "reserve", "call", "timeout", ... */
        uint32_t attempts;      /* TRAFFIC: a job's reservations so far, 0 when not said */
        const char *error, *message;    /* TRAFFIC: the error's short name and sentence, or NULL */
        const sb_sender *sender;        /* NULL when not said (gaps) */
} sb_event;

typedef void (*sb_event_fn)(sb_client *c, const sb_event *e, void *userdata);

/**
 * sb_set_event_handler() - where events go that no callback of
 * sb_subscribe(), sb_watch(), sb_serve() or sb_monitor() claims (those of
 * subscriptions made with sb_request(), say); NULL drops them
 */
void sb_set_event_handler(sb_client *c, sb_event_fn fn, void *userdata);

/* ---- the event loop ----------------------------------------------------- */

/* The socket, to poll for readability (and writability when asked). */
int sb_get_fd(const sb_client *c);

/* sb_get_events(): frames already read (by a blocking call) wait for
 * sb_process(): call it without waiting for the socket. */
#define SB_PENDING 0x10000

/* POLLIN, plus POLLOUT while output waits to be written, plus SB_PENDING. */
int sb_get_events(const sb_client *c);

/**
 * sb_process() - write what is pending, read what is there and dispatch
 * events and answers to their callbacks; never blocks
 *
 * Callbacks may make blocking calls and queue requests, but not call
 * sb_process() or sb_wait() (-EBUSY) nor sb_close() the client.
 *
 * Return: the number of events and answers dispatched (0: none), or
 * -ECONNRESET once the hub has closed the connection (every answer still
 * awaited then gets -ECONNRESET first), -EBADMSG when the hub sent what is
 * not JSON-RPC (the connection is then closed).
 */
int sb_process(sb_client *c);

/**
 * sb_wait() - wait up to @timeout_ms (-1: forever) for the socket, then
 * sb_process()
 * Return: as sb_process(), 0 when nothing came; -ECANCELED by the cancel fd.
 */
int sb_wait(sb_client *c, int timeout_ms);

/**
 * sb_flush() - write all pending output (pipelined publishes), waiting for
 * the socket as long as sb_set_timeout() allows
 * Return: 0, -ETIMEDOUT, -ECANCELED, -ECONNRESET or -EPIPE.
 */
int sb_flush(sb_client *c);

/**
 * sb_set_io_hook() - called with sb_get_events()'s new value whenever the
 * events the client needs change (output queued or written), so a loop
 * integration can update its watch; <switchboard/sd-event.h> and
 * <switchboard/glib.h> use it
 */
void sb_set_io_hook(sb_client *c, void (*fn)(sb_client *c, int events, void *userdata), void *userdata);

/* ---- any method ------------------------------------------------------- */

/**
 * sb_request() - call JSON-RPC @method with @params_json (an object's
 * text, or NULL for none) and wait for its answer
 * @ret_result_json: the result's JSON text (free() it); NULL to ignore
 *
 * Events that arrive meanwhile are kept and dispatched by the next
 * sb_process(), never inside a blocking call.
 * Return: 0, a negative errno for the hub's error (see sb_error_name()),
 * -ETIMEDOUT, -ECANCELED, -ECONNRESET.
 */
int sb_request(sb_client *c, const char *method, const char *params_json, char **ret_result_json);

typedef void (*sb_reply_fn)(sb_client *c, int error, const char *result_json, size_t size, void *userdata);

/**
 * sb_request_async() - send @method and return at once; @fn (may be NULL)
 * gets the answer from a later sb_process(): @error 0 and the result's
 * JSON text, or a negative errno (the hub's error is in sb_error_name()
 * during the callback). The request is written by sb_process() or
 * sb_flush(), or at once when the output buffer is full.
 * Return: 0 or a negative errno (-ENOTCONN after the hub closed).
 */
int sb_request_async(sb_client *c, const char *method, const char *params_json, sb_reply_fn fn, void *userdata);

/* ---- topics ------------------------------------------------------------ */

enum {
        SB_RETAIN = 1 << 0,       /* publish: keep as the topic's retained value (durable) */
        SB_NO_REPLY = 1 << 1,     /* publish: pipeline it, no answer (errors are not reported) */
        SB_WITH_RETAINED = 1 << 2,/* subscribe: first the retained values of matching topics */
        SB_COMPACT = 1 << 3,      /* subscribe: messages without their sender (e->sender NULL): fewer bytes */
};

/**
 * sb_publish() - publish @size bytes at @data on @topic
 * @flags: SB_RETAIN, SB_NO_REPLY
 * @ret_seq: the message's sequence number (not with SB_NO_REPLY); may be NULL
 *
 * With SB_NO_REPLY the message is queued and written with others in one
 * write once 64 KiB are queued, or by sb_process()/sb_flush()/the next
 * blocking call: at most one system call per message, usually far fewer.
 * Text (UTF-8) travels as a JSON string, anything else as base64.
 * Return: 0, -EINVAL (InvalidTopic), -E2BIG (LimitExceeded), ...
 */
int sb_publish(sb_client *c, const char *topic, const void *data, size_t size, unsigned flags, uint64_t *ret_seq);

/**
 * sb_subscribe() - get the messages of topics matching @pattern ('*' one
 * token, '>' the rest) as SB_EVENT_MESSAGE and SB_EVENT_GAP events to @fn
 * @flags: SB_WITH_RETAINED, SB_COMPACT
 * Return: 0 and the subscription id in @ret_id (may be NULL), or -errno.
 */
int sb_subscribe(sb_client *c, const char *pattern, unsigned flags, sb_event_fn fn, void *userdata,
                 uint64_t *ret_id);
int sb_unsubscribe(sb_client *c, uint64_t id);

/* ---- the key-value store -------------------------------------------------- */

/**
 * sb_get() - the value of @key: @ret_data (NUL-terminated, free() it),
 * @ret_size and @ret_revision (either may be NULL)
 * Return: 0, -ENOENT (NotFound), -EINVAL (InvalidKey), ...
 */
int sb_get(sb_client *c, const char *key, void **ret_data, size_t *ret_size, uint64_t *ret_revision);
int sb_set(sb_client *c, const char *key, const void *data, size_t size, uint64_t *ret_revision);
/* Set only if the key's revision is @expected_revision (0: the key must
 * not exist). Return: 0, -ESTALE (Conflict), ... */
int sb_set_if(sb_client *c, const char *key, const void *data, size_t size, uint64_t expected_revision,
              uint64_t *ret_revision);
/* Return: 1 when the key existed, 0 when not, or -errno. */
int sb_delete(sb_client *c, const char *key);
/* Key changes under @prefix ("" for all) as SB_EVENT_KEY and SB_EVENT_GAP events. */
int sb_watch(sb_client *c, const char *prefix, sb_event_fn fn, void *userdata, uint64_t *ret_id);
int sb_unwatch(sb_client *c, uint64_t id);

/* ---- queues -------------------------------------------------------------- */

typedef struct sb_job {
        uint64_t id;
        char *queue;            /* free()d by sb_job_clear() */
        void *data;             /* NUL-terminated */
        size_t size;
        uint32_t attempts;      /* reservations so far, this one included */
} sb_job;

/* Push a job, ready after @delay_ms. Return: 0 and its id in @ret_id (may be NULL), or -errno. */
int sb_push(sb_client *c, const char *queue, const void *data, size_t size, uint64_t delay_ms, uint64_t *ret_id);
/**
 * sb_reserve() - take the next ready job of @queue for @visibility_ms
 * (0: 30 s), waiting up to @timeout_ms (0: do not wait)
 * Return: 0 and the job in @ret (sb_job_clear() it), -EAGAIN (NoJob), -errno.
 */
int sb_reserve(sb_client *c, const char *queue, uint64_t timeout_ms, uint64_t visibility_ms, sb_job *ret);
int sb_ack(sb_client *c, uint64_t job);
/**
 * sb_ack_next() - sb_ack() @job, then sb_reserve() from @queue, in one
 * round trip: a worker's loop
 * Return: as sb_reserve(); the ack stands after -EAGAIN (NoJob) too;
 * -ENOENT: @job is not this client's, nothing acked, nothing reserved.
 */
int sb_ack_next(sb_client *c, uint64_t job, const char *queue, uint64_t timeout_ms, uint64_t visibility_ms,
                sb_job *ret);
int sb_nack(sb_client *c, uint64_t job, uint64_t delay_ms);
void sb_job_clear(sb_job *job);

/* ---- request/reply ----------------------------------------------------------- */

/**
 * sb_call() - call the served @name with @data, wait up to @timeout_ms
 * (0: the hub's 300 s) for the reply
 * @ret_data: the reply (NUL-terminated; free() it), @ret_size; may be NULL
 * Return: 0, -ENXIO (NoServer), -ETIMEDOUT (Timeout), -ECONNABORTED
 * (ServerGone), -EREMOTEIO (the server's error: sb_error_name()), -errno.
 */
int sb_call(sb_client *c, const char *name, const void *data, size_t size, uint64_t timeout_ms, void **ret_data,
            size_t *ret_size);
typedef void (*sb_call_fn)(sb_client *c, int error, const void *data, size_t size, void *userdata);

/**
 * sb_call_async() - sb_call() without waiting: @fn (may be NULL) gets the
 * reply from a later sb_process(): @error 0 and the reply's bytes, decoded
 * (valid until @fn returns), or a negative errno as sb_call() returns it
 * (sb_error_name() during the callback; -ECONNRESET when the hub closed)
 * Return: 0 or a negative errno (-EINVAL, -ENOTCONN after the hub closed).
 */
int sb_call_async(sb_client *c, const char *name, const void *data, size_t size, uint64_t timeout_ms,
                  sb_call_fn fn, void *userdata);
/* Serve @name: calls arrive as SB_EVENT_REQUEST events; answer each with sb_reply(). */
int sb_serve(sb_client *c, const char *name, sb_event_fn fn, void *userdata);
int sb_unserve(sb_client *c, const char *name);
/* Answer call @call; pipelined like SB_NO_REPLY (errors such as a call that timed out are not reported). */
int sb_reply(sb_client *c, uint64_t call, const void *data, size_t size);
/* Answer call @call with an error: @name a D-Bus error name or NULL, @message a sentence. */
int sb_reply_error(sb_client *c, uint64_t call, const char *name, const char *message);

/* ---- the hub -------------------------------------------------------------- */

/* hub.info as JSON text (free() it): version, start time, clients, counters, limits. */
int sb_info(sb_client *c, char **ret_json);
/* Every queue and call event of any client as SB_EVENT_TRAFFIC events. */
int sb_monitor(sb_client *c, sb_event_fn fn, void *userdata, uint64_t *ret_id);
int sb_unmonitor(sb_client *c, uint64_t id);

/* ---- shared-memory rings (docs/shm.md) ------------------------------------ */

/*
 * A ring is a memfd the hub creates and passes over the socket, mapped by
 * both sides: records go through shared memory, with a futex wake-up only
 * when a side sleeps. A publish ring's messages reach every subscriber of
 * its topic on every transport; a subscribe ring gets every matching
 * message from every transport, with gap records when it falls behind.
 * The client that asked stays the ring's control connection: sb_close()
 * unmaps its rings (they then return -EPIPE; sb_ring_close() frees them).
 * A ring is used from one thread at a time.
 */
typedef struct sb_ring sb_ring;

enum {
        SB_RING_DIRECT = 1 << 8,        /* subscribe: ask for the publisher's ring itself (1->1, docs/shm.md) */
        SB_RING_ZERO_COPY = 1 << 9,     /* subscribe: hub-relayed, but the publisher ring's payloads are
                                         * read where they lie, not copied (docs/shm.md) */
};

/**
 * sb_ring_publish() - a ring to publish on @topic
 * @size: its data size, a power of two within the hub's [shm] limits; 0: the hub's default
 * Return: 0 and the ring in @ret, -EINVAL, -E2BIG (LimitExceeded), -EOPNOTSUPP
 * (a hub without shm), -EPROTO (what came is not a ring), or -errno.
 */
int sb_ring_publish(sb_client *c, const char *topic, size_t size, sb_ring **ret);

/**
 * sb_ring_subscribe() - a ring that receives the messages of topics matching @pattern
 * @flags: SB_WITH_RETAINED, SB_RING_DIRECT, SB_RING_ZERO_COPY (@pattern exactly the topic of
 *         a publish ring: its messages come with the hub's seqs, their data read in the
 *         publisher's ring, which waits for this reader's sb_ring_release())
 */
int sb_ring_subscribe(sb_client *c, const char *pattern, size_t size, unsigned flags, sb_ring **ret);

/**
 * sb_ring_put() - write one message into a publish ring, not yet visible
 * to the hub; sb_ring_flush() makes every put visible (and wakes the hub
 * if it sleeps): put many, flush once.
 * Return: 0, -ENOBUFS (full now: sb_ring_wait_writable()), -EMSGSIZE (over
 * half the ring), -EPIPE (the hub closed the ring), -EBADMSG.
 */
int sb_ring_put(sb_ring *r, const void *data, size_t size);
void sb_ring_flush(sb_ring *r);
/**
 * sb_ring_reserve() - as sb_ring_put(), but without a copy: *@ret points at
 * @size bytes in the ring for the caller to write the message into before
 * sb_ring_flush() (which makes it visible); errors as sb_ring_put()
 */
int sb_ring_reserve(sb_ring *r, size_t size, void **ret);
/* sb_ring_put() on @topic (validated by the hub like any publish; a record it
 * refuses is skipped) rather than the ring's own; NULL: the ring's own. */
int sb_ring_put_topic(sb_ring *r, const char *topic, const void *data, size_t size);
/* sb_ring_put() then sb_ring_flush(). */
int sb_ring_write(sb_ring *r, const void *data, size_t size);
/* Wait until the hub has taken every message flushed into a publish ring (so that what
 * follows on the socket comes after them). Return: 0, -ETIMEDOUT, -EINTR, -EPIPE. */
int sb_ring_wait_drained(sb_ring *r, int timeout_ms);
/* Wait until a message of @size bytes fits (spinning first, then on a futex). */
int sb_ring_wait_writable(sb_ring *r, size_t size, int timeout_ms);

typedef struct sb_ring_msg {
        bool gap;                       /* true: messages first_seq..last_seq were lost (the ring was full) */
        uint64_t seq;                   /* the hub's sequence number */
        uint64_t first_seq, last_seq;   /* a gap */
        const char *topic;              /* not NUL-terminated */
        size_t topic_len;
        const void *data;               /* valid until sb_ring_release(); the peer can still write
                                         * there: copy before you check what it holds. With
                                         * SB_RING_ZERO_COPY, in the publisher's ring (read-only) */
        size_t size;
        bool retained;
} sb_ring_msg;

/**
 * sb_ring_read() - the next message of a subscribe ring
 * Return: 0; -EAGAIN when there is none (sb_ring_wait()); -EPIPE when the
 * hub closed the ring; -EBADMSG when the ring is corrupt.
 */
int sb_ring_read(sb_ring *r, sb_ring_msg *ret);
/* Give the space of the messages read back to the hub. */
void sb_ring_release(sb_ring *r);
/* Wait until a message is there: spin, then sleep on a futex. Return: 0, -ETIMEDOUT, -EPIPE, -EINTR. */
int sb_ring_wait(sb_ring *r, int timeout_ms);
/**
 * sb_ring_sleep() - for a thread other than the reader's (one that wakes an
 * event loop, say): sleep on the futex until the subscribe ring holds
 * records not yet given back with sb_ring_release(), without spinning and
 * without touching the reader's state. The reader then reads until -EAGAIN
 * and releases before this is called again, or it returns at once.
 * Return: 0, -ETIMEDOUT, -EINTR, -EPIPE (closed, or sb_close()d: then do not call it again).
 */
int sb_ring_sleep(sb_ring *r, int timeout_ms);
/**
 * sb_ring_event_fd() - for a reader in an event loop: the subscribe ring's
 * eventfd, which the hub writes on its next record once sb_ring_arm() said
 * the reader sleeps. Watch it for readability; when it is readable, read its
 * 8 bytes and read the ring until -EAGAIN, sb_ring_release(), then
 * sb_ring_arm() again. No thread, no futex: one wake-up per sleep.
 * Return: the fd (owned by the ring), or -1 (a publish ring; an older hub).
 */
int sb_ring_event_fd(const sb_ring *r);
/**
 * sb_ring_arm() - the reader found the ring empty (and released it) and
 * goes back to its loop: tell the hub to write sb_ring_event_fd() on the
 * next record, then look once more.
 * Return: 1, sleep (the fd becomes readable on the next record); 0, a
 * record came meanwhile: read on; -EPIPE (closed, or no eventfd).
 */
int sb_ring_arm(sb_ring *r);
/* How many times a wait looks again before it sleeps (default 1000; more: less latency, more CPU). */
void sb_ring_set_spin(sb_ring *r, unsigned spin);
/* The hub's id of the ring, and its data size. */
uint64_t sb_ring_id(const sb_ring *r);
size_t sb_ring_size(const sb_ring *r);
/* Tell the hub (shm.close), then unmap; NULL is fine. Return: 0 or the error of shm.close. */
int sb_ring_close(sb_ring *r);

#ifdef __cplusplus
}
#endif
