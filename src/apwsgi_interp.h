/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_interp.h: the table of interpreters in a child process, and
 * the life of each: created, chosen per request, retired, ended.
 *
 * The main interpreter has the empty name; named sub-interpreters are
 * created on first use, each with its state (apwsgi_state.h).  A name
 * maps to one live interpreter at a time.  An interpreter can be
 * retired (replaced by a reload, idle past mod_wsgi.idle_timeout, or
 * left with no application after a failed import): new requests no
 * longer reach it, and the reaper thread (apwsgi_reaper.h) has it
 * ended once its last request is done: its atexit handlers run, then
 * Py_EndInterpreter.  A pool (mod_wsgi.interpreters N) is the names
 * NAME#0 .. NAME#N-1, and a request goes to the least busy member.
 * With mod_wsgi.gil own (CPython 3.12+) an interpreter gets its own
 * GIL (PEP 684), so a pool runs Python in parallel in one process.
 *
 * Callers: apwsgi_request.c (acquire, release), apwsgi_reload.c (the
 * replacement primitives), apwsgi_python.c (child start and exit).
 * The table calls only what lies below it: the states, the thread
 * states (apwsgi_tstate.h: running code in an interpreter, with its
 * GIL), the reaper and the log.
 */
#ifndef APWSGI_INTERP_H
#define APWSGI_INTERP_H

#include "apwsgi.h"
#include "apwsgi_config.h"
#include "apwsgi_state.h"

/* Hard ceiling on interpreters per process (mod_wsgi.max_interpreters
 * is the configurable bound below it). */
#define APWSGI_MAX_SLOTS 1024

typedef struct apwsgi_interp apwsgi_interp_t;

struct apwsgi_interp {
    const char *name;         /* "" for the main interpreter */
    int index;                /* slot: index into each thread's cache */
    unsigned long generation; /* unique to this interpreter's life */
    PyInterpreterState *interp;
    apwsgi_state_t *state;        /* NULL until created */
    int own_gil;                  /* created with a GIL of its own */
    volatile apr_uint32_t active; /* requests inside it now */
};

/*
 * The interpreter for this request, per cfg->interpreter and the other
 * interpreter keys, created on first use.  The request is counted in
 * it.
 * Returns NULL after logging why, with *status set (500; 503 past
 * mod_wsgi.max_interpreters).  No GIL held on entry or exit.  Pair
 * with apwsgi_interp_release().
 */
apwsgi_interp_t *
apwsgi_interp_acquire(request_rec *r, const apwsgi_config_t *cfg, int *status);

/*
 * The request is done with the interpreter.  `empty`: it has no
 * application loaded (a failed import), so a named one is retired
 * rather than kept.  No GIL needed.
 */
void apwsgi_interp_release(apwsgi_interp_t *in, int empty);

/*
 * Hold `in` alive, as a request does, if it is still the interpreter
 * of `generation` and not being ended: 0, or -1 when it is gone (its
 * slot may hold another one by now).  For a thread that looks into an
 * interpreter without serving a request there (the monitor); pair with
 * apwsgi_interp_release(in, 0).  No GIL needed.
 */
int apwsgi_interp_hold(apwsgi_interp_t *in, unsigned long generation);

/*
 * Replacing an interpreter (apwsgi_reload.c): a hidden interpreter of
 * the same name is made and loaded, then swapped in.
 */

/*
 * A new slot with the name of `old`, which lookups by name do not find
 * until apwsgi_interp_swap(), and which may be ended once idle; the
 * request is counted in it (pair with apwsgi_interp_release).  Its
 * interpreter is made by apwsgi_interp_ensure_created().  NULL when the
 * table is full or without memory.  No GIL needed.
 */
apwsgi_interp_t *apwsgi_interp_add_hidden(apwsgi_interp_t *old);

/*
 * Make the interpreter of `in` unless that is done, waiting for one
 * that another thread is making.  0, or -1 after logging (the slot is
 * then marked failed and freed at its release).  No GIL held.
 */
int apwsgi_interp_ensure_created(apwsgi_interp_t *in, request_rec *r,
                                 const apwsgi_config_t *cfg);

/* Make lookups of the name find `fresh` from now on, and retire `old`
 * (the reaper ends it once its last request is done).  No GIL
 * needed. */
void apwsgi_interp_swap(apwsgi_interp_t *old, apwsgi_interp_t *fresh);

/*
 * The child's start and exit.  apwsgi_python.c, which starts and ends
 * Python in the child, drives these; the table never calls back into
 * it.
 */

/*
 * Set up the table with the main interpreter, whose thread state
 * `main_ts` is current (its GIL held).  With `own_stdio`, its
 * sys.stdout and sys.stderr go to the error log.  0, or -1 (with a
 * Python exception set when Python failed).  Memory from `pchild`.
 */
int apwsgi_interp_table_init(apr_pool_t *pchild, server_rec *s,
                             PyThreadState *main_ts, int own_stdio);

/* Start the thread that ends retired and idle interpreters.  0 or
 * -1.  No GIL. */
int apwsgi_interp_reaper_start(apr_pool_t *pchild);

/*
 * At child exit: stop the reaper and end every sub-interpreter, the
 * threads of the application in each (and in the main interpreter,
 * where this module finalises Python) given until `until` (on the
 * apwsgi_now() clock) to end.
 * Returns 0 when all ended (Python may be finalised), 1 when one had
 * to be left alive (its atexit handlers ran; Python must not be
 * finalised), -1 when requests still run (then nothing was touched).
 * No GIL held.
 */
int apwsgi_interp_shutdown(apr_time_t until);

/* Free the table's own memory (names, thread-state records) once
 * Python is finalised.  No GIL; at child exit only. */
void apwsgi_interp_table_free(void);

/* The main interpreter's entry. */
apwsgi_interp_t *apwsgi_interp_main(void);

/* Free the main interpreter's state, before Python is finalised.  The
 * main interpreter's GIL held. */
void apwsgi_interp_main_clear(void);

/* Run the current interpreter's atexit handlers now.  GIL held. */
void apwsgi_interp_run_atexit(void);

#endif /* APWSGI_INTERP_H */
