/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-shm: one measurement of the shared-memory data plane (bench/run-shm).
 *
 *   bench-shm MODE PAYLOAD COUNT [--latency] [--busy] [--socket PATH] [--hub-pid PID]
 *
 * MODE: raw     our own SPSC ring (src/shm/ring.c) between two processes, no hub: the ceiling
 *       hub     a shm.publish ring -> the hub -> a shm.subscribe ring (hub-relayed)
 *       hub-zc  hub-relayed, the subscriber zero-copy (shm.subscribe zero_copy): the hub writes a
 *               REF to the record into the subscribe ring, the reader reads the publisher's ring
 *       direct  a shm.publish ring read directly by the subscriber (shm.subscribe direct)
 *       socket  JSON-RPC publish notifications (64 frames per write) -> the hub -> a socket subscriber
 *       iox     iceoryx 2 (C binding): a publisher and a subscriber of one service, through a
 *               running iox-roudi (pass its pid as --hub-pid); built only when iceoryx is found.
 *               Lossless like the rings: the subscriber's queue (256, iceoryx's maximum)
 *               blocks the publisher when full (WAIT_FOR_CONSUMER / BLOCK_PRODUCER)
 *
 * A producer and a consumer process are forked. Rate mode: the producer
 * writes COUNT messages as fast as it can; msgs/s = messages received /
 * (last arrival - producer start). Latency mode (--latency): one message
 * in flight; the producer waits until the consumer counted the previous one
 * (sleeping on a futex, spinning with --busy); each message carries its CLOCK_MONOTONIC send time, the
 * consumer records arrival - send (one way). --busy: both sides poll
 * instead of sleeping on the futex, the producer pinned to the first CPU
 * and the consumer to the last (polling only pays with a CPU each; left
 * to the scheduler, the two often share one and every hand-over is a
 * context switch). CPU: user+system of producer, consumer
 * and (with --hub-pid) the hub, per message received.
 *
 * Output: one line "msgs_s=... p50_us=... p99_us=... cpu_us_msg=... lost=...".
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm/shm-control.h"

#ifdef HAVE_ICEORYX
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>
#include <iceoryx_binding_c/wait_set.h>
#endif

/*
 * Ring data size: 16 MiB for rates; 1 MiB with one message in flight, so
 * that a latency run goes round its ring many times and measures the steady
 * state, not the first touch (a page fault) of every page of a 16 MiB ring.
 */
/* Throughput: room for many records, yet small enough for large ones to stay in the caches (a
 * 64 KiB message walking through 16 MiB misses them all; iceoryx reuses a hot chunk). */
#define RING_BYTES      (latency ? 1u << 20 : payload_len >= 16384 ? 2u << 20 : 16u << 20)
#define MAX_LAT         200000

typedef struct Shared {
        volatile uint64_t received;
        volatile uint64_t lost;
        volatile uint64_t t_start, t_end;       /* ns */
        volatile int consumer_ready, producer_ready;
        uint32_t ack;                            /* latency mode: bumped per message counted (a futex) */
        uint32_t prod_waits;                     /* the producer sleeps on ack */
        volatile double cpu[2];                  /* seconds, producer and consumer */
        uint64_t n_lat;
        uint32_t lat[MAX_LAT];                   /* ns */
} Shared;

static const char *mode, *sock_path;
static size_t payload_len;
static uint64_t count;
static bool latency, busy;
static Shared *sh;
static void *raw_mem;

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void die(const char *what, int k) {
        fprintf(stderr, "bench-shm %s: %s: %s\n", mode, what, strerror(k < 0 ? -k : k));
        _exit(1);
}

