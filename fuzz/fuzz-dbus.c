/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-dbus.c: libFuzzer target for the hub's D-Bus face (src/dbus/): the
 * real DbusService on one end of a socketpair (a peer-to-peer sd-bus
 * connection, as tests/unit/test-dbus.c serves it), a client on the other,
 * one event loop, a fresh hub per input. The input is a script:
 *
 *   byte 0        set-up: bit 0 broadcast signals, bit 1 conflated, bit 2
 *                 tight hub limits, bit 3 a tiny bus queue (drops, Gaps)
 *   then ops      one byte each, with what it needs after it:
 *     a method    the byte picks a member of the op table; the next byte
 *                 picks the sender (none, or one of three unique names: a
 *                 peer-to-peer connection has no bus to set it) and the
 *                 shape: the method's own signature, one argument short,
 *                 one too many, or a signature made of fuzzed types; then
 *                 the arguments, built from the input by that signature
 *     Properties  Get (a fuzzed name), GetAll, or Introspect
 *     leave       NameOwnerChanged for one of the senders, as the bus says
 *                 it when a peer leaves (frees its client, mid-call or not)
 *     time        the hub's clock moves on (fuzzed ms); its timers run
 *     run         the loop runs until idle (else only at the end)
 *
 * The bus driver's GetConnectionCredentials goes to the client end, which
 * answers it with UnknownObject, as a driver that does not know the peer
 * would. At the end the loop runs until idle, and every call must have an
 * answer (a reply or an error), except the calls an operation may answer
 * later (OP_DEFERRED: a reserve that waits, a call) and the calls of a peer
 * that left; a call with a wrong signature must get an error. Then
 * everything is freed: LeakSanitizer checks the rest.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "fuzz-util.h"
#include "dbus/dbus-service.h"
#include "ops/ops.h"
#include "util/log.h"
#include "util/sd-glue.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_CALLS 96
#define N_SENDERS 3

static const char *const senders[N_SENDERS + 1] = { NULL, ":1.7", ":1.8", ":1.9" };

/* Strings worth more than random bytes: topics, patterns, keys, names. */
static const char *const words[] = {
        "", "a", "a.b", "a.b.c", "a.*", "a.>", ">", "*", "*.b", "a..b", ".a", "a.", "sensors.kitchen.temp",
        "jobs", "q", "k", "theme", "weather.now", "org.example.Error.Failed", "Failed", "org.switchboard.Hub1",
        "Version", "Clients", "StartTime", "x-y_z", "\xc3\xa9", "a b", "a\tb",
};

typedef struct Input {
        const uint8_t *p, *end;
} Input;

static uint8_t take(Input *in) {
        return in->p < in->end ? *in->p++ : 0;
}

static bool at_end(const Input *in) {
        return in->p >= in->end;
}

/* A number: small ones are the ids and timeouts that exist; 0xf0.. read the full width. */
static uint64_t take_number(Input *in, unsigned bytes) {
        uint8_t b = take(in);
        uint64_t v = 0;

        if (b < 0xf0)
                return b;
        if (b == 0xff)
                return UINT64_MAX >> (64 - 8 * bytes);
        for (unsigned i = 0; i < bytes; i++)
                v = v << 8 | take(in);
        return v;
}

/* A string: a word of the list (top bit set) or up to 127 bytes of the input. */
static char *take_string(Input *in) {
        uint8_t b = take(in);
        size_t len;
        char *s;

        if (b & 0x80)
                return g_strdup(words[(b & 0x7f) % G_N_ELEMENTS(words)]);
        len = MIN((size_t) b, (size_t) (in->end - in->p));
        s = g_strndup((const char *) in->p, len);
        in->p += len;
        return s;
}

/* Bytes: up to 255, or up to 64 KiB when the length's byte is 0xff. */
static const uint8_t *take_bytes(Input *in, size_t *len) {
        const uint8_t *p;
        size_t n = take(in);

        if (n == 0xff)
                n = (size_t) take(in) << 8 | take(in);
        n = MIN(n, (size_t) (in->end - in->p));
        p = in->p;
        in->p += n;
        *len = n;
        return p;
}

