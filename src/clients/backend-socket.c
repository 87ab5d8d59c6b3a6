/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * backend-socket.c: the CLI's JSON-RPC backend, over the hub's Unix socket
 * ($XDG_RUNTIME_DIR/switchboard/socket, docs/protocol.md), through
 * libswitchboard: the library owns the connection, the framing, matching
 * answers to requests, keeping events that arrive during a call, and the
 * event loop glue. What stays here is the op table's side: a request's
 * params are named by the JSON-RPC method's descriptor (bytes as NAME, or
 * NAME_base64 when they are not text) and its result is read back by the
 * descriptor's out names into the same OpResult the D-Bus backend fills.
 * Errors with data.name = org.switchboard.Hub1.Error.X are reported
 * exactly as the D-Bus backend reports the D-Bus error of that name.
 */

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <glib.h>
#include <glib/gi18n.h>

#include <switchboard/sd-event.h>
#include <switchboard/switchboard.h>

#include "clients/backend.h"
#include "jsonrpc/json-ops.h"
#include "proto/json.h"
#include "util/sd-glue.h"
#include "util/text.h"

/*
 * A result from the hub, read by the hub's own strict JSON reader (json.h):
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
        sb_client *client;
        /* streams */
        sd_event *event;
        sb_sd_event *glue;
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
        int fd = sb_open_socket(path);

        if (fd < 0)
                return fd;
        *ret_fd = fd;
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

static int bad_frame(const char *method, const char *why) {
        fprintf(stderr, _("switchboard: unexpected reply to %s: %s\n"), method, why);
        return SB_EXIT_HUB_ERROR;
}

static int lost_connection(int r) {
        if (r == 0 || r == -ECONNRESET || r == -ENOTCONN)
                fprintf(stderr, _("switchboard: the hub closed the connection\n"));
        else
                fprintf(stderr, _("switchboard: lost the connection to the hub: %s\n"), g_strerror(-r));
        return SB_EXIT_UNREACHABLE;
}

/* {...}: the params of JSON-RPC method @j (its primary descriptor) from
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
        g_string_append_c(s, '{');
        json_write_members(s, params, n, in, true);
        g_string_append_c(s, '}');
}

/* Send @m (JSON-RPC method @j) with @in and wait up to @timeout_ms for its
 * response, or until @cancel_fd (-1: none) is readable.
 * Return: 0 and the result in @ret_result, CLI_HUB_ERROR and the hub's error
 * in @ret, CLI_INTERRUPTED, or an exit status (message printed). */
static int socket_request(SocketBackend *s, const OpMethod *m, const OpMethod *j, const OpArgs *in,
                          unsigned timeout_ms, int cancel_fd, CliResult *ret, Frame **ret_result) {
        g_autoptr(GString) params = g_string_new(NULL);
        g_autoptr(Frame) f = g_new0(Frame, 1);
        int r;

        write_params(params, m, j, in);
        sb_set_timeout(s->client, (int) MIN(timeout_ms, (unsigned) G_MAXINT));
        sb_set_cancel_fd(s->client, cancel_fd);
        r = sb_request(s->client, j->jsonrpc, params->len ? params->str : NULL, &f->text);
        sb_set_cancel_fd(s->client, -1);
        if (r == -ECANCELED)
                return CLI_INTERRUPTED;
        if (r < 0 && sb_error_code(s->client) != 0) {
                cli_result_set_error(ret, sb_error_name(s->client), sb_error_message(s->client),
                                     sb_error_code(s->client));
                return CLI_HUB_ERROR;
        }
        if (r == -ETIMEDOUT) {
                fprintf(stderr, _("switchboard: the hub did not answer %s within %d seconds\n"), j->jsonrpc,
                        (int) (timeout_ms / 1000));
                return SB_EXIT_UNREACHABLE;
        }
        if (r == -EBADMSG)
                return bad_frame(j->jsonrpc, _("not a JSON-RPC frame"));
        if (r < 0)
                return lost_connection(r);

        f->jp = json_parser_new();
        if (json_parse(f->jp, f->text, strlen(f->text), 64, NULL) < 0)
                return bad_frame(j->jsonrpc, _("not a JSON-RPC frame"));
        *ret_result = g_steal_pointer(&f);
        return 0;
}

/* ---- marshalling by the descriptors ----------------------------------- */

