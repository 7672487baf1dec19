/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_interp.c: the interpreter table and the life of each
 * interpreter.
 *
 * Locking: `table_mutex` guards the table and every slot's bookkeeping
 * (visible, retired, ending, idle times); `create_mutex` serialises
 * creating and ending interpreters (`state_pool` locks its own list of
 * states' pools, apwsgi_state_parent_create).  A thread
 * never waits for a GIL while holding table_mutex, and takes
 * create_mutex before any GIL, so the locks cannot deadlock.  The
 * thread-state records' lock (apwsgi_tstate.c) is taken inside either,
 * never the other way round.
 *
 * Python's own start and end in the child (apwsgi_python.c) drive the
 * table's init and shutdown below.
 * Where mod_python is loaded (the second mode), the named interpreters
 * are mod_python's (apwsgi_modpython.h): their slots are "borrowed",
 * and nothing here ends them.
 */
#include "apwsgi_interp.h"
#include "apwsgi_log.h"
#include "apwsgi_metrics.h"
#include "apwsgi_modpython.h"
#include "apwsgi_reaper.h"
#include "apwsgi_state.h"
#include "apwsgi_threads.h"
#include "apwsgi_tstate.h"
#include "apr_atomic.h"
#include "apr_portable.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

/* How long after apwsgi first asked mod_python for a name every
 * interpreter mod_python was making for it is surely stored (see
 * borrow_settle). */
#define BORROW_SETTLE apr_time_from_sec(2)

/* A borrowed slot's check of mod_python's final answer. */
enum { SETTLE_PENDING, SETTLE_CHECKING, SETTLE_DONE };

typedef struct {
    apwsgi_interp_t pub;
    /* Guarded by table_mutex: */
    char *name_buf;       /* malloc'd; pub.name points here */
    int used;             /* the slot holds an interpreter */
    int visible;          /* lookups by name find it */
    int retired;          /* no new requests: end it once idle */
    int ending;           /* the reaper (or exit) is ending it */
    int failed;           /* creation failed */
    int gil_requested;    /* mod_wsgi.gil own at creation */
    int gil_noted;        /* a request asked for another GIL mode */
    int may_end;          /* may be ended while the process runs */
    int borrowed;         /* mod_python's: never ended here */
    apr_time_t settle_at; /* borrowed: ask mod_python again from then */
    volatile apr_uint32_t settle; /* SETTLE_*: that second answer */
    apr_time_t last_used;
    apr_time_t idle_timeout;
    /* Set once the slot is ending, by the one thread that ends it: */
    const char *why;        /* why it ends, for the log */
    int draining;           /* its threads were asked to stop */
    apr_time_t drain_from;  /* when (apwsgi_now()) */
    apr_time_t drain_until; /* how long they are waited for */
} interp_slot_t;

/* What came of one try to end an interpreter (interp_end). */
enum { END_DONE, END_LEFT, END_WAIT };

/* How often the child's exit looks again at threads it waits for. */
#define EXIT_POLL apr_time_from_msec(20)

static interp_slot_t *table[APWSGI_MAX_SLOTS];
static int table_count;
static unsigned long generation_counter;
static apr_pool_t *table_pool;
static apr_pool_t *state_pool;
static apr_thread_mutex_t *table_mutex;
static apr_thread_mutex_t *create_mutex;
static server_rec *main_server;

/* An interpreter was left alive (its threads still run): Python cannot
 * be finalised at exit. */
static int stranded;

/* This module started Python (not mod_python), and finalises it. */
static int own_python;

/*
 * A new sub-interpreter, current on return with its GIL held; NULL
 * (with `*why` set) when CPython refused.  With `own_gil` on 3.12+ it
 * gets a GIL of its own and the isolation that needs (PEP 684:
 * separate allocator, single-phase extensions refused, no fork/exec,
 * no daemon threads).  Called holding the main interpreter's GIL;
 * after an own-GIL success that GIL is released (CPython's rule).
 */
static PyThreadState *
new_interpreter(int own_gil, const char **why)
{
    *why = "Py_NewInterpreter() failed";
#if PY_VERSION_HEX >= 0x030C0000
    if (own_gil) {
        PyThreadState *ts = NULL;
        PyInterpreterConfig config = {
            .use_main_obmalloc = 0,
            .allow_fork = 0,
            .allow_exec = 0,
            .allow_threads = 1,
            .allow_daemon_threads = 0,
            .check_multi_interp_extensions = 1,
            .gil = PyInterpreterConfig_OWN_GIL,
        };
        PyStatus status = Py_NewInterpreterFromConfig(&ts, &config);

        if (PyStatus_Exception(status)) {
            *why = status.err_msg ? status.err_msg : *why;
            return NULL;
        }
        return ts;
    }
#else
    (void)own_gil;
#endif
    return Py_NewInterpreter();
}

/*
 * End the sub-interpreter whose thread state `ts` is current (its GIL
 * held), leaving this thread with no thread state and no GIL.  Since
 * 3.12 Py_EndInterpreter releases the GIL itself; 3.11 keeps it, so
 * the thread passes through its main thread state `back` to let go.
 */
static void
end_interpreter(PyThreadState *ts, PyThreadState *back)
{
    Py_EndInterpreter(ts);
#if PY_VERSION_HEX < 0x030C0000
    PyThreadState_Swap(back);
    PyEval_SaveThread();
#else
    (void)back;
#endif
}

/*
 * Attach `slot` to mod_python's interpreter of its name (mod_python
 * makes it if new) and build apwsgi's state there, in the calling
 * thread's own thread state for it.  0, or -1 after logging; a thread
 * state made before a failure stays in mod_python's interpreter,
 * unused.  Called with create_mutex held and no GIL.
 */
static int
interp_borrow(interp_slot_t *slot, request_rec *r)
{
    apwsgi_interp_t *in = &slot->pub;
    PyThreadState *ts = NULL;
    apwsgi_state_t *st = NULL;

    /* A slot that replaces another knows its interpreter already. */
    if (!in->interp) {
        in->interp = apwsgi_modpython_interp(r, in->name, &table[0]->pub);
        slot->settle_at = apr_time_now() + BORROW_SETTLE;
    }
    if (!in->interp) {
        return -1;
    }
    slot->borrowed = 1;
    ts = apwsgi_tstate_enter(in);
    if (!ts) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, APR_ENOMEM, r,
            APWSGI_APLOGNO(00610) "mod_python's interpreter '%s' for %s: "
                                  "no memory for a thread state",
            in->name, r->uri);
        return -1;
    }
    /* mod_python owns this Python: its sys.stdout, sys.stderr and
     * logging are left as they are. */
    st = apwsgi_state_new(state_pool, r->server, 0);
    if (!st) {
        apwsgi_log_exception(r, NULL, APWSGI_APLOGNO(00611),
                             apr_psprintf(r->pool,
                                          "mod_python's interpreter '%s' "
                                          "for %s could not be set up:",
                                          in->name, r->uri));
    }
    apwsgi_tstate_leave(ts);
    if (!st) {
        return -1;
    }
    in->state = st;
    apwsgi_metrics_interp_event(in->name, APWSGI_INTERP_CREATED);
    ap_log_rerror(
        APLOG_MARK, APLOG_INFO, 0, r,
        APWSGI_APLOGNO(00612) "interpreter '%s' for %s is mod_python's",
        in->name, r->uri);
    return 0;
}

