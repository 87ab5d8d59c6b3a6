/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ring.c: the single-producer single-consumer shared-memory ring (ring.h,
 * docs/shm.md). Every index read from the other side is validated before
 * use; every record header is copied out of shared memory before it is
 * checked, so a peer that changes it meanwhile cannot make us read outside
 * the mapping. Callers: the hub (src/shm/shm-hub.c), shm-client.c, tests,
 * benchmarks.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shm/ring.h"

_Static_assert(offsetof(RingShared, head) == 128, "producer line");
_Static_assert(offsetof(RingShared, tail) == 256, "consumer line");
_Static_assert(offsetof(RingShared, state) == 384, "hub line");
_Static_assert(sizeof(RingShared) <= RING_HEADER_SIZE, "header size");

/* The record header as laid out in the ring (24 bytes). */
typedef struct RecordHeader {
        uint32_t size;                  /* whole record, header and padding included; multiple of 8 */
        uint16_t type;
        uint16_t topic_len;
        uint32_t payload_len;
        uint32_t flags;
        uint64_t seq;
} RecordHeader;
_Static_assert(sizeof(RecordHeader) == RING_RECORD_HEADER, "record header");

#define load_acquire(p)         __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define load_relaxed(p)         __atomic_load_n((p), __ATOMIC_RELAXED)
#define store_release(p, v)     __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define store_relaxed(p, v)     __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define full_fence()            __atomic_thread_fence(__ATOMIC_SEQ_CST)

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield");
#endif
}

static inline size_t align8(size_t n) {
        return (n + RING_ALIGN - 1) & ~(size_t) (RING_ALIGN - 1);
}

size_t ring_map_size(uint32_t data_size) {
        return (size_t) RING_HEADER_SIZE + data_size;
}

bool ring_size_valid(uint64_t data_size) {
        return data_size >= RING_MIN_SIZE && data_size <= RING_MAX_SIZE && (data_size & (data_size - 1)) == 0;
}

size_t ring_record_size(size_t topic_len, size_t payload_len) {
        return align8(RING_RECORD_HEADER + topic_len + payload_len);
}

size_t ring_max_payload(uint64_t data_size, size_t topic_len) {
        size_t max = (size_t) (data_size / 2) & ~(size_t) (RING_ALIGN - 1);

        if (max < RING_RECORD_HEADER + topic_len)
                return 0;
        return max - RING_RECORD_HEADER - topic_len;
}

int ring_format(void *mem, uint32_t data_size, RingKind kind, uint64_t id) {
        RingShared *s = mem;

        if (!ring_size_valid(data_size) || kind < RING_KIND_PUBLISH || kind > RING_KIND_DIRECT)
                return -EINVAL;
        s->version = RING_VERSION;
        s->header_size = RING_HEADER_SIZE;
        s->data_size = data_size;
        s->kind = kind;
        s->id = id;
        store_release(&s->magic, RING_MAGIC);
        return 0;
}

int ring_header_check(const void *mem, size_t map_size, uint32_t *ret_data_size) {
        const RingShared *s = mem;
        uint32_t data_size;

        if (map_size < RING_HEADER_SIZE + (size_t) RING_MIN_SIZE)
                return -EPROTO;
        data_size = load_relaxed(&s->data_size);
        if (load_acquire(&s->magic) != RING_MAGIC || load_relaxed(&s->version) != RING_VERSION ||
            load_relaxed(&s->header_size) != RING_HEADER_SIZE || !ring_size_valid(data_size) ||
            ring_map_size(data_size) != map_size)
                return -EPROTO;
        *ret_data_size = data_size;
        return 0;
}

int ring_attach(Ring *r, void *mem, size_t map_size, bool producer, int wake_fd) {
        RingShared *s = mem;
        uint32_t data_size = 0;
        uint64_t head, tail;
        int k;

        k = ring_header_check(mem, map_size, &data_size);
        if (k < 0)
                return k;

        head = load_acquire(&s->head);
        tail = load_acquire(&s->tail);
        if (head - tail > data_size || (head | tail) % RING_ALIGN != 0)
                return -EBADMSG;

        *r = (Ring) {
                .shared = s,
                .data = (uint8_t *) mem + RING_HEADER_SIZE,
                .size = data_size,
                .mask = data_size - 1,
                .head = head,
                .tail = tail,
                .published = producer ? head : tail,
                .wake_fd = wake_fd,
                .producer = producer,
        };
        return 0;
}

