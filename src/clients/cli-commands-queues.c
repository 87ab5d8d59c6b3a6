/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli-commands-queues.c: the work queues' commands: push, work (take jobs
 * one at a time and run a command for each: cli-process.c runs it), queues,
 * peek, kick and purge.
 */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <glib.h>
#include <glib/gi18n.h>

#include "clients/cli.h"
#include "util/sd-glue.h"

/**
 * run_push() - `push QUEUE PAYLOAD [--delay MS]`: print the job's id
 */
int run_push(char **args, int n_args) {
        g_auto(CliResult) res = {};
        OpArgs in = { .queue = args[0], .payload = { args[1], strlen(args[1]) } };
        int r;

        if (arg.delay) {
                r = parse_u64("--delay", arg.delay, 0, &in.delay_ms);
                if (r != 0)
                        return r;
        }
        r = cli_call("Push", &in, SUBJECT_QUEUE, args[0], &res);
        if (r != 0)
                return r;
        printf("%" PRIu64 "\n", res.out.id);
        fflush(stdout);
        return SB_EXIT_OK;
}

/*
 * The next job of the queue, waiting at most RESERVE_MAX_WAIT_MS per
 * Reserve, until @timeout_ms (with @has_timeout; 0: what is ready now) has
 * passed without one, or a stop signal came: then @ret_stop.
 */
static int work_reserve(Worker *w, bool has_timeout, uint64_t timeout_ms, CliResult *ret, bool *ret_stop) {
        int64_t idle_until = has_timeout ? g_get_monotonic_time() + (int64_t) timeout_ms * 1000 : INT64_MAX;

        for (;;) {
                int64_t left = idle_until == INT64_MAX ? RESERVE_MAX_WAIT_MS :
                               (idle_until - g_get_monotonic_time()) / 1000;
                OpArgs in = { .queue = w->queue, .visibility_ms = w->visibility_ms,
                              .timeout_ms = (uint32_t) CLAMP(left, 0, (int64_t) RESERVE_MAX_WAIT_MS) };
                int r;

                *ret_stop = left <= 0 && has_timeout && timeout_ms > 0;
                if (*ret_stop)
                        return 0;
                cli_result_clear(ret);
                r = backend_request(w->backend, "Reserve", &in, in.timeout_ms + ANSWER_SLACK_MS, w->stop_fd, ret);
                *ret_stop = r == CLI_INTERRUPTED;
                if (r != CLI_HUB_ERROR)
                        return *ret_stop ? 0 : r;
                if (!ret->error.name || !g_str_equal(ret->error.name, HUB_ERROR_PREFIX "NoJob"))
                        return cli_report_error(&ret->error, SUBJECT_QUEUE, w->queue);
                *ret_stop = has_timeout && timeout_ms == 0;
                if (*ret_stop)
                        return 0;
        }
}

/* Ack the job if the command (wait status @code, @status) succeeded, else nack it. */
static int work_finish(Worker *w, const OpResult *job, int r, int code, int status) {
        g_auto(CliResult) res = {};
        g_autofree char *what = NULL;
        OpArgs in = { .id = job->id, .delay_ms = w->stopping ? 0 : w->retry_delay_ms };
        int n;

        if (r == 0 && code == CLD_EXITED && status == 0)
                r = backend_call(w->backend, "Ack", &in, SUBJECT_JOB, NULL, &res);
        else {
                if (r == 0) {
                        what = describe_status(code, status);
                        fprintf(stderr, _("switchboard: job %" PRIu64 " failed (%s); it goes back to "
                                          "queue '%s'\n"), job->id, what, w->queue);
                }
                /* Stopping: give it back at once (delay 0), for another worker. */
                n = backend_call(w->backend, "Nack", &in, SUBJECT_JOB, NULL, &res);
                r = r ?: n;
        }
        /* The reservation ran out meanwhile: the job went back already; go on. */
        return r == SB_EXIT_NOT_FOUND ? 0 : r;
}

