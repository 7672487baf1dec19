/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_response.h: start_response, write and the response body
 * (PEP 3333, "The start_response() Callable" and "Buffering and
 * Streaming").
 *
 * start_response checks what it is given before anything reaches
 * Apache: a status "NNN reason" (200-599), a list of (str, str) header
 * tuples, latin-1, names that are HTTP tokens, values with no control
 * characters (so no CR, LF or NUL), and no hop-by-hop header.  A
 * violation raises in the application, which then gets 500.
 *
 * The body: a list or tuple of bytes goes out in one pass with its
 * Content-Length; any other iterable is sent block by block, each
 * flushed to the client before the next is asked for; a
 * wsgi.file_wrapper around a regular file goes out as a file bucket.
 */
#ifndef APWSGI_RESPONSE_H
#define APWSGI_RESPONSE_H

#include "apwsgi.h"
#include "apwsgi_request.h"

/* The response's part of an interpreter's state (apwsgi_state.h): the
 * StartResponse heap type.  GIL held. */
int apwsgi_response_part_init(apwsgi_state_t *st,
                              const apwsgi_state_setup_t *setup);
void apwsgi_response_part_free(apwsgi_state_t *st);

/* A start_response callable for `req`, of req->state's type: one that
 * an earlier request of the interpreter left with no other reference,
 * or a new one.  New reference, or NULL with an exception set.  GIL
 * held. */
PyObject *apwsgi_start_response_new(apwsgi_request_t *req);

/* The request is over: later calls of start_response and of its write
 * raise RuntimeError.  Where nothing but the caller holds them, the
 * state keeps both for a later request (apwsgi_start_response_new()).
 * The caller still drops its reference.  GIL held. */
void apwsgi_start_response_detach(PyObject *start_response);

/*
 * Send `result`, the application's return value, to the client.
 * Returns 0 when the response is complete (or left complete for
 * apwsgi_response_send_later) or the client went away, or -1 with an
 * exception set when the application broke a rule or raised while
 * iterating (req->headers_sent tells whether anything went out).  GIL
 * held; released around every pass down the output filters.
 */
int apwsgi_response_send(apwsgi_request_t *req, PyObject *result);

/*
 * Send what apwsgi_response_send left for after the application (the
 * file of a wsgi.file_wrapper, by a duplicate of its descriptor, so
 * that its close() has run and no thread waits for the GIL once the
 * bytes are out), and end the body.  Nothing when it left nothing.
 * Call once the request has left its interpreter: no GIL held (and
 * none taken); the duplicate is closed on return.
 */
void apwsgi_response_send_later(apwsgi_request_t *req);

/*
 * Cut a response whose headers are out: the client sees it end early
 * (no final chunk; the connection closes).  GIL held.
 */
void apwsgi_response_abort(apwsgi_request_t *req);

#endif /* APWSGI_RESPONSE_H */
