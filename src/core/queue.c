/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * queue.c: durable FIFO work queues (hub.h "Queues").
 *
 * A job is in exactly one state: READY (in its queue's ready list), DELAYED
 * (a timer makes it ready), RESERVED (by one client, until it acks, nacks,
 * or its reservation's timer expires, or the client goes), or DEAD (after
 * max_attempts reservations, until kicked). A job that becomes ready goes
 * to the first waiting consumer at once, if any. A queue exists while it
 * holds jobs or waiting consumers, so names cost nothing once drained.
 *
 * Durability: pushes, acks, returns (nack, expiry, consumer gone), kicks and
 * purges are journaled before they are applied; reservations are not, so
 * after a crash every job that was not acked is handed out again (at least
 * once). Time comes from the hub's clock, so unit tests use a fake one.
 */
#include <errno.h>
#include <string.h>

#include "core/hub-private.h"
#include "core/queue.h"
#include "core/topic.h"

/* @now + @usec, saturating: a huge timeout means "never", not a time in the past. */
static uint64_t time_after(uint64_t now, uint64_t usec) {
        return usec > UINT64_MAX - now ? UINT64_MAX : now + usec;
}

/* Queues and jobs */

static void job_timer_fired(void *context, void *object, uint64_t now);

/* Arm @j's timer: it becomes ready at @due (DELAYED), or its reservation ends (RESERVED). */
static void job_arm(Hub *h, Job *j, uint64_t due) {
        timer_arm(h->timers, &j->timer, due, job_timer_fired, j);
}

static Queue *queue_get(Hub *h, const char *name, bool create) {
        Queue *q = g_hash_table_lookup(h->queues, name);

        if (!q && create) {
                q = g_new0(Queue, 1);
                q->name = g_strdup(name);
                g_queue_init(&q->ready);
                g_queue_init(&q->dead);
                g_queue_init(&q->waiters);
                g_hash_table_insert(h->queues, q->name, q);
        }
        return q;
}

static void queue_drop_if_empty(Hub *h, Queue *q) {
        if (q->n_jobs == 0 && g_queue_is_empty(&q->waiters))
                g_hash_table_remove(h->queues, q->name);        /* frees q */
}

static void queue_free(Queue *q) {
        g_free(q->name);
        g_free(q);
}

/**
 * queue_init() - set up @h's queue and job tables (hub_new())
 */
void queue_init(Hub *h) {
        h->queues = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) queue_free);
        h->jobs = g_hash_table_new(g_int64_hash, g_int64_equal);
}

static void job_unlink(Job *j) {
        switch (j->state) {
        case JOB_READY:
                g_queue_unlink(&j->queue->ready, &j->link);
                break;
        case JOB_DEAD:
                g_queue_unlink(&j->queue->dead, &j->link);
                break;
        case JOB_DELAYED:
                j->queue->n_delayed--;
                break;
        case JOB_RESERVED:
                j->queue->n_reserved--;
                g_hash_table_remove(j->consumer->reserved, &j->id);
                j->consumer = NULL;
                break;
        }
}

static void job_free(Hub *h, Job *j) {
        Queue *q = j->queue;

        job_unlink(j);
        timer_disarm(&j->timer);
        q->n_jobs--;
        g_hash_table_steal(h->jobs, &j->id);
        g_bytes_unref(j->payload);
        g_free(j);
        queue_drop_if_empty(h, q);
}

/*
 * A new job @id of @queue (created if need be), counted and found by id but
 * in no list yet: the caller makes it available or dead.
 */
static Job *job_new(Hub *h, const char *queue, uint64_t id, const void *payload, size_t len) {
        Queue *q = queue_get(h, queue, true);
        Job *j = g_new0(Job, 1);

        j->id = id;
        j->queue = q;
        j->payload = g_bytes_new(payload, len);
        q->n_jobs++;
        g_hash_table_insert(h->jobs, &j->id, j);
        return j;
}

