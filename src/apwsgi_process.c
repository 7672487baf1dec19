/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_process.c: Apache's signals and listening sockets, kept from
 * the application.
 *
 * The guards are wrappers put in place of the functions in the
 * interpreter's own modules (_signal, posix, and signal and os where
 * already imported), built before any application code runs there.
 * Code that reaches the system calls another way (ctypes, a C
 * extension) is not stopped: see the known limits in the docs.
 */
#include "apwsgi_process.h"
#include "apwsgi_log.h"
#include "ap_listen.h"
#include "mpm_common.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * The signals Apache's processes use: stop and restart (TERM, HUP,
 * INT, and the graceful pair USR1 and WINCH), those it ignores or
 * leaves to their default on purpose (PIPE, XCPU for RLimitCPU, XFSZ),
 * CHLD (its own and subprocess's waits for children), and the fatal
 * ones for which CoreDumpDirectory or EnableExceptionHook install a
 * handler.
 */
static const struct {
    int signum;
    const char *name;
} apache_signals[] = {
    {SIGTERM, "SIGTERM"},   {SIGHUP, "SIGHUP"},
    {SIGINT, "SIGINT"},     {AP_SIG_GRACEFUL, AP_SIG_GRACEFUL_STRING},
    {SIGWINCH, "SIGWINCH"}, {SIGPIPE, "SIGPIPE"},
    {SIGCHLD, "SIGCHLD"},   {SIGXCPU, "SIGXCPU"},
    {SIGXFSZ, "SIGXFSZ"},   {SIGSEGV, "SIGSEGV"},
    {SIGBUS, "SIGBUS"},     {SIGABRT, "SIGABRT"},
    {SIGILL, "SIGILL"},     {SIGFPE, "SIGFPE"},
};

#define NSIGNALS ((int)(sizeof(apache_signals) / sizeof(apache_signals[0])))

/* The listening sockets open when the child started: Apache's. */
#define MAX_LISTENERS 256
static int listeners[MAX_LISTENERS];
static int nlisteners;

/* For lines that belong to no request. */
static server_rec *main_server;

/* Set in a process the application forked from this child. */
static volatile sig_atomic_t forked;

/* The socket of the client this thread serves, or -1. */
static _Thread_local int client_fd = -1;

const char *
apwsgi_process_is_apache_signal(long signum)
{
    for (int i = 0; i < NSIGNALS; i++) {
        if (apache_signals[i].signum == signum) {
            return apache_signals[i].name;
        }
    }
    return NULL;
}

/* ---- fork ---- */

static int
is_listening(int fd)
{
    int on = 0;
    socklen_t len = sizeof(on);

    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

static void
note_listener(int fd)
{
    for (int i = 0; i < nlisteners; i++) {
        if (listeners[i] == fd) {
            return;
        }
    }
    if (fd >= 0 && nlisteners < MAX_LISTENERS && is_listening(fd)) {
        listeners[nlisteners++] = fd;
    }
}

/*
 * pthread_atfork's child handler, in the forked process, before
 * CPython's own after-fork work: the listening sockets and the
 * client's connection are closed there, so that the child can neither
 * accept Apache's connections nor keep them open, whatever it does
 * next.  A socket noted at child init is closed only while it is still
 * a listening one (the number may have been reused since).  Only
 * async-signal-safe calls.
 */
static void
forked_child(void)
{
    forked = 1;
    for (int i = 0; i < nlisteners; i++) {
        if (is_listening(listeners[i])) {
            close(listeners[i]);
        }
    }
    if (client_fd >= 0) {
        close(client_fd);
        client_fd = -1;
    }
}

void
apwsgi_process_init(apr_pool_t *pchild, server_rec *s)
{
    DIR *dir = NULL;
    struct dirent *entry = NULL;

    (void)pchild;
    main_server = s;
    for (ap_listen_rec *lr = ap_listeners; lr; lr = lr->next) {
        apr_os_sock_t fd = -1;

        if (lr->sd && apr_os_sock_get(&fd, lr->sd) == APR_SUCCESS) {
            note_listener(fd);
        }
    }
    /* Listeners duplicated per bucket (ListenCoresBucketsRatio) are
     * not in ap_listeners; no application code has run yet, so every
     * listening socket open now is Apache's. */
    dir = opendir("/proc/self/fd");
    while (dir && (entry = readdir(dir))) {
        if (entry->d_name[0] >= '0' && entry->d_name[0] <= '9') {
            note_listener(atoi(entry->d_name));
        }
    }
    if (dir) {
        closedir(dir);
    }
    if (pthread_atfork(NULL, NULL, forked_child) != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     APWSGI_APLOGNO(00030) "could not arrange for processes "
                                           "that applications fork to close "
                                           "Apache's listening sockets");
    }
}

int
apwsgi_process_set_client(apr_socket_t *sock)
{
    int before = client_fd;
    apr_os_sock_t fd = -1;

    if (sock) {
        apr_os_sock_get(&fd, sock);
    }
    client_fd = fd;
    return before;
}

void
apwsgi_process_restore_client(int before)
{
    client_fd = before;
}

int
apwsgi_process_forked(void)
{
    return forked;
}

void
apwsgi_process_leave_if_forked(request_rec *r, int failed)
{
    if (!forked) {
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  APWSGI_APLOGNO(00029) "a process the application forked "
                                        "(pid %ld) came back from the "
                                        "application for %s instead of "
                                        "ending with os._exit(): it ends now",
                  (long)getpid(), r->uri);
    _exit(failed ? 1 : 0);
}

/*
 * os.fork() and os.forkpty(), refused where the forked child would
 * hang or abort in CPython's own cleanup after the fork
 * (PyOS_AfterFork_Child deletes every interpreter but the main one,
 * and that deadlocks on state the other threads left behind; from a
 * named interpreter, CPython 3.12 aborts the child).  Elsewhere the
 * original runs.  `self` is (the original, None).  GIL held.
 */
static PyObject *
guard_fork(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *orig = PyTuple_GET_ITEM(self, 0);

    if (PyInterpreterState_Get() != PyInterpreterState_Main()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "fork is not available in Apache's named "
                        "interpreters: the forked child cannot clean up "
                        "CPython safely there; start programs with "
                        "subprocess, or use multiprocessing with the "
                        "'spawn' or 'forkserver' start method");
        return NULL;
    }
    if (PyInterpreterState_Next(PyInterpreterState_Head())) {
        PyErr_SetString(PyExc_RuntimeError,
                        "fork is not available while this Apache process "
                        "runs named interpreters: the forked child would "
                        "hang cleaning them up; start programs with "
                        "subprocess, or use multiprocessing with the "
                        "'spawn' or 'forkserver' start method");
        return NULL;
    }
    return PyObject_Vectorcall(orig, args, nargs, NULL);
}

