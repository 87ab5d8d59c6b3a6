/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-ring: the shared-memory ring (src/shm/ring.c) in one process: a
 * producer and a consumer view of one anonymous mapping. Wraparound with
 * PAD records, a full ring, record size limits, and validation of every
 * index and record header a peer could corrupt. And two processes that
 * spin on one CPU: a spinning waiter must let its peer run. The pieces of
 * zero-copy pairs: REF records resolved only within the publisher's data
 * area, partial releases, room checks and waiting for the reader's tail.
 */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm/ring.h"

#define SIZE 4096u

static void *mem;
static Ring prod, cons;

static void setup(void) {
        mem = mmap(NULL, ring_map_size(SIZE), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(mem, MAP_FAILED);
        ck_assert_int_eq(ring_format(mem, SIZE, RING_KIND_SUBSCRIBE, 7), 0);
        ck_assert_int_eq(ring_attach(&prod, mem, ring_map_size(SIZE), true, -1), 0);
        ck_assert_int_eq(ring_attach(&cons, mem, ring_map_size(SIZE), false, -1), 0);
}

static void teardown(void) {
        munmap(mem, ring_map_size(SIZE));
}

static RingMsg msg(uint64_t seq, const char *topic, const void *payload, size_t len) {
        return (RingMsg) {
                .type = RING_RECORD_MESSAGE,
                .seq = seq,
                .topic = topic,
                .topic_len = strlen(topic),
                .payload = payload,
                .payload_len = len,
        };
}

static int write_ab(void) {
        RingMsg m = msg(1, "a", "b", 1);

        return ring_write(&prod, &m);
}

START_TEST(test_attach_checks_header)
{
        Ring r;

        ck_assert_int_eq(ring_attach(&r, mem, ring_map_size(SIZE) - 8, false, -1), -EPROTO);
        ((RingShared *) mem)->magic ^= 1;
        ck_assert_int_eq(ring_attach(&r, mem, ring_map_size(SIZE), false, -1), -EPROTO);
        ((RingShared *) mem)->magic ^= 1;
        ((RingShared *) mem)->data_size = 3000;
        ck_assert_int_eq(ring_attach(&r, mem, ring_map_size(SIZE), false, -1), -EPROTO);
        ck_assert_int_eq(ring_format(mem, 3000, RING_KIND_PUBLISH, 1), -EINVAL);
}
END_TEST

START_TEST(test_round_trip)
{
        RingMsg m;

        ck_assert_int_eq(ring_read(&cons, &m), -EAGAIN);
        ck_assert_int_eq(ring_write(&prod, &(RingMsg) { .type = RING_RECORD_MESSAGE, .seq = 5, .topic = "a.b",
                                                        .topic_len = 3, .payload = "hello", .payload_len = 5,
                                                        .flags = RING_FLAG_RETAINED }), 0);
        ck_assert_int_eq(ring_read(&cons, &m), 0);
        ck_assert_uint_eq(m.seq, 5);
        ck_assert_uint_eq(m.flags, RING_FLAG_RETAINED);
        ck_assert_int_eq(m.topic_len, 3);
        ck_assert(memcmp(m.topic, "a.b", 3) == 0);
        ck_assert_int_eq(m.payload_len, 5);
        ck_assert(memcmp(m.payload, "hello", 5) == 0);
        ck_assert_int_eq(ring_read(&cons, &m), -EAGAIN);
        ring_release(&cons);
        ck_assert_int_eq(ring_free_bytes(&prod), SIZE);
}
END_TEST

START_TEST(test_wraparound_keeps_order)
{
        char payload[300];
        uint64_t next_read = 1;
        RingMsg m;

        /* Records of 24 + 1 + 300 -> 328 bytes: 4096 is not a multiple, so PAD records appear. */
        for (uint64_t seq = 1; seq <= 1000; seq++) {
                memset(payload, (int) (seq & 0xff), sizeof payload);
                if (ring_write(&prod, &(RingMsg) { .type = RING_RECORD_MESSAGE, .seq = seq, .topic = "t",
                                                   .topic_len = 1, .payload = payload,
                                                   .payload_len = sizeof payload }) == -ENOBUFS) {
                        /* Full: read two, then the write fits. */
                        for (int i = 0; i < 2; i++) {
                                ck_assert_int_eq(ring_read(&cons, &m), 0);
                                ck_assert_uint_eq(m.seq, next_read);
                                ck_assert_int_eq(((const uint8_t *) m.payload)[299], (int) (next_read & 0xff));
                                next_read++;
                        }
                        ring_release(&cons);
                        seq--;
                }
        }
        while (ring_read(&cons, &m) == 0) {
                ck_assert_uint_eq(m.seq, next_read);
                next_read++;
        }
        ck_assert_uint_eq(next_read, 1001);
        ck_assert_uint_gt(prod.head, 10 * SIZE);
}
END_TEST

START_TEST(test_full_and_sizes)
{
        static char big[SIZE];
        RingMsg m = msg(1, "", big, ring_max_payload(SIZE, 0));
        int n = 0;

        /* The largest record is half the ring. */
        ck_assert_int_eq(ring_write(&prod, &m), 0);
        ck_assert_int_eq(ring_write(&prod, &m), 0);
        ck_assert_int_eq(ring_write(&prod, &m), -ENOBUFS);
        m.payload_len++;
        ck_assert_int_eq(ring_write(&prod, &m), -EMSGSIZE);
        ck_assert_int_eq(ring_read(&cons, &m), 0);
        ck_assert_int_eq(ring_read(&cons, &m), 0);
        ring_release(&cons);

        /* A batch writes what fits and says how many. */
        RingMsg batch[200];
        for (int i = 0; i < 200; i++)
                batch[i] = msg((uint64_t) i, "x", "12345678", 8);
        n = ring_write_batch(&prod, batch, 200);
        ck_assert_int_eq(n, SIZE / ring_record_size(1, 8));
        ck_assert_int_eq(ring_free_bytes(&prod), SIZE % ring_record_size(1, 8));
}
END_TEST

static void count(void *userdata, const RingMsg *m) {
        (*(unsigned *) userdata)++;
}

START_TEST(test_read_batch)
{
        unsigned n = 0;

        for (int i = 0; i < 10; i++)
                ck_assert_int_eq(ring_write(&prod, &(RingMsg) { .type = RING_RECORD_MESSAGE, .payload = "p",
                                                                .payload_len = 1 }), 0);
        ck_assert_int_eq(ring_read_batch(&cons, count, &n, 4), 4);
        ck_assert_int_eq(ring_read_batch(&cons, count, &n, 100), 6);
        ck_assert_uint_eq(n, 10);
        ck_assert_int_eq(ring_free_bytes(&prod), SIZE);
}
END_TEST

START_TEST(test_consumer_validates_head)
{
        RingMsg m;

        /* Beyond a ring's worth of data. */
        __atomic_store_n(&prod.shared->head, SIZE + 8, __ATOMIC_RELEASE);
        ck_assert_int_eq(ring_read(&cons, &m), -EBADMSG);
        /* Not aligned. */
        __atomic_store_n(&prod.shared->head, 12, __ATOMIC_RELEASE);
        ck_assert_int_eq(ring_read(&cons, &m), -EBADMSG);
        /* Going back. */
        ck_assert_int_eq(write_ab(), 0);
        ck_assert_int_eq(ring_used_bytes(&cons), 32);
        __atomic_store_n(&prod.shared->head, 8, __ATOMIC_RELEASE);
        ck_assert_int_eq(ring_used_bytes(&cons), -EBADMSG);
}
END_TEST

START_TEST(test_consumer_validates_records)
{
        uint32_t *rec = (uint32_t *) cons.data;
        RingMsg m;

        ck_assert_int_eq(write_ab(), 0);
        /* Size beyond what was written. */
        rec[0] = 64;
        ck_assert_int_eq(ring_read(&cons, &m), -EBADMSG);
        /* Size not a multiple of 8, or 0 (which would never advance). */
        rec[0] = 12;
        ck_assert_int_eq(ring_read(&cons, &m), -EBADMSG);
        rec[0] = 0;
        ck_assert_int_eq(ring_read(&cons, &m), -EBADMSG);
        /* Topic and payload longer than the record. */
        rec[0] = 32;
        ((uint16_t *) rec)[3] = 100;
        ck_assert_int_eq(ring_read(&cons, &m), -EBADMSG);
        ((uint16_t *) rec)[3] = 1;
        /* Unknown type. */
        ((uint16_t *) rec)[2] = 9;
        ck_assert_int_eq(ring_read(&cons, &m), -EBADMSG);
        ((uint16_t *) rec)[2] = RING_RECORD_MESSAGE;
        ck_assert_int_eq(ring_read(&cons, &m), 0);
}
END_TEST

START_TEST(test_producer_validates_tail)
{
        ck_assert_int_eq(write_ab(), 0);
        /* A tail beyond the head. */
        __atomic_store_n(&cons.shared->tail, 64, __ATOMIC_RELEASE);
        ck_assert_int_eq(ring_free_bytes(&prod), -EBADMSG);
        /* Not aligned. */
        __atomic_store_n(&cons.shared->tail, 4, __ATOMIC_RELEASE);
        ck_assert_int_eq(ring_free_bytes(&prod), -EBADMSG);
        __atomic_store_n(&cons.shared->tail, 32, __ATOMIC_RELEASE);
        ck_assert_int_eq(ring_free_bytes(&prod), SIZE);
        /* Going back once it moved on. */
        __atomic_store_n(&cons.shared->tail, 0, __ATOMIC_RELEASE);
        ck_assert_int_eq(ring_free_bytes(&prod), -EBADMSG);
}
END_TEST

START_TEST(test_sleep_protocol)
{
        /* The consumer announces sleep only while the ring is empty. */
        ck_assert(ring_sleep_eventfd(&cons, 0));
        ck_assert_uint_eq(cons.shared->cons_wait, RING_WAIT_EVENTFD);
        /* The producer's flush clears it (it would write the eventfd, here -1: none). */
        ck_assert_int_eq(write_ab(), 0);
        ck_assert_uint_eq(cons.shared->cons_wait, RING_AWAKE);
        ck_assert(!ring_sleep_eventfd(&cons, 0));
        ck_assert_uint_eq(cons.shared->cons_wait, RING_AWAKE);
        /* A waiting reader with data returns at once. */
        ck_assert_int_eq(ring_wait_readable(&cons, 0, &(struct timespec) { .tv_nsec = 1000 }), 0);
}
END_TEST

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Wait with an endless spin (busy polling), then read one record. */
static void spin_read(Ring *r, RingMsg *m) {
        ck_assert_int_eq(ring_wait_readable(r, UINT32_MAX, NULL), 0);
        ck_assert_int_eq(ring_read(r, m), 0);
        ring_release(r);
}

/*
 * Ping-pong between two processes pinned to one CPU, both waiting by
 * spinning only. A waiter that spins without giving the CPU away makes every
 * hand-over wait for the end of its time slice (milliseconds): 2000 hand-overs
 * then take seconds. That was the busy-poll hang of bench-shm (a producer,
 * the hub and a consumer spinning on two CPUs).
 */
START_TEST(test_ref_records)
{
        static uint8_t area[SIZE];
        RingRef ref = { .offset = 100, .length = 50 };
        RingMsg m = { .type = RING_RECORD_REF, .seq = 9, .topic = "t", .topic_len = 1,
                      .payload = &ref, .payload_len = sizeof ref };
        const void *p;
        size_t len;

        ck_assert_int_eq(ring_write(&prod, &m), 0);
        ck_assert_int_eq(ring_read(&cons, &m), 0);
        ck_assert_int_eq(m.type, RING_RECORD_REF);
        ck_assert_int_eq(ring_ref_resolve(&m, area, SIZE, &p, &len), 0);
        ck_assert_ptr_eq(p, area + 100);
        ck_assert_uint_eq(len, 50);

        /* Anything reaching beyond the area is refused, overflow included. */
        const RingRef bad[] = {
                { .offset = SIZE + 1, .length = 0 },
                { .offset = SIZE - 10, .length = 11 },
                { .offset = UINT64_MAX - 5, .length = 10 },
                { .offset = 0, .length = SIZE + 1 },
        };
        for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                RingMsg b = m;

                b.payload = &bad[i];
                ck_assert_int_eq(ring_ref_resolve(&b, area, SIZE, &p, &len), -EBADMSG);
        }
        ref = (RingRef) { .offset = SIZE, .length = 0 };
        m.payload = &ref;
        ck_assert_int_eq(ring_ref_resolve(&m, area, SIZE, &p, &len), 0);
        /* Not a REF, a short one, or no publisher's area. */
        m.payload_len = 8;
        ck_assert_int_eq(ring_ref_resolve(&m, area, SIZE, &p, &len), -EBADMSG);
        m.payload_len = sizeof ref;
        ck_assert_int_eq(ring_ref_resolve(&m, NULL, SIZE, &p, &len), -EBADMSG);
        m.type = RING_RECORD_MESSAGE;
        ck_assert_int_eq(ring_ref_resolve(&m, area, SIZE, &p, &len), -EBADMSG);
}
END_TEST

