/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * backend-socket.c: the CLI's JSON-RPC backend, over the hub's Unix socket
 * ($XDG_RUNTIME_DIR/switchboard/socket, docs/protocol.md). A call writes one
 * framed request and reads frames until the response with its id arrives;
 * notifications that come first (a subscription's messages while the next
 * Subscribe is on its way) are kept in order and handed to the stream once
 * its loop runs. The socket is non-blocking and every wait is a poll() with
 * a deadline, so the CLI reads while it writes and a silent hub cannot hang
 * it. Errors with data.name = org.switchboard.Hub1.Error.X are reported
 * exactly as the D-Bus backend reports the D-Bus error of that name.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <limits.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gi18n.h>
#include <json-c/json.h>

#include "clients/cli.h"
#include "jsonrpc/frame.h"
#include "util/sd-glue.h"

/* The longest reply we accept: as large as a D-Bus message may be. */
#define MAX_REPLY_FRAME (128u * 1024 * 1024)
#define CALL_TIMEOUT_MS 25000
#define READ_CHUNK (64 * 1024)

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_tokener, json_tokener_free)

static void json_object_unref(gpointer o) {
        (void) json_object_put(o);
}

typedef struct SocketBackend {
        Backend base;
        int fd;
        char *path;
        FrameReader reader;
        uint64_t next_id;
        GQueue stash;                   /* json_object*: notifications read during calls */
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
        const char *runtime = g_getenv("XDG_RUNTIME_DIR");
        g_autofree char *run_user = NULL;
        struct stat st;

        if (env && env[0])
                return g_strdup(env);
        if (runtime && g_path_is_absolute(runtime))
                return g_build_filename(runtime, "switchboard", "socket", NULL);

        /* As the hub does without XDG_RUNTIME_DIR (src/daemon/manager.c). */
        run_user = g_strdup_printf("/run/user/%u", (unsigned) getuid());
        if (stat(run_user, &st) >= 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid())
                return g_build_filename(run_user, "switchboard", "socket", NULL);
        return g_strdup_printf("%s/switchboard-%u/switchboard/socket", g_get_tmp_dir(), (unsigned) getuid());
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
        fprintf(stderr, _("Start the hub (any D-Bus call starts it, for example 'switchboard --dbus status'), "
                          "or pass --socket=PATH.\n"));
        return SB_EXIT_UNREACHABLE;
}

static int lost_connection(SocketBackend *s, int r) {
        if (r == 0)
                fprintf(stderr, _("switchboard: the hub closed the connection\n"));
        else
                fprintf(stderr, _("switchboard: lost the connection to the hub: %s\n"), g_strerror(-r));
        return SB_EXIT_UNREACHABLE;
}

