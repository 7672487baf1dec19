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

/* Drop every cached application.  GIL of the state's interpreter held. */
void apwsgi_app_cache_clear(apwsgi_state_t *st);

#endif /* APWSGI_APP_H */