/* One argument of D-Bus type @code ('a' followed by 'y' is an ay). */
static int append_arg(sd_bus_message *m, char code, Input *in) {
        g_autofree char *s = NULL;
        const uint8_t *bytes;
        size_t len;
        uint64_t v;

        switch (code) {
        case 's':
        case 'o':
        case 'g':
                s = take_string(in);
                return sd_bus_message_append_basic(m, code, s);
        case 'A':                       /* ay */
                bytes = take_bytes(in, &len);
                return sd_bus_message_append_array(m, 'y', bytes, len);
        case 'b': {
                int b = take(in) & 1;

                return sd_bus_message_append_basic(m, 'b', &b);
        }
        case 'y': {
                uint8_t y = take(in);

                return sd_bus_message_append_basic(m, 'y', &y);
        }
        case 'n':
        case 'q': {
                uint16_t q = (uint16_t) take_number(in, 2);

                return sd_bus_message_append_basic(m, code, &q);
        }
        case 'i':
        case 'u': {
                uint32_t u = (uint32_t) take_number(in, 4);

                return sd_bus_message_append_basic(m, code, &u);
        }
        case 'x':
        case 't':
                v = take_number(in, 8);
                return sd_bus_message_append_basic(m, code, &v);
        case 'd': {
                double d = (double) take_number(in, 8) / 3.0;

                return sd_bus_message_append_basic(m, 'd', &d);
        }
        case 'S':                       /* as */
                s = take_string(in);
                return sd_bus_message_append(m, "as", 2, s, "x");
        case 'v':
                s = take_string(in);
                return sd_bus_message_append(m, "v", "s", s);
        case 'D':                       /* a{sv} */
                s = take_string(in);
                return sd_bus_message_append(m, "a{sv}", 1, s, "u", (uint32_t) take(in));
        case 'r':                       /* (st) */
                s = take_string(in);
                return sd_bus_message_append(m, "(st)", s, (uint64_t) take(in));
        default:
                g_assert_not_reached();
        }
}

/* The codes of @method's in-args, ay as 'A'. */
static size_t method_codes(const OpMethod *method, char *codes) {
        size_t n = 0;

        for (unsigned i = 0; i < method->n_in; i++)
                codes[n++] = method->in[i].dbus == 'y' ? 'A' : method->in[i].dbus;
        return n;
}

typedef struct Call {
        const OpMethod *method;         /* NULL: a Properties or Introspect call */
        unsigned sender;                /* index into senders */
        bool wrong_signature;
        bool answered;
        bool error;
        char *error_name;               /* for FUZZ_DBUS_TRACE */
} Call;

typedef struct Fuzz {
        sd_event *event;
        sd_bus *server, *client;
        Hub *hub;
        DbusService *service;
        uint64_t now;                   /* the hub's clock, µs */
        Call calls[MAX_CALLS];
        unsigned n_calls;
        bool left[N_SENDERS + 1];       /* the sender's peer left the bus */
} Fuzz;

static uint64_t fake_now(void *userdata) {
        return ((Fuzz *) userdata)->now;
}

static int on_answer(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Call *c = userdata;

        fuzz_assert(!c->answered);
        c->answered = true;
        c->error = sd_bus_message_is_method_error(m, NULL);
        if (c->error && getenv("FUZZ_DBUS_TRACE"))
                c->error_name = g_strdup_printf("%s: %s", sd_bus_message_get_error(m)->name,
                                                sd_bus_message_get_error(m)->message);
        return 0;
}

static void run_until_idle(Fuzz *f) {
        for (unsigned i = 0; i < 100000; i++) {
                int r = sd_event_run(f->event, 0);

                fuzz_assert(r >= 0);
                dbus_service_flush(f->service);
                if (r == 0)
                        return;
        }
        fuzz_assert(!"the loop never went idle");
}

static void send_call(Fuzz *f, sd_bus_message *m, Call *c) {
        int r;

        if (senders[c->sender]) {
                r = sd_bus_message_set_sender(m, senders[c->sender]);
                fuzz_assert(r >= 0);
        }
        r = sd_bus_call_async(f->client, NULL, m, on_answer, c, UINT64_MAX - 1);
        if (r < 0)
                return;         /* sd-bus would not send it (too big a message): not the hub's business */
        f->n_calls++;
}

