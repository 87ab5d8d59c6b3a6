/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ring.c: libswitchboard's shared-memory rings, on src/shm/ (the ring and
 * its client side, docs/shm.md). The client asks the hub with shm.publish
 * or shm.subscribe like any request; the memfd (and the eventfd that wakes
 * the hub) arrive with that answer's first byte and wait in c->fds, in
 * order, until the answer claims them. Reads and writes then go through
 * shared memory only.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/lib-private.h"
#include "shm/shm-client.h"

#define DEFAULT_SPIN 1000

struct sb_ring {
        sb_client *client;              /* NULL once the client is closed */
        ShmRing shm;
        unsigned spin;
};

/* The first @n fds received, taken out of c->fds; the rest are closed. */
static int take_fds(sb_client *c, int *fds, guint n) {
        guint got = MIN(n, c->fds->len);

        for (guint i = 0; i < got; i++)
                fds[i] = g_array_index(c->fds, int, i);
        g_array_remove_range(c->fds, 0, got);
        client_close_fds(c);
        return (int) got;
}

static int ring_open(sb_client *c, const char *method, const char *name_param, const char *name, size_t size,
                     unsigned flags, bool producer, sb_ring **ret) {
        g_autofree sb_ring *r = NULL;
        g_autofree char *kind = NULL;
        int fds[4] = { -1, -1, -1, -1 }, n;
        Answer *a;
        uint64_t id, ring;
        int res;

        res = check_text(c, name, "a topic or pattern must be UTF-8 text");
        if (res < 0)
                return res;
        if (size > UINT32_MAX)
                return client_fail(c, -E2BIG, "a ring holds at most 4 GiB");
        /* Fds of an earlier answer nobody claimed must not pass for this one's. */
        client_close_fds(c);
        request_begin(c, method, true, &id);
        json_append_member(c->request, name_param, name);
        if (size)
                json_append_u64(c->request, "size", size);
        if (flags & SB_WITH_RETAINED)
                json_append_bool(c->request, "with_retained", true);
        if (flags & SB_RING_DIRECT)
                json_append_bool(c->request, "direct", true);
        if (flags & SB_RING_ZERO_COPY)
                json_append_bool(c->request, "zero_copy", true);
        res = call_answer(c, id, 0, &a);
        if (res < 0) {
                client_close_fds(c);
                return res;
        }
        /* memfd, eventfd, the reader's eventfd (for a reader in an event loop), a zero-copy
         * ring's publisher memfd. */
        n = take_fds(c, fds, 4);
        if (answer_u64(a, "ring", &ring) < 0 || answer_text(a, "kind", &kind) < 0 || n < 1 ||
            ((flags & SB_RING_ZERO_COPY) && n < 4)) {
                for (int i = 0; i < n; i++)
                        if (fds[i] >= 0)
                                close(fds[i]);
                return client_fail(c, -EPROTO, "the hub's answer lacks the ring or its memfd");
        }
        r = g_new0(sb_ring, 1);
        r->shm = (ShmRing) SHM_RING_INIT;
        r->spin = DEFAULT_SPIN;
        /* A direct ring is the publisher's: we consume it, and no eventfd comes with it. */
        res = shm_ring_map(fds[0], n > 1 ? fds[1] : -1, producer, &r->shm);
        if (res < 0) {
                for (int i = 0; i < n; i++)
                        if (fds[i] >= 0)
                                close(fds[i]);
                return client_fail(c, res, "the hub's memfd is not a sealed ring");
        }
        /* A subscribe ring's third fd: the eventfd the hub writes for a reader in an event loop
         * (shm_ring_unmap() closes it from here on). */
        if (!producer && n > 2)
                r->shm.reader_fd = fds[2];
        else if (n > 2)
                close(fds[2]);
        if (n > 3) {
                res = shm_ring_map_publisher(&r->shm, fds[3]);
                if (res < 0) {
                        close(fds[3]);
                        shm_ring_unmap(&r->shm);
                        return client_fail(c, res, "the publisher's memfd is not a sealed ring");
                }
        }
        r->shm.id = ring;
        r->client = c;
        c->rings = g_list_prepend(c->rings, r);
        *ret = g_steal_pointer(&r);
        return 0;
}