/*
 * mod_python makes a new interpreter for every request that asks for a
 * name it has not stored yet, and keeps the one it stores last: where
 * requests race a name's first use, each may get its own (mod_python's
 * own race; its later requests all go to the kept one).  apwsgi keeps
 * what it was given, so once every such making is surely over it asks
 * mod_python once more; if the name now has another interpreter, the
 * name moves there, as a reload moves it, except that the old one is
 * not ended (mod_python made it).  Returns the slot to use, with the
 * request counted in it.  Called by one thread per slot; no GIL held.
 */
static interp_slot_t *
borrow_settle(request_rec *r, const apwsgi_config_t *cfg, interp_slot_t *slot)
{
    PyInterpreterState *kept = NULL;
    apwsgi_interp_t *fresh = NULL;
    apr_uint32_t outcome = SETTLE_PENDING; /* without an answer: later */

    apr_thread_mutex_lock(create_mutex);
    kept = apwsgi_modpython_interp(r, slot->pub.name, &table[0]->pub);
    apr_thread_mutex_unlock(create_mutex);
    if (kept == slot->pub.interp) {
        outcome = SETTLE_DONE;
    }
    else if (kept && (fresh = apwsgi_interp_add_hidden(&slot->pub))) {
        interp_slot_t *next = (interp_slot_t *)fresh;

        fresh->interp = kept;
        next->may_end = 0;
        next->settle = SETTLE_DONE;
        if (apwsgi_interp_ensure_created(fresh, r, cfg) < 0) {
            apwsgi_interp_release(fresh, 0);
            fresh = NULL;
        }
    }
    if (fresh) {
        apwsgi_interp_swap(&slot->pub, fresh);
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, r,
            APWSGI_APLOGNO(00613) "mod_python made interpreter '%s' more "
                                  "than once (requests raced its first "
                                  "use): from %s on, WSGI applications of "
                                  "that name run in the one mod_python kept",
            slot->pub.name, r->uri);
        outcome = SETTLE_DONE;
    }
    apr_atomic_set32(&slot->settle, outcome);
    if (!fresh) {
        return slot;
    }
    apwsgi_interp_release(&slot->pub, 0);
    return (interp_slot_t *)fresh;
}

