/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * switchboard.c: the `switchboard` command-line client's entry point: the
 * global options, the table of commands with their options and help, and
 * main(). Each command (cli-commands-*.c) is one or a few operations of a
 * Backend (backend.h): over the hub's JSON-RPC socket when it accepts a
 * connection, else over D-Bus, whose first call activates the hub; --dbus
 * and --socket choose one. Output, messages and exit statuses are the same
 * either way. User-facing text goes through gettext; D-Bus names and the
 * machine-readable output formats (text lines, JSON lines) never do.
 *
 * Exit status is part of the interface (docs/cli.md): 0 success, 1 the hub
 * (or a called server) returned an error, 2 usage error, 3 not found, 4
 * revision conflict, 5/6/7 call: no server, timeout, server gone, 69
 * (EX_UNAVAILABLE) the bus, the socket or the hub could not be reached.
 */

#include <inttypes.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gi18n.h>

#include "build-config.h"
#include "clients/cli.h"

/* Shown at the end of every --help. */
static const char exit_status_text[] =
        N_("Exit status:\n"
           "  0   success\n"
           "  1   the hub returned an error (with call: or the server did)\n"
           "  2   usage error (unknown command or option, missing argument, bad number)\n"
           "  3   not found (no such key, no job ready)\n"
           "  4   conflict (the key's revision did not match --if-revision)\n"
           "  5   call: nobody serves the name\n"
           "  6   call: no reply in time\n"
           "  7   call: the server went away before it replied\n"
           "  69  the session bus or the hub could not be reached");

typedef struct Command Command;
struct Command {
        const char *name;
        const char *params;             /* N_(), after the command name in the usage line */
        const char *summary;            /* N_(), one line, also in the main --help */
        const char *description;        /* N_() or NULL, more lines for the command's --help */
        const GOptionEntry *entries;
        int min_args;
        int max_args;                   /* -1: no limit */
        int (*run)(char **args, int n_args);
};

CliOptions arg;
static const Command *arg_command;

/**
 * usage_error() - print a usage error and where to find help
 *
 * Return: 2.
 */
int usage_error(const char *format, ...) {
        g_autofree char *msg = NULL;
        va_list ap;

        va_start(ap, format);
        msg = g_strdup_vprintf(format, ap);
        va_end(ap);

        fprintf(stderr, "switchboard: %s\n", msg);
        if (arg_command)
                fprintf(stderr, _("Try 'switchboard %s --help' for more information.\n"),
                        arg_command->name);
        else
                fprintf(stderr, _("Try 'switchboard --help' for more information.\n"));
        return SB_EXIT_USAGE;
}

/**
 * parse_u64() - the value @s of @option: a whole number of at least @min
 *
 * Return: 0, or 2 (message printed).
 */
int parse_u64(const char *option, const char *s, uint64_t min, uint64_t *ret) {
        g_autoptr(GError) error = NULL;
        guint64 v;

        if (!g_ascii_string_to_unsigned(s, 10, min, G_MAXUINT64, &v, &error))
                return usage_error(_("invalid number '%s' for %s: expected a whole number of at least %" PRIu64),
                                   s, option, min);
        *ret = v;
        return 0;
}

/* --dbus / --socket, else $SWITCHBOARD_BACKEND, else auto. */
static int backend_config(BackendConfig *ret) {
        const char *env = getenv("SWITCHBOARD_BACKEND");
        BackendKind kind = BACKEND_AUTO;

        if (arg.force_dbus && arg.force_socket)
                return usage_error(_("--dbus and --socket cannot be used together"));
        if (arg.tcp_address && (arg.force_dbus || arg.socket_path))
                return usage_error(_("--tcp cannot be used with --dbus or --socket=PATH"));
        if (arg.force_dbus)
                kind = BACKEND_DBUS;
        else if (arg.force_socket)
                kind = BACKEND_SOCKET;
        else if (env && env[0] && !g_str_equal(env, "auto")) {
                if (g_str_equal(env, "dbus"))
                        kind = BACKEND_DBUS;
                else if (g_str_equal(env, "socket"))
                        kind = BACKEND_SOCKET;
                else
                        return usage_error(_("invalid SWITCHBOARD_BACKEND '%s': use auto, dbus or socket"), env);
        }

        *ret = (BackendConfig) {
                .kind = kind,
                .address = arg.address,
                .socket_path = arg.socket_path,
                .tcp_address = arg.tcp_address,
                .token_file = arg.token_file,
        };
        return 0;
}