SB_EXPORT int sb_ring_publish(sb_client *c, const char *topic, size_t size, sb_ring **ret) {
        return ring_open(c, "shm.publish", "topic", topic, size, 0, true, ret);
}

SB_EXPORT int sb_ring_subscribe(sb_client *c, const char *pattern, size_t size, unsigned flags, sb_ring **ret) {
        return ring_open(c, "shm.subscribe", "pattern", pattern, size, flags, false, ret);
}

/* Whether the ring is gone: its client was closed (unmapped), or the hub dropped it. */
static bool gone(const sb_ring *r) {
        return !r->shm.mem || ring_state(&r->shm.ring) == RING_STATE_CLOSED;
}

/* The ring's own error for a closed ring. */
static int closed_or(sb_ring *r, int res) {
        return gone(r) ? -EPIPE : res;
}

SB_EXPORT int sb_ring_put(sb_ring *r, const void *data, size_t size) {
        RingMsg m = { .type = RING_RECORD_MESSAGE, .payload = data, .payload_len = size };

        if (gone(r))
                return -EPIPE;
        return ring_put(&r->shm.ring, &m);
}

SB_EXPORT int sb_ring_put_topic(sb_ring *r, const char *topic, const void *data, size_t size) {
        RingMsg m = { .type = RING_RECORD_MESSAGE, .topic = topic, .topic_len = topic ? strlen(topic) : 0,
                      .payload = data, .payload_len = size };

        if (gone(r))
                return -EPIPE;
        if (m.topic_len > UINT16_MAX)
                return -EINVAL;
        return ring_put(&r->shm.ring, &m);
}

SB_EXPORT int sb_ring_reserve(sb_ring *r, size_t size, void **ret) {
        RingMsg m = { .type = RING_RECORD_MESSAGE, .payload_len = size };

        if (gone(r))
                return -EPIPE;
        return ring_reserve(&r->shm.ring, &m, ret);
}

SB_EXPORT void sb_ring_flush(sb_ring *r) {
        if (r->shm.mem)
                ring_flush(&r->shm.ring);
}

SB_EXPORT int sb_ring_write(sb_ring *r, const void *data, size_t size) {
        int res = sb_ring_put(r, data, size);

        if (res >= 0)
                sb_ring_flush(r);
        return res;
}

static struct timespec *timeout_of(int timeout_ms, struct timespec *ts) {
        if (timeout_ms < 0)
                return NULL;
        *ts = (struct timespec) { timeout_ms / 1000, (long) (timeout_ms % 1000) * 1000000 };
        return ts;
}

SB_EXPORT int sb_ring_wait_writable(sb_ring *r, size_t size, int timeout_ms) {
        struct timespec ts;

        if (!r->shm.mem)
                return -EPIPE;
        return closed_or(r, ring_wait_writable(&r->shm.ring, ring_record_size(0, size), r->spin,
                                               timeout_of(timeout_ms, &ts)));
}

SB_EXPORT int sb_ring_read(sb_ring *r, sb_ring_msg *ret) {
        const void *data = NULL;
        size_t size = 0;
        RingMsg m;
        int res;

        if (!r->shm.mem)
                return -EPIPE;
        res = ring_read(&r->shm.ring, &m);
        if (res < 0)
                return res == -EAGAIN ? closed_or(r, res) : res;
        /* A REF (zero-copy rings): the payload in the publisher's ring, checked against its mapping. */
        res = shm_ring_payload(&r->shm, &m, &data, &size);
        if (res < 0)
                return res;
        *ret = (sb_ring_msg) {
                .seq = m.seq,
                .topic = m.topic,
                .topic_len = m.topic_len,
                .data = data,
                .size = size,
                .retained = (m.flags & RING_FLAG_RETAINED) != 0,
        };
        if (m.type == RING_RECORD_GAP) {
                uint64_t last = m.seq;

                if (m.payload_len == sizeof last)
                        memcpy(&last, m.payload, sizeof last);
                ret->gap = true;
                ret->first_seq = m.seq;
                ret->last_seq = last;
                ret->data = NULL;
                ret->size = 0;
        }
        return 0;
}

SB_EXPORT void sb_ring_release(sb_ring *r) {
        if (r->shm.mem)
                ring_release(&r->shm.ring);
}

