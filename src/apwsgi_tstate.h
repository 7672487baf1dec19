/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_tstate.h: each Apache thread's thread state in each
 * interpreter.
 *
 * A thread gets one PyThreadState per interpreter on first use and
 * keeps it, so a request costs no thread-state allocation.  The cache
 * is the thread's own (no lock); an entry counts while the
 * interpreter's generation matches, so an interpreter that reuses a
 * slot of the table never gets a thread state of the one before.
 * Every thread state made here is also recorded under its interpreter,
 * so that ending the interpreter deletes exactly those, never one of a
 * thread that the application started.
 *
 * A thread's first thread state is its main interpreter's, the one
 * PyGILState_Ensure() finds: extensions that call back into Python
 * from their own threads expect that.
 *
 * Called by apwsgi_interp.c (which makes and ends interpreters) and
 * by whoever runs code in one (apwsgi_request.c, apwsgi_reload.c,
 * apwsgi_python.c).  Calls nothing of the module.
 */
#ifndef APWSGI_TSTATE_H
#define APWSGI_TSTATE_H

#include "apwsgi.h"
#include "apwsgi_interp.h"

/*
 * Set up the per-thread cache and the records, in `pchild`, with
 * `main_in` the main interpreter.  0, or -1 without memory.  Child
 * init, no GIL needed.
 */
int apwsgi_tstate_init(apr_pool_t *pchild, apwsgi_interp_t *main_in);

/*
 * Record `ts`, made elsewhere (Py_Initialize, Py_NewInterpreter), as
 * the calling thread's thread state for `in`.  0, or -1 without
 * memory.  No GIL needed.
 */
int apwsgi_tstate_adopt(apwsgi_interp_t *in, PyThreadState *ts);

/*
 * The calling thread's thread state for `in`, made on first use; NULL
 * when none can be made.  No GIL needed (PyThreadState_New allows
 * that); the thread state is not made current.
 */
PyThreadState *apwsgi_tstate_get(apwsgi_interp_t *in);

/*
 * Make the calling thread's thread state for `in` current, taking the
 * GIL that `in` uses.  Returns that thread state, to give back to
 * apwsgi_tstate_leave(), or NULL (no GIL taken) when none could be
 * made.  No GIL held on entry.
 */
PyThreadState *apwsgi_tstate_enter(apwsgi_interp_t *in);

/* Release the GIL taken by apwsgi_tstate_enter(). */
void apwsgi_tstate_leave(PyThreadState *ts);

/*
 * Whether the calling thread holds a GIL now, though it should not:
 * a signal handler (prefork ends a child from its SIGTERM handler)
 * that interrupted Python code running on this thread.  Entering an
 * interpreter there would wait for that GIL for ever.  No GIL needed.
 */
int apwsgi_tstate_interrupted_python(void);

/*
 * Since 3.12 each activation of a thread state makes it the thread's
 * PyGILState one, and deleting a thread state from another thread
 * leaves that pointer dangling in its owner: the owner's next
 * activation writes through it.  So before a thread lets go of an
 * interpreter that may be ended from another thread, it makes its main
 * thread state the bound one again (taking the main GIL for a moment).
 * No GIL held.
 */
void apwsgi_tstate_rebind_main(void);

/*
 * Delete every thread state made for `in` (by any thread), except
 * `keep`, and forget them.  The GIL of `in` held, with no request
 * inside it.
 */
void apwsgi_tstate_delete(apwsgi_interp_t *in, PyThreadState *keep);

/*
 * Forget the thread states recorded for `in` without deleting them
 * (its slot is freed, or Python is finalised).  No GIL needed.
 */
void apwsgi_tstate_forget(apwsgi_interp_t *in);

#endif /* APWSGI_TSTATE_H */
