/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-socket: the client side of bench/run-socket. It speaks the hub's
 * framed JSON-RPC (and the same frames to bench-echo-server), Redis's RESP
 * over a Unix socket and NATS's text protocol over TCP loopback, each on
 * plain nonblocking sockets and poll(), so the client adds as little as
 * possible to what it measures. Modes:
 *
 *   call     keeps DEPTH publish requests in flight on one connection for a
 *            duration after a warm-up; per-request latency from write to
 *            reply (hub: publish -> response; echo: the same frame echoed;
 *            redis: PUBLISH -> integer reply; nats: PUB+PING -> PONG).
 *   fanout   S subscriber connections subscribe (hub and nats: "bench.>",
 *            redis: SUBSCRIBE bench.x) and wait for the confirmation; one
 *            publisher connection then publishes COUNT messages with at most
 *            WINDOW unconfirmed. Each payload is the publish time
 *            (CLOCK_MONOTONIC ns, 16 hex digits), so every delivery gives a
 *            publish -> delivery latency; the rate is all deliveries over all
 *            subscribers divided by first publish -> last delivery.
 *   info     asks the hub for hub.info and prints its message counters.
 *
 * Results are one line of key=value pairs on stdout, for bench/run-socket:
 *
 *   mode=call proto=sb depth=64 calls=123456 seconds=1.500 rate=82304.0
 *       p50_us=770.1 p99_us=990.3 errors=0 total=150123
 *   mode=fanout proto=redis subscribers=8 count=50000 delivered=400000 lost=0
 *       gaps=0 disorder=0 seconds=1.210 rate=330578.5 p50_us=... p99_us=...
 *       pub_rate=41322.3 errors=0
 *   mode=info messages_published=N messages_delivered=N messages_dropped=N
 *
 * Exit status: 0 on success, 1 on failure, error replies or lost messages.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench-proto.h"
#include "util/sd-glue.h"

#define DEFAULT_TOPIC "bench.x"
/* 16 bytes of text, a small sensor reading; no character JSON would escape. */
#define DEFAULT_PAYLOAD "t=21.50,rh=40.25"
#define SETUP_TIMEOUT_NS (10 * UINT64_C(1000000000))
#define MAX_SUBSCRIBERS 256
#define MAX_COUNT 10000000u
/* NATS: one PING per this many PUBs confirms them (the window's granularity). */
#define NATS_CHUNK 16

typedef struct Options {
        Proto proto;
        const char *socket;
        unsigned port;
        const char *topic;
        const char *payload;
        unsigned depth;
        unsigned subscribers;
        unsigned count;
        unsigned window;
        double duration;
        double warmup;
        double idle;
} Options;

static int open_conn(const Options *o) {
        if (o->proto == PROTO_NATS)
                return connect_tcp_loopback(o->port);
        if (!o->socket)
                return -EDESTADDRREQ;
        return connect_unix(o->socket);
}

/*
 * Writes @req and reads until a reply of kind @want arrives (answering
 * PINGs); what follows it stays in @in. Return: 0, -EPROTO on an error
 * reply, -ETIMEDOUT, -ECONNRESET, -EBADMSG or -errno.
 */
static int exchange(int fd, Proto p, Buf *in, const char *req, size_t req_len, char want,
                    uint64_t deadline) {
        Buf out = {};
        int r = 0;

        buf_append(&out, req, req_len);
        for (;;) {
                Reply rep;
                ssize_t n;

                r = buf_write_fd(&out, fd);
                if (r < 0)
                        break;
                while ((r = proto_parse(p, buf_head(in), buf_pending(in), &rep)) > 0) {
                        buf_consume(in, rep.size);
                        if (rep.kind == 'e') {
                                r = -EPROTO;
                                goto finish;
                        }
                        if (rep.kind == 'p')
                                buf_printf(&out, "PONG\r\n");
                        if (rep.kind == want) {
                                r = buf_write_fd(&out, fd);
                                goto finish;
                        }
                }
                if (r < 0)
                        break;
                r = wait_fd(fd, buf_pending(&out) > 0 ? POLLIN | POLLOUT : POLLIN, deadline);
                if (r < 0)
                        break;
                n = buf_read_fd(in, fd);
                if (n == 0) {
                        r = -ECONNRESET;
                        break;
                }
                if (n < 0 && n != -EAGAIN) {
                        r = (int) n;
                        break;
                }
        }
finish:
        buf_deinit(&out);
        return r;
}

static void append_frame(Buf *b, const char *json) {
        uint32_t be = GUINT32_TO_BE((uint32_t) strlen(json));

        buf_append(b, &be, 4);
        buf_append(b, json, strlen(json));
}

