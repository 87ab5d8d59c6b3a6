/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli.h: what the commands of the `switchboard` CLI share above the Backend
 * interface: the parsed options (cli-main.c), the commands themselves
 * (cli-commands-*.c, one file per area), the output formats
 * (cli-format.c) and the command runner of `work` and `serve`
 * (cli-process.c). Commands name an operation by its D-Bus member and fill
 * its OpArgs; they never marshal.
 */
#pragma once

#include <sys/types.h>

#include "clients/backend.h"
#include "proto/json-write.h"

/* The options of all commands (cli-main.c parses them). */
typedef struct CliOptions {
        char *address, *socket_path;
        char *tcp_address, *token_file;         /* --tcp=HOST:PORT, --token-file=FILE */
        gboolean force_dbus, force_socket;
        gboolean retain, retained, json;
        char *count, *if_revision, *delay, *timeout, *visibility, *retry_delay, *max;
        char *format, *color, *interval, *sort;
        gboolean once;
} CliOptions;

extern CliOptions arg;

/* cli-main.c */
int usage_error(const char *format, ...) G_GNUC_PRINTF(1, 2);
int parse_u64(const char *option, const char *s, uint64_t min, uint64_t *ret);
int parse_count(uint64_t *ret);
int socket_config(BackendConfig *ret);
int connect_hub(Backend **ret);
int cli_call(const char *member, const OpArgs *in, SubjectKind kind, const char *subject, CliResult *ret);

/* The commands: run with the arguments after the options. */
int run_publish(char **args, int n_args);
int run_subscribe(char **args, int n_args);
int run_watch(char **args, int n_args);
int run_monitor(char **args, int n_args);
int run_clear_retained(char **args, int n_args);
int run_get(char **args, int n_args);
int run_set(char **args, int n_args);
int run_delete(char **args, int n_args);
int run_list(char **args, int n_args);
int run_status(char **args, int n_args);
int run_stdio(char **args, int n_args);
int run_push(char **args, int n_args);
int run_work(char **args, int n_args);
int run_queues(char **args, int n_args);
int run_peek(char **args, int n_args);
int run_kick(char **args, int n_args);
int run_purge(char **args, int n_args);
int run_call(char **args, int n_args);
int run_serve(char **args, int n_args);
int run_top(char **args, int n_args);
int run_token(char **args, int n_args);

/* cli-format.c */
void print_line(const char *line);
int print_bytes(const OpBytes *bytes);
typedef struct CliTemplate CliTemplate;

/* How format_event() writes an event. */
typedef struct FormatStyle {
        bool monitor;                   /* with sequence numbers and senders */
        bool json;
        bool color;                     /* SGR colours (monitor) */
        const CliTemplate *template;    /* --format: overrides the rest */
} FormatStyle;

void format_event(const Event *e, const FormatStyle *style, GString *out);
int parse_color(const char *mode, bool *ret);
uint64_t info_u64(GVariant *info, const char *key);

/* cli-template.c: --format */
int cli_template_parse(const char *spec, bool keys, CliTemplate **ret);
void cli_template_expand(const CliTemplate *t, const Event *e, GString *out);
void cli_template_free(CliTemplate *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CliTemplate, cli_template_free)
void print_status(GVariant *info, bool json);

/* cli-process.c */
typedef struct Worker {
        Backend *backend;
        const char *queue;
        char **argv;
        uint32_t visibility_ms;
        uint64_t retry_delay_ms;
        int stop_fd;                    /* signalfd: SIGINT, SIGTERM */
        int child_fd;                   /* signalfd: SIGCHLD */
        bool stopping;
} Worker;

int check_command(const char *command);
char *describe_status(int code, int status);
void block_signals(void);
int signal_fd(int a, int b);
int worker_run(Worker *w, const OpResult *job, int *ret_code, int *ret_status);
int serve_run(Backend *b, const char *name, char **argv, uint64_t count);
