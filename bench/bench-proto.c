/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-proto.c: see bench-proto.h. The parsers read only what the
 * benchmarks need from each protocol (is it a reply, an error, a pushed
 * message and where is its payload) and never copy: a Reply points into the
 * input buffer until the caller consumes it.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <glib-unix.h>

#include "bench-proto.h"

/* A NATS or RESP line longer than this is a protocol error (INFO is ~600 B). */
#define MAX_LINE (64 * 1024)
/* No reply for this long during a load run means a hung server. */
#define REPLY_TIMEOUT_NS (10 * UINT64_C(1000000000))

static const char *const proto_names[] = {
        [PROTO_SB] = "sb",
        [PROTO_ECHO] = "echo",
        [PROTO_REDIS] = "redis",
        [PROTO_NATS] = "nats",
};

int proto_from_string(const char *s, Proto *ret) {
        for (size_t i = 0; i < G_N_ELEMENTS(proto_names); i++)
                if (g_str_equal(s, proto_names[i])) {
                        *ret = (Proto) i;
                        return 0;
                }
        return -EINVAL;
}

const char *proto_to_string(Proto p) {
        return proto_names[p];
}

uint64_t now_nsec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* ---- Buf ------------------------------------------------------------------ */

void buf_deinit(Buf *b) {
        g_free(b->data);
        *b = (Buf) {};
}

void buf_reserve(Buf *b, size_t more) {
        if (b->start > 0 && (b->start == b->len || b->len + more > b->cap)) {
                /* Compact first: consumed bytes are dead. */
                memmove(b->data, b->data + b->start, b->len - b->start);
                b->len -= b->start;
                b->start = 0;
        }
        if (b->len + more > b->cap) {
                b->cap = MAX(b->cap * 2, b->len + more);
                b->cap = MAX(b->cap, (size_t) 4096);
                b->data = g_realloc(b->data, b->cap);
        }
}

void buf_append(Buf *b, const void *p, size_t n) {
        buf_reserve(b, n);
        memcpy(b->data + b->len, p, n);
        b->len += n;
}

void buf_printf(Buf *b, const char *fmt, ...) {
        va_list ap;
        int n;

        for (;;) {
                size_t room = b->cap - b->len;

                va_start(ap, fmt);
                n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
                va_end(ap);
                g_assert(n >= 0);
                if ((size_t) n < room)
                        break;
                buf_reserve(b, (size_t) n + 1);
        }
        b->len += (size_t) n;
}

void buf_consume(Buf *b, size_t n) {
        g_assert(n <= buf_pending(b));
        b->start += n;
        if (b->start == b->len)
                b->start = b->len = 0;
}

ssize_t buf_read_fd(Buf *b, int fd) {
        ssize_t n;

        buf_reserve(b, 64 * 1024);
        do
                n = recv(fd, b->data + b->len, b->cap - b->len, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        b->len += (size_t) n;
        return n;
}

int buf_write_fd(Buf *b, int fd) {
        while (buf_pending(b) > 0) {
                ssize_t n = send(fd, buf_head(b), buf_pending(b), MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return -errno;
                }
                buf_consume(b, (size_t) n);
        }
        return 0;
}

/* ---- sockets ---------------------------------------------------------------- */

int connect_unix(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* Blocking connect (local, immediate), then nonblocking I/O. */
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        g_unix_set_fd_nonblocking(fd, TRUE, NULL);
        return fd;
}

int connect_tcp_loopback(unsigned port) {
        struct sockaddr_in sa = {
                .sin_family = AF_INET,
                .sin_port = htons((uint16_t) port),
                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
        };
        int fd, one = 1;

        if (port == 0 || port > 65535)
                return -EINVAL;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        /* What every NATS client does: small pipelined writes must not wait. */
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        g_unix_set_fd_nonblocking(fd, TRUE, NULL);
        return fd;
}

int wait_fd(int fd, short events, uint64_t deadline_ns) {
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                uint64_t now = now_nsec();
                int r;

                if (now >= deadline_ns)
                        return -ETIMEDOUT;
                r = poll(&p, 1, (int) ((deadline_ns - now) / 1000000 + 1));
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r > 0)
                        return 0;
        }
}

/* ---- requests ------------------------------------------------------------------ */

