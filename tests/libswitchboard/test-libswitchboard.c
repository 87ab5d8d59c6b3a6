/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-libswitchboard.c: libswitchboard against the real hub, on the
 * test's private bus and runtime dir (tests/with-bus.sh). Each test is a
 * forked check test; setup() makes sure a hub runs (the CLI activates it
 * through D-Bus), since one test kills it on purpose.
 *
 * Covered: every operation and its errno/error name, events to the right
 * callbacks, asynchronous requests, pipelined publishes batched into few
 * send() calls (counted by interposing send()), the sd-event and GLib glue
 * (events a blocking call read meanwhile included), and the hub dying in
 * the middle of a call.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <switchboard/glib.h>
#include <switchboard/sd-event.h>
#include <switchboard/switchboard.h>

/* ---- send() counted: the library's calls resolve to the executable's first ---- */

static unsigned long sends;

ssize_t send(int fd, const void *buf, size_t len, int flags) {
        sends++;
        return syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
}

/* ---- fixtures ------------------------------------------------------------------- */

static void ensure_hub(void) {
        const char *cli = getenv("SWITCHBOARD");
        char *cmd;

        ck_assert_ptr_nonnull(cli);
        ck_assert_int_gt(asprintf(&cmd, "'%s' --dbus status >/dev/null", cli), 0);
        ck_assert_int_eq(system(cmd), 0);
        free(cmd);
}

static sb_client *connect_or_fail(void) {
        sb_client *c = NULL;

        ck_assert_int_eq(sb_connect(NULL, &c), 0);
        return c;
}

typedef struct Seen {
        int n;
        sb_event_kind kind[64];
        char topic[64][64];
        char data[64][64];
        size_t size[64];
        uint64_t id[64], seq[64];
        bool retained[64], binary[64];
        int64_t pid[64];
        uint64_t client[64];
        char transport[64][16];
} Seen;

static void record(sb_client *c, const sb_event *e, void *userdata) {
        Seen *s = userdata;
        int i = s->n++;

        ck_assert_int_lt(i, 64);
        s->kind[i] = e->kind;
        snprintf(s->topic[i], sizeof s->topic[i], "%s", e->topic ?: "");
        memcpy(s->data[i], e->data ?: "", e->size < 63 ? e->size : 63);
        s->size[i] = e->size;
        s->id[i] = e->id;
        s->seq[i] = e->kind == SB_EVENT_GAP ? e->first_seq : e->seq;
        s->retained[i] = e->retained;
        s->binary[i] = e->binary;
        s->pid[i] = e->sender ? e->sender->pid : -2;
        s->client[i] = e->sender ? e->sender->client : 0;
        snprintf(s->transport[i], sizeof s->transport[i], "%s", e->sender ? e->sender->transport : "");
}

/* Process @c until @s has @n events. */
static void wait_events(sb_client *c, Seen *s, int n) {
        while (s->n < n)
                ck_assert_int_ge(sb_wait(c, 10000), 0);
}

/* ---- topics -------------------------------------------------------------------- */

START_TEST(test_publish_subscribe)
{
        sb_client *a = connect_or_fail(), *b = connect_or_fail();
        Seen seen = {};
        uint64_t sub, seq, seq2;

        ck_assert_int_eq(sb_publish(b, "lib.pub.kept", "old", 3, SB_RETAIN, NULL), 0);
        ck_assert_int_eq(sb_subscribe(a, "lib.pub.>", SB_WITH_RETAINED, record, &seen, &sub), 0);
        ck_assert_int_eq(sb_publish(b, "lib.pub.text", "hello", 5, 0, &seq), 0);
        ck_assert_int_eq(sb_publish(b, "lib.pub.bin", "\x00\xff", 2, 0, &seq2), 0);
        ck_assert_uint_gt(seq2, seq);
        wait_events(a, &seen, 3);

        ck_assert_int_eq(seen.kind[0], SB_EVENT_MESSAGE);
        ck_assert_str_eq(seen.topic[0], "lib.pub.kept");
        ck_assert(seen.retained[0]);
        ck_assert_str_eq(seen.topic[1], "lib.pub.text");
        ck_assert_str_eq(seen.data[1], "hello");
        ck_assert_uint_eq(seen.seq[1], seq);
        ck_assert_uint_eq(seen.id[1], sub);
        ck_assert(!seen.retained[1] && !seen.binary[1]);
        ck_assert_str_eq(seen.transport[1], "unix");
        ck_assert_int_eq(seen.pid[1], getpid());
        /* hub.info says who the caller is: the id its messages carry as their sender. */
        {
                char *info, *id;

                ck_assert_int_eq(sb_info(b, &info), 0);
                id = strstr(info, "\"client_id\":");
                ck_assert_ptr_nonnull(id);
                ck_assert_uint_eq(strtoull(id + strlen("\"client_id\":"), NULL, 10), seen.client[1]);
                free(info);
        }
        ck_assert(seen.binary[2]);
        ck_assert_uint_eq(seen.size[2], 2);
        ck_assert_mem_eq(seen.data[2], "\x00\xff", 2);

        /* A compact subscription: the same messages, without their sender. */
        ck_assert_int_eq(sb_subscribe(a, "lib.compact", SB_COMPACT, record, &seen, NULL), 0);
        ck_assert_int_eq(sb_publish(b, "lib.compact", "c", 1, 0, &seq), 0);
        wait_events(a, &seen, 4);
        ck_assert_str_eq(seen.topic[3], "lib.compact");
        ck_assert_str_eq(seen.data[3], "c");
        ck_assert_uint_eq(seen.seq[3], seq);
        ck_assert(!seen.retained[3]);
        ck_assert_int_eq(seen.pid[3], -2);         /* no sender */

        ck_assert_int_eq(sb_unsubscribe(a, sub), 0);
        ck_assert_int_eq(sb_unsubscribe(a, sub), -ENOENT);
        ck_assert_str_eq(sb_error_name(a), "org.switchboard.Hub1.Error.NotFound");
        sb_close(a);
        sb_close(b);
}
END_TEST

