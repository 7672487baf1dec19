/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_state.h: what each interpreter keeps for the module.
 *
 * The state is made of parts, one for each file that owns some of it.
 * A part's struct is complete only in its owner's .c file, which alone
 * reads and writes it; the compiler keeps everyone else out.  The parts
 * hold the interpreter's own heap types (log, input, response, file
 * wrapper, the RequestTimeout exception), the constant part of environ and its
 * key cache (environ), the loaded applications (app), and what reloading
 * watches (reload).
 *
 * apwsgi_state.c builds the parts in the order of its table, calling
 * each owner's init, and frees them in the reverse order; it knows
 * nothing of what they hold.  Reload's part is the exception: it is
 * made by its owner at the first load (apwsgi_reload.c sits above the
 * interpreter table, which builds states, so the table cannot call
 * it).  A state belongs to exactly one
 * interpreter; every part is used only with that interpreter's GIL
 * held, which also serialises the use of the state's pool, unless the
 * part's owner says otherwise.
 */
#ifndef APWSGI_STATE_H
#define APWSGI_STATE_H

#include "apwsgi.h"
#include "apr_hash.h"

typedef struct apwsgi_state apwsgi_state_t;

struct apwsgi_state {
    apr_pool_t *pool;                            /* apwsgi_state.c */
    struct apwsgi_log_part *log;                 /* apwsgi_log.c */
    struct apwsgi_input_part *input;             /* apwsgi_input.c */
    struct apwsgi_response_part *response;       /* apwsgi_response.c */
    struct apwsgi_filewrapper_part *filewrapper; /* apwsgi_filewrapper.c */
    struct apwsgi_timeout_part *timeout;         /* apwsgi_timeout.c */
    struct apwsgi_environ_part *environ;         /* apwsgi_environ.c */
    struct apwsgi_app_part *app;                 /* apwsgi_app.c */
    struct apwsgi_reload_part *reload;           /* apwsgi_reload.c,
                                                    NULL until made */
};

/*
 * A part's spare objects: a request's objects (start_response,
 * wsgi.input, wsgi.errors) that ended with nothing but the module
 * holding them, kept for the interpreter's next requests, which take
 * them instead of making new ones.  At most one per thread that runs
 * the interpreter at a time is needed, and more than a few only while
 * requests pile up.  Strong references; the part's owner uses them with
 * the interpreter's GIL held and drops them in its free.
 */
#define APWSGI_SPARE_MAX 8

typedef struct {
    PyObject *obj[APWSGI_SPARE_MAX];
    int n;
} apwsgi_spares_t;

/* A kept object, its reference now the caller's; NULL when none is
 * kept (no exception set).  GIL held. */
static inline PyObject *
apwsgi_spares_take(apwsgi_spares_t *sp)
{
    PyObject *o = NULL;

    if (sp->n > 0) {
        o = sp->obj[--sp->n];
        sp->obj[sp->n] = NULL;
    }
    return o;
}

/* Keep `o` (a new reference) where there is room and `own` references
 * are all it has: the caller's, and any the object holds to itself.
 * Returns whether it was kept.  GIL held. */
static inline int
apwsgi_spares_keep(apwsgi_spares_t *sp, PyObject *o, Py_ssize_t own)
{
    if (sp->n >= APWSGI_SPARE_MAX || Py_REFCNT(o) != own) {
        return 0;
    }
    sp->obj[sp->n++] = Py_NewRef(o);
    return 1;
}

/* Drop every kept object (for a part's free).  GIL held. */
static inline void
apwsgi_spares_clear(apwsgi_spares_t *sp)
{
    PyObject *o = NULL;

    while ((o = apwsgi_spares_take(sp))) {
        Py_DECREF(o);
    }
}

/*
 * What each part's init is given.  A part's init (`int
 * apwsgi_<owner>_part_init(apwsgi_state_t *, const
 * apwsgi_state_setup_t *)`) sets its own member of the state and
 * returns 0, or -1 with an exception set; its free (`void
 * apwsgi_<owner>_part_free(apwsgi_state_t *)`) drops the part's Python
 * references.  Both run in the state's interpreter, its GIL held.
 */
typedef struct {
    apr_pool_t *pool;   /* the state's pool: the parts' memory */
    server_rec *server; /* for lines that belong to no request */
    int own_python;     /* this module started Python (not mod_python) */
} apwsgi_state_setup_t;

/*
 * The pool that states are made under, in `pchild`: its allocator has
 * a mutex, so states may be made and freed on any thread.  NULL
 * without memory.  Child init; no GIL needed.
 */
apr_pool_t *apwsgi_state_parent_create(apr_pool_t *pchild);

/*
 * Build the state of the current interpreter, in a subpool of `pool`
 * (from apwsgi_state_parent_create) with an allocator of its own: the
 * states of interpreters with their own GILs never share one, and an
 * ended state's memory goes back to malloc.
 * With `own_python`, the module owns this Python: sys.stdout,
 * sys.stderr and Python's logging go to the error log.  Returns the
 * state, or NULL with an exception set.  GIL held.
 */
apwsgi_state_t *apwsgi_state_new(apr_pool_t *pool, server_rec *s,
                                 int own_python);

/* The state's pool, for a part made after the state (reload's).  GIL
 * of the state's interpreter held: that serialises the pool's use. */
apr_pool_t *apwsgi_state_pool(apwsgi_state_t *st);

/*
 * Free every part (dropping the Python references they hold) and
 * destroy the state's pool.  GIL of the state's interpreter held.
 */
void apwsgi_state_free(apwsgi_state_t *st);

#endif /* APWSGI_STATE_H */
