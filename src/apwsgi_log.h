/* SPDX-License-Identifier: Apache-2.0 */
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
#include "apwsgi_state.h"

/*
 * The log's part of an interpreter's state (apwsgi_state.h): the Log
 * heap type, and whether Python's logging goes to the error log.  With
 * setup->own_python, sys.stdout and sys.stderr become Log objects.
 * GIL held.
 */
int apwsgi_log_part_init(apwsgi_state_t *st,
                         const apwsgi_state_setup_t *setup);
void apwsgi_log_part_free(apwsgi_state_t *st);

/*
 * A Log object for `r` (new, or one that `st` kept), writing with `tag`
 * (a string constant from APWSGI_APLOGNO): lines are logged against `r`
 * until apwsgi_log_detach(), then against its server.  Returns a new
 * reference, or NULL with an exception set.  GIL of the state's
 * interpreter held.
 */
PyObject *apwsgi_log_new(apwsgi_state_t *st, request_rec *r, const char *tag);

/*
 * The request is over: log any partial line and drop the request, so
 * that later writes (from threads the application left running) go to
 * the server's log.  Where the caller's reference is the only one, `st`
 * keeps the object for a later apwsgi_log_new().  GIL of `st`'s
 * interpreter held.
 */
void apwsgi_log_detach(apwsgi_state_t *st, PyObject *log);

/* Set up the log lock, in `pchild`, and have a process forked from
 * this one get it free.  0 or -1.  Child init, no GIL. */
int apwsgi_log_init(apr_pool_t *pchild);

/*
 * Once the application imported logging, make Python's logging write
 * to the error log at matching Apache levels (CRITICAL crit, ERROR
 * error, WARNING warn, INFO info, DEBUG debug), once per interpreter:
 * the handler becomes logging.lastResort and, where the application
 * configured no root handler, the root logger's handler, with the root
 * level following the server's LogLevel.  Not before: importing
 * logging costs memory that an application without it should not pay.
 * Where another module owns Python, its logging is left alone.  GIL of
 * the state's interpreter held; logs its own failure (no exception
 * left set).
 */
void apwsgi_log_route_logging(apwsgi_state_t *st);

/*
 * Record the request that the calling thread serves (NULL: none), for
 * the sys.stdout and sys.stderr of every interpreter.  No GIL needed.
 */
void apwsgi_log_set_current(request_rec *r);

/* The request the calling thread serves, or NULL.  No GIL needed. */
request_rec *apwsgi_log_current(void);

/*
 * Log the raised exception, then clear it: one line `tag` + `headline`
 * and then one line for each line of its traceback, all at APLOG_ERR,
 * against `r` when given, else against `s`.  GIL held; an exception
 * must be set.  Never fails: a traceback that cannot be formatted is
 * logged as its repr().
 */
void apwsgi_log_exception(request_rec *r, server_rec *s, const char *tag,
                          const char *headline);

/*
 * Log each line of `text` at `level` with `tag`, against `s`, the
 * lines together (as a traceback's are).  No GIL held or needed.
 */
void apwsgi_log_text(server_rec *s, int level, const char *tag,
                     const char *text);

#endif /* APWSGI_LOG_H */
