/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-config.c: the daemon's configuration parser (src/daemon/config.c):
 * inline comments and the literal '\#', sizes with units, durations,
 * booleans, the closest-key suggestion for unknown keys and groups, and
 * that a bad value is refused with nothing half-applied. Files are written
 * into a temporary directory; nothing else is touched.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "daemon/config.h"

static char *dir;
static Config config;

static void setup(void) {
        dir = g_dir_make_tmp("test-config-XXXXXX", NULL);
        ck_assert_ptr_nonnull(dir);
        config_init_default(&config);
}

static void teardown(void) {
        g_autofree char *path = g_build_filename(dir, "switchboard.conf", NULL);

        (void) g_unlink(path);
        (void) g_rmdir(dir);
        g_clear_pointer(&dir, g_free);
        config_deinit(&config);
}

/* Write @text as the file and load it into config. */
static int load(const char *text) {
        g_autofree char *path = g_build_filename(dir, "switchboard.conf", NULL);

        ck_assert(g_file_set_contents(path, text, -1, NULL));
        return config_load_file(&config, path, true);
}

static uint64_t size(const char *s) {
        uint64_t v = 0;

        ck_assert_int_eq(config_parse_size(s, UINT64_MAX, &v), 0);
        return v;
}

static uint64_t msec(const char *s) {
        uint64_t v = 0;

        ck_assert_int_eq(config_parse_msec(s, UINT64_MAX, &v), 0);
        return v;
}

START_TEST(test_inline_comments_end_the_value)
{
        ck_assert_int_eq(load("[limits]\n"
                              "max-topic-length=256 # bytes\n"
                              "max-topic-tokens = 16\t# tokens\n"
                              "  max-subscriptions=64      # per client (default 1024)\n"
                              "# a whole comment line\n"
                              "; another\n"
                              "[log]   # trailing comment after a group\n"
                              "level=debug#not-a-comment-inside-a-word\n"), -EINVAL);
        /* Up to the bad line, everything was read; the '#' inside a word is part of it. */
        ck_assert_uint_eq(config.limits.max_topic_length, 256);
        ck_assert_uint_eq(config.limits.max_topic_tokens, 16);
        ck_assert_uint_eq(config.limits.max_subscriptions, 64);
}
END_TEST

