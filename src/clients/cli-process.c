/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli-process.c: running a command per job (`work`) or per call (`serve`):
 * posix_spawn in a process group of its own (so that a signal passed on
 * reaches its children too), the payload on its standard input from a
 * memfd, signals through signalfds (work) or the sd-event loop (serve). The
 * worker renews its job while the command runs; the server queues calls
 * that arrive meanwhile, answers each with the command's output or a
 * CommandFailed error, and passes SIGINT/SIGTERM on before it exits.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gi18n.h>
#include <systemd/sd-event.h>

#include "clients/cli.h"
#include "util/sd-glue.h"

/**
 * check_command() - COMMAND must be something we can run: checked before we take any job
 *
 * Return: 0, or 2 (message printed).
 */
int check_command(const char *command) {
        g_autofree char *path = NULL;

        if (strchr(command, '/'))
                path = access(command, X_OK) >= 0 ? g_strdup(command) : NULL;
        else
                path = g_find_program_in_path(command);
        if (!path)
                return usage_error(_("cannot run '%s': no such executable"), command);
        return 0;
}

/* A memfd holding @data, at offset 0: the command's standard input. */
static int payload_fd(const void *data, size_t size, int *ret_fd) {
        g_auto(Fd) fd = -1;
        size_t done = 0;

        fd = memfd_create("switchboard-payload", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        while (done < size) {
                ssize_t n = write(fd, (const char *) data + done, size - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                done += (size_t) n;
        }
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        *ret_fd = g_steal_fd(&fd);
        return 0;
}

/* Start @argv in a process group of its own (so that a signal we pass on
 * reaches its children too), with default signal handling, @payload as its
 * standard input and, unless -1, @stdout_fd / @stderr_fd as its output. */
static int spawn_command(char **argv, char **envp, const OpBytes *payload, int stdout_fd, int stderr_fd,
                         pid_t *ret_pid) {
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        sigset_t none, defaults;
        g_auto(Fd) stdin_fd = -1;
        int r;

        r = payload_fd(payload->data, payload->len, &stdin_fd);
        if (r < 0)
                return r;

        sigemptyset(&none);
        sigemptyset(&defaults);
        sigaddset(&defaults, SIGINT);
        sigaddset(&defaults, SIGTERM);
        sigaddset(&defaults, SIGCHLD);
        sigaddset(&defaults, SIGPIPE);

        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
        posix_spawn_file_actions_adddup2(&actions, stdin_fd, STDIN_FILENO);
        if (stdout_fd >= 0)
                posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
        if (stderr_fd >= 0)
                posix_spawn_file_actions_adddup2(&actions, stderr_fd, STDERR_FILENO);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &defaults);
        posix_spawnattr_setpgroup(&attr, 0);

        r = posix_spawnp(ret_pid, argv[0], &actions, &attr, argv, envp);

        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&actions);
        return -r;
}

/**
 * describe_status() - "exit status 3", "killed by signal 15": untranslated, it travels to callers
 */
char *describe_status(int code, int status) {
        if (code == CLD_EXITED)
                return g_strdup_printf("exit status %d", status);
        return g_strdup_printf("killed by signal %d (%s)", status, strsignal(status));
}

/**
 * block_signals() - SIGINT, SIGTERM and SIGCHLD arrive through signalfds or the loop only
 */
void block_signals(void) {
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGCHLD);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);
}

/**
 * signal_fd() - a non-blocking signalfd for signal @a and, unless 0, @b
 */
int signal_fd(int a, int b) {
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, a);
        if (b)
                sigaddset(&mask, b);
        return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* The signal read from @fd, or 0 when none is pending. */
static int read_signal(int fd) {
        struct signalfd_siginfo si;

        if (read(fd, &si, sizeof si) != (ssize_t) sizeof si)
                return 0;
        return (int) si.ssi_signo;
}

/**
 * worker_run() - run the command for @job (Reserve's answer) and wait for it
 *
 * The reservation is renewed every half visibility. A stop signal is
 * passed on to the command's process group (a second one kills it).
 *
 * Return: 0 with its wait status in @ret_code / @ret_status, or an exit
 * status (message printed).
 */
