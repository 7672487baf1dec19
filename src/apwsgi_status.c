/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_status.c: the status handler, and its JSON and Prometheus
 * renderings (the HTML page is apwsgi_status_html.c).
 *
 * One view of the figures (apwsgi_metrics_read) per request, rendered
 * whole into a brigade and sent with its Content-Length.  The JSON
 * document's layout is versioned ("schema": "apwsgi-status/1") and
 * documented in docs/operations.rst, with a JSON Schema in
 * docs/status-schema.json; a change that is not an addition gets a new
 * version.
 */
#include "apwsgi_status.h"

#include <stdio.h>
#include "apr_base64.h"

#define SCHEMA "apwsgi-status/1"

static const char *const classes[APWSGI_CODE_CLASSES] = {"1xx", "2xx", "3xx",
                                                         "4xx", "5xx"};
static const char *const events[APWSGI_INTERP_EVENTS] = {
    "created", "reloaded", "retired", "evicted", "ended"};

int
apwsgi_status_printf(apr_bucket_brigade *bb, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n = 0;

    /* The C library's formatting, not APR's: APR prints 0.005 as
     * ".005", which is no JSON and no Prometheus number. */
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return n;
    }
    if ((size_t)n < sizeof(buf)) {
        return apr_brigade_write(bb, NULL, NULL, buf, n);
    }
    {
        char *big = apr_palloc(bb->p, (apr_size_t)n + 1);

        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        return apr_brigade_write(bb, NULL, NULL, big, n);
    }
}

/* Microseconds (wall clock) as Unix seconds. */
static double
unix_seconds(apr_time_t t)
{
    return (double)t / APR_USEC_PER_SEC;
}

/* ---- JSON ---- */

/* The length of the valid UTF-8 sequence at s (up to `n` bytes), or
 * 0 when there is none. */
static int
utf8_len(const unsigned char *s, apr_size_t n)
{
    int len = s[0] < 0x80             ? 1
              : (s[0] & 0xe0) == 0xc0 ? 2
              : (s[0] & 0xf0) == 0xe0 ? 3
              : (s[0] & 0xf8) == 0xf0 ? 4
                                      : 0;

    if (len == 0 || (apr_size_t)len > n || (len == 2 && s[0] < 0xc2)
        || (len == 4 && s[0] > 0xf4)) {
        return 0;
    }
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return len;
}

/*
 * `s` as a JSON string.  Besides what JSON requires, <, >, & and ' are
 * escaped (the document may be read as HTML by a confused client), and
 * bytes that are not UTF-8 (a path is any bytes) become U+FFFD.
 */
static void
json_str(apr_bucket_brigade *bb, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    apr_size_t n = strlen((const char *)p);

    APWSGI_STATUS_PUTS(bb, "\"");
    while (n > 0) {
        const unsigned char *run = p;
        int len = 0;

        while (n > 0 && *p >= 0x20 && *p < 0x7f && !strchr("\"\\<>&'", *p)) {
            p++;
            n--;
        }
        if (p > run) {
            apr_brigade_write(bb, NULL, NULL, (const char *)run, p - run);
        }
        if (n == 0) {
            break;
        }
        len = *p >= 0x80 ? utf8_len(p, n) : 1;
        if (*p >= 0x80 && len > 0) {
            apr_brigade_write(bb, NULL, NULL, (const char *)p, len);
        }
        else if (*p >= 0x80) {
            APWSGI_STATUS_PUTS(bb, "\\ufffd");
            len = 1;
        }
        else if (*p == '"' || *p == '\\') {
            apwsgi_status_printf(bb, "\\%c", *p);
        }
        else if (*p == '\n') {
            APWSGI_STATUS_PUTS(bb, "\\n");
        }
        else {
            apwsgi_status_printf(bb, "\\u%04x", *p);
        }
        p += len;
        n -= len;
    }
    APWSGI_STATUS_PUTS(bb, "\"");
}

/* A histogram: {"sum", "count", "bounds", "counts"} (counts per
 * bucket, not cumulative; the last is above the last bound). */
