/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-rpc: both ends of bench/run-rpc's request/reply benchmark, on plain
 * nonblocking sockets and poll(). Modes:
 *
 *   serve  the server: hub (--proto sb): "serve" NAME on the hub's socket
 *          and answer every "request" notification at once with a "reply"
 *          notification carrying the same payload; NATS (--proto nats):
 *          SUB NAME and answer every MSG with a PUB to its reply subject;
 *          bench-relay-server (--proto echo): send the same "serve" frame,
 *          then send every frame back unchanged (the relay's responder).
 *          Prints "ready" once the hub, NATS or the relay has confirmed
 *          the subscription; runs until SIGTERM or the server goes away.
 *   call   the caller: keeps DEPTH calls in flight on one connection for a
 *          duration after a warm-up, matching replies to calls by id
 *          (replies may come out of order). Hub: "call" NAME -> its
 *          response; echo: the same "call" frame to bench-echo-server ->
 *          the echo (the ceiling: no hub, no second hop), or to
 *          bench-relay-server -> the responder's echo (four hops, no hub:
 *          the floor for any broker); NATS: a SUB on
 *          an inbox wildcard, then "PUB NAME INBOX.<id>" -> the MSG on
 *          INBOX.<id>, as NATS clients do request/reply.
 *
 * call prints one line of key=value pairs on stdout:
 *
 *   mode=call proto=sb depth=1 calls=N seconds=1.500 rate=R p50_us=...
 *       p99_us=... errors=0 total=N
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
#include <sys/signalfd.h>
#include <unistd.h>

#include "bench-proto.h"

#define DEFAULT_NAME "bench.echo"
#define DEFAULT_PAYLOAD "t=21.50,rh=40.25"
#define INBOX "_INBOX.bench."
#define SETUP_TIMEOUT_NS (10 * UINT64_C(1000000000))
#define REPLY_TIMEOUT_NS (10 * UINT64_C(1000000000))
#define MAX_LINE 4096

typedef struct Options {
        Proto proto;
        const char *socket;
        unsigned port;
        const char *name;
        const char *payload;
        unsigned depth;
        double duration;
        double warmup;
} Options;

static int open_conn(const Options *o) {
        if (o->proto == PROTO_NATS)
                return connect_tcp_loopback(o->port);
        if (!o->socket)
                return -EDESTADDRREQ;
        return connect_unix(o->socket);
}

static void append_frame(Buf *b, const char *json, size_t len) {
        uint32_t be = GUINT32_TO_BE((uint32_t) len);

        buf_append(b, &be, 4);
        buf_append(b, json, len);
}

/* A NATS MSG line: MSG <subject> <sid> [reply-to] <#bytes>. */
typedef struct NatsMsg {
        const char *subject, *reply;
        size_t subject_len, reply_len;
        const char *payload;
        size_t payload_len;
        size_t size;
} NatsMsg;

/* Return: 1 a MSG, 2 a PING, 3 a PONG, 4 something else (INFO, +OK), 0 more, <0 error. */
static int nats_next(const char *data, size_t len, NatsMsg *ret) {
        const char *eol = memmem(data, len, "\r\n", 2);
        const char *tok[5];
        size_t tok_len[5], n = 0, line;
        uint64_t bytes;

        if (!eol)
                return len > MAX_LINE ? -EBADMSG : 0;
        line = (size_t) (eol - data);
        *ret = (NatsMsg) { .size = line + 2 };
        if (line == 4 && memcmp(data, "PING", 4) == 0)
                return 2;
        if (line == 4 && memcmp(data, "PONG", 4) == 0)
                return 3;
        if (line >= 4 && memcmp(data, "-ERR", 4) == 0) {
                fprintf(stderr, "bench-rpc: nats: %.*s\n", (int) line, data);
                return -EPROTO;
        }
        if (!(line > 4 && memcmp(data, "MSG ", 4) == 0))
                return 4;
        for (const char *p = data + 4; p < eol && n < G_N_ELEMENTS(tok);) {
                const char *q = memchr(p, ' ', (size_t) (eol - p)) ?: eol;

                if (q > p) {
                        tok[n] = p;
                        tok_len[n++] = (size_t) (q - p);
                }
                p = q + 1;
        }
        if (n != 3 && n != 4)
                return -EBADMSG;
        bytes = g_ascii_strtoull(tok[n - 1], NULL, 10);
        if (bytes > BENCH_MAX_MESSAGE)
                return -EBADMSG;
        if (line + 2 + bytes + 2 > len)
                return 0;
        ret->subject = tok[0];
        ret->subject_len = tok_len[0];
        if (n == 4) {
                ret->reply = tok[2];
                ret->reply_len = tok_len[2];
        }
        ret->payload = eol + 2;
        ret->payload_len = (size_t) bytes;
        ret->size = line + 2 + bytes + 2;
        return 1;
}