static double cpu_self(void) {
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int connect_hub(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                die("connect", -errno);
        return fd;
}

static void spin_until(volatile int *flag) {
        while (!*flag)
                usleep(100);
}

/*
 * Latency mode: wait until message @i was counted. --busy: spinning,
 * yielding now and then as ring.c does. Otherwise a short spin, then sleep
 * on a futex as a client waiting for a reply would, so that a spinning
 * producer does not hold a CPU the hub or the consumer needs.
 */
static void wait_delivered(uint64_t i) {
        for (unsigned n = 1; sh->received + sh->lost <= i; n++) {
                if (!busy && n > 64) {
                        uint32_t seen = __atomic_load_n(&sh->ack, __ATOMIC_SEQ_CST);

                        __atomic_store_n(&sh->prod_waits, 1, __ATOMIC_SEQ_CST);
                        if (sh->received + sh->lost <= i)
                                (void) ring_futex_wait(&sh->ack, seen, NULL);
                        __atomic_store_n(&sh->prod_waits, 0, __ATOMIC_SEQ_CST);
                } else if (n % 64 == 0)
                        sched_yield();
                else
                        __builtin_ia32_pause();
        }
}

/* Latency mode, consumer: after counting a message, wake a producer that sleeps in wait_delivered(). */
static void acked(void) {
        if (!latency)
                return;
        __atomic_add_fetch(&sh->ack, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&sh->prod_waits, __ATOMIC_SEQ_CST))
                ring_futex_wake(&sh->ack);
}

static unsigned spins(void) {
        return busy ? 1u << 30 : 200;
}

/* ---- shm producer and consumer ---- */

static void open_ring(int sock, bool publish, const char *opts, ShmRing *r) {
        char *error = NULL;
        int k = shm_ring_open(sock, publish, "bench.shm", RING_BYTES, opts, r, &error);

        if (k == -EREMOTEIO) {
                fprintf(stderr, "bench-shm: the hub refused: %s\n", error);
                _exit(1);
        }
        if (k < 0)
                die("shm ring", k);
}

/*
 * The message is written in place (ring_reserve()), as iceoryx's producer
 * writes into its loaned chunk: the same bytes written, no copy.
 */
static void produce_ring(Ring *ring) {
        RingMsg m = { .type = RING_RECORD_MESSAGE, .payload_len = payload_len };
        size_t need = ring_record_size(0, payload_len);

        sh->t_start = now_ns();
        for (uint64_t i = 0; i < count; i++) {
                uint64_t t = now_ns();
                void *payload;
                int k;

                while ((k = ring_reserve(ring, &m, &payload)) == -ENOBUFS) {
                        k = ring_wait_writable(ring, need, spins(), NULL);
                        if (k < 0)
                                die("wait writable", k);
                }
                if (k < 0)
                        die("write", k);
                memset(payload, 'x', payload_len);
                memcpy(payload, &t, sizeof t);
                ring_flush(ring);
                if (latency)
                        wait_delivered(i);
        }
}

static void consume_ring(ShmRing *shm) {
        Ring *ring = &shm->ring;

        while (sh->received + sh->lost < count) {
                const void *payload;
                size_t len;
                RingMsg m;
                int k = ring_read(ring, &m);

                if (k == -EAGAIN) {
                        ring_release(ring);
                        k = ring_wait_readable(ring, spins(), NULL);
                        if (k < 0)
                                die("wait readable", k);
                        continue;
                }
                if (k < 0)
                        die("read", k);
                if (m.type == RING_RECORD_GAP) {
                        uint64_t last;

                        memcpy(&last, m.payload, sizeof last);
                        sh->lost += last - m.seq + 1;
                        acked();
                        continue;
                }
                /* MESSAGE: in the record; REF (hub-zc): in the publisher's ring. */
                if (shm_ring_payload(shm, &m, &payload, &len) < 0 || len < sizeof(uint64_t))
                        die("record", -EBADMSG);
                if (latency && sh->n_lat < MAX_LAT) {
                        uint64_t t;

                        memcpy(&t, payload, sizeof t);
                        sh->lat[sh->n_lat++] = (uint32_t) (now_ns() - t);
                }
                sh->received++;
                /* Give the space back now and then, not per record: that is the batching. */
                if ((sh->received & 63) == 0 || latency)
                        ring_release(ring);
                acked();
        }
        ring_release(ring);
        sh->t_end = now_ns();
}

/* ---- socket producer and consumer ---- */

static void send_all(int fd, const char *p, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, p, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        die("write", -errno);
                }
                p += n;
                len -= (size_t) n;
        }
}

