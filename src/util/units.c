/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * units.c: the values of switchboard.conf as people write them (units.h):
 * counts, sizes with units, durations, booleans. The hub's config parser
 * and switchboard-bridge's [bridge] group read the same file, so they read
 * its values with the same functions.
 */
#include <errno.h>
#include <stdint.h>

#include <glib.h>

#include "util/units.h"

/* The leading whole number of @s, at least 1, in @ret; @ret_end after it. */
static int parse_number(const char *s, uint64_t *ret, const char **ret_end) {
        char *end;
        guint64 v;

        if (!s || !g_ascii_isdigit(*s))
                return -EINVAL;
        errno = 0;
        v = g_ascii_strtoull(s, &end, 10);
        if (errno != 0)
                return -ERANGE;
        *ret = v;
        *ret_end = end;
        return 0;
}

/* @v times @unit, checked against 1..@max. */
static int scale(uint64_t v, uint64_t unit, uint64_t max, uint64_t *ret) {
        if (v == 0 || v > max / unit)
                return -ERANGE;
        *ret = v * unit;
        return 0;
}

/**
 * config_parse_count() - a whole number in 1..@max
 * Return: 0; -EINVAL for no number or anything after it, -ERANGE for 0 or more than @max.
 */
int config_parse_count(const char *s, uint64_t max, uint64_t *ret) {
        const char *end;
        uint64_t v;
        int r;

        r = parse_number(s, &v, &end);
        if (r < 0)
                return r;
        if (*end != '\0')
                return -EINVAL;
        return scale(v, 1, max, ret);
}

/* A unit after a number: the number's multiplier, or 0 for no such unit. */
static uint64_t unit_multiplier(const char *unit, const char *const names[][2], size_t n) {
        for (size_t i = 0; i < n; i++)
                if (g_ascii_strcasecmp(unit, names[i][0]) == 0)
                        return g_ascii_strtoull(names[i][1], NULL, 10);
        return 0;
}

/* The number and unit of @s, with spaces allowed between: "64k", "64 KiB". */
static int parse_with_unit(const char *s, const char *const units[][2], size_t n_units, uint64_t max,
                           uint64_t *ret) {
        const char *end;
        uint64_t v, mult;
        int r;

        r = parse_number(s, &v, &end);
        if (r < 0)
                return r;
        while (*end == ' ' || *end == '\t')
                end++;
        mult = unit_multiplier(end, units, n_units);
        if (mult == 0)
                return -EINVAL;
        return scale(v, mult, max, ret);
}

/**
 * config_parse_size() - a size in bytes: 65536, 64k, 64K, 64KiB, 16M, 16MB, 16MiB, 1G
 *
 * Every unit is a power of 1,024, whatever its spelling, case-insensitive;
 * no unit (or B) is bytes.
 *
 * Return: 0; -EINVAL for no number or an unknown unit, -ERANGE for 0 or more than @max.
 */
int config_parse_size(const char *s, uint64_t max, uint64_t *ret) {
        static const char *const units[][2] = {
                { "", "1" }, { "b", "1" },
                { "k", "1024" }, { "kb", "1024" }, { "kib", "1024" },
                { "m", "1048576" }, { "mb", "1048576" }, { "mib", "1048576" },
                { "g", "1073741824" }, { "gb", "1073741824" }, { "gib", "1073741824" },
        };

        return parse_with_unit(s, units, G_N_ELEMENTS(units), max, ret);
}

/**
 * config_parse_msec() - a duration in milliseconds: 500, 500ms, 2s, 1m, 1min, 1h
 *
 * Return: 0; -EINVAL for no number or an unknown unit, -ERANGE for 0 or more than @max ms.
 */
int config_parse_msec(const char *s, uint64_t max, uint64_t *ret) {
        static const char *const units[][2] = {
                { "", "1" }, { "ms", "1" }, { "s", "1000" }, { "sec", "1000" },
                { "m", "60000" }, { "min", "60000" }, { "h", "3600000" },
        };

        return parse_with_unit(s, units, G_N_ELEMENTS(units), max, ret);
}

/**
 * config_parse_bool() - true, yes, on, 1 or false, no, off, 0 (any case)
 * Return: 0, or -EINVAL.
 */
int config_parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no", "off", "0" };

        for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
                if (g_ascii_strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (g_ascii_strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}
