/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_storage.c: mod_wsgi.map_to_storage (see apwsgi_storage.h).
 */
#include "apwsgi_storage.h"
#include "apr_atomic.h"

extern module AP_MODULE_DECLARE_DATA apwsgi_module;

/*
 * The head of mod_env's per-directory record (struct env_dir_config_rec
 * in modules/metadata/mod_env.c): the table of SetEnv's variables,
 * merged over the sections that apply, comes first, as it has since
 * httpd 2.0.  Only that member is read.
 */
typedef struct {
    apr_table_t *vars;
} env_dir_head_t;

/* mod_env, when loaded. */
static module *env_module_found = NULL;

/* The mark left in a request's request_config: any non-NULL pointer. */
static const char skip_mark[] = "map_to_storage off";

/* Set once a late `off` has been logged in this process. */
static apr_uint32_t late_logged = 0;

void
apwsgi_storage_init(void)
{
    env_module_found = ap_find_linked_module("mod_env.c");
}

/* The key as SetEnv sets it for r's URL (mod_env's merged table), else
 * as a server-level SetEnvIf set it, else NULL. */
static const char *
early_value(request_rec *r)
{
    const char *v = NULL;

    if (env_module_found) {
        const env_dir_head_t *env =
            ap_get_module_config(r->per_dir_config, env_module_found);

        if (env && env->vars) {
            v = apr_table_get(env->vars, APWSGI_KEY_MAP_TO_STORAGE);
        }
    }
    if (!v) {
        v = apr_table_get(r->subprocess_env, APWSGI_KEY_MAP_TO_STORAGE);
    }
    return v;
}

/* Whether the SetHandler that applies to r's URL names apwsgi's
 * handler (core evaluates the same expression in its type_checker). */
static int
handler_is_ours(request_rec *r)
{
    core_dir_config *d = ap_get_core_module_config(r->per_dir_config);
    const char *err = NULL;
    const char *name = NULL;

    if (!d || !d->expr_handler) {
        return 0;
    }
    name = ap_expr_str_exec(r, d->expr_handler, &err);
    return !err && name && strcasecmp(name, APWSGI_HANDLER) == 0;
}

int
apwsgi_storage_note(request_rec *r)
{
    const char *v = NULL;

    /* TRACE is Apache's to answer (in map_to_storage), and a proxy
     * request is mod_proxy's to map. */
    if (r->method_number == M_TRACE || r->proxyreq) {
        return DECLINED;
    }
    v = early_value(r);
    if (v && strcasecmp(v, "off") == 0 && handler_is_ours(r)) {
        ap_set_module_config(r->request_config, &apwsgi_module,
                             (void *)skip_mark);
    }
    return DECLINED;
}

int
apwsgi_storage_map(request_rec *r)
{
    return ap_get_module_config(r->request_config, &apwsgi_module) ? OK
                                                                   : DECLINED;
}

int
apwsgi_storage_check(request_rec *r, const char *v)
{
    if (!v || !*v || strcasecmp(v, "on") == 0) {
        return OK;
    }
    if (strcasecmp(v, "off") != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APWSGI_APLOGNO(00117) "%s '%s' for %s must be 'on' "
                                            "or 'off'",
                      APWSGI_KEY_MAP_TO_STORAGE, v, r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!ap_get_module_config(r->request_config, &apwsgi_module)
        && !r->proxyreq && apr_atomic_cas32(&late_logged, 1, 0) == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      APWSGI_APLOGNO(00118) "%s off for %s changed "
                                            "nothing: Apache had mapped "
                                            "the URL to the file system "
                                            "before the key or the "
                                            "handler was set; set both "
                                            "with SetEnv and SetHandler "
                                            "in the <Location> (logged "
                                            "once per process)",
                      APWSGI_KEY_MAP_TO_STORAGE, r->uri);
    }
    return OK;
}
