/*
 * apwsgi_interp.c: Python's life in a child process, the interpreter
 * table, and the per-thread cache of thread states.
 *
 * Locking: `table_mutex` guards the table, its pool and each
 * interpreter's list of thread states; `create_mutex` serialises the
 * creation of interpreters (and guards `state_pool`).  A thread never
 * waits for a GIL while holding either mutex, and takes create_mutex
 * before any GIL, so the three cannot deadlock.
 */
#include "apwsgi_interp.h"
#include "apwsgi_state.h"
#include "apwsgi_log.h"
#include "apr_atomic.h"
#include "apr_portable.h"
#include "apr_thread_proc.h"

#ifndef APWSGI_PYTHON_HOME
#error "APWSGI_PYTHON_HOME must name the prefix of the Python built against"
#endif
#ifndef APWSGI_PYTHON_PROGRAM
#error "APWSGI_PYTHON_PROGRAM must name that Python's executable"
#endif

/* Hard ceiling on interpreter names per process. */
#define APWSGI_MAX_SLOTS 1024

/* A thread state this module made, so that it can delete exactly its
 * own at exit and never one of a thread the application started. */
typedef struct tstate_node {
    PyThreadState *tstate;
    struct tstate_node *next;
} tstate_node_t;

typedef struct {
    apwsgi_interp_t pub;
    tstate_node_t *tstates; /* guarded by table_mutex */
} interp_slot_t;

/* One entry of a thread's cache: valid while `generation` matches. */
typedef struct {
    PyThreadState *tstate;
    unsigned long generation;
} tls_entry_t;

static interp_slot_t *table[APWSGI_MAX_SLOTS];
static int table_count;
static unsigned long generation_counter;
static apr_pool_t *table_pool;
static apr_pool_t *state_pool;
static apr_thread_mutex_t *table_mutex;
static apr_thread_mutex_t *create_mutex;
static apr_threadkey_t *tls_key;
static server_rec *main_server;
static int python_ready;
static int python_owned;

static _Thread_local tls_entry_t *tls_cache;
static _Thread_local int tls_size;

/* Frees a thread's cache when the thread exits (registered with
 * apr_threadkey, so no pool outlives it). */
static void
tls_free(void *cache)
{
    free(cache);
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

/* Record `ts` as this thread's thread state for `in`.  0, or -1
 * without memory.  No GIL needed. */
static int
tls_put(apwsgi_interp_t *in, PyThreadState *ts)
{
    interp_slot_t *slot = (interp_slot_t *)in;
    tls_entry_t *entry = tls_entry(in->index);
    tstate_node_t *node = malloc(sizeof(*node));

    if (!entry || !node) {
        free(node);
        return -1;
    }
    entry->tstate = ts;
    entry->generation = in->generation;
    node->tstate = ts;
    apr_thread_mutex_lock(table_mutex);
    node->next = slot->tstates;
    slot->tstates = node;
    apr_thread_mutex_unlock(table_mutex);
    return 0;
}

/* This thread's thread state for `in`, made on first use; NULL when
 * none can be made.  No GIL needed (PyThreadState_New allows that). */
static PyThreadState *
thread_state(apwsgi_interp_t *in)
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
    if (ts && tls_put(in, ts) < 0) {
        PyThreadState_Delete(ts);
        ts = NULL;
    }
    return ts;
}

PyThreadState *
apwsgi_interp_enter(apwsgi_interp_t *in)
{
    PyThreadState *ts = NULL;

    /* A thread's first thread state is the one PyGILState_Ensure()
     * finds, so make it the main interpreter's: extensions that call
     * back into Python from their own threads expect that. */
    if (in->index != 0 && !thread_state(&table[0]->pub)) {
        return NULL;
    }
    ts = thread_state(in);
    if (ts) {
        PyEval_RestoreThread(ts);
    }
    return ts;
}

void
apwsgi_interp_leave(PyThreadState *ts)
{
    /* PyEval_SaveThread returns the thread state we already hold. */
    (void)ts;
    PyEval_SaveThread();
}