static void
json_histogram(apr_bucket_brigade *bb, apr_uint64_t sum_us,
               const apr_uint64_t *counts, const double *bounds, int n)
{
    apr_uint64_t count = 0;

    for (int i = 0; i < n; i++) {
        count += counts[i];
    }
    apwsgi_status_printf(
        bb, "{\"sum\": %.6f, \"count\": %" APR_UINT64_T_FMT ", \"bounds\": [",
        (double)sum_us / APR_USEC_PER_SEC, count);
    for (int i = 0; i < n - 1; i++) {
        apwsgi_status_printf(bb, "%s%g", i ? ", " : "", bounds[i]);
    }
    APWSGI_STATUS_PUTS(bb, "], \"counts\": [");
    for (int i = 0; i < n; i++) {
        apwsgi_status_printf(bb, "%s%" APR_UINT64_T_FMT, i ? ", " : "",
                             counts[i]);
    }
    APWSGI_STATUS_PUTS(bb, "]}");
}

/* The members every interpreter and the totals share. */
static void
json_counters(apr_bucket_brigade *bb, const apwsgi_counters_t *c)
{
    apwsgi_status_printf(
        bb, "\"requests\": %" APR_UINT64_T_FMT ", \"requests_by_class\": {",
        apwsgi_counters_requests(c));
    for (int i = 0; i < APWSGI_CODE_CLASSES; i++) {
        apwsgi_status_printf(bb, "%s\"%s\": %" APR_UINT64_T_FMT, i ? ", " : "",
                             classes[i], c->requests[i]);
    }
    APWSGI_STATUS_PUTS(bb, "}, \"duration_seconds\": ");
    json_histogram(bb, c->duration_us, c->duration, apwsgi_duration_bounds,
                   APWSGI_DURATION_BUCKETS);
    APWSGI_STATUS_PUTS(bb, ", \"gil_wait_seconds\": ");
    json_histogram(bb, c->gil_wait_us, c->gil_wait, apwsgi_gil_bounds,
                   APWSGI_GIL_BUCKETS);
    apwsgi_status_printf(bb,
                         ", \"exceptions\": %" APR_UINT64_T_FMT
                         ", \"timeouts\": %" APR_UINT64_T_FMT
                         ", \"bytes_in\": %" APR_UINT64_T_FMT
                         ", \"bytes_out\": %" APR_UINT64_T_FMT,
                         c->exceptions, c->timeouts, c->bytes_in,
                         c->bytes_out);
}

/* {"alive": n, "created": n, ...} */
static void
json_events(apr_bucket_brigade *bb, apr_int64_t alive,
            const apwsgi_counters_t *c)
{
    apwsgi_status_printf(bb, "{\"alive\": %" APR_INT64_T_FMT, alive);
    for (int i = 0; i < APWSGI_INTERP_EVENTS; i++) {
        apwsgi_status_printf(bb, ", \"%s\": %" APR_UINT64_T_FMT, events[i],
                             c->events[i]);
    }
    APWSGI_STATUS_PUTS(bb, "}");
}

static void
json_number_or_null(apr_bucket_brigade *bb, const char *name, double v)
{
    if (v < 0) {
        apwsgi_status_printf(bb, ", \"%s\": null", name);
    }
    else {
        apwsgi_status_printf(bb, ", \"%s\": %.6f", name, v);
    }
}

static void
json_interps(apr_bucket_brigade *bb, const apwsgi_view_t *v)
{
    const apwsgi_interp_view_t *in =
        (const apwsgi_interp_view_t *)v->interps->elts;

    APWSGI_STATUS_PUTS(bb, "\"interpreters\": [");
    for (int i = 0; i < v->interps->nelts; i++) {
        APWSGI_STATUS_PUTS(bb, i ? ",\n  {\"name\": " : "\n  {\"name\": ");
        json_str(bb, in[i].name);
        APWSGI_STATUS_PUTS(bb, ", ");
        json_counters(bb, &in[i].c);
        apwsgi_status_printf(
            bb, ", \"in_flight\": %" APR_INT64_T_FMT ", \"life\": ",
            in[i].in_flight);
        json_events(bb, in[i].alive, &in[i].c);
        APWSGI_STATUS_PUTS(bb, "}");
    }
    APWSGI_STATUS_PUTS(bb, "],\n");
}