START_TEST(test_value_strip)
{
        const char *cases[][2] = {
                { " 256   # bytes", "256" },
                { "256\t#x", "256" },
                { "#all comment", "" },
                { "a#b", "a#b" },
                { "/a/b\\#c # comment", "/a/b#c" },
                { "/a/b \\#c", "/a/b #c" },
                { "C:\\dir", "C:\\dir" },
                { "  sensors.>;alerts.>  ", "sensors.>;alerts.>" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *v = config_value_strip(cases[i][0]);

                ck_assert_str_eq(v, cases[i][1]);
        }
}
END_TEST

START_TEST(test_sizes_take_units)
{
        uint64_t v;

        ck_assert_uint_eq(size("65536"), 65536);
        ck_assert_uint_eq(size("64k"), 65536);
        ck_assert_uint_eq(size("64K"), 65536);
        ck_assert_uint_eq(size("64 KiB"), 65536);
        ck_assert_uint_eq(size("64kb"), 65536);
        ck_assert_uint_eq(size("1M"), 1048576);
        ck_assert_uint_eq(size("16MiB"), 16 * 1048576);
        ck_assert_uint_eq(size("2g"), 2ull << 30);
        ck_assert_uint_eq(size("100B"), 100);
        ck_assert_int_eq(config_parse_size("0", UINT64_MAX, &v), -ERANGE);
        ck_assert_int_eq(config_parse_size("0k", UINT64_MAX, &v), -ERANGE);
        ck_assert_int_eq(config_parse_size("64q", UINT64_MAX, &v), -EINVAL);
        ck_assert_int_eq(config_parse_size("k", UINT64_MAX, &v), -EINVAL);
        ck_assert_int_eq(config_parse_size("-1", UINT64_MAX, &v), -EINVAL);
        ck_assert_int_eq(config_parse_size("1.5M", UINT64_MAX, &v), -EINVAL);
        ck_assert_int_eq(config_parse_size("4G", UINT32_MAX, &v), -ERANGE);
        ck_assert_int_eq(config_parse_size("99999999999999999999", UINT64_MAX, &v), -ERANGE);
        ck_assert_int_eq(config_parse_size("17179869184G", UINT64_MAX, &v), -ERANGE);

        ck_assert_int_eq(load("[limits]\nmax-payload=64k # bytes\n[jsonrpc]\nmax-output = 1M\n"), 0);
        ck_assert_uint_eq(config.limits.max_payload, 65536);
        ck_assert_uint_eq(config.jsonrpc.max_output, 1048576);
}
END_TEST

START_TEST(test_durations_take_units)
{
        uint64_t v;

        ck_assert_uint_eq(msec("500"), 500);
        ck_assert_uint_eq(msec("500ms"), 500);
        ck_assert_uint_eq(msec("2s"), 2000);
        ck_assert_uint_eq(msec("1m"), 60000);
        ck_assert_uint_eq(msec("1min"), 60000);
        ck_assert_uint_eq(msec("1h"), 3600000);
        ck_assert_int_eq(config_parse_msec("2 weeks", UINT64_MAX, &v), -EINVAL);
        ck_assert_int_eq(config_parse_msec("0s", UINT64_MAX, &v), -ERANGE);

        ck_assert_int_eq(load("[journal]\nsync=interval   # always | interval | never\ninterval-ms=2s\n"), 0);
        ck_assert_int_eq(config.journal.sync, JOURNAL_SYNC_INTERVAL);
        ck_assert_uint_eq(config.journal.interval_ms, 2000);
        ck_assert_int_eq(load("[journal]\ninterval-ms=250\n"), 0);
        ck_assert_uint_eq(config.journal.interval_ms, 250);
        ck_assert_int_eq(load("[journal]\ninterval-ms=2h\n"), -EINVAL);         /* over an hour */
}
END_TEST

START_TEST(test_words_and_booleans)
{
        ck_assert_int_eq(load("[dbus]\nbroadcast=no\nbroadcast-patterns=sensors.> ; alerts.>  # two\n"
                              "[jsonrpc]\nslow-consumer=disconnect\nfifo=off\n[log]\nlevel=warning\n"), 0);
        ck_assert(!config.dbus.broadcast);
        ck_assert_str_eq(config.dbus.broadcast_patterns[0], "sensors.>");
        ck_assert_str_eq(config.dbus.broadcast_patterns[1], "alerts.>");
        ck_assert_ptr_null(config.dbus.broadcast_patterns[2]);
        ck_assert(config.jsonrpc.disconnect_slow);
        ck_assert(!config.jsonrpc.fifo);
        ck_assert_int_eq(config.log_level, G_LOG_LEVEL_WARNING);
        ck_assert_int_eq(load("[jsonrpc]\nslow-consumer=later\n"), -EINVAL);
        ck_assert_int_eq(load("[dbus]\nbroadcast=maybe\n"), -EINVAL);
}
END_TEST

START_TEST(test_bad_values_and_lines_are_errors)
{
        ck_assert_int_eq(load("[limits]\nmax-clients=0\n"), -EINVAL);
        ck_assert_int_eq(load("[limits]\nmax-clients=many\n"), -EINVAL);
        ck_assert_int_eq(load("[limits]\nmax-clients=5000000000\n"), -EINVAL);   /* over an unsigned */
        ck_assert_int_eq(load("[limits]\nmax-clients=16k\n"), -EINVAL);          /* a count has no unit */
        ck_assert_int_eq(load("max-clients=16\n"), -EINVAL);                     /* before any group */
        ck_assert_int_eq(load("[limits]\njust words\n"), -EINVAL);
        ck_assert_int_eq(load("[limits\nmax-clients=16\n"), -EINVAL);
        ck_assert_int_eq(load("[limits] junk\n"), -EINVAL);
}
END_TEST

START_TEST(test_unknown_keys_and_groups_warn)
{
        ck_assert_int_eq(load("[limits]\nmax-payloa=5\nmax-clients=7\n[limit]\nmax-clients=9\n"
                              "[nosuchgroup]\nwhatever=1\n[log]\nlevell=debug\n"), 0);
        ck_assert_uint_eq(config.limits.max_clients, 7);
        ck_assert_uint_eq(config.limits.max_payload, 1048576);
        ck_assert_int_eq(config.log_level, G_LOG_LEVEL_INFO);
}
END_TEST

START_TEST(test_closest_names)
{
        const char *const keys[] = { "max-payload", "max-value", "max-keys", "level", NULL };
        g_autofree char *a = config_closest("max-payloa", keys);
        g_autofree char *b = config_closest("payload", keys);
        g_autofree char *c = config_closest("max-kyes", keys);
        g_autofree char *d = config_closest("colour", keys);
        g_autofree char *e = config_closest("LEVEL", keys);

        ck_assert_str_eq(a, "max-payload");
        ck_assert_str_eq(b, "max-payload");
        ck_assert_str_eq(c, "max-keys");
        ck_assert_ptr_null(d);
        ck_assert_str_eq(e, "level");
}
END_TEST

START_TEST(test_missing_file)
{
        g_autofree char *path = g_build_filename(dir, "absent.conf", NULL);

        ck_assert_int_eq(config_load_file(&config, path, false), 0);
        ck_assert_int_eq(config_load_file(&config, path, true), -ENOENT);
}
END_TEST

START_TEST(test_every_key_round_trips)
{
        /* What config_key_format() writes, config_set() reads back to the same value. */
        for (const ConfigKey *k = config_keys; k->name; k++) {
                Config other;
                g_autofree char *text = config_key_format(&config, k);

                config_init_default(&other);
                ck_assert_msg(config_set(&other, k, text) == 0, "%s=%s", k->name, text);
                ck_assert_msg(config_key_equal(&config, &other, k), "%s", k->name);
                config_deinit(&other);
        }
}
END_TEST

static Suite *config_suite(void) {
        Suite *s = suite_create("config");
        struct {
                const char *name;
                const TTest *test;
        } cases[] = {
                { "inline-comments", test_inline_comments_end_the_value },
                { "value-strip", test_value_strip },
                { "sizes", test_sizes_take_units },
                { "durations", test_durations_take_units },
                { "words", test_words_and_booleans },
                { "bad-values", test_bad_values_and_lines_are_errors },
                { "unknown", test_unknown_keys_and_groups_warn },
                { "closest", test_closest_names },
                { "missing-file", test_missing_file },
                { "round-trip", test_every_key_round_trips },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                TCase *tc = tcase_create(cases[i].name);

                tcase_add_checked_fixture(tc, setup, teardown);
                tcase_add_test(tc, cases[i].test);
                suite_add_tcase(s, tc);
        }
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(config_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