void proto_append_publish(Proto p, Buf *b, uint64_t id, const char *topic, const char *payload,
                          size_t payload_len) {
        switch (p) {
        case PROTO_SB:
        case PROTO_ECHO: {
                size_t at, body;
                uint32_t be;

                /* Reserve it all first: a buffer that grows may compact and move what it holds. */
                buf_reserve(b, 4 + 96 + strlen(topic) + payload_len + 24);
                at = b->len;
                b->len += 4;
                buf_printf(b, "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"method\":\"publish\","
                           "\"params\":{\"topic\":\"%s\",\"payload\":\"%.*s\"}}",
                           id, topic, (int) payload_len, payload);
                body = b->len - at - 4;
                g_assert(body <= UINT32_MAX);
                be = GUINT32_TO_BE((uint32_t) body);
                memcpy(b->data + at, &be, 4);
                break;
        }
        case PROTO_REDIS:
                buf_printf(b, "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n$%zu\r\n%.*s\r\n", strlen(topic), topic,
                           payload_len, (int) payload_len, payload);
                break;
        case PROTO_NATS:
                /* PING makes the server confirm it processed the PUB: the "reply". */
                buf_printf(b, "PUB %s %zu\r\n%.*s\r\nPING\r\n", topic, payload_len, (int) payload_len,
                           payload);
                break;
        }
}

/* ---- replies ------------------------------------------------------------------- */

/* Parses decimal digits at @p (up to @end); Return: the number of digits. */
static size_t parse_u64(const char *p, const char *end, uint64_t *ret) {
        uint64_t v = 0;
        size_t n = 0;

        while (p + n < end && g_ascii_isdigit(p[n]) && n < 20) {
                v = v * 10 + (uint64_t) (p[n] - '0');
                n++;
        }
        *ret = v;
        return n;
}

/* A JSON string's bytes after @key (e.g. "\"payload\":\""), up to the closing quote. */
static bool json_find_string(const char *body, size_t len, const char *key, const char **ret_p,
                             size_t *ret_len) {
        size_t klen = strlen(key);
        const char *p = memmem(body, len, key, klen), *q;

        if (!p)
                return false;
        p += klen;
        q = memchr(p, '"', len - (size_t) (p - body));
        if (!q)
                return false;
        *ret_p = p;
        *ret_len = (size_t) (q - p);
        return true;
}

/* @p + @n starts with the literal @lit: the end of it, or NULL. */
static const char *skip_lit(const char *p, const char *end, const char *lit, size_t n) {
        return (size_t) (end - p) >= n && memcmp(p, lit, n) == 0 ? p + n : NULL;
}
#define SKIP_LIT(p, end, lit) skip_lit(p, end, lit, sizeof(lit) - 1)

/*
 * A message notification as the hub writes it (its members in this order,
 * a topic and payload without escapes), read by its structure as the RESP
 * and NATS parsers read theirs, rather than searched for: true and @ret
 * set. Anything else: false, for the general path.
 */
static bool parse_message_fast(const char *body, size_t n, Reply *ret) {
        const char *end = body + n, *p, *q;

        p = SKIP_LIT(body, end, "{\"jsonrpc\":\"2.0\",\"method\":\"message\",\"params\":{\"subscription\":");
        if (!p)
                return false;
        while (p < end && g_ascii_isdigit(*p))
                p++;
        p = SKIP_LIT(p, end, ",\"topic\":\"");
        if (!p || !(q = memchr(p, '"', (size_t) (end - p))) || q[-1] == '\\')
                return false;
        p = SKIP_LIT(q, end, "\",\"payload\":\"");
        if (!p || !(q = memchr(p, '"', (size_t) (end - p))) || q[-1] == '\\')
                return false;
        ret->kind = 'm';
        ret->payload = p;
        ret->payload_len = (size_t) (q - p);
        return true;
}

/* A successful response as the hub writes it ({"jsonrpc":"2.0","id":N,"result":...): true and @ret set. */
static bool parse_result_fast(const char *body, size_t n, Reply *ret) {
        const char *end = body + n, *p;
        size_t digits;

        p = SKIP_LIT(body, end, "{\"jsonrpc\":\"2.0\",\"id\":");
        if (!p || (digits = parse_u64(p, end, &ret->id)) == 0 || !SKIP_LIT(p + digits, end, ",\"result\":"))
                return false;
        ret->kind = 'r';
        return true;
}

