/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * backend-dbus.c: the CLI's D-Bus backend. A request is one method call to
 * org.switchboard.Hub1 on the session bus (or --address), built from the
 * descriptor's in-args by their D-Bus types and read back by its out-args;
 * the first call activates the hub. Streams (subscribe, watch, serve) take
 * only the unicast signals the hub addresses to this connection, never the
 * broadcast copies: the match rule names the hub's unique name and ours,
 * and every signal is checked again. D-Bus signals carry no sender, so
 * events from here have none.
 */

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>

#include <glib.h>
#include <glib/gi18n.h>
#include <systemd/sd-bus.h>

#include "clients/backend.h"
#include "dbus/dbus-codec.h"
#include "util/sd-glue.h"

typedef struct DbusBackend {
        Backend base;
        sd_bus *bus;
        /* streams */
        sd_event *event;
        EventHandler handler;
        void *userdata;
        const char *unique_name;
        char *hub_owner;
} DbusBackend;

static int bus_connect(const char *address, sd_bus **ret) {
        g_autoptr(sd_bus) bus = NULL;
        int r;

        if (address) {
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(bus, 1);
                if (r >= 0)
                        r = sd_bus_start(bus);
        } else
                r = sd_bus_open_user(&bus);
        if (r == -ENOMEDIUM && !address)
                /* sd-bus's way of saying it has no address to try: "No medium found" says nothing. */
                fprintf(stderr, _("switchboard: cannot find the session bus: neither DBUS_SESSION_BUS_ADDRESS "
                                  "nor XDG_RUNTIME_DIR is set\n"));
        else if (r < 0)
                fprintf(stderr, _("switchboard: cannot connect to the session bus at %s: %s\n"),
                        address ?: getenv("DBUS_SESSION_BUS_ADDRESS") ?: _("the default address"),
                        g_strerror(-r));
        if (r < 0) {
                fprintf(stderr,
                        _("Start a D-Bus session (for example with dbus-run-session), set "
                          "DBUS_SESSION_BUS_ADDRESS, or pass --address=ADDRESS.\n"));
                return SB_EXIT_UNREACHABLE;
        }

        *ret = g_steal_pointer(&bus);
        return 0;
}

static gboolean error_means_unreachable(const char *name) {
        static const char *const names[] = {
                "org.freedesktop.DBus.Error.ServiceUnknown",
                "org.freedesktop.DBus.Error.NameHasNoOwner",
                "org.freedesktop.DBus.Error.NoReply",
                "org.freedesktop.DBus.Error.TimedOut",
                "org.freedesktop.DBus.Error.Timeout",
                "org.freedesktop.DBus.Error.Disconnected",
                "org.freedesktop.DBus.Error.NoServer",
                "org.freedesktop.DBus.Error.NoNetwork",
        };

        if (g_str_has_prefix(name, "org.freedesktop.DBus.Error.Spawn."))
                return TRUE;
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
                if (g_str_equal(name, names[i]))
                        return TRUE;
        return FALSE;
}

/* A failed call: the bus or the hub cannot be reached (69, message printed),
 * or the hub's own answer (CLI_HUB_ERROR, for the caller to report). */
static int bus_error_status(const sd_bus_error *error, int r) {
        if (!error || !sd_bus_error_is_set(error)) {
                fprintf(stderr, _("switchboard: lost the connection to the bus: %s\n"),
                        g_strerror(r < 0 ? -r : r));
                return SB_EXIT_UNREACHABLE;
        }
        if (error_means_unreachable(error->name)) {
                fprintf(stderr, _("switchboard: cannot reach the hub (%s): %s\n"), HUB_NAME,
                        error->message ?: error->name);
                cli_print_unreachable_hint();
                return SB_EXIT_UNREACHABLE;
        }
        return CLI_HUB_ERROR;
}

/* bus_error_status(), reporting the error too: for the bus driver's calls. */
static int report_bus_error(const sd_bus_error *error, int r) {
        r = bus_error_status(error, r);
        if (r != CLI_HUB_ERROR)
                return r;
        return cli_report_error(&(CliError) { (char *) error->name, (char *) error->message }, SUBJECT_KEY,
                                NULL);
}

typedef struct PendingCall {
        bool done;
        sd_bus_message *reply;
} PendingCall;

static int on_call_answer(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        PendingCall *p = userdata;

        p->done = true;
        p->reply = sd_bus_message_ref(m);
        return 0;
}

