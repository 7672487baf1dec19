/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_ceiling.c: the benchmark's C ceiling, Apache's own minimal handler.
 *
 * For requests whose handler is "ceiling" it answers 200 with the same
 * 12 bytes as bench/apps/hello.py, "Hello world!", as text/plain.  No
 * WSGI server can be faster than this inside the same Apache, so the
 * harness reports apwsgi's rate as a share of this one.  Its URLs skip
 * Apache's walk of the file system (as apwsgi's do with
 * mod_wsgi.map_to_storage off): nothing is stored there.  It has no
 * configuration and declines every other handler:
 *
 *     LoadModule ceiling_module /path/to/build/mod_ceiling.so
 *     <Location /hello>
 *         SetHandler ceiling
 *     </Location>
 *
 * Built by `make ceiling` into build/mod_ceiling.so.  The reliability
 * tests use it too, as the baseline that suffers Apache's own losses.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_config.h"

#include <string.h>

static const char ceiling_body[] = "Hello world!";

module AP_MODULE_DECLARE_DATA ceiling_module;

/* translate_name (first, always DECLINED): marks a request whose
 * SetHandler names the ceiling. */
static int
ceiling_note(request_rec *r)
{
    core_dir_config *d = ap_get_core_module_config(r->per_dir_config);
    const char *err = NULL;
    const char *name = NULL;

    if (d && d->expr_handler) {
        name = ap_expr_str_exec(r, d->expr_handler, &err);
    }
    if (!err && name && strcmp(name, "ceiling") == 0) {
        ap_set_module_config(r->request_config, &ceiling_module,
                             (void *)ceiling_body);
    }
    return DECLINED;
}

/* map_to_storage (first): OK for a marked request, but TRACE. */
static int
ceiling_map(request_rec *r)
{
    if (r->method_number == M_TRACE
        || !ap_get_module_config(r->request_config, &ceiling_module)) {
        return DECLINED;
    }
    return OK;
}

static int
ceiling_handler(request_rec *r)
{
    const apr_size_t len = sizeof(ceiling_body) - 1;

    if (!r->handler || strcmp(r->handler, "ceiling") != 0) {
        return DECLINED;
    }
    ap_set_content_type(r, "text/plain");
    /* Known up front, as a WSGI server knows it for a one-item list:
     * the response is never chunked. */
    ap_set_content_length(r, len);
    if (!r->header_only) {
        ap_rwrite(ceiling_body, (int)len, r);
    }
    return OK;
}

static void
ceiling_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(ceiling_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(ceiling_note, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_map_to_storage(ceiling_map, NULL, NULL, APR_HOOK_FIRST);
}

AP_DECLARE_MODULE(ceiling) = {
    STANDARD20_MODULE_STUFF,
    NULL,                  /* per-directory config: none */
    NULL,                  /* merge */
    NULL,                  /* per-server config: none */
    NULL,                  /* merge */
    NULL,                  /* directives: none */
    ceiling_register_hooks,
    AP_MODULE_FLAG_NONE,
};
