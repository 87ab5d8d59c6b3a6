/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * journal.c: see journal.h.
 *
 * File formats (integers little-endian):
 *
 *   file    = magic(8) generation(u64) *record
 *   magic   = "SBJRNL1\n" (journal) / "SBSNAP1\n" (snapshot)
 *   record  = body_len(u32) crc32c(u32, of body) body
 *   body    = type(u8) flag(u8) name_len(u16) data_len(u32) a(u64) b(u64) c(u64) name data
 *
 * A snapshot of generation G holds the state up to the start of journal
 * generation G; compaction writes snapshot G+1, then starts journal G+1.
 * On load, a journal older than its snapshot was already folded into it and
 * is skipped. A record that is short or fails its checksum ends the file:
 * the rest is cut (and kept beside it as *.corrupt-TIME for inspection),
 * and the hub starts with what came before it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal/journal.h"
#include "util/log.h"
#include "util/sd-glue.h"

#define JOURNAL_MAGIC  "SBJRNL1\n"
#define SNAPSHOT_MAGIC "SBSNAP1\n"
#define MAGIC_SIZE     8
#define HEADER_SIZE    (MAGIC_SIZE + 8)
#define RECORD_HEAD    8                        /* body_len, crc */
#define BODY_FIXED     (1 + 1 + 2 + 4 + 8 * 3)
#define MAX_BODY       (64u * 1024 * 1024)
/*
 * The journal is written ahead with zeros, this much at a time: a record
 * then overwrites blocks the file has already, and its fdatasync writes
 * data only, not the file's new size and extents as well (on ext4 a third
 * faster). Zeros after the last record are the journal's end: a record
 * never starts with a zero length.
 */
#define JOURNAL_AHEAD  (1024 * 1024)

struct Journal {
        sd_event *event;
        Hub *hub;
        JournalConfig config;
        char *dir;
        int lock_fd;
        int fd;                         /* the journal, written at size */
        uint64_t generation;
        uint64_t size;                  /* bytes of the journal's header and records */
        uint64_t allocated;             /* bytes in the file: then zeros written ahead (JOURNAL_AHEAD) */
        bool dirty;                     /* written since the last fdatasync */
        uint64_t records;               /* appended since start: lets a transport see what it wrote */
        GByteArray *buf;                /* one encoded record */
        GQueue waiters;                 /* JournalWaiter*, released after the next sync */
        sd_event_source *sync_defer;    /* always: one fdatasync per loop iteration */
        sd_event_source *sync_timer;    /* interval */
        char *fault_file;               /* tests: $SWITCHBOARD_JOURNAL_FAULT_FILE */
        int failed;                     /* < 0: records cannot be kept any more; the hub is stopping */
};

/* CRC-32C (Castagnoli), reflected, table-driven. */
static uint32_t crc32c(const uint8_t *p, size_t len) {
        static uint32_t table[256];
        uint32_t crc = 0xffffffffu;

        if (table[1] == 0)
                for (uint32_t i = 0; i < 256; i++) {
                        uint32_t c = i;
                        for (int k = 0; k < 8; k++)
                                c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
                        table[i] = c;
                }
        while (len--)
                crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
        return crc ^ 0xffffffffu;
}

static void put_le(GByteArray *b, uint64_t v, unsigned n) {
        uint8_t x[8];

        for (unsigned i = 0; i < n; i++)
                x[i] = (uint8_t) (v >> (8 * i));
        g_byte_array_append(b, x, n);
}

static uint64_t get_le(const uint8_t *p, unsigned n) {
        uint64_t v = 0;

        for (unsigned i = 0; i < n; i++)
                v |= (uint64_t) p[i] << (8 * i);
        return v;
}

