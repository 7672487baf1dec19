/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_reload.c: watch an interpreter's code, and replace the
 * interpreter when it changes.
 *
 * What is watched is reload's part of the interpreter's state, made
 * at the first load there (before that there is nothing to watch).
 * It lives in the state's pool and holds no Python object, so it needs
 * no free.  The check runs without the GIL up to the scan: the part is
 * published atomically, and `checking` lets one thread at a time in.
 */
#include "apwsgi_reload.h"
#include "apwsgi_metrics.h"
#include "apwsgi_app.h"
#include "apwsgi_log.h"
#include "apwsgi_state.h"
#include "apwsgi_tstate.h"
#include "apr_atomic.h"

#include <sys/stat.h>

/* How often a reloading interpreter looks at its files. */
#define RELOAD_INTERVAL apr_time_from_sec(1)

/* Reload's part of an interpreter's state.  The hashes are used with
 * the interpreter's GIL held; the last two fields without it. */
typedef struct apwsgi_reload_part {
    apr_pool_t *pool;
    apr_hash_t *files;              /* application modules and scripts */
    apr_hash_t *dirs;               /* mod_wsgi.directory values: every module
                                       under one is watched too */
    apr_hash_t *mtimes;             /* path -> apr_time_t *, the baseline */
    apr_time_t next_check;          /* set by the checking thread */
    volatile apr_uint32_t checking; /* a thread checks now */
} reload_part_t;

/* The part of `st`, or NULL before the first load there.  No GIL
 * needed. */
static reload_part_t *
part_of(apwsgi_state_t *st)
{
    return apr_atomic_casptr((volatile void **)&st->reload, NULL, NULL);
}

/* The part of `st`, made on first use.  GIL of the state's interpreter
 * held (it serialises the use of the state's pool). */
static reload_part_t *
part_get(apwsgi_state_t *st)
{
    reload_part_t *part = part_of(st);
    apr_pool_t *pool = NULL;

    if (part) {
        return part;
    }
    pool = apwsgi_state_pool(st);
    part = apr_pcalloc(pool, sizeof(*part));
    part->pool = pool;
    part->files = apr_hash_make(pool);
    part->dirs = apr_hash_make(pool);
    part->mtimes = apr_hash_make(pool);
    apr_atomic_xchgptr((volatile void **)&st->reload, part);
    return part;
}

/* Whether `path` is watched: named, or under a mod_wsgi.directory. */
static int
is_watched(reload_part_t *part, const char *path)
{
    if (apr_hash_get(part->files, path, APR_HASH_KEY_STRING)) {
        return 1;
    }
    for (apr_hash_index_t *hi = apr_hash_first(NULL, part->dirs); hi;
         hi = apr_hash_next(hi)) {
        const char *dir = apr_hash_this_key(hi);
        apr_size_t n = strlen(dir);

        if (strncmp(path, dir, n) == 0
            && (path[n] == '/' || (n > 0 && dir[n - 1] == '/'))) {
            return 1;
        }
    }
    return 0;
}

/* 1 when `path` changed since its baseline (recording one if new). */
static int
file_changed(reload_part_t *part, const char *path)
{
    struct stat sb;
    apr_time_t *seen = NULL;
    apr_time_t mtime = 0;

    if (stat(path, &sb) < 0) {
        return 0; /* gone: the import system will say so */
    }
    mtime = (apr_time_t)sb.st_mtim.tv_sec * APR_USEC_PER_SEC
            + sb.st_mtim.tv_nsec / 1000;
    seen = apr_hash_get(part->mtimes, path, APR_HASH_KEY_STRING);
    if (!seen) {
        seen = apr_palloc(part->pool, sizeof(*seen));
        *seen = mtime;
        apr_hash_set(part->mtimes, apr_pstrdup(part->pool, path),
                     APR_HASH_KEY_STRING, seen);
        return 0;
    }
    return *seen != mtime;
}

/*
 * Look at the watched files of the current interpreter.  Returns 1
 * when a file changed since its baseline, else 0 (recording baselines
 * for files seen for the first time).  Its GIL held; no exception set
 * on entry or exit.
 */
static int
scan(reload_part_t *part)
{
    PyObject *modules = apwsgi_sys_get("modules");
    PyObject *values = NULL;
    int changed = 0;

    /* A copy: reading a module attribute must not see the dict change. */
    values = modules && PyDict_Check(modules) ? PyDict_Values(modules) : NULL;
    for (Py_ssize_t i = 0; values && i < PyList_GET_SIZE(values); i++) {
        PyObject *module = PyList_GET_ITEM(values, i);
        PyObject *file = NULL; /* borrowed */
        const char *path = NULL;

        if (!PyModule_Check(module)) {
            continue;
        }
        file = PyDict_GetItemString(PyModule_GetDict(module), "__file__");
        path = file && PyUnicode_Check(file) ? PyUnicode_AsUTF8(file) : NULL;
        if (!path) {
            PyErr_Clear();
            continue;
        }
        if (is_watched(part, path) && file_changed(part, path)) {
            changed = 1;
        }
    }
    for (apr_hash_index_t *hi = apr_hash_first(NULL, part->files); hi;
         hi = apr_hash_next(hi)) {
        if (file_changed(part, apr_hash_this_key(hi))) {
            changed = 1;
        }
    }
    Py_XDECREF(values);
    Py_XDECREF(modules);
    PyErr_Clear();
    return changed;
}

/*
 * Before an application loads: watch its mod_wsgi.directory, and,
 * where its code may be reloaded, do not read bytecode caches: a .pyc
 * records its source's mtime only to the second, so an edit within the
 * same second would run the old code.  (A prefix that can never exist
 * makes the import system compile from source.)  GIL held.
 */
