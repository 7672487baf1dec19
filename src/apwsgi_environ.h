/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_environ.h: the WSGI environ of a request (PEP 3333, "environ
 * Variables").
 *
 * environ holds everything in r->subprocess_env (what SetEnv, SetEnvIf
 * and mod_rewrite put there, the mod_wsgi.* keys among them), the
 * variables Apache's ap_add_common_vars() makes (the HTTP_* headers,
 * SERVER_*, REMOTE_*, ...), the CGI request variables (RFC 3875 section
 * 4.1), and the wsgi.* entries.  Every value that
 * comes from Apache is a str decoded as latin-1.
 */
#ifndef APWSGI_ENVIRON_H
#define APWSGI_ENVIRON_H

#include "apwsgi.h"
#include "apwsgi_config.h"
#include "apwsgi_state.h"

/*
 * The environ's part of an interpreter's state (apwsgi_state.h): the
 * entries that are the same for every request, and a cache of keys and
 * values.  Its init needs the file wrapper's part.  GIL held.
 */
int apwsgi_environ_part_init(apwsgi_state_t *st,
                             const apwsgi_state_setup_t *setup);
void apwsgi_environ_part_free(apwsgi_state_t *st);

/*
 * A new environ dict for `r`.
 * `input` and `errors` become wsgi.input and wsgi.errors; `interp` (the
 * name of the interpreter serving it, "NAME#i" in a pool, "" for the
 * main one) becomes apwsgi.interpreter; with a mod_wsgi.request_timeout,
 * apwsgi.RequestTimeout is the class the timeout raises.  Returns a new
 * reference, or NULL with an exception set.  GIL held.
 */
PyObject *apwsgi_environ_new(apwsgi_state_t *st, request_rec *r,
                             const apwsgi_config_t *cfg, const char *interp,
                             PyObject *input, PyObject *errors);

#endif /* APWSGI_ENVIRON_H */