int worker_run(Worker *w, const OpResult *job, int *ret_code, int *ret_status) {
        g_auto(GStrv) envp = g_get_environ();
        char value[32];
        pid_t pid;
        uint64_t half = MAX(w->visibility_ms / 2, 1u);
        int64_t next_touch;
        int r;

        g_snprintf(value, sizeof value, "%" PRIu64, job->id);
        envp = g_environ_setenv(envp, "SWITCHBOARD_JOB_ID", value, TRUE);
        g_snprintf(value, sizeof value, "%" PRIu32, job->attempts);
        envp = g_environ_setenv(envp, "SWITCHBOARD_JOB_ATTEMPTS", value, TRUE);
        envp = g_environ_setenv(envp, "SWITCHBOARD_QUEUE", w->queue, TRUE);

        r = spawn_command(w->argv, envp, &job->payload, -1, -1, &pid);
        if (r < 0) {
                fprintf(stderr, _("switchboard: cannot run '%s': %s\n"), w->argv[0], g_strerror(-r));
                return SB_EXIT_HUB_ERROR;
        }

        next_touch = g_get_monotonic_time() + (int64_t) half * 1000;
        for (;;) {
                struct pollfd p[2] = {
                        { .fd = w->stop_fd, .events = POLLIN },
                        { .fd = w->child_fd, .events = POLLIN },
                };
                int64_t left = (next_touch - g_get_monotonic_time()) / 1000;
                siginfo_t si = {};
                int sig;

                /* SIGCHLD may have come before we looked: ask first. */
                if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG) >= 0 && si.si_pid == pid) {
                        *ret_code = si.si_code;
                        *ret_status = si.si_status;
                        return 0;
                }
                if (left <= 0) {
                        g_auto(CliResult) res = {};

                        /* A failed touch is reported; the command goes on and the ack tells. */
                        (void) backend_call(w->backend, "Touch", &(OpArgs) { .id = job->id }, SUBJECT_JOB, NULL,
                                            &res);
                        next_touch += (int64_t) half * 1000;
                        continue;
                }
                if (poll(p, 2, (int) MIN(left, (int64_t) INT_MAX)) < 0 && errno != EINTR) {
                        fprintf(stderr, _("switchboard: the event loop failed: %s\n"), g_strerror(errno));
                        (void) kill(-pid, SIGKILL);
                        return SB_EXIT_HUB_ERROR;
                }
                while (read_signal(w->child_fd) > 0)
                        ;
                while ((sig = read_signal(w->stop_fd)) > 0) {
                        (void) kill(-pid, w->stopping ? SIGKILL : sig);
                        w->stopping = true;
                }
        }
}

#define SERVE_MAX_WAITING 256                   /* requests queued while the command runs */
#define SERVE_MAX_OUTPUT (8u * 1024 * 1024)     /* bytes of a command's standard output */
#define SERVE_ERROR_TAIL 4096                   /* bytes of its standard error kept for the message */
#define SERVE_ERROR_NAME HUB_ERROR_PREFIX "CommandFailed"

typedef struct Request {
        uint64_t id;
        GBytes *payload;
        char *transport;
        bool has_uid, has_pid;
        uint64_t uid, pid;
} Request;

static void request_free(Request *q) {
        if (!q)
                return;
        g_bytes_unref(q->payload);
        g_free(q->transport);
        g_free(q);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Request, request_free)

typedef struct Server {
        sd_event *event;
        Backend *backend;
        const char *name;
        char **argv;
        uint64_t count, handled;
        bool stopping;
        GQueue waiting;                 /* Request*, at most SERVE_MAX_WAITING */
        /* the request being handled */
        Request *current;
        pid_t pid;
        sd_event_source *out_source, *err_source;
        int out_fd, err_fd;
        GByteArray *out;
        bool out_too_large;
        GString *err_tail;
        int exit_code;                  /* of the loop, once ending */
} Server;

