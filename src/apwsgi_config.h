/*
 * apwsgi_config.h: the per-request configuration.
 *
 * The module has no directives.  Everything it needs comes from the
 * request's r->subprocess_env, where SetEnv, SetEnvIf and mod_rewrite's
 * [E=...] put it:
 *
 *   mod_wsgi.application  module::callable, module, or /abs/script.wsgi
 *   mod_wsgi.directory    absolute directory put on sys.path
 *   mod_wsgi.interpreter  sub-interpreter name ("" or unset: main)
 *   mod_wsgi.script_name  SCRIPT_NAME, where no <Location> gives it
 */
#ifndef APWSGI_CONFIG_H
#define APWSGI_CONFIG_H

#include "apwsgi.h"

/*
 * Fill `cfg` from r->subprocess_env.  Returns OK, or
 * HTTP_INTERNAL_SERVER_ERROR after logging one line that names the URI
 * and what to fix.  No Python involved; strings in r->pool.
 */
int apwsgi_config_read(request_rec *r, apwsgi_config_t *cfg);

#endif /* APWSGI_CONFIG_H */
