/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * frame.h: 4-byte big-endian length-prefixed frames.
 *
 *   +----------------+----------------------+
 *   | length: u32 BE | length bytes of body |
 *   +----------------+----------------------+
 *
 * A FrameReader collects bytes as they arrive (split or many at once) and
 * hands out whole bodies. It never holds more than one maximal frame plus
 * one read's worth of bytes: a length over the maximum is an error as soon
 * as its 4 bytes are in, before any body is buffered. No I/O here.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#define FRAME_HEADER_SIZE 4
#define FRAME_KEEP_BYTES  (256 * 1024)  /* buffers larger than this are given back when empty */

typedef struct FrameReader {
        GByteArray *buf;
        size_t start;           /* first byte not yet handed out */
        size_t max_frame;
} FrameReader;

void frame_reader_init(FrameReader *r, size_t max_frame);
void frame_reader_deinit(FrameReader *r);
void frame_reader_feed(FrameReader *r, const void *data, size_t len);
int frame_reader_next(FrameReader *r, const char **ret_body, size_t *ret_len);
bool frame_reader_has_frame(const FrameReader *r);
size_t frame_reader_pending(const FrameReader *r);

void frame_append(GByteArray *out, const void *body, size_t len);
uint8_t *frame_reserve(GByteArray *out, size_t len);
