/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-dbus: the client side of bench/run. One sd-bus connection to the
 * session bus, driven by a plain sd_bus_process()/sd_bus_wait() loop so the
 * client adds as little as possible to what it measures. Three modes:
 *
 *   call      keeps DEPTH calls of METHOD(s topic, s payload) -> (t) in
 *             flight for a duration after a warm-up; each call's latency is
 *             taken on CLOCK_MONOTONIC from send to reply.
 *   signals   adds the match rule an applet would add, starts a producer
 *             (the echo service's Emit, or a forked child publishing at depth
 *             64 over D-Bus, or with "--producer socket" over the hub's
 *             JSON-RPC socket, which leaves the hub a pure signal emitter on
 *             the bus), and counts Message signals from the first to the last.
 *   wait-name waits, bounded, until a bus name has an owner.
 *
 * Results are one line of key=value pairs on stdout, for bench/run to parse
 * (calls counts the measured calls, total includes the warm-up):
 *
 *   mode=call method=Publish depth=64 calls=123456 seconds=2.000 rate=61728.0
 *       p50_us=812.3 p99_us=1630.0 errors=0 total=150123
 *   mode=signals producer=emit received=200000 lost=0 seconds=2.100 rate=95238.1
 *
 * Exit status: 0 on success, 1 when the run failed or any call got an error.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <systemd/sd-bus.h>

#include "bench-proto.h"
#include "util/sd-glue.h"

#define DEFAULT_DEST "org.switchboard.Hub1"
#define DEFAULT_PATH "/org/switchboard/Hub1"
#define DEFAULT_IFACE "org.switchboard.Hub1"
#define DEFAULT_TOPIC "bench.x"
/* 32 bytes of text: a small sensor-style message. */
#define DEFAULT_PAYLOAD "{\"celsius\":21.5,\"seq\":123456789}"

/* Calls still unanswered this long after the deadline mean a hung service. */
#define DRAIN_TIMEOUT_USEC (10 * G_USEC_PER_SEC)

typedef struct Options {
        const char *dest;
        const char *path;
        const char *iface;
        const char *method;
        const char *topic;
        const char *payload;
        const char *producer;   /* signals: "emit", "publish" or "socket" */
        const char *socket;     /* signals --producer socket: the hub's socket */
        unsigned depth;
        double duration;        /* seconds of measurement */
        double warmup;          /* seconds of warm-up before it */
        double idle;            /* signals: stop after this long without one */
        double timeout;         /* wait-name */
} Options;

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * G_USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static uint64_t seconds_to_usec(double s) {
        return s <= 0 ? 0 : (uint64_t) (s * G_USEC_PER_SEC);
}

/*
 * Runs the bus until *done or the deadline (CLOCK_MONOTONIC µs).
 * Return: 0 when *done, -ETIMEDOUT at the deadline, or a bus error.
 */
static int bus_run_until(sd_bus *bus, const bool *done, uint64_t deadline) {
        int r;

        while (!*done) {
                uint64_t now;

                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;

                now = now_usec();
                if (now >= deadline)
                        return -ETIMEDOUT;
                r = sd_bus_wait(bus, deadline - now);
                if (r < 0 && r != -EINTR)
                        return r;
        }
        return 0;
}

/* ---- call mode ---------------------------------------------------------- */

typedef struct Caller Caller;

typedef struct CallSlot {
        Caller *caller;
        uint64_t sent_ns;
} CallSlot;

struct Caller {
        const Options *opts;
        sd_bus *bus;
        CallSlot *slots;

        uint64_t warm_at;       /* µs: calls sent from here on are recorded */
        uint64_t deadline;      /* µs: no call is sent after this */
        uint64_t start_ns;      /* first recorded send, 0 until warm */
        uint64_t last_ns;       /* last recorded reply */
        unsigned in_flight;
        uint64_t completed;
        uint64_t errors;
        GArray *latencies;      /* uint64_t ns, recorded calls only */
        bool done;
        int error;
};

static int on_call_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

static int call_send(CallSlot *slot) {
        Caller *c = slot->caller;
        const Options *o = c->opts;
        uint64_t now = now_nsec();
        int r;

        if (c->start_ns == 0 && now / 1000 >= c->warm_at)
                c->start_ns = now;
        slot->sent_ns = now;

        r = sd_bus_call_method_async(c->bus, NULL, o->dest, o->path, o->iface, o->method,
                                     on_call_reply, slot, "ss", o->topic, o->payload);
        if (r < 0)
                return r;
        c->in_flight++;
        return 0;
}