/**
 * connect_hub() - open the backend the options and $SWITCHBOARD_BACKEND choose
 *
 * Return: 0 and the backend in @ret, or an exit status (message printed).
 */
int connect_hub(Backend **ret) {
        BackendConfig config;
        int r;

        r = backend_config(&config);
        if (r != 0)
                return r;
        return backend_open(&config, ret);
}

/**
 * cli_call() - connect as the options say and call @member, as most commands do
 *
 * Return: see backend_call(); @ret outlives the connection.
 */
int cli_call(const char *member, const OpArgs *in, SubjectKind kind, const char *subject, CliResult *ret) {
        g_autoptr(Backend) b = NULL;
        int r;

        r = connect_hub(&b);
        if (r != 0)
                return r;
        return backend_call(b, member, in, kind, subject, ret);
}

/**
 * socket_config() - the backend config of monitor and stdio: the socket, never --dbus
 *
 * Return: 0, or 2 (message printed).
 */
int socket_config(BackendConfig *ret) {
        int r;

        r = backend_config(ret);
        if (r != 0)
                return r;
        if (ret->kind == BACKEND_DBUS)
                return usage_error(_("'%s' needs the hub's socket; it cannot use --dbus"), arg_command->name);
        return 0;
}

/**
 * parse_count() - --count N (at least 1), or 0 without it
 *
 * Return: 0, or 2 (message printed).
 */
int parse_count(uint64_t *ret) {
        *ret = 0;
        if (!arg.count)
                return 0;
        return parse_u64("--count", arg.count, 1, ret);
}

/* ---- options and commands ---------------------------------------------- */

/* The options several commands share, each with its own help. */
#define OPT_JSON(help) { "json", 'j', 0, G_OPTION_ARG_NONE, &arg.json, help, NULL }
#define OPT_COUNT(help) { "count", 'n', 0, G_OPTION_ARG_STRING, &arg.count, help, N_("N") }
#define OPT_VALUE(name, short_name, field, help, value) \
        { name, short_name, 0, G_OPTION_ARG_STRING, &arg.field, help, value }
#define OPT_FORMAT(help) OPT_VALUE("format", 'f', format, help, N_("FORMAT"))

static const GOptionEntry publish_entries[] = {
        { "retain", 'r', 0, G_OPTION_ARG_NONE, &arg.retain,
          N_("Keep the message as the topic's retained value"), NULL },
        G_OPTION_ENTRY_NULL
};

static const GOptionEntry subscribe_entries[] = {
        { "retained", 0, 0, G_OPTION_ARG_NONE, &arg.retained,
          N_("First print the retained values of matching topics"), NULL },
        OPT_JSON(N_("Print one JSON object per message")),
        OPT_FORMAT(N_("Print each message by FORMAT: a template like '{topic}: {payload}', or waybar")),
        OPT_COUNT(N_("Exit after N messages")),
        G_OPTION_ENTRY_NULL
};

static const GOptionEntry watch_entries[] = {
        OPT_JSON(N_("Print one JSON object per change")),
        OPT_FORMAT(N_("Print each change by FORMAT: a template like '{key}={value}', or waybar")),
        OPT_COUNT(N_("Exit after N changes")),
        G_OPTION_ENTRY_NULL
};

static const GOptionEntry monitor_entries[] = {
        OPT_JSON(N_("Print one JSON object per message, change or traffic event, with its sender")),
        OPT_COUNT(N_("Exit after N lines")),
        OPT_VALUE("color", 0, color, N_("Colour the lines: auto (on a terminal, without NO_COLOR), always or never"),
                  N_("WHEN")),
        G_OPTION_ENTRY_NULL
};

static const GOptionEntry top_entries[] = {
        OPT_VALUE("interval", 'i', interval, N_("Refresh every SECONDS (default: 1; at least 0.1)"), N_("SECONDS")),
        OPT_VALUE("sort", 's', sort, N_("Sort the tables by KEY: rate (default), total, drops or name"), N_("KEY")),
        { "once", '1', 0, G_OPTION_ARG_NONE, &arg.once,
          N_("Print one snapshot and exit (the default when standard output is not a terminal)"), NULL },
        OPT_JSON(N_("Print the snapshot as one JSON object")),
        G_OPTION_ENTRY_NULL
};