/*
 * Create the sub-interpreter for `slot`: a new interpreter, its
 * state, and the calling thread's thread state for it (in the second
 * mode, mod_python's interpreter instead).  0, or -1 after logging.
 * Called with create_mutex held and no GIL.
 */
static int
interp_create(interp_slot_t *slot, request_rec *r, const apwsgi_config_t *cfg)
{
    apwsgi_interp_t *in = &slot->pub;
    PyThreadState *main_ts = NULL;
    PyThreadState *ts = NULL;
    apwsgi_state_t *st = NULL;
    const char *why = NULL;

    if (apwsgi_modpython_active()) {
        return interp_borrow(slot, r);
    }
    main_ts = apwsgi_tstate_enter(&table[0]->pub);
    if (!main_ts) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, APR_ENOMEM, r,
                      APWSGI_APLOGNO(00019) "interpreter '%s' for %s: no "
                                            "memory for a thread state",
                      in->name, r->uri);
        return -1;
    }
    in->own_gil = cfg->own_gil && PY_VERSION_HEX >= 0x030C0000;
    ts = new_interpreter(in->own_gil, &why);
    if (!ts) {
        /* CPython leaves the caller's thread state current. */
        apwsgi_tstate_leave(main_ts);
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            APWSGI_APLOGNO(00010) "interpreter '%s' for %s could not "
                                  "be created: %s",
            in->name, r->uri, why);
        return -1;
    }
    st = apwsgi_state_new(state_pool, r->server, 1);
    if (!st || apwsgi_tstate_adopt(in, ts) < 0) {
        apwsgi_log_exception(r, NULL, APWSGI_APLOGNO(00020),
                             apr_psprintf(r->pool,
                                          "interpreter '%s' for %s could "
                                          "not be set up:",
                                          in->name, r->uri));
        if (st) {
            apwsgi_state_free(st);
        }
        end_interpreter(ts, main_ts);
        return -1;
    }
    in->interp = PyThreadState_GetInterpreter(ts);
    in->state = st;
    slot->gil_requested = cfg->own_gil;
    apwsgi_metrics_interp_event(in->name, APWSGI_INTERP_CREATED);
    PyEval_SaveThread();
    if (cfg->own_gil && !in->own_gil) {
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, r,
            APWSGI_APLOGNO(00014) "mod_wsgi.gil own needs Python "
                                  "3.12 or newer: interpreter '%s' "
                                  "(for %s) shares the GIL of Python "
                                  "%s",
            in->name, r->uri, PY_VERSION);
    }
    ap_log_rerror(
        APLOG_MARK, APLOG_INFO, 0, r,
        APWSGI_APLOGNO(00006) "created interpreter '%s' (%s GIL) for "
                              "%s",
        in->name, in->own_gil ? "own" : "shared", r->uri);
    return 0;
}

/* Run the current interpreter's atexit handlers now, for one that
 * cannot be ended.  GIL held. */
void
apwsgi_interp_run_atexit(void)
{
    PyObject *atexit = PyImport_ImportModule("atexit");
    PyObject *res = NULL;

    if (atexit) {
        res = PyObject_CallMethod(atexit, "_run_exitfuncs", NULL);
    }
    if (!res) {
        apwsgi_log_exception(NULL, main_server, APWSGI_APLOGNO(00022),
                             "atexit handlers of an interpreter failed:");
    }
    Py_XDECREF(res);
    Py_XDECREF(atexit);
}