static int on_call_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        CallSlot *slot = userdata;
        Caller *c = slot->caller;
        uint64_t now = now_nsec();
        int r;

        c->in_flight--;
        c->completed++;

        if (sd_bus_message_is_method_error(m, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(m);

                if (c->errors++ == 0)
                        fprintf(stderr, "bench-dbus: %s: %s\n", e->name, e->message);
        } else if (c->start_ns != 0 && slot->sent_ns >= c->start_ns) {
                uint64_t lat = now - slot->sent_ns;

                g_array_append_val(c->latencies, lat);
                c->last_ns = now;
        }

        if (now / 1000 < c->deadline) {
                r = call_send(slot);
                if (r < 0) {
                        c->error = r;
                        c->done = true;
                }
        } else if (c->in_flight == 0)
                c->done = true;

        return 0;
}

/*
 * Keeps o->depth calls in flight for warm-up + duration and fills @ret_caller
 * (whose latencies the caller frees).
 */
static int run_calls(sd_bus *bus, const Options *o, Caller *ret_caller) {
        g_autofree CallSlot *slots = NULL;
        Caller c = {
                .opts = o,
                .bus = bus,
        };
        uint64_t now;
        int r;

        slots = g_new0(CallSlot, o->depth);
        c.slots = slots;
        c.latencies = g_array_sized_new(FALSE, FALSE, sizeof(uint64_t), 1 << 16);
        now = now_usec();
        c.warm_at = now + seconds_to_usec(o->warmup);
        c.deadline = c.warm_at + seconds_to_usec(o->duration);

        for (unsigned i = 0; i < o->depth; i++) {
                slots[i].caller = &c;
                r = call_send(&slots[i]);
                if (r < 0)
                        goto fail;
        }

        r = bus_run_until(bus, &c.done, c.deadline + DRAIN_TIMEOUT_USEC);
        if (r < 0)
                goto fail;
        if (c.error < 0) {
                r = c.error;
                goto fail;
        }

        c.slots = NULL;
        *ret_caller = c;
        return 0;

fail:
        /* Pending replies still point at the slots: drop them with the bus. */
        g_array_unref(c.latencies);
        return r;
}

static int mode_call(sd_bus *bus, const Options *o) {
        Caller c;
        double seconds, rate;
        int r;

        r = run_calls(bus, o, &c);
        if (r < 0) {
                fprintf(stderr, "bench-dbus: calls failed: %s\n", strerror(-r));
                return r;
        }

        g_array_sort(c.latencies, cmp_u64);
        seconds = c.last_ns > c.start_ns ? (c.last_ns - c.start_ns) / 1e9 : 0;
        rate = seconds > 0 ? c.latencies->len / seconds : 0;
        printf("mode=call method=%s depth=%u calls=%u seconds=%.3f rate=%.1f "
               "p50_us=%.1f p99_us=%.1f errors=%" PRIu64 " total=%" PRIu64 "\n",
               o->method, o->depth, c.latencies->len, seconds, rate,
               percentile_us(c.latencies, 50), percentile_us(c.latencies, 99), c.errors,
               c.completed);
        r = c.errors > 0 || c.latencies->len == 0 ? -EIO : 0;
        g_array_unref(c.latencies);
        return r;
}

/* ---- signals mode ------------------------------------------------------- */

typedef struct Counter {
        uint64_t received;
        uint64_t first_ns, last_ns;
        uint64_t first_seq, last_seq;
        uint64_t out_of_order;
} Counter;

static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Counter *k = userdata;
        const char *topic, *payload;
        uint64_t seq, now = now_nsec();
        int r;

        r = sd_bus_message_read(m, "sst", &topic, &payload, &seq);
        if (r < 0)
                return 0;

        if (k->received == 0) {
                k->first_ns = now;
                k->first_seq = seq;
        } else if (seq <= k->last_seq)
                k->out_of_order++;
        k->received++;
        k->last_ns = now;
        k->last_seq = seq;
        return 0;
}

static int bus_open(sd_bus **ret_bus) {
        g_autoptr(sd_bus) bus = NULL;
        int r;

        r = sd_bus_open_user(&bus);
        if (r < 0)
                return r;
        *ret_bus = g_steal_pointer(&bus);
        return 0;
}

/*
 * The child of "signals --producer publish": waits for the parent's match to
 * be in place, publishes at depth 64 (or o->depth) for o->duration seconds,
 * writes its completed-call count and error count to @result_fd, exits.
 */