/* Writes @out and reads until a PONG (NATS) or the response to id 1 (hub), bounded. */
static int confirm(const Options *o, int fd, Buf *in, Buf *out) {
        uint64_t deadline = now_nsec() + SETUP_TIMEOUT_NS;
        int r;

        for (;;) {
                ssize_t n;

                r = buf_write_fd(out, fd);
                if (r < 0)
                        return r;
                for (;;) {
                        if (o->proto == PROTO_NATS) {
                                NatsMsg m;

                                r = nats_next(buf_head(in), buf_pending(in), &m);
                                if (r <= 0)
                                        break;
                                buf_consume(in, m.size);
                                if (r == 2)
                                        buf_printf(out, "PONG\r\n");
                                if (r == 3)
                                        return buf_write_fd(out, fd);
                        } else {
                                Reply rep;

                                r = proto_parse(o->proto, buf_head(in), buf_pending(in), &rep);
                                if (r <= 0)
                                        break;
                                buf_consume(in, rep.size);
                                if (rep.kind == 'e') {
                                        fprintf(stderr, "bench-rpc: the setup request failed\n");
                                        return -EPROTO;
                                }
                                if (rep.kind == 'r' && rep.id == 1)
                                        return 0;
                        }
                }
                if (r < 0)
                        return r;
                r = wait_fd(fd, buf_pending(out) > 0 ? POLLIN | POLLOUT : POLLIN, deadline);
                if (r < 0)
                        return r;
                n = buf_read_fd(in, fd);
                if (n == 0)
                        return -ECONNRESET;
                if (n < 0 && n != -EAGAIN)
                        return (int) n;
        }
}

static int handshake(const Options *o, int fd, Buf *in, Buf *out, const char *sub) {
        if (o->proto == PROTO_NATS) {
                buf_printf(out, "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"bench\"}\r\n");
                if (sub)
                        buf_printf(out, "SUB %s 1\r\n", sub);
                buf_printf(out, "PING\r\n");
                return confirm(o, fd, in, out);
        }
        if ((o->proto == PROTO_SB || o->proto == PROTO_ECHO) && sub) {
                g_autofree char *json = g_strdup_printf("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"serve\","
                                                        "\"params\":{\"name\":\"%s\"}}", sub);

                append_frame(out, json, strlen(json));
                return confirm(o, fd, in, out);
        }
        return 0;
}

/* ---- serve -------------------------------------------------------------------- */

