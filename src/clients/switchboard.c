/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * switchboard.c: the `switchboard` command-line client. Each command is one
 * or a few calls to org.switchboard.Hub1 on the session bus (the first call
 * activates the hub); `subscribe` and `watch` then run an sd-event loop and
 * print the unicast signals addressed to this connection only, never the
 * broadcast copies. User-facing text goes through gettext; D-Bus names and
 * the machine-readable output formats (text lines, JSON lines) never do.
 *
 * Exit status is part of the interface (docs/cli.md): 0 success, 1 the hub
 * returned an error, 2 usage error, 3 not found, 4 revision conflict, 69
 * (EX_UNAVAILABLE) the bus or the hub could not be reached.
 */

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gi18n.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "build-config.h"
#include "util/sd-glue.h"

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
        SB_EXIT_UNREACHABLE = EX_UNAVAILABLE,
};

/* Shown at the end of every --help. */
static const char exit_status_text[] =
        N_("Exit status:\n"
           "  0   success\n"
           "  1   the hub returned an error\n"
           "  2   usage error (unknown command or option, missing argument, bad number)\n"
           "  3   not found (no such key)\n"
           "  4   conflict (the key's revision did not match --if-revision)\n"
           "  69  the session bus or the hub could not be reached");

typedef struct Command Command;
struct Command {
        const char *name;
        const char *params;             /* N_(), after the command name in the usage line */
        const char *summary;            /* N_(), one line, also in the main --help */
        const char *description;        /* N_() or NULL, more lines for the command's --help */
        const GOptionEntry *entries;
        int min_args;
        int max_args;                   /* -1: no limit */
        int (*run)(char **args, int n_args);
};

static const Command *arg_command;
static char *arg_address;
static gboolean arg_retain;
static gboolean arg_retained;
static gboolean arg_json;
static char *arg_count;
static char *arg_if_revision;

static G_GNUC_PRINTF(1, 2) int usage_error(const char *format, ...) {
        g_autofree char *msg = NULL;
        va_list ap;

        va_start(ap, format);
        msg = g_strdup_vprintf(format, ap);
        va_end(ap);

        fprintf(stderr, "switchboard: %s\n", msg);
        if (arg_command)
                fprintf(stderr, _("Try 'switchboard %s --help' for more information.\n"),
                        arg_command->name);
        else
                fprintf(stderr, _("Try 'switchboard --help' for more information.\n"));
        return SB_EXIT_USAGE;
}

static int parse_u64(const char *option, const char *s, uint64_t min, uint64_t *ret) {
        g_autoptr(GError) error = NULL;
        guint64 v;

        if (!g_ascii_string_to_unsigned(s, 10, min, G_MAXUINT64, &v, &error))
                return usage_error(_("invalid number '%s' for %s: expected a whole number of at least %" PRIu64),
                                   s, option, min);
        *ret = v;
        return 0;
}

static void print_unreachable_hint(void) {
        fprintf(stderr,
                _("Check that switchboardd is installed and that the session bus can start it "
                  "(it needs the D-Bus service file for %s).\n"),
                HUB_NAME);
}