static int __attribute__((noreturn)) producer_child(const Options *o, int go_fd, int result_fd) {
        g_autoptr(sd_bus) bus = NULL;
        Options po = *o;
        Caller c;
        uint64_t out[2] = {};
        char byte;
        int r;

        if (read(go_fd, &byte, 1) != 1)
                _exit(EXIT_FAILURE);

        if (g_str_equal(o->producer, "socket")) {
                g_autoptr(GString) escaped = g_string_new(NULL);
                LoadResult lr;
                g_auto(Fd) fd = -1;

                /* The payload goes into a JSON string: escape what JSON escapes. */
                for (const char *p = o->payload; *p; p++) {
                        if (*p == '"' || *p == '\\')
                                g_string_append_c(escaped, '\\');
                        g_string_append_c(escaped, *p);
                }
                fd = connect_unix(o->socket);
                if (fd < 0) {
                        fprintf(stderr, "bench-dbus: producer: %s: %s\n", o->socket, strerror(-fd));
                        _exit(EXIT_FAILURE);
                }
                r = load_run(fd, PROTO_SB, o->depth, 0, o->duration, o->topic, escaped->str, &lr);
                if (r < 0) {
                        fprintf(stderr, "bench-dbus: producer: %s\n", strerror(-r));
                        _exit(EXIT_FAILURE);
                }
                out[0] = lr.completed;
                out[1] = lr.errors;
                load_result_deinit(&lr);
                if (write(result_fd, out, sizeof(out)) != sizeof(out))
                        _exit(EXIT_FAILURE);
                _exit(out[1] > 0 ? EXIT_FAILURE : EXIT_SUCCESS);
        }

        r = bus_open(&bus);
        if (r < 0) {
                fprintf(stderr, "bench-dbus: producer: %s\n", strerror(-r));
                _exit(EXIT_FAILURE);
        }
        po.warmup = 0;
        r = run_calls(bus, &po, &c);
        if (r < 0) {
                fprintf(stderr, "bench-dbus: producer: %s\n", strerror(-r));
                _exit(EXIT_FAILURE);
        }
        out[0] = c.completed;
        out[1] = c.errors;
        g_array_unref(c.latencies);
        if (write(result_fd, out, sizeof(out)) != sizeof(out))
                _exit(EXIT_FAILURE);
        sd_bus_flush(bus);
        _exit(c.errors > 0 ? EXIT_FAILURE : EXIT_SUCCESS);
}