/* A callback may make blocking calls, but not process the client again. */
static void reenter(sb_client *c, const sb_event *e, void *userdata) {
        int *calls = userdata;
        uint64_t rev;

        ck_assert_int_eq(sb_process(c), -EBUSY);
        ck_assert_int_eq(sb_wait(c, 0), -EBUSY);
        ck_assert_int_eq(sb_set(c, "lib.reenter", e->data, e->size, &rev), 0);
        (*calls)++;
}

START_TEST(test_callbacks_reenter)
{
        sb_client *c = connect_or_fail();
        int calls = 0;
        void *value;

        ck_assert_int_eq(sb_subscribe(c, "lib.reenter", 0, reenter, &calls, NULL), 0);
        ck_assert_int_eq(sb_publish(c, "lib.reenter", "a", 1, 0, NULL), 0);
        ck_assert_int_eq(sb_publish(c, "lib.reenter", "b", 1, 0, NULL), 0);
        while (calls < 2)
                ck_assert_int_ge(sb_wait(c, 10000), 0);
        ck_assert_int_eq(sb_get(c, "lib.reenter", &value, NULL, NULL), 0);
        ck_assert_str_eq(value, "b");
        free(value);
        sb_close(c);
}
END_TEST

START_TEST(test_errors)
{
        sb_client *c = connect_or_fail();
        char *json = NULL;

        ck_assert_int_eq(sb_publish(c, "lib..bad", "x", 1, 0, NULL), -EINVAL);
        ck_assert_str_eq(sb_error_name(c), "org.switchboard.Hub1.Error.InvalidTopic");
        ck_assert_int_eq(sb_error_code(c), -32001);
        ck_assert_ptr_nonnull(strstr(sb_error_message(c), "lib..bad"));

        ck_assert_int_eq(sb_request(c, "no.such.method", NULL, &json), -EOPNOTSUPP);
        ck_assert_ptr_null(sb_error_name(c));
        ck_assert_int_eq(sb_error_code(c), -32601);
        ck_assert_ptr_null(json);

        /* Refused before it is sent: not a JSON object. */
        ck_assert_int_eq(sb_request(c, "hub.info", "[1", &json), -EINVAL);
        ck_assert_int_eq(sb_error_code(c), 0);
        ck_assert_int_eq(sb_publish(c, "lib.\xff", "x", 1, 0, NULL), -EINVAL);

        ck_assert_int_eq(sb_call(c, "lib.nobody", "x", 1, 1000, NULL, NULL), -ENXIO);
        ck_assert_str_eq(sb_error_name(c), "org.switchboard.Hub1.Error.NoServer");

        /* The connection is still good. */
        ck_assert_int_eq(sb_request(c, "hub.info", NULL, &json), 0);
        ck_assert_ptr_nonnull(strstr(json, "\"version\""));
        free(json);
        sb_close(c);
}
END_TEST

/* ---- the store ----------------------------------------------------------------- */

START_TEST(test_store)
{
        sb_client *c = connect_or_fail();
        Seen seen = {};
        uint64_t rev, rev2, got_rev;
        void *value;
        size_t size;

        ck_assert_int_eq(sb_watch(c, "lib.kv.", record, &seen, NULL), 0);
        ck_assert_int_eq(sb_get(c, "lib.kv.a", &value, &size, &rev), -ENOENT);
        ck_assert_int_eq(sb_set(c, "lib.kv.a", "one", 3, &rev), 0);
        ck_assert_int_eq(sb_set_if(c, "lib.kv.a", "two", 3, rev + 100, &rev2), -ESTALE);
        ck_assert_str_eq(sb_error_name(c), "org.switchboard.Hub1.Error.Conflict");
        ck_assert_int_eq(sb_set_if(c, "lib.kv.a", "two", 3, rev, &rev2), 0);
        ck_assert_uint_gt(rev2, rev);
        ck_assert_int_eq(sb_get(c, "lib.kv.a", &value, &size, &got_rev), 0);
        ck_assert_str_eq(value, "two");
        ck_assert_uint_eq(size, 3);
        ck_assert_uint_eq(got_rev, rev2);
        free(value);
        ck_assert_int_eq(sb_delete(c, "lib.kv.a"), 1);
        ck_assert_int_eq(sb_delete(c, "lib.kv.a"), 0);

        /* The changes, in order, read during the calls and dispatched now. */
        wait_events(c, &seen, 3);
        ck_assert_int_eq(seen.kind[0], SB_EVENT_KEY);
        ck_assert_str_eq(seen.data[0], "one");
        ck_assert_uint_eq(seen.seq[0], rev);
        ck_assert_str_eq(seen.data[1], "two");
        ck_assert_str_eq(seen.topic[2], "lib.kv.a");
        sb_close(c);
}
END_TEST

/* ---- queues ---------------------------------------------------------------------- */