/*
 * End the sub-interpreter whose thread state `ts` is current (GIL
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
 * Create the sub-interpreter for `in`: a new interpreter, its state,
 * and the calling thread's thread state for it.  0, or -1 after
 * logging.  Called with create_mutex held and no GIL.
 */
static int
interp_create(apwsgi_interp_t *in, request_rec *r)
{
    PyThreadState *main_ts = apwsgi_interp_enter(&table[0]->pub);
    PyThreadState *ts = NULL;
    apwsgi_state_t *st = NULL;

    if (!main_ts) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, APR_ENOMEM, r,
                      APWSGI_APLOGNO(00010) "interpreter '%s' for %s: no "
                      "memory for a thread state", in->name, r->uri);
        return -1;
    }
    ts = Py_NewInterpreter();
    if (!ts) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APWSGI_APLOGNO(00010) "interpreter '%s' for %s: "
                      "Py_NewInterpreter() failed", in->name, r->uri);
        PyThreadState_Swap(main_ts);
        apwsgi_interp_leave(main_ts);
        return -1;
    }
    st = apwsgi_state_new(state_pool, r->server, 1);
    if (!st || tls_put(in, ts) < 0) {
        apwsgi_log_exception(r, NULL, APWSGI_APLOGNO(00010),
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
    in->owned = 1;
    in->state = st;
    PyEval_SaveThread();
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  APWSGI_APLOGNO(00006) "created interpreter '%s' for %s",
                  in->name, r->uri);
    return 0;
}

/* The slot named `name`, or NULL.  table_mutex held. */
static apwsgi_interp_t *
table_find(const char *name)
{
    for (int i = 0; i < table_count; i++) {
        if (strcmp(table[i]->pub.name, name) == 0) {
            return &table[i]->pub;
        }
    }
    return NULL;
}

/* A new slot named `name`, or NULL when the table is full.
 * table_mutex held. */
static apwsgi_interp_t *
table_add(const char *name)
{
    interp_slot_t *slot = NULL;

    if (table_count >= APWSGI_MAX_SLOTS) {
        return NULL;
    }
    slot = apr_pcalloc(table_pool, sizeof(*slot));
    slot->pub.name = apr_pstrdup(table_pool, name);
    slot->pub.index = table_count;
    slot->pub.generation = ++generation_counter;
    table[table_count++] = slot;
    return &slot->pub;
}

apwsgi_interp_t *
apwsgi_interp_acquire(request_rec *r, const char *name)
{
    apwsgi_interp_t *in = NULL;

    if (!python_ready) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APWSGI_APLOGNO(00005) "Python is not available in this "
                      "process, so %s cannot be served: see the APW00001 "
                      "line logged when the process started", r->uri);
        return NULL;
    }
    apr_thread_mutex_lock(table_mutex);
    in = table_find(name);
    if (!in) {
        in = table_add(name);
    }
    if (in) {
        apr_atomic_inc32(&in->active);
    }
    apr_thread_mutex_unlock(table_mutex);
    if (!in) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APWSGI_APLOGNO(00011) "interpreter '%s' for %s: this "
                      "process already has %d interpreters", name, r->uri,
                      APWSGI_MAX_SLOTS);
        return NULL;
    }
    if (!apr_atomic_casptr((volatile void **)&in->state, NULL, NULL)) {
        int rc = 0;

        apr_thread_mutex_lock(create_mutex);
        if (!in->state) {
            rc = interp_create(in, r);
        }
        apr_thread_mutex_unlock(create_mutex);
        if (rc < 0) {
            apwsgi_interp_release(in);
            return NULL;
        }
    }
    return in;
}

void
apwsgi_interp_release(apwsgi_interp_t *in)
{
    apr_atomic_dec32(&in->active);
}

/*
 * Delete the thread states this module made for `in`, except `keep`,
 * then wait for the application's non-daemon threads as Python's own
 * shutdown does.  Returns whether other thread states (daemon threads
 * the application started) remain.  GIL of `in` held.
 */
