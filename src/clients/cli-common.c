/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli-common.c: what the backends and the commands share below the Backend
 * interface: a call's result and what it holds, and turning a hub error (a
 * D-Bus error name, or the same name in a JSON-RPC error's data.name) into
 * one message and one exit status. Called by both backends and the
 * commands; calls neither.
 */

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gi18n.h>

#include "clients/cli-common.h"

typedef struct CliHeld {
        void *p;
        GDestroyNotify destroy;
} CliHeld;

static void held_clear(void *p) {
        CliHeld *h = p;

        h->destroy(h->p);
}

/**
 * cli_result_hold() - keep @p (freed with @destroy) as long as @res: what its strings point into
 */
void cli_result_hold(CliResult *res, void *p, GDestroyNotify destroy) {
        CliHeld h = { p, destroy };

        if (!res->held) {
                res->held = g_array_new(FALSE, FALSE, sizeof(CliHeld));
                g_array_set_clear_func(res->held, held_clear);
        }
        g_array_append_val(res->held, h);
}

/**
 * cli_result_set_error() - record the hub's error in @res (copied); @name may be NULL
 */
void cli_result_set_error(CliResult *res, const char *name, const char *message, int code) {
        g_free(res->error.name);
        g_free(res->error.message);
        res->error = (CliError) { g_strdup(name), g_strdup(message), code };
}

/**
 * cli_result_clear() - free what @res holds; it can be used again
 */
void cli_result_clear(CliResult *res) {
        op_result_clear(&res->out);
        res->out = (OpResult) {};
        cli_result_set_error(res, NULL, NULL, 0);
        g_clear_pointer(&res->held, g_array_unref);
}

/**
 * cli_runtime_dir() - the hub's runtime directory: $XDG_RUNTIME_DIR/switchboard, else the
 * hub's own fallbacks (src/daemon/manager.c, runtime_dir_prepare())
 */
char *cli_runtime_dir(void) {
        const char *runtime = g_getenv("XDG_RUNTIME_DIR");
        g_autofree char *run_user = NULL;
        struct stat st;

        if (runtime && g_path_is_absolute(runtime))
                return g_build_filename(runtime, "switchboard", NULL);
        run_user = g_strdup_printf("/run/user/%u", (unsigned) getuid());
        if (stat(run_user, &st) >= 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid())
                return g_build_filename(run_user, "switchboard", NULL);
        return g_strdup_printf("%s/switchboard-%u/switchboard", g_get_tmp_dir(), (unsigned) getuid());
}

/*
 * The hub's last-error file (src/daemon/last-error.h), in the runtime
 * directory or the state directory, the newer of the two; NULL when a hub
 * started since (it removes both) or none ever failed.
 */
static char *last_error_path(void) {
        g_autofree char *runtime = cli_runtime_dir();
        char *paths[] = {
                g_build_filename(runtime, "last-error", NULL),
                g_build_filename(g_get_user_state_dir(), "switchboard", "last-error", NULL),
        };
        struct stat st[2];
        bool have[2];

        for (size_t i = 0; i < 2; i++)
                have[i] = stat(paths[i], &st[i]) >= 0 && S_ISREG(st[i].st_mode);
        if (have[0] && have[1] && st[1].st_mtime > st[0].st_mtime)
                have[0] = false;
        for (size_t i = 0; i < 2; i++)
                if (have[i]) {
                        g_free(paths[1 - i]);
                        return paths[i];
                }
        g_free(paths[0]);
        g_free(paths[1]);
        return NULL;
}

/**
 * cli_print_last_error() - print why the hub last failed to start, if it left a reason
 *
 * Return: whether it did (and something was printed).
 */
bool cli_print_last_error(void) {
        g_autofree char *path = last_error_path(), *text = NULL;

        if (!path || !g_file_get_contents(path, &text, NULL, NULL) || !*g_strstrip(text))
                return false;
        fprintf(stderr, _("switchboard: the hub failed to start: %s\n"), text);
        fprintf(stderr, _("(from %s; fix the cause, then run the command again)\n"), path);
        return true;
}

/**
 * cli_print_unreachable_hint() - say why the hub cannot be reached, or what to check
 */
void cli_print_unreachable_hint(void) {
        if (cli_print_last_error())
                return;
        fprintf(stderr,
                _("Check that switchboardd is installed and that the session bus can start it "
                  "(it needs the D-Bus service file for %s).\n"),
                HUB_NAME);
}

/**
 * cli_bad_reply() - report an answer that does not have the shape the op table says
 *
 * Return: 1.
 */
int cli_bad_reply(const char *method, int r) {
        fprintf(stderr, _("switchboard: unexpected reply to %s: %s\n"), method, g_strerror(-r));
        return SB_EXIT_HUB_ERROR;
}

