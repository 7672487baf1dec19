/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_request.h: run one request through a WSGI application, and
 * what the request carries while it runs.
 */
#ifndef APWSGI_REQUEST_H
#define APWSGI_REQUEST_H

#include "apwsgi.h"
#include "apwsgi_config.h"
#include "apwsgi_inflight.h"
#include "apwsgi_state.h"

/* A file whose bytes go after the request has left Python (defined in
 * apwsgi_response.c). */
typedef struct apwsgi_later apwsgi_later_t;

/*
 * What one request carries through wsgi.input and the response.
 * apwsgi_request.c allocates it in r->pool and sets the first block;
 * apwsgi_response.c and apwsgi_input.c write the fields marked theirs.
 * The Python objects that point at it drop the pointer when the
 * request ends, before r->pool goes.  Used on the thread in `thread`
 * only, with the GIL held until `python_left`.
 */
typedef struct {
    request_rec *r;
    apwsgi_state_t *state;       /* the interpreter's Python state */
    apr_bucket_brigade *bb;      /* reused for every pass */
    apr_os_thread_t thread;      /* the thread that serves the request */
    apwsgi_inflight_t *inflight; /* its entry in the registry, or NULL */
    /* apwsgi_response.c: what start_response recorded, applied to r
     * when the headers go, and how the body went. */
    int status;               /* 0 until start_response */
    const char *status_line;  /* "200 OK", in r->pool */
    apr_table_t *headers;     /* in r->pool */
    const char *content_type; /* NULL when the application set none */
    apr_off_t content_length; /* -1 when the application set none */
    int headers_sent;         /* applied to r and passed on (input
                                 too: Apache answered) */
    int truncated;            /* more than Content-Length offered */
    int dropped;              /* a body offered with 204, 205, 304 */
    apr_off_t bytes_sent;     /* body bytes passed on */
    int client_gone;          /* a write failed: stop iterating
                                 (input too: Apache answered) */
    int finished;             /* the end of the body went out */
    apwsgi_later_t *later;    /* what goes once Python is left, or
                                 NULL (apwsgi_response_send_later) */
    int python_left;          /* no GIL held: passes keep none */
    /* apwsgi_input.c: the body read, and a failed read. */
    apr_off_t bytes_read; /* body bytes the application read */
    int answered;         /* Apache answered it (body error) */
    int input_status;     /* HTTP status of a failed body read */
    /* apwsgi_request.c: for the figures. */
    int exception; /* the application (or its close()) raised */
} apwsgi_request_t;

/*
 * Whether the calling thread serves `req`.  Apache's request, its pool
 * and its filters are not thread-safe, so start_response, write and
 * wsgi.input work only there; elsewhere this sets RuntimeError naming
 * `what` and returns 0.  GIL held.
 */
static inline int
apwsgi_request_thread_check(const apwsgi_request_t *req, const char *what)
{
    if (apr_os_thread_equal(req->thread, apr_os_thread_current())) {
        return 1;
    }
    PyErr_Format(PyExc_RuntimeError,
                 "%s called from a thread that does "
                 "not serve the request",
                 what);
    return 0;
}

/*
 * Serve `r` with the application that `cfg` names (PEP 3333
 * "Specification Details"): take the interpreter that cfg chooses
 * (apwsgi_interp_acquire), call the application there and send its
 * response; the iterable's close() is always called.  Returns the
 * handler's status: OK once a response went out (or was cut), else
 * the HTTP error status for Apache to send (500, 503 past
 * mod_wsgi.max_interpreters, or the 4xx of a failed body read).
 * Python must be ready (apwsgi_python_ready).  No GIL held on entry or
 * exit; request memory in r->pool.
 */
int apwsgi_request_run(request_rec *r, const apwsgi_config_t *cfg);

#endif /* APWSGI_REQUEST_H */