static void do_method(Fuzz *f, const OpMethod *method, Input *in) {
        static const char random_codes[] = "sbyuqtxidogASvDr";
        g_autoptr(sd_bus_message) m = NULL;
        uint8_t how = take(in);
        Call *c = &f->calls[f->n_calls];
        char codes[16], own[16];
        size_t n = method_codes(method, codes);
        int r;

        method_codes(method, own);
        *c = (Call) { .method = method, .sender = how & 3 };
        switch ((how >> 2) & 3) {
        case 1:                         /* one argument short */
                if (n == 0)
                        break;
                n--;
                c->wrong_signature = true;
                break;
        case 2:                         /* one too many */
                codes[n++] = random_codes[take(in) % (sizeof random_codes - 1)];
                c->wrong_signature = true;
                break;
        case 3:                         /* fuzzed types */
                n = take(in) % 5;
                for (size_t i = 0; i < n; i++)
                        codes[i] = random_codes[take(in) % (sizeof random_codes - 1)];
                /* By chance the right one: not wrong. */
                c->wrong_signature = n != method->n_in || memcmp(codes, own, n) != 0;
                break;
        }

        r = sd_bus_message_new_method_call(f->client, &m, NULL, SB_PATH, SB_INTERFACE, method->dbus);
        fuzz_assert(r >= 0);
        for (size_t i = 0; i < n; i++)
                if (append_arg(m, codes[i], in) < 0)
                        return;         /* sd-bus refuses the value (not UTF-8, a bad path): never sent */
        send_call(f, m, c);
}

static void do_properties(Fuzz *f, Input *in) {
        g_autoptr(sd_bus_message) m = NULL;
        g_autofree char *name = NULL;
        Call *c = &f->calls[f->n_calls];
        uint8_t how = take(in);
        int r;

        *c = (Call) { .sender = how & 3 };
        switch ((how >> 2) % 3) {
        case 0:
                name = take_string(in);
                r = sd_bus_message_new_method_call(f->client, &m, NULL, SB_PATH,
                                                   "org.freedesktop.DBus.Properties", "Get");
                if (r >= 0)
                        r = sd_bus_message_append(m, "ss", SB_INTERFACE, name);
                break;
        case 1:
                r = sd_bus_message_new_method_call(f->client, &m, NULL, SB_PATH,
                                                   "org.freedesktop.DBus.Properties", "GetAll");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", SB_INTERFACE);
                break;
        default:
                r = sd_bus_message_new_method_call(f->client, &m, NULL, SB_PATH,
                                                   "org.freedesktop.DBus.Introspectable", "Introspect");
                break;
        }
        if (r < 0)
                return;
        send_call(f, m, c);
}