/*
 * The command for @job succeeded and more jobs are wanted: ack it and take
 * the next ready one in one round trip (AckNext, not waiting). Return: 0,
 * and in *@ret_have whether @job now holds the next job (when none was
 * ready, or the reservation ran out meanwhile, the caller reserves and
 * waits as usual), or an exit status (message printed).
 */
static int work_ack_next(Worker *w, CliResult *job, bool *ret_have) {
        OpArgs in = { .ack = job->out.id, .queue = w->queue, .visibility_ms = w->visibility_ms };
        g_auto(CliResult) next = {};
        int r;

        *ret_have = false;
        r = backend_request(w->backend, "AckNext", &in, 0, -1, &next);
        if (r == 0) {
                cli_result_clear(job);
                *job = next;
                next = (CliResult) {};
                *ret_have = true;
                return 0;
        }
        if (r != CLI_HUB_ERROR)
                return r;
        /* NoJob: acked, none ready. NotFound: the reservation ran out, the job went back already. */
        if (g_str_equal(next.error.name ?: "", HUB_ERROR_PREFIX "NoJob") ||
            g_str_equal(next.error.name ?: "", HUB_ERROR_PREFIX "NotFound"))
                return 0;
        return cli_report_error(&next.error, SUBJECT_QUEUE, w->queue);
}

static int work_parse(uint64_t *timeout, uint64_t *visibility, uint64_t *retry_delay, uint64_t *count) {
        int r;

        if ((arg.timeout && (r = parse_u64("--timeout", arg.timeout, 0, timeout)) != 0) ||
            (arg.visibility && (r = parse_u64("--visibility", arg.visibility, 1, visibility)) != 0) ||
            (arg.retry_delay && (r = parse_u64("--retry-delay", arg.retry_delay, 0, retry_delay)) != 0) ||
            (r = parse_count(count)) != 0)
                return r;
        if (*visibility > UINT32_MAX)
                return usage_error(_("invalid number '%s' for %s: at most %" PRIu32), arg.visibility,
                                   "--visibility", UINT32_MAX);
        return 0;
}

/**
 * run_work() - `work QUEUE -- COMMAND [ARG…]`: run COMMAND for each job
 */
int run_work(char **args, int n_args) {
        g_autoptr(Backend) b = NULL;
        g_auto(Fd) stop_fd = -1;
        g_auto(Fd) child_fd = -1;
        uint64_t timeout = 0, visibility = 30000, retry_delay = 0, count = 0;
        Worker w = { .queue = args[0], .argv = args + 1 };
        int r;

        r = work_parse(&timeout, &visibility, &retry_delay, &count);
        if (r == 0)
                r = check_command(w.argv[0]);
        if (r != 0)
                return r;

        /* Signals arrive through signalfds: a stop ends a wait for a job at
         * once (the hub returns a job it may have reserved for us when we
         * disconnect) and is passed on to a running command. */
        block_signals();
        stop_fd = signal_fd(SIGINT, SIGTERM);
        child_fd = signal_fd(SIGCHLD, 0);
        if (stop_fd < 0 || child_fd < 0) {
                fprintf(stderr, _("switchboard: cannot set up the event loop: %s\n"), g_strerror(errno));
                return SB_EXIT_UNREACHABLE;
        }

        r = connect_hub(&b);
        if (r != 0)
                return r;
        w = (Worker) { .backend = b, .queue = args[0], .argv = args + 1, .visibility_ms = (uint32_t) visibility,
                       .retry_delay_ms = retry_delay, .stop_fd = stop_fd, .child_fd = child_fd };

        g_auto(CliResult) job = {};
        bool have = false;              /* job holds the next job already (AckNext) */

        for (uint64_t done = 0; !w.stopping && (count == 0 || done < count); done++) {
                bool stop, more;
                int code = 0, status = 0;

                if (!have) {
                        cli_result_clear(&job);
                        r = work_reserve(&w, arg.timeout != NULL, timeout, &job, &stop);
                        if (r != 0 || stop)
                                return r;
                }
                r = worker_run(&w, &job.out, &code, &status);
                more = !w.stopping && (count == 0 || done + 1 < count);
                if (r == 0 && code == CLD_EXITED && status == 0 && more)
                        r = work_ack_next(&w, &job, &have);
                else {
                        r = work_finish(&w, &job.out, r, code, status);
                        have = false;
                }
                if (r != 0)
                        return r;
        }
        return SB_EXIT_OK;
}