START_TEST(test_queue)
{
        sb_client *c = connect_or_fail();
        sb_job job = {}, next = {};
        uint64_t id;

        ck_assert_int_eq(sb_reserve(c, "lib.q", 0, 0, &job), -EAGAIN);
        ck_assert_str_eq(sb_error_name(c), "org.switchboard.Hub1.Error.NoJob");
        ck_assert_int_eq(sb_push(c, "lib.q", "work", 4, 0, &id), 0);
        ck_assert_int_eq(sb_reserve(c, "lib.q", 1000, 0, &job), 0);
        ck_assert_uint_eq(job.id, id);
        ck_assert_str_eq(job.queue, "lib.q");
        ck_assert_str_eq(job.data, "work");
        ck_assert_uint_eq(job.attempts, 1);
        ck_assert_int_eq(sb_nack(c, job.id, 0), 0);
        sb_job_clear(&job);
        ck_assert_int_eq(sb_reserve(c, "lib.q", 1000, 0, &job), 0);
        ck_assert_uint_eq(job.attempts, 2);
        ck_assert_int_eq(sb_ack(c, job.id), 0);
        ck_assert_int_eq(sb_ack(c, job.id), -ENOENT);
        sb_job_clear(&job);

        /* AckNext: the ack and the next job in one round trip; the last ack stands with NoJob. */
        ck_assert_int_eq(sb_push(c, "lib.q", "one", 3, 0, NULL), 0);
        ck_assert_int_eq(sb_push(c, "lib.q", "two", 3, 0, &id), 0);
        ck_assert_int_eq(sb_reserve(c, "lib.q", 0, 0, &job), 0);
        ck_assert_str_eq(job.data, "one");
        ck_assert_int_eq(sb_ack_next(c, job.id + 1000, "lib.q", 0, 0, &job), -ENOENT);
        ck_assert_str_eq(sb_error_name(c), "org.switchboard.Hub1.Error.NotFound");
        ck_assert_int_eq(sb_ack_next(c, job.id, "lib.q", 0, 0, &next), 0);
        ck_assert_uint_eq(next.id, id);
        ck_assert_str_eq(next.queue, "lib.q");
        ck_assert_str_eq(next.data, "two");
        ck_assert_int_eq(sb_ack_next(c, id, "lib.q", 0, 0, &job), -EAGAIN);
        ck_assert_int_eq(sb_ack(c, id), -ENOENT);
        sb_job_clear(&job);
        sb_job_clear(&next);
        sb_close(c);
}
END_TEST

/* ---- request/reply, asynchronous ------------------------------------------------- */

typedef struct Answered {
        int done, error;
        char result[128];
} Answered;

static void on_answer(sb_client *c, int error, const char *json, size_t size, void *userdata) {
        Answered *a = userdata;

        a->done++;
        a->error = error;
        if (json)
                snprintf(a->result, sizeof a->result, "%.*s", (int) size, json);
}

static void serve_upper(sb_client *c, const sb_event *e, void *userdata) {
        char out[64];
        size_t i;

        ck_assert_int_eq(e->kind, SB_EVENT_REQUEST);
        ck_assert_str_eq(e->topic, "lib.upper");
        for (i = 0; i < e->size && i < sizeof out; i++)
                out[i] = (char) (((const char *) e->data)[i] & ~0x20);
        if (e->size == 0)
                ck_assert_int_eq(sb_reply_error(c, e->call, "com.example.Error.Empty", "nothing to do"), 0);
        else
                ck_assert_int_eq(sb_reply(c, e->call, out, i), 0);
}

START_TEST(test_call_async)
{
        sb_client *caller = connect_or_fail(), *server = connect_or_fail();
        Answered ok = {}, err = {};

        ck_assert_int_eq(sb_serve(server, "lib.upper", serve_upper, NULL), 0);
        ck_assert_int_eq(sb_request_async(caller, "call", "{\"name\":\"lib.upper\",\"payload\":\"abc\"}", on_answer,
                                          &ok), 0);
        ck_assert_int_eq(sb_request_async(caller, "call", "{\"name\":\"lib.upper\",\"payload\":\"\"}", on_answer,
                                          &err), 0);
        while (!ok.done || !err.done) {
                ck_assert_int_ge(sb_process(caller), 0);
                ck_assert_int_ge(sb_wait(server, 50), 0);
                ck_assert_int_ge(sb_wait(caller, 50), 0);
        }
        ck_assert_int_eq(ok.error, 0);
        ck_assert_str_eq(ok.result, "{\"payload\":\"ABC\"}");
        ck_assert_int_eq(err.error, -EREMOTEIO);
        ck_assert_int_eq(ok.done + err.done, 2);
        sb_close(caller);
        sb_close(server);
}
END_TEST

typedef struct CallAnswered {
        int done, error;
        char data[64];
        size_t size;
        char error_name[128];
} CallAnswered;

static void on_call_answer(sb_client *c, int error, const void *data, size_t size, void *userdata) {
        CallAnswered *a = userdata;

        a->done++;
        a->error = error;
        a->size = size;
        if (data)
                memcpy(a->data, data, MIN(size, sizeof a->data));
        snprintf(a->error_name, sizeof a->error_name, "%s", sb_error_name(c) ? sb_error_name(c) : "");
}

