/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-frame.c: the 4-byte big-endian framing (proto/frame.h): frames
 * split across feeds (header included), many frames in one feed, empty
 * frames, the max_frame boundary, when bodies stay valid, and
 * frame_append() as the exact inverse of the reader.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <glib.h>

#include "proto/frame.h"

#define MAX_FRAME 64

static FrameReader reader;

static void setup(void) {
        frame_reader_init(&reader, MAX_FRAME);
}

static void teardown(void) {
        frame_reader_deinit(&reader);
}

/* A frame for @body as bytes on the wire. */
static GByteArray *framed(const char *body, size_t len) {
        GByteArray *a = g_byte_array_new();

        frame_append(a, body, len);
        return a;
}

static void feed_str(const char *s, size_t len) {
        frame_reader_feed(&reader, s, len);
}

static void assert_next_body(const char *expected, size_t expected_len) {
        const char *body = NULL;
        size_t len = 12345;

        ck_assert_int_eq(frame_reader_next(&reader, &body, &len), 1);
        ck_assert_uint_eq(len, expected_len);
        ck_assert_ptr_nonnull(body);
        ck_assert_mem_eq(body, expected, len);
}

static void assert_no_frame(void) {
        const char *body = NULL;
        size_t len = 12345;

        ck_assert_int_eq(frame_reader_next(&reader, &body, &len), 0);
        /* Output parameters are written only on success. */
        ck_assert_ptr_null(body);
        ck_assert_uint_eq(len, 12345);
}

START_TEST(test_empty_reader)
{
        ck_assert_uint_eq(frame_reader_pending(&reader), 0);
        assert_no_frame();
        frame_reader_feed(&reader, "", 0);
        assert_no_frame();
        ck_assert_uint_eq(frame_reader_pending(&reader), 0);
}
END_TEST

START_TEST(test_whole_frame)
{
        g_autoptr(GByteArray) a = framed("hello", 5);

        ck_assert_uint_eq(a->len, 9);
        ck_assert_mem_eq(a->data, "\0\0\0\5hello", 9);
        frame_reader_feed(&reader, a->data, a->len);
        ck_assert_uint_eq(frame_reader_pending(&reader), 9);
        assert_next_body("hello", 5);
        ck_assert_uint_eq(frame_reader_pending(&reader), 0);
        assert_no_frame();
}
END_TEST

START_TEST(test_split_body_byte_by_byte)
{
        g_autoptr(GByteArray) a = framed("{\"jsonrpc\":\"2.0\"}", 17);

        for (guint i = 0; i < a->len; i++) {
                assert_no_frame();
                frame_reader_feed(&reader, a->data + i, 1);
                ck_assert_uint_eq(frame_reader_pending(&reader), i + 1);
        }
        assert_next_body("{\"jsonrpc\":\"2.0\"}", 17);
        assert_no_frame();
}
END_TEST

START_TEST(test_header_split_across_feeds)
{
        /* Each way of cutting the 4 header bytes, then the body in one piece. */
        for (size_t cut = 1; cut < FRAME_HEADER_SIZE; cut++) {
                g_autoptr(GByteArray) a = framed("abc", 3);

                frame_reader_feed(&reader, a->data, cut);
                assert_no_frame();
                frame_reader_feed(&reader, a->data + cut, FRAME_HEADER_SIZE - cut);
                assert_no_frame();      /* the header alone: the body is missing */
                frame_reader_feed(&reader, a->data + FRAME_HEADER_SIZE, 3);
                assert_next_body("abc", 3);
                ck_assert_uint_eq(frame_reader_pending(&reader), 0);
        }
}
END_TEST

START_TEST(test_many_frames_one_feed)
{
        g_autoptr(GByteArray) wire = g_byte_array_new();

        for (int i = 0; i < 100; i++) {
                g_autofree char *body = g_strdup_printf("frame %d", i);

                frame_append(wire, body, strlen(body));
        }
        /* And the first 2 bytes of one more. */
        g_byte_array_append(wire, (const guint8 *) "\0\0", 2);

        frame_reader_feed(&reader, wire->data, wire->len);
        for (int i = 0; i < 100; i++) {
                g_autofree char *body = g_strdup_printf("frame %d", i);

                assert_next_body(body, strlen(body));
        }
        assert_no_frame();
        ck_assert_uint_eq(frame_reader_pending(&reader), 2);
        frame_reader_feed(&reader, "\0\1x", 3);
        assert_next_body("x", 1);
        ck_assert_uint_eq(frame_reader_pending(&reader), 0);
}
END_TEST

