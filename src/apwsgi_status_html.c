/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_status_html.c: the status page for people.
 *
 * One self-contained page: inline CSS, small inline SVG charts, and a
 * script (allowed by its nonce alone) that fetches the page again
 * every few seconds and swaps in its <main>.  So the page is rendered
 * in one place, here, from the same view as the JSON and Prometheus
 * forms; it reads the same without the script, and every value in it
 * is HTML-escaped here, never by the script.
 *
 * Stable hooks for tests and tools: <main id="status" data-time>,
 * tables #totals, #interpreters-table, #processes-table,
 * #requests-table (rows with data-pid, data-thread, data-interpreter),
 * <svg class="chart" data-series="throughput|latency"
 * data-points="N">, and <pre class="stack"> in rows of slow requests.
 */
#include "apwsgi_status.h"

#include <stdio.h>

/* Width and height of a chart, in SVG units. */
#define CHART_W 600
#define CHART_H 120

/* How often the page refreshes, in milliseconds. */
#define REFRESH_MS 5000

/* `s`, escaped for HTML text and attribute values. */
static void
html(apr_bucket_brigade *bb, const char *s)
{
    const char *run = s ? s : "";

    for (const char *p = run;; p++) {
        const char *entity = NULL;

        switch (*p) {
        case '&':
            entity = "&amp;";
            break;
        case '<':
            entity = "&lt;";
            break;
        case '>':
            entity = "&gt;";
            break;
        case '"':
            entity = "&quot;";
            break;
        case '\'':
            entity = "&#39;";
            break;
        case '\0':
            entity = "";
            break;
        default:
            continue;
        }
        apr_brigade_write(bb, NULL, NULL, run, p - run);
        if (!*p) {
            break;
        }
        APWSGI_STATUS_PUTS(bb, entity);
        run = p + 1;
    }
}

static const char *
bytes_text(apr_pool_t *p, apr_uint64_t n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;

    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    return u ? apr_psprintf(p, "%.1f %s", v, units[u])
             : apr_psprintf(p, "%" APR_UINT64_T_FMT " B", n);
}

/* Seconds as "12.3 ms" or "4.56 s"; "-" when negative (no data). */
static const char *
seconds_text(apr_pool_t *p, double s)
{
    if (s < 0) {
        return "-";
    }
    return s < 1 ? apr_psprintf(p, "%.1f ms", s * 1000)
                 : apr_psprintf(p, "%.2f s", s);
}

static double
mean_of(apr_uint64_t sum_us, apr_uint64_t count)
{
    return count ? (double)sum_us / APR_USEC_PER_SEC / (double)count : -1;
}

static const char style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222}"
    "h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.1em;margin:1.2em 0 .4em}"
    "table{border-collapse:collapse;margin:.2em 0}"
    "th,td{padding:.2em .7em;border-bottom:1px solid #ddd;text-align:right}"
    "th:first-child,td:first-child,td.text,th.text{text-align:left}"
    "thead th{background:#f3f3f3}td.path{font-family:monospace;"
    "text-align:left;max-width:40em;overflow-wrap:anywhere}"
    "pre.stack{margin:.3em 0 .6em;padding:.5em;background:#f7f7f0;"
    "border-left:3px solid #c90;text-align:left;white-space:pre-wrap}"
    ".charts{display:flex;flex-wrap:wrap;gap:2em}"
    "figure{margin:0}figcaption{font-weight:600}"
    "svg.chart{background:#fafafa;border:1px solid #ddd}"
    "svg .tp{stroke:#2864c8}svg .mean{stroke:#2a9d4a}svg .p95{stroke:#c8501e}"
    "svg polyline{fill:none;stroke-width:1.5}svg text{font-size:11px;"
    "fill:#555}.muted{color:#777}.stale main{opacity:.5}";

/* A polyline of `n` values (those < 0 skipped) scaled to `max`. */
static void
polyline(apr_bucket_brigade *bb, const char *cls, const double *values, int n,
         double max)
{
    apwsgi_status_printf(bb, "<polyline class=\"%s\" points=\"", cls);
    for (int i = 0; i < n; i++) {
        double x = n > 1 ? (double)i * CHART_W / (n - 1) : 0;
        double y = CHART_H - 4 - values[i] / max * (CHART_H - 20);

        if (values[i] >= 0) {
            apwsgi_status_printf(bb, "%.1f,%.1f ", x, y);
        }
    }
    APWSGI_STATUS_PUTS(bb, "\"/>");
}