static void server_next(Server *s);

static int server_reply(Server *s, uint64_t id, const void *data, size_t size) {
        g_auto(CliResult) res = {};

        return backend_call(s->backend, "Reply", &(OpArgs) { .id = id, .payload = { data, size } }, SUBJECT_CALL,
                            NULL, &res);
}

static int server_reply_error(Server *s, uint64_t id, const char *name, const char *message) {
        g_auto(CliResult) res = {};

        return backend_call(s->backend, "ReplyError", &(OpArgs) { .id = id, .name = name, .message = message },
                            SUBJECT_CALL, NULL, &res);
}

static void server_end(Server *s, int exit_code) {
        s->exit_code = exit_code;
        (void) sd_event_exit(s->event, exit_code);
}

/* Read what the command wrote so far. Return: false at EOF or error. */
static bool server_read(Server *s, int fd) {
        char buf[65536];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return errno == EAGAIN;
                if (n == 0)
                        return false;
                if (fd == s->out_fd) {
                        if (s->out->len + (size_t) n > SERVE_MAX_OUTPUT)
                                s->out_too_large = true;
                        else
                                g_byte_array_append(s->out, (const guint8 *) buf, (guint) n);
                } else {
                        /* Shown as it comes, and the tail kept for the error message. */
                        (void) fwrite(buf, 1, (size_t) n, stderr);
                        g_string_append_len(s->err_tail, buf, n);
                        if (s->err_tail->len > SERVE_ERROR_TAIL)
                                g_string_erase(s->err_tail, 0, (gssize) (s->err_tail->len - SERVE_ERROR_TAIL));
                }
        }
}

static int on_command_output(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Server *s = userdata;

        if (!server_read(s, fd))
                (void) sd_event_source_set_enabled(source, SD_EVENT_OFF);
        return 0;
}

/* The last non-empty line of what the command wrote to standard error. */
static char *last_error_line(GString *tail) {
        g_auto(GStrv) lines = g_strsplit(tail->str, "\n", -1);

        for (int i = (int) g_strv_length(lines) - 1; i >= 0; i--) {
                g_strstrip(lines[i]);
                if (lines[i][0] && g_utf8_validate(lines[i], -1, NULL))
                        return g_strdup(lines[i]);
        }
        return NULL;
}

static void server_finish(Server *s, int code, int status) {
        g_autoptr(Request) q = g_steal_pointer(&s->current);
        g_autofree char *how = NULL, *line = NULL, *message = NULL;
        size_t size;
        int r;

        /* Whatever the command wrote before it exited is in the pipes now. */
        (void) server_read(s, s->out_fd);
        (void) server_read(s, s->err_fd);
        s->out_source = sd_event_source_disable_unref(s->out_source);
        s->err_source = sd_event_source_disable_unref(s->err_source);
        fd_close(s->out_fd);
        fd_close(s->err_fd);
        s->out_fd = s->err_fd = -1;

        if (code == CLD_EXITED && status == 0 && !s->out_too_large) {
                /* Like $(...) in a shell: one trailing newline is not part of the reply. */
                size = s->out->len;
                if (size > 0 && s->out->data[size - 1] == '\n')
                        size--;
                r = server_reply(s, q->id, s->out->data, size);
                if (r == CLI_NOT_TEXT)
                        r = server_reply_error(s, q->id, SERVE_ERROR_NAME,
                                               "The command's output is not UTF-8 text; D-Bus "
                                               "replies carry text only.");
        } else {
                if (s->out_too_large)
                        message = g_strdup_printf("The command's output exceeds %u bytes.", SERVE_MAX_OUTPUT);
                else {
                        how = describe_status(code, status);
                        line = last_error_line(s->err_tail);
                        message = line ? g_strdup_printf("%s: %s", how, line) : g_strdup(how);
                }
                r = server_reply_error(s, q->id, SERVE_ERROR_NAME, message);
        }
        /* The caller gave up or left meanwhile (NotFound): not our failure. */
        if (r != 0 && r != SB_EXIT_NOT_FOUND) {
                server_end(s, r);
                return;
        }

        s->handled++;
        if (s->stopping || (s->count > 0 && s->handled >= s->count)) {
                server_end(s, SB_EXIT_OK);
                return;
        }
        server_next(s);
}