/* Tell the monitors about @j: @event, caused by @who (NULL: the hub itself). */
static void job_traffic(Hub *h, const Job *j, const char *event, const Client *who, bool with_payload) {
        gsize len = 0;
        const void *payload = with_payload ? g_bytes_get_data(j->payload, &len) : NULL;

        monitor_emit(h, &(TrafficEvent) { .event = event, .who = who, .name = j->queue->name, .id = j->id,
                                          .payload = payload, .len = len, .attempts = j->attempts });
}

static void job_info(const Job *j, JobInfo *ret) {
        gsize len;

        ret->id = j->id;
        ret->queue = j->queue->name;
        ret->payload = g_bytes_get_data(j->payload, &len);
        ret->len = len;
        ret->attempts = j->attempts;
}

static void job_reserve(Hub *h, Job *j, Client *c, uint64_t visibility) {
        j->state = JOB_RESERVED;
        j->attempts++;
        j->consumer = c;
        j->visibility = visibility;
        j->queue->n_reserved++;
        g_hash_table_insert(c->reserved, &j->id, j);
        job_arm(h, j, time_after(hub_now(h), visibility));
}

static void wait_free(Hub *h, ReserveWait *w) {
        Queue *q = w->queue;

        timer_disarm(&w->timer);
        g_queue_unlink(&q->waiters, &w->link);
        g_hash_table_steal(w->client->waits, &w->id);
        g_free(w);
        queue_drop_if_empty(h, q);
}

/* Answer a waiting reserve: with @j (reserved for it now) or, NULL, with "timed out". */
static void wait_answer(Hub *h, ReserveWait *w, Job *j) {
        Client *c = w->client;
        Envelope e = {
                .kind = ENVELOPE_JOB,
                .sub_id = w->id,
                .topic = w->queue->name,
        };
        gsize len = 0;

        if (j) {
                job_reserve(h, j, c, w->visibility);
                e.seq = j->id;
                e.payload = g_bytes_get_data(j->payload, &len);
                e.attempts = j->attempts;
        }
        e.payload_len = len;

        /* Answers are replies, which sinks always take; undo if one does not. */
        if (c->sink->deliver(c, &e) < 0 && j) {
                job_unlink(j);
                timer_disarm(&j->timer);
                j->attempts--;
                j->state = JOB_READY;
                g_queue_push_head_link(&j->queue->ready, &j->link);
        } else if (j)
                job_traffic(h, j, "reserve", c, false);
        wait_free(h, w);
}

/* A waiting reserve's timeout: it is answered with "timed out". */
static void wait_timer_fired(void *context, void *object, uint64_t now) {
        wait_answer(context, object, NULL);
}

/* Hand out ready jobs while consumers wait (their limits were checked when they began). */
static void queue_feed_waiters(Hub *h, Queue *q) {
        while (!g_queue_is_empty(&q->waiters) && !g_queue_is_empty(&q->ready)) {
                ReserveWait *w = q->waiters.head->data;
                Job *j = q->ready.head->data;

                g_queue_unlink(&q->ready, &j->link);
                wait_answer(h, w, j);
        }
}

/*
 * Make @j ready (at the head when it goes back to the front) or delayed
 * until @due; a ready job goes to a waiting consumer unless @feed is false.
 */
static void job_make_available_full(Hub *h, Job *j, uint64_t due, bool head, bool feed) {
        Queue *q = j->queue;

        if (due > hub_now(h)) {
                j->state = JOB_DELAYED;
                q->n_delayed++;
                job_arm(h, j, due);
                return;
        }
        j->state = JOB_READY;
        j->link.data = j;
        if (head)
                g_queue_push_head_link(&q->ready, &j->link);
        else
                g_queue_push_tail_link(&q->ready, &j->link);
        if (feed)
                queue_feed_waiters(h, q);
}

static void job_make_available(Hub *h, Job *j, uint64_t due, bool head) {
        job_make_available_full(h, j, due, head, true);
}

static void job_make_dead(Job *j) {
        j->state = JOB_DEAD;
        j->link.data = j;
        g_queue_push_tail_link(&j->queue->dead, &j->link);
}

