/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shm-tool: a small shared-memory client of the hub for the tests (and
 * until libswitchboard wraps src/shm/): raw JSON-RPC frames on the socket,
 * fds with SCM_RIGHTS, then the ring of src/shm/ring.h. One line per event
 * on stdout, flushed, for tests/shm/test-shm.py to read.
 *
 *   shm-tool publish TOPIC N [SIZE]      write N records "m1".."mN", wait until the hub read them
 *   shm-tool subscribe PATTERN N [SIZE] [--wait-stdin]
 *                                        print "ready", (read a line of stdin,) then print
 *                                        "msg SEQ TOPIC PAYLOAD" / "gap FIRST LAST" until N
 *                                        messages are received or accounted for by gaps
 *   --epoll (anywhere)                   subscribe rings: sleep in epoll on the ring's
 *                                        reader eventfd instead of the futex
 *   shm-tool corrupt MODE                pub-head, pub-record, sub-tail: break a ring, wait
 *                                        until the hub drops it ("dropped"); truncate: try to
 *                                        resize the memfd ("sealed" when refused)
 *   shm-tool stream TOPIC                write records "s1", "s2", ... without pause; print
 *                                        "streaming" once the hub read 1000 of them, go on
 *                                        until a line or EOF on stdin, then print "streamed N"
 *                                        when the hub read all N
 *   shm-tool feed TOPIC [SIZE]           open a publish ring, print "ready ring=ID"; then per
 *                                        line of stdin: a number N writes the next N records
 *                                        "m1", "m2", ... ("wrote N"), "close" does shm.close
 *                                        ("closed"), "corrupt" writes a head out of range and
 *                                        waits until the hub drops the ring ("dropped"); exit at EOF
 *   shm-tool direct TOPIC N              shm.subscribe direct:true, print "ready ring=ID
 *                                        publisher=ID", read N records ("msg SEQ PAYLOAD"), then
 *                                        per line of stdin: "close" does shm.close ("closed"),
 *                                        "wait-closed" waits until the hub marks the ring closed
 *                                        ("hub closed it"); exit at EOF
 *   shm-tool zc TOPIC                    shm.subscribe zero_copy:true, print "ready ring=ID
 *                                        publisher=ID ro=0|1" (ro=1: the publisher's memfd cannot
 *                                        be mapped writable); then per line of stdin: "read N"
 *                                        reads N records without giving their space back, each
 *                                        "ref SEQ TOPIC PAYLOAD" (a REF: the payload read from the
 *                                        publisher's ring) or "msg SEQ TOPIC PAYLOAD" or "gap F L";
 *                                        "release" gives the space back ("released"); "close" does
 *                                        shm.close ("closed"); "corrupt" stores a tail beyond
 *                                        what the hub wrote ("corrupted"); "wait-dropped" waits
 *                                        until the hub drops the ring ("dropped"); exit at EOF
 *   shm-tool close                       shm.close a ring, leave another open, print "closed"
 *                                        then wait for stdin's EOF
 *
 * The socket is $XDG_RUNTIME_DIR/switchboard/socket, or $SB_SOCKET.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "shm/shm-control.h"

static int die(const char *what, int r) {
        fprintf(stderr, "shm-tool: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(1);
}

static int connect_hub(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *path = getenv("SB_SOCKET");
        int fd;

        if (path)
                snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        else
                snprintf(sa.sun_path, sizeof sa.sun_path, "%s/switchboard/socket", getenv("XDG_RUNTIME_DIR"));
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                die("connect", -errno);
        return fd;
}

static void open_ring(int sock, bool publish, const char *name, uint32_t size, ShmRing *r) {
        char *error = NULL;
        int k = shm_ring_open(sock, publish, name, size, NULL, r, &error);

        if (k == -EREMOTEIO) {
                fprintf(stderr, "shm-tool: the hub refused: %s\n", error);
                exit(1);
        }
        if (k < 0)
                die("shm ring", k);
}

/* Poll (no futex: the hub never waits on our words) until @pred holds or 10 s pass. */
static bool wait_for(bool (*pred)(ShmRing *), ShmRing *r) {
        for (int i = 0; i < 10000; i++) {
                if (pred(r))
                        return true;
                usleep(1000);
        }
        return false;
}

static bool hub_read_all(ShmRing *r) {
        return __atomic_load_n(&r->ring.shared->tail, __ATOMIC_ACQUIRE) == r->ring.head ||
               ring_state(&r->ring) != RING_STATE_OK;
}

static bool ring_dropped(ShmRing *r) {
        return ring_state(&r->ring) == RING_STATE_CLOSED;
}

/* Wait until the hub has dropped @r, and say so. */
static void wait_dropped(ShmRing *r) {
        if (!wait_for(ring_dropped, r))
                die("the hub did not drop the ring", -ETIMEDOUT);
        printf("dropped\n");
}

/* A reader's tail beyond anything the hub wrote: the hub must drop the ring. */
static void corrupt_tail(ShmRing *r) {
        __atomic_store_n(&r->ring.shared->tail, r->ring.tail + r->ring.size * 3, __ATOMIC_RELEASE);
}

/* Write @m, waiting (futex, rechecking every second) while the ring is full. */
static void write_waiting(ShmRing *r, const RingMsg *m) {
        struct timespec second = { .tv_sec = 1 };
        int k;

        while ((k = ring_write(&r->ring, m)) == -ENOBUFS) {
                k = ring_wait_writable(&r->ring, ring_record_size(m->topic_len, m->payload_len), 100, &second);
                if (k < 0 && k != -ETIMEDOUT)
                        die("wait", k);
        }
        if (k < 0)
                die("write", k);
}

static bool use_epoll;

/* As an event loop would: sleep in epoll until the hub writes the reader eventfd (10 s at most). */
static int wait_epoll(ShmRing *r) {
        static int ep = -1;
        struct epoll_event ev = { .events = EPOLLIN };
        uint64_t n;

        if (ep < 0) {
                ep = epoll_create1(EPOLL_CLOEXEC);
                if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, r->reader_fd, &ev) < 0)
                        die("epoll", -errno);
        }
        if (!shm_ring_sleep(r))
                return r->reader_fd < 0 ? -ENOTSUP : 0;
        if (epoll_wait(ep, &ev, 1, 10000) != 1)
                return -ETIMEDOUT;
        (void) !read(r->reader_fd, &n, sizeof n);
        ring_awake(&r->ring);
        return 0;
}