/* sb_call_async(): the reply's bytes, decoded (text and base64 alike), and the errors of sb_call(). */
START_TEST(test_call_async_bytes)
{
        sb_client *caller = connect_or_fail(), *server = connect_or_fail();
        CallAnswered text = {}, bin = {}, err = {}, nobody = {};
        const char raw[] = { (char) 0xff, 0x01, 0x00, 'a' };

        ck_assert_int_eq(sb_serve(server, "lib.upper", serve_upper, NULL), 0);
        ck_assert_int_eq(sb_call_async(caller, "lib.upper", "abc", 3, 5000, on_call_answer, &text), 0);
        ck_assert_int_eq(sb_call_async(caller, "lib.upper", raw, sizeof raw, 5000, on_call_answer, &bin), 0);
        ck_assert_int_eq(sb_call_async(caller, "lib.upper", "", 0, 5000, on_call_answer, &err), 0);
        ck_assert_int_eq(sb_call_async(caller, "lib.nobody", "x", 1, 5000, on_call_answer, &nobody), 0);
        ck_assert_int_eq(sb_call_async(caller, "bad\xff", "x", 1, 0, on_call_answer, &nobody), -EINVAL);
        while (!text.done || !bin.done || !err.done || !nobody.done) {
                ck_assert_int_ge(sb_wait(server, 20), 0);
                ck_assert_int_ge(sb_wait(caller, 20), 0);
        }
        ck_assert_int_eq(text.error, 0);
        ck_assert_uint_eq(text.size, 3);
        ck_assert_int_eq(memcmp(text.data, "ABC", 3), 0);
        ck_assert_int_eq(bin.error, 0);
        ck_assert_uint_eq(bin.size, sizeof raw);
        ck_assert_int_eq(memcmp(bin.data, (const char[]) { (char) 0xdf, 0x01, 0x00, 'A' }, sizeof raw), 0);
        ck_assert_int_eq(err.error, -EREMOTEIO);
        ck_assert_str_eq(err.error_name, "com.example.Error.Empty");
        ck_assert_int_eq(nobody.error, -ENXIO);
        ck_assert_int_eq(text.done + bin.done + err.done + nobody.done, 4);
        sb_close(caller);
        sb_close(server);
}
END_TEST

/* ---- pipelining ------------------------------------------------------------------ */

#define PIPELINED 20000

/*
 * Messages in order, counted in last[1]; those a gap notice names (the hub
 * drops for a subscriber that falls behind, as a loaded machine can make
 * this one) in last[2]. Every message is one or the other.
 */
static void count_in_order(sb_client *c, const sb_event *e, void *userdata) {
        uint64_t *last = userdata;

        if (e->kind == SB_EVENT_GAP) {
                ck_assert_uint_gt(e->first_seq, last[0]);
                last[0] = e->last_seq;
                last[2] += e->last_seq - e->first_seq + 1;
                return;
        }
        ck_assert_int_eq(e->kind, SB_EVENT_MESSAGE);
        ck_assert_uint_gt(e->seq, last[0]);
        last[0] = e->seq;
        last[1]++;
}

START_TEST(test_pipelined_batches)
{
        sb_client *pub = connect_or_fail(), *sub = connect_or_fail();
        uint64_t state[3] = { 0, 0, 0 };
        char payload[100];
        unsigned long before;

        memset(payload, 'x', sizeof payload);
        ck_assert_int_eq(sb_subscribe(sub, "lib.pipe", 0, count_in_order, state, NULL), 0);
        before = sends;
        for (int i = 0; i < PIPELINED; i++) {
                ck_assert_int_eq(sb_publish(pub, "lib.pipe", payload, sizeof payload, SB_NO_REPLY, NULL), 0);
                /* Drain the subscriber now and then: the hub must not drop for it. */
                if (i % 2000 == 0)
                        ck_assert_int_ge(sb_process(sub), 0);
        }
        ck_assert_int_eq(sb_flush(pub), 0);
        /* About 130 bytes per message, 64 KiB per send(): far fewer calls than messages. */
        ck_assert_uint_le(sends - before, PIPELINED / 100);
        fprintf(stderr, "# %d pipelined publishes in %lu send() calls\n", PIPELINED, sends - before);
        while (state[1] + state[2] < PIPELINED)
                ck_assert_int_ge(sb_wait(sub, 10000), 0);
        ck_assert_uint_eq(state[1] + state[2], PIPELINED);
        /* Most are delivered even on a loaded machine; a gap, when any, is counted, never silent. */
        ck_assert_uint_ge(state[1], PIPELINED / 2);
        sb_close(pub);
        sb_close(sub);
}
END_TEST

/* ---- loop glue ------------------------------------------------------------------- */

typedef struct LoopState {
        Seen seen;
        sd_event *event;
        GMainLoop *loop;
        int want;
} LoopState;

static void record_and_stop(sb_client *c, const sb_event *e, void *userdata) {
        LoopState *l = userdata;

        record(c, e, &l->seen);
        if (l->seen.n < l->want)
                return;
        if (l->event)
                sd_event_exit(l->event, 0);
        if (l->loop)
                g_main_loop_quit(l->loop);
}

/* Subscribe @c, have @other publish 3 messages, and make a blocking call on
 * @c that reads them first: they must wait for the loop, in order. */
static void subscribe_and_read_ahead(sb_client *c, sb_client *other, LoopState *l) {
        ck_assert_int_eq(sb_subscribe(c, "lib.loop", 0, record_and_stop, l, NULL), 0);
        for (int i = 0; i < 3; i++)
                ck_assert_int_eq(sb_publish(other, "lib.loop", "m", 1, 0, NULL), 0);
        /* Published after the three: its answer comes after their messages. */
        ck_assert_int_eq(sb_publish(c, "lib.loop", "4", 1, 0, NULL), 0);
        ck_assert_int_eq(l->seen.n, 0);
        ck_assert(sb_get_events(c) & SB_PENDING);
}

