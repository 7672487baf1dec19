/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_request.c: the per-request dispatch.
 *
 * The GIL is taken once, here, for the whole request, and released
 * only around blocking Apache calls (reading the body, passing the
 * response down the filters, logging from this thread).  Every Python
 * object handed to the application that points at the request is
 * detached before the request's pool goes away, so an application that
 * keeps one gets an exception, not a dangling pointer.
 */
#include "apwsgi_request.h"
#include "apwsgi_app.h"
#include "apwsgi_environ.h"
#include "apwsgi_input.h"
#include "apwsgi_interp.h"
#include "apwsgi_log.h"
#include "apwsgi_metrics.h"
#include "apwsgi_process.h"
#include "apwsgi_reload.h"
#include "apwsgi_response.h"
#include "apwsgi_state.h"
#include "apwsgi_timeout.h"
#include "apwsgi_tstate.h"

static const char tag_errors[] = APWSGI_APLOGNO(00501);

/* Whether the exception set is the request's own timeout (raised by
 * the monitor thread, not by the application's own code).  GIL held;
 * an exception is set. */
static int
timed_out(apwsgi_request_t *req)
{
    return apwsgi_inflight_raised(req->inflight)
           && PyErr_ExceptionMatches(apwsgi_timeout_type(req->state));
}

/* The request reached mod_wsgi.request_timeout: 504 when nothing went
 * out, else cut the response.  GIL held; the exception is set. */
static int
request_timed_out(apwsgi_request_t *req, const apwsgi_config_t *cfg)
{
    request_rec *r = req->r;
    long secs = (long)apr_time_sec(cfg->request_timeout);

    if (!req->headers_sent) {
        apwsgi_log_exception(
            r, NULL, APWSGI_APLOGNO(00709),
            apr_psprintf(r->pool,
                         "%s reached mod_wsgi.request_timeout of %ld s: 504; "
                         "where apwsgi.RequestTimeout ended it:",
                         r->uri, secs));
        return HTTP_GATEWAY_TIME_OUT;
    }
    apwsgi_log_exception(
        r, NULL, APWSGI_APLOGNO(00710),
        apr_psprintf(r->pool,
                     "%s reached mod_wsgi.request_timeout of %ld s after its "
                     "response started: connection cut; where "
                     "apwsgi.RequestTimeout ended it:",
                     r->uri, secs));
    apwsgi_response_abort(req);
    return OK;
}

/* Log the application's exception and decide the handler status:
 * 500 (or the status of a failed body read) when nothing went out,
 * else cut the response.  GIL held; an exception is set. */
static int
app_failed(apwsgi_request_t *req, const apwsgi_config_t *cfg)
{
    request_rec *r = req->r;

    if (!req->headers_sent || req->answered) {
        if (!apwsgi_app_log_refusal(r, cfg)) {
            apwsgi_log_exception(r, NULL, APWSGI_APLOGNO(00301),
                                 apr_psprintf(r->pool,
                                              "exception in application "
                                              "'%s' for %s:",
                                              cfg->application, r->uri));
        }
        return req->answered       ? AP_FILTER_ERROR
               : req->input_status ? req->input_status
                                   : HTTP_INTERNAL_SERVER_ERROR;
    }
    apwsgi_log_exception(r, NULL, APWSGI_APLOGNO(00302),
                         apr_psprintf(r->pool,
                                      "exception in application '%s' for %s "
                                      "after its response started: "
                                      "connection cut",
                                      cfg->application, r->uri));
    apwsgi_response_abort(req);
    return OK;
}

/* The application raised (or its response broke a rule): its own
 * exception, or the request's timeout.  Returns the handler status.
 * GIL held; an exception is set. */
static int
app_raised(apwsgi_request_t *req, const apwsgi_config_t *cfg)
{
    if (!req->answered && timed_out(req)) {
        return request_timed_out(req, cfg);
    }
    req->exception = 1;
    return app_failed(req, cfg);
}

/* Call result.close() if it has one (PEP 3333: always).  GIL held; no
 * exception set on entry or exit. */
static void
close_result(apwsgi_request_t *req, PyObject *result)
{
    request_rec *r = req->r;
    PyObject *close = NULL;
    PyObject *res = NULL;

    /* A list or a tuple (built-in types, which nobody can give a
     * close()) has none: no lookup, which before 3.13 would make and
     * drop an AttributeError (about 5,000 instructions). */
    if (!PyList_CheckExact(result) && !PyTuple_CheckExact(result)
        && apwsgi_getattr_optional(result, "close", &close) > 0) {
        res = PyObject_CallNoArgs(close);
    }
    if (PyErr_Occurred()) {
        req->exception = 1;
        apwsgi_log_exception(r, NULL, APWSGI_APLOGNO(00303),
                             apr_psprintf(r->pool,
                                          "close() of the response to %s "
                                          "raised:",
                                          r->uri));
    }
    Py_XDECREF(close);
    Py_XDECREF(res);
}

/* Call the application and send what it returns.  Returns the handler
 * status.  GIL held. */
static int
call_application(apwsgi_request_t *req, const apwsgi_config_t *cfg,
                 PyObject *app, PyObject *environ, PyObject *start_response)
{
    PyObject *args[2] = {environ, start_response};
    PyObject *result = PyObject_Vectorcall(app, args, 2, NULL);
    int status = OK;

    if (!result) {
        return app_raised(req, cfg);
    }
    if (apwsgi_response_send(req, result) < 0) {
        status = app_raised(req, cfg);
    }
    close_result(req, result);
    Py_DECREF(result);
    /* Where Apache answered (a body error), say so as its filters do. */
    return req->answered ? AP_FILTER_ERROR : status;
}

