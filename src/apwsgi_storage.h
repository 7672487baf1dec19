/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_storage.h: letting an application's URLs skip Apache's mapping
 * to the file system (mod_wsgi.map_to_storage off).
 *
 * Apache maps every URL to a path under DocumentRoot and walks that
 * path (core's map_to_storage hook: ap_directory_walk, ap_file_walk) to
 * merge the <Directory> and <Files> sections and .htaccess files that
 * apply.  An application mounted with <Location> has no file there, and
 * for a path that does not exist the walk calls lstat() once per
 * directory level, from the root down: nine system calls per request
 * for a DocumentRoot seven levels deep, about a quarter of the CPU time
 * of a hello-world request.  A Location that sets the key to `off`
 * skips the walk, as mod_proxy does for the URLs it proxies: only the
 * server's own configuration and the <Location> sections apply.
 *
 * The walk happens before SetEnv's values reach r->subprocess_env (in
 * the fixups phase), so the key is read where Apache has already merged
 * the <Location> sections but not yet mapped the URL: in translate_name,
 * from mod_env's per-directory configuration, or from what a
 * server-level SetEnvIf set.  Nothing else of a request is looked at
 * or changed there.
 */
#ifndef APWSGI_STORAGE_H
#define APWSGI_STORAGE_H

#include "apwsgi.h"

#define APWSGI_KEY_MAP_TO_STORAGE "mod_wsgi.map_to_storage"

/* At child init: find mod_env among the loaded modules (without it no
 * request skips the walk).  No Python. */
void apwsgi_storage_init(void);

/*
 * translate_name hook (runs first, always DECLINED): notes, in the
 * request's request_config, that mod_wsgi.map_to_storage is `off` for
 * it (not for TRACE, which Apache answers itself, nor a proxy request),
 * as set by SetEnv in the sections that apply to its URL or by a
 * server-level SetEnvIf, and that the SetHandler there names apwsgi's
 * handler (so that a <Location> with `SetHandler none` below the
 * application's, for files Apache serves, keeps the walk).  No Python.
 */
int apwsgi_storage_note(request_rec *r);

/*
 * map_to_storage hook (runs first): OK, so that core does not walk the
 * file system, for a request noted by apwsgi_storage_note; DECLINED for
 * every other.  No Python.
 */
int apwsgi_storage_map(request_rec *r);

/*
 * In the handler, before anything runs: checks the key's final value
 * (`value`, as the request's configuration read it; NULL: unset).
 * A word other than on/off: 500 after logging APW00117.  `off` set too
 * late to skip the walk (by a SetEnvIf or RewriteRule inside a section,
 * or with a handler set other than by SetHandler) is served as usual
 * and logged once per process (APW00118).  OK
 * otherwise.  No Python.
 */
int apwsgi_storage_check(request_rec *r, const char *value);

#endif /* APWSGI_STORAGE_H */