START_TEST(test_sd_event_glue)
{
        sb_client *c = connect_or_fail(), *other = connect_or_fail();
        LoopState l = { .want = 5 };
        sb_sd_event *glue;

        ck_assert_int_eq(sd_event_new(&l.event), 0);
        subscribe_and_read_ahead(c, other, &l);
        ck_assert_int_eq(sb_sd_event_attach(c, l.event, &glue), 0);
        /* Pipelined output is written by the loop. */
        ck_assert_int_eq(sb_publish(other, "lib.loop", "5", 1, SB_NO_REPLY, NULL), 0);
        ck_assert_int_eq(sb_flush(other), 0);
        ck_assert_int_eq(sd_event_loop(l.event), 0);
        ck_assert_int_eq(l.seen.n, 5);
        ck_assert_str_eq(l.seen.data[3], "4");
        ck_assert_str_eq(l.seen.data[4], "5");
        for (int i = 1; i < 5; i++)
                ck_assert_uint_gt(l.seen.seq[i], l.seen.seq[i - 1]);
        sb_sd_event_detach(glue);
        sd_event_unref(l.event);
        sb_close(c);
        sb_close(other);
}
END_TEST

START_TEST(test_glib_source)
{
        sb_client *c = connect_or_fail(), *other = connect_or_fail();
        LoopState l = { .want = 4 };
        GSource *source;

        l.loop = g_main_loop_new(NULL, FALSE);
        subscribe_and_read_ahead(c, other, &l);
        source = sb_glib_source_new(c);
        g_source_attach(source, NULL);
        g_main_loop_run(l.loop);
        ck_assert_int_eq(l.seen.n, 4);
        ck_assert_str_eq(l.seen.data[3], "4");
        g_source_destroy(source);
        g_source_unref(source);
        g_main_loop_unref(l.loop);
        sb_close(c);
        sb_close(other);
}
END_TEST

/* ---- shared-memory rings ------------------------------------------------------------ */

#define RING_MSGS 5000

START_TEST(test_ring_publish)
{
        sb_client *c = connect_or_fail(), *sub = connect_or_fail();
        uint64_t state[3] = { 0, 0, 0 };
        Seen seen = {};
        sb_ring *r;
        char payload[64];

        ck_assert_int_eq(sb_subscribe(sub, "lib.ring.pub", 0, count_in_order, state, NULL), 0);
        ck_assert_int_eq(sb_subscribe(c, "lib.ring.pub", 0, record, &seen, NULL), 0);
        ck_assert_int_eq(sb_ring_publish(c, "lib.ring.pub", 0, &r), 0);
        ck_assert_uint_gt(sb_ring_id(r), 0);
        ck_assert_uint_ge(sb_ring_size(r), 4096);
        /* In place, no copy: reserved, written, then made visible. */
        {
                void *place;

                ck_assert_int_eq(sb_ring_reserve(r, 5, &place), 0);
                memcpy(place, "first", 5);
                ck_assert_int_eq(sb_ring_reserve(r, sb_ring_size(r), &place), -EMSGSIZE);
                sb_ring_flush(r);
        }
        wait_events(c, &seen, 1);
        ck_assert_str_eq(seen.data[0], "first");
        ck_assert_str_eq(seen.transport[0], "shm");
        ck_assert_uint_gt(seen.seq[0], 0);

        /* Many, put in batches and flushed once per batch; the hub drains while we write. */
        for (int i = 0; i < RING_MSGS; i++) {
                int len = snprintf(payload, sizeof payload, "message %d", i), res;

                while ((res = sb_ring_put(r, payload, (size_t) len)) == -ENOBUFS) {
                        sb_ring_flush(r);
                        ck_assert_int_eq(sb_ring_wait_writable(r, (size_t) len, 10000), 0);
                }
                ck_assert_int_eq(res, 0);
                if (i % 64 == 63)
                        sb_ring_flush(r);
                if (i % 500 == 0)
                        ck_assert_int_ge(sb_process(sub), 0);
        }
        sb_ring_flush(r);
        while (state[1] + state[2] < RING_MSGS + 1)
                ck_assert_int_ge(sb_wait(sub, 10000), 0);
        ck_assert_uint_eq(state[1] + state[2], RING_MSGS + 1);

        ck_assert_int_eq(sb_ring_close(r), 0);
        sb_close(c);
        sb_close(sub);
}
END_TEST

/* A publish ring naming other topics; waiting for the hub to take them; a second
 * thread's sleep on a subscribe ring. */
START_TEST(test_ring_topics_and_sleep)
{
        sb_client *c = connect_or_fail();
        sb_ring *out, *in;
        sb_ring_msg m;

        ck_assert_int_eq(sb_ring_subscribe(c, "lib.rt.>", 0, 0, &in), 0);
        ck_assert_int_eq(sb_ring_publish(c, "lib.rt.own", 0, &out), 0);
        ck_assert_int_eq(sb_ring_sleep(in, 0), -ETIMEDOUT);
        ck_assert_int_eq(sb_ring_put_topic(out, "lib.rt.other", "x", 1), 0);
        ck_assert_int_eq(sb_ring_put_topic(out, NULL, "y", 1), 0);
        sb_ring_flush(out);
        ck_assert_int_eq(sb_ring_wait_drained(out, 10000), 0);
        ck_assert_int_eq(sb_ring_sleep(in, 10000), 0);
        while (sb_ring_read(in, &m) == -EAGAIN)
                ck_assert_int_eq(sb_ring_wait(in, 10000), 0);
        ck_assert_int_eq((int) m.topic_len, 12);
        ck_assert_int_eq(memcmp(m.topic, "lib.rt.other", 12), 0);
        while (sb_ring_read(in, &m) == -EAGAIN)
                ck_assert_int_eq(sb_ring_wait(in, 10000), 0);
        ck_assert_int_eq(memcmp(m.topic, "lib.rt.own", 10), 0);
        sb_ring_release(in);
        /* All read and released: a sleeper sleeps again. */
        ck_assert_int_eq(sb_ring_sleep(in, 10), -ETIMEDOUT);
        ck_assert_int_eq(sb_ring_close(out), 0);
        ck_assert_int_eq(sb_ring_close(in), 0);
        sb_close(c);
}
END_TEST

