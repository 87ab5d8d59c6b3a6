/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * backend-dbus.c: the CLI's D-Bus backend. Each operation is one or two
 * calls to org.switchboard.Hub1 on the session bus (or --address); the
 * first call activates the hub. Streams (subscribe, watch) take only the
 * unicast signals the hub addresses to this connection, never the
 * broadcast copies: the match rule names the hub's unique name and ours,
 * and every signal is checked again. D-Bus signals carry no sender, so
 * events from here have none.
 */

#include <errno.h>
#include <poll.h>
#include <string.h>

#include <glib.h>
#include <glib/gi18n.h>
#include <systemd/sd-bus.h>

#include "clients/cli.h"
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
        if (r < 0) {
                fprintf(stderr, _("switchboard: cannot connect to the session bus at %s: %s\n"),
                        address ?: getenv("DBUS_SESSION_BUS_ADDRESS") ?: _("the default address"),
                        g_strerror(-r));
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

/* Turn a failed call into a message on stderr and an exit status.
 * @subject is the topic, pattern, key, queue, ... the call was about (may be NULL). */
static int report_call_error_on(const sd_bus_error *error, int r, SubjectKind kind, const char *subject) {
        const char *message;

        if (!error || !sd_bus_error_is_set(error)) {
                fprintf(stderr, _("switchboard: lost the connection to the bus: %s\n"),
                        g_strerror(r < 0 ? -r : r));
                return SB_EXIT_UNREACHABLE;
        }

        message = error->message ?: error->name;
        if (error_means_unreachable(error->name)) {
                fprintf(stderr, _("switchboard: cannot reach the hub (%s): %s\n"), HUB_NAME, message);
                cli_print_unreachable_hint();
                return SB_EXIT_UNREACHABLE;
        }
        return cli_report_hub_error_on(error->name, message, kind, subject);
}

static int report_call_error(const sd_bus_error *error, int r, const char *subject) {
        return report_call_error_on(error, r, SUBJECT_KEY, subject);
}

static int hub_message_new(sd_bus *bus, const char *member, sd_bus_message **ret) {
        int r;

        r = sd_bus_message_new_method_call(bus, ret, HUB_NAME, HUB_PATH, HUB_INTERFACE, member);
        if (r < 0) {
                fprintf(stderr, _("switchboard: cannot build the %s call: %s\n"), member, g_strerror(-r));
                return SB_EXIT_HUB_ERROR;
        }
        return 0;
}

static int hub_call_on(sd_bus *bus, sd_bus_message *m, SubjectKind kind, const char *subject,
                       sd_bus_message **ret_reply) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call(bus, m, 0, &error, ret_reply);
        if (r < 0)
                return report_call_error_on(&error, r, kind, subject);
        return 0;
}

static int hub_call(sd_bus *bus, sd_bus_message *m, const char *subject, sd_bus_message **ret_reply) {
        return hub_call_on(bus, m, SUBJECT_KEY, subject, ret_reply);
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

/*
 * sd_bus_call() that waits at most @timeout_ms and gives up as soon as
 * @cancel_fd (-1: none) is readable. The bus must not be attached to an
 * event loop. An error reply is returned in @error with r < 0.
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
                uint64_t until = UINT64_MAX;
                int timeout = -1;

                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return r;
                if (r > 0 || p.done)
                        continue;

                if (sd_bus_get_timeout(bus, &until) >= 0 && until != UINT64_MAX) {
                        struct timespec ts;
                        uint64_t now;

                        clock_gettime(CLOCK_MONOTONIC, &ts);
                        now = (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
                        timeout = until <= now ? 0 : (int) MIN((until - now + 999) / 1000, (uint64_t) INT_MAX);
                }
                r = poll(fds, cancel_fd >= 0 ? 2 : 1, timeout);
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r > 0 && cancel_fd >= 0 && (fds[1].revents & POLLIN))
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

/* Call @member with arguments appended per @types (no arrays), return an exit status. */
static int hub_callv(sd_bus *bus, const char *member, const char *subject,
                     sd_bus_message **ret_reply, const char *types, ...) {
        g_autoptr(sd_bus_message) m = NULL;
        va_list ap;
        int r;

        r = hub_message_new(bus, member, &m);
        if (r != 0)
                return r;
        if (types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0) {
                        fprintf(stderr, _("switchboard: cannot build the %s call: %s\n"), member,
                                g_strerror(-r));
                        return SB_EXIT_HUB_ERROR;
                }
        }
        return hub_call(bus, m, subject, ret_reply);
}