/* The next record, waiting (spinning, then on the futex or in epoll) for at most 10 s. */
static void read_waiting(ShmRing *r, RingMsg *m) {
        struct timespec timeout = { .tv_sec = 10 };
        int k;

        while ((k = ring_read(&r->ring, m)) == -EAGAIN) {
                ring_release(&r->ring);
                k = use_epoll ? wait_epoll(r) : ring_wait_readable(&r->ring, 1000, &timeout);
                if (k < 0)
                        die("wait", k);
        }
        if (k < 0)
                die("read", k);
}

static int cmd_publish(int sock, const char *topic, unsigned n, uint32_t size) {
        ShmRing r = SHM_RING_INIT;
        char payload[32];

        open_ring(sock, true, topic, size, &r);
        for (unsigned i = 1; i <= n; i++) {
                RingMsg m = { .type = RING_RECORD_MESSAGE, .payload = payload };

                m.payload_len = (size_t) snprintf(payload, sizeof payload, "m%u", i);
                write_waiting(&r, &m);
        }
        if (!wait_for(hub_read_all, &r))
                die("the hub did not read the ring", -ETIMEDOUT);
        printf("published %u last_seq=%" PRIu64 "\n", n, __atomic_load_n(&r.ring.shared->last_seq, __ATOMIC_ACQUIRE));
        fflush(stdout);
        shm_ring_unmap(&r);
        return 0;
}

static bool stdin_has_line(void) {
        struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };

        return poll(&p, 1, 0) > 0;
}