static int mode_signals(const Options *o) {
        g_autoptr(sd_bus) bus = NULL;
        g_autofree char *rule = NULL;
        g_auto(Fd) go_read = -1, go_write = -1, res_read = -1, res_write = -1;
        Counter k = {};
        pid_t child = 0;
        uint64_t produced[2] = {}, deadline, lost;
        int fds[2], r;

        if (!g_str_equal(o->producer, "emit") && !g_str_equal(o->producer, "publish") &&
            !g_str_equal(o->producer, "socket")) {
                fprintf(stderr, "bench-dbus: --producer must be emit, publish or socket\n");
                return -EINVAL;
        }

        if (!g_str_equal(o->producer, "emit")) {
                /* Fork before any bus exists: the child opens its own connection. */
                if (pipe2(fds, O_CLOEXEC) < 0)
                        return -errno;
                go_read = fds[0];
                go_write = fds[1];
                if (pipe2(fds, O_CLOEXEC) < 0)
                        return -errno;
                res_read = fds[0];
                res_write = fds[1];

                fflush(NULL);
                child = fork();
                if (child < 0)
                        return -errno;
                if (child == 0) {
                        fd_close(go_write);
                        fd_close(res_read);
                        producer_child(o, go_read, res_write);
                }
                fd_close(go_read);
                go_read = -1;
                fd_close(res_write);
                res_write = -1;
        }

        r = bus_open(&bus);
        if (r < 0)
                goto finish;

        rule = g_strdup_printf("type='signal',interface='%s',member='Message',arg0namespace='%s'",
                               o->iface, "bench");
        /* Synchronous AddMatch: once it returns, the bus delivers to us. */
        r = sd_bus_add_match(bus, NULL, rule, on_message, &k);
        if (r < 0)
                goto finish;

        if (child > 0) {
                if (write(go_write, "g", 1) != 1) {
                        r = -errno;
                        goto finish;
                }
        } else {
                g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;

                r = sd_bus_call_method(bus, o->dest, o->path, o->iface, "Emit", &error, NULL,
                                       "utss", (uint32_t) UINT32_MAX,
                                       seconds_to_usec(o->duration), o->topic, o->payload);
                if (r < 0) {
                        fprintf(stderr, "bench-dbus: Emit: %s\n", error.message ?: strerror(-r));
                        goto finish;
                }
        }

        /* Until the stream has started and then gone quiet for o->idle seconds. */
        deadline = now_usec() + seconds_to_usec(o->duration) + DRAIN_TIMEOUT_USEC;
        for (;;) {
                uint64_t now, until = deadline;

                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        goto finish;
                if (r > 0)
                        continue;

                now = now_usec();
                if (k.received > 0)
                        until = MIN(deadline, k.last_ns / 1000 + seconds_to_usec(o->idle));
                if (now >= until) {
                        r = k.received > 0 ? 0 : -ETIMEDOUT;
                        break;
                }
                r = sd_bus_wait(bus, until - now);
                if (r < 0 && r != -EINTR)
                        goto finish;
        }

finish:
        if (child > 0) {
                int status;
                ssize_t n;

                if (r < 0)
                        (void) kill(child, SIGTERM);
                n = read(res_read, produced, sizeof(produced));
                if (n != sizeof(produced))
                        memset(produced, 0, sizeof(produced));
                if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) ||
                    WEXITSTATUS(status) != 0) {
                        fprintf(stderr, "bench-dbus: the producer failed\n");
                        if (r >= 0)
                                r = -EIO;
                }
        }
        if (r < 0) {
                fprintf(stderr, "bench-dbus: signals failed: %s\n", strerror(-r));
                return r;
        }

        {
                double seconds = (k.last_ns - k.first_ns) / 1e9;
                double rate = seconds > 0 ? (k.received - 1) / seconds : 0;

                /* Sequence numbers are consecutive while we are the only producer. */
                lost = k.last_seq - k.first_seq + 1 - k.received;
                printf("mode=signals producer=%s method=%s received=%" PRIu64 " lost=%" PRIu64
                       " out_of_order=%" PRIu64 " seconds=%.3f rate=%.1f",
                       o->producer, g_str_equal(o->producer, "socket") ? "publish" :
                       child > 0 ? o->method : "Emit", k.received, lost,
                       k.out_of_order, seconds, rate);
                if (child > 0)
                        printf(" published=%" PRIu64 " publish_errors=%" PRIu64,
                               produced[0], produced[1]);
                printf("\n");
        }
        return k.received < 2 ? -EIO : 0;
}

/* ---- wait-name ------------------------------------------------------------ */

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        bool *found = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) >= 0 && *new_owner)
                *found = true;
        return 0;
}

static int mode_wait_name(const char *name, const Options *o) {
        g_autoptr(sd_bus) bus = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autofree char *rule = NULL;
        bool found = false;
        int has, r;

        r = bus_open(&bus);
        if (r < 0)
                return r;

        /* Match first, then ask: an owner that appears in between is not missed. */
        rule = g_strdup_printf("type='signal',sender='org.freedesktop.DBus',"
                               "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
                               "arg0='%s'", name);
        r = sd_bus_add_match(bus, NULL, rule, on_name_owner_changed, &found);
        if (r < 0)
                return r;

        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "NameHasOwner", NULL, &reply, "s", name);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "b", &has);
        if (r < 0)
                return r;
        if (has)
                return 0;

        r = bus_run_until(bus, &found, now_usec() + seconds_to_usec(o->timeout));
        if (r == -ETIMEDOUT)
                fprintf(stderr, "bench-dbus: %s did not appear within %.1f s\n", name, o->timeout);
        return r;
}

/* ---- main ----------------------------------------------------------------- */

static void help(void) {
        printf("Usage:\n"
               "  bench-dbus call [--dest D --path P --iface I --method M] [--depth N]\n"
               "                  [--duration S] [--warmup S] [--topic T] [--payload P]\n"
               "  bench-dbus signals --producer emit|publish|socket [--dest D --path P --iface I]\n"
               "                  [--method M] [--socket PATH] [--depth N] [--duration S] [--idle S]\n"
               "  bench-dbus wait-name NAME [--timeout S]\n\n"
               "Defaults: the hub (%s), Publish, depth 1 (signals: 64), 2 s after 0.5 s\n"
               "warm-up, "
               "topic %s. Prints one key=value line. See bench/README.md.\n",
               DEFAULT_DEST, DEFAULT_TOPIC);
}

