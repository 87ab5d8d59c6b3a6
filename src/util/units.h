/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * units.h: values of switchboard.conf: counts, sizes (65536, 64k, 16MiB, 1G;
 * powers of 1,024), durations in ms (500, 500ms, 2s, 1m, 1h) and booleans
 * (yes/no, true/false, on/off, 1/0).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

int config_parse_count(const char *s, uint64_t max, uint64_t *ret);
int config_parse_size(const char *s, uint64_t max, uint64_t *ret);
int config_parse_msec(const char *s, uint64_t max, uint64_t *ret);
int config_parse_bool(const char *s, bool *ret);