static int bus_connect(sd_bus **ret) {
        g_autoptr(sd_bus) bus = NULL;
        int r;

        if (arg_address) {
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, arg_address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(bus, 1);
                if (r >= 0)
                        r = sd_bus_start(bus);
        } else
                r = sd_bus_open_user(&bus);
        if (r < 0) {
                fprintf(stderr, _("switchboard: cannot connect to the session bus at %s: %s\n"),
                        arg_address ?: getenv("DBUS_SESSION_BUS_ADDRESS") ?: _("the default address"),
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
 * @subject is the topic, pattern or key the call was about (may be NULL). */
static int report_call_error(const sd_bus_error *error, int r, const char *subject) {
        g_autofree char *what = NULL;
        const char *message, *suffix;
        int exit_code = SB_EXIT_HUB_ERROR;

        if (!error || !sd_bus_error_is_set(error)) {
                fprintf(stderr, _("switchboard: lost the connection to the bus: %s\n"),
                        g_strerror(r < 0 ? -r : r));
                return SB_EXIT_UNREACHABLE;
        }

        message = error->message ?: error->name;
        if (error_means_unreachable(error->name)) {
                fprintf(stderr, _("switchboard: cannot reach the hub (%s): %s\n"), HUB_NAME, message);
                print_unreachable_hint();
                return SB_EXIT_UNREACHABLE;
        }

        if (!g_str_has_prefix(error->name, HUB_ERROR_PREFIX)) {
                fprintf(stderr, _("switchboard: the hub returned an error: %s (%s)\n"), message, error->name);
                return SB_EXIT_HUB_ERROR;
        }

        /* Name the problem and what it was about; the hub's message says why. */
        subject = subject ?: "";
        suffix = error->name + strlen(HUB_ERROR_PREFIX);
        if (g_str_equal(suffix, "InvalidTopic"))
                what = g_strdup_printf(_("invalid topic '%s'"), subject);
        else if (g_str_equal(suffix, "InvalidPattern"))
                what = g_strdup_printf(_("invalid pattern '%s'"), subject);
        else if (g_str_equal(suffix, "InvalidKey"))
                what = g_strdup_printf(_("invalid key '%s'"), subject);
        else if (g_str_equal(suffix, "NotFound")) {
                what = g_strdup_printf(_("no such key '%s'"), subject);
                exit_code = SB_EXIT_NOT_FOUND;
        } else if (g_str_equal(suffix, "Conflict")) {
                what = g_strdup_printf(_("revision conflict on key '%s'"), subject);
                exit_code = SB_EXIT_CONFLICT;
        } else if (g_str_equal(suffix, "LimitExceeded"))
                what = g_strdup_printf(_("limit exceeded for '%s'"), subject);
        else if (g_str_equal(suffix, "NotText"))
                what = g_strdup_printf(_("the value of '%s' is not text"), subject);
        else
                what = g_strdup_printf(_("the hub returned %s"), error->name);

        fprintf(stderr, "switchboard: %s: %s\n", what, message);
        return exit_code;
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

static int hub_call(sd_bus *bus, sd_bus_message *m, const char *subject, sd_bus_message **ret_reply) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call(bus, m, 0, &error, ret_reply);
        if (r < 0)
                return report_call_error(&error, r, subject);
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

/* JSON strings: D-Bus strings are valid UTF-8 already, so only quotes,
 * backslashes and control characters need escaping. */
static void json_append_string(GString *out, const char *s) {
        g_string_append_c(out, '"');
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                switch (*p) {
                case '"':
                        g_string_append(out, "\\\"");
                        break;
                case '\\':
                        g_string_append(out, "\\\\");
                        break;
                case '\n':
                        g_string_append(out, "\\n");
                        break;
                case '\r':
                        g_string_append(out, "\\r");
                        break;
                case '\t':
                        g_string_append(out, "\\t");
                        break;
                case '\b':
                        g_string_append(out, "\\b");
                        break;
                case '\f':
                        g_string_append(out, "\\f");
                        break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                g_string_append_printf(out, "\\u%04x", *p);
                        else
                                g_string_append_c(out, (char) *p);
                }
        g_string_append_c(out, '"');
}

static void json_append_member(GString *out, const char *name, const char *value) {
        if (out->len > 1)
                g_string_append_c(out, ',');
        json_append_string(out, name);
        g_string_append_c(out, ':');
        json_append_string(out, value);
}

static void json_append_u64(GString *out, const char *name, uint64_t value) {
        if (out->len > 1)
                g_string_append_c(out, ',');
        json_append_string(out, name);
        g_string_append_printf(out, ":%" PRIu64, value);
}

static void json_append_bool(GString *out, const char *name, gboolean value) {
        if (out->len > 1)
                g_string_append_c(out, ',');
        json_append_string(out, name);
        g_string_append(out, value ? ":true" : ":false");
}

static void json_append_base64(GString *out, const char *name, const void *data, size_t size) {
        g_autofree char *b64 = g_base64_encode(data, size);

        json_append_member(out, name, b64);
}

static void print_line(const char *line) {
        fputs(line, stdout);
        fputc('\n', stdout);
        fflush(stdout);
}

/* ---- publish ---------------------------------------------------------- */

static const GOptionEntry publish_entries[] = {
        { "retain", 'r', 0, G_OPTION_ARG_NONE, &arg_retain,
          N_("Keep the message as the topic's retained value"), NULL },
        G_OPTION_ENTRY_NULL
};

static int run_publish(char **args, int n_args) {
        g_autoptr(sd_bus) bus = NULL;
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        const char *topic = args[0], *payload = args[1];
        int r;

        r = bus_connect(&bus);
        if (r != 0)
                return r;

        if (g_utf8_validate(payload, -1, NULL))
                return hub_callv(bus, arg_retain ? "PublishRetained" : "Publish", topic, &reply,
                                 "ss", topic, payload);

        /* Not text in this locale's bytes: send them as they are. */
        r = hub_message_new(bus, "PublishBinary", &m);
        if (r != 0)
                return r;
        r = sd_bus_message_append(m, "s", topic);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', payload, strlen(payload));
        if (r >= 0)
                r = sd_bus_message_append(m, "b", arg_retain);
        if (r < 0)
                return bad_reply("PublishBinary", r);
        return hub_call(bus, m, topic, &reply);
}

/* ---- subscribe and watch: the signal stream --------------------------- */

typedef struct Stream {
        sd_event *event;
        sd_bus *bus;
        const char *unique_name;
        char *hub_owner;
        uint64_t count;                 /* stop after this many lines; 0: never */
        uint64_t printed;
        char *last_name;                /* to print a message matched by two patterns once */
        uint64_t last_number;
        GArray *ids;                    /* uint64_t: our subscription or watch ids */
} Stream;

static void stream_deinit(Stream *s) {
        g_clear_pointer(&s->hub_owner, g_free);
        g_clear_pointer(&s->last_name, g_free);
        g_clear_pointer(&s->ids, g_array_unref);
}

static gboolean stream_is_duplicate(Stream *s, const char *name, uint64_t number) {
        if (s->last_name && number == s->last_number && g_str_equal(name, s->last_name))
                return TRUE;
        g_free(s->last_name);
        s->last_name = g_strdup(name);
        s->last_number = number;
        return FALSE;
}

static void stream_printed(Stream *s) {
        s->printed++;
        if (s->count > 0 && s->printed >= s->count)
                (void) sd_event_exit(s->event, SB_EXIT_OK);
}

static gboolean stream_owns_id(Stream *s, uint64_t id) {
        for (guint i = 0; i < s->ids->len; i++)
                if (g_array_index(s->ids, uint64_t, i) == id)
                        return TRUE;
        return FALSE;
}

static int stream_fail(Stream *s, int r) {
        fprintf(stderr, _("switchboard: cannot read a signal from the hub: %s\n"), g_strerror(-r));
        (void) sd_event_exit(s->event, SB_EXIT_HUB_ERROR);
        return 0;
}

/* Only unicast signals from the hub's unique name to ours get here: the
 * match rule says so, and we check again, because a broadcast copy of the
 * same signal must never be printed twice. */
static gboolean stream_signal_is_ours(Stream *s, sd_bus_message *m) {
        const char *destination = sd_bus_message_get_destination(m);
        const char *sender = sd_bus_message_get_sender(m);

        return destination && g_str_equal(destination, s->unique_name) &&
                sender && g_str_equal(sender, s->hub_owner);
}

static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Stream *s = userdata;
        g_autoptr(GString) out = NULL;
        g_autofree char *b64 = NULL;
        const char *topic, *payload = NULL;
        const void *data = NULL;
        size_t size = 0;
        uint64_t seq;
        gboolean binary;
        int r;

        if (!stream_signal_is_ours(s, m))
                return 0;

        binary = sd_bus_message_is_signal(m, HUB_INTERFACE, "MessageBinary");
        r = sd_bus_message_read(m, "s", &topic);
        if (r < 0)
                return stream_fail(s, r);
        if (binary)
                r = sd_bus_message_read_array(m, 'y', &data, &size);
        else
                r = sd_bus_message_read(m, "s", &payload);
        if (r < 0)
                return stream_fail(s, r);
        r = sd_bus_message_read(m, "t", &seq);
        if (r < 0)
                return stream_fail(s, r);

        if (stream_is_duplicate(s, topic, seq))
                return 0;

        out = g_string_new(NULL);
        if (arg_json) {
                g_string_append_c(out, '{');
                json_append_member(out, "topic", topic);
                if (binary)
                        json_append_base64(out, "payload_base64", data, size);
                else
                        json_append_member(out, "payload", payload);
                json_append_u64(out, "seq", seq);
                g_string_append_c(out, '}');
        } else if (binary) {
                b64 = g_base64_encode(data, size);
                g_string_printf(out, "%s base64:%s", topic, b64);
        } else
                g_string_printf(out, "%s %s", topic, payload);

        print_line(out->str);
        stream_printed(s);
        return 0;
}

static int on_key_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Stream *s = userdata;
        g_autoptr(GString) out = NULL;
        g_autofree char *b64 = NULL;
        const char *key, *value = NULL;
        const void *data = NULL;
        size_t size = 0;
        uint64_t revision;
        int deleted;
        gboolean binary;
        int r;

        if (!stream_signal_is_ours(s, m))
                return 0;

        binary = sd_bus_message_is_signal(m, HUB_INTERFACE, "KeyChangedBinary");
        r = sd_bus_message_read(m, "s", &key);
        if (r < 0)
                return stream_fail(s, r);
        if (binary)
                r = sd_bus_message_read_array(m, 'y', &data, &size);
        else
                r = sd_bus_message_read(m, "s", &value);
        if (r < 0)
                return stream_fail(s, r);
        r = sd_bus_message_read(m, "tb", &revision, &deleted);
        if (r < 0)
                return stream_fail(s, r);

        if (stream_is_duplicate(s, key, revision))
                return 0;

        out = g_string_new(NULL);
        if (arg_json) {
                g_string_append_c(out, '{');
                json_append_member(out, "key", key);
                if (!deleted) {
                        if (binary)
                                json_append_base64(out, "value_base64", data, size);
                        else
                                json_append_member(out, "value", value);
                }
                json_append_u64(out, "revision", revision);
                json_append_bool(out, "deleted", deleted);
                g_string_append_c(out, '}');
        } else if (deleted)
                g_string_printf(out, "deleted %s", key);
        else if (binary) {
                b64 = g_base64_encode(data, size);
                g_string_printf(out, "set %s base64:%s", key, b64);
        } else
                g_string_printf(out, "set %s %s", key, value);

        print_line(out->str);
        stream_printed(s);
        return 0;
}

static int on_gap(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Stream *s = userdata;
        uint64_t id, first, last;
        int r;

        if (!stream_signal_is_ours(s, m))
                return 0;

        r = sd_bus_message_read(m, "ttt", &id, &first, &last);
        if (r < 0)
                return stream_fail(s, r);
        if (!stream_owns_id(s, id))
                return 0;

        fprintf(stderr, _("switchboard: missed messages %" PRIu64 "..%" PRIu64 "\n"), first, last);
        return 0;
}

static int on_hub_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *member = sd_bus_message_get_member(m);

        if (!member)
                return 0;
        if (g_str_equal(member, "Message") || g_str_equal(member, "MessageBinary"))
                return on_message(m, userdata, ret_error);
        if (g_str_equal(member, "KeyChanged") || g_str_equal(member, "KeyChangedBinary"))
                return on_key_changed(m, userdata, ret_error);
        if (g_str_equal(member, "Gap"))
                return on_gap(m, userdata, ret_error);
        return 0;
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Stream *s = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
                return 0;
        if (!g_str_equal(name, HUB_NAME) || g_str_equal(new_owner, s->hub_owner))
                return 0;

        fprintf(stderr, _("switchboard: the hub stopped; the subscription has ended\n"));
        (void) sd_event_exit(s->event, SB_EXIT_UNREACHABLE);
        return 0;
}

static int on_bus_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Stream *s = userdata;

        if (sd_bus_message_is_signal(m, "org.freedesktop.DBus.Local", "Disconnected")) {
                fprintf(stderr, _("switchboard: lost the connection to the bus\n"));
                (void) sd_event_exit(s->event, SB_EXIT_UNREACHABLE);
        }
        return 0;
}