/*
 * A reserved job comes back: nack (@delay, to the tail), expiry or the
 * consumer leaving (to the head, it was first). Journaled first; after
 * max_attempts it is dead-lettered instead. The record's due time tells
 * replay where it went: 0 to the front, a time (now, for a nack without
 * delay) to the tail once it has come.
 */
static int job_return_full(Hub *h, Job *j, uint64_t delay, bool head, bool feed) {
        bool dead = j->attempts >= h->limits.max_attempts;
        uint64_t due = head ? 0 : time_after(hub_now(h), delay);
        JournalRecord rec = {
                .type = RECORD_RETURN, .a = j->id, .b = due, .c = j->attempts, .flag = dead,
        };
        int r;

        r = hub_journal(h, &rec);
        if (r < 0)
                return r;

        job_unlink(j);
        timer_disarm(&j->timer);
        if (dead) {
                job_make_dead(j);
                job_traffic(h, j, "dead", NULL, false);
        } else
                job_make_available_full(h, j, due, head, feed);
        return 0;
}

static int job_return(Hub *h, Job *j, uint64_t delay, bool head) {
        return job_return_full(h, j, delay, head, true);
}

static int queue_name_validate(Hub *h, const char *queue) {
        return topic_validate(queue, &h->limits);
}

/**
 * hub_push() - add a job to @queue, ready now or after @delay_usec
 * @ret_id: the job's id, unique in the hub and across restarts; may be NULL
 *
 * Return: 0; -EINVAL or -ENAMETOOLONG for a bad queue name (topic grammar),
 * -EMSGSIZE over max_payload, -ERANGE for a delay over max_delay, -EDQUOT
 * over max_queues or max_jobs, -ENOSPC or -EIO when the journal failed.
 */
int hub_push(Hub *h, Client *c, const char *queue, const void *payload, size_t len, uint64_t delay_usec,
             uint64_t *ret_id) {
        Queue *q;
        Job *j;
        uint64_t due;
        int r;

        r = queue_name_validate(h, queue);
        if (r < 0)
                return r;
        if (len > h->limits.max_payload)
                return -EMSGSIZE;
        if (delay_usec > h->limits.max_delay)
                return -ERANGE;
        q = queue_get(h, queue, false);
        if (!q && g_hash_table_size(h->queues) >= h->limits.max_queues)
                return -EDQUOT;
        if (q && q->n_jobs >= h->limits.max_jobs)
                return -EDQUOT;

        due = delay_usec > 0 ? time_after(hub_now(h), delay_usec) : 0;
        r = hub_journal(h, &(JournalRecord) {
                .type = RECORD_PUSH, .name = queue, .data = payload, .len = len,
                .a = h->next_job_id + 1, .b = due,
        });
        if (r < 0)
                return r;

        j = job_new(h, queue, ++h->next_job_id, payload, len);
        /* Before it can be handed out: a monitor sees the push before its reserve. */
        job_traffic(h, j, "push", c, true);
        job_make_available(h, j, due, false);

        if (ret_id)
                *ret_id = j->id;
        return 0;
}

/**
 * hub_reserve() - take the next ready job of @queue for @c
 * @timeout_usec: how long to wait for one; 0 does not wait
 * @visibility_usec: how long the reservation lasts (0: default_visibility)
 * @ret_job: with 1, the job (borrowed, see JobInfo)
 * @ret_wait_id: with 0, the id of the wait: an ENVELOPE_JOB with this
 *               sub_id answers it later (job id 0 when it timed out)
 *
 * Return: 1 with a job, 0 when waiting, -EAGAIN when nothing is ready and
 * @timeout_usec is 0; -EINVAL/-ENAMETOOLONG for a bad name, -EDQUOT when
 * @c holds and waits for max_reservations jobs together, or the hub has
 * max_queues queues.
 */