static int
delete_thread_states(interp_slot_t *slot, PyThreadState *keep)
{
    tstate_node_t *node = slot->tstates;
    PyObject *str_threading = PyUnicode_FromString("threading");
    PyObject *threading = NULL;
    PyObject *res = NULL;
    PyThreadState *t = NULL;

    slot->tstates = NULL;
    while (node) {
        tstate_node_t *next = node->next;

        if (node->tstate != keep) {
            PyThreadState_Clear(node->tstate);
            PyThreadState_Delete(node->tstate);
        }
        free(node);
        node = next;
    }
    /* Only where the application imported threading (as CPython's
     * own wait_for_thread_shutdown does). */
    threading = str_threading ? PyImport_GetModule(str_threading) : NULL;
    PyErr_Clear();
    if (threading) {
        res = PyObject_CallMethod(threading, "_shutdown", NULL);
        if (!res) {
            PyErr_Clear();
        }
    }
    Py_XDECREF(res);
    Py_XDECREF(threading);
    Py_XDECREF(str_threading);
    t = PyInterpreterState_ThreadHead(slot->pub.interp);
    return t != keep || PyThreadState_Next(t) != NULL;
}

/* Run the current interpreter's atexit handlers now, for one that
 * cannot be ended.  GIL held. */
static void
run_atexit(const char *name)
{
    PyObject *atexit = PyImport_ImportModule("atexit");
    PyObject *res = NULL;

    if (atexit) {
        res = PyObject_CallMethod(atexit, "_run_exitfuncs", NULL);
    }
    if (!res) {
        apwsgi_log_exception(NULL, main_server, APWSGI_APLOGNO(00008),
                             apr_psprintf(table_pool, "atexit handlers of "
                                          "interpreter '%s' failed:", name));
    }
    Py_XDECREF(res);
    Py_XDECREF(atexit);
}

/*
 * Pre-cleanup of the child pool: end every sub-interpreter (running
 * its atexit handlers), then finalise Python if this module started
 * it.  Runs in the child's main thread after the workers stopped.
 *
 * An interpreter where daemon threads of the application still run
 * cannot be ended (CPython aborts), and then Python cannot be
 * finalised either: its atexit handlers run, and the process exits
 * with Python as it is.
 */
static apr_status_t
python_cleanup(void *data)
{
    PyThreadState *main_ts = NULL;
    apr_uint32_t active = 0;
    int stranded = 0;

    (void)data;
    if (!python_ready) {
        return APR_SUCCESS;
    }
    for (int i = 0; i < table_count; i++) {
        active += apr_atomic_read32(&table[i]->pub.active);
    }
    if (active) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main_server,
                     APWSGI_APLOGNO(00003) "process exiting with %u requests "
                     "still running: Python is left as it is", active);
        return APR_SUCCESS;
    }
    python_ready = 0;
    main_ts = thread_state(&table[0]->pub);
    for (int i = table_count - 1; i > 0; i--) {
        interp_slot_t *slot = table[i];
        PyThreadState *ts = NULL;

        if (!slot->pub.state || !(ts = apwsgi_interp_enter(&slot->pub))) {
            continue;
        }
        if (delete_thread_states(slot, ts)) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, main_server,
                         APWSGI_APLOGNO(00007) "interpreter '%s' still runs "
                         "daemon threads at exit: its atexit handlers run, "
                         "but it is not ended", slot->pub.name);
            run_atexit(slot->pub.name);
            apwsgi_interp_leave(ts);
            stranded = 1;
            continue;
        }
        apwsgi_state_free(slot->pub.state);
        slot->pub.state = NULL;
        end_interpreter(ts, main_ts);
    }
    if (!main_ts) {
        return APR_SUCCESS;
    }
    PyEval_RestoreThread(main_ts);
    if (python_owned && !stranded) {
        apwsgi_state_free(table[0]->pub.state);
        table[0]->pub.state = NULL;
        if (Py_FinalizeEx() < 0) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main_server,
                         APWSGI_APLOGNO(00008) "Python reported errors while "
                         "finalising (see the lines above)");
        }
        return APR_SUCCESS;
    }
    if (python_owned) {
        run_atexit("");
    }
    PyEval_SaveThread();
    return APR_SUCCESS;
}

