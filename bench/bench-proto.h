/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-proto.h: the wire protocols the socket benchmarks speak, written
 * for the benchmarks only (no client library): the hub's 4-byte big-endian
 * framing with JSON-RPC 2.0 (also what bench-echo-server echoes), Redis's
 * RESP and NATS's text protocol. Plus a byte buffer, connect helpers and the
 * request/response load loop shared by bench-socket (call mode) and
 * bench-dbus (signals --producer socket).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <glib.h>

typedef enum Proto {
        PROTO_SB,       /* the hub: framed JSON-RPC */
        PROTO_ECHO,     /* bench-echo-server: the same frames, echoed */
        PROTO_REDIS,    /* RESP */
        PROTO_NATS,     /* NATS text protocol */
} Proto;

int proto_from_string(const char *s, Proto *ret);
const char *proto_to_string(Proto p);

/* The largest frame or message the benchmarks accept (the hub's default max-frame too). */
#define BENCH_MAX_MESSAGE (4u * 1024 * 1024)

/*
 * The next whole frame of the hub's framing (a 4-byte big-endian length,
 * then that many bytes) at the head of the @len bytes at @data.
 * Return: 1 with @ret_len set to its body length (the frame takes
 * 4 + *@ret_len bytes), 0 when it is not whole yet, -EBADMSG when its length
 * is over BENCH_MAX_MESSAGE.
 */
int frame_next(const char *data, size_t len, size_t *ret_len);

/* A growable byte buffer with a read offset. */
typedef struct Buf {
        char *data;
        size_t start, len, cap;
} Buf;

void buf_deinit(Buf *b);
void buf_reserve(Buf *b, size_t more);
void buf_append(Buf *b, const void *p, size_t n);
void buf_printf(Buf *b, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static inline size_t buf_pending(const Buf *b) {
        return b->len - b->start;
}
static inline const char *buf_head(const Buf *b) {
        return b->data + b->start;
}
void buf_consume(Buf *b, size_t n);

/* Reads what is there into @b: bytes read, 0 on EOF, -EAGAIN, or -errno. */
ssize_t buf_read_fd(Buf *b, int fd);
/* Writes what it can from @b: 0 (all or -EAGAIN left some), or -errno. */
int buf_write_fd(Buf *b, int fd);

uint64_t now_nsec(void);

/* Nonblocking, close-on-exec stream sockets. Return: fd or -errno. */
int connect_unix(const char *path);
int connect_tcp_loopback(unsigned port);

/* Appends one "publish" request on @topic carrying @payload. */
void proto_append_publish(Proto p, Buf *b, uint64_t id, const char *topic, const char *payload,
                          size_t payload_len);

/*
 * One whole reply or pushed message at the head of @b, parsed in place.
 * kind: 'r' response (to a request: JSON-RPC response, RESP integer/status,
 * NATS PONG), 'e' error response, 'm' a delivered message (payload set),
 * 's' subscribe confirmation (JSON-RPC response too: the caller decides),
 * 'p' server PING (NATS), 'i' something to ignore (INFO, +OK).
 */
typedef struct Reply {
        char kind;
        uint64_t id;            /* PROTO_SB/ECHO responses: the JSON-RPC id; RESP integers: the value;
                                 * 'g' (hub gap notice): how many messages it names */
        const char *payload;    /* 'm': the payload bytes */
        size_t payload_len;
        size_t size;            /* bytes it took in the buffer */
} Reply;

/* Return: 1 with @ret filled, 0 when more bytes are needed, -EBADMSG. */
int proto_parse(Proto p, const char *data, size_t len, Reply *ret);

/* Blocks (bounded) until @fd can be read or written, for setup steps. */
int wait_fd(int fd, short events, uint64_t deadline_ns);

/* ---- the request/response load loop -------------------------------------- */

typedef struct LoadResult {
        uint64_t completed;     /* replies, warm-up included */
        uint64_t errors;        /* error replies */
        uint64_t start_ns;      /* first recorded send */
        uint64_t last_ns;       /* last recorded reply */
        GArray *latencies;      /* uint64_t ns, calls sent after the warm-up */
} LoadResult;

void load_result_deinit(LoadResult *r);

/*
 * load_run() - keep @depth publish requests in flight on @fd (connected and,
 * for NATS, past CONNECT) for @warmup + @duration seconds, then drain.
 * Replies are taken in order (all four servers answer in order); each
 * request's latency runs from its write to its reply's arrival.
 *
 * Return: 0, -ETIMEDOUT when replies stop coming, -ECONNRESET on EOF,
 * -EBADMSG on a reply that does not parse, or -errno.
 */
int load_run(int fd, Proto p, unsigned depth, double warmup, double duration, const char *topic,
             const char *payload, LoadResult *ret);

/* NATS: CONNECT, then PING/PONG, bounded. Return: 0 or -errno. */
int nats_handshake(int fd, Buf *in, uint64_t deadline_ns);

int cmp_u64(const void *a, const void *b);
/* Nearest-rank percentile of sorted ns values, in µs. */
double percentile_us(const GArray *sorted, double p);
