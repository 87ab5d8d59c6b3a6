/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-dbus.c: the D-Bus face on its own, without a bus daemon: the hub's
 * object served on one end of a socketpair (a peer-to-peer sd-bus
 * connection), called from the other end. The generic marshalling reads
 * and writes every D-Bus type the op table uses (s, ay, u, t, a(sst),
 * a(suuuuu), a{sv}) and maps the core's errors to their D-Bus names.
 * Peer-to-peer calls have no sender, so only the operations that need no
 * client (Anonymous in the XML) succeed; the others are refused, which is
 * tested too. Broadcast Message signals, conflated per topic or not, are
 * received on the client's end.
 */
#include <check.h>
#include <string.h>
#include <sys/socket.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "dbus/dbus-service.h"
#include "ops/ops.h"
#include "util/sd-glue.h"

static sd_event *event;
static sd_bus *server, *client;
static Hub *hub;
static DbusService *service;
static bool server_trusted;     /* as the user bus is: a sender set by the peer is believed */

static void setup_with(const DbusConfig *config) {
        int fds[2];
        sd_id128_t id;
        HubLimits limits;

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
        ck_assert_int_ge(sd_event_new(&event), 0);
        ck_assert_int_ge(sd_id128_randomize(&id), 0);

        ck_assert_int_ge(sd_bus_new(&server), 0);
        ck_assert_int_ge(sd_bus_set_fd(server, fds[0], fds[0]), 0);
        ck_assert_int_ge(sd_bus_set_server(server, 1, id), 0);
        ck_assert_int_ge(sd_bus_set_trusted(server, server_trusted), 0);
        ck_assert_int_ge(sd_bus_start(server), 0);
        ck_assert_int_ge(sd_bus_attach_event(server, event, 0), 0);

        ck_assert_int_ge(sd_bus_new(&client), 0);
        ck_assert_int_ge(sd_bus_set_fd(client, fds[1], fds[1]), 0);
        ck_assert_int_ge(sd_bus_start(client), 0);
        ck_assert_int_ge(sd_bus_attach_event(client, event, 0), 0);

        hub_limits_default(&limits);
        hub = hub_new(&limits, 42);
        ck_assert_int_ge(dbus_service_new(server, hub, config, &service), 0);
}

static void setup(void) {
        setup_with(&(DbusConfig) { .broadcast = false });
}

static void teardown(void) {
        g_clear_pointer(&service, dbus_service_free);
        client = sd_bus_flush_close_unref(client);
        server = sd_bus_flush_close_unref(server);
        g_clear_pointer(&hub, hub_free);
        event = sd_event_unref(event);
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        *(sd_bus_message **) userdata = sd_bus_message_ref(m);
        return 0;
}

/* Send @m and run the loop until its reply (or error) arrives. */
static sd_bus_message *roundtrip(sd_bus_message *m) {
        sd_bus_message *reply = NULL;

        ck_assert_int_ge(sd_bus_call_async(client, NULL, m, on_reply, &reply, 5 * 1000 * 1000), 0);
        for (int i = 0; i < 1000 && !reply; i++)
                ck_assert_int_ge(sd_event_run(event, 100 * 1000), 0);
        ck_assert_ptr_nonnull(reply);
        return reply;
}

static sd_bus_message *call(const char *member, const char *types, ...) {
        g_autoptr(sd_bus_message) m = NULL;
        va_list ap;

        ck_assert_int_ge(sd_bus_message_new_method_call(client, &m, NULL, SB_PATH, SB_INTERFACE, member), 0);
        va_start(ap, types);
        ck_assert_int_ge(sd_bus_message_appendv(m, types, ap), 0);
        va_end(ap);
        return roundtrip(m);
}

static sd_bus_message *call_properties(const char *property) {
        g_autoptr(sd_bus_message) m = NULL;

        ck_assert_int_ge(sd_bus_message_new_method_call(client, &m, NULL, SB_PATH, "org.freedesktop.DBus.Properties",
                                                        "Get"), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "ss", SB_INTERFACE, property), 0);
        return roundtrip(m);
}