int hub_reserve(Hub *h, Client *c, const char *queue, uint64_t timeout_usec, uint64_t visibility_usec,
                JobInfo *ret_job, uint64_t *ret_wait_id) {
        ReserveWait *w;
        Queue *q;
        Job *j;
        int r;

        r = queue_name_validate(h, queue);
        if (r < 0)
                return r;
        /* Waits count too: each one may end up as a reservation. */
        if (g_hash_table_size(c->reserved) + g_hash_table_size(c->waits) >= h->limits.max_reservations &&
            !c->internal)
                return -EDQUOT;
        if (visibility_usec == 0)
                visibility_usec = h->limits.default_visibility;

        q = queue_get(h, queue, false);
        if (q && !g_queue_is_empty(&q->ready)) {
                j = q->ready.head->data;
                g_queue_unlink(&q->ready, &j->link);
                job_reserve(h, j, c, visibility_usec);
                job_traffic(h, j, "reserve", c, false);
                job_info(j, ret_job);
                return 1;
        }
        if (timeout_usec == 0)
                return -EAGAIN;
        if (!q && g_hash_table_size(h->queues) >= h->limits.max_queues)
                return -EDQUOT;

        q = queue_get(h, queue, true);
        w = g_new0(ReserveWait, 1);
        w->id = ++h->next_listener_id;
        w->queue = q;
        w->client = c;
        w->visibility = visibility_usec;
        w->link.data = w;
        g_queue_push_tail_link(&q->waiters, &w->link);
        g_hash_table_insert(c->waits, &w->id, w);
        if (timeout_usec != UINT64_MAX)
                timer_arm(h->timers, &w->timer, time_after(hub_now(h), timeout_usec), wait_timer_fired, w);

        *ret_wait_id = w->id;
        return 0;
}

/**
 * hub_reserve_cancel() - give up @c's waiting reserve @wait_id, unanswered
 *
 * Return: 0, or -ENOENT when @c has no such wait (it may have been answered).
 */
int hub_reserve_cancel(Hub *h, Client *c, uint64_t wait_id) {
        ReserveWait *w = g_hash_table_lookup(c->waits, &wait_id);

        if (!w)
                return -ENOENT;
        wait_free(h, w);
        return 0;
}

static Job *reserved_job(Client *c, uint64_t job_id) {
        return g_hash_table_lookup(c->reserved, &job_id);
}

/**
 * hub_ack() - @c is done with its reserved job @job_id: delete it
 *
 * Return: 0; -ENOENT when @c does not hold that job (never existed, acked,
 * expired and handed to another); -ENOSPC or -EIO from the journal.
 */
int hub_ack(Hub *h, Client *c, uint64_t job_id) {
        Job *j = reserved_job(c, job_id);
        int r;

        if (!j)
                return -ENOENT;
        r = hub_journal(h, &(JournalRecord) { .type = RECORD_ACK, .a = job_id });
        if (r < 0)
                return r;
        job_traffic(h, j, "ack", c, false);
        job_free(h, j);
        return 0;
}

/**
 * hub_ack_next() - hub_ack() @job_id, then hub_reserve() from @queue: a
 * worker's loop in one request
 *
 * Nothing is acked when @queue is not a valid name. The ack stands
 * whatever the reserve then returns.
 *
 * Return: as hub_reserve(); -ENOENT (nothing acked) or a journal error
 * from the ack.
 */
int hub_ack_next(Hub *h, Client *c, uint64_t job_id, const char *queue, uint64_t timeout_usec,
                 uint64_t visibility_usec, JobInfo *ret_job, uint64_t *ret_wait_id) {
        int r;

        r = queue_name_validate(h, queue);
        if (r < 0)
                return r;
        r = hub_ack(h, c, job_id);
        if (r < 0)
                return r;
        return hub_reserve(h, c, queue, timeout_usec, visibility_usec, ret_job, ret_wait_id);
}

/**
 * hub_nack() - @c could not do job @job_id: retry after @delay_usec
 *
 * After max_attempts reservations the job is dead-lettered instead.
 *
 * Return: as hub_ack(), and -ERANGE for a delay over max_delay.
 */
int hub_nack(Hub *h, Client *c, uint64_t job_id, uint64_t delay_usec) {
        Job *j = reserved_job(c, job_id);

        if (!j)
                return -ENOENT;
        if (delay_usec > h->limits.max_delay)
                return -ERANGE;
        /* Told first: a nack that dead-letters reads "nack", then "dead". */
        job_traffic(h, j, "nack", c, false);
        return job_return(h, j, delay_usec, false);
}

