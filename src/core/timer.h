/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * timer.h: deadline timers, knowing nothing of what they time. A Timer is
 * embedded in the object it times (a job, a waiting reserve, a call) and
 * linked into one TimerSet while armed; the set keeps them by due time,
 * ties in the order they were armed. timer_set_run() disarms each timer that
 * is due and calls its owner back. The hub owns the set (hub_run_timers());
 * queue.c and rpc.c arm their own timers.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

/*
 * Called once per expiry with the @context given to timer_set_run(), the
 * @object given to timer_arm() and the @now the run started at. The timer
 * is disarmed by then; the callback may arm it again, or arm and disarm
 * any other timer of the set.
 */
typedef void (*TimerFunc)(void *context, void *object, uint64_t now);

typedef struct TimerSet TimerSet;

typedef struct Timer {
        uint64_t due;                   /* usec on the owner's clock, while armed */
        uint64_t order;                 /* ties: first armed, first due */
        TimerFunc func;
        void *object;
        GSequenceIter *iter;            /* in TimerSet.timers while armed there */
        GList link;                     /* in TimerSet.lane while armed there (link.data set) */
        TimerSet *set;                  /* the set of the lane it is in */
} Timer;

TimerSet *timer_set_new(void);
TimerSet *timer_set_free(TimerSet *ts);
uint64_t timer_set_next_deadline(TimerSet *ts);
void timer_set_run(TimerSet *ts, uint64_t now, void *context);

void timer_arm(TimerSet *ts, Timer *t, uint64_t due, TimerFunc func, void *object);
void timer_disarm(Timer *t);
bool timer_is_armed(const Timer *t);
uint64_t timer_due(const Timer *t);
