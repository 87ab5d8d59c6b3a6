/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-util.h: what every libFuzzer target here shares: the entry point's
 * declaration, an assertion that aborts (so libFuzzer keeps the input)
 * whatever NDEBUG says, and a log writer that drops the hub's messages
 * after they were formatted (hostile strings still go through the
 * formatting, the output stays readable).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_assert(expr)                                                                       \
        do {                                                                                    \
                if (!(expr)) {                                                                  \
                        fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                                \
                }                                                                               \
        } while (0)

static inline GLogWriterOutput fuzz_log_discard(GLogLevelFlags level, const GLogField *fields, gsize n,
                                                gpointer userdata) {
        return G_LOG_WRITER_HANDLED;
}