SB_EXPORT int sb_ring_wait(sb_ring *r, int timeout_ms) {
        struct timespec ts;

        if (!r->shm.mem)
                return -EPIPE;
        return closed_or(r, ring_wait_readable(&r->shm.ring, r->spin, timeout_of(timeout_ms, &ts)));
}

/* Whether the other side has caught up: @drained, the hub took all we flushed (a publish
 * ring); else something is unread or unreleased (a subscribe ring). */
static bool shared_ready(const sb_ring *r, bool drained) {
        const RingShared *sh = r->shm.ring.shared;
        uint64_t tail = __atomic_load_n(&sh->tail, __ATOMIC_ACQUIRE);

        if (drained)
                return tail == r->shm.ring.published;
        return __atomic_load_n(&sh->head, __ATOMIC_ACQUIRE) != tail;
}

/* Sleep on @word until shared_ready(); only the shared words, never the ring's private state. */
static int shared_wait(sb_ring *r, uint32_t *word, bool drained, int timeout_ms) {
        struct timespec ts;

        if (!r->shm.mem)
                return -EPIPE;
        for (;;) {
                int k;

                if (__atomic_load_n(&r->shm.ring.shared->state, __ATOMIC_ACQUIRE) != RING_STATE_OK)
                        return -EPIPE;
                __atomic_store_n(word, RING_WAIT_FUTEX, __ATOMIC_SEQ_CST);
                __atomic_thread_fence(__ATOMIC_SEQ_CST);
                if (shared_ready(r, drained)) {
                        __atomic_store_n(word, RING_AWAKE, __ATOMIC_RELAXED);
                        return 0;
                }
                k = ring_futex_wait(word, RING_WAIT_FUTEX, timeout_of(timeout_ms, &ts));
                if (k == -ETIMEDOUT || k == -EINTR) {
                        __atomic_store_n(word, RING_AWAKE, __ATOMIC_RELAXED);
                        return shared_ready(r, drained) ? 0 : k;
                }
        }
}

SB_EXPORT int sb_ring_wait_drained(sb_ring *r, int timeout_ms) {
        /* The hub wakes a producer that waits for space when it gives some back. */
        return r->shm.mem ? shared_wait(r, &r->shm.ring.shared->prod_wait, true, timeout_ms) : -EPIPE;
}

SB_EXPORT int sb_ring_sleep(sb_ring *r, int timeout_ms) {
        /* A thread other than the reader's: the reader's private indices are its own. */
        return r->shm.mem ? shared_wait(r, &r->shm.ring.shared->cons_wait, false, timeout_ms) : -EPIPE;
}

SB_EXPORT int sb_ring_event_fd(const sb_ring *r) {
        return r->shm.mem ? r->shm.reader_fd : -1;
}

SB_EXPORT int sb_ring_arm(sb_ring *r) {
        if (!r->shm.mem || r->shm.reader_fd < 0)
                return -EPIPE;
        if (!shm_ring_sleep(&r->shm))
                return 0;
        /* Closed: the hub writes no more records, and may never write the eventfd. */
        return ring_state(&r->shm.ring) == RING_STATE_OK ? 1 : -EPIPE;
}

SB_EXPORT void sb_ring_set_spin(sb_ring *r, unsigned spin) {
        r->spin = spin;
}

SB_EXPORT uint64_t sb_ring_id(const sb_ring *r) {
        return r->shm.id;
}

SB_EXPORT size_t sb_ring_size(const sb_ring *r) {
        return r->shm.ring.size;
}

/* The client is closing: unmap, nothing to tell the hub (it drops the rings with the connection). */
void ring_client_gone(sb_ring *r) {
        r->client->rings = g_list_remove(r->client->rings, r);
        r->client = NULL;
        shm_ring_unmap(&r->shm);
}

SB_EXPORT int sb_ring_close(sb_ring *r) {
        uint64_t id;
        int res = 0;

        if (!r)
                return 0;
        if (r->client) {
                sb_client *c = r->client;

                /* Writes put but not flushed are the caller's to flush first; the rest is gone. */
                request_begin(c, "shm.close", true, &id);
                json_append_u64(c->request, "ring", r->shm.id);
                {
                        Answer *a;

                        res = call_answer(c, id, 0, &a);
                }
                c->rings = g_list_remove(c->rings, r);
                shm_ring_unmap(&r->shm);
        }
        g_free(r);
        return res;
}
