/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_python.c: initialise and finalise CPython in a child.
 */
#include "apwsgi_python.h"
#include "apwsgi_exit.h"
#include "apwsgi_inflight.h"
#include "apwsgi_interp.h"
#include "apwsgi_log.h"
#include "apwsgi_modpython.h"
#include "apwsgi_monitor.h"
#include "apwsgi_process.h"
#include "apwsgi_tstate.h"

#include <unistd.h>

#ifndef APWSGI_PYTHON_HOME
#error "APWSGI_PYTHON_HOME must name the prefix of the Python built against"
#endif
#ifndef APWSGI_PYTHON_PROGRAM
#error "APWSGI_PYTHON_PROGRAM must name that Python's executable"
#endif

static server_rec *main_server;
static int python_ready;
static int python_owned;

int
apwsgi_python_ready(void)
{
    return python_ready;
}

/*
 * Pre-cleanup of the child pool (before its subpools go): end every
 * sub-interpreter (running its atexit handlers), then finalise Python
 * if this module started it.  Runs in the child's main thread after
 * the workers stopped.
 */
static apr_status_t
python_cleanup(void *data)
{
    PyThreadState *ts = NULL;
    apwsgi_interp_t *main_in = apwsgi_interp_main();
    apr_time_t until = 0;
    int rc = 0;

    (void)data;
    if (!python_ready) {
        return APR_SUCCESS;
    }
    python_ready = 0;
    /* The watchdog (apwsgi_exit.h) bounds all that follows. */
    until = apwsgi_exit_begin();
    if (apwsgi_tstate_interrupted_python()) {
        /* Prefork's SIGTERM handler came in while this thread ran
         * Python, a request's or another module's: that GIL is this
         * thread's and is never released.  Nothing that needs Python
         * can go on, nor can the module's own threads be stopped (they
         * may wait for it) before the pool they use goes: the process
         * ends here, as it was about to. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main_server,
                     APWSGI_APLOGNO(00036) "the process exits from a signal "
                                           "that interrupted Python code on "
                                           "its main thread: Python is left "
                                           "as it is (no atexit handler "
                                           "runs) and the process ends at "
                                           "once");
        _exit(0);
    }
    apwsgi_exit_phase("stopping the monitor thread", NULL);
    apwsgi_monitor_stop();
    apwsgi_exit_phase("ending the interpreters and waiting for their threads",
                      NULL);
    rc = apwsgi_interp_shutdown(until);
    if (rc < 0 || !(ts = apwsgi_tstate_enter(main_in))) {
        goto done;
    }
    /* The main interpreter's atexit handlers run here rather than in
     * Py_FinalizeEx, so that the watchdog can tell where they are. */
    if (python_owned) {
        apwsgi_exit_phase("running the main interpreter's atexit handlers",
                          ts);
        apwsgi_interp_run_atexit();
        apwsgi_exit_phase(rc == 0 ? "finalising Python"
                                  : "leaving Python unfinalised",
                          NULL);
    }
    if (python_owned && rc == 0) {
        apwsgi_interp_main_clear();
        if (Py_FinalizeEx() < 0) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main_server,
                         APWSGI_APLOGNO(00008) "Python reported errors while "
                                               "finalising (see the lines "
                                               "above)");
        }
        apwsgi_interp_table_free();
        goto done;
    }
    /* An interpreter left alive keeps Python from being finalised (it
     * would abort); the main interpreter's atexit handlers ran. */
    apwsgi_tstate_leave(ts);
done:
    apwsgi_exit_end();
    return APR_SUCCESS;
}

/* Py_InitializeFromConfig with the home of the Python built against,
 * unless PYTHONHOME is set.  0, or -1 after logging.  No GIL. */
