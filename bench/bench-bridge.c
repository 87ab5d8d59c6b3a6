/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-bridge.c: the measuring client of bench/run-bridge. One path, one
 * line of results:
 *
 *   bench-bridge nats --url URL ...          a NATS client → NATS → a NATS client
 *   bench-bridge hub --pub SOCK --sub SOCK   a hub client → (hub, bridge, NATS,
 *                                            bridge, hub) → a hub client; with
 *                                            --pub = --sub and an unexported
 *                                            --topic, the hub's local fan-out
 *
 * Rate: a publisher thread sends --count messages as fast as the path takes
 * them (pipelined: SB_NO_REPLY, or libnats' buffered publish) while the main
 * thread receives; rate = received / (last arrival - first send); what never
 * arrived (2 s without a message) is reported as lost. Latency: --latency
 * round trips with one message in flight: publish, wait for its arrival;
 * p50/p99 of send → arrival (one clock, one machine). Payloads are text:
 * the send time in ns, padded with 'x' to --size bytes.
 *
 * Output: "rate=R received=N lost=L p50_us=X p99_us=Y".
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <nats/nats.h>
#include <switchboard/switchboard.h>

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static char *opt_url = "nats://127.0.0.1:4222", *opt_pub = NULL, *opt_sub = NULL, *opt_topic = "bench.bridge";
static int opt_count = 100000, opt_size = 32, opt_latency = 2000;

/* The payload: the send time, then 'x' up to the size. */
static size_t payload_fill(char *buf, size_t size) {
        int n = snprintf(buf, size + 1, "%" PRIu64, now_ns());

        if ((size_t) n < size)
                memset(buf + n, 'x', size - (size_t) n);
        buf[size] = '\0';
        return size;
}

typedef struct Recv {
        uint64_t received, first_send, last_arrival, last_sent_ns;
        GArray *lat;            /* uint64_t ns, latency mode */
} Recv;

static void recv_one(Recv *r, const char *data) {
        uint64_t t = now_ns(), sent = strtoull(data, NULL, 10);

        r->received++;
        r->last_arrival = t;
        r->last_sent_ns = sent;
        if (r->lat)
                g_array_append_val(r->lat, (uint64_t) { t - sent });
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static double percentile_us(GArray *a, double p) {
        if (a->len == 0)
                return 0;
        qsort(a->data, a->len, sizeof(uint64_t), cmp_u64);
        return g_array_index(a, uint64_t, (guint) ((a->len - 1) * p)) / 1000.0;
}

/* ---- NATS --------------------------------------------------------------- */

static natsConnection *nats_connect(bool asap) {
        natsOptions *o = NULL;
        natsConnection *nc = NULL;

        if (natsOptions_Create(&o) != NATS_OK || natsOptions_SetURL(o, opt_url) != NATS_OK ||
            natsOptions_SetSendAsap(o, asap) != NATS_OK || natsConnection_Connect(&nc, o) != NATS_OK) {
                fprintf(stderr, "bench-bridge: cannot connect to %s: %s\n", opt_url, nats_GetLastError(NULL));
                exit(1);
        }
        natsOptions_Destroy(o);
        return nc;
}

static void *nats_publisher(void *userdata) {
        natsConnection *nc = userdata;
        char buf[65536];

        for (int i = 0; i < opt_count; i++) {
                payload_fill(buf, (size_t) opt_size);
                while (natsConnection_Publish(nc, opt_topic, buf, opt_size) != NATS_OK)
                        natsConnection_Flush(nc);
        }
        natsConnection_Flush(nc);
        return NULL;
}

static void run_nats(Recv *rate, Recv *lat) {
        natsConnection *pub = nats_connect(false), *sub_nc = nats_connect(true), *pub1 = nats_connect(true);
        natsSubscription *sub = NULL;
        natsMsg *m = NULL;
        pthread_t th;
        char buf[65536];

        natsConnection_SubscribeSync(&sub, sub_nc, opt_topic);
        natsSubscription_SetPendingLimits(sub, -1, -1);
        natsConnection_Flush(sub_nc);

        rate->first_send = now_ns();
        pthread_create(&th, NULL, nats_publisher, pub);
        while (rate->received < (uint64_t) opt_count && natsSubscription_NextMsg(&m, sub, 2000) == NATS_OK) {
                recv_one(rate, natsMsg_GetData(m));
                natsMsg_Destroy(m);
        }
        pthread_join(th, NULL);

        for (int i = 0; i < opt_latency; i++) {
                payload_fill(buf, (size_t) opt_size);
                natsConnection_Publish(pub1, opt_topic, buf, opt_size);
                if (natsSubscription_NextMsg(&m, sub, 2000) != NATS_OK)
                        break;
                recv_one(lat, natsMsg_GetData(m));
                natsMsg_Destroy(m);
        }
        natsSubscription_Destroy(sub);
        natsConnection_Destroy(pub);
        natsConnection_Destroy(pub1);
        natsConnection_Destroy(sub_nc);
}

/* ---- the hub ------------------------------------------------------------- */

static void on_message(sb_client *c, const sb_event *e, void *userdata) {
        if (e->kind == SB_EVENT_MESSAGE)
                recv_one(userdata, e->data);
        else if (e->kind == SB_EVENT_GAP)
                fprintf(stderr, "bench-bridge: the hub dropped %" PRIu64 " messages for the receiver\n",
                        e->last_seq - e->first_seq + 1);
}

static sb_client *hub_connect(const char *path) {
        sb_client *c = NULL;
        int r = sb_connect(path, &c);

        if (r < 0) {
                fprintf(stderr, "bench-bridge: cannot connect to %s: %s\n", path, strerror(-r));
                exit(1);
        }
        return c;
}

static void *hub_publisher(void *userdata) {
        sb_client *c = userdata;
        char buf[65536];

        for (int i = 0; i < opt_count; i++) {
                payload_fill(buf, (size_t) opt_size);
                if (sb_publish(c, opt_topic, buf, (size_t) opt_size, SB_NO_REPLY, NULL) < 0) {
                        fprintf(stderr, "bench-bridge: publish failed: %s\n", sb_error_message(c));
                        break;
                }
        }
        sb_flush(c);
        return NULL;
}

/* Wait for messages until @r has @want or nothing came for 2 s (sb_wait()
 * also returns 0 after reading part of a frame: that is not idleness). */
static void hub_receive(sb_client *sub, Recv *r, uint64_t want) {
        uint64_t idle_since = now_ns(), seen = r->received;

        while (r->received < want) {
                int n = sb_wait(sub, 200);

                if (n < 0) {
                        fprintf(stderr, "bench-bridge: the receiver's hub went away: %s\n", strerror(-n));
                        exit(1);
                }
                if (r->received != seen) {
                        seen = r->received;
                        idle_since = now_ns();
                } else if (now_ns() - idle_since > 2000000000u)
                        return;
        }
}

static void run_hub(Recv *rate, Recv *lat) {
        sb_client *pub = hub_connect(opt_pub), *sub = hub_connect(opt_sub);
        Recv warm = {};
        pthread_t th;
        char buf[65536];
        int r;

        r = sb_subscribe(sub, opt_topic, 0, on_message, &warm, NULL);
        if (r < 0) {
                fprintf(stderr, "bench-bridge: subscribe failed: %s\n", sb_error_message(sub));
                exit(1);
        }
        /* Until the path carries a message (subscriptions propagate through NATS). */
        for (int i = 0; i < 100 && warm.received == 0; i++) {
                payload_fill(buf, (size_t) opt_size);
                sb_publish(pub, opt_topic, buf, (size_t) opt_size, 0, NULL);
                sb_wait(sub, 100);
        }
        if (warm.received == 0) {
                fprintf(stderr, "bench-bridge: nothing arrives on %s\n", opt_topic);
                exit(1);
        }
        while (sb_wait(sub, 200) > 0)
                ;               /* the rest of the warm-up */

        sb_close(sub);
        sub = hub_connect(opt_sub);
        sb_subscribe(sub, opt_topic, 0, on_message, rate, NULL);
        rate->first_send = now_ns();
        pthread_create(&th, NULL, hub_publisher, pub);
        hub_receive(sub, rate, (uint64_t) opt_count);
        pthread_join(th, NULL);
        sb_close(sub);

        sub = hub_connect(opt_sub);
        sb_subscribe(sub, opt_topic, 0, on_message, lat, NULL);
        for (int i = 0; i < opt_latency; i++) {
                uint64_t before = lat->received;

                payload_fill(buf, (size_t) opt_size);
                sb_publish(pub, opt_topic, buf, (size_t) opt_size, SB_NO_REPLY, NULL);
                sb_flush(pub);
                hub_receive(sub, lat, before + 1);
                if (lat->received == before)
                        break;
        }
        sb_close(sub);
        sb_close(pub);
}

int main(int argc, char **argv) {
        GOptionEntry entries[] = {
                { "url", 0, 0, G_OPTION_ARG_STRING, &opt_url, "NATS server", "URL" },
                { "pub", 0, 0, G_OPTION_ARG_STRING, &opt_pub, "hub socket to publish on", "PATH" },
                { "sub", 0, 0, G_OPTION_ARG_STRING, &opt_sub, "hub socket to subscribe on", "PATH" },
                { "topic", 0, 0, G_OPTION_ARG_STRING, &opt_topic, "topic or subject", "TOPIC" },
                { "count", 'n', 0, G_OPTION_ARG_INT, &opt_count, "messages for the rate", "N" },
                { "size", 0, 0, G_OPTION_ARG_INT, &opt_size, "payload bytes (>= 20)", "N" },
                { "latency", 0, 0, G_OPTION_ARG_INT, &opt_latency, "round trips for the latency", "N" },
                {}
        };
        g_autoptr(GOptionContext) ctx = g_option_context_new("nats|hub");
        g_autoptr(GError) error = NULL;
        Recv rate = {}, lat = { .lat = g_array_new(FALSE, FALSE, sizeof(uint64_t)) };
        double secs;

        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 2 || opt_size < 20 || opt_size > 60000) {
                fprintf(stderr, "bench-bridge: %s\n", error ? error->message : "usage: bench-bridge nats|hub ...");
                return 2;
        }
        if (g_str_equal(argv[1], "nats"))
                run_nats(&rate, &lat);
        else if (g_str_equal(argv[1], "hub") && opt_pub && opt_sub)
                run_hub(&rate, &lat);
        else {
                fprintf(stderr, "bench-bridge: nats, or hub with --pub and --sub\n");
                return 2;
        }
        secs = rate.received ? (rate.last_arrival - rate.first_send) / 1e9 : 1;
        printf("rate=%.0f received=%" PRIu64 " lost=%" PRIu64 " p50_us=%.1f p99_us=%.1f\n",
               rate.received / secs, rate.received, (uint64_t) opt_count - rate.received,
               percentile_us(lat.lat, 0.5), percentile_us(lat.lat, 0.99));
        g_array_unref(lat.lat);
        return 0;
}