/* A new request record for `r` in r->pool, served from state `st`. */
static apwsgi_request_t *
request_new(request_rec *r, apwsgi_state_t *st)
{
    apwsgi_request_t *req = apr_pcalloc(r->pool, sizeof(*req));

    req->r = r;
    req->thread = apr_os_thread_current();
    req->state = st;
    req->content_length = -1;
    req->bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    return req;
}

/*
 * Load the application, give it this request's objects, call it, and
 * detach the objects again.  Returns the handler status.  Sets *empty
 * when the interpreter has no application at all (a failed load), and
 * *body_left when the application left some of the body unread.  GIL
 * of the state's interpreter held.
 */
static int
serve(apwsgi_request_t *req, const apwsgi_config_t *cfg,
      const char *interp_name, int *empty, int *body_left)
{
    request_rec *r = req->r;
    apwsgi_state_t *st = req->state;
    PyObject *app = NULL; /* borrowed from the state's cache */
    PyObject *input = NULL;
    PyObject *errors = NULL;
    PyObject *start_response = NULL;
    PyObject *environ = NULL;
    int status = HTTP_INTERNAL_SERVER_ERROR;

    app = apwsgi_app_get(st, r, cfg);
    if (!app) {
        /* An interpreter with no application is not kept for one. */
        *empty = apwsgi_app_count(st) == 0;
        return status;
    }
    input = apwsgi_input_new(req);
    errors = input ? apwsgi_log_new(st, r, tag_errors) : NULL;
    start_response = errors ? apwsgi_start_response_new(req) : NULL;
    environ = start_response
                  ? apwsgi_environ_new(st, r, cfg, interp_name, input, errors)
                  : NULL;
    if (!environ) {
        apwsgi_log_exception(r, NULL, APWSGI_APLOGNO(00307),
                             apr_psprintf(r->pool,
                                          "environ for %s could "
                                          "not be built:",
                                          r->uri));
        goto done;
    }
    status = call_application(req, cfg, app, environ, start_response);
done:
    /* environ first: where nothing else holds them, this request's
     * objects are kept for the next (the detach functions). */
    Py_XDECREF(environ);
    if (start_response) {
        apwsgi_start_response_detach(start_response);
    }
    if (input) {
        *body_left = !apwsgi_input_at_eof(input);
        apwsgi_input_detach(input);
    }
    if (errors) {
        apwsgi_log_detach(st, errors);
    }
    Py_XDECREF(start_response);
    Py_XDECREF(errors);
    Py_XDECREF(input);
    return status;
}

/* apwsgi_request_run, once the request is in the registry as `fl`
 * and counted as `m`; what the figures need goes to `done`. */
static int
run(request_rec *r, const apwsgi_config_t *cfg, apwsgi_inflight_t *fl,
    apwsgi_metrics_req_t *m, apwsgi_metrics_done_t *done)
{
    apr_time_t before = 0;
    apwsgi_request_t *req = NULL;
    apwsgi_interp_t *in = NULL;
    PyThreadState *ts = NULL;
    int status = HTTP_INTERNAL_SERVER_ERROR;
    int empty = 0;
    int body_left = 0;
    int client = -1;

    in = apwsgi_interp_acquire(r, cfg, &status);
    if (in && cfg->reload) {
        in = apwsgi_reload_check(r, cfg, in);
    }
    if (!in) {
        return status;
    }
    apwsgi_inflight_set_interp(fl, in);
    apwsgi_metrics_interp(m, in);
    req = request_new(r, in->state);
    req->inflight = fl;
    before = apwsgi_now();
    ts = apwsgi_tstate_enter(in);
    done->gil_wait = apwsgi_now() - before;
    if (!ts) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, APR_ENOMEM, r,
                      APWSGI_APLOGNO(00021) "interpreter '%s' for %s: no "
                                            "memory for a thread state",
                      in->name, r->uri);
        apwsgi_interp_release(in, 0);
        return status;
    }
    apwsgi_inflight_enter(fl, ts);
    apwsgi_log_set_current(r);
    client = apwsgi_process_set_client(ap_get_conn_socket(r->connection));
    status = serve(req, cfg, in->name, &empty, &body_left);
    apwsgi_process_leave_if_forked(r, status != OK);
    apwsgi_process_restore_client(client);
    apwsgi_log_set_current(NULL);
    done->timeout = apwsgi_inflight_leave(fl);
    done->exception = req->exception;
    done->bytes_in = req->bytes_read;
    apwsgi_tstate_leave(ts);
    apwsgi_interp_release(in, empty);
    apwsgi_response_send_later(req);
    /* A body the application left unread must go before the next
     * request on this connection can be read (error statuses: ap_die
     * does this). */
    if (status == OK && body_left && !req->client_gone) {
        ap_discard_request_body(r);
    }
    return status;
}

int
apwsgi_request_run(request_rec *r, const apwsgi_config_t *cfg)
{
    apwsgi_inflight_t *fl =
        apwsgi_inflight_add(r, cfg->request_timeout, cfg->slow_request);
    apwsgi_metrics_req_t m;
    apwsgi_metrics_done_t done = {0};
    int status = OK;

    apwsgi_metrics_begin(&m, r, apwsgi_inflight_id(fl),
                         apwsgi_inflight_start(fl));
    status = run(r, cfg, fl, &m, &done);
    /* Where Apache answers (an error status, a failed body read), what
     * it answers. */
    done.code = status == OK || status == AP_FILTER_ERROR ? r->status : status;
    done.bytes_out = r->bytes_sent;
    apwsgi_metrics_end(&m, cfg->interpreter, &done);
    apwsgi_inflight_remove(fl);
    return status;
}
