/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-config.c: libFuzzer target for the daemon's configuration parser
 * (src/daemon/config.c), fed through config_load_text(), the part of
 * config_load_file() after the read. The input is the file's text (a NUL
 * ends it, as it ends a file the parser read). Whatever the text, the
 * parser answers 0 or -EINVAL, and every key of the table holds its
 * default or a value inside its declared bounds: numbers from 1 to the
 * key's max (and to its field's width), booleans 0 or 1, a sync policy and
 * a log level of their lists, patterns non-empty and stripped. And what it
 * accepted reads back the same: each key's value as config_key_format()
 * spells it is accepted by config_set() with an equal result, and a file
 * written from all of them loads into an equal Config.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "fuzz-util.h"
#include "daemon/config.h"
#include "util/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        g_log_set_writer_func(fuzz_log_discard, NULL, NULL);
        log_set_max_level(G_LOG_LEVEL_DEBUG);
        return 0;
}

static uint64_t number(const Config *c, const ConfigKey *k) {
        const void *field = (const char *) c + k->offset;

        return k->size == sizeof(uint32_t) ? *(const uint32_t *) field : *(const uint64_t *) field;
}

static void check_bounds(const Config *c, const Config *defaults) {
        for (const ConfigKey *k = config_keys; k->name; k++) {
                const void *field = (const char *) c + k->offset;
                g_autofree char *formatted = config_key_format(c, k);

                switch (k->type) {
                case CONFIG_COUNT:
                case CONFIG_SIZE:
                case CONFIG_MSEC: {
                        uint64_t v = number(c, k);

                        fuzz_assert(k->size == sizeof(uint32_t) || k->size == sizeof(uint64_t));
                        if (v != number(defaults, k)) {
                                if (v < 1 || v > k->max) {
                                        fprintf(stderr, "[%s] %s = %" G_GUINT64_FORMAT ", outside 1..%"
                                                G_GUINT64_FORMAT "\n", k->group, k->name, v, k->max);
                                        abort();
                                }
                        }
                        break;
                }
                case CONFIG_BOOL:
                case CONFIG_SLOW_CONSUMER:
                        fuzz_assert(*(const uint8_t *) field <= 1);
                        break;
                case CONFIG_SYNC: {
                        JournalSync s = *(const JournalSync *) field;

                        fuzz_assert(s == JOURNAL_SYNC_ALWAYS || s == JOURNAL_SYNC_INTERVAL ||
                                    s == JOURNAL_SYNC_NEVER);
                        break;
                }
                case CONFIG_LOG_LEVEL:
                        fuzz_assert(strcmp(formatted, "?") != 0);
                        break;
                case CONFIG_STRING:
                case CONFIG_ADDRESS: {
                        const char *s = *(char *const *) field;

                        fuzz_assert(!s || (*s && !g_ascii_isspace(s[0]) && !g_ascii_isspace(s[strlen(s) - 1])));
                        break;
                }
                case CONFIG_PATTERNS:
                        for (char *const *p = *(char *const *const *) field; p && *p; p++) {
                                size_t len = strlen(*p);

                                fuzz_assert(len > 0 && !strchr(*p, ';'));
                                fuzz_assert(!g_ascii_isspace((*p)[0]) && !g_ascii_isspace((*p)[len - 1]));
                        }
                        break;
                }
        }
}

/* "a#b" in a file is literal, " #b" a comment: write every '#' as "\#". */
static char *escape_hashes(const char *s) {
        GString *out = g_string_new(NULL);

        for (; *s; s++) {
                if (*s == '#')
                        g_string_append_c(out, '\\');
                g_string_append_c(out, *s);
        }
        return g_string_free(out, FALSE);
}

static void check_read_back(const Config *c) {
        g_autoptr(GString) file = g_string_new(NULL);
        const char *group = NULL;
        Config again;
        int r;

        for (const ConfigKey *k = config_keys; k->name; k++) {
                g_autofree char *value = config_key_format(c, k), *escaped = NULL;
                Config one;

                config_init_default(&one);
                r = config_set(&one, k, value);
                if (r < 0 || !config_key_equal(c, &one, k)) {
                        fprintf(stderr, "[%s] %s: '%s' does not read back (%d)\n", k->group, k->name, value, r);
                        abort();
                }
                config_deinit(&one);

                if (!group || strcmp(group, k->group) != 0) {
                        group = k->group;
                        g_string_append_printf(file, "[%s]\n", group);
                }
                escaped = escape_hashes(value);
                g_string_append_printf(file, "%s = %s\n", k->name, escaped);
        }

        config_init_default(&again);
        r = config_load_text(&again, "fuzz-read-back", file->str);
        if (r < 0) {
                fprintf(stderr, "a file written from an accepted config does not load:\n%s", file->str);
                abort();
        }
        for (const ConfigKey *k = config_keys; k->name; k++)
                if (!config_key_equal(c, &again, k)) {
                        fprintf(stderr, "[%s] %s differs after a write and a load of:\n%s", k->group, k->name,
                                file->str);
                        abort();
                }
        config_deinit(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autofree char *text = g_strndup((const char *) data, size);  /* stops at a NUL */
        Config c, defaults;
        int r;

        config_init_default(&defaults);
        config_init_default(&c);
        r = config_load_text(&c, "fuzz.conf", text);
        fuzz_assert(r == 0 || r == -EINVAL);

        /* Keys before a bad line are applied, so bounds hold either way. */
        check_bounds(&c, &defaults);
        if (r == 0)
                check_read_back(&c);

        config_deinit(&c);
        config_deinit(&defaults);
        return 0;
}