START_TEST(test_release_to)
{
        RingMsg m;
        uint64_t first_end;

        for (int i = 0; i < 3; i++)
                ck_assert_int_eq(write_ab(), 0);
        ck_assert_int_eq(ring_read(&cons, &m), 0);
        first_end = cons.tail;
        ck_assert_int_eq(ring_read(&cons, &m), 0);
        ck_assert_int_eq(ring_read(&cons, &m), 0);

        /* Only what was read, only forward. */
        ring_release_to(&cons, cons.tail + 8);
        ck_assert_uint_eq(((RingShared *) mem)->tail, 0);
        ring_release_to(&cons, first_end);
        ck_assert_uint_eq(((RingShared *) mem)->tail, first_end);
        ring_release_to(&cons, 0);
        ck_assert_uint_eq(((RingShared *) mem)->tail, first_end);
        ring_release(&cons);
        ck_assert_uint_eq(((RingShared *) mem)->tail, cons.tail);
}
END_TEST

START_TEST(test_room_and_sleep_until)
{
        size_t need = ring_record_size(1, SIZE / 2 - 32);
        uint64_t end;
        RingMsg m;

        ck_assert_int_eq(ring_room(&prod, need), 0);
        ck_assert_int_eq(write_ab(), 0);
        end = prod.head;
        ck_assert_int_eq(write_ab(), 0);
        /* The reader is not past the first record: sleep, with the word set. */
        ck_assert(ring_sleep_eventfd_until(&prod, end));
        ck_assert_uint_eq(((RingShared *) mem)->prod_wait, RING_WAIT_EVENTFD);
        ck_assert_int_eq(ring_read(&cons, &m), 0);
        ring_release(&cons);
        ck_assert_uint_eq(((RingShared *) mem)->prod_wait, RING_AWAKE);     /* woken (no eventfd here) */
        ck_assert(!ring_sleep_eventfd_until(&prod, end));
        ck_assert_uint_eq(((RingShared *) mem)->prod_wait, RING_AWAKE);

        /* Fill it: no room, until the reader gives some back; a corrupt tail says so. */
        while (ring_room(&prod, need) == 0) {
                RingMsg big = msg(1, "a", NULL, SIZE / 2 - 32);
                void *p;

                ck_assert_int_eq(ring_reserve(&prod, &big, &p), 0);
                ring_flush(&prod);
        }
        ck_assert_int_eq(ring_room(&prod, need), -ENOBUFS);
        ((RingShared *) mem)->tail = prod.head + 64;
        ck_assert_int_eq(ring_room(&prod, need), -EBADMSG);
        ck_assert(!ring_sleep_eventfd_until(&prod, prod.head));
}
END_TEST