/* What the bus driver says when a peer leaves: the hub frees its client. */
static void do_leave(Fuzz *f, Input *in) {
        g_autoptr(sd_bus_message) m = NULL;
        unsigned who = 1 + take(in) % N_SENDERS;
        int r;

        r = sd_bus_message_new_signal(f->client, &m, "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                      "NameOwnerChanged");
        fuzz_assert(r >= 0);
        fuzz_assert(sd_bus_message_set_sender(m, "org.freedesktop.DBus") >= 0);
        fuzz_assert(sd_bus_message_append(m, "sss", senders[who], senders[who], "") >= 0);
        fuzz_assert(sd_bus_send(f->client, m, NULL) >= 0);
        f->left[who] = true;
}

static void setup(Fuzz *f, uint8_t flags) {
        DbusConfig config = {
                .broadcast = flags & 1,
                .broadcast_conflate = flags & 2,
                .broadcast_interval_ms = 10,
                .max_queued = flags & 8 ? 2 : 65536,
        };
        HubLimits limits;
        sd_id128_t id = SD_ID128_MAKE(5b, 0a, 1d, 2c, 3e, 4f, 50, 61, 72, 83, 94, a5, b6, c7, d8, e9);
        int fds[2];

        fuzz_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) == 0);
        fuzz_assert(sd_event_new(&f->event) >= 0);

        fuzz_assert(sd_bus_new(&f->server) >= 0);
        fuzz_assert(sd_bus_set_fd(f->server, fds[0], fds[0]) >= 0);
        fuzz_assert(sd_bus_set_server(f->server, 1, id) >= 0);
        /* As the user bus is (sd_bus_open_user()): sd-bus checks no privileges of a sender it cannot ask about. */
        fuzz_assert(sd_bus_set_trusted(f->server, 1) >= 0);
        fuzz_assert(sd_bus_start(f->server) >= 0);
        fuzz_assert(sd_bus_attach_event(f->server, f->event, 0) >= 0);

        fuzz_assert(sd_bus_new(&f->client) >= 0);
        fuzz_assert(sd_bus_set_fd(f->client, fds[1], fds[1]) >= 0);
        fuzz_assert(sd_bus_start(f->client) >= 0);
        fuzz_assert(sd_bus_attach_event(f->client, f->event, 0) >= 0);

        hub_limits_default(&limits);
        if (flags & 4) {
                limits.max_topic_length = 16;
                limits.max_topic_tokens = 3;
                limits.max_payload = 64;
                limits.max_key_length = 8;
                limits.max_value = 64;
                limits.max_subscriptions = 2;
                limits.max_watches = 2;
                limits.max_retained = 2;
                limits.max_keys = 3;
                limits.max_clients = 2;
                limits.max_queues = 2;
                limits.max_jobs = 3;
                limits.max_reservations = 1;
                limits.max_attempts = 2;
                limits.max_served = 1;
                limits.max_calls = 1;
        }
        f->hub = hub_new(&limits, 1);
        f->now = 1000000;
        hub_set_clock(f->hub, fake_now, f);
        fuzz_assert(dbus_service_new(f->server, f->hub, &config, &f->service) >= 0);
}

static void teardown(Fuzz *f) {
        g_clear_pointer(&f->service, dbus_service_free);
        f->client = sd_bus_flush_close_unref(f->client);
        f->server = sd_bus_flush_close_unref(f->server);
        g_clear_pointer(&f->hub, hub_free);
        f->event = sd_event_unref(f->event);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        /* Debug messages are formatted (hostile names go through them) but not written. */
        if (!getenv("FUZZ_DBUS_TRACE"))
                g_log_set_writer_func(fuzz_log_discard, NULL, NULL);
        log_set_max_level(G_LOG_LEVEL_DEBUG);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autofree Fuzz *f = g_new0(Fuzz, 1);
        Input in = { data, data + size };

        if (size == 0)
                return 0;
        setup(f, take(&in));

        while (!at_end(&in) && f->n_calls < MAX_CALLS) {
                unsigned op = take(&in) % (op_n_methods + 4);

                if (op < op_n_methods)
                        do_method(f, &op_methods[op], &in);
                else if (op == op_n_methods)
                        do_properties(f, &in);
                else if (op == op_n_methods + 1)
                        do_leave(f, &in);
                else if (op == op_n_methods + 2) {
                        f->now += take_number(&in, 4) * 1000;
                        hub_run_timers(f->hub);
                } else
                        run_until_idle(f);
        }
        run_until_idle(f);

        for (unsigned i = 0; i < f->n_calls; i++) {
                const Call *c = &f->calls[i];

                if (getenv("FUZZ_DBUS_TRACE"))  /* for writing seeds: what each call got */
                        fprintf(stderr, "call %u: %s from %s%s: %s\n", i, c->method ? c->method->dbus : "(properties)",
                                senders[c->sender] ?: "-", c->wrong_signature ? ", wrong signature" : "",
                                !c->answered ? "no answer" : c->error ? c->error_name : "reply");

                if (c->answered) {
                        if (c->wrong_signature && !c->error) {
                                fprintf(stderr, "call %u (%s) with a wrong signature was answered without "
                                        "an error\n", i, c->method->dbus);
                                abort();
                        }
                        continue;
                }
                if (f->left[c->sender] || (c->method && (c->method->flags & OP_DEFERRED) && !c->wrong_signature))
                        continue;
                fprintf(stderr, "call %u (%s from %s) was never answered\n", i,
                        c->method ? c->method->dbus : "Properties", senders[c->sender] ?: "no sender");
                abort();
        }

        teardown(f);
        for (unsigned i = 0; i < f->n_calls; i++)
                g_free(f->calls[i].error_name);
        return 0;
}