static void
json_processes(apr_bucket_brigade *bb, const apwsgi_view_t *v)
{
    const apwsgi_process_view_t *p =
        (const apwsgi_process_view_t *)v->processes->elts;

    APWSGI_STATUS_PUTS(bb, "\"processes\": [");
    for (int i = 0; i < v->processes->nelts; i++) {
        apwsgi_status_printf(
            bb,
            "%s\n  {\"pid\": %d, \"generation\": %d, "
            "\"started\": %.6f, \"threads\": %d, \"busy\": "
            "%" APR_INT64_T_FMT ", \"idle\": %" APR_INT64_T_FMT
            ", \"interpreters\": %" APR_INT64_T_FMT
            ", \"requests\": %" APR_UINT64_T_FMT
            ", \"rss_bytes\": %" APR_UINT64_T_FMT
            ", \"cpu_seconds\": {\"user\": %.2f, \"system\": %.2f}}",
            i ? "," : "", p[i].pid, p[i].generation,
            unix_seconds(p[i].started), p[i].threads, p[i].busy,
            p[i].threads > p[i].busy ? p[i].threads - p[i].busy : 0,
            p[i].interpreters, p[i].requests, p[i].rss_bytes, p[i].cpu_user,
            p[i].cpu_system);
    }
    APWSGI_STATUS_PUTS(bb, "],\n");
}

static void
json_requests(apr_bucket_brigade *bb, const apwsgi_view_t *v)
{
    const apwsgi_request_view_t *q =
        (const apwsgi_request_view_t *)v->requests->elts;

    APWSGI_STATUS_PUTS(bb, "\"requests\": [");
    for (int i = 0; i < v->requests->nelts; i++) {
        apwsgi_status_printf(
            bb,
            "%s\n  {\"pid\": %d, \"thread\": %ld, \"method\": ", i ? "," : "",
            q[i].pid, q[i].tid);
        json_str(bb, q[i].method);
        APWSGI_STATUS_PUTS(bb, ", \"path\": ");
        json_str(bb, q[i].path);
        APWSGI_STATUS_PUTS(bb, ", \"interpreter\": ");
        json_str(bb, q[i].interp);
        apwsgi_status_printf(bb, ", \"age_seconds\": %.3f, \"started\": %.6f",
                             q[i].age, unix_seconds(q[i].started));
        APWSGI_STATUS_PUTS(bb, ", \"stack\": ");
        if (q[i].stack) {
            json_str(bb, q[i].stack);
        }
        else {
            APWSGI_STATUS_PUTS(bb, "null");
        }
        APWSGI_STATUS_PUTS(bb, "}");
    }
    apwsgi_status_printf(
        bb, "],\n\"requests_unlisted\": %" APR_INT64_T_FMT ",\n", v->unlisted);
}

static void
json_series(apr_bucket_brigade *bb, const apwsgi_view_t *v)
{
    const apwsgi_point_view_t *pt =
        (const apwsgi_point_view_t *)v->series->elts;

    apwsgi_status_printf(
        bb, "\"series\": {\"step_seconds\": %d, \"points\": [", v->step);
    for (int i = 0; i < v->series->nelts; i++) {
        apwsgi_status_printf(
            bb,
            "%s\n  {\"time\": %.0f, \"requests_per_second\": %.3f, "
            "\"errors_per_second\": %.3f",
            i ? "," : "", unix_seconds(pt[i].time), pt[i].rate, pt[i].errors);
        json_number_or_null(bb, "mean_seconds", pt[i].mean);
        json_number_or_null(bb, "p95_seconds", pt[i].p95);
        apwsgi_status_printf(bb, ", \"in_flight\": %" APR_INT64_T_FMT "}",
                             pt[i].in_flight);
    }
    APWSGI_STATUS_PUTS(bb, "]}\n");
}

static void
render_json(apr_bucket_brigade *bb, const apwsgi_view_t *v)
{
    const char *mpm = ap_show_mpm();

    apwsgi_status_printf(bb,
                         "{\"schema\": \"" SCHEMA "\",\n\"time\": %.6f,\n"
                         "\"server\": {\"started\": %.6f, \"mpm\": ",
                         unix_seconds(v->now), unix_seconds(v->created));
    json_str(bb, mpm);
    apwsgi_status_printf(bb, ", \"python\": \"%s\"},\n\"totals\": {",
                         PY_VERSION);
    json_counters(bb, &v->totals);
    apwsgi_status_printf(
        bb,
        ", \"in_flight\": %" APR_INT64_T_FMT
        ", \"processes\": %d, \"workers\": {\"threads\": "
        "%" APR_INT64_T_FMT ", \"busy\": %" APR_INT64_T_FMT
        ", \"idle\": %" APR_INT64_T_FMT "}, \"interpreters\": ",
        v->in_flight, v->processes->nelts, v->threads, v->busy,
        v->threads > v->busy ? v->threads - v->busy : 0);
    json_events(bb, v->interpreters, &v->totals);
    APWSGI_STATUS_PUTS(bb, "},\n");
    json_interps(bb, v);
    json_processes(bb, v);
    json_requests(bb, v);
    json_series(bb, v);
    APWSGI_STATUS_PUTS(bb, "}\n");
}

