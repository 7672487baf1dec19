/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_modpython.c: finding mod_python's interpreters (the second
 * mode; see apwsgi_modpython.h for mod_python's side of the contract).
 *
 * Locking: everything here that changes state runs at child init or
 * under apwsgi_interp.c's create_mutex, which serialises it.
 */
#include "apwsgi_modpython.h"
#include "apwsgi_log.h"
#include "apwsgi_tstate.h"
#include "apr_optional.h"

/* mod_python's exported function (mod_python.h declares it with
 * APR_DECLARE_OPTIONAL_FN; its header is not needed for one
 * prototype). */
typedef PyInterpreterState *(*mp_acquire_fn)(const char *name);

static mp_acquire_fn mp_acquire;

/* mod_python's package can be imported (checked once, then kept). */
static int package_found;

int
apwsgi_modpython_init(server_rec *s)
{
    mp_acquire =
        (mp_acquire_fn)apr_dynamic_fn_retrieve("mp_acquire_interpreter");
    if (!mp_acquire) {
        return 0;
    }
    ap_log_error(
        APLOG_MARK, APLOG_INFO, 0, s,
        APWSGI_APLOGNO(00601) "mod_python is loaded: WSGI applications "
                              "run in mod_python's interpreters "
                              "(mod_wsgi.interpreter NAME is "
                              "PythonInterpreter NAME, none is "
                              "main_interpreter)");
    return 1;
}

int
apwsgi_modpython_active(void)
{
    return mp_acquire != NULL;
}

int
apwsgi_modpython_refuse(request_rec *r, const apwsgi_config_t *cfg)
{
    if (cfg->own_gil) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            APWSGI_APLOGNO(00602) "mod_wsgi.gil own for %s is refused: "
                                  "mod_python is loaded, and its "
                                  "interpreters share one GIL; remove the "
                                  "key (or serve this application from an "
                                  "Apache without mod_python)",
            r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (cfg->pool_size > 1) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            APWSGI_APLOGNO(00603) "mod_wsgi.interpreters %d for %s is "
                                  "refused: mod_python is loaded, and a "
                                  "pool is interpreters that apwsgi makes "
                                  "itself; remove the key (or serve this "
                                  "application from an Apache without "
                                  "mod_python)",
            cfg->pool_size, r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (cfg->reload) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            APWSGI_APLOGNO(00604) "mod_wsgi.reload on for %s is refused: "
                                  "mod_python is loaded, and its "
                                  "interpreters are never replaced; remove "
                                  "the key and restart Apache gracefully "
                                  "to load new code",
            r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (cfg->idle_timeout > 0) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            APWSGI_APLOGNO(00605) "mod_wsgi.idle_timeout %d for %s is "
                                  "refused: mod_python is loaded, and its "
                                  "interpreters are never ended; remove "
                                  "the key",
            (int)apr_time_sec(cfg->idle_timeout), r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/*
 * Whether mod_python can set up an interpreter here: it imports its
 * package in each new one and crashes the process when that fails, so
 * look for the package first (on the main interpreter's sys.path).
 * 1, or 0 after logging.  No GIL held.
 */
static int
package_check(request_rec *r, const char *name, apwsgi_interp_t *main_in)
{
    PyThreadState *ts = NULL;
    PyObject *util = NULL;
    PyObject *spec = NULL;

    if (package_found) {
        return 1;
    }
    if (!(ts = apwsgi_tstate_enter(main_in))) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, APR_ENOMEM, r,
            APWSGI_APLOGNO(00608) "mod_python's interpreter '%s' for %s: "
                                  "no memory for a thread state",
            name, r->uri);
        return 0;
    }
    util = PyImport_ImportModule("importlib.util");
    spec = util ? PyObject_CallMethod(util, "find_spec", "s", "mod_python")
                : NULL;
    if (!spec) {
        apwsgi_log_exception(r, NULL, APWSGI_APLOGNO(00607),
                             apr_psprintf(r->pool,
                                          "looking for mod_python's package "
                                          "for interpreter '%s' (%s) "
                                          "failed:",
                                          name, r->uri));
    }
    else if (spec == Py_None) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            APWSGI_APLOGNO(00606) "mod_python cannot make interpreter '%s' "
                                  "for %s: its Python package mod_python "
                                  "is not on sys.path.  Start Apache with "
                                  "a PATH whose first python3 is the one "
                                  "mod_python was built for",
            name, r->uri);
    }
    else {
        package_found = 1;
    }
    Py_XDECREF(spec);
    Py_XDECREF(util);
    apwsgi_tstate_leave(ts);
    return package_found;
}

PyInterpreterState *
apwsgi_modpython_interp(request_rec *r, const char *name,
                        apwsgi_interp_t *main_in)
{
    PyInterpreterState *interp = NULL;

    if (!package_check(r, name, main_in)) {
        return NULL;
    }
    /* The calling thread's first thread state (the one PyGILState
     * finds) stays the main interpreter's of apwsgi: make it before
     * mod_python makes one. */
    if (!apwsgi_tstate_get(main_in)) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, APR_ENOMEM, r,
            APWSGI_APLOGNO(00609) "mod_python's interpreter '%s' for %s: "
                                  "no memory for a thread state",
            name, r->uri);
        return NULL;
    }
    interp = mp_acquire(name);
    /* mod_python's thread state is current and its GIL held.  Release
     * the GIL but keep the thread state: deleting it could leave a
     * dangling PyGILState pointer in the thread that made it, and
     * mod_python's own release aborts (see the header).  It stays,
     * unused: two per name and process (three where a race moved the
     * name). */
    PyEval_SaveThread();
    return interp;
}