static int on_exit_signal(sd_event_source *source, const struct signalfd_siginfo *si, void *userdata) {
        Stream *s = userdata;

        (void) sd_event_exit(s->event, SB_EXIT_OK);
        return 0;
}

/* Start the hub if needed and learn its unique name, so that the match
 * rule can name the sender. */
static int stream_resolve_hub(Stream *s) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(sd_bus_message) owner_reply = NULL;
        const char *owner;
        int r;

        r = sd_bus_call_method(s->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "StartServiceByName", &error, &reply,
                               "su", HUB_NAME, UINT32_C(0));
        if (r < 0)
                return report_call_error(&error, r, NULL);

        r = sd_bus_call_method(s->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "GetNameOwner", &error, &owner_reply,
                               "s", HUB_NAME);
        if (r < 0)
                return report_call_error(&error, r, NULL);
        r = sd_bus_message_read(owner_reply, "s", &owner);
        if (r < 0)
                return bad_reply("GetNameOwner", r);

        s->hub_owner = g_strdup(owner);
        return 0;
}

/* Connect, install the matches, and get ready for stream_run(). Nothing is
 * printed before stream_run(), so the caller's Subscribe/Watch calls have all
 * completed before the first line appears. */
static int stream_init(Stream *s) {
        g_autofree char *signal_rule = NULL;
        g_autofree char *owner_rule = NULL;
        sigset_t mask;
        int r;

        s->ids = g_array_new(FALSE, FALSE, sizeof(uint64_t));

        /* Ctrl-C and SIGTERM end the stream cleanly (exit 0), through the loop. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&s->event);
        if (r < 0)
                goto fail;
        r = sd_event_add_signal(s->event, NULL, SIGINT, on_exit_signal, s);
        if (r >= 0)
                r = sd_event_add_signal(s->event, NULL, SIGTERM, on_exit_signal, s);
        if (r < 0)
                goto fail;

        r = bus_connect(&s->bus);
        if (r != 0)
                return r;
        r = sd_bus_attach_event(s->bus, s->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                goto fail;
        r = sd_bus_get_unique_name(s->bus, &s->unique_name);
        if (r < 0)
                return report_call_error(NULL, r, NULL);

        r = sd_bus_add_filter(s->bus, NULL, on_bus_message, s);
        if (r < 0)
                goto fail;

        owner_rule = g_strdup_printf("type='signal',sender='org.freedesktop.DBus',"
                                     "path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',"
                                     "member='NameOwnerChanged',arg0='%s'", HUB_NAME);
        r = sd_bus_add_match(s->bus, NULL, owner_rule, on_name_owner_changed, s);
        if (r < 0)
                goto fail;

        r = stream_resolve_hub(s);
        if (r != 0)
                return r;

        signal_rule = g_strdup_printf("type='signal',sender='%s',path='%s',interface='%s',destination='%s'",
                                      s->hub_owner, HUB_PATH, HUB_INTERFACE, s->unique_name);
        r = sd_bus_add_match(s->bus, NULL, signal_rule, on_hub_signal, s);
        if (r < 0)
                goto fail;

        setvbuf(stdout, NULL, _IOLBF, 0);
        return 0;

fail:
        fprintf(stderr, _("switchboard: cannot set up the event loop: %s\n"), g_strerror(-r));
        return SB_EXIT_UNREACHABLE;
}

static int stream_run(Stream *s) {
        int r;

        r = sd_event_loop(s->event);
        if (r < 0) {
                fprintf(stderr, _("switchboard: the event loop failed: %s\n"), g_strerror(-r));
                return SB_EXIT_HUB_ERROR;
        }
        return r;
}

static void stream_close(Stream *s) {
        if (s->bus)
                s->bus = sd_bus_flush_close_unref(s->bus);
        if (s->event)
                s->event = sd_event_unref(s->event);
        stream_deinit(s);
}

static int parse_count(uint64_t *ret) {
        *ret = 0;
        if (!arg_count)
                return 0;
        return parse_u64("--count", arg_count, 1, ret);
}

static const GOptionEntry subscribe_entries[] = {
        { "retained", 0, 0, G_OPTION_ARG_NONE, &arg_retained,
          N_("First print the retained values of matching topics"), NULL },
        { "json", 'j', 0, G_OPTION_ARG_NONE, &arg_json,
          N_("Print one JSON object per message"), NULL },
        { "count", 'n', 0, G_OPTION_ARG_STRING, &arg_count,
          N_("Exit after N messages"), N_("N") },
        G_OPTION_ENTRY_NULL
};

static int run_subscribe(char **args, int n_args) {
        Stream s = {};
        int r;

        r = parse_count(&s.count);
        if (r != 0)
                return r;

        r = stream_init(&s);
        for (int i = 0; r == 0 && i < n_args; i++) {
                g_autoptr(sd_bus_message) reply = NULL;
                uint64_t id;

                r = hub_callv(s.bus, "Subscribe", args[i], &reply, "sb", args[i], arg_retained);
                if (r == 0 && sd_bus_message_read(reply, "t", &id) < 0)
                        r = bad_reply("Subscribe", -EBADMSG);
                if (r == 0)
                        g_array_append_val(s.ids, id);
        }
        if (r == 0)
                r = stream_run(&s);

        stream_close(&s);
        return r;
}

static const GOptionEntry watch_entries[] = {
        { "json", 'j', 0, G_OPTION_ARG_NONE, &arg_json,
          N_("Print one JSON object per change"), NULL },
        { "count", 'n', 0, G_OPTION_ARG_STRING, &arg_count,
          N_("Exit after N changes"), N_("N") },
        G_OPTION_ENTRY_NULL
};

static int run_watch(char **args, int n_args) {
        static char *all[] = { (char *) "", NULL };
        Stream s = {};
        int r;

        r = parse_count(&s.count);
        if (r != 0)
                return r;
        if (n_args == 0) {
                args = all;
                n_args = 1;
        }

        r = stream_init(&s);
        for (int i = 0; r == 0 && i < n_args; i++) {
                g_autoptr(sd_bus_message) reply = NULL;
                uint64_t id;

                r = hub_callv(s.bus, "Watch", args[i], &reply, "s", args[i]);
                if (r == 0 && sd_bus_message_read(reply, "t", &id) < 0)
                        r = bad_reply("Watch", -EBADMSG);
                if (r == 0)
                        g_array_append_val(s.ids, id);
        }
        if (r == 0)
                r = stream_run(&s);

        stream_close(&s);
        return r;
}

/* ---- the store -------------------------------------------------------- */

static const GOptionEntry json_entries[] = {
        { "json", 'j', 0, G_OPTION_ARG_NONE, &arg_json,
          N_("Print JSON instead of plain text"), NULL },
        G_OPTION_ENTRY_NULL
};

static gboolean error_is(const sd_bus_error *error, const char *suffix) {
        return sd_bus_error_is_set(error) && g_str_has_prefix(error->name, HUB_ERROR_PREFIX) &&
                g_str_equal(error->name + strlen(HUB_ERROR_PREFIX), suffix);
}

static int get_binary(sd_bus *bus, const char *key) {
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GString) out = NULL;
        const void *data;
        size_t size;
        uint64_t revision;
        int r;

        r = hub_callv(bus, "GetBinary", key, &reply, "s", key);
        if (r != 0)
                return r;
        r = sd_bus_message_read_array(reply, 'y', &data, &size);
        if (r >= 0)
                r = sd_bus_message_read(reply, "t", &revision);
        if (r < 0)
                return bad_reply("GetBinary", r);

        if (!arg_json) {
                /* Raw bytes, exactly as stored: `switchboard get k > file`. */
                if (size > 0 && fwrite(data, 1, size, stdout) != size)
                        return SB_EXIT_HUB_ERROR;
                fflush(stdout);
                return SB_EXIT_OK;
        }

        out = g_string_new("{");
        json_append_member(out, "key", key);
        json_append_base64(out, "value_base64", data, size);
        json_append_u64(out, "revision", revision);
        g_string_append_c(out, '}');
        print_line(out->str);
        return SB_EXIT_OK;
}

