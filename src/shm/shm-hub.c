/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shm-hub.c: the hub's side of shared-memory rings (shm-hub.h, docs/shm.md).
 *
 * A HubRing is a core client of its own (transport "shm"), owned by the
 * connection that asked for it and linked into ShmHub.rings (by id) and
 * ShmHub.by_owner (by connection), so that shm.close finds it by id and a
 * connection's going frees all of its rings without scanning.
 *
 * Publish rings: the client's writes wake us through the ring's eventfd
 * only while we announced sleep (ring.h); a woken ring goes on the busy
 * list, which a defer source drains in batches, every record one
 * hub_publish() with the ring as sender. Topic and payload are copied out
 * of shared memory first: the peer could change them while subscribers'
 * faces encode them. With busy polling, a ring that runs dry stays on the
 * busy list for busy_poll_usec before we sleep on it again.
 *
 * Fairness: sd-event dispatches one source per iteration, the oldest pending
 * of the best priority, and a defer source that stays enabled stays the
 * oldest, so a defer source of normal priority that keeps finding records
 * (or busy-polls) would starve every socket, eventfd and the listening
 * socket. The drain runs from a defer source of idle priority (when nothing
 * else is pending) and from a post source (after every other source), so
 * the socket is served between batches and the rings are drained between
 * requests. A
 * busy-polling pass that found nothing yields the CPU: the producer and
 * consumer it waits for may be queued behind it.
 *
 * Subscribe rings: a sink. deliver() writes one record when it fits and
 * refuses it otherwise (-ENOBUFS: the core records the gap); we then wait
 * on the eventfd for the reader to free space and flush the gap notice as
 * a GAP record.
 *
 * Zero-copy pairs (shm.subscribe zero_copy): a subscribe ring whose reader
 * also maps one publish ring read-only gets REF records for that ring's
 * records instead of copies, and the publish ring's space goes back to
 * its producer only once the reader is past them (see "zero-copy pairs").
 *
 * A ring whose peer broke the format (ring.c says -EBADMSG) is marked dead
 * inside whatever callback noticed it and freed from the defer source,
 * never inside a core delivery.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ops/ops.h"
#include "proto/json.h"
#include "shm/ring.h"
#include "shm/shm-hub.h"
#include "util/log.h"
#include "util/sd-glue.h"

#define DRAIN_BATCH 256u        /* records of one ring per turn of the loop */
#define SHM_ZC_POLL_USEC 50u   /* a zero-copy pair's dry publish ring is polled this long before sleeping */
#define ZC_MAX_REFS 65536u      /* REF records of one zero-copy pair not yet consumed (1 MiB of ZcRef) */

typedef struct HubRing HubRing;

/* A REF written into a zero-copy subscriber's ring, until its reader is past it. */
typedef struct ZcRef {
        uint64_t sub_end;               /* the subscribe ring's index after the REF record */
        uint64_t pub_start;             /* the publish ring's index of the record it points at */
} ZcRef;

struct ShmHub {
        sd_event *event;
        Hub *hub;
        ShmConfig config;
        JsonrpcExtension ext;
        GHashTable *rings;              /* id -> HubRing*, owned */
        GHashTable *by_owner;           /* Client* -> GQueue* of HubRing, the queue owned */
        uint64_t next_id;
        uint64_t total;                 /* bytes mapped by every ring */
        GQueue busy;                    /* HubRing* drained by drain_defer */
        GQueue unflushed;               /* subscribe HubRing* written during a drain, not yet flushed */
        bool draining;                  /* in ring_read_batch() of a publish ring */
        GQueue doomed;                  /* HubRing* to free from drain_defer */
        sd_event_source *drain_defer;   /* idle priority: runs when nothing else is pending */
        sd_event_source *drain_post;    /* after any other source: IO cannot starve the rings */
        sd_event_source *account_timer; /* direct rings' counters */
        GByteArray *copy;               /* one record's topic and payload, out of shared memory */
        uint64_t n_dropped_rings;       /* rings dropped for a corrupt format */
        unsigned n_zc;                  /* zero-copy pairs (each subscribes to one topic) */
        /* The record of a zero-copy pair being published: its subscriber gets a REF to it. */
        struct {
                HubRing *pub;           /* NULL: none */
                const void *payload;    /* what hub_publish() was given */
                uint64_t pub_start;     /* its index in the publish ring */
                RingRef ref;
        } zc_cur;
};

struct HubRing {
        Client client;                  /* the core sees &ring->client; must be first */
        ShmHub *shm;
        Client *owner;                  /* the connection that asked for it */
        uint64_t id;
        RingKind kind;
        Ring ring;
        void *mem;
        size_t map_size;
        int memfd;
        int wake_fd;                    /* the eventfd the client writes to wake us */
        int reader_fd;                  /* subscribe rings: the eventfd we write when the reader sleeps in epoll */
        sd_event_source *wake_io;
        char *topic;                    /* publish rings */
        uint64_t sub_id;                /* subscribe rings */
        uint64_t busy_since;            /* on the busy list: when it last had records (usec) */
        bool dead;                      /* on the doomed list */
        bool space_wait;                /* subscribe rings: a gap waits for space */
        HubRing *direct_peer;           /* direct pairing: the other ring of the pair (see shm_direct) */
        HubRing *zc_peer;               /* zero-copy pairing: the other ring of the pair (see shm_zero_copy) */
        ZcRef *zc_refs;                 /* zero-copy subscribe ring: REFs not yet consumed, circular */
        unsigned zc_cap, zc_first, zc_n;
        bool zc_blocked;                /* zero-copy publish ring: stopped until its reader makes room */
        uint64_t direct_counted;        /* direct rings: records_written already counted */
        GList busy_link;                /* in ShmHub.busy */
        GList unflushed_link;           /* in ShmHub.unflushed */
        GList doomed_link;              /* in ShmHub.doomed */
        GList owner_link;               /* in ShmHub.by_owner[owner] */
};

static const char *kind_name(RingKind k) {
        return k == RING_KIND_PUBLISH ? "publish" : k == RING_KIND_SUBSCRIBE ? "subscribe" : "direct";
}

/**
 * shm_config_default() - the settings of [shm] when nothing is configured
 */
