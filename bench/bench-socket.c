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
 *   fanout   S subscriber connections subscribe and wait for the
 *            confirmation; one publisher connection then publishes COUNT
 *            messages with at most WINDOW unconfirmed (and, with --backlog
 *            B, at most B not yet delivered to every subscriber, on
 *            average). Each payload starts with the publish time
 *            (CLOCK_MONOTONIC ns, 16 hex digits), padded to --size bytes,
 *            so every delivery gives a publish -> delivery latency; the rate
 *            is all deliveries over all subscribers divided by first publish
 *            -> last delivery. Subscriptions: by default hub and nats
 *            "bench.>", redis SUBSCRIBE bench.x; --exact: every server the
 *            topic itself; --topics T: messages go round-robin to bench.0 ..
 *            bench.(T-1), hub and nats subscribe "bench.>", redis
 *            PSUBSCRIBE bench.*. With --server-pid, the server's VmRSS before
 *            the subscribers connect, once they are subscribed, its peak
 *            (VmHWM, reset first) and at the end.
 *   idle     opens N connections, each makes one request (hub and redis: a
 *            publish nobody receives; nats: CONNECT and PING) and stays
 *            open; reports the server's VmRSS growth per connection.
 *   stall    one subscriber subscribes and then never reads; one publisher
 *            floods COUNT messages of --size bytes with at most WINDOW
 *            unconfirmed. Reports the server's VmRSS before, at its peak
 *            (VmHWM), at the end, and where the server started dropping
 *            (hub: hub.info messages_dropped > 0, polled every 1024 acks;
 *            redis: PUBLISH answered with 0 receivers; nats: not visible
 *            in-band, the runner reads its log).
 *   info     asks the hub for hub.info and prints its message counters.
 *
 * Results are one line of key=value pairs on stdout, for bench/run-socket
 * and bench/run-scale:
 *
 *   mode=call proto=sb depth=64 calls=123456 seconds=1.500 rate=82304.0
 *       p50_us=770.1 p99_us=990.3 errors=0 total=150123
 *   mode=fanout proto=redis subscribers=8 count=50000 size=16 topics=1
 *       delivered=400000 lost=0 gaps=0 gap_msgs=0 disorder=0 seconds=1.210
 *       rate=330578.5 p50_us=... p99_us=... pub_rate=41322.3 errors=0
 *       [rss_before_kb=... rss_subscribed_kb=... rss_peak_kb=... rss_end_kb=...]
 *   mode=idle proto=sb clients=1000 rss_before_kb=... rss_after_kb=...
 *       per_client_b=...
 *   mode=stall proto=nats size=1024 count=131072 rss_before_kb=...
 *       rss_peak_kb=... rss_end_kb=... rss_gone_kb=... drop_at=... rss_at_drop_kb=...
 *   mode=info messages_published=N messages_delivered=N messages_dropped=N
 *
 * Exit status: 0 on success, 1 on failure, error replies or lost messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench-proto.h"
#include "util/sd-glue.h"

#define DEFAULT_TOPIC "bench.x"
/* 16 bytes of text, a small sensor reading; no character JSON would escape. */
#define DEFAULT_PAYLOAD "t=21.50,rh=40.25"
#define SETUP_TIMEOUT_NS (10 * UINT64_C(1000000000))
/* Each connection is one fd: main() raises RLIMIT_NOFILE to its hard limit. */
#define MAX_SUBSCRIBERS 4096
#define MAX_CLIENTS 16384
#define MAX_COUNT 10000000u
/* The payload starts with the publish time, 16 hex digits. */
#define TS_LEN 16
#define MAX_SIZE (1024u * 1024)
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
        unsigned size;          /* fanout, stall: payload bytes (>= TS_LEN) */
        unsigned topics;        /* 0: one topic; N: bench.0 .. bench.N-1, wildcard subscriptions */
        bool exact;             /* subscribe to the topic itself everywhere */
        bool compact;           /* sb: compact subscriptions (no sender in notifications) */
        unsigned backlog;       /* fanout: 0, or at most this many messages not yet delivered */
        unsigned clients;       /* idle */
        pid_t server_pid;       /* 0: no RSS figures */
} Options;

/* ---- the server's memory ---------------------------------------------------- */