/* Make the slot free for reuse.  table_mutex held. */
static void
slot_free(interp_slot_t *slot)
{
    apwsgi_tstate_forget(&slot->pub);
    free(slot->name_buf);
    memset(slot, 0, sizeof(*slot));
}

/* Free the slot of an interpreter that ended or is left alive.  No
 * lock held. */
static void
slot_release(interp_slot_t *slot)
{
    apr_thread_mutex_lock(table_mutex);
    slot_free(slot);
    apr_thread_mutex_unlock(table_mutex);
}

/* APW00025's text: name, why, seconds waited, the threads left. */
#define LEFT_ALIVE                                                            \
    "interpreter '%s' (%s) is not ended: threads of the application did "     \
    "not end within %.1f s of being asked to, so it stays, and Python is "    \
    "not finalised at exit; its atexit handlers ran.  Threads left:\n%s"

/*
 * The interpreter of `slot` is left alive: its threads still run.
 * Its atexit handlers run now (nothing else would run them), and the
 * log says once which threads kept it.  Its thread state `ts` current
 * on entry; no GIL on return.
 */
static void
interp_leave_alive(interp_slot_t *slot, PyThreadState *ts,
                   const apwsgi_threads_left_t *left)
{
    apr_pool_t *tmp = NULL;
    const char *threads = NULL;

    if (!left->daemon && apr_pool_create(&tmp, NULL) == APR_SUCCESS) {
        threads = apwsgi_threads_describe(tmp);
    }
    apwsgi_interp_run_atexit();
    apwsgi_tstate_leave(ts);
    stranded = 1;
    if (left->daemon) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, main_server,
                     APWSGI_APLOGNO(00007) "interpreter '%s' (%s) still runs "
                                           "daemon threads: its atexit "
                                           "handlers ran, but it is not ended",
                     slot->pub.name, slot->why);
    }
    else {
        double waited =
            (double)(apwsgi_now() - slot->drain_from) / APR_USEC_PER_SEC;
        char brief[512];
        const char *text = brief;

        /* Without memory for the list of threads, the line without it. */
        if (tmp) {
            text = apr_psprintf(tmp, LEFT_ALIVE, slot->pub.name, slot->why,
                                waited, threads);
        }
        else {
            apr_snprintf(brief, sizeof(brief), LEFT_ALIVE, slot->pub.name,
                         slot->why, waited, "(unknown)");
        }
        apwsgi_log_text(main_server, APLOG_WARNING, APWSGI_APLOGNO(00025),
                        text);
    }
    if (tmp) {
        apr_pool_destroy(tmp);
    }
}

/*
 * One try to end the interpreter of `slot`, which no request uses and
 * no lookup finds.  The first try asks the application's threads to
 * stop (apwsgi_threads_stop) and gives them until `until`.  Once none
 * is left, the atexit handlers run and the interpreter is ended
 * (END_DONE).  While threads remain, the interpreter is kept for a
 * later try (END_WAIT), until their time is up; then, or at once where
 * daemon threads run (CPython cannot end it: it would abort), it is
 * left alive (END_LEFT).  The slot is freed unless END_WAIT.
 *
 * Nothing here waits for the application while holding a lock:
 * create_mutex is taken only for the last step, with nothing left in
 * the interpreter that Py_EndInterpreter would wait for, so creating
 * interpreters and serving requests go on meanwhile.  No GIL, no lock
 * held; the reaper, or the child's exit once the reaper stopped.
 */