/* ---- Prometheus text format 0.0.4 ---- */

/* `s` as a label value: \, " and newline escaped. */
static void
prom_label(apr_bucket_brigade *bb, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            apwsgi_status_printf(bb, "\\%c", *s);
        }
        else if (*s == '\n') {
            APWSGI_STATUS_PUTS(bb, "\\n");
        }
        else {
            apr_brigade_putc(bb, NULL, NULL, *s);
        }
    }
}

static void
prom_head(apr_bucket_brigade *bb, const char *name, const char *type,
          const char *help)
{
    apwsgi_status_printf(bb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                         type);
}

/* name{interpreter="..."<extra>} */
static void
prom_sample_start(apr_bucket_brigade *bb, const char *name, const char *interp)
{
    apwsgi_status_printf(bb, "%s{interpreter=\"", name);
    prom_label(bb, interp);
    APWSGI_STATUS_PUTS(bb, "\"");
}

static void
prom_histogram(apr_bucket_brigade *bb, const char *name, const char *interp,
               apr_uint64_t sum_us, const apr_uint64_t *counts,
               const double *bounds, int n)
{
    apr_uint64_t cumulative = 0;

    for (int i = 0; i < n; i++) {
        cumulative += counts[i];
        prom_sample_start(bb, apr_pstrcat(bb->p, name, "_bucket", NULL),
                          interp);
        if (i < n - 1) {
            apwsgi_status_printf(bb, ",le=\"%g\"} %" APR_UINT64_T_FMT "\n",
                                 bounds[i], cumulative);
        }
        else {
            apwsgi_status_printf(bb, ",le=\"+Inf\"} %" APR_UINT64_T_FMT "\n",
                                 cumulative);
        }
    }
    prom_sample_start(bb, apr_pstrcat(bb->p, name, "_sum", NULL), interp);
    apwsgi_status_printf(bb, "} %.6f\n", (double)sum_us / APR_USEC_PER_SEC);
    prom_sample_start(bb, apr_pstrcat(bb->p, name, "_count", NULL), interp);
    apwsgi_status_printf(bb, "} %" APR_UINT64_T_FMT "\n", cumulative);
}

/* One counter per interpreter: the value at `offset` in its counters. */
static void
prom_per_interp(apr_bucket_brigade *bb, const apwsgi_view_t *v,
                const char *name, size_t offset)
{
    const apwsgi_interp_view_t *in =
        (const apwsgi_interp_view_t *)v->interps->elts;

    for (int i = 0; i < v->interps->nelts; i++) {
        prom_sample_start(bb, name, in[i].name);
        apwsgi_status_printf(
            bb, "} %" APR_UINT64_T_FMT "\n",
            *(const apr_uint64_t *)((const char *)&in[i].c + offset));
    }
}

