/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_timeout.c: the RequestTimeout class of each interpreter.
 */
#include "apwsgi_timeout.h"

/* The timeout's part of an interpreter's state. */
struct apwsgi_timeout_part {
    PyObject *type; /* apwsgi.RequestTimeout, strong */
};

static const char doc[] =
    "Raised in a request's thread when it reaches mod_wsgi.request_timeout. "
    "The client gets 504 Gateway Timeout, or, where the response had "
    "started, a cut connection.  A subclass of TimeoutError; "
    "environ['apwsgi.RequestTimeout'] is this class in requests with a "
    "timeout.";

int
apwsgi_timeout_part_init(apwsgi_state_t *st, const apwsgi_state_setup_t *setup)
{
    st->timeout = apr_pcalloc(setup->pool, sizeof(*st->timeout));
    st->timeout->type = PyErr_NewExceptionWithDoc("apwsgi.RequestTimeout", doc,
                                                  PyExc_TimeoutError, NULL);
    return st->timeout->type ? 0 : -1;
}

void
apwsgi_timeout_part_free(apwsgi_state_t *st)
{
    Py_CLEAR(st->timeout->type);
}

PyObject *
apwsgi_timeout_type(apwsgi_state_t *st)
{
    return st->timeout->type;
}