static int
python_start(server_rec *s)
{
    PyConfig config;
    PyStatus status;
    const char *env_home = getenv("PYTHONHOME");
    int builtin_home = !env_home || !*env_home;
    const char *home = builtin_home ? APWSGI_PYTHON_HOME : env_home;
    char *argv[] = {"mod_wsgi"};

    PyConfig_InitPythonConfig(&config);
    /* Apache owns the signals of its children. */
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    status = PyConfig_SetBytesArgv(&config, 1, argv);
    if (!PyStatus_Exception(status)) {
        status = PyConfig_SetBytesString(&config, &config.program_name,
                                         APWSGI_PYTHON_PROGRAM);
    }
    if (!PyStatus_Exception(status) && builtin_home) {
        status = PyConfig_SetBytesString(&config, &config.home, home);
    }
    if (!PyStatus_Exception(status)) {
        status = Py_InitializeFromConfig(&config);
    }
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        ap_log_error(
            APLOG_MARK, APLOG_CRIT, 0, s,
            APWSGI_APLOGNO(00001) "Python %s could not be initialised "
                                  "with home %s: %s%s%s.  Check that "
                                  "Apache's user can read that "
                                  "Python's standard library, or set "
                                  "PYTHONHOME in Apache's "
                                  "environment",
            PY_VERSION, home, status.func ? status.func : "",
            status.func ? ": " : "",
            status.err_msg ? status.err_msg : "unknown error");
        return -1;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 APWSGI_APLOGNO(00004) "Python %s initialised (home %s)",
                 Py_GetVersion(), home);
    return 0;
}

int
apwsgi_python_init(apr_pool_t *pchild, server_rec *s)
{
    PyThreadState *ts = NULL;
    PyObject *threading = NULL;

    main_server = s;
    if (apwsgi_log_init(pchild) < 0 || apwsgi_inflight_init(pchild) < 0) {
        return -1;
    }
    apwsgi_process_init(pchild, s);
    if (Py_IsInitialized()) {
        /* Another module (mod_python) started Python: use it as it is
         * and leave its finalisation to that module. */
        ts = PyThreadState_New(PyInterpreterState_Main());
        if (!ts) {
            return -1;
        }
        PyEval_RestoreThread(ts);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     APWSGI_APLOGNO(00002) "Python %s was initialised by "
                                           "another module: using it, and "
                                           "leaving it to that module to "
                                           "finalise",
                     Py_GetVersion());
        apwsgi_modpython_init(s);
    }
    else {
        if (python_start(s) < 0) {
            return -1;
        }
        python_owned = 1;
        ts = PyThreadState_Get();
    }
    /* threading takes the thread that imports it first for the main
     * thread: make that this one, not whichever worker comes first. */
    threading = PyImport_ImportModule("threading");
    if (!threading
        || apwsgi_interp_table_init(pchild, s, ts, python_owned) < 0) {
        if (PyErr_Occurred()) {
            apwsgi_log_exception(NULL, s, APWSGI_APLOGNO(00023),
                                 "Python could not be set up:");
        }
        else {
            ap_log_error(
                APLOG_MARK, APLOG_CRIT, APR_ENOMEM, s,
                APWSGI_APLOGNO(00024) "Python could not be set up: no "
                                      "memory for the interpreter "
                                      "table");
        }
        Py_XDECREF(threading);
        PyEval_SaveThread();
        return -1;
    }
    Py_DECREF(threading);
    PyEval_SaveThread();
    if (apwsgi_interp_reaper_start(pchild) < 0) {
        ap_log_error(
            APLOG_MARK, APLOG_WARNING, 0, s,
            APWSGI_APLOGNO(00009) "the thread that ends idle and "
                                  "replaced interpreters could not "
                                  "start: they stay until the process "
                                  "exits");
    }
    if (apwsgi_monitor_start(pchild, s) < 0) {
        ap_log_error(
            APLOG_MARK, APLOG_WARNING, 0, s,
            APWSGI_APLOGNO(00708) "the thread that watches requests in "
                                  "flight could not start: no "
                                  "mod_wsgi.request_timeout and no stacks "
                                  "of slow requests in this process");
    }
    if (apwsgi_exit_start(s) < 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     APWSGI_APLOGNO(00035) "the watchdog of this process "
                                           "could not start: nothing bounds "
                                           "the time it takes to stop");
    }
    python_ready = 1;
    apr_pool_pre_cleanup_register(pchild, NULL, python_cleanup);
    return 0;
}