static void
before_load(apwsgi_state_t *st, const apwsgi_config_t *cfg)
{
    reload_part_t *part = part_get(st);
    PyObject *prefix = NULL;

    if (cfg->directory) {
        apr_hash_set(part->dirs, apr_pstrdup(part->pool, cfg->directory),
                     APR_HASH_KEY_STRING, "");
    }
    if (!cfg->reload) {
        return;
    }
    prefix = PyUnicode_FromString("/dev/null/apwsgi-reload");
    if (!prefix || PySys_SetObject("pycache_prefix", prefix) < 0
        || PySys_SetObject("dont_write_bytecode", Py_True) < 0) {
        PyErr_Clear();
    }
    Py_XDECREF(prefix);
}

/* After an application loaded: watch what it was loaded from, and take
 * the baseline of every watched file.  GIL held. */
static void
after_load(apwsgi_state_t *st, const apwsgi_config_t *cfg, PyObject *module)
{
    reload_part_t *part = part_get(st);
    PyObject *file =
        PyModule_Check(module)
            ? PyDict_GetItemString(PyModule_GetDict(module), "__file__")
            : NULL; /* borrowed */
    const char *path =
        file && PyUnicode_Check(file) ? PyUnicode_AsUTF8(file) : cfg->script;

    PyErr_Clear();
    if (path && !apr_hash_get(part->files, path, APR_HASH_KEY_STRING)) {
        apr_hash_set(part->files, apr_pstrdup(part->pool, path),
                     APR_HASH_KEY_STRING, "");
    }
    scan(part);
}

static const apwsgi_app_watcher_t watcher = {before_load, after_load};

void
apwsgi_reload_init(void)
{
    apwsgi_app_set_watcher(&watcher);
}

/* After a failed reload, take the current modification times as the
 * new baseline: the next attempt waits for the next change.  No GIL
 * held. */
static void
rebase(apwsgi_interp_t *in)
{
    PyThreadState *ts = apwsgi_tstate_enter(in);
    reload_part_t *part = part_of(in->state);

    if (!ts) {
        return;
    }
    if (part) {
        /* Forget the baselines; the scan records every file afresh. */
        apr_hash_clear(part->mtimes);
        scan(part);
    }
    apwsgi_tstate_leave(ts);
}

/*
 * Replace `old` by a fresh interpreter of the same name that imports
 * the application anew.  Returns the fresh one with this request
 * counted in it, or NULL (the old one keeps serving) after logging.
 * No GIL held.
 */
static apwsgi_interp_t *
replace(request_rec *r, const apwsgi_config_t *cfg, apwsgi_interp_t *old)
{
    apwsgi_interp_t *fresh = apwsgi_interp_add_hidden(old);
    PyObject *app = NULL; /* only whether it loaded: no GIL below */
    PyThreadState *ts = NULL;

    if (!fresh) {
        return NULL;
    }
    if (apwsgi_interp_ensure_created(fresh, r, cfg) == 0
        && (ts = apwsgi_tstate_enter(fresh))) {
        app = apwsgi_app_get(fresh->state, r, cfg);
        apwsgi_tstate_leave(ts);
    }
    if (!app) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            APWSGI_APLOGNO(00015) "reloading interpreter '%s' for %s "
                                  "failed (see above): the old code "
                                  "keeps serving until the files "
                                  "change again",
            old->name, r->uri);
        apwsgi_interp_release(fresh, 1);
        rebase(old);
        return NULL;
    }
    apwsgi_interp_swap(old, fresh);
    apwsgi_metrics_interp_event(old->name, APWSGI_INTERP_RELOADED);
    ap_log_rerror(
        APLOG_MARK, APLOG_INFO, 0, r,
        APWSGI_APLOGNO(00016) "interpreter '%s' reloaded for %s: its "
                              "code changed",
        old->name, r->uri);
    return fresh;
}

/* Whether the files of `in` changed since their baselines.  No GIL
 * held. */
static int
changed(apwsgi_interp_t *in, reload_part_t *part)
{
    PyThreadState *ts = apwsgi_tstate_enter(in);
    int rc = 0;

    if (ts) {
        rc = scan(part);
        apwsgi_tstate_leave(ts);
    }
    return rc;
}

apwsgi_interp_t *
apwsgi_reload_check(request_rec *r, const apwsgi_config_t *cfg,
                    apwsgi_interp_t *in)
{
    static volatile apr_uint32_t main_noted;
    reload_part_t *part = NULL;
    apr_time_t now = apr_time_now();
    apwsgi_interp_t *fresh = NULL;

    if (in == apwsgi_interp_main()) {
        if (apr_atomic_cas32(&main_noted, 1, 0) == 0) {
            ap_log_rerror(
                APLOG_MARK, APLOG_WARNING, 0, r,
                APWSGI_APLOGNO(00018) "mod_wsgi.reload for %s is "
                                      "ignored: the main interpreter "
                                      "cannot be replaced; reload "
                                      "needs a named "
                                      "mod_wsgi.interpreter",
                r->uri);
        }
        return in;
    }
    part = part_of(in->state);
    if (!part || now < part->next_check
        || apr_atomic_cas32(&part->checking, 1, 0) != 0) {
        return in;
    }
    part->next_check = now + RELOAD_INTERVAL;
    fresh = changed(in, part) ? replace(r, cfg, in) : NULL;
    apr_atomic_set32(&part->checking, 0);
    if (!fresh) {
        return in;
    }
    apwsgi_interp_release(in, 0);
    return fresh;
}