static const GOptionEntry json_entries[] = {
        OPT_JSON(N_("Print JSON instead of plain text")),
        G_OPTION_ENTRY_NULL
};

static const GOptionEntry queues_entries[] = {
        OPT_JSON(N_("Print one JSON object per queue")),
        G_OPTION_ENTRY_NULL
};

static const GOptionEntry set_entries[] = {
        OPT_VALUE("if-revision", 0, if_revision,
                  N_("Only set the key if its revision is N (0: only if the key does not exist yet)"), N_("N")),
        G_OPTION_ENTRY_NULL
};

static const GOptionEntry push_entries[] = {
        OPT_VALUE("delay", 0, delay, N_("Make the job ready only after MS milliseconds"), N_("MS")),
        G_OPTION_ENTRY_NULL
};

static const GOptionEntry kick_entries[] = {
        OPT_VALUE("max", 0, max, N_("Revive at most N jobs (default: all)"), N_("N")),
        G_OPTION_ENTRY_NULL
};

static const GOptionEntry work_entries[] = {
        OPT_VALUE("timeout", 't', timeout,
                  N_("Exit when no job has come for MS milliseconds (default: wait forever)"), N_("MS")),
        OPT_VALUE("visibility", 0, visibility,
                  N_("Hold each job for MS milliseconds, renewed while the command runs (default: 30000)"),
                  N_("MS")),
        OPT_COUNT(N_("Exit after N jobs")),
        OPT_VALUE("retry-delay", 0, retry_delay,
                  N_("Make a failed job ready again only after MS milliseconds (default: 0)"), N_("MS")),
        G_OPTION_ENTRY_NULL
};

static const GOptionEntry call_entries[] = {
        OPT_VALUE("timeout", 't', timeout,
                  N_("Wait at most MS milliseconds for the reply (default: the hub's maximum, 300000)"), N_("MS")),
        G_OPTION_ENTRY_NULL
};

static const GOptionEntry serve_entries[] = {
        OPT_COUNT(N_("Exit after N requests")),
        G_OPTION_ENTRY_NULL
};

/* --socket or --socket=PATH ("--socket=" is --socket: see run_command()) */
static gboolean parse_socket_option(const char *name, const char *value, gpointer data, GError **error) {
        arg.force_socket = TRUE;
        if (value && value[0]) {
                g_free(arg.socket_path);
                arg.socket_path = g_strdup(value);
        }
        return TRUE;
}

static const GOptionEntry common_entries[] = {
        { "address", 0, 0, G_OPTION_ARG_STRING, &arg.address,
          N_("Connect to the D-Bus bus at ADDRESS instead of the session bus"), N_("ADDRESS") },
        { "dbus", 0, 0, G_OPTION_ARG_NONE, &arg.force_dbus,
          N_("Talk to the hub over D-Bus only"), NULL },
        { "socket", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, (void *) parse_socket_option,
          N_("Talk to the hub over its socket only (at PATH)"), N_("PATH") },
        { "tcp", 0, 0, G_OPTION_ARG_STRING, &arg.tcp_address,
          N_("Talk to the hub's TCP listener at HOST:PORT, with the token of $SWITCHBOARD_TOKEN or "
             "--token-file"), N_("HOST:PORT") },
        { "token-file", 0, 0, G_OPTION_ARG_FILENAME, &arg.token_file,
          N_("The token for --tcp (default $XDG_CONFIG_HOME/switchboard/token)"), N_("FILE") },
        G_OPTION_ENTRY_NULL
};

