/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_config.h: the per-request configuration.
 *
 * The module has no directives.  Everything it needs comes from the
 * request's r->subprocess_env, where SetEnv, SetEnvIf and mod_rewrite's
 * [E=...] put it:
 *
 *   mod_wsgi.application  module::callable, module, or /abs/script.wsgi
 *   mod_wsgi.directory    absolute directory put on sys.path
 *   mod_wsgi.interpreter  sub-interpreter name ("" or unset: main; no
 *                         '#' or control character, <= 255 bytes)
 *   mod_wsgi.script_name  SCRIPT_NAME, where no <Location> gives it
 *
 * and the keys of docs/configuration.rst that shape interpreters
 * (pools, GIL, reloading, bounds), requests (timeout, the age from
 * which the status page shows a request's stack) and the process (its
 * CPU).
 */
#ifndef APWSGI_CONFIG_H
#define APWSGI_CONFIG_H

#include "apwsgi.h"
#include "apwsgi_affinity.h"

/*
 * The per-request configuration, read from r->subprocess_env.
 * All strings live in r->pool (or in the table itself).
 */
typedef struct {
    const char *application; /* mod_wsgi.application, as given */
    const char *module;      /* the module name to import */
    const char *callable;    /* the attribute to look up */
    const char *script;      /* absolute script path, or NULL */
    const char *directory;   /* mod_wsgi.directory, or NULL */
    const char *virtualenv;  /* mod_wsgi.virtualenv, or NULL */
    const char *interpreter; /* mod_wsgi.interpreter; "" = main */
    const char *script_name; /* SCRIPT_NAME for environ */
    const char *path_info;   /* PATH_INFO for environ */
    /* Read when an interpreter is created or chosen: */
    int pool_size;           /* mod_wsgi.interpreters (1: no pool) */
    int own_gil;             /* mod_wsgi.gil own */
    int reload;              /* mod_wsgi.reload on */
    int max_interpreters;    /* mod_wsgi.max_interpreters */
    apr_time_t idle_timeout; /* mod_wsgi.idle_timeout; 0: never */
    /* Read when the request starts: */
    apr_time_t request_timeout; /* mod_wsgi.request_timeout; 0: none */
    apr_time_t slow_request;    /* mod_wsgi.slow_request; 0: never */
    /* Read by the first request a process serves: */
    apwsgi_switch_t cpu_affinity; /* mod_wsgi.cpu_affinity */
    apwsgi_switch_t sched_batch;  /* mod_wsgi.sched_batch */
    const char *map_to_storage;   /* mod_wsgi.map_to_storage, as given
                                     (apwsgi_storage_check), or NULL */
} apwsgi_config_t;

/*
 * Fill `cfg` from r->subprocess_env.  Returns OK, or
 * HTTP_INTERNAL_SERVER_ERROR after logging one line that names the URI
 * and what to fix, or HTTP_BAD_REQUEST (and an info line) where a rule
 * took an interpreter name that is not one from the request.  No
 * Python involved; strings in r->pool.
 */
int apwsgi_config_read(request_rec *r, apwsgi_config_t *cfg);

#endif /* APWSGI_CONFIG_H */
