/*
 * apwsgi_reload.c: modification times of an interpreter's code.
 */
#include "apwsgi_reload.h"

#include <sys/stat.h>

/* What reloading watches in an interpreter: files to watch
 * (application modules and scripts; every module under `dirs` is
 * watched too) and the modification time first seen for each
 * (apr_time_t *). */
struct apwsgi_reload_part {
    apr_pool_t *pool;
    apr_hash_t *watch_files;
    apr_hash_t *dirs; /* the mod_wsgi.directory values on sys.path */
    apr_hash_t *mtimes;
};

int
apwsgi_reload_part_init(apwsgi_state_t *st,
                        const apwsgi_state_setup_t *setup)
{
    struct apwsgi_reload_part *part = apr_pcalloc(setup->pool,
                                                  sizeof(*part));

    part->pool = setup->pool;
    part->watch_files = apr_hash_make(setup->pool);
    part->dirs = apr_hash_make(setup->pool);
    part->mtimes = apr_hash_make(setup->pool);
    st->reload = part;
    return 0;
}

void
apwsgi_reload_part_free(apwsgi_state_t *st)
{
    (void)st;
}

void
apwsgi_reload_watch_dir(apwsgi_state_t *st, const char *dir)
{
    apr_hash_set(st->reload->dirs, apr_pstrdup(st->reload->pool, dir),
                 APR_HASH_KEY_STRING, "");
}

void
apwsgi_reload_watch(apwsgi_state_t *st, const char *path)
{
    if (!apr_hash_get(st->reload->watch_files, path, APR_HASH_KEY_STRING)) {
        apr_hash_set(st->reload->watch_files, apr_pstrdup(st->reload->pool, path),
                     APR_HASH_KEY_STRING, "");
    }
}

/* Whether `path` is watched: named, or under a mod_wsgi.directory. */
static int
is_watched(apwsgi_state_t *st, const char *path)
{
    if (apr_hash_get(st->reload->watch_files, path, APR_HASH_KEY_STRING)) {
        return 1;
    }
    for (apr_hash_index_t *hi = apr_hash_first(NULL, st->reload->dirs); hi;
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
file_changed(apwsgi_state_t *st, const char *path)
{
    struct stat sb;
    apr_time_t *seen = NULL;
    apr_time_t mtime = 0;

    if (stat(path, &sb) < 0) {
        return 0; /* gone: the import system will say so */
    }
    mtime = (apr_time_t)sb.st_mtim.tv_sec * APR_USEC_PER_SEC
            + sb.st_mtim.tv_nsec / 1000;
    seen = apr_hash_get(st->reload->mtimes, path, APR_HASH_KEY_STRING);
    if (!seen) {
        seen = apr_palloc(st->reload->pool, sizeof(*seen));
        *seen = mtime;
        apr_hash_set(st->reload->mtimes, apr_pstrdup(st->reload->pool, path),
                     APR_HASH_KEY_STRING, seen);
        return 0;
    }
    return *seen != mtime;
}

void
apwsgi_reload_rebase(apwsgi_state_t *st)
{
    /* Forget the baselines; the scan records every file afresh. */
    apr_hash_clear(st->reload->mtimes);
    apwsgi_reload_scan(st);
}

int
apwsgi_reload_scan(apwsgi_state_t *st)
{
    PyObject *modules = PySys_GetObject("modules"); /* borrowed */
    PyObject *values = NULL;
    int changed = 0;

    /* A copy: reading a module attribute must not see the dict change. */
    values = modules && PyDict_Check(modules) ? PyDict_Values(modules)
                                              : NULL;
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
        if (is_watched(st, path) && file_changed(st, path)) {
            changed = 1;
        }
    }
    for (apr_hash_index_t *hi = apr_hash_first(NULL, st->reload->watch_files); hi;
         hi = apr_hash_next(hi)) {
        if (file_changed(st, apr_hash_this_key(hi))) {
            changed = 1;
        }
    }
    Py_XDECREF(values);
    PyErr_Clear();
    return changed;
}