/* A reader in an event loop: the ring's eventfd, once armed, becomes readable on the next
 * record; arming when a record is already there says so instead. */
START_TEST(test_ring_event_fd)
{
        sb_client *c = connect_or_fail(), *pub = connect_or_fail();
        struct pollfd p = { .events = POLLIN };
        sb_ring *r, *out;
        sb_ring_msg m;
        uint64_t n;

        ck_assert_int_eq(sb_ring_subscribe(c, "lib.ev.>", 0, 0, &r), 0);
        ck_assert_int_eq(sb_ring_publish(c, "lib.ev.own", 0, &out), 0);
        ck_assert_int_eq(sb_ring_event_fd(out), -1);
        p.fd = sb_ring_event_fd(r);
        ck_assert_int_ge(p.fd, 0);
        ck_assert_int_eq(sb_ring_arm(r), 1);
        ck_assert_int_eq(poll(&p, 1, 0), 0);

        ck_assert_int_eq(sb_publish(pub, "lib.ev.a", "one", 3, SB_NO_REPLY, NULL), 0);
        ck_assert_int_eq(sb_flush(pub), 0);
        ck_assert_int_eq(poll(&p, 1, 10000), 1);
        ck_assert_int_eq(read(p.fd, &n, sizeof n), (ssize_t) sizeof n);
        ck_assert_int_eq(sb_ring_read(r, &m), 0);
        ck_assert_mem_eq(m.data, "one", 3);
        ck_assert_int_eq(sb_ring_read(r, &m), -EAGAIN);
        sb_ring_release(r);

        /* The hub answers a publish once it has delivered it: the record is there before arming. */
        ck_assert_int_eq(sb_publish(pub, "lib.ev.a", "two", 3, 0, NULL), 0);
        ck_assert_int_eq(sb_ring_arm(r), 0);
        ck_assert_int_eq(sb_ring_read(r, &m), 0);
        ck_assert_mem_eq(m.data, "two", 3);
        sb_ring_release(r);
        ck_assert_int_eq(sb_ring_arm(r), 1);

        sb_close(c);
        ck_assert_int_eq(sb_ring_arm(r), -EPIPE);
        ck_assert_int_eq(sb_ring_event_fd(r), -1);
        ck_assert_int_eq(sb_ring_close(r), 0);
        ck_assert_int_eq(sb_ring_close(out), 0);
        sb_close(pub);
}
END_TEST

/* The publisher of test_ring_zero_copy, in a thread of its own: RING_MSGS of 1 KiB, "N" then 'a' + N % 26. */
static gpointer zc_writer(gpointer userdata) {
        sb_ring *out = userdata;
        char payload[1024];

        for (int i = 0; i < RING_MSGS; i++) {
                memset(payload, 'a' + i % 26, sizeof payload);
                snprintf(payload, sizeof payload, "%d", i);
                while (sb_ring_put(out, payload, sizeof payload) == -ENOBUFS)
                        /* Flushes first: the reader's releases are what gives room. */
                        if (sb_ring_wait_writable(out, sizeof payload, 10000) < 0)
                                return GINT_TO_POINTER(-1);
                if (i % 16 == 15)
                        sb_ring_flush(out);
        }
        sb_ring_flush(out);
        return NULL;
}

/*
 * A zero-copy subscriber: the publisher ring's messages, 1 KiB each, read
 * where the publisher wrote them, with the hub's seqs, the same a socket
 * subscriber gets; a socket publish in between comes as a message of its
 * own. The 64 KiB publish ring holds about 60: the publisher gets on
 * only as the reader releases.
 */
