/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli-common.c: the parts of the CLI that do not depend on the transport:
 * choosing a backend, turning a hub error (a D-Bus error name, or the same
 * name in a JSON-RPC error's data.name) into one message and one exit
 * status, the JSON line writer, and the Info/ListEntry helpers. Called by
 * switchboard.c and both backends.
 */

#include <string.h>

#include <glib.h>
#include <glib/gi18n.h>

#include "clients/cli.h"
#include "util/sd-glue.h"

void cli_print_unreachable_hint(void) {
        fprintf(stderr,
                _("Check that switchboardd is installed and that the session bus can start it "
                  "(it needs the D-Bus service file for %s).\n"),
                HUB_NAME);
}

/**
 * cli_report_hub_error_on() - print the message for a hub error; return the exit status
 * @name: the error name, "org.switchboard.Hub1.Error.X" for the hub's own errors
 * @message: the hub's explanation
 * @kind: what @subject is, for the wording of NotFound and the like
 * @subject: the topic, pattern, key, queue, job id or service name the call was about, or NULL
 *
 * Return: 3 for NotFound (and NoJob), 4 for Conflict, 5 for NoServer, 6 for
 * Timeout, 7 for ServerGone, 1 for everything else.
 */
int cli_report_hub_error_on(const char *name, const char *message, SubjectKind kind, const char *subject) {
        g_autofree char *what = NULL;
        const char *suffix;
        int exit_code = SB_EXIT_HUB_ERROR;

        message = message ?: name;
        if (!g_str_has_prefix(name, HUB_ERROR_PREFIX)) {
                fprintf(stderr, _("switchboard: the hub returned an error: %s (%s)\n"), message, name);
                return SB_EXIT_HUB_ERROR;
        }

        /* Name the problem and what it was about; the hub's message says why. */
        subject = subject ?: "";
        suffix = name + strlen(HUB_ERROR_PREFIX);
        if (g_str_equal(suffix, "InvalidTopic"))
                what = g_strdup_printf(_("invalid topic '%s'"), subject);
        else if (g_str_equal(suffix, "InvalidPattern"))
                what = g_strdup_printf(_("invalid pattern '%s'"), subject);
        else if (g_str_equal(suffix, "InvalidKey"))
                what = g_strdup_printf(_("invalid key '%s'"), subject);
        else if (g_str_equal(suffix, "InvalidQueue"))
                what = g_strdup_printf(_("invalid queue name '%s'"), subject);
        else if (g_str_equal(suffix, "InvalidName"))
                what = g_strdup_printf(_("invalid service name '%s'"), subject);
        else if (g_str_equal(suffix, "NotFound") || g_str_equal(suffix, "NoJob")) {
                switch (kind) {
                case SUBJECT_QUEUE:
                        what = g_strdup_printf(_("no job ready in queue '%s'"), subject);
                        break;
                case SUBJECT_JOB:
                        what = g_strdup_printf(_("job %s is not reserved by this client"), subject);
                        break;
                case SUBJECT_SERVICE:
                        what = g_strdup_printf(_("this client does not serve '%s'"), subject);
                        break;
                case SUBJECT_CALL:
                        what = g_strdup_printf(_("call %s is not pending here"), subject);
                        break;
                default:
                        what = g_strdup_printf(_("no such key '%s'"), subject);
                }
                exit_code = SB_EXIT_NOT_FOUND;
        } else if (g_str_equal(suffix, "Conflict")) {
                if (kind == SUBJECT_SERVICE)
                        what = g_strdup_printf(_("'%s' is served by this client already"), subject);
                else
                        what = g_strdup_printf(_("revision conflict on key '%s'"), subject);
                exit_code = SB_EXIT_CONFLICT;
        } else if (g_str_equal(suffix, "LimitExceeded"))
                what = g_strdup_printf(_("limit exceeded for '%s'"), subject);
        else if (g_str_equal(suffix, "NotText"))
                what = g_strdup_printf(_("the value of '%s' is not text"), subject);
        else if (g_str_equal(suffix, "NoServer")) {
                what = g_strdup_printf(_("nobody serves '%s'"), subject);
                exit_code = SB_EXIT_NO_SERVER;
        } else if (g_str_equal(suffix, "Timeout")) {
                what = g_strdup_printf(_("no reply from '%s' in time"), subject);
                exit_code = SB_EXIT_TIMEOUT;
        } else if (g_str_equal(suffix, "ServerGone")) {
                what = g_strdup_printf(_("the server of '%s' went away before it replied"), subject);
                exit_code = SB_EXIT_SERVER_GONE;
        } else if (kind == SUBJECT_SERVICE) {
                /* A server's own error (CommandFailed, ServerError, ...). */
                what = g_strdup_printf(_("'%s' answered with an error (%s)"), subject, name);
        } else
                what = g_strdup_printf(_("the hub returned %s"), name);

        fprintf(stderr, "switchboard: %s: %s\n", what, message);
        return exit_code;
}

/**
 * cli_report_hub_error() - cli_report_hub_error_on() about a topic, pattern or key
 */
int cli_report_hub_error(const char *name, const char *message, const char *subject) {
        return cli_report_hub_error_on(name, message, SUBJECT_KEY, subject);
}

/**
 * cli_report_call_error() - report the error a call got, @service being the name called
 *
 * Unlike other calls, any error name can come back (the server's own), so
 * an error outside the hub's namespace is the server's too: exit status 1.
 */
int cli_report_call_error(const char *name, const char *message, const char *service) {
        if (!g_str_has_prefix(name, HUB_ERROR_PREFIX)) {
                fprintf(stderr, "switchboard: ");
                fprintf(stderr, _("'%s' answered with an error (%s)"), service, name);
                fprintf(stderr, ": %s\n", message ?: name);
                return SB_EXIT_HUB_ERROR;
        }
        return cli_report_hub_error_on(name, message, SUBJECT_SERVICE, service);
}

/**
 * backend_open() - connect to the hub as @config says
 *
 * Auto: the socket if it accepts a connection, else D-Bus (whose first call
 * activates the hub). A D-Bus address given with --address means D-Bus.
 *
 * Return: 0 and the backend in @ret, or an exit status (message printed).
 */
int backend_open(const BackendConfig *config, Backend **ret) {
        g_autofree char *path = NULL;
        int fd, r;

        switch (config->kind) {
        case BACKEND_DBUS:
                return dbus_backend_open(config->address, ret);
        case BACKEND_SOCKET:
                r = socket_connect_hub(&(BackendConfig) { .kind = BACKEND_SOCKET,
                                                          .socket_path = config->socket_path }, &fd);
                if (r != 0)
                        return r;
                path = config->socket_path ? g_strdup(config->socket_path) : socket_default_path();
                return socket_backend_new(fd, path, ret);
        case BACKEND_AUTO:
                break;
        }

        if (config->address && !config->socket_path)
                return dbus_backend_open(config->address, ret);

        path = config->socket_path ? g_strdup(config->socket_path) : socket_default_path();
        if (socket_try_connect(path, &fd) >= 0)
                return socket_backend_new(fd, path, ret);
        return dbus_backend_open(config->address, ret);
}

/* JSON strings: our strings are valid UTF-8 already, so only quotes,
 * backslashes and control characters need escaping. */
void json_append_string(GString *out, const char *s) {
        g_string_append_c(out, '"');
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                switch (*p) {
                case '"':
                        g_string_append(out, "\\\"");
                        break;
                case '\\':
                        g_string_append(out, "\\\\");
                        break;
                case '\n':
                        g_string_append(out, "\\n");
                        break;
                case '\r':
                        g_string_append(out, "\\r");
                        break;
                case '\t':
                        g_string_append(out, "\\t");
                        break;
                case '\b':
                        g_string_append(out, "\\b");
                        break;
                case '\f':
                        g_string_append(out, "\\f");
                        break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                g_string_append_printf(out, "\\u%04x", *p);
                        else
                                g_string_append_c(out, (char) *p);
                }
        g_string_append_c(out, '"');
}

void json_append_member(GString *out, const char *name, const char *value) {
        if (out->len > 1)
                g_string_append_c(out, ',');
        json_append_string(out, name);
        g_string_append_c(out, ':');
        json_append_string(out, value);
}

void json_append_u64(GString *out, const char *name, uint64_t value) {
        if (out->len > 1)
                g_string_append_c(out, ',');
        json_append_string(out, name);
        g_string_append_printf(out, ":%" G_GUINT64_FORMAT, value);
}

void json_append_bool(GString *out, const char *name, gboolean value) {
        if (out->len > 1)
                g_string_append_c(out, ',');
        json_append_string(out, name);
        g_string_append(out, value ? ":true" : ":false");
}

void json_append_base64(GString *out, const char *name, const void *data, size_t size) {
        g_autofree char *b64 = g_base64_encode(data, size);

        json_append_member(out, name, b64);
}

void print_line(const char *line) {
        fputs(line, stdout);
        fputc('\n', stdout);
        fflush(stdout);
}

static void named_count_clear(gpointer p) {
        NamedCount *n = p;

        g_free(n->name);
}

static gint named_count_compare(gconstpointer a, gconstpointer b) {
        return strcmp(((const NamedCount *) a)->name, ((const NamedCount *) b)->name);
}

GArray *named_counts_new(void) {
        GArray *a = g_array_new(FALSE, TRUE, sizeof(NamedCount));

        g_array_set_clear_func(a, named_count_clear);
        return a;
}

void named_counts_add(GArray *a, const char *name, uint64_t value) {
        NamedCount n = { .name = g_strdup(name), .value = value };

        g_array_append_val(a, n);
}

void named_counts_sort(GArray *a) {
        g_array_sort(a, named_count_compare);
}

void info_init(Info *info) {
        *info = (Info) {
                .by_transport = named_counts_new(),
                .limits = named_counts_new(),
                .services = named_counts_new(),
        };
}

void info_clear(Info *info) {
        g_clear_pointer(&info->version, g_free);
        g_clear_pointer(&info->by_transport, g_array_unref);
        g_clear_pointer(&info->limits, g_array_unref);
        g_clear_pointer(&info->jsonrpc, g_array_unref);
        g_clear_pointer(&info->services, g_array_unref);
}

void list_entry_free(ListEntry *e) {
        if (!e)
                return;
        g_free(e->key);
        g_free(e->value);
        g_free(e);
}

void job_clear(Job *j) {
        g_clear_pointer(&j->payload, g_bytes_unref);
}

/* The bytes of a payload read as Job.payload is: text without its NUL. */
const void *payload_data(GBytes *payload, bool text, size_t *ret_size) {
        size_t size;
        const void *data = g_bytes_get_data(payload, &size);

        *ret_size = text && size > 0 ? size - 1 : size;
        return data ?: "";
}

static void queue_row_clear(gpointer p) {
        g_free(((QueueRow *) p)->name);
}

GArray *queue_rows_new(void) {
        GArray *a = g_array_new(FALSE, TRUE, sizeof(QueueRow));

        g_array_set_clear_func(a, queue_row_clear);
        return a;
}