/* One chart of up to two series (`b` may be NULL). */
static void
chart(apr_bucket_brigade *bb, apr_pool_t *p, const char *series,
      const char *caption, const char *cls_a, const double *a,
      const char *cls_b, const double *b, int n, int as_seconds)
{
    double max = 0;

    for (int i = 0; i < n; i++) {
        max = a[i] > max ? a[i] : max;
        max = b && b[i] > max ? b[i] : max;
    }
    apwsgi_status_printf(
        bb,
        "<figure><figcaption>%s</figcaption><svg class=\"chart\" "
        "data-series=\"%s\" data-points=\"%d\" width=\"%d\" "
        "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">",
        caption, series, n, CHART_W, CHART_H, CHART_W, CHART_H);
    if (n < 2) {
        APWSGI_STATUS_PUTS(
            bb, "<text x=\"8\" y=\"20\">no data yet: a point every few "
                "seconds</text></svg></figure>");
        return;
    }
    apwsgi_status_printf(bb, "<text x=\"4\" y=\"12\">max %s</text>",
                         as_seconds ? seconds_text(p, max)
                                    : apr_psprintf(p, "%.1f/s", max));
    max = max > 0 ? max : 1;
    polyline(bb, cls_a, a, n, max);
    if (b) {
        polyline(bb, cls_b, b, n, max);
    }
    APWSGI_STATUS_PUTS(bb, "</svg></figure>");
}

static void
charts(apr_bucket_brigade *bb, apr_pool_t *p, const apwsgi_view_t *v)
{
    const apwsgi_point_view_t *pt =
        (const apwsgi_point_view_t *)v->series->elts;
    int n = v->series->nelts;
    double *rate = apr_pcalloc(p, (n + 1) * sizeof(double));
    double *mean = apr_pcalloc(p, (n + 1) * sizeof(double));
    double *p95 = apr_pcalloc(p, (n + 1) * sizeof(double));

    for (int i = 0; i < n; i++) {
        rate[i] = pt[i].rate;
        mean[i] = pt[i].mean;
        p95[i] = pt[i].p95;
    }
    APWSGI_STATUS_PUTS(bb,
                       "<section><h2>Last minutes</h2><div class=\"charts\">");
    chart(bb, p, "throughput", "Throughput (requests per second)", "tp", rate,
          NULL, NULL, n, 0);
    chart(bb, p, "latency",
          "Latency (<span style=\"color:#2a9d4a\">mean</span>, "
          "<span style=\"color:#c8501e\">95th percentile</span>)",
          "mean", mean, "p95", p95, n, 1);
    APWSGI_STATUS_PUTS(bb, "</div></section>");
}

static void
totals(apr_bucket_brigade *bb, apr_pool_t *p, const apwsgi_view_t *v)
{
    const apwsgi_counters_t *c = &v->totals;
    apr_uint64_t n = apwsgi_counters_requests(c);

    APWSGI_STATUS_PUTS(bb,
                       "<section><h2>Totals</h2><table id=\"totals\"><tbody>");
    apwsgi_status_printf(bb,
                         "<tr><th>Requests</th><td data-key=\"requests\">"
                         "%" APR_UINT64_T_FMT "</td></tr>",
                         n);
    apwsgi_status_printf(
        bb,
        "<tr><th>By status</th><td data-key=\"requests_by_class\">"
        "2xx %" APR_UINT64_T_FMT ", 3xx %" APR_UINT64_T_FMT
        ", 4xx %" APR_UINT64_T_FMT ", 5xx %" APR_UINT64_T_FMT "</td></tr>",
        c->requests[1], c->requests[2], c->requests[3], c->requests[4]);
    apwsgi_status_printf(
        bb,
        "<tr><th>Mean duration</th><td data-key=\"mean\">%s</td></tr>"
        "<tr><th>Mean GIL wait</th><td data-key=\"gil_wait\">%s</td>"
        "</tr>",
        seconds_text(p, mean_of(c->duration_us, n)),
        seconds_text(p, mean_of(c->gil_wait_us, n)));
    apwsgi_status_printf(
        bb,
        "<tr><th>In flight</th><td data-key=\"in_flight\">"
        "%" APR_INT64_T_FMT "</td></tr>"
        "<tr><th>Workers busy / all</th><td data-key=\"workers\">"
        "%" APR_INT64_T_FMT " / %" APR_INT64_T_FMT "</td></tr>"
        "<tr><th>Exceptions</th><td data-key=\"exceptions\">"
        "%" APR_UINT64_T_FMT "</td></tr>"
        "<tr><th>Timeouts</th><td data-key=\"timeouts\">"
        "%" APR_UINT64_T_FMT "</td></tr>",
        v->in_flight, v->busy, v->threads, c->exceptions, c->timeouts);
    apwsgi_status_printf(
        bb,
        "<tr><th>Bytes in / out</th><td data-key=\"bytes\">%s / %s"
        "</td></tr><tr><th>Interpreters alive</th>"
        "<td data-key=\"interpreters\">%" APR_INT64_T_FMT
        " (created %" APR_UINT64_T_FMT ", reloaded %" APR_UINT64_T_FMT
        ", retired %" APR_UINT64_T_FMT ", evicted %" APR_UINT64_T_FMT
        ")</td></tr></tbody></table></section>",
        bytes_text(p, c->bytes_in), bytes_text(p, c->bytes_out),
        v->interpreters, c->events[APWSGI_INTERP_CREATED],
        c->events[APWSGI_INTERP_RELOADED], c->events[APWSGI_INTERP_RETIRED],
        c->events[APWSGI_INTERP_EVICTED]);
}