static const Command commands[] = {
        { "publish", N_("TOPIC PAYLOAD"), N_("Publish a message on a topic"),
          N_("Publish PAYLOAD on TOPIC and print nothing. A PAYLOAD that is not valid UTF-8\n"
             "is sent as bytes (PublishBinary). Use '--' before a PAYLOAD that starts with '-'."),
          publish_entries, 2, 2, run_publish },
        { "subscribe", N_("PATTERN…"), N_("Print the messages of matching topics"),
          N_("Print each message of a topic matching any PATTERN as one line 'TOPIC PAYLOAD'\n"
             "(a payload that is not text as 'TOPIC base64:DATA'), until interrupted.\n"
             "In a PATTERN, '*' matches one token and '>' one or more trailing tokens.\n"
             "Missed messages are reported on standard error. --format prints a line of your\n"
             "own per message: fields {topic}, {payload}, {seq}, {retained} and the sender's\n"
             "{transport}, {uid}, {pid}, {client}, {sender}; '{{' and '}}' for braces; 'waybar'\n"
             "or 'waybar:TEMPLATE' prints waybar's JSON {\"text\": ..., \"tooltip\": ...}."),
          subscribe_entries, 1, -1, run_subscribe },
        { "get", N_("KEY"), N_("Print the value of a key"),
          N_("Print the value of KEY and a newline. A value that is not text is written as\n"
             "raw bytes, or as value_base64 with --json."),
          json_entries, 1, 1, run_get },
        { "set", N_("KEY VALUE"), N_("Set a key"),
          N_("Set KEY to VALUE and print nothing. With --if-revision, only if the key's revision\n"
             "is still N; otherwise exit with status 4."),
          set_entries, 2, 2, run_set },
        { "delete", N_("KEY"), N_("Delete a key"),
          N_("Delete KEY. Exit with status 3 if there was no such key."),
          NULL, 1, 1, run_delete },
        { "list", N_("[PREFIX]"), N_("List keys and values"),
          N_("Print the keys starting with PREFIX (all keys without one), sorted, as\n"
             "'KEY<TAB>VALUE' lines."),
          json_entries, 0, 1, run_list },
        { "watch", N_("[PREFIX…]"), N_("Print the changes of keys"),
          N_("Print each change of a key starting with PREFIX (all keys without one) as one\n"
             "line, 'set KEY VALUE' or 'deleted KEY', until interrupted. --format prints a line\n"
             "of your own per change: fields {key}, {value}, {revision}, {deleted} and the\n"
             "sender's {transport}, {uid}, {pid}, {client}, {sender}; 'waybar' or\n"
             "'waybar:TEMPLATE' prints waybar's JSON {\"text\": ..., \"tooltip\": ...}."),
          watch_entries, 0, -1, run_watch },
        { "clear-retained", N_("PATTERN"), N_("Drop retained messages"),
          N_("Drop the retained values of the topics matching PATTERN and print how many\n"
             "were dropped."),
          NULL, 1, 1, run_clear_retained },
        { "status", "", N_("Show the hub's state"),
          N_("Show the hub's version, start time, clients per transport, subscriptions,\n"
             "retained topics, keys, queues, pending calls, served names with their number of\n"
             "servers, message counters and limits."),
          json_entries, 0, 0, run_status },
        { "push", N_("QUEUE PAYLOAD"), N_("Add a job to a queue"),
          N_("Add a job with PAYLOAD to QUEUE and print its id. A PAYLOAD that is not valid\n"
             "UTF-8 is sent as bytes."),
          push_entries, 2, 2, run_push },
        { "work", N_("QUEUE COMMAND [ARGUMENT…]"), N_("Run a command for each job of a queue"),
          N_("Take jobs from QUEUE one at a time and run COMMAND for each, with the payload on\n"
             "its standard input and SWITCHBOARD_JOB_ID, SWITCHBOARD_JOB_ATTEMPTS and\n"
             "SWITCHBOARD_QUEUE in its environment. Exit status 0 acks the job; anything else\n"
             "gives it back (nack), until the hub dead-letters it after max-attempts. While\n"
             "COMMAND runs, the job is touched every half visibility. Put '--' before COMMAND.\n"
             "Runs until --count jobs are done, --timeout passes without a job, or SIGINT or\n"
             "SIGTERM, which is passed on to a running COMMAND (its job is then acked or\n"
             "nacked as usual); exit status 0."),
          work_entries, 2, -1, run_work },
        { "queues", "", N_("List the queues"),
          N_("Print one line per queue: name and its numbers of ready, reserved, delayed and\n"
             "dead jobs and of waiting consumers, under a header line."),
          queues_entries, 0, 0, run_queues },
        { "peek", N_("QUEUE"), N_("Print the next job of a queue"),
          N_("Print the payload of the job that would be reserved next, without reserving it.\n"
             "Exit with status 3 when no job is ready."),
          json_entries, 1, 1, run_peek },
        { "kick", N_("QUEUE"), N_("Revive dead-lettered jobs"),
          N_("Make the dead-lettered jobs of QUEUE ready again and print how many."),
          kick_entries, 1, 1, run_kick },
        { "purge", N_("QUEUE"), N_("Delete the jobs of a queue"),
          N_("Delete every job of QUEUE that is not reserved and print how many."),
          NULL, 1, 1, run_purge },
        { "call", N_("NAME PAYLOAD"), N_("Call a served name and print the reply"),
          N_("Send PAYLOAD to a client that serves NAME and print its reply. Exit with status 5\n"
             "when nobody serves NAME, 6 when no reply came in time, 7 when the server went\n"
             "away, 1 when it answered with an error."),
          call_entries, 2, 2, run_call },
        { "serve", N_("NAME COMMAND [ARGUMENT…]"), N_("Answer calls to a name with a command"),
          N_("Serve NAME and run COMMAND for each call, one at a time, with the payload on its\n"
             "standard input and SWITCHBOARD_CALL_ID, SWITCHBOARD_SERVICE and, when known,\n"
             "SWITCHBOARD_CALLER_TRANSPORT, _UID and _PID in its environment. Its standard\n"
             "output (without one trailing newline) is the reply if it exits with status 0;\n"
             "otherwise the caller gets the error org.switchboard.Hub1.Error.CommandFailed with\n"
             "the exit status and the last line of its standard error. Put '--' before\n"
             "COMMAND. Runs until --count calls are answered, or SIGINT or SIGTERM."),
          serve_entries, 2, -1, run_serve },
        { "monitor", N_("[PATTERN]"), N_("Print all traffic with its senders"),
          N_("Print every message of a topic matching PATTERN ('>' without one: all topics),\n"
             "every key change, and all queue and request/reply traffic, with its sender, as\n"
             "one line each, until interrupted:\n"
             "  'SEQ TOPIC PAYLOAD  [TRANSPORT uid=UID pid=PID name=NAME]'\n"
             "  'rev REVISION set KEY VALUE  [...]'\n"
             "  'queue EVENT QUEUE #JOB [attempts=N] [PAYLOAD]  [...]' (push, reserve, ack,\n"
             "   nack, expired, returned, dead, kick)\n"
             "  'rpc EVENT NAME #CALL [PAYLOAD | ERROR: MESSAGE]  [...]' (call, reply, error,\n"
             "   timeout, server_gone, no_server)\n"
             "Coloured on a terminal unless NO_COLOR is set. Needs the hub's socket; starts the\n"
             "hub through D-Bus if need be."),
          monitor_entries, 0, 1, run_monitor },
        { "top", "", N_("Show a live view of the hub's clients, topics, queues and calls"),
          N_("Show, refreshed every --interval, the clients per transport with who they are\n"
             "(uid, pid, D-Bus name) and what they publish, receive and drop; the topics by\n"
             "message rate; the queues with their ready, reserved, delayed and dead jobs; the\n"
             "served names with their servers, calls, errors, timeouts and reply latency; and\n"
             "the hub's drops. On a terminal it fills the screen until 'q' or Ctrl-C; keys\n"
             "r, t, d and n sort by rate, total, drops or name, s cycles. Otherwise, or with\n"
             "--once, it prints one snapshot (rates measured over one interval) as text, or\n"
             "as JSON with --json."),
          top_entries, 0, 0, run_top },
        { "stdio", "", N_("Connect standard input and output to the hub"),
          N_("Copy bytes between standard input/output and the hub's socket: a parent process\n"
             "speaks the socket's protocol (4-byte length + JSON-RPC 2.0) on the pipes. Starts\n"
             "the hub through D-Bus if need be; ends when either side closes."),
          NULL, 0, 0, run_stdio },
        { "token", N_("show|rotate"), N_("Print or replace the token of the hub's TCP listener"),
          N_("show prints the token TCP clients present (hub.auth); rotate writes a new random\n"
             "one (mode 0600) to the token file, --token-file or\n"
             "$XDG_CONFIG_HOME/switchboard/token. The hub reads the file at each hub.auth:\n"
             "new TCP connections need the new token at once, connections already\n"
             "authenticated stay. Needs no running hub."),
          NULL, 1, 1, run_token },
};

