/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * backend-socket.c: the CLI's JSON-RPC backend, over the hub's Unix socket
 * ($XDG_RUNTIME_DIR/switchboard/socket, docs/protocol.md). A call writes one
 * framed request and reads frames until the response with its id arrives;
 * notifications that come first (a subscription's messages while the next
 * Subscribe is on its way) are kept in order and handed to the stream once
 * its loop runs. The socket is non-blocking and every wait is a poll() with
 * a deadline, so the CLI reads while it writes and a silent hub cannot hang
 * it. A request's params are named by the JSON-RPC method's descriptor
 * (bytes as NAME, or NAME_base64 when they are not text) and its result is
 * read back by the descriptor's out names into the same OpResult the D-Bus
 * backend fills. Errors with data.name = org.switchboard.Hub1.Error.X are
 * reported exactly as the D-Bus backend reports the D-Bus error of that name.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <limits.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gi18n.h>

#include "clients/backend.h"
#include "proto/frame.h"
#include "jsonrpc/json-ops.h"
#include "proto/json.h"
#include "util/sd-glue.h"
#include "util/text.h"

/* The longest reply we accept: as large as a D-Bus message may be. */
#define MAX_REPLY_FRAME (128u * 1024 * 1024)
#define READ_CHUNK (64 * 1024)

/*
 * One frame from the hub, read by the hub's own strict JSON reader (json.h):
 * its text and tokens live as long as the frame, and so do the strings
 * taken from it. A value is a frame and a token index (-1: absent).
 */
typedef struct Frame {
        char *text;
        JsonParser *jp;
} Frame;

typedef struct JVal {
        Frame *f;
        int i;
} JVal;

static void frame_free(gpointer p) {
        Frame *f = p;

        if (!f)
                return;
        json_parser_free(f->jp);
        g_free(f->text);
        g_free(f);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Frame, frame_free)

static JVal jroot(Frame *f) {
        return (JVal) { f, 0 };
}

static bool jis(JVal v, JsonType type) {
        return v.i >= 0 && json_token(v.f->jp, v.i)->type == type;
}

/* Member @name of the object @o, or an absent value. */
static JVal jget(JVal o, const char *name) {
        return (JVal) { o.f, jis(o, JSON_OBJECT) ? json_object_find(o.f->jp, o.i, name) : -1 };
}

static const char *jstring(JVal v) {
        const char *s;
        size_t len;

        return jis(v, JSON_STRING) && json_string(v.f->jp, v.i, &s, &len) >= 0 ? s : NULL;
}

static bool ju64(JVal v, uint64_t *ret) {
        return jis(v, JSON_NUMBER) && json_uint64(v.f->jp, v.i, ret) >= 0;
}

static int64_t jint(JVal v) {
        int64_t n = 0;

        return jis(v, JSON_NUMBER) && json_int64(v.f->jp, v.i, &n) >= 0 ? n : 0;
}

static bool jbool(JVal v) {
        return jis(v, JSON_BOOL) && json_token(v.f->jp, v.i)->boolean;
}

typedef struct SocketBackend {
        Backend base;
        int fd;
        FrameReader reader;
        uint64_t next_id;
        GQueue stash;                   /* Frame*: notifications read during calls */
        bool eof;
        /* streams */
        sd_event *event;
        sd_event_source *io;
        sd_event_source *drain;
        EventHandler handler;
        void *userdata;
} SocketBackend;

/**
 * socket_default_path() - where the hub listens: $SWITCHBOARD_SOCKET, else
 * $XDG_RUNTIME_DIR/switchboard/socket, else the hub's own fallbacks
 */
char *socket_default_path(void) {
        const char *env = g_getenv("SWITCHBOARD_SOCKET");
        g_autofree char *dir = NULL;

        if (env && env[0])
                return g_strdup(env);
        dir = cli_runtime_dir();
        return g_build_filename(dir, "socket", NULL);
}

/**
 * socket_try_connect() - connect to the Unix socket at @path, quietly
 * @ret_fd: a non-blocking, close-on-exec stream socket
 *
 * Return: 0, or a negative errno (-ENOENT, -ECONNREFUSED, -ENAMETOOLONG, ...).
 */
int socket_try_connect(const char *path, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        g_auto(Fd) fd = -1;

        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return -errno;
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
                return -errno;

        *ret_fd = g_steal_fd(&fd);
        return 0;
}