START_TEST(test_spinners_share_one_cpu)
{
        enum { ROUNDS = 1000 };
        void *back_mem = mmap(NULL, ring_map_size(SIZE), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        Ring back_prod, back_cons;
        cpu_set_t one;
        uint64_t t0, elapsed;
        pid_t pid;
        int status;

        ck_assert_ptr_ne(back_mem, MAP_FAILED);
        ck_assert_int_eq(ring_format(back_mem, SIZE, RING_KIND_SUBSCRIBE, 8), 0);
        ck_assert_int_eq(ring_attach(&back_prod, back_mem, ring_map_size(SIZE), true, -1), 0);
        ck_assert_int_eq(ring_attach(&back_cons, back_mem, ring_map_size(SIZE), false, -1), 0);
        CPU_ZERO(&one);
        CPU_SET(sched_getcpu(), &one);
        ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* The echo: what arrives on the ring goes back on back_mem. */
                for (int i = 0; i < ROUNDS; i++) {
                        RingMsg m;

                        spin_read(&cons, &m);
                        m.topic_len = 0;
                        if (ring_write(&back_prod, &m) < 0)
                                _exit(1);
                }
                _exit(0);
        }
        t0 = now_ns();
        for (int i = 0; i < ROUNDS; i++) {
                RingMsg m = msg(0, "", &i, sizeof i);
                int got;

                ck_assert_int_eq(ring_write(&prod, &m), 0);
                spin_read(&back_cons, &m);
                memcpy(&got, m.payload, sizeof got);
                ck_assert_int_eq(got, i);
        }
        elapsed = now_ns() - t0;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        /* A hand-over takes microseconds when the waiter yields; 250 µs each is the limit here. */
        ck_assert_msg(elapsed < 500000000u, "%d round trips on one CPU took %.3f s", ROUNDS, elapsed / 1e9);
        munmap(back_mem, ring_map_size(SIZE));
}
END_TEST

static Suite *ring_suite(void) {
        Suite *s = suite_create("ring");
        TCase *tc = tcase_create("ring");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_attach_checks_header);
        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_wraparound_keeps_order);
        tcase_add_test(tc, test_full_and_sizes);
        tcase_add_test(tc, test_read_batch);
        tcase_add_test(tc, test_consumer_validates_head);
        tcase_add_test(tc, test_consumer_validates_records);
        tcase_add_test(tc, test_producer_validates_tail);
        tcase_add_test(tc, test_sleep_protocol);
        tcase_add_test(tc, test_ref_records);
        tcase_add_test(tc, test_release_to);
        tcase_add_test(tc, test_room_and_sleep_until);
        tcase_add_test(tc, test_spinners_share_one_cpu);
        tcase_set_timeout(tc, 30);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(ring_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