/* A "Vm...:" field of /proc/PID/status in KiB, or -1. */
static long proc_status_kb(pid_t pid, const char *field) {
        char path[64], line[256];
        size_t flen = strlen(field);
        long v = -1;
        FILE *f;

        if (pid <= 0)
                return -1;
        g_snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof line, f))
                if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
                        v = strtol(line + flen + 1, NULL, 10);
                        break;
                }
        fclose(f);
        return v;
}

static long rss_kb(pid_t pid) {
        return proc_status_kb(pid, "VmRSS");
}

/* Sets @pid's VmHWM to its current VmRSS (Linux >= 4.0). Return: 0 or -errno. */
static int reset_peak(pid_t pid) {
        char path[64];
        int fd, r = 0;

        if (pid <= 0)
                return -EINVAL;
        g_snprintf(path, sizeof path, "/proc/%d/clear_refs", (int) pid);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (write(fd, "5", 1) != 1)
                r = -errno;
        close(fd);
        return r;
}

/* The server's peak RSS since reset_peak(), or -1 when it could not be reset. */
static long peak_kb(pid_t pid, bool reset_ok) {
        return reset_ok ? proc_status_kb(pid, "VmHWM") : -1;
}

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
        uint64_t dropped;       /* messages they name */
} Sub;