/**
 * socket_connect_hub() - connect to the hub's socket, starting the hub first if need be
 *
 * With BACKEND_AUTO, a socket that is missing or refuses makes us start
 * the hub through D-Bus (StartServiceByName on the bus of config->address)
 * and connect again: once the hub owns its name, its socket listens. With
 * BACKEND_SOCKET, nothing is started.
 *
 * Return: 0 and the socket in @ret_fd, or 69 (message printed).
 */
int socket_connect_hub(const BackendConfig *config, int *ret_fd) {
        g_autofree char *path = config->socket_path ? g_strdup(config->socket_path) : socket_default_path();
        int r;

        if (config->tcp_address)
                return tcp_connect_hub(config, ret_fd);       /* cli-tcp.c */
        r = socket_try_connect(path, ret_fd);
        if (r >= 0)
                return 0;

        if (config->kind == BACKEND_AUTO) {
                int exit_code = dbus_start_hub(config->address);

                if (exit_code != 0)
                        return exit_code;
                r = socket_try_connect(path, ret_fd);
                if (r >= 0)
                        return 0;
                fprintf(stderr, _("switchboard: the hub is running, but its socket %s does not accept "
                                  "connections: %s\n"), path, g_strerror(-r));
                return SB_EXIT_UNREACHABLE;
        }

        fprintf(stderr, _("switchboard: cannot connect to the hub's socket %s: %s\n"), path, g_strerror(-r));
        if (!cli_print_last_error())
                fprintf(stderr, _("Start the hub (any D-Bus call starts it, for example 'switchboard --dbus status'), "
                                  "or pass --socket=PATH.\n"));
        return SB_EXIT_UNREACHABLE;
}

static int lost_connection(int r) {
        if (r == 0)
                fprintf(stderr, _("switchboard: the hub closed the connection\n"));
        else
                fprintf(stderr, _("switchboard: lost the connection to the hub: %s\n"), g_strerror(-r));
        return SB_EXIT_UNREACHABLE;
}

/* Read what is there into the reader. Return: bytes read (0 at EOF), -EAGAIN, or -errno. */
static ssize_t socket_read(SocketBackend *s) {
        char buf[READ_CHUNK];
        ssize_t n;

        do
                n = recv(s->fd, buf, sizeof buf, MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n == 0)
                s->eof = true;
        else
                frame_reader_feed(&s->reader, buf, (size_t) n);
        return n;
}

/* The next whole frame, parsed. Return: 1 and a frame, 0 if none is whole, -EBADMSG. */
static int socket_next_frame(SocketBackend *s, Frame **ret) {
        g_autoptr(Frame) f = NULL;
        const char *body;
        size_t len;
        int r;

        r = frame_reader_next(&s->reader, &body, &len);
        if (r <= 0)
                return r < 0 ? -EBADMSG : 0;
        if (!utf8_is_valid(body, len))
                return -EBADMSG;
        f = g_new0(Frame, 1);
        f->text = g_strndup(body, len);
        f->jp = json_parser_new();
        if (json_parse(f->jp, f->text, len, 64, NULL) < 0)
                return -EBADMSG;
        *ret = g_steal_pointer(&f);
        return 1;
}

static bool is_notification(Frame *f) {
        return jstring(jget(jroot(f), "method")) && jget(jroot(f), "id").i < 0;
}

static int bad_frame(const char *method, const char *why) {
        fprintf(stderr, _("switchboard: unexpected reply to %s: %s\n"), method, why);
        return SB_EXIT_HUB_ERROR;
}

/* The response to request @id among the frames read so far; notifications
 * are kept for the stream, other responses dropped.
 * Return: 1 and the response, 0 when it has not come yet, -EBADMSG. */
static int take_response(SocketBackend *s, uint64_t id, Frame **ret) {
        Frame *f;
        uint64_t rid;
        int r;

        while ((r = socket_next_frame(s, &f)) != 0) {
                JVal v;

                if (r < 0)
                        return r;
                if (is_notification(f)) {
                        g_queue_push_tail(&s->stash, f);
                        continue;
                }
                /* Ours, or an error about the connection (id null). */
                v = jget(jroot(f), "id");
                if (jis(v, JSON_NULL) || (ju64(v, &rid) && rid == id)) {
                        *ret = f;
                        return 1;
                }
                frame_free(f);
        }
        return 0;
}

/* Wait up to @timeout_ms for the socket: write what is left of @out, read what came.
 * Return: 0, CLI_INTERRUPTED when @cancel_fd (-1: none) is readable, or 69 (message printed). */
