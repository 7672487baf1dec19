/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_exit.c: the watchdog of a stopping child.
 *
 * The watchdog is a plain detached thread with no pool: the child's
 * pool goes away during the exit it watches.  For the same reason it
 * looks at requests and interpreters (memory of the child's pool) only
 * until the Python clean-up begins (`exiting`), and the clean-up waits
 * for a look in progress (`looking`) before it goes on.
 */
#include "apwsgi_exit.h"
#include "apwsgi_inflight.h"
#include "apwsgi_interp.h"
#include "apwsgi_log.h"
#include "apwsgi_threads.h"
#include "apwsgi_tstate.h"
#include "mpm_common.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

/* How often the watchdog looks whether the child stops. */
#define WATCH_EVERY apr_time_from_msec(200)
/* The report comes this long before the bound at most. */
#define REPORT_BEFORE apr_time_from_sec(2)

#define LOAD(v) __atomic_load_n(&(v), __ATOMIC_SEQ_CST)
#define STORE(v, x) __atomic_store_n(&(v), (x), __ATOMIC_SEQ_CST)

static server_rec *exit_server;

/* When the stop was first noticed, on the apwsgi_now() clock; 0
 * before.  Set by whoever notices first (hook, watchdog, clean-up). */
static apr_time_t stop_at;
/* The child_stopping hook said the stop is not graceful. */
static volatile sig_atomic_t ungraceful;
/* When the Python clean-up began; 0 before.  And whether it is over. */
static apr_time_t cleanup_at;
static int cleanup_done;
/* Requests and interpreters are no longer looked at. */
static int exiting;
/* Threads looking at requests and interpreters now. */
static int looking;
/* What the clean-up does now, and the thread state running the main
 * interpreter's atexit handlers (written with that GIL held). */
static const char *phase;
static PyThreadState *atexit_ts;
/* A thread state of the main interpreter for the report's thread. */
static PyThreadState *report_ts;
/* The watchdog's own pool, cleared at each look (never destroyed). */
static apr_pool_t *watch_pool;

static void block_signals(void);

apr_interval_time_t
apwsgi_exit_bound(int graceful)
{
    apr_interval_time_t bound = apwsgi_threads_bound();

    /* Apache kills a child 9 s into a stop that is not graceful,
     * whatever GracefulShutdownTimeout says. */
    if (!graceful && bound > APWSGI_STOP_BOUND_DEFAULT) {
        bound = APWSGI_STOP_BOUND_DEFAULT;
    }
    return bound;
}

/* Record `now` as the start of the stop unless one is recorded.  The
 * start recorded.  Async-signal-safe. */
static apr_time_t
note_stop(apr_time_t now)
{
    apr_time_t none = 0;

    __atomic_compare_exchange_n(&stop_at, &none, now, 0, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
    return LOAD(stop_at);
}

void
apwsgi_exit_stopping(int graceful)
{
    if (!graceful) {
        ungraceful = 1;
    }
    note_stop(apwsgi_now());
}

/* When to report and when to end, for a stop that began at `t0`. */
static void
deadlines(apr_time_t t0, apr_time_t *report_at, apr_time_t *end_at)
{
    apr_interval_time_t bound = apwsgi_exit_bound(!ungraceful);
    apr_interval_time_t before =
        bound / 2 < REPORT_BEFORE ? bound / 2 : REPORT_BEFORE;
    apr_time_t cleanup = LOAD(cleanup_at);

    *report_at = t0 + bound - before;
    *end_at = t0 + bound;
    /* A clean-up that Apache began late (its own requests took the
     * time) still gets the report's share for itself. */
    if (cleanup && cleanup + before / 2 > *report_at) {
        *report_at = cleanup + before / 2;
    }
    if (cleanup && cleanup + before > *end_at) {
        *end_at = cleanup + before;
    }
}

/* "GET /path (3.2 s, interpreter 'x', thread 123)". */
static const char *
request_label(const apwsgi_inflight_info_t *info, apr_time_t now,
              apr_pool_t *p)
{
    return apr_psprintf(p, "%s %s (%.1f s, interpreter '%s', thread %ld)",
                        info->method, info->path,
                        (double)(now - info->start) / APR_USEC_PER_SEC,
                        info->interp ? info->interp : "", info->tid);
}

/* The requests in flight, one label a line, in `p`, their copies in
 * *infos and their number in *n.  Only while `looking` is counted
 * and before the clean-up began. */
static const char *
requests_running(apr_pool_t *p, apr_time_t now, int *n,
                 apwsgi_inflight_info_t **infos)
{
    const char *text = "";

    *n = LOAD(exiting) ? 0 : apwsgi_inflight_snapshot(p, infos);
    for (int i = 0; i < *n; i++) {
        text = apr_pstrcat(p, text, "  ", request_label(&(*infos)[i], now, p),
                           "\n", NULL);
    }
    return text;
}

/*
 * Raise SystemExit in the requests of `infos` that run Python, and log
 * each with the stack where it was: one interpreter at a time, held
 * alive, its GIL taken once.  No GIL held.
 */
static void
stop_requests(apwsgi_inflight_info_t *infos, int n, apr_time_t now,
              apr_pool_t *p)
{
    char **stacks = apr_pcalloc(p, (n ? n : 1) * sizeof(*stacks));

    for (int i = 0; i < n; i++) {
        apwsgi_interp_t *in = infos[i].in;
        PyThreadState *ts = NULL;
        int seen = 0;

        for (int j = 0; j < i && !seen; j++) {
            seen = infos[j].in == in
                   && infos[j].generation == infos[i].generation;
        }
        if (!in || seen || apwsgi_interp_hold(in, infos[i].generation) < 0) {
            continue;
        }
        ts = apwsgi_tstate_enter(in);
        for (int j = i; ts && j < n; j++) {
            if (infos[j].in == in && infos[j].generation == infos[i].generation
                && (stacks[j] = apwsgi_inflight_stack(&infos[j], p))) {
                apwsgi_inflight_raise(&infos[j], PyExc_SystemExit);
            }
        }
        if (ts) {
            apwsgi_tstate_leave(ts);
        }
        apwsgi_interp_release(in, 0);
    }
    for (int i = 0; i < n; i++) {
        if (stacks[i]) {
            apwsgi_log_text(exit_server, APLOG_WARNING, APWSGI_APLOGNO(00032),
                            apr_psprintf(p,
                                         "SystemExit raised in %s, as this "
                                         "process stops; it was at:\n%s",
                                         request_label(&infos[i], now, p),
                                         stacks[i]));
        }
    }
}

/*
 * Where the main interpreter's atexit handlers are, if the clean-up
 * still runs them: their thread's stack is read with the main GIL
 * held (through a thread state made for this beforehand, so that no
 * memory of the child's pool is touched), which keeps the clean-up
 * from moving on meanwhile.  No GIL held.
 */
static void
report_atexit(apr_time_t age, apr_pool_t *p)
{
    PyThreadState *mine = LOAD(report_ts);
    const char *stack = NULL;

    if (!mine || !LOAD(atexit_ts)) {
        return;
    }
    /* Once Python is being finalised, this thread ends here (CPython
     * ends threads that wait for the GIL then). */
    PyEval_RestoreThread(mine);
    if (LOAD(atexit_ts)) {
        stack = apwsgi_threads_stack(p, LOAD(atexit_ts));
    }
    PyEval_SaveThread();
    if (stack) {
        apwsgi_log_text(exit_server, APLOG_WARNING, APWSGI_APLOGNO(00033),
                        apr_psprintf(p,
                                     "the main interpreter's atexit handlers "
                                     "still run %.1f s after this process "
                                     "began to stop; they are at:\n%s",
                                     (double)age / APR_USEC_PER_SEC, stack));
    }
}

/* The report's own thread: it may wait for GILs. */
static void *
report_main(void *data)
{
    apr_time_t age = *(apr_time_t *)data;
    apr_time_t now = apwsgi_now();
    apwsgi_inflight_info_t *infos = NULL;
    apr_pool_t *p = NULL;
    const char *list = NULL;
    int n = 0;

    free(data);
    block_signals();
    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return NULL;
    }
    __atomic_add_fetch(&looking, 1, __ATOMIC_SEQ_CST);
    list = requests_running(p, now, &n, &infos);
    if (n) {
        apwsgi_log_text(
            exit_server, APLOG_WARNING, APWSGI_APLOGNO(00031),
            apr_psprintf(p,
                         "requests still running %.1f s after this process "
                         "began to stop (it ends at %d s: "
                         "GracefulShutdownTimeout, or %d s): %d; SystemExit "
                         "is raised in each that runs Python:\n%s",
                         (double)age / APR_USEC_PER_SEC,
                         (int)apr_time_sec(apwsgi_exit_bound(!ungraceful)),
                         (int)apr_time_sec(APWSGI_STOP_BOUND_DEFAULT), n,
                         list));
        stop_requests(infos, n, now, p);
    }
    __atomic_sub_fetch(&looking, 1, __ATOMIC_SEQ_CST);
    report_atexit(age, p);
    apr_pool_destroy(p);
    return NULL;
}

/* Block every signal in the calling thread: Apache's signals are for
 * the threads it made. */
static void
block_signals(void)
{
    sigset_t all;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
}

/* Start the report in a thread of its own. */
static void
report(apr_time_t age)
{
    pthread_t thread;
    pthread_attr_t attr;
    apr_time_t *arg = malloc(sizeof(*arg));

    if (!arg) {
        return;
    }
    *arg = age;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&thread, &attr, report_main, arg) != 0) {
        free(arg);
    }
    pthread_attr_destroy(&attr);
}