static void assert_error(sd_bus_message *reply, const char *name, const char *mentions) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        ck_assert_ptr_nonnull(e);
        ck_assert_str_eq(e->name, name);
        if (mentions)
                ck_assert_msg(strstr(e->message, mentions), "%s does not mention %s", e->message, mentions);
}

static void set(const char *key, const void *value, size_t len) {
        ck_assert_int_ge(hub_set(hub, NULL, key, value, len, NULL), 0);
}

START_TEST(test_get_list_stat)
{
        g_autoptr(sd_bus_message) r1 = NULL, r2 = NULL, r3 = NULL, r4 = NULL;
        const char *value, *key, *s;
        const void *bytes;
        size_t len;
        uint64_t rev, size, modified;

        set("theme", "dark", 4);
        set("blob", "\x00\xff", 2);

        r1 = call("Get", "s", "theme");
        ck_assert_int_ge(sd_bus_message_read(r1, "st", &value, &rev), 0);
        ck_assert_str_eq(value, "dark");
        ck_assert_uint_eq(rev, 1);

        r2 = call("GetBinary", "s", "blob");
        ck_assert_int_ge(sd_bus_message_read_array(r2, 'y', &bytes, &len), 0);
        ck_assert_uint_eq(len, 2);
        ck_assert_int_eq(memcmp(bytes, "\x00\xff", 2), 0);

        /* Rows by the Fields annotation; a value that is not text is listed as "". */
        r3 = call("List", "s", "");
        ck_assert_int_ge(sd_bus_message_enter_container(r3, 'a', "(sst)"), 0);
        ck_assert_int_gt(sd_bus_message_read(r3, "(sst)", &key, &s, &rev), 0);
        ck_assert_str_eq(key, "blob");
        ck_assert_str_eq(s, "");
        ck_assert_int_gt(sd_bus_message_read(r3, "(sst)", &key, &s, &rev), 0);
        ck_assert_str_eq(key, "theme");
        ck_assert_str_eq(s, "dark");
        ck_assert_int_eq(sd_bus_message_read(r3, "(sst)", &key, &s, &rev), 0);

        r4 = call("Stat", "s", "theme");
        ck_assert_int_ge(sd_bus_message_read(r4, "ttt", &rev, &size, &modified), 0);
        ck_assert_uint_eq(size, 4);
        ck_assert_int_ge(sd_bus_message_enter_container(r4, 'a', "{sv}"), 0);
        ck_assert_int_eq(sd_bus_message_at_end(r4, false), 1);   /* written by the hub itself */
}
END_TEST

START_TEST(test_errors_by_name)
{
        g_autoptr(sd_bus_message) r1 = NULL, r2 = NULL, r3 = NULL, r4 = NULL;

        set("blob", "\x00\xff", 2);
        r1 = call("Get", "s", "none");
        assert_error(r1, "org.switchboard.Hub1.Error.NotFound", "none");
        r2 = call("Get", "s", "blob");
        assert_error(r2, "org.switchboard.Hub1.Error.NotText", "GetBinary");
        r3 = call("Peek", "s", "bad..queue");
        assert_error(r3, "org.switchboard.Hub1.Error.InvalidQueue", "bad..queue");
        /* An operation that needs a client needs a sender: none on a peer-to-peer connection. */
        r4 = call("Set", "ss", "k", "v");
        assert_error(r4, SD_BUS_ERROR_ACCESS_DENIED, "bus name");
}
END_TEST

