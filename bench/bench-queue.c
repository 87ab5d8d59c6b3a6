/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-queue: the client side of bench/run-queue. It drives N worker
 * connections from one thread (nonblocking sockets and poll()), each with
 * exactly one request in flight, against the hub's queues (framed JSON-RPC
 * push / reserve / ack), beanstalkd (text protocol: put / reserve-with-timeout
 * / delete) or Redis (RESP: LPUSH / BRPOP, nothing to acknowledge), all over
 * Unix sockets. Modes:
 *
 *   push       every worker pushes a job, waits for the reply, pushes the
 *              next; for a duration after a warm-up.
 *   roundtrip  every worker pushes a job, then reserves one, then acks it
 *              (Redis: LPUSH, then BRPOP), sequentially, and starts again.
 *              With --ack-pipelined (hub only) the ack is a JSON-RPC
 *              notification written with the next push, not awaited (as
 *              NATS JetStream and RabbitMQ clients ack): two waits per round
 *              trip, like Redis's LPUSH + BRPOP, where the hub still
 *              deletes the job only when the ack arrives. With --ack-next
 *              (hub only) the reserve is an ack_next of the job before (NATS
 *              JetStream's AckNext): the ack and the next reservation in one
 *              request, two waits per round trip, each awaited.
 *
 * Each worker pushes before it reserves, so a job is always ready when a
 * reserve arrives; the reserve still waits (up to 5 s) rather than fail.
 * After a push run the queue is emptied outside the measurement (hub
 * "purge", Redis DEL; beanstalkd has no purge, so the runner gives every
 * run a tube of its own).
 *
 * One line of key=value pairs on stdout, e.g.
 *
 *   mode=roundtrip proto=sb clients=16 ops=12345 seconds=1.500 rate=8230.0
 *       rt_p50_us=... rt_p99_us=... push_p50_us=... push_p99_us=...
 *       reserve_p50_us=... reserve_p99_us=... ack_p50_us=... ack_p99_us=...
 *       errors=0
 *
 * Latencies run from a request's write to its reply's arrival; a round
 * trip from its push's write to its ack's reply (Redis: BRPOP's reply).
 * The rate counts the operations (push mode) or round trips started after
 * the warm-up, over first such start -> last reply.
 *
 * Exit status: 0 on success, 1 on failure or error replies.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-proto.h"

#define DEFAULT_QUEUE "bench.q"
#define DEFAULT_PAYLOAD "t=21.50,rh=40.25"
#define SETUP_TIMEOUT_NS (10 * UINT64_C(1000000000))
#define REPLY_TIMEOUT_NS (10 * UINT64_C(1000000000))
#define MAX_CLIENTS 256
#define MAX_LINE 1024

typedef enum QProto {
        QPROTO_SB,
        QPROTO_BEANSTALK,
        QPROTO_REDIS,
} QProto;

static const char *const qproto_names[] = {
        [QPROTO_SB] = "sb",
        [QPROTO_BEANSTALK] = "beanstalk",
        [QPROTO_REDIS] = "redis",
};

typedef enum Op {
        OP_PUSH,
        OP_RESERVE,
        OP_ACK,
        OP_RT,          /* a whole round trip, for the latency arrays */
        _OP_MAX,
        OP_NONE = -1,
} Op;

static const char *const op_names[_OP_MAX] = { "push", "reserve", "ack", "rt" };

typedef struct Options {
        QProto proto;
        const char *socket;
        const char *queue;
        const char *payload;
        unsigned clients;
        double duration;
        double warmup;
        bool roundtrip;
        bool ack_pipelined;     /* sb: the ack as a notification, not awaited */
        bool ack_next;          /* sb: the reserve acks the job before (ack_next) */
} Options;

typedef struct Worker {
        int fd;
        Buf in, out;
        Op op;                  /* in flight, or OP_NONE */
        uint64_t op_sent;       /* its write */
        uint64_t rt_sent;       /* the write of its round trip's push */
        uint64_t req_id;        /* hub: the JSON-RPC id in flight */
        uint64_t job;           /* hub, beanstalkd: the job reserved */
} Worker;

/* One parsed reply: 'r' success (job set for a reservation), 'e' error, 't' nothing in time. */
typedef struct QReply {
        char kind;
        uint64_t id;            /* hub: the response's id */
        uint64_t job;           /* reserve: the job's id (hub, beanstalkd) */
        size_t size;
        const char *line;       /* beanstalkd: the reply line, for error messages */
        size_t line_len;
} QReply;

static void append_frame_printf(Buf *b, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void append_frame_printf(Buf *b, const char *fmt, ...) {
        g_autofree char *json = NULL;
        va_list ap;
        uint32_t be;
        size_t n;

        va_start(ap, fmt);
        json = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        n = strlen(json);
        be = GUINT32_TO_BE((uint32_t) n);
        buf_append(b, &be, 4);
        buf_append(b, json, n);
}

static void resp_append(Buf *b, unsigned argc, const char *const *argv) {
        buf_printf(b, "*%u\r\n", argc);
        for (unsigned i = 0; i < argc; i++)
                buf_printf(b, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
}

static void append_request(const Options *o, Worker *w, Op op, uint64_t id) {
        switch (o->proto) {
        case QPROTO_SB:
                w->req_id = id;
                if (op == OP_PUSH)
                        append_frame_printf(&w->out, "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"method\":\"push\","
                                            "\"params\":{\"queue\":\"%s\",\"payload\":\"%s\"}}",
                                            id, o->queue, o->payload);
                else if (op == OP_RESERVE && o->ack_next && w->job != 0)
                        append_frame_printf(&w->out, "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"method\":\"ack_next\","
                                            "\"params\":{\"ack\":%" PRIu64 ",\"queue\":\"%s\",\"timeout_ms\":5000}}",
                                            id, w->job, o->queue);
                else if (op == OP_RESERVE)
                        append_frame_printf(&w->out, "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"method\":\"reserve\","
                                            "\"params\":{\"queue\":\"%s\",\"timeout_ms\":5000}}",
                                            id, o->queue);
                else
                        append_frame_printf(&w->out, "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"method\":\"ack\","
                                            "\"params\":{\"id\":%" PRIu64 "}}", id, w->job);
                break;
        case QPROTO_BEANSTALK:
                /* Priority 1024 and TTR 30 s, the defaults of most clients (and the hub's visibility). */
                if (op == OP_PUSH)
                        buf_printf(&w->out, "put 1024 0 30 %zu\r\n%s\r\n", strlen(o->payload), o->payload);
                else if (op == OP_RESERVE)
                        buf_printf(&w->out, "reserve-with-timeout 5\r\n");
                else
                        buf_printf(&w->out, "delete %" PRIu64 "\r\n", w->job);
                break;
        case QPROTO_REDIS:
                if (op == OP_PUSH)
                        resp_append(&w->out, 3, (const char *const[]) { "LPUSH", o->queue, o->payload });
                else if (op == OP_RESERVE)
                        resp_append(&w->out, 3, (const char *const[]) { "BRPOP", o->queue, "5" });
                else
                        g_assert_not_reached();
                break;
        }
}

static int parse_beanstalk(const char *data, size_t len, QReply *ret) {
        const char *eol = memmem(data, len, "\r\n", 2);
        size_t line;

        if (!eol)
                return len > MAX_LINE ? -EBADMSG : 0;
        line = (size_t) (eol - data);
        *ret = (QReply) { .kind = 'r', .size = line + 2, .line = data, .line_len = line };
        if (line > 9 && memcmp(data, "RESERVED ", 9) == 0) {
                /* RESERVED <id> <bytes>\r\n<data>\r\n */
                char *end;
                uint64_t bytes;

                ret->job = g_ascii_strtoull(data + 9, &end, 10);
                bytes = g_ascii_strtoull(end, NULL, 10);
                if (bytes > BENCH_MAX_MESSAGE)
                        return -EBADMSG;
                if (line + 2 + bytes + 2 > len)
                        return 0;
                ret->size = line + 2 + bytes + 2;
        } else if (line == 9 && memcmp(data, "TIMED_OUT", 9) == 0)
                ret->kind = 't';
        else if (!(line >= 8 && memcmp(data, "INSERTED", 8) == 0) &&
                 !(line == 7 && memcmp(data, "DELETED", 7) == 0) &&
                 !(line >= 5 && memcmp(data, "USING", 5) == 0) &&
                 !(line >= 8 && memcmp(data, "WATCHING", 8) == 0))
                ret->kind = 'e';        /* BURIED, JOB_TOO_BIG, NOT_FOUND, OUT_OF_MEMORY, ... */
        return 1;
}

static int parse_reply(const Options *o, const char *data, size_t len, QReply *ret) {
        Reply rep;
        int r;

        switch (o->proto) {
        case QPROTO_SB:
                r = proto_parse(PROTO_SB, data, len, &rep);
                if (r <= 0)
                        return r;
                *ret = (QReply) { .kind = rep.kind == 'e' ? 'e' : 'r', .id = rep.id, .size = rep.size,
                                  .line = data + 4, .line_len = rep.size - 4 };
                if (rep.kind == 'e' && memmem(data + 4, rep.size - 4, "\"code\":-32008", 13))
                        ret->kind = 't';        /* NoJob */
                else if (rep.kind == 'r') {
                        /* The job's "id" member, wherever the result object has it (key order is free). */
                        const char *end = data + rep.size;
                        const char *p = memmem(data + 4, rep.size - 4, "\"result\":{", 10);

                        if (p)
                                p = memmem(p, (size_t) (end - p), "\"id\":", 5);
                        if (p)
                                ret->job = g_ascii_strtoull(p + 5, NULL, 10);
                } else if (rep.kind != 'e')
                        return -EBADMSG;        /* a notification: none were asked for */
                return 1;
        case QPROTO_BEANSTALK:
                return parse_beanstalk(data, len, ret);
        case QPROTO_REDIS:
                if (len >= 5 && memcmp(data, "*-1\r\n", 5) == 0) {
                        *ret = (QReply) { .kind = 't', .size = 5 };     /* BRPOP timed out */
                        return 1;
                }
                r = proto_parse(PROTO_REDIS, data, len, &rep);
                if (r <= 0)
                        return r;
                /* ':' (LPUSH's length) and '*' (BRPOP's key and element) are answers. */
                *ret = (QReply) { .kind = rep.kind == 'e' ? 'e' : 'r', .size = rep.size, .line = data,
                                  .line_len = MIN(rep.size, (size_t) 200) };
                return 1;
        }
        return -EINVAL;
}

/* Sends @req on @w and waits (bounded) for @n replies, all of them successes. */
static int setup_exchange(const Options *o, Worker *w, unsigned n) {
        uint64_t deadline = now_nsec() + SETUP_TIMEOUT_NS;
        int r;

        while (n > 0) {
                QReply rep;
                ssize_t got;

                r = buf_write_fd(&w->out, w->fd);
                if (r < 0)
                        return r;
                while (n > 0 && (r = parse_reply(o, buf_head(&w->in), buf_pending(&w->in), &rep)) > 0) {
                        buf_consume(&w->in, rep.size);
                        if (rep.kind != 'r') {
                                fprintf(stderr, "bench-queue: setup: %.*s\n", (int) rep.line_len,
                                        rep.line ?: "");
                                return -EPROTO;
                        }
                        n--;
                }
                if (r < 0)
                        return r;
                if (n == 0)
                        break;
                r = wait_fd(w->fd, buf_pending(&w->out) > 0 ? POLLIN | POLLOUT : POLLIN, deadline);
                if (r < 0)
                        return r;
                got = buf_read_fd(&w->in, w->fd);
                if (got == 0)
                        return -ECONNRESET;
                if (got < 0 && got != -EAGAIN)
                        return (int) got;
        }
        return buf_write_fd(&w->out, w->fd);
}

/* After a push run: empty the queue so the next run starts alike. */
static int purge(const Options *o, Worker *w) {
        switch (o->proto) {
        case QPROTO_SB:
                append_frame_printf(&w->out, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"purge\","
                                    "\"params\":{\"queue\":\"%s\"}}", o->queue);
                return setup_exchange(o, w, 1);
        case QPROTO_REDIS:
                resp_append(&w->out, 2, (const char *const[]) { "DEL", o->queue });
                return setup_exchange(o, w, 1);
        case QPROTO_BEANSTALK:
                return 0;       /* no purge; every run has a tube of its own */
        }
        return -EINVAL;
}

static int run(const Options *o) {
        g_autofree Worker *workers = g_new0(Worker, o->clients);
        g_autofree struct pollfd *pfds = g_new0(struct pollfd, o->clients);
        GArray *lat[_OP_MAX];
        uint64_t next_id = 1, now = now_nsec(), start_ns = 0, last_ns = 0, last_progress = now;
        uint64_t warm_at, deadline, recorded = 0, completed = 0, errors = 0, timeouts = 0;
        unsigned busy = 0;
        int r = 0;

        for (size_t i = 0; i < _OP_MAX; i++)
                lat[i] = g_array_sized_new(FALSE, FALSE, sizeof(uint64_t), 1 << 16);
        for (unsigned i = 0; i < o->clients; i++)
                workers[i] = (Worker) { .fd = -1, .op = OP_NONE };

        for (unsigned i = 0; i < o->clients; i++) {
                Worker *w = &workers[i];

                w->fd = connect_unix(o->socket);
                if (w->fd < 0) {
                        r = w->fd;
                        fprintf(stderr, "bench-queue: connect %s: %s\n", o->socket, strerror(-r));
                        goto finish;
                }
                if (o->proto == QPROTO_BEANSTALK) {
                        buf_printf(&w->out, "use %s\r\nwatch %s\r\nignore default\r\n", o->queue, o->queue);
                        r = setup_exchange(o, w, 3);
                        if (r < 0) {
                                fprintf(stderr, "bench-queue: beanstalkd setup: %s\n", strerror(-r));
                                goto finish;
                        }
                }
        }

        now = now_nsec();
        warm_at = now + (uint64_t) (o->warmup * 1e9);
        deadline = warm_at + (uint64_t) (o->duration * 1e9);
        last_progress = now;
        for (;;) {
                int n;

                now = now_nsec();
                /* Idle workers start their next push (or round trip) until the deadline. */
                for (unsigned i = 0; i < o->clients; i++) {
                        Worker *w = &workers[i];

                        if (w->op != OP_NONE || now >= deadline)
                                continue;
                        append_request(o, w, OP_PUSH, next_id++);
                        w->op = OP_PUSH;
                        w->op_sent = w->rt_sent = now;
                        if (start_ns == 0 && now >= warm_at)
                                start_ns = now;
                        busy++;
                }
                for (unsigned i = 0; i < o->clients; i++) {
                        r = buf_write_fd(&workers[i].out, workers[i].fd);
                        if (r < 0)
                                goto finish;
                }
                if (busy == 0)
                        break;
                if (now - last_progress > REPLY_TIMEOUT_NS) {
                        fprintf(stderr, "bench-queue: no reply for 10 s\n");
                        r = -ETIMEDOUT;
                        goto finish;
                }

                for (unsigned i = 0; i < o->clients; i++) {
                        pfds[i] = (struct pollfd) { .fd = workers[i].fd, .events = POLLIN };
                        if (buf_pending(&workers[i].out) > 0)
                                pfds[i].events |= POLLOUT;
                }
                n = poll(pfds, o->clients, 1000);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto finish;
                }
                if (n == 0)
                        continue;
                for (unsigned i = 0; i < o->clients; i++) {
                        Worker *w = &workers[i];
                        QReply rep;
                        ssize_t got;

                        if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        got = buf_read_fd(&w->in, w->fd);
                        if (got == -EAGAIN)
                                continue;
                        if (got <= 0) {
                                r = got == 0 ? -ECONNRESET : (int) got;
                                fprintf(stderr, "bench-queue: worker %u: %s\n", i, strerror(-r));
                                goto finish;
                        }
                        now = now_nsec();
                        while ((r = parse_reply(o, buf_head(&w->in), buf_pending(&w->in), &rep)) > 0) {
                                bool in_window = start_ns != 0 && w->op_sent >= start_ns;
                                Op done = w->op, next = OP_NONE;

                                buf_consume(&w->in, rep.size);
                                if (done == OP_NONE || (o->proto == QPROTO_SB && rep.id != w->req_id)) {
                                        fprintf(stderr, "bench-queue: worker %u: an unexpected reply\n", i);
                                        r = -EBADMSG;
                                        goto finish;
                                }
                                last_progress = now;
                                completed++;
                                if (rep.kind == 't' && done == OP_RESERVE) {
                                        /* Nothing in 5 s: cannot happen (pushes come first); count it, go on. */
                                        timeouts++;
                                        next = OP_RESERVE;
                                } else if (rep.kind != 'r') {
                                        if (errors++ == 0)
                                                fprintf(stderr, "bench-queue: %s: %s error: %.*s\n",
                                                        qproto_names[o->proto], op_names[done],
                                                        (int) rep.line_len, rep.line ?: "");
                                        next = OP_NONE;
                                } else {
                                        if (in_window) {
                                                uint64_t l = now - w->op_sent;

                                                g_array_append_val(lat[done], l);
                                        }
                                        if (done == OP_RESERVE)
                                                w->job = rep.job;
                                        if (!o->roundtrip)
                                                next = OP_NONE;
                                        else if (done == OP_PUSH)
                                                next = OP_RESERVE;
                                        else if (done == OP_RESERVE && o->proto == QPROTO_SB && o->ack_pipelined)
                                                /* Goes out with the next push; nothing to wait for. */
                                                append_frame_printf(&w->out, "{\"jsonrpc\":\"2.0\",\"method\":\"ack\","
                                                                    "\"params\":{\"id\":%" PRIu64 "}}", w->job);
                                        else if (done == OP_RESERVE && o->ack_next)
                                                ;       /* acked by the next round trip's ack_next */
                                        else if (done == OP_RESERVE && o->proto != QPROTO_REDIS)
                                                next = OP_ACK;
                                        else
                                                next = OP_NONE;
                                        if (next == OP_NONE && start_ns != 0 && w->rt_sent >= start_ns) {
                                                uint64_t l = now - w->rt_sent;

                                                g_array_append_val(lat[OP_RT], l);
                                                recorded++;
                                                last_ns = now;
                                        }
                                }
                                w->op = next;
                                if (next == OP_NONE)
                                        busy--;
                                else {
                                        append_request(o, w, next, next_id++);
                                        w->op_sent = now;
                                }
                        }
                        if (r < 0)
                                goto finish;
                        if (buf_pending(&w->out) > 0) {
                                r = buf_write_fd(&w->out, w->fd);
                                if (r < 0)
                                        goto finish;
                        }
                }
        }

        if (!o->roundtrip) {
                r = purge(o, &workers[0]);
                if (r < 0) {
                        fprintf(stderr, "bench-queue: purging %s: %s\n", o->queue, strerror(-r));
                        goto finish;
                }
        }

        {
                double seconds = last_ns > start_ns ? (last_ns - start_ns) / 1e9 : 0;

                for (size_t i = 0; i < _OP_MAX; i++)
                        g_array_sort(lat[i], cmp_u64);
                printf("mode=%s proto=%s clients=%u ops=%" PRIu64 " seconds=%.3f rate=%.1f",
                       o->roundtrip ? "roundtrip" : "push", qproto_names[o->proto], o->clients, recorded,
                       seconds, seconds > 0 ? recorded / seconds : 0);
                for (size_t i = 0; i < _OP_MAX; i++) {
                        if (lat[i]->len == 0)
                                continue;
                        printf(" %s_p50_us=%.1f %s_p99_us=%.1f", op_names[i], percentile_us(lat[i], 50),
                               op_names[i], percentile_us(lat[i], 99));
                }
                printf(" errors=%" PRIu64 " timeouts=%" PRIu64 " total=%" PRIu64 "\n", errors, timeouts,
                       completed);
        }
        r = errors > 0 || recorded == 0 ? -EIO : 0;

finish:
        for (unsigned i = 0; i < o->clients; i++) {
                if (workers[i].fd >= 0)
                        close(workers[i].fd);
                buf_deinit(&workers[i].in);
                buf_deinit(&workers[i].out);
        }
        for (size_t i = 0; i < _OP_MAX; i++)
                g_array_unref(lat[i]);
        return r;
}

static void help(void) {
        printf("Usage:\n"
               "  bench-queue push|roundtrip --proto sb|beanstalk|redis --socket PATH\n"
               "              [--clients N] [--queue NAME] [--duration S] [--warmup S] [--payload P]\n"
               "              [--ack-pipelined | --ack-next]\n\n"
               "Defaults: 1 client, queue %s, 2 s after 0.5 s warm-up. Prints one key=value line.\n"
               "See bench/README.md.\n", DEFAULT_QUEUE);
}

static int parse_seconds(const char *s, double *ret) {
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end || v < 0 || v > 3600)
                return -EINVAL;
        *ret = v;
        return 0;
}

int main(int argc, char *argv[]) {
        enum { ARG_PROTO = 0x100, ARG_SOCKET, ARG_CLIENTS, ARG_QUEUE, ARG_PAYLOAD, ARG_DURATION, ARG_WARMUP,
               ARG_ACK_PIPELINED, ARG_ACK_NEXT };
        static const struct option options[] = {
                { "help",     no_argument,       NULL, 'h'          },
                { "proto",    required_argument, NULL, ARG_PROTO    },
                { "socket",   required_argument, NULL, ARG_SOCKET   },
                { "clients",  required_argument, NULL, ARG_CLIENTS  },
                { "queue",    required_argument, NULL, ARG_QUEUE    },
                { "payload",  required_argument, NULL, ARG_PAYLOAD  },
                { "duration", required_argument, NULL, ARG_DURATION },
                { "warmup",   required_argument, NULL, ARG_WARMUP   },
                { "ack-pipelined", no_argument,  NULL, ARG_ACK_PIPELINED },
                { "ack-next", no_argument,       NULL, ARG_ACK_NEXT },
                {}
        };
        Options o = {
                .proto = QPROTO_SB,
                .queue = DEFAULT_QUEUE,
                .payload = DEFAULT_PAYLOAD,
                .clients = 1,
                .duration = 2.0,
                .warmup = 0.5,
        };
        const char *mode;
        int c, r = 0;

        signal(SIGPIPE, SIG_IGN);
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_PROTO:
                        r = -EINVAL;
                        for (size_t i = 0; i < G_N_ELEMENTS(qproto_names); i++)
                                if (g_str_equal(optarg, qproto_names[i])) {
                                        o.proto = (QProto) i;
                                        r = 0;
                                }
                        break;
                case ARG_SOCKET:
                        o.socket = optarg;
                        break;
                case ARG_ACK_PIPELINED:
                        o.ack_pipelined = true;
                        break;
                case ARG_ACK_NEXT:
                        o.ack_next = true;
                        break;
                case ARG_CLIENTS: {
                        char *end;
                        unsigned long v;

                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        r = errno == 0 && end != optarg && !*end && v >= 1 && v <= MAX_CLIENTS ? 0 : -EINVAL;
                        o.clients = (unsigned) v;
                        break;
                }
                case ARG_QUEUE:
                        /* Also a beanstalkd tube name: letters, digits and a few marks, up to 200 bytes. */
                        o.queue = optarg;
                        r = strlen(optarg) > 0 && strlen(optarg) <= 200 &&
                            strspn(optarg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
                            strlen(optarg) ? 0 : -EINVAL;
                        break;
                case ARG_PAYLOAD:
                        o.payload = optarg;
                        r = strlen(optarg) > 0 && strlen(optarg) < 65536 && !strpbrk(optarg, "\"\\\r\n") ?
                                0 : -EINVAL;
                        break;
                case ARG_DURATION:
                        r = parse_seconds(optarg, &o.duration);
                        break;
                case ARG_WARMUP:
                        r = parse_seconds(optarg, &o.warmup);
                        break;
                default:
                        return EXIT_FAILURE;
                }
                if (r < 0) {
                        fprintf(stderr, "bench-queue: bad value '%s'\n", optarg);
                        return EXIT_FAILURE;
                }
        }
        if (optind >= argc || !o.socket) {
                help();
                return EXIT_FAILURE;
        }
        if ((o.ack_pipelined || o.ack_next) && (o.proto != QPROTO_SB || (o.ack_pipelined && o.ack_next))) {
                fprintf(stderr, "bench-queue: --ack-pipelined or --ack-next, with --proto sb only\n");
                return EXIT_FAILURE;
        }
        mode = argv[optind];
        if (g_str_equal(mode, "push"))
                o.roundtrip = false;
        else if (g_str_equal(mode, "roundtrip"))
                o.roundtrip = true;
        else {
                help();
                return EXIT_FAILURE;
        }

        r = run(&o);
        if (r < 0 && r != -EIO)
                fprintf(stderr, "bench-queue: %s: %s\n", mode, strerror(-r));
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