/* Answers every whole request in @in into @out. Return: requests answered, or <0. */
static int serve_input(const Options *o, Buf *in, Buf *out, uint64_t *answered) {
        int r;

        for (;;) {
                if (o->proto == PROTO_NATS) {
                        NatsMsg m;

                        r = nats_next(buf_head(in), buf_pending(in), &m);
                        if (r <= 0)
                                return r;
                        if (r == 1 && m.reply) {
                                buf_printf(out, "PUB %.*s %zu\r\n", (int) m.reply_len, m.reply, m.payload_len);
                                buf_append(out, m.payload, m.payload_len);
                                buf_append(out, "\r\n", 2);
                                (*answered)++;
                        } else if (r == 2)
                                buf_printf(out, "PONG\r\n");
                        buf_consume(in, m.size);
                } else if (o->proto == PROTO_ECHO) {
                        size_t n;

                        /* The relay's responder: every whole frame goes back as it is. */
                        r = frame_next(buf_head(in), buf_pending(in), &n);
                        if (r <= 0)
                                return r;
                        buf_append(out, buf_head(in), 4 + n);
                        buf_consume(in, 4 + n);
                        (*answered)++;
                } else {
                        const char *body, *p, *payload;
                        size_t n, payload_len;
                        uint64_t id;

                        r = frame_next(buf_head(in), buf_pending(in), &n);
                        if (r <= 0)
                                return r;
                        body = buf_head(in) + 4;
                        if (memmem(body, n, "\"method\":\"request\"", 18)) {
                                g_autofree char *json = NULL;

                                p = memmem(body, n, "\"params\":{\"id\":", 15);
                                if (!p)
                                        return -EBADMSG;
                                id = g_ascii_strtoull(p + 15, NULL, 10);
                                p = memmem(body, n, "\"payload\":\"", 11);
                                if (!p)
                                        return -EBADMSG;
                                payload = p + 11;
                                p = memchr(payload, '"', (size_t) (body + n - payload));
                                if (!p)
                                        return -EBADMSG;
                                payload_len = (size_t) (p - payload);
                                /* A notification: the hub sends nothing back for it. */
                                json = g_strdup_printf("{\"jsonrpc\":\"2.0\",\"method\":\"reply\","
                                                       "\"params\":{\"id\":%" PRIu64 ",\"payload\":\"%.*s\"}}",
                                                       id, (int) payload_len, payload);
                                append_frame(out, json, strlen(json));
                                (*answered)++;
                        } else if (memmem(body, n, "\"error\":", 8)) {
                                fprintf(stderr, "bench-rpc: serve: %.*s\n", (int) MIN(n, (size_t) 300), body);
                                return -EPROTO;
                        }
                        buf_consume(in, 4 + n);
                }
        }
}

static int mode_serve(const Options *o) {
        Buf in = {}, out = {};
        uint64_t answered = 0;
        sigset_t mask;
        int fd, sfd, r;

        if (o->proto == PROTO_REDIS)
                return -EOPNOTSUPP;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0)
                return -errno;

        fd = open_conn(o);
        if (fd < 0) {
                close(sfd);
                return fd;
        }
        r = handshake(o, fd, &in, &out, o->name);
        if (r < 0)
                goto finish;
        printf("ready\n");
        fflush(stdout);

        for (;;) {
                struct pollfd p[2] = {
                        { .fd = fd, .events = POLLIN | (buf_pending(&out) > 0 ? POLLOUT : 0) },
                        { .fd = sfd, .events = POLLIN },
                };
                ssize_t n;

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (p[1].revents) {
                        r = 0;
                        break;
                }
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        n = buf_read_fd(&in, fd);
                        if (n == 0) {
                                r = -ECONNRESET;
                                break;
                        }
                        if (n < 0 && n != -EAGAIN) {
                                r = (int) n;
                                break;
                        }
                        r = serve_input(o, &in, &out, &answered);
                        if (r < 0)
                                break;
                }
                r = buf_write_fd(&out, fd);
                if (r < 0)
                        break;
        }
        fprintf(stderr, "bench-rpc: serve: answered %" PRIu64 " requests\n", answered);
finish:
        close(fd);
        close(sfd);
        buf_deinit(&in);
        buf_deinit(&out);
        return r;
}

/* ---- call ---------------------------------------------------------------------- */

static void append_call(const Options *o, Buf *b, uint64_t id) {
        if (o->proto == PROTO_NATS) {
                buf_printf(b, "PUB %s " INBOX "%" PRIu64 " %zu\r\n%s\r\n", o->name, id, strlen(o->payload),
                           o->payload);
        } else {
                g_autofree char *json = g_strdup_printf("{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"method\":\"call\","
                                                        "\"params\":{\"name\":\"%s\",\"payload\":\"%s\"}}",
                                                        id, o->name, o->payload);

                append_frame(b, json, strlen(json));
        }
}