/* ---- waking ---- */

int ring_futex_wait(uint32_t *word, uint32_t expected, const struct timespec *timeout) {
        /* Not FUTEX_PRIVATE_FLAG: the word is shared between processes. */
        if (syscall(SYS_futex, word, FUTEX_WAIT, expected, timeout, NULL, 0) < 0)
                return -errno;
        return 0;
}

void ring_futex_wake(uint32_t *word) {
        (void) syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* After publishing our index (and a full fence): wake the other side if it announced sleep. */
static void wake_other(Ring *r, uint32_t *word) {
        uint32_t how;

        if (load_relaxed(word) == RING_AWAKE)
                return;
        how = __atomic_exchange_n(word, RING_AWAKE, __ATOMIC_SEQ_CST);
        if (how == RING_WAIT_FUTEX)
                ring_futex_wake(word);
        else if (how == RING_WAIT_EVENTFD && r->wake_fd >= 0) {
                uint64_t one = 1;

                /* EAGAIN: the counter is full, so the sleeper is woken anyway. */
                (void) !write(r->wake_fd, &one, sizeof one);
        }
}

static uint32_t *own_wait(Ring *r) {
        return r->producer ? &r->shared->prod_wait : &r->shared->cons_wait;
}

void ring_awake(Ring *r) {
        store_relaxed(own_wait(r), RING_AWAKE);
}

uint32_t ring_state(const Ring *r) {
        return load_acquire(&r->shared->state);
}

/* ---- producer ---- */

/* The consumer's tail, validated: within [last valid tail, our head], aligned. */
static int producer_sync_tail(Ring *r) {
        uint64_t t = load_acquire(&r->shared->tail);

        if (r->head - t > r->head - r->tail || t % RING_ALIGN != 0)
                return -EBADMSG;
        r->tail = t;
        return 0;
}

int64_t ring_free_bytes(Ring *r) {
        int k = producer_sync_tail(r);

        if (k < 0)
                return k;
        return (int64_t) (r->size - (r->head - r->tail));
}

static void put_header(Ring *r, uint64_t pos, const RecordHeader *h) {
        memcpy(r->data + (pos & r->mask), h, sizeof *h);
}

int ring_reserve(Ring *r, const RingMsg *m, void **ret_payload) {
        size_t need = ring_record_size(m->topic_len, m->payload_len);
        uint64_t pos = r->head & r->mask;
        uint64_t contiguous = r->size - pos;
        uint64_t total = need;
        int k;

        if (m->topic_len > UINT16_MAX || m->payload_len > ring_max_payload(r->size, m->topic_len))
                return -EMSGSIZE;
        if (need > contiguous)
                total += contiguous;
        if (r->size - (r->head - r->tail) < total) {
                /* Look again: the consumer may have moved on since we last read its tail. */
                k = producer_sync_tail(r);
                if (k < 0)
                        return k;
                if (r->size - (r->head - r->tail) < total)
                        return -ENOBUFS;
        }

        if (need > contiguous) {
                /* contiguous >= 8: positions and sizes are multiples of 8. */
                RecordHeader pad = { .size = (uint32_t) contiguous, .type = RING_RECORD_PAD };

                memcpy(r->data + pos, &pad, 8);
                r->head += contiguous;
                pos = 0;
        }

        put_header(r, r->head, &(RecordHeader) {
                .size = (uint32_t) need,
                .type = m->type,
                .topic_len = (uint16_t) m->topic_len,
                .payload_len = (uint32_t) m->payload_len,
                .flags = m->flags,
                .seq = m->seq,
        });
        if (m->topic_len > 0)
                memcpy(r->data + pos + RING_RECORD_HEADER, m->topic, m->topic_len);
        *ret_payload = r->data + pos + RING_RECORD_HEADER + m->topic_len;
        /* Not visible before ring_flush(): the payload may be written after this. */
        r->head += need;
        store_relaxed(&r->shared->records_written, load_relaxed(&r->shared->records_written) + 1);
        return 0;
}

int ring_room(Ring *r, size_t need) {
        uint64_t contiguous = r->size - (r->head & r->mask);
        uint64_t total = need > contiguous ? need + contiguous : need;
        int k;

        if (r->size - (r->head - r->tail) >= total)
                return 0;
        k = producer_sync_tail(r);
        if (k < 0)
                return k;
        return r->size - (r->head - r->tail) >= total ? 0 : -ENOBUFS;
}

int ring_put(Ring *r, const RingMsg *m) {
        void *payload;
        int k = ring_reserve(r, m, &payload);

        if (k >= 0 && m->payload_len > 0)
                memcpy(payload, m->payload, m->payload_len);
        return k;
}

void ring_flush(Ring *r) {
        if (r->head == r->published)
                return;
        store_release(&r->shared->head, r->head);
        r->published = r->head;
        /* Pairs with the consumer's fence between announcing sleep and looking again. */
        full_fence();
        wake_other(r, &r->shared->cons_wait);
}

int ring_write(Ring *r, const RingMsg *m) {
        int k = ring_put(r, m);

        if (k < 0)
                return k;
        ring_flush(r);
        return 0;
}

int ring_write_batch(Ring *r, const RingMsg *msgs, size_t n) {
        size_t i;
        int k = 0;

        for (i = 0; i < n; i++) {
                k = ring_put(r, &msgs[i]);
                if (k < 0)
                        break;
        }
        ring_flush(r);
        if (i == 0 && n > 0 && k != -ENOBUFS)
                return k;
        return (int) i;
}

/* ---- consumer ---- */

/* The producer's head, validated: within [our tail, our tail + size], aligned. */
static int consumer_sync_head(Ring *r) {
        uint64_t h = load_acquire(&r->shared->head);

        if (h - r->tail > r->size || h % RING_ALIGN != 0 || h - r->tail < r->head - r->tail)
                return -EBADMSG;
        r->head = h;
        return 0;
}

int64_t ring_used_bytes(Ring *r) {
        int k = consumer_sync_head(r);

        if (k < 0)
                return k;
        return (int64_t) (r->head - r->tail);
}

int ring_read(Ring *r, RingMsg *ret) {
        for (;;) {
                uint64_t pos, contiguous, avail;
                RecordHeader h;
                int k;

                if (r->head == r->tail) {
                        k = consumer_sync_head(r);
                        if (k < 0)
                                return k;
                        if (r->head == r->tail)
                                return -EAGAIN;
                }
                pos = r->tail & r->mask;
                contiguous = r->size - pos;
                avail = r->head - r->tail;

                /* A copy: the peer may change the bytes in the ring while we look. */
                memcpy(&h, r->data + pos, contiguous < sizeof h ? 8 : sizeof h);
                if (h.size < RING_ALIGN || h.size % RING_ALIGN != 0 || h.size > contiguous || h.size > avail)
                        return -EBADMSG;
                if (h.type == RING_RECORD_PAD) {
                        r->tail += h.size;
                        continue;
                }
                if (h.size < RING_RECORD_HEADER ||
                    (uint64_t) RING_RECORD_HEADER + h.topic_len + h.payload_len > h.size ||
                    (h.type != RING_RECORD_MESSAGE && h.type != RING_RECORD_GAP && h.type != RING_RECORD_REF))
                        return -EBADMSG;

                *ret = (RingMsg) {
                        .type = h.type,
                        .flags = h.flags,
                        .seq = h.seq,
                        .topic = (const char *) r->data + pos + RING_RECORD_HEADER,
                        .topic_len = h.topic_len,
                        .payload = r->data + pos + RING_RECORD_HEADER + h.topic_len,
                        .payload_len = h.payload_len,
                };
                r->tail += h.size;
                store_relaxed(&r->shared->records_read, load_relaxed(&r->shared->records_read) + 1);
                return 0;
        }
}

void ring_release(Ring *r) {
        if (r->tail == r->published)
                return;
        store_release(&r->shared->tail, r->tail);
        r->published = r->tail;
        full_fence();
        wake_other(r, &r->shared->prod_wait);
}

void ring_release_to(Ring *r, uint64_t pos) {
        /* Only forward, and never past what was read. */
        if (pos - r->published == 0 || pos - r->published > r->tail - r->published)
                return;
        store_release(&r->shared->tail, pos);
        r->published = pos;
        full_fence();
        wake_other(r, &r->shared->prod_wait);
}

int ring_ref_resolve(const RingMsg *m, const uint8_t *data, uint64_t data_size, const void **ret_payload,
                     size_t *ret_len) {
        RingRef ref;

        if (m->type != RING_RECORD_REF || m->payload_len != sizeof ref || !data)
                return -EBADMSG;
        /* A copy: the bytes are in shared memory. */
        memcpy(&ref, m->payload, sizeof ref);
        if (ref.offset > data_size || ref.length > data_size - ref.offset)
                return -EBADMSG;
        *ret_payload = data + ref.offset;
        *ret_len = ref.length;
        return 0;
}

int ring_read_batch(Ring *r, void (*fn)(void *userdata, const RingMsg *m), void *userdata, unsigned max) {
        unsigned n = 0;
        RingMsg m;
        int k = 0;

        while (n < max && (k = ring_read(r, &m)) >= 0) {
                fn(userdata, &m);
                n++;
        }
        ring_release(r);
        if (k == -EBADMSG)
                return k;
        return (int) n;
}

/* ---- sleeping ---- */

/* Consumer: a record is there. Producer: a record of @need bytes would fit, padding included. */
static bool ring_ready(Ring *r, size_t need, int *ret_error) {
        int64_t n = r->producer ? ring_free_bytes(r) : ring_used_bytes(r);
        uint64_t contiguous = r->size - (r->head & r->mask);

        if (n < 0) {
                *ret_error = (int) n;
                return true;
        }
        if (!r->producer)
                return n > 0;
        return (uint64_t) n >= (need > contiguous ? need + contiguous : need);
}

/*
 * Spinning: a side that spins holds its CPU while the side it waits for may
 * be runnable but queued behind it (more busy processes than CPUs: a
 * producer, the hub and a consumer on two CPUs). So every RING_SPIN_YIELD
 * spins it gives the CPU away with sched_yield(), which returns at once
 * when nothing else wants it, and looks at the ring's state, so that a
 * long spin notices a closed ring.
 */
#define RING_SPIN_YIELD 64u

static int ring_wait(Ring *r, size_t need, unsigned spin, const struct timespec *timeout) {
        uint32_t *word = own_wait(r);
        int error = 0;

        for (unsigned i = 0; i < spin; i++) {
                if (ring_ready(r, need, &error))
                        return error;
                if (i % RING_SPIN_YIELD == RING_SPIN_YIELD - 1) {
                        if (ring_state(r) != RING_STATE_OK)
                                return -EPIPE;
                        sched_yield();
                } else
                        cpu_relax();
        }
        for (;;) {
                int k;

                if (ring_state(r) != RING_STATE_OK)
                        return -EPIPE;
                __atomic_store_n(word, RING_WAIT_FUTEX, __ATOMIC_SEQ_CST);
                full_fence();
                if (ring_ready(r, need, &error)) {
                        store_relaxed(word, RING_AWAKE);
                        return error;
                }
                k = ring_futex_wait(word, RING_WAIT_FUTEX, timeout);
                if (k == -ETIMEDOUT || k == -EINTR) {
                        store_relaxed(word, RING_AWAKE);
                        return ring_ready(r, need, &error) ? error : k;
                }
        }
}

int ring_wait_readable(Ring *r, unsigned spin, const struct timespec *timeout) {
        return ring_wait(r, 0, spin, timeout);
}

int ring_wait_writable(Ring *r, size_t need, unsigned spin, const struct timespec *timeout) {
        /* What was put must be visible first: the consumer may need it to give space back. */
        ring_flush(r);
        return ring_wait(r, need, spin, timeout);
}

bool ring_sleep_eventfd_until(Ring *r, uint64_t pos) {
        __atomic_store_n(&r->shared->prod_wait, RING_WAIT_EVENTFD, __ATOMIC_SEQ_CST);
        full_fence();
        /* tail and pos both lie in [the last valid tail, head]: tail >= pos. */
        if (producer_sync_tail(r) < 0 || r->head - r->tail <= r->head - pos) {
                store_relaxed(&r->shared->prod_wait, RING_AWAKE);
                return false;
        }
        return true;
}

bool ring_sleep_eventfd(Ring *r, size_t need) {
        uint32_t *word = own_wait(r);
        int error = 0;

        __atomic_store_n(word, RING_WAIT_EVENTFD, __ATOMIC_SEQ_CST);
        full_fence();
        if (ring_ready(r, need, &error)) {
                store_relaxed(word, RING_AWAKE);
                return false;
        }
        return true;
}
