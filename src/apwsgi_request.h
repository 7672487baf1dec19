/*
 * apwsgi_request.h: run one request through a WSGI application.
 */
#ifndef APWSGI_REQUEST_H
#define APWSGI_REQUEST_H

#include "apwsgi.h"

/*
 * Call the application that `cfg` names, in interpreter `in`, for `r`
 * and send its response (PEP 3333 "Specification Details").  The
 * iterable's close() is always called.  Returns the handler's status:
 * OK once a response went out (or was cut), else the HTTP error status
 * for Apache to send (500, or the 4xx of a failed body read).  The
 * request is released from `in` (apwsgi_interp_release) before this
 * returns.  No GIL held on entry or exit; request memory in r->pool.
 */
int apwsgi_request_run(request_rec *r, apwsgi_interp_t *in,
                       const apwsgi_config_t *cfg);

#endif /* APWSGI_REQUEST_H */