/* "invalid topic 'x'", "no such key 'x'", ...: what the error says about @subject. */
static char *describe_error(const char *suffix, SubjectKind kind, const char *subject, int *exit_code) {
        static const char *const invalid[][2] = {
                { "InvalidTopic", N_("invalid topic '%s'") },
                { "InvalidPattern", N_("invalid pattern '%s'") },
                { "InvalidKey", N_("invalid key '%s'") },
                { "InvalidQueue", N_("invalid queue name '%s'") },
                { "InvalidName", N_("invalid service name '%s'") },
                { "LimitExceeded", N_("limit exceeded for '%s'") },
                { "NotText", N_("the value of '%s' is not text") },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(invalid); i++)
                if (g_str_equal(suffix, invalid[i][0])) {
                        /* The formats are the literals above, each with one %s. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                        return g_strdup_printf(_(invalid[i][1]), subject);
#pragma GCC diagnostic pop
                }
        if (g_str_equal(suffix, "NotFound") || g_str_equal(suffix, "NoJob")) {
                *exit_code = SB_EXIT_NOT_FOUND;
                switch (kind) {
                case SUBJECT_QUEUE:
                        return g_strdup_printf(_("no job ready in queue '%s'"), subject);
                case SUBJECT_JOB:
                        return g_strdup_printf(_("job %s is not reserved by this client"), subject);
                case SUBJECT_SERVICE:
                        return g_strdup_printf(_("this client does not serve '%s'"), subject);
                case SUBJECT_CALL:
                        return g_strdup_printf(_("call %s is not pending here"), subject);
                default:
                        return g_strdup_printf(_("no such key '%s'"), subject);
                }
        }
        if (g_str_equal(suffix, "Conflict")) {
                *exit_code = SB_EXIT_CONFLICT;
                if (kind == SUBJECT_SERVICE)
                        return g_strdup_printf(_("'%s' is served by this client already"), subject);
                return g_strdup_printf(_("revision conflict on key '%s'"), subject);
        }
        if (g_str_equal(suffix, "NoServer")) {
                *exit_code = SB_EXIT_NO_SERVER;
                return g_strdup_printf(_("nobody serves '%s'"), subject);
        }
        if (g_str_equal(suffix, "Timeout")) {
                *exit_code = SB_EXIT_TIMEOUT;
                return g_strdup_printf(_("no reply from '%s' in time"), subject);
        }
        if (g_str_equal(suffix, "ServerGone")) {
                *exit_code = SB_EXIT_SERVER_GONE;
                return g_strdup_printf(_("the server of '%s' went away before it replied"), subject);
        }
        return NULL;
}

/* Whether our description of the error @suffix says all its message says about the subject. */
static bool error_restates(const char *suffix) {
        return !g_str_equal(suffix, "LimitExceeded") && !g_str_equal(suffix, "NotText") &&
                (g_str_has_prefix(suffix, "Invalid") || g_str_equal(suffix, "NotFound") ||
                 g_str_equal(suffix, "NoJob") || g_str_equal(suffix, "Conflict") ||
                 g_str_equal(suffix, "NoServer") || g_str_equal(suffix, "Timeout") ||
                 g_str_equal(suffix, "ServerGone"));
}

/**
 * cli_report_error() - print the message for the hub's error @e; return the exit status
 * @kind: what @subject is, for the wording of NotFound and the like
 * @subject: the topic, pattern, key, queue, job id or service name the call was about, or NULL
 *
 * With SUBJECT_CALLED any error name can come back (the server's own), so
 * an error outside the hub's namespace is the server's, not the hub's.
 *
 * Return: 3 for NotFound (and NoJob), 4 for Conflict, 5 for NoServer, 6 for
 * Timeout, 7 for ServerGone, 1 for everything else.
 */
int cli_report_error(const CliError *e, SubjectKind kind, const char *subject) {
        g_autofree char *what = NULL, *quoted = NULL;
        const char *name = e->name, *message, *suffix, *named;
        int exit_code = SB_EXIT_HUB_ERROR;

        if (!name) {
                fprintf(stderr, _("switchboard: the hub returned an error: %s (JSON-RPC error %d)\n"),
                        e->message ?: "", e->code);
                return SB_EXIT_HUB_ERROR;
        }
        message = e->message ?: name;
        subject = subject ?: "";
        if (!g_str_has_prefix(name, HUB_ERROR_PREFIX)) {
                if (kind == SUBJECT_CALLED) {
                        fprintf(stderr, "switchboard: ");
                        fprintf(stderr, _("'%s' answered with an error (%s)"), subject, name);
                        fprintf(stderr, ": %s\n", message);
                } else
                        fprintf(stderr, _("switchboard: the hub returned an error: %s (%s)\n"), message, name);
                return SB_EXIT_HUB_ERROR;
        }

        /* Name the problem and what it was about; the hub's message says why. */
        if (kind == SUBJECT_CALLED)
                kind = SUBJECT_SERVICE;
        suffix = name + strlen(HUB_ERROR_PREFIX);
        what = describe_error(suffix, kind, subject, &exit_code);
        if (!what && kind == SUBJECT_SERVICE)
                /* A server's own error (CommandFailed, ServerError, ...). */
                what = g_strdup_printf(_("'%s' answered with an error (%s)"), subject, name);
        else if (!what)
                what = g_strdup_printf(_("the hub returned %s"), name);

        /* Each thing once: our words for the problem, then only what the hub's message adds. */
        quoted = g_strdup_printf("'%s'", subject);
        named = *subject ? strstr(message, quoted) : NULL;
        if (named && error_restates(suffix)) {
                const char *detail = strstr(named, "': ");

                if (detail)
                        fprintf(stderr, "switchboard: %s: %s\n", what, detail + 3);
                else
                        fprintf(stderr, "switchboard: %s\n", what);
        } else if (named || !*subject) {
                g_autofree char *text = text_clause(message);

                fprintf(stderr, "switchboard: %s\n", text);
        } else
                fprintf(stderr, "switchboard: %s: %s\n", what, message);
        return exit_code;
}