static void record_encode(GByteArray *b, const JournalRecord *r) {
        size_t name_len = r->name ? strlen(r->name) : 0;
        size_t start = b->len, body;
        uint32_t crc;

        g_assert(name_len <= UINT16_MAX && r->len <= MAX_BODY);
        put_le(b, 0, 4);                /* body_len, filled in below */
        put_le(b, 0, 4);                /* crc */
        body = b->len;
        put_le(b, r->type, 1);
        put_le(b, r->flag, 1);
        put_le(b, name_len, 2);
        put_le(b, r->len, 4);
        put_le(b, r->a, 8);
        put_le(b, r->b, 8);
        put_le(b, r->c, 8);
        g_byte_array_append(b, (const guint8 *) r->name, (guint) name_len);
        if (r->len > 0)
                g_byte_array_append(b, r->data, (guint) r->len);

        crc = crc32c(b->data + body, b->len - body);
        for (unsigned i = 0; i < 4; i++) {
                b->data[start + i] = (uint8_t) ((b->len - body) >> (8 * i));
                b->data[start + 4 + i] = (uint8_t) (crc >> (8 * i));
        }
}

/*
 * Decode the record at @p (@avail bytes). @ret_name is a NUL-terminated copy
 * in @name_buf (names are short). Return: the record's size, 0 when the
 * record is short, damaged or malformed.
 */
static size_t record_decode(const uint8_t *p, size_t avail, JournalRecord *ret, GString *name_buf) {
        size_t body_len, name_len, data_len;

        if (avail < RECORD_HEAD)
                return 0;
        body_len = get_le(p, 4);
        if (body_len < BODY_FIXED || body_len > MAX_BODY || avail - RECORD_HEAD < body_len)
                return 0;
        if (crc32c(p + RECORD_HEAD, body_len) != (uint32_t) get_le(p + 4, 4))
                return 0;

        p += RECORD_HEAD;
        name_len = get_le(p + 2, 2);
        data_len = get_le(p + 4, 4);
        if (BODY_FIXED + name_len + data_len != body_len)
                return 0;

        g_string_truncate(name_buf, 0);
        g_string_append_len(name_buf, (const char *) p + BODY_FIXED, (gssize) name_len);
        *ret = (JournalRecord) {
                .type = (RecordType) p[0],
                .flag = p[1] != 0,
                .name = name_len > 0 ? name_buf->str : NULL,
                .data = p + BODY_FIXED + name_len,
                .len = data_len,
                .a = get_le(p + 8, 8),
                .b = get_le(p + 16, 8),
                .c = get_le(p + 24, 8),
        };
        if (ret->name && strlen(ret->name) != name_len)
                return 0;               /* a NUL inside a name */
        return RECORD_HEAD + body_len;
}

static char *path_in(Journal *j, const char *name) {
        return g_build_filename(j->dir, name, NULL);
}

