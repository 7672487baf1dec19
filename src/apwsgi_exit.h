/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_exit.h: a stopping child exits within a bound.
 *
 * Apache lets a stopping child finish its requests and its clean-ups
 * for as long as they take: at a graceful restart without end, at a
 * stop until it kills the child about 10 s later.  Python can take
 * that long: a request that never returns, a non-daemon thread that
 * never ends (CPython waits for it at exit), an atexit handler that
 * blocks.  So each child has a watchdog, a thread that runs no Python
 * and takes no lock that anything else holds long:
 *
 * - It notices that the child stops: Apache's MPM state becomes
 *   "stopping" (any MPM; prefork at a graceful restart too), the
 *   child_stopping hook runs, or the child's Python clean-up begins.
 *   That moment starts the bound (apwsgi_exit_bound): Apache's
 *   GracefulShutdownTimeout where set and the stop is graceful, else
 *   APWSGI_STOP_BOUND_DEFAULT (5 s, below the 9 s after which a
 *   stopping Apache kills its children).
 * - Some time before the bound (at most 2 s, half of it when shorter),
 *   if the module still has something running, it logs what: each
 *   request still running with its method, path, age, interpreter and
 *   Python stack, in which SystemExit is raised (the request then ends
 *   at its next Python instruction: 500, or a cut response); and, when
 *   the child's Python clean-up runs the main interpreter's atexit
 *   handlers, where they are.  Threads of the application that do not
 *   end by then are logged by the clean-up itself, which leaves Python
 *   unfinalised rather than wait for them (apwsgi_interp.h).
 * - At the bound, if the module still has something running there (a
 *   request, or its Python clean-up), it logs what and ends the
 *   process (_exit), whatever blocks it: a thread blocked in C cannot
 *   be interrupted in any other way.  What Apache itself still does
 *   (a keep-alive connection, a long static response) is Apache's:
 *   the module's clean-up then gets the last part of the bound (the
 *   report's share) once it begins.
 *
 * The Python work of the report (stacks, the exception) is done by a
 * short-lived thread of its own, so that a GIL that is never released
 * cannot delay the end.
 *
 * Called by the hooks (child init, child_stopping) and apwsgi_python.c
 * (the clean-up); calls the registry of requests in flight, the
 * interpreter table (to hold an interpreter while it looks into it),
 * the thread states, the threads' stacks and the log.
 */
#ifndef APWSGI_EXIT_H
#define APWSGI_EXIT_H

#include "apwsgi.h"

/* Start the watchdog, logging against `s`.  0, or -1 when it could
 * not start (then nothing bounds the exit).  Child init, after Python
 * is set up; no GIL held. */
int apwsgi_exit_start(server_rec *s);

/* The child_stopping hook: the child stops, gracefully or not.  May
 * run in a signal handler (prefork): async-signal-safe. */
void apwsgi_exit_stopping(int graceful);

/* The bound of a stop: GracefulShutdownTimeout when set and the stop
 * is graceful, else APWSGI_STOP_BOUND_DEFAULT.  No GIL needed. */
apr_interval_time_t apwsgi_exit_bound(int graceful);

/*
 * The child's Python clean-up begins.  Returns until when (on the
 * apwsgi_now() clock) it may wait for the application's threads: the
 * time left before the report, so that what follows (atexit handlers,
 * finalisation) has the rest.  From now on the watchdog no longer looks
 * at requests or interpreters; this waits (without bound: the
 * watchdog's end bounds it) for a report in progress to finish.  No
 * GIL held.
 */
apr_time_t apwsgi_exit_begin(void);

/* The child's Python clean-up is over: what follows is Apache's, and
 * no longer bounded here.  No GIL needed. */
void apwsgi_exit_end(void);

/*
 * What the clean-up is doing now (a string constant), for the line
 * logged at the bound.  With `atexit_ts`, the thread state of the
 * calling thread in the main interpreter, whose atexit handlers it now
 * runs (their stack is then reported); NULL otherwise.  Call with the
 * main interpreter's GIL held when `atexit_ts` is given or was given
 * before.
 */
void apwsgi_exit_phase(const char *what, PyThreadState *atexit_ts);

#endif /* APWSGI_EXIT_H */