static int socket_pump(SocketBackend *s, GByteArray *out, size_t *written, int cancel_fd, int timeout_ms) {
        struct pollfd p[2] = {
                { .fd = s->fd, .events = POLLIN | (*written < out->len ? POLLOUT : 0) },
                { .fd = cancel_fd, .events = POLLIN },
        };
        int r;

        r = poll(p, cancel_fd >= 0 ? 2 : 1, timeout_ms);
        if (r < 0 && errno != EINTR)
                return lost_connection(-errno);
        if (r <= 0)
                return 0;
        if (cancel_fd >= 0 && (p[1].revents & POLLIN))
                return CLI_INTERRUPTED;

        if (p[0].revents & POLLOUT) {
                ssize_t n = send(s->fd, out->data + *written, out->len - *written, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0 && errno != EAGAIN && errno != EINTR)
                        return lost_connection(-errno);
                if (n > 0)
                        *written += (size_t) n;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t n = socket_read(s);

                if (n < 0 && n != -EAGAIN && n != -EINTR)
                        return lost_connection((int) n);
        }
        return 0;
}

/* ,"params":{...}: those of JSON-RPC method @j (its primary descriptor) from
 * @in that the D-Bus member @m has; the hub's defaults stand for the others
 * (publish's retain for Publish). Nothing when there are none. */
static void write_params(GString *s, const OpMethod *m, const OpMethod *j, const OpArgs *in) {
        g_autofree OpParam *params = g_new(OpParam, j->n_json_in);
        unsigned n = 0;

        for (unsigned i = 0; i < j->n_json_in; i++)
                for (unsigned k = 0; k < m->n_in; k++)
                        if (g_str_equal(m->in[k].name, j->json_in[i].name))
                                params[n++] = j->json_in[i];
        if (n == 0)
                return;
        g_string_append(s, ",\"params\":{");
        json_write_members(s, params, n, in, true);
        g_string_append_c(s, '}');
}

/* Send @m (JSON-RPC method @j) with @in and wait up to @timeout_ms for its
 * response, or until @cancel_fd (-1: none) is readable.
 * Return: 0 and the response (result or error) in @ret_response,
 * CLI_INTERRUPTED, or an exit status (message printed). */
static int socket_request(SocketBackend *s, const OpMethod *m, const OpMethod *j, const OpArgs *in,
                          unsigned timeout_ms, int cancel_fd, Frame **ret_response) {
        g_autoptr(GString) request = g_string_new("{\"jsonrpc\":\"2.0\",\"id\":");
        g_autoptr(GByteArray) out = g_byte_array_new();
        const char *method = j->jsonrpc;
        size_t written = 0;
        uint64_t id = ++s->next_id;
        int64_t deadline = g_get_monotonic_time() + (int64_t) timeout_ms * 1000;
        int r;

        json_write_u64(request, id);
        g_string_append(request, ",\"method\":");
        json_write_cstr(request, method);
        write_params(request, m, j, in);
        g_string_append_c(request, '}');
        frame_append(out, request->str, request->len);

        /* Notifications read here are for the stream: let its loop look again afterwards. */
        if (s->drain)
                (void) sd_event_source_set_enabled(s->drain, SD_EVENT_ONESHOT);

        for (;;) {
                int64_t left = (deadline - g_get_monotonic_time()) / 1000;

                /* Whole frames already read come first. */
                r = take_response(s, id, ret_response);
                if (r < 0)
                        return bad_frame(method, _("not a JSON-RPC frame"));
                if (r > 0)
                        return 0;
                if (s->eof)
                        return lost_connection(0);
                if (left <= 0) {
                        fprintf(stderr, _("switchboard: the hub did not answer %s within %d seconds\n"),
                                method, (int) (timeout_ms / 1000));
                        return SB_EXIT_UNREACHABLE;
                }
                r = socket_pump(s, out, &written, cancel_fd, (int) MIN(left, (int64_t) INT_MAX));
                if (r != 0)
                        return r;
        }
}

/* ---- marshalling by the descriptors ----------------------------------- */

static const char *get_string(JVal o, const char *name) {
        return jstring(jget(o, name));
}

static bool get_u64(JVal o, const char *name, uint64_t *ret) {
        return ju64(jget(o, name), ret);
}

static bool get_bool(JVal o, const char *name) {
        return jbool(jget(o, name));
}

