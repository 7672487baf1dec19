/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_reload.h: mod_wsgi.reload on: when an application's code
 * changes, a fresh interpreter takes over.
 *
 * The files watched in an interpreter are its applications' module
 * and script files and every module it loaded from a
 * mod_wsgi.directory; the loader tells this file about each load
 * (apwsgi_app_set_watcher).  The first modification time seen for a
 * file is its baseline.  At most once a second a request with
 * mod_wsgi.reload on looks at them; when one changed, a fresh
 * interpreter of the same name is made, the application is imported
 * there, and it replaces the old one for this request and all later
 * ones.  Requests already running finish in the old interpreter, which
 * the reaper then ends.  If the new code fails to import, the old
 * interpreter keeps serving until the files change again.  Where code
 * may be reloaded, bytecode caches are not read.
 *
 * This is the interpreter's life above the table: it calls the
 * table's replacement primitives (apwsgi_interp.h), the loader and the
 * thread states; apwsgi_request.c calls it.  Nothing below calls back
 * here by name.
 */
#ifndef APWSGI_RELOAD_H
#define APWSGI_RELOAD_H

#include "apwsgi.h"
#include "apwsgi_config.h"
#include "apwsgi_interp.h"

/* Start watching every application load.  Child init, before any
 * request; no GIL needed. */
void apwsgi_reload_init(void);

/*
 * The interpreter this request should use, given `in` (acquired, with
 * the request counted in it) and cfg->reload on: `in` itself, or a
 * fresh one that replaced it because the code changed (the request is
 * then counted in the fresh one and released from `in`).  Logs what
 * it does.  No GIL held on entry or exit.
 */
apwsgi_interp_t *apwsgi_reload_check(request_rec *r,
                                     const apwsgi_config_t *cfg,
                                     apwsgi_interp_t *in);

#endif /* APWSGI_RELOAD_H */
