/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_monitor.h: the thread of each child that watches its requests
 * in flight.
 *
 * About once a second (and at the nearest request's deadline) it looks
 * at the registry (apwsgi_inflight.h).  For a request older than its
 * mod_wsgi.slow_request age it enters the request's interpreter, takes
 * the request's Python stack and publishes it for the status page
 * (apwsgi_metrics.h).  For a request past its mod_wsgi.request_timeout
 * it logs that stack, then raises apwsgi.RequestTimeout
 * (apwsgi_timeout.h) in the request's thread; the request then answers
 * 504, or cuts a response that had started.  A thread blocked outside
 * Python (in C code, the GIL released) gets the exception only when
 * it returns to Python: if it is still running a little after its
 * deadline, that is logged once.  The same thread adds a point to the
 * server's series of figures every few seconds.
 *
 * The thread waits for each GIL like any other thread: while a thread
 * holds a GIL without ever releasing it (C code that does not), the
 * monitor waits with it.
 *
 * Started and stopped by apwsgi_python.c; calls the registry, the
 * interpreter table (to hold an interpreter alive), the thread states,
 * the timeout class, the figures and the log.
 */
#ifndef APWSGI_MONITOR_H
#define APWSGI_MONITOR_H

#include "apwsgi.h"
#include "apwsgi_inflight.h"

/* Start the thread, logging against `s`.  Its memory is a pool of its
 * own, not `pchild`'s: freed once the thread has ended.  0, or -1 when
 * it could not start.  Child init, after the interpreter table; no GIL
 * held. */
int apwsgi_monitor_start(apr_pool_t *pchild, server_rec *s);

/* Stop the thread and wait for it (at child exit, before the
 * interpreters are ended; nothing when it never started), two seconds
 * at most: a round stuck waiting for a GIL that a running request
 * holds is left to the process's end, with that interpreter held alive
 * (so Python is not finalised under it).  No GIL held. */
void apwsgi_monitor_stop(void);

/*
 * The current Python stack of the request `info` (a copy from
 * apwsgi_inflight_snapshot), taken the safe way: its interpreter held
 * alive, its GIL taken and released.  In `p`; NULL when the request is
 * no longer inside an interpreter.  For any thread but one serving a
 * request (it would wait for its own GIL); blocks while another
 * thread holds that GIL.  No GIL held on entry or exit.
 */
char *apwsgi_monitor_stack(const apwsgi_inflight_info_t *info, apr_pool_t *p);

#endif /* APWSGI_MONITOR_H */