/* ---- signals ---- */

/*
 * Log that `what` was ignored for `signals` (names, ", "-separated),
 * naming the first caller outside signal.py.  GIL held; no exception
 * left set.
 */
static void
refused(const char *what, const char *signals)
{
    PyFrameObject *f = PyEval_GetFrame();
    PyCodeObject *code = NULL;
    const char *file = NULL;
    int line = 0;
    request_rec *r = apwsgi_log_current();
    char text[1024];

    /* The innermost frame outside signal.py (whose wrappers call
     * _signal's functions). */
    Py_XINCREF(f);
    while (f) {
        const char *name = NULL;
        size_t n = 0;

        code = PyFrame_GetCode(f);
        name = PyUnicode_AsUTF8(code->co_filename);
        n = name ? strlen(name) : 0;
        if (!name || n < 9 || strcmp(name + n - 9, "signal.py") != 0) {
            file = name;
            line = PyFrame_GetLineNumber(f);
            break;
        }
        Py_CLEAR(code);
        Py_SETREF(f, PyFrame_GetBack(f));
    }
    PyErr_Clear();
    apr_snprintf(text, sizeof(text),
                 "%s ignored for %s: Apache uses %s in its processes "
                 "(called from %s, line %d%s%s)",
                 what, signals, strchr(signals, ',') ? "them" : "it",
                 file ? file : "?", line, r ? ", for " : "", r ? r->uri : "");
    apwsgi_log_text(main_server, APLOG_WARNING, APWSGI_APLOGNO(00028), text);
    Py_XDECREF(code);
    Py_XDECREF(f);
}

/* Add `name` to the ", "-separated list in buf[size].  No GIL. */
static void
add_name(char *buf, size_t size, const char *name)
{
    size_t n = strlen(buf);

    apr_snprintf(buf + n, size - n, "%s%s", n ? ", " : "", name);
}

/* The name of the Apache signal that a call (signalnum, x) names, or
 * NULL: another signal, or other arguments (the original call then
 * reports them).  GIL held; no exception left set. */
static const char *
apache_signal_arg(PyObject *const *args, Py_ssize_t nargs)
{
    const char *name = NULL;

    if (nargs == 2 && PyLong_Check(args[0])) {
        name = apwsgi_process_is_apache_signal(PyLong_AsLong(args[0]));
        PyErr_Clear();
    }
    return name;
}