static int
interp_end(interp_slot_t *slot, apr_time_t until)
{
    PyThreadState *main_ts = apwsgi_tstate_get(&table[0]->pub);
    PyThreadState *ts = main_ts ? apwsgi_tstate_enter(&slot->pub) : NULL;
    apwsgi_threads_left_t left;

    if (!ts) {
        /* No memory for a thread state: the interpreter stays. */
        stranded = 1;
        slot_release(slot);
        return END_LEFT;
    }
    if (!slot->draining) {
        slot->draining = 1;
        slot->drain_from = apwsgi_now();
        slot->drain_until = until;
        apwsgi_tstate_delete(&slot->pub, ts);
        apwsgi_threads_stop(main_server);
    }
    until = until < slot->drain_until ? until : slot->drain_until;
    apwsgi_threads_left(&left);
    if (left.others && !left.daemon && apwsgi_now() < until) {
        apwsgi_tstate_leave(ts);
        return END_WAIT;
    }
    if (!left.others) {
        apwsgi_interp_run_atexit();
        apwsgi_threads_left(&left); /* a handler may start a thread */
    }
    if (left.others) {
        interp_leave_alive(slot, ts, &left);
        apwsgi_metrics_interp_event(slot->pub.name, APWSGI_INTERP_ENDED);
        slot_release(slot);
        return END_LEFT;
    }
    /* create_mutex comes before any GIL. */
    apwsgi_tstate_leave(ts);
    apr_thread_mutex_lock(create_mutex);
    ts = apwsgi_tstate_enter(&slot->pub);
    apwsgi_state_free(slot->pub.state);
    end_interpreter(ts, main_ts);
    apr_thread_mutex_unlock(create_mutex);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, main_server,
                 APWSGI_APLOGNO(00017) "ended interpreter '%s' (%s)",
                 slot->pub.name, slot->why);
    apwsgi_metrics_interp_event(slot->pub.name, APWSGI_INTERP_ENDED);
    slot_release(slot);
    return END_DONE;
}

/* The live interpreter named `name`, or NULL.  table_mutex held. */
static interp_slot_t *
table_find(const char *name)
{
    for (int i = 0; i < table_count; i++) {
        interp_slot_t *slot = table[i];

        if (slot->used && slot->visible && strcmp(slot->pub.name, name) == 0) {
            return slot;
        }
    }
    return NULL;
}

/* How many named interpreters exist now (any state).  table_mutex
 * held. */
static int
table_named_count(void)
{
    int n = 0;

    for (int i = 1; i < table_count; i++) {
        n += table[i]->used;
    }
    return n;
}

/* A new slot named `name`, reusing a free one; NULL when the table is
 * full or without memory.  table_mutex held. */
static interp_slot_t *
table_add(const char *name, int visible)
{
    interp_slot_t *slot = NULL;
    int i = 0;

    while (i < table_count && table[i]->used) {
        i++;
    }
    if (i == table_count) {
        if (table_count >= APWSGI_MAX_SLOTS) {
            return NULL;
        }
        table[table_count++] = apr_pcalloc(table_pool, sizeof(*slot));
    }
    slot = table[i];
    slot->name_buf = strdup(name);
    if (!slot->name_buf) {
        return NULL;
    }
    slot->pub.name = slot->name_buf;
    slot->pub.index = i;
    slot->pub.generation = ++generation_counter;
    slot->used = 1;
    slot->visible = visible;
    slot->last_used = apr_time_now();
    return slot;
}

/*
 * A new visible slot for `name` unless the bound is reached.  NULL
 * with *full set past mod_wsgi.max_interpreters.  table_mutex held.
 */
static interp_slot_t *
table_add_bounded(const char *name, const apwsgi_config_t *cfg, int *full)
{
    if (table_named_count() >= cfg->max_interpreters) {
        *full = 1;
        return NULL;
    }
    return table_add(name, 1);
}

/*
 * The slot for this request: the interpreter `name`, or the least busy
 * member of the pool of that name (an idle member first, then a member
 * not created yet, then the least busy one).  NULL with *full set when
 * a new one would pass the bound.  table_mutex held.
 */
static interp_slot_t *
table_choose(request_rec *r, const apwsgi_config_t *cfg, const char *name,
             int *full)
{
    interp_slot_t *best = NULL;
    const char *missing = NULL;
    interp_slot_t *slot = NULL;

    if (cfg->pool_size <= 1) {
        slot = table_find(name);
        return slot ? slot : table_add_bounded(name, cfg, full);
    }
    for (int i = 0; i < cfg->pool_size; i++) {
        const char *member = apr_psprintf(r->pool, "%s#%d", name, i);

        slot = table_find(member);
        if (!slot) {
            missing = missing ? missing : member;
        }
        else if (!best || slot->pub.active < best->pub.active) {
            best = slot;
        }
    }
    if (best && (best->pub.active == 0 || !missing)) {
        return best;
    }
    slot = table_add_bounded(missing, cfg, full);
    if (!slot && best) {
        *full = 0; /* a busy member beats a 503 */
        return best;
    }
    return slot;
}