START_TEST(test_queues_and_info)
{
        g_autoptr(sd_bus_message) r1 = NULL, r2 = NULL, r3 = NULL, r4 = NULL;
        const void *payload;
        const char *name, *k;
        size_t len;
        uint64_t id, job;
        uint32_t attempts, ready, reserved, delayed, dead, waiting, n;
        bool found_version = false;

        ck_assert_int_ge(hub_push(hub, NULL, "jobs", "work", 4, 0, &job), 0);
        r1 = call("Peek", "s", "jobs");
        ck_assert_int_ge(sd_bus_message_read(r1, "t", &id), 0);
        ck_assert_int_ge(sd_bus_message_read_array(r1, 'y', &payload, &len), 0);
        ck_assert_int_ge(sd_bus_message_read(r1, "u", &attempts), 0);
        ck_assert_uint_eq(id, job);
        ck_assert_uint_eq(len, 4);

        r2 = call("ListQueues", "");
        ck_assert_int_ge(sd_bus_message_enter_container(r2, 'a', "(suuuuu)"), 0);
        ck_assert_int_gt(sd_bus_message_read(r2, "(suuuuu)", &name, &ready, &reserved, &delayed, &dead, &waiting),
                         0);
        ck_assert_str_eq(name, "jobs");
        ck_assert_uint_eq(ready, 1);

        r3 = call("Purge", "s", "jobs");
        ck_assert_int_ge(sd_bus_message_read(r3, "u", &n), 0);
        ck_assert_uint_eq(n, 1);

        r4 = call("GetInfo", "");
        ck_assert_int_ge(sd_bus_message_enter_container(r4, 'a', "{sv}"), 0);
        while (sd_bus_message_enter_container(r4, 'e', "sv") > 0) {
                ck_assert_int_ge(sd_bus_message_read(r4, "s", &k), 0);
                if (strcmp(k, "version") == 0) {
                        const char *v;

                        ck_assert_int_ge(sd_bus_message_read(r4, "v", "s", &v), 0);
                        found_version = true;
                } else
                        ck_assert_int_ge(sd_bus_message_skip(r4, "v"), 0);
                ck_assert_int_ge(sd_bus_message_exit_container(r4), 0);
        }
        ck_assert(found_version);
}
END_TEST

START_TEST(test_properties)
{
        g_autoptr(sd_bus_message) r1 = NULL, r2 = NULL;
        uint32_t keys;
        uint64_t start;

        set("a", "1", 1);
        set("b", "2", 1);
        r1 = call_properties("Keys");
        ck_assert_int_ge(sd_bus_message_read(r1, "v", "u", &keys), 0);
        ck_assert_uint_eq(keys, 2);
        r2 = call_properties("StartTime");
        ck_assert_int_ge(sd_bus_message_read(r2, "v", "t", &start), 0);
        ck_assert_uint_eq(start, 42);
}
END_TEST

/*
 * A peer's calls are answered in the order it sent them, even while its
 * first call waits for its credentials: a Get (which needs no client)
 * sent right after a Set sees the Set. With a sender on the calls (which a
 * peer-to-peer connection believes when trusted), the hub asks the other
 * end for the credentials, and the other end answers only when the loop
 * runs, after both calls arrived.
 */
START_TEST(test_calls_in_order_while_credentials_pending)
{
        g_autoptr(sd_bus_message) set_call = NULL, get_call = NULL;
        sd_bus_message *set_reply = NULL, *get_reply = NULL;
        const char *value;
        uint64_t rev;

        ck_assert_int_ge(sd_bus_message_new_method_call(client, &set_call, NULL, SB_PATH, SB_INTERFACE, "Set"), 0);
        ck_assert_int_ge(sd_bus_message_set_sender(set_call, ":1.5"), 0);
        ck_assert_int_ge(sd_bus_message_append(set_call, "ss", "theme", "dark"), 0);
        ck_assert_int_ge(sd_bus_message_new_method_call(client, &get_call, NULL, SB_PATH, SB_INTERFACE, "Get"), 0);
        ck_assert_int_ge(sd_bus_message_set_sender(get_call, ":1.5"), 0);
        ck_assert_int_ge(sd_bus_message_append(get_call, "s", "theme"), 0);

        ck_assert_int_ge(sd_bus_call_async(client, NULL, set_call, on_reply, &set_reply, 5 * 1000 * 1000), 0);
        ck_assert_int_ge(sd_bus_call_async(client, NULL, get_call, on_reply, &get_reply, 5 * 1000 * 1000), 0);
        for (int i = 0; i < 1000 && !(set_reply && get_reply); i++)
                ck_assert_int_ge(sd_event_run(event, 100 * 1000), 0);
        ck_assert_ptr_nonnull(set_reply);
        ck_assert_ptr_nonnull(get_reply);
        ck_assert_msg(!sd_bus_message_is_method_error(set_reply, NULL), "Set failed: %s",
                      sd_bus_message_get_error(set_reply)->message);
        ck_assert_msg(!sd_bus_message_is_method_error(get_reply, NULL), "Get overtook the Set before it: %s",
                      sd_bus_message_get_error(get_reply)->message);
        ck_assert_int_ge(sd_bus_message_read(get_reply, "st", &value, &rev), 0);
        ck_assert_str_eq(value, "dark");
        sd_bus_message_unref(set_reply);
        sd_bus_message_unref(get_reply);
}
END_TEST

