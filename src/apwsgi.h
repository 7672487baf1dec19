/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi.h: includes and types shared by every part of the module.
 *
 * Python.h comes first, as CPython requires; Apache's and APR's
 * headers define some of the same feature macros, which are undefined
 * here before Apache sees them.
 */
#ifndef APWSGI_H
#define APWSGI_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

#undef _POSIX_C_SOURCE
#undef _XOPEN_SOURCE
#undef HAVE_STRFTIME
#undef HAVE_TIMES

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "util_script.h"
#include "ap_mpm.h"
#include "apr_lib.h"
#include "apr_strings.h"
#include "apr_portable.h"
#include "apr_thread_mutex.h"

#include <time.h>

#if PY_VERSION_HEX < 0x030B0000
#error "apwsgi needs CPython 3.11 or newer"
#endif

/* The interpreter table, the per-thread thread states and the hand-off
 * of a request all assume a GIL per interpreter (docs/python-versions). */
#ifdef Py_GIL_DISABLED
#error "apwsgi does not support free-threaded CPython builds"
#endif

/* Member types for PyMemberDef: public names since 3.12. */
#if PY_VERSION_HEX >= 0x030C0000
#define APWSGI_T_OBJECT Py_T_OBJECT_EX
#define APWSGI_T_SSIZE Py_T_PYSSIZET
#define APWSGI_READONLY Py_READONLY
#else
#include "structmember.h"
#define APWSGI_T_OBJECT T_OBJECT_EX
#define APWSGI_T_SSIZE T_PYSSIZET
#define APWSGI_READONLY READONLY
#endif

/*
 * Error-log tags.  Each place that logs has its own tag, never reused
 * (not even once its message is gone), and every tag is listed with its
 * level in the error reference, docs/errors.rst; tools/check-log-tags
 * checks both.  The ranges: 000xx the process and its interpreters,
 * 001xx configuration, 002xx loading the application, 003xx the request
 * and its response, 004xx the request body, 005xx what the application
 * writes.  APW00011 and APW00204 are retired.
 */
#define APWSGI_APLOGNO(n) "APW" #n ": "

/* The handler name that `SetHandler` selects (kept from mod_wsgi). */
#define APWSGI_HANDLER "mod_wsgi"

/* mod_apwsgi.c declares the module itself (AP_DECLARE_MODULE), which
 * also gives it the log index that APLOG_USE_MODULE gives the rest. */
#ifndef APWSGI_MODULE_FILE
APLOG_USE_MODULE(apwsgi);
#endif

/* A new thread mutex of the default kind in `pool`: 0, or -1.  No GIL
 * needed. */
static inline int
apwsgi_mutex_create(apr_thread_mutex_t **mutex, apr_pool_t *pool)
{
    apr_status_t rv =
        apr_thread_mutex_create(mutex, APR_THREAD_MUTEX_DEFAULT, pool);

    return rv == APR_SUCCESS ? 0 : -1;
}

/*
 * Microseconds on the monotonic clock, which every process of the host
 * shares: request ages and durations are measured on it, never on the
 * wall clock, which may step.  No GIL needed.
 */
static inline apr_time_t
apwsgi_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (apr_time_t)ts.tv_sec * APR_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/*
 * Take the raised exception out of the thread state: a new reference
 * to the (normalised) exception, or NULL when none is set.  GIL held.
 * (PyErr_GetRaisedException, CPython 3.12; PyErr_Fetch before.)
 */
static inline PyObject *
apwsgi_err_take(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type = NULL, *exc = NULL, *tb = NULL;

    PyErr_Fetch(&type, &exc, &tb);
    PyErr_NormalizeException(&type, &exc, &tb);
    if (exc && tb) {
        PyException_SetTraceback(exc, tb);
    }
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return exc;
#endif
}

/*
 * getattr(obj, name) where a missing attribute is no error: 1 with a
 * new reference in *result, 0 (no exception) when missing, -1 with an
 * exception set.  GIL held.  (PyObject_GetOptionalAttrString, 3.13.)
 */
static inline int
apwsgi_getattr_optional(PyObject *obj, const char *name, PyObject **result)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyObject_GetOptionalAttrString(obj, name, result);
#else
    *result = PyObject_GetAttrString(obj, name);
    if (*result) {
        return 1;
    }
    if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
        return -1;
    }
    PyErr_Clear();
    return 0;
#endif
}

/* Raise `exc` again, stealing the reference (NULL: nothing).  GIL
 * held. */
static inline void
apwsgi_err_restore(PyObject *exc)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    if (exc) {
        PyErr_Restore(Py_NewRef(Py_TYPE(exc)), exc,
                      PyException_GetTraceback(exc));
    }
#endif
}

/*
 * sys.<name>: a new reference, or NULL with RuntimeError (AttributeError
 * on 3.15+) set when sys has no such attribute.  GIL held.
 * (PySys_GetAttrString, CPython 3.15; PySys_GetObject, borrowed, before.)
 */
static inline PyObject *
apwsgi_sys_get(const char *name)
{
#if PY_VERSION_HEX >= 0x030F0000
    return PySys_GetAttrString(name);
#else
    PyObject *obj = PySys_GetObject(name); /* borrowed */

    if (!obj) {
        PyErr_Format(PyExc_RuntimeError, "lost sys.%s", name);
        return NULL;
    }
    return Py_NewRef(obj);
#endif
}

#endif /* APWSGI_H */