static int run_get(char **args, int n_args) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus) bus = NULL;
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GString) out = NULL;
        const char *key = args[0], *value;
        uint64_t revision;
        int r;

        r = bus_connect(&bus);
        if (r != 0)
                return r;
        r = hub_message_new(bus, "Get", &m);
        if (r != 0)
                return r;
        r = sd_bus_message_append(m, "s", key);
        if (r < 0)
                return bad_reply("Get", r);

        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0 && error_is(&error, "NotText"))
                return get_binary(bus, key);
        if (r < 0)
                return report_call_error(&error, r, key);

        r = sd_bus_message_read(reply, "st", &value, &revision);
        if (r < 0)
                return bad_reply("Get", r);

        if (!arg_json) {
                print_line(value);
                return SB_EXIT_OK;
        }
        out = g_string_new("{");
        json_append_member(out, "key", key);
        json_append_member(out, "value", value);
        json_append_u64(out, "revision", revision);
        g_string_append_c(out, '}');
        print_line(out->str);
        return SB_EXIT_OK;
}

static const GOptionEntry set_entries[] = {
        { "if-revision", 0, 0, G_OPTION_ARG_STRING, &arg_if_revision,
          N_("Only set the key if its revision is N (0: only if the key does not exist yet)"), N_("N") },
        G_OPTION_ENTRY_NULL
};

