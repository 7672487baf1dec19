/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_output.c: whether a pass down a request's output filters can
 * block (see apwsgi_output.h).
 */
#include "apwsgi_output.h"

/*
 * What a pass that keeps the GIL may carry, headers included: half of
 * the core output filter's THRESHOLD_MAX_BUFFER, which leaves room for
 * headers other modules add and for what a compressing or encrypting
 * filter adds to the data.
 */
#define APWSGI_OUTPUT_NOBLOCK_BYTES 32768

/* What Apache adds to the application's headers (status line, Date,
 * Server, Content-Length, Keep-Alive, ...), at most. */
#define APWSGI_OUTPUT_OWN_HEADERS 1024

/*
 * The output filters that only compute and pass on, by their registered
 * names: httpd's own protocol and network filters, and mod_ssl,
 * mod_headers, mod_expires, mod_deflate and mod_brotli, whose filters
 * pass FLUSH on only when given one.  A name whose module is not
 * loaded has no handle and is skipped.
 */
static const char *const known_names[] = {
    "BYTERANGE",
    "CONTENT_LENGTH",
    "HTTP_HEADER",
    "HTTP_OUTERROR",
    "CHUNK",
    "CORE",
    "OLD_WRITE",
    "SSL/TLS Filter",
    "SSL/TLS Coalescing Filter",
    "FIXUP_HEADERS_OUT",
    "FIXUP_HEADERS_ERR",
    "MOD_EXPIRES",
    "DEFLATE",
    "BROTLI_COMPRESS",
    NULL,
};

#define KNOWN_MAX (sizeof(known_names) / sizeof(known_names[0]))

/* Written once at child init, read-only after. */
static ap_filter_rec_t *known[KNOWN_MAX];
static int known_count;

void
apwsgi_output_init(void)
{
    known_count = 0;
    for (const char *const *name = known_names; *name; name++) {
        ap_filter_rec_t *frec = ap_get_output_filter_handle(*name);

        if (frec) {
            known[known_count++] = frec;
        }
    }
}

static int
is_known(const ap_filter_rec_t *frec)
{
    for (int i = 0; i < known_count; i++) {
        if (known[i] == frec) {
            return 1;
        }
    }
    return 0;
}

/* The bytes of the headers still to be sent, at most (an estimate from
 * above: names, values and separators, plus Apache's own). */
static apr_off_t
pending_header_bytes(request_rec *r)
{
    const apr_table_t *tables[2] = {r->headers_out, r->err_headers_out};
    apr_off_t n = APWSGI_OUTPUT_OWN_HEADERS;

    if (r->status_line) {
        n += (apr_off_t)strlen(r->status_line);
    }
    for (int t = 0; t < 2; t++) {
        const apr_array_header_t *arr = apr_table_elts(tables[t]);
        const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;

        for (int i = 0; i < arr->nelts; i++) {
            n += (apr_off_t)(strlen(e[i].key) + strlen(e[i].val) + 4);
        }
    }
    return n;
}

int
apwsgi_output_cannot_block(request_rec *r, apr_bucket_brigade *bb)
{
    conn_rec *c = r->connection;
    apr_off_t len = 0;

    if (c->master || c->data_in_output_filters) {
        return 0;
    }
    /* Unknown lengths (a pipe, a socket) make this -1: no. */
    if (apr_brigade_length(bb, 0, &len) != APR_SUCCESS || len < 0) {
        return 0;
    }
    if (!r->sent_bodyct) {
        len += pending_header_bytes(r);
    }
    if (len >= APWSGI_OUTPUT_NOBLOCK_BYTES) {
        return 0;
    }
    for (ap_filter_t *f = r->output_filters; f; f = f->next) {
        if (!is_known(f->frec)) {
            return 0;
        }
    }
    return 1;
}