/* Py_InitializeFromConfig with the home of the Python built against,
 * unless PYTHONHOME is set.  0, or -1 after logging.  No GIL. */
static int
python_start(server_rec *s)
{
    PyConfig config;
    PyStatus status;
    const char *env_home = getenv("PYTHONHOME");
    int builtin_home = !env_home || !*env_home;
    const char *home = builtin_home ? APWSGI_PYTHON_HOME : env_home;
    char *argv[] = {"mod_wsgi"};

    PyConfig_InitPythonConfig(&config);
    /* Apache owns the signals of its children. */
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    status = PyConfig_SetBytesArgv(&config, 1, argv);
    if (!PyStatus_Exception(status)) {
        status = PyConfig_SetBytesString(&config, &config.program_name,
                                         APWSGI_PYTHON_PROGRAM);
    }
    if (!PyStatus_Exception(status) && builtin_home) {
        status = PyConfig_SetBytesString(&config, &config.home, home);
    }
    if (!PyStatus_Exception(status)) {
        status = Py_InitializeFromConfig(&config);
    }
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     APWSGI_APLOGNO(00001) "Python %s could not be "
                     "initialised with home %s: %s%s%s.  Check that Apache's "
                     "user can read that Python's standard library, or set "
                     "PYTHONHOME in Apache's environment",
                     PY_VERSION, home, status.func ? status.func : "",
                     status.func ? ": " : "",
                     status.err_msg ? status.err_msg : "unknown error");
        return -1;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 APWSGI_APLOGNO(00004) "Python %s initialised (home %s)",
                 Py_GetVersion(), home);
    return 0;
}

int
apwsgi_python_ready(void)
{
    return python_ready;
}

int
apwsgi_python_init(apr_pool_t *pchild, server_rec *s)
{
    PyThreadState *ts = NULL;
    PyObject *threading = NULL;
    apwsgi_interp_t *main_in = NULL;

    main_server = s;
    if (apr_pool_create(&table_pool, pchild) != APR_SUCCESS
        || apr_pool_create(&state_pool, pchild) != APR_SUCCESS
        || apr_thread_mutex_create(&table_mutex, APR_THREAD_MUTEX_DEFAULT,
                                   pchild) != APR_SUCCESS
        || apr_thread_mutex_create(&create_mutex, APR_THREAD_MUTEX_DEFAULT,
                                   pchild) != APR_SUCCESS
        || apr_threadkey_private_create(&tls_key, tls_free, pchild)
               != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, APR_ENOMEM, s,
                     APWSGI_APLOGNO(00001) "Python could not be initialised: "
                     "no memory for the interpreter table");
        return -1;
    }
    if (Py_IsInitialized()) {
        /* Another module (mod_python) started Python: use it as it is
         * and leave its finalisation to that module. */
        ts = PyThreadState_New(PyInterpreterState_Main());
        if (!ts) {
            return -1;
        }
        PyEval_RestoreThread(ts);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     APWSGI_APLOGNO(00002) "Python %s was initialised by "
                     "another module: using it, and leaving it to that module "
                     "to finalise", Py_GetVersion());
    }
    else {
        if (python_start(s) < 0) {
            return -1;
        }
        python_owned = 1;
        ts = PyThreadState_Get();
    }
    main_in = table_add("");
    main_in->interp = PyInterpreterState_Main();
    /* threading takes the thread that imports it first for the main
     * thread: make that this one, not whichever worker comes first. */
    threading = PyImport_ImportModule("threading");
    main_in->state = threading ? apwsgi_state_new(state_pool, s, python_owned)
                               : NULL;
    Py_XDECREF(threading);
    if (!main_in->state || tls_put(main_in, ts) < 0) {
        apwsgi_log_exception(NULL, s, APWSGI_APLOGNO(00001),
                             "Python could not be set up:");
        PyEval_SaveThread();
        return -1;
    }
    PyEval_SaveThread();
    python_ready = 1;
    apr_pool_pre_cleanup_register(pchild, NULL, python_cleanup);
    return 0;
}
