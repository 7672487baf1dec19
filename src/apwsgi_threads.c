/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_threads.c: the application's threads in an ending
 * interpreter.
 *
 * threading's private names used here (_SHUTTING_DOWN,
 * _threading_atexits, _DummyThread) are those threading._shutdown()
 * itself uses, unchanged from CPython 3.11 to 3.13; where one is
 * missing, the step that needs it is skipped and CPython's own
 * shutdown does it.
 */
#include "apwsgi_threads.h"
#include "apwsgi_log.h"
#include "mpm_common.h"

/* Calls of one stack that are logged: the innermost ones. */
#define STACK_DEPTH 40

apr_interval_time_t
apwsgi_threads_bound(void)
{
    if (ap_graceful_shutdown_timeout > 0) {
        return apr_time_from_sec(ap_graceful_shutdown_timeout);
    }
    return APWSGI_STOP_BOUND_DEFAULT;
}

/* threading, if this interpreter imported it: a new reference, or
 * NULL (no exception). */
static PyObject *
threading_module(void)
{
    PyObject *name = PyUnicode_FromString("threading");
    PyObject *module = name ? PyImport_GetModule(name) : NULL;

    Py_XDECREF(name);
    PyErr_Clear();
    return module;
}

void
apwsgi_threads_stop(server_rec *s)
{
    PyObject *threading = threading_module();
    PyObject *calls = NULL;
    PyObject *todo = NULL;

    if (!threading) {
        return;
    }
    /* From now on threading._register_atexit refuses new callbacks, as
     * it does once Python shuts down. */
    if (PyObject_SetAttrString(threading, "_SHUTTING_DOWN", Py_True) < 0
        || apwsgi_getattr_optional(threading, "_threading_atexits", &calls)
               <= 0
        || !PyList_Check(calls)) {
        goto done;
    }
    /* Taken out of the list, so that CPython's own shutdown, which
     * runs the list again, does not call them twice. */
    todo = PyList_GetSlice(calls, 0, PyList_GET_SIZE(calls));
    if (!todo || PyList_SetSlice(calls, 0, PyList_GET_SIZE(calls), NULL)) {
        goto done;
    }
    for (Py_ssize_t i = PyList_GET_SIZE(todo) - 1; i >= 0; i--) {
        PyObject *res = PyObject_CallNoArgs(PyList_GET_ITEM(todo, i));

        if (!res) {
            apwsgi_log_exception(NULL, s, APWSGI_APLOGNO(00026),
                                 "a callback the application registered "
                                 "with threading._register_atexit "
                                 "raised while its interpreter ended:");
        }
        Py_XDECREF(res);
    }
done:
    PyErr_Clear();
    Py_XDECREF(todo);
    Py_XDECREF(calls);
    Py_DECREF(threading);
}

/*
 * threading.enumerate() less the threads that are not the
 * application's own: _DummyThread entries, threading's main thread
 * and the calling thread.  A new list, or NULL (no exception) when
 * threading was never imported or fails.
 */
static PyObject *
app_threads(void)
{
    PyObject *threading = threading_module();
    PyObject *all = NULL;
    PyObject *main = NULL;
    PyObject *mine = NULL;
    unsigned long self = PyThread_get_thread_ident();

    all = threading ? PyObject_CallMethod(threading, "enumerate", NULL) : NULL;
    main = all ? PyObject_CallMethod(threading, "main_thread", NULL) : NULL;
    mine = main && PyList_Check(all) ? PyList_New(0) : NULL;
    for (Py_ssize_t i = 0; mine && i < PyList_GET_SIZE(all); i++) {
        PyObject *thread = PyList_GET_ITEM(all, i);
        PyObject *ident = NULL;
        int other = 0;

        if (thread == main
            || strcmp(Py_TYPE(thread)->tp_name, "_DummyThread") == 0) {
            continue;
        }
        ident = PyObject_GetAttrString(thread, "ident");
        other =
            !ident || ident == Py_None || PyLong_AsUnsignedLong(ident) != self;
        Py_XDECREF(ident);
        if (other && PyList_Append(mine, thread) < 0) {
            Py_CLEAR(mine);
        }
    }
    PyErr_Clear();
    Py_XDECREF(main);
    Py_XDECREF(all);
    Py_XDECREF(threading);
    return mine;
}

