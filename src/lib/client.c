/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * client.c: libswitchboard's connection: output batching, blocking and
 * asynchronous requests, and events dispatched to callbacks.
 *
 * Output: every request is framed into one buffer (c->out). A request
 * that expects an answer is written at once (the caller waits for it);
 * pipelined ones (notifications: publish with SB_NO_REPLY, replies) wait
 * until SB_WRITE_BATCH bytes are queued, the loop calls sb_process(), or
 * sb_flush(): many messages per send(). Past SB_MAX_QUEUED the caller
 * waits for the socket, reading meanwhile so that the hub, which stops
 * reading a client whose answers it cannot write, never deadlocks with us.
 *
 * Input: frames are read by the proto layer's reader and parsed by its
 * strict JSON reader. A blocking call reads until its answer comes; every
 * other frame read meanwhile (events, answers to asynchronous requests)
 * is kept in c->stash, in order, and dispatched by the next sb_process()
 * before anything read later: callbacks never run inside a blocking call,
 * and each subscription sees its messages in the hub's order. A frame is
 * copied before it is dispatched, since a callback may make a blocking
 * call that reads more.
 */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/lib-private.h"
#include "proto/json-write.h"
#include "proto/utf8.h"
#include "shm/shm-client.h"
#include "util/inet.h"

#define READ_CHUNK (64 * 1024)
/* Reads per sb_process(): a busy socket must not keep a shared loop to itself. */
#define MAX_READS_PER_PROCESS 16

static int64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void string_free(gpointer s) {
        g_string_free(s, TRUE);
}

/* ---- errors --------------------------------------------------------------- */

static void set_error(sb_client *c, const char *name, const char *message, int code) {
        g_free(c->error_name);
        g_free(c->error_message);
        c->error_name = g_strdup(name);
        c->error_message = g_strdup(message ?: "");
        c->error_code = code;
}

/* Remember @message as the last error; return @r. */
int client_fail(sb_client *c, int r, const char *message) {
        set_error(c, NULL, message ?: g_strerror(-r), 0);
        return r;
}

static const struct {
        const char *name;
        int errno_;
} hub_errors[] = {
        { "InvalidTopic", EINVAL },     { "InvalidPattern", EINVAL }, { "InvalidKey", EINVAL },
        { "InvalidQueue", EINVAL },     { "InvalidName", EINVAL },    { "NotFound", ENOENT },
        { "Conflict", ESTALE },         { "LimitExceeded", E2BIG },   { "NoJob", EAGAIN },
        { "StorageFailed", EIO },       { "NoServer", ENXIO },        { "Timeout", ETIMEDOUT },
        { "ServerGone", ECONNABORTED }, { "ServerError", EREMOTEIO }, { "NotText", EILSEQ },
        { "AccessDenied", EACCES },
};

/* JSON-RPC's own errors have no name: their code says which. */
static const struct {
        int code;
        int errno_;
} jsonrpc_errors[] = {
        { -32700, EINVAL }, { -32600, EINVAL }, { -32601, EOPNOTSUPP }, { -32602, EINVAL }, { -32603, EIO },
};

#define HUB_ERROR_PREFIX "org.switchboard.Hub1.Error."

/* The error object at token @error of @jp as the last error. Return: its errno. */
int client_hub_error(sb_client *c, JsonParser *jp, int error) {
        bool object = json_token(jp, error)->type == JSON_OBJECT;
        int code_i = object ? json_object_find(jp, error, "code") : -1;
        int message_i = object ? json_object_find(jp, error, "message") : -1;
        int data = object ? json_object_find(jp, error, "data") : -1, name_i = -1;
        const char *name = NULL, *message = NULL;
        int64_t code = 0;
        size_t len;
        int r = -EREMOTEIO;

        if (code_i >= 0)
                (void) json_int64(jp, code_i, &code);
        if (message_i >= 0)
                (void) json_string(jp, message_i, &message, &len);
        if (data >= 0 && json_token(jp, data)->type == JSON_OBJECT)
                name_i = json_object_find(jp, data, "name");
        if (name_i >= 0)
                (void) json_string(jp, name_i, &name, &len);

        if (name && g_str_has_prefix(name, HUB_ERROR_PREFIX)) {
                for (size_t i = 0; i < G_N_ELEMENTS(hub_errors); i++)
                        if (g_str_equal(name + strlen(HUB_ERROR_PREFIX), hub_errors[i].name))
                                r = -hub_errors[i].errno_;
        } else if (!name)
                for (size_t i = 0; i < G_N_ELEMENTS(jsonrpc_errors); i++)
                        if (code == jsonrpc_errors[i].code)
                                r = -jsonrpc_errors[i].errno_;
        /* A code of 0 would read as "no error": the hub never sends one. */
        set_error(c, name, message ?: "the hub answered with an error", code ? (int) code : -32603);
        return r;
}