static void setup_trusted(void) {
        server_trusted = true;
        setup();
        server_trusted = false;
}

/* Broadcast signals */

#define INTERVAL_MS 200
#define INTERVAL_USEC (INTERVAL_MS * 1000)

static void setup_conflated(void) {
        setup_with(&(DbusConfig) { .broadcast = true, .broadcast_conflate = DBUS_CONFLATE_ALWAYS,
                                   .broadcast_interval_ms = INTERVAL_MS });
}

static void setup_every(void) {
        setup_with(&(DbusConfig) { .broadcast = true, .broadcast_conflate = DBUS_CONFLATE_NEVER,
                                   .broadcast_interval_ms = INTERVAL_MS });
}

/* Match rules that cannot receive a broadcast Message of the hub's. */
#define RULES_UNHEARD \
        "type='method_call'", \
        "type='signal',interface='org.example.Other',member='Message'", \
        "type='signal',interface='org.switchboard.Hub1',member='KeyChanged'", \
        "type='signal',sender='org.example.Other'", \
        "type='signal',path='/org/switchboard/Hub2'", \
        "type='signal',path_namespace='/org/switch'", \
        "type='signal',destination=':1.7',interface='org.switchboard.Hub1'"

static const char *const rules_unheard[] = { RULES_UNHEARD, NULL };

/* Those, and three that can: a listener on every signal, an applet's, and one by sender and namespace. */
static const char *const rules_heard[] = {
        RULES_UNHEARD,
        "type='signal'",
        "type='signal',interface='org.switchboard.Hub1',member='MessageBinary',arg0namespace='a,b\\'c'",
        "sender='org.switchboard.Hub1',path_namespace='/org/switchboard'",
        NULL
};

/* Rules for some topics only: the namespace "a" (a, a.x, not ab.x) and the topic "b.exact". */
static const char *const rules_topics[] = {
        RULES_UNHEARD,
        "type='signal',interface='org.switchboard.Hub1',member='Message',arg0namespace='a'",
        "type='signal',interface='org.switchboard.Hub1',arg0='b.exact'",
        NULL
};

static const char *const *fake_rules;

/* The bus driver's Debug.Stats.GetAllMatchRules, played by the client: one connection with fake_rules. */
static int fake_get_all_match_rules(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autoptr(sd_bus_message) reply = NULL;

        ck_assert_int_ge(sd_bus_message_new_method_return(m, &reply), 0);
        ck_assert_int_ge(sd_bus_message_open_container(reply, 'a', "{sas}"), 0);
        ck_assert_int_ge(sd_bus_message_open_container(reply, 'e', "sas"), 0);
        ck_assert_int_ge(sd_bus_message_append(reply, "s", ":1.7"), 0);
        ck_assert_int_ge(sd_bus_message_append_strv(reply, (char **) fake_rules), 0);
        ck_assert_int_ge(sd_bus_message_close_container(reply), 0);
        ck_assert_int_ge(sd_bus_message_close_container(reply), 0);
        return sd_bus_send(NULL, reply, NULL);
}

static const sd_bus_vtable fake_stats_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("GetAllMatchRules", "", "a{sas}", fake_get_all_match_rules, 0),
        SD_BUS_VTABLE_END
};

static void setup_auto_with(const char *const *rules, uint32_t interval_ms) {
        setup_with(&(DbusConfig) { .broadcast = true, .broadcast_conflate = DBUS_CONFLATE_AUTO,
                                   .broadcast_interval_ms = interval_ms });
        fake_rules = rules;
        ck_assert_int_ge(sd_bus_add_object_vtable(client, NULL, "/org/freedesktop/DBus",
                                                  "org.freedesktop.DBus.Debug.Stats", fake_stats_vtable, NULL), 0);
}