static int subscribe(const Options *o, Sub *s) {
        /* --topics: a wildcard over bench.N; --exact: the topic; otherwise what bench/run-socket uses. */
        const char *pattern = o->topics > 0 ? "bench.>" : o->exact ? o->topic : "bench.>";
        g_auto(Fd) fd = -1;
        Buf req = {};
        int r;

        fd = open_conn(o);
        if (fd < 0)
                return fd;
        switch (o->proto) {
        case PROTO_SB: {
                g_autofree char *json = g_strdup_printf(
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"subscribe\",\"params\":{\"pattern\":\"%s\"%s}}",
                        pattern, o->compact ? ",\"compact\":true" : "");

                append_frame(&req, json);
                break;
        }
        case PROTO_REDIS:
                if (o->topics > 0)
                        /* Redis patterns are globs: bench.* is every bench.N. */
                        buf_printf(&req, "*2\r\n$10\r\nPSUBSCRIBE\r\n$7\r\nbench.*\r\n");
                else
                        /* Redis channels are exact (PSUBSCRIBE would glob): the one topic we publish. */
                        buf_printf(&req, "*2\r\n$9\r\nSUBSCRIBE\r\n$%zu\r\n%s\r\n", strlen(o->topic), o->topic);
                break;
        case PROTO_NATS:
                buf_printf(&req, "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"bench\"}\r\n"
                                 "SUB %s 1\r\nPING\r\n", pattern);
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

        if (len < TS_LEN)
                return -EBADMSG;
        for (size_t i = 0; i < TS_LEN; i++) {
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

                        if (rep.payload_len != o->size)
                                return -EBADMSG;
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
                } else if (rep.kind == 'g') {
                        s->gaps++;
                        s->dropped += rep.id;
                }
                else if (rep.kind == 'p')
                        (void) send(s->fd, "PONG\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT);
                else if (rep.kind == 'e')
                        return -EPROTO;
        }
        return r;
}

/*
 * The publishing side of fanout and stall: one connection, a window of
 * unconfirmed publishes (hub and redis: each reply confirms one; nats: a
 * PING after every NATS_CHUNK PUBs, whose PONG confirms them).
 */
typedef struct Pub {
        const Options *o;
        int fd;
        Buf in, out;
        char *payload;          /* o->size bytes: the timestamp, then 'x' */
        unsigned *chunks;       /* nats: the PUB count each outstanding PING confirms */
        unsigned chunk_head, chunk_n, chunk_cap, chunk_fill;
        uint64_t sent, acked, errors, zero_receivers, first_zero_at;
        uint64_t first_ns, acked_ns;
} Pub;

static int pub_open(Pub *p, const Options *o) {
        *p = (Pub) { .o = o, .fd = -1 };
        p->payload = g_malloc(o->size);
        memset(p->payload, 'x', o->size);
        p->chunk_cap = o->window / NATS_CHUNK + 2;
        p->chunks = g_new0(unsigned, p->chunk_cap);
        p->fd = open_conn(o);
        if (p->fd < 0)
                return p->fd;
        if (o->proto == PROTO_NATS)
                return nats_handshake(p->fd, &p->in, now_nsec() + SETUP_TIMEOUT_NS);
        return 0;
}

static void pub_close(Pub *p) {
        fd_close(p->fd);
        p->fd = -1;
        buf_deinit(&p->in);
        buf_deinit(&p->out);
        g_clear_pointer(&p->payload, g_free);
        g_clear_pointer(&p->chunks, g_free);
}

/* Queues one more publish (the caller checks the window) and the PING that confirms it for NATS. */
static void pub_one(Pub *p) {
        const Options *o = p->o;
        uint64_t now = now_nsec();
        char ts[TS_LEN + 1], topic[32];
        const char *t = o->topic;

        if (p->first_ns == 0)
                p->first_ns = now;
        g_snprintf(ts, sizeof ts, "%016" PRIx64, now);
        memcpy(p->payload, ts, TS_LEN);
        if (o->topics > 0) {
                g_snprintf(topic, sizeof topic, "bench.%u", (unsigned) (p->sent % o->topics));
                t = topic;
        }
        if (o->proto == PROTO_NATS) {
                buf_printf(&p->out, "PUB %s %u\r\n", t, o->size);
                buf_append(&p->out, p->payload, o->size);
                buf_append(&p->out, "\r\n", 2);
        } else
                proto_append_publish(o->proto, &p->out, p->sent + 1, t, p->payload, o->size);
        p->sent++;
        if (o->proto == PROTO_NATS && (++p->chunk_fill == NATS_CHUNK || p->sent == o->count)) {
                buf_printf(&p->out, "PING\r\n");
                p->chunks[(p->chunk_head + p->chunk_n) % p->chunk_cap] = p->chunk_fill;
                p->chunk_n++;
                p->chunk_fill = 0;
        }
}

/* Reads the publisher's replies. Return: the publishes they confirmed, or -errno. */
static int64_t pub_read(Pub *p) {
        ssize_t got = buf_read_fd(&p->in, p->fd);
        uint64_t before = p->acked;
        Reply rep;
        int r;

        if (got == -EAGAIN)
                return 0;
        if (got <= 0)
                return got == 0 ? -ECONNRESET : got;
        while ((r = proto_parse(p->o->proto, buf_head(&p->in), buf_pending(&p->in), &rep)) > 0) {
                buf_consume(&p->in, rep.size);
                if (rep.kind == 'p') {
                        buf_printf(&p->out, "PONG\r\n");
                        continue;
                }
                if (rep.kind != 'r' && rep.kind != 'e')
                        continue;
                if (rep.kind == 'e' && p->errors++ == 0)
                        fprintf(stderr, "bench-socket: an error reply to a publish\n");
                if (p->o->proto == PROTO_NATS) {
                        if (p->chunk_n == 0)
                                return -EBADMSG;
                        p->acked += p->chunks[p->chunk_head];
                        p->chunk_head = (p->chunk_head + 1) % p->chunk_cap;
                        p->chunk_n--;
                } else {
                        p->acked++;
                        /* Redis answers PUBLISH with the number of receivers. */
                        if (p->o->proto == PROTO_REDIS && rep.kind == 'r' && rep.id == 0 &&
                            p->zero_receivers++ == 0)
                                p->first_zero_at = p->acked;
                }
                p->acked_ns = now_nsec();
        }
        if (r < 0)
                return r;
        return (int64_t) (p->acked - before);
}

static int epoll_set(int ep, int op, int fd, uint32_t events, uint32_t tag) {
        struct epoll_event ev = { .events = events, .data.u32 = tag };

        return epoll_ctl(ep, op, fd, &ev) < 0 ? -errno : 0;
}

static int mode_fanout(const Options *o) {
        g_autofree Sub *subs = g_new0(Sub, o->subscribers);
        g_autoptr(GArray) latencies = NULL;
        g_auto(Fd) ep = -1;
        Pub pub = { .fd = -1 };
        uint64_t delivered = 0, dropped = 0, gaps = 0, disorder = 0, last_ns = 0, last_progress, want;
        long rss_before, rss_subscribed = -1, rss_peak = -1, rss_end = -1;
        uint32_t pub_events = EPOLLIN;
        bool peak_ok = false;
        int r = 0;

        latencies = g_array_sized_new(FALSE, FALSE, sizeof(uint64_t),
                                      (guint) MIN((uint64_t) o->count * o->subscribers, 1u << 24));
        for (unsigned i = 0; i < o->subscribers; i++)
                subs[i].fd = -1;
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0)
                return -errno;

        rss_before = rss_kb(o->server_pid);
        for (unsigned i = 0; i < o->subscribers; i++) {
                r = subscribe(o, &subs[i]);
                if (r >= 0)
                        r = epoll_set(ep, EPOLL_CTL_ADD, subs[i].fd, EPOLLIN, i + 1);
                if (r < 0) {
                        fprintf(stderr, "bench-socket: subscriber %u: %s\n", i, strerror(-r));
                        goto finish;
                }
        }
        rss_subscribed = rss_kb(o->server_pid);
        peak_ok = o->server_pid > 0 && reset_peak(o->server_pid) >= 0;

        r = pub_open(&pub, o);
        if (r >= 0)
                r = epoll_set(ep, EPOLL_CTL_ADD, pub.fd, pub_events, 0);
        if (r < 0)
                goto finish;

        want = (uint64_t) o->count * o->subscribers;
        last_progress = now_nsec();
        for (;;) {
                struct epoll_event evs[256];
                uint64_t now = now_nsec();
                uint32_t events;
                int n;

                /* Publish while the window (and the backlog, if bounded) has room. */
                while (pub.sent < o->count && pub.sent - pub.acked < o->window &&
                       (o->backlog == 0 ||
                        pub.sent * o->subscribers - delivered - dropped < (uint64_t) o->backlog * o->subscribers))
                        pub_one(&pub);
                r = buf_write_fd(&pub.out, pub.fd);
                if (r < 0)
                        goto finish;
                events = buf_pending(&pub.out) > 0 ? EPOLLIN | EPOLLOUT : EPOLLIN;
                if (events != pub_events) {
                        r = epoll_set(ep, EPOLL_CTL_MOD, pub.fd, events, 0);
                        if (r < 0)
                                goto finish;
                        pub_events = events;
                }

                if (delivered + dropped >= want && pub.acked >= o->count)
                        break;
                if (now - last_progress > (uint64_t) (o->idle * 1e9)) {
                        fprintf(stderr, "bench-socket: nothing arrived for %.1f s; stopping\n", o->idle);
                        break;
                }

                n = epoll_wait(ep, evs, G_N_ELEMENTS(evs), 200);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto finish;
                }
                for (int k = 0; k < n; k++) {
                        uint32_t tag = evs[k].data.u32;

                        if (!(evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                                continue;
                        if (tag == 0) {
                                int64_t got = pub_read(&pub);

                                if (got < 0) {
                                        r = (int) got;
                                        goto finish;
                                }
                                if (got > 0)
                                        last_progress = pub.acked_ns;
                        } else {
                                Sub *s = &subs[tag - 1];
                                uint64_t before = s->received, dropped_before = s->dropped;

                                r = sub_read(o, s, latencies, &last_ns);
                                if (r < 0) {
                                        fprintf(stderr, "bench-socket: subscriber %u: %s\n", tag - 1,
                                                strerror(-r));
                                        goto finish;
                                }
                                delivered += s->received - before;
                                dropped += s->dropped - dropped_before;
                                if (s->received > before)
                                        last_progress = last_ns;
                        }
                }
        }
        rss_peak = peak_kb(o->server_pid, peak_ok);
        rss_end = rss_kb(o->server_pid);

        for (unsigned i = 0; i < o->subscribers; i++) {
                gaps += subs[i].gaps;
                disorder += subs[i].disorder;
        }
        g_array_sort(latencies, cmp_u64);
        {
                double seconds = last_ns > pub.first_ns ? (last_ns - pub.first_ns) / 1e9 : 0;
                double pub_seconds = pub.acked_ns > pub.first_ns ? (pub.acked_ns - pub.first_ns) / 1e9 : 0;

                printf("mode=fanout proto=%s subscribers=%u count=%u window=%u backlog=%u size=%u topics=%u"
                       " delivered=%" PRIu64 " lost=%" PRIu64 " gaps=%" PRIu64 " gap_msgs=%" PRIu64
                       " disorder=%" PRIu64
                       " seconds=%.3f rate=%.1f p50_us=%.1f p99_us=%.1f pub_rate=%.1f errors=%" PRIu64,
                       proto_to_string(o->proto), o->subscribers, o->count, o->window, o->backlog, o->size,
                       MAX(o->topics, 1u), delivered, want - delivered, gaps, dropped, disorder, seconds,
                       seconds > 0 ? delivered / seconds : 0, percentile_us(latencies, 50),
                       percentile_us(latencies, 99), pub_seconds > 0 ? pub.acked / pub_seconds : 0,
                       pub.errors);
                if (o->server_pid > 0)
                        printf(" rss_before_kb=%ld rss_subscribed_kb=%ld rss_peak_kb=%ld rss_end_kb=%ld",
                               rss_before, rss_subscribed, rss_peak, rss_end);
                printf("\n");
        }
        /* A message the hub dropped and announced with a gap is its documented policy, not a failure. */
        r = pub.errors > 0 || delivered + dropped < want ? -EIO : 0;

finish:
        for (unsigned i = 0; i < o->subscribers; i++) {
                fd_close(subs[i].fd);
                buf_deinit(&subs[i].in);
        }
        pub_close(&pub);
        return r;
}

/* ---- idle ---------------------------------------------------------------------- */

/* Connects and makes one request, answered: the server has set the connection up. */
static int idle_client(const Options *o, int *ret_fd) {
        uint64_t deadline = now_nsec() + SETUP_TIMEOUT_NS;
        g_auto(Fd) fd = -1;
        Buf in = {}, req = {};
        int r;

        fd = open_conn(o);
        if (fd < 0)
                return fd;
        if (o->proto == PROTO_NATS)
                r = nats_handshake(fd, &in, deadline);
        else {
                proto_append_publish(o->proto, &req, 1, "bench.idle", "x", 1);
                r = exchange(fd, o->proto, &in, buf_head(&req), buf_pending(&req), 'r', deadline);
        }
        buf_deinit(&in);
        buf_deinit(&req);
        if (r < 0)
                return r;
        *ret_fd = g_steal_fd(&fd);
        return 0;
}

static int mode_idle(const Options *o) {
        g_autofree int *fds = g_new(int, o->clients);
        long before, after;
        unsigned n = 0;
        int r = 0;

        if (o->server_pid <= 0)
                return -EINVAL;
        before = rss_kb(o->server_pid);
        for (; n < o->clients; n++) {
                r = idle_client(o, &fds[n]);
                if (r < 0) {
                        fprintf(stderr, "bench-socket: client %u: %s\n", n, strerror(-r));
                        goto finish;
                }
        }
        /* Let the server finish whatever the last connections started. */
        g_usleep(200000);
        after = rss_kb(o->server_pid);
        printf("mode=idle proto=%s clients=%u rss_before_kb=%ld rss_after_kb=%ld per_client_b=%.0f\n",
               proto_to_string(o->proto), o->clients, before, after,
               (double) (after - before) * 1024 / o->clients);
finish:
        for (unsigned i = 0; i < n; i++)
                fd_close(fds[i]);
        return r;
}

/* ---- info -------------------------------------------------------------------- */

static const char *const info_counters[] = {
        "messages_published", "messages_delivered", "messages_dropped", "slow_disconnects",
};

static uint64_t find_counter(const char *body, size_t len, const char *name) {
        g_autofree char *key = g_strdup_printf("\"%s\":", name);
        const char *p = memmem(body, len, key, strlen(key));

        return p ? g_ascii_strtoull(p + strlen(key), NULL, 10) : UINT64_C(0);
}

/* Asks the hub for hub.info on a connection of its own; fills @ret in info_counters' order. */
static int hub_info(const Options *o, uint64_t ret[G_N_ELEMENTS(info_counters)]) {
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
                for (size_t i = 0; i < G_N_ELEMENTS(info_counters); i++)
                        ret[i] = find_counter(buf_head(&in) + 4, rep.size - 4, info_counters[i]);
                r = 0;
        }
        buf_deinit(&req);
        buf_deinit(&in);
        return r;
}