/* The translated parameter string; "" stays "" (gettext("") is the PO header). */
static const char *command_params(const Command *cmd) {
        return cmd->params[0] ? _(cmd->params) : "";
}

static void print_main_help(FILE *f) {
        g_autofree char *about = NULL;
        int width = 0;

        fputs(_("Usage: switchboard [--address=ADDRESS] COMMAND [ARGUMENTS…]\n"), f);
        fputc('\n', f);
        about = g_strdup_printf(_("Talk to the switchboard hub over its socket, or over D-Bus (%s)\n"
                                  "when the socket is not there; the first D-Bus call starts the hub.\n"),
                                HUB_NAME);
        fputs(about, f);
        fputc('\n', f);
        fputs(_("Commands:\n"), f);

        for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
                g_autofree char *usage = g_strdup_printf("%s %s", commands[i].name,
                                                         command_params(&commands[i]));

                width = MAX(width, (int) g_utf8_strlen(usage, -1));
        }
        for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
                g_autofree char *usage = g_strdup_printf("%s %s", commands[i].name,
                                                         command_params(&commands[i]));

                fprintf(f, "  %s%*s  %s\n", usage, width - (int) g_utf8_strlen(usage, -1), "",
                        _(commands[i].summary));
        }

        fputc('\n', f);
        fputs(_("Options:\n"
                "  -h, --help           Show this help\n"
                "  --version            Show the version\n"
                "  --address=ADDRESS    Connect to the D-Bus bus at ADDRESS instead of the session bus\n"), f);
        fputs(_("  --dbus               Talk to the hub over D-Bus only\n"
                "  --socket[=PATH]      Talk to the hub over its socket only (default\n"
                "                       $XDG_RUNTIME_DIR/switchboard/socket, or $SWITCHBOARD_SOCKET)\n"), f);
        fputs(_("  --tcp=HOST:PORT      Talk to the hub's TCP listener (from a container or VM), with\n"
                "                       the token of $SWITCHBOARD_TOKEN or --token-file\n"
                "  --token-file=FILE    The token for --tcp (default $XDG_CONFIG_HOME/switchboard/token)\n"), f);
        fputc('\n', f);
        fputs(_("Run 'switchboard COMMAND --help' for the options of a command.\n"), f);
        fputc('\n', f);
        fprintf(f, "%s\n", _(exit_status_text));
}

