/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * demo.c: libswitchboard in a few calls, the same demo as the Python and
 * Node examples: hub info, subscribe, publish text and bytes, watch, set,
 * get, and the error a bad topic gets.
 *
 *   cc demo.c -o demo $(pkg-config --cflags --libs switchboard)
 *   ./demo [SOCKET]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <switchboard/switchboard.h>

static int events;

static void on_event(sb_client *c, const sb_event *e, void *userdata) {
        const char *lang = userdata;

        events++;
        if (e->kind == SB_EVENT_MESSAGE && !e->binary)
                printf("message %s: %s (seq %llu, from %s)\n", e->topic, (const char *) e->data,
                       (unsigned long long) e->seq, e->sender ? e->sender->transport : "?");
        else if (e->kind == SB_EVENT_MESSAGE) {
                printf("message %s: ", e->topic);
                for (size_t i = 0; i < e->size; i++)
                        printf("%02x", ((const unsigned char *) e->data)[i]);
                printf(" bytes (seq %llu)\n", (unsigned long long) e->seq);
        } else if (e->kind == SB_EVENT_KEY)
                printf("key_changed %s = %s (revision %llu)\n", e->topic, (const char *) e->data,
                       (unsigned long long) e->seq);
        (void) lang;
}

/* Wait for the next event (dispatched by sb_wait()). */
static int next_event(sb_client *c) {
        int before = events, r;

        while (events == before) {
                r = sb_wait(c, 10000);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int fail(sb_client *c, const char *what, int r) {
        fprintf(stderr, "demo: %s: %s (%s)\n", what, strerror(-r), sb_error_message(c));
        sb_close(c);
        return EXIT_FAILURE;
}

int main(int argc, char *argv[]) {
        sb_client *c;
        char *info, *value;
        uint64_t sub, seq, rev;
        size_t size;
        int r;

        r = sb_connect(argc > 1 ? argv[1] : NULL, &c);
        if (r < 0) {
                fprintf(stderr, "demo: cannot connect to the hub: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }

        r = sb_info(c, &info);
        if (r < 0)
                return fail(c, "hub.info", r);
        /* A real program parses the JSON; the demo picks two members by hand. */
        {
                const char *v = strstr(info, "\"version\":\""), *n = strstr(info, "\"clients\":");
                printf("connected to hub %.*s (%d clients)\n", v ? (int) strcspn(v + 11, "\"") : 1,
                       v ? v + 11 : "?", n ? atoi(n + 10) : -1);
        }
        free(info);

        r = sb_subscribe(c, "demo.>", 0, on_event, "c", &sub);
        if (r < 0)
                return fail(c, "subscribe", r);
        printf("subscribed to demo.> as %llu\n", (unsigned long long) sub);

        r = sb_publish(c, "demo.greeting", "hello from c", strlen("hello from c"), 0, &seq);
        if (r < 0)
                return fail(c, "publish", r);
        printf("published demo.greeting seq %llu\n", (unsigned long long) seq);
        if ((r = next_event(c)) < 0)
                return fail(c, "waiting for the message", r);

        r = sb_publish(c, "demo.binary", "\x00\xff\x10", 3, 0, NULL);
        if (r < 0 || (r = next_event(c)) < 0)
                return fail(c, "publish", r);

        r = sb_watch(c, "demo.", on_event, "c", NULL);
        if (r < 0)
                return fail(c, "watch", r);
        r = sb_set(c, "demo.counter", "c", 1, &rev);
        if (r < 0)
                return fail(c, "set", r);
        printf("set demo.counter revision %llu\n", (unsigned long long) rev);
        if ((r = next_event(c)) < 0)
                return fail(c, "waiting for the key change", r);

        r = sb_get(c, "demo.counter", (void **) &value, &size, &rev);
        if (r < 0)
                return fail(c, "get", r);
        printf("get demo.counter = %s (revision %llu)\n", value, (unsigned long long) rev);
        free(value);

        r = sb_publish(c, "demo..bad", "x", 1, 0, NULL);
        printf("error %d %s\n", sb_error_code(c), sb_error_name(c) ?: "(none)");

        sb_close(c);
        return r == -EINVAL ? EXIT_SUCCESS : EXIT_FAILURE;
}