static int run_set(char **args, int n_args) {
        g_autoptr(sd_bus) bus = NULL;
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        const char *key = args[0], *value = args[1];
        gboolean text = g_utf8_validate(value, -1, NULL);
        uint64_t expected = 0;
        int r;

        if (arg_if_revision) {
                r = parse_u64("--if-revision", arg_if_revision, 0, &expected);
                if (r != 0)
                        return r;
                if (!text)
                        return usage_error(_("--if-revision needs a value that is valid UTF-8 text"));
        }

        r = bus_connect(&bus);
        if (r != 0)
                return r;

        if (arg_if_revision)
                return hub_callv(bus, "SetIf", key, &reply, "sst", key, value, expected);
        if (text)
                return hub_callv(bus, "Set", key, &reply, "ss", key, value);

        r = hub_message_new(bus, "SetBinary", &m);
        if (r != 0)
                return r;
        r = sd_bus_message_append(m, "s", key);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', value, strlen(value));
        if (r < 0)
                return bad_reply("SetBinary", r);
        return hub_call(bus, m, key, &reply);
}

static int run_delete(char **args, int n_args) {
        g_autoptr(sd_bus) bus = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        const char *key = args[0];
        int existed, r;

        r = bus_connect(&bus);
        if (r != 0)
                return r;
        r = hub_callv(bus, "Delete", key, &reply, "s", key);
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "b", &existed);
        if (r < 0)
                return bad_reply("Delete", r);
        if (!existed) {
                fprintf(stderr, "switchboard: ");
                fprintf(stderr, _("no such key '%s'"), key);
                fputc('\n', stderr);
                return SB_EXIT_NOT_FOUND;
        }
        return SB_EXIT_OK;
}

static int run_list(char **args, int n_args) {
        g_autoptr(sd_bus) bus = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        const char *prefix = n_args > 0 ? args[0] : "";
        const char *key, *value;
        uint64_t revision;
        int r;

        r = bus_connect(&bus);
        if (r != 0)
                return r;
        r = hub_callv(bus, "List", prefix, &reply, "s", prefix);
        if (r != 0)
                return r;

        r = sd_bus_message_enter_container(reply, 'a', "(sst)");
        if (r < 0)
                return bad_reply("List", r);
        while ((r = sd_bus_message_read(reply, "(sst)", &key, &value, &revision)) > 0) {
                if (arg_json) {
                        g_autoptr(GString) out = g_string_new("{");

                        json_append_member(out, "key", key);
                        json_append_member(out, "value", value);
                        json_append_u64(out, "revision", revision);
                        g_string_append_c(out, '}');
                        fputs(out->str, stdout);
                } else
                        printf("%s\t%s", key, value);
                fputc('\n', stdout);
        }
        if (r < 0)
                return bad_reply("List", r);
        fflush(stdout);
        return SB_EXIT_OK;
}

/* ---- topics and the hub ----------------------------------------------- */