START_TEST(test_frame_end_and_next_start_in_one_feed)
{
        g_autoptr(GByteArray) wire = g_byte_array_new();

        frame_append(wire, "first", 5);
        frame_append(wire, "second", 6);
        /* Cut inside the second frame's header, then inside its body. */
        feed_str((const char *) wire->data, 11);
        assert_next_body("first", 5);
        assert_no_frame();
        feed_str((const char *) wire->data + 11, 5);
        assert_no_frame();
        feed_str((const char *) wire->data + 16, wire->len - 16);
        assert_next_body("second", 6);
}
END_TEST

START_TEST(test_zero_length_frames)
{
        frame_reader_feed(&reader, "\0\0\0\0\0\0\0\0\0\0\0\2ok", 14);
        assert_next_body("", 0);
        assert_next_body("", 0);
        assert_next_body("ok", 2);
        assert_no_frame();
}
END_TEST

START_TEST(test_exactly_max)
{
        char body[MAX_FRAME];
        g_autoptr(GByteArray) a = NULL;

        memset(body, 'm', sizeof body);
        a = framed(body, sizeof body);
        frame_reader_feed(&reader, a->data, a->len);
        assert_next_body(body, MAX_FRAME);
        ck_assert_uint_eq(frame_reader_pending(&reader), 0);
}
END_TEST

START_TEST(test_max_plus_one)
{
        const char *body;
        size_t len;

        /* The header alone is enough to refuse: no body is waited for or buffered. */
        frame_reader_feed(&reader, "\0\0\0\101", 4);       /* 65 = MAX_FRAME + 1 */
        ck_assert_int_eq(frame_reader_next(&reader, &body, &len), -EMSGSIZE);
        /* And it stays refused: the stream cannot be trusted any more. */
        ck_assert_int_eq(frame_reader_next(&reader, &body, &len), -EMSGSIZE);
}
END_TEST

START_TEST(test_too_large_after_good_frames)
{
        const char *body;
        size_t len;

        frame_reader_feed(&reader, "\0\0\0\2ok\xff\xff\xff\xff", 10);
        assert_next_body("ok", 2);
        ck_assert_int_eq(frame_reader_next(&reader, &body, &len), -EMSGSIZE);
}
END_TEST

START_TEST(test_too_large_split_header)
{
        const char *body;
        size_t len;

        frame_reader_feed(&reader, "\0\0", 2);
        assert_no_frame();
        frame_reader_feed(&reader, "\1\0", 2);     /* 256 */
        ck_assert_int_eq(frame_reader_next(&reader, &body, &len), -EMSGSIZE);
}
END_TEST

START_TEST(test_max_frame_zero)
{
        FrameReader r;
        const char *body;
        size_t len;

        frame_reader_init(&r, 0);
        frame_reader_feed(&r, "\0\0\0\0\0\0\0\1x", 9);
        ck_assert_int_eq(frame_reader_next(&r, &body, &len), 1);
        ck_assert_uint_eq(len, 0);
        ck_assert_int_eq(frame_reader_next(&r, &body, &len), -EMSGSIZE);
        frame_reader_deinit(&r);
}
END_TEST

START_TEST(test_bodies_valid_until_next_feed)
{
        g_autoptr(GByteArray) wire = g_byte_array_new();
        const char *a, *b;
        size_t alen, blen;

        frame_append(wire, "alpha", 5);
        frame_append(wire, "beta", 4);
        frame_reader_feed(&reader, wire->data, wire->len);
        ck_assert_int_eq(frame_reader_next(&reader, &a, &alen), 1);
        ck_assert_int_eq(frame_reader_next(&reader, &b, &blen), 1);
        /* Taking the second body does not disturb the first. */
        ck_assert_mem_eq(a, "alpha", 5);
        ck_assert_mem_eq(b, "beta", 4);
        ck_assert_int_eq(frame_reader_next(&reader, &b, &blen), 0);
        ck_assert_mem_eq(a, "alpha", 5);

        /* After the next feed the old bodies are gone: the reader compacted. */
        frame_reader_feed(&reader, "\0\0\0\3new", 7);
        ck_assert_uint_eq(reader.start, 0);
        ck_assert_uint_eq(reader.buf->len, 7);
        assert_next_body("new", 3);
}
END_TEST

