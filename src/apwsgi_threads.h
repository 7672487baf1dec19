/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_threads.h: the application's own threads in an interpreter
 * that is ending, and how long the module waits for them.
 *
 * CPython ends an interpreter (Py_EndInterpreter, Py_FinalizeEx) by
 * first waiting, without a bound, for every non-daemon thread that the
 * threading module started; a daemon thread still there makes it
 * abort.  The module therefore does the waiting itself, with a bound
 * (apwsgi_threads_bound), before it lets CPython end anything: it asks
 * the threads to stop as threading._shutdown() does, then looks at
 * what remains, and ends the interpreter only once nothing does.
 *
 * Called by apwsgi_interp.c (ending interpreters, the child's exit)
 * and apwsgi_exit.c (the bound).  Calls only the log.
 */
#ifndef APWSGI_THREADS_H
#define APWSGI_THREADS_H

#include "apwsgi.h"

/* The bound of a stopping child and of the wait for an interpreter's
 * threads, where Apache's GracefulShutdownTimeout is not set. */
#define APWSGI_STOP_BOUND_DEFAULT apr_time_from_sec(5)

/* How much of the current interpreter is left besides the calling
 * thread. */
typedef struct {
    int others;    /* thread states of other threads (sub-interpreters:
                      the module deleted its own first) */
    int nondaemon; /* of those, threading's non-daemon threads */
    int daemon;    /* of those, threading's daemon threads */
} apwsgi_threads_left_t;

/*
 * How long the module waits for a stopping child and for the threads
 * of an interpreter it ends: GracefulShutdownTimeout where set, else
 * APWSGI_STOP_BOUND_DEFAULT.  No GIL needed.
 */
apr_interval_time_t apwsgi_threads_bound(void);

/*
 * Ask the current interpreter's threads to stop, as
 * threading._shutdown() does before it waits: threading is marked as
 * shutting down and the callbacks registered with
 * threading._register_atexit run, newest first (concurrent.futures
 * ends its pools' workers there), each once.  Nothing when threading
 * was never imported.  What raises is logged against `s`; no exception
 * is left set.  GIL held.
 */
void apwsgi_threads_stop(server_rec *s);

/*
 * Count what is left of the current interpreter besides the calling
 * thread's thread state (threading's _DummyThread entries, which stand
 * for threads that threading did not start, and its main thread are
 * not counted as non-daemon or daemon).  GIL held; no exception left
 * set.
 */
void apwsgi_threads_left(apwsgi_threads_left_t *left);

/*
 * The threads of the current interpreter other than the calling one
 * that threading knows of (name, daemon or not), each followed by its
 * Python stack, innermost call last, as '\n'-separated lines in `p`;
 * "" when there are none.  GIL held; no exception left set.
 */
const char *apwsgi_threads_describe(apr_pool_t *p);

/*
 * The Python stack of the thread whose thread state is `ts` (in the
 * current interpreter), as lines "  File ..., line N, in f", outermost
 * call first (or one line saying there is none), in `p`.  GIL of that
 * interpreter held.
 */
const char *apwsgi_threads_stack(apr_pool_t *p, PyThreadState *ts);

#endif /* APWSGI_THREADS_H */
