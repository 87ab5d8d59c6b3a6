/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * last-error.c: see last-error.h. Called by main.c when start-up fails and
 * by manager.c once the hub is ready.
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "daemon/last-error.h"
#include "daemon/manager.h"
#include "util/file.h"
#include "util/log.h"

static char *state_dir(void) {
        return g_build_filename(g_get_user_state_dir(), "switchboard", NULL);
}

static int leave_in(const char *dir, const char *text) {
        g_autofree char *path = g_build_filename(dir, LAST_ERROR_FILE, NULL);
        g_autofree char *line = g_strconcat(text, "\n", NULL);
        int r;

        r = file_write_atomic(path, line, 0600);
        if (r < 0)
                return log_warning_errno(r, "Failed to write '%s': %m", path);
        return 0;
}

/**
 * last_error_leave() - write @text to the last-error file
 * @runtime_dir: the hub's runtime directory, or NULL when it was not set up
 *
 * Without @runtime_dir this tries to set it up now (a configuration error
 * comes before it), and falls back to the state directory when it cannot.
 * Failures are logged and otherwise ignored: the hub is stopping anyway.
 */
void last_error_leave(const char *runtime_dir, const char *text) {
        g_autofree char *dir = NULL, *state = NULL;

        if (runtime_dir && leave_in(runtime_dir, text) >= 0)
                return;
        if (!runtime_dir && runtime_dir_prepare(&dir) >= 0 && leave_in(dir, text) >= 0)
                return;
        state = state_dir();
        if (g_mkdir_with_parents(state, 0700) < 0) {
                log_warning_errno(-errno, "Failed to create '%s', ignoring: %m", state);
                return;
        }
        (void) leave_in(state, text);
}

/**
 * last_error_clear() - remove the last-error files: a hub has started
 */
void last_error_clear(const char *runtime_dir) {
        g_autofree char *state = state_dir();
        g_autofree char *a = g_build_filename(runtime_dir, LAST_ERROR_FILE, NULL);
        g_autofree char *b = g_build_filename(state, LAST_ERROR_FILE, NULL);

        if (unlink(a) < 0 && errno != ENOENT)
                log_warning_errno(-errno, "Failed to remove '%s', ignoring: %m", a);
        if (unlink(b) < 0 && errno != ENOENT)
                log_warning_errno(-errno, "Failed to remove '%s', ignoring: %m", b);
}