/* Milliseconds until the bus's next timeout, for poll(); -1: none. */
static int bus_poll_timeout(sd_bus *bus) {
        uint64_t until = UINT64_MAX, now;
        struct timespec ts;

        if (sd_bus_get_timeout(bus, &until) < 0 || until == UINT64_MAX)
                return -1;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
        return until <= now ? 0 : (int) MIN((until - now + 999) / 1000, (uint64_t) INT_MAX);
}

/*
 * sd_bus_call() that gives up as soon as @cancel_fd is readable: a worker
 * waiting for a job stops at once on SIGTERM. The bus must not be attached
 * to an event loop. An error reply is returned in @error with r < 0.
 *
 * Return: 0 and the reply, CLI_INTERRUPTED, or a negative errno.
 */
static int bus_call_wait(sd_bus *bus, sd_bus_message *m, unsigned timeout_ms, int cancel_fd, sd_bus_error *error,
                         sd_bus_message **ret_reply) {
        g_autoptr(sd_bus_slot) slot = NULL;
        PendingCall p = {};
        int r;

        r = sd_bus_call_async(bus, &slot, m, on_call_answer, &p, (uint64_t) timeout_ms * 1000);
        if (r < 0)
                return r;

        while (!p.done) {
                struct pollfd fds[2] = {
                        { .fd = sd_bus_get_fd(bus), .events = (short) sd_bus_get_events(bus) },
                        { .fd = cancel_fd, .events = POLLIN },
                };

                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return r;
                if (r > 0 || p.done)
                        continue;
                r = poll(fds, 2, bus_poll_timeout(bus));
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r > 0 && (fds[1].revents & POLLIN))
                        return CLI_INTERRUPTED;
        }

        if (sd_bus_message_is_method_error(p.reply, NULL)) {
                r = sd_bus_error_copy(error, sd_bus_message_get_error(p.reply));
                sd_bus_message_unref(p.reply);
                return r < 0 ? r : -EIO;
        }
        *ret_reply = p.reply;
        return 0;
}

static void message_unref(void *m) {
        sd_bus_message_unref(m);
}

/* The twin of @m (the same operation) that carries as 'ay' the bytes @m has
 * as 's' among its in-args (@in) or out-args: PublishBinary, GetBinary. */
static const OpMethod *binary_twin(const OpMethod *m, bool in) {
        const OpParam *params = in ? m->in : m->out;
        unsigned n = in ? m->n_in : m->n_out;

        for (unsigned k = 0; k < op_n_methods; k++) {
                const OpMethod *t = &op_methods[k];
                const OpParam *tp = in ? t->in : t->out;

                if (t == m || g_strcmp0(t->op, m->op) != 0)
                        continue;
                for (unsigned i = 0; i < n && i < (in ? t->n_in : t->n_out); i++)
                        if (params[i].type == OP_TYPE_BYTES && params[i].dbus == 's' && tp[i].dbus == 'y')
                                return t;
        }
        return NULL;
}

static int d_request(Backend *b, const OpMethod *m, const OpArgs *in, unsigned timeout_ms, int cancel_fd,
                     CliResult *ret) {
        DbusBackend *d = (DbusBackend *) b;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus_message) call = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        const OpParam *not_text;
        const OpMethod *twin;
        int r;

        r = sd_bus_message_new_method_call(d->bus, &call, HUB_NAME, HUB_PATH, HUB_INTERFACE, m->dbus);
        if (r >= 0)
                r = dbus_codec_append(call, m->in, m->n_in, in, payload_is_text, &not_text);
        /* Bytes that are not text go by the twin that takes 'ay', if there is one. */
        twin = r == -EMEDIUMTYPE ? binary_twin(m, true) : NULL;
        if (twin)
                return d_request(b, twin, in, timeout_ms, cancel_fd, ret);
        if (r == -EMEDIUMTYPE)
                return CLI_NOT_TEXT;
        if (r < 0) {
                fprintf(stderr, _("switchboard: cannot build the %s call: %s\n"), m->dbus, g_strerror(-r));
                return SB_EXIT_HUB_ERROR;
        }

        if (cancel_fd >= 0)
                r = bus_call_wait(d->bus, call, timeout_ms ?: CALL_TIMEOUT_MS, cancel_fd, &error, &reply);
        else
                r = sd_bus_call(d->bus, call, (uint64_t) timeout_ms * 1000, &error, &reply);
        if (r == CLI_INTERRUPTED)
                return r;
        if (r < 0) {
                r = bus_error_status(&error, r);
                if (r != CLI_HUB_ERROR)
                        return r;
                /* Bytes that are not text come from the twin that answers with 'ay'. */
                twin = binary_twin(m, false);
                if (twin && g_str_equal(error.name, HUB_ERROR_PREFIX "NotText"))
                        return d_request(b, twin, in, timeout_ms, cancel_fd, ret);
                cli_result_set_error(ret, error.name, error.message, 0);
                return CLI_HUB_ERROR;
        }

        r = dbus_codec_read(reply, m->out, m->n_out, &ret->out);
        if (r < 0)
                return cli_bad_reply(m->dbus, r);
        cli_result_hold(ret, g_steal_pointer(&reply), message_unref);
        return 0;
}