static int run_command(const Command *cmd, int argc, char **argv) {
        g_autoptr(GOptionContext) context = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *prgname = NULL, *summary = NULL;
        g_auto(GStrv) args = NULL;
        int n_args;

        arg_command = cmd;

        /* The usage line reads "switchboard publish [OPTION…] TOPIC PAYLOAD". */
        prgname = g_strdup_printf("switchboard %s", cmd->name);
        g_set_prgname(prgname);
        summary = cmd->description ?
                g_strdup_printf("%s.\n\n%s", _(cmd->summary), _(cmd->description)) :
                g_strdup_printf("%s.", _(cmd->summary));
        context = g_option_context_new(cmd->params[0] ? cmd->params : NULL);
        g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
        g_option_context_set_summary(context, summary);
        g_option_context_set_description(context, exit_status_text);
        if (cmd->entries)
                g_option_context_add_main_entries(context, cmd->entries, GETTEXT_PACKAGE);
        g_option_context_add_main_entries(context, common_entries, GETTEXT_PACKAGE);

        /* GOptionContext edits a copy of argv: "switchboard" plus the command's arguments. */
        args = g_new0(char *, argc + 1);
        args[0] = g_strdup("switchboard");
        for (int i = 1; i < argc; i++)
                args[i] = g_strdup(argv[i]);
        /* GOption would take the argument after a bare --socket as its optional
         * PATH ("subscribe --socket a.b"): spell it --socket= instead. */
        for (int i = 1; i < argc && !g_str_equal(args[i], "--"); i++)
                if (g_str_equal(args[i], "--socket")) {
                        g_free(args[i]);
                        args[i] = g_strdup("--socket=");
                }
        if (!g_option_context_parse_strv(context, &args, &error)) {
                g_autofree char *opt = text_unknown_option(error), *clause = text_clause(error->message);

                return opt ? usage_error(_("unknown option '%s'"), opt) : usage_error("%s", clause);
        }

        /* GOptionContext leaves the "--" that ends the options: drop the first one. */
        for (char **a = args + 1; *a; a++)
                if (g_str_equal(*a, "--")) {
                        g_free(*a);
                        memmove(a, a + 1, (g_strv_length(a + 1) + 1) * sizeof(char *));
                        break;
                }

        n_args = (int) g_strv_length(args) - 1;
        if (n_args < cmd->min_args)
                return usage_error(_("missing argument: %s"), command_params(cmd));
        if (cmd->max_args >= 0 && n_args > cmd->max_args)
                return usage_error(_("too many arguments: '%s' is not expected"), args[cmd->max_args + 1]);

        return cmd->run(args + 1, n_args);
}