/*
 * signal.signal(signalnum, handler): for Apache's signals, nothing is
 * changed and the current handler (signal.getsignal) is returned.
 * `self` is (the original, the original getsignal).  GIL held.
 */
static PyObject *
guard_signal(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    const char *name = apache_signal_arg(args, nargs);

    if (!name) {
        return PyObject_Vectorcall(PyTuple_GET_ITEM(self, 0), args, nargs,
                                   NULL);
    }
    refused("signal.signal()", name);
    return PyObject_CallOneArg(PyTuple_GET_ITEM(self, 1), args[0]);
}

/* signal.siginterrupt(signalnum, flag): nothing for Apache's signals.
 * `self` is (the original, None).  GIL held. */
static PyObject *
guard_siginterrupt(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    const char *name = apache_signal_arg(args, nargs);

    if (!name) {
        return PyObject_Vectorcall(PyTuple_GET_ITEM(self, 0), args, nargs,
                                   NULL);
    }
    refused("signal.siginterrupt()", name);
    Py_RETURN_NONE;
}

/*
 * The mask to hand to the original pthread_sigmask(how, mask): `mask`
 * without Apache's signals, and with SIG_SETMASK those of `current`
 * (the thread's mask now) that are Apache's, so that they stay as they
 * are.  Names of the Apache signals the call would have changed go to
 * names[size].  A new list, or NULL with an exception set.  GIL held.
 */
static PyObject *
mask_without_apache(long how, PyObject *mask, PyObject *current, char *names,
                    size_t size)
{
    PyObject *kept = PyList_New(0);
    PyObject *it = kept ? PyObject_GetIter(mask) : NULL;
    PyObject *item = NULL;
    PyObject *asked = it ? PySet_New(NULL) : NULL;

    while (asked && (item = PyIter_Next(it))) {
        long sig = PyLong_Check(item) ? PyLong_AsLong(item) : 0;
        const char *name = apwsgi_process_is_apache_signal(sig);

        PyErr_Clear();
        if (!name) {
            /* Not Apache's, or not a signal: the original judges. */
            PyList_Append(kept, item);
        }
        else if (how != SIG_SETMASK) {
            add_name(names, size, name);
        }
        else {
            PySet_Add(asked, item);
        }
        Py_DECREF(item);
    }
    /* SIG_SETMASK: each of Apache's signals keeps its current state. */
    for (int i = 0; how == SIG_SETMASK && asked && i < NSIGNALS; i++) {
        PyObject *sig = PyLong_FromLong(apache_signals[i].signum);
        int now = sig ? PySequence_Contains(current, sig) : -1;
        int wanted = sig ? PySet_Contains(asked, sig) : -1;

        if (now == 1) {
            PyList_Append(kept, sig);
        }
        if (now >= 0 && wanted >= 0 && now != wanted) {
            add_name(names, size, apache_signals[i].name);
        }
        Py_XDECREF(sig);
    }
    if (!asked || PyErr_Occurred()) {
        Py_CLEAR(kept);
    }
    Py_XDECREF(asked);
    Py_XDECREF(it);
    return kept;
}

/*
 * signal.pthread_sigmask(how, mask): the calling thread's mask changes
 * as asked for every signal but Apache's, which stay as they are.
 * `self` is (the original, None).  GIL held.
 */
