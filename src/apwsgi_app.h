/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_app.h: loading WSGI applications into an interpreter.
 *
 * An application is imported once per interpreter and its callable
 * looked up once, then kept in the interpreter's state.  A failure is
 * not cached: the next request tries again.
 */
#ifndef APWSGI_APP_H
#define APWSGI_APP_H

#include "apwsgi.h"
#include "apwsgi_config.h"
#include "apwsgi_state.h"

/*
 * The callable that cfg->application names, loading it on first use.
 * Returns a borrowed reference (the state owns it), or NULL after
 * logging why with the request's URI (the request should get 500);
 * no exception is left set.  GIL of the state's interpreter held.
 * Temporary memory from r->pool; cache entries from st->pool.
 */
PyObject *apwsgi_app_get(apwsgi_state_t *st, request_rec *r,
                         const apwsgi_config_t *cfg);

/*
 * Where the raised exception is an extension module's refusal to load
 * in this interpreter (an ImportError from PyO3, or from CPython in an
 * interpreter with its own GIL): log one error line that names the
 * module and what to do instead of a traceback, clear the exception
 * and return 1.  Else 0, the exception still set.  For a refusal that
 * comes later than the application's import (an import inside the
 * callable).  GIL held; memory from r->pool.
 */
int apwsgi_app_log_refusal(request_rec *r, const apwsgi_config_t *cfg);

/*
 * What a watcher of loads is told (apwsgi_reload.c is the one
 * watcher): `before` runs once the application's directories are on
 * sys.path, just before its code is imported or run; `after` once its
 * callable was found, with the module it came from (borrowed).  Both
 * run with the GIL of the state's interpreter and its load lock held,
 * and leave no exception set.
 */
typedef struct {
    void (*before)(apwsgi_state_t *st, const apwsgi_config_t *cfg);
    void (*after)(apwsgi_state_t *st, const apwsgi_config_t *cfg,
                  PyObject *module);
} apwsgi_app_watcher_t;

/* Tell `watcher` (static storage) about every load in this process
 * from now on.  Child init, before any request; no GIL needed. */
void apwsgi_app_set_watcher(const apwsgi_app_watcher_t *watcher);

/* How many applications the interpreter has loaded.  GIL of the
 * state's interpreter held. */
int apwsgi_app_count(apwsgi_state_t *st);

/*
 * The loader's part of an interpreter's state (apwsgi_state.h): the
 * loaded applications, the directories and venvs put on sys.path, and
 * the lock that makes one load at a time.  GIL held.
 */
int apwsgi_app_part_init(apwsgi_state_t *st,
                         const apwsgi_state_setup_t *setup);
void apwsgi_app_part_free(apwsgi_state_t *st);

#endif /* APWSGI_APP_H */