static int bad_reply(const char *member, int r) {
        fprintf(stderr, _("switchboard: unexpected reply to %s: %s\n"), member, g_strerror(-r));
        return SB_EXIT_HUB_ERROR;
}

static gboolean error_is(const sd_bus_error *error, const char *suffix) {
        return sd_bus_error_is_set(error) && g_str_has_prefix(error->name, HUB_ERROR_PREFIX) &&
                g_str_equal(error->name + strlen(HUB_ERROR_PREFIX), suffix);
}

/* ---- operations ------------------------------------------------------- */

static int d_publish(Backend *b, const char *topic, const char *payload, bool retain) {
        DbusBackend *d = (DbusBackend *) b;
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        int r;

        if (g_utf8_validate(payload, -1, NULL))
                return hub_callv(d->bus, retain ? "PublishRetained" : "Publish", topic, &reply,
                                 "ss", topic, payload);

        /* Not text in this locale's bytes: send them as they are. */
        r = hub_message_new(d->bus, "PublishBinary", &m);
        if (r != 0)
                return r;
        r = sd_bus_message_append(m, "s", topic);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', payload, strlen(payload));
        if (r >= 0)
                r = sd_bus_message_append(m, "b", (int) retain);
        if (r < 0)
                return bad_reply("PublishBinary", r);
        return hub_call(d->bus, m, topic, &reply);
}

static int d_clear_retained(Backend *b, const char *pattern, uint64_t *ret_count) {
        DbusBackend *d = (DbusBackend *) b;
        g_autoptr(sd_bus_message) reply = NULL;
        uint32_t count;
        int r;

        r = hub_callv(d->bus, "ClearRetained", pattern, &reply, "s", pattern);
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "u", &count);
        if (r < 0)
                return bad_reply("ClearRetained", r);
        *ret_count = count;
        return 0;
}

static int d_get(Backend *b, const char *key, GBytes **ret_value, bool *ret_text, uint64_t *ret_revision) {
        DbusBackend *d = (DbusBackend *) b;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        const char *value;
        const void *data;
        size_t size;
        uint64_t revision;
        int r;

        r = hub_message_new(d->bus, "Get", &m);
        if (r != 0)
                return r;
        r = sd_bus_message_append(m, "s", key);
        if (r < 0)
                return bad_reply("Get", r);

        r = sd_bus_call(d->bus, m, 0, &error, &reply);
        if (r >= 0) {
                r = sd_bus_message_read(reply, "st", &value, &revision);
                if (r < 0)
                        return bad_reply("Get", r);
                *ret_value = g_bytes_new(value, strlen(value) + 1);     /* with its NUL */
                *ret_text = true;
                *ret_revision = revision;
                return 0;
        }
        if (!error_is(&error, "NotText"))
                return report_call_error(&error, r, key);

        /* Not text: GetBinary. */
        g_clear_pointer(&reply, sd_bus_message_unref);
        r = hub_callv(d->bus, "GetBinary", key, &reply, "s", key);
        if (r != 0)
                return r;
        r = sd_bus_message_read_array(reply, 'y', &data, &size);
        if (r >= 0)
                r = sd_bus_message_read(reply, "t", &revision);
        if (r < 0)
                return bad_reply("GetBinary", r);
        *ret_value = g_bytes_new(data, size);
        *ret_text = false;
        *ret_revision = revision;
        return 0;
}

static int d_set(Backend *b, const char *key, const char *value, bool if_revision, uint64_t expected) {
        DbusBackend *d = (DbusBackend *) b;
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        int r;

        if (if_revision)
                return hub_callv(d->bus, "SetIf", key, &reply, "sst", key, value, expected);
        if (g_utf8_validate(value, -1, NULL))
                return hub_callv(d->bus, "Set", key, &reply, "ss", key, value);

        r = hub_message_new(d->bus, "SetBinary", &m);
        if (r != 0)
                return r;
        r = sd_bus_message_append(m, "s", key);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', value, strlen(value));
        if (r < 0)
                return bad_reply("SetBinary", r);
        return hub_call(d->bus, m, key, &reply);
}

