/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ring.h: the shared-memory ring of switchboard's data plane, one producer
 * and one consumer in two processes (docs/shm.md is the format's contract).
 *
 * Plain C11 atomics and Linux syscalls: no GLib, no core, no event loop, so
 * that the hub, libswitchboard, tests and benchmarks link the same code.
 *
 * Layout of a mapping (map size = RING_HEADER_SIZE + data size):
 *
 *   0      RingShared: magic, version, sizes, kind, id      (written once, by the hub)
 *   128    producer line: head, prod_wait, records written (written by the producer)
 *   256    consumer line: tail, cons_wait, last_seq, ...    (written by the consumer)
 *   384    hub line: state, dropped                         (written by the hub)
 *   4096   data: records, each 8-byte aligned, ring of data_size (a power of two)
 *
 * head and tail are byte counts that only grow (u64); head - tail is what
 * is unread. A record that does not fit before the end of the data area is
 * preceded by a PAD record that fills it. A record is at most half the ring.
 * Records: PAD, MESSAGE, GAP, and REF (a zero-copy subscriber's message
 * whose payload lies in the publisher's ring, see RingRef).
 *
 * Who sleeps: a side that finds nothing to do stores its wait word (1: it
 * waits on that word with FUTEX_WAIT, 2: it waits in an epoll loop for the
 * ring's eventfd), issues a full fence and looks once more before sleeping;
 * the other side, after publishing its index, issues a full fence and wakes
 * it only when the word is not 0 (and resets it). No syscall while both run.
 *
 * Trust: the hub reads every index and record header from a peer's memory
 * through the validating functions below (a local copy first, then checks),
 * and never trusts what it wrote itself and a peer could have changed: each
 * side keeps its own index privately and only publishes it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define RING_MAGIC              UINT32_C(0x31524253)    /* "SBR1" in memory, little-endian */
#define RING_VERSION            1u
#define RING_HEADER_SIZE        4096u                   /* data starts here */
#define RING_MIN_SIZE           4096u                   /* data sizes: powers of two in [MIN, MAX] */
#define RING_MAX_SIZE           (UINT32_C(1) << 30)
#define RING_RECORD_HEADER      24u
#define RING_ALIGN              8u

typedef enum RingKind {
        RING_KIND_PUBLISH = 1,          /* a client produces, the hub consumes */
        RING_KIND_SUBSCRIBE = 2,        /* the hub produces, a client consumes */
        RING_KIND_DIRECT = 3,           /* a publish ring the hub paired with a client consumer */
} RingKind;

typedef enum RingRecordType {
        RING_RECORD_PAD = 0,            /* filler to the end of the data area */
        RING_RECORD_MESSAGE = 1,
        RING_RECORD_GAP = 2,            /* seq = first missed, payload = u64 last missed */
        RING_RECORD_REF = 3,            /* zero-copy: payload = RingRef, the message lies in the
                                         * publisher's ring (docs/shm.md, "Zero-copy subscribers") */
} RingRecordType;

/*
 * The payload of a REF record (16 bytes): where the message's payload lies
 * in the data area of the publisher's ring that came with the subscribe
 * ring. Valid until the REF record's space is released (ring_release()).
 * Comes from shared memory: check it with ring_ref_resolve().
 */
typedef struct RingRef {
        uint64_t offset;                /* from the start of the publisher ring's data area */
        uint32_t length;                /* payload bytes */
        uint32_t reserved;              /* 0 */
} RingRef;

#define RING_FLAG_RETAINED      1u      /* MESSAGE: a replayed retained value */

typedef enum RingWait {
        RING_AWAKE = 0,
        RING_WAIT_FUTEX = 1,            /* sleeps in FUTEX_WAIT on the wait word */
        RING_WAIT_EVENTFD = 2,          /* sleeps in epoll on the ring's eventfd */
} RingWait;

typedef enum RingState {
        RING_STATE_OK = 0,
        RING_STATE_CLOSED = 1,          /* the hub dropped the ring: closed, or the peer corrupted it */
} RingState;

/* The shared header. Fields are native-endian; offsets are part of the format. */
typedef struct RingShared {
        uint32_t magic;                 /* RING_MAGIC */
        uint32_t version;               /* RING_VERSION */
        uint32_t header_size;           /* RING_HEADER_SIZE */
        uint32_t data_size;             /* a power of two */
        uint32_t kind;                  /* RingKind */
        uint32_t flags;                 /* 0 */
        uint64_t id;                    /* the ring id of shm.publish/shm.subscribe */
        uint8_t pad0[128 - 32];

        /* producer's line */
        uint64_t head;                  /* bytes written; release-stored by the producer */
        uint32_t prod_wait;             /* RingWait of the producer (it waits for space) */
        uint32_t pad1;
        uint64_t records_written;       /* informational */
        uint8_t pad2[128 - 24];

        /* consumer's line */
        uint64_t tail;                  /* bytes consumed; release-stored by the consumer */
        uint32_t cons_wait;             /* RingWait of the consumer (it waits for data) */
        uint32_t pad3;
        uint64_t last_seq;              /* publish rings: the hub's seq of the last record consumed */
        uint64_t records_read;          /* informational */
        uint8_t pad4[128 - 32];

        /* the hub's line */
        uint32_t state;                 /* RingState */
        uint32_t pad5;
        uint64_t dropped;               /* subscribe rings: messages that did not fit (gaps) */
} RingShared;

/* One record as read or to be written. Pointers into the ring stay valid until ring_release(). */
typedef struct RingMsg {
        uint16_t type;                  /* RingRecordType */
        uint32_t flags;                 /* RING_FLAG_* */
        uint64_t seq;                   /* the hub's sequence number (0 in what a client writes) */
        const char *topic;              /* not NUL-terminated; topic_len 0: the ring's own topic */
        size_t topic_len;
        const void *payload;
        size_t payload_len;
} RingMsg;

/* One side's view of a mapped ring. Zero it, then ring_attach(). */
typedef struct Ring {
        RingShared *shared;
        uint8_t *data;
        uint64_t size;                  /* data size */
        uint64_t mask;
        uint64_t head;                  /* producer: own; consumer: last validated head */
        uint64_t tail;                  /* consumer: own; producer: last validated tail */
        uint64_t published;             /* producer: head last published; consumer: tail last published */
        int wake_fd;                    /* eventfd that wakes the other side in an epoll loop; -1: none */
        bool producer;
} Ring;

/* Bytes a mapping of a ring with @data_size needs. */
size_t ring_map_size(uint32_t data_size);

/* Whether @data_size is a valid data size (a power of two in [RING_MIN_SIZE, RING_MAX_SIZE]). */
bool ring_size_valid(uint64_t data_size);

/* The largest payload (with @topic_len bytes of topic) one record of a @data_size ring holds. */
size_t ring_max_payload(uint64_t data_size, size_t topic_len);

/**
 * ring_format() - initialise a fresh, zeroed mapping (the hub does this once)
 * @mem: the mapping, ring_map_size(@data_size) bytes, zeroed
 *
 * Return: 0, or -EINVAL for a bad @data_size or @kind.
 */
int ring_format(void *mem, uint32_t data_size, RingKind kind, uint64_t id);

/**
 * ring_header_check() - whether the mapping @mem of @map_size bytes starts
 * with a ring's header (magic, version, sizes against @map_size)
 *
 * Return: 0 and its data size in *@ret_data_size, or -EPROTO.
 */
int ring_header_check(const void *mem, size_t map_size, uint32_t *ret_data_size);

/**
 * ring_attach() - set up @r over the mapping @mem of @map_size bytes
 * @producer: true for the producing side, false for the consuming side
 * @wake_fd: the ring's eventfd when the other side may sleep in an epoll
 *           loop (a client gets it from the hub with the memfd), else -1;
 *           not owned by @r
 *
 * Checks the header (magic, version, sizes against @map_size) and takes the
 * current head and tail (validated) as the starting point.
 *
 * Return: 0; -EPROTO when the header is not a ring's, -EBADMSG when its
 * indices are inconsistent.
 */
int ring_attach(Ring *r, void *mem, size_t map_size, bool producer, int wake_fd);

/* ---- producer ---- */

/**
 * ring_put() - write one record, not yet visible to the consumer
 *
 * Return: 0; -ENOBUFS when it does not fit now (the consumer is behind),
 * -EMSGSIZE when it never fits (over ring_max_payload()), -EBADMSG when the
 * consumer's tail is invalid (a peer corrupted the ring: drop it).
 */
int ring_put(Ring *r, const RingMsg *m);

/**
 * ring_reserve() - as ring_put(), but the caller writes the payload: the
 * record's header and topic are written, and @ret_payload points at its
 * m->payload_len bytes in the ring (m->payload is not read). Write them
 * before ring_flush(); the consumer sees nothing before. Zero-copy for a
 * producer that builds its message in place.
 */
int ring_reserve(Ring *r, const RingMsg *m, void **ret_payload);

/* Make every ring_put() record visible; wake the consumer if it sleeps. */
void ring_flush(Ring *r);

/* ring_put() then ring_flush(). */
int ring_write(Ring *r, const RingMsg *m);

/**
 * ring_write_batch() - put as many of @msgs as fit, then flush once
 * Return: how many were written (>= 0), or -EMSGSIZE/-EBADMSG as ring_put()
 * when the first one failed so.
 */
int ring_write_batch(Ring *r, const RingMsg *msgs, size_t n);

/* Free bytes now (validating the consumer's tail); -EBADMSG when invalid. */
int64_t ring_free_bytes(Ring *r);

/**
 * ring_room() - producer: whether a record of @need bytes (ring_record_size())
 * fits now, a PAD record it needs included
 * Return: 0 when it fits; -ENOBUFS when not; -EBADMSG when the consumer's
 * tail is invalid.
 */
int ring_room(Ring *r, size_t need);

/* ---- consumer ---- */

/**
 * ring_read() - the next record, consumed but its space not yet given back
 * @ret: on success the record; its pointers stay valid until ring_release().
 *       A peer may still change those bytes: copy before checking content.
 *
 * PAD records are skipped. Return: 0; -EAGAIN when empty; -EBADMSG when the
 * producer's head or a record header is invalid (drop the ring).
 */
int ring_read(Ring *r, RingMsg *ret);

/* Give back the space of every record read so far; wake the producer if it waits for space. */
void ring_release(Ring *r);

/**
 * ring_release_to() - consumer: give back the space of the records read
 * before index @pos only (the hub holding a zero-copy publisher's records
 * until their reader is done); @pos between the last released index and
 * the read position, else nothing happens
 */
void ring_release_to(Ring *r, uint64_t pos);

/**
 * ring_ref_resolve() - the payload a REF record @m points at, in the data
 * area @data of @data_size bytes (the publisher's ring, mapped read-only)
 * @ret_payload, @ret_len: written on success only
 *
 * Return: 0; -EBADMSG when @m is not a well-formed REF or points outside
 * the area.
 */
int ring_ref_resolve(const RingMsg *m, const uint8_t *data, uint64_t data_size, const void **ret_payload,
                     size_t *ret_len);

/**
 * ring_read_batch() - call @fn for up to @max records, then ring_release()
 * Return: records handled (>= 0), or -EBADMSG as ring_read().
 */
int ring_read_batch(Ring *r, void (*fn)(void *userdata, const RingMsg *m), void *userdata, unsigned max);

/* Bytes unread now (validating the producer's head); -EBADMSG when invalid. */
int64_t ring_used_bytes(Ring *r);

/* ---- sleeping and waking ---- */

/**
 * ring_wait_readable() - consumer: spin @spin times, then sleep on the futex
 * until a record arrives or @timeout (relative, NULL: forever) passes
 *
 * While spinning it calls sched_yield() every 64 spins, so that a peer
 * queued behind it on the same CPU runs: spinning sides never starve each
 * other when there are more of them than CPUs.
 *
 * Return: 0 when a record may be read; -ETIMEDOUT; -EINTR on a signal;
 * -EBADMSG when the head is invalid; -EPIPE when the hub closed the ring.
 */
int ring_wait_readable(Ring *r, unsigned spin, const struct timespec *timeout);

/**
 * ring_wait_writable() - producer: as ring_wait_readable(), until @need
 * bytes (a record of that many bytes: header and padding included, see
 * ring_record_size()) fit; flushes what was put first (the consumer may
 * need to see it before it can give space back: a hub holding records for
 * a zero-copy reader)
 */
int ring_wait_writable(Ring *r, size_t need, unsigned spin, const struct timespec *timeout);

/* Bytes one record with these lengths takes, header and alignment included. */
size_t ring_record_size(size_t topic_len, size_t payload_len);

/**
 * ring_sleep_eventfd() - for a side in an epoll loop (the hub): announce
 * that it sleeps until the ring's eventfd is written
 * @need: producer: the record size (ring_record_size()) it waits to fit;
 *        consumer: ignored
 *
 * Return: true when it may sleep; false when there is work after all (the
 * flag is cleared again: go on).
 */
bool ring_sleep_eventfd(Ring *r, size_t need);

/**
 * ring_sleep_eventfd_until() - producer in an epoll loop: as
 * ring_sleep_eventfd(), but it waits for the consumer's tail to reach
 * @pos (the hub waiting for a zero-copy reader to be done with a record)
 *
 * Return: true when it may sleep; false when the tail is there already, or
 * is invalid (the next ring_free_bytes() says so).
 */
bool ring_sleep_eventfd_until(Ring *r, uint64_t pos);

/* Clear our own wait word (after an eventfd wake-up or when staying busy). */
void ring_awake(Ring *r);

/* FUTEX_WAIT on a shared word: returns 0, -EAGAIN (value differed), -ETIMEDOUT, -EINTR. */
int ring_futex_wait(uint32_t *word, uint32_t expected, const struct timespec *timeout);
/* FUTEX_WAKE of every waiter on a shared word. */
void ring_futex_wake(uint32_t *word);

/* The hub's state of the ring (RingState). */
uint32_t ring_state(const Ring *r);
