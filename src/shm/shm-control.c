/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shm-control.c: see shm-control.h. A blocking JSON-RPC exchange on a
 * dedicated connection: one request frame out, frames in until the answer,
 * with the fds that come along.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "proto/json.h"
#include "shm/shm-control.h"

#define SHM_MAX_FRAME   (16u << 20)

static int send_all(int sock, const void *buf, size_t len) {
        const char *p = buf;

        while (len > 0) {
                ssize_t n = send(sock, p, len, MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Read exactly @len bytes; fds that come along are added to @fds. */
static int recv_exact(int sock, void *buf, size_t len, int *fds, size_t max_fds, size_t *n_fds) {
        char *p = buf;

        while (len > 0) {
                size_t got = 0;
                ssize_t n = shm_recv(sock, p, len, fds + *n_fds, max_fds - *n_fds, &got);

                if (n < 0)
                        return (int) n;
                if (n == 0)
                        return -EPIPE;
                *n_fds += got;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

static void close_fds(int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                close(fds[i]);
}

/* Whether a frame is a notification: a "method" and no "id". */
static bool is_notification(const char *body, size_t len) {
        g_autoptr(JsonParser) jp = json_parser_new();

        return json_parse(jp, body, len, 64, NULL) >= 0 && json_token(jp, 0)->type == JSON_OBJECT &&
               json_object_find(jp, 0, "method") >= 0 && json_object_find(jp, 0, "id") < 0;
}

/* The "ring" of an answer's result. Return: 0, -EREMOTEIO for an error answer, -EPROTO. */
static int answer_ring(const char *body, uint64_t *ret) {
        g_autoptr(JsonParser) jp = json_parser_new();
        int result, ring;

        if (json_parse(jp, body, strlen(body), 64, NULL) < 0 || json_token(jp, 0)->type != JSON_OBJECT)
                return -EPROTO;
        if (json_object_find(jp, 0, "error") >= 0)
                return -EREMOTEIO;
        result = json_object_find(jp, 0, "result");
        if (result < 0 || json_token(jp, result)->type != JSON_OBJECT)
                return -EPROTO;
        ring = json_object_find(jp, result, "ring");
        return ring >= 0 && json_uint64(jp, ring, ret) >= 0 ? 0 : -EPROTO;
}

int shm_call(int sock, const char *request, size_t len, char **ret_body, int *fds, size_t max_fds,
             size_t *ret_n_fds) {
        unsigned char hdr[4] = { len >> 24, len >> 16, len >> 8, len };
        int k;

        if (len > SHM_MAX_FRAME)
                return -EMSGSIZE;
        k = send_all(sock, hdr, sizeof hdr);
        if (k >= 0)
                k = send_all(sock, request, len);
        if (k < 0)
                return k;

        for (;;) {
                size_t n_fds = 0;
                uint32_t flen;
                char *body;

                k = recv_exact(sock, hdr, sizeof hdr, fds, max_fds, &n_fds);
                if (k < 0) {
                        close_fds(fds, n_fds);
                        return k;
                }
                flen = (uint32_t) hdr[0] << 24 | (uint32_t) hdr[1] << 16 | (uint32_t) hdr[2] << 8 | hdr[3];
                if (flen > SHM_MAX_FRAME) {
                        close_fds(fds, n_fds);
                        return -EMSGSIZE;
                }
                body = malloc(flen + 1);
                if (!body) {
                        close_fds(fds, n_fds);
                        return -ENOMEM;
                }
                k = recv_exact(sock, body, flen, fds, max_fds, &n_fds);
                if (k < 0) {
                        free(body);
                        close_fds(fds, n_fds);
                        return k;
                }
                body[flen] = '\0';
                if (is_notification(body, flen)) {
                        free(body);
                        close_fds(fds, n_fds);
                        continue;
                }
                *ret_body = body;
                if (ret_n_fds)
                        *ret_n_fds = n_fds;
                else
                        close_fds(fds, n_fds);
                return 0;
        }
}

static bool name_plain(const char *s) {
        for (; *s; s++)
                if (*s == '"' || *s == '\\' || (unsigned char) *s < 0x20)
                        return false;
        return true;
}

/* JSON members from the caller: quotes are theirs; control characters would break the frame. */
static bool options_plain(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20)
                        return false;
        return true;
}

int shm_ring_open(int sock, bool publish, const char *name, uint32_t size, const char *options,
                  ShmRing *ret, char **ret_error) {
        char *request = NULL, *body = NULL;
        int fds[SHM_MAX_FDS];
        size_t n_fds = 0;
        uint64_t id;
        int k, len;

        if (!name_plain(name) || (options && !options_plain(options)))
                return -EINVAL;
        len = asprintf(&request, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":{\"%s\":\"%s\","
                       "\"size\":%" PRIu32 "%s%s}}", publish ? "shm.publish" : "shm.subscribe",
                       publish ? "topic" : "pattern", name, size, options ? "," : "", options ?: "");
        if (len < 0)
                return -ENOMEM;
        k = shm_call(sock, request, (size_t) len, &body, fds, SHM_MAX_FDS, &n_fds);
        free(request);
        if (k < 0)
                return k;

        k = answer_ring(body, &id);
        if (k == -EREMOTEIO) {
                close_fds(fds, n_fds);
                if (ret_error)
                        *ret_error = body;
                else
                        free(body);
                return -EREMOTEIO;
        }
        if (k < 0 || n_fds < 1) {
                close_fds(fds, n_fds);
                free(body);
                return -EPROTO;
        }
        free(body);
        k = shm_ring_map(fds[0], n_fds > 1 ? fds[1] : -1, publish, ret);
        if (k < 0) {
                close_fds(fds, n_fds);
                return k;
        }
        /* A subscribe ring's third fd: the reader's eventfd; a zero-copy one's fourth: the publisher's ring. */
        if (!publish && n_fds > 2) {
                ret->reader_fd = fds[2];
                if (n_fds > 3) {
                        k = shm_ring_map_publisher(ret, fds[3]);
                        if (k < 0) {
                                close_fds(fds + 3, n_fds - 3);
                                shm_ring_unmap(ret);
                                return k;
                        }
                }
                close_fds(fds + 4, n_fds > 4 ? n_fds - 4 : 0);
        } else
                close_fds(fds + 2, n_fds > 2 ? n_fds - 2 : 0);
        ret->id = id;
        return 0;
}

int shm_ring_close(int sock, ShmRing *r) {
        char request[128], *body = NULL;
        int fds[SHM_MAX_FDS];
        size_t n_fds = 0;
        int len, k;

        len = snprintf(request, sizeof request,
                       "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"shm.close\",\"params\":{\"ring\":%" PRIu64 "}}",
                       r->id);
        k = shm_call(sock, request, (size_t) len, &body, fds, SHM_MAX_FDS, &n_fds);
        if (k >= 0)
                close_fds(fds, n_fds);
        free(body);
        shm_ring_unmap(r);
        return k;
}