static int d_delete(Backend *b, const char *key, bool *ret_existed) {
        DbusBackend *d = (DbusBackend *) b;
        g_autoptr(sd_bus_message) reply = NULL;
        int existed, r;

        r = hub_callv(d->bus, "Delete", key, &reply, "s", key);
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "b", &existed);
        if (r < 0)
                return bad_reply("Delete", r);
        *ret_existed = existed;
        return 0;
}

static int d_list(Backend *b, const char *prefix, GPtrArray **ret_entries) {
        DbusBackend *d = (DbusBackend *) b;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func((GDestroyNotify) list_entry_free);
        const char *key, *value;
        uint64_t revision;
        int r;

        r = hub_callv(d->bus, "List", prefix, &reply, "s", prefix);
        if (r != 0)
                return r;

        r = sd_bus_message_enter_container(reply, 'a', "(sst)");
        if (r < 0)
                return bad_reply("List", r);
        while ((r = sd_bus_message_read(reply, "(sst)", &key, &value, &revision)) > 0) {
                ListEntry *e = g_new0(ListEntry, 1);

                e->key = g_strdup(key);
                e->value = g_strdup(value);
                e->revision = revision;
                g_ptr_array_add(entries, e);
        }
        if (r < 0)
                return bad_reply("List", r);
        *ret_entries = g_steal_pointer(&entries);
        return 0;
}

static int read_named_counts(sd_bus_message *m, char value_type, GArray *into) {
        char signature[] = { '{', 's', value_type, '}', 0 };
        char entry[] = { 's', value_type, 0 };
        int r;

        r = sd_bus_message_enter_container(m, 'a', signature);
        if (r < 0)
                return r;
        for (;;) {
                const char *name;
                uint32_t u32 = 0;
                uint64_t u64 = 0;

                r = sd_bus_message_enter_container(m, 'e', entry);
                if (r <= 0)
                        break;
                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return r;
                r = sd_bus_message_read_basic(m, value_type, value_type == 'u' ? (void *) &u32 : (void *) &u64);
                if (r < 0)
                        return r;
                named_counts_add(into, name, value_type == 'u' ? u32 : u64);
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        named_counts_sort(into);
        return sd_bus_message_exit_container(m);
}

/* Read one a{sv} entry's variant into @info; unknown keys and unexpected
 * types are skipped, so a newer hub does not break an older CLI. */
static int read_info_value(sd_bus_message *m, const char *key, Info *info) {
        static const struct {
                const char *key;
                const char *type;
                size_t offset;
        } fields[] = {
                { "start_time",         "t", offsetof(Info, start_time) },
                { "clients",            "u", offsetof(Info, clients) },
                { "subscriptions",      "u", offsetof(Info, subscriptions) },
                { "topics",             "u", offsetof(Info, topics) },
                { "keys",               "u", offsetof(Info, keys) },
                { "messages_published", "t", offsetof(Info, published) },
                { "messages_delivered", "t", offsetof(Info, delivered) },
                { "messages_dropped",   "t", offsetof(Info, dropped) },
                { "store_changes",      "t", offsetof(Info, store_changes) },
                { "pending_calls",      "u", offsetof(Info, pending_calls) },
        };
        const char *contents;
        int r;

        r = sd_bus_message_peek_type(m, NULL, &contents);
        if (r < 0)
                return r;

        if (g_str_equal(key, "version") && g_str_equal(contents, "s")) {
                const char *v;

                r = sd_bus_message_read(m, "v", "s", &v);
                if (r >= 0)
                        info->version = g_strdup(v);
                return r;
        }
        if (g_str_equal(key, "clients_by_transport") && g_str_equal(contents, "a{su}")) {
                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r >= 0)
                        r = read_named_counts(m, 'u', info->by_transport);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                return r;
        }
        if (g_str_equal(key, "queues") && g_str_equal(contents, "u")) {
                info->has_queues = true;
                return sd_bus_message_read(m, "v", "u", &info->queues);
        }
        if (g_str_equal(key, "services") && g_str_equal(contents, "a{su}")) {
                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r >= 0)
                        r = read_named_counts(m, 'u', info->services);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                return r;
        }
        if (g_str_equal(key, "limits") && g_str_equal(contents, "a{st}")) {
                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r >= 0)
                        r = read_named_counts(m, 't', info->limits);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                return r;
        }
        for (size_t i = 0; i < G_N_ELEMENTS(fields); i++)
                if (g_str_equal(key, fields[i].key) && g_str_equal(contents, fields[i].type))
                        return sd_bus_message_read(m, "v", fields[i].type,
                                                   (char *) info + fields[i].offset);

        return sd_bus_message_skip(m, "v");
}

