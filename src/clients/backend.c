/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * backend.c: the Backend interface the commands use: choosing and opening a
 * backend, and a request by the D-Bus member that names its descriptor in
 * the op table. backend_call() reports the hub's error through
 * cli_report_error(), so messages and exit statuses are the same whichever
 * backend carried the call.
 */

#include <glib.h>

#include "clients/backend.h"

/**
 * backend_free() - close @b (NULL is fine)
 */
void backend_free(Backend *b) {
        if (b)
                b->ops->free(b);
}

/**
 * backend_open_socket() - the socket backend; with BACKEND_AUTO, start the hub through D-Bus first
 *
 * Return: 0 and the backend in @ret, or 69 (message printed).
 */
int backend_open_socket(const BackendConfig *config, Backend **ret) {
        int fd, r;

        r = socket_connect_hub(config, &fd);
        if (r != 0)
                return r;
        *ret = socket_backend_new(fd);
        return *ret ? 0 : SB_EXIT_UNREACHABLE;
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
        int fd;

        switch (config->kind) {
        case BACKEND_DBUS:
                return dbus_backend_open(config->address, ret);
        case BACKEND_SOCKET:
                return backend_open_socket(config, ret);
        case BACKEND_AUTO:
                break;
        }

        if (config->tcp_address)
                return backend_open_socket(config, ret);
        if (config->address && !config->socket_path)
                return dbus_backend_open(config->address, ret);

        path = config->socket_path ? g_strdup(config->socket_path) : socket_default_path();
        if (socket_try_connect(path, &fd) < 0)
                return dbus_backend_open(config->address, ret);
        *ret = socket_backend_new(fd);
        return *ret ? 0 : SB_EXIT_UNREACHABLE;
}

/**
 * backend_request() - call the operation of D-Bus member @member with @in, as BackendOps.request
 *
 * Return: see BackendOps.request.
 */
int backend_request(Backend *b, const char *member, const OpArgs *in, unsigned timeout_ms, int cancel_fd,
                    CliResult *ret) {
        const OpMethod *m = op_method_by_dbus(member);

        g_assert(m);
        return b->ops->request(b, m, in, timeout_ms, cancel_fd, ret);
}

/**
 * backend_call() - backend_request() with the usual timeout, reporting the hub's error
 * @kind, @subject: what the call is about, for the error message; a NULL
 *      @subject of a job or call is @in's id
 *
 * Return: 0 and the answer in @ret, CLI_NOT_TEXT, or an exit status (message printed).
 */
int backend_call(Backend *b, const char *member, const OpArgs *in, SubjectKind kind, const char *subject,
                 CliResult *ret) {
        char id[32];
        int r;

        r = backend_request(b, member, in, 0, -1, ret);
        if (r != CLI_HUB_ERROR)
                return r;
        if (!subject && (kind == SUBJECT_JOB || kind == SUBJECT_CALL)) {
                g_snprintf(id, sizeof id, "%" G_GUINT64_FORMAT, in->id);
                subject = id;
        }
        return cli_report_error(&ret->error, kind, subject);
}

/**
 * backend_stream_prepare() - see BackendOps.stream_prepare
 */
int backend_stream_prepare(Backend *b, sd_event *event, EventHandler handler, void *userdata) {
        return b->ops->stream_prepare(b, event, handler, userdata);
}
