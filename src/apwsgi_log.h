/*
 * apwsgi_log.h: the Apache error log seen from Python.
 *
 * A Log object is a text stream (write, writelines, flush) whose
 * complete lines go to the Apache error log, each with the object's
 * tag.  It backs wsgi.errors (PEP 3333, "environ Variables") and, in
 * every interpreter the module owns, sys.stdout and sys.stderr.
 */
#ifndef APWSGI_LOG_H
#define APWSGI_LOG_H

#include "apwsgi.h"

/*
 * Create the Log heap type for the current interpreter.
 * Returns a new reference, or NULL with an exception set.  GIL held.
 */
PyTypeObject *apwsgi_log_type_new(void);

/*
 * A new Log object of `type` writing with `tag` (a string constant
 * from APWSGI_APLOGNO).  With `r`, lines are logged against that
 * request until apwsgi_log_detach(); without it, against the request
 * the calling thread is serving, if any, else against `s`.
 * Returns a new reference, or NULL with an exception set.  GIL held.
 */
PyObject *apwsgi_log_new(PyTypeObject *type, request_rec *r, server_rec *s,
                         const char *tag);

/*
 * The request is over: log any partial line and drop the request, so
 * that later writes (from threads the application left running) go to
 * the server's log.  GIL held.
 */
void apwsgi_log_detach(PyObject *log);

/* Set up the log lock, in `pchild`.  0 or -1.  Child init, no GIL. */
int apwsgi_log_init(apr_pool_t *pchild);

/*
 * Make Python's logging write to the error log at matching Apache
 * levels (CRITICAL crit, ERROR error, WARNING warn, INFO info, DEBUG
 * debug) in the current interpreter: the handler becomes
 * logging.lastResort and, where the application configured no root
 * handler, the root logger's handler, with the root level following
 * the LogLevel of `s`.  0, or -1 with an exception set.  GIL held.
 */
int apwsgi_log_install_logging(server_rec *s);

/*
 * Record the request that the calling thread serves (NULL: none), for
 * the sys.stdout and sys.stderr of every interpreter.  No GIL needed.
 */
void apwsgi_log_set_current(request_rec *r);

/*
 * Log the raised exception, then clear it: one line `tag` + `headline`
 * and then one line for each line of its traceback, all at APLOG_ERR,
 * against `r` when given, else against `s`.  GIL held; an exception
 * must be set.  Never fails: a traceback that cannot be formatted is
 * logged as its repr().
 */
void apwsgi_log_exception(request_rec *r, server_rec *s, const char *tag,
                          const char *headline);

#endif /* APWSGI_LOG_H */