static int read_info(sd_bus_message *m, Info *info) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                r = read_info_value(m, key, info);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int d_info(Backend *b, Info *info) {
        DbusBackend *d = (DbusBackend *) b;
        g_autoptr(sd_bus_message) reply = NULL;
        int r;

        r = hub_callv(d->bus, "GetInfo", NULL, &reply, NULL);
        if (r != 0)
                return r;
        r = read_info(reply, info);
        if (r < 0)
                return bad_reply("GetInfo", r);
        return 0;
}

/* ---- streams ---------------------------------------------------------- */

static void stream_fail(DbusBackend *d, int r) {
        fprintf(stderr, _("switchboard: cannot read a signal from the hub: %s\n"), g_strerror(-r));
        (void) sd_event_exit(d->event, SB_EXIT_HUB_ERROR);
}

/* Only unicast signals from the hub's unique name to ours get here: the
 * match rule says so, and we check again, because a broadcast copy of the
 * same signal must never be printed twice. */
static gboolean signal_is_ours(DbusBackend *d, sd_bus_message *m) {
        const char *destination = sd_bus_message_get_destination(m);
        const char *sender = sd_bus_message_get_sender(m);

        return destination && g_str_equal(destination, d->unique_name) &&
                sender && g_str_equal(sender, d->hub_owner);
}

static int on_hub_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        DbusBackend *d = userdata;
        const char *member = sd_bus_message_get_member(m);
        Event e = {};
        int deleted = 0;
        int r;

        if (!member || !signal_is_ours(d, m))
                return 0;

        if (g_str_equal(member, "Message") || g_str_equal(member, "MessageBinary") ||
            g_str_equal(member, "KeyChanged") || g_str_equal(member, "KeyChangedBinary")) {
                bool key = g_str_has_prefix(member, "Key");

                e.kind = key ? EVENT_KEY_CHANGED : EVENT_MESSAGE;
                e.binary = g_str_has_suffix(member, "Binary");
                r = sd_bus_message_read(m, "s", &e.name);
                if (r >= 0 && e.binary)
                        r = sd_bus_message_read_array(m, 'y', &e.data, &e.size);
                else if (r >= 0) {
                        const char *text;

                        r = sd_bus_message_read(m, "s", &text);
                        if (r >= 0) {
                                e.data = text;
                                e.size = strlen(text);
                        }
                }
                if (r >= 0)
                        r = sd_bus_message_read(m, "t", &e.number);
                if (r >= 0 && key)
                        r = sd_bus_message_read(m, "b", &deleted);
                if (r < 0) {
                        stream_fail(d, r);
                        return 0;
                }
                e.deleted = deleted;
        } else if (g_str_equal(member, "Request") || g_str_equal(member, "RequestBinary")) {
                e.kind = EVENT_REQUEST;
                e.binary = g_str_has_suffix(member, "Binary");
                r = sd_bus_message_read(m, "ts", &e.id, &e.name);
                if (r >= 0 && e.binary)
                        r = sd_bus_message_read_array(m, 'y', &e.data, &e.size);
                else if (r >= 0) {
                        const char *text;

                        r = sd_bus_message_read(m, "s", &text);
                        if (r >= 0) {
                                e.data = text;
                                e.size = strlen(text);
                        }
                }
                if (r < 0) {
                        stream_fail(d, r);
                        return 0;
                }
                if (!e.data)
                        e.data = "";
        } else if (g_str_equal(member, "Gap")) {
                e.kind = EVENT_GAP;
                r = sd_bus_message_read(m, "ttt", &e.id, &e.first, &e.last);
                if (r < 0) {
                        stream_fail(d, r);
                        return 0;
                }
        } else
                return 0;

        d->handler(&e, d->userdata);
        return 0;
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        DbusBackend *d = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
                return 0;
        if (!g_str_equal(name, HUB_NAME) || !d->hub_owner || g_str_equal(new_owner, d->hub_owner))
                return 0;

        fprintf(stderr, _("switchboard: the hub stopped; the subscription has ended\n"));
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
                return report_call_error(&error, r, NULL);
        if (!ret_owner)
                return 0;

        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "GetNameOwner", &error, &owner_reply,
                               "s", HUB_NAME);
        if (r < 0)
                return report_call_error(&error, r, NULL);
        r = sd_bus_message_read(owner_reply, "s", &owner);
        if (r < 0)
                return bad_reply("GetNameOwner", r);

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
                return report_call_error(NULL, r, NULL);

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