/**
 * hub_touch() - extend @c's reservation of @job_id by its visibility again
 *
 * Return: 0, or -ENOENT when @c does not hold that job.
 */
int hub_touch(Hub *h, Client *c, uint64_t job_id) {
        Job *j = reserved_job(c, job_id);

        if (!j)
                return -ENOENT;
        timer_disarm(&j->timer);
        job_arm(h, j, time_after(hub_now(h), j->visibility));
        return 0;
}

/**
 * hub_kick() - make up to @max dead jobs of @queue ready again (0: all)
 * @ret_count: how many; may be NULL
 *
 * Return: 0; -EINVAL/-ENAMETOOLONG for a bad name; -ENOSPC/-EIO from the
 * journal (the jobs kicked before the failure stay kicked).
 */
int hub_kick(Hub *h, const char *queue, unsigned max, unsigned *ret_count) {
        Queue *q;
        unsigned n = 0;
        int r;

        r = queue_name_validate(h, queue);
        if (r < 0)
                return r;
        q = queue_get(h, queue, false);
        while (q && !g_queue_is_empty(&q->dead) && (max == 0 || n < max)) {
                Job *j = q->dead.head->data;

                r = hub_journal(h, &(JournalRecord) { .type = RECORD_KICK, .a = j->id });
                if (r < 0)
                        break;
                job_unlink(j);
                j->attempts = 0;
                job_traffic(h, j, "kick", NULL, false);
                job_make_available(h, j, 0, false);
                n++;
        }
        if (ret_count)
                *ret_count = n;
        return r < 0 ? r : 0;
}

/**
 * hub_peek() - the job @queue would hand out next, without reserving it
 *
 * Return: 0, -ENOENT when no job is ready, -EINVAL/-ENAMETOOLONG for a bad name.
 */
int hub_peek(Hub *h, const char *queue, JobInfo *ret_job) {
        Queue *q;
        int r;

        r = queue_name_validate(h, queue);
        if (r < 0)
                return r;
        q = queue_get(h, queue, false);
        if (!q || g_queue_is_empty(&q->ready))
                return -ENOENT;
        job_info(q->ready.head->data, ret_job);
        return 0;
}

/**
 * hub_purge() - delete every job of @queue that is not reserved
 * @ret_count: how many; may be NULL
 *
 * Return: as hub_kick().
 */
int hub_purge(Hub *h, const char *queue, unsigned *ret_count) {
        g_autoptr(GPtrArray) victims = g_ptr_array_new();
        GHashTableIter it;
        gpointer v;
        Queue *q;
        unsigned n = 0;
        int r = 0;

        r = queue_name_validate(h, queue);
        if (r < 0)
                return r;
        q = queue_get(h, queue, false);
        if (q) {
                g_hash_table_iter_init(&it, h->jobs);
                while (g_hash_table_iter_next(&it, NULL, &v))
                        if (((Job *) v)->queue == q && ((Job *) v)->state != JOB_RESERVED)
                                g_ptr_array_add(victims, v);
        }
        for (guint i = 0; i < victims->len; i++) {
                Job *j = victims->pdata[i];

                r = hub_journal(h, &(JournalRecord) { .type = RECORD_ACK, .a = j->id });
                if (r < 0)
                        break;
                job_free(h, j);         /* may free q with its last job */
                n++;
        }
        if (ret_count)
                *ret_count = n;
        return r < 0 ? r : 0;
}

static gint queue_info_cmp(gconstpointer a, gconstpointer b) {
        return strcmp(((const QueueInfo *) a)->name, ((const QueueInfo *) b)->name);
}

/**
 * hub_list_queues() - every queue with its counts, sorted by name
 *
 * Return: a new GArray of QueueInfo; names borrowed until the next change.
 */
