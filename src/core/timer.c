/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * timer.c: see timer.h. Most timers are armed in the order they fall due
 * (calls and reservations with the same timeout, one after the other):
 * those join the lane, a list in due order, at its tail, with no
 * allocation and no search. A timer due before the lane's last goes into a
 * GSequence sorted by (due, order) instead, O(log n). The first of each is
 * the next deadline. The set does not own its timers: each lives in its
 * owner, which disarms it before it goes.
 */
#include "core/timer.h"

struct TimerSet {
        GQueue lane;                    /* Timer*, armed in due order; not owned */
        GSequence *timers;              /* Timer*, the others, by due time then order; not owned */
        uint64_t order;                 /* last order handed out */
};

/**
 * timer_set_new() - an empty set of timers
 *
 * Return: the set; free with timer_set_free() once every timer is disarmed.
 */
TimerSet *timer_set_new(void) {
        TimerSet *ts = g_new0(TimerSet, 1);

        ts->timers = g_sequence_new(NULL);
        return ts;
}

/**
 * timer_set_free() - free @ts; accepts NULL
 *
 * Timers still armed are not touched: their owners must not disarm them
 * afterwards. Return: NULL.
 */
TimerSet *timer_set_free(TimerSet *ts) {
        if (!ts)
                return NULL;
        g_sequence_free(ts->timers);
        g_free(ts);
        return NULL;
}

static gint timer_cmp(gconstpointer a, gconstpointer b, gpointer userdata) {
        const Timer *x = a, *y = b;

        if (x->due != y->due)
                return x->due < y->due ? -1 : 1;
        return x->order < y->order ? -1 : x->order > y->order;
}

/**
 * timer_arm() - make the disarmed @t due at @due, calling @func with @object
 *
 * Cannot fail; undone by timer_disarm() or by its expiry.
 */
void timer_arm(TimerSet *ts, Timer *t, uint64_t due, TimerFunc func, void *object) {
        g_assert(!t->iter);

        Timer *last = g_queue_peek_tail(&ts->lane);

        g_assert(!timer_is_armed(t));
        *t = (Timer) { .due = due, .order = ++ts->order, .func = func, .object = object };
        if (!last || last->due <= due) {
                t->link.data = t;
                g_queue_push_tail_link(&ts->lane, &t->link);
                t->set = ts;
        } else
                t->iter = g_sequence_insert_sorted(ts->timers, t, timer_cmp, NULL);
}

/**
 * timer_disarm() - take @t out of its set; accepts a disarmed timer
 */
void timer_disarm(Timer *t) {
        if (t->link.data) {
                g_queue_unlink(&t->set->lane, &t->link);
                t->link.data = NULL;
        } else if (t->iter) {
                g_sequence_remove(t->iter);
                t->iter = NULL;
        }
}

bool timer_is_armed(const Timer *t) {
        return t->iter || t->link.data;
}

/**
 * timer_due() - when the armed @t expires, in usec on its owner's clock
 */
uint64_t timer_due(const Timer *t) {
        g_assert(timer_is_armed(t));
        return t->due;
}

/**
 * timer_set_next_deadline() - when the first timer of @ts expires
 *
 * Return: usec, or UINT64_MAX when no timer is armed.
 */
/* The first timer of @ts to expire (ties: the first armed), or NULL. */
static Timer *first_timer(TimerSet *ts) {
        GSequenceIter *i = g_sequence_get_begin_iter(ts->timers);
        Timer *a = g_queue_peek_head(&ts->lane), *b = g_sequence_iter_is_end(i) ? NULL : g_sequence_get(i);

        if (!a || !b)
                return a ?: b;
        return timer_cmp(a, b, NULL) < 0 ? a : b;
}

uint64_t timer_set_next_deadline(TimerSet *ts) {
        Timer *t = first_timer(ts);

        return t ? t->due : UINT64_MAX;
}

/**
 * timer_set_run() - expire every timer of @ts due by @now, earliest first
 * @context: passed to each callback (the hub)
 *
 * A timer a callback arms for @now or earlier runs in the same call.
 */
void timer_set_run(TimerSet *ts, uint64_t now, void *context) {
        for (;;) {
                Timer *t = first_timer(ts);

                if (!t || t->due > now)
                        break;

                timer_disarm(t);
                t->func(context, t->object, now);
        }
}