/* AUTO, heard, with a window of a minute: what goes before that went because the bus caught up. */
static void setup_auto_heard(void) {
        setup_auto_with(rules_heard, 60 * 1000);
}

static void setup_auto_unheard(void) {
        setup_auto_with(rules_unheard, INTERVAL_MS);
}

static void setup_auto_topics(void) {
        setup_auto_with(rules_topics, INTERVAL_MS);
}

static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *topic, *payload;
        uint64_t seq;

        ck_assert_int_ge(sd_bus_message_read(m, "sst", &topic, &payload, &seq), 0);
        g_ptr_array_add(userdata, g_strdup_printf("%s=%s@%" PRIu64, topic, payload, seq));
        return 0;
}

static GPtrArray *watch_messages(void) {
        GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);

        ck_assert_int_ge(sd_bus_match_signal(client, NULL, NULL, SB_PATH, SB_INTERFACE, "Message", on_message, seen), 0);
        return seen;
}

static void publish(const char *topic, const char *payload) {
        ck_assert_int_ge(hub_publish(hub, NULL, topic, payload, strlen(payload), false, NULL), 0);
}

/* The "dbus" counter @key of hub.info. */
static uint64_t dbus_stat(const char *key) {
        g_autoptr(GVariant) info = op_info_dict(hub, NULL);
        g_autoptr(GVariant) d = g_variant_lookup_value(info, "dbus", G_VARIANT_TYPE("a{st}"));
        uint64_t v = 0;

        ck_assert_ptr_nonnull(d);
        ck_assert_msg(g_variant_lookup(d, key, "t", &v), "no %s", key);
        return v;
}

/* Run the loop, sending broadcasts after each iteration as the daemon does, until @n were seen. */
static void run_until_seen(GPtrArray *seen, guint n) {
        int64_t deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;

        dbus_service_flush(service);
        while (seen->len < n && g_get_monotonic_time() < deadline) {
                ck_assert_int_ge(sd_event_run(event, 50 * 1000), 0);
                dbus_service_flush(service);
        }
        ck_assert_uint_eq(seen->len, n);
}

START_TEST(test_broadcast_conflated)
{
        g_autoptr(GPtrArray) seen = watch_messages();

        /* A quiet topic's first message goes at once; the rest of its window keeps only the last. */
        for (int i = 1; i <= 5; i++)
                publish("a.x", (char[]) { (char) ('0' + i), 0 });
        publish("b.y", "1");
        dbus_service_flush(service);
        ck_assert_uint_eq(dbus_stat("broadcast_signals"), 2);
        ck_assert_uint_eq(dbus_stat("broadcast_conflated"), 3);        /* 2, 3 and 4 */
        run_until_seen(seen, 2);
        ck_assert_str_eq(g_ptr_array_index(seen, 0), "a.x=1@1");
        ck_assert_str_eq(g_ptr_array_index(seen, 1), "b.y=1@6");

        /* At the window's end the last one goes, and nothing else. */
        run_until_seen(seen, 3);
        ck_assert_str_eq(g_ptr_array_index(seen, 2), "a.x=5@5");
        ck_assert_uint_eq(dbus_stat("broadcast_signals"), 3);

        /* Quiet for a whole window, the topic is forgotten: its next message goes at once again. */
        uint64_t now = g_get_monotonic_time(), until = now + 2 * INTERVAL_USEC + 20 * 1000;
        for (; now < until; now = g_get_monotonic_time())
                ck_assert_int_ge(sd_event_run(event, until - now), 0);
        publish("a.x", "6");
        dbus_service_flush(service);
        ck_assert_uint_eq(dbus_stat("broadcast_signals"), 4);
        run_until_seen(seen, 4);
        ck_assert_str_eq(g_ptr_array_index(seen, 3), "a.x=6@7");
        ck_assert_uint_eq(dbus_stat("broadcast_conflated"), 3);
}
END_TEST