static int parse_double(const char *s, double *ret) {
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end || v < 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

int main(int argc, char *argv[]) {
        enum { ARG_DEST = 0x100, ARG_PATH, ARG_IFACE, ARG_METHOD, ARG_TOPIC, ARG_PAYLOAD,
               ARG_PRODUCER, ARG_DEPTH, ARG_DURATION, ARG_WARMUP, ARG_IDLE, ARG_TIMEOUT,
               ARG_SOCKET };
        static const struct option options[] = {
                { "help",     no_argument,       NULL, 'h'          },
                { "dest",     required_argument, NULL, ARG_DEST     },
                { "path",     required_argument, NULL, ARG_PATH     },
                { "iface",    required_argument, NULL, ARG_IFACE    },
                { "method",   required_argument, NULL, ARG_METHOD   },
                { "topic",    required_argument, NULL, ARG_TOPIC    },
                { "payload",  required_argument, NULL, ARG_PAYLOAD  },
                { "producer", required_argument, NULL, ARG_PRODUCER },
                { "depth",    required_argument, NULL, ARG_DEPTH    },
                { "duration", required_argument, NULL, ARG_DURATION },
                { "warmup",   required_argument, NULL, ARG_WARMUP   },
                { "idle",     required_argument, NULL, ARG_IDLE     },
                { "timeout",  required_argument, NULL, ARG_TIMEOUT  },
                { "socket",   required_argument, NULL, ARG_SOCKET   },
                {}
        };
        Options o = {
                .dest = DEFAULT_DEST,
                .path = DEFAULT_PATH,
                .iface = DEFAULT_IFACE,
                .method = "Publish",
                .topic = DEFAULT_TOPIC,
                .payload = DEFAULT_PAYLOAD,
                .producer = "emit",
                .depth = 0,     /* call: 1; signals --producer publish: 64 */
                .duration = 2.0,
                .warmup = 0.5,
                .idle = 0.5,
                .timeout = 10.0,
        };
        g_autofree char *default_socket = NULL;
        const char *mode;
        int c, r = 0;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                double v;

                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_DEST:     o.dest = optarg;     break;
                case ARG_PATH:     o.path = optarg;     break;
                case ARG_IFACE:    o.iface = optarg;    break;
                case ARG_METHOD:   o.method = optarg;   break;
                case ARG_TOPIC:    o.topic = optarg;    break;
                case ARG_PAYLOAD:  o.payload = optarg;  break;
                case ARG_PRODUCER: o.producer = optarg; break;
                case ARG_SOCKET:   o.socket = optarg;   break;
                case ARG_DEPTH:
                        r = parse_double(optarg, &v);
                        if (r < 0 || v < 1 || v > 4096 || v != (unsigned) v) {
                                fprintf(stderr, "bench-dbus: bad --depth '%s'\n", optarg);
                                return EXIT_FAILURE;
                        }
                        o.depth = (unsigned) v;
                        break;
                case ARG_DURATION:
                case ARG_WARMUP:
                case ARG_IDLE:
                case ARG_TIMEOUT:
                        r = parse_double(optarg, &v);
                        if (r < 0 || v > 3600) {
                                fprintf(stderr, "bench-dbus: bad number '%s'\n", optarg);
                                return EXIT_FAILURE;
                        }
                        if (c == ARG_DURATION)
                                o.duration = v;
                        else if (c == ARG_WARMUP)
                                o.warmup = v;
                        else if (c == ARG_IDLE)
                                o.idle = v;
                        else
                                o.timeout = v;
                        break;
                default:
                        return EXIT_FAILURE;
                }
        }

        if (optind >= argc) {
                help();
                return EXIT_FAILURE;
        }
        mode = argv[optind];
        if (!o.socket) {
                default_socket = g_build_filename(g_get_user_runtime_dir(), "switchboard", "socket", NULL);
                o.socket = default_socket;
        }

        if (g_str_equal(mode, "call")) {
                g_autoptr(sd_bus) bus = NULL;

                if (o.depth == 0)
                        o.depth = 1;
                r = bus_open(&bus);
                if (r >= 0)
                        r = mode_call(bus, &o);
        } else if (g_str_equal(mode, "signals")) {
                if (o.depth == 0)
                        o.depth = 64;
                r = mode_signals(&o);
        } else if (g_str_equal(mode, "wait-name") && optind + 1 < argc)
                r = mode_wait_name(argv[optind + 1], &o);
        else {
                help();
                return EXIT_FAILURE;
        }

        if (r < 0 && r != -EIO)
                fprintf(stderr, "bench-dbus: %s: %s\n", mode, strerror(-r));
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