void
apwsgi_interp_release(apwsgi_interp_t *in, int empty)
{
    interp_slot_t *slot = (interp_slot_t *)in;
    int wake = 0;

    /* mod_python's interpreters stay, loaded or not. */
    empty = empty && in->index != 0 && !slot->borrowed;
    if (in->index != 0 && in->state && (slot->may_end || empty)) {
        apwsgi_tstate_rebind_main();
    }
    apr_thread_mutex_lock(table_mutex);
    apr_atomic_dec32(&in->active);
    slot->last_used = apr_time_now();
    if (empty && !slot->failed && !slot->retired) {
        slot->visible = 0;
        slot->retired = 1;
        apwsgi_metrics_interp_event(in->name, APWSGI_INTERP_RETIRED);
    }
    if (in->active == 0 && !slot->ending) {
        if (slot->failed) {
            slot_free(slot);
        }
        else if (slot->retired) {
            wake = 1;
        }
    }
    apr_thread_mutex_unlock(table_mutex);
    if (wake) {
        apwsgi_reaper_wake();
    }
}

int
apwsgi_interp_hold(apwsgi_interp_t *in, unsigned long generation)
{
    interp_slot_t *slot = (interp_slot_t *)in;
    int rc = -1;

    apr_thread_mutex_lock(table_mutex);
    if (slot->used && in->generation == generation && !slot->ending
        && !slot->failed
        && apr_atomic_casptr((volatile void **)&in->state, NULL, NULL)) {
        apr_atomic_inc32(&in->active);
        rc = 0;
    }
    apr_thread_mutex_unlock(table_mutex);
    return rc;
}

int
apwsgi_interp_ensure_created(apwsgi_interp_t *in, request_rec *r,
                             const apwsgi_config_t *cfg)
{
    interp_slot_t *slot = (interp_slot_t *)in;
    int rc = 0;

    if (apr_atomic_casptr((volatile void **)&slot->pub.state, NULL, NULL)) {
        return 0;
    }
    apr_thread_mutex_lock(create_mutex);
    if (!slot->pub.state) {
        rc = slot->failed ? -1 : interp_create(slot, r, cfg);
    }
    apr_thread_mutex_unlock(create_mutex);
    if (rc < 0) {
        apr_thread_mutex_lock(table_mutex);
        slot->failed = 1;
        slot->visible = 0;
        apr_thread_mutex_unlock(table_mutex);
    }
    return rc;
}

apwsgi_interp_t *
apwsgi_interp_add_hidden(apwsgi_interp_t *old)
{
    interp_slot_t *fresh = NULL;

    apr_thread_mutex_lock(table_mutex);
    fresh = table_add(old->name, 0);
    if (fresh) {
        apr_atomic_inc32(&fresh->pub.active);
        fresh->idle_timeout = ((interp_slot_t *)old)->idle_timeout;
        fresh->may_end = 1;
    }
    apr_thread_mutex_unlock(table_mutex);
    return fresh ? &fresh->pub : NULL;
}

void
apwsgi_interp_swap(apwsgi_interp_t *old, apwsgi_interp_t *fresh)
{
    interp_slot_t *prev = (interp_slot_t *)old;

    apr_thread_mutex_lock(table_mutex);
    prev->visible = 0;
    prev->retired = 1;
    ((interp_slot_t *)fresh)->visible = 1;
    apr_thread_mutex_unlock(table_mutex);
    apwsgi_metrics_interp_event(old->name, APWSGI_INTERP_RETIRED);
}

/* Note once per interpreter that a request asked for a GIL mode that
 * is neither the one it has nor the one asked for when it was made (on
 * 3.11 "own" gives shared, which APW00014 reported).  No lock held. */
static void
note_gil_mode(request_rec *r, const apwsgi_config_t *cfg, interp_slot_t *slot)
{
    int note = 0;

    if (cfg->own_gil == slot->pub.own_gil
        || cfg->own_gil == slot->gil_requested || slot->gil_noted) {
        return;
    }
    apr_thread_mutex_lock(table_mutex);
    note = !slot->gil_noted;
    slot->gil_noted = 1;
    apr_thread_mutex_unlock(table_mutex);
    if (note) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            APWSGI_APLOGNO(00013) "interpreter '%s' keeps the %s GIL "
                                  "it was created with; %s asked for "
                                  "mod_wsgi.gil %s",
            slot->pub.name, slot->pub.own_gil ? "own" : "shared", r->uri,
            cfg->own_gil ? "own" : "shared");
    }
}