/* ---- streams ---------------------------------------------------------- */

/* The unicast signals of a stream: their arguments as params of an Event,
 * for the codec (the mirror of the hub's table in dbus-service.c). */
#define EV_ARG(field, type, dbus) { #field, OP_TYPE_##type, dbus, offsetof(Event, field) }
#define EV_NOTICE(d) { EV_ARG(name, STRING, 's'), EV_ARG(data, BYTES, d), EV_ARG(number, U64, 't'), \
                      EV_ARG(deleted, BOOL, 'b') }
#define EV_REQUEST(d) { EV_ARG(id, U64, 't'), EV_ARG(name, STRING, 's'), EV_ARG(data, BYTES, d) }
static const OpParam notice_args[2][4] = { EV_NOTICE('s'), EV_NOTICE('y') };
static const OpParam request_args[2][3] = { EV_REQUEST('s'), EV_REQUEST('y') };
static const OpParam gap_args[3] = { EV_ARG(id, U64, 't'), EV_ARG(first, U64, 't'), EV_ARG(last, U64, 't') };
G_STATIC_ASSERT(offsetof(Event, size) == offsetof(Event, data) + offsetof(OpBytes, len));

static const struct {
        const char *member;
        EventKind kind;
        const OpParam *args;
        unsigned n_args;
} stream_signals[] = {
        { "Message", EVENT_MESSAGE, notice_args[0], 3 },
        { "MessageBinary", EVENT_MESSAGE, notice_args[1], 3 },
        { "KeyChanged", EVENT_KEY_CHANGED, notice_args[0], 4 },
        { "KeyChangedBinary", EVENT_KEY_CHANGED, notice_args[1], 4 },
        { "Request", EVENT_REQUEST, request_args[0], 3 },
        { "RequestBinary", EVENT_REQUEST, request_args[1], 3 },
        { "Gap", EVENT_GAP, gap_args, 3 },
};

/* Only unicast signals from the hub's unique name to ours get here: the
 * match rule says so, and we check again, because a broadcast copy of the
 * same signal must never be printed twice. */
static int on_hub_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        DbusBackend *d = userdata;
        const char *member = sd_bus_message_get_member(m);
        const char *destination = sd_bus_message_get_destination(m);
        const char *sender = sd_bus_message_get_sender(m);
        int r;

        if (!member || !destination || !g_str_equal(destination, d->unique_name) || !sender ||
            !g_str_equal(sender, d->hub_owner))
                return 0;

        for (size_t i = 0; i < G_N_ELEMENTS(stream_signals); i++) {
                Event e = { .kind = stream_signals[i].kind, .binary = g_str_has_suffix(member, "Binary") };

                if (!g_str_equal(member, stream_signals[i].member))
                        continue;
                r = dbus_codec_read(m, stream_signals[i].args, stream_signals[i].n_args, &e);
                e.data = e.data ?: "";          /* an empty 'ay' */
                if (r < 0) {
                        fprintf(stderr, _("switchboard: cannot read a signal from the hub: %s\n"),
                                g_strerror(-r));
                        (void) sd_event_exit(d->event, SB_EXIT_HUB_ERROR);
                        return 0;
                }
                d->handler(&e, d->userdata);
                return 0;
        }
        return 0;
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        DbusBackend *d = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
                return 0;
        if (!g_str_equal(name, HUB_NAME) || !d->hub_owner || g_str_equal(new_owner, d->hub_owner))
                return 0;

        fprintf(stderr, _("switchboard: the hub stopped or disconnected; nothing more will arrive\n"));
        (void) sd_event_exit(d->event, SB_EXIT_UNREACHABLE);
        return 0;
}