static PyObject *
guard_pthread_sigmask(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *orig = PyTuple_GET_ITEM(self, 0);
    PyObject *current = NULL;
    PyObject *kept = NULL;
    PyObject *res = NULL;
    PyObject *call[2] = {NULL, NULL};
    char names[256] = "";
    long how = 0;

    if (nargs != 2 || !PyLong_Check(args[0])) {
        return PyObject_Vectorcall(orig, args, nargs, NULL);
    }
    how = PyLong_AsLong(args[0]);
    if (how == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (how == SIG_SETMASK) {
        /* Blocking nothing reads the mask. */
        call[0] = PyLong_FromLong(SIG_BLOCK);
        call[1] = call[0] ? PyTuple_New(0) : NULL;
        current = call[1] ? PyObject_Vectorcall(orig, call, 2, NULL) : NULL;
        Py_CLEAR(call[0]);
        Py_CLEAR(call[1]);
        if (!current) {
            return NULL;
        }
    }
    kept = mask_without_apache(how, args[1], current, names, sizeof(names));
    if (kept) {
        call[0] = args[0];
        call[1] = kept;
        res = PyObject_Vectorcall(orig, call, 2, NULL);
    }
    if (res && names[0]) {
        refused("signal.pthread_sigmask()", names);
    }
    Py_XDECREF(kept);
    Py_XDECREF(current);
    return res;
}

static PyMethodDef guard_signal_def = {
    "signal", (PyCFunction)(void (*)(void))guard_signal, METH_FASTCALL,
    "signal.signal, except for the signals Apache uses (ignored, logged)."};
static PyMethodDef guard_siginterrupt_def = {
    "siginterrupt", (PyCFunction)(void (*)(void))guard_siginterrupt,
    METH_FASTCALL,
    "signal.siginterrupt, except for the signals Apache uses (ignored)."};
static PyMethodDef guard_pthread_sigmask_def = {
    "pthread_sigmask", (PyCFunction)(void (*)(void))guard_pthread_sigmask,
    METH_FASTCALL,
    "signal.pthread_sigmask; the signals Apache uses stay as they are."};
static PyMethodDef guard_fork_def = {
    "fork", (PyCFunction)(void (*)(void))guard_fork, METH_FASTCALL,
    "os.fork, refused where the forked child cannot be safe."};
static PyMethodDef guard_forkpty_def = {
    "forkpty", (PyCFunction)(void (*)(void))guard_fork, METH_FASTCALL,
    "os.forkpty, refused where the forked child cannot be safe."};

/*
 * Put a wrapper made from `def` in place of module.name, keeping the
 * original (and `extra`, or None) in the wrapper's self.  Nothing when
 * the module has no such attribute, or it is wrapped already.  0, or -1
 * with an exception set.  GIL held.
 */
static int
wrap(PyObject *module, const char *name, PyMethodDef *def, PyObject *extra)
{
    PyObject *orig = NULL;
    PyObject *self = NULL;
    PyObject *wrapper = NULL;
    int rc = 0;

    rc = apwsgi_getattr_optional(module, name, &orig);
    if (rc <= 0) {
        return rc;
    }
    rc = 0;
    if (PyCFunction_Check(orig)
        && PyCFunction_GET_FUNCTION(orig)
               == (PyCFunction)(void (*)(void))def->ml_meth) {
        goto done;
    }
    self = PyTuple_Pack(2, orig, extra ? extra : Py_None);
    wrapper = self ? PyCFunction_New(def, self) : NULL;
    if (!wrapper || PyObject_SetAttrString(module, name, wrapper) < 0) {
        rc = -1;
    }
done:
    Py_XDECREF(wrapper);
    Py_XDECREF(self);
    Py_XDECREF(orig);
    return rc;
}

/* The module `name` if the interpreter imported it: a new reference,
 * or NULL (no exception). */
static PyObject *
imported(const char *name)
{
    PyObject *key = PyUnicode_FromString(name);
    PyObject *module = key ? PyImport_GetModule(key) : NULL;

    Py_XDECREF(key);
    PyErr_Clear();
    return module;
}

int
apwsgi_process_part_init(apwsgi_state_t *st, const apwsgi_state_setup_t *setup)
{
    PyObject *sigmod = PyImport_ImportModule("_signal");
    PyObject *posix = sigmod ? PyImport_ImportModule("posix") : NULL;
    PyObject *getsignal = NULL;
    PyObject *later = NULL;
    int rc = -1;

    (void)st;
    (void)setup;
    getsignal = posix ? PyObject_GetAttrString(sigmod, "getsignal") : NULL;
    if (!getsignal || wrap(sigmod, "signal", &guard_signal_def, getsignal)
        || wrap(sigmod, "siginterrupt", &guard_siginterrupt_def, NULL)
        || wrap(sigmod, "pthread_sigmask", &guard_pthread_sigmask_def, NULL)
        || wrap(posix, "fork", &guard_fork_def, NULL)
        || wrap(posix, "forkpty", &guard_forkpty_def, NULL)) {
        goto done;
    }
    /* Modules imported already copied the originals: signal's
     * siginterrupt (its signal and pthread_sigmask call _signal's at
     * each call), and os's fork and forkpty. */
    if ((later = imported("signal"))
        && wrap(later, "siginterrupt", &guard_siginterrupt_def, NULL)) {
        goto done;
    }
    Py_CLEAR(later);
    if ((later = imported("os"))
        && (wrap(later, "fork", &guard_fork_def, NULL)
            || wrap(later, "forkpty", &guard_forkpty_def, NULL))) {
        goto done;
    }
    rc = 0;
done:
    Py_XDECREF(later);
    Py_XDECREF(getsignal);
    Py_XDECREF(posix);
    Py_XDECREF(sigmod);
    return rc;
}

void
apwsgi_process_part_free(apwsgi_state_t *st)
{
    /* The wrappers belong to the interpreter's modules, which go with
     * it. */
    (void)st;
}