apwsgi_interp_t *
apwsgi_interp_acquire(request_rec *r, const apwsgi_config_t *cfg, int *status)
{
    interp_slot_t *slot = NULL;
    const char *name = cfg->interpreter;
    int full = 0;

    *status = HTTP_INTERNAL_SERVER_ERROR;
    if (apwsgi_modpython_active()) {
        if (apwsgi_modpython_refuse(r, cfg) != OK) {
            return NULL;
        }
        /* mod_python's name of the main interpreter is "" here. */
        if (strcmp(name, APWSGI_MODPYTHON_MAIN) == 0) {
            name = "";
        }
    }
    apr_thread_mutex_lock(table_mutex);
    slot = table_choose(r, cfg, name, &full);
    if (slot) {
        apr_atomic_inc32(&slot->pub.active);
        slot->idle_timeout = cfg->idle_timeout;
        slot->may_end |= cfg->reload || cfg->idle_timeout > 0;
    }
    apr_thread_mutex_unlock(table_mutex);
    if (!slot) {
        *status = full ? HTTP_SERVICE_UNAVAILABLE : *status;
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            APWSGI_APLOGNO(00012) "interpreter '%s' for %s not "
                                  "created: this process already has "
                                  "%d named interpreters "
                                  "(mod_wsgi.max_interpreters)",
            name, r->uri, cfg->max_interpreters);
        return NULL;
    }
    if (apwsgi_interp_ensure_created(&slot->pub, r, cfg) < 0) {
        apwsgi_interp_release(&slot->pub, 0);
        return NULL;
    }
    if (slot->borrowed && apr_atomic_read32(&slot->settle) == SETTLE_PENDING
        && apr_time_now() >= slot->settle_at
        && apr_atomic_cas32(&slot->settle, SETTLE_CHECKING, SETTLE_PENDING)
               == SETTLE_PENDING) {
        slot = borrow_settle(r, cfg, slot);
    }
    if (slot->pub.index != 0) {
        note_gil_mode(r, cfg, slot);
    }
    return &slot->pub;
}

/* End retired interpreters nobody uses, and retire those idle past
 * their mod_wsgi.idle_timeout; try again those whose threads are
 * still ending.  Reaper thread; no lock held. */
static void
reap(void)
{
    interp_slot_t *victims[APWSGI_MAX_SLOTS];
    apr_time_t now = apr_time_now();
    int n = 0;

    apr_thread_mutex_lock(table_mutex);
    for (int i = 1; i < table_count; i++) {
        interp_slot_t *slot = table[i];

        if (!slot->used || !slot->pub.state || slot->pub.active
            || slot->borrowed) {
            continue;
        }
        if (slot->ending) {
            victims[n++] = slot; /* its threads are still ending */
            continue;
        }
        if (slot->visible && slot->idle_timeout > 0
            && now - slot->last_used >= slot->idle_timeout) {
            slot->visible = 0;
            slot->retired = 1;
            slot->why = "idle past mod_wsgi.idle_timeout";
            apwsgi_metrics_interp_event(slot->pub.name, APWSGI_INTERP_EVICTED);
        }
        if (slot->retired) {
            slot->ending = 1;
            slot->why = slot->why ? slot->why
                                  : "replaced, or left without an "
                                    "application";
            victims[n++] = slot;
        }
    }
    apr_thread_mutex_unlock(table_mutex);
    for (int i = 0; i < n; i++) {
        interp_end(victims[i], apwsgi_now() + apwsgi_threads_bound());
    }
#ifdef __GLIBC__
    /* An ended interpreter's memory is scattered over the malloc arenas
     * of every thread that served it; glibc gives free pages in the
     * middle of a heap back only when asked. */
    if (n > 0) {
        malloc_trim(0);
    }
#endif
}

