/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_input.h: wsgi.input, the request body as a binary stream
 * (PEP 3333, "Input and Error Streams").
 *
 * It reads through Apache's input filters (ap_get_brigade), so chunked
 * request bodies are de-chunked and LimitRequestBody applies.  A failed
 * read raises OSError with the reason and records the HTTP status that
 * Apache maps it to (413, 400, 408), which the response uses if the
 * application lets the error propagate.
 */
#ifndef APWSGI_INPUT_H
#define APWSGI_INPUT_H

#include "apwsgi.h"
#include "apwsgi_request.h"

/* The input's part of an interpreter's state (apwsgi_state.h): the
 * Input heap type.  GIL held. */
int apwsgi_input_part_init(apwsgi_state_t *st,
                           const apwsgi_state_setup_t *setup);
void apwsgi_input_part_free(apwsgi_state_t *st);

/* A wsgi.input for `req`, of req->state's Input type: new, or one the
 * state kept.  New reference, or NULL with an exception set.  GIL held.
 * Its brigade and buffer live in req->r->pool. */
PyObject *apwsgi_input_new(apwsgi_request_t *req);

/* The request is over: later calls raise ValueError.  Where the
 * caller's reference is the only one, the state keeps the object for a
 * later apwsgi_input_new().  GIL held. */
void apwsgi_input_detach(PyObject *input);

/* Whether the application read the body to its end.  GIL held. */
int apwsgi_input_at_eof(PyObject *input);

#endif /* APWSGI_INPUT_H */