static void
prom_interps(apr_bucket_brigade *bb, const apwsgi_view_t *v)
{
    const apwsgi_interp_view_t *in =
        (const apwsgi_interp_view_t *)v->interps->elts;
    int n = v->interps->nelts;

    prom_head(bb, "apwsgi_requests_total", "counter",
              "Requests served by WSGI applications, by interpreter and "
              "status class.");
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < APWSGI_CODE_CLASSES; k++) {
            prom_sample_start(bb, "apwsgi_requests_total", in[i].name);
            apwsgi_status_printf(bb,
                                 ",code_class=\"%s\"} %" APR_UINT64_T_FMT "\n",
                                 classes[k], in[i].c.requests[k]);
        }
    }
    prom_head(bb, "apwsgi_request_duration_seconds", "histogram",
              "Time from the handler's start to its end.");
    for (int i = 0; i < n; i++) {
        prom_histogram(bb, "apwsgi_request_duration_seconds", in[i].name,
                       in[i].c.duration_us, in[i].c.duration,
                       apwsgi_duration_bounds, APWSGI_DURATION_BUCKETS);
    }
    prom_head(bb, "apwsgi_gil_wait_seconds", "histogram",
              "Time a request waited to enter its interpreter (its GIL).");
    for (int i = 0; i < n; i++) {
        prom_histogram(bb, "apwsgi_gil_wait_seconds", in[i].name,
                       in[i].c.gil_wait_us, in[i].c.gil_wait,
                       apwsgi_gil_bounds, APWSGI_GIL_BUCKETS);
    }
    prom_head(bb, "apwsgi_requests_in_flight", "gauge",
              "Requests inside an interpreter's application now.");
    for (int i = 0; i < n; i++) {
        prom_sample_start(bb, "apwsgi_requests_in_flight", in[i].name);
        apwsgi_status_printf(bb, "} %" APR_INT64_T_FMT "\n", in[i].in_flight);
    }
    prom_head(bb, "apwsgi_application_exceptions_total", "counter",
              "Exceptions the application (or its close()) raised.");
    prom_per_interp(bb, v, "apwsgi_application_exceptions_total",
                    offsetof(apwsgi_counters_t, exceptions));
    prom_head(bb, "apwsgi_request_timeouts_total", "counter",
              "Requests that reached mod_wsgi.request_timeout.");
    prom_per_interp(bb, v, "apwsgi_request_timeouts_total",
                    offsetof(apwsgi_counters_t, timeouts));
    prom_head(bb, "apwsgi_request_bytes_total", "counter",
              "Request body bytes the applications read.");
    prom_per_interp(bb, v, "apwsgi_request_bytes_total",
                    offsetof(apwsgi_counters_t, bytes_in));
    prom_head(bb, "apwsgi_response_bytes_total", "counter",
              "Response body bytes sent.");
    prom_per_interp(bb, v, "apwsgi_response_bytes_total",
                    offsetof(apwsgi_counters_t, bytes_out));
    prom_head(bb, "apwsgi_interpreters", "gauge",
              "Interpreters alive, in all processes.");
    for (int i = 0; i < n; i++) {
        prom_sample_start(bb, "apwsgi_interpreters", in[i].name);
        apwsgi_status_printf(bb, "} %" APR_INT64_T_FMT "\n", in[i].alive);
    }
    prom_head(bb, "apwsgi_interpreter_events_total", "counter",
              "Interpreters created, reloaded, retired, evicted, ended.");
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < APWSGI_INTERP_EVENTS; k++) {
            prom_sample_start(bb, "apwsgi_interpreter_events_total",
                              in[i].name);
            apwsgi_status_printf(bb, ",event=\"%s\"} %" APR_UINT64_T_FMT "\n",
                                 events[k], in[i].c.events[k]);
        }
    }
}

static void
prom_processes(apr_bucket_brigade *bb, const apwsgi_view_t *v)
{
    const apwsgi_process_view_t *p =
        (const apwsgi_process_view_t *)v->processes->elts;
    int n = v->processes->nelts;

    prom_head(bb, "apwsgi_workers", "gauge",
              "Worker threads of the children: inside an apwsgi request "
              "(busy) or not (idle).");
    apwsgi_status_printf(
        bb,
        "apwsgi_workers{state=\"busy\"} %" APR_INT64_T_FMT "\n"
        "apwsgi_workers{state=\"idle\"} %" APR_INT64_T_FMT "\n",
        v->busy, v->threads > v->busy ? v->threads - v->busy : 0);
    prom_head(bb, "apwsgi_processes", "gauge", "Live children.");
    apwsgi_status_printf(bb, "apwsgi_processes %d\n", n);
    prom_head(bb, "apwsgi_process_resident_memory_bytes", "gauge",
              "Resident memory of each child.");
    for (int i = 0; i < n; i++) {
        apwsgi_status_printf(
            bb,
            "apwsgi_process_resident_memory_bytes{pid=\"%d\"} "
            "%" APR_UINT64_T_FMT "\n",
            p[i].pid, p[i].rss_bytes);
    }
    prom_head(bb, "apwsgi_process_cpu_seconds_total", "counter",
              "CPU time of each child, by mode.");
    for (int i = 0; i < n; i++) {
        apwsgi_status_printf(
            bb,
            "apwsgi_process_cpu_seconds_total{pid=\"%d\",mode=\"user\"}"
            " %.2f\napwsgi_process_cpu_seconds_total{pid=\"%d\","
            "mode=\"system\"} %.2f\n",
            p[i].pid, p[i].cpu_user, p[i].pid, p[i].cpu_system);
    }
    prom_head(bb, "apwsgi_process_start_time_seconds", "gauge",
              "When each child started, in Unix seconds.");
    for (int i = 0; i < n; i++) {
        apwsgi_status_printf(
            bb, "apwsgi_process_start_time_seconds{pid=\"%d\"} %.3f\n",
            p[i].pid, unix_seconds(p[i].started));
    }
    prom_head(bb, "apwsgi_start_time_seconds", "gauge",
              "When the server started, in Unix seconds: counters count "
              "from then, across restarts.");
    apwsgi_status_printf(bb, "apwsgi_start_time_seconds %.3f\n",
                         unix_seconds(v->created));
}

