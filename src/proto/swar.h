/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * swar.h: eight bytes at a time in a 64-bit word ("SIMD within a
 * register"), for the JSON reader and writer, which look for the few bytes
 * a string treats specially among many that it does not.
 */
#pragma once

#include <stdint.h>

#define SWAR_ONES UINT64_C(0x0101010101010101)
#define SWAR_HIGHS UINT64_C(0x8080808080808080)

/*
 * The top bit of each byte of @w below @n (n <= 128), exact up to the
 * lowest one (the classic SWAR test: a borrow can only flag a byte above a
 * flagged one). Bytes of 0x80 and above are never flagged.
 */
static inline uint64_t swar_less(uint64_t w, unsigned n) {
        return (w - SWAR_ONES * n) & ~w & SWAR_HIGHS;
}

/* The top bit of each byte of @w equal to @b, exact up to the lowest one. */
static inline uint64_t swar_equal(uint64_t w, unsigned char b) {
        return swar_less(w ^ (SWAR_ONES * b), 1);
}

/* How many bytes of a little- or big-endian loaded word precede the first flagged in @m (m != 0). */
static inline unsigned swar_first(uint64_t m) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        return (unsigned) __builtin_ctzll(m) >> 3;
#else
        return (unsigned) __builtin_clzll(m) >> 3;
#endif
}
