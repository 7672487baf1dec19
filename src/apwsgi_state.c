/*
 * apwsgi_state.c: per-interpreter Python state.
 */
#include "apwsgi_state.h"
#include "apwsgi_app.h"
#include "apwsgi_environ.h"
#include "apwsgi_filewrapper.h"
#include "apwsgi_input.h"
#include "apwsgi_log.h"
#include "apwsgi_response.h"

static const char tag_stdout[] = APWSGI_APLOGNO(00502);
static const char tag_stderr[] = APWSGI_APLOGNO(00503);

/*
 * wsgi.multithread and wsgi.multiprocess from the MPM's limits: true
 * only where the MPM can really run requests concurrently that way.
 */
static void
mpm_concurrency(int *multithread, int *multiprocess)
{
    int threaded = AP_MPMQ_NOT_SUPPORTED;
    int forked = AP_MPMQ_NOT_SUPPORTED;
    int max_threads = 1;
    int max_daemons = 1;

    ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded);
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &max_threads);
    ap_mpm_query(AP_MPMQ_IS_FORKED, &forked);
    ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &max_daemons);
    *multithread = threaded != AP_MPMQ_NOT_SUPPORTED && max_threads > 1;
    *multiprocess = forked != AP_MPMQ_NOT_SUPPORTED && max_daemons > 1;
}

/* Returns a new reference to the dict, or NULL with an exception set. */
static PyObject *
environ_base_new(apwsgi_state_t *st)
{
    PyObject *base = NULL;
    PyObject *version = NULL;
    int multithread = 0;
    int multiprocess = 0;

    mpm_concurrency(&multithread, &multiprocess);
    version = Py_BuildValue("(ii)", 1, 0);
    base = version ? PyDict_New() : NULL;
    if (!base
        || PyDict_SetItemString(base, "wsgi.version", version) < 0
        || PyDict_SetItemString(base, "wsgi.multithread",
                                multithread ? Py_True : Py_False) < 0
        || PyDict_SetItemString(base, "wsgi.multiprocess",
                                multiprocess ? Py_True : Py_False) < 0
        || PyDict_SetItemString(base, "wsgi.run_once", Py_False) < 0
        || PyDict_SetItemString(base, "wsgi.input_terminated", Py_True) < 0
        || PyDict_SetItemString(base, "wsgi.file_wrapper",
                                (PyObject *)st->file_wrapper_type) < 0) {
        Py_CLEAR(base);
    }
    Py_XDECREF(version);
    return base;
}

/* Point sys.stdout and sys.stderr at the error log.  0, or -1 with an
 * exception set. */
static int
redirect_stdio(apwsgi_state_t *st)
{
    PyObject *out = NULL;
    PyObject *err = NULL;
    int rc = -1;

    out = apwsgi_log_new(st->log_type, NULL, st->server, tag_stdout);
    err = apwsgi_log_new(st->log_type, NULL, st->server, tag_stderr);
    if (out && err && PySys_SetObject("stdout", out) == 0
        && PySys_SetObject("stderr", err) == 0) {
        rc = 0;
    }
    Py_XDECREF(out);
    Py_XDECREF(err);
    return rc;
}

apwsgi_state_t *
apwsgi_state_new(apr_pool_t *pool, server_rec *s, int own_stdio)
{
    apwsgi_state_t *st = NULL;
    apr_pool_t *sub = NULL;

    if (apr_pool_create(&sub, pool) != APR_SUCCESS) {
        PyErr_NoMemory();
        return NULL;
    }
    apr_pool_tag(sub, "apwsgi_state");
    st = apr_pcalloc(sub, sizeof(*st));
    st->pool = sub;
    st->server = s;
    /* Where another module owns Python, its logging is left alone. */
    st->logging_installed = !own_stdio;
    st->apps = apr_hash_make(sub);
    st->modules = apr_hash_make(sub);
    st->paths = apr_hash_make(sub);
    st->venvs = apr_hash_make(sub);
    st->env_cache = apr_hash_make(sub);
    st->watch_files = apr_hash_make(sub);
    st->mtimes = apr_hash_make(sub);
    st->load_lock = PyThread_allocate_lock();
    st->log_type = st->load_lock ? apwsgi_log_type_new() : NULL;
    st->input_type = st->log_type ? apwsgi_input_type_new() : NULL;
    st->start_response_type =
        st->input_type ? apwsgi_start_response_type_new() : NULL;
    st->file_wrapper_type =
        st->start_response_type ? apwsgi_filewrapper_type_new() : NULL;
    st->environ_base = st->file_wrapper_type ? environ_base_new(st) : NULL;
    if (!st->load_lock && !PyErr_Occurred()) {
        PyErr_NoMemory();
    }
    if (!st->environ_base || (own_stdio && redirect_stdio(st) < 0)) {
        apwsgi_state_free(st);
        return NULL;
    }
    return st;
}

void
apwsgi_state_free(apwsgi_state_t *st)
{
    apwsgi_app_cache_clear(st);
    apwsgi_environ_cache_clear(st);
    Py_CLEAR(st->environ_base);
    Py_CLEAR(st->file_wrapper_type);
    Py_CLEAR(st->start_response_type);
    Py_CLEAR(st->input_type);
    Py_CLEAR(st->log_type);
    if (st->load_lock) {
        PyThread_free_lock(st->load_lock);
    }
    apr_pool_destroy(st->pool);
}