static int fsync_dir(Journal *j) {
        g_auto(Fd) fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

/*
 * A new name for the damaged bytes of @name: NAME.corrupt-TIME, or with
 * .1, .2, ... appended when that exists, so that earlier evidence (a crash
 * loop damages a file more than once a second) is never replaced.
 */
static char *corrupt_path(Journal *j, const char *name) {
        int64_t now = g_get_real_time() / G_USEC_PER_SEC;
        char *path = NULL;

        for (unsigned i = 0; i < 1000; i++) {
                g_free(path);
                path = i == 0 ? g_strdup_printf("%s/%s.corrupt-%" PRIi64, j->dir, name, now)
                              : g_strdup_printf("%s/%s.corrupt-%" PRIi64 ".%u", j->dir, name, now, i);
                if (access(path, F_OK) < 0 && errno == ENOENT)
                        break;
        }
        return path;
}

/* Keep the bytes of a damaged file beside it, for whoever wants to look. */
static void keep_damaged(Journal *j, const char *name, const uint8_t *data, size_t len) {
        g_autofree char *path = corrupt_path(j, name);
        g_autoptr(GError) error = NULL;

        if (!g_file_set_contents_full(path, (const char *) data, (gssize) len, G_FILE_SET_CONTENTS_CONSISTENT,
                                      0600, &error))
                log_warning("Failed to keep the damaged bytes in '%s', ignoring: %s", path, error->message);
        else
                log_warning("Kept the %zu damaged bytes in '%s'.", len, path);
}

/*
 * Read the file @name (with @magic) and, when @apply, replay its records
 * into the hub. Return: the number of bytes that were good (header
 * included), with the generation in @ret_generation; 0 when the file is
 * missing or empty; -EBADMSG when its header is damaged. *@ret_damaged
 * says whether bytes after the good ones are damaged (when @apply, they
 * are logged and kept aside).
 */
static bool all_zero(const uint8_t *p, size_t len) {
        return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

static int64_t replay_file(Journal *j, const char *name, const char *magic, bool apply,
                           uint64_t *ret_generation, bool *ret_damaged) {
        g_autofree char *path = path_in(j, name);
        g_autofree char *contents = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GString) name_buf = g_string_new(NULL);
        const uint8_t *p;
        size_t len, off;
        unsigned n = 0, refused = 0;

        *ret_damaged = false;
        if (!g_file_get_contents(path, &contents, &len, &error)) {
                if (g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
                        return 0;
                log_error("Failed to read '%s': %s", path, error->message);
                return -EIO;
        }
        p = (const uint8_t *) contents;
        if (len == 0)
                return 0;               /* an empty file: as if missing */
        if (len < HEADER_SIZE || memcmp(p, magic, MAGIC_SIZE) != 0) {
                log_error("'%s' has no valid header: it is not ours or it is damaged.", path);
                *ret_damaged = true;
                return -EBADMSG;
        }
        *ret_generation = get_le(p + MAGIC_SIZE, 8);

        for (off = HEADER_SIZE; off < len;) {
                JournalRecord r;
                size_t used = record_decode(p + off, len - off, &r, name_buf);

                if (used == 0 && all_zero(p + off, len - off))
                        break;          /* zeros written ahead: the end */
                if (used == 0) {
                        *ret_damaged = true;
                        if (!apply)
                                break;
                        log_error("'%s': a torn or damaged record at offset %zu; cutting the last %zu bytes "
                                  "(what they held is lost; %u records before them are kept).",
                                  path, off, len - off, n);
                        keep_damaged(j, name, p + off, len - off);
                        break;
                }
                if (apply && hub_replay(j->hub, &r) < 0)
                        refused++;
                n++;
                off += used;
        }
        if (!apply)
                return (int64_t) off;
        if (refused > 0)
                log_warning("'%s': %u of %u records could not be applied, ignoring them.", path, refused, n);
        log_info("Loaded %u records from '%s' (generation %" PRIu64 ").", n, path, *ret_generation);
        return (int64_t) off;
}

/* Write @len bytes at @offset, or at the file position when @offset is negative. */
static int write_all_at(int fd, const void *data, size_t len, off_t offset) {
        const uint8_t *p = data;

        while (len > 0) {
                ssize_t n = offset < 0 ? write(fd, p, len) : pwrite(fd, p, len, offset);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
                if (offset >= 0)
                        offset += n;
        }
        return 0;
}

static int write_all(int fd, const void *data, size_t len) {
        return write_all_at(fd, data, len, -1);
}

/* Zeros written ahead, to the next JOURNAL_AHEAD, so that @len more bytes of records overwrite blocks the file has. */
static int journal_reserve(Journal *j, size_t len) {
        static const uint8_t zeros[64 * 1024];
        uint64_t want, before = j->allocated;

        if (j->size + len <= j->allocated)
                return 0;
        want = (j->size + len + JOURNAL_AHEAD - 1) / JOURNAL_AHEAD * JOURNAL_AHEAD;
        while (j->allocated < want) {
                size_t n = (size_t) MIN(sizeof zeros, want - j->allocated);
                int r = write_all_at(j->fd, zeros, n, (off_t) j->allocated);

                if (r < 0) {
                        /* No room: give back what was added, as if never tried. */
                        (void) ftruncate(j->fd, (off_t) before);
                        j->allocated = before;
                        return r;
                }
                j->allocated += n;
        }
        return 0;
}

/* Tests make writes fail on demand: the file holds "ENOSPC" or "EIO". */
static int fault_injected(Journal *j) {
        g_autofree char *what = NULL;

        if (!j->fault_file || !g_file_get_contents(j->fault_file, &what, NULL, NULL))
                return 0;
        if (g_str_has_prefix(what, "ENOSPC"))
                return -ENOSPC;
        if (g_str_has_prefix(what, "EIO"))
                return -EIO;
        return 0;
}

/* Write a whole new file through a temporary and a rename: it is either all there or not at all. */
static int write_file_atomic(Journal *j, const char *name, const GByteArray *content) {
        g_autofree char *path = path_in(j, name);
        g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
        g_auto(Fd) fd = -1;
        int r;

        r = fault_injected(j);
        if (r < 0)
                return r;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        r = write_all(fd, content->data, content->len);
        if (r >= 0 && fdatasync(fd) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        return fsync_dir(j);
}

static void header(GByteArray *b, const char *magic, uint64_t generation) {
        g_byte_array_append(b, (const guint8 *) magic, MAGIC_SIZE);
        put_le(b, generation, 8);
}

/* Open the journal for records from @size on (what follows is zeros written ahead). */
static int journal_reopen(Journal *j, uint64_t size) {
        g_autofree char *path = path_in(j, "journal");
        struct stat st;

        fd_close(j->fd);
        j->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (j->fd < 0 || fstat(j->fd, &st) < 0)
                return log_error_errno(-errno, "Failed to open '%s': %m", path);
        j->size = size;
        j->allocated = MAX((uint64_t) st.st_size, size);
        return 0;
}

/* Start journal generation @generation, empty. */
static int journal_start(Journal *j, uint64_t generation) {
        g_autoptr(GByteArray) b = g_byte_array_new();
        int r;

        header(b, JOURNAL_MAGIC, generation);
        r = write_file_atomic(j, "journal", b);
        if (r < 0)
                return r;
        j->generation = generation;
        return journal_reopen(j, b->len);
}

static void snapshot_emit(void *userdata, const JournalRecord *r) {
        record_encode(userdata, r);
}

/**
 * journal_compact() - fold the journal into a new snapshot and start an
 * empty journal
 *
 * The previous snapshot is kept as snapshot.prev. On failure (no space)
 * nothing changes and the journal keeps growing until the next attempt.
 *
 * Return: 0 or a negative errno (logged).
 */
int journal_compact(Journal *j) {
        g_autoptr(GByteArray) b = g_byte_array_new();
        g_autofree char *snap = path_in(j, "snapshot");
        g_autofree char *prev = path_in(j, "snapshot.prev");
        uint64_t next = j->generation + 1;
        int r;

        header(b, SNAPSHOT_MAGIC, next);
        hub_snapshot(j->hub, snapshot_emit, b);

        if (rename(snap, prev) < 0 && errno != ENOENT)
                return log_warning_errno(-errno, "Failed to keep the previous snapshot, not compacting: %m");
        r = write_file_atomic(j, "snapshot", b);
        if (r < 0) {
                (void) rename(prev, snap);
                return log_warning_errno(r, "Failed to write a snapshot, trying again later: %m");
        }
        /* A crash here is harmless: the old journal is older than the new snapshot and is skipped. */
        r = journal_start(j, next);
        if (r < 0) {
                /*
                 * The new snapshot is on disk, so the old journal will be skipped on
                 * the next start: what we appended to it now would be lost after being
                 * acknowledged. Stop; the next start finds the snapshot, which holds
                 * everything acknowledged so far.
                 */
                log_error_errno(r, "Failed to start journal generation %" PRIu64 ", stopping the hub: %m", next);
                (void) sd_event_exit(j->event, r);
                j->failed = r;
                return r;
        }
        log_info("Compacted the journal into a snapshot of %u bytes (generation %" PRIu64 ").", b->len, next);
        return 0;
}

static void run_waiters(Journal *j) {
        GQueue waiters = j->waiters;

        g_queue_init(&j->waiters);
        while (!g_queue_is_empty(&waiters)) {
                JournalWaiter *w = waiters.head->data;

                g_queue_unlink(&waiters, &w->link);
                w->link.data = NULL;
                w->durable(w);
        }
}

static int journal_sync(Journal *j) {
        if (j->dirty && fdatasync(j->fd) < 0) {
                /* What the kernel could not write may be gone: stop rather than acknowledge it. */
                int r = log_error_errno(-errno, "fdatasync of the journal failed, stopping the hub: %m");
                (void) sd_event_exit(j->event, r);
                return r;
        }
        j->dirty = false;
        run_waiters(j);
        if (j->size > j->config.compact_bytes)
                (void) journal_compact(j);
        return 0;
}

static int on_sync_defer(sd_event_source *s, void *userdata) {
        (void) journal_sync(userdata);
        return 0;
}

static int on_sync_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Journal *j = userdata;

        (void) journal_sync(j);
        /* A time source is ONESHOT: it was disabled before this callback ran. */
        (void) sd_event_source_set_time_relative(s, (uint64_t) j->config.interval_ms * 1000);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static int journal_append(void *userdata, const JournalRecord *r) {
        Journal *j = userdata;
        int ret;

        g_byte_array_set_size(j->buf, 0);
        record_encode(j->buf, r);

        ret = j->failed < 0 ? j->failed : fault_injected(j);
        if (ret >= 0)
                ret = journal_reserve(j, j->buf->len);
        if (ret >= 0)
                ret = write_all_at(j->fd, j->buf->data, j->buf->len, (off_t) j->size);
        if (ret < 0) {
                /* Leave no partial record behind: the change is refused as a whole. */
                if (ftruncate(j->fd, (off_t) j->size) < 0)
                        log_warning_errno(-errno, "Failed to cut a partial record, ignoring: %m");
                j->allocated = j->size;
                log_warning_errno(ret, "Failed to write to the journal, refusing the change: %m");
                return ret;
        }

        j->size += j->buf->len;
        j->records++;
        j->dirty = true;
        if (j->config.sync == JOURNAL_SYNC_ALWAYS)
                (void) sd_event_source_set_enabled(j->sync_defer, SD_EVENT_ONESHOT);
        return 0;
}

/**
 * journal_records() - how many records were appended since the journal opened
 */
uint64_t journal_records(Journal *j) {
        return j ? j->records : 0;
}

/**
 * journal_pending() - whether a change was written but is not yet durable,
 * so that a reply acknowledging it must wait (fsync=always only)
 */
bool journal_pending(Journal *j) {
        return j && j->dirty && j->config.sync == JOURNAL_SYNC_ALWAYS;
}

/**
 * journal_wait() - call @w->durable once what was written so far is on disk
 *
 * Right away (from here) when nothing is pending.
 */
void journal_wait(Journal *j, JournalWaiter *w) {
        if (!journal_pending(j)) {
                w->durable(w);
                return;
        }
        if (w->link.data)
                return;         /* waits already */
        w->link.data = w;
        g_queue_push_tail_link(&j->waiters, &w->link);
}

void journal_waiter_cancel(Journal *j, JournalWaiter *w) {
        if (j && w->link.data)
                g_queue_unlink(&j->waiters, &w->link);
        w->link.data = NULL;
}

/* The hub's view (core/journal.h): the core decides which answers wait. */
static bool hub_journal_pending(void *userdata) {
        return journal_pending(userdata);
}

static void hub_journal_wait(void *userdata, HubWaiter *w) {
        journal_wait(userdata, w);
}

static void hub_journal_cancel(void *userdata, HubWaiter *w) {
        journal_waiter_cancel(userdata, w);
}

int journal_sync_parse(const char *s, JournalSync *ret) {
        if (strcmp(s, "always") == 0)
                *ret = JOURNAL_SYNC_ALWAYS;
        else if (strcmp(s, "interval") == 0)
                *ret = JOURNAL_SYNC_INTERVAL;
        else if (strcmp(s, "never") == 0)
                *ret = JOURNAL_SYNC_NEVER;
        else
                return -EINVAL;
        return 0;
}

static int lock_dir(Journal *j) {
        g_autofree char *path = path_in(j, "lock");
        g_autofree char *pid = g_strdup_printf("%u\n", (unsigned) getpid());

        j->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (j->lock_fd < 0)
                return log_error_errno(-errno, "Failed to open '%s': %m", path);
        if (flock(j->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                char other[32] = "";
                ssize_t n = pread(j->lock_fd, other, sizeof other - 1, 0);

                if (n > 0)
                        other[strcspn(other, "\n")] = '\0';
                return log_error_errno(errno == EWOULDBLOCK ? -EBUSY : -errno,
                                       "Another hub (pid %s) uses the state directory '%s'; only one may.",
                                       n > 0 ? other : "?", j->dir);
        }
        if (ftruncate(j->lock_fd, 0) < 0 || pwrite(j->lock_fd, pid, strlen(pid), 0) < 0)
                log_debug_errno(-errno, "Failed to write our pid into the lock, ignoring: %m");
        return 0;
}

static void set_aside(Journal *j, const char *name) {
        g_autofree char *path = path_in(j, name);
        g_autofree char *aside = corrupt_path(j, name);

        if (rename(path, aside) >= 0)
                log_warning("Set the damaged '%s' aside as '%s'.", path, aside);
}

/*
 * The newest intact snapshot: "snapshot", else "snapshot.prev". A damaged
 * one is set aside, never half applied, so the user always has a way
 * forward and the evidence.
 */
static int load_snapshot(Journal *j, uint64_t *ret_generation) {
        static const char *const names[] = { "snapshot", "snapshot.prev" };

        for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
                uint64_t gen = 0;
                bool damaged;
                int64_t good = replay_file(j, names[i], SNAPSHOT_MAGIC, false, &gen, &damaged);

                if (good == 0 && !damaged)
                        continue;               /* missing */
                if (good < 0 || damaged) {
                        log_error("The snapshot '%s' is damaged.", names[i]);
                        set_aside(j, names[i]);
                        continue;
                }
                if (i > 0)
                        log_error("Starting from the previous snapshot: changes made between it and the damaged "
                                  "newer one may be missing.");
                good = replay_file(j, names[i], SNAPSHOT_MAGIC, true, &gen, &damaged);
                if (good < 0)
                        return (int) good;
                *ret_generation = gen;
                return 0;
        }
        *ret_generation = 0;
        return 0;
}

static int load(Journal *j) {
        uint64_t snap_gen = 0, journal_gen = 0;
        bool damaged;
        int64_t good;
        int r;

        r = load_snapshot(j, &snap_gen);
        if (r < 0)
                return r;

        good = replay_file(j, "journal", JOURNAL_MAGIC, false, &journal_gen, &damaged);
        if (good > 0 && journal_gen >= snap_gen)
                good = replay_file(j, "journal", JOURNAL_MAGIC, true, &journal_gen, &damaged);
        if (good < 0) {
                log_error("The journal's header is damaged: its records are lost.");
                set_aside(j, "journal");
                good = 0;
        }

        if (good == 0 || journal_gen < snap_gen) {
                if (good > 0)
                        log_info("The journal (generation %" PRIu64 ") is older than the snapshot (%" PRIu64 "), "
                                 "which holds it already.", journal_gen, snap_gen);
                return journal_start(j, snap_gen);
        }
        if (journal_gen > snap_gen)
                log_warning("The journal (generation %" PRIu64 ") is newer than the snapshot (%" PRIu64 "): "
                            "changes in between may be missing.", journal_gen, snap_gen);

        j->generation = journal_gen;
        if (damaged) {
                g_autofree char *path = path_in(j, "journal");

                if (truncate(path, (off_t) good) < 0)
                        return log_error_errno(-errno, "Failed to cut the journal's damaged tail: %m");
        }
        r = journal_reopen(j, (uint64_t) good);
        if (r < 0)
                return r;
        if (j->size > j->config.compact_bytes || damaged)
                (void) journal_compact(j);
        return 0;
}

/**
 * journal_open() - lock @dir, load its state into @hub and record @hub's
 * durable changes from now on
 *
 * Return: 0; -EBUSY when another hub holds the directory; another
 * negative errno (logged) when the directory or files cannot be used.
 */
int journal_open(sd_event *event, Hub *hub, const char *dir, const JournalConfig *config, Journal **ret) {
        g_autoptr(Journal) j = NULL;
        const char *fault = g_getenv("SWITCHBOARD_JOURNAL_FAULT_FILE");
        int r;

        j = g_new0(Journal, 1);
        j->event = sd_event_ref(event);
        j->hub = hub;
        j->config = *config;
        j->dir = g_strdup(dir);
        j->lock_fd = j->fd = -1;
        j->buf = g_byte_array_new();
        j->fault_file = fault && *fault ? g_strdup(fault) : NULL;
        g_queue_init(&j->waiters);

        if (g_mkdir_with_parents(dir, 0700) < 0)
                return log_error_errno(-errno, "Failed to create the state directory '%s': %m", dir);
        r = lock_dir(j);
        if (r < 0)
                return r;
        r = load(j);
        if (r < 0)
                return r;

        r = sd_event_add_defer(event, &j->sync_defer, on_sync_defer, j);
        if (r >= 0)
                r = sd_event_source_set_enabled(j->sync_defer, SD_EVENT_OFF);
        /* After every pending request of this iteration (priority 0), before replies go out. */
        if (r >= 0)
                r = sd_event_source_set_priority(j->sync_defer, SD_EVENT_PRIORITY_NORMAL + 10);
        if (r >= 0 && config->sync == JOURNAL_SYNC_INTERVAL)
                r = sd_event_add_time_relative(event, &j->sync_timer, CLOCK_MONOTONIC,
                                               (uint64_t) config->interval_ms * 1000, 0, on_sync_timer, j);
        if (r < 0)
                return log_error_errno(r, "Failed to set up journal syncing: %m");

        hub_set_journal(hub, &(HubJournal) {
                .append = journal_append,
                .pending = hub_journal_pending,
                .wait = hub_journal_wait,
                .cancel = hub_journal_cancel,
                .userdata = j,
        });
        *ret = g_steal_pointer(&j);
        return 0;
}

/**
 * journal_stop() - journal nothing more, for a hub that stops: what its
 * clients still undo as they leave (reservations) must come back from the
 * journal as after a crash. Their waits for what was journaled before can
 * still be cancelled, so a client freed now is never woken later.
 */
void journal_stop(Journal *j) {
        if (j && j->hub)
                hub_set_journal(j->hub, &(HubJournal) {
                        .pending = hub_journal_pending,
                        .wait = hub_journal_wait,
                        .cancel = hub_journal_cancel,
                        .userdata = j,
                });
}

Journal *journal_free(Journal *j) {
        if (!j)
                return NULL;
        if (j->hub)
                hub_set_journal(j->hub, NULL);
        if (j->fd >= 0 && j->dirty)
                (void) fdatasync(j->fd);
        run_waiters(j);
        j->sync_defer = sd_event_source_disable_unref(j->sync_defer);
        j->sync_timer = sd_event_source_disable_unref(j->sync_timer);
        fd_close(j->fd);
        fd_close(j->lock_fd);           /* releases the lock */
        g_clear_pointer(&j->buf, g_byte_array_unref);
        g_free(j->fault_file);
        g_free(j->dir);
        sd_event_unref(j->event);
        g_free(j);
        return NULL;
}