static int mode_info(const Options *o) {
        uint64_t v[G_N_ELEMENTS(info_counters)];
        int r = hub_info(o, v);

        if (r < 0)
                return r;
        printf("mode=info");
        for (size_t i = 0; i < G_N_ELEMENTS(info_counters); i++)
                printf(" %s=%" PRIu64, info_counters[i], v[i]);
        printf("\n");
        return 0;
}

/* ---- stall --------------------------------------------------------------------- */

#define STALL_SAMPLE 1024

static int mode_stall(const Options *o) {
        uint64_t info0[G_N_ELEMENTS(info_counters)] = {}, info1[G_N_ELEMENTS(info_counters)];
        uint64_t drop_at = 0, next_sample = STALL_SAMPLE, last_progress;
        long before, peak, end, gone, at_drop = -1, sampled_max;
        Sub sub = { .fd = -1 };
        Pub pub = { .fd = -1 };
        bool peak_ok;
        int r;

        if (o->server_pid <= 0)
                return -EINVAL;
        if (o->proto == PROTO_SB && (r = hub_info(o, info0)) < 0)
                return r;
        before = rss_kb(o->server_pid);
        sampled_max = before;
        peak_ok = reset_peak(o->server_pid) >= 0;
        /* The subscriber confirms its subscription and then reads nothing, ever. */
        r = subscribe(o, &sub);
        if (r >= 0)
                r = pub_open(&pub, o);
        if (r < 0)
                goto finish;

        last_progress = now_nsec();
        while (pub.acked < o->count) {
                struct pollfd pfd = { .fd = pub.fd, .events = POLLIN };
                int64_t got;

                while (pub.sent < o->count && pub.sent - pub.acked < o->window)
                        pub_one(&pub);
                r = buf_write_fd(&pub.out, pub.fd);
                if (r < 0)
                        goto finish;
                if (buf_pending(&pub.out) > 0)
                        pfd.events |= POLLOUT;
                if (now_nsec() - last_progress > (uint64_t) (o->idle * 1e9)) {
                        fprintf(stderr, "bench-socket: no publish confirmed for %.1f s; stopping\n", o->idle);
                        r = -ETIMEDOUT;
                        goto finish;
                }
                if (poll(&pfd, 1, 200) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto finish;
                }
                if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                got = pub_read(&pub);
                if (got < 0) {
                        r = (int) got;
                        goto finish;
                }
                if (got > 0)
                        last_progress = pub.acked_ns;
                if (pub.acked >= next_sample) {
                        long now_rss = rss_kb(o->server_pid);

                        next_sample += STALL_SAMPLE;
                        sampled_max = MAX(sampled_max, now_rss);
                        if (drop_at == 0 && o->proto == PROTO_SB) {
                                r = hub_info(o, info1);
                                if (r < 0)
                                        goto finish;
                                if (info1[2] > info0[2] || info1[3] > info0[3]) {
                                        drop_at = pub.acked;
                                        at_drop = now_rss;
                                }
                        }
                }
                if (drop_at == 0 && pub.zero_receivers > 0) {
                        drop_at = pub.first_zero_at;
                        at_drop = rss_kb(o->server_pid);
                }
        }
        /* What the server keeps once the flood is over (the subscriber is still connected, or was dropped). */
        g_usleep(300000);
        peak = peak_kb(o->server_pid, peak_ok);
        end = rss_kb(o->server_pid);
        if (o->proto == PROTO_SB && (r = hub_info(o, info1)) < 0)
                goto finish;
        /* And once the subscriber has gone: is the memory given back? (Two round trips: the hub
         * has run its loop at least once after it saw the close.) */
        fd_close(sub.fd);
        sub.fd = -1;
        g_usleep(300000);
        if (o->proto == PROTO_SB && ((r = hub_info(o, info0)) < 0 || (r = hub_info(o, info0)) < 0))
                goto finish;
        gone = rss_kb(o->server_pid);
        printf("mode=stall proto=%s size=%u count=%u window=%u rss_before_kb=%ld rss_peak_kb=%ld"
               " rss_sampled_max_kb=%ld rss_end_kb=%ld rss_gone_kb=%ld drop_at=%" PRIu64 " rss_at_drop_kb=%ld"
               " dropped=%" PRIu64 " slow_disconnects=%" PRIu64 " zero_receivers=%" PRIu64
               " errors=%" PRIu64 "\n",
               proto_to_string(o->proto), o->size, o->count, o->window, before, peak, sampled_max, end,
               gone, drop_at, at_drop, o->proto == PROTO_SB ? info1[2] - info0[2] : 0,
               o->proto == PROTO_SB ? info1[3] - info0[3] : 0, pub.zero_receivers, pub.errors);
        r = pub.errors > 0 ? -EIO : 0;
finish:
        fd_close(sub.fd);
        buf_deinit(&sub.in);
        pub_close(&pub);
        return r;
}