START_TEST(test_ring_zero_copy)
{
        sb_client *c = connect_or_fail(), *pub = connect_or_fail(), *sub = connect_or_fail();
        uint64_t state[3] = { 0, 0, 0 }, last = 0, seq;
        char payload[1024];
        sb_ring *out, *in;
        GThread *writer;
        int got = 0;
        sb_ring_msg m;

        ck_assert_int_eq(sb_ring_subscribe(c, "lib.zc", 0, SB_RING_ZERO_COPY, &in), -ENOENT);
        ck_assert_int_eq(sb_subscribe(sub, "lib.zc", 0, count_in_order, state, NULL), 0);
        ck_assert_int_eq(sb_ring_publish(pub, "lib.zc", 65536, &out), 0);
        ck_assert_int_eq(sb_ring_subscribe(c, "lib.zc", 0, SB_RING_ZERO_COPY, &in), 0);
        ck_assert_int_eq(sb_publish(pub, "lib.zc", "from the socket", 15, 0, &seq), 0);
        writer = g_thread_new("zc-writer", zc_writer, out);

        while (got < RING_MSGS + 1) {
                int i;

                if (sb_ring_read(in, &m) == -EAGAIN) {
                        sb_ring_release(in);
                        ck_assert_int_eq(sb_ring_wait(in, 10000), 0);
                        continue;
                }
                ck_assert(!m.gap);
                ck_assert_uint_gt(m.seq, last);
                last = m.seq;
                ck_assert_mem_eq(m.topic, "lib.zc", m.topic_len);
                got++;
                if (m.seq == seq) {
                        ck_assert_mem_eq(m.data, "from the socket", 15);
                        continue;
                }
                i = got - 1 - (seq < m.seq);
                ck_assert_uint_eq(m.size, sizeof payload);
                snprintf(payload, sizeof payload, "%d", i);
                ck_assert_str_eq(m.data, payload);
                ck_assert_int_eq(((const char *) m.data)[sizeof payload - 1], 'a' + i % 26);
                /* Now and then, not per message: the batching; and the socket subscriber reads. */
                if (got % 8 == 0)
                        sb_ring_release(in);
                if (got % 32 == 0)
                        ck_assert_int_ge(sb_process(sub), 0);
        }
        sb_ring_release(in);
        ck_assert_ptr_null(g_thread_join(writer));
        while (state[1] + state[2] < RING_MSGS + 1)
                ck_assert_int_ge(sb_wait(sub, 10000), 0);
        ck_assert_uint_eq(state[1], RING_MSGS + 1);
        ck_assert_uint_eq(state[0], last);
        ck_assert_int_eq(sb_ring_close(in), 0);
        ck_assert_int_eq(sb_ring_close(out), 0);
        sb_close(c);
        sb_close(pub);
        sb_close(sub);
}
END_TEST

START_TEST(test_ring_subscribe)
{
        sb_client *c = connect_or_fail(), *pub = connect_or_fail();
        uint64_t seq, expect = 0, missed = 0, got = 0;
        sb_ring_msg m;
        sb_ring *r;

        ck_assert_int_eq(sb_publish(pub, "lib.ring.sub.kept", "kept", 4, SB_RETAIN, NULL), 0);
        ck_assert_int_eq(sb_ring_subscribe(c, "lib.ring.sub.>", 4096, SB_WITH_RETAINED, &r), 0);
        ck_assert_int_eq(sb_ring_wait(r, 10000), 0);
        ck_assert_int_eq(sb_ring_read(r, &m), 0);
        ck_assert(m.retained && !m.gap);
        ck_assert_mem_eq(m.data, "kept", 4);
        ck_assert_mem_eq(m.topic, "lib.ring.sub.kept", m.topic_len);
        sb_ring_release(r);
        ck_assert_int_eq(sb_ring_read(r, &m), -EAGAIN);

        ck_assert_int_eq(sb_publish(pub, "lib.ring.sub.a", "one", 3, 0, &seq), 0);
        ck_assert_int_eq(sb_ring_wait(r, 10000), 0);
        ck_assert_int_eq(sb_ring_read(r, &m), 0);
        ck_assert_uint_eq(m.seq, seq);
        ck_assert_uint_eq(m.size, 3);
        sb_ring_release(r);

        /* A reader that does not keep up: 4 KiB of ring, 2,000 messages. It sees
         * each one or a gap record naming it, in order, and the publisher never waits. */
        for (int i = 0; i < 2000; i++)
                ck_assert_int_eq(sb_publish(pub, "lib.ring.sub.a", "0123456789abcdef0123456789abcdef", 32,
                                            i == 1999 ? 0 : SB_NO_REPLY, i == 1999 ? &seq : NULL), 0);
        while (expect != seq) {
                ck_assert_int_eq(sb_ring_wait(r, 10000), 0);
                while (sb_ring_read(r, &m) == 0) {
                        uint64_t first = m.gap ? m.first_seq : m.seq;

                        ck_assert_uint_gt(first, expect);
                        expect = m.gap ? m.last_seq : m.seq;
                        if (m.gap)
                                missed += m.last_seq - m.first_seq + 1;
                        else
                                got++;
                }
                sb_ring_release(r);
        }
        fprintf(stderr, "# ring reader: %llu messages, %llu missed in gaps\n", (unsigned long long) got,
                (unsigned long long) missed);
        ck_assert_uint_gt(missed, 0);
        ck_assert_uint_eq(got + missed, 2000);

        /* The client goes: its rings are unmapped and say so. */
        sb_close(c);
        ck_assert_int_eq(sb_ring_read(r, &m), -EPIPE);
        ck_assert_int_eq(sb_ring_wait(r, 0), -EPIPE);
        ck_assert_int_eq(sb_ring_close(r), 0);
        sb_close(pub);
}
END_TEST

/* ---- TCP ----------------------------------------------------------------------------- */

/* The contents of $XDG_RUNTIME_DIR/switchboard/NAME or $XDG_CONFIG_HOME/switchboard/NAME, one line. */
static char *read_line(const char *dir_var, const char *name) {
        char path[512], buf[256] = "";
        FILE *f;

        snprintf(path, sizeof path, "%s/switchboard/%s", getenv(dir_var), name);
        f = fopen(path, "re");
        ck_assert_msg(f != NULL, "no %s", path);
        ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
        fclose(f);
        buf[strcspn(buf, "\n")] = '\0';
        return strdup(buf);
}