static int cmd_stream(int sock, const char *topic) {
        ShmRing r = SHM_RING_INIT;
        bool told = false;
        char payload[32];
        uint64_t n = 0;

        open_ring(sock, true, topic, 0, &r);
        for (;;) {
                RingMsg m = { .type = RING_RECORD_MESSAGE, .payload = payload };

                m.payload_len = (size_t) snprintf(payload, sizeof payload, "s%" PRIu64, n + 1);
                write_waiting(&r, &m);
                n++;
                if (!told && __atomic_load_n(&r.ring.shared->records_read, __ATOMIC_RELAXED) >= 1000) {
                        printf("streaming\n");
                        fflush(stdout);
                        told = true;
                }
                if (told && n % 256 == 0 && stdin_has_line())
                        break;
        }
        if (!wait_for(hub_read_all, &r))
                die("the hub did not read the ring", -ETIMEDOUT);
        printf("streamed %" PRIu64 "\n", n);
        fflush(stdout);
        shm_ring_unmap(&r);
        return 0;
}

static int cmd_feed(int sock, const char *topic, uint32_t size) {
        ShmRing r = SHM_RING_INIT;
        char payload[32], line[64];
        unsigned next = 1;

        open_ring(sock, true, topic, size, &r);
        printf("ready ring=%" PRIu64 "\n", r.id);
        fflush(stdout);
        while (fgets(line, sizeof line, stdin)) {
                if (strcmp(line, "close\n") == 0) {
                        int k = shm_ring_close(sock, &r);

                        if (k < 0)
                                die("shm.close", k);
                        printf("closed\n");
                } else if (strcmp(line, "corrupt\n") == 0) {
                        uint64_t one = 1;

                        /* A head beyond what the ring can hold; wake the hub to see it. */
                        __atomic_store_n(&r.ring.shared->head, r.ring.head + r.ring.size + 8, __ATOMIC_RELEASE);
                        (void) !write(r.wake_fd, &one, sizeof one);
                        wait_dropped(&r);
                } else {
                        unsigned n = (unsigned) atoi(line);

                        for (unsigned i = 0; i < n; i++, next++) {
                                RingMsg m = { .type = RING_RECORD_MESSAGE, .payload = payload };

                                m.payload_len = (size_t) snprintf(payload, sizeof payload, "m%u", next);
                                write_waiting(&r, &m);
                        }
                        printf("wrote %u\n", n);
                }
                fflush(stdout);
        }
        shm_ring_unmap(&r);
        return 0;
}

/* shm.subscribe with @options (a pairing); false after printing "refused ERROR" when the hub refused. */
static bool open_paired(int sock, const char *topic, const char *options, ShmRing *r) {
        char *error = NULL;
        int k = shm_ring_open(sock, false, topic, 0, options, r, &error);

        if (k == -EREMOTEIO) {
                printf("refused %s\n", error);
                fflush(stdout);
                free(error);
                return false;
        }
        if (k < 0)
                die("shm ring", k);
        return true;
}

static int cmd_direct(int sock, const char *topic, unsigned n) {
        ShmRing r = SHM_RING_INIT;
        struct timespec timeout = { .tv_sec = 10 };
        char line[64];
        int k;

        if (!open_paired(sock, topic, "\"direct\":true", &r))
                return 0;
        printf("ready ring=%" PRIu64 " publisher=%" PRIu64 " kind=%" PRIu32 "\n", r.id, r.ring.shared->id,
               __atomic_load_n(&r.ring.shared->kind, __ATOMIC_ACQUIRE));
        fflush(stdout);
        for (unsigned i = 0; i < n; i++) {
                RingMsg m;

                read_waiting(&r, &m);
                printf("msg %" PRIu64 " %.*s\n", m.seq, (int) m.payload_len, (const char *) m.payload);
        }
        ring_release(&r.ring);
        fflush(stdout);
        while (fgets(line, sizeof line, stdin)) {
                if (strcmp(line, "close\n") == 0) {
                        k = shm_ring_close(sock, &r);
                        if (k < 0)
                                die("shm.close", k);
                        printf("closed\n");
                } else if (strcmp(line, "wait-closed\n") == 0) {
                        /* The ring is empty: the wait ends only when the hub closes it. */
                        k = ring_wait_readable(&r.ring, 100, &timeout);
                        if (k != -EPIPE)
                                die("waiting for the hub to close the ring", k < 0 ? k : -EBADMSG);
                        printf("hub closed it\n");
                }
                fflush(stdout);
        }
        shm_ring_unmap(&r);
        return 0;
}

