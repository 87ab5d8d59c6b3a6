/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli-common.h: the bottom layer of the `switchboard` CLI, below the
 * backends and the commands: exit statuses, the result of one call (the op
 * table's OpResult plus what keeps its strings alive, or the hub's error),
 * and the one place that turns a hub error into a message and an exit
 * status, whichever transport carried it. It knows no transport.
 *
 * Functions that talk to the hub return an exit status: 0 on success,
 * otherwise the status to exit with, after the message has been printed;
 * or one of the CLI_* results below, which print nothing.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sysexits.h>

#include <glib.h>

#include "ops/ops-table.h"
#include "util/text.h"         /* payload_is_text(): the one definition of text */

#define HUB_NAME "org.switchboard.Hub1"
#define HUB_PATH "/org/switchboard/Hub1"
#define HUB_INTERFACE "org.switchboard.Hub1"
#define HUB_ERROR_PREFIX "org.switchboard.Hub1.Error."

enum {
        SB_EXIT_OK = 0,
        SB_EXIT_HUB_ERROR = 1,
        SB_EXIT_USAGE = 2,
        SB_EXIT_NOT_FOUND = 3,
        SB_EXIT_CONFLICT = 4,
        SB_EXIT_NO_SERVER = 5,          /* call: nobody serves the name */
        SB_EXIT_TIMEOUT = 6,            /* call: no reply in time */
        SB_EXIT_SERVER_GONE = 7,        /* call: the server left before it replied */
        SB_EXIT_UNREACHABLE = EX_UNAVAILABLE,
};

/* Results of a backend request that are not exit statuses: nothing was printed. */
enum {
        CLI_HUB_ERROR = 1000,           /* the hub answered with an error: see CliResult.error */
        CLI_INTERRUPTED,                /* a wait ended because the cancel fd became readable */
        CLI_NOT_TEXT,                   /* D-Bus: bytes for an 's' argument that are not text */
};

/* What a hub error is about, for its message: "no such key", "no such job", ... */
typedef enum SubjectKind {
        SUBJECT_KEY,                    /* also topics and patterns */
        SUBJECT_QUEUE,
        SUBJECT_JOB,
        SUBJECT_SERVICE,                /* a name served */
        SUBJECT_CALLED,                 /* a name called: any error name may come back */
        SUBJECT_CALL,                   /* a call id (reply) */
} SubjectKind;

/* Reserve waits at most this long per call (the D-Bus limit; the socket uses it too). */
#define RESERVE_MAX_WAIT_MS 60000u
/* The hub's longest call timeout, used for timeout_ms 0. */
#define CALL_MAX_TIMEOUT_MS 300000u
/* How much longer than the hub's own timeout a client waits for an answer. */
#define ANSWER_SLACK_MS 10000u
/* How long a request waits for its answer unless it says otherwise (as sd-bus does). */
#define CALL_TIMEOUT_MS 25000u

/* The hub's error: a D-Bus error name (or the same name in a JSON-RPC error's data.name). */
typedef struct CliError {
        char *name;                     /* NULL: a JSON-RPC error without a name */
        char *message;
        int code;                       /* JSON-RPC only */
} CliError;

/*
 * One call's answer: @out as the op table defines it, its strings and
 * bytes borrowed from what @held keeps (a D-Bus reply, a JSON document,
 * decoded base64), freed together by cli_result_clear().
 */
typedef struct CliResult {
        OpResult out;
        CliError error;
        GArray *held;                   /* CliHeld */
} CliResult;

void cli_result_hold(CliResult *res, void *p, GDestroyNotify destroy);
void cli_result_set_error(CliResult *res, const char *name, const char *message, int code);
void cli_result_clear(CliResult *res);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CliResult, cli_result_clear)

int cli_report_error(const CliError *e, SubjectKind kind, const char *subject);
int cli_bad_reply(const char *method, int r);
char *cli_runtime_dir(void);
bool cli_print_last_error(void);
void cli_print_unreachable_hint(void);