/* SIGCHLD (through the loop's signalfd): is it our command that ended? */
static int on_sigchld(sd_event_source *source, const struct signalfd_siginfo *ssi, void *userdata) {
        Server *s = userdata;
        siginfo_t si = {};

        if (!s->current)
                return 0;
        if (waitid(P_PID, (id_t) s->pid, &si, WEXITED | WNOHANG) < 0 || si.si_pid != s->pid)
                return 0;
        server_finish(s, si.si_code, si.si_status);
        return 0;
}

static int server_start(Server *s, Request *q) {
        g_auto(GStrv) envp = g_get_environ();
        int out[2] = { -1, -1 }, err[2] = { -1, -1 };
        char value[32];
        int r = 0;

        g_snprintf(value, sizeof value, "%" PRIu64, q->id);
        envp = g_environ_setenv(envp, "SWITCHBOARD_CALL_ID", value, TRUE);
        envp = g_environ_setenv(envp, "SWITCHBOARD_SERVICE", s->name, TRUE);
        if (q->transport)
                envp = g_environ_setenv(envp, "SWITCHBOARD_CALLER_TRANSPORT", q->transport, TRUE);
        if (q->has_uid) {
                g_snprintf(value, sizeof value, "%" PRIu64, q->uid);
                envp = g_environ_setenv(envp, "SWITCHBOARD_CALLER_UID", value, TRUE);
        }
        if (q->has_pid) {
                g_snprintf(value, sizeof value, "%" PRIu64, q->pid);
                envp = g_environ_setenv(envp, "SWITCHBOARD_CALLER_PID", value, TRUE);
        }

        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
                r = -errno;
        if (r >= 0)
                r = spawn_command(s->argv, envp, &(OpBytes) { g_bytes_get_data(q->payload, NULL),
                                                                   g_bytes_get_size(q->payload) },
                                       out[1], err[1], &s->pid);
        fd_close(out[1]);
        fd_close(err[1]);
        if (r < 0) {
                fd_close(out[0]);
                fd_close(err[0]);
                return r;
        }

        s->out_fd = out[0];
        s->err_fd = err[0];
        (void) fcntl(s->out_fd, F_SETFL, O_NONBLOCK);
        (void) fcntl(s->err_fd, F_SETFL, O_NONBLOCK);
        g_byte_array_set_size(s->out, 0);
        s->out_too_large = false;
        g_string_truncate(s->err_tail, 0);
        r = sd_event_add_io(s->event, &s->out_source, s->out_fd, EPOLLIN, on_command_output, s);
        if (r >= 0)
                r = sd_event_add_io(s->event, &s->err_source, s->err_fd, EPOLLIN, on_command_output, s);
        if (r < 0) {
                (void) kill(-s->pid, SIGKILL);
                return r;
        }
        return 0;
}

/* Start the next waiting request, if the command is not busy. */
static void server_next(Server *s) {
        Request *q;

        while (!s->current && !s->stopping && (q = g_queue_pop_head(&s->waiting))) {
                g_autofree char *message = NULL;
                int r;

                s->current = q;
                r = server_start(s, q);
                if (r >= 0)
                        return;

                message = g_strdup_printf("Cannot run '%s': %s.", s->argv[0], g_strerror(-r));
                fprintf(stderr, "switchboard: %s\n", message);
                s->current = NULL;
                r = server_reply_error(s, q->id, SERVE_ERROR_NAME, message);
                request_free(q);
                if (r != 0 && r != SB_EXIT_NOT_FOUND) {
                        server_end(s, r);
                        return;
                }
        }
}