/* The next whole reply in @in: its call id; kind 'r', 'e' or 0 (nothing to match). */
static int next_reply(const Options *o, Buf *in, Buf *out, char *ret_kind, uint64_t *ret_id) {
        int r;

        *ret_kind = 0;
        if (o->proto == PROTO_NATS) {
                NatsMsg m;

                r = nats_next(buf_head(in), buf_pending(in), &m);
                if (r <= 0)
                        return r;
                if (r == 1) {
                        if (m.subject_len <= strlen(INBOX) || memcmp(m.subject, INBOX, strlen(INBOX)) != 0)
                                return -EBADMSG;
                        *ret_id = g_ascii_strtoull(m.subject + strlen(INBOX), NULL, 10);
                        *ret_kind = 'r';
                } else if (r == 2)
                        buf_printf(out, "PONG\r\n");
                buf_consume(in, m.size);
                return 1;
        } else {
                Reply rep;

                r = proto_parse(o->proto, buf_head(in), buf_pending(in), &rep);
                if (r <= 0)
                        return r;
                if (rep.kind == 'r' || rep.kind == 'e') {
                        static bool told;

                        *ret_kind = rep.kind;
                        *ret_id = rep.id;
                        if (rep.kind == 'e' && !told) {
                                told = true;
                                fprintf(stderr, "bench-rpc: %.*s\n", (int) MIN(rep.size - 4, (size_t) 300),
                                        buf_head(in) + 4);
                        }
                }
                buf_consume(in, rep.size);
                return 1;
        }
}

static int mode_call(const Options *o) {
        g_autoptr(GHashTable) in_flight = g_hash_table_new(g_direct_hash, g_direct_equal);
        g_autoptr(GArray) latencies = g_array_sized_new(FALSE, FALSE, sizeof(uint64_t), 1 << 16);
        uint64_t next_id = 1, now, warm_at, deadline, start_ns = 0, last_ns = 0, last_progress;
        uint64_t completed = 0, errors = 0;
        Buf in = {}, out = {};
        int fd, r;

        fd = open_conn(o);
        if (fd < 0)
                return fd;
        r = handshake(o, fd, &in, &out, o->proto == PROTO_NATS ? INBOX "*" : NULL);
        if (r < 0)
                goto finish;

        now = last_progress = now_nsec();
        warm_at = now + (uint64_t) (o->warmup * 1e9);
        deadline = warm_at + (uint64_t) (o->duration * 1e9);
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                char kind;
                uint64_t id;
                ssize_t n;

                now = now_nsec();
                while (now < deadline && g_hash_table_size(in_flight) < o->depth) {
                        append_call(o, &out, next_id);
                        /* The send time is the value; 0 is never a CLOCK_MONOTONIC time here. */
                        g_hash_table_insert(in_flight, GSIZE_TO_POINTER(next_id), GSIZE_TO_POINTER(now));
                        next_id++;
                        if (start_ns == 0 && now >= warm_at)
                                start_ns = now;
                }
                r = buf_write_fd(&out, fd);
                if (r < 0)
                        break;
                if (g_hash_table_size(in_flight) == 0 && now >= deadline)
                        break;
                if (now - last_progress > REPLY_TIMEOUT_NS) {
                        fprintf(stderr, "bench-rpc: no reply for 10 s (%u in flight)\n",
                                g_hash_table_size(in_flight));
                        r = -ETIMEDOUT;
                        break;
                }
                if (buf_pending(&out) > 0)
                        p.events |= POLLOUT;
                if (poll(&p, 1, 1000) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                n = buf_read_fd(&in, fd);
                if (n == -EAGAIN)
                        continue;
                if (n <= 0) {
                        r = n == 0 ? -ECONNRESET : (int) n;
                        break;
                }
                now = now_nsec();
                while ((r = next_reply(o, &in, &out, &kind, &id)) > 0) {
                        gpointer sent;

                        if (kind == 0)
                                continue;
                        if (!g_hash_table_steal_extended(in_flight, GSIZE_TO_POINTER(id), NULL, &sent)) {
                                fprintf(stderr, "bench-rpc: a reply to id %" PRIu64 ", not in flight\n", id);
                                r = -EBADMSG;
                                break;
                        }
                        completed++;
                        last_progress = now;
                        if (kind == 'e') {
                                if (errors++ == 0)
                                        fprintf(stderr, "bench-rpc: %s: an error reply\n", proto_to_string(o->proto));
                                continue;
                        }
                        if (start_ns != 0 && GPOINTER_TO_SIZE(sent) >= start_ns) {
                                uint64_t l = now - GPOINTER_TO_SIZE(sent);

                                g_array_append_val(latencies, l);
                                last_ns = now;
                        }
                }
                if (r < 0)
                        break;
        }

        if (r >= 0) {
                double seconds = last_ns > start_ns ? (last_ns - start_ns) / 1e9 : 0;

                g_array_sort(latencies, cmp_u64);
                printf("mode=call proto=%s depth=%u calls=%u seconds=%.3f rate=%.1f p50_us=%.1f p99_us=%.1f "
                       "errors=%" PRIu64 " total=%" PRIu64 "\n",
                       proto_to_string(o->proto), o->depth, latencies->len, seconds,
                       seconds > 0 ? latencies->len / seconds : 0, percentile_us(latencies, 50),
                       percentile_us(latencies, 99), errors, completed);
                r = errors > 0 || latencies->len == 0 ? -EIO : 0;
        }
finish:
        close(fd);
        buf_deinit(&in);
        buf_deinit(&out);
        return r;
}

