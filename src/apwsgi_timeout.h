/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_timeout.h: apwsgi.RequestTimeout, the exception a request
 * gets when it reaches mod_wsgi.request_timeout.
 *
 * A subclass of TimeoutError, made in each interpreter (its own class
 * object there, as interpreters may not share objects), reachable by
 * applications as environ['apwsgi.RequestTimeout'] in requests that
 * have a timeout.  The monitor thread
 * (apwsgi_monitor.c) raises it in the request's thread; the request
 * then answers 504, or cuts a response that had started.
 */
#ifndef APWSGI_TIMEOUT_H
#define APWSGI_TIMEOUT_H

#include "apwsgi.h"
#include "apwsgi_state.h"

/* The timeout's part of an interpreter's state (apwsgi_state.h): the
 * RequestTimeout class.  GIL held. */
int apwsgi_timeout_part_init(apwsgi_state_t *st,
                             const apwsgi_state_setup_t *setup);
void apwsgi_timeout_part_free(apwsgi_state_t *st);

/* The RequestTimeout class of `st`: a borrowed reference (the state
 * owns it).  GIL of the state's interpreter held. */
PyObject *apwsgi_timeout_type(apwsgi_state_t *st);

#endif /* APWSGI_TIMEOUT_H */