int frame_next(const char *data, size_t len, size_t *ret_len) {
        uint32_t be;
        size_t n;

        if (len < 4)
                return 0;
        memcpy(&be, data, 4);
        n = GUINT32_FROM_BE(be);
        if (n > BENCH_MAX_MESSAGE)
                return -EBADMSG;
        if (len < 4 + n)
                return 0;
        *ret_len = n;
        return 1;
}

static int parse_frame(const char *data, size_t len, Reply *ret) {
        const char *body, *p;
        size_t n;
        int r;

        r = frame_next(data, len, &n);
        if (r <= 0)
                return r;
        body = data + 4;
        *ret = (Reply) { .size = 4 + n };

        if (parse_message_fast(body, n, ret) || parse_result_fast(body, n, ret))
                return 1;
        if (memmem(body, n, "\"method\":\"message\"", 18)) {
                ret->kind = 'm';
                if (!json_find_string(body, n, "\"payload\":\"", &ret->payload, &ret->payload_len))
                        return -EBADMSG;
                return 1;
        }
        if (memmem(body, n, "\"method\":\"gap\"", 14)) {
                const char *f = memmem(body, n, "\"first_seq\":", 12), *l = memmem(body, n, "\"last_seq\":", 11);
                uint64_t first = 0, last = 0;

                ret->kind = 'g';
                /* id: how many sequence numbers the gap names. */
                if (f && l && parse_u64(f + 12, body + n, &first) > 0 && parse_u64(l + 11, body + n, &last) > 0 &&
                    last >= first)
                        ret->id = last - first + 1;
                return 1;
        }
        /* A response, or (from the echo server) our own request. */
        ret->kind = memmem(body, n, "\"error\":", 8) ? 'e' : 'r';
        p = memmem(body, n, "\"id\":", 5);
        if (p)
                (void) parse_u64(p + 5, body + n, &ret->id);
        return 1;
}

static const char *find_crlf(const char *p, size_t len) {
        const char *q = memchr(p, '\r', len);

        while (q && q + 1 < p + len && q[1] != '\n')
                q = memchr(q + 1, '\r', len - (size_t) (q + 1 - p));
        if (!q || q + 1 >= p + len)
                return NULL;
        return q;
}

/* One RESP item that is not an array: its end (after CRLF), or NULL for more. */
static int resp_item(const char *p, size_t len, const char **ret_str, size_t *ret_len, size_t *ret_size) {
        const char *eol = find_crlf(p, len);
        uint64_t n;

        if (!eol)
                return len > MAX_LINE ? -EBADMSG : 0;
        *ret_str = p + 1;
        *ret_len = (size_t) (eol - p - 1);
        *ret_size = (size_t) (eol + 2 - p);
        if (p[0] != '$')
                return 1;
        if (p[1] == '-') {              /* null bulk string */
                *ret_len = 0;
                return 1;
        }
        if (parse_u64(p + 1, eol, &n) == 0 || n > BENCH_MAX_MESSAGE)
                return -EBADMSG;
        if ((size_t) (eol + 2 - p) + n + 2 > len)
                return 0;
        *ret_str = eol + 2;
        *ret_len = (size_t) n;
        *ret_size = (size_t) (eol + 2 - p) + n + 2;
        return 1;
}