/* ---- main ------------------------------------------------------------------------ */

static void help(void) {
        printf("Usage:\n"
               "  bench-rpc serve --proto sb|echo|nats (--socket PATH | --port N) [--name NAME]\n"
               "  bench-rpc call --proto sb|echo|nats (--socket PATH | --port N) [--name NAME]\n"
               "                 [--depth N] [--duration S] [--warmup S] [--payload P]\n\n"
               "Defaults: name %s, depth 1, 2 s after 0.5 s warm-up. See bench/README.md.\n",
               DEFAULT_NAME);
}

static int parse_uint(const char *s, unsigned max, unsigned *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end || v < 1 || v > max)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
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
        enum { ARG_PROTO = 0x100, ARG_SOCKET, ARG_PORT, ARG_NAME, ARG_PAYLOAD, ARG_DEPTH, ARG_DURATION,
               ARG_WARMUP };
        static const struct option options[] = {
                { "help",     no_argument,       NULL, 'h'          },
                { "proto",    required_argument, NULL, ARG_PROTO    },
                { "socket",   required_argument, NULL, ARG_SOCKET   },
                { "port",     required_argument, NULL, ARG_PORT     },
                { "name",     required_argument, NULL, ARG_NAME     },
                { "payload",  required_argument, NULL, ARG_PAYLOAD  },
                { "depth",    required_argument, NULL, ARG_DEPTH    },
                { "duration", required_argument, NULL, ARG_DURATION },
                { "warmup",   required_argument, NULL, ARG_WARMUP   },
                {}
        };
        Options o = {
                .proto = PROTO_SB,
                .name = DEFAULT_NAME,
                .payload = DEFAULT_PAYLOAD,
                .depth = 1,
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
                        r = proto_from_string(optarg, &o.proto);
                        if (r >= 0 && o.proto == PROTO_REDIS)
                                r = -EINVAL;
                        break;
                case ARG_SOCKET:
                        o.socket = optarg;
                        break;
                case ARG_PORT:
                        r = parse_uint(optarg, 65535, &o.port);
                        break;
                case ARG_NAME:
                        o.name = optarg;
                        r = strlen(optarg) > 0 && strlen(optarg) < 256 && !strpbrk(optarg, " \"\\\r\n*>") ?
                                0 : -EINVAL;
                        break;
                case ARG_PAYLOAD:
                        o.payload = optarg;
                        r = strlen(optarg) > 0 && strlen(optarg) < 65536 && !strpbrk(optarg, "\"\\\r\n") ?
                                0 : -EINVAL;
                        break;
                case ARG_DEPTH:
                        r = parse_uint(optarg, 1024, &o.depth);
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
                        fprintf(stderr, "bench-rpc: bad value '%s'\n", optarg);
                        return EXIT_FAILURE;
                }
        }
        if (optind >= argc) {
                help();
                return EXIT_FAILURE;
        }
        mode = argv[optind];
        if (g_str_equal(mode, "serve"))
                r = mode_serve(&o);
        else if (g_str_equal(mode, "call"))
                r = mode_call(&o);
        else {
                help();
                return EXIT_FAILURE;
        }
        if (r < 0 && r != -EIO)
                fprintf(stderr, "bench-rpc: %s: %s\n", mode, strerror(-r));
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