/* ---- connecting ------------------------------------------------------------ */

SB_EXPORT char *sb_default_socket_path(void) {
        const char *env = getenv("SWITCHBOARD_SOCKET"), *runtime = getenv("XDG_RUNTIME_DIR");
        g_autofree char *dir = NULL;

        if (env && env[0])
                return strdup(env);
        if (runtime && runtime[0])
                dir = g_strdup(runtime);
        else {
                dir = g_strdup_printf("/run/user/%u", (unsigned) getuid());
                if (access(dir, F_OK) < 0)
                        return NULL;
        }
        return g_strdup_printf("%s/switchboard/socket", dir);
}

SB_EXPORT int sb_open_socket(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        g_autofree char *fallback = NULL;
        int fd;

        if (!path) {
                path = fallback = sb_default_socket_path();
                if (!path)
                        return -ENOENT;
        }
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* Non-blocking connect on a Unix socket: EAGAIN means the backlog is full; wait for it. */
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0 && errno != EINPROGRESS && errno != EAGAIN) {
                int r = -errno;

                close(fd);
                return r;
        }
        return fd;
}

SB_EXPORT int sb_connect_fd(int fd, sb_client **ret) {
        sb_client *c;

        if (fd < 0 || !ret) {
                if (fd >= 0)
                        close(fd);
                return -EINVAL;
        }
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        c = g_new0(sb_client, 1);
        c->fd = fd;
        frame_reader_init(&c->reader, SB_MAX_FRAME);
        c->out = g_byte_array_new();
        c->pending = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
        g_queue_init(&c->stash);
        c->listeners = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
        c->served = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        c->timeout_ms = SB_DEFAULT_TIMEOUT_MS;
        c->cancel_fd = -1;
        c->io_events = POLLIN;
        c->request = g_string_sized_new(256);
        c->frame = g_string_sized_new(256);
        c->event_jp = json_parser_new();
        c->decoded = g_byte_array_new();
        c->answer.text = g_string_sized_new(256);
        c->answer.jp = json_parser_new();
        c->fds = g_array_new(FALSE, FALSE, sizeof(int));
        *ret = c;
        return 0;
}

SB_EXPORT int sb_connect(const char *path, sb_client **ret) {
        int fd;

        if (!ret)
                return -EINVAL;
        fd = sb_open_socket(path);
        if (fd < 0)
                return fd;
        return sb_connect_fd(fd, ret);
}

