/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_status.h: the status handler, `SetHandler apwsgi-status`.
 *
 * It answers GET and HEAD only (405 otherwise) with the figures of
 * every live child of the server (apwsgi_metrics.h), in one of three
 * forms chosen by the query string: `?json` (application/json, the
 * document described in docs/operations.rst), `?metrics` (Prometheus
 * text exposition format 0.0.4), anything else an HTML page for
 * people, with no external asset, that refreshes itself.  It shows
 * request paths, never query strings, headers, cookies or bodies;
 * every string is escaped for where it goes.  Status requests are not
 * counted as requests of any interpreter.  No Python is involved.
 *
 * Called by the hooks (mod_apwsgi.c); calls the metrics only.
 */
#ifndef APWSGI_STATUS_H
#define APWSGI_STATUS_H

#include "apwsgi.h"
#include "apwsgi_metrics.h"

/* The handler name that `SetHandler` selects. */
#define APWSGI_STATUS_HANDLER "apwsgi-status"

/* Answer `r`: OK, or an HTTP status for Apache to send (405, 503).
 * Response memory in r->pool. */
int apwsgi_status_handle(request_rec *r);

/*
 * The HTML page for `view` (apwsgi_status_html.c) into `bb`, its
 * inline script marked with `nonce` (the page's Content-Security-Policy
 * allows that script only).  Strings in r->pool.
 */
void apwsgi_status_html(request_rec *r, apr_bucket_brigade *bb,
                        const apwsgi_view_t *view, const char *nonce);

/* Append `s` to `bb` (apr_brigade_puts). */
#define APWSGI_STATUS_PUTS(bb, s) apr_brigade_puts((bb), NULL, NULL, (s))

/*
 * Append printf(3)'s formatting of `fmt` to `bb`: the C library's, not
 * APR's, which prints 0.005 as ".005" (no JSON and no Prometheus
 * number).  Apache's status (apr_brigade_write), or a negative number
 * for a bad format.  Memory of long output in bb->p.
 */
int apwsgi_status_printf(apr_bucket_brigade *bb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* APWSGI_STATUS_H */