GArray *hub_list_queues(Hub *h) {
        GArray *a = g_array_new(FALSE, FALSE, sizeof(QueueInfo));
        GHashTableIter it;
        gpointer v;

        g_hash_table_iter_init(&it, h->queues);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
                Queue *q = v;
                QueueInfo info = {
                        .name = q->name,
                        .ready = g_queue_get_length(&q->ready),
                        .reserved = q->n_reserved,
                        .delayed = q->n_delayed,
                        .dead = g_queue_get_length(&q->dead),
                        .waiting = g_queue_get_length(&q->waiters),
                };
                g_array_append_val(a, info);
        }
        g_array_sort(a, queue_info_cmp);
        return a;
}

unsigned hub_get_n_queues(Hub *h) {
        return g_hash_table_size(h->queues);
}

/*
 * A job's timer: a delayed job becomes ready; a reservation expires and the
 * job returns to the front of its queue (or is dead-lettered). A return
 * that the journal refuses is retried a second later.
 */
static void job_timer_fired(void *context, void *object, uint64_t now) {
        Hub *h = context;
        Job *j = object;

        if (j->state == JOB_DELAYED) {
                j->queue->n_delayed--;
                job_make_available(h, j, 0, false);
                return;
        }
        job_traffic(h, j, "expired", j->consumer, false);
        if (job_return(h, j, 0, true) < 0)
                job_arm(h, j, now + G_USEC_PER_SEC);
}

static gint job_cmp_id_desc(gconstpointer a, gconstpointer b) {
        const Job *x = *(Job **) a, *y = *(Job **) b;
        return x->id > y->id ? -1 : x->id < y->id;
}

/**
 * queue_client_release() - @c is going: its reserved jobs return to the
 * front of their queues (in the order they were pushed), its waiting
 * reserves end unanswered
 */
void queue_client_release(Hub *h, Client *c) {
        g_autoptr(GPtrArray) jobs = g_ptr_array_new();
        g_autoptr(GPtrArray) queues = g_ptr_array_new();
        GHashTableIter it;
        gpointer v;

        while (g_hash_table_size(c->waits) > 0) {
                g_hash_table_iter_init(&it, c->waits);
                g_hash_table_iter_next(&it, NULL, &v);
                wait_free(h, v);
        }

        /* Last first, each to the head: the first ends up first. Feed waiters after. */
        g_hash_table_iter_init(&it, c->reserved);
        while (g_hash_table_iter_next(&it, NULL, &v))
                g_ptr_array_add(jobs, v);
        g_ptr_array_sort(jobs, job_cmp_id_desc);
        for (guint i = 0; i < jobs->len; i++) {
                Job *j = jobs->pdata[i];

                if (!g_ptr_array_find(queues, j->queue, NULL))
                        g_ptr_array_add(queues, j->queue);
                job_traffic(h, j, "returned", c, false);
                /* Not journaled if the journal fails: after a restart it is ready anyway. */
                if (job_return_full(h, j, 0, true, false) < 0) {
                        job_unlink(j);
                        timer_disarm(&j->timer);
                        job_make_available_full(h, j, 0, true, false);
                }
        }
        /* Queues with jobs are never freed, so these are all still there. */
        for (guint i = 0; i < queues->len; i++)
                queue_feed_waiters(h, queues->pdata[i]);
}

/**
 * queue_deinit() - free every queue and job, and their tables (hub_free(),
 * clients gone, so no job is reserved and nobody waits)
 */
void queue_deinit(Hub *h) {
        GHashTableIter it;
        gpointer v;

        g_hash_table_iter_init(&it, h->jobs);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
                Job *j = v;

                g_hash_table_iter_steal(&it);
                timer_disarm(&j->timer);
                g_bytes_unref(j->payload);
                g_free(j);
        }
        g_clear_pointer(&h->queues, g_hash_table_destroy);
        g_clear_pointer(&h->jobs, g_hash_table_destroy);
}

/* Durability */

/* Replay a PUSH record: the job as it was pushed, or as a snapshot saw it. */
static int replay_push(Hub *h, const JournalRecord *r) {
        Job *j;

        /* Job id 0 is "no job" in ENVELOPE_JOB. */
        if (!r->name || queue_name_validate(h, r->name) < 0 || r->a == 0 ||
            g_hash_table_contains(h->jobs, &r->a))
                return -EINVAL;
        j = job_new(h, r->name, r->a, r->data, r->len);
        j->attempts = (unsigned) r->c;
        h->next_job_id = MAX(h->next_job_id, j->id);
        if (r->flag)
                job_make_dead(j);
        else
                job_make_available(h, j, r->b, false);
        return 0;
}