static int d_subscribe(Backend *b, const char *pattern, bool with_retained, uint64_t *ret_id) {
        DbusBackend *d = (DbusBackend *) b;
        g_autoptr(sd_bus_message) reply = NULL;
        int r;

        r = hub_callv(d->bus, "Subscribe", pattern, &reply, "sb", pattern, (int) with_retained);
        if (r != 0)
                return r;
        if (sd_bus_message_read(reply, "t", ret_id) < 0)
                return bad_reply("Subscribe", -EBADMSG);
        return 0;
}

static int d_watch(Backend *b, const char *prefix, uint64_t *ret_id) {
        DbusBackend *d = (DbusBackend *) b;
        g_autoptr(sd_bus_message) reply = NULL;
        int r;

        r = hub_callv(d->bus, "Watch", prefix, &reply, "s", prefix);
        if (r != 0)
                return r;
        if (sd_bus_message_read(reply, "t", ret_id) < 0)
                return bad_reply("Watch", -EBADMSG);
        return 0;
}

/* ---- queues ----------------------------------------------------------- */

static int d_push(Backend *b, const char *queue, const char *payload, uint64_t delay_ms, uint64_t *ret_id) {
        DbusBackend *d = (DbusBackend *) b;
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        bool text = g_utf8_validate(payload, -1, NULL);
        int r;

        r = hub_message_new(d->bus, text ? "Push" : "PushBinary", &m);
        if (r != 0)
                return r;
        r = sd_bus_message_append(m, "s", queue);
        if (r >= 0)
                r = text ? sd_bus_message_append(m, "s", payload) :
                           sd_bus_message_append_array(m, 'y', payload, strlen(payload));
        if (r >= 0)
                r = sd_bus_message_append(m, "t", delay_ms);
        if (r < 0)
                return bad_reply("Push", r);
        r = hub_call_on(d->bus, m, SUBJECT_QUEUE, queue, &reply);
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "t", ret_id);
        if (r < 0)
                return bad_reply("Push", r);
        return 0;
}

/* (t id, ay payload, u attempts), as Reserve and Peek answer. */
static int read_job(sd_bus_message *reply, const char *member, Job *ret) {
        const void *data;
        size_t size;
        uint32_t attempts;
        int r;

        r = sd_bus_message_read(reply, "t", &ret->id);
        if (r >= 0)
                r = sd_bus_message_read_array(reply, 'y', &data, &size);
        if (r >= 0)
                r = sd_bus_message_read(reply, "u", &attempts);
        if (r < 0)
                return bad_reply(member, r);

        /* As over the socket: text (valid UTF-8 without NUL) with its NUL, else bytes. */
        ret->text = g_utf8_validate(data, (gssize) size, NULL);
        if (ret->text) {
                char *copy = g_malloc(size + 1);

                memcpy(copy, data, size);
                copy[size] = 0;
                ret->payload = g_bytes_new_take(copy, size + 1);
        } else
                ret->payload = g_bytes_new(data, size);
        ret->attempts = attempts;
        return 0;
}