int main(int argc, char **argv) {
        const char *localedir = getenv("SWITCHBOARD_LOCALEDIR");
        int i;

        setlocale(LC_ALL, "");
        bindtextdomain(GETTEXT_PACKAGE, localedir && localedir[0] ? localedir : LOCALEDIR);
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        textdomain(GETTEXT_PACKAGE);
        g_set_prgname("switchboard");

        /* Global options come before the command. */
        for (i = 1; i < argc && argv[i][0] == '-'; i++) {
                const char *a = argv[i];

                if (g_str_equal(a, "-h") || g_str_equal(a, "--help")) {
                        print_main_help(stdout);
                        return SB_EXIT_OK;
                }
                if (g_str_equal(a, "--version")) {
                        printf("switchboard %s\n", PACKAGE_VERSION);
                        return SB_EXIT_OK;
                }
                if (g_str_has_prefix(a, "--address=")) {
                        g_free(arg.address);
                        arg.address = g_strdup(a + strlen("--address="));
                        continue;
                }
                if (g_str_equal(a, "--address")) {
                        if (i + 1 >= argc)
                                return usage_error(_("option '%s' needs a value"), a);
                        g_free(arg.address);
                        arg.address = g_strdup(argv[++i]);
                        continue;
                }
                if (g_str_equal(a, "--dbus")) {
                        arg.force_dbus = TRUE;
                        continue;
                }
                if (g_str_equal(a, "--socket") || g_str_has_prefix(a, "--socket=")) {
                        (void) parse_socket_option(a, a[8] == '=' ? a + 9 : NULL, NULL, NULL);
                        continue;
                }
                if (g_str_has_prefix(a, "--tcp=")) {
                        g_free(arg.tcp_address);
                        arg.tcp_address = g_strdup(a + strlen("--tcp="));
                        continue;
                }
                if (g_str_has_prefix(a, "--token-file=")) {
                        g_free(arg.token_file);
                        arg.token_file = g_strdup(a + strlen("--token-file="));
                        continue;
                }
                return usage_error(_("unknown option '%s'"), a);
        }

        if (i >= argc)
                return usage_error(_("missing command"));
        if (g_str_equal(argv[i], "help")) {
                if (i + 1 < argc) {
                        char *help_argv[] = { argv[i + 1], (char *) "--help", NULL };

                        for (size_t c = 0; c < G_N_ELEMENTS(commands); c++)
                                if (g_str_equal(argv[i + 1], commands[c].name))
                                        return run_command(&commands[c], 2, help_argv);
                        return usage_error(_("unknown command '%s'"), argv[i + 1]);
                }
                print_main_help(stdout);
                return SB_EXIT_OK;
        }

        for (size_t c = 0; c < G_N_ELEMENTS(commands); c++)
                if (g_str_equal(argv[i], commands[c].name)) {
                        int r = run_command(&commands[c], argc - i, argv + i);

                        g_free(arg.address);
                        g_free(arg.socket_path);
                        g_free(arg.tcp_address);
                        g_free(arg.token_file);
                        g_free(arg.count);
                        g_free(arg.if_revision);
                        g_free(arg.delay);
                        g_free(arg.timeout);
                        g_free(arg.visibility);
                        g_free(arg.retry_delay);
                        g_free(arg.max);
                        g_free(arg.format);
                        g_free(arg.color);
                        g_free(arg.interval);
                        g_free(arg.sort);
                        return r;
                }

        return usage_error(_("unknown command '%s'"), argv[i]);
}
