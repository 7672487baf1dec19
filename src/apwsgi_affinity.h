/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_affinity.h: keeping each child process of a threaded MPM on
 * a CPU of its own (mod_wsgi.cpu_affinity), its threads scheduled as a
 * batch (mod_wsgi.sched_batch).
 *
 * The threads of one child take turns at its GIL, so that child never
 * runs Python on more than one CPU at a time.  Left to the scheduler,
 * its threads still spread over every CPU: the thread that gets the
 * GIL next is woken on another CPU than the one that let it go, finds
 * the caches cold, and often waits there behind the other child's GIL
 * holder while its own GIL lies free; the listener's and the waiters'
 * wake-ups preempt the other child's Python.  On one CPU per child the
 * CPU's run queue takes the turns the GIL would take, and each child's
 * Python stays where its data is (docs/performance-notes.rst).
 *
 * Only threaded MPMs (a prefork child has one thread, so nothing to
 * line up), and, when the key is `auto`, only where Apache may run at
 * least as many children as there are CPUs: with fewer children, a
 * child on one CPU would leave CPUs unused for the work it does outside
 * Python.
 */
#ifndef APWSGI_AFFINITY_H
#define APWSGI_AFFINITY_H

#include "apwsgi.h"

/* A key that takes auto, on or off: mod_wsgi.cpu_affinity and
 * mod_wsgi.sched_batch (auto: the module decides, as documented for
 * each). */
typedef enum {
    APWSGI_SWITCH_AUTO = 0,
    APWSGI_SWITCH_ON,
    APWSGI_SWITCH_OFF
} apwsgi_switch_t;

/*
 * At child init, after the figures' child init and before the MPM
 * starts this child's threads: record the CPUs the process may use and
 * choose its own, the one the fewest other live children chose (ties
 * broken by `index`, this child's slot in the figures, or its pid when
 * -1), and record the choice there.  No Python, no GIL; nothing
 * allocated.
 */
void apwsgi_affinity_init(int index);

/*
 * Apply `mode` (the request's mod_wsgi.cpu_affinity) and `batch` (its
 * mod_wsgi.sched_batch) to this process; `own_gil`: the request asks
 * for an interpreter with a GIL of its own (mod_wsgi.gil own).  The
 * first request that gets here decides for the process: with `on`, or
 * `auto` where it applies and the request does not ask for an own GIL,
 * every thread of the process (and every thread it starts later) is
 * put on the process's CPU; with `on`, or `auto` where the process was
 * put on its CPU, every thread is given the SCHED_BATCH policy (see
 * below).  A later request that asks for an own GIL, with `auto`, gives
 * the process all its CPUs back for good, and the normal policy unless
 * its mod_wsgi.sched_batch is `on`.  Other calls return at once.  A
 * failure is logged once (APW00037, APW00038) and the process runs on
 * as it was.  Threaded MPMs only.  No GIL needed; `r` only for the log
 * line.
 *
 * SCHED_BATCH (sched(7)): a thread of the process that wakes up does
 * not preempt the one running on the CPU.  On one CPU, the running
 * thread is mostly the GIL holder, and a thread woken by the listener
 * or by the GIL's hand-over preempts it; one that wants the GIL can
 * only find it taken and sleep again.  The woken thread runs when the
 * holder blocks or its time slice ends.
 */
void apwsgi_affinity_apply(request_rec *r, apwsgi_switch_t mode,
                           apwsgi_switch_t batch, int own_gil);

#endif /* APWSGI_AFFINITY_H */