static int d_reserve(Backend *b, const char *queue, uint32_t timeout_ms, uint32_t visibility_ms, int cancel_fd,
                     Job *ret_job) {
        DbusBackend *d = (DbusBackend *) b;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        int r;

        r = hub_message_new(d->bus, "Reserve", &m);
        if (r != 0)
                return r;
        r = sd_bus_message_append(m, "suu", queue, MIN(timeout_ms, RESERVE_MAX_WAIT_MS), visibility_ms);
        if (r < 0)
                return bad_reply("Reserve", r);
        r = bus_call_wait(d->bus, m, MIN(timeout_ms, RESERVE_MAX_WAIT_MS) + ANSWER_SLACK_MS, cancel_fd, &error,
                          &reply);
        if (r == CLI_INTERRUPTED)
                return r;
        if (r < 0) {
                if (error_is(&error, "NoJob"))
                        return CLI_NO_JOB;
                return report_call_error_on(&error, r, SUBJECT_QUEUE, queue);
        }
        return read_job(reply, "Reserve", ret_job);
}

static int d_job_op(Backend *b, const char *member, uint64_t id, bool with_delay, uint64_t delay_ms) {
        DbusBackend *d = (DbusBackend *) b;
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        char what[32];
        int r;

        r = hub_message_new(d->bus, member, &m);
        if (r != 0)
                return r;
        r = with_delay ? sd_bus_message_append(m, "tt", id, delay_ms) : sd_bus_message_append(m, "t", id);
        if (r < 0)
                return bad_reply(member, r);
        g_snprintf(what, sizeof what, "%" G_GUINT64_FORMAT, id);
        return hub_call_on(d->bus, m, SUBJECT_JOB, what, &reply);
}

static int d_ack(Backend *b, uint64_t id) {
        return d_job_op(b, "Ack", id, false, 0);
}

static int d_nack(Backend *b, uint64_t id, uint64_t delay_ms) {
        return d_job_op(b, "Nack", id, true, delay_ms);
}

static int d_touch(Backend *b, uint64_t id) {
        return d_job_op(b, "Touch", id, false, 0);
}

static int d_queue_count(Backend *b, const char *member, const char *queue, bool with_max, uint32_t max,
                         uint64_t *ret_count) {
        DbusBackend *d = (DbusBackend *) b;
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        uint32_t count;
        int r;

        r = hub_message_new(d->bus, member, &m);
        if (r != 0)
                return r;
        r = with_max ? sd_bus_message_append(m, "su", queue, max) : sd_bus_message_append(m, "s", queue);
        if (r < 0)
                return bad_reply(member, r);
        r = hub_call_on(d->bus, m, SUBJECT_QUEUE, queue, &reply);
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "u", &count);
        if (r < 0)
                return bad_reply(member, r);
        *ret_count = count;
        return 0;
}

static int d_kick(Backend *b, const char *queue, uint32_t max, uint64_t *ret_count) {
        return d_queue_count(b, "Kick", queue, true, max, ret_count);
}

static int d_purge(Backend *b, const char *queue, uint64_t *ret_count) {
        return d_queue_count(b, "Purge", queue, false, 0, ret_count);
}

static int d_peek(Backend *b, const char *queue, Job *ret_job) {
        DbusBackend *d = (DbusBackend *) b;
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        int r;

        r = hub_message_new(d->bus, "Peek", &m);
        if (r != 0)
                return r;
        r = sd_bus_message_append(m, "s", queue);
        if (r < 0)
                return bad_reply("Peek", r);
        r = hub_call_on(d->bus, m, SUBJECT_QUEUE, queue, &reply);
        if (r != 0)
                return r;
        return read_job(reply, "Peek", ret_job);
}

static int d_list_queues(Backend *b, GArray **ret_rows) {
        DbusBackend *d = (DbusBackend *) b;
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GArray) rows = queue_rows_new();
        const char *name;
        QueueRow row;
        int r;

        r = hub_message_new(d->bus, "ListQueues", &m);
        if (r != 0)
                return r;
        r = hub_call_on(d->bus, m, SUBJECT_QUEUE, NULL, &reply);
        if (r != 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(suuuuu)");
        if (r < 0)
                return bad_reply("ListQueues", r);
        while ((r = sd_bus_message_read(reply, "(suuuuu)", &name, &row.ready, &row.reserved, &row.delayed,
                                        &row.dead, &row.waiting)) > 0) {
                row.name = g_strdup(name);
                g_array_append_val(rows, row);
        }
        if (r < 0)
                return bad_reply("ListQueues", r);
        *ret_rows = g_steal_pointer(&rows);
        return 0;
}

