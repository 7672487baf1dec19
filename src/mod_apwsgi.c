/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_apwsgi.c: the module's hooks.
 *
 * apwsgi serves WSGI applications from an embedded CPython.  It hooks
 * the response phase (for the handler "mod_wsgi") and the child
 * process's life; it has no directives.  Only where a <Location> sets
 * mod_wsgi.map_to_storage off does it also take part in mapping the URL
 * (translate_name notes it, map_to_storage skips the file-system walk;
 * apwsgi_storage.h).  Each request brings its own configuration in
 * r->subprocess_env (see apwsgi_config.h), so SetEnv, SetEnvIf and
 * mod_rewrite's [E=...] all choose the application and the interpreter
 * that runs it.
 */
#define APWSGI_MODULE_FILE
#include "apwsgi.h"
#include "apwsgi_affinity.h"
#include "apwsgi_config.h"
#include "apwsgi_exit.h"
#include "apwsgi_metrics.h"
#include "apwsgi_output.h"
#include "apwsgi_python.h"
#include "apwsgi_reload.h"
#include "apwsgi_request.h"
#include "apwsgi_status.h"
#include "apwsgi_storage.h"
#include "mpm_common.h"

static int
apwsgi_handler(request_rec *r)
{
    apwsgi_config_t cfg;
    int status = OK;

    if (!r->handler) {
        return DECLINED;
    }
    if (strcmp(r->handler, APWSGI_HANDLER) != 0) {
        return strcmp(r->handler, APWSGI_STATUS_HANDLER) == 0
                   ? apwsgi_status_handle(r)
                   : DECLINED;
    }
    status = apwsgi_config_read(r, &cfg);
    if (status == OK) {
        status = apwsgi_storage_check(r, cfg.map_to_storage);
    }
    if (status != OK) {
        apwsgi_metrics_refused(cfg.interpreter, status);
        return status;
    }
    /* Checks the body's framing and LimitRequestBody (413) before any
     * Python runs. */
    status = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK);
    if (status != OK) {
        apwsgi_metrics_refused(cfg.interpreter, status);
        return status;
    }
    if (!apwsgi_python_ready()) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            APWSGI_APLOGNO(00005) "Python is not available in this "
                                  "process, so %s cannot be served: "
                                  "see the APW00001 line logged when "
                                  "the process started",
            r->uri);
        apwsgi_metrics_refused(cfg.interpreter, HTTP_INTERNAL_SERVER_ERROR);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apwsgi_affinity_apply(r, cfg.cpu_affinity, cfg.sched_batch, cfg.own_gil);
    return apwsgi_request_run(r, &cfg);
}

static void
apwsgi_child_init(apr_pool_t *pchild, server_rec *s)
{
    apwsgi_metrics_child_init(pchild, s);
    apwsgi_affinity_init(apwsgi_metrics_slot_index());
    apwsgi_storage_init();
    apwsgi_reload_init();
    apwsgi_output_init();
    apwsgi_python_init(pchild, s);
}

#if AP_MODULE_MAGIC_AT_LEAST(20120211, 110)
/* The MPM stops this child (prefork: maybe in a signal handler). */
static void
apwsgi_child_stopping(apr_pool_t *pchild, int graceful)
{
    (void)pchild;
    apwsgi_exit_stopping(graceful);
}
#endif

static void
apwsgi_register_hooks(apr_pool_t *p)
{
    /* Where mod_python is loaded too, it initialises Python first and
     * apwsgi uses that Python rather than start a second one. */
    static const char *const after[] = {"mod_python.c", NULL};

    apwsgi_metrics_setup(p);
    ap_hook_child_init(apwsgi_child_init, after, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(apwsgi_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* Before mod_rewrite and mod_alias, which may end translate_name. */
    ap_hook_translate_name(apwsgi_storage_note, NULL, NULL,
                           APR_HOOK_REALLY_FIRST);
    ap_hook_map_to_storage(apwsgi_storage_map, NULL, NULL, APR_HOOK_FIRST);
#if AP_MODULE_MAGIC_AT_LEAST(20120211, 110)
    ap_hook_child_stopping(apwsgi_child_stopping, NULL, NULL, APR_HOOK_MIDDLE);
#endif
}

AP_DECLARE_MODULE(apwsgi) = {
    STANDARD20_MODULE_STUFF,
    NULL, /* per-directory config: none */
    NULL, /* merge */
    NULL, /* per-server config: none */
    NULL, /* merge */
    NULL, /* directives: none, by design */
    apwsgi_register_hooks,
    AP_MODULE_FLAG_NONE,
};