/**
 * queue_replay() - apply one queue record read back from the journal
 *
 * Reservations are not journaled: every job comes back ready (or delayed,
 * or dead) with its attempts. Records about unknown jobs are ignored (the
 * job was purged or acked in a record already applied).
 *
 * Return: 0, or -EINVAL for a record that cannot be applied (bad name).
 */
int queue_replay(Hub *h, const JournalRecord *r) {
        Job *j;

        if (r->type == RECORD_PUSH)
                return replay_push(h, r);

        j = g_hash_table_lookup(h->jobs, &r->a);
        if (!j)
                return 0;
        switch (r->type) {
        case RECORD_ACK:
                job_free(h, j);
                break;
        case RECORD_RETURN:
                job_unlink(j);
                timer_disarm(&j->timer);
                j->attempts = (unsigned) r->c;
                if (r->flag)
                        job_make_dead(j);
                else if (r->b == 0)
                        job_make_available(h, j, 0, true);      /* expired or its consumer left */
                else
                        job_make_available(h, j, r->b, false);  /* nacked */
                break;
        case RECORD_KICK:
                job_unlink(j);
                timer_disarm(&j->timer);
                j->attempts = 0;
                job_make_available(h, j, 0, false);
                break;
        default:
                return -EINVAL;
        }
        return 0;
}

static void emit_job(Hub *h, Job *j, void (*emit)(void *, const JournalRecord *), void *userdata) {
        gsize len;
        const void *data = g_bytes_get_data(j->payload, &len);
        uint64_t due = 0;

        if (j->state == JOB_DELAYED && timer_is_armed(&j->timer))
                due = timer_due(&j->timer);
        emit(userdata, &(JournalRecord) {
                .type = RECORD_PUSH, .name = j->queue->name, .data = data, .len = len,
                .a = j->id, .b = due, .c = j->attempts, .flag = j->state == JOB_DEAD,
        });
}

static gint job_cmp_due(gconstpointer a, gconstpointer b) {
        const Job *x = *(Job **) a, *y = *(Job **) b;
        uint64_t dx = timer_due(&x->timer), dy = timer_due(&y->timer);

        if (dx != dy)
                return dx < dy ? -1 : 1;
        return x->id < y->id ? -1 : x->id > y->id;
}

/**
 * queue_snapshot() - emit one PUSH record per job, each queue's jobs in the
 * order they will be handed out: reserved ones first (they come back
 * first, by id as queue_client_release() returns them), then the ready
 * ones; dead ones in the order a kick takes them; delayed ones by due time
 */
void queue_snapshot(Hub *h, void (*emit)(void *userdata, const JournalRecord *r), void *userdata) {
        g_autoptr(GPtrArray) reserved = g_ptr_array_new();
        g_autoptr(GPtrArray) delayed = g_ptr_array_new();
        GHashTableIter it;
        gpointer v;

        g_hash_table_iter_init(&it, h->jobs);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
                Job *j = v;

                if (j->state == JOB_RESERVED)
                        g_ptr_array_add(reserved, j);
                else if (j->state == JOB_DELAYED)
                        g_ptr_array_add(delayed, j);
        }
        g_ptr_array_sort(reserved, job_cmp_id_desc);
        for (guint i = reserved->len; i > 0; i--)
                emit_job(h, reserved->pdata[i - 1], emit, userdata);

        g_hash_table_iter_init(&it, h->queues);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
                for (GList *l = ((Queue *) v)->ready.head; l; l = l->next)
                        emit_job(h, l->data, emit, userdata);
                for (GList *l = ((Queue *) v)->dead.head; l; l = l->next)
                        emit_job(h, l->data, emit, userdata);
        }

        g_ptr_array_sort(delayed, job_cmp_due);
        for (guint i = 0; i < delayed->len; i++)
                emit_job(h, delayed->pdata[i], emit, userdata);
}