/**
 * run_queues() - `queues [--json]`: one line per queue under a header
 */
int run_queues(char **args, int n_args) {
        g_auto(CliResult) res = {};
        GArray *rows;
        int width = (int) strlen("QUEUE");
        int r;

        r = cli_call("ListQueues", &(OpArgs) {}, SUBJECT_QUEUE, NULL, &res);
        if (r != 0)
                return r;

        rows = res.out.queues;
        for (guint i = 0; i < rows->len; i++)
                width = MAX(width, (int) strlen(g_array_index(rows, QueueInfo, i).name));
        if (!arg.json && rows->len > 0)
                printf("%-*s %8s %8s %8s %8s %8s\n", width, "QUEUE", "READY", "RESERVED", "DELAYED", "DEAD",
                       "WAITING");
        for (guint i = 0; i < rows->len; i++) {
                const QueueInfo *q = &g_array_index(rows, QueueInfo, i);
                g_autoptr(GString) out = g_string_new("{");

                if (!arg.json) {
                        printf("%-*s %8u %8u %8u %8u %8u\n", width, q->name, q->ready, q->reserved, q->delayed,
                               q->dead, q->waiting);
                        continue;
                }
                json_append_member(out, "name", q->name);
                json_append_u64(out, "ready", q->ready);
                json_append_u64(out, "reserved", q->reserved);
                json_append_u64(out, "delayed", q->delayed);
                json_append_u64(out, "dead", q->dead);
                json_append_u64(out, "waiting", q->waiting);
                g_string_append_c(out, '}');
                puts(out->str);
        }
        fflush(stdout);
        return SB_EXIT_OK;
}

/**
 * run_peek() - `peek QUEUE [--json]`: the payload of the next ready job, like get prints a value
 */
int run_peek(char **args, int n_args) {
        g_autoptr(GString) json = NULL;
        g_auto(CliResult) res = {};
        int r;

        r = cli_call("Peek", &(OpArgs) { .queue = args[0] }, SUBJECT_QUEUE, args[0], &res);
        if (r != 0)
                return r;
        if (!arg.json)
                return print_bytes(&res.out.payload);

        json = g_string_new("{");
        json_append_u64(json, "id", res.out.id);
        json_append_member(json, "queue", args[0]);
        json_append_u64(json, "attempts", res.out.attempts);
        json_append_bytes(json, "payload", res.out.payload.data, res.out.payload.len);
        g_string_append_c(json, '}');
        print_line(json->str);
        return SB_EXIT_OK;
}

/* Kick (@kick) or Purge: print how many jobs. */
static int run_queue_count(char **args, bool kick) {
        g_auto(CliResult) res = {};
        uint64_t max = 0;
        int r;

        if (kick && arg.max) {
                r = parse_u64("--max", arg.max, 1, &max);
                if (r != 0)
                        return r;
                if (max > UINT32_MAX)
                        return usage_error(_("invalid number '%s' for %s: at most %" PRIu32), arg.max, "--max",
                                           UINT32_MAX);
        }
        r = cli_call(kick ? "Kick" : "Purge", &(OpArgs) { .queue = args[0], .max = (uint32_t) max },
                         SUBJECT_QUEUE, args[0], &res);
        if (r != 0)
                return r;
        printf("%" PRIu32 "\n", res.out.count);
        fflush(stdout);
        return SB_EXIT_OK;
}

/**
 * run_kick() - `kick QUEUE [--max N]`: revive dead-lettered jobs
 */
int run_kick(char **args, int n_args) {
        return run_queue_count(args, true);
}

/**
 * run_purge() - `purge QUEUE`: delete the jobs that are not reserved
 */
int run_purge(char **args, int n_args) {
        return run_queue_count(args, false);
}
