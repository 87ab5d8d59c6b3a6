/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-echo-service: the bare sd-bus baseline the hub is measured against.
 * It owns org.switchboard.BenchEcho on the session bus (one sd-event loop,
 * nothing else) and offers the hub's message shapes with no hub behind them:
 *
 *   Publish(s topic, s payload) -> (t seq)   returns a counter, nothing more
 *   Relay(s topic, s payload) -> (t seq)     same, and emits one broadcast
 *                                            Message(s, s, t) like the hub does
 *   Emit(u count, t duration_usec, s topic, s payload)
 *                                            replies at once, then emits up to
 *                                            @count broadcast Message signals,
 *                                            for at most @duration_usec, as
 *                                            fast as the bus takes them
 *
 * Emission is flow-controlled: it stops while more than EMIT_QUEUE_HIGH
 * messages wait in sd-bus's write queue and resumes from a post source once
 * the bus I/O source has drained it, so memory stays bounded however slow the
 * bus is. Used only by bench/run and bench-dbus; exits with its bus.
 */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "util/sd-glue.h"

#define ECHO_NAME "org.switchboard.BenchEcho"
#define ECHO_PATH "/org/switchboard/BenchEcho"
#define ECHO_IFACE "org.switchboard.BenchEcho"

/* Stop emitting above this many queued messages; the post source resumes. */
#define EMIT_QUEUE_HIGH 64

typedef struct Echo {
        sd_event *event;
        sd_bus *bus;
        uint64_t seq;

        /* Emission in progress: remaining count, deadline (CLOCK_MONOTONIC µs). */
        uint64_t emit_left;
        uint64_t emit_deadline;
        char *emit_topic;
        char *emit_payload;
        sd_event_source *pump;  /* post source, ON while emit_left > 0 */
} Echo;

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * G_USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static void emit_stop(Echo *e) {
        e->emit_left = 0;
        g_clear_pointer(&e->emit_topic, g_free);
        g_clear_pointer(&e->emit_payload, g_free);
        (void) sd_event_source_set_enabled(e->pump, SD_EVENT_OFF);
}

/* Emits until done, past the deadline, or the write queue is above the mark. */
static int emit_batch(Echo *e) {
        unsigned n = 0;
        int r;

        while (e->emit_left > 0) {
                uint64_t queued;

                r = sd_bus_get_n_queued_write(e->bus, &queued);
                if (r < 0)
                        return r;
                if (queued > EMIT_QUEUE_HIGH)
                        return 0;
                /* Checking the clock every 64 signals is plenty. */
                if ((n++ & 63) == 0 && now_usec() >= e->emit_deadline)
                        break;

                r = sd_bus_emit_signal(e->bus, ECHO_PATH, ECHO_IFACE, "Message", "sst",
                                       e->emit_topic, e->emit_payload, ++e->seq);
                if (r < 0)
                        return r;
                e->emit_left--;
        }

        emit_stop(e);
        return 0;
}

static int on_pump(sd_event_source *s, void *userdata) {
        Echo *e = userdata;
        int r;

        r = emit_batch(e);
        if (r < 0) {
                fprintf(stderr, "bench-echo-service: failed to emit: %s\n", strerror(-r));
                emit_stop(e);
        }
        return 0;
}

static int method_publish(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Echo *e = userdata;
        const char *topic, *payload;
        int r;

        r = sd_bus_message_read(m, "ss", &topic, &payload);
        if (r < 0)
                return r;

        return sd_bus_reply_method_return(m, "t", ++e->seq);
}

static int method_relay(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Echo *e = userdata;
        const char *topic, *payload;
        int r;

        r = sd_bus_message_read(m, "ss", &topic, &payload);
        if (r < 0)
                return r;

        e->seq++;
        r = sd_bus_emit_signal(e->bus, ECHO_PATH, ECHO_IFACE, "Message", "sst",
                               topic, payload, e->seq);
        if (r < 0)
                return r;

        return sd_bus_reply_method_return(m, "t", e->seq);
}