void
apwsgi_threads_left(apwsgi_threads_left_t *left)
{
    PyThreadState *self = PyThreadState_Get();
    PyThreadState *t = NULL;
    PyObject *threads = app_threads();

    memset(left, 0, sizeof(*left));
    t = PyInterpreterState_ThreadHead(PyThreadState_GetInterpreter(self));
    for (; t; t = PyThreadState_Next(t)) {
        left->others += t != self;
    }
    for (Py_ssize_t i = 0; threads && i < PyList_GET_SIZE(threads); i++) {
        PyObject *daemon =
            PyObject_GetAttrString(PyList_GET_ITEM(threads, i), "daemon");

        if (daemon && PyObject_IsTrue(daemon) == 1) {
            left->daemon++;
        }
        else {
            left->nondaemon++;
        }
        Py_XDECREF(daemon);
    }
    PyErr_Clear();
    Py_XDECREF(threads);
}

/* The text of a str, or "?".  GIL held; no exception left set. */
static const char *
utf8_or(PyObject *s)
{
    const char *u = s && PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : NULL;

    if (!u) {
        PyErr_Clear();
    }
    return u ? u : "?";
}

const char *
apwsgi_threads_stack(apr_pool_t *p, PyThreadState *ts)
{
    PyFrameObject *frames[STACK_DEPTH];
    PyFrameObject *f = PyThreadState_GetFrame(ts);
    const char *text = "";
    int n = 0;
    int outer = 0;

    /* From the innermost call out: the innermost ones are kept. */
    while (f) {
        PyFrameObject *back = PyFrame_GetBack(f);

        if (n < STACK_DEPTH) {
            frames[n++] = f;
        }
        else {
            outer++;
            Py_DECREF(f);
        }
        f = back;
    }
    if (outer) {
        text = apr_psprintf(p, "  ... %d outer calls\n", outer);
    }
    else if (!n) {
        text = "  (no Python frame: in a function written in C)\n";
    }
    while (n-- > 0) {
        PyCodeObject *code = PyFrame_GetCode(frames[n]);

        text = apr_psprintf(p, "%s  File \"%s\", line %d, in %s\n", text,
                            utf8_or(code->co_filename),
                            PyFrame_GetLineNumber(frames[n]),
                            utf8_or(code->co_name));
        Py_DECREF(code);
        Py_DECREF(frames[n]);
    }
    return text;
}

/* The thread state of the current interpreter's thread `ident`, or
 * NULL.  GIL held. */
static PyThreadState *
thread_state_of(unsigned long ident)
{
    PyThreadState *t = PyInterpreterState_ThreadHead(
        PyThreadState_GetInterpreter(PyThreadState_Get()));

    while (t && t->thread_id != ident) {
        t = PyThreadState_Next(t);
    }
    return t;
}

const char *
apwsgi_threads_describe(apr_pool_t *p)
{
    PyObject *threads = app_threads();
    const char *text = "";

    for (Py_ssize_t i = 0; threads && i < PyList_GET_SIZE(threads); i++) {
        PyObject *thread = PyList_GET_ITEM(threads, i);
        PyObject *name = PyObject_GetAttrString(thread, "name");
        PyObject *daemon = PyObject_GetAttrString(thread, "daemon");
        PyObject *ident = PyObject_GetAttrString(thread, "ident");
        PyThreadState *ts = NULL;

        if (ident && PyLong_Check(ident)) {
            ts = thread_state_of(PyLong_AsUnsignedLong(ident));
        }
        PyErr_Clear();
        text = apr_pstrcat(
            p, text, "thread '", utf8_or(name), "' (",
            daemon && PyObject_IsTrue(daemon) == 1 ? "daemon" : "non-daemon",
            "):\n", ts ? apwsgi_threads_stack(p, ts) : "", NULL);
        PyErr_Clear();
        Py_XDECREF(name);
        Py_XDECREF(daemon);
        Py_XDECREF(ident);
    }
    Py_XDECREF(threads);
    return text;
}