static int bad_reply(const char *method, const char *why) {
        fprintf(stderr, _("switchboard: unexpected reply to %s: %s\n"), method, why);
        return SB_EXIT_HUB_ERROR;
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

/* The next whole frame, parsed. Return: 1 and an object, 0 if none is whole, -EBADMSG. */
static int socket_next_frame(SocketBackend *s, json_object **ret) {
        g_autoptr(json_tokener) tok = NULL;
        const char *body;
        size_t len;
        json_object *o;
        int r;

        r = frame_reader_next(&s->reader, &body, &len);
        if (r <= 0)
                return r < 0 ? -EBADMSG : 0;
        if (len > INT_MAX)
                return -EBADMSG;

        tok = json_tokener_new();
        o = json_tokener_parse_ex(tok, body, (int) len);
        if (!o || json_tokener_get_error(tok) != json_tokener_success ||
            json_tokener_get_parse_end(tok) != len) {
                json_object_put(o);
                return -EBADMSG;
        }
        *ret = o;
        return 1;
}

static bool is_notification(json_object *o) {
        json_object *method;

        return json_object_is_type(o, json_type_object) &&
                json_object_object_get_ex(o, "method", &method) &&
                json_object_is_type(method, json_type_string) &&
                !json_object_object_get_ex(o, "id", NULL);
}

/* The error's D-Bus name (data.name) and message; the name is NULL when it has none. */
static void rpc_error_parts(json_object *error, const char **ret_name, const char **ret_message, int *ret_code) {
        json_object *code = NULL, *message = NULL, *data = NULL, *name = NULL;

        (void) json_object_object_get_ex(error, "code", &code);
        (void) json_object_object_get_ex(error, "message", &message);
        *ret_message = json_object_is_type(message, json_type_string) ? json_object_get_string(message) : "";
        *ret_code = json_object_get_int(code);
        *ret_name = NULL;
        if (json_object_object_get_ex(error, "data", &data) &&
            json_object_object_get_ex(data, "name", &name) && json_object_is_type(name, json_type_string))
                *ret_name = json_object_get_string(name);
}

/* Report a JSON-RPC error object as the D-Bus backend reports the same error. */
static int report_rpc_error(json_object *error, SubjectKind kind, const char *subject) {
        const char *name, *text;
        int code;

        rpc_error_parts(error, &name, &text, &code);
        if (name)
                return cli_report_hub_error_on(name, text, kind, subject);

        fprintf(stderr, _("switchboard: the hub returned an error: %s (JSON-RPC error %d)\n"), text, code);
        return SB_EXIT_HUB_ERROR;
}

/* Send @method(@params) and wait up to @timeout_ms for its response, or
 * until @cancel_fd (-1: none) is readable. @params is taken.
 * Return: 0 and the response (result or error) in @ret_response,
 * CLI_INTERRUPTED, or an exit status (message printed). */
static int socket_request(SocketBackend *s, const char *method, json_object *params, unsigned timeout_ms,
                          int cancel_fd, json_object **ret_response) {
        g_autoptr(json_object) request = json_object_new_object();
        g_autoptr(GByteArray) out = g_byte_array_new();
        g_autoptr(json_object) response = NULL;
        const char *text;
        size_t written = 0, text_len;
        uint64_t id = ++s->next_id;
        int64_t deadline = g_get_monotonic_time() + (int64_t) timeout_ms * 1000;

        json_object_object_add(request, "jsonrpc", json_object_new_string("2.0"));
        json_object_object_add(request, "id", json_object_new_uint64(id));
        json_object_object_add(request, "method", json_object_new_string(method));
        if (params)
                json_object_object_add(request, "params", params);
        text = json_object_to_json_string_length(request, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE, &text_len);
        frame_append(out, text, text_len);

        /* Notifications read here are for the stream: let its loop look again afterwards. */
        if (s->drain)
                (void) sd_event_source_set_enabled(s->drain, SD_EVENT_ONESHOT);

        while (!response) {
                struct pollfd p[2] = {
                        { .fd = s->fd, .events = POLLIN },
                        { .fd = cancel_fd, .events = POLLIN },
                };
                int64_t left = (deadline - g_get_monotonic_time()) / 1000;
                json_object *o;
                int r;

                /* Whole frames already read come first. */
                while (!response && (r = socket_next_frame(s, &o)) != 0) {
                        json_object *rid;

                        if (r < 0)
                                return bad_reply(method, _("not a JSON-RPC frame"));
                        if (is_notification(o)) {
                                g_queue_push_tail(&s->stash, o);
                                continue;
                        }
                        /* Ours, or an error about the connection (id null). */
                        if (json_object_object_get_ex(o, "id", &rid) &&
                            (json_object_is_type(rid, json_type_null) ||
                             (json_object_is_type(rid, json_type_int) && json_object_get_uint64(rid) == id)))
                                response = o;
                        else
                                json_object_put(o);
                }
                if (response)
                        break;
                if (s->eof)
                        return lost_connection(s, 0);
                if (left <= 0) {
                        fprintf(stderr, _("switchboard: the hub did not answer %s within %d seconds\n"),
                                method, (int) (timeout_ms / 1000));
                        return SB_EXIT_UNREACHABLE;
                }

                if (written < out->len)
                        p[0].events |= POLLOUT;
                r = poll(p, cancel_fd >= 0 ? 2 : 1, (int) MIN(left, (int64_t) INT_MAX));
                if (r < 0 && errno != EINTR)
                        return lost_connection(s, -errno);
                if (r <= 0)
                        continue;
                if (cancel_fd >= 0 && (p[1].revents & POLLIN))
                        return CLI_INTERRUPTED;

                if (p[0].revents & POLLOUT) {
                        ssize_t n = send(s->fd, out->data + written, out->len - written,
                                         MSG_NOSIGNAL | MSG_DONTWAIT);

                        if (n < 0 && errno != EAGAIN && errno != EINTR)
                                return lost_connection(s, -errno);
                        if (n > 0)
                                written += (size_t) n;
                }
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        ssize_t n = socket_read(s);

                        if (n < 0 && n != -EAGAIN && n != -EINTR)
                                return lost_connection(s, (int) n);
                }
        }

        *ret_response = g_steal_pointer(&response);
        return 0;
}