static int method_emit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Echo *e = userdata;
        const char *topic, *payload;
        uint32_t count;
        uint64_t duration;
        int r;

        r = sd_bus_message_read(m, "utss", &count, &duration, &topic, &payload);
        if (r < 0)
                return r;

        if (e->emit_left > 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                        "An emission is already running.");

        r = sd_bus_reply_method_return(m, NULL);
        if (r < 0)
                return r;

        e->emit_left = count;
        e->emit_deadline = now_usec() + duration;
        e->emit_topic = g_strdup(topic);
        e->emit_payload = g_strdup(payload);
        r = sd_event_source_set_enabled(e->pump, SD_EVENT_ON);
        if (r < 0)
                return r;

        /* The first batch goes out now; the pump takes over once the queue fills. */
        r = emit_batch(e);
        if (r < 0) {
                emit_stop(e);
                return r;
        }
        return 1;
}

static const sd_bus_vtable echo_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Publish",
                                SD_BUS_ARGS("s", topic, "s", payload),
                                SD_BUS_RESULT("t", seq),
                                method_publish, 0),
        SD_BUS_METHOD_WITH_ARGS("Relay",
                                SD_BUS_ARGS("s", topic, "s", payload),
                                SD_BUS_RESULT("t", seq),
                                method_relay, 0),
        SD_BUS_METHOD_WITH_ARGS("Emit",
                                SD_BUS_ARGS("u", count, "t", duration_usec,
                                            "s", topic, "s", payload),
                                SD_BUS_NO_RESULT,
                                method_emit, 0),
        SD_BUS_SIGNAL_WITH_ARGS("Message",
                                SD_BUS_ARGS("s", topic, "s", payload, "t", seq), 0),
        SD_BUS_VTABLE_END
};

static void help(void) {
        printf("Usage: bench-echo-service [--name NAME]\n\n"
               "Bare sd-bus service on the session bus: Publish, Relay and Emit\n"
               "with the hub's message shapes, for bench/run.\n");
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument,       NULL, 'h' },
                { "name", required_argument, NULL, 'n' },
                {}
        };
        g_autoptr(sd_event) event = NULL;
        g_autoptr(sd_bus) bus = NULL;
        g_autoptr(sd_event_source) pump = NULL;
        const char *name = ECHO_NAME;
        Echo e = {};
        sigset_t mask;
        int c, r;

        while ((c = getopt_long(argc, argv, "hn:", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case 'n':
                        name = optarg;
                        break;
                default:
                        return EXIT_FAILURE;
                }
        }

        r = sd_event_default(&event);
        if (r < 0)
                goto fail;
        /* SIGTERM and SIGINT end the loop cleanly (NULL handler: sd_event_exit). */
        if (sigemptyset(&mask) < 0 ||
            sigaddset(&mask, SIGTERM) < 0 || sigaddset(&mask, SIGINT) < 0 ||
            sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
                r = -errno;
                goto fail;
        }
        r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        if (r < 0)
                goto fail;
        r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                goto fail;
        r = sd_bus_open_user(&bus);
        if (r < 0)
                goto fail;
        r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                goto fail;
        r = sd_bus_set_exit_on_disconnect(bus, 1);
        if (r < 0)
                goto fail;

        e.event = event;
        e.bus = bus;
        r = sd_event_add_post(event, &pump, on_pump, &e);
        if (r < 0)
                goto fail;
        r = sd_event_source_set_enabled(pump, SD_EVENT_OFF);
        if (r < 0)
                goto fail;
        e.pump = pump;

        r = sd_bus_add_object_vtable(bus, NULL, ECHO_PATH, ECHO_IFACE, echo_vtable, &e);
        if (r < 0)
                goto fail;

        /* Owning the name is the readiness signal: request it last. */
        r = sd_bus_request_name(bus, name, 0);
        if (r < 0)
                goto fail;

        r = sd_event_loop(event);
        if (r < 0)
                goto fail;

        emit_stop(&e);
        return EXIT_SUCCESS;

fail:
        fprintf(stderr, "bench-echo-service: %s\n", strerror(-r));
        emit_stop(&e);
        return EXIT_FAILURE;
}