/* "NAME" as text or "NAME_base64" as bytes, decoded into @ret_decoded (the caller frees it).
 * Return: whether either is there. */
static bool get_bytes(JVal o, const char *name, const void **ret_data, size_t *ret_len,
                      char **ret_decoded) {
        g_autofree char *b64_name = g_strconcat(name, "_base64", NULL);
        JVal v = jget(o, name);
        const char *b64 = jis(v, JSON_STRING) ? NULL : get_string(o, b64_name);
        gsize len;

        if (jis(v, JSON_STRING)) {
                /* Text as the hub sent it, embedded NULs (\u0000) and all. */
                (void) json_string(v.f->jp, v.i, (const char **) ret_data, ret_len);
                return true;
        }
        if (!b64)
                return false;
        *ret_decoded = (char *) g_base64_decode(b64, &len);
        *ret_data = *ret_decoded;
        *ret_len = len;
        return true;
}

/* Member @name of @o into @field by @type (bytes: the data pointer there, the length at @len). */
static int read_json_value(CliResult *ret, JVal o, const char *name, OpType type, void *field,
                           size_t *len) {
        char *decoded = NULL;
        JVal v;

        if (type == OP_TYPE_BYTES) {
                if (!get_bytes(o, name, field, len, &decoded))
                        return -EBADMSG;
                if (decoded)
                        cli_result_hold(ret, decoded, g_free);
                return 0;
        }
        v = jget(o, name);
        if (v.i < 0)
                return -EBADMSG;
        switch (type) {
        case OP_TYPE_STRING:
                return (*(const char **) field = jstring(v)) ? 0 : -EBADMSG;
        case OP_TYPE_BOOL:
                *(bool *) field = jbool(v);
                return 0;
        case OP_TYPE_U32: {
                uint64_t n = 0;

                (void) ju64(v, &n);
                *(uint32_t *) field = (uint32_t) n;
                return 0;
        }
        case OP_TYPE_U64:
                *(uint64_t *) field = 0;
                (void) ju64(v, field);
                return 0;
        default:
                return -EBADMSG;
        }
}

/* An array of objects into a GArray of @t's rows, by the fields' names. */
static int read_json_rows(CliResult *ret, JVal array, const OpRows *t, GArray **out) {
        g_autoptr(GArray) rows = NULL;
        size_t n;
        int r;

        if (!jis(array, JSON_ARRAY))
                return -EBADMSG;
        n = json_token(array.f->jp, array.i)->count;
        rows = g_array_sized_new(FALSE, TRUE, (guint) t->size, (guint) n);
        g_array_set_size(rows, (guint) n);
        for (size_t i = 0; i < n; i++) {
                JVal o = { array.f, json_array_at(array.f->jp, array.i, (unsigned) i) };
                char *row = rows->data + i * t->size;

                for (unsigned f = 0; f < t->n_fields; f++) {
                        const OpField *fd = &t->fields[f];

                        r = read_json_value(ret, o, fd->name, fd->type, row + fd->offset,
                                            (size_t *) (row + fd->len_offset));
                        if (r < 0)
                                return r;
                }
        }
        *out = g_steal_pointer(&rows);
        return 0;
}

/* A JSON value as a GVariant: objects as a{sv}, numbers as 't' (or 'x', 'd'). */
static GVariant *json_to_variant(JVal v) {
        const JsonToken *t = json_token(v.f->jp, v.i);
        GVariantBuilder b;
        int i = v.i + 1;
        uint64_t u;

        switch (t->type) {
        case JSON_OBJECT:
                g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
                for (uint32_t m = 0; m < t->count; m++) {
                        JVal value = { v.f, i + 1 };

                        g_variant_builder_add(&b, "{sv}", jstring((JVal) { v.f, i }) ?: "", json_to_variant(value));
                        i = (int) json_token(v.f->jp, value.i)->skip;
                }
                return g_variant_builder_end(&b);
        case JSON_ARRAY:
                g_variant_builder_init(&b, G_VARIANT_TYPE("av"));
                for (uint32_t m = 0; m < t->count; m++) {
                        g_variant_builder_add(&b, "v", json_to_variant((JVal) { v.f, i }));
                        i = (int) json_token(v.f->jp, i)->skip;
                }
                return g_variant_builder_end(&b);
        case JSON_NUMBER:
                if (t->integer && ju64(v, &u))
                        return g_variant_new_uint64(u);
                if (t->integer)
                        return g_variant_new_int64(jint(v));
                return g_variant_new_double(g_ascii_strtod(v.f->text + t->start, NULL));
        case JSON_BOOL:
                return g_variant_new_boolean(t->boolean);
        case JSON_STRING:
                return g_variant_new_string(jstring(v) ?: "");
        default:
                return g_variant_new_maybe(G_VARIANT_TYPE_VARIANT, NULL);
        }
}