START_TEST(test_broadcast_every_message)
{
        g_autoptr(GPtrArray) seen = watch_messages();

        for (int i = 1; i <= 5; i++)
                publish("a.x", (char[]) { (char) ('0' + i), 0 });
        run_until_seen(seen, 5);
        ck_assert_str_eq(g_ptr_array_index(seen, 4), "a.x=5@5");
        ck_assert_uint_eq(dbus_stat("broadcast_conflated"), 0);
        ck_assert_uint_eq(dbus_stat("broadcast_signals"), 5);
}
END_TEST

static void publish_number(const char *topic, int n) {
        g_autofree char *payload = g_strdup_printf("%d", n);

        publish(topic, payload);
}

/* The first broadcast, "@topic=0", goes at once and asks the bus who listens: @rules rules can receive some. */
static void first_broadcast(GPtrArray *seen, const char *topic, uint64_t rules) {
        publish_number(topic, 0);
        run_until_seen(seen, 1);
        for (int i = 0; i < 100 && dbus_stat("broadcast_listeners") == 0; i++)
                ck_assert_int_ge(sd_event_run(event, 50 * 1000), 0);
        ck_assert_uint_eq(dbus_stat("broadcast_listeners"), rules);
        dbus_service_flush(service);
}

START_TEST(test_broadcast_conflated_while_behind)
{
        g_autoptr(GPtrArray) seen = watch_messages();
        g_autofree char *big = g_strnfill(64 * 1024, 'x');
        uint64_t queued = 0, n;        /* n: signals sent so far, which are the messages so far */

        /* The first broadcast asks the bus who listens: three rules can receive it. */
        first_broadcast(seen, "a.x", 3);

        /* While the bus takes them, every message goes (seq 2 to 4). */
        for (int i = 1; i <= 3; i++)
                publish_number("a.x", i);
        run_until_seen(seen, 4);
        ck_assert_str_eq(g_ptr_array_index(seen, 3), "a.x=3@4");
        ck_assert_uint_eq(dbus_stat("broadcast_conflated"), 0);
        n = 4;

        /* Signals of 64 KiB that the client does not read, until the socket is full and sd-bus holds
         * one: the bus is behind (sd-bus makes the buffer megabytes, so a gigabyte means a bug). */
        while (queued == 0) {
                g_autofree char *topic = g_strdup_printf("fill.%" PRIu64, n++);

                ck_assert_uint_lt(n, 16 * 1024);
                publish(topic, big);
                dbus_service_flush(service);
                ck_assert_int_ge(sd_bus_get_n_queued_write(server, &queued), 0);
        }

        /* Behind, a topic's messages replace each other and none goes yet. */
        for (int i = 4; i <= 8; i++)
                publish_number("a.x", i);
        dbus_service_flush(service);
        ck_assert_uint_eq(dbus_stat("broadcast_signals"), n);
        ck_assert_uint_eq(dbus_stat("broadcast_conflated"), 4);

        /* Once the bus has caught up, the topic's current value goes, long before its window ends. */
        run_until_seen(seen, n + 1);
        g_autofree char *last = g_strdup_printf("a.x=8@%" PRIu64, n + 5);
        ck_assert_str_eq(g_ptr_array_index(seen, n), last);

        /* And the topic's next message goes at once again. */
        publish_number("a.x", 9);
        dbus_service_flush(service);
        ck_assert_uint_eq(dbus_stat("broadcast_signals"), n + 2);
        run_until_seen(seen, n + 2);
        g_autofree char *next = g_strdup_printf("a.x=9@%" PRIu64, n + 6);
        ck_assert_str_eq(g_ptr_array_index(seen, n + 1), next);
        ck_assert_uint_eq(dbus_stat("broadcast_conflated"), 4);
}
END_TEST

START_TEST(test_broadcast_auto_unheard)
{
        g_autoptr(GPtrArray) seen = watch_messages();

        /* Nobody can receive them: the first goes at once and asks, the rest wait for the window's end. */
        for (int i = 1; i <= 5; i++)
                publish_number("a.x", i);
        run_until_seen(seen, 1);
        ck_assert_str_eq(g_ptr_array_index(seen, 0), "a.x=1@1");
        run_until_seen(seen, 2);
        ck_assert_str_eq(g_ptr_array_index(seen, 1), "a.x=5@5");
        ck_assert_uint_eq(dbus_stat("broadcast_conflated"), 3);
        ck_assert_uint_eq(dbus_stat("broadcast_listeners"), 0);
}
END_TEST