/* The next record without giving any space back: wait on the futex (10 s at most). */
static void read_holding(ShmRing *r, RingMsg *m) {
        struct timespec timeout = { .tv_sec = 10 };
        int k;

        while ((k = ring_read(&r->ring, m)) == -EAGAIN) {
                k = ring_wait_readable(&r->ring, 1000, &timeout);
                if (k < 0)
                        die("wait", k);
        }
        if (k < 0)
                die("read", k);
}

/*
 * "gap FIRST LAST", or "msg|ref SEQ TOPIC PAYLOAD" (ref: a REF record, its
 * payload read from the publisher's ring). Return: the seqs accounted for.
 */
static uint64_t print_record(ShmRing *r, const RingMsg *m) {
        const void *payload;
        size_t len;
        int k;

        if (m->type == RING_RECORD_GAP) {
                uint64_t last;

                memcpy(&last, m->payload, sizeof last);
                printf("gap %" PRIu64 " %" PRIu64 "\n", m->seq, last);
                return last - m->seq + 1;
        }
        k = shm_ring_payload(r, m, &payload, &len);
        if (k < 0)
                die("a REF record", k);
        printf("%s %" PRIu64 " %.*s %.*s\n", m->type == RING_RECORD_REF ? "ref" : "msg", m->seq,
               (int) m->topic_len, m->topic, (int) len, (const char *) payload);
        return 1;
}

/* Whether a mapping of @fd for writing is refused. */
static bool read_only_fd(int fd, size_t size) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

        if (p != MAP_FAILED) {
                munmap(p, size);
                return false;
        }
        return errno == EACCES;
}

static int cmd_zc(int sock, const char *topic) {
        ShmRing r = SHM_RING_INIT;
        char line[64];
        int k;

        if (!open_paired(sock, topic, "\"zero_copy\":true", &r))
                return 0;
        if (!r.ref_data)
                die("no publisher's ring came with the answer", -EPROTO);
        printf("ready ring=%" PRIu64 " publisher=%" PRIu64 " ro=%d\n", r.id,
               ((const RingShared *) r.ref_mem)->id, read_only_fd(r.ref_fd, r.ref_map_size));
        fflush(stdout);
        while (fgets(line, sizeof line, stdin)) {
                if (strncmp(line, "read ", 5) == 0) {
                        unsigned n = (unsigned) atoi(line + 5);

                        for (unsigned i = 0; i < n; i++) {
                                RingMsg m;

                                read_holding(&r, &m);
                                (void) print_record(&r, &m);
                        }
                } else if (strcmp(line, "release\n") == 0) {
                        ring_release(&r.ring);
                        printf("released\n");
                } else if (strcmp(line, "close\n") == 0) {
                        k = shm_ring_close(sock, &r);
                        if (k < 0)
                                die("shm.close", k);
                        printf("closed\n");
                } else if (strcmp(line, "corrupt\n") == 0) {
                        corrupt_tail(&r);
                        printf("corrupted\n");
                } else if (strcmp(line, "wait-dropped\n") == 0)
                        wait_dropped(&r);
                fflush(stdout);
        }
        shm_ring_unmap(&r);
        return 0;
}

static int cmd_subscribe(int sock, const char *pattern, unsigned n, uint32_t size, bool wait_stdin) {
        ShmRing r = SHM_RING_INIT;
        uint64_t accounted = 0;

        open_ring(sock, false, pattern, size, &r);
        printf("ready ring=%" PRIu64 "\n", r.id);
        fflush(stdout);
        if (wait_stdin) {
                char line[64];

                if (!fgets(line, sizeof line, stdin))
                        return 1;
        }
        while (accounted < n) {
                RingMsg m;

                read_waiting(&r, &m);
                accounted += print_record(&r, &m);
                fflush(stdout);
        }
        ring_release(&r.ring);
        shm_ring_unmap(&r);
        return 0;
}