/* ---- request/reply ---------------------------------------------------- */

static int d_call(Backend *b, const char *name, const char *payload, uint32_t timeout_ms, GBytes **ret_reply,
                  bool *ret_text) {
        DbusBackend *d = (DbusBackend *) b;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        const char *text;
        int r;

        if (!g_utf8_validate(payload, -1, NULL)) {
                fprintf(stderr, _("switchboard: a call's payload must be UTF-8 text over D-Bus; "
                                  "use the socket for bytes\n"));
                return SB_EXIT_USAGE;
        }
        r = hub_message_new(d->bus, "Call", &m);
        if (r != 0)
                return r;
        r = sd_bus_message_append(m, "ssu", name, payload, timeout_ms);
        if (r < 0)
                return bad_reply("Call", r);
        /* The hub answers (or times the call out) first: wait a little longer than it does. */
        r = sd_bus_call(d->bus, m, (uint64_t) ((timeout_ms ?: CALL_MAX_TIMEOUT_MS) + ANSWER_SLACK_MS) * 1000,
                        &error, &reply);
        if (r < 0) {
                if (sd_bus_error_is_set(&error) && !error_means_unreachable(error.name))
                        return cli_report_call_error(error.name, error.message, name);
                return report_call_error_on(&error, r, SUBJECT_SERVICE, name);
        }
        r = sd_bus_message_read(reply, "s", &text);
        if (r < 0)
                return bad_reply("Call", r);
        *ret_reply = g_bytes_new(text, strlen(text) + 1);
        *ret_text = true;
        return 0;
}

static int d_serve(Backend *b, const char *name) {
        DbusBackend *d = (DbusBackend *) b;
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        int r;

        r = hub_message_new(d->bus, "Serve", &m);
        if (r != 0)
                return r;
        r = sd_bus_message_append(m, "s", name);
        if (r < 0)
                return bad_reply("Serve", r);
        return hub_call_on(d->bus, m, SUBJECT_SERVICE, name, &reply);
}

static int d_reply(Backend *b, uint64_t id, const void *data, size_t size) {
        DbusBackend *d = (DbusBackend *) b;
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autofree char *text = NULL;
        char what[32];
        int r;

        /* Reply carries a string: text only, and never a NUL. */
        if (!g_utf8_validate(data, (gssize) size, NULL))
                return CLI_NOT_TEXT;
        text = g_strndup(data, size);
        r = hub_message_new(d->bus, "Reply", &m);
        if (r != 0)
                return r;
        r = sd_bus_message_append(m, "ts", id, text);
        if (r < 0)
                return bad_reply("Reply", r);
        g_snprintf(what, sizeof what, "%" G_GUINT64_FORMAT, id);
        return hub_call_on(d->bus, m, SUBJECT_CALL, what, &reply);
}

static int d_reply_error(Backend *b, uint64_t id, const char *name, const char *message) {
        DbusBackend *d = (DbusBackend *) b;
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        char what[32];
        int r;

        r = hub_message_new(d->bus, "ReplyError", &m);
        if (r != 0)
                return r;
        r = sd_bus_message_append(m, "tss", id, name, message);
        if (r < 0)
                return bad_reply("ReplyError", r);
        g_snprintf(what, sizeof what, "%" G_GUINT64_FORMAT, id);
        return hub_call_on(d->bus, m, SUBJECT_CALL, what, &reply);
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
        .publish = d_publish,
        .clear_retained = d_clear_retained,
        .get = d_get,
        .set = d_set,
        .delete = d_delete,
        .list = d_list,
        .info = d_info,
        .stream_prepare = d_stream_prepare,
        .subscribe = d_subscribe,
        .watch = d_watch,
        .push = d_push,
        .reserve = d_reserve,
        .ack = d_ack,
        .nack = d_nack,
        .touch = d_touch,
        .kick = d_kick,
        .peek = d_peek,
        .purge = d_purge,
        .list_queues = d_list_queues,
        .call = d_call,
        .serve = d_serve,
        .reply = d_reply,
        .reply_error = d_reply_error,
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