/* ---- call ------------------------------------------------------------------ */

static int mode_call(const Options *o) {
        LoadResult res;
        double seconds, rate;
        g_auto(Fd) fd = -1;
        int r;

        fd = open_conn(o);
        if (fd < 0)
                return fd;
        if (o->proto == PROTO_NATS) {
                Buf in = {};

                r = nats_handshake(fd, &in, now_nsec() + SETUP_TIMEOUT_NS);
                buf_deinit(&in);
                if (r < 0)
                        return r;
        }

        r = load_run(fd, o->proto, o->depth, o->warmup, o->duration, o->topic, o->payload, &res);
        if (r < 0)
                return r;

        g_array_sort(res.latencies, cmp_u64);
        seconds = res.last_ns > res.start_ns ? (res.last_ns - res.start_ns) / 1e9 : 0;
        rate = seconds > 0 ? res.latencies->len / seconds : 0;
        printf("mode=call proto=%s depth=%u calls=%u seconds=%.3f rate=%.1f p50_us=%.1f p99_us=%.1f "
               "errors=%" PRIu64 " total=%" PRIu64 "\n",
               proto_to_string(o->proto), o->depth, res.latencies->len, seconds, rate,
               percentile_us(res.latencies, 50), percentile_us(res.latencies, 99), res.errors,
               res.completed);
        r = res.errors > 0 || res.latencies->len == 0 ? -EIO : 0;
        load_result_deinit(&res);
        return r;
}

/* ---- fanout ------------------------------------------------------------------ */

typedef struct Sub {
        int fd;
        Buf in;
        uint64_t received;
        uint64_t last_ts;
        uint64_t disorder;      /* deliveries older than the one before */
        uint64_t gaps;          /* hub "gap" notices */
} Sub;

static int subscribe(const Options *o, Sub *s) {
        g_auto(Fd) fd = -1;
        Buf req = {};
        int r;

        fd = open_conn(o);
        if (fd < 0)
                return fd;
        switch (o->proto) {
        case PROTO_SB:
                append_frame(&req, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"subscribe\","
                                   "\"params\":{\"pattern\":\"bench.>\"}}");
                break;
        case PROTO_REDIS:
                /* Redis channels are exact (PSUBSCRIBE would glob): the one topic we publish. */
                buf_printf(&req, "*2\r\n$9\r\nSUBSCRIBE\r\n$%zu\r\n%s\r\n", strlen(o->topic), o->topic);
                break;
        case PROTO_NATS:
                buf_printf(&req, "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"bench\"}\r\n"
                                 "SUB bench.> 1\r\nPING\r\n");
                break;
        default:
                return -EOPNOTSUPP;
        }
        r = exchange(fd, o->proto, &s->in, buf_head(&req), buf_pending(&req),
                     o->proto == PROTO_REDIS ? 's' : 'r', now_nsec() + SETUP_TIMEOUT_NS);
        buf_deinit(&req);
        if (r < 0)
                return r;
        s->fd = g_steal_fd(&fd);
        return 0;
}

static int hex_u64(const char *p, size_t len, uint64_t *ret) {
        uint64_t v = 0;

        if (len != 16)
                return -EBADMSG;
        for (size_t i = 0; i < len; i++) {
                int d = g_ascii_xdigit_value(p[i]);

                if (d < 0)
                        return -EBADMSG;
                v = v << 4 | (uint64_t) d;
        }
        *ret = v;
        return 0;
}