/* Member @name of @o into @field by @type (bytes: the data pointer there, the length at @len). */
static int read_json_value(CliResult *ret, JVal o, const char *name, OpType type, void *field,
                           size_t *len) {
        JVal v;

        if (type == OP_TYPE_BYTES) {
                GByteArray *decoded = g_byte_array_new();
                bool binary;

                /* Text stays in the frame, which the result holds; bytes in @decoded, held too. */
                cli_result_hold(ret, decoded, (GDestroyNotify) g_byte_array_unref);
                return jis(o, JSON_OBJECT) &&
                       json_bytes_member(o.f->jp, o.i, name, decoded, field, len, &binary) >= 0 ? 0 : -EBADMSG;
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
        g_autoptr(Frame) result = NULL;
        int r;

        g_assert(j);
        r = socket_request(s, m, j, in, timeout_ms ?: CALL_TIMEOUT_MS, cancel_fd, ret, &result);
        if (r != 0)
                return r;
        r = read_result(ret, jroot(result), m);
        cli_result_hold(ret, g_steal_pointer(&result), frame_free);
        if (r < 0)
                return cli_bad_reply(m->jsonrpc, r);
        return 0;
}

/* ---- streams: notifications ------------------------------------------- */

/* One event from the library as the CLI's Event, to the stream's handler. */
static void on_event(sb_client *c, const sb_event *ev, void *userdata) {
        SocketBackend *s = userdata;
        Sender sender = {};
        Event e = {
                .id = ev->id,
                .name = ev->topic,
                .data = ev->data ?: "",
                .size = ev->size,
                .binary = ev->binary,
                .number = ev->seq,
                .retained = ev->retained,
                .deleted = ev->deleted,
                .first = ev->first_seq,
                .last = ev->last_seq,
                .event = ev->event,
                .object = ev->call,
                .attempts = ev->attempts,
                .error = ev->error,
                .message = ev->message,
        };

        switch (ev->kind) {
        case SB_EVENT_MESSAGE:
                e.kind = EVENT_MESSAGE;
                break;
        case SB_EVENT_KEY:
                e.kind = EVENT_KEY_CHANGED;
                break;
        case SB_EVENT_GAP:
                e.kind = EVENT_GAP;
                break;
        case SB_EVENT_REQUEST:
                e.kind = EVENT_REQUEST;
                e.id = ev->call;
                break;
        case SB_EVENT_TRAFFIC:
                e.kind = EVENT_TRAFFIC;
                break;
        default:
                return;
        }
        if (ev->sender) {
                sender = (Sender) {
                        .transport = ev->sender->transport,
                        .has_client = ev->sender->client != 0,
                        .client = ev->sender->client,
                        .has_uid = ev->sender->uid >= 0,
                        .uid = (uint64_t) ev->sender->uid,
                        .has_pid = ev->sender->pid >= 0,
                        .pid = (uint64_t) ev->sender->pid,
                        .name = ev->sender->name,
                };
                e.sender = &sender;
        }
        s->handler(&e, s->userdata);
}

/* The connection ended (or the hub sent what is not JSON-RPC). */
static void on_closed(sb_client *c, int error, void *userdata) {
        SocketBackend *s = userdata;
        int code;

        /* Already ending (--count reached on the last bytes): not an error. */
        if (sd_event_get_exit_code(s->event, &code) >= 0)
                return;
        if (error == -EBADMSG) {
                fprintf(stderr, _("switchboard: cannot read a notification from the hub: %s\n"),
                        _("not a JSON-RPC frame"));
                (void) sd_event_exit(s->event, SB_EXIT_HUB_ERROR);
                return;
        }
        fprintf(stderr, _("switchboard: the hub stopped or disconnected; nothing more will arrive\n"));
        (void) sd_event_exit(s->event, SB_EXIT_UNREACHABLE);
}

static int s_stream_prepare(Backend *b, sd_event *event, EventHandler handler, void *userdata) {
        SocketBackend *s = (SocketBackend *) b;
        int r;

        s->event = sd_event_ref(event);
        s->handler = handler;
        s->userdata = userdata;

        /* Events read during the calls so far are dispatched first, by the glue's defer source. */
        sb_set_event_handler(s->client, on_event, s);
        r = sb_sd_event_attach(s->client, event, &s->glue);
        if (r < 0) {
                fprintf(stderr, _("switchboard: cannot set up the event loop: %s\n"), g_strerror(-r));
                return SB_EXIT_UNREACHABLE;
        }
        sb_sd_event_on_closed(s->glue, on_closed, s);
        return 0;
}

static void s_free(Backend *b) {
        SocketBackend *s = (SocketBackend *) b;

        sb_sd_event_detach(s->glue);
        if (s->event)
                s->event = sd_event_unref(s->event);
        sb_close(s->client);
        g_free(s);
}

static const BackendOps socket_ops = {
        .request = s_request,
        .stream_prepare = s_stream_prepare,
        .free = s_free,
};

/**
 * socket_backend_new() - a backend on the connected socket @fd (taken over)
 *
 * Return: the backend, or NULL (message printed; @fd closed).
 */
Backend *socket_backend_new(int fd) {
        g_autofree SocketBackend *s = g_new0(SocketBackend, 1);
        int r;

        r = sb_connect_fd(fd, &s->client);
        if (r < 0) {
                fprintf(stderr, _("switchboard: cannot use the hub's socket: %s\n"), g_strerror(-r));
                return NULL;
        }
        s->base.ops = &socket_ops;
        return &g_steal_pointer(&s)->base;
}