static int parse_resp(const char *data, size_t len, Reply *ret) {
        const char *eol, *items[4] = {};
        size_t lens[4] = {}, at;
        uint64_t count;
        int r;

        if (len == 0)
                return 0;
        *ret = (Reply) {};
        switch (data[0]) {
        case ':':
        case '+':
        case '-':
        case '$': {
                const char *s;
                size_t l;

                r = resp_item(data, len, &s, &l, &ret->size);
                if (r <= 0)
                        return r;
                ret->kind = data[0] == '-' ? 'e' : data[0] == '+' ? 'i' : 'r';
                /* An integer reply's value (PUBLISH: the receivers) goes in id. */
                if (data[0] == ':')
                        (void) parse_u64(s, s + l, &ret->id);
                return 1;
        }
        case '*':
                break;
        default:
                return -EBADMSG;
        }

        eol = find_crlf(data, len);
        if (!eol)
                return len > MAX_LINE ? -EBADMSG : 0;
        if (parse_u64(data + 1, eol, &count) == 0 || count > 16)
                return -EBADMSG;
        at = (size_t) (eol + 2 - data);
        for (uint64_t i = 0; i < count; i++) {
                const char *s;
                size_t l, size;

                if (at >= len)
                        return 0;
                if (data[at] == '*')
                        return -EBADMSG;        /* nested: never sent to a subscriber */
                r = resp_item(data + at, len - at, &s, &l, &size);
                if (r <= 0)
                        return r;
                if (i < 4) {
                        items[i] = s;
                        lens[i] = l;
                }
                at += size;
        }
        ret->size = at;
        if (count == 3 && lens[0] == 7 && memcmp(items[0], "message", 7) == 0) {
                ret->kind = 'm';
                ret->payload = items[2];
                ret->payload_len = lens[2];
        } else if (count == 4 && lens[0] == 8 && memcmp(items[0], "pmessage", 8) == 0) {
                /* PSUBSCRIBE: pmessage <pattern> <channel> <payload> */
                ret->kind = 'm';
                ret->payload = items[3];
                ret->payload_len = lens[3];
        } else if (count >= 1 && ((lens[0] == 9 && memcmp(items[0], "subscribe", 9) == 0) ||
                                  (lens[0] == 10 && memcmp(items[0], "psubscribe", 10) == 0)))
                ret->kind = 's';
        else
                ret->kind = 'i';
        return 1;
}

static int parse_nats(const char *data, size_t len, Reply *ret) {
        const char *eol = find_crlf(data, len);
        size_t line;

        if (!eol)
                return len > MAX_LINE ? -EBADMSG : 0;
        line = (size_t) (eol - data);
        *ret = (Reply) { .size = line + 2 };

        if (line >= 4 && memcmp(data, "MSG ", 4) == 0) {
                /* MSG <subject> <sid> [reply-to] <#bytes> */
                const char *p = eol;
                uint64_t n;

                while (p > data && p[-1] != ' ')
                        p--;
                if (parse_u64(p, eol, &n) == 0 || n > BENCH_MAX_MESSAGE)
                        return -EBADMSG;
                if (line + 2 + n + 2 > len)
                        return 0;
                ret->kind = 'm';
                ret->payload = eol + 2;
                ret->payload_len = (size_t) n;
                ret->size = line + 2 + n + 2;
                return 1;
        }
        if (line == 4 && memcmp(data, "PONG", 4) == 0)
                ret->kind = 'r';
        else if (line == 4 && memcmp(data, "PING", 4) == 0)
                ret->kind = 'p';
        else if (line >= 4 && memcmp(data, "-ERR", 4) == 0) {
                ret->kind = 'e';
                fprintf(stderr, "bench: nats: %.*s\n", (int) line, data);
        } else
                ret->kind = 'i';       /* INFO, +OK */
        return 1;
}

int proto_parse(Proto p, const char *data, size_t len, Reply *ret) {
        switch (p) {
        case PROTO_SB:
        case PROTO_ECHO:
                return parse_frame(data, len, ret);
        case PROTO_REDIS:
                return parse_resp(data, len, ret);
        case PROTO_NATS:
                return parse_nats(data, len, ret);
        }
        return -EINVAL;
}

int nats_handshake(int fd, Buf *in, uint64_t deadline_ns) {
        Buf out = {};
        int r;

        buf_printf(&out, "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"bench\"}\r\nPING\r\n");
        for (;;) {
                Reply rep;
                ssize_t n;

                r = buf_write_fd(&out, fd);
                if (r < 0)
                        goto finish;
                r = wait_fd(fd, buf_pending(&out) > 0 ? POLLIN | POLLOUT : POLLIN, deadline_ns);
                if (r < 0)
                        goto finish;
                n = buf_read_fd(in, fd);
                if (n == 0) {
                        r = -ECONNRESET;
                        goto finish;
                }
                if (n < 0 && n != -EAGAIN) {
                        r = (int) n;
                        goto finish;
                }
                while ((r = proto_parse(PROTO_NATS, buf_head(in), buf_pending(in), &rep)) > 0) {
                        buf_consume(in, rep.size);
                        if (rep.kind == 'r') {
                                r = 0;
                                goto finish;
                        }
                        if (rep.kind == 'e') {
                                r = -EPROTO;
                                goto finish;
                        }
                        if (rep.kind == 'p')
                                buf_printf(&out, "PONG\r\n");
                }
                if (r < 0)
                        goto finish;
        }
finish:
        if (r == 0)
                r = buf_write_fd(&out, fd);
        buf_deinit(&out);
        return r;
}

