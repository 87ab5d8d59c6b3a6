/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-lib.c: libswitchboard reading what a hub (or anything at the other
 * end of its socket) sends: the input is written to the client's socket,
 * then the client processes it until the connection ends. The first byte
 * chooses how: bit 0 frames the rest as one body (else the bytes go as
 * they are, lengths included); bit 1 makes the client wait for an answer
 * in a blocking call (else an asynchronous request waits for it). Every
 * field of every event is read, so that a bad pointer shows.
 *
 * Invariants: no crash, no leak, no sanitizer report; the client ends with
 * a negative errno, never hangs.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <switchboard/switchboard.h>

#include "fuzz-util.h"

static size_t touched;

static void touch(const char *s) {
        if (s)
                touched += strlen(s);
}

static void on_event(sb_client *c, const sb_event *e, void *userdata) {
        touch(e->topic);
        touch(e->event);
        touch(e->error);
        touch(e->message);
        if (e->data && e->size)
                touched += ((const unsigned char *) e->data)[e->size - 1];
        if (e->sender) {
                touch(e->sender->transport);
                touch(e->sender->name);
                touch(e->sender->address);
        }
}

static void on_answer(sb_client *c, int error, const char *json, size_t size, void *userdata) {
        if (json && size)
                touched += (unsigned char) json[size - 1];
        touch(sb_error_name(c));
        touch(sb_error_message(c));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        sb_client *c;
        int sv[2], r;
        uint8_t mode;

        if (size < 1 || size > 60000)
                return 0;
        mode = data[0];
        data++, size--;
        fuzz_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        fuzz_assert(sb_connect_fd(sv[0], &c) == 0);
        sb_set_event_handler(c, on_event, NULL);
        sb_set_timeout(c, 1);

        if (mode & 1) {
                uint8_t header[4] = { (uint8_t) (size >> 24), (uint8_t) (size >> 16), (uint8_t) (size >> 8),
                                      (uint8_t) size };

                fuzz_assert(write(sv[1], header, 4) == 4);
        }
        /* Under the socket buffer's size: written at once. */
        fuzz_assert(write(sv[1], data, size) == (ssize_t) size);
        fuzz_assert(shutdown(sv[1], SHUT_WR) == 0);

        if (mode & 2) {
                char *json = NULL;

                /* Request 1: an answer with "id":1 in the input is its answer. */
                (void) sb_request(c, "hub.info", NULL, &json);
                free(json);
        } else
                fuzz_assert(sb_request_async(c, "hub.info", NULL, on_answer, NULL) == 0);

        /* Each sb_process() consumes input or ends; the input is finite. */
        for (unsigned i = 0; i < 100000; i++) {
                r = sb_process(c);
                if (r < 0)
                        break;
        }
        fuzz_assert(r < 0);
        sb_close(c);
        close(sv[1]);
        return 0;
}