static int run_clear_retained(char **args, int n_args) {
        g_autoptr(sd_bus) bus = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        uint32_t count;
        int r;

        r = bus_connect(&bus);
        if (r != 0)
                return r;
        r = hub_callv(bus, "ClearRetained", args[0], &reply, "s", args[0]);
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "u", &count);
        if (r < 0)
                return bad_reply("ClearRetained", r);
        printf("%" PRIu32 "\n", count);
        fflush(stdout);
        return SB_EXIT_OK;
}

typedef struct Info {
        char *version;
        uint64_t start_time;
        uint32_t clients, subscriptions, topics, keys;
        uint64_t published, delivered, dropped, store_changes;
        GArray *by_transport;           /* NamedCount */
        GArray *limits;                 /* NamedCount */
} Info;

typedef struct NamedCount {
        char *name;
        uint64_t value;
} NamedCount;

static void named_count_clear(gpointer p) {
        NamedCount *n = p;

        g_free(n->name);
}

static gint named_count_compare(gconstpointer a, gconstpointer b) {
        return strcmp(((const NamedCount *) a)->name, ((const NamedCount *) b)->name);
}

static void info_clear(Info *info) {
        g_clear_pointer(&info->version, g_free);
        g_clear_pointer(&info->by_transport, g_array_unref);
        g_clear_pointer(&info->limits, g_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Info, info_clear)

static int read_named_counts(sd_bus_message *m, char value_type, GArray *into) {
        char signature[] = { '{', 's', value_type, '}', 0 };
        char entry[] = { 's', value_type, 0 };
        int r;

        r = sd_bus_message_enter_container(m, 'a', signature);
        if (r < 0)
                return r;
        for (;;) {
                NamedCount n = {};
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
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                n.name = g_strdup(name);
                n.value = value_type == 'u' ? u32 : u64;
                g_array_append_val(into, n);
        }
        if (r < 0)
                return r;
        g_array_sort(into, named_count_compare);
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

/* "label:" padded to @width columns, whatever the translation's length. */
static void print_field(const char *label, int width, const char *value) {
        int len = (int) g_utf8_strlen(label, -1);

        if (value[0])
                printf("  %s:%*s %s\n", label, MAX(width - len, 0), "", value);
        else
                printf("  %s:\n", label);
}

static char *format_uptime(uint64_t seconds) {
        if (seconds < 60)
                return g_strdup_printf(_("%" PRIu64 " s"), seconds);
        if (seconds < 3600)
                return g_strdup_printf(_("%" PRIu64 " min %" PRIu64 " s"), seconds / 60, seconds % 60);
        if (seconds < 86400)
                return g_strdup_printf(_("%" PRIu64 " h %" PRIu64 " min"), seconds / 3600,
                                       seconds / 60 % 60);
        return g_strdup_printf(_("%" PRIu64 " d %" PRIu64 " h"), seconds / 86400, seconds / 3600 % 24);
}

static char *format_named_counts(GArray *a) {
        g_autoptr(GString) s = g_string_new(NULL);

        for (guint i = 0; i < a->len; i++) {
                const NamedCount *n = &g_array_index(a, NamedCount, i);

                g_string_append_printf(s, "%s%s %" PRIu64, i > 0 ? ", " : "", n->name, n->value);
        }
        return g_string_free(g_steal_pointer(&s), FALSE);
}

static void print_info_json(const Info *info) {
        g_autoptr(GString) out = g_string_new("{");

        json_append_member(out, "version", info->version ?: "");
        json_append_u64(out, "start_time", info->start_time);
        json_append_u64(out, "clients", info->clients);
        g_string_append(out, ",\"clients_by_transport\":{");
        for (guint i = 0; i < info->by_transport->len; i++) {
                const NamedCount *n = &g_array_index(info->by_transport, NamedCount, i);

                if (i > 0)
                        g_string_append_c(out, ',');
                json_append_string(out, n->name);
                g_string_append_printf(out, ":%" PRIu64, n->value);
        }
        g_string_append_c(out, '}');
        json_append_u64(out, "subscriptions", info->subscriptions);
        json_append_u64(out, "topics", info->topics);
        json_append_u64(out, "keys", info->keys);
        json_append_u64(out, "messages_published", info->published);
        json_append_u64(out, "messages_delivered", info->delivered);
        json_append_u64(out, "messages_dropped", info->dropped);
        json_append_u64(out, "store_changes", info->store_changes);
        g_string_append(out, ",\"limits\":{");
        for (guint i = 0; i < info->limits->len; i++) {
                const NamedCount *n = &g_array_index(info->limits, NamedCount, i);

                if (i > 0)
                        g_string_append_c(out, ',');
                json_append_string(out, n->name);
                g_string_append_printf(out, ":%" PRIu64, n->value);
        }
        g_string_append(out, "}}");
        print_line(out->str);
}

static void print_info(const Info *info) {
        const char *labels[] = {
                _("Started"), _("Clients"), _("Subscriptions"), _("Retained topics"), _("Keys"),
                _("Messages"), _("Store changes"), _("Limits"),
        };
        g_autoptr(GDateTime) started = NULL;
        g_autofree char *when = NULL, *uptime = NULL, *value = NULL, *by = NULL;
        int width = 0;
        int64_t now = g_get_real_time();

        for (size_t i = 0; i < G_N_ELEMENTS(labels); i++)
                width = MAX(width, (int) g_utf8_strlen(labels[i], -1));

        printf(_("switchboard hub %s\n"), info->version ?: "?");

        started = g_date_time_new_from_unix_local((gint64) (info->start_time / G_USEC_PER_SEC));
        when = started ? g_date_time_format(started, "%Y-%m-%d %H:%M:%S %Z") : g_strdup("?");
        uptime = format_uptime(now > (int64_t) info->start_time ?
                               (uint64_t) (now - (int64_t) info->start_time) / G_USEC_PER_SEC : 0);
        value = g_strdup_printf(_("%s (up %s)"), when, uptime);
        print_field(labels[0], width, value);
        g_clear_pointer(&value, g_free);

        by = format_named_counts(info->by_transport);
        value = info->by_transport->len > 0 ?
                g_strdup_printf("%" PRIu32 " (%s)", info->clients, by) :
                g_strdup_printf("%" PRIu32, info->clients);
        print_field(labels[1], width, value);
        g_clear_pointer(&value, g_free);

        value = g_strdup_printf("%" PRIu32, info->subscriptions);
        print_field(labels[2], width, value);
        g_clear_pointer(&value, g_free);
        value = g_strdup_printf("%" PRIu32, info->topics);
        print_field(labels[3], width, value);
        g_clear_pointer(&value, g_free);
        value = g_strdup_printf("%" PRIu32, info->keys);
        print_field(labels[4], width, value);
        g_clear_pointer(&value, g_free);

        value = g_strdup_printf(_("%" PRIu64 " published, %" PRIu64 " delivered, %" PRIu64 " dropped"),
                                info->published, info->delivered, info->dropped);
        print_field(labels[5], width, value);
        g_clear_pointer(&value, g_free);
        value = g_strdup_printf("%" PRIu64, info->store_changes);
        print_field(labels[6], width, value);
        g_clear_pointer(&value, g_free);

        print_field(labels[7], width, info->limits->len > 0 ? "" : "-");
        for (guint i = 0; i < info->limits->len; i++) {
                const NamedCount *n = &g_array_index(info->limits, NamedCount, i);

                printf("    %-24s %" PRIu64 "\n", n->name, n->value);
        }
        fflush(stdout);
}

static int run_status(char **args, int n_args) {
        g_autoptr(sd_bus) bus = NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        g_auto(Info) info = {};
        int r;

        info.by_transport = g_array_new(FALSE, TRUE, sizeof(NamedCount));
        g_array_set_clear_func(info.by_transport, named_count_clear);
        info.limits = g_array_new(FALSE, TRUE, sizeof(NamedCount));
        g_array_set_clear_func(info.limits, named_count_clear);

        r = bus_connect(&bus);
        if (r != 0)
                return r;
        r = hub_callv(bus, "GetInfo", NULL, &reply, NULL);
        if (r != 0)
                return r;
        r = read_info(reply, &info);
        if (r < 0)
                return bad_reply("GetInfo", r);

        if (arg_json)
                print_info_json(&info);
        else
                print_info(&info);
        return SB_EXIT_OK;
}

/* ---- command line ----------------------------------------------------- */

static const GOptionEntry common_entries[] = {
        { "address", 0, 0, G_OPTION_ARG_STRING, &arg_address,
          N_("Connect to the D-Bus bus at ADDRESS instead of the session bus"), N_("ADDRESS") },
        G_OPTION_ENTRY_NULL
};

static const Command commands[] = {
        { "publish", N_("TOPIC PAYLOAD"), N_("Publish a message on a topic"),
          N_("Publish PAYLOAD on TOPIC and print nothing. A PAYLOAD that is not valid UTF-8\n"
             "is sent as bytes (PublishBinary). Use '--' before a PAYLOAD that starts with '-'."),
          publish_entries, 2, 2, run_publish },
        { "subscribe", N_("PATTERN…"), N_("Print the messages of matching topics"),
          N_("Print each message of a topic matching any PATTERN as one line 'TOPIC PAYLOAD'\n"
             "(a payload that is not text as 'TOPIC base64:DATA'), until interrupted.\n"
             "In a PATTERN, '*' matches one token and '>' one or more trailing tokens.\n"
             "Missed messages are reported on standard error."),
          subscribe_entries, 1, -1, run_subscribe },
        { "get", N_("KEY"), N_("Print the value of a key"),
          N_("Print the value of KEY and a newline. A value that is not text is written as\n"
             "raw bytes, or as value_base64 with --json."),
          json_entries, 1, 1, run_get },
        { "set", N_("KEY VALUE"), N_("Set a key"),
          N_("Set KEY to VALUE and print nothing. With --if-revision, only if the key's revision\n"
             "is still N; otherwise exit with status 4."),
          set_entries, 2, 2, run_set },
        { "delete", N_("KEY"), N_("Delete a key"),
          N_("Delete KEY. Exit with status 3 if there was no such key."),
          NULL, 1, 1, run_delete },
        { "list", N_("[PREFIX]"), N_("List keys and values"),
          N_("Print the keys starting with PREFIX (all keys without one), sorted, as\n"
             "'KEY<TAB>VALUE' lines."),
          json_entries, 0, 1, run_list },
        { "watch", N_("[PREFIX…]"), N_("Print the changes of keys"),
          N_("Print each change of a key starting with PREFIX (all keys without one) as one\n"
             "line, 'set KEY VALUE' or 'deleted KEY', until interrupted."),
          watch_entries, 0, -1, run_watch },
        { "clear-retained", N_("PATTERN"), N_("Drop retained messages"),
          N_("Drop the retained values of the topics matching PATTERN and print how many\n"
             "were dropped."),
          NULL, 1, 1, run_clear_retained },
        { "status", "", N_("Show the hub's state"),
          N_("Show the hub's version, start time, clients per transport, subscriptions,\n"
             "retained topics, keys, message counters and limits."),
          json_entries, 0, 0, run_status },
};

/* The translated parameter string; "" stays "" (gettext("") is the PO header). */
static const char *command_params(const Command *cmd) {
        return cmd->params[0] ? _(cmd->params) : "";
}

static void print_main_help(FILE *f) {
        g_autofree char *about = NULL;
        int width = 0;

        fputs(_("Usage: switchboard [--address=ADDRESS] COMMAND [ARGUMENTS…]\n"), f);
        fputc('\n', f);
        about = g_strdup_printf(_("Talk to the switchboard hub (%s) on the D-Bus session bus.\n"
                                  "The first call starts the hub.\n"), HUB_NAME);
        fputs(about, f);
        fputc('\n', f);
        fputs(_("Commands:\n"), f);

        for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
                g_autofree char *usage = g_strdup_printf("%s %s", commands[i].name,
                                                         command_params(&commands[i]));

                width = MAX(width, (int) g_utf8_strlen(usage, -1));
        }
        for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
                g_autofree char *usage = g_strdup_printf("%s %s", commands[i].name,
                                                         command_params(&commands[i]));

                fprintf(f, "  %s%*s  %s\n", usage, width - (int) g_utf8_strlen(usage, -1), "",
                        _(commands[i].summary));
        }

        fputc('\n', f);
        fputs(_("Options:\n"
                "  -h, --help           Show this help\n"
                "  --version            Show the version\n"
                "  --address=ADDRESS    Connect to the D-Bus bus at ADDRESS instead of the session bus\n"), f);
        fputc('\n', f);
        fputs(_("Run 'switchboard COMMAND --help' for the options of a command.\n"), f);
        fputc('\n', f);
        fprintf(f, "%s\n", _(exit_status_text));
}

