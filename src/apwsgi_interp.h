/*
 * apwsgi_interp.h: Python in the child process, and the table of
 * interpreters it runs.
 *
 * Python is initialised in each child (child_init), never in the
 * Apache parent, so a graceful restart leaves nothing behind.  The
 * main interpreter has the empty name; named sub-interpreters are
 * created on first use and kept until the child exits, when each one
 * is ended (its atexit handlers run) and then Python is finalised,
 * unless another module (mod_python) initialised it.
 *
 * Each Apache thread gets one PyThreadState per interpreter on first
 * use and keeps it, so a request costs no thread-state allocation.
 * Entering an interpreter means taking the GIL that it uses; every
 * interpreter is entered and left through the functions below, which
 * is what lets an interpreter with a GIL of its own (PEP 684) slot in.
 */
#ifndef APWSGI_INTERP_H
#define APWSGI_INTERP_H

#include "apwsgi.h"

struct apwsgi_interp {
    const char *name;          /* "" for the main interpreter */
    int index;                 /* slot: index into each thread's cache */
    unsigned long generation;  /* unique to this interpreter's life */
    PyInterpreterState *interp;
    int owned;                 /* created here: ended at child exit */
    apwsgi_state_t *state;     /* NULL until created */
    int failed;                /* creation failed: do not retry forever */
    volatile apr_uint32_t active; /* requests inside it now */
};

/*
 * Initialise Python in this child (or adopt the one another module
 * initialised) and register its finalisation on `pchild`.  Logs and
 * returns non-zero when Python cannot be used; requests then get 500.
 * Called from child_init, with no GIL.
 */
int apwsgi_python_init(apr_pool_t *pchild, server_rec *s);

/* Whether apwsgi_python_init succeeded in this process. */
int apwsgi_python_ready(void);

/*
 * Find the interpreter `name` ("" = main), creating it on first use,
 * and count the request in it.  Returns NULL after logging why (the
 * request should get 500).  No GIL held on entry or exit.  Pair with
 * apwsgi_interp_release().
 */
apwsgi_interp_t *apwsgi_interp_acquire(request_rec *r, const char *name);

/* The request is done with the interpreter.  No GIL needed. */
void apwsgi_interp_release(apwsgi_interp_t *in);

/*
 * Make the calling thread's thread state for `in` current, taking the
 * GIL that `in` uses.  Returns that thread state, to give back to
 * apwsgi_interp_leave(), or NULL (no GIL taken) when no thread state
 * could be made.  No GIL held on entry.
 */
PyThreadState *apwsgi_interp_enter(apwsgi_interp_t *in);

/* Release the GIL taken by apwsgi_interp_enter(). */
void apwsgi_interp_leave(PyThreadState *ts);

#endif /* APWSGI_INTERP_H */