static void
interps(apr_bucket_brigade *bb, apr_pool_t *p, const apwsgi_view_t *v)
{
    const apwsgi_interp_view_t *in =
        (const apwsgi_interp_view_t *)v->interps->elts;

    APWSGI_STATUS_PUTS(
        bb, "<section><h2>Interpreters</h2>"
            "<table id=\"interpreters-table\"><thead><tr><th>Name</th>"
            "<th>Alive</th><th>Requests</th><th>5xx</th><th>In flight</th>"
            "<th>Mean</th><th>Mean GIL wait</th><th>Exceptions</th>"
            "<th>Timeouts</th><th>Out</th></tr></thead><tbody>");
    for (int i = 0; i < v->interps->nelts; i++) {
        apr_uint64_t n = apwsgi_counters_requests(&in[i].c);

        APWSGI_STATUS_PUTS(bb, "<tr data-interpreter=\"");
        html(bb, in[i].name);
        APWSGI_STATUS_PUTS(bb, "\"><td class=\"text\">");
        html(bb, in[i].name);
        apwsgi_status_printf(
            bb,
            "</td><td>%" APR_INT64_T_FMT "</td><td>%" APR_UINT64_T_FMT
            "</td><td>%" APR_UINT64_T_FMT "</td><td>%" APR_INT64_T_FMT
            "</td><td>%s</td><td>%s</td><td>%" APR_UINT64_T_FMT
            "</td><td>%" APR_UINT64_T_FMT "</td><td>%s</td></tr>",
            in[i].alive, n, in[i].c.requests[4], in[i].in_flight,
            seconds_text(p, mean_of(in[i].c.duration_us, n)),
            seconds_text(p, mean_of(in[i].c.gil_wait_us, n)),
            in[i].c.exceptions, in[i].c.timeouts,
            bytes_text(p, in[i].c.bytes_out));
    }
    APWSGI_STATUS_PUTS(bb, "</tbody></table></section>");
}

static void
processes(apr_bucket_brigade *bb, apr_pool_t *p, const apwsgi_view_t *v)
{
    const apwsgi_process_view_t *pr =
        (const apwsgi_process_view_t *)v->processes->elts;

    APWSGI_STATUS_PUTS(
        bb, "<section><h2>Processes</h2><table id=\"processes-table\">"
            "<thead><tr><th>Pid</th><th>Generation</th><th>Up</th>"
            "<th>Busy / threads</th><th>Interpreters</th><th>Requests</th>"
            "<th>Memory</th><th>CPU user / system</th></tr></thead><tbody>");
    for (int i = 0; i < v->processes->nelts; i++) {
        double up = (double)(v->now - pr[i].started) / APR_USEC_PER_SEC;

        apwsgi_status_printf(
            bb,
            "<tr data-pid=\"%d\"><td>%d</td><td>%d</td><td>%.0f s</td>"
            "<td>%" APR_INT64_T_FMT " / %d</td><td>%" APR_INT64_T_FMT
            "</td><td>%" APR_UINT64_T_FMT "</td><td>%s</td>"
            "<td>%.2f / %.2f s</td></tr>",
            pr[i].pid, pr[i].pid, pr[i].generation, up, pr[i].busy,
            pr[i].threads, pr[i].interpreters, pr[i].requests,
            bytes_text(p, pr[i].rss_bytes), pr[i].cpu_user, pr[i].cpu_system);
    }
    APWSGI_STATUS_PUTS(bb, "</tbody></table></section>");
}