/* socket_request() with the usual timeout; an error response is reported.
 * Return: 0 and the result in @ret_result, or an exit status (message printed). */
static int socket_call_on(SocketBackend *s, const char *method, json_object *params, SubjectKind kind,
                          const char *subject, json_object **ret_result) {
        g_autoptr(json_object) response = NULL;
        json_object *result, *error;
        int r;

        r = socket_request(s, method, params, CALL_TIMEOUT_MS, -1, &response);
        if (r != 0)
                return r;
        if (json_object_object_get_ex(response, "error", &error))
                return report_rpc_error(error, kind, subject);
        if (!json_object_object_get_ex(response, "result", &result))
                return bad_reply(method, _("no result"));
        *ret_result = json_object_get(result);
        return 0;
}

static int socket_call(SocketBackend *s, const char *method, json_object *params, const char *subject,
                       json_object **ret_result) {
        return socket_call_on(s, method, params, SUBJECT_KEY, subject, ret_result);
}

/* ---- reading results -------------------------------------------------- */

static bool get_u64(json_object *o, const char *name, uint64_t *ret) {
        json_object *v;

        if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_int))
                return false;
        *ret = json_object_get_uint64(v);
        return true;
}

static const char *get_string(json_object *o, const char *name) {
        json_object *v;

        if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static bool get_bool(json_object *o, const char *name) {
        json_object *v;

        return json_object_object_get_ex(o, name, &v) && json_object_get_boolean(v);
}

/* "NAME" as text or "NAME_base64" as bytes. Return: a GBytes (text with its NUL), or NULL. */
static GBytes *get_bytes(json_object *o, const char *name, bool *ret_text) {
        g_autofree char *b64_name = g_strconcat(name, "_base64", NULL);
        const char *text = get_string(o, name);
        const char *b64;
        guchar *data;
        gsize size;

        if (text) {
                *ret_text = true;
                return g_bytes_new(text, strlen(text) + 1);
        }
        b64 = get_string(o, b64_name);
        if (!b64)
                return NULL;
        data = g_base64_decode(b64, &size);
        *ret_text = false;
        return g_bytes_new_take(data, size);
}

static json_object *params_with_bytes(const char *name_key, const char *name, const char *bytes_key,
                                      const char *bytes) {
        json_object *p = json_object_new_object();

        json_object_object_add(p, name_key, json_object_new_string(name));
        if (g_utf8_validate(bytes, -1, NULL))
                json_object_object_add(p, bytes_key, json_object_new_string(bytes));
        else {
                g_autofree char *b64_key = g_strconcat(bytes_key, "_base64", NULL);
                g_autofree char *b64 = g_base64_encode((const guchar *) bytes, strlen(bytes));

                json_object_object_add(p, b64_key, json_object_new_string(b64));
        }
        return p;
}

/* ---- operations ------------------------------------------------------- */

static int s_publish(Backend *b, const char *topic, const char *payload, bool retain) {
        SocketBackend *s = (SocketBackend *) b;
        g_autoptr(json_object) result = NULL;
        json_object *params = params_with_bytes("topic", topic, "payload", payload);

        json_object_object_add(params, "retain", json_object_new_boolean(retain));
        return socket_call(s, "publish", params, topic, &result);
}

static int s_clear_retained(Backend *b, const char *pattern, uint64_t *ret_count) {
        SocketBackend *s = (SocketBackend *) b;
        g_autoptr(json_object) result = NULL;
        json_object *params = json_object_new_object();
        int r;

        json_object_object_add(params, "pattern", json_object_new_string(pattern));
        r = socket_call(s, "clear_retained", params, pattern, &result);
        if (r != 0)
                return r;
        if (!get_u64(result, "count", ret_count))
                return bad_reply("clear_retained", _("no count"));
        return 0;
}

static int s_get(Backend *b, const char *key, GBytes **ret_value, bool *ret_text, uint64_t *ret_revision) {
        SocketBackend *s = (SocketBackend *) b;
        g_autoptr(json_object) result = NULL;
        json_object *params = json_object_new_object();
        GBytes *value;
        int r;

        json_object_object_add(params, "key", json_object_new_string(key));
        r = socket_call(s, "get", params, key, &result);
        if (r != 0)
                return r;
        if (!get_u64(result, "revision", ret_revision))
                return bad_reply("get", _("no revision"));
        value = get_bytes(result, "value", ret_text);
        if (!value)
                return bad_reply("get", _("no value"));
        *ret_value = value;
        return 0;
}

static int s_set(Backend *b, const char *key, const char *value, bool if_revision, uint64_t expected) {
        SocketBackend *s = (SocketBackend *) b;
        g_autoptr(json_object) result = NULL;
        json_object *params = params_with_bytes("key", key, "value", value);

        if (!if_revision)
                return socket_call(s, "set", params, key, &result);
        json_object_object_add(params, "expected_revision", json_object_new_uint64(expected));
        return socket_call(s, "set_if", params, key, &result);
}

static int s_delete(Backend *b, const char *key, bool *ret_existed) {
        SocketBackend *s = (SocketBackend *) b;
        g_autoptr(json_object) result = NULL;
        json_object *params = json_object_new_object();
        int r;

        json_object_object_add(params, "key", json_object_new_string(key));
        r = socket_call(s, "delete", params, key, &result);
        if (r != 0)
                return r;
        *ret_existed = get_bool(result, "existed");
        return 0;
}

static int s_list(Backend *b, const char *prefix, GPtrArray **ret_entries) {
        SocketBackend *s = (SocketBackend *) b;
        g_autoptr(json_object) result = NULL;
        g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func((GDestroyNotify) list_entry_free);
        json_object *params = json_object_new_object(), *array;
        int r;

        json_object_object_add(params, "prefix", json_object_new_string(prefix));
        r = socket_call(s, "list", params, prefix, &result);
        if (r != 0)
                return r;
        if (!json_object_object_get_ex(result, "entries", &array) || !json_object_is_type(array, json_type_array))
                return bad_reply("list", _("no entries"));

        for (size_t i = 0; i < json_object_array_length(array); i++) {
                json_object *o = json_object_array_get_idx(array, i);
                const char *key = get_string(o, "key");
                const char *value = get_string(o, "value");
                ListEntry *e;

                if (!key)
                        return bad_reply("list", _("an entry without a key"));
                e = g_new0(ListEntry, 1);
                e->key = g_strdup(key);
                /* A value that is not text is listed as "", as D-Bus List does. */
                e->value = g_strdup(value ?: "");
                (void) get_u64(o, "revision", &e->revision);
                g_ptr_array_add(entries, e);
        }
        *ret_entries = g_steal_pointer(&entries);
        return 0;
}

static void read_counts(json_object *o, GArray *into) {
        json_object_object_foreach(o, name, value)
                if (json_object_is_type(value, json_type_int))
                        named_counts_add(into, name, json_object_get_uint64(value));
        named_counts_sort(into);
}

static int s_info(Backend *b, Info *info) {
        SocketBackend *s = (SocketBackend *) b;
        g_autoptr(json_object) result = NULL;
        const char *version;
        json_object *o;
        uint64_t v;
        int r;

        r = socket_call(s, "hub.info", NULL, NULL, &result);
        if (r != 0)
                return r;
        if (!json_object_is_type(result, json_type_object))
                return bad_reply("hub.info", _("not an object"));

        version = get_string(result, "version");
        info->version = g_strdup(version);
        (void) get_u64(result, "start_time", &info->start_time);
        (void) get_u64(result, "messages_published", &info->published);
        (void) get_u64(result, "messages_delivered", &info->delivered);
        (void) get_u64(result, "messages_dropped", &info->dropped);
        (void) get_u64(result, "store_changes", &info->store_changes);
        if (get_u64(result, "clients", &v))
                info->clients = (uint32_t) v;
        if (get_u64(result, "subscriptions", &v))
                info->subscriptions = (uint32_t) v;
        if (get_u64(result, "topics", &v))
                info->topics = (uint32_t) v;
        if (get_u64(result, "keys", &v))
                info->keys = (uint32_t) v;
        if (json_object_object_get_ex(result, "clients_by_transport", &o) && json_object_is_type(o, json_type_object))
                read_counts(o, info->by_transport);
        if (json_object_object_get_ex(result, "limits", &o) && json_object_is_type(o, json_type_object))
                read_counts(o, info->limits);
        if (json_object_object_get_ex(result, "jsonrpc", &o) && json_object_is_type(o, json_type_object)) {
                info->jsonrpc = named_counts_new();
                read_counts(o, info->jsonrpc);
        }
        if (get_u64(result, "queues", &v)) {
                info->has_queues = true;
                info->queues = (uint32_t) v;
        }
        if (get_u64(result, "pending_calls", &v))
                info->pending_calls = (uint32_t) v;
        if (json_object_object_get_ex(result, "services", &o) && json_object_is_type(o, json_type_object))
                read_counts(o, info->services);
        return 0;
}

/* ---- queues ----------------------------------------------------------- */

static int s_push(Backend *b, const char *queue, const char *payload, uint64_t delay_ms, uint64_t *ret_id) {
        SocketBackend *s = (SocketBackend *) b;
        g_autoptr(json_object) result = NULL;
        json_object *params = params_with_bytes("queue", queue, "payload", payload);
        int r;

        json_object_object_add(params, "delay_ms", json_object_new_uint64(delay_ms));
        r = socket_call_on(s, "push", params, SUBJECT_QUEUE, queue, &result);
        if (r != 0)
                return r;
        if (!get_u64(result, "id", ret_id))
                return bad_reply("push", _("no id"));
        return 0;
}

static int read_job(json_object *o, const char *method, Job *ret) {
        uint64_t attempts;
        GBytes *payload;
        bool text;

        if (!get_u64(o, "id", &ret->id) || !get_u64(o, "attempts", &attempts))
                return bad_reply(method, _("no job id"));
        payload = get_bytes(o, "payload", &text);
        if (!payload)
                return bad_reply(method, _("no payload"));
        ret->payload = payload;
        ret->text = text;
        ret->attempts = (uint32_t) attempts;
        return 0;
}

static int s_reserve(Backend *b, const char *queue, uint32_t timeout_ms, uint32_t visibility_ms, int cancel_fd,
                     Job *ret_job) {
        SocketBackend *s = (SocketBackend *) b;
        g_autoptr(json_object) response = NULL;
        json_object *params = json_object_new_object(), *result, *error;
        const char *name, *text;
        int code, r;

        json_object_object_add(params, "queue", json_object_new_string(queue));
        json_object_object_add(params, "timeout_ms", json_object_new_uint64(timeout_ms));
        json_object_object_add(params, "visibility_ms", json_object_new_uint64(visibility_ms));
        r = socket_request(s, "reserve", params, timeout_ms + ANSWER_SLACK_MS, cancel_fd, &response);
        if (r != 0)
                return r;
        if (json_object_object_get_ex(response, "error", &error)) {
                rpc_error_parts(error, &name, &text, &code);
                if (name && g_str_equal(name, HUB_ERROR_PREFIX "NoJob"))
                        return CLI_NO_JOB;
                return report_rpc_error(error, SUBJECT_QUEUE, queue);
        }
        if (!json_object_object_get_ex(response, "result", &result))
                return bad_reply("reserve", _("no result"));
        return read_job(result, "reserve", ret_job);
}

static int s_job_op(Backend *b, const char *method, uint64_t id, bool with_delay, uint64_t delay_ms) {
        SocketBackend *s = (SocketBackend *) b;
        g_autoptr(json_object) result = NULL;
        json_object *params = json_object_new_object();
        char what[32];

        json_object_object_add(params, "id", json_object_new_uint64(id));
        if (with_delay)
                json_object_object_add(params, "delay_ms", json_object_new_uint64(delay_ms));
        g_snprintf(what, sizeof what, "%" G_GUINT64_FORMAT, id);
        return socket_call_on(s, method, params, SUBJECT_JOB, what, &result);
}

static int s_ack(Backend *b, uint64_t id) {
        return s_job_op(b, "ack", id, false, 0);
}

static int s_nack(Backend *b, uint64_t id, uint64_t delay_ms) {
        return s_job_op(b, "nack", id, true, delay_ms);
}

static int s_touch(Backend *b, uint64_t id) {
        return s_job_op(b, "touch", id, false, 0);
}

static int s_queue_count(Backend *b, const char *method, const char *queue, bool with_max, uint32_t max,
                         uint64_t *ret_count) {
        SocketBackend *s = (SocketBackend *) b;
        g_autoptr(json_object) result = NULL;
        json_object *params = json_object_new_object();
        int r;

        json_object_object_add(params, "queue", json_object_new_string(queue));
        if (with_max)
                json_object_object_add(params, "max", json_object_new_uint64(max));
        r = socket_call_on(s, method, params, SUBJECT_QUEUE, queue, &result);
        if (r != 0)
                return r;
        if (!get_u64(result, "count", ret_count))
                return bad_reply(method, _("no count"));
        return 0;
}

static int s_kick(Backend *b, const char *queue, uint32_t max, uint64_t *ret_count) {
        return s_queue_count(b, "kick", queue, true, max, ret_count);
}

static int s_purge(Backend *b, const char *queue, uint64_t *ret_count) {
        return s_queue_count(b, "purge", queue, false, 0, ret_count);
}

static int s_peek(Backend *b, const char *queue, Job *ret_job) {
        SocketBackend *s = (SocketBackend *) b;
        g_autoptr(json_object) result = NULL;
        json_object *params = json_object_new_object();
        int r;

        json_object_object_add(params, "queue", json_object_new_string(queue));
        r = socket_call_on(s, "peek", params, SUBJECT_QUEUE, queue, &result);
        if (r != 0)
                return r;
        return read_job(result, "peek", ret_job);
}

static int s_list_queues(Backend *b, GArray **ret_rows) {
        SocketBackend *s = (SocketBackend *) b;
        g_autoptr(json_object) result = NULL;
        g_autoptr(GArray) rows = queue_rows_new();
        json_object *array;
        int r;

        r = socket_call_on(s, "list_queues", NULL, SUBJECT_QUEUE, NULL, &result);
        if (r != 0)
                return r;
        if (!json_object_object_get_ex(result, "queues", &array) || !json_object_is_type(array, json_type_array))
                return bad_reply("list_queues", _("no queues"));
        for (size_t i = 0; i < json_object_array_length(array); i++) {
                json_object *o = json_object_array_get_idx(array, i);
                const char *name = get_string(o, "name");
                uint64_t v[5] = {};
                QueueRow row;

                if (!name)
                        return bad_reply("list_queues", _("a queue without a name"));
                (void) get_u64(o, "ready", &v[0]);
                (void) get_u64(o, "reserved", &v[1]);
                (void) get_u64(o, "delayed", &v[2]);
                (void) get_u64(o, "dead", &v[3]);
                (void) get_u64(o, "waiting", &v[4]);
                row = (QueueRow) {
                        .name = g_strdup(name),
                        .ready = (uint32_t) v[0], .reserved = (uint32_t) v[1], .delayed = (uint32_t) v[2],
                        .dead = (uint32_t) v[3], .waiting = (uint32_t) v[4],
                };
                g_array_append_val(rows, row);
        }
        *ret_rows = g_steal_pointer(&rows);
        return 0;
}

/* ---- request/reply ---------------------------------------------------- */

static int s_call(Backend *b, const char *name, const char *payload, uint32_t timeout_ms, GBytes **ret_reply,
                  bool *ret_text) {
        SocketBackend *s = (SocketBackend *) b;
        g_autoptr(json_object) response = NULL;
        json_object *params = params_with_bytes("name", name, "payload", payload), *result, *error;
        const char *ename, *text;
        GBytes *reply;
        int code, r;

        json_object_object_add(params, "timeout_ms", json_object_new_uint64(timeout_ms));
        r = socket_request(s, "call", params, (timeout_ms ?: CALL_MAX_TIMEOUT_MS) + ANSWER_SLACK_MS, -1,
                           &response);
        if (r != 0)
                return r;
        if (json_object_object_get_ex(response, "error", &error)) {
                rpc_error_parts(error, &ename, &text, &code);
                if (ename)
                        return cli_report_call_error(ename, text, name);
                return report_rpc_error(error, SUBJECT_SERVICE, name);
        }
        if (!json_object_object_get_ex(response, "result", &result))
                return bad_reply("call", _("no result"));
        reply = get_bytes(result, "payload", ret_text);
        if (!reply)
                return bad_reply("call", _("no payload"));
        *ret_reply = reply;
        return 0;
}

static int s_serve(Backend *b, const char *name) {
        SocketBackend *s = (SocketBackend *) b;
        g_autoptr(json_object) result = NULL;
        json_object *params = json_object_new_object();

        json_object_object_add(params, "name", json_object_new_string(name));
        return socket_call_on(s, "serve", params, SUBJECT_SERVICE, name, &result);
}

static int s_reply(Backend *b, uint64_t id, const void *data, size_t size) {
        SocketBackend *s = (SocketBackend *) b;
        g_autoptr(json_object) result = NULL;
        json_object *params = json_object_new_object();
        char what[32];

        json_object_object_add(params, "id", json_object_new_uint64(id));
        if (g_utf8_validate(data, (gssize) size, NULL))
                json_object_object_add(params, "payload", json_object_new_string_len(data, (int) size));
        else {
                g_autofree char *b64 = g_base64_encode(data, size);

                json_object_object_add(params, "payload_base64", json_object_new_string(b64));
        }
        g_snprintf(what, sizeof what, "%" G_GUINT64_FORMAT, id);
        return socket_call_on(s, "reply", params, SUBJECT_CALL, what, &result);
}

static int s_reply_error(Backend *b, uint64_t id, const char *name, const char *message) {
        SocketBackend *s = (SocketBackend *) b;
        g_autoptr(json_object) result = NULL;
        json_object *params = json_object_new_object();
        char what[32];

        json_object_object_add(params, "id", json_object_new_uint64(id));
        json_object_object_add(params, "name", json_object_new_string(name));
        json_object_object_add(params, "message", json_object_new_string(message));
        g_snprintf(what, sizeof what, "%" G_GUINT64_FORMAT, id);
        return socket_call_on(s, "reply_error", params, SUBJECT_CALL, what, &result);
}

/* ---- streams ---------------------------------------------------------- */

static void read_sender(json_object *params, Sender *sender) {
        json_object *o;

        if (!json_object_object_get_ex(params, "sender", &o) || !json_object_is_type(o, json_type_object))
                return;
        sender->transport = get_string(o, "transport");
        sender->has_client = get_u64(o, "client", &sender->client);
        sender->has_uid = get_u64(o, "uid", &sender->uid);
        sender->has_pid = get_u64(o, "pid", &sender->pid);
        sender->name = get_string(o, "name");
}

/* Hand one notification to the stream; unknown ones are skipped. */
static void dispatch_notification(SocketBackend *s, json_object *n) {
        const char *method = get_string(n, "method");
        g_autoptr(GBytes) bytes = NULL;
        json_object *params;
        Sender sender = {};
        Event e = {};
        bool text = false;

        if (!method || !json_object_object_get_ex(n, "params", &params) ||
            !json_object_is_type(params, json_type_object))
                return;

        if (g_str_equal(method, "message") || g_str_equal(method, "key_changed")) {
                bool key = method[0] == 'k';

                e.kind = key ? EVENT_KEY_CHANGED : EVENT_MESSAGE;
                e.name = get_string(params, key ? "key" : "topic");
                (void) get_u64(params, key ? "watch" : "subscription", &e.id);
                if (!e.name || !get_u64(params, key ? "revision" : "seq", &e.number))
                        return;
                bytes = get_bytes(params, key ? "value" : "payload", &text);
                if (bytes) {
                        e.data = g_bytes_get_data(bytes, &e.size);
                        if (text)
                                e.size--;               /* without the NUL */
                } else
                        e.data = "";
                e.binary = bytes && !text;
                e.retained = get_bool(params, "retained");
                e.deleted = get_bool(params, "deleted");
                read_sender(params, &sender);
                e.sender = sender.transport ? &sender : NULL;
        } else if (g_str_equal(method, "request")) {
                e.kind = EVENT_REQUEST;
                e.name = get_string(params, "name");
                if (!e.name || !get_u64(params, "id", &e.id))
                        return;
                bytes = get_bytes(params, "payload", &text);
                if (bytes) {
                        e.data = g_bytes_get_data(bytes, &e.size);
                        if (text)
                                e.size--;
                } else
                        e.data = "";
                e.binary = bytes && !text;
                read_sender(params, &sender);
                e.sender = sender.transport ? &sender : NULL;
        } else if (g_str_equal(method, "gap")) {
                e.kind = EVENT_GAP;
                if (!get_u64(params, "id", &e.id) || !get_u64(params, "first_seq", &e.first) ||
                    !get_u64(params, "last_seq", &e.last))
                        return;
        } else
                return;

        s->handler(&e, s->userdata);
}

static void stream_process(SocketBackend *s) {
        json_object *o;
        int r;

        while ((o = g_queue_pop_head(&s->stash))) {
                dispatch_notification(s, o);
                json_object_put(o);
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
                json_object_put(o);
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
                fprintf(stderr, _("switchboard: the hub stopped; the subscription has ended\n"));
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

static int s_listen(SocketBackend *s, const char *method, const char *arg_name, const char *arg,
                    bool with_retained, uint64_t *ret_id) {
        g_autoptr(json_object) result = NULL;
        json_object *params = json_object_new_object();
        int r;

        json_object_object_add(params, arg_name, json_object_new_string(arg));
        if (with_retained)
                json_object_object_add(params, "with_retained", json_object_new_boolean(true));
        r = socket_call(s, method, params, arg, &result);
        if (r != 0)
                return r;
        if (!get_u64(result, "id", ret_id))
                return bad_reply(method, _("no id"));
        return 0;
}

static int s_subscribe(Backend *b, const char *pattern, bool with_retained, uint64_t *ret_id) {
        return s_listen((SocketBackend *) b, "subscribe", "pattern", pattern, with_retained, ret_id);
}

static int s_watch(Backend *b, const char *prefix, uint64_t *ret_id) {
        return s_listen((SocketBackend *) b, "watch", "prefix", prefix, false, ret_id);
}

static void s_free(Backend *b) {
        SocketBackend *s = (SocketBackend *) b;

        s->io = sd_event_source_disable_unref(s->io);
        s->drain = sd_event_source_disable_unref(s->drain);
        if (s->event)
                s->event = sd_event_unref(s->event);
        g_queue_clear_full(&s->stash, json_object_unref);
        frame_reader_deinit(&s->reader);
        fd_close(s->fd);
        g_free(s->path);
        g_free(s);
}

static const BackendOps socket_ops = {
        .publish = s_publish,
        .clear_retained = s_clear_retained,
        .get = s_get,
        .set = s_set,
        .delete = s_delete,
        .list = s_list,
        .info = s_info,
        .stream_prepare = s_stream_prepare,
        .subscribe = s_subscribe,
        .watch = s_watch,
        .push = s_push,
        .reserve = s_reserve,
        .ack = s_ack,
        .nack = s_nack,
        .touch = s_touch,
        .kick = s_kick,
        .peek = s_peek,
        .purge = s_purge,
        .list_queues = s_list_queues,
        .call = s_call,
        .serve = s_serve,
        .reply = s_reply,
        .reply_error = s_reply_error,
        .free = s_free,
};

/**
 * socket_backend_new() - a backend on the connected socket @fd (taken over)
 *
 * Return: 0 and the backend in @ret.
 */
int socket_backend_new(int fd, const char *path, Backend **ret) {
        SocketBackend *s = g_new0(SocketBackend, 1);

        s->base.ops = &socket_ops;
        s->fd = fd;
        s->path = g_strdup(path);
        frame_reader_init(&s->reader, MAX_REPLY_FRAME);
        g_queue_init(&s->stash);
        *ret = &s->base;
        return 0;
}