static int run_command(const Command *cmd, int argc, char **argv) {
        g_autoptr(GOptionContext) context = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *prgname = NULL, *summary = NULL;
        g_auto(GStrv) args = NULL;
        int n_args;

        arg_command = cmd;

        /* The usage line reads "switchboard publish [OPTION…] TOPIC PAYLOAD". */
        prgname = g_strdup_printf("switchboard %s", cmd->name);
        g_set_prgname(prgname);
        summary = cmd->description ?
                g_strdup_printf("%s.\n\n%s", _(cmd->summary), _(cmd->description)) :
                g_strdup_printf("%s.", _(cmd->summary));
        context = g_option_context_new(cmd->params[0] ? cmd->params : NULL);
        g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
        g_option_context_set_summary(context, summary);
        g_option_context_set_description(context, exit_status_text);
        if (cmd->entries)
                g_option_context_add_main_entries(context, cmd->entries, GETTEXT_PACKAGE);
        g_option_context_add_main_entries(context, common_entries, GETTEXT_PACKAGE);

        /* GOptionContext edits a copy of argv: "switchboard" plus the command's arguments. */
        args = g_new0(char *, argc + 1);
        args[0] = g_strdup("switchboard");
        for (int i = 1; i < argc; i++)
                args[i] = g_strdup(argv[i]);
        if (!g_option_context_parse_strv(context, &args, &error))
                return usage_error("%s", error->message);

        /* GOptionContext leaves the "--" that ends the options: drop the first one. */
        for (char **a = args + 1; *a; a++)
                if (g_str_equal(*a, "--")) {
                        g_free(*a);
                        memmove(a, a + 1, (g_strv_length(a + 1) + 1) * sizeof(char *));
                        break;
                }

        n_args = (int) g_strv_length(args) - 1;
        if (n_args < cmd->min_args)
                return usage_error(_("missing argument: %s"), command_params(cmd));
        if (cmd->max_args >= 0 && n_args > cmd->max_args)
                return usage_error(_("too many arguments: '%s' is not expected"), args[cmd->max_args + 1]);

        return cmd->run(args + 1, n_args);
}