static void
requests(apr_bucket_brigade *bb, const apwsgi_view_t *v)
{
    const apwsgi_request_view_t *q =
        (const apwsgi_request_view_t *)v->requests->elts;

    APWSGI_STATUS_PUTS(
        bb, "<section><h2>Requests in flight</h2>"
            "<table id=\"requests-table\"><thead><tr><th>Method</th>"
            "<th class=\"text\">Path</th><th class=\"text\">Interpreter</th>"
            "<th>Process</th>"
            "<th>Thread</th><th>Age</th></tr></thead><tbody>");
    for (int i = 0; i < v->requests->nelts; i++) {
        apwsgi_status_printf(bb,
                             "<tr data-pid=\"%d\" data-thread=\"%ld\" "
                             "data-interpreter=\"",
                             q[i].pid, q[i].tid);
        html(bb, q[i].interp);
        APWSGI_STATUS_PUTS(bb, "\"><td class=\"text\">");
        html(bb, q[i].method);
        APWSGI_STATUS_PUTS(bb, "</td><td class=\"path\">");
        html(bb, q[i].path);
        APWSGI_STATUS_PUTS(bb, "</td><td class=\"text\">");
        html(bb, q[i].interp);
        apwsgi_status_printf(
            bb, "</td><td>%d</td><td>%ld</td><td>%.1f s</td></tr>", q[i].pid,
            q[i].tid, q[i].age);
        if (q[i].stack) {
            APWSGI_STATUS_PUTS(bb, "<tr class=\"stack-row\"><td colspan=\"6\">"
                                   "<pre class=\"stack\">");
            html(bb, q[i].stack);
            APWSGI_STATUS_PUTS(bb, "</pre></td></tr>");
        }
    }
    APWSGI_STATUS_PUTS(bb, "</tbody></table>");
    if (v->unlisted > 0) {
        apwsgi_status_printf(bb,
                             "<p class=\"muted\">%" APR_INT64_T_FMT
                             " more requests "
                             "in flight are not listed (a process lists 64 at "
                             "most).</p>",
                             v->unlisted);
    }
    if (v->requests->nelts == 0) {
        APWSGI_STATUS_PUTS(bb, "<p class=\"muted\">None.</p>");
    }
    APWSGI_STATUS_PUTS(bb, "</section>");
}

/* Fetch this page again and put its <main> in place of ours; a page
 * that cannot be fetched greys out until one can. */
static const char script[] =
    "(function(){"
    "function refresh(){"
    "fetch(location.pathname,{cache:'no-store',credentials:'same-origin'})"
    ".then(function(r){if(!r.ok){throw new Error(r.status);}"
    "return r.text();})"
    ".then(function(t){"
    "var m=new DOMParser().parseFromString(t,'text/html')"
    ".getElementById('status');"
    "if(!m){throw new Error('no status');}"
    "document.getElementById('status').replaceWith(document.adoptNode(m));"
    "document.body.classList.remove('stale');})"
    ".catch(function(){document.body.classList.add('stale');});}"
    "setInterval(refresh,%d);})();";

void
apwsgi_status_html(request_rec *r, apr_bucket_brigade *bb,
                   const apwsgi_view_t *v, const char *nonce)
{
    apr_pool_t *p = r->pool;
    char now[APR_RFC822_DATE_LEN];
    char started[APR_RFC822_DATE_LEN];

    apr_rfc822_date(now, v->now);
    apr_rfc822_date(started, v->created);
    apwsgi_status_printf(
        bb,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
        "charset=\"utf-8\"><meta name=\"viewport\" "
        "content=\"width=device-width\"><title>apwsgi status</title>"
        "<style>%s</style></head>\n<body><main id=\"status\" "
        "data-time=\"%.3f\"><h1>apwsgi status</h1>"
        "<p class=\"muted\">%s; server started %s; %d process%s "
        "(%s MPM). Refreshes every %d s.</p>",
        style, (double)v->now / APR_USEC_PER_SEC, now, started,
        v->processes->nelts, v->processes->nelts == 1 ? "" : "es",
        ap_show_mpm(), REFRESH_MS / 1000);
    totals(bb, p, v);
    charts(bb, p, v);
    requests(bb, v);
    interps(bb, p, v);
    processes(bb, p, v);
    apwsgi_status_printf(bb, "</main>\n<script nonce=\"%s\">", nonce);
    apwsgi_status_printf(bb, script, REFRESH_MS);
    APWSGI_STATUS_PUTS(bb, "</script></body></html>\n");
}