/* The Message signals of @topic seen so far, as "PAYLOAD@SEQ" joined by spaces. */
static char *seen_of(GPtrArray *seen, const char *topic) {
        g_autoptr(GString) s = g_string_new(NULL);
        size_t n = strlen(topic);

        for (guint i = 0; i < seen->len; i++) {
                const char *m = g_ptr_array_index(seen, i);

                if (strncmp(m, topic, n) == 0 && m[n] == '=')
                        g_string_append_printf(s, "%s%s", s->len ? " " : "", m + n + 1);
        }
        return g_string_free(g_steal_pointer(&s), FALSE);
}

START_TEST(test_broadcast_auto_topics)
{
        static const char *const topics[] = { "a.x", "ab.x", "b.exact", "b.exact.more", "c.y" };
        g_autoptr(GPtrArray) seen = watch_messages();
        uint64_t signals;

        first_broadcast(seen, "a", 2);
        signals = dbus_stat("broadcast_signals");

        /* Three rounds over five topics (seq 2 to 16): the listened ones go at once, every message; the
         * others as always: the first at once, the last at the window's end. */
        for (int i = 1; i <= 3; i++)
                for (size_t t = 0; t < G_N_ELEMENTS(topics); t++)
                        publish_number(topics[t], i);
        dbus_service_flush(service);
        ck_assert_uint_eq(dbus_stat("broadcast_signals") - signals, 3 + 3 + 3);
        ck_assert_uint_eq(dbus_stat("broadcast_conflated"), 3);
        run_until_seen(seen, 1 + 9 + 3);

        g_autofree char *ax = seen_of(seen, "a.x"), *abx = seen_of(seen, "ab.x"), *b = seen_of(seen, "b.exact"),
                        *bm = seen_of(seen, "b.exact.more"), *cy = seen_of(seen, "c.y");
        ck_assert_str_eq(ax, "1@2 2@7 3@12");
        ck_assert_str_eq(b, "1@4 2@9 3@14");
        ck_assert_str_eq(abx, "1@3 3@13");
        ck_assert_str_eq(bm, "1@5 3@15");
        ck_assert_str_eq(cy, "1@6 3@16");
}
END_TEST

static Suite *dbus_suite(void) {
        Suite *s = suite_create("dbus");
        TCase *tc = tcase_create("face");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_get_list_stat);
        tcase_add_test(tc, test_errors_by_name);
        tcase_add_test(tc, test_queues_and_info);
        tcase_add_test(tc, test_properties);
        suite_add_tcase(s, tc);

        tc = tcase_create("senders");
        tcase_add_checked_fixture(tc, setup_trusted, teardown);
        tcase_add_test(tc, test_calls_in_order_while_credentials_pending);
        suite_add_tcase(s, tc);

        tc = tcase_create("broadcast-conflated");
        tcase_add_checked_fixture(tc, setup_conflated, teardown);
        tcase_add_test(tc, test_broadcast_conflated);
        suite_add_tcase(s, tc);

        tc = tcase_create("broadcast-auto");
        tcase_add_checked_fixture(tc, setup_auto_heard, teardown);
        tcase_add_test(tc, test_broadcast_conflated_while_behind);
        suite_add_tcase(s, tc);

        tc = tcase_create("broadcast-auto-topics");
        tcase_add_checked_fixture(tc, setup_auto_topics, teardown);
        tcase_add_test(tc, test_broadcast_auto_topics);
        suite_add_tcase(s, tc);

        tc = tcase_create("broadcast-auto-unheard");
        tcase_add_checked_fixture(tc, setup_auto_unheard, teardown);
        tcase_add_test(tc, test_broadcast_auto_unheard);
        suite_add_tcase(s, tc);

        tc = tcase_create("broadcast-every");
        tcase_add_checked_fixture(tc, setup_every, teardown);
        tcase_add_test(tc, test_broadcast_every_message);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(dbus_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
