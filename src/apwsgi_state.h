/*
 * apwsgi_state.h: the Python objects each interpreter keeps for the
 * module: its own heap types, the constant part of environ, and the
 * cache of loaded applications.
 *
 * A state belongs to exactly one interpreter; every field is used only
 * with that interpreter's GIL held, which is also what serialises the
 * use of its pool and hash tables.
 */
#ifndef APWSGI_STATE_H
#define APWSGI_STATE_H

#include "apwsgi.h"
#include "apr_hash.h"

typedef struct apwsgi_state apwsgi_state_t;

#define APWSGI_ENV_CACHE_MAX 256
#define APWSGI_ENV_POSITIONS 64
#define APWSGI_ENV_VALUE_MAX 128

struct apwsgi_state {
    /* Heap types, one set per interpreter (strong references). */
    PyTypeObject *log_type;
    PyTypeObject *input_type;
    PyTypeObject *start_response_type;
    PyTypeObject *file_wrapper_type;

    /* environ entries that are the same for every request (PEP 3333
     * "environ Variables"): wsgi.version, wsgi.multithread, ... */
    PyObject *environ_base;

    /* Held while an application loads: a script's module is visible in
     * sys.modules before its code has run, and running it may release
     * the GIL, so other threads wait here rather than find it
     * half-made. */
    PyThread_type_lock load_lock;

    /* logging.lastResort is ours (installed once the application
     * imported logging). */
    int logging_installed;

    /* Loaded applications: application string -> apwsgi_app_t, and
     * module name -> the mod_wsgi.directory it was loaded with. */
    apr_pool_t *pool;
    apr_hash_t *apps;
    apr_hash_t *modules;
    apr_hash_t *paths; /* directories already put on sys.path */
    apr_hash_t *venvs; /* mod_wsgi.virtualenv values already added */

    /* mod_wsgi.reload: files to watch (application modules and
     * scripts; everything under `paths` is watched too) and the
     * modification time first seen for each (apr_time_t *). */
    apr_hash_t *watch_files;
    apr_hash_t *mtimes;

    /* environ keys seen so far (C string -> apwsgi_env_entry_t): the
     * interned key and the last value with its str, so that a value
     * that did not change (SERVER_NAME, REQUEST_METHOD, ...) is not
     * decoded again.  At most APWSGI_ENV_CACHE_MAX keys. */
    apr_hash_t *env_cache;
    /* The entry of each position of r->subprocess_env last time: the
     * order repeats from request to request, so a strcmp here usually
     * saves the hash lookup. */
    struct apwsgi_env_entry *env_pos[APWSGI_ENV_POSITIONS];

    server_rec *server;
};



/*
 * Build the state of the current interpreter, in a subpool of `pool`.
 * With `own_stdio`, sys.stdout and sys.stderr become Log objects.
 * Returns the state, or NULL with an exception set.  GIL held.
 */
apwsgi_state_t *apwsgi_state_new(apr_pool_t *pool, server_rec *s,
                                 int own_stdio);

/*
 * Drop every Python reference the state holds and destroy its pool.
 * GIL of the state's interpreter held.
 */
void apwsgi_state_free(apwsgi_state_t *st);

#endif /* APWSGI_STATE_H */