static void
render_metrics(apr_bucket_brigade *bb, const apwsgi_view_t *v)
{
    prom_interps(bb, v);
    prom_processes(bb, v);
}

/* ---- the handler ---- */

/* Whether the query string holds the word `key` (as a parameter
 * name, with or without a value). */
static int
query_has(const char *args, const char *key)
{
    apr_size_t n = strlen(key);

    while (args && *args) {
        if (strncmp(args, key, n) == 0
            && (args[n] == '\0' || args[n] == '&' || args[n] == '=')) {
            return 1;
        }
        args = strchr(args, '&');
        args = args ? args + 1 : NULL;
    }
    return 0;
}

/* A random value for the page's script nonce, in r->pool. */
static const char *
make_nonce(request_rec *r)
{
    unsigned char raw[16];
    char *out = apr_palloc(r->pool, apr_base64_encode_len(sizeof(raw)));

    if (apr_generate_random_bytes(raw, sizeof(raw)) != APR_SUCCESS) {
        apr_uint64_t t = (apr_uint64_t)apr_time_now() ^ (apr_uint64_t)r;

        memcpy(raw, &t, sizeof(t));
        memcpy(raw + sizeof(t), &t, sizeof(t));
    }
    apr_base64_encode(out, (const char *)raw, sizeof(raw));
    return out;
}

int
apwsgi_status_handle(request_rec *r)
{
    apr_bucket_brigade *bb = NULL;
    apwsgi_view_t view;
    apr_off_t length = 0;
    const char *nonce = NULL;
    int rc = OK;

    /* The Allow header of the 405 (GET stands for HEAD too). */
    ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    rc = ap_discard_request_body(r);
    if (rc != OK) {
        return rc;
    }
    if (apwsgi_metrics_read(r->pool, &view) < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APWSGI_APLOGNO(00705) "the status page %s has no "
                                            "figures to show: the shared "
                                            "memory for them could not be "
                                            "made when Apache started (see "
                                            "APW00703)",
                      r->uri);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    if (query_has(r->args, "json")) {
        ap_set_content_type(r, "application/json");
        render_json(bb, &view);
    }
    else if (query_has(r->args, "metrics")) {
        ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
        render_metrics(bb, &view);
    }
    else {
        nonce = make_nonce(r);
        ap_set_content_type(r, "text/html; charset=utf-8");
        apr_table_setn(
            r->headers_out, "Content-Security-Policy",
            apr_pstrcat(r->pool,
                        "default-src 'none'; style-src 'unsafe-inline'; "
                        "script-src 'nonce-",
                        nonce,
                        "'; connect-src 'self'; base-uri 'none'; "
                        "form-action 'none'; frame-ancestors 'none'",
                        NULL));
        apr_table_setn(r->headers_out, "Referrer-Policy", "no-referrer");
        apwsgi_status_html(r, bb, &view, nonce);
    }
    apr_brigade_length(bb, 1, &length);
    ap_set_content_length(r, length);
    APR_BRIGADE_INSERT_TAIL(
        bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    /* A client that went away is no error of the handler's. */
    ap_pass_brigade(r->output_filters, bb);
    return OK;
}
