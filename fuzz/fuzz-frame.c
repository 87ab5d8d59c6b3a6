/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-frame.c: libFuzzer target for the FrameReader (proto/frame.h).
 * The input is a small header that picks the reader's limit and how the
 * stream is cut into reads, then the stream itself:
 *
 *   +-----------------+--------------+------------------+--------------+
 *   | max_frame u16LE | seed u16 LE  | max piece u8     | stream ...   |
 *   +-----------------+--------------+------------------+--------------+
 *
 * The stream is fed in pieces of 0..max piece bytes (0: the whole rest at
 * once) drawn from a generator seeded by `seed`; after each feed every
 * whole frame is taken out. Invariants checked: a body never exceeds
 * max_frame; frame_reader_pending() is always the bytes fed minus those
 * handed out, and below one maximal frame plus its header once drained;
 * re-framing the bodies with frame_append() reproduces a prefix of the
 * stream; bodies stay valid until the next feed; -EMSGSIZE comes exactly
 * when a complete header announces more than max_frame, and stays.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "fuzz-util.h"
#include "proto/frame.h"

#define HEADER 5

typedef struct Body {
        const char *ptr;
        size_t len;
        size_t offset;          /* of the body in the stream */
} Body;

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static uint32_t next_rand(uint32_t *state) {
        /* xorshift32; any fixed generator does, as long as the input decides. */
        uint32_t x = *state;

        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *state = x;
        return x;
}

/* Bodies handed out since the last feed must still hold their bytes. */
static void check_bodies(GArray *bodies, const uint8_t *stream) {
        for (guint i = 0; i < bodies->len; i++) {
                const Body *b = &g_array_index(bodies, Body, i);

                fuzz_assert(b->len == 0 || memcmp(b->ptr, stream + b->offset, b->len) == 0);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GByteArray) reframed = NULL;
        g_autoptr(GArray) bodies = NULL;
        const uint8_t *stream;
        size_t n, max_frame, max_piece, fed = 0, taken = 0;
        uint32_t state;
        FrameReader r;
        bool failed = false;

        if (size < HEADER)
                return -1;      /* not kept in the corpus */
        max_frame = data[0] | (size_t) data[1] << 8;
        state = (data[2] | (uint32_t) data[3] << 8) * 2654435761u + 1;
        if (state == 0)
                state = 1;      /* xorshift's only fixed point */
        max_piece = data[4];
        stream = data + HEADER;
        n = size - HEADER;

        reframed = g_byte_array_new();
        bodies = g_array_new(FALSE, FALSE, sizeof(Body));
        frame_reader_init(&r, max_frame);
        fuzz_assert(frame_reader_pending(&r) == 0);

        while (fed < n && !failed) {
                size_t piece = max_piece == 0 ? n - fed : next_rand(&state) % (max_piece + 1);

                piece = MIN(piece, n - fed);    /* MIN() evaluates twice: not with next_rand() inside */

                check_bodies(bodies, stream);
                g_array_set_size(bodies, 0);

                frame_reader_feed(&r, stream + fed, piece);
                fed += piece;
                fuzz_assert(frame_reader_pending(&r) == fed - taken);

                for (;;) {
                        const char *body = NULL;
                        size_t len = 0;
                        int k;

                        k = frame_reader_next(&r, &body, &len);
                        if (k == 0) {
                                /* Nothing whole is left: a partial header or a partial body. */
                                fuzz_assert(fed - taken < FRAME_HEADER_SIZE ||
                                            (be32(stream + taken) <= max_frame &&
                                             (size_t) be32(stream + taken) > fed - taken - FRAME_HEADER_SIZE));
                                fuzz_assert(frame_reader_pending(&r) < FRAME_HEADER_SIZE + max_frame);
                                /* Asking again changes nothing. */
                                fuzz_assert(frame_reader_next(&r, &body, &len) == 0);
                                break;
                        }
                        if (k < 0) {
                                fuzz_assert(k == -EMSGSIZE);
                                fuzz_assert(fed - taken >= FRAME_HEADER_SIZE);
                                fuzz_assert(be32(stream + taken) > max_frame);
                                /* The stream cannot be trusted any more, and the reader says so again. */
                                fuzz_assert(frame_reader_next(&r, &body, &len) == -EMSGSIZE);
                                failed = true;
                                break;
                        }

                        fuzz_assert(k == 1);
                        fuzz_assert(len <= max_frame);
                        fuzz_assert(body);
                        fuzz_assert(len == be32(stream + taken));
                        fuzz_assert(taken + FRAME_HEADER_SIZE + len <= fed);

                        frame_append(reframed, body, len);
                        taken += FRAME_HEADER_SIZE + len;
                        fuzz_assert(reframed->len == taken);
                        fuzz_assert(memcmp(reframed->data, stream, taken) == 0);
                        fuzz_assert(frame_reader_pending(&r) == fed - taken);

                        g_array_append_val(bodies, ((Body) {
                                .ptr = body,
                                .len = len,
                                .offset = taken - len,
                        }));
                        check_bodies(bodies, stream);
                }
        }
        check_bodies(bodies, stream);

        frame_reader_deinit(&r);
        fuzz_assert(r.buf == NULL);
        frame_reader_deinit(&r);        /* a second deinit is harmless */
        return 0;
}