/* ---- main ---------------------------------------------------------------------- */

static void help(void) {
        printf("Usage:\n"
               "  bench-socket call --proto sb|echo|redis|nats (--socket PATH | --port N)\n"
               "                    [--depth N] [--duration S] [--warmup S] [--payload P]\n"
               "  bench-socket fanout --proto sb|redis|nats (--socket PATH | --port N)\n"
               "                    [--subscribers S] [--count N] [--window W] [--idle S]\n"
               "                    [--size B] [--topics T | --exact] [--compact] [--backlog N]\n"
               "                    [--server-pid PID]\n"
               "  bench-socket idle --proto sb|redis|nats (--socket PATH | --port N)\n"
               "                    --server-pid PID [--clients N]\n"
               "  bench-socket stall --proto sb|redis|nats (--socket PATH | --port N)\n"
               "                    --server-pid PID [--count N] [--size B] [--window W]\n"
               "  bench-socket info --socket PATH\n\n"
               "Defaults: depth 1, 2 s after 0.5 s warm-up, 1 subscriber, 50000 messages,\n"
               "window 64, payload 16 bytes, topic %s, 1000 idle clients.\n"
               "Prints one key=value line. See bench/README.md.\n",
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
               ARG_SUBSCRIBERS, ARG_COUNT, ARG_WINDOW, ARG_DURATION, ARG_WARMUP, ARG_IDLE,
               ARG_SIZE, ARG_TOPICS, ARG_EXACT, ARG_COMPACT, ARG_BACKLOG, ARG_CLIENTS, ARG_SERVER_PID };
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
                { "size",        required_argument, NULL, ARG_SIZE        },
                { "topics",      required_argument, NULL, ARG_TOPICS      },
                { "exact",       no_argument,       NULL, ARG_EXACT       },
                { "compact",     no_argument,       NULL, ARG_COMPACT     },
                { "backlog",     required_argument, NULL, ARG_BACKLOG     },
                { "clients",     required_argument, NULL, ARG_CLIENTS     },
                { "server-pid",  required_argument, NULL, ARG_SERVER_PID  },
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
                .size = TS_LEN,
                .clients = 1000,
        };
        struct rlimit rl;
        const char *mode;
        int c, r = 0;

        signal(SIGPIPE, SIG_IGN);
        /* One fd per connection: hundreds of subscribers or a thousand idle clients need more than 1024. */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
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
                case ARG_SIZE:
                        r = parse_uint(optarg, MAX_SIZE, &o.size);
                        if (r >= 0 && o.size < TS_LEN)
                                r = -EINVAL;
                        break;
                case ARG_TOPICS:
                        r = parse_uint(optarg, 1000000, &o.topics);
                        break;
                case ARG_EXACT:
                        o.exact = true;
                        break;
                case ARG_COMPACT:
                        o.compact = true;
                        break;
                case ARG_BACKLOG:
                        r = parse_uint(optarg, 1000000, &o.backlog);
                        break;
                case ARG_CLIENTS:
                        r = parse_uint(optarg, MAX_CLIENTS, &o.clients);
                        break;
                case ARG_SERVER_PID: {
                        unsigned pid;

                        r = parse_uint(optarg, INT32_MAX, &pid);
                        o.server_pid = (pid_t) pid;
                        break;
                }
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
        } else if (g_str_equal(mode, "idle") || g_str_equal(mode, "stall")) {
                if (o.proto == PROTO_ECHO || o.server_pid <= 0) {
                        fprintf(stderr, "bench-socket: %s needs sb, redis or nats and --server-pid\n", mode);
                        return EXIT_FAILURE;
                }
                r = g_str_equal(mode, "idle") ? mode_idle(&o) : mode_stall(&o);
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