START_TEST(test_tcp)
{
        char *address = read_line("XDG_RUNTIME_DIR", "tcp-address"), *token = read_line("XDG_CONFIG_HOME", "token");
        sb_client *tcp, *unix_client = connect_or_fail();
        Seen seen = {};

        ck_assert_int_eq(sb_connect_tcp(address, "not the token", &tcp), -EACCES);
        unsetenv("SWITCHBOARD_TOKEN");
        ck_assert_int_eq(sb_connect_tcp(address, NULL, &tcp), -ENOKEY);
        ck_assert_int_eq(sb_connect_tcp("no port", token, &tcp), -EINVAL);

        /* The token from the environment, and a TCP subscriber of a Unix publisher. */
        setenv("SWITCHBOARD_TOKEN", token, 1);
        ck_assert_int_eq(sb_connect_tcp(address, NULL, &tcp), 0);
        ck_assert_int_eq(sb_subscribe(tcp, "lib.tcp", 0, record, &seen, NULL), 0);
        ck_assert_int_eq(sb_publish(unix_client, "lib.tcp", "over tcp", 8, 0, NULL), 0);
        ck_assert_int_eq(sb_publish(tcp, "lib.tcp", "from tcp", 8, 0, NULL), 0);
        wait_events(tcp, &seen, 2);
        ck_assert_str_eq(seen.data[0], "over tcp");
        ck_assert_str_eq(seen.transport[0], "unix");
        ck_assert_str_eq(seen.transport[1], "tcp");
        ck_assert_int_eq(seen.pid[1], -1);
        sb_close(tcp);
        sb_close(unix_client);
        free(address);
        free(token);
}
END_TEST

/* ---- the hub dies ---------------------------------------------------------------- */

static pid_t hub_pid(void) {
        char path[512], buf[32] = "";
        FILE *f;

        snprintf(path, sizeof path, "%s/switchboard/switchboardd.pid", getenv("XDG_RUNTIME_DIR"));
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
        fclose(f);
        return (pid_t) atol(buf);
}

static void kill_hub_on_request(sb_client *c, const sb_event *e, void *userdata) {
        ck_assert_int_eq(kill(*(pid_t *) userdata, SIGKILL), 0);
        _exit(0);
}

START_TEST(test_hub_dies_mid_call)
{
        sb_client *c = connect_or_fail(), *server = connect_or_fail();
        pid_t hub = hub_pid(), child;
        Answered pending = {};
        void *reply = NULL;
        int status;

        /* A server (in a child) that kills the hub when the call reaches it. */
        ck_assert_int_eq(sb_serve(server, "lib.doomed", kill_hub_on_request, &hub), 0);
        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                for (;;)
                        if (sb_wait(server, -1) < 0)
                                _exit(1);
        }
        sb_close(server);

        /* An asynchronous request is awaited too when the hub goes. */
        ck_assert_int_eq(sb_request_async(c, "reserve", "{\"queue\":\"lib.never\",\"timeout_ms\":60000}", on_answer,
                                          &pending), 0);
        ck_assert_int_eq(sb_call(c, "lib.doomed", "x", 1, 60000, &reply, NULL), -ECONNRESET);
        ck_assert_ptr_null(reply);
        ck_assert_str_eq(sb_error_message(c), "the hub closed the connection");
        ck_assert_int_eq(waitpid(child, &status, 0), child);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        ck_assert_int_ge(sb_process(c), 1);
        ck_assert_int_eq(pending.done, 1);
        ck_assert_int_eq(pending.error, -ECONNRESET);
        ck_assert_int_eq(sb_process(c), -ECONNRESET);
        ck_assert_int_eq(sb_publish(c, "lib.after", "x", 1, SB_NO_REPLY, NULL), -ENOTCONN);
        ck_assert_int_eq(sb_publish(c, "lib.after", "x", 1, 0, NULL), -ENOTCONN);
        sb_close(c);
}
END_TEST

static Suite *libswitchboard_suite(void) {
        Suite *s = suite_create("libswitchboard");
        struct {
                const char *name;
                const TTest *test;
        } tests[] = {
                { "publish-subscribe", test_publish_subscribe },
                { "errors", test_errors },
                { "callbacks-reenter", test_callbacks_reenter },
                { "store", test_store },
                { "queue", test_queue },
                { "call-async", test_call_async },
                { "call-async-bytes", test_call_async_bytes },
                { "ring-topics-and-sleep", test_ring_topics_and_sleep },
                { "pipelined-batches", test_pipelined_batches },
                { "sd-event-glue", test_sd_event_glue },
                { "glib-source", test_glib_source },
                { "ring-publish", test_ring_publish },
                { "ring-subscribe", test_ring_subscribe },
                { "ring-event-fd", test_ring_event_fd },
                { "ring-zero-copy", test_ring_zero_copy },
                { "tcp", test_tcp },
                { "hub-dies-mid-call", test_hub_dies_mid_call },
        };

        for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
                TCase *tc = tcase_create(tests[i].name);

                tcase_add_checked_fixture(tc, ensure_hub, NULL);
                tcase_set_timeout(tc, 60);
                tcase_add_test(tc, tests[i].test);
                suite_add_tcase(s, tc);
        }
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(libswitchboard_suite());
        char path[512];
        FILE *f;
        int failed;

        /* Every hub of this test also listens on TCP (loopback, any free port). */
        snprintf(path, sizeof path, "%s/switchboard", getenv("XDG_CONFIG_HOME"));
        (void) mkdir(path, 0700);
        snprintf(path, sizeof path, "%s/switchboard/switchboard.conf", getenv("XDG_CONFIG_HOME"));
        f = fopen(path, "we");
        if (!f || fputs("[tcp]\nlisten = 127.0.0.1:0\n", f) < 0 || fclose(f) != 0) {
                perror(path);
                return EXIT_FAILURE;
        }

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