static int on_bus_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        DbusBackend *d = userdata;

        if (sd_bus_message_is_signal(m, "org.freedesktop.DBus.Local", "Disconnected")) {
                fprintf(stderr, _("switchboard: lost the connection to the bus\n"));
                (void) sd_event_exit(d->event, SB_EXIT_UNREACHABLE);
        }
        return 0;
}

/* Start the hub if needed and return its unique name. */
static int resolve_hub(sd_bus *bus, char **ret_owner) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(sd_bus_message) owner_reply = NULL;
        const char *owner;
        int r;

        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "StartServiceByName", &error, &reply,
                               "su", HUB_NAME, UINT32_C(0));
        if (r < 0)
                return report_bus_error(&error, r);
        if (!ret_owner)
                return 0;

        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "GetNameOwner", &error, &owner_reply,
                               "s", HUB_NAME);
        if (r < 0)
                return report_bus_error(&error, r);
        r = sd_bus_message_read(owner_reply, "s", &owner);
        if (r < 0)
                return cli_bad_reply("GetNameOwner", r);

        *ret_owner = g_strdup(owner);
        return 0;
}

static int d_stream_prepare(Backend *b, sd_event *event, EventHandler handler, void *userdata) {
        DbusBackend *d = (DbusBackend *) b;
        g_autofree char *signal_rule = NULL;
        g_autofree char *owner_rule = NULL;
        int r;

        d->event = sd_event_ref(event);
        d->handler = handler;
        d->userdata = userdata;

        r = sd_bus_attach_event(d->bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                goto fail;
        r = sd_bus_get_unique_name(d->bus, &d->unique_name);
        if (r < 0)
                return report_bus_error(NULL, r);

        r = sd_bus_add_filter(d->bus, NULL, on_bus_message, d);
        if (r < 0)
                goto fail;

        owner_rule = g_strdup_printf("type='signal',sender='org.freedesktop.DBus',"
                                     "path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',"
                                     "member='NameOwnerChanged',arg0='%s'", HUB_NAME);
        r = sd_bus_add_match(d->bus, NULL, owner_rule, on_name_owner_changed, d);
        if (r < 0)
                goto fail;

        r = resolve_hub(d->bus, &d->hub_owner);
        if (r != 0)
                return r;

        signal_rule = g_strdup_printf("type='signal',sender='%s',path='%s',interface='%s',destination='%s'",
                                      d->hub_owner, HUB_PATH, HUB_INTERFACE, d->unique_name);
        r = sd_bus_add_match(d->bus, NULL, signal_rule, on_hub_signal, d);
        if (r < 0)
                goto fail;
        return 0;

fail:
        fprintf(stderr, _("switchboard: cannot set up the event loop: %s\n"), g_strerror(-r));
        return SB_EXIT_UNREACHABLE;
}

static void d_free(Backend *b) {
        DbusBackend *d = (DbusBackend *) b;

        if (d->bus)
                d->bus = sd_bus_flush_close_unref(d->bus);
        if (d->event)
                d->event = sd_event_unref(d->event);
        g_free(d->hub_owner);
        g_free(d);
}

static const BackendOps dbus_ops = {
        .request = d_request,
        .stream_prepare = d_stream_prepare,
        .free = d_free,
};

/**
 * dbus_backend_open() - connect to the bus at @address (NULL: the session bus)
 *
 * Return: 0 and the backend in @ret, or 69 (message printed).
 */
int dbus_backend_open(const char *address, Backend **ret) {
        DbusBackend *d;
        sd_bus *bus = NULL;
        int r;

        r = bus_connect(address, &bus);
        if (r != 0)
                return r;
        d = g_new0(DbusBackend, 1);
        d->base.ops = &dbus_ops;
        d->bus = bus;
        *ret = &d->base;
        return 0;
}

/**
 * dbus_start_hub() - make sure the hub runs: StartServiceByName on the bus at @address
 *
 * Once this returns 0, the hub owns its name, so its socket is listening
 * (the hub creates the socket before it requests the name).
 *
 * Return: 0, or 69 (message printed).
 */
int dbus_start_hub(const char *address) {
        g_autoptr(sd_bus) bus = NULL;
        int r;

        r = bus_connect(address, &bus);
        if (r != 0)
                return r;
        return resolve_hub(bus, NULL);
}