START_TEST(test_buffer_bounded)
{
        /* Fed in small reads and drained each time, the buffer never holds more
         * than one partial frame plus one read. */
        g_autoptr(GByteArray) wire = g_byte_array_new();
        char body[MAX_FRAME];

        memset(body, 'z', sizeof body);
        for (int i = 0; i < 50; i++)
                frame_append(wire, body, (size_t) (i * 7) % (MAX_FRAME + 1));
        for (guint off = 0; off < wire->len; off += 13) {
                const char *b;
                size_t len;

                frame_reader_feed(&reader, wire->data + off, MIN(13u, wire->len - off));
                ck_assert_uint_le(reader.buf->len, FRAME_HEADER_SIZE + MAX_FRAME + 13);
                while (frame_reader_next(&reader, &b, &len) == 1)
                        ck_assert_uint_le(len, MAX_FRAME);
        }
        ck_assert_uint_eq(frame_reader_pending(&reader), 0);
}
END_TEST

START_TEST(test_append_round_trip)
{
        static const char *const bodies[] = { "", "x", "{\"jsonrpc\":\"2.0\",\"id\":1}", "\0\1\2\3" };
        static const size_t lens[] = { 0, 1, 23, 4 };
        g_autoptr(GByteArray) wire = g_byte_array_new();
        g_autoptr(GByteArray) again = g_byte_array_new();
        const char *b;
        size_t len;

        for (size_t i = 0; i < G_N_ELEMENTS(bodies); i++)
                frame_append(wire, bodies[i], lens[i]);
        frame_reader_feed(&reader, wire->data, wire->len);
        for (size_t i = 0; i < G_N_ELEMENTS(bodies); i++) {
                ck_assert_int_eq(frame_reader_next(&reader, &b, &len), 1);
                ck_assert_uint_eq(len, lens[i]);
                ck_assert_mem_eq(b, bodies[i], len);
                frame_append(again, b, len);
        }
        ck_assert_uint_eq(again->len, wire->len);
        ck_assert_mem_eq(again->data, wire->data, wire->len);
}
END_TEST

START_TEST(test_append_big_endian)
{
        g_autoptr(GByteArray) a = g_byte_array_new();
        g_autofree char *body = g_malloc0(0x010203);

        frame_append(a, body, 0x010203);
        ck_assert_uint_eq(a->len, 4 + 0x010203);
        ck_assert_mem_eq(a->data, "\0\1\2\3", 4);
}
END_TEST

static Suite *frame_suite(void) {
        Suite *s = suite_create("frame");
        TCase *tc;

        tc = tcase_create("split");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_empty_reader);
        tcase_add_test(tc, test_whole_frame);
        tcase_add_test(tc, test_split_body_byte_by_byte);
        tcase_add_test(tc, test_header_split_across_feeds);
        tcase_add_test(tc, test_frame_end_and_next_start_in_one_feed);
        suite_add_tcase(s, tc);

        tc = tcase_create("many");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_many_frames_one_feed);
        tcase_add_test(tc, test_zero_length_frames);
        tcase_add_test(tc, test_buffer_bounded);
        suite_add_tcase(s, tc);

        tc = tcase_create("limit");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_exactly_max);
        tcase_add_test(tc, test_max_plus_one);
        tcase_add_test(tc, test_too_large_after_good_frames);
        tcase_add_test(tc, test_too_large_split_header);
        tcase_add_test(tc, test_max_frame_zero);
        suite_add_tcase(s, tc);

        tc = tcase_create("lifetime");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_bodies_valid_until_next_feed);
        suite_add_tcase(s, tc);

        tc = tcase_create("append");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_append_round_trip);
        tcase_add_test(tc, test_append_big_endian);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(frame_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
