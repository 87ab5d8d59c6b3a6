/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * frame.c: see frame.h. Bodies are handed out in place (no copy); the
 * buffer is compacted when the reader is fed again, so a body stays valid
 * until the next frame_reader_feed().
 */
#include <errno.h>
#include <string.h>

#include "proto/frame.h"

void frame_reader_init(FrameReader *r, size_t max_frame) {
        *r = (FrameReader) {
                .buf = g_byte_array_new(),
                .max_frame = max_frame,
        };
}

void frame_reader_deinit(FrameReader *r) {
        g_clear_pointer(&r->buf, g_byte_array_unref);
}

/**
 * frame_reader_feed() - append @len bytes that arrived
 *
 * Invalidates bodies handed out before.
 */
void frame_reader_feed(FrameReader *r, const void *data, size_t len) {
        /* Everything handed out: a buffer grown by one big frame is not kept. */
        if (r->start > 0 && r->start == r->buf->len && r->buf->len > FRAME_KEEP_BYTES) {
                g_byte_array_unref(r->buf);
                r->buf = g_byte_array_new();
                r->start = 0;
        }
        if (r->start > 0) {
                g_byte_array_remove_range(r->buf, 0, r->start);
                r->start = 0;
        }
        g_byte_array_append(r->buf, data, len);
}

/* The length in the next frame's header, if its 4 bytes are in. */
static bool next_length(const FrameReader *r, uint32_t *ret) {
        const uint8_t *p;

        if (r->buf->len - r->start < FRAME_HEADER_SIZE)
                return false;
        /* Only now: an empty GByteArray's data is NULL, and NULL + 0 is undefined. */
        p = r->buf->data + r->start;
        *ret = (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
        return true;
}

/**
 * frame_reader_next() - the next whole frame's body, if one is in
 * @ret_body: points into the reader's buffer; not NUL-terminated
 *
 * Return: 1 with a body, 0 when more bytes are needed, -EMSGSIZE when the
 * next frame's length exceeds the maximum (the stream cannot be trusted
 * after that: the caller closes it).
 */
int frame_reader_next(FrameReader *r, const char **ret_body, size_t *ret_len) {
        uint32_t len;

        if (!next_length(r, &len))
                return 0;
        if (len > r->max_frame)
                return -EMSGSIZE;
        if (r->buf->len - r->start - FRAME_HEADER_SIZE < len)
                return 0;

        *ret_body = (const char *) r->buf->data + r->start + FRAME_HEADER_SIZE;
        *ret_len = len;
        r->start += FRAME_HEADER_SIZE + len;
        return 1;
}

/**
 * frame_reader_has_frame() - whether a whole frame waits to be handed out
 * (or a length over the maximum, which frame_reader_next() reports)
 */
bool frame_reader_has_frame(const FrameReader *r) {
        uint32_t len;

        return next_length(r, &len) && (len > r->max_frame || r->buf->len - r->start - FRAME_HEADER_SIZE >= len);
}

/**
 * frame_reader_pending() - bytes received but not yet handed out
 */
size_t frame_reader_pending(const FrameReader *r) {
        return r->buf->len - r->start;
}

/**
 * frame_append() - append one frame holding @body to @out
 */
void frame_append(GByteArray *out, const void *body, size_t len) {
        memcpy(frame_reserve(out, len), body, len);
}

/**
 * frame_reserve() - append a frame of @len bytes to @out, header written,
 * body left for the caller to fill
 *
 * One resize for the whole frame: every response and notification goes
 * through here. Return: where the body goes, valid until @out changes.
 */
uint8_t *frame_reserve(GByteArray *out, size_t len) {
        guint at = out->len;
        uint8_t *p;

        g_assert(len <= UINT32_MAX - FRAME_HEADER_SIZE);
        g_byte_array_set_size(out, at + FRAME_HEADER_SIZE + (guint) len);
        p = out->data + at;
        *p++ = (uint8_t) (len >> 24), *p++ = (uint8_t) (len >> 16), *p++ = (uint8_t) (len >> 8), *p++ = (uint8_t) len;
        return p;
}
