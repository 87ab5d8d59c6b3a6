/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * timer.c: see timer.h. A GSequence sorted by (due, order) gives the next
 * deadline in O(1) and arming and disarming in O(log n). The set does not
 * own its timers: each lives in its owner, which disarms it before it goes.
 */
#include "core/timer.h"

struct TimerSet {
        GSequence *timers;              /* Timer*, by due time then order; not owned */
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

        *t = (Timer) { .due = due, .order = ++ts->order, .func = func, .object = object };
        t->iter = g_sequence_insert_sorted(ts->timers, t, timer_cmp, NULL);
}

/**
 * timer_disarm() - take @t out of its set; accepts a disarmed timer
 */
void timer_disarm(Timer *t) {
        if (!t->iter)
                return;
        g_sequence_remove(t->iter);
        t->iter = NULL;
}

bool timer_is_armed(const Timer *t) {
        return t->iter != NULL;
}

/**
 * timer_due() - when the armed @t expires, in usec on its owner's clock
 */
uint64_t timer_due(const Timer *t) {
        g_assert(t->iter);
        return t->due;
}

/**
 * timer_set_next_deadline() - when the first timer of @ts expires
 *
 * Return: usec, or UINT64_MAX when no timer is armed.
 */
uint64_t timer_set_next_deadline(TimerSet *ts) {
        GSequenceIter *first = g_sequence_get_begin_iter(ts->timers);

        if (g_sequence_iter_is_end(first))
                return UINT64_MAX;
        return ((Timer *) g_sequence_get(first))->due;
}

/**
 * timer_set_run() - expire every timer of @ts due by @now, earliest first
 * @context: passed to each callback (the hub)
 *
 * A timer a callback arms for @now or earlier runs in the same call.
 */
void timer_set_run(TimerSet *ts, uint64_t now, void *context) {
        for (;;) {
                GSequenceIter *first = g_sequence_get_begin_iter(ts->timers);
                Timer *t;

                if (g_sequence_iter_is_end(first))
                        break;
                t = g_sequence_get(first);
                if (t->due > now)
                        break;

                timer_disarm(t);
                t->func(context, t->object, now);
        }
}