static int cmd_corrupt(int sock, const char *mode) {
        ShmRing r = SHM_RING_INIT;
        uint64_t one = 1;

        if (strcmp(mode, "truncate") == 0) {
                open_ring(sock, true, "corrupt.truncate", 0, &r);
                if (ftruncate(r.memfd, 4096) == 0 || ftruncate(r.memfd, (off_t) r.map_size * 2) == 0)
                        die("the memfd could be resized", -EINVAL);
                printf("sealed\n");
                fflush(stdout);
                shm_ring_unmap(&r);
                return 0;
        }
        if (strcmp(mode, "sub-tail") == 0) {
                open_ring(sock, false, "corrupt.>", 4096, &r);
                corrupt_tail(&r);
                printf("ready\n");
                fflush(stdout);
        } else {
                open_ring(sock, true, "corrupt.pub", 0, &r);
                if (strcmp(mode, "pub-head") == 0)
                        __atomic_store_n(&r.ring.shared->head, r.ring.head + r.ring.size + 8, __ATOMIC_RELEASE);
                else if (strcmp(mode, "pub-record") == 0) {
                        /* A record header claiming more bytes than the ring holds. */
                        uint32_t bad[2] = { 1u << 30, RING_RECORD_MESSAGE };

                        memcpy(r.ring.data, bad, sizeof bad);
                        __atomic_store_n(&r.ring.shared->head, r.ring.head + 64, __ATOMIC_RELEASE);
                } else
                        die(mode, -EINVAL);
                (void) !write(r.wake_fd, &one, sizeof one);
        }
        wait_dropped(&r);
        fflush(stdout);
        shm_ring_unmap(&r);
        return 0;
}

static int cmd_close(int sock) {
        ShmRing a = SHM_RING_INIT, b = SHM_RING_INIT;
        char line[16];
        int k;

        open_ring(sock, true, "close.a", 0, &a);
        open_ring(sock, false, "close.>", 0, &b);
        k = shm_ring_close(sock, &a);
        if (k < 0)
                die("shm.close", k);
        printf("closed\n");
        fflush(stdout);
        while (fgets(line, sizeof line, stdin))
                ;
        return 0;
}

int main(int argc, char **argv) {
        int sock;

        if (argc < 2) {
                fprintf(stderr, "usage: shm-tool publish|subscribe|corrupt|close ...\n");
                return 2;
        }
        for (int i = 2; i < argc; i++)
                if (strcmp(argv[i], "--epoll") == 0)
                        use_epoll = true;
        sock = connect_hub();
        if (strcmp(argv[1], "publish") == 0 && argc >= 4)
                return cmd_publish(sock, argv[2], (unsigned) atoi(argv[3]),
                                   argc > 4 ? (uint32_t) strtoul(argv[4], NULL, 0) : 0);
        if (strcmp(argv[1], "subscribe") == 0 && argc >= 4)
                return cmd_subscribe(sock, argv[2], (unsigned) atoi(argv[3]),
                                     argc > 4 ? (uint32_t) strtoul(argv[4], NULL, 0) : 0,
                                     argc > 5 && strcmp(argv[5], "--wait-stdin") == 0);
        if (strcmp(argv[1], "corrupt") == 0 && argc >= 3)
                return cmd_corrupt(sock, argv[2]);
        if (strcmp(argv[1], "close") == 0)
                return cmd_close(sock);
        if (strcmp(argv[1], "feed") == 0 && argc >= 3)
                return cmd_feed(sock, argv[2], argc > 3 ? (uint32_t) strtoul(argv[3], NULL, 0) : 0);
        if (strcmp(argv[1], "zc") == 0 && argc >= 3)
                return cmd_zc(sock, argv[2]);
        if (strcmp(argv[1], "direct") == 0 && argc >= 4)
                return cmd_direct(sock, argv[2], (unsigned) atoi(argv[3]));
        if (strcmp(argv[1], "stream") == 0 && argc >= 3)
                return cmd_stream(sock, argv[2]);
        fprintf(stderr, "shm-tool: bad arguments\n");
        return 2;
}