static void produce_socket(int fd) {
        size_t frame_max = payload_len + 128;
        char *buf = malloc(64 * (frame_max + 4));
        unsigned batch = latency ? 1 : 64;

        sh->t_start = now_ns();
        for (uint64_t i = 0; i < count;) {
                size_t len = 0;

                for (unsigned b = 0; b < batch && i < count; b++, i++) {
                        char *f = buf + len;
                        /* 16 hex digits of send time, then 'x' to the payload's size. */
                        int n = sprintf(f + 4, "{\"jsonrpc\":\"2.0\",\"method\":\"publish\",\"params\":{\"topic\":"
                                        "\"bench.shm\",\"payload\":\"%016" PRIx64, now_ns());
                        size_t body;

                        memset(f + 4 + n, 'x', payload_len - 16);
                        body = (size_t) n + payload_len - 16;
                        memcpy(f + 4 + body, "\"}}", 3);
                        body += 3;
                        f[0] = (char) (body >> 24);
                        f[1] = (char) (body >> 16);
                        f[2] = (char) (body >> 8);
                        f[3] = (char) body;
                        len += 4 + body;
                }
                send_all(fd, buf, len);
                if (latency)
                        wait_delivered(i - 1);
        }
        free(buf);
}

static void consume_socket(int fd) {
        size_t cap = 1 << 22, have = 0;
        char *buf = malloc(cap);

        while (sh->received + sh->lost < count) {
                ssize_t n = read(fd, buf + have, cap - have);
                size_t off = 0;

                if (n <= 0)
                        die("read", n < 0 ? -errno : -EPIPE);
                have += (size_t) n;
                while (have - off >= 4) {
                        const unsigned char *u = (const unsigned char *) buf + off;
                        size_t len = (size_t) u[0] << 24 | (size_t) u[1] << 16 | (size_t) u[2] << 8 | u[3];
                        char *body = buf + off + 4;
                        char *p;

                        if (have - off - 4 < len)
                                break;
                        if (len > 40 && memcmp(body + 27, "message", 7) == 0 &&
                            (p = memmem(body, len, "\"payload\":\"", 11))) {
                                if (latency && sh->n_lat < MAX_LAT)
                                        sh->lat[sh->n_lat++] = (uint32_t) (now_ns() - strtoull(p + 11, NULL, 16));
                                sh->received++;
                                acked();
                        } else if (len > 30 && memcmp(body + 27, "gap", 3) == 0) {
                                uint64_t first = 0, last = 0;
                                char *q = memmem(body, len, "first_seq\":", 11);
                                char *r = memmem(body, len, "last_seq\":", 10);

                                if (q && r) {
                                        first = strtoull(q + 11, NULL, 10);
                                        last = strtoull(r + 10, NULL, 10);
                                        sh->lost += last - first + 1;
                                        acked();
                                }
                        }
                        off += 4 + len;
                }
                memmove(buf, buf + off, have - off);
                have -= off;
        }
        sh->t_end = now_ns();
        free(buf);
}

static void subscribe_socket(int fd) {
        static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"subscribe\",\"params\":{\"pattern\":\"bench.shm\"}}";
        char *body = NULL;

        if (shm_call(fd, req, sizeof req - 1, &body, NULL, 0, NULL) < 0)
                die("subscribe", -EPROTO);
        free(body);
}

/* ---- iceoryx producer and consumer ---- */

#ifdef HAVE_ICEORYX
#define IOX_SERVICE "switchboard", "bench", "shm"

static void runtime_init(const char *role) {
        char name[64];

        snprintf(name, sizeof name, "sb-bench-%s-%d", role, (int) getpid());
        iox_set_loglevel(Iceoryx_LogLevel_Warn);
        iox_runtime_init(name);
}

static void produce_iox(void) {
        iox_pub_storage_t storage;
        iox_pub_options_t options;
        iox_pub_t pub;

        runtime_init("pub");
        iox_pub_options_init(&options);
        options.historyCapacity = 0;
        options.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
        pub = iox_pub_init(&storage, IOX_SERVICE, &options);
        spin_until(&sh->consumer_ready);
        while (!iox_pub_has_subscribers(pub))
                usleep(100);

        sh->t_start = now_ns();
        for (uint64_t i = 0; i < count; i++) {
                void *chunk;
                uint64_t t;
                unsigned tries = 0;

                /* Out of chunks: the subscriber still holds them; wait as a ring producer would. */
                while (iox_pub_loan_chunk(pub, &chunk, (uint32_t) payload_len) != AllocationResult_SUCCESS)
                        if (++tries % 64 == 0)
                                sched_yield();
                memset(chunk, 'x', payload_len);
                t = now_ns();
                memcpy(chunk, &t, sizeof t);
                iox_pub_publish_chunk(pub, chunk);
                if (latency)
                        wait_delivered(i);
        }
        while (sh->t_end == 0)
                usleep(1000);
        iox_pub_deinit(pub);
}

