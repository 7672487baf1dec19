/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_tstate.c: the per-thread cache of thread states, and the
 * record of every thread state the module made.
 *
 * Locking: `made_mutex` guards the records.  It is taken after
 * apwsgi_interp.c's table_mutex when both are held, and nothing here
 * waits for a GIL while holding it.
 */
#include "apwsgi_tstate.h"

/* A thread state this module made, so that it can delete exactly its
 * own and never one of a thread the application started. */
typedef struct tstate_node {
    PyThreadState *tstate;
    struct tstate_node *next;
} tstate_node_t;

/* One entry of a thread's cache: valid while `generation` matches. */
typedef struct {
    PyThreadState *tstate;
    unsigned long generation;
} tls_entry_t;

static apwsgi_interp_t *main_interp;
static apr_threadkey_t *tls_key;
static apr_thread_mutex_t *made_mutex;
static tstate_node_t *made[APWSGI_MAX_SLOTS]; /* by interpreter index */

static _Thread_local tls_entry_t *tls_cache;
static _Thread_local int tls_size;

/* Frees a thread's cache when the thread exits. */
static void
tls_free(void *cache)
{
    free(cache);
}

int
apwsgi_tstate_init(apr_pool_t *pchild, apwsgi_interp_t *main_in)
{
    apr_status_t rv = APR_SUCCESS;

    main_interp = main_in;
    if (apwsgi_mutex_create(&made_mutex, pchild) < 0) {
        return -1;
    }
    rv = apr_threadkey_private_create(&tls_key, tls_free, pchild);
    return rv == APR_SUCCESS ? 0 : -1;
}

/* This thread's cache entry for slot `index`, or NULL without memory.
 * No GIL needed. */
static tls_entry_t *
tls_entry(int index)
{
    if (index >= tls_size) {
        int size = index + 8;
        tls_entry_t *cache = realloc(tls_cache, size * sizeof(*cache));

        if (!cache) {
            return NULL;
        }
        memset(cache + tls_size, 0, (size - tls_size) * sizeof(*cache));
        tls_cache = cache;
        tls_size = size;
        apr_threadkey_private_set(cache, tls_key);
    }
    return &tls_cache[index];
}

int
apwsgi_tstate_adopt(apwsgi_interp_t *in, PyThreadState *ts)
{
    tls_entry_t *entry = tls_entry(in->index);
    tstate_node_t *node = malloc(sizeof(*node));

    if (!entry || !node) {
        free(node);
        return -1;
    }
    entry->tstate = ts;
    entry->generation = in->generation;
    node->tstate = ts;
    apr_thread_mutex_lock(made_mutex);
    node->next = made[in->index];
    made[in->index] = node;
    apr_thread_mutex_unlock(made_mutex);
    return 0;
}

PyThreadState *
apwsgi_tstate_get(apwsgi_interp_t *in)
{
    tls_entry_t *entry = tls_entry(in->index);
    PyThreadState *ts = NULL;

    if (!entry) {
        return NULL;
    }
    if (entry->tstate && entry->generation == in->generation) {
        return entry->tstate;
    }
    ts = PyThreadState_New(in->interp);
    if (ts && apwsgi_tstate_adopt(in, ts) < 0) {
        PyThreadState_Delete(ts);
        ts = NULL;
    }
    return ts;
}

PyThreadState *
apwsgi_tstate_enter(apwsgi_interp_t *in)
{
    PyThreadState *ts = NULL;

    if (in != main_interp && !apwsgi_tstate_get(main_interp)) {
        return NULL;
    }
    ts = apwsgi_tstate_get(in);
    if (ts) {
        PyEval_RestoreThread(ts);
    }
    return ts;
}

void
apwsgi_tstate_leave(PyThreadState *ts)
{
    /* PyEval_SaveThread returns the thread state we already hold. */
    (void)ts;
    PyEval_SaveThread();
}

int
apwsgi_tstate_interrupted_python(void)
{
    /* The thread state holding a GIL: the process's current one
     * before 3.12, the calling thread's own since. */
#if PY_VERSION_HEX >= 0x030D0000
    PyThreadState *ts = PyThreadState_GetUnchecked();
#else
    PyThreadState *ts = _PyThreadState_UncheckedGet();
#endif

    return ts && ts->thread_id == PyThread_get_thread_ident();
}

void
apwsgi_tstate_rebind_main(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyThreadState *main_ts = apwsgi_tstate_get(main_interp);

    if (main_ts) {
        PyEval_RestoreThread(main_ts);
        PyEval_SaveThread();
    }
#endif
}

/* Take the records of `in` out of the table.  No GIL needed. */
static tstate_node_t *
take_records(apwsgi_interp_t *in)
{
    tstate_node_t *node = NULL;

    apr_thread_mutex_lock(made_mutex);
    node = made[in->index];
    made[in->index] = NULL;
    apr_thread_mutex_unlock(made_mutex);
    return node;
}

void
apwsgi_tstate_delete(apwsgi_interp_t *in, PyThreadState *keep)
{
    tstate_node_t *node = take_records(in);

    while (node) {
        tstate_node_t *next = node->next;

        if (node->tstate != keep) {
            PyThreadState_Clear(node->tstate);
            PyThreadState_Delete(node->tstate);
        }
        free(node);
        node = next;
    }
}

void
apwsgi_tstate_forget(apwsgi_interp_t *in)
{
    tstate_node_t *node = made_mutex ? take_records(in) : NULL;

    while (node) {
        tstate_node_t *next = node->next;

        free(node);
        node = next;
    }
}