/* ---- load loop ------------------------------------------------------------------ */

void load_result_deinit(LoadResult *r) {
        g_clear_pointer(&r->latencies, g_array_unref);
}

int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

double percentile_us(const GArray *sorted, double p) {
        size_t rank;

        if (sorted->len == 0)
                return 0;
        rank = (size_t) (p / 100.0 * sorted->len + 0.999999);
        rank = CLAMP(rank, (size_t) 1, (size_t) sorted->len);
        return g_array_index(sorted, uint64_t, rank - 1) / 1000.0;
}

int load_run(int fd, Proto p, unsigned depth, double warmup, double duration, const char *topic,
             const char *payload, LoadResult *ret) {
        g_autofree uint64_t *sent = g_new(uint64_t, depth);
        g_autofree uint64_t *ids = g_new(uint64_t, depth);
        size_t payload_len = strlen(payload);
        unsigned head = 0, in_flight = 0;
        uint64_t next_id = 1, now = now_nsec(), last_progress = now;
        uint64_t warm_at = now + (uint64_t) (warmup * 1e9);
        uint64_t deadline = warm_at + (uint64_t) (duration * 1e9);
        LoadResult res = {
                .latencies = g_array_sized_new(FALSE, FALSE, sizeof(uint64_t), 1 << 16),
        };
        Buf in = {}, out = {};
        int r = 0;

        g_assert(depth > 0);
        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                Reply rep;
                ssize_t n;

                now = now_nsec();
                while (now < deadline && in_flight < depth) {
                        unsigned slot = (head + in_flight) % depth;

                        proto_append_publish(p, &out, next_id, topic, payload, payload_len);
                        ids[slot] = next_id++;
                        sent[slot] = now;
                        if (res.start_ns == 0 && now >= warm_at)
                                res.start_ns = now;
                        in_flight++;
                }
                r = buf_write_fd(&out, fd);
                if (r < 0)
                        break;
                if (in_flight == 0 && now >= deadline)
                        break;
                if (now - last_progress > REPLY_TIMEOUT_NS) {
                        r = -ETIMEDOUT;
                        break;
                }

                if (buf_pending(&out) > 0)
                        pfd.events |= POLLOUT;
                if (poll(&pfd, 1, 1000) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;

                n = buf_read_fd(&in, fd);
                if (n == -EAGAIN)
                        continue;
                if (n <= 0) {
                        r = n == 0 ? -ECONNRESET : (int) n;
                        break;
                }
                now = now_nsec();
                while ((r = proto_parse(p, buf_head(&in), buf_pending(&in), &rep)) > 0) {
                        buf_consume(&in, rep.size);
                        if (rep.kind == 'p') {
                                buf_printf(&out, "PONG\r\n");
                                continue;
                        }
                        if (rep.kind != 'r' && rep.kind != 'e')
                                continue;
                        if (in_flight == 0) {
                                r = -EBADMSG;
                                break;
                        }
                        if ((p == PROTO_SB || p == PROTO_ECHO) && rep.id != ids[head]) {
                                fprintf(stderr, "bench: reply to id %" PRIu64 ", expected %" PRIu64 "\n",
                                        rep.id, ids[head]);
                                r = -EBADMSG;
                                break;
                        }
                        if (rep.kind == 'e' && res.errors++ == 0)
                                fprintf(stderr, "bench: %s: an error reply\n", proto_to_string(p));
                        if (rep.kind == 'r' && res.start_ns != 0 && sent[head] >= res.start_ns) {
                                uint64_t lat = now - sent[head];

                                g_array_append_val(res.latencies, lat);
                                res.last_ns = now;
                        }
                        res.completed++;
                        head = (head + 1) % depth;
                        in_flight--;
                        last_progress = now;
                }
                if (r < 0)
                        break;
        }

        buf_deinit(&in);
        buf_deinit(&out);
        if (r < 0) {
                load_result_deinit(&res);
                return r;
        }
        *ret = res;
        return 0;
}