int main(int argc, char **argv) {
        const char *localedir = getenv("SWITCHBOARD_LOCALEDIR");
        int i;

        setlocale(LC_ALL, "");
        bindtextdomain(GETTEXT_PACKAGE, localedir && localedir[0] ? localedir : LOCALEDIR);
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        textdomain(GETTEXT_PACKAGE);
        g_set_prgname("switchboard");

        /* Global options come before the command. */
        for (i = 1; i < argc && argv[i][0] == '-'; i++) {
                const char *a = argv[i];

                if (g_str_equal(a, "-h") || g_str_equal(a, "--help")) {
                        print_main_help(stdout);
                        return SB_EXIT_OK;
                }
                if (g_str_equal(a, "--version")) {
                        printf("switchboard %s\n", PACKAGE_VERSION);
                        return SB_EXIT_OK;
                }
                if (g_str_has_prefix(a, "--address=")) {
                        g_free(arg_address);
                        arg_address = g_strdup(a + strlen("--address="));
                        continue;
                }
                if (g_str_equal(a, "--address")) {
                        if (i + 1 >= argc)
                                return usage_error(_("option '%s' needs a value"), a);
                        g_free(arg_address);
                        arg_address = g_strdup(argv[++i]);
                        continue;
                }
                return usage_error(_("unknown option '%s'"), a);
        }

        if (i >= argc)
                return usage_error(_("missing command"));
        if (g_str_equal(argv[i], "help")) {
                if (i + 1 < argc) {
                        char *help_argv[] = { argv[i + 1], (char *) "--help", NULL };

                        for (size_t c = 0; c < G_N_ELEMENTS(commands); c++)
                                if (g_str_equal(argv[i + 1], commands[c].name))
                                        return run_command(&commands[c], 2, help_argv);
                        return usage_error(_("unknown command '%s'"), argv[i + 1]);
                }
                print_main_help(stdout);
                return SB_EXIT_OK;
        }

        for (size_t c = 0; c < G_N_ELEMENTS(commands); c++)
                if (g_str_equal(argv[i], commands[c].name)) {
                        int r = run_command(&commands[c], argc - i, argv + i);

                        g_free(arg_address);
                        g_free(arg_count);
                        g_free(arg_if_revision);
                        return r;
                }

        return usage_error(_("unknown command '%s'"), argv[i]);
}