/* The result object into @ret by @m's out names: echoed args are known already. */
static int read_result(CliResult *ret, JVal result, const OpMethod *m) {
        for (unsigned i = 0; i < m->n_out; i++) {
                const OpParam *p = &m->out[i];
                void *field = (char *) &ret->out + p->offset;
                int r;

                /* A dictionary that is the only result is the result itself (hub.info). */
                if (p->type == OP_TYPE_DICT) {
                        if (m->n_out > 1 || !jis(result, JSON_OBJECT))
                                return -EBADMSG;
                        *(GVariant **) field = g_variant_ref_sink(json_to_variant(result));
                        r = 0;
                } else if (p->type == OP_TYPE_ROWS) {
                        JVal v = jget(result, p->name);

                        r = v.i >= 0 ? read_json_rows(ret, v, p->rows, field) : -EBADMSG;
                } else
                        r = read_json_value(ret, result, p->name, p->type, field,
                                            (size_t *) ((char *) field + offsetof(OpBytes, len)));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int s_request(Backend *b, const OpMethod *m, const OpArgs *in, unsigned timeout_ms, int cancel_fd,
                     CliResult *ret) {
        SocketBackend *s = (SocketBackend *) b;
        const OpMethod *j = op_method_by_jsonrpc(m->jsonrpc);
        g_autoptr(Frame) response = NULL;
        JVal result, error;
        int r;

        g_assert(j);
        r = socket_request(s, m, j, in, timeout_ms ?: CALL_TIMEOUT_MS, cancel_fd, &response);
        if (r != 0)
                return r;
        error = jget(jroot(response), "error");
        if (error.i >= 0) {
                /* The hub's errors carry their D-Bus name in data.name. */
                cli_result_set_error(ret, get_string(jget(error, "data"), "name"), get_string(error, "message") ?: "",
                                     (int) jint(jget(error, "code")));
                /* The error's strings are the frame's: it lives as long as the result. */
                cli_result_hold(ret, g_steal_pointer(&response), frame_free);
                return CLI_HUB_ERROR;
        }
        result = jget(jroot(response), "result");
        if (result.i < 0)
                return bad_frame(m->jsonrpc, _("no result"));

        r = read_result(ret, result, m);
        cli_result_hold(ret, g_steal_pointer(&response), frame_free);
        if (r < 0)
                return cli_bad_reply(m->jsonrpc, r);
        return 0;
}

/* ---- streams: notifications ------------------------------------------- */

static void read_sender(JVal params, Sender *sender) {
        JVal o = jget(params, "sender");

        if (!jis(o, JSON_OBJECT))
                return;
        sender->transport = get_string(o, "transport");
        sender->has_client = get_u64(o, "client", &sender->client);
        sender->has_uid = get_u64(o, "uid", &sender->uid);
        sender->has_pid = get_u64(o, "pid", &sender->pid);
        sender->name = get_string(o, "name");
}

/* Hand one notification to the stream; unknown or incomplete ones are skipped. */
static void dispatch_notification(SocketBackend *s, Frame *n) {
        const char *method = get_string(jroot(n), "method");
        g_autofree char *decoded = NULL;
        JVal params = jget(jroot(n), "params");
        Sender sender = {};
        Event e = {};
        bool key, ok;

        if (!method || !jis(params, JSON_OBJECT))
                return;

        key = g_str_equal(method, "key_changed");
        if (key || g_str_equal(method, "message")) {
                e.kind = key ? EVENT_KEY_CHANGED : EVENT_MESSAGE;
                e.name = get_string(params, key ? "key" : "topic");
                (void) get_u64(params, key ? "watch" : "subscription", &e.id);
                ok = e.name && get_u64(params, key ? "revision" : "seq", &e.number);
                e.retained = get_bool(params, "retained");
                e.deleted = get_bool(params, "deleted");
        } else if (g_str_equal(method, "request")) {
                e.kind = EVENT_REQUEST;
                e.name = get_string(params, "name");
                ok = e.name && get_u64(params, "id", &e.id);
        } else if (g_str_equal(method, "traffic")) {
                e.kind = EVENT_TRAFFIC;
                e.name = get_string(params, "name");
                e.event = get_string(params, "event");
                e.error = get_string(params, "error");
                e.message = get_string(params, "message");
                (void) get_u64(params, "attempts", &e.attempts);
                ok = e.name && e.event && get_u64(params, "monitor", &e.id) && get_u64(params, "id", &e.object) &&
                     get_u64(params, "seq", &e.number);
        } else if (g_str_equal(method, "gap")) {
                e.kind = EVENT_GAP;
                ok = get_u64(params, "id", &e.id) && get_u64(params, "first_seq", &e.first) &&
                     get_u64(params, "last_seq", &e.last);
        } else
                return;
        if (!ok)
                return;

        if (!get_bytes(params, key ? "value" : "payload", &e.data, &e.size, &decoded))
                e.data = "";
        e.binary = decoded != NULL;
        read_sender(params, &sender);
        e.sender = sender.transport ? &sender : NULL;
        s->handler(&e, s->userdata);
}

static void stream_process(SocketBackend *s) {
        Frame *o;
        int r;

        while ((o = g_queue_pop_head(&s->stash))) {
                dispatch_notification(s, o);
                frame_free(o);
        }
        while ((r = socket_next_frame(s, &o)) != 0) {
                if (r < 0) {
                        fprintf(stderr, _("switchboard: cannot read a notification from the hub: %s\n"),
                                _("not a JSON-RPC frame"));
                        (void) sd_event_exit(s->event, SB_EXIT_HUB_ERROR);
                        return;
                }
                if (is_notification(o))
                        dispatch_notification(s, o);
                frame_free(o);
        }
}

static int on_drain(sd_event_source *source, void *userdata) {
        stream_process(userdata);
        return 0;
}

static int on_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        SocketBackend *s = userdata;
        ssize_t n;

        n = socket_read(s);
        if (n == -EAGAIN || n == -EINTR)
                return 0;
        stream_process(s);
        if (n <= 0) {
                int code;

                /* Already ending (--count reached on the last bytes): not an error. */
                if (sd_event_get_exit_code(s->event, &code) >= 0)
                        return 0;
                (void) sd_event_source_set_enabled(s->io, SD_EVENT_OFF);
                fprintf(stderr, _("switchboard: the hub stopped or disconnected; nothing more will arrive\n"));
                (void) sd_event_exit(s->event, SB_EXIT_UNREACHABLE);
        }
        return 0;
}

static int s_stream_prepare(Backend *b, sd_event *event, EventHandler handler, void *userdata) {
        SocketBackend *s = (SocketBackend *) b;
        int r;

        s->event = sd_event_ref(event);
        s->handler = handler;
        s->userdata = userdata;

        r = sd_event_add_io(event, &s->io, s->fd, EPOLLIN, on_io, s);
        if (r >= 0)
                /* Notifications that arrived during the calls come first. */
                r = sd_event_add_defer(event, &s->drain, on_drain, s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->drain, SD_EVENT_ONESHOT);
        if (r >= 0)
                r = sd_event_source_set_priority(s->drain, SD_EVENT_PRIORITY_IMPORTANT);
        if (r < 0) {
                fprintf(stderr, _("switchboard: cannot set up the event loop: %s\n"), g_strerror(-r));
                return SB_EXIT_UNREACHABLE;
        }
        return 0;
}

static void s_free(Backend *b) {
        SocketBackend *s = (SocketBackend *) b;

        s->io = sd_event_source_disable_unref(s->io);
        s->drain = sd_event_source_disable_unref(s->drain);
        if (s->event)
                s->event = sd_event_unref(s->event);
        g_queue_clear_full(&s->stash, frame_free);
        frame_reader_deinit(&s->reader);
        fd_close(s->fd);
        g_free(s);
}

static const BackendOps socket_ops = {
        .request = s_request,
        .stream_prepare = s_stream_prepare,
        .free = s_free,
};

/**
 * socket_backend_new() - a backend on the connected socket @fd (taken over)
 */
Backend *socket_backend_new(int fd) {
        SocketBackend *s = g_new0(SocketBackend, 1);

        s->base.ops = &socket_ops;
        s->fd = fd;
        frame_reader_init(&s->reader, MAX_REPLY_FRAME);
        g_queue_init(&s->stash);
        return &s->base;
}