static void on_request(const Event *e, void *userdata) {
        Server *s = userdata;
        Request *q;

        if (e->kind != EVENT_REQUEST || s->stopping)
                return;
        if (g_queue_get_length(&s->waiting) >= SERVE_MAX_WAITING) {
                g_autofree char *message = g_strdup_printf("The server has %d requests waiting already.",
                                                           SERVE_MAX_WAITING);
                int r = server_reply_error(s, e->id, HUB_ERROR_PREFIX "LimitExceeded", message);

                if (r != 0 && r != SB_EXIT_NOT_FOUND)
                        server_end(s, r);
                return;
        }

        q = g_new0(Request, 1);
        q->id = e->id;
        q->payload = g_bytes_new(e->data, e->size);
        if (e->sender) {
                q->transport = g_strdup(e->sender->transport);
                q->has_uid = e->sender->has_uid;
                q->uid = e->sender->uid;
                q->has_pid = e->sender->has_pid;
                q->pid = e->sender->pid;
        }
        g_queue_push_tail(&s->waiting, q);
        server_next(s);
}

static int on_server_signal(sd_event_source *source, const struct signalfd_siginfo *si, void *userdata) {
        Server *s = userdata;

        /* Finish the request at hand (the command gets the signal), then exit;
         * waiting callers get ServerGone when we leave. */
        if (s->current) {
                (void) kill(-s->pid, s->stopping ? SIGKILL : (int) si->ssi_signo);
                s->stopping = true;
                return 0;
        }
        s->stopping = true;
        server_end(s, SB_EXIT_OK);
        return 0;
}

/* Stop the command, if one runs, and free what @s holds. */
static void server_close(Server *s) {
        if (s->current) {
                (void) kill(-s->pid, SIGKILL);
                (void) waitid(P_PID, (id_t) s->pid, &(siginfo_t) {}, WEXITED);
                request_free(s->current);
        }
        s->out_source = sd_event_source_disable_unref(s->out_source);
        s->err_source = sd_event_source_disable_unref(s->err_source);
        fd_close(s->out_fd);
        fd_close(s->err_fd);
        g_queue_clear_full(&s->waiting, (GDestroyNotify) request_free);
        backend_free(s->backend);
        if (s->event)
                sd_event_unref(s->event);
        g_byte_array_unref(s->out);
        g_string_free(s->err_tail, TRUE);
}

/**
 * serve_run() - serve @name through @b (taken) and run @argv for each call, one at a time
 * @count: exit after this many calls; 0: never
 *
 * Return: 0 after @count calls or SIGINT/SIGTERM, or an exit status (message printed).
 */
int serve_run(Backend *b, const char *name, char **argv, uint64_t count) {
        Server s = { .name = name, .argv = argv, .count = count, .out_fd = -1, .err_fd = -1 };
        g_auto(CliResult) res = {};
        int r;

        block_signals();
        s.backend = b;
        s.out = g_byte_array_new();
        s.err_tail = g_string_new(NULL);
        g_queue_init(&s.waiting);
        r = sd_event_new(&s.event);
        if (r >= 0)
                r = sd_event_add_signal(s.event, NULL, SIGINT, on_server_signal, &s);
        if (r >= 0)
                r = sd_event_add_signal(s.event, NULL, SIGTERM, on_server_signal, &s);
        if (r >= 0)
                r = sd_event_add_signal(s.event, NULL, SIGCHLD, on_sigchld, &s);
        if (r < 0) {
                fprintf(stderr, _("switchboard: cannot set up the event loop: %s\n"), g_strerror(-r));
                r = SB_EXIT_UNREACHABLE;
        } else
                r = backend_stream_prepare(b, s.event, on_request, &s);
        if (r == 0)
                r = backend_call(b, "Serve", &(OpArgs) { .name = name }, SUBJECT_SERVICE, name, &res);
        if (r == 0) {
                r = sd_event_loop(s.event);
                if (r < 0) {
                        fprintf(stderr, _("switchboard: the event loop failed: %s\n"), g_strerror(-r));
                        r = SB_EXIT_HUB_ERROR;
                }
        }

        server_close(&s);
        return r;
}