static void consume_iox(void) {
        iox_sub_storage_t storage;
        iox_ws_storage_t ws_storage;
        iox_notification_info_t infos[4];
        iox_sub_options_t options;
        iox_sub_t sub;
        iox_ws_t ws;
        unsigned idle = 0;

        runtime_init("sub");
        iox_sub_options_init(&options);
        options.queueCapacity = 256;
        options.historyRequest = 0;
        options.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
        sub = iox_sub_init(&storage, IOX_SERVICE, &options);
        ws = iox_ws_init(&ws_storage);
        if (iox_ws_attach_subscriber_state(ws, sub, SubscriberState_HAS_DATA, 0, NULL) != WaitSetResult_SUCCESS)
                die("iox waitset", -EINVAL);
        sh->consumer_ready = 1;

        while (sh->received < count) {
                const void *chunk;
                uint64_t missed;

                if (iox_sub_take_chunk(sub, &chunk) != ChunkReceiveResult_SUCCESS) {
                        /* As ring_wait_readable(): spin (yielding every 64), then sleep unless --busy. */
                        if (++idle < spins()) {
                                if (idle % 64 == 0)
                                        sched_yield();
                                else
                                        __builtin_ia32_pause();
                        } else {
                                (void) iox_ws_wait(ws, infos, 4, &missed);
                                idle = 0;
                        }
                        continue;
                }
                idle = 0;
                if (latency && sh->n_lat < MAX_LAT) {
                        uint64_t t;

                        memcpy(&t, chunk, sizeof t);
                        sh->lat[sh->n_lat++] = (uint32_t) (now_ns() - t);
                }
                iox_sub_release_chunk(sub, chunk);
                sh->received++;
                acked();
        }
        sh->t_end = now_ns();
        iox_ws_deinit(ws);
        iox_sub_deinit(sub);
}
#endif

/* ---- the two processes ---- */

/* --busy: the producer on the first CPU, the consumer on the last (the hub, if any, floats). */
static void pin(bool first) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cpu_set_t set;

        if (!busy || n < 2)
                return;
        CPU_ZERO(&set);
        CPU_SET(first ? 0 : (int) n - 1, &set);
        (void) sched_setaffinity(0, sizeof set, &set);
}

static void producer(void) {
        pin(true);
        if (strcmp(mode, "raw") == 0) {
                Ring r;

                if (ring_attach(&r, raw_mem, ring_map_size(RING_BYTES), true, -1) < 0)
                        die("attach", -EPROTO);
                spin_until(&sh->consumer_ready);
                produce_ring(&r);
        } else if (strcmp(mode, "socket") == 0) {
                int fd = connect_hub();

                spin_until(&sh->consumer_ready);
                produce_socket(fd);
                /* Stay connected until the consumer is done: the hub must not lose what is queued. */
                while (sh->received + sh->lost < count && sh->t_end == 0)
                        usleep(1000);
#ifdef HAVE_ICEORYX
        } else if (strcmp(mode, "iox") == 0) {
                produce_iox();
#endif
        } else {
                ShmRing r = SHM_RING_INIT;
                int fd = connect_hub();

                if (strcmp(mode, "hub") == 0)
                        spin_until(&sh->consumer_ready);
                open_ring(fd, true, NULL, &r);
                sh->producer_ready = 1;
                spin_until(&sh->consumer_ready);
                produce_ring(&r.ring);
                while (sh->t_end == 0)
                        usleep(1000);
        }
        sh->cpu[0] = cpu_self();
}