/* Reads and takes every whole delivery on @s. Return: 0, or -errno/-EBADMSG. */
static int sub_read(const Options *o, Sub *s, GArray *latencies, uint64_t *last_ns) {
        ssize_t n = buf_read_fd(&s->in, s->fd);
        uint64_t now = now_nsec();
        Reply rep;
        int r;

        if (n == -EAGAIN)
                return 0;
        if (n <= 0)
                return n == 0 ? -ECONNRESET : (int) n;

        while ((r = proto_parse(o->proto, buf_head(&s->in), buf_pending(&s->in), &rep)) > 0) {
                buf_consume(&s->in, rep.size);
                if (rep.kind == 'm') {
                        uint64_t ts, lat;

                        r = hex_u64(rep.payload, rep.payload_len, &ts);
                        if (r < 0)
                                return r;
                        lat = now >= ts ? now - ts : 0;
                        g_array_append_val(latencies, lat);
                        if (ts < s->last_ts)
                                s->disorder++;
                        s->last_ts = ts;
                        s->received++;
                        *last_ns = now;
                } else if (rep.kind == 'g')
                        s->gaps++;
                else if (rep.kind == 'p')
                        (void) send(s->fd, "PONG\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT);
                else if (rep.kind == 'e')
                        return -EPROTO;
        }
        return r;
}

static int mode_fanout(const Options *o) {
        g_autofree Sub *subs = g_new0(Sub, o->subscribers);
        g_autofree struct pollfd *pfds = g_new0(struct pollfd, o->subscribers + 1);
        g_autoptr(GArray) latencies = NULL;
        /* NATS: the PUB count each outstanding PING confirms. */
        g_autofree unsigned *chunks = g_new0(unsigned, o->window / NATS_CHUNK + 2);
        unsigned chunk_head = 0, chunk_n = 0, chunk_cap = o->window / NATS_CHUNK + 2, chunk_fill = 0;
        g_auto(Fd) pub = -1;
        Buf pin = {}, pout = {};
        uint64_t sent = 0, acked = 0, errors = 0, delivered = 0, gaps = 0, disorder = 0;
        uint64_t first_ns = 0, last_ns = 0, acked_ns = 0, last_progress, want;
        int r = 0;

        latencies = g_array_sized_new(FALSE, FALSE, sizeof(uint64_t),
                                      (guint) MIN((uint64_t) o->count * o->subscribers, 1u << 24));
        for (unsigned i = 0; i < o->subscribers; i++)
                subs[i].fd = -1;
        for (unsigned i = 0; i < o->subscribers; i++) {
                r = subscribe(o, &subs[i]);
                if (r < 0) {
                        fprintf(stderr, "bench-socket: subscriber %u: %s\n", i, strerror(-r));
                        goto finish;
                }
        }
        pub = open_conn(o);
        if (pub < 0) {
                r = pub;
                goto finish;
        }
        if (o->proto == PROTO_NATS) {
                r = nats_handshake(pub, &pin, now_nsec() + SETUP_TIMEOUT_NS);
                if (r < 0)
                        goto finish;
        }

        want = (uint64_t) o->count * o->subscribers;
        last_progress = now_nsec();
        for (;;) {
                uint64_t now = now_nsec();
                unsigned window_used = (unsigned) (sent - acked);
                int n;

                /* Publish while the window has room. */
                while (sent < o->count && window_used < o->window) {
                        char payload[17];

                        now = now_nsec();
                        if (first_ns == 0)
                                first_ns = now;
                        g_snprintf(payload, sizeof payload, "%016" PRIx64, now);
                        if (o->proto == PROTO_NATS)
                                buf_printf(&pout, "PUB %s 16\r\n%s\r\n", o->topic, payload);
                        else
                                proto_append_publish(o->proto, &pout, sent + 1, o->topic, payload, 16);
                        sent++;
                        window_used++;
                        if (o->proto == PROTO_NATS && (++chunk_fill == NATS_CHUNK || sent == o->count)) {
                                buf_printf(&pout, "PING\r\n");
                                chunks[(chunk_head + chunk_n) % chunk_cap] = chunk_fill;
                                chunk_n++;
                                chunk_fill = 0;
                        }
                }
                r = buf_write_fd(&pout, pub);
                if (r < 0)
                        goto finish;

                if (delivered >= want && acked >= o->count)
                        break;
                if (now - last_progress > (uint64_t) (o->idle * 1e9)) {
                        fprintf(stderr, "bench-socket: nothing arrived for %.1f s; stopping\n", o->idle);
                        break;
                }

                pfds[0] = (struct pollfd) { .fd = pub, .events = POLLIN };
                if (buf_pending(&pout) > 0)
                        pfds[0].events |= POLLOUT;
                for (unsigned i = 0; i < o->subscribers; i++)
                        pfds[i + 1] = (struct pollfd) { .fd = subs[i].fd, .events = POLLIN };
                n = poll(pfds, o->subscribers + 1, 200);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto finish;
                }
                if (n == 0)
                        continue;

                for (unsigned i = 0; i < o->subscribers; i++) {
                        uint64_t before;

                        if (!(pfds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        before = subs[i].received;
                        r = sub_read(o, &subs[i], latencies, &last_ns);
                        if (r < 0) {
                                fprintf(stderr, "bench-socket: subscriber %u: %s\n", i, strerror(-r));
                                goto finish;
                        }
                        delivered += subs[i].received - before;
                        if (subs[i].received > before)
                                last_progress = last_ns;
                }

                if (pfds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        ssize_t got = buf_read_fd(&pin, pub);
                        Reply rep;

                        if (got == 0 || (got < 0 && got != -EAGAIN)) {
                                r = got == 0 ? -ECONNRESET : (int) got;
                                goto finish;
                        }
                        now = now_nsec();
                        while ((r = proto_parse(o->proto, buf_head(&pin), buf_pending(&pin), &rep)) > 0) {
                                buf_consume(&pin, rep.size);
                                if (rep.kind == 'p') {
                                        buf_printf(&pout, "PONG\r\n");
                                        continue;
                                }
                                if (rep.kind != 'r' && rep.kind != 'e')
                                        continue;
                                if (rep.kind == 'e' && errors++ == 0)
                                        fprintf(stderr, "bench-socket: an error reply to a publish\n");
                                if (o->proto == PROTO_NATS) {
                                        if (chunk_n == 0) {
                                                r = -EBADMSG;
                                                break;
                                        }
                                        acked += chunks[chunk_head];
                                        chunk_head = (chunk_head + 1) % chunk_cap;
                                        chunk_n--;
                                } else
                                        acked++;
                                acked_ns = now;
                                last_progress = now;
                        }
                        if (r < 0)
                                goto finish;
                }
        }

        for (unsigned i = 0; i < o->subscribers; i++) {
                gaps += subs[i].gaps;
                disorder += subs[i].disorder;
        }
        g_array_sort(latencies, cmp_u64);
        {
                double seconds = last_ns > first_ns ? (last_ns - first_ns) / 1e9 : 0;
                double pub_seconds = acked_ns > first_ns ? (acked_ns - first_ns) / 1e9 : 0;

                printf("mode=fanout proto=%s subscribers=%u count=%u window=%u delivered=%" PRIu64
                       " lost=%" PRIu64 " gaps=%" PRIu64 " disorder=%" PRIu64 " seconds=%.3f rate=%.1f"
                       " p50_us=%.1f p99_us=%.1f pub_rate=%.1f errors=%" PRIu64 "\n",
                       proto_to_string(o->proto), o->subscribers, o->count, o->window, delivered,
                       want - delivered, gaps, disorder, seconds, seconds > 0 ? delivered / seconds : 0,
                       percentile_us(latencies, 50), percentile_us(latencies, 99),
                       pub_seconds > 0 ? acked / pub_seconds : 0, errors);
        }
        r = errors > 0 || delivered < want ? -EIO : 0;

finish:
        for (unsigned i = 0; i < o->subscribers; i++) {
                fd_close(subs[i].fd);
                buf_deinit(&subs[i].in);
        }
        buf_deinit(&pin);
        buf_deinit(&pout);
        return r;
}

/* ---- info -------------------------------------------------------------------- */

static void print_counter(const char *body, size_t len, const char *name) {
        g_autofree char *key = g_strdup_printf("\"%s\":", name);
        const char *p = memmem(body, len, key, strlen(key));

        printf(" %s=%" PRIu64, name, p ? g_ascii_strtoull(p + strlen(key), NULL, 10) : UINT64_C(0));
}

static int mode_info(const Options *o) {
        uint64_t deadline = now_nsec() + SETUP_TIMEOUT_NS;
        g_auto(Fd) fd = -1;
        Buf in = {}, req = {};
        Reply rep;
        int r;

        if (o->proto != PROTO_SB)
                return -EOPNOTSUPP;
        fd = open_conn(o);
        if (fd < 0)
                return fd;
        append_frame(&req, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"hub.info\"}");
        r = buf_write_fd(&req, fd);
        /* One short request on a fresh socket: it went in one write. */
        if (r >= 0 && buf_pending(&req) > 0)
                r = -EAGAIN;
        while (r >= 0 && (r = proto_parse(PROTO_SB, buf_head(&in), buf_pending(&in), &rep)) == 0) {
                ssize_t n;

                r = wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                        break;
                n = buf_read_fd(&in, fd);
                if (n == 0)
                        r = -ECONNRESET;
                else if (n < 0 && n != -EAGAIN)
                        r = (int) n;
        }
        if (r > 0 && rep.kind != 'r')
                r = -EPROTO;
        if (r > 0) {
                const char *body = buf_head(&in) + 4;
                size_t len = rep.size - 4;

                printf("mode=info");
                print_counter(body, len, "messages_published");
                print_counter(body, len, "messages_delivered");
                print_counter(body, len, "messages_dropped");
                print_counter(body, len, "slow_disconnects");
                printf("\n");
                r = 0;
        }
        buf_deinit(&req);
        buf_deinit(&in);
        return r;
}

/* ---- main ---------------------------------------------------------------------- */

static void help(void) {
        printf("Usage:\n"
               "  bench-socket call --proto sb|echo|redis|nats (--socket PATH | --port N)\n"
               "                    [--depth N] [--duration S] [--warmup S] [--payload P]\n"
               "  bench-socket fanout --proto sb|redis|nats (--socket PATH | --port N)\n"
               "                    [--subscribers S] [--count N] [--window W] [--idle S]\n"
               "  bench-socket info --socket PATH\n\n"
               "Defaults: depth 1, 2 s after 0.5 s warm-up, 1 subscriber, 50000 messages,\n"
               "window 64, topic %s. Prints one key=value line. See bench/README.md.\n",
               DEFAULT_TOPIC);
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
        enum { ARG_PROTO = 0x100, ARG_SOCKET, ARG_PORT, ARG_TOPIC, ARG_PAYLOAD, ARG_DEPTH,
               ARG_SUBSCRIBERS, ARG_COUNT, ARG_WINDOW, ARG_DURATION, ARG_WARMUP, ARG_IDLE };
        static const struct option options[] = {
                { "help",        no_argument,       NULL, 'h'             },
                { "proto",       required_argument, NULL, ARG_PROTO       },
                { "socket",      required_argument, NULL, ARG_SOCKET      },
                { "port",        required_argument, NULL, ARG_PORT        },
                { "topic",       required_argument, NULL, ARG_TOPIC       },
                { "payload",     required_argument, NULL, ARG_PAYLOAD     },
                { "depth",       required_argument, NULL, ARG_DEPTH       },
                { "subscribers", required_argument, NULL, ARG_SUBSCRIBERS },
                { "count",       required_argument, NULL, ARG_COUNT       },
                { "window",      required_argument, NULL, ARG_WINDOW      },
                { "duration",    required_argument, NULL, ARG_DURATION    },
                { "warmup",      required_argument, NULL, ARG_WARMUP      },
                { "idle",        required_argument, NULL, ARG_IDLE        },
                {}
        };
        Options o = {
                .proto = PROTO_SB,
                .topic = DEFAULT_TOPIC,
                .payload = DEFAULT_PAYLOAD,
                .depth = 1,
                .subscribers = 1,
                .count = 50000,
                .window = 64,
                .duration = 2.0,
                .warmup = 0.5,
                .idle = 5.0,
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
                        break;
                case ARG_SOCKET:
                        o.socket = optarg;
                        break;
                case ARG_PORT:
                        r = parse_uint(optarg, 65535, &o.port);
                        break;
                case ARG_TOPIC:
                        o.topic = optarg;
                        r = strlen(optarg) > 0 && strlen(optarg) < 256 && !strpbrk(optarg, " \"\\\r\n") ?
                                0 : -EINVAL;
                        break;
                case ARG_PAYLOAD:
                        o.payload = optarg;
                        r = strlen(optarg) < 65536 && !strpbrk(optarg, "\"\\\r\n") ? 0 : -EINVAL;
                        break;
                case ARG_DEPTH:
                        r = parse_uint(optarg, 4096, &o.depth);
                        break;
                case ARG_SUBSCRIBERS:
                        r = parse_uint(optarg, MAX_SUBSCRIBERS, &o.subscribers);
                        break;
                case ARG_COUNT:
                        r = parse_uint(optarg, MAX_COUNT, &o.count);
                        break;
                case ARG_WINDOW:
                        r = parse_uint(optarg, 4096, &o.window);
                        break;
                case ARG_DURATION:
                        r = parse_seconds(optarg, &o.duration);
                        break;
                case ARG_WARMUP:
                        r = parse_seconds(optarg, &o.warmup);
                        break;
                case ARG_IDLE:
                        r = parse_seconds(optarg, &o.idle);
                        break;
                default:
                        return EXIT_FAILURE;
                }
                if (r < 0) {
                        fprintf(stderr, "bench-socket: bad value '%s'\n", optarg);
                        return EXIT_FAILURE;
                }
        }

        if (optind >= argc) {
                help();
                return EXIT_FAILURE;
        }
        mode = argv[optind];
        if (g_str_equal(mode, "call"))
                r = mode_call(&o);
        else if (g_str_equal(mode, "fanout")) {
                if (o.proto == PROTO_ECHO) {
                        fprintf(stderr, "bench-socket: fanout needs sb, redis or nats\n");
                        return EXIT_FAILURE;
                }
                r = mode_fanout(&o);
        } else if (g_str_equal(mode, "info"))
                r = mode_info(&o);
        else {
                help();
                return EXIT_FAILURE;
        }

        if (r < 0 && r != -EIO)
                fprintf(stderr, "bench-socket: %s: %s\n", mode, strerror(-r));
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