/* The bound is reached: say what still runs, and end the process. */
static void
end_process(apr_time_t age)
{
    static char text[8192];
    apr_pool_t *p = NULL;
    apwsgi_inflight_info_t *infos = NULL;
    const char *list = "";
    const char *doing = LOAD(phase);
    int n = 0;

    __atomic_add_fetch(&looking, 1, __ATOMIC_SEQ_CST);
    if (apr_pool_create(&p, NULL) == APR_SUCCESS) {
        list = requests_running(p, apwsgi_now(), &n, &infos);
    }
    apr_snprintf(text, sizeof(text),
                 "process ended %.1f s after it began to stop (bound %d s: "
                 "GracefulShutdownTimeout, or %d s); requests still running: "
                 "%d%s%s%s%s",
                 (double)age / APR_USEC_PER_SEC,
                 (int)apr_time_sec(apwsgi_exit_bound(!ungraceful)),
                 (int)apr_time_sec(APWSGI_STOP_BOUND_DEFAULT), n,
                 doing ? "; Python's clean-up was " : "", doing ? doing : "",
                 n ? "\n" : "", list);
    apwsgi_log_text(exit_server, APLOG_ERR, APWSGI_APLOGNO(00034), text);
    _exit(0);
}

/*
 * Whether the module still has something running in this stopping
 * process: requests in flight, or its Python clean-up.  What Apache
 * itself still does (a keep-alive connection, a static file) is left
 * to Apache.  Watchdog thread.
 */