static void consumer(void) {
        pin(false);
        if (strcmp(mode, "raw") == 0) {
                ShmRing r = SHM_RING_INIT;

                if (ring_attach(&r.ring, raw_mem, ring_map_size(RING_BYTES), false, -1) < 0)
                        die("attach", -EPROTO);
                sh->consumer_ready = 1;
                consume_ring(&r);
        } else if (strcmp(mode, "socket") == 0) {
                int fd = connect_hub();

                subscribe_socket(fd);
                sh->consumer_ready = 1;
                consume_socket(fd);
#ifdef HAVE_ICEORYX
        } else if (strcmp(mode, "iox") == 0) {
                consume_iox();
#endif
        } else {
                ShmRing r = SHM_RING_INIT;
                int fd = connect_hub();
                bool direct = strcmp(mode, "direct") == 0, zc = strcmp(mode, "hub-zc") == 0;

                /* Both pair with the publisher's ring: it must be there first. */
                if (direct || zc)
                        spin_until(&sh->producer_ready);
                open_ring(fd, false, direct ? "\"direct\":true" : zc ? "\"zero_copy\":true" : NULL, &r);
                sh->consumer_ready = 1;
                consume_ring(&r);
        }
        sh->cpu[1] = cpu_self();
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

        return x < y ? -1 : x > y;
}

static double hub_cpu(pid_t pid) {
        char path[64], buf[1024];
        unsigned long ut = 0, st = 0;
        FILE *f;
        char *p;

        if (pid <= 0)
                return 0;
        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        f = fopen(path, "r");
        if (!f || !fgets(buf, sizeof buf, f)) {
                if (f)
                        fclose(f);
                return 0;
        }
        fclose(f);
        p = strrchr(buf, ')');
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
                return (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
        return 0;
}

int main(int argc, char **argv) {
        pid_t hub_pid = 0, p1, p2;
        double hub0, hub1;
        int status;

        if (argc < 4) {
                fprintf(stderr, "usage: bench-shm raw|hub|hub-zc|direct|socket|iox PAYLOAD COUNT [--latency] [--busy] "
                        "[--socket PATH] [--hub-pid PID]\n");
                return 2;
        }
        mode = argv[1];
#ifndef HAVE_ICEORYX
        if (strcmp(mode, "iox") == 0) {
                fprintf(stderr, "bench-shm: built without iceoryx\n");
                return 77;
        }
#endif
        payload_len = strtoul(argv[2], NULL, 0);
        count = strtoull(argv[3], NULL, 0);
        sock_path = getenv("SB_SOCKET");
        for (int i = 4; i < argc; i++) {
                if (strcmp(argv[i], "--latency") == 0)
                        latency = true;
                else if (strcmp(argv[i], "--busy") == 0)
                        busy = true;
                else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
                        sock_path = argv[++i];
                else if (strcmp(argv[i], "--hub-pid") == 0 && i + 1 < argc)
                        hub_pid = atoi(argv[++i]);
        }
        if (payload_len < 16)
                payload_len = 16;       /* the send time travels in the payload */

        sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (sh == MAP_FAILED)
                die("mmap", -errno);
        if (strcmp(mode, "raw") == 0) {
                raw_mem = mmap(NULL, ring_map_size(RING_BYTES), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                               -1, 0);
                if (raw_mem == MAP_FAILED || ring_format(raw_mem, RING_BYTES, RING_KIND_PUBLISH, 1) < 0)
                        die("raw ring", -errno);
        }

        hub0 = hub_cpu(hub_pid);
        p2 = fork();
        if (p2 == 0) {
                consumer();
                _exit(0);
        }
        p1 = fork();
        if (p1 == 0) {
                producer();
                _exit(0);
        }
        waitpid(p1, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return 1;
        waitpid(p2, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return 1;
        hub1 = hub_cpu(hub_pid);

        double secs = (double) (sh->t_end - sh->t_start) / 1e9;
        double cpu = sh->cpu[0] + sh->cpu[1] + (hub1 - hub0);
        double p50 = 0, p99 = 0;

        if (sh->n_lat > 0) {
                qsort(sh->lat, sh->n_lat, sizeof sh->lat[0], cmp_u32);
                p50 = sh->lat[sh->n_lat / 2] / 1e3;
                p99 = sh->lat[sh->n_lat * 99 / 100] / 1e3;
        }
        printf("msgs_s=%.0f p50_us=%.2f p99_us=%.2f cpu_us_msg=%.3f lost=%" PRIu64 "\n",
               sh->received / secs, p50, p99, sh->received ? cpu * 1e6 / sh->received : 0, sh->lost);
        return 0;
}
