/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli-commands-rpc.c: request/reply, `call` and `serve` (cli-process.c
 * runs the command per call), and the hub-wide commands `status` and
 * `stdio`.
 */

#include <inttypes.h>
#include <string.h>

#include <glib.h>
#include <glib/gi18n.h>

#include "clients/cli.h"

/**
 * run_call() - `call NAME PAYLOAD [--timeout MS]`: print the reply like get prints a value
 */
int run_call(char **args, int n_args) {
        g_autoptr(Backend) b = NULL;
        g_auto(CliResult) res = {};
        OpArgs in = { .name = args[0], .payload = { args[1], strlen(args[1]) } };
        uint64_t timeout = 0;
        int r;

        if (arg.timeout) {
                r = parse_u64("--timeout", arg.timeout, 1, &timeout);
                if (r != 0)
                        return r;
                if (timeout > CALL_MAX_TIMEOUT_MS)
                        return usage_error(_("invalid number '%s' for %s: at most %" PRIu32), arg.timeout,
                                           "--timeout", CALL_MAX_TIMEOUT_MS);
        }
        r = connect_hub(&b);
        if (r != 0)
                return r;

        /* The hub answers (or times the call out) first: wait a little longer than it does. */
        in.timeout_ms = (uint32_t) timeout;
        r = backend_request(b, "Call", &in, (in.timeout_ms ?: CALL_MAX_TIMEOUT_MS) + ANSWER_SLACK_MS, -1, &res);
        if (r == CLI_NOT_TEXT) {
                fprintf(stderr, _("switchboard: a call's payload must be UTF-8 text over D-Bus; "
                                  "use the socket for bytes\n"));
                return SB_EXIT_USAGE;
        }
        if (r == CLI_HUB_ERROR)
                return cli_report_error(&res.error, SUBJECT_CALLED, args[0]);
        if (r != 0)
                return r;
        return print_bytes(&res.out.payload);
}

/**
 * run_serve() - `serve NAME [--count N] -- COMMAND [ARG…]`: answer calls with COMMAND
 */
int run_serve(char **args, int n_args) {
        Backend *b = NULL;
        uint64_t count;
        int r;

        r = parse_count(&count);
        if (r == 0)
                r = check_command(args[1]);
        if (r == 0)
                r = connect_hub(&b);
        if (r != 0)
                return r;
        return serve_run(b, args[0], args + 1, count);
}

/**
 * run_status() - `status [--json]`: what GetInfo / hub.info report
 */
int run_status(char **args, int n_args) {
        g_auto(CliResult) res = {};
        int r;

        r = cli_call("GetInfo", &(OpArgs) {}, SUBJECT_KEY, NULL, &res);
        if (r != 0)
                return r;
        print_status(res.out.info, arg.json);
        return SB_EXIT_OK;
}

/**
 * run_stdio() - `stdio`: connect standard input and output to the hub's socket
 */
int run_stdio(char **args, int n_args) {
        BackendConfig config;
        int r;

        r = socket_config(&config);
        if (r != 0)
                return r;
        return cli_stdio(&config);
}
