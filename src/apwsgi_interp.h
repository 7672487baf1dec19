/*
 * apwsgi_interp.h: Python in the child process, and the table of
 * interpreters it runs.
 *
 * Python is initialised in each child (child_init), never in the
 * Apache parent, so a graceful restart leaves nothing behind.  The
 * main interpreter has the empty name; named sub-interpreters are
 * created on first use.  At child exit each is ended (its atexit
 * handlers run) and Python is finalised, unless another module
 * (mod_python) initialised it.
 *
 * A name maps to one live interpreter at a time.  An interpreter can
 * be retired (replaced by a reload, idle past mod_wsgi.idle_timeout,
 * or left with no application after a failed import): new requests no
 * longer reach it, and a reaper thread ends it once its last request
 * is done.  A pool (mod_wsgi.interpreters N) is the names NAME#0 ..
 * NAME#N-1, and a request goes to the least busy member.  With
 * mod_wsgi.gil own (CPython 3.12+) an interpreter gets its own GIL
 * (PEP 684), so a pool runs Python in parallel in one process.
 *
 * Running code in an interpreter (entering it, with its GIL) is
 * apwsgi_tstate.h's business.
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
    const char *name;          /* "" for the main interpreter */
    int index;                 /* slot: index into each thread's cache */
    unsigned long generation;  /* unique to this interpreter's life */
    PyInterpreterState *interp;
    apwsgi_state_t *state;     /* NULL until created */
    int own_gil;               /* created with a GIL of its own */
    volatile apr_uint32_t active; /* requests inside it now */
};

/*
 * The interpreter for this request, per cfg->interpreter and the other
 * interpreter keys: created on first use, replaced first when
 * mod_wsgi.reload found changed code.  The request is counted in it.
 * Returns NULL after logging why, with *status set (500; 503 past
 * mod_wsgi.max_interpreters).  No GIL held on entry or exit.  Pair
 * with apwsgi_interp_release().
 */
apwsgi_interp_t *apwsgi_interp_acquire(request_rec *r,
                                       const apwsgi_config_t *cfg,
                                       int *status);

/*
 * The request is done with the interpreter.  `empty`: it has no
 * application loaded (a failed import), so a named one is retired
 * rather than kept.  No GIL needed.
 */
void apwsgi_interp_release(apwsgi_interp_t *in, int empty);

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
 * At child exit: stop the reaper and end every sub-interpreter.
 * Returns 0 when all ended, 1 when one had to be left alive (daemon
 * threads; its atexit handlers ran), -1 when requests still run (then
 * nothing was touched).  No GIL held.
 */
int apwsgi_interp_shutdown(void);

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