static int
module_busy(void)
{
    apwsgi_inflight_info_t *infos = NULL;
    int n = 0;

    if (LOAD(cleanup_at)) {
        return !LOAD(cleanup_done);
    }
    __atomic_add_fetch(&looking, 1, __ATOMIC_SEQ_CST);
    if (!LOAD(exiting)) {
        apr_pool_clear(watch_pool);
        n = apwsgi_inflight_snapshot(watch_pool, &infos);
    }
    __atomic_sub_fetch(&looking, 1, __ATOMIC_SEQ_CST);
    return n > 0 || LOAD(cleanup_at);
}

static void *
watchdog_main(void *data)
{
    int reported_requests = 0;
    int reported_cleanup = 0;

    (void)data;
    block_signals();
    for (;;) {
        apr_time_t now = 0;
        apr_time_t t0 = 0;
        apr_time_t report_at = 0;
        apr_time_t end_at = 0;
        int state = AP_MPMQ_RUNNING;
        int cleanup = 0;

        apr_sleep(WATCH_EVERY);
        now = apwsgi_now();
        t0 = LOAD(stop_at);
        if (!t0) {
            if (ap_mpm_query(AP_MPMQ_MPM_STATE, &state) != APR_SUCCESS
                || state != AP_MPMQ_STOPPING) {
                continue;
            }
            t0 = note_stop(now);
        }
        /* Whether the module is busy first: a clean-up that begins
         * meanwhile moves the deadlines. */
        if (!module_busy()) {
            continue;
        }
        deadlines(t0, &report_at, &end_at);
        if (now < report_at) {
            continue;
        }
        /* One report on the requests, one on the clean-up. */
        cleanup = LOAD(cleanup_at) != 0;
        if (cleanup ? !reported_cleanup : !reported_requests) {
            reported_cleanup |= cleanup;
            reported_requests = 1;
            report(now - t0);
        }
        if (now >= end_at) {
            end_process(now - t0);
        }
    }
    return NULL;
}

int
apwsgi_exit_start(server_rec *s)
{
    pthread_t thread;
    pthread_attr_t attr;
    int rc = 0;

    exit_server = s;
    if (apr_pool_create(&watch_pool, NULL) != APR_SUCCESS) {
        return -1;
    }
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&thread, &attr, watchdog_main, NULL);
    pthread_attr_destroy(&attr);
    return rc == 0 ? 0 : -1;
}

apr_time_t
apwsgi_exit_begin(void)
{
    apr_time_t now = apwsgi_now();
    apr_time_t report_at = 0;
    apr_time_t end_at = 0;

    STORE(cleanup_at, now);
    STORE(exiting, 1);
    deadlines(note_stop(now), &report_at, &end_at);
    /* A look that began before `exiting` was set ends soon (it waits
     * for GILs of requests, which are over by now), or the watchdog
     * ends the process. */
    while (LOAD(looking)) {
        apr_sleep(apr_time_from_msec(1));
    }
    return report_at;
}

void
apwsgi_exit_end(void)
{
    STORE(phase, (const char *)NULL);
    STORE(cleanup_done, 1);
}

void
apwsgi_exit_phase(const char *what, PyThreadState *ts)
{
    /* Made while the GIL is held; never deleted here (finalisation
     * deletes every thread state). */
    if (ts && !LOAD(report_ts)) {
        STORE(report_ts, PyThreadState_New(PyThreadState_GetInterpreter(ts)));
    }
    STORE(phase, what);
    STORE(atexit_ts, ts);
}