void shm_config_default(ShmConfig *ret) {
        *ret = (ShmConfig) {
                .min_size = 4096,
                .max_size = 64u << 20,
                .default_size = 1u << 20,
                .max_rings = 16,
                .max_total = 256u << 20,
                .busy_poll = false,
                .direct_account_usec = 100 * 1000,
        };
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* ---- lifetime ---- */

static void drain_soon(ShmHub *s, bool on) {
        (void) sd_event_source_set_enabled(s->drain_defer, on ? SD_EVENT_ON : SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(s->drain_post, on ? SD_EVENT_ON : SD_EVENT_OFF);
}

static void ring_busy(HubRing *r) {
        ShmHub *s = r->shm;

        r->busy_since = now_usec();
        if (r->busy_link.data || r->dead)
                return;
        r->busy_link.data = r;
        g_queue_push_tail_link(&s->busy, &r->busy_link);
        drain_soon(s, true);
}

static void ring_idle(HubRing *r) {
        if (!r->busy_link.data)
                return;
        g_queue_unlink(&r->shm->busy, &r->busy_link);
        r->busy_link.data = NULL;
}

static void zc_unpair(HubRing *r);

/* Free it soon: we may be inside a core delivery or a callback of its own. */
static void ring_doom(HubRing *r, const char *why) {
        ShmHub *s = r->shm;

        if (r->dead)
                return;
        if (why) {
                log_warning("client %" PRIu64 " (shm %s ring %" PRIu64 ", uid %u, pid %u): %s; dropping the ring.",
                            r->client.info.id, kind_name(r->kind), r->id, (unsigned) r->client.info.uid,
                            (unsigned) r->client.info.pid, why);
                s->n_dropped_rings++;
        }
        r->dead = true;
        ring_idle(r);
        zc_unpair(r);
        r->doomed_link.data = r;
        g_queue_push_tail_link(&s->doomed, &r->doomed_link);
        drain_soon(s, true);
}

static void direct_account(HubRing *r);

static void ring_free(HubRing *r) {
        ShmHub *s = r->shm;
        GQueue *q;

        zc_unpair(r);
        if (r->direct_peer && r->kind == RING_KIND_DIRECT) {
                /* The direct reader left: the hub reads the publisher's ring again, from where it stopped. */
                HubRing *pub = r->direct_peer;

                direct_account(pub);
                pub->direct_peer = NULL;
                __atomic_store_n(&pub->ring.shared->kind, RING_KIND_PUBLISH, __ATOMIC_RELEASE);
                if (ring_attach(&pub->ring, pub->mem, pub->map_size, false, -1) < 0)
                        ring_doom(pub, "its indices are invalid");
                else
                        ring_busy(pub);
        } else if (r->direct_peer) {
                direct_account(r);
                r->direct_peer->direct_peer = NULL;
                ring_doom(r->direct_peer, NULL);
        }
        if (r->mem) {
                /* Tell the peer, which may sleep on a futex or spin on the ring. */
                __atomic_store_n(&r->ring.shared->state, RING_STATE_CLOSED, __ATOMIC_RELEASE);
                ring_futex_wake(&r->ring.shared->cons_wait);
                ring_futex_wake(&r->ring.shared->prod_wait);
        }
        client_deinit(&r->client);
        ring_idle(r);
        if (r->unflushed_link.data)
                g_queue_unlink(&s->unflushed, &r->unflushed_link);
        if (r->doomed_link.data)
                g_queue_unlink(&s->doomed, &r->doomed_link);
        q = g_hash_table_lookup(s->by_owner, r->owner);
        if (q && r->owner_link.data) {
                g_queue_unlink(q, &r->owner_link);
                if (g_queue_is_empty(q))
                        g_hash_table_remove(s->by_owner, r->owner);
        }
        g_hash_table_steal(s->rings, &r->id);
        r->wake_io = sd_event_source_disable_unref(r->wake_io);
        if (r->mem) {
                munmap(r->mem, r->map_size);
                s->total -= r->map_size;
        }
        fd_close(r->memfd);
        fd_close(r->wake_fd);
        fd_close(r->reader_fd);
        g_free(r->topic);
        g_free(r->zc_refs);
        g_free(r);
}

/* ---- publish rings: draining ---- */

/*
 * One record: copied out of shared memory (topic NUL-terminated first,
 * then the payload), then published like any other message. The payload
 * of a zero-copy pair's record that nobody but its reader sees stays in
 * the ring.
 */
static void drain_record(void *userdata, const RingMsg *m) {
        HubRing *r = userdata;
        ShmHub *s = r->shm;
        const char *topic = r->topic;
        const void *payload;
        bool in_place;
        uint64_t seq;
        int k;

        if (m->type != RING_RECORD_MESSAGE)
                return;
        /*
         * A zero-copy pair whose reader is the only client subscription in
         * the hub: nobody but the REF's reader looks at the payload, so it
         * stays where it is (the D-Bus broadcaster, an internal client not
         * counted, copies what it sends during its delivery). Otherwise the
         * other subscribers' faces read a private copy.
         */
        in_place = s->zc_cur.pub == r && hub_get_n_subscriptions(s->hub) <= s->n_zc;

        g_byte_array_set_size(s->copy, 0);
        if (m->topic_len > 0) {
                g_byte_array_append(s->copy, (const guint8 *) m->topic, (guint) m->topic_len);
                g_byte_array_append(s->copy, (const guint8 *) "", 1);
        }
        if (!in_place)
                g_byte_array_append(s->copy, m->payload, (guint) m->payload_len);
        if (m->topic_len > 0) {
                topic = (const char *) s->copy->data;
                if (memchr(topic, '\0', m->topic_len))
                        return; /* hub_publish() would see a shorter topic */
        }
        payload = in_place ? m->payload : s->copy->data + (m->topic_len > 0 ? m->topic_len + 1 : 0);
        if (s->zc_cur.pub == r)
                s->zc_cur.payload = payload;

        k = hub_publish(s->hub, &r->client, topic, payload, m->payload_len, false, &seq);
        if (k < 0) {
                log_debug_errno(k, "client %" PRIu64 " (shm): a record was refused: %m; skipping it.",
                                r->client.info.id);
                return;
        }
        __atomic_store_n(&r->ring.shared->last_seq, seq, __ATOMIC_RELAXED);
}

/*
 * Subscribe rings written while draining a batch publish their head once,
 * after the batch: a flush is a store, a full fence and a look at the
 * reader's wait word, and the fence costs as much as writing a small record.
 */
static void flush_soon(HubRing *r) {
        ShmHub *s = r->shm;

        if (!s->draining)
                ring_flush(&r->ring);
        else if (!r->unflushed_link.data) {
                r->unflushed_link.data = r;
                g_queue_push_tail_link(&s->unflushed, &r->unflushed_link);
        }
}

static void flush_unflushed(ShmHub *s) {
        while (!g_queue_is_empty(&s->unflushed)) {
                GList *l = s->unflushed.head;
                HubRing *r = l->data;

                g_queue_unlink(&s->unflushed, l);
                l->data = NULL;
                ring_flush(&r->ring);
        }
}

/* ---- zero-copy pairs ---- */

/*
 * A zero-copy pair: a publish ring (pub) and a subscribe ring (sub) whose
 * reader also maps pub read-only (shm.subscribe zero_copy, docs/shm.md).
 * The hub drains pub as always, publishing every record to every
 * subscriber, but writes a REF record (where the payload lies in pub)
 * into sub instead of a copy. So pub's space must not go back to its
 * producer before sub's reader is past the REF: sub->zc_refs remembers,
 * for each REF not yet consumed, sub's index after it and pub's index of
 * the record, and pub's tail is published only up to the oldest of them
 * (ring_release_to()). A REF is never dropped: when sub has no room, the
 * hub stops draining pub (zc_blocked) until the reader makes some, so a
 * slow reader holds the producer back, as a direct reader does.
 *
 * The hub learns that the reader moved on from sub's eventfd: whenever it
 * stops (pub dry, or blocked) with REFs outstanding, it sets sub's
 * prod_wait to 2 (ring_sleep_eventfd_until()), and the reader's next
 * release writes the eventfd (docs/shm.md, "Who sleeps").
 */

static ZcRef *zc_front(HubRing *sub) {
        return &sub->zc_refs[sub->zc_first];
}

/* Forget the REFs sub's reader is past; give pub's producer the space of their records. */
static void zc_reclaim(HubRing *sub) {
        HubRing *pub = sub->zc_peer;
        int64_t k;

        if (!pub)
                return;
        k = ring_free_bytes(&sub->ring);
        if (k < 0) {
                ring_doom(sub, "its reader wrote an invalid index");
                return;
        }
        while (sub->zc_n > 0 && sub->ring.head - sub->ring.tail <= sub->ring.head - zc_front(sub)->sub_end) {
                sub->zc_first = (sub->zc_first + 1) % sub->zc_cap;
                sub->zc_n--;
        }
        ring_release_to(&pub->ring, sub->zc_n > 0 ? zc_front(sub)->pub_start : pub->ring.tail);
}

/*
 * Whether the producer of @pub could find no room for its next record in
 * what the hub has given back, before it writes anything more (a write
 * wakes the hub, which then looks again). A record is at most half the
 * ring, plus the PAD before it when it does not fit before the end. Only
 * then must the reader wake the hub when it moves on: otherwise its
 * releases cost it no system call.
 */
static bool zc_producer_may_block(HubRing *pub) {
        Ring *r = &pub->ring;
        uint64_t free_bytes = r->size - (r->head - r->published);
        uint64_t contiguous = r->size - (r->head & r->mask);
        uint64_t worst = contiguous >= r->size / 2 ? r->size / 2 : r->size / 2 + contiguous;

        return free_bytes < worst;
}

/* Before the hub stops: be woken when the reader is past the oldest REF (or, with none, makes room). */
static bool zc_sleep(HubRing *sub, size_t need) {
        for (;;) {
                if (sub->zc_n == 0)
                        return ring_sleep_eventfd(&sub->ring, need);
                if (ring_sleep_eventfd_until(&sub->ring, zc_front(sub)->sub_end))
                        return true;
                zc_reclaim(sub);
                if (!sub->zc_peer)
                        return false;
                if (sub->zc_peer->zc_blocked)
                        return false;
        }
}

/* The REF record of sub's pair's current record: its space was checked by zc_drain(). */
static int zc_deliver(HubRing *sub, const Envelope *e) {
        ShmHub *s = sub->shm;
        RingMsg m = {
                .type = RING_RECORD_REF,
                .flags = e->retained ? RING_FLAG_RETAINED : 0,
                .seq = e->seq,
                .topic = e->topic,
                .topic_len = strlen(e->topic),
                .payload = &s->zc_cur.ref,
                .payload_len = sizeof s->zc_cur.ref,
        };
        int k;

        if (sub->zc_n == sub->zc_cap)
                return -ENOBUFS;
        k = ring_put(&sub->ring, &m);
        if (k < 0)
                return k;
        sub->zc_refs[(sub->zc_first + sub->zc_n) % sub->zc_cap] = (ZcRef) {
                .sub_end = sub->ring.head,
                .pub_start = s->zc_cur.pub_start,
        };
        sub->zc_n++;
        return 0;
}

/*
 * Drain a paired publish ring: as ring_read_batch(), but a record is read
 * only once its REF surely fits into the subscriber's ring, and the space
 * given back is only what the subscriber is done with.
 */
static int zc_drain(HubRing *pub, unsigned max) {
        ShmHub *s = pub->shm;
        HubRing *sub = pub->zc_peer;
        size_t need = ring_record_size(strlen(pub->topic), sizeof(RingRef));
        unsigned n;
        int k = 0;

        for (n = 0; n < max && pub->zc_peer && !pub->dead; n++) {
                uint64_t start = pub->ring.tail;
                RingMsg m;

                if (sub->zc_n == sub->zc_cap)
                        k = -ENOBUFS;
                else
                        k = ring_room(&sub->ring, need);
                if (k == -ENOBUFS) {
                        zc_reclaim(sub);
                        if (!pub->zc_peer) {
                                /* The reader's tail was invalid: its ring is gone, the pair ended. */
                                k = 0;
                                break;
                        }
                        if (sub->zc_n < sub->zc_cap)
                                k = ring_room(&sub->ring, need);
                        if (k == -ENOBUFS) {
                                pub->zc_blocked = true;
                                k = 0;
                                break;
                        }
                }
                if (k < 0) {
                        ring_doom(sub, "its reader wrote an invalid index");
                        k = 0;
                        break;
                }
                k = ring_read(&pub->ring, &m);
                if (k == -EAGAIN) {
                        k = 0;
                        break;
                }
                if (k < 0)
                        break;
                /* Validated by ring_read(): the payload lies within the data area. */
                s->zc_cur.pub = pub;
                s->zc_cur.pub_start = start;
                s->zc_cur.ref = (RingRef) {
                        .offset = (uint64_t) ((const uint8_t *) m.payload - pub->ring.data),
                        .length = (uint32_t) m.payload_len,
                };
                drain_record(pub, &m);
                s->zc_cur.pub = NULL;
                s->zc_cur.payload = NULL;
        }
        if (pub->zc_peer)
                zc_reclaim(pub->zc_peer);
        else
                ring_release(&pub->ring);
        return k < 0 ? k : (int) n;
}

/* End @r's zero-copy pairing, if any: its publish ring's space all goes back to the producer. */
static void zc_unpair(HubRing *r) {
        HubRing *pub, *sub;

        if (!r->zc_peer)
                return;
        pub = r->kind == RING_KIND_PUBLISH ? r : r->zc_peer;
        sub = r->kind == RING_KIND_PUBLISH ? r->zc_peer : r;
        pub->zc_peer = sub->zc_peer = NULL;
        sub->zc_n = 0;
        r->shm->n_zc--;
        if (!pub->dead && pub->mem) {
                ring_release(&pub->ring);
                pub->zc_blocked = false;
                ring_busy(pub);
        }
}

/* Return: whether the ring stays busy; *had_records: whether it had any. */
static bool drain_ring(HubRing *r, bool *had_records) {
        ShmHub *s = r->shm;
        int n;

        s->draining = true;
        if (r->zc_peer)
                n = zc_drain(r, DRAIN_BATCH);
        else
                n = ring_read_batch(&r->ring, drain_record, r, DRAIN_BATCH);
        s->draining = false;
        flush_unflushed(s);
        if (n < 0) {
                ring_doom(r, "its producer wrote an invalid index or record header");
                return false;
        }
        if (r->dead)
                return false;
        if (r->zc_peer && r->zc_blocked) {
                /* Woken through the subscriber's eventfd when its reader makes room (on_wake()). */
                if (zc_sleep(r->zc_peer, ring_record_size(strlen(r->topic), sizeof(RingRef))))
                        return false;
                r->zc_blocked = false;
                return true;
        }
        if (n > 0) {
                *had_records = true;
                r->busy_since = now_usec();
                return true;
        }
        if (s->config.busy_poll && now_usec() - r->busy_since < SHM_BUSY_POLL_USEC)
                return true;
        /*
         * A zero-copy pair's records cost the hub so little that, sleeping
         * after each, every record would cost the producer an eventfd write
         * and a context switch (most of its time at 64 KiB): the hub polls
         * the ring a little while before it sleeps, giving its CPU away
         * after each pass that found nothing (on_drain()).
         */
        if (r->zc_peer && now_usec() - r->busy_since < SHM_ZC_POLL_USEC)
                return true;
        /* Dry, REFs outstanding: the producer may wait for their space, which only the reader frees. */
        if (r->zc_peer && r->zc_peer->zc_n > 0 && zc_producer_may_block(r) && !zc_sleep(r->zc_peer, 0))
                return true;
        /* Dry: sleep until the producer writes our eventfd, unless a record came meanwhile. */
        return !ring_sleep_eventfd(&r->ring, 0);
}

static int on_drain(sd_event_source *source, void *userdata) {
        ShmHub *s = userdata;
        bool had_records = false;
        GList *next;

        for (GList *l = s->busy.head; l; l = next) {
                HubRing *r = l->data;

                next = l->next;
                if (!drain_ring(r, &had_records))
                        ring_idle(r);
        }
        while (!g_queue_is_empty(&s->doomed))
                ring_free(s->doomed.head->data);
        if (g_queue_is_empty(&s->busy))
                drain_soon(s, false);
        else if (!had_records)
                /* Busy-polling dry rings: let a producer or consumer queued on this CPU run. */
                sched_yield();
        return 0;
}

/*
 * The eventfd is edge-triggered and never read: every write is an edge, and
 * a read would be one more system call on the way of a record (the counter
 * cannot fill up: a write happens only while we announced sleep).
 */
static int on_wake(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        HubRing *r = userdata;

        if (r->dead)
                return 0;
        if (r->direct_peer)
                return 0;       /* paired: its reader is the subscribing client */
        ring_awake(&r->ring);
        if (r->kind == RING_KIND_PUBLISH) {
                bool had_records = false;

                /* Relay now rather than after another turn of the loop (an epoll_wait() more). */
                ring_busy(r);
                if (!drain_ring(r, &had_records))
                        ring_idle(r);
        } else if (r->kind == RING_KIND_SUBSCRIBE) {
                if (r->space_wait) {
                        /* The reader made room: tell it what it missed now, not at the next message. */
                        r->space_wait = false;
                        client_flush_gaps(&r->client);
                }
                if (r->zc_peer && !r->dead) {
                        HubRing *pub = r->zc_peer;

                        /* The reader moved on: its publisher's space goes back, and a blocked drain resumes. */
                        zc_reclaim(r);
                        if (pub->zc_blocked) {
                                pub->zc_blocked = false;
                                ring_busy(pub);
                        } else if (r->zc_peer && r->zc_n > 0 && !pub->busy_link.data &&
                                   zc_producer_may_block(pub) && !zc_sleep(r, 0))
                                ring_busy(pub);
                }
        }
        return 0;
}

/* ---- subscribe rings: the sink ---- */

static int ring_deliver(Client *client, const Envelope *e) {
        HubRing *r = (HubRing *) client;
        uint64_t last;
        RingMsg m;
        int k;

        if (r->dead)
                return -ENOBUFS;
        if (r->zc_peer && e->kind == ENVELOPE_MESSAGE && r->shm->zc_cur.pub == r->zc_peer &&
            e->payload == r->shm->zc_cur.payload) {
                k = zc_deliver(r, e);
                if (k >= 0) {
                        flush_soon(r);
                        return 0;
                }
                if (k == -EBADMSG)
                        ring_doom(r, "its reader wrote an invalid index");
                return -ENOBUFS;
        }
        switch (e->kind) {
        case ENVELOPE_MESSAGE:
                m = (RingMsg) {
                        .type = RING_RECORD_MESSAGE,
                        .flags = e->retained ? RING_FLAG_RETAINED : 0,
                        .seq = e->seq,
                        .topic = e->topic,
                        .topic_len = strlen(e->topic),
                        .payload = e->payload,
                        .payload_len = e->payload_len,
                };
                break;
        case ENVELOPE_GAP:
                last = e->gap_last;
                m = (RingMsg) {
                        .type = RING_RECORD_GAP,
                        .seq = e->gap_first,
                        .payload = &last,
                        .payload_len = sizeof last,
                };
                break;
        default:
                /* A ring only subscribes: nothing else is addressed to it. */
                return 0;
        }

        k = ring_put(&r->ring, &m);
        if (k == -ENOBUFS) {
                /* What this batch put must be visible before we wait for the reader to make room. */
                ring_flush(&r->ring);
                if (!ring_sleep_eventfd(&r->ring, ring_record_size(m.topic_len, m.payload_len)))
                        /* Room appeared between the two looks. */
                        k = ring_put(&r->ring, &m);
        }
        if (k >= 0) {
                /* A zero-copy subscriber's word may be set for its pair (zc_sleep()): left set. */
                if (!r->zc_peer)
                        ring_awake(&r->ring);
                flush_soon(r);
                return 0;
        }
        if (k == -EBADMSG) {
                ring_doom(r, "its reader wrote an invalid index");
                return -ENOBUFS;
        }
        /* -ENOBUFS: the eventfd wakes us when the reader frees space; -EMSGSIZE: it never fits. */
        r->space_wait = k == -ENOBUFS;
        if (e->kind == ENVELOPE_MESSAGE)
                __atomic_store_n(&r->ring.shared->dropped, __atomic_load_n(&r->ring.shared->dropped,
                                 __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
        return -ENOBUFS;
}

static const ClientSink ring_sink = {
        .transport = "shm",
        .deliver = ring_deliver,
};

/* ---- direct rings ---- */

/*
 * A direct pair: the publisher's ring is read by the subscribing client
 * itself; the hub no longer drains it. The subscriber's HubRing (kind
 * DIRECT) has no memory of its own; the publisher's ring counts what was
 * written (records_written, the producer's word) every
 * direct_account_usec, reserving as many sequence numbers and counting
 * them as published on the topic.
 */
static void direct_account(HubRing *r) {
        uint64_t written, n;

        if (!r->mem || !r->direct_peer)
                return;
        written = __atomic_load_n(&r->ring.shared->records_written, __ATOMIC_RELAXED);
        n = written - r->direct_counted;
        /* A counter from shared memory: never more records than the ring can have held since. */
        if (written < r->direct_counted || n > (uint64_t) 1 << 40)
                return;
        r->direct_counted = written;
        if (n > 0)
                (void) hub_account_direct(r->shm->hub, &r->client, r->topic, n, NULL);
}

static int on_account(sd_event_source *source, uint64_t usec, void *userdata) {
        ShmHub *s = userdata;
        GHashTableIter it;
        gpointer v;

        g_hash_table_iter_init(&it, s->rings);
        while (g_hash_table_iter_next(&it, NULL, &v))
                if (((HubRing *) v)->kind == RING_KIND_PUBLISH)
                        direct_account(v);
        (void) sd_event_source_set_time_relative(source, s->config.direct_account_usec);
        return 0;
}

/* ---- the control plane ---- */

static int param_error(OpCall *call, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static int param_error(OpCall *call, const char *fmt, ...) {
        va_list ap;

        op_call_clear(call);
        va_start(ap, fmt);
        call->error.message = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        call->error.code = JSONRPC_INVALID_PARAMS;
        return -EINVAL;
}

typedef struct ShmParams {
        const char *topic, *pattern;
        uint64_t size, ring;
        bool with_retained, direct, zero_copy;
} ShmParams;

static int read_params(OpCall *call, JsonParser *jp, int params, ShmParams *p) {
        static const char *const strings[] = { "topic", "pattern" };
        static const char *const numbers[] = { "size", "ring" };
        static const char *const bools[] = { "with_retained", "direct", "zero_copy" };
        const char **sv[] = { &p->topic, &p->pattern };
        uint64_t *nv[] = { &p->size, &p->ring };
        bool *bv[] = { &p->with_retained, &p->direct, &p->zero_copy };

        if (params < 0)
                return 0;
        if (json_token(jp, params)->type != JSON_OBJECT)
                return param_error(call, "Invalid params: shm methods take params by name (an object).");
        for (unsigned i = 0; i < G_N_ELEMENTS(strings); i++) {
                int t = json_object_find(jp, params, strings[i]);
                size_t len;

                if (t < 0)
                        continue;
                if (json_string(jp, t, sv[i], &len) < 0 || memchr(*sv[i], '\0', len))
                        return param_error(call, "Invalid params: '%s' must be a string.", strings[i]);
        }
        for (unsigned i = 0; i < G_N_ELEMENTS(numbers); i++) {
                int t = json_object_find(jp, params, numbers[i]);

                if (t >= 0 && json_uint64(jp, t, nv[i]) < 0)
                        return param_error(call, "Invalid params: '%s' must be a whole number.", numbers[i]);
        }
        for (unsigned i = 0; i < G_N_ELEMENTS(bools); i++) {
                int t = json_object_find(jp, params, bools[i]);

                if (t < 0)
                        continue;
                if (json_token(jp, t)->type != JSON_BOOL)
                        return param_error(call, "Invalid params: '%s' must be true or false.", bools[i]);
                *bv[i] = json_token(jp, t)->boolean;
        }
        return 0;
}

static unsigned owner_n_rings(ShmHub *s, Client *owner) {
        GQueue *q = g_hash_table_lookup(s->by_owner, owner);

        return q ? q->length : 0;
}

/* Last step of making a ring: findable by id and freed with its owner (ring_free() undoes it). */
static void ring_link(ShmHub *s, HubRing *r) {
        GQueue *q = g_hash_table_lookup(s->by_owner, r->owner);

        g_hash_table_insert(s->rings, &r->id, r);
        if (!q) {
                q = g_queue_new();
                g_hash_table_insert(s->by_owner, r->owner, q);
        }
        r->owner_link.data = r;
        g_queue_push_tail_link(q, &r->owner_link);
}

/* A new ring for @owner: checks the limits, creates, seals and maps the memfd. */
static int ring_new(ShmHub *s, OpCall *call, RingKind kind, uint64_t size, HubRing **ret) {
        g_autofree HubRing *r = NULL;
        g_auto(Fd) memfd = -1;
        g_auto(Fd) wake_fd = -1;
        g_auto(Fd) reader_fd = -1;
        Client *owner = call->client;
        size_t map_size;
        void *mem;
        int k;

        if (size == 0)
                size = s->config.default_size;
        if (!ring_size_valid(size) || size < s->config.min_size || size > s->config.max_size)
                return param_error(call, "Invalid params: 'size' must be a power of two from %" PRIu64 " to %"
                                   PRIu64 " bytes ([shm] min-size, max-size).", s->config.min_size,
                                   s->config.max_size);
        map_size = ring_map_size((uint32_t) size);
        if (owner_n_rings(s, owner) >= s->config.max_rings)
                return op_fail_name(call, "LimitExceeded", "Too many rings: a connection has at most %u "
                                    "([shm] max-rings).", s->config.max_rings);
        if (s->total + map_size > s->config.max_total)
                return op_fail_name(call, "LimitExceeded", "Out of shared memory for rings: %" PRIu64 " of %"
                                    PRIu64 " bytes are in use ([shm] max-total).", s->total,
                                    s->config.max_total);

        memfd = memfd_create("switchboard-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (memfd < 0)
                return log_warning_errno(-errno, "Failed to create a memfd for a ring: %m");
        if (ftruncate(memfd, (off_t) map_size) < 0)
                return log_warning_errno(-errno, "Failed to size a ring's memfd: %m");
        /* Neither side can ever shrink it under the other's mapping (SIGBUS), nor unseal it. */
        if (fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                return log_warning_errno(-errno, "Failed to seal a ring's memfd: %m");
        wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (wake_fd < 0)
                return log_warning_errno(-errno, "Failed to create a ring's eventfd: %m");
        if (kind == RING_KIND_SUBSCRIBE) {
                /* For a reader in an epoll loop: we write it when cons_wait says 2 (docs/shm.md). */
                reader_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (reader_fd < 0)
                        return log_warning_errno(-errno, "Failed to create a ring's eventfd: %m");
        }

        r = g_new0(HubRing, 1);
        k = client_init(&r->client, s->hub, &ring_sink, owner->info.uid, owner->info.pid, NULL, false);
        if (k < 0)
                return op_fail(call, k, HUB_ARG_CLIENT, NULL, 0);

        mem = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
        if (mem == MAP_FAILED) {
                k = -errno;
                client_deinit(&r->client);
                return log_warning_errno(k, "Failed to map a ring: %m");
        }
        r->shm = s;
        r->owner = owner;
        r->id = ++s->next_id;
        r->kind = kind;
        r->mem = mem;
        r->map_size = map_size;
        s->total += map_size;
        (void) ring_format(mem, (uint32_t) size, kind, r->id);
        (void) ring_attach(&r->ring, mem, map_size, kind == RING_KIND_SUBSCRIBE, reader_fd);
        r->memfd = g_steal_fd(&memfd);
        r->wake_fd = g_steal_fd(&wake_fd);
        r->reader_fd = g_steal_fd(&reader_fd);

        k = sd_event_add_io(s->event, &r->wake_io, r->wake_fd, EPOLLIN | EPOLLET, on_wake, r);
        if (k < 0) {
                ring_free(g_steal_pointer(&r));
                return log_warning_errno(k, "Failed to watch a ring's eventfd: %m");
        }

        ring_link(s, r);
        *ret = g_steal_pointer(&r);
        return 0;
}

static int dup_fd(int fd) {
        return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/* @r's id and kind, with the sizes of @mapped (@r itself, or the ring a direct reader maps). */
static void append_ring_result(GString *result, HubRing *r, HubRing *mapped, const char *extra_key, uint64_t extra) {
        g_string_append_printf(result, "{\"ring\":%" PRIu64 ",\"size\":%" PRIu64 ",\"map_size\":%zu,"
                               "\"kind\":\"%s\"", r->id, mapped->ring.size, mapped->map_size, kind_name(r->kind));
        if (extra_key)
                g_string_append_printf(result, ",\"%s\":%" PRIu64, extra_key, extra);
        g_string_append_c(result, '}');
}

/* The memfd, the eventfd that wakes us and, for a subscribe ring, the reader's eventfd. */
static int give_fds(HubRing *r, JsonrpcFds *fds) {
        int mine[] = { r->memfd, r->wake_fd, r->reader_fd };

        for (unsigned i = 0; i < G_N_ELEMENTS(mine) && mine[i] >= 0; i++) {
                fds->fds[fds->n] = dup_fd(mine[i]);
                if (fds->fds[fds->n] < 0)
                        return -errno;
                fds->n++;
        }
        return 0;
}

static int shm_publish(ShmHub *s, OpCall *call, const ShmParams *p, GString *result, JsonrpcFds *fds) {
        HubRing *r;
        int k;

        if (!p->topic)
                return param_error(call, "Invalid params: 'topic' is missing.");
        k = hub_topic_validate(s->hub, p->topic);
        if (k < 0)
                return op_fail(call, k, HUB_ARG_TOPIC, p->topic, 0);
        k = ring_new(s, call, RING_KIND_PUBLISH, p->size, &r);
        if (k < 0)
                return k;
        r->topic = g_strdup(p->topic);
        k = give_fds(r, fds);
        if (k < 0) {
                ring_free(r);
                return log_warning_errno(k, "Failed to duplicate a ring's fds: %m");
        }
        /* Sleep until the first write: the producer wakes us through the eventfd. */
        (void) ring_sleep_eventfd(&r->ring, 0);
        append_ring_result(result, r, r, NULL, 0);
        log_debug("client %" PRIu64 " (unix): shm publish ring %" PRIu64 " on '%s', %" PRIu64 " bytes",
                  call->client->info.id, r->id, r->topic, r->ring.size);
        return 0;
}

/* An unpaired publish ring of exactly @topic whose owner is not @owner (NULL: anyone's), or NULL. */
static HubRing *direct_candidate(ShmHub *s, const char *topic, Client *owner) {
        GHashTableIter it;
        gpointer v;

        g_hash_table_iter_init(&it, s->rings);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
                HubRing *r = v;

                if (r->kind == RING_KIND_PUBLISH && !r->dead && !r->direct_peer && !r->zc_peer &&
                    (!owner || r->owner != owner) && strcmp(r->topic, topic) == 0)
                        return r;
        }
        return NULL;
}

static int shm_direct(ShmHub *s, OpCall *call, HubRing *pub, GString *result, JsonrpcFds *fds) {
        HubRing *r;
        int k;

        /* Everything the hub read is given back first: the direct reader starts at the shared tail. */
        ring_idle(pub);
        ring_release(&pub->ring);
        ring_awake(&pub->ring);

        r = g_new0(HubRing, 1);
        k = client_init(&r->client, s->hub, &ring_sink, call->client->info.uid, call->client->info.pid, NULL, false);
        if (k < 0) {
                g_free(r);
                return op_fail(call, k, HUB_ARG_CLIENT, NULL, 0);
        }
        r->shm = s;
        r->owner = call->client;
        r->id = ++s->next_id;
        r->kind = RING_KIND_DIRECT;
        r->memfd = r->wake_fd = r->reader_fd = -1;
        ring_link(s, r);

        fds->fds[0] = dup_fd(pub->memfd);
        if (fds->fds[0] < 0) {
                k = -errno;
                ring_free(r);
                return log_warning_errno(k, "Failed to duplicate a ring's fd: %m");
        }
        fds->n = 1;
        pub->direct_peer = r;
        r->direct_peer = pub;
        pub->direct_counted = __atomic_load_n(&pub->ring.shared->records_read, __ATOMIC_RELAXED);
        __atomic_store_n(&pub->ring.shared->kind, RING_KIND_DIRECT, __ATOMIC_RELEASE);

        append_ring_result(result, r, pub, "publisher_ring", pub->id);
        log_debug("client %" PRIu64 " (unix): direct ring %" PRIu64 " reads publish ring %" PRIu64 " of '%s'",
                  call->client->info.id, r->id, pub->id, pub->topic);
        return 0;
}

/* A subscribe ring for @p->pattern, subscribed, its fds in @fds. */
static int subscribe_ring_new(ShmHub *s, OpCall *call, const ShmParams *p, JsonrpcFds *fds, HubRing **ret) {
        HubRing *r;
        int k;

        k = ring_new(s, call, RING_KIND_SUBSCRIBE, p->size, &r);
        if (k < 0)
                return k;
        k = hub_subscribe(s->hub, &r->client, p->pattern, false, &r->sub_id);
        if (k < 0) {
                ring_free(r);
                return op_fail(call, k, HUB_ARG_PATTERN, p->pattern, 0);
        }
        k = give_fds(r, fds);
        if (k < 0) {
                ring_free(r);
                return log_warning_errno(k, "Failed to duplicate a ring's fds: %m");
        }
        *ret = r;
        return 0;
}

/* A read-only fd of @memfd: a zero-copy reader can map the publisher's ring, never write it. */
static int reopen_read_only(int memfd) {
        char path[64];

        snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
        return open(path, O_RDONLY | O_CLOEXEC);
}

/*
 * shm.subscribe zero_copy: a subscribe ring as any other, paired with the
 * publish ring of exactly its topic (see "zero-copy pairs" above); its
 * answer has a fourth fd, that ring's memfd, read-only.
 */
static int shm_zero_copy(ShmHub *s, OpCall *call, const ShmParams *p, GString *result, JsonrpcFds *fds) {
        g_auto(Fd) ro = -1;
        HubRing *pub = direct_candidate(s, p->pattern, NULL), *r;
        int k;

        if (!pub)
                return op_fail_name(call, "NotFound", "No publish ring of topic '%s' to pair with: "
                                    "'zero_copy' needs one of exactly that topic, not yet paired.", p->pattern);
        ro = reopen_read_only(pub->memfd);
        if (ro < 0)
                return log_warning_errno(-errno, "Failed to reopen a ring's memfd read-only: %m");
        k = subscribe_ring_new(s, call, p, fds, &r);
        if (k < 0)
                return k;
        fds->fds[fds->n++] = g_steal_fd(&ro);

        /* Every REF fits the table: a REF record takes at least 40 bytes of the ring. */
        r->zc_cap = (unsigned) MIN(r->ring.size / 40 + 1, ZC_MAX_REFS);
        r->zc_refs = g_new(ZcRef, r->zc_cap);
        /* What the hub read of pub was published already: only what comes now is held. */
        ring_release(&pub->ring);
        pub->zc_peer = r;
        r->zc_peer = pub;
        s->n_zc++;
        if (p->with_retained)
                (void) hub_replay_retained(s->hub, &r->client, r->sub_id);

        g_string_append_printf(result, "{\"ring\":%" PRIu64 ",\"size\":%" PRIu64 ",\"map_size\":%zu,"
                               "\"kind\":\"subscribe\",\"subscription\":%" PRIu64 ",\"zero_copy\":true,"
                               "\"publisher_ring\":%" PRIu64 ",\"publisher_map_size\":%zu}",
                               r->id, r->ring.size, r->map_size, r->sub_id, pub->id, pub->map_size);
        log_debug("client %" PRIu64 " (unix): zero-copy subscribe ring %" PRIu64 " of publish ring %" PRIu64
                  " ('%s'), %" PRIu64 " bytes", call->client->info.id, r->id, pub->id, pub->topic, r->ring.size);
        return 0;
}

static int shm_subscribe(ShmHub *s, OpCall *call, const ShmParams *p, GString *result, JsonrpcFds *fds) {
        HubRing *r;
        int k;

        if (!p->pattern)
                return param_error(call, "Invalid params: 'pattern' is missing.");
        if (p->direct && p->zero_copy)
                return param_error(call, "Invalid params: 'direct' and 'zero_copy' exclude each other.");
        if (p->zero_copy)
                return shm_zero_copy(s, call, p, result, fds);
        if (p->direct) {
                HubRing *pub = direct_candidate(s, p->pattern, call->client);

                if (!pub)
                        return op_fail_name(call, "NotFound", "No publish ring of topic '%s' to pair with: "
                                            "'direct' needs one, unpaired, of exactly that topic.", p->pattern);
                if (owner_n_rings(s, call->client) >= s->config.max_rings)
                        return op_fail_name(call, "LimitExceeded", "Too many rings: a connection has at most "
                                            "%u ([shm] max-rings).", s->config.max_rings);
                return shm_direct(s, call, pub, result, fds);
        }

        k = subscribe_ring_new(s, call, p, fds, &r);
        if (k < 0)
                return k;
        if (p->with_retained)
                (void) hub_replay_retained(s->hub, &r->client, r->sub_id);
        append_ring_result(result, r, r, "subscription", r->sub_id);
        log_debug("client %" PRIu64 " (unix): shm subscribe ring %" PRIu64 " to '%s', %" PRIu64 " bytes",
                  call->client->info.id, r->id, p->pattern, r->ring.size);
        return 0;
}

static int shm_close(ShmHub *s, OpCall *call, const ShmParams *p, GString *result) {
        HubRing *r = g_hash_table_lookup(s->rings, &p->ring);

        if (!r || r->owner != call->client || r->dead)
                return op_fail_name(call, "NotFound", "No ring %" PRIu64 " of this connection.", p->ring);
        ring_doom(r, NULL);
        g_string_append(result, "null");
        return 0;
}

static int shm_call(void *userdata, OpCall *call, const char *method, JsonParser *jp, int params,
                    GString *result, JsonrpcFds *fds) {
        ShmHub *s = userdata;
        ShmParams p = {};
        int k;

        k = read_params(call, jp, params, &p);
        if (k < 0)
                return k;
        if (strcmp(method, "shm.publish") == 0)
                return shm_publish(s, call, &p, result, fds);
        if (strcmp(method, "shm.subscribe") == 0)
                return shm_subscribe(s, call, &p, result, fds);
        if (strcmp(method, "shm.close") == 0)
                return shm_close(s, call, &p, result);
        op_call_clear(call);
        call->error.code = JSONRPC_METHOD_NOT_FOUND;
        call->error.message = g_strdup_printf("Method '%s' not found; the shm methods are shm.publish, "
                                              "shm.subscribe and shm.close.", method);
        return -EINVAL;
}

static void shm_client_gone(void *userdata, Client *client) {
        ShmHub *s = userdata;
        GQueue *q = g_hash_table_lookup(s->by_owner, client);

        /* ring_free() removes the queue with its last ring. */
        while (q && g_hash_table_lookup(s->by_owner, client))
                ring_free(q->head->data);
}

/* hub.info's "shm" member. */
static void shm_info(GVariantBuilder *dict, void *userdata) {
        ShmHub *s = userdata;
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&b, "{sv}", "rings", g_variant_new_uint32(g_hash_table_size(s->rings)));
        g_variant_builder_add(&b, "{sv}", "bytes", g_variant_new_uint64(s->total));
        g_variant_builder_add(&b, "{sv}", "dropped_rings", g_variant_new_uint64(s->n_dropped_rings));
        g_variant_builder_add(dict, "{sv}", "shm", g_variant_builder_end(&b));
}

/**
 * shm_hub_new() - serve shared-memory rings on @event for @hub
 *
 * Return: 0, or a negative errno from sd-event.
 */
int shm_hub_new(sd_event *event, Hub *hub, const ShmConfig *config, ShmHub **ret) {
        g_autoptr(ShmHub) s = g_new0(ShmHub, 1);
        int k;

        s->event = sd_event_ref(event);
        s->hub = hub;
        s->config = *config;
        s->rings = g_hash_table_new(g_int64_hash, g_int64_equal);
        s->by_owner = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) g_queue_free);
        s->copy = g_byte_array_new();
        s->ext = (JsonrpcExtension) {
                .prefix = "shm.",
                .call = shm_call,
                .client_gone = shm_client_gone,
                .userdata = s,
        };
        k = sd_event_add_defer(event, &s->drain_defer, on_drain, s);
        if (k >= 0)
                k = sd_event_source_set_priority(s->drain_defer, SD_EVENT_PRIORITY_IDLE);
        if (k >= 0)
                k = sd_event_add_post(event, &s->drain_post, on_drain, s);
        if (k >= 0) {
                drain_soon(s, false);
                k = 0;
        }
        if (k >= 0)
                k = sd_event_add_time_relative(event, &s->account_timer, CLOCK_MONOTONIC,
                                               config->direct_account_usec, 10 * 1000, on_account, s);
        if (k >= 0)
                k = sd_event_source_set_enabled(s->account_timer, SD_EVENT_ON);
        if (k < 0)
                return log_error_errno(k, "Failed to set up shared-memory rings: %m");
        hub_add_info(hub, shm_info, s);
        *ret = g_steal_pointer(&s);
        return 0;
}

/**
 * shm_hub_free() - drop every ring (their peers see RING_STATE_CLOSED)
 */
ShmHub *shm_hub_free(ShmHub *s) {
        GHashTableIter it;
        gpointer v;

        if (!s)
                return NULL;
        while (s->rings && g_hash_table_size(s->rings) > 0) {
                g_hash_table_iter_init(&it, s->rings);
                if (g_hash_table_iter_next(&it, NULL, &v))
                        ring_free(v);
        }
        if (s->hub && s->rings)
                hub_remove_info(s->hub, shm_info, s);
        g_clear_pointer(&s->rings, g_hash_table_destroy);
        g_clear_pointer(&s->by_owner, g_hash_table_destroy);
        g_clear_pointer(&s->copy, g_byte_array_unref);
        s->drain_defer = sd_event_source_disable_unref(s->drain_defer);
        s->drain_post = sd_event_source_disable_unref(s->drain_post);
        s->account_timer = sd_event_source_disable_unref(s->account_timer);
        s->event = sd_event_unref(s->event);
        g_free(s);
        return NULL;
}

void shm_hub_set_config(ShmHub *s, const ShmConfig *config) {
        s->config = *config;
}

const JsonrpcExtension *shm_hub_extension(ShmHub *s) {
        return &s->ext;
}
