/* SPDX-License-Identifier: Apache-2.0 */
/*
 * churn_probe.c: what CPython alone keeps of a burst of sub-interpreters,
 * for tests/test_interp_churn.py to compare apwsgi with.
 *
 * The same pattern as the test's Apache child, without Apache or apwsgi:
 * the main interpreter and four named ones made and ended (the warm-up),
 * then 32 interpreters alive at once, each used by THREADS threads with
 * thread states of their own and importing what tests/apps/interp_app.py
 * imports, then all ended from one thread and malloc_trim(0) called (as
 * apwsgi's reaper does); then MORE such bursts.  Prints "warm KIB after
 * KIB more KIB": VmRSS after the warm-up, after the first burst ended and
 * after the others.
 *
 * Build: gcc -O1 -I<include> churn_probe.c -L<libdir> -lpythonX.Y -lpthread
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INTERPRETERS 32
#define THREADS 16
#define MORE 4 /* further bursts, for what each interpreter keeps */

static const char code[] =
    "import atexit, json, os, sys, time, uuid\n"
    "from urllib.parse import parse_qs\n"
    "out = json.dumps({'pid': os.getpid(), 'q': parse_qs('a=1'),\n"
    "                  'id': str(uuid.uuid4()), 't': time.time()})\n";

static PyInterpreterState *interps[INTERPRETERS];
static int count; /* interpreters alive in this burst */
static PyThreadState *made[THREADS][INTERPRETERS];

static long
rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;

    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = atol(line + 6);
        }
    }
    if (f) {
        fclose(f);
    }
    return kib;
}

/* Each worker thread runs the code once in every interpreter. */
static void *
worker(void *arg)
{
    long k = (long)arg;

    for (int i = 0; i < count; i++) {
        made[k][i] = PyThreadState_New(interps[i]);
        PyEval_RestoreThread(made[k][i]);
        PyRun_SimpleString(code);
        PyEval_SaveThread();
    }
    return NULL;
}

/* Make n interpreters from the main thread state `main_ts` (its GIL
 * held), run the code in each, with `threads` more threads, then end
 * them all; the main GIL held again on return. */
static void
burst(PyThreadState *main_ts, int n, int threads)
{
    PyThreadState *ts[INTERPRETERS];
    pthread_t th[THREADS];

    count = n;
    for (int i = 0; i < n; i++) {
        ts[i] = Py_NewInterpreter();
        interps[i] = PyThreadState_GetInterpreter(ts[i]);
        PyRun_SimpleString(code);
        PyThreadState_Swap(main_ts);
    }
    PyEval_SaveThread();
    for (long k = 0; k < threads; k++) {
        pthread_create(&th[k], NULL, worker, (void *)k);
    }
    for (long k = 0; k < threads; k++) {
        pthread_join(th[k], NULL);
    }
    PyEval_RestoreThread(main_ts);
    for (int i = 0; i < n; i++) {
        PyThreadState_Swap(ts[i]);
        for (int k = 0; k < threads; k++) {
            PyThreadState_Clear(made[k][i]);
            PyThreadState_Delete(made[k][i]);
        }
        Py_EndInterpreter(ts[i]);
#if PY_VERSION_HEX < 0x030C0000
        PyThreadState_Swap(main_ts);
#else
        PyEval_RestoreThread(main_ts);
#endif
    }
    malloc_trim(0);
}

int
main(void)
{
    PyThreadState *main_ts = NULL;
    long warm = 0;
    long first = 0;

    Py_Initialize();
    main_ts = PyThreadState_Get();
    PyRun_SimpleString(code);
    for (int i = 0; i < 4; i++) {
        burst(main_ts, 1, 1);
    }
    warm = rss_kib();
    burst(main_ts, INTERPRETERS, THREADS);
    first = rss_kib();
    for (int i = 0; i < MORE; i++) {
        burst(main_ts, INTERPRETERS, THREADS);
    }
    printf("warm %ld after %ld more %ld\n", warm, first, rss_kib());
    return Py_FinalizeEx() < 0;
}