int
apwsgi_interp_table_init(apr_pool_t *pchild, server_rec *s,
                         PyThreadState *main_ts, int own_stdio)
{
    interp_slot_t *main_slot = NULL;

    main_server = s;
    own_python = own_stdio;
    if (apr_pool_create(&table_pool, pchild) != APR_SUCCESS
        || !(state_pool = apwsgi_state_parent_create(pchild))
        || apwsgi_mutex_create(&table_mutex, pchild) < 0
        || apwsgi_mutex_create(&create_mutex, pchild) < 0
        || apwsgi_reaper_init(pchild) < 0 || !(main_slot = table_add("", 1))
        || apwsgi_tstate_init(pchild, &main_slot->pub) < 0) {
        return -1;
    }
    main_slot->pub.interp = PyThreadState_GetInterpreter(main_ts);
    main_slot->pub.state = apwsgi_state_new(state_pool, s, own_stdio);
    if (!main_slot->pub.state
        || apwsgi_tstate_adopt(&main_slot->pub, main_ts) < 0) {
        return -1;
    }
    apwsgi_metrics_interp_event("", APWSGI_INTERP_CREATED);
    return 0;
}

int
apwsgi_interp_reaper_start(apr_pool_t *pchild)
{
    return apwsgi_reaper_start(pchild, reap);
}

/*
 * Ask the main interpreter's threads to stop and wait until `until`
 * for its non-daemon ones (Py_FinalizeEx would wait for them without
 * a bound).  0 when none is left, 1 when some still run (logged with
 * their stacks).  Main GIL held, released while waiting.
 */
static int
main_threads_end(apr_time_t until)
{
    apwsgi_threads_left_t left;
    apr_time_t from = apwsgi_now();
    apr_pool_t *tmp = NULL;

    apwsgi_threads_stop(main_server);
    for (;;) {
        apwsgi_threads_left(&left);
        if (!left.nondaemon || apwsgi_now() >= until) {
            break;
        }
        Py_BEGIN_ALLOW_THREADS
        apr_sleep(EXIT_POLL);
        Py_END_ALLOW_THREADS
    }
    if (!left.nondaemon) {
        return 0;
    }
    if (apr_pool_create(&tmp, NULL) == APR_SUCCESS) {
        apwsgi_log_text(
            main_server, APLOG_WARNING, APWSGI_APLOGNO(00027),
            apr_psprintf(tmp,
                         "threads of the main interpreter did not end "
                         "within %.1f s of being asked to as the process "
                         "stops, so Python is not finalised (its atexit "
                         "handlers run).  Threads left:\n%s",
                         (double)(apwsgi_now() - from) / APR_USEC_PER_SEC,
                         apwsgi_threads_describe(tmp)));
        apr_pool_destroy(tmp);
    }
    return 1;
}

int
apwsgi_interp_shutdown(apr_time_t until)
{
    apr_uint32_t active = 0;
    PyThreadState *ts = NULL;
    int waiting = 0;

    apwsgi_reaper_stop();
    for (int i = 0; i < table_count; i++) {
        active +=
            table[i]->used ? apr_atomic_read32(&table[i]->pub.active) : 0;
    }
    if (active) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main_server,
                     APWSGI_APLOGNO(00003) "process exiting with %u requests "
                                           "still running: Python is left as "
                                           "it is",
                     active);
        return -1;
    }
    /* Every interpreter's threads are asked to stop in the first round,
     * then all are waited for together.  mod_python's interpreters, and
     * apwsgi's state in them, stay: mod_python still runs its own
     * clean-ups there after this. */
    do {
        waiting = 0;
        for (int i = table_count - 1; i > 0; i--) {
            interp_slot_t *slot = table[i];

            if (!slot->used || !slot->pub.state || slot->borrowed) {
                continue;
            }
            if (!slot->ending) {
                slot->ending = 1;
                slot->why = "process exit";
            }
            waiting += interp_end(slot, until) == END_WAIT;
        }
        if (waiting) {
            apr_sleep(EXIT_POLL);
        }
    } while (waiting);
    /* Python is finalised only where this module started it, and only
     * with no interpreter left alive. */
    if (own_python && !stranded
        && (ts = apwsgi_tstate_enter(&table[0]->pub))) {
        stranded = main_threads_end(until);
        apwsgi_tstate_leave(ts);
    }
    return stranded ? 1 : 0;
}

void
apwsgi_interp_table_free(void)
{
    for (int i = 0; i < table_count; i++) {
        slot_free(table[i]);
    }
    table_count = 0;
}

apwsgi_interp_t *
apwsgi_interp_main(void)
{
    return &table[0]->pub;
}

void
apwsgi_interp_main_clear(void)
{
    apwsgi_state_free(table[0]->pub.state);
    table[0]->pub.state = NULL;
}