SB_EXPORT int sb_open_tcp(const char *address) {
        InetAddress a;
        int fd, one = 1, r;

        if (!address)
                return -EINVAL;
        r = inet_address_parse(address, INET_NAMES, &a);
        if (r < 0)
                return -EINVAL;
        fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* Blocking until connected; sb_connect_fd() makes it non-blocking. */
        if (connect(fd, (struct sockaddr *) &a.ss, a.len) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        /* Requests and answers are small and awaited: no Nagle delay. */
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

SB_EXPORT int sb_authenticate(sb_client *c, const char *token) {
        Answer *a;
        uint64_t id;
        int r;

        if (!token)
                token = getenv("SWITCHBOARD_TOKEN");
        if (!token || !token[0])
                return client_fail(c, -ENOKEY, "no token: give one, or set $SWITCHBOARD_TOKEN");
        r = check_text(c, token, "the token must be UTF-8 text");
        if (r < 0)
                return r;
        request_begin(c, "hub.auth", true, &id);
        json_append_member(c->request, "token", token);
        request_end(c);
        r = client_enqueue(c);
        if (r >= 0)
                r = client_call(c, id, 0, &a);
        return r;
}

SB_EXPORT int sb_connect_tcp(const char *address, const char *token, sb_client **ret) {
        sb_client *c;
        int fd, r;

        if (!ret)
                return -EINVAL;
        fd = sb_open_tcp(address);
        if (fd < 0)
                return fd;
        r = sb_connect_fd(fd, &c);
        if (r < 0)
                return r;
        r = sb_authenticate(c, token);
        if (r < 0) {
                sb_close(c);
                return r;
        }
        *ret = c;
        return 0;
}

SB_EXPORT void sb_close(sb_client *c) {
        if (!c)
                return;
        /* Pipelined messages the caller queued are sent, as far as the timeout allows. */
        if (!c->eof && !c->broken && c->out->len > c->out_start)
                (void) sb_flush(c);
        /* Rings the caller has not closed are unmapped now; the hub drops them with the connection. */
        while (c->rings)
                ring_client_gone(c->rings->data);
        client_close_fds(c);
        g_array_unref(c->fds);
        close(c->fd);
        frame_reader_deinit(&c->reader);
        g_byte_array_unref(c->out);
        g_hash_table_unref(c->pending);
        g_queue_clear_full(&c->stash, string_free);
        g_hash_table_unref(c->listeners);
        g_hash_table_unref(c->served);
        g_free(c->error_name);
        g_free(c->error_message);
        g_string_free(c->request, TRUE);
        g_string_free(c->frame, TRUE);
        json_parser_free(c->event_jp);
        g_byte_array_unref(c->decoded);
        g_string_free(c->answer.text, TRUE);
        json_parser_free(c->answer.jp);
        g_free(c);
}

SB_EXPORT void sb_set_timeout(sb_client *c, int timeout_ms) {
        c->timeout_ms = timeout_ms > 0 ? timeout_ms : SB_DEFAULT_TIMEOUT_MS;
}

SB_EXPORT void sb_set_cancel_fd(sb_client *c, int fd) {
        c->cancel_fd = fd;
}

SB_EXPORT const char *sb_error_name(const sb_client *c) {
        return c->error_name;
}

SB_EXPORT const char *sb_error_message(const sb_client *c) {
        return c->error_message ?: "";
}

SB_EXPORT int sb_error_code(const sb_client *c) {
        return c->error_code;
}

SB_EXPORT void sb_set_event_handler(sb_client *c, sb_event_fn fn, void *userdata) {
        c->fallback = (Listener) { fn, userdata };
}

SB_EXPORT int sb_get_fd(const sb_client *c) {
        return c->fd;
}

SB_EXPORT int sb_get_events(const sb_client *c) {
        return POLLIN | (c->out->len > c->out_start ? POLLOUT : 0) |
               (c->stash.length > 0 || frame_reader_has_frame(&c->reader) ? SB_PENDING : 0);
}

SB_EXPORT void sb_set_io_hook(sb_client *c, void (*fn)(sb_client *c, int events, void *userdata), void *userdata) {
        c->io_hook = fn;
        c->io_userdata = userdata;
        c->io_events = sb_get_events(c);
}

static void update_io(sb_client *c) {
        int events = sb_get_events(c);

        if (events == c->io_events)
                return;
        c->io_events = events;
        if (c->io_hook)
                c->io_hook(c, events, c->io_userdata);
}

/* ---- I/O ----------------------------------------------------------------------- */

static int lost(sb_client *c, int r) {
        if (r == -ECONNRESET || r == -EPIPE || r == 0)
                return client_fail(c, -ECONNRESET, "the hub closed the connection");
        return client_fail(c, r, NULL);
}

/* Write what the socket takes now. Return: 0, or -ECONNRESET and the like. */
static int write_some(sb_client *c) {
        c->full_at = 0;
        while (c->out->len > c->out_start) {
                ssize_t n = send(c->fd, c->out->data + c->out_start, c->out->len - c->out_start,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                c->full_at = c->out->len - c->out_start;
                                break;
                        }
                        c->broken = true;
                        return lost(c, -errno);
                }
                c->out_start += (size_t) n;
        }
        if (c->out_start == c->out->len) {
                /* A buffer grown by one big burst is not kept. */
                if (c->out->len > SB_MAX_QUEUED) {
                        g_byte_array_unref(c->out);
                        c->out = g_byte_array_new();
                } else
                        g_byte_array_set_size(c->out, 0);
                c->out_start = 0;
        } else if (c->out_start > SB_WRITE_BATCH) {
                g_byte_array_remove_range(c->out, 0, (guint) c->out_start);
                c->out_start = 0;
        }
        update_io(c);
        return 0;
}

/* One read into the frame reader. Return: bytes read, 0 at EOF, -EAGAIN, or -errno. */
static ssize_t read_some(sb_client *c) {
        char buf[READ_CHUNK];
        int fds[4];
        size_t n_fds = 0;
        ssize_t n;

        if (c->eof)
                return 0;
        /* recvmsg(): a ring's fds come with the first byte of its shm.* answer. */
        n = shm_recv(c->fd, buf, sizeof buf, fds, G_N_ELEMENTS(fds), &n_fds);
        if (n_fds > 0)
                g_array_append_vals(c->fds, fds, (guint) n_fds);
        if (n < 0)
                return n == -ECONNRESET ? 0 : n;
        if (n == 0)
                c->eof = true;
        else
                frame_reader_feed(&c->reader, buf, (size_t) n);
        return n;
}

/*
 * Wait until @deadline (ms, -1: none) for the socket to take output or
 * bring input, or the cancel fd; then write and read once.
 * Return: 0, -ETIMEDOUT, -ECANCELED, or a lost connection's errno.
 */
static int pump(sb_client *c, int64_t deadline) {
        struct pollfd p[2] = {
                { .fd = c->fd, .events = (short) sb_get_events(c) },
                { .fd = c->cancel_fd, .events = POLLIN },
        };
        int timeout = -1, r;

        if (deadline >= 0) {
                int64_t left = deadline - now_ms();

                if (left <= 0)
                        return client_fail(c, -ETIMEDOUT, "the hub did not answer in time");
                timeout = (int) MIN(left, (int64_t) G_MAXINT);
        }
        r = poll(p, c->cancel_fd >= 0 ? 2 : 1, timeout);
        if (r < 0)
                return errno == EINTR ? 0 : client_fail(c, -errno, NULL);
        if (r == 0)
                return 0;
        if (c->cancel_fd >= 0 && (p[1].revents & POLLIN))
                return client_fail(c, -ECANCELED, "canceled");
        if (p[0].revents & POLLOUT) {
                r = write_some(c);
                if (r < 0)
                        return r;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t n = read_some(c);

                if (n < 0 && n != -EAGAIN)
                        return lost(c, (int) n);
        }
        return 0;
}

static int64_t deadline_after(int ms) {
        return ms < 0 ? -1 : now_ms() + ms;
}

/* ---- building requests ------------------------------------------------------------- */

/* Start a request for @method in c->request; with an id (an answer is awaited) in @ret_id. */
void request_begin(sb_client *c, const char *method, bool with_id, uint64_t *ret_id) {
        GString *s = c->request;

        g_string_truncate(s, 0);
        json_append_lit(s, "{\"jsonrpc\":\"2.0\",");
        if (with_id) {
                *ret_id = ++c->next_id;
                json_append_lit(s, "\"id\":");
                json_write_u64(s, *ret_id);
                json_append_lit(s, ",");
        }
        json_append_lit(s, "\"method\":");
        json_write_cstr(s, method);
        json_append_lit(s, ",\"params\":{");
}

/* Close the params object and the request. */
void request_end(sb_client *c) {
        json_append_lit(c->request, "}}");
}

/*
 * Frame c->request into the output. A request awaiting an answer is
 * written at once; pipelined ones once a batch is queued.
 * Return: 0, -ENOTCONN after the hub closed, or the errors of sb_flush().
 */
int client_enqueue(sb_client *c) {
        size_t pending;

        if (c->eof || c->broken)
                return client_fail(c, -ENOTCONN, "the hub closed the connection");
        frame_append(c->out, c->request->str, c->request->len);
        pending = c->out->len - c->out_start;
        if (pending > SB_MAX_QUEUED)
                return sb_flush(c);
        /* A batch's worth, or (when the socket was full) a batch more than it refused: not a
         * send() per message while the hub catches up; the loop's POLLOUT writes meanwhile. */
        if (pending < SB_WRITE_BATCH || (c->full_at > 0 && pending < c->full_at + SB_WRITE_BATCH)) {
                update_io(c);
                return 0;
        }
        return write_some(c);
}

/* ---- answers and events ------------------------------------------------------------ */

/* Whether the parsed frame is a notification (a method and no id). */
static bool is_notification(JsonParser *jp) {
        return json_object_find(jp, 0, "method") >= 0 && json_object_find(jp, 0, "id") < 0;
}

static bool answer_id(JsonParser *jp, uint64_t *ret) {
        int i = json_object_find(jp, 0, "id");

        return i >= 0 && json_uint64(jp, i, ret) >= 0;
}

static int parse_frame(JsonParser *jp, const char *text, size_t len) {
        if (json_parse(jp, text, len, 64, NULL) < 0 ||
            json_token(jp, 0)->type != JSON_OBJECT)
                return -EBADMSG;
        return 0;
}

static int bad_frame(sb_client *c) {
        c->broken = true;
        return client_fail(c, -EBADMSG, "the hub sent something that is not a JSON-RPC frame");
}

/*
 * Wait for the answer to request @id, written already or queued; keep
 * whatever else comes for sb_process().
 * @wait_ms: how long the hub itself may take (a call's or reserve's own timeout)
 * Return: 0 and the answer's result in *ret (valid until the next blocking
 * call), or the hub's error as an errno, -ETIMEDOUT, -ECANCELED, -ECONNRESET.
 */
int client_call(sb_client *c, uint64_t id, int wait_ms, Answer **ret) {
        int64_t deadline = deadline_after(c->timeout_ms + MAX(wait_ms, 0));
        Answer *a = &c->answer;
        int r;

        r = write_some(c);
        if (r < 0)
                return r;
        for (;;) {
                const char *body;
                size_t len;
                uint64_t rid;

                r = frame_reader_next(&c->reader, &body, &len);
                if (r < 0)
                        return bad_frame(c);
                if (r > 0) {
                        g_string_truncate(a->text, 0);
                        g_string_append_len(a->text, body, (gssize) len);
                        if (parse_frame(a->jp, a->text->str, len) < 0)
                                return bad_frame(c);
                        if (is_notification(a->jp) || !answer_id(a->jp, &rid) || rid != id) {
                                g_queue_push_tail(&c->stash, g_string_new_len(body, (gssize) len));
                                continue;
                        }
                        int error = json_object_find(a->jp, 0, "error");

                        update_io(c);
                        if (error >= 0)
                                return client_hub_error(c, a->jp, error);
                        a->result = json_object_find(a->jp, 0, "result");
                        if (a->result < 0)
                                return bad_frame(c);
                        *ret = a;
                        return 0;
                }
                if (c->eof || c->broken)
                        return lost(c, 0);
                r = pump(c, deadline);
                if (r < 0)
                        return r;
        }
}

/* Member @name of the answer's result, or -1 (also when the result is not an object). */
int answer_member(Answer *a, const char *name) {
        return json_token(a->jp, a->result)->type == JSON_OBJECT ? json_object_find(a->jp, a->result, name) : -1;
}

int answer_u64(Answer *a, const char *name, uint64_t *ret) {
        int i = answer_member(a, name);

        return i >= 0 && json_uint64(a->jp, i, ret) >= 0 ? 0 : -EBADMSG;
}

int answer_text(Answer *a, const char *name, char **ret) {
        int i = answer_member(a, name);
        const char *s;
        size_t len;

        if (i < 0 || json_string(a->jp, i, &s, &len) < 0)
                return -EBADMSG;
        *ret = g_strndup(s, len);
        return 0;
}

/* Bytes "name" (text) or "name_base64" of the object at @o, base64 decoded into c->decoded. */
static int read_bytes(sb_client *c, JsonParser *jp, int o, const char *name, const void **ret_data,
                      size_t *ret_size, bool *ret_binary) {
        return json_bytes_member(jp, o, name, c->decoded, ret_data, ret_size, ret_binary) < 0 ? -EBADMSG : 0;
}

/* Bytes of the answer as a new NUL-terminated block (free() it). */
int answer_bytes(sb_client *c, Answer *a, const char *name, void **ret_data, size_t *ret_size) {
        const void *data;
        size_t size;
        bool binary;
        char *copy;

        if (read_bytes(c, a->jp, a->result, name, &data, &size, &binary) < 0)
                return -EBADMSG;
        if (ret_data) {
                copy = malloc(size + 1);
                if (!copy)
                        return -ENOMEM;
                memcpy(copy, data, size);
                copy[size] = '\0';
                *ret_data = copy;
        }
        if (ret_size)
                *ret_size = size;
        return 0;
}

static const char *get_string(JsonParser *jp, int o, const char *name) {
        int i = json_object_find(jp, o, name);
        const char *s;
        size_t len;

        return i >= 0 && json_string(jp, i, &s, &len) >= 0 ? s : NULL;
}

static bool get_u64(JsonParser *jp, int o, const char *name, uint64_t *ret) {
        int i = json_object_find(jp, o, name);

        return i >= 0 && json_uint64(jp, i, ret) >= 0;
}

static bool get_bool(JsonParser *jp, int o, const char *name) {
        int i = json_object_find(jp, o, name);

        return i >= 0 && json_token(jp, i)->type == JSON_BOOL && json_token(jp, i)->boolean;
}

static void read_sender(JsonParser *jp, int params, sb_sender *s) {
        int o = json_object_find(jp, params, "sender");
        uint64_t n;

        if (o < 0 || json_token(jp, o)->type != JSON_OBJECT)
                return;
        s->transport = get_string(jp, o, "transport");
        (void) get_u64(jp, o, "client", &s->client);
        s->uid = get_u64(jp, o, "uid", &n) ? (int64_t) n : -1;
        s->pid = get_u64(jp, o, "pid", &n) ? (int64_t) n : -1;
        s->name = get_string(jp, o, "name");
        s->address = get_string(jp, o, "address");
}

/* A notification as an event, to its listener. Unknown or incomplete ones are skipped. */
static int dispatch_event(sb_client *c, JsonParser *jp) {
        const char *method = get_string(jp, 0, "method");
        int params = json_object_find(jp, 0, "params");
        const char *bytes_name = "payload";
        sb_sender sender = { .uid = -1, .pid = -1 };
        sb_event e = {};
        Listener *l = NULL;
        uint64_t n = 0;
        bool ok;

        if (!method || params < 0 || json_token(jp, params)->type != JSON_OBJECT)
                return 0;
        if (g_str_equal(method, "message")) {
                e.kind = SB_EVENT_MESSAGE;
                e.topic = get_string(jp, params, "topic");
                ok = e.topic && get_u64(jp, params, "subscription", &e.id) && get_u64(jp, params, "seq", &e.seq);
                e.retained = get_bool(jp, params, "retained");
        } else if (g_str_equal(method, "key_changed")) {
                e.kind = SB_EVENT_KEY;
                bytes_name = "value";
                e.topic = get_string(jp, params, "key");
                ok = e.topic && get_u64(jp, params, "watch", &e.id) && get_u64(jp, params, "revision", &e.seq);
                e.deleted = get_bool(jp, params, "deleted");
        } else if (g_str_equal(method, "request")) {
                e.kind = SB_EVENT_REQUEST;
                e.topic = get_string(jp, params, "name");
                ok = e.topic && get_u64(jp, params, "id", &e.call);
                if (ok)
                        l = g_hash_table_lookup(c->served, e.topic);
        } else if (g_str_equal(method, "traffic")) {
                e.kind = SB_EVENT_TRAFFIC;
                e.topic = get_string(jp, params, "name");
                e.event = get_string(jp, params, "event");
                e.error = get_string(jp, params, "error");
                e.message = get_string(jp, params, "message");
                if (get_u64(jp, params, "attempts", &n))
                        e.attempts = (uint32_t) MIN(n, (uint64_t) UINT32_MAX);
                ok = e.topic && e.event && get_u64(jp, params, "monitor", &e.id) &&
                     get_u64(jp, params, "id", &e.call) && get_u64(jp, params, "seq", &e.seq);
        } else if (g_str_equal(method, "gap")) {
                e.kind = SB_EVENT_GAP;
                ok = get_u64(jp, params, "id", &e.id) && get_u64(jp, params, "first_seq", &e.first_seq) &&
                     get_u64(jp, params, "last_seq", &e.last_seq);
        } else
                return 0;
        if (!ok)
                return 0;

        if (e.kind != SB_EVENT_GAP &&
            read_bytes(c, jp, params, bytes_name, &e.data, &e.size, &e.binary) < 0)
                e.data = "";
        read_sender(jp, params, &sender);
        e.sender = sender.transport ? &sender : NULL;
        if (!l && e.id != 0)
                l = g_hash_table_lookup(c->listeners, &e.id);
        if (!l || !l->fn)
                l = &c->fallback;
        if (l->fn)
                l->fn(c, &e, l->userdata);
        return 1;
}

/* Where the JSON text of value @i is in the parsed source (a string's quotes included). */
static void value_source(JsonParser *jp, int i, size_t *ret_start, size_t *ret_len) {
        const JsonToken *t = json_token(jp, i);
        bool quoted = t->type == JSON_STRING;

        *ret_start = t->start - quoted;
        *ret_len = t->end - t->start + 2 * quoted;
}

/* An answer to an asynchronous request, to its callback. */
static int dispatch_answer(sb_client *c, JsonParser *jp, const char *text) {
        g_autofree Pending *p = NULL;
        g_autofree uint64_t *key = NULL;
        uint64_t id;
        int error, result;

        if (!answer_id(jp, &id) ||
            !g_hash_table_steal_extended(c->pending, &id, (gpointer *) &key, (gpointer *) &p))
                return 0;       /* a blocking call's, given up (canceled, timed out) */
        if (!p->fn && !p->call_fn)
                return 1;
        error = json_object_find(jp, 0, "error");
        result = json_object_find(jp, 0, "result");
        if (p->call_fn) {
                const void *data = NULL;
                size_t size = 0;
                bool binary;
                int r;

                if (error >= 0)
                        r = client_hub_error(c, jp, error);
                else if (result < 0 || read_bytes(c, jp, result, "payload", &data, &size, &binary) < 0)
                        r = client_fail(c, -EBADMSG, "the hub's answer lacks the payload");
                else
                        r = 0;
                p->call_fn(c, r, r < 0 ? NULL : data, r < 0 ? 0 : size, p->userdata);
                return 1;
        }
        if (error >= 0) {
                p->fn(c, client_hub_error(c, jp, error), NULL, 0, p->userdata);
                return 1;
        }
        if (result < 0) {
                p->fn(c, -EBADMSG, NULL, 0, p->userdata);
                return 1;
        }
        {
                size_t start, len;

                value_source(jp, result, &start, &len);
                g_autofree char *json = g_strndup(text + start, len);

                p->fn(c, 0, json, len, p->userdata);
        }
        return 1;
}

/* Dispatch one frame's text. Return: 1 when something was dispatched, 0, or -EBADMSG. */
static int dispatch_frame(sb_client *c, const char *body, size_t len) {
        g_string_truncate(c->frame, 0);
        g_string_append_len(c->frame, body, (gssize) len);
        if (parse_frame(c->event_jp, c->frame->str, len) < 0)
                return bad_frame(c);
        if (is_notification(c->event_jp))
                return dispatch_event(c, c->event_jp);
        return dispatch_answer(c, c->event_jp, c->frame->str);
}

/* Every awaited answer fails with @r (the connection is gone). */
static int fail_pending(sb_client *c, int r) {
        GHashTableIter it;
        Pending *p;
        int n = 0;

        while (g_hash_table_size(c->pending) > 0) {
                g_autofree Pending *taken = NULL;
                gpointer key;

                g_hash_table_iter_init(&it, c->pending);
                if (!g_hash_table_iter_next(&it, &key, (gpointer *) &p))
                        break;
                g_hash_table_iter_steal(&it);
                g_free(key);
                taken = p;
                if (taken->fn || taken->call_fn)
                        (void) lost(c, r);
                if (taken->fn)
                        taken->fn(c, -ECONNRESET, NULL, 0, taken->userdata);
                else if (taken->call_fn)
                        taken->call_fn(c, -ECONNRESET, NULL, 0, taken->userdata);
                n++;
        }
        return n;
}

/* The body of sb_process(), which guards it against being called from a callback. */
static int process(sb_client *c) {
        int n = 0, reads = 0, r;

        if (c->broken)
                return -EBADMSG;
        r = write_some(c);
        if (r < 0)
                return r;
        for (;;) {
                GString *kept = g_queue_pop_head(&c->stash);
                const char *body;
                size_t len;

                /* What a blocking call read first: it came before anything in the reader. */
                if (kept) {
                        r = dispatch_frame(c, kept->str, kept->len);
                        g_string_free(kept, TRUE);
                        if (r < 0)
                                return r;
                        n += r;
                        continue;
                }
                r = frame_reader_next(&c->reader, &body, &len);
                if (r < 0)
                        return bad_frame(c);
                if (r > 0) {
                        r = dispatch_frame(c, body, len);
                        if (r < 0)
                                return r;
                        n += r;
                        continue;
                }
                if (c->eof || reads++ >= MAX_READS_PER_PROCESS)
                        break;
                ssize_t got = read_some(c);

                if (got == -EAGAIN)
                        break;
                if (got < 0) {
                        c->eof = true;
                        (void) lost(c, (int) got);
                }
        }
        update_io(c);
        if (c->eof) {
                n += fail_pending(c, -ECONNRESET);
                if (n == 0)
                        return lost(c, 0);
        }
        return n;
}

SB_EXPORT int sb_process(sb_client *c) {
        int r;

        if (c->dispatching)
                return client_fail(c, -EBUSY, "sb_process() called from one of its own callbacks");
        c->dispatching = true;
        r = process(c);
        c->dispatching = false;
        return r;
}

SB_EXPORT int sb_wait(sb_client *c, int timeout_ms) {
        int r;

        if (c->dispatching)
                return client_fail(c, -EBUSY, "sb_wait() called from a callback of sb_process()");
        /* Kept frames or whole frames already read need no wait (a partial one does). */
        if (g_queue_is_empty(&c->stash) && !frame_reader_has_frame(&c->reader) && !c->eof) {
                r = pump(c, deadline_after(timeout_ms));
                if (r < 0 && r != -ETIMEDOUT)
                        return r;
        }
        return sb_process(c);
}

SB_EXPORT int sb_flush(sb_client *c) {
        int64_t deadline = deadline_after(c->timeout_ms);
        int r;

        for (;;) {
                r = write_some(c);
                if (r < 0)
                        return r;
                if (c->out->len == c->out_start)
                        return 0;
                if (c->eof)
                        return lost(c, 0);
                /* Reading meanwhile: the hub stops reading a client whose answers pile up. */
                r = pump(c, deadline);
                if (r < 0)
                        return r;
        }
}

/* ---- any method ----------------------------------------------------------------- */

/* @params_json as the request's params: an object's text, checked here. */
static int request_json(sb_client *c, const char *method, const char *params_json, bool with_id, uint64_t *ret_id) {
        g_autoptr(JsonParser) jp = NULL;
        int r = check_text(c, method, "the method must be UTF-8 text");

        if (r < 0)
                return r;
        if (params_json) {
                size_t len = strlen(params_json);

                jp = json_parser_new();
                if (json_parse(jp, params_json, len, 64, NULL) < 0 ||
                    json_token(jp, 0)->type != JSON_OBJECT)
                        return client_fail(c, -EINVAL, "the params must be a JSON object");
        }
        request_begin(c, method, with_id, ret_id);
        if (params_json) {
                /* request_begin() opened the params object: use the caller's instead. */
                g_string_truncate(c->request, c->request->len - 1);
                g_string_append(c->request, params_json);
                json_append_lit(c->request, "}");
        } else
                request_end(c);
        return 0;
}

/* Await the answer to request @id with @p's callback. */
void pending_add(sb_client *c, uint64_t id, const Pending *p) {
        g_hash_table_insert(c->pending, g_memdup2(&id, sizeof id), g_memdup2(p, sizeof *p));
}

/* Queue a request for @method with @params_json; its id in @ret_id. */
static int send_json(sb_client *c, const char *method, const char *params_json, uint64_t *ret_id) {
        int r = request_json(c, method, params_json, true, ret_id);

        return r < 0 ? r : client_enqueue(c);
}

SB_EXPORT int sb_request(sb_client *c, const char *method, const char *params_json, char **ret_result_json) {
        Answer *a;
        uint64_t id;
        int r;

        r = send_json(c, method, params_json, &id);
        if (r < 0)
                return r;
        /* call and reserve wait as long as they asked, on top of the usual timeout. */
        r = client_call(c, id, 300 * 1000, &a);
        if (r < 0)
                return r;
        if (ret_result_json) {
                size_t start, len;

                value_source(a->jp, a->result, &start, &len);
                *ret_result_json = g_strndup(a->text->str + start, len);
        }
        return 0;
}

SB_EXPORT int sb_request_async(sb_client *c, const char *method, const char *params_json, sb_reply_fn fn,
                               void *userdata) {
        uint64_t id;
        int r;

        r = send_json(c, method, params_json, &id);
        if (r < 0)
                return r;
        pending_add(c, id, &(Pending) { .fn = fn, .userdata = userdata });
        return 0;
}

/* Close the fds received and not claimed. */
void client_close_fds(sb_client *c) {
        for (guint i = 0; i < c->fds->len; i++)
                close(g_array_index(c->fds, int, i));
        g_array_set_size(c->fds, 0);
}

/* Route events of listener @id to @fn. */
int listener_add(sb_client *c, uint64_t id, sb_event_fn fn, void *userdata) {
        Listener *l = g_new(Listener, 1);

        *l = (Listener) { fn, userdata };
        g_hash_table_insert(c->listeners, g_memdup2(&id, sizeof id), l);
        return 0;
}
