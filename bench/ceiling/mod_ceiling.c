/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_ceiling.c: the benchmark's C ceiling, Apache's own minimal handler.
 *
 * For requests whose handler is "ceiling" it answers 200 with the same
 * 12 bytes as bench/apps/hello.py, "Hello world!", as text/plain.  No
 * WSGI server can be faster than this inside the same Apache, so the
 * harness reports apwsgi's rate as a share of this one.  It has no
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
#include "http_protocol.h"
#include "ap_config.h"

#include <string.h>

static const char ceiling_body[] = "Hello world!";

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
